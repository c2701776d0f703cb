//! The response side of a CGI-style exchange, shared by the CGI handler and the FastCGI
//! client: the program's (or application's) output is fed in as it arrives; its header block
//! is parsed ([`super::header`]), a local redirect is recognised, a length-less body is held
//! briefly to find its length ([`HOLD_MAX`], [`HOLD_WINDOW`]), and the body is framed for the
//! client (Content-Length, chunked, or until close). Moved here from `cgi/mod.rs` unchanged
//! so both gateways answer alike; what differs (a process or a socket) stays with each.

use super::filter::{Filters, Gz};
use super::header;
use super::Outcome;
use crate::config::deflate::Decision;
use crate::http::read::Conn;
use crate::http::response::{self, Response};
use crate::http::{date, status};
use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

/// Most body bytes held to find a length-less output's end (then it streams).
pub(crate) const HOLD_MAX: usize = 64 * 1024;
/// Longest a length-less output is held after its header block (then it streams).
pub(crate) const HOLD_WINDOW: Duration = Duration::from_millis(500);
/// Longest stderr line logged as one line; longer ones are split.
const STDERR_LINE: usize = 4096;

pub(crate) fn send_error(conn: &mut Conn, resp: Response) -> Outcome {
    let status = resp.status;
    let sent = response::write(&mut conn.stream, resp, false, false);
    Outcome {
        status,
        body_bytes: sent.map(|s| s.body_bytes).unwrap_or(0),
        keep_alive: false,
        local_redirect: None,
    }
}

/// How the response body is framed once the head is out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// HEAD, 204, 304: nothing after the head.
    NoBody,
    Length {
        left: u64,
    },
    Chunked,
    /// A chunked body whose last chunk was sent when the output ended.
    Ended,
    /// Until the connection closes.
    Close,
}

struct SentHead {
    status: u16,
    framing: Framing,
    body_bytes: u64,
    local_redirect: Option<String>,
    /// The body could not be delivered as framed (client gone, short or long output).
    broken: bool,
    /// mod_deflate compresses the body as it streams (framed chunked or until close).
    gz: Option<Gz>,
}

/// A length-less output on hold until it ends or outgrows [`HOLD_MAX`] or [`HOLD_WINDOW`].
struct Held {
    head: header::CgiHead,
    /// The body so far (kept empty for HEAD, whose body is only counted).
    body: Vec<u8>,
    len: u64,
    until: Instant,
}

/// Why the exchange loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The program's output ended (or a local redirect was read).
    Output,
    TimedOut,
    /// The client went away, or sending failed.
    ClientGone,
    /// Its header block was malformed (already logged).
    BadHeader,
    /// The request body could not be read (already logged); status to send.
    Body(u16),
    /// A gateway's backend failed (malformed records, closed early; already logged): this
    /// status when nothing was sent yet.
    Gateway(u16),
}

/// The response being produced from a program's output.
pub(crate) struct Output {
    tag: String,
    head_buf: Vec<u8>,
    /// A parsed head without Content-Length and the output after it, not yet sent.
    held: Option<Held>,
    sent: Option<SentHead>,
    head_only: bool,
    chunked_ok: bool,
    /// Keep-alive is still possible (cleared when the head announced close).
    may_keep_alive: bool,
    /// An `nph-` program: its output is the complete HTTP response.
    nph: bool,
    /// mod_expires and mod_deflate for this request (None: neither applies).
    filters: Option<Filters>,
    /// `Header` rules of the program's scope (see `config::header`).
    rules: Vec<crate::config::header::HeaderRule>,
    /// `AddDefaultCharset` of the program's scope, when On: the charset a text/plain or
    /// text/html answer without one gets (as Apache's ap_make_content_type).
    default_charset: Option<String>,
    /// Run as an `ErrorDocument`: the status of the answer it stands in for, sent when the
    /// program names none (as Apache).
    error_status: Option<u16>,
}

/// How a gateway's failures are answered when nothing was sent yet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failures {
    /// A malformed header block (CGI: 500; a proxy: 502).
    pub bad_header: u16,
    /// The output ended before its header block (CGI: 500; a proxy: 502).
    pub no_head: u16,
}

