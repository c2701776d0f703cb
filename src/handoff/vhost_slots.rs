//! `MaxClientsVHost`: the claim protocol between a child and the master. Each child gets its
//! own channel (a SOCK_SEQPACKET socketpair the master makes before the fork), so the master
//! knows which child speaks without trusting anything the child says about itself: a child
//! can claim a slot only for itself, and never releases one. The master releases a child's
//! slot when it reaps that child, whatever the child did or did not send.
//!
//! One claim per child: after admitting a request and before confinement, the child sends
//! [`Claim`] (the vhost's key and its limit, from the configuration it was forked with) and
//! waits for one byte, [`GRANTED`] or [`REFUSED`]. It closes the channel when it confines
//! itself, so no handler can claim.
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

/// The child's end of its channel, from the fork (or the re-exec) until the child takes it.
static CHANNEL: Mutex<Option<OwnedFd>> = Mutex::new(None);

/// Called once in a freshly forked (or re-executed) child, before `child::run`.
pub fn install(chan: Option<OwnedFd>) {
    if let Ok(mut c) = CHANNEL.lock() {
        *c = chan;
    }
}

/// The channel's descriptor, so isolation keeps it open until the child takes it.
pub fn channel_fd() -> Option<RawFd> {
    CHANNEL.lock().ok()?.as_ref().map(|c| c.as_raw_fd())
}

/// Takes the channel; None when none was installed (no vhost is limited).
pub fn take() -> Option<OwnedFd> {
    CHANNEL.lock().ok().and_then(|mut c| c.take())
}

/// The master's answer: the slot is the child's until it is reaped.
pub const GRANTED: u8 = 1;
/// The master's answer: the vhost has its limit of connections (or the claim was malformed,
/// or this child already holds a slot).
pub const REFUSED: u8 = 0;
/// The longest key sent; longer keys are cut (at a character boundary) by [`Claim::encode`].
pub const MAX_KEY: usize = 240;
/// A message is at most this long.
pub const MAX_MSG: usize = 4 + MAX_KEY;

/// "Count me in `key`, which allows `limit` connections at once."
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub limit: u32,
    /// Which connections count together: `NAME:PORT` as mpm-itk's scoreboard key (the vhost's
    /// ServerName and the local port of the connection); see [`key`].
    pub key: String,
}

impl Claim {
    /// Layout: limit (u32, native byte order: the channel never leaves the host), key (UTF-8).
    pub fn encode(&self) -> Vec<u8> {
        let mut end = self.key.len().min(MAX_KEY);
        while !self.key.is_char_boundary(end) {
            end -= 1;
        }
        let mut m = self.limit.to_ne_bytes().to_vec();
        m.extend(self.key.as_bytes().get(..end).unwrap_or_default());
        m
    }

    pub fn decode(m: &[u8]) -> Option<Claim> {
        let (limit, key) = (m.get(..4)?, m.get(4..)?);
        if key.is_empty() || key.len() > MAX_KEY {
            return None;
        }
        Some(Claim {
            limit: u32::from_ne_bytes(limit.try_into().ok()?),
            key: String::from_utf8(key.to_vec()).ok()?,
        })
    }
}

/// The counting key of a vhost: its first name (ServerName) and the connection's local port,
/// as mpm-itk writes `%s:%d` into the scoreboard. A vhost without a name is keyed by where it
/// was written, so two unnamed vhosts never share a count.
pub fn key(names: &[String], origin: &str, port: u16) -> String {
    match names.first() {
        Some(n) => format!("{n}:{port}"),
        None => format!("({origin}):{port}"),
    }
}

/// One child's channel: (the master's end, the child's end), both close-on-exec.
pub fn channel() -> io::Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_round_trip_and_bad_ones_are_dropped() {
        let c = Claim {
            limit: 3,
            key: "www.example.org:8080".into(),
        };
        assert_eq!(Claim::decode(&c.encode()), Some(c));
        let long = Claim {
            limit: 1,
            key: "é".repeat(200),
        };
        let cut = Claim::decode(&long.encode()).expect("a cut key still decodes");
        assert!(cut.key.len() <= MAX_KEY && long.key.starts_with(&cut.key));
        for bad in [
            &b""[..],
            b"\x01\x00\x00",
            b"\x01\x00\x00\x00",
            b"\x01\x00\x00\x00\xff",
        ] {
            assert_eq!(Claim::decode(bad), None, "{bad:?}");
        }
        assert_eq!(Claim::decode(&[b'x'; MAX_MSG + 1]), None);
    }

    #[test]
    fn keys_as_mpm_itk_writes_them() {
        assert_eq!(
            key(&["a.example".into(), "b".into()], "x.conf:3", 80),
            "a.example:80"
        );
        assert_eq!(key(&[], "x.conf:3", 8080), "(x.conf:3):8080");
    }
}
