//! How long a response may be cached and how it is validated: mod_expires' `ExpiresActive`,
//! `ExpiresByType`, `ExpiresDefault` and core's `FileETag`, parsed and merged as Apache 2.4
//! does, and applied to a static file's response. Pure.
//!
//! mod_expires (Apache 2.4's output filter): a response the handler made (200, 206, 304; never
//! an error page) whose scope has `ExpiresActive On` and no `Expires` field yet gets
//! `Expires: BASE + N` and `Cache-Control: max-age=SECONDS` (merged into an existing
//! Cache-Control). The code is looked up by the response's media type without parameters,
//! then `major/*`, then `ExpiresDefault`. BASE is the request time (`A`, `access`, `now`) or
//! the file's modification time (`M`, `modification`); an expiry in the past is the request
//! time (max-age=0).
//!
//! `FileETag`: which of the file's inode, size and modification time make its entity-tag,
//! with `+`/`-` relative to the enclosing scope, merged as core's `merge_core_dir_configs`;
//! `None` sends no ETag. Apache 2.4's default is `MTime Size`.
#![forbid(unsafe_code)]

use super::build::Builder;
use super::model::DirConf;
use super::parse::Node;
use std::time::{Duration, SystemTime};

/// An expiry code as mod_expires stores it: `A<seconds>` or `M<seconds>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExpiresCode {
    /// `M`: from the file's modification time; otherwise from the request time.
    pub modification: bool,
    pub seconds: u64,
}

/// Parses `A2592000`, `M3600` or `access plus 1 month 2 days` (mod_expires' `check_code`:
/// each word is recognised by its first letter, `months`/`minutes` by two; a month is 30
/// days and a year 365).
pub fn parse_code(code: &str) -> Result<ExpiresCode, String> {
    if let Some(rest) = code.strip_prefix(['A', 'M']) {
        let modification = code.starts_with('M');
        if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
            let seconds = rest
                .parse()
                .map_err(|_| format!("'{code}': the number of seconds is too large"))?;
            return Ok(ExpiresCode {
                modification,
                seconds,
            });
        }
        // Apache reads any code starting with A or M as the short form (so `Access plus
        // 1 day` means A0 there); here that is an error rather than a silent zero.
        return Err(format!(
            "'{code}': a code starting with A or M is the short form A<seconds> or M<seconds> (write 'access plus ...' or 'modification plus ...' in lower case for the long form)"
        ));
    }
    let mut words = code.split_ascii_whitespace().peekable();
    let first = |w: &str, p: &str| w.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
    let base = words.next().unwrap_or_default();
    let modification = if first(base, "n") || first(base, "a") {
        false
    } else if first(base, "m") {
        true
    } else {
        return Err(format!(
            "bad expires code, unrecognised <base> '{base}' (access, now or modification)"
        ));
    };
    if words.peek().is_some_and(|w| first(w, "p")) {
        words.next();
    }
    let mut seconds: u64 = 0;
    while let Some(num) = words.next() {
        let n: u64 = match num.bytes().take_while(u8::is_ascii_digit).count() {
            0 => {
                return Err(format!(
                    "bad expires code, numeric value expected <num> '{num}'"
                ))
            }
            k => num[..k]
                .parse()
                .map_err(|_| format!("bad expires code, '{num}' is too large"))?,
        };
        let Some(unit) = words.next() else {
            return Err("bad expires code, missing <type>".into());
        };
        let factor: u64 = if first(unit, "y") {
            365 * 86400
        } else if first(unit, "mo") {
            30 * 86400
        } else if first(unit, "w") {
            7 * 86400
        } else if first(unit, "d") {
            86400
        } else if first(unit, "h") {
            3600
        } else if first(unit, "mi") {
            60
        } else if first(unit, "s") {
            1
        } else {
            return Err(format!("bad expires code, unrecognised <type> '{unit}'"));
        };
        seconds = n
            .checked_mul(factor)
            .and_then(|s| s.checked_add(seconds))
            .ok_or_else(|| format!("'{code}': too far in the future"))?;
    }
    Ok(ExpiresCode {
        modification,
        seconds,
    })
}

