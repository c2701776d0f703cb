//! Stage: read one request head under the limits and a deadline, leaving any bytes that
//! follow it (a body, a pipelined request) in the connection's buffer.

use crate::config::{ReadTimeout, RequestReadTimeout};
use crate::http::request::{self, HeadError, Parsed, Request};
use nix::sys::signalfd::SignalFd;
use std::io::{self, Read};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

pub struct Conn {
    pub stream: TcpStream,
    /// Bytes received but not consumed yet.
    pub buf: Vec<u8>,
}

pub enum Outcome {
    /// A complete head, and its length in bytes (for the access log).
    Request { req: Request, head_bytes: usize },
    /// The client closed, or sent nothing before the wait ended: close without a response.
    Idle,
    /// A precise error status, with what could be read of the request line for the log.
    Bad {
        status: u16,
        line: String,
        why: String,
    },
}

/// The clock a request head is read against.
pub struct HeadTimer {
    /// When the head's clock started: the accept for a connection's first request (the
    /// header phase includes the wait for the first byte, as in mod_reqtimeout); `None` for a
    /// keep-alive request, whose clock starts with its first byte.
    pub started: Option<std::time::Instant>,
    /// How long to wait for the first byte (Timeout, or KeepAliveTimeout between requests).
    pub first_wait: Duration,
    /// `Timeout`: the head never takes longer than this from its start.
    pub timeout: Duration,
    /// `RequestReadTimeout header=...`: tightens that as the received bytes allow.
    pub rate: Option<ReadTimeout>,
}

impl HeadTimer {
    fn deadline(&self, start: Instant, received: usize) -> Instant {
        start + RequestReadTimeout::allowed(self.rate, self.timeout, received as u64)
    }
}

/// Reads one request head. `reclaim`, while the head is incomplete, is the master's request
/// to give the slot back (every child is busy): bytes already readable still win, so a head
/// that has arrived is always served.
pub fn next(
    conn: &mut Conn,
    limits: &request::Limits,
    timer: &HeadTimer,
    reclaim: Option<&SignalFd>,
) -> Outcome {
    let mut start = timer
        .started
        .or_else(|| (!conn.buf.is_empty()).then(Instant::now));
    let first_deadline = Instant::now() + timer.first_wait;
    // One page: a child's heap and stack pages are copy-on-write from the master, and a 16 KiB
    // zeroed buffer cost four page faults per connection for heads that are nearly always
    // under 1 KiB. Longer heads take a few more reads.
    let mut chunk = [0u8; 4 * 1024];
    loop {
        if !conn.buf.is_empty() {
            match request::parse_head(&conn.buf, limits) {
                Ok(Parsed::Complete(req, used)) => {
                    conn.buf.drain(..used);
                    return Outcome::Request {
                        req,
                        head_bytes: used,
                    };
                }
                Ok(Parsed::Partial) => {}
                Err(e) => return bad(&conn.buf, &e),
            }
        }
        let mut until = start.map_or(first_deadline, |s| timer.deadline(s, conn.buf.len()));
        if conn.buf.is_empty() {
            until = until.min(first_deadline);
        }
        let now = Instant::now();
        if now >= until {
            return timed_out(&conn.buf);
        }
        match wait_readable(&conn.stream, reclaim, until - now) {
            Ready::Data => {}
            Ready::Reclaimed => return reclaimed(&conn.buf),
            Ready::Nothing => continue,
        }
        let max = (limits.max_head() + 1)
            .saturating_sub(conn.buf.len())
            .clamp(1, chunk.len());
        let buf = chunk.get_mut(..max).unwrap_or_default();
        // poll said readable, so this recv does not wait; should it find nothing after all,
        // the read blocks, bounded by the deadline.
        let got = match recv_now(&conn.stream, buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                match conn.stream.set_read_timeout(Some(until - now)) {
                    Ok(()) => conn.stream.read(buf),
                    Err(_) => return Outcome::Idle,
                }
            }
            other => other,
        };
        match got {
            Ok(0) if conn.buf.is_empty() => return Outcome::Idle,
            Ok(0) => {
                return Outcome::Bad {
                    status: 400,
                    line: first_line(&conn.buf),
                    why: "connection closed mid-head".into(),
                }
            }
            Ok(n) => {
                conn.buf
                    .extend_from_slice(chunk.get(..n).unwrap_or_default());
                start.get_or_insert_with(Instant::now);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return timed_out(&conn.buf)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Outcome::Idle,
        }
    }
}

/// One recv(2) that never blocks (MSG_DONTWAIT): the socket itself stays blocking for the
/// handlers, and no per-read timeout has to be set first (one system call less per read).
fn recv_now(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    use nix::sys::socket::{recv, MsgFlags};
    use std::os::fd::AsRawFd;
    recv(stream.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT).map_err(io::Error::from)
}

enum Ready {
    /// The stream has bytes, EOF or an error to read.
    Data,
    /// Nothing to read, and the master asked for the slot.
    Reclaimed,
    /// The wait ended (or was interrupted) with neither.
    Nothing,
}

fn wait_readable(stream: &TcpStream, reclaim: Option<&SignalFd>, wait: Duration) -> Ready {
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    let ms = u16::try_from(wait.as_millis().saturating_add(1)).unwrap_or(u16::MAX);
    let mut fds = vec![PollFd::new(stream.as_fd(), PollFlags::POLLIN)];
    fds.extend(reclaim.map(|r| PollFd::new(r.as_fd(), PollFlags::POLLIN)));
    match nix::poll::poll(&mut fds, PollTimeout::from(ms)) {
        Ok(0) => Ready::Nothing,
        Ok(_) if fds.first().and_then(|f| f.any()).unwrap_or(true) => Ready::Data,
        Ok(_) => Ready::Reclaimed,
        Err(nix::errno::Errno::EINTR) => Ready::Nothing,
        // Let the read report what is wrong with the socket.
        Err(_) => Ready::Data,
    }
}

fn reclaimed(buf: &[u8]) -> Outcome {
    gave_up(
        buf,
        "request head incomplete when the master reclaimed the slot (every child busy)",
    )
}

fn timed_out(buf: &[u8]) -> Outcome {
    gave_up(buf, "request head not received within Timeout")
}

/// A connection that sent nothing just ends; a partial head gets 408.
fn gave_up(buf: &[u8], why: &str) -> Outcome {
    if buf.is_empty() {
        Outcome::Idle
    } else {
        Outcome::Bad {
            status: 408,
            line: first_line(buf),
            why: why.into(),
        }
    }
}

fn bad(buf: &[u8], e: &HeadError) -> Outcome {
    Outcome::Bad {
        status: e.status(),
        line: first_line(buf),
        why: e.to_string(),
    }
}

/// What the client sent as its request line, bounded, for the access log.
pub fn first_line(buf: &[u8]) -> String {
    let end = buf
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .unwrap_or(buf.len())
        .min(256);
    String::from_utf8_lossy(buf.get(..end).unwrap_or_default()).into_owned()
}
