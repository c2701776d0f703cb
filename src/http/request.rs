//! Stage: request head parsing (child, before vhost selection and authentication).
//!
//! `parse_head` is called with everything received so far and answers `Partial`, a complete
//! [`Request`] plus the number of head bytes consumed, or a [`HeadError`] whose `status()` is the
//! response to send before closing. It is pure: no I/O, no allocation proportional to anything
//! but the (bounded) head.
//!
//! Invariants:
//! - A prefix of a valid head is always `Partial`, never an error; every limit error is raised as
//!   soon as the received bytes prove the limit is exceeded, so the read buffer never needs to
//!   exceed [`Limits::max_head`].
//! - The raw bytes are checked before tokenising: every line ends in CRLF (bare LF and bare CR
//!   are 400 even though httparse tolerates bare LF), no NUL/CTL outside HTAB in field lines, no
//!   HTAB in the request line, no obs-fold. httparse then tokenises the head and must agree with
//!   our own line split, otherwise the request is refused (a parser differential is a smuggling
//!   vector).
//! - Message framing is unambiguous or refused: at most one Content-Length field holding only
//!   digits, Transfer-Encoding only on HTTP/1.1 and only with `chunked` as the single final
//!   coding, never both Content-Length and Transfer-Encoding.
//! - `host` is the validated authority of an absolute-form or authority-form target (RFC 9112
//!   §3.2.2: it wins over Host) or else the Host field; HTTP/1.1 always needs exactly one valid
//!   Host field, even when the target carries the authority.
//!
//! Decisions where RFC 9112 leaves a choice (each is pinned by a table test):
//! - Version: a well-formed `HTTP/x.y` other than 1.0/1.1 (2.0, 3.0, 0.9, 1.2, the HTTP/2
//!   preface `PRI * HTTP/2.0`) is 505; a request line without a version (HTTP/0.9 style) or
//!   with a malformed version is 400. The version is checked before the method, so the HTTP/2
//!   preface is 505 rather than 501 for the unknown method `PRI`.
//! - The request line is judged as soon as its CRLF arrives, before any header field: an
//!   invalid one stays invalid whatever follows (RFC 9112 §3: SHOULD answer 400), and an
//!   HTTP/0.9 client (`GET /` CRLF) sends nothing more, so waiting would only cost a slot
//!   until the timeout.
//! - Transfer-Encoding: `chunked` not final, absent, repeated or carrying parameters is 400
//!   (RFC 9112 §6.3: the length cannot be determined); `chunked` final behind other codings
//!   (`gzip, chunked`) is 501; any Transfer-Encoding in HTTP/1.0 is 400 (§6.1 faulty framing).
//!   Coding names are case-insensitive and SP/HTAB around list elements is OWS, so
//!   `Transfer-Encoding:  Chunked ` is accepted.
//! - Up to ten empty lines before the request line are skipped (RFC 9112 §2.2, Apache's limit).
//! - An empty Host, a Host with userinfo, an empty port or an IPvFuture literal is 400. A single
//!   trailing dot of a name is dropped so `example.org.` selects the same vhost as `example.org`.
//! - The request-target may only hold RFC 3986 characters with well-formed percent escapes; a
//!   fragment is 400. For CONNECT (authority-form) `path` is empty and `query` is `None`.
//! - An `Expect` other than `100-continue` is 417; `100-continue` is ignored for HTTP/1.0.
#![forbid(unsafe_code)]

mod framing;
mod target;

use super::syntax::{is_tchar, is_token, trim_ows};
use framing::{body_framing, expect_continue, keep_alive};
use target::{host_field, parse_target};

/// Request-line and header limits, named after Apache's directives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// LimitRequestLine: longest request line in bytes, CRLF excluded.
    pub request_line: usize,
    /// LimitRequestFieldSize: longest field line (`name: value`) in bytes, CRLF excluded.
    pub field_size: usize,
    /// LimitRequestFields: most field lines in the head.
    pub fields: usize,
}

/// Empty lines tolerated before the request line (Apache's DEFAULT_LIMIT_BLANK_LINES).
pub const MAX_LEADING_EMPTY_LINES: usize = 10;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_line: 8190,
            field_size: 8190,
            fields: 100,
        }
    }
}

impl Limits {
    /// The most bytes a valid head can occupy: leading empty lines, the request line, every
    /// field line at full size, each with its CRLF, and the final CRLF.
    pub fn max_head(&self) -> usize {
        let fields = self
            .fields
            .saturating_mul(self.field_size.saturating_add(2));
        (MAX_LEADING_EMPTY_LINES * 2)
            .saturating_add(self.request_line)
            .saturating_add(2)
            .saturating_add(fields)
            .saturating_add(2)
    }
}

