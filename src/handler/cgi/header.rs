//! The header block a CGI program writes before its body (RFC 3875 §6), parsed by a pure,
//! incremental function: feed what has arrived, get `Partial` or the parsed head and how many
//! bytes it took.
//!
//! Invariants:
//! - The block is bounded ([`MAX_BLOCK`] bytes, [`MAX_FIELDS`] fields); beyond that it is an
//!   error, never more buffering.
//! - Lines end in LF or CRLF (scripts write both); a bare CR, a CTL in a value, obs-fold, a
//!   field without a colon or with a non-token name is malformed.
//! - Framing and connection management belong to the server: the script's `Connection`,
//!   `Transfer-Encoding`, `Keep-Alive`, `TE`, `Trailer`, `Upgrade`, `Proxy-Connection`,
//!   `Date` and `Server` are dropped; `Content-Length` must be digits and is used for framing.
//! - A response has at least one of `Content-Type`, `Location`, `Status`.
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use crate::http::syntax::{is_token, trim_ows};

pub const MAX_BLOCK: usize = 32 * 1024;
pub const MAX_FIELDS: usize = 100;

const DROPPED: &[&str] = &[
    "connection",
    "transfer-encoding",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
    "date",
    "server",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Partial,
    /// The head and the number of bytes (header block and its empty line) it used.
    Complete(CgiHead, usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgiHead {
    pub status: u16,
    /// Passed through to the client in order (Content-Type, Location of a client redirect,
    /// anything else the script set), without the fields the server owns.
    pub headers: Vec<(String, Vec<u8>)>,
    pub content_length: Option<u64>,
    /// `Location: /path` without `Status`: the server fetches that path itself.
    pub local_redirect: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("header block longer than {MAX_BLOCK} bytes")]
    TooLarge,
    #[error("more than {MAX_FIELDS} header fields")]
    TooManyFields,
    #[error("line {0}: no ':' in header line")]
    NoColon(usize),
    #[error("line {0}: invalid header field name")]
    BadName(usize),
    #[error("line {0}: control character or bare CR in header")]
    BadValue(usize),
    #[error("line {0}: continuation line (obs-fold)")]
    Folded(usize),
    #[error("invalid Status '{0}': want a code 200-599 and an optional reason")]
    BadStatus(String),
    #[error("invalid Content-Length '{0}'")]
    BadContentLength(String),
    #[error("empty Location")]
    EmptyLocation,
    #[error("{0} given twice")]
    Duplicate(&'static str),
    #[error("no Content-Type, Location or Status header")]
    NoCgiField,
    #[error("output ended before the end of the header block")]
    Truncated,
}

/// Parses the header block at the start of `buf`. `eof` says no more bytes will come.
pub fn parse(buf: &[u8], eof: bool) -> Result<Parsed, HeaderError> {
    let mut pos = 0;
    let mut lines: Vec<&[u8]> = Vec::new();
    let end = loop {
        let rest = buf.get(pos..).unwrap_or_default();
        let Some(line) = rest
            .split(|&b| b == b'\n')
            .next()
            .filter(|l| l.len() < rest.len())
        else {
            return if buf.len() > MAX_BLOCK {
                Err(HeaderError::TooLarge)
            } else if eof {
                Err(HeaderError::Truncated)
            } else {
                Ok(Parsed::Partial)
            };
        };
        pos += line.len() + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if pos > MAX_BLOCK {
            return Err(HeaderError::TooLarge);
        }
        if line.is_empty() {
            break pos;
        }
        if lines.len() == MAX_FIELDS {
            return Err(HeaderError::TooManyFields);
        }
        lines.push(line);
    };
    head(&lines).map(|h| Parsed::Complete(h, end))
}

fn head(lines: &[&[u8]]) -> Result<CgiHead, HeaderError> {
    let mut status: Option<u16> = None;
    let mut location: Option<Vec<u8>> = None;
    let mut content_type = false;
    let mut content_length = None;
    let mut headers = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        if matches!(line.first(), Some(b' ' | b'\t')) {
            return Err(HeaderError::Folded(n));
        }
        let (name, value) = line
            .iter()
            .position(|&b| b == b':')
            .and_then(|colon| line.split_at_checked(colon))
            .ok_or(HeaderError::NoColon(n))?;
        if !is_token(name) {
            return Err(HeaderError::BadName(n));
        }
        let value = trim_ows(value.get(1..).unwrap_or_default());
        if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(HeaderError::BadValue(n));
        }
        let name = String::from_utf8_lossy(name).into_owned();
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "status" => {
                if status.is_some() {
                    return Err(HeaderError::Duplicate("Status"));
                }
                status = Some(parse_status(value)?);
            }
            "location" => {
                if location.is_some() {
                    return Err(HeaderError::Duplicate("Location"));
                }
                if value.is_empty() {
                    return Err(HeaderError::EmptyLocation);
                }
                location = Some(value.to_vec());
            }
            "content-length" => {
                let s = String::from_utf8_lossy(value).into_owned();
                if content_length.is_some() {
                    return Err(HeaderError::Duplicate("Content-Length"));
                }
                if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(HeaderError::BadContentLength(s));
                }
                content_length = Some(s.parse().map_err(|_| HeaderError::BadContentLength(s))?);
            }
            l if DROPPED.contains(&l) => {}
            _ => {
                content_type |= lower == "content-type";
                headers.push((name, value.to_vec()));
            }
        }
    }
    if status.is_none() && location.is_none() && !content_type {
        return Err(HeaderError::NoCgiField);
    }
    let mut local_redirect = None;
    if let Some(loc) = location {
        if loc.starts_with(b"/") && status.is_none() {
            local_redirect = Some(String::from_utf8_lossy(&loc).into_owned());
        } else {
            status.get_or_insert(302);
            headers.push(("Location".into(), loc));
        }
    }
    Ok(CgiHead {
        status: status.unwrap_or(200),
        headers,
        content_length,
        local_redirect,
    })
}

