//! `MaxClientsVHost`, the child's side: before it confines itself for a request of a limited
//! vhost, the child claims a slot from the master over its own channel
//! (`handoff::vhost_slots`) and waits for the answer; refused, the request gets 503, as
//! mpm-itk answers. The slot stays the child's until the master reaps it: the child never
//! releases one.
//!
//! A process holds at most one vhost's slot, taken before confinement (the channel is closed
//! when the process confines itself, so no handler can claim). A later keep-alive request of
//! another vhost, where either vhost is limited, is not served by this process: the
//! connection closes and the client retries on a fresh one, as for an identity change.

use crate::config::VHost;
use crate::handoff::vhost_slots::{key, Claim, GRANTED};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

/// How long a child waits for the master's answer before it answers 503 itself.
const ANSWER_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
pub struct VHostSlot {
    /// This child's end of its claim channel, until confinement.
    chan: Option<OwnedFd>,
    /// The key of the slot this process holds.
    held: Option<String>,
}

/// What the request may do.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it: its vhost is not limited, or this process holds its slot.
    Go,
    /// 503: the vhost has its limit of connections (or the master could not be asked).
    Full { key: String },
    /// Not in this process: it holds (or cannot claim any more) another vhost's slot.
    FreshProcess(&'static str),
}

impl VHostSlot {
    pub fn new(chan: Option<OwnedFd>) -> Self {
        VHostSlot { chan, held: None }
    }

    /// At confinement: no more claims.
    pub fn close(&mut self) {
        self.chan = None;
    }

    /// Whether a request admitted into `vhost` may be served by this process; claims the
    /// vhost's slot when it needs one and the process is not confined yet.
    pub fn check(&mut self, vhost: &VHost, confined: bool) -> Verdict {
        // The connection's local port is part of the key (mpm-itk's `NAME:PORT`).
        let port = super::access_log::local_addr().map_or(0, |a| a.port());
        let want = (vhost.harden.max_clients)
            .map(|n| (key(&vhost.names, &vhost.origin.to_string(), port), n));
        match (&self.held, want) {
            (Some(h), Some((k, _))) if *h == k => Verdict::Go,
            (Some(_), _) => Verdict::FreshProcess(
                "this process holds another virtual host's MaxClientsVHost slot",
            ),
            (None, None) => Verdict::Go,
            (None, Some(_)) if confined => Verdict::FreshProcess(
                "its virtual host's MaxClientsVHost slot is claimed before confinement",
            ),
            (None, Some((key, limit))) => match self.claim(&key, limit) {
                Ok(true) => {
                    self.held = Some(key);
                    Verdict::Go
                }
                Ok(false) => Verdict::Full { key },
                Err(e) => {
                    log::error!("MaxClientsVHost: cannot ask the master for a slot of {key}: {e}; answering 503");
                    Verdict::Full { key }
                }
            },
        }
    }

    fn claim(&self, key: &str, limit: u32) -> io::Result<bool> {
        use nix::sys::socket::{recv, send, MsgFlags};
        let chan = self.chan.as_ref().ok_or_else(|| {
            io::Error::other(
                "this process has no claim channel (forked before the limit was configured)",
            )
        })?;
        let msg = Claim {
            limit,
            key: key.to_string(),
        }
        .encode();
        send(chan.as_raw_fd(), &msg, MsgFlags::MSG_NOSIGNAL)?;
        let mut fds = [nix::poll::PollFd::new(
            chan.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let wait =
            nix::poll::PollTimeout::try_from(ANSWER_WAIT).unwrap_or(nix::poll::PollTimeout::MAX);
        if nix::poll::poll(&mut fds, wait)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no answer within 5 s",
            ));
        }
        let mut answer = [0u8; 1];
        match recv(chan.as_raw_fd(), &mut answer, MsgFlags::MSG_DONTWAIT)? {
            1 => Ok(answer[0] == GRANTED),
            _ => Err(io::Error::other("the master closed the channel")),
        }
    }
}
