//! Privilege-separated password verification (after Apache's privsep design).
//!
//! Stage: authentication. One long-lived verifier process, forked and restarted by
//! the master, is the only process that opens password files. Connection children
//! ask it over a private channel whether a user/password pair is valid for a file.
//!
//! Invariants:
//! - Nothing is reachable by name: the master holds a `SOCK_SEQPACKET` control socket
//!   to the verifier ([`pair`]); for every child it is about to fork it calls
//!   [`Handle::new_channel`], which creates a fresh socketpair, passes one end to the
//!   verifier with `SCM_RIGHTS` and returns the other end for the child. A confined
//!   child that has closed its channel has nothing left to talk to.
//! - A child names a password file only by index into [`Config::files`], a PAM service by
//!   `files.len()` plus its index into [`Config::pam_services`].
//! - Every descriptor created here is close-on-exec, including received ones.
//! - The verifier exits (with `Ok`) once the master's control end is closed, and
//!   then drops every channel, so children waiting on it see `Unavailable`.
//! - Only verdict `Yes` means "authenticated"; every failure of the machinery is an
//!   error the caller must turn into a refusal (503), never into a 200.
#![deny(unsafe_code)]

pub mod cache;
pub mod client;
pub mod confine;
pub mod pam;
pub mod protocol;
pub mod server;

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

pub use client::{ask, verify, Answer, Unavailable, VerifierError};
pub use server::ServeError;

/// A loaded password file. Implementations must compare secrets in constant time
/// and must not panic on any input.
pub trait PasswordDb: Send {
    fn verify(&self, user: &str, password: &[u8]) -> bool;
    /// Whether `user` is in the file, asked only after `verify` said no (for the log line).
    fn contains(&self, user: &str) -> bool;
}

/// Opens and parses the password file at the given path.
pub type Loader = fn(&str) -> Result<Box<dyn PasswordDb>, String>;

/// What the verifier serves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Password files, addressed by index in requests.
    pub files: Vec<PathBuf>,
    /// PAM services (`AuthBasicProvider pam`), addressed as `files.len() + i`.
    pub pam_services: Vec<String>,
    /// How long a successful verification is remembered.
    pub cache_ttl: Duration,
    /// How many successful verifications are remembered; 0 disables the cache.
    pub cache_entries: usize,
}

impl Config {
    pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);
    pub const DEFAULT_CACHE_ENTRIES: usize = 4096;

    /// A configuration with the default cache settings.
    pub fn new(files: Vec<PathBuf>) -> Self {
        Config {
            files,
            pam_services: Vec::new(),
            cache_ttl: Self::DEFAULT_CACHE_TTL,
            cache_entries: Self::DEFAULT_CACHE_ENTRIES,
        }
    }
}

/// The master's side of the control socket.
#[derive(Debug)]
pub struct Handle {
    control: OwnedFd,
}

/// The verifier's side of the control socket; consumed by [`Endpoint::serve`].
#[derive(Debug)]
pub struct Endpoint {
    control: OwnedFd,
}

/// Creates the control socketpair. Call before forking the verifier: the verifier
/// child must drop the [`Handle`] (or it would never see the master go away) and
/// the master must drop the [`Endpoint`].
pub fn pair() -> io::Result<(Handle, Endpoint)> {
    let (master, verifier) = seqpacket_pair()?;
    Ok((Handle { control: master }, Endpoint { control: verifier }))
}

pub(crate) fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(io::Error::from)
}

impl Handle {
    /// A fresh channel to the verifier for one child. Fails when the verifier is gone
    /// or not keeping up (`WouldBlock`); the master never blocks on it.
    pub fn new_channel(&self) -> io::Result<OwnedFd> {
        let (child_end, verifier_end) = seqpacket_pair()?;
        send_fd(self.control.as_fd(), verifier_end.as_fd())?;
        Ok(child_end)
    }

    /// The control descriptor, so forked children can close it among the master's fds.
    pub fn control_fd(&self) -> RawFd {
        self.control.as_raw_fd()
    }
}

impl std::os::fd::AsRawFd for Endpoint {
    /// So the forked verifier can keep this descriptor while closing every other.
    fn as_raw_fd(&self) -> RawFd {
        self.control.as_raw_fd()
    }
}

