//! Stage: the request body, after confinement. ONE reader for every request: Content-Length
//! and chunked framing (through [`ChunkedDecoder`]), LimitRequestBody (413), malformed
//! chunked framing (400), and `Expect: 100-continue`, answered only by a handler that actually
//! wants the body — so a refused request (401/403/413) never invites the client to send it.
//!
//! Invariants:
//! - Never consumes a byte past the end of the body: what follows (a pipelined request) stays
//!   in `Conn::buf`.
//! - Each call reads the socket at most once, so a caller that polled the socket for
//!   readability never blocks here.
//! - The body phase has a deadline (`RequestReadTimeout body=`, within `Timeout`) counted
//!   from the first time a handler asks for the body and extended by MinRate for what has
//!   arrived, so a client trickling a body loses its slot as one trickling a head does.

use super::read::Conn;
use crate::config::{Config, ReadTimeout, RequestReadTimeout};
use crate::http::chunked::{ChunkError, ChunkedDecoder};
use crate::http::request::{Body, Request};
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// Largest body the static handlers read and drop to keep a keep-alive connection in step;
/// anything longer ends the connection after the response instead.
pub const DISCARD_BUDGET: u64 = 64 * 1024;
/// Most bytes read from the socket per call.
const READ_CHUNK: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body of {declared} bytes exceeds LimitRequestBody ({limit} bytes)")]
    TooLarge { declared: u64, limit: u64 },
    #[error("malformed chunked request body: {0}")]
    Chunked(ChunkError),
    #[error("client closed the connection after {got} body bytes")]
    Truncated { got: u64 },
    #[error(
        "request body too slow: {got} bytes within {allowed:?} (RequestReadTimeout body=, Timeout)"
    )]
    Timeout { got: u64, allowed: Duration },
    #[error("reading the request body: {0}")]
    Io(io::Error),
}

impl BodyError {
    /// The answer when nothing was sent yet.
    pub fn status(&self) -> u16 {
        match self {
            BodyError::TooLarge { .. } => 413,
            BodyError::Chunked(e) => e.status(),
            BodyError::Timeout { .. } => 408,
            BodyError::Truncated { .. } | BodyError::Io(_) => 400,
        }
    }
}

enum Framing {
    Length { left: u64 },
    Chunked(Box<ChunkedDecoder>),
}

/// How long the body phase may take: `RequestReadTimeout body=`, never beyond `Timeout`.
#[derive(Debug, Clone, Copy)]
pub struct BodyPace {
    pub rule: Option<ReadTimeout>,
    pub timeout: Duration,
}

impl BodyPace {
    pub fn of(cfg: &Config) -> BodyPace {
        BodyPace {
            rule: cfg.request_read_timeout.body,
            timeout: cfg.timeout,
        }
    }
}

pub struct BodyReader {
    framing: Framing,
    pace: BodyPace,
    /// When a handler first asked for the body: the start of the body phase.
    started: Option<Instant>,
    done: bool,
    /// Decoded bytes handed out so far.
    got: u64,
    /// The client asked for `100 Continue` and has not had it.
    continue_pending: bool,
}

/// What became of a body that no handler wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFate {
    /// No body, or a small one read and dropped: the connection is still in step.
    Clean,
    /// Unread bytes remain: answer, then close.
    CloseAfter,
    /// Answer with this status instead, then close.
    Reject(u16),
}

impl BodyReader {
    /// A declared length over `limit` (LimitRequestBody, 0 = none) is refused before a byte
    /// is read; a chunked body is checked as it arrives.
    pub fn new(req: &Request, limit: u64, pace: BodyPace) -> Result<BodyReader, BodyError> {
        let (framing, done) = match req.body {
            Body::None => (Framing::Length { left: 0 }, true),
            Body::Length(n) if limit > 0 && n > limit => {
                return Err(BodyError::TooLarge { declared: n, limit })
            }
            Body::Length(n) => (Framing::Length { left: n }, n == 0),
            Body::Chunked => (
                Framing::Chunked(Box::new(ChunkedDecoder::new(limit))),
                false,
            ),
        };
        Ok(BodyReader {
            framing,
            pace,
            started: None,
            done,
            got: 0,
            continue_pending: req.expect_continue && req.minor_version >= 1 && !done,
        })
    }