/// `ExpiresActive On|Off`.
pub fn expires_active(b: &mut Builder, n: &Node, d: &mut DirConf) {
    match n.args.first().map(|a| a.to_ascii_lowercase()).as_deref() {
        Some("on") => d.expires_active = Some(true),
        Some("off") => d.expires_active = Some(false),
        _ => b.error(n, "ExpiresActive must be On or Off"),
    }
}

/// `ExpiresByType MEDIA-TYPE CODE`.
pub fn expires_by_type(b: &mut Builder, n: &Node, d: &mut DirConf) {
    let [ty, code] = n.args.as_slice() else {
        return;
    };
    if !ty.contains('/') {
        return b.error(
            n,
            format!("ExpiresByType: '{ty}' is not a media type (type/subtype or type/*)"),
        );
    }
    match parse_code(code) {
        Ok(c) => d.expires_by_type.push((ty.to_ascii_lowercase(), c)),
        Err(e) => b.error(n, format!("'ExpiresByType {ty} {code}': {e}")),
    }
}

/// `ExpiresDefault CODE`.
pub fn expires_default(b: &mut Builder, n: &Node, d: &mut DirConf) {
    let Some(code) = n.args.first() else { return };
    match parse_code(code) {
        Ok(c) => d.expires_default = Some(c),
        Err(e) => b.error(n, format!("'ExpiresDefault {code}': {e}")),
    }
}

/// The code for a response of `content_type` in a merged scope, or None.
pub fn expiry_for(d: &DirConf, content_type: Option<&str>) -> Option<ExpiresCode> {
    if d.expires_active != Some(true) {
        return None;
    }
    let ty = content_type
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let wild = ty.split_once('/').map(|(major, _)| format!("{major}/*"));
    let find = |want: &str| {
        (d.expires_by_type.iter().rev())
            .find(|(t, _)| t == want)
            .map(|(_, c)| *c)
    };
    find(&ty)
        .or_else(|| wild.as_deref().and_then(find))
        .or(d.expires_default)
}

/// `Expires` and the `Cache-Control` max-age for `code`: (max-age seconds, Expires time).
pub fn expiration(code: ExpiresCode, now: SystemTime, mtime: SystemTime) -> (u64, SystemTime) {
    let base = if code.modification { mtime } else { now };
    let expires = base
        .checked_add(Duration::from_secs(code.seconds))
        .unwrap_or(base)
        .max(now);
    let age = expires.duration_since(now).unwrap_or_default().as_secs();
    (age, expires)
}

// FileETag's bits, as core.c's ETAG_*.
pub const ETAG_NONE: u8 = 1;
pub const ETAG_MTIME: u8 = 2;
pub const ETAG_INODE: u8 = 4;
pub const ETAG_SIZE: u8 = 8;
pub const ETAG_ALL: u8 = ETAG_INODE | ETAG_MTIME | ETAG_SIZE;

/// One scope's `FileETag`: absolute bits (0: only relative changes) and the `+`/`-` sets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileETag {
    pub bits: u8,
    pub add: u8,
    pub remove: u8,
}

impl FileETag {
    /// core's merge: a scope with absolute bits replaces; one with only `+`/`-` adjusts.
    pub fn merge(base: Option<FileETag>, over: Option<FileETag>) -> Option<FileETag> {
        match (base, over) {
            (b, None) => b,
            (_, Some(o)) if o.bits != 0 => Some(o),
            (b, Some(o)) => {
                let b = b.unwrap_or_default();
                let add = (b.add & !o.remove) | o.add;
                let remove = (b.remove & !o.add) | o.remove;
                let bits = (b.bits & !remove) | add;
                // "None" survives only alone (merge_core_dir_configs).
                let bits = if bits == ETAG_NONE {
                    bits
                } else {
                    bits & !ETAG_NONE
                };
                Some(FileETag { bits, add, remove })
            }
        }
    }

