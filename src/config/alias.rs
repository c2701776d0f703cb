//! mod_alias: `Alias`, `AliasMatch`, `Redirect`, `RedirectMatch`, `RedirectPermanent`,
//! `RedirectTemp`, with Apache 2.4's matching rules (modules/mappers/mod_alias.c):
//!
//! - both are matched against the decoded, normalized URL path (Apache's `r->uri`);
//! - every Redirect is tried before any Alias; within each list the first match in
//!   configuration order wins, a `<VirtualHost>`'s own entries before the main server's;
//! - a plain URL-path matches on a segment boundary, any run of `/` in it matching any run in
//!   the URL, and a trailing `/` in it must be present in the URL (`Alias /icons/ ...` does not
//!   map `/icons`);
//! - the part of the URL after the match is appended to the target (escaped, for a Redirect);
//!   a `*Match` target takes `$0`..`$9` (a `\` makes the next character literal);
//! - a redirect target that is a local path becomes an absolute URL on the request's own
//!   scheme and Host; the request's query string is appended unless the target has one.
//!
//! Where an Alias lands is a [`Landing`]: the directory (or file) the target names, which is
//! what Landlock grants, and the path components beneath it, which the static handler walks
//! one `openat` at a time as it walks DocumentRoot. A `*Match` substitution that would climb
//! out of that root (`..`) is refused rather than followed.
#![forbid(unsafe_code)]

use super::model::{Origin, SectionRegex};
use std::path::{Component, Path, PathBuf};

/// The URL side of an Alias or Redirect.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Pattern {
    /// `Alias`/`Redirect`: a URL-path prefix, as written.
    Prefix(String),
    /// `AliasMatch`/`RedirectMatch`.
    Regex(SectionRegex),
}

/// `Alias URL-PATH TARGET` or `AliasMatch REGEX TARGET`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Alias {
    pub pattern: Pattern,
    /// The target as written, made absolute (ServerRoot); may hold `$N` for AliasMatch.
    pub target: String,
    /// What the target can reach: the target itself for `Alias`, the literal directory before
    /// the first `$` for `AliasMatch`. Landlock grants read on it; nothing beneath is reached
    /// from outside it.
    pub root: PathBuf,
    pub origin: Origin,
}

/// `Redirect [STATUS] URL-PATH [URL]`, `RedirectMatch [STATUS] REGEX [URL]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Redirect {
    pub pattern: Pattern,
    /// 3xx with a target; anything else (410 `gone`, ...) without.
    pub status: u16,
    pub target: Option<String>,
    pub origin: Origin,
}

/// Where an aliased URL lands on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landing {
    /// [`Alias::root`].
    pub root: PathBuf,
    /// Components beneath `root`, none empty, `.` or `..`.
    pub rest: Vec<String>,
}

impl Landing {
    pub fn path(&self) -> PathBuf {
        let mut p = self.root.clone();
        p.extend(&self.rest);
        p
    }
}

/// An Alias that matched but whose substitution leaves its root: refused (403), with why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{found} is not beneath {}", root.display())]
pub struct Outside {
    pub found: String,
    pub root: PathBuf,
}

impl Alias {
    /// `None`: this Alias does not match `uri` (Apache's `r->uri`).
    pub fn translate(&self, uri: &str) -> Option<Result<Landing, Outside>> {
        let found = match &self.pattern {
            Pattern::Prefix(fake) => {
                let l = alias_matches(uri, fake)?;
                format!("{}{}", self.target, uri.get(l..).unwrap_or(""))
            }
            Pattern::Regex(re) => {
                let caps = re.0.captures(uri)?;
                regsub(&self.target, &caps)
            }
        };
        Some(beneath(&self.root, &found))
    }
}

/// What a matching Redirect answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirected {
    pub status: u16,
    /// The Location, for a 3xx; made absolute by [`absolute`] when it is a local path.
    pub location: Option<String>,
}