impl Output {
    /// `head_only`: a HEAD request; `chunked_ok`: HTTP/1.1 and keep-alive possible.
    pub(crate) fn new(
        tag: String,
        head_only: bool,
        chunked_ok: bool,
        may_keep_alive: bool,
        nph: bool,
    ) -> Self {
        Output {
            tag,
            head_buf: Vec::new(),
            held: None,
            sent: None,
            head_only,
            chunked_ok,
            may_keep_alive,
            nph,
            rules: Vec::new(),
            filters: None,
            default_charset: None,
            error_status: None,
        }
    }

    /// The original status when the program runs as an `ErrorDocument`.
    pub(crate) fn error_status(mut self, status: Option<u16>) -> Self {
        self.error_status = status;
        self
    }

    /// `AddDefaultCharset` of the program's scope.
    pub(crate) fn default_charset(mut self, d: Option<&crate::http::mime::DefaultCharset>) -> Self {
        self.default_charset = match d {
            Some(crate::http::mime::DefaultCharset::On(c)) => Some(c.clone()),
            Some(crate::http::mime::DefaultCharset::Off) | None => None,
        };
        self
    }

    /// The `Header` rules that act on this answer (onsuccess and always) and on the error
    /// pages sent instead of it (always).
    pub(crate) fn header_rules(mut self, rules: Vec<crate::config::header::HeaderRule>) -> Self {
        self.rules = rules;
        self
    }

    /// mod_expires and mod_deflate as the request's scope sets them (`filter`).
    pub(crate) fn filters(mut self, f: Filters) -> Self {
        self.filters = Some(f);
        self
    }

    /// The response head has gone out (or a local redirect was read).
    pub(crate) fn started(&self) -> bool {
        self.sent.is_some()
    }

    /// When held output must be released, if any is held.
    pub(crate) fn hold_until(&self) -> Option<Instant> {
        self.held.as_ref().map(|h| h.until)
    }

    /// Sends what is held once its window has passed. `Some` when the exchange must stop.
    pub(crate) fn due(&mut self, conn: &mut Conn, now: Instant, body_done: bool) -> Option<End> {
        if self.held.as_ref().is_some_and(|h| now >= h.until) {
            return self.release(conn, body_done);
        }
        None
    }

    /// Output bytes that arrived. `Some` when the exchange must stop.
    pub(crate) fn data(&mut self, conn: &mut Conn, data: &[u8], body_done: bool) -> Option<End> {
        if data.is_empty() {
            return None;
        }
        if self.sent.is_none() && self.nph {
            // A non-parsed-header program writes the whole response itself; the server only
            // relays it and closes afterwards.
            self.may_keep_alive = false;
            self.sent = Some(SentHead {
                status: nph_status(data),
                framing: Framing::Close,
                body_bytes: 0,
                local_redirect: None,
                broken: false,
                gz: None,
            });
        }
        if self.held.is_some() {
            return self.hold(conn, data, body_done);
        }
        if self.sent.is_none() {
            self.head_buf.extend_from_slice(data);
            return self.parse_head(conn, false, body_done);
        }
        self.send_body(conn, data)
    }

    /// The output ended.
    pub(crate) fn eof(&mut self, conn: &mut Conn, body_done: bool) -> End {
        if self.held.is_some() {
            return self.complete_held(conn, body_done).unwrap_or(End::Output);
        }
        if self.sent.is_none() {
            return self
                .parse_head(conn, true, body_done)
                .unwrap_or(End::Output);
        }
        End::Output
    }

    /// The output has ended, so the response is complete: a chunked body gets its last chunk
    /// now (before anything slow the caller still has to do).
    pub(crate) fn end_chunked(&mut self, conn: &mut Conn) {
        self.end_gzip(conn);
        if let Some(s) = self.sent.as_mut() {
            if s.local_redirect.is_none() && s.framing == Framing::Chunked {
                s.broken |= conn.stream.write_all(b"0\r\n\r\n").is_err();
                s.framing = Framing::Ended;
            }
        }
    }

