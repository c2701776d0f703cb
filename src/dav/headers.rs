//! The WebDAV request fields (RFC 4918 §10): Depth, Overwrite, Destination, Timeout, Lock-Token
//! and If. Pure: no I/O.
#![forbid(unsafe_code)]

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Zero,
    One,
    Infinity,
}

/// `Depth`, or `default` when absent; `None` when malformed.
pub fn depth(v: Option<&[u8]>, default: Depth) -> Option<Depth> {
    match v.map(|v| v.trim_ascii()) {
        None => Some(default),
        Some(b"0") => Some(Depth::Zero),
        Some(b"1") => Some(Depth::One),
        Some(v) if v.eq_ignore_ascii_case(b"infinity") => Some(Depth::Infinity),
        Some(_) => None,
    }
}

/// `Overwrite` (default T); `None` when malformed.
pub fn overwrite(v: Option<&[u8]>) -> Option<bool> {
    match v.map(|v| v.trim_ascii()) {
        None | Some(b"T") | Some(b"t") => Some(true),
        Some(b"F") | Some(b"f") => Some(false),
        Some(_) => None,
    }
}

/// The path of an absolute URI or absolute path (`Destination`, a tagged If list), with the
/// authority when there is one: (`Some(host[:port])`, `/path`). Query and fragment dropped.
pub fn uri_path(v: &str) -> Option<(Option<&str>, &str)> {
    let v = v.trim();
    let (auth, path) = match v.split_once("://") {
        Some((scheme, rest)) => {
            if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
                return None;
            }
            let slash = rest.find('/').unwrap_or(rest.len());
            (Some(rest.get(..slash)?), rest.get(slash..)?)
        }
        None => (None, v),
    };
    if !path.starts_with('/') {
        return None;
    }
    let end = path.find(['?', '#']).unwrap_or(path.len());
    Some((auth, path.get(..end)?))
}

/// `Timeout: Second-N, Infinite`: the first usable value in seconds, capped at `max`.
pub fn timeout(v: Option<&[u8]>, default: u64, max: u64) -> u64 {
    let Some(v) = v.and_then(|v| std::str::from_utf8(v).ok()) else {
        return default;
    };
    for t in v.split(',').map(str::trim) {
        if t.eq_ignore_ascii_case("infinite") {
            return max;
        }
        let secs = t
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("second-"))
            .and_then(|_| t.get(7..))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(s) = secs {
            return s.clamp(1, max);
        }
    }
    default
}

/// `Lock-Token: <token>`.
pub fn lock_token(v: Option<&[u8]>) -> Option<String> {
    let v = std::str::from_utf8(v?).ok()?.trim();
    let t = v.strip_prefix('<')?.strip_suffix('>')?;
    (!t.is_empty()).then(|| t.to_string())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    Token(String),
    /// An entity tag as written (`"x"` or `W/"x"`).
    ETag(String),
}

/// One parenthesised list: every condition must hold (a `true` flag is `Not`).
pub type List = Vec<(bool, Cond)>;

/// The If header: lists, each for a resource tag (`None`: the request URI).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct If {
    pub lists: Vec<(Option<String>, List)>,
}

impl If {
    /// Every state token the header names outside `Not`: the lock tokens it submits.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.lists.iter().flat_map(|(_, l)| {
            l.iter().filter_map(|(not, c)| match c {
                Cond::Token(t) if !not => Some(t.as_str()),
                _ => None,
            })
        })
    }
}

/// RFC 4918 §10.4.2's grammar; `None` when malformed (400).
pub fn if_header(v: &[u8]) -> Option<If> {
    let s = std::str::from_utf8(v).ok()?;
    let mut rest = s.trim_start();
    let mut out = If::default();
    let mut tag: Option<String> = None;
    let mut tagged_lists = 0usize;
    let mut any_untagged = false;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('<') {
            let end = r.find('>')?;
            if tag.is_some() && tagged_lists == 0 {
                return None;
            }
            tag = Some(r.get(..end)?.to_string());
            tagged_lists = 0;
            rest = r.get(end + 1..)?.trim_start();
            continue;
        }
        let r = rest.strip_prefix('(')?;
        let (list, after) = list(r)?;
        if tag.is_none() {
            any_untagged = true;
        } else if any_untagged {
            return None; // tagged and untagged lists do not mix
        }
        tagged_lists += 1;
        out.lists.push((tag.clone(), list));
        rest = after.trim_start();
    }
    if out.lists.is_empty() || (tag.is_some() && tagged_lists == 0) {
        return None;
    }
    Some(out)
}

