//! The connection child's side: one blocking, time-bounded question to the verifier.
//!
//! Stage: authentication, inside a connection child, before confinement.
//!
//! Invariants:
//! - `Answer::Yes` (and `Ok(true)`) only for the verifier's explicit `Yes`; every other outcome
//!   is a no (`Mismatch`, `UnknownUser`) or an error the caller must answer with a refusal.
//! - The serialized request (it holds the password) is wiped right after sending.
//! - A channel that timed out or answered garbage is shut down, so a late answer to
//!   an abandoned question can never be read as the answer to a later one.
#![deny(unsafe_code)]

use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recv, send, shutdown, MsgFlags, Shutdown};
use thiserror::Error;

use super::protocol::{self, DecodeError, EncodeError, Request, Verdict, RESPONSE_LEN};

/// Why the verifier could not give an answer; the lead answers 503.
#[derive(Debug, Error)]
pub enum Unavailable {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the channel to the verifier is closed")]
    Closed,
    #[error("{op} on the verifier channel failed: {errno}")]
    Io { op: &'static str, errno: Errno },
    #[error("the verifier cannot check this password file now")]
    Refused,
    #[error("the verifier's answer is malformed: {0}")]
    BadResponse(DecodeError),
}

/// Why [`verify`] has no yes/no answer.
#[derive(Debug, Error)]
pub enum VerifierError {
    #[error("password verifier unavailable: {0}")]
    Unavailable(#[from] Unavailable),
    #[error("password verifier rejected the request as malformed or naming an unknown file")]
    BadRequest,
    #[error("credentials cannot be sent to the password verifier: {0}")]
    Encode(#[from] EncodeError),
}

/// The verifier's yes or no, with why it said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    Mismatch,
    UnknownUser,
}

/// Asks the verifier whether `user`/`password` is valid in password file `file`: true only
/// for its explicit yes.
pub fn verify(
    chan: impl AsFd,
    file: u16,
    peer: IpAddr,
    user: &str,
    password: &[u8],
    timeout: Duration,
) -> Result<bool, VerifierError> {
    ask(chan, file, peer, user, password, timeout).map(|a| a == Answer::Yes)
}

/// Asks the verifier whether `user`/`password` is valid in password file `file`.
///
/// Blocks at most about `timeout`. A channel is meant for one child's few requests,
/// one at a time.
pub fn ask(
    chan: impl AsFd,
    file: u16,
    peer: IpAddr,
    user: &str,
    password: &[u8],
    timeout: Duration,
) -> Result<Answer, VerifierError> {
    let chan = chan.as_fd();
    let deadline = Instant::now() + timeout;
    send_request(chan, file, peer, user, password)?;
    let verdict = match await_verdict(chan, deadline, timeout) {
        Ok(v) => v,
        Err(e) => {
            // Best effort: the channel is poisoned whatever shutdown says.
            let _ = shutdown(chan.as_raw_fd(), Shutdown::Both);
            return Err(e.into());
        }
    };
    match verdict {
        Verdict::Yes => Ok(Answer::Yes),
        Verdict::No => Ok(Answer::Mismatch),
        Verdict::UnknownUser => Ok(Answer::UnknownUser),
        Verdict::BadRequest => Err(VerifierError::BadRequest),
        Verdict::Unavailable => Err(Unavailable::Refused.into()),
    }
}

fn send_request(
    chan: BorrowedFd<'_>,
    file: u16,
    peer: IpAddr,
    user: &str,
    password: &[u8],
) -> Result<(), VerifierError> {
    let peer = protocol::peer_to_wire(peer);
    let wire = protocol::encode_request(&Request {
        file,
        peer,
        user,
        password,
    })?;
    // NOSIGNAL: a dead verifier must surface as an error here, not kill the child.
    let flags = MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT;
    let sent = send(chan.as_raw_fd(), &wire, flags);
    let len = wire.len();
    drop(wire);
    match sent {
        // Seqpacket sends are all-or-nothing; a short count would be a kernel oddity.
        Ok(n) if n == len => Ok(()),
        Ok(_) => Err(Unavailable::Io {
            op: "send",
            errno: Errno::EMSGSIZE,
        }
        .into()),
        Err(Errno::EPIPE | Errno::ECONNRESET | Errno::ENOTCONN) => Err(Unavailable::Closed.into()),
        Err(errno) => Err(Unavailable::Io { op: "send", errno }.into()),
    }
}

fn await_verdict(
    chan: BorrowedFd<'_>,
    deadline: Instant,
    timeout: Duration,
) -> Result<Verdict, Unavailable> {
    loop {
        wait_readable(chan, deadline, timeout)?;
        let mut buf = [0u8; RESPONSE_LEN + 1];
        match recv(chan.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
            Ok(0) => return Err(Unavailable::Closed),
            Ok(n) => return protocol::decode_response(&buf[..n]).map_err(Unavailable::BadResponse),
            Err(Errno::EAGAIN | Errno::EINTR) => continue,
            Err(Errno::ECONNRESET) => return Err(Unavailable::Closed),
            Err(errno) => return Err(Unavailable::Io { op: "recv", errno }),
        }
    }
}

fn wait_readable(
    chan: BorrowedFd<'_>,
    deadline: Instant,
    timeout: Duration,
) -> Result<(), Unavailable> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Unavailable::Timeout(timeout));
        }
        let millis = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
        let wait = PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(chan, PollFlags::POLLIN)];
        match poll(&mut fds, wait) {
            // Readable or hung up: recv tells which.
            Ok(n) if n > 0 => return Ok(()),
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(errno) => return Err(Unavailable::Io { op: "poll", errno }),
        }
    }
}