    /// The response's end: what `end` means for the client, given that the request body was
    /// read whole (`complete`). A timeout is logged by the caller, which knows what it waited for.
    pub(crate) fn conclude(
        mut self,
        conn: &mut Conn,
        end: End,
        complete: bool,
        fail: Failures,
    ) -> Outcome {
        if end == End::Output {
            self.end_chunked(conn);
        }
        let may_keep_alive = self.may_keep_alive;
        match (end, self.sent.take()) {
            (End::TimedOut, None) => send_error(conn, Response::error(504).with_rules(&self.rules)),
            (End::BadHeader, _) => send_error(
                conn,
                Response::error(fail.bad_header).with_rules(&self.rules),
            ),
            (End::Body(status) | End::Gateway(status), None) => {
                send_error(conn, Response::error(status).with_rules(&self.rules))
            }
            (End::TimedOut | End::Body(_) | End::Gateway(_) | End::ClientGone, Some(s)) => gone(s),
            (End::ClientGone, None) => Outcome {
                status: 0,
                body_bytes: 0,
                keep_alive: false,
                local_redirect: None,
            },
            (End::Output, None) => {
                log::error!("{}: output ended before its header block", self.tag);
                send_error(conn, Response::error(fail.no_head).with_rules(&self.rules))
            }
            (End::Output, Some(mut s)) => {
                if s.local_redirect.is_some() {
                    return Outcome {
                        status: 0,
                        body_bytes: 0,
                        keep_alive: complete && may_keep_alive,
                        local_redirect: s.local_redirect,
                    };
                }
                let framed_ok = match s.framing {
                    Framing::Chunked => conn.stream.write_all(b"0\r\n\r\n").is_ok(),
                    Framing::Length { left: 0 } | Framing::NoBody | Framing::Ended => true,
                    Framing::Length { left } => {
                        log::error!(
                            "{}: output {left} bytes shorter than its Content-Length; closing",
                            self.tag
                        );
                        false
                    }
                    Framing::Close => false,
                };
                s.broken |= !framed_ok;
                Outcome {
                    status: s.status,
                    body_bytes: s.body_bytes,
                    keep_alive: complete && may_keep_alive && !s.broken,
                    local_redirect: None,
                }
            }
        }
    }

    fn parse_head(&mut self, conn: &mut Conn, eof: bool, body_done: bool) -> Option<End> {
        let (head, used) = match header::parse(&self.head_buf, eof) {
            Ok(header::Parsed::Partial) => return None,
            Ok(header::Parsed::Complete(h, used)) => (h, used),
            Err(e) => {
                log::error!("{}: malformed header from script: {e}", self.tag);
                return Some(End::BadHeader);
            }
        };
        if let Some(path) = head.local_redirect {
            self.sent = Some(SentHead {
                status: 0,
                framing: Framing::NoBody,
                body_bytes: 0,
                local_redirect: Some(path),
                broken: false,
                gz: None,
            });
            return Some(End::Output);
        }
        let rest = self.head_buf.split_off(used);
        self.head_buf = Vec::new();
        let bodyless = head.status == 204 || head.status == 304;
        if head.content_length.is_none() && !bodyless {
            self.held = Some(Held {
                head,
                body: Vec::new(),
                len: 0,
                until: Instant::now() + HOLD_WINDOW,
            });
            if let Some(end) = self.hold(conn, &rest, body_done) {
                return Some(end);
            }
            return if eof {
                self.complete_held(conn, body_done)
            } else {
                None
            };
        }
        let mut head = self.shaped(&head);
        let declared = head.content_length;
        let gz = self.deflate(&mut head, if bodyless { Some(0) } else { declared });
        let framing = if self.head_only || bodyless {
            Framing::NoBody
        } else if gz.is_some() {
            self.streamed_framing()
        } else if let Some(n) = declared {
            Framing::Length { left: n }
        } else {
            self.streamed_framing()
        };
        let gz = gz.filter(|_| framing != Framing::NoBody);
        if let Some(end) = self.send_head_with(conn, &head, framing, body_done, &[], gz) {
            return Some(end);
        }
        if rest.is_empty() {
            None
        } else {
            self.send_body(conn, &rest)
        }
    }