fn list(mut r: &str) -> Option<(List, &str)> {
    let mut l = List::new();
    loop {
        r = r.trim_start();
        if let Some(after) = r.strip_prefix(')') {
            return (!l.is_empty()).then_some((l, after));
        }
        let mut not = false;
        if r.len() >= 3 && r.get(..3)?.eq_ignore_ascii_case("not") {
            not = true;
            r = r.get(3..)?.trim_start();
        }
        if let Some(t) = r.strip_prefix('<') {
            let end = t.find('>')?;
            l.push((not, Cond::Token(t.get(..end)?.to_string())));
            r = t.get(end + 1..)?;
        } else if let Some(t) = r.strip_prefix('[') {
            let end = t.find(']')?;
            l.push((not, Cond::ETag(t.get(..end)?.trim().to_string())));
            r = t.get(end + 1..)?;
        } else {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(t: &str) -> (bool, Cond) {
        (false, Cond::Token(t.into()))
    }

    #[test]
    fn if_header_table() {
        let t = "opaquelocktoken:a-b";
        let cases: Vec<(String, Option<If>)> = vec![
            (
                format!("(<{t}>)"),
                Some(If {
                    lists: vec![(None, vec![tok(t)])],
                }),
            ),
            (
                format!("(<{t}> [\"e1\"]) (Not <DAV:no-lock> [W/\"e1\"])"),
                Some(If {
                    lists: vec![
                        (None, vec![tok(t), (false, Cond::ETag("\"e1\"".into()))]),
                        (
                            None,
                            vec![
                                (true, Cond::Token("DAV:no-lock".into())),
                                (false, Cond::ETag("W/\"e1\"".into())),
                            ],
                        ),
                    ],
                }),
            ),
            (
                format!("<http://h/a/> (<{t}>) <http://h/b> (not <x:y>)"),
                Some(If {
                    lists: vec![
                        (Some("http://h/a/".into()), vec![tok(t)]),
                        (
                            Some("http://h/b".into()),
                            vec![(true, Cond::Token("x:y".into()))],
                        ),
                    ],
                }),
            ),
            ("".into(), None),
            ("()".into(), None),
            ("(<a>".into(), None),
            ("<http://h/a>".into(), None),
            ("<http://h/a> <http://h/b> (<a>)".into(), None),
            ("(<a>) <http://h/a> (<b>)".into(), None),
            ("(x)".into(), None),
            ("([\"e\")".into(), None),
        ];
        for (v, want) in cases {
            assert_eq!(if_header(v.as_bytes()), want, "{v}");
        }
        let h = if_header(format!("(<{t}>) (Not <n>)").as_bytes()).unwrap();
        assert_eq!(h.tokens().collect::<Vec<_>>(), vec![t]);
    }

    #[test]
    fn fields_table() {
        assert_eq!(depth(None, Depth::Infinity), Some(Depth::Infinity));
        assert_eq!(depth(Some(b"1"), Depth::Zero), Some(Depth::One));
        assert_eq!(depth(Some(b"Infinity"), Depth::Zero), Some(Depth::Infinity));
        assert_eq!(depth(Some(b"2"), Depth::Zero), None);
        assert_eq!(overwrite(Some(b"F")), Some(false));
        assert_eq!(overwrite(Some(b"x")), None);
        assert_eq!(uri_path("http://h:8/a/b?q#f"), Some((Some("h:8"), "/a/b")));
        assert_eq!(uri_path("/a%20b/"), Some((None, "/a%20b/")));
        assert_eq!(uri_path("ftp://h/a"), None);
        assert_eq!(uri_path("a/b"), None);
        assert_eq!(uri_path("http://h"), None);
        assert_eq!(timeout(Some(b"Second-100"), 5, 3600), 100);
        assert_eq!(timeout(Some(b"Infinite, Second-4100000000"), 5, 3600), 3600);
        assert_eq!(timeout(Some(b"Second-99999999"), 5, 3600), 3600);
        assert_eq!(timeout(Some(b"bogus"), 5, 3600), 5);
        assert_eq!(
            lock_token(Some(b" <opaquelocktoken:x> ")),
            Some("opaquelocktoken:x".into())
        );
        assert_eq!(lock_token(Some(b"opaquelocktoken:x")), None);
    }
}