    /// The whole body has been read (or there was none).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Decoded bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.got
    }

    /// When the body phase must be over given what has arrived; `None` before it started or
    /// once the body is complete.
    pub fn deadline(&self) -> Option<Instant> {
        let started = self.started.filter(|_| !self.done)?;
        let allowed = RequestReadTimeout::allowed(self.pace.rule, self.pace.timeout, self.got);
        Some(started + allowed)
    }

    fn check_pace(&mut self) -> Result<(), BodyError> {
        let now = Instant::now();
        let started = *self.started.get_or_insert(now);
        match self.deadline() {
            Some(d) if now >= d => Err(BodyError::Timeout {
                got: self.got,
                allowed: d - started,
            }),
            _ => Ok(()),
        }
    }

    /// Called by a handler that will read the body: sends `100 Continue` if the client waits
    /// for it.
    pub fn want(&mut self, conn: &mut Conn) -> io::Result<()> {
        self.started.get_or_insert_with(Instant::now);
        if self.continue_pending {
            self.continue_pending = false;
            conn.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        Ok(())
    }

    /// Appends at most `max` decoded bytes to `out`, from what is buffered or else from one
    /// read of the socket (under the socket's read timeout). May append nothing when only
    /// chunk framing arrived.
    pub fn read_some(
        &mut self,
        conn: &mut Conn,
        out: &mut Vec<u8>,
        max: usize,
    ) -> Result<(), BodyError> {
        if self.done || max == 0 {
            return Ok(());
        }
        self.check_pace()?;
        if conn.buf.is_empty() {
            let mut chunk = [0u8; READ_CHUNK];
            let want = match self.framing {
                Framing::Length { left } => (left.min(READ_CHUNK as u64)) as usize,
                Framing::Chunked(_) => READ_CHUNK,
            };
            match conn.stream.read(chunk.get_mut(..want).unwrap_or_default()) {
                Ok(0) => return Err(BodyError::Truncated { got: self.got }),
                Ok(n) => conn
                    .buf
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    self.check_pace()?;
                    return Err(BodyError::Timeout {
                        got: self.got,
                        allowed: self.pace.timeout,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
                Err(e) => return Err(BodyError::Io(e)),
            }
        }
        let before = out.len();
        match &mut self.framing {
            Framing::Length { left } => {
                let n = conn.buf.len().min(max).min(*left as usize);
                out.extend_from_slice(conn.buf.get(..n).unwrap_or_default());
                conn.buf.drain(..n);
                *left -= n as u64;
                self.done = *left == 0;
            }
            Framing::Chunked(dec) => {
                // Decoded data is never longer than its encoding, so feeding at most `max`
                // input bytes bounds the output.
                let feed = conn.buf.len().min(max);
                let (used, done) = dec
                    .decode(conn.buf.get(..feed).unwrap_or_default(), out)
                    .map_err(BodyError::Chunked)?;
                conn.buf.drain(..used);
                self.done = done;
            }
        }
        self.got += (out.len() - before) as u64;
        Ok(())
    }

    /// For handlers that ignore the body (static files, refusals): a short body is read and
    /// dropped within the body phase's deadline so keep-alive stays in step, chunked framing
    /// is checked as far as it is read, and a client still waiting for `100 Continue` is not
    /// invited to send at all.
    pub fn discard(mut self, conn: &mut Conn) -> BodyFate {
        if self.done {
            return BodyFate::Clean;
        }
        if self.continue_pending {
            return BodyFate::CloseAfter;
        }
        if let Framing::Length { left } = self.framing {
            if left > DISCARD_BUDGET {
                return BodyFate::CloseAfter;
            }
        }
        let mut sink = Vec::new();
        // Each round takes at most READ_CHUNK bytes off the wire, so this bounds the wire
        // bytes, chunk framing included.
        let mut rounds = DISCARD_BUDGET / READ_CHUNK as u64 + 1;
        self.started.get_or_insert_with(Instant::now);
        while !self.done {
            sink.clear();
            let left = self.deadline().map_or(self.pace.timeout, |d| {
                d.saturating_duration_since(Instant::now())
            });
            if left.is_zero() || conn.stream.set_read_timeout(Some(left)).is_err() {
                return BodyFate::CloseAfter;
            }
            match self.read_some(conn, &mut sink, READ_CHUNK) {
                Ok(()) => {}
                Err(e @ BodyError::Chunked(_)) => {
                    log::info!("{e}");
                    return BodyFate::Reject(e.status());
                }
                Err(e) => {
                    log::debug!("discarding the request body: {e}");
                    return BodyFate::CloseAfter;
                }
            }
            rounds -= 1;
            if !self.done && rounds == 0 {
                return BodyFate::CloseAfter;
            }
        }
        BodyFate::Clean
    }
}

/// [`BodyReader::discard`] for a request whose reader could not even be made (over limit).
pub fn discard(conn: &mut Conn, req: &Request, limit: u64, pace: BodyPace) -> BodyFate {
    match BodyReader::new(req, limit, pace) {
        Ok(r) => r.discard(conn),
        Err(e) => BodyFate::Reject(e.status()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{parse_head, Limits, Parsed};
    use std::net::{TcpListener, TcpStream};

    const PACE: BodyPace = BodyPace {
        rule: None,
        timeout: Duration::from_secs(5),
    };

    #[test]
    fn a_trickled_body_is_408_at_the_body_deadline_not_at_timeout() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        // The client stays connected but sends 3 of 10 bytes.
        c.write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
            .unwrap();
        let mut conn = Conn {
            stream: s,
            buf: Vec::new(),
        };
        let req = loop {
            let mut b = [0u8; 256];
            let n = conn.stream.read(&mut b).unwrap();
            conn.buf.extend_from_slice(&b[..n]);
            if let Ok(Parsed::Complete(req, used)) = parse_head(&conn.buf, &Limits::default()) {
                conn.buf.drain(..used);
                break req;
            }
        };
        let pace = BodyPace {
            rule: Some(ReadTimeout {
                initial: Duration::from_secs(1),
                max: None,
                min_rate: None,
            }),
            timeout: Duration::from_secs(30),
        };
        let mut r = BodyReader::new(&req, 0, pace).unwrap();
        r.want(&mut conn).unwrap();
        conn.stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut out = Vec::new();
        let err = loop {
            match r.read_some(&mut conn, &mut out, 64) {
                Ok(()) => continue,
                Err(BodyError::Timeout { allowed, .. }) if allowed == pace.timeout => continue,
                Err(e) => break e,
            }
        };
        assert_eq!(out, b"abc");
        assert!(
            matches!(err, BodyError::Timeout { got: 3, allowed } if allowed == Duration::from_secs(1)),
            "{err:?}"
        );
        assert_eq!(err.status(), 408);
        drop(c);
    }

    /// A connection whose peer already sent `wire` and closed its side.
    fn conn_with(wire: &[u8]) -> (Conn, Request) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        c.write_all(wire).unwrap();
        drop(c);
        let mut conn = Conn {
            stream: s,
            buf: Vec::new(),
        };
        conn.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut tmp = [0u8; 4096];
        loop {
            let n = conn.stream.read(&mut tmp).unwrap();
            conn.buf.extend_from_slice(&tmp[..n]);
            if let Ok(Parsed::Complete(req, used)) = parse_head(&conn.buf, &Limits::default()) {
                conn.buf.drain(..used);
                return (conn, req);
            }
            assert!(n > 0, "no complete head in {wire:?}");
        }
    }

    fn read_all(wire: &[u8], limit: u64) -> (Result<Vec<u8>, u16>, Vec<u8>) {
        let (mut conn, req) = conn_with(wire);
        let mut r = match BodyReader::new(&req, limit, PACE) {
            Ok(r) => r,
            Err(e) => return (Err(e.status()), conn.buf),
        };
        let mut out = Vec::new();
        while !r.is_done() {
            if let Err(e) = r.read_some(&mut conn, &mut out, 3) {
                return (Err(e.status()), conn.buf);
            }
        }
        assert_eq!(r.bytes_read(), out.len() as u64);
        (Ok(out), conn.buf)
    }

    #[test]
    fn framing_table() {
        let h = "POST / HTTP/1.1\r\nHost: a\r\n";
        type Row<'a> = (String, u64, Result<&'a [u8], u16>, &'a [u8]);
        let rows: &[Row] = &[
            (format!("{h}Content-Length: 5\r\n\r\nhelloGET"), 0, Ok(b"hello"), b"GET"),
            (format!("{h}Content-Length: 5\r\n\r\nhel"), 0, Err(400), b""),
            (format!("{h}Content-Length: 5\r\n\r\nhello"), 4, Err(413), b"hello"),
            (
                format!("{h}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: v\r\n\r\nNEXT"),
                0,
                Ok(b"abcde"),
                b"NEXT",
            ),
            (format!("{h}Transfer-Encoding: chunked\r\n\r\nz\r\n"), 0, Err(400), b"z\r\n"),
            (format!("{h}Transfer-Encoding: chunked\r\n\r\n10\r\n"), 8, Err(413), b"10\r\n"),
            (format!("{h}Transfer-Encoding: chunked\r\n\r\n3\r\nab"), 0, Err(400), b""),
            (format!("{h}\r\nGET"), 0, Ok(b""), b"GET"),
        ];
        for (wire, limit, want, rest) in rows {
            let (got, left) = read_all(wire.as_bytes(), *limit);
            assert_eq!(got, want.map(<[u8]>::to_vec), "{wire:?}");
            if got.is_ok() || *rest != b"" {
                assert_eq!(left, rest.to_vec(), "{wire:?}");
            }
        }
    }

    #[test]
    fn discard_table() {
        let h = "POST / HTTP/1.1\r\nHost: a\r\n";
        let rows: Vec<(String, u64, BodyFate)> = vec![
            (format!("{h}\r\n"), 1000, BodyFate::Clean),
            (
                format!("{h}Content-Length: 3\r\n\r\nabc"),
                1000,
                BodyFate::Clean,
            ),
            (
                format!("{h}Content-Length: 3\r\n\r\nab"),
                1000,
                BodyFate::CloseAfter,
            ),
            (
                format!("{h}Content-Length: 3000\r\n\r\n"),
                1000,
                BodyFate::Reject(413),
            ),
            (
                format!("{h}Content-Length: {}\r\n\r\n", DISCARD_BUDGET + 1),
                0,
                BodyFate::CloseAfter,
            ),
            (
                format!(
                    "{h}Transfer-Encoding: chunked\r\n\r\n{}",
                    "1\r\na\r\n".repeat(12_000)
                ),
                0,
                BodyFate::CloseAfter,
            ),
            (
                format!("{h}Content-Length: 3\r\nExpect: 100-continue\r\n\r\n"),
                1000,
                BodyFate::CloseAfter,
            ),
            (
                format!("{h}Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n"),
                1000,
                BodyFate::Clean,
            ),
            (
                format!("{h}Transfer-Encoding: chunked\r\n\r\n1 \r\na\r\n0\r\n\r\n"),
                1000,
                BodyFate::Reject(400),
            ),
            (
                format!("{h}Transfer-Encoding: chunked\r\n\r\nfff\r\n"),
                1000,
                BodyFate::Reject(413),
            ),
        ];
        for (wire, limit, want) in rows {
            let (mut conn, req) = conn_with(wire.as_bytes());
            let got = discard(&mut conn, &req, limit, PACE);
            assert_eq!(got, want, "{wire:?}");
        }
    }
}