    /// Framing of a body whose length is not known when its head goes out.
    fn streamed_framing(&self) -> Framing {
        if self.head_only {
            Framing::NoBody
        } else if self.chunked_ok {
            Framing::Chunked
        } else {
            Framing::Close
        }
    }

    /// The program's head as the output filters leave it: the ErrorDocument's status, then
    /// mod_expires, the `Header` rules and the Content-Type's charset (Apache's filter order;
    /// mod_deflate's fields come after, in [`Self::deflate`]). An nph- head is not touched.
    fn shaped(&self, head: &header::CgiHead) -> header::CgiHead {
        let mut ruled = head.clone();
        if self.nph {
            return ruled;
        }
        if let (Some(s), 200) = (self.error_status, ruled.status) {
            ruled.status = s;
        }
        if let Some(f) = &self.filters {
            f.expires(&mut ruled, SystemTime::now());
        }
        crate::config::header::apply(&self.rules, &mut ruled.headers, true);
        content_type(&mut ruled.headers, self.default_charset.as_deref());
        ruled
    }

    /// mod_deflate on a shaped head whose body is `body_len` bytes (None: not known yet): its
    /// fields, and the compressor when the body is to be compressed as it streams.
    fn deflate(&self, head: &mut header::CgiHead, body_len: Option<u64>) -> Option<Gz> {
        let f = self.filters.as_ref().filter(|_| !self.nph)?;
        let decision = f.decide(head, body_len);
        let declared = head.content_length;
        Filters::shape(decision, head);
        (decision == Decision::Gzip).then(|| f.gz(declared))
    }

    /// Sends a shaped head, and `body` (the whole body of a `Length` framing) in the same
    /// write; `gz`: the body that follows is compressed as it streams.
    fn send_head_with(
        &mut self,
        conn: &mut Conn,
        head: &header::CgiHead,
        framing: Framing,
        body_done: bool,
        body: &[u8],
        gz: Option<Gz>,
    ) -> Option<End> {
        // Announce keep-alive only when it can still happen: a body still arriving, or one
        // the program did not read, ends the connection.
        let keep = self.may_keep_alive && framing != Framing::Close && body_done;
        if !keep {
            self.may_keep_alive = false;
        }
        let mut bytes = head_bytes(head, framing, keep);
        self.sent = Some(SentHead {
            status: head.status,
            framing,
            body_bytes: 0,
            local_redirect: None,
            broken: false,
            gz,
        });
        bytes.extend_from_slice(body);
        if let Err(e) = conn.stream.write_all(&bytes) {
            log::info!("{}: client gone: {e}", self.tag);
            return Some(End::ClientGone);
        }
        None
    }

    /// Adds output to the held body, or sends what is held and `data` once it would outgrow
    /// [`HOLD_MAX`].
    fn hold(&mut self, conn: &mut Conn, data: &[u8], body_done: bool) -> Option<End> {
        let held = self.held.as_mut()?;
        if held.len + data.len() as u64 > HOLD_MAX as u64 {
            if let Some(end) = self.release(conn, body_done) {
                return Some(end);
            }
            return self.send_body(conn, data);
        }
        held.len += data.len() as u64;
        if !self.head_only {
            // Grown by doubling up to HOLD_MAX, never past it: a small page does not allocate
            // (and free, which makes malloc consolidate its heap) 64 KiB per request.
            let need = held.body.len() + data.len();
            if need > held.body.capacity() {
                let want = need.max(held.body.capacity() * 2).clamp(8 * 1024, HOLD_MAX);
                held.body.reserve_exact(want - held.body.len());
            }
            held.body.extend_from_slice(data);
        }
        None
    }

    /// The held output will not end in time: its head and body so far go out as a stream.
    fn release(&mut self, conn: &mut Conn, body_done: bool) -> Option<End> {
        let held = self.held.take()?;
        let framing = self.streamed_framing();
        let mut head = self.shaped(&held.head);
        let gz = self
            .deflate(&mut head, None)
            .filter(|_| framing != Framing::NoBody);
        if let Some(end) = self.send_head_with(conn, &head, framing, body_done, &[], gz) {
            return Some(end);
        }
        if held.body.is_empty() {
            None
        } else {
            self.send_body(conn, &held.body)
        }
    }