/// Request methods this parser recognises; anything else is 501.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Trace,
    Connect,
    Patch,
    // WebDAV (RFC 4918), served only where `Dav On`.
    Propfind,
    Proppatch,
    Mkcol,
    Copy,
    Move,
    Lock,
    Unlock,
}

impl Method {
    const ALL: [Method; 16] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Options,
        Method::Trace,
        Method::Connect,
        Method::Patch,
        Method::Propfind,
        Method::Proppatch,
        Method::Mkcol,
        Method::Copy,
        Method::Move,
        Method::Lock,
        Method::Unlock,
    ];

    /// The method token as it appears on the wire (methods are case-sensitive).
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Connect => "CONNECT",
            Method::Patch => "PATCH",
            Method::Propfind => "PROPFIND",
            Method::Proppatch => "PROPPATCH",
            Method::Mkcol => "MKCOL",
            Method::Copy => "COPY",
            Method::Move => "MOVE",
            Method::Lock => "LOCK",
            Method::Unlock => "UNLOCK",
        }
    }

    fn from_token(token: &[u8]) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str().as_bytes() == token)
    }
}

/// How the request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    None,
    Length(u64),
    Chunked,
}

/// A parsed, validated request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// The request-target exactly as sent (for the access log).
    pub target: String,
    /// Still percent-encoded path without the query; `*` for OPTIONS *, empty for CONNECT.
    pub path: String,
    pub query: Option<String>,
    /// 0 or 1.
    pub minor_version: u8,
    /// Field names as sent, values with surrounding OWS removed, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Lowercased host without port; IPv6 literals keep their brackets.
    pub host: Option<String>,
    pub body: Body,
    pub keep_alive: bool,
    pub expect_continue: bool,
}

impl Request {
    /// The first value of field `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Every value of field `name` (case-insensitive), in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

/// Result of feeding the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// The head is not complete yet and nothing seen so far is invalid.
    Partial,
    /// A complete head and the number of bytes it occupied (the body starts there).
    Complete(Request, usize),
}

