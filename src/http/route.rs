//! Stage: turn the request path into clean segments beneath the DocumentRoot, before any
//! filesystem call (after OpenBSD httpd's canonicalize_path). Pure.
//!
//! 1. percent-decode each segment separately, so an encoded `/` can never create a segment
//!    boundary (Apache's `AllowEncodedSlashes Off` answers 404 for `%2F`);
//! 2. reject NUL and other control bytes;
//! 3. drop empty and `.` segments, pop on `..`, and refuse a `..` that would climb above the
//!    root (400, as Apache).
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Decoded segments, none empty, none `.` or `..`, none containing `/` or NUL.
    pub segments: Vec<String>,
    /// The URL path ended in `/` (directory request).
    pub trailing_slash: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("path does not start with '/'")]
    NotAbsolute,
    #[error("malformed percent-encoding")]
    BadEncoding,
    #[error("NUL or control byte in path")]
    ControlByte,
    #[error("encoded slash in path")]
    EncodedSlash,
    #[error("path climbs above the document root")]
    Escapes,
    #[error("path is not valid UTF-8")]
    NotUtf8,
}

impl RouteError {
    pub fn status(self) -> u16 {
        match self {
            RouteError::EncodedSlash => 404,
            _ => 400,
        }
    }
}

impl Route {
    /// The decoded, normalised URL path (`/a/b`, `/a/` for a directory request).
    pub fn decoded_path(&self) -> String {
        let mut p = String::new();
        for s in &self.segments {
            p.push('/');
            p.push_str(s);
        }
        if self.trailing_slash || p.is_empty() {
            p.push('/');
        }
        p
    }
}

pub fn route(raw_path: &str) -> Result<Route, RouteError> {
    let rest = raw_path.strip_prefix('/').ok_or(RouteError::NotAbsolute)?;
    let mut segments: Vec<String> = Vec::new();
    for raw in rest.split('/') {
        let seg = decode(raw)?;
        match seg.as_str() {
            "" | "." => {}
            ".." => {
                segments.pop().ok_or(RouteError::Escapes)?;
            }
            _ => segments.push(seg),
        }
    }
    let trailing_slash =
        raw_path.ends_with('/') || raw_path.ends_with("/.") || raw_path.ends_with("/..");
    Ok(Route {
        segments,
        trailing_slash,
    })
}

fn decode(seg: &str) -> Result<String, RouteError> {
    let b = seg.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&byte) = b.get(i) {
        let c = if byte == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or(RouteError::BadEncoding)?;
            let s = std::str::from_utf8(hex).map_err(|_| RouteError::BadEncoding)?;
            let v = u8::from_str_radix(s, 16).map_err(|_| RouteError::BadEncoding)?;
            i += 3;
            if v == b'/' {
                return Err(RouteError::EncodedSlash);
            }
            v
        } else {
            i += 1;
            byte
        };
        if c < 0x20 || c == 0x7f {
            return Err(RouteError::ControlByte);
        }
        out.push(c);
    }
    String::from_utf8(out).map_err(|_| RouteError::NotUtf8)
}

/// Percent-encodes a path for a Location header or a listing link.
/// `URL` (a directory request) followed by the DirectoryIndex entry `name`, encoded: the
/// URL mod_dir's sub-request asks for.
pub fn index_url(url_path: &str, name: &str) -> String {
    let mut u = url_path.to_string();
    if !u.ends_with('/') {
        u.push('/');
    }
    u.push_str(&encode_path(name));
    u
}

pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &c in path.as_bytes() {
        if c.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&c) {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let ok: &[(&str, &[&str], bool)] = &[
            ("/", &[], true),
            ("/a/b.html", &["a", "b.html"], false),
            ("/a//b/", &["a", "b"], true),
            ("/a/./b", &["a", "b"], false),
            ("/a/../b", &["b"], false),
            ("/a/%2e%2e/b", &["b"], false),
            ("/a%20b", &["a b"], false),
            ("/%c3%a9", &["é"], false),
            ("/a/..", &[], true),
        ];
        for (p, segs, slash) in ok {
            let r = route(p).unwrap_or_else(|e| panic!("{p}: {e}"));
            assert_eq!(
                r.segments,
                segs.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "{p}"
            );
            assert_eq!(r.trailing_slash, *slash, "{p}");
        }
        let bad: &[(&str, RouteError)] = &[
            ("a", RouteError::NotAbsolute),
            ("/../etc/passwd", RouteError::Escapes),
            ("/%2e%2e/etc/passwd", RouteError::Escapes),
            ("/a/../../x", RouteError::Escapes),
            ("/a%2fb", RouteError::EncodedSlash),
            ("/a%2Fb", RouteError::EncodedSlash),
            ("/a%00b", RouteError::ControlByte),
            ("/a%0ab", RouteError::ControlByte),
            ("/a%", RouteError::BadEncoding),
            ("/a%g1", RouteError::BadEncoding),
            ("/%ff", RouteError::NotUtf8),
        ];
        for (p, e) in bad {
            assert_eq!(route(p), Err(*e), "{p}");
        }
    }

    #[test]
    fn encode() {
        assert_eq!(encode_path("/a b/é?#"), "/a%20b/%C3%A9%3F%23");
    }
}