impl Redirect {
    /// `None`: this Redirect does not match `uri`.
    pub fn translate(&self, uri: &str) -> Option<Redirected> {
        let location = match (&self.pattern, &self.target) {
            (Pattern::Prefix(fake), target) => {
                let l = alias_matches(uri, fake)?;
                target
                    .as_ref()
                    .map(|t| format!("{t}{}", escape_path(uri.get(l..).unwrap_or(""))))
            }
            (Pattern::Regex(re), target) => {
                let caps = re.0.captures(uri)?;
                target.as_ref().map(|t| escape_url(&regsub(t, &caps)))
            }
        };
        Some(Redirected {
            status: self.status,
            location,
        })
    }
}

/// The first Redirect of `redirects` that matches, with its Location completed as Apache's
/// `translate_alias_redir` does: a local path gets `scheme://host` (from the request's Host,
/// as `UseCanonicalName Off`), and the request's query string is appended unless the target
/// brought its own.
pub fn redirect(
    redirects: &[Redirect],
    uri: &str,
    query: Option<&str>,
    scheme: &str,
    host: &str,
) -> Option<Redirected> {
    let mut r = redirects.iter().find_map(|r| r.translate(uri))?;
    if let Some(loc) = r.location.take() {
        let mut loc = absolute(&loc, scheme, host);
        if let Some(q) = query {
            if !loc.contains('?') {
                loc.push('?');
                loc.push_str(q);
            }
        }
        r.location = Some(loc);
    }
    Some(r)
}

/// `ap_construct_url` for a target that is a local path; anything else unchanged.
pub fn absolute(location: &str, scheme: &str, host: &str) -> String {
    if location.starts_with('/') {
        format!("{scheme}://{host}{location}")
    } else {
        location.to_string()
    }
}

/// The first Alias of `aliases` that matches `uri`.
pub fn alias<'a>(aliases: &'a [Alias], uri: &str) -> Option<(&'a Alias, Result<Landing, Outside>)> {
    aliases
        .iter()
        .find_map(|a| a.translate(uri).map(|l| (a, l)))
}

/// Apache's `alias_matches`: how many bytes of `uri` the URL-path `fake` covers, or None.
/// Any run of `/` in `fake` matches a non-empty run in `uri`; a `fake` that does not end in `/`
/// must end on a segment boundary of `uri`.
pub fn alias_matches(uri: &str, fake: &str) -> Option<usize> {
    let (u, a) = (uri.as_bytes(), fake.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    while let Some(&c) = a.get(j) {
        if c == b'/' {
            if u.get(i) != Some(&b'/') {
                return None;
            }
            while a.get(j) == Some(&b'/') {
                j += 1;
            }
            while u.get(i) == Some(&b'/') {
                i += 1;
            }
        } else {
            if u.get(i) != Some(&c) {
                return None;
            }
            i += 1;
            j += 1;
        }
    }
    if !fake.ends_with('/') && u.get(i).is_some_and(|&c| c != b'/') {
        return None;
    }
    (i > 0).then_some(i)
}

/// Apache's `ap_pregsub`: `$0`..`$9` are the match and its groups (empty when a group did not
/// take part); `\X` is `X` literally.
pub fn regsub(template: &str, caps: &regex::Captures) -> String {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' if chars.peek().is_some_and(char::is_ascii_digit) => {
                let n = chars.next().and_then(|d| d.to_digit(10)).unwrap_or(0) as usize;
                out.push_str(caps.get(n).map_or("", |m| m.as_str()));
            }
            '\\' => match chars.next() {
                Some(next) => out.push(next),
                None => out.push('\\'),
            },
            _ => out.push(c),
        }
    }
    out
}

/// What an AliasMatch target can reach: the directory before its first `$N` (its last `/`
/// before it), or the whole target when it has none.
pub fn literal_root(target: &str) -> &str {
    let Some(dollar) = target.find('$') else {
        return target;
    };
    let head = target.get(..dollar).unwrap_or("");
    match head.rfind('/') {
        Some(0) => "/",
        Some(i) => head.get(..i).unwrap_or("/"),
        None => "/",
    }
}