    /// The components to use (ap_make_etag): None → nothing; unset → MTime Size.
    pub fn effective(conf: Option<FileETag>) -> u8 {
        let c = conf.unwrap_or_default();
        let bits = (c.bits & !c.remove) | c.add;
        if bits & ETAG_NONE != 0 {
            0
        } else if bits == 0 {
            ETAG_MTIME | ETAG_SIZE
        } else {
            bits
        }
    }
}

/// Parses `FileETag` arguments as core's `set_etag_bits`.
pub fn parse_file_etag(args: &[String]) -> Result<FileETag, String> {
    let mut c = FileETag::default();
    let (mut first, mut explicit) = (true, false);
    for arg in args {
        let (action, word) = match arg.as_bytes().first() {
            Some(b'+') => ('+', &arg[1..]),
            Some(b'-') => ('-', &arg[1..]),
            _ => {
                if first {
                    c = FileETag::default();
                    first = false;
                }
                ('*', arg.as_str())
            }
        };
        let bit = match word.to_ascii_lowercase().as_str() {
            "none" | "all" if action != '*' => {
                return Err(format!(
                    "FileETag keyword '{word}' cannot be used with '+' or '-'"
                ))
            }
            "none" => {
                c.bits = ETAG_NONE;
                explicit = true;
                ETAG_NONE
            }
            "all" => {
                c.bits = ETAG_ALL;
                explicit = true;
                ETAG_ALL
            }
            "size" => ETAG_SIZE,
            "mtime" | "lmtime" | "lastmodified" => ETAG_MTIME,
            "inode" => ETAG_INODE,
            "digest" => {
                return Err(
                    "FileETag Digest is not implemented (it hashes every file on every request): use MTime Size"
                        .into(),
                )
            }
            _ => return Err(format!("Unknown keyword '{word}' for FileETag directive")),
        };
        match action {
            '+' => {
                c.add |= bit;
                c.remove &= !bit;
            }
            '-' => {
                c.remove |= bit;
                c.add &= !bit;
            }
            _ => {
                c.bits |= bit;
                c.add = 0;
                c.remove = 0;
                explicit = true;
            }
        }
    }
    if explicit && c.bits & ETAG_NONE != 0 && c.bits != ETAG_NONE {
        c.bits &= !ETAG_NONE;
    }
    Ok(c)
}

/// `FileETag`.
pub fn file_etag(b: &mut Builder, n: &Node, d: &mut DirConf) {
    match parse_file_etag(&n.args) {
        Ok(c) => d.file_etag = Some(c),
        Err(e) => b.error(n, e),
    }
}

