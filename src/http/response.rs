//! Stage: write the response. Formatting is pure; writing goes through `io::Write`.
//! Error pages are fixed texts that never echo a path or anything else from the request.

use crate::http::{date, status};
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant, SystemTime};

pub enum Body {
    Empty,
    Bytes(Vec<u8>),
    /// A byte range of an open file, streamed with sendfile(2): never loaded into memory.
    File {
        file: File,
        offset: u64,
        len: u64,
    },
}

impl Body {
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Bytes(b) => b.len() as u64,
            Body::File { len, .. } => *len,
        }
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(Cow<'static, str>, String)>,
    pub body: Body,
    /// A page the server generated (errors, redirects), not a handler's answer: only
    /// `Header always` rules act on it.
    pub generated: bool,
    /// The file a static response comes from, for mod_expires' `M` codes and
    /// `AddOutputFilter`'s extensions (see [`crate::child::filters`]).
    pub source: Option<Box<Source>>,
}

/// The file behind a response.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub mtime: SystemTime,
    /// Its media type (a 304 carries none, but mod_expires looks it up).
    pub content_type: Option<String>,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Empty,
            generated: false,
            source: None,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((Cow::Borrowed(name), value.into()));
        self
    }

    /// Applies mod_headers' rules of the request's scope (see `config::header`).
    pub fn with_rules(mut self, rules: &[crate::config::header::HeaderRule]) -> Self {
        if rules.is_empty() {
            return self;
        }
        let mut fields: crate::config::header::Fields = std::mem::take(&mut self.headers)
            .into_iter()
            .map(|(n, v)| (n.into_owned(), v.into_bytes()))
            .collect();
        crate::config::header::apply(rules, &mut fields, !self.generated);
        self.headers = fields
            .into_iter()
            .map(|(n, v)| (Cow::Owned(n), String::from_utf8_lossy(&v).into_owned()))
            .collect();
        self
    }

    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    /// A complete error response with a short HTML body naming only the status.
    pub fn error(code: u16) -> Self {
        let reason = status::reason(code);
        let html = format!(
            "<!DOCTYPE html>\n<html><head><title>{code} {reason}</title></head>\n<body><h1>{reason}</h1></body></html>\n"
        );
        let mut r = Response::new(code)
            .header("Content-Type", "text/html; charset=utf-8")
            .body(Body::Bytes(html.into_bytes()));
        r.generated = true;
        r
    }
}

/// What was written, for the access log.
pub struct Sent {
    pub status: u16,
    pub body_bytes: u64,
    pub head_bytes: u64,
}

/// Serialises the status line and headers. `Content-Length` is always sent: this server never
/// needs chunked output for static content.
pub fn head(resp: &Response, keep_alive: bool) -> Vec<u8> {
    let mut h = format!(
        "HTTP/1.1 {} {}\r\n",
        resp.status,
        status::reason(resp.status)
    );
    h.push_str(&format!(
        "Date: {}\r\nServer: oneshot-httpd\r\n",
        date::http_date(SystemTime::now())
    ));
    for (k, v) in &resp.headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    // 304 carries no body and no length of its own (RFC 9110 §15.4.5).
    if resp.status != 304 {
        h.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    }
    h.push_str(if keep_alive {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    h.into_bytes()
}

pub fn write(
    stream: &mut TcpStream,
    resp: Response,
    head_only: bool,
    keep_alive: bool,
) -> io::Result<Sent> {
    let status = resp.status;
    let head = head(&resp, keep_alive);
    stream.write_all(&head)?;
    let head_bytes = head.len() as u64;
    if head_only || status == 304 {
        return Ok(Sent {
            status,
            body_bytes: 0,
            head_bytes,
        });
    }
    let body_bytes = match resp.body {
        Body::Empty => 0,
        Body::Bytes(b) => {
            stream.write_all(&b)?;
            b.len() as u64
        }
        Body::File { file, offset, len } => send_file(stream, &file, offset, len)?,
    };
    Ok(Sent {
        status,
        body_bytes,
        head_bytes,
    })
}

fn send_file(stream: &TcpStream, file: &File, offset: u64, len: u64) -> io::Result<u64> {
    let mut off = offset as libc::off_t;
    let mut left = len;
    while left > 0 {
        let chunk = left.min(1 << 30) as usize;
        match nix::sys::sendfile::sendfile(stream.as_fd(), file.as_fd(), Some(&mut off), chunk) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shrank while being sent",
                ))
            }
            Ok(n) => left -= n as u64,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(len)
}

/// Lingering close: stop writing, then read and discard what the client still sends for a
/// short while, so that closing does not turn into a TCP reset that destroys the response
/// the client has not read yet.
pub fn linger_close(mut stream: TcpStream) {
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut buf = [0u8; 4096];
    let mut total = 0usize;
    while Instant::now() < deadline && total < 256 * 1024 {
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_pages_have_length_and_no_input() {
        let r = Response::error(404);
        let h = String::from_utf8(head(&r, false)).unwrap();
        assert!(h.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(h.contains(&format!("Content-Length: {}\r\n", r.body.len())));
        assert!(h.ends_with("Connection: close\r\n\r\n"));
    }

    #[test]
    fn not_modified_has_no_length() {
        let h = String::from_utf8(head(&Response::new(304), true)).unwrap();
        assert!(!h.contains("Content-Length"));
    }
}

impl Original<'_> {
    /// `REDIRECT_URL`'s value: the original path as `<Location>` sees it (decoded).
    pub fn url(&self) -> String {
        crate::config::model::normalized_url(&self.req.path)
    }
}

/// The answer an error document stands in for.
#[derive(Debug, Clone, Copy)]
pub struct Original<'a> {
    pub status: u16,
    /// The request the document stands in for (a program gets its `REDIRECT_*` variables).
    pub req: &'a crate::http::request::Request,
    /// Fields of the original answer the document's answer keeps (a 401's WWW-Authenticate).
    pub fields: &'a [(std::borrow::Cow<'static, str>, String)],
}