/// `found` as components beneath `root`; `..` anywhere, or a path outside `root`, is refused.
pub fn beneath(root: &Path, found: &str) -> Result<Landing, Outside> {
    let outside = || Outside {
        found: found.to_string(),
        root: root.to_path_buf(),
    };
    let mut comps: Vec<String> = Vec::new();
    for c in Path::new(found).components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(s) => comps.push(s.to_string_lossy().into_owned()),
            Component::ParentDir | Component::Prefix(_) => return Err(outside()),
        }
    }
    if !found.starts_with('/') {
        return Err(outside());
    }
    let root_comps: Vec<String> = root
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    match comps.strip_prefix(root_comps.as_slice()) {
        Some(rest) => Ok(Landing {
            root: root.to_path_buf(),
            rest: rest.to_vec(),
        }),
        None => Err(outside()),
    }
}

/// `Redirect`'s first argument: `permanent` 301, `temp` 302, `seeother` 303, `gone` 410, or a
/// number; None when it is none of these (then it is the URL-path).
pub fn parse_status(arg: &str) -> Option<Result<u16, String>> {
    let s = match arg.to_ascii_lowercase().as_str() {
        "permanent" => 301,
        "temp" => 302,
        "seeother" => 303,
        "gone" => 410,
        _ if arg.starts_with(|c: char| c.is_ascii_digit()) => match arg.parse::<u16>() {
            Ok(n) if (300..600).contains(&n) && crate::http::status::reason(n) != "Unknown" => n,
            _ => {
                return Some(Err(format!(
                    "'{arg}' is not a status this server can answer (3xx with a URL, or a 4xx/5xx it knows)"
                )))
            }
        },
        _ => return None,
    };
    Some(Ok(s))
}

/// The arguments of `Redirect`/`RedirectMatch` (after the status the directive implies:
/// 302, or 301 for RedirectPermanent): `(status, URL-path or regex, target)`. The forms Apache
/// reads as an expression inside `<Location>` are refused.
pub fn parse_redirect(
    implied: u16,
    args: &[String],
    is_regex: bool,
) -> Result<(u16, String, Option<String>), String> {
    let (status, fake, url) = match args {
        [a1, a2, a3] => match parse_status(a1) {
            Some(s) => (s?, a2.clone(), Some(a3.clone())),
            None => return Err("invalid first argument (of three): not a status".into()),
        },
        [a1, a2] => match parse_status(a1) {
            Some(Ok(410)) => (410, a2.clone(), None),
            Some(Ok(s)) if !(300..400).contains(&s) => (s, a2.clone(), None),
            Some(Ok(_)) => {
                return Err(format!("'{a1} {a2}': the URL to redirect to is missing (the expression form inside <Location> is not implemented)"))
            }
            Some(Err(e)) => return Err(e),
            None => (implied, a1.clone(), Some(a2.clone())),
        },
        [a1] => {
            return Err(format!("'{a1}' alone: the expression form (inside <Location>) is not implemented; write URL-PATH URL"))
        }
        _ => return Err(format!("takes 1 to 3 arguments, got {}", args.len())),
    };
    if (300..400).contains(&status) {
        let Some(u) = &url else {
            return Err("URL to redirect to is missing".into());
        };
        if !is_regex && !is_url(u) && !u.starts_with('/') {
            return Err(format!(
                "'{u}': redirect to a non-URL (an absolute URL or a path starting with '/')"
            ));
        }
    } else if url.is_some() {
        return Err(format!("a URL is not valid for status {status}"));
    }
    if !is_regex && !fake.starts_with('/') {
        return Err(format!("the URL-path '{fake}' must start with '/'"));
    }
    Ok((status, fake, url))
}