fn parse_status(v: &[u8]) -> Result<u16, HeaderError> {
    let bad = || HeaderError::BadStatus(String::from_utf8_lossy(v).into_owned());
    let code = v.get(..3).ok_or_else(bad)?;
    if !code.iter().all(u8::is_ascii_digit) || v.get(3).is_some_and(|&b| b != b' ') {
        return Err(bad());
    }
    let code: u16 = std::str::from_utf8(code)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    if !(200..=599).contains(&code) {
        return Err(bad());
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(buf: &str) -> (CgiHead, usize) {
        match parse(buf.as_bytes(), false) {
            Ok(Parsed::Complete(h, n)) => (h, n),
            other => panic!("{buf:?}: {other:?}"),
        }
    }

    fn hdr(h: &CgiHead) -> Vec<(String, String)> {
        h.headers
            .iter()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect()
    }

    #[test]
    fn complete_table() {
        // input, status, passed headers, Content-Length, local redirect, bytes used
        type Row<'a> = (
            &'a str,
            u16,
            &'a [(&'a str, &'a str)],
            Option<u64>,
            Option<&'a str>,
            usize,
        );
        let rows: &[Row] = &[
            ("Content-Type: text/plain\n\nbody", 200, &[("Content-Type", "text/plain")], None, None, 26),
            ("Content-Type: a/b\r\n\r\nbody", 200, &[("Content-Type", "a/b")], None, None, 21),
            ("Status: 404 Not Here\r\nContent-Type: a/b\r\n\r\n", 404, &[("Content-Type", "a/b")], None, None, 43),
            ("Status: 201\nX-A:  v  \nContent-Length: 3\n\nabc", 201, &[("X-A", "v")], Some(3), None, 41),
            ("Location: /other?x=1\n\n", 200, &[], None, Some("/other?x=1"), 22),
            ("Location: http://e.test/\n\n", 302, &[("Location", "http://e.test/")], None, None, 26),
            ("Status: 301 Moved\nLocation: /abs\n\n", 301, &[("Location", "/abs")], None, None, 34),
            ("Content-Type: a/b\nConnection: close\nTransfer-Encoding: chunked\nServer: x\nDate: y\n\n", 200, &[("Content-Type", "a/b")], None, None, 82),
        ];
        for (buf, status, headers, len, local, used) in rows {
            let (h, n) = ok(buf);
            assert_eq!(h.status, *status, "{buf:?}");
            let want: Vec<(String, String)> = headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(hdr(&h), want, "{buf:?}");
            assert_eq!(h.content_length, *len, "{buf:?}");
            assert_eq!(h.local_redirect.as_deref(), *local, "{buf:?}");
            assert_eq!(n, *used, "{buf:?}");
        }
    }

    #[test]
    fn error_table() {
        let long = format!("Content-Type: a/b\nX: {}\n\n", "v".repeat(MAX_BLOCK));
        let many = "X: y\n".repeat(MAX_FIELDS + 1) + "\n";
        let rows: Vec<(&str, HeaderError)> = vec![
            ("garbage\n\n", HeaderError::NoColon(1)),
            ("X-A: b\n\n", HeaderError::NoCgiField),
            ("Bad Name: x\n\n", HeaderError::BadName(1)),
            ("Content-Type: a\x01b\n\n", HeaderError::BadValue(1)),
            ("Content-Type: a\rb\n\n", HeaderError::BadValue(1)),
            ("Content-Type: a\n b\n\n", HeaderError::Folded(2)),
            ("Status: abc\n\n", HeaderError::BadStatus("abc".into())),
            ("Status: 99\n\n", HeaderError::BadStatus("99".into())),
            (
                "Status: 100 Continue\n\n",
                HeaderError::BadStatus("100 Continue".into()),
            ),
            ("Status: 600\n\n", HeaderError::BadStatus("600".into())),
            ("Status: 2000\n\n", HeaderError::BadStatus("2000".into())),
            (
                "Status: 200\nStatus: 200\n\n",
                HeaderError::Duplicate("Status"),
            ),
            (
                "Content-Type: a\nContent-Length: -1\n\n",
                HeaderError::BadContentLength("-1".into()),
            ),
            (
                "Content-Type: a\nContent-Length: 1\nContent-Length: 1\n\n",
                HeaderError::Duplicate("Content-Length"),
            ),
            ("Location:\n\n", HeaderError::EmptyLocation),
            (&long, HeaderError::TooLarge),
            (&many, HeaderError::TooManyFields),
        ];
        for (buf, want) in rows {
            assert_eq!(parse(buf.as_bytes(), false), Err(want), "{buf:?}");
        }
    }

    #[test]
    fn partial_until_the_empty_line_and_every_split_agrees() {
        let full = "Status: 200\r\nContent-Type: a/b\r\n\r\nrest";
        let (whole, used) = ok(full);
        for cut in 0..used {
            assert_eq!(
                parse(&full.as_bytes()[..cut], false),
                Ok(Parsed::Partial),
                "cut {cut}"
            );
            assert_eq!(
                parse(&full.as_bytes()[..cut], true),
                Err(HeaderError::Truncated),
                "cut {cut}"
            );
        }
        assert_eq!(
            parse(&full.as_bytes()[..used], false),
            Ok(Parsed::Complete(whole, used))
        );
        assert_eq!(
            parse("x".repeat(MAX_BLOCK + 1).as_bytes(), false),
            Err(HeaderError::TooLarge)
        );
    }
}