/// A file's entity-tag from `bits` (ap_make_etag: inode, size, mtime in microseconds, in
/// lower-case hex joined by `-`), or None for `FileETag None`.
pub fn etag(bits: u8, inode: u64, size: u64, mtime_usec: u64) -> Option<String> {
    let mut parts = Vec::new();
    if bits & ETAG_INODE != 0 {
        parts.push(format!("{inode:x}"));
    }
    if bits & ETAG_SIZE != 0 {
        parts.push(format!("{size:x}"));
    }
    if bits & ETAG_MTIME != 0 {
        parts.push(format!("{mtime_usec:x}"));
    }
    (!parts.is_empty()).then(|| format!("\"{}\"", parts.join("-")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-written from mod_expires' manual ("alternate interval syntax") and its short form.
    #[test]
    fn codes() {
        let a = |seconds| {
            Ok(ExpiresCode {
                modification: false,
                seconds,
            })
        };
        let m = |seconds| {
            Ok(ExpiresCode {
                modification: true,
                seconds,
            })
        };
        for (code, want) in [
            ("A2592000", a(2592000)),
            ("M3600", m(3600)),
            ("access plus 1 month", a(2592000)),
            ("now plus 1 month", a(2592000)),
            ("access 1 month", a(2592000)),
            ("access plus 1 year", a(31536000)),
            ("modification plus 5 hours 3 minutes", m(18180)),
            ("access plus 2 weeks 1 day 10 seconds", a(1296010)),
            ("access plus 1 mo", a(2592000)),
            ("access plus 1 mi", a(60)),
            ("access", a(0)),
        ] {
            assert_eq!(parse_code(code), want, "{code}");
        }
        for (code, want) in [
            ("later plus 1 day", "unrecognised <base>"),
            ("access plus day", "numeric value expected"),
            ("access plus 1", "missing <type>"),
            ("access plus 1 m", "unrecognised <type>"),
            ("access plus 1 fortnight", "unrecognised <type>"),
            ("Access plus 1 day", "short form"),
            ("A", "short form"),
            ("A12x", "short form"),
            // A multi-byte first letter: an error, never a slice inside the character.
            ("\u{7e3}", "unrecognised <base>"),
            ("access \u{7e3}lus 1 day", "numeric value expected"),
        ] {
            let e = parse_code(code).expect_err(code);
            assert!(e.contains(want), "{code}: {e}");
        }
    }

    #[test]
    fn lookup_and_expiry() {
        let code = |s| parse_code(s).unwrap();
        let d = DirConf {
            expires_active: Some(true),
            expires_default: Some(code("A10")),
            expires_by_type: vec![
                ("text/html".into(), code("A20")),
                ("image/*".into(), code("A30")),
                ("text/html".into(), code("A40")),
            ],
            ..Default::default()
        };
        for (ty, want) in [
            (Some("text/html; charset=utf-8"), Some(40)),
            (Some("TEXT/HTML"), Some(40)),
            (Some("image/png"), Some(30)),
            (Some("text/plain"), Some(10)),
            (None, Some(10)),
        ] {
            assert_eq!(expiry_for(&d, ty).map(|c| c.seconds), want, "{ty:?}");
        }
        let off = DirConf {
            expires_active: Some(false),
            ..d
        };
        assert_eq!(expiry_for(&off, Some("text/html")), None);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let old = now - Duration::from_secs(7200);
        assert_eq!(expiration(code("A60"), now, old).0, 60);
        assert_eq!(expiration(code("M3600"), now, old), (0, now));
        assert_eq!(expiration(code("M9000"), now, old).0, 1800);
    }

    /// core.c's set_etag_bits and merge_core_dir_configs, hand-evaluated.
    #[test]
    fn file_etag() {
        let p = |s: &str| {
            let args: Vec<String> = s.split(' ').map(String::from).collect();
            parse_file_etag(&args).unwrap()
        };
        let eff = |chain: &[&str]| {
            let mut c = None;
            for s in chain {
                c = FileETag::merge(c, Some(p(s)));
            }
            FileETag::effective(c)
        };
        for (chain, want) in [
            (&[][..], ETAG_MTIME | ETAG_SIZE),
            (&["None"], 0),
            (&["All"], ETAG_ALL),
            (&["INode MTime Size"], ETAG_ALL),
            (&["Size"], ETAG_SIZE),
            (&["MTime Size", "-MTime"], ETAG_SIZE),
            (&["MTime Size", "+INode"], ETAG_ALL),
            // A relative scope under None: None goes once anything is added (checked
            // against apache2 in tests/resp.rs).
            (&["None", "+Size"], ETAG_SIZE),
            (&["None", "-Size"], 0),
            (&["All", "Size"], ETAG_SIZE),
            (&["-Size"], ETAG_MTIME | ETAG_SIZE),
            (&["+INode"], ETAG_INODE),
        ] {
            assert_eq!(eff(chain), want, "{chain:?}");
        }
        for bad in ["+None", "-All", "Digest", "Inodes"] {
            assert!(parse_file_etag(&[bad.to_string()]).is_err(), "{bad}");
        }
        assert_eq!(
            etag(ETAG_ALL, 0x1f, 5, 0xabc).as_deref(),
            Some("\"1f-5-abc\"")
        );
        assert_eq!(
            etag(ETAG_MTIME | ETAG_SIZE, 1, 5, 0xabc).as_deref(),
            Some("\"5-abc\"")
        );
        assert_eq!(etag(0, 1, 5, 0xabc), None);
    }
}