/// Apache's `ap_is_url`: a scheme (letters, digits, `+-.`) followed by `:`.
pub fn is_url(u: &str) -> bool {
    match u.split_once(':') {
        Some((scheme, _)) => {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        None => false,
    }
}

/// Apache's `ap_os_escape_path(p, s, 1)`: everything but letters, digits and
/// `$-_.+!*'(),:;@&=/~` is percent-encoded.
pub fn escape_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || b"$-_.+!*'(),:;@&=/~".contains(&c) {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// A RedirectMatch result as Apache escapes it: the part before `?`/`#` escaped, the query
/// and fragment kept as they are.
fn escape_url(found: &str) -> String {
    let cut = found.find(['?', '#']).unwrap_or(found.len());
    let (head, tail) = found.split_at(cut);
    format!("{}{tail}", escape_path(head))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin {
            file: "t.conf".into(),
            line: 1,
        }
    }

    fn re(s: &str) -> Pattern {
        Pattern::Regex(SectionRegex::new(s).unwrap())
    }

    #[test]
    fn alias_matches_table() {
        // From mod_alias.c's alias_matches and the manual's notes on trailing slashes.
        for (uri, fake, want) in [
            ("/icons/a.png", "/icons/", Some(7)),
            ("/icons", "/icons/", None),
            ("/icons", "/icons", Some(6)),
            ("/icons/", "/icons", Some(6)),
            ("/iconsx", "/icons", None),
            ("/icons/a", "//icons//", Some(7)),
            ("/", "/", Some(1)),
            ("/x", "/", Some(1)),
            ("/a/b/c", "/a/b", Some(4)),
            ("/a/bc", "/a/b", None),
            ("/A", "/a", None),
        ] {
            assert_eq!(alias_matches(uri, fake), want, "{uri} {fake}");
        }
    }

    #[test]
    fn regsub_table() {
        let r = regex::Regex::new("^/(a)(b)?/(.*)$").unwrap();
        let caps = r.captures("/a/x/y").unwrap();
        for (t, want) in [
            ("/srv/$3", "/srv/x/y"),
            ("$0", "/a/x/y"),
            ("/$1$2$3", "/ax/y"),
            ("/\\$1", "/$1"),
            ("/p$", "/p$"),
            ("/$9", "/"),
        ] {
            assert_eq!(regsub(t, &caps), want, "{t}");
        }
    }

    #[test]
    fn literal_root_table() {
        for (t, want) in [
            ("/srv/icons/$1", "/srv/icons"),
            ("/srv/icons/x$1.png", "/srv/icons"),
            ("/$1", "/"),
            ("/srv/fav.ico", "/srv/fav.ico"),
            ("/srv/d/", "/srv/d/"),
        ] {
            assert_eq!(literal_root(t), want, "{t}");
        }
    }

    #[test]
    fn alias_translate_table() {
        let a = |p: Pattern, target: &str| Alias {
            root: PathBuf::from(if matches!(p, Pattern::Regex(_)) {
                literal_root(target)
            } else {
                target
            }),
            pattern: p,
            target: target.into(),
            origin: origin(),
        };
        let ok = |root: &str, rest: &[&str]| {
            Some(Ok(Landing {
                root: root.into(),
                rest: rest.iter().map(|s| s.to_string()).collect(),
            }))
        };
        let icons = a(Pattern::Prefix("/icons/".into()), "/usr/share/icons/");
        assert_eq!(
            icons.translate("/icons/a/b.png"),
            ok("/usr/share/icons/", &["a", "b.png"])
        );
        assert_eq!(icons.translate("/icons/"), ok("/usr/share/icons/", &[]));
        assert_eq!(icons.translate("/icons"), None);
        let fav = a(Pattern::Prefix("/favicon.ico".into()), "/srv/f.ico");
        assert_eq!(fav.translate("/favicon.ico"), ok("/srv/f.ico", &[]));
        assert_eq!(fav.translate("/favicon.icox"), None);
        let m = a(re("^/img/(.*)\\.jpg$"), "/srv/pics/$1.jpeg");
        assert_eq!(
            m.translate("/img/a/b.jpg"),
            ok("/srv/pics", &["a", "b.jpeg"])
        );
        assert_eq!(m.translate("/img/a.png"), None);
        // A substitution that climbs out of the literal root is refused, not followed.
        let climb = a(re("^/c(.*)$"), "/srv/pics/.$1");
        assert!(matches!(climb.translate("/c./x"), Some(Err(_))));
        // Mismatched slashes (Alias /d/ /srv/d): the result is outside the root.
        let slash = a(Pattern::Prefix("/d/".into()), "/srv/d");
        assert!(matches!(slash.translate("/d/x"), Some(Err(_))));
    }

    #[test]
    fn redirect_table() {
        let r = |p: Pattern, status: u16, target: Option<&str>| Redirect {
            pattern: p,
            status,
            target: target.map(str::to_string),
            origin: origin(),
        };
        let list = vec![
            r(Pattern::Prefix("/gone".into()), 410, None),
            r(Pattern::Prefix("/old/".into()), 301, Some("/new/")),
            r(
                Pattern::Prefix("/ext".into()),
                302,
                Some("https://example.org/e"),
            ),
            r(re("^/m/(.*)\\.html$"), 303, Some("/n/$1.htm?x=1")),
            r(Pattern::Prefix("/old".into()), 302, Some("/never")),
        ];
        let go = |uri: &str, q: Option<&str>| redirect(&list, uri, q, "http", "h:8080");
        let loc = |s: u16, l: &str| {
            Some(Redirected {
                status: s,
                location: Some(l.into()),
            })
        };
        assert_eq!(
            go("/gone/x", None),
            Some(Redirected {
                status: 410,
                location: None
            })
        );
        assert_eq!(
            go("/old/a b", Some("q=1")),
            loc(301, "http://h:8080/new/a%20b?q=1")
        );
        // First match in order: "/old" (no slash) is taken by the later entry only.
        assert_eq!(go("/old", None), loc(302, "http://h:8080/never"));
        assert_eq!(go("/ext/p", None), loc(302, "https://example.org/e/p"));
        // The target's own query wins over the request's.
        assert_eq!(
            go("/m/a é.html", Some("y=2")),
            loc(303, "http://h:8080/n/a%20%C3%A9.htm?x=1")
        );
        assert_eq!(go("/other", None), None);
    }

    #[test]
    fn parse_redirect_table() {
        let p = |args: &[&str]| {
            let a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            parse_redirect(302, &a, false)
        };
        let s = |x: &str| x.to_string();
        assert_eq!(
            p(&["/a", "http://x/"]),
            Ok((302, s("/a"), Some(s("http://x/"))))
        );
        assert_eq!(
            p(&["permanent", "/a", "/b"]),
            Ok((301, s("/a"), Some(s("/b"))))
        );
        assert_eq!(
            p(&["seeother", "/a", "/b"]),
            Ok((303, s("/a"), Some(s("/b"))))
        );
        assert_eq!(p(&["308", "/a", "/b"]), Ok((308, s("/a"), Some(s("/b")))));
        assert_eq!(p(&["gone", "/a"]), Ok((410, s("/a"), None)));
        assert_eq!(p(&["temp", "/a", "/b"]), Ok((302, s("/a"), Some(s("/b")))));
        assert!(p(&["gone", "/a", "/b"]).is_err());
        assert!(p(&["/a", "b"]).is_err());
        assert!(p(&["x", "/a", "/b"]).is_err());
        assert!(p(&["permanent", "/a"]).is_err());
        assert!(p(&["/a"]).is_err());
        assert!(p(&["299", "/a", "/b"]).is_err());
        assert!(p(&["a", "http://x/"]).is_err());
    }
}