    /// The held output is the whole body: it goes out framed by its length.
    fn complete_held(&mut self, conn: &mut Conn, body_done: bool) -> Option<End> {
        let Held {
            head,
            body: mut held,
            len,
            ..
        } = self.held.take()?;
        let mut head = self.shaped(&head);
        if self.head_only && len > 0 {
            head.content_length = Some(len);
        }
        // The whole body is here: compressed at once, it goes out with its length.
        if self.deflate(&mut head, Some(len)).is_some() && !self.head_only {
            match self.filters.as_ref().map(|f| f.gzip(&held)) {
                Some(Ok(z)) => held = z,
                _ => {
                    log::error!("{}: DEFLATE: cannot compress the output", self.tag);
                    return Some(End::BadHeader);
                }
            }
        }
        let len = held.len() as u64;
        let framing = if self.head_only {
            Framing::NoBody
        } else {
            Framing::Length { left: len }
        };
        // Head and body in one write: one segment to the client instead of two.
        let body: &[u8] = match framing {
            Framing::Length { left } if left == held.len() as u64 => &held,
            _ => &[],
        };
        if let Some(end) = self.send_head_with(conn, &head, framing, body_done, body, None) {
            return Some(end);
        }
        if let Some(s) = self.sent.as_mut() {
            s.body_bytes = body.len() as u64;
            if let Framing::Length { left } = s.framing {
                s.framing = Framing::Length {
                    left: left - body.len() as u64,
                };
            }
        }
        if held.is_empty() || !body.is_empty() {
            None
        } else {
            self.send_body(conn, &held)
        }
    }

    /// The output has ended: the compressed stream's rest and trailer go out. A program that
    /// wrote less than its own Content-Length leaves the body unfinished (no last chunk).
    fn end_gzip(&mut self, conn: &mut Conn) {
        let Some(s) = self.sent.as_mut() else { return };
        let Some(gz) = s.gz.take() else { return };
        if let Some(left @ 1..) = gz.declared_left {
            s.framing = Framing::Length { left };
            return;
        }
        let tail = match gz.finish() {
            Ok(t) => t,
            Err(e) => {
                log::error!("{}: DEFLATE: {e}", self.tag);
                s.broken = true;
                return;
            }
        };
        let _ = self.send_body(conn, &tail);
    }

    fn send_body(&mut self, conn: &mut Conn, data: &[u8]) -> Option<End> {
        let sent = self.sent.as_mut()?;
        let zipped;
        let data = match sent.gz.as_mut() {
            None => data,
            Some(gz) => {
                let take = match gz.declared_left.as_mut() {
                    Some(left) => {
                        let take = (data.len() as u64).min(*left);
                        *left -= take;
                        take as usize
                    }
                    None => data.len(),
                };
                if take < data.len() && !sent.broken {
                    log::error!(
                        "{}: output longer than its Content-Length; truncated",
                        self.tag
                    );
                    sent.broken = true;
                }
                match gz.push(&data[..take]) {
                    Ok(z) => zipped = z,
                    Err(e) => {
                        log::error!("{}: DEFLATE: {e}", self.tag);
                        sent.broken = true;
                        return Some(End::ClientGone);
                    }
                }
                &zipped[..]
            }
        };
        if data.is_empty() {
            // Nothing to frame (and an empty chunk would end a chunked body).
            return None;
        }
        let result = match sent.framing {
            Framing::NoBody | Framing::Ended => Ok(0),
            Framing::Close => conn.stream.write_all(data).map(|()| data.len()),
            Framing::Chunked => {
                let mut framed = format!("{:x}\r\n", data.len()).into_bytes();
                framed.extend_from_slice(data);
                framed.extend_from_slice(b"\r\n");
                conn.stream.write_all(&framed).map(|()| data.len())
            }
            Framing::Length { left } => {
                let take = (data.len() as u64).min(left) as usize;
                if take < data.len() && !sent.broken {
                    log::error!(
                        "{}: output longer than its Content-Length; truncated",
                        self.tag
                    );
                    sent.broken = true;
                }
                sent.framing = Framing::Length {
                    left: left - take as u64,
                };
                conn.stream.write_all(&data[..take]).map(|()| take)
            }
        };
        match result {
            Ok(n) => {
                sent.body_bytes += n as u64;
                None
            }
            Err(e) => {
                log::info!("{}: client gone: {e}", self.tag);
                sent.broken = true;
                Some(End::ClientGone)
            }
        }
    }
}

