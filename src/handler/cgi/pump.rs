//! The one exchange loop of both gateways: bytes from the client's request body towards the
//! backend, from the backend into the response framing ([`super::output`]) and the error log,
//! with bounded buffers, one poll and a bound on no progress (`CGIScriptTimeout`,
//! `ProxyTimeout`). What a backend is — a program's three pipes ([`super::program`]) or
//! FastCGI records on one socket (`handler::fcgi`) — is behind [`Peer`]; how each ends
//! (the program's grace and kill, the socket kept or aborted) stays with it.

use super::output::{End, LineLog, Output};
use crate::http::body::BodyReader;
use crate::http::read::Conn;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

/// Request-body bytes held for the backend at a time.
pub(crate) const STDIN_BUF: usize = 64 * 1024;

/// Most descriptors a backend waits on (a program's stdin, stdout, stderr).
pub(crate) const SLOTS: usize = 3;

/// The descriptors a backend waits on this turn, each with its events.
pub(crate) type Interest<'a> = [Option<(BorrowedFd<'a>, PollFlags)>; SLOTS];

/// What differs between a program and a FastCGI application.
pub(crate) trait Peer {
    /// Before each turn: request-body bytes in `x.pending` are moved on, finished streams
    /// closed. `Some` ends the exchange.
    fn prepare(&mut self, x: &mut Relay, body_done: bool) -> Option<End>;
    /// The backend still takes request-body bytes.
    fn takes_body(&self) -> bool;
    /// Once the request body is read, the client is still watched for going away (POLLHUP,
    /// POLLERR): FastCGI then aborts the request. A program is left to its timeout.
    fn watches_client(&self) -> bool;
    /// The descriptors to wait on.
    fn interest(&self, x: &Relay) -> Interest<'_>;
    /// Events on them, in the same slots. `Some` ends the exchange.
    fn ready(
        &mut self,
        x: &mut Relay,
        ev: [PollFlags; SLOTS],
        conn: &mut Conn,
        buf: &mut [u8],
        body_done: bool,
    ) -> Option<End>;
}

/// The side of the exchange both gateways share: request-body bytes on their way, the
/// response being produced, the backend's error lines.
pub(crate) struct Relay {
    pub(crate) tag: String,
    /// Request-body bytes read from the client, not yet handed to the backend.
    pub(crate) pending: Vec<u8>,
    pub(crate) out: Output,
    pub(crate) err: LineLog,
    /// The request body was not read to its end: the connection is out of step.
    pub(crate) body_failed: bool,
}

impl Relay {
    pub(crate) fn new(tag: String, err: LineLog, pending: Vec<u8>, out: Output) -> Self {
        Relay {
            tag,
            pending,
            out,
            err,
            body_failed: false,
        }
    }

