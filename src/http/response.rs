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
    use std::fmt::Write as _;
    let mut h = String::with_capacity(256);
    // Writing to a String cannot fail.
    let _ = write!(
        h,
        "HTTP/1.1 {} {}\r\nDate: {}\r\nServer: oneshot-httpd\r\n",
        resp.status,
        status::reason(resp.status),
        date::http_date(SystemTime::now())
    );
    for (k, v) in &resp.headers {
        let _ = write!(h, "{k}: {v}\r\n");
    }
    // 304 carries no body and no length of its own (RFC 9110 §15.4.5).
    if resp.status != 304 {
        let _ = write!(h, "Content-Length: {}\r\n", resp.body.len());
    }
    h.push_str(if keep_alive {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    h.into_bytes()
}

/// A file body up to this size goes out in the head's write, read into memory (as Apache does
/// with `EnableSendfile Off`, its default): one write and one TCP push per response instead
/// of a send and a sendfile, for the small files that make most of a site. Larger ones are
/// sent with sendfile(2), the head corked onto their first segment.
pub const INLINE_FILE: u64 = 16 * 1024;

pub fn write(
    stream: &mut TcpStream,
    resp: Response,
    head_only: bool,
    keep_alive: bool,
) -> io::Result<Sent> {
    let status = resp.status;
    let mut out = head(&resp, keep_alive);
    let head_bytes = out.len() as u64;
    let body_bytes = match resp.body {
        _ if head_only || status == 304 => {
            stream.write_all(&out)?;
            0
        }
        Body::Empty => {
            stream.write_all(&out)?;
            0
        }
        Body::Bytes(b) => {
            out.extend_from_slice(&b);
            stream.write_all(&out)?;
            b.len() as u64
        }
        Body::File { file, offset, len } if len <= INLINE_FILE => {
            read_range(&file, offset, len, &mut out)?;
            stream.write_all(&out)?;
            len
        }
        Body::File { file, offset, len } => {
            send_corked(stream, &out)?;
            send_file(stream, &file, offset, len)?
        }
    };
    Ok(Sent {
        status,
        body_bytes,
        head_bytes,
    })
}

/// Appends bytes `offset..offset+len` of `file` to `out`; a file that ends before that is an
/// error (it shrank after its length was put in the head).
fn read_range(file: &File, offset: u64, len: u64, out: &mut Vec<u8>) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let start = out.len();
    let len = usize::try_from(len).map_err(io::Error::other)?;
    out.resize(start + len, 0);
    file.read_exact_at(out.get_mut(start..).unwrap_or_default(), offset)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while being sent")
            } else {
                e
            }
        })
}

/// Sends the head with MSG_MORE, so the kernel holds it for the body's first segment; the
/// sendfile that follows ends without it and pushes both.
fn send_corked(stream: &TcpStream, mut head: &[u8]) -> io::Result<()> {
    let sock = socket2::SockRef::from(stream);
    while !head.is_empty() {
        match sock.send_with_flags(head, libc::MSG_MORE | libc::MSG_NOSIGNAL) {
            Ok(n) => head = head.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
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
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    while Instant::now() < deadline && total < 256 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of `n` bytes whose every byte differs from its neighbours', on disk.
    fn sample_file(n: usize) -> (File, Vec<u8>) {
        let bytes: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
        let mut f = unlinked_temp_file();
        f.write_all(&bytes).unwrap();
        (f, bytes)
    }

    fn unlinked_temp_file() -> File {
        let dir = std::env::temp_dir();
        let path = dir.join(format!(
            "oneshot-response-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        f
    }

    /// What a client receives for `resp`, and what `write` returned.
    fn over_tcp(resp: Response) -> (Vec<u8>, io::Result<Sent>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut server, _) = l.accept().unwrap();
        let reader = std::thread::spawn(move || {
            let mut client = client;
            let mut got = Vec::new();
            client.read_to_end(&mut got).unwrap();
            got
        });
        let sent = write(&mut server, resp, false, false);
        drop(server);
        (reader.join().unwrap(), sent)
    }

    #[test]
    fn file_bodies_arrive_whole_inline_and_by_sendfile() {
        // Below, at and above INLINE_FILE, from offset 0 and from inside the file (a range).
        let n = INLINE_FILE as usize;
        for (size, offset, len) in [
            (1024, 0, 1024),
            (n, 0, n),
            (n + 1, 0, n + 1),
            (3 * n, 100, 2 * n),
            (3 * n, 5, 10),
        ] {
            let (file, bytes) = sample_file(size);
            let resp = Response::new(200).body(Body::File {
                file,
                offset: offset as u64,
                len: len as u64,
            });
            let (got, sent) = over_tcp(resp);
            let sent = sent.unwrap();
            let split = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            assert_eq!(sent.head_bytes as usize, split, "size {size}");
            assert_eq!(sent.body_bytes as usize, len);
            assert!(String::from_utf8_lossy(&got[..split])
                .contains(&format!("Content-Length: {len}\r\n")));
            assert!(
                got[split..] == bytes[offset..offset + len],
                "size {size} offset {offset} len {len}"
            );
        }
    }

    #[test]
    fn a_file_shorter_than_its_announced_length_is_an_error_on_both_paths() {
        for len in [1000u64, INLINE_FILE + 1000] {
            let (file, _) = sample_file(500);
            let (got, sent) = over_tcp(Response::new(200).body(Body::File {
                file,
                offset: 0,
                len,
            }));
            let err = sent.err().expect("an error");
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
            // Never more body bytes than the file had.
            let split = got
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(0, |p| p + 4);
            assert!(got.len() - split <= 500);
        }
    }

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