/// Why a request head was refused. Byte offsets count from the start of the buffer.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum HeadError {
    #[error("request line longer than LimitRequestLine ({limit} bytes)")]
    RequestLineTooLong { limit: usize },
    #[error("header field line {index} longer than LimitRequestFieldSize ({limit} bytes)")]
    FieldTooLong { index: usize, limit: usize },
    #[error("more than LimitRequestFields ({limit}) header fields")]
    TooManyFields { limit: usize },
    #[error("more than {MAX_LEADING_EMPTY_LINES} empty lines before the request line")]
    TooManyEmptyLines,
    #[error("bare LF at byte {offset}: lines must end in CRLF")]
    BareLf { offset: usize },
    #[error("bare CR at byte {offset}: CR must be followed by LF")]
    BareCr { offset: usize },
    #[error("control byte {byte:#04x} at byte {offset} of the head")]
    ControlByte { offset: usize, byte: u8 },
    #[error("obsolete line folding (field line starting with whitespace) at byte {offset}")]
    ObsFold { offset: usize },
    #[error("malformed request line: {why}")]
    MalformedRequestLine { why: &'static str },
    #[error("request line has no HTTP version (HTTP/0.9 is not served)")]
    MissingVersion,
    #[error("malformed HTTP version {version:?}")]
    BadVersion { version: String },
    #[error("unsupported HTTP version {version}")]
    UnsupportedVersion { version: String },
    #[error("method {method:?} is not a valid token")]
    BadMethod { method: String },
    #[error("method {method:?} is not implemented")]
    UnknownMethod { method: String },
    #[error("invalid request-target: {why}")]
    BadTarget { why: &'static str },
    #[error("asterisk-form target used with {method}, only OPTIONS may use it")]
    AsteriskNotOptions { method: &'static str },
    #[error("authority-form target used with {method}, only CONNECT may use it")]
    AuthorityFormNotConnect { method: &'static str },
    #[error("CONNECT needs an authority-form target (host:port)")]
    ConnectWithoutAuthority,
    #[error("header section rejected by the tokeniser: {0}")]
    Tokenize(httparse::Error),
    #[error("tokeniser and line scanner disagree about the head: {why}")]
    ParserMismatch { why: &'static str },
    #[error("HTTP/1.1 request without a Host field")]
    MissingHost,
    #[error("more than one Host field")]
    DuplicateHost,
    #[error("invalid host in {place}: {why}")]
    InvalidHost {
        place: &'static str,
        why: &'static str,
    },
    #[error("both Content-Length and Transfer-Encoding present")]
    ContentLengthWithTransferEncoding,
    #[error("more than one Content-Length field")]
    DuplicateContentLength,
    #[error("invalid Content-Length: {why}")]
    InvalidContentLength { why: &'static str },
    #[error("Transfer-Encoding in an HTTP/1.0 request")]
    TransferEncodingInHttp10,
    #[error("invalid Transfer-Encoding: {why}")]
    BadTransferEncoding { why: &'static str },
    #[error("unsupported transfer coding before chunked: {coding:?}")]
    UnsupportedTransferCoding { coding: String },
    #[error("unsupported expectation {value:?}")]
    UnsupportedExpectation { value: String },
}

impl HeadError {
    /// The status code to answer with before closing the connection.
    pub fn status(&self) -> u16 {
        use HeadError::*;
        match self {
            RequestLineTooLong { .. } => 414,
            FieldTooLong { .. } | TooManyFields { .. } => 431,
            UnknownMethod { .. } | UnsupportedTransferCoding { .. } => 501,
            UnsupportedVersion { .. } => 505,
            UnsupportedExpectation { .. } => 417,
            _ => 400,
        }
    }
}

/// Parse the request head at the start of `buf` (which may also hold body bytes after it).
pub fn parse_head(buf: &[u8], limits: &Limits) -> Result<Parsed, HeadError> {
    let Some(lines) = scan_head(buf, limits)? else {
        return Ok(Parsed::Partial);
    };
    // scan_head found both ranges inside `buf`; an empty slice would only fail to parse.
    let line = parse_request_line(
        buf.get(lines.line_start..lines.line_end)
            .unwrap_or_default(),
    )?;
    let headers = tokenize(buf.get(..lines.head_len).unwrap_or_default(), limits, &line)?;
    let request = build_request(line, headers)?;
    Ok(Parsed::Complete(request, lines.head_len))
}

/// Where the request line sits and how long the whole head is.
struct HeadLines {
    line_start: usize,
    line_end: usize,
    head_len: usize,
}

/// Check the raw line structure and every limit; `None` means the head is incomplete.
fn scan_head(buf: &[u8], limits: &Limits) -> Result<Option<HeadLines>, HeadError> {
    let Some(line_start) = skip_empty_lines(buf)? else {
        return Ok(None);
    };
    let too_long = || HeadError::RequestLineTooLong {
        limit: limits.request_line,
    };
    let Some(line_end) = find_cr(buf, line_start, limits.request_line, false, too_long)? else {
        return Ok(None);
    };
    // A complete request line that is invalid cannot become valid: answer now instead of
    // waiting for header fields that an HTTP/0.9 client (`GET /` CRLF) never sends.
    parse_request_line(buf.get(line_start..line_end).unwrap_or_default())?;
    let mut pos = line_end + 2;
    let mut index = 0;
    loop {
        match buf.get(pos) {
            None => return Ok(None),
            Some(b'\r') => {
                return match buf.get(pos + 1) {
                    None => Ok(None),
                    Some(b'\n') => Ok(Some(HeadLines {
                        line_start,
                        line_end,
                        head_len: pos + 2,
                    })),
                    Some(_) => Err(HeadError::BareCr { offset: pos }),
                }
            }
            Some(b' ' | b'\t') => return Err(HeadError::ObsFold { offset: pos }),
            Some(_) if index == limits.fields => {
                return Err(HeadError::TooManyFields {
                    limit: limits.fields,
                })
            }
            Some(_) => {}
        }
        let too_long = || HeadError::FieldTooLong {
            index,
            limit: limits.field_size,
        };
        let Some(cr) = find_cr(buf, pos, limits.field_size, true, too_long)? else {
            return Ok(None);
        };
        pos = cr + 2;
        index += 1;
    }
}

/// Skip the tolerated CRLFs before the request line; returns where the request line starts.
fn skip_empty_lines(buf: &[u8]) -> Result<Option<usize>, HeadError> {
    let mut pos = 0;
    for _ in 0..=MAX_LEADING_EMPTY_LINES {
        match (buf.get(pos), buf.get(pos + 1)) {
            (None, _) | (Some(b'\r'), None) => return Ok(None),
            (Some(b'\r'), Some(b'\n')) => pos += 2,
            (Some(b'\r'), Some(_)) => return Err(HeadError::BareCr { offset: pos }),
            (Some(b'\n'), _) => return Err(HeadError::BareLf { offset: pos }),
            (Some(_), _) => return Ok(Some(pos)),
        }
    }
    Err(HeadError::TooManyEmptyLines)
}

/// Find the CR of the CRLF ending the line that starts at `start`, enforcing `max_len` content
/// bytes and rejecting control bytes as soon as they arrive.
fn find_cr(
    buf: &[u8],
    start: usize,
    max_len: usize,
    allow_tab: bool,
    too_long: impl Fn() -> HeadError,
) -> Result<Option<usize>, HeadError> {
    for (offset, &byte) in buf.iter().enumerate().skip(start) {
        match byte {
            b'\r' => {
                return match buf.get(offset + 1) {
                    None => Ok(None),
                    Some(b'\n') => Ok(Some(offset)),
                    Some(_) => Err(HeadError::BareCr { offset }),
                }
            }
            _ if offset - start >= max_len => return Err(too_long()),
            b'\n' => return Err(HeadError::BareLf { offset }),
            b'\t' if allow_tab => {}
            0..=0x1f | 0x7f => return Err(HeadError::ControlByte { offset, byte }),
            _ => {}
        }
    }
    Ok(None)
}

/// The three request-line components, validated.
struct RequestLine<'a> {
    method: Method,
    target: &'a str,
    minor_version: u8,
}

fn parse_request_line(line: &[u8]) -> Result<RequestLine<'_>, HeadError> {
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(HeadError::MalformedRequestLine {
            why: "components must be separated by exactly one space",
        });
    }
    let [method, target, version] = parts.as_slice() else {
        return Err(match parts.len() {
            2 => HeadError::MissingVersion,
            _ => HeadError::MalformedRequestLine {
                why: "expected method, target and version",
            },
        });
    };
    let minor_version = parse_version(version)?;
    let method = parse_method(method)?;
    let target = std::str::from_utf8(target)
        .ok()
        .filter(|t| t.is_ascii())
        .ok_or(HeadError::BadTarget {
            why: "non-ASCII byte",
        })?;
    Ok(RequestLine {
        method,
        target,
        minor_version,
    })
}

fn parse_version(version: &[u8]) -> Result<u8, HeadError> {
    match version {
        b"HTTP/1.1" => Ok(1),
        b"HTTP/1.0" => Ok(0),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(HeadError::UnsupportedVersion {
                version: escape(version),
            })
        }
        _ => Err(HeadError::BadVersion {
            version: escape(version),
        }),
    }
}

fn parse_method(method: &[u8]) -> Result<Method, HeadError> {
    if !method.iter().all(|&b| is_tchar(b)) {
        return Err(HeadError::BadMethod {
            method: escape(method),
        });
    }
    Method::from_token(method).ok_or_else(|| HeadError::UnknownMethod {
        method: escape(method),
    })
}

/// Tokenise the complete head with httparse and cross-check it against our own scan.
fn tokenize(
    head: &[u8],
    limits: &Limits,
    line: &RequestLine<'_>,
) -> Result<Vec<(String, Vec<u8>)>, HeadError> {
    let mut slots = vec![httparse::EMPTY_HEADER; limits.fields.saturating_add(1)];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(head) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        Ok(httparse::Status::Complete(_)) => {
            return Err(HeadError::ParserMismatch {
                why: "head length differs",
            })
        }
        Ok(httparse::Status::Partial) => {
            return Err(HeadError::ParserMismatch {
                why: "tokeniser wants more bytes",
            })
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HeadError::TooManyFields {
                limit: limits.fields,
            })
        }
        Err(e) => return Err(HeadError::Tokenize(e)),
    }
    let same_line = req.method == Some(line.method.as_str())
        && req.path == Some(line.target)
        && req.version == Some(line.minor_version);
    if !same_line {
        return Err(HeadError::ParserMismatch {
            why: "request line differs",
        });
    }
    Ok(req
        .headers
        .iter()
        .map(|h| (h.name.to_owned(), trim_ows(h.value).to_vec()))
        .collect())
}

fn build_request(
    line: RequestLine<'_>,
    headers: Vec<(String, Vec<u8>)>,
) -> Result<Request, HeadError> {
    let target = parse_target(line.method, line.target)?;
    let host_field = host_field(&headers, line.minor_version)?;
    let host = target.authority.or(host_field);
    let body = body_framing(&headers, line.minor_version)?;
    let keep_alive = keep_alive(&headers, line.minor_version);
    let expect_continue = expect_continue(&headers, line.minor_version)?;
    Ok(Request {
        method: line.method,
        target: line.target.to_owned(),
        path: target.path,
        query: target.query,
        minor_version: line.minor_version,
        headers,
        host,
        body,
        keep_alive,
        expect_continue,
    })
}

fn values<'a>(
    headers: &'a [(String, Vec<u8>)],
    name: &'a str,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// Attacker bytes in error messages end up in logs: escape them and bound their length.
fn escape(bytes: &[u8]) -> String {
    const MAX: usize = 64;
    let shown = bytes.get(..MAX).unwrap_or(bytes);
    let mut s = shown.escape_ascii().to_string();
    if bytes.len() > MAX {
        s.push_str("...");
    }
    s
}