    /// Runs the exchange until the backend's output ends, it fails, the client goes, or
    /// nothing moves for `timeout`. `buf`: where the backend's bytes are read.
    pub(crate) fn pump<B: Peer>(
        &mut self,
        b: &mut B,
        timeout: Duration,
        conn: &mut Conn,
        body: &mut BodyReader,
        buf: &mut [u8],
    ) -> End {
        let mut progress = Instant::now();
        loop {
            if let Some(end) = b.prepare(self, body.is_done()) {
                return end;
            }
            let want_client = b.takes_body() && !body.is_done() && self.pending.len() < STDIN_BUF;
            if want_client && !conn.buf.is_empty() {
                if let Err(e) = self.read_body(conn, body) {
                    return e;
                }
                progress = Instant::now();
                continue;
            }
            let now = Instant::now();
            let left = (progress + timeout).saturating_duration_since(now);
            if left.is_zero() {
                return End::TimedOut;
            }
            if let Some(end) = self.out.due(conn, now, body.is_done()) {
                return end;
            }
            // The client's body has its own, usually shorter, deadline (RequestReadTimeout
            // body=): past it, reading reports the 408 instead of waiting for the backend's.
            let body_left = body
                .deadline()
                .filter(|_| want_client)
                .map(|d| d.saturating_duration_since(now));
            if body_left.is_some_and(|l| l.is_zero()) {
                if let Err(e) = self.read_body(conn, body) {
                    return e;
                }
            }
            let mut left = body_left.map_or(left, |l| l.max(Duration::from_millis(1)).min(left));
            if let Some(until) = self.out.hold_until() {
                left = until
                    .saturating_duration_since(now)
                    .max(Duration::from_millis(1))
                    .min(left);
            }
            // With the body read, only POLLHUP and POLLERR (a reset) are watched, which poll
            // reports unasked. Not POLLRDHUP: a client may half-close after its request and
            // still read the answer (and nix's `revents` answers `None` for a bit it does not
            // name, so RDHUP would hide HUP and ERR too).
            let watch_client = want_client || b.watches_client();
            let client_ev = if want_client {
                PollFlags::POLLIN
            } else {
                PollFlags::empty()
            };
            let (client, ev) = {
                let mut fds: Vec<PollFd> = Vec::with_capacity(1 + SLOTS);
                let c = slot(
                    &mut fds,
                    watch_client.then(|| conn.stream.as_fd()),
                    client_ev,
                );
                let slots = b
                    .interest(self)
                    .map(|i| i.and_then(|(fd, ev)| slot(&mut fds, Some(fd), ev)));
                let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
                match nix::poll::poll(
                    &mut fds,
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
                ) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => {
                        log::error!("{}: poll: {e}", self.tag);
                        return End::ClientGone;
                    }
                }
                let revents = |i: Option<usize>| {
                    i.and_then(|i| fds[i].revents())
                        .unwrap_or(PollFlags::empty())
                };
                (revents(c), slots.map(revents))
            };
            if !want_client && client.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
                log::info!("{}: client gone; aborting the request", self.tag);
                return End::ClientGone;
            }
            if want_client && !client.is_empty() {
                if let Err(e) = self.read_body(conn, body) {
                    return e;
                }
                progress = Instant::now();
            }
            if ev.iter().any(|e| !e.is_empty()) {
                progress = Instant::now();
                if let Some(end) = b.ready(self, ev, conn, buf, body.is_done()) {
                    return end;
                }
            }
        }
    }

    fn read_body(&mut self, conn: &mut Conn, body: &mut BodyReader) -> Result<(), End> {
        let room = STDIN_BUF.saturating_sub(self.pending.len());
        match body.read_some(conn, &mut self.pending, room) {
            Ok(()) => Ok(()),
            Err(e) => {
                log::info!("{}: request body: {e}", self.tag);
                self.body_failed = true;
                Err(End::Body(e.status()))
            }
        }
    }
}

/// One read from a non-blocking descriptor; None when nothing is there yet (EAGAIN, EINTR).
pub(crate) fn read_ready(f: &mut impl Read, buf: &mut [u8]) -> Option<io::Result<usize>> {
    match f.read(buf) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) =>
        {
            None
        }
        r => Some(r),
    }
}

/// Adds `fd` (if any) to the poll set; its index there.
fn slot<'a>(fds: &mut Vec<PollFd<'a>>, fd: Option<BorrowedFd<'a>>, ev: PollFlags) -> Option<usize> {
    fds.push(PollFd::new(fd?, ev));
    Some(fds.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_indexes_only_present_descriptors() {
        let (a, b) = crate::sys::spawn::pipe().expect("pipe");
        let mut fds = Vec::new();
        assert_eq!(slot(&mut fds, None, PollFlags::POLLIN), None);
        assert_eq!(slot(&mut fds, Some(a.as_fd()), PollFlags::POLLIN), Some(0));
        assert_eq!(slot(&mut fds, None, PollFlags::POLLOUT), None);
        assert_eq!(slot(&mut fds, Some(b.as_fd()), PollFlags::POLLOUT), Some(1));
        assert_eq!(fds.len(), 2);
    }
}