/// The status an nph- program's own status line claims, for the access log (0 if none).
/// The program's Content-Type (the first one) as Apache sends it: the media type before any
/// `;` lower-cased (mod_cgi's ap_content_type_tolower), then `AddDefaultCharset`.
fn content_type(fields: &mut crate::config::header::Fields, charset: Option<&str>) {
    let Some((_, v)) = (fields.iter_mut()).find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    else {
        return;
    };
    let end = v.iter().position(|&b| b == b';').unwrap_or(v.len());
    v[..end].make_ascii_lowercase();
    let (Some(cs), Ok(ty)) = (charset, std::str::from_utf8(v)) else {
        return;
    };
    if let Some(t) = crate::http::mime::default_charset_for(ty, cs) {
        *v = t.into_bytes();
    }
}

fn nph_status(first: &[u8]) -> u16 {
    let line = first.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut words = line.split(|&b| b == b' ');
    match (words.next(), words.next()) {
        (Some(v), Some(code)) if v.starts_with(b"HTTP/1.") && code.len() == 3 => {
            std::str::from_utf8(code)
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0)
        }
        _ => 0,
    }
}

fn gone(s: SentHead) -> Outcome {
    Outcome {
        status: s.status,
        body_bytes: s.body_bytes,
        keep_alive: false,
        local_redirect: None,
    }
}

/// Status line, the server's own fields, the script's fields, framing and Connection.
fn head_bytes(head: &header::CgiHead, framing: Framing, keep_alive: bool) -> Vec<u8> {
    let mut h = format!(
        "HTTP/1.1 {} {}\r\nDate: {}\r\nServer: oneshot-httpd\r\n",
        head.status,
        status::reason(head.status),
        date::http_date(SystemTime::now())
    )
    .into_bytes();
    for (k, v) in &head.headers {
        h.extend_from_slice(k.as_bytes());
        h.extend_from_slice(b": ");
        h.extend_from_slice(v);
        h.extend_from_slice(b"\r\n");
    }
    match framing {
        Framing::Length { left } => {
            h.extend_from_slice(format!("Content-Length: {left}\r\n").as_bytes())
        }
        Framing::Chunked => h.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        Framing::NoBody => {
            if let Some(n) = head.content_length {
                h.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes());
            }
        }
        // A head is written before any body, so never with Ended.
        Framing::Close | Framing::Ended => {}
    }
    h.extend_from_slice(if keep_alive {
        b"Connection: keep-alive\r\n\r\n"
    } else {
        b"Connection: close\r\n\r\n"
    });
    h
}

/// A program's stderr as error-log lines (at most [`STDERR_LINE`] bytes each).
pub(crate) struct LineLog {
    prefix: String,
    line: Vec<u8>,
}

impl LineLog {
    pub(crate) fn new(prefix: String) -> Self {
        LineLog {
            prefix,
            line: Vec::new(),
        }
    }

    pub(crate) fn feed(&mut self, data: &[u8]) {
        for &b in data {
            if b == b'\n' || self.line.len() >= STDERR_LINE {
                self.flush();
            }
            if b != b'\n' {
                self.line.push(b);
            }
        }
    }

    pub(crate) fn flush(&mut self) {
        if self.line.is_empty() {
            return;
        }
        let line = String::from_utf8_lossy(&self.line)
            .escape_debug()
            .to_string();
        log::warn!("{}: stderr: {line}", self.prefix);
        self.line.clear();
    }
}