impl Endpoint {
    /// Runs the verifier until the master closes its control end (then `Ok`).
    /// Call in the forked verifier process, after dropping the [`Handle`].
    pub fn serve(self, cfg: Config, loader: Loader) -> Result<(), ServeError> {
        server::run(self.control, cfg, loader)
    }
}

/// The one data byte that accompanies a passed channel; anything else is dropped.
pub(crate) const CHANNEL_TAG: u8 = b'C';

pub(crate) fn send_fd(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds = [fd];
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(io::Error::other(
            "SCM_RIGHTS message does not fit its buffer",
        ));
    }
    let flags = SendFlags::NOSIGNAL | SendFlags::DONTWAIT;
    let sent = rustix::net::sendmsg(sock, &[IoSlice::new(&[CHANNEL_TAG])], &mut control, flags)?;
    if sent != 1 {
        return Err(io::Error::other("channel message sent short"));
    }
    Ok(())
}

/// What arrived on the control socket.
#[derive(Debug)]
pub(crate) enum ControlMsg {
    Channel(OwnedFd),
    /// Something other than exactly one tagged descriptor; any fds were closed.
    Garbage,
    Closed,
}

pub(crate) fn recv_fd(sock: BorrowedFd<'_>) -> io::Result<ControlMsg> {
    // Room for more than one fd so that surplus fds arrive (and are closed) instead
    // of being silently truncated.
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut data = [0u8; 2];
    let flags = RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT;
    let msg = rustix::net::recvmsg(sock, &mut [IoSliceMut::new(&mut data)], &mut control, flags)?;
    let mut fds: Vec<OwnedFd> = Vec::new();
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = m {
            fds.extend(rights);
        }
    }
    if msg.bytes == 0 && fds.is_empty() {
        return Ok(ControlMsg::Closed);
    }
    let truncated = msg
        .flags
        .intersects(ReturnFlags::TRUNC | ReturnFlags::CTRUNC);
    if truncated || msg.bytes != 1 || data[0] != CHANNEL_TAG || fds.len() != 1 {
        return Ok(ControlMsg::Garbage);
    }
    Ok(fds.pop().map_or(ControlMsg::Garbage, ControlMsg::Channel))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    use nix::sys::socket::{getsockopt, sockopt};

    fn is_cloexec(fd: BorrowedFd<'_>) -> bool {
        let bits = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFD).unwrap();
        FdFlag::from_bits_truncate(bits).contains(FdFlag::FD_CLOEXEC)
    }

    #[test]
    fn channel_passes_a_cloexec_seqpacket_socket() {
        let (handle, endpoint) = pair().unwrap();
        assert!(is_cloexec(handle.control.as_fd()) && is_cloexec(endpoint.control.as_fd()));
        let child = handle.new_channel().unwrap();
        assert!(is_cloexec(child.as_fd()));
        let ControlMsg::Channel(theirs) = recv_fd(endpoint.control.as_fd()).unwrap() else {
            panic!("expected a channel");
        };
        assert!(is_cloexec(theirs.as_fd()));
        assert_eq!(
            getsockopt(&theirs, sockopt::SockType).unwrap(),
            SockType::SeqPacket
        );
        nix::sys::socket::send(
            child.as_raw_fd(),
            b"hi",
            nix::sys::socket::MsgFlags::empty(),
        )
        .unwrap();
        let mut buf = [0u8; 4];
        let n = nix::sys::socket::recv(
            theirs.as_raw_fd(),
            &mut buf,
            nix::sys::socket::MsgFlags::empty(),
        )
        .unwrap();
        assert_eq!(&buf[..n], b"hi");
    }

    #[test]
    fn control_rejects_untagged_and_reports_close() {
        let (handle, endpoint) = pair().unwrap();
        nix::sys::socket::send(
            handle.control_fd(),
            b"X",
            nix::sys::socket::MsgFlags::empty(),
        )
        .unwrap();
        assert!(matches!(
            recv_fd(endpoint.control.as_fd()).unwrap(),
            ControlMsg::Garbage
        ));
        drop(handle);
        assert!(matches!(
            recv_fd(endpoint.control.as_fd()).unwrap(),
            ControlMsg::Closed
        ));
    }

    #[test]
    fn new_channel_fails_when_verifier_is_gone() {
        let (handle, endpoint) = pair().unwrap();
        drop(endpoint);
        assert!(handle.new_channel().is_err());
    }
}
