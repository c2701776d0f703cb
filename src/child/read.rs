//! Stage: read one request head under the limits and a deadline, leaving any bytes that
//! follow it (a body, a pipelined request) in the connection's buffer.

use crate::http::request::{self, HeadError, Parsed, Request};
use std::io::{self, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub struct Conn {
    pub stream: TcpStream,
    /// Bytes received but not consumed yet.
    pub buf: Vec<u8>,
}

pub enum Outcome {
    Request(Request),
    /// The client closed, or sent nothing before the wait ended: close without a response.
    Idle,
    /// A precise error status, with what could be read of the request line for the log.
    Bad {
        status: u16,
        line: String,
        why: String,
    },
}

/// `first_wait` bounds the wait for the first byte (KeepAliveTimeout between requests,
/// Timeout for the first); once a byte has arrived the whole head must come within `timeout`.
pub fn next(
    conn: &mut Conn,
    limits: &request::Limits,
    first_wait: Duration,
    timeout: Duration,
) -> Outcome {
    let mut deadline = (!conn.buf.is_empty()).then(|| Instant::now() + timeout);
    let first_deadline = Instant::now() + first_wait;
    // One page: a child's heap and stack pages are copy-on-write from the master, and a 16 KiB
    // zeroed buffer cost four page faults per connection for heads that are nearly always
    // under 1 KiB. Longer heads take a few more reads.
    let mut chunk = [0u8; 4 * 1024];
    loop {
        if !conn.buf.is_empty() {
            match request::parse_head(&conn.buf, limits) {
                Ok(Parsed::Complete(req, used)) => {
                    conn.buf.drain(..used);
                    return Outcome::Request(req);
                }
                Ok(Parsed::Partial) => {}
                Err(e) => return bad(&conn.buf, &e),
            }
        }
        let until = deadline.unwrap_or(first_deadline);
        let now = Instant::now();
        if now >= until {
            return timed_out(&conn.buf);
        }
        if conn.stream.set_read_timeout(Some(until - now)).is_err() {
            return Outcome::Idle;
        }
        let max = (limits.max_head() + 1)
            .saturating_sub(conn.buf.len())
            .clamp(1, chunk.len());
        match conn.stream.read(&mut chunk[..max]) {
            Ok(0) if conn.buf.is_empty() => return Outcome::Idle,
            Ok(0) => {
                return Outcome::Bad {
                    status: 400,
                    line: first_line(&conn.buf),
                    why: "connection closed mid-head".into(),
                }
            }
            Ok(n) => {
                conn.buf.extend_from_slice(&chunk[..n]);
                deadline.get_or_insert_with(|| Instant::now() + timeout);
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

fn timed_out(buf: &[u8]) -> Outcome {
    if buf.is_empty() {
        Outcome::Idle
    } else {
        Outcome::Bad {
            status: 408,
            line: first_line(buf),
            why: "request head not received within Timeout".into(),
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
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
