//! `MaxClientsVHost`, the master's side: which child holds a slot of which vhost. A child
//! claims over its own channel (`handoff::vhost_slots`), made by the master before the fork,
//! so the claimer is the child the channel was made for; the slot is released when the master
//! reaps that child, never on the child's word. A child killed at any point therefore frees
//! its slot at its reaping, and a child cannot claim or release for another.
//!
//! The limit comes with the claim, from the configuration the child was forked with, and the
//! count is by key (`NAME:PORT`, as mpm-itk's scoreboard), so after a reload the old and the new
//! generation's connections of a vhost count together.
#![forbid(unsafe_code)]

use crate::config::Config;
use crate::handoff::vhost_slots::{Claim, GRANTED, MAX_MSG, REFUSED};
use nix::sys::socket::{recv, send, MsgFlags};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// Who holds which vhost's slot. Pure bookkeeping.
#[derive(Debug, Default)]
pub struct Ledger {
    held: BTreeMap<Pid, String>,
}

impl Ledger {
    /// Grants `pid` a slot of `c.key` if fewer than `c.limit` are held there and `pid` holds
    /// none yet (one slot per child: a second claim is refused, never a move).
    pub fn claim(&mut self, pid: Pid, c: &Claim) -> bool {
        if c.limit == 0 || self.held.contains_key(&pid) {
            return false;
        }
        if self.count(&c.key) >= c.limit as usize {
            return false;
        }
        self.held.insert(pid, c.key.clone());
        true
    }

    /// `pid` was reaped.
    pub fn release(&mut self, pid: Pid) {
        self.held.remove(&pid);
    }

    pub fn count(&self, key: &str) -> usize {
        self.held.values().filter(|k| *k == key).count()
    }

    fn retain(&mut self, alive: impl Fn(Pid) -> bool) {
        self.held.retain(|p, _| alive(*p));
    }
}

/// The channels to the children and the ledger.
#[derive(Debug, Default)]
pub struct VHostSlots {
    /// The master's end of each child's channel, until the child closes its end (it does when
    /// it confines itself) or is reaped.
    chans: BTreeMap<Pid, OwnedFd>,
    ledger: Ledger,
}

impl VHostSlots {
    /// Whether children of `cfg` need a channel: some vhost has a limit.
    pub fn wanted(cfg: &Config) -> bool {
        cfg.vhosts.iter().any(|v| v.harden.max_clients.is_some())
    }

    /// `pid` was just forked with the other end of `chan`.
    pub fn adopt(&mut self, pid: Pid, chan: OwnedFd) {
        self.chans.insert(pid, chan);
    }

    /// The channels to poll, with their children.
    pub fn poll_fds(&self) -> Vec<(Pid, BorrowedFd<'_>)> {
        self.chans.iter().map(|(p, f)| (*p, f.as_fd())).collect()
    }

    /// Answers every claim waiting on `pid`'s channel; a closed channel is dropped (its
    /// slot, if any, stays held until `pid` is reaped).
    pub fn answer(&mut self, pid: Pid) {
        let mut buf = [0u8; MAX_MSG + 1];
        loop {
            let Some(chan) = self.chans.get(&pid) else {
                return;
            };
            let n = match recv(chan.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
                Ok(0) | Err(nix::errno::Errno::ECONNRESET) => {
                    self.chans.remove(&pid);
                    return;
                }
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
            };
            let claim = buf
                .get(..n)
                .filter(|_| n <= MAX_MSG)
                .and_then(Claim::decode);
            let granted = claim.as_ref().is_some_and(|c| self.ledger.claim(pid, c));
            match &claim {
                Some(c) => log::debug!(
                    "MaxClientsVHost: child {pid} {} a slot of {} ({} of {} held)",
                    if granted { "got" } else { "was refused" },
                    c.key,
                    self.ledger.count(&c.key),
                    c.limit
                ),
                None => log::warn!("MaxClientsVHost: child {pid} sent a malformed claim; refused"),
            }
            let answer = if granted { GRANTED } else { REFUSED };
            let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
            if send(chan.as_raw_fd(), &[answer], flags).is_err() {
                // The child is gone or its end is full (it sent without waiting): either
                // way the slot, if granted, is released when the child is reaped.
                self.chans.remove(&pid);
                return;
            }
        }
    }

    /// After reaping: every child that is no longer alive gives back its slot and channel.
    pub fn settle(&mut self, alive: impl Fn(Pid) -> bool) {
        self.chans.retain(|p, _| alive(*p));
        self.ledger.retain(alive);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(key: &str, limit: u32) -> Claim {
        Claim {
            limit,
            key: key.into(),
        }
    }

    /// From mpm-itk's rule (N connections in the vhost at once; the N+1st is refused) and this
    /// server's: one slot per child, freed only when the child is reaped.
    #[test]
    fn ledger_table() {
        let p = Pid::from_raw;
        let mut l = Ledger::default();
        let steps: &[(i32, &str, u32, bool)] = &[
            (10, "a:80", 2, true),
            (11, "a:80", 2, true),
            (12, "a:80", 2, false), // the third connection of a vhost limited to 2
            (12, "b:80", 1, true),  // another vhost is unaffected
            (12, "b:80", 1, false), // a second claim of the same child
            (10, "b:80", 5, false), // a child holds one slot, never two
            (13, "a:80", 0, false), // a limit of 0 is never claimed for
            (13, "a:81", 2, true),  // another port is another key
        ];
        for (pid, key, limit, want) in steps {
            assert_eq!(l.claim(p(*pid), &claim(key, *limit)), *want, "{pid} {key}");
        }
        l.release(p(11));
        assert!(
            l.claim(p(14), &claim("a:80", 2)),
            "a reaped child's slot is free"
        );
        assert!(!l.claim(p(15), &claim("a:80", 2)));
        // A reload that lowers the limit: held slots stay, new claims wait until below it.
        assert!(!l.claim(p(16), &claim("a:80", 1)));
        l.retain(|pid| pid != p(10) && pid != p(14));
        assert_eq!(l.count("a:80"), 0);
        assert!(l.claim(p(16), &claim("a:80", 1)));
    }

    #[test]
    fn a_child_claims_over_its_channel_and_its_reaping_frees_the_slot() {
        use crate::handoff::vhost_slots::channel;
        let mut s = VHostSlots::default();
        let mut children = Vec::new();
        for pid in [100, 101] {
            let (m, c) = channel().expect("socketpair");
            s.adopt(Pid::from_raw(pid), m);
            children.push(c);
        }
        let ask = |c: &OwnedFd, s: &mut VHostSlots, pid: i32| {
            send(c.as_raw_fd(), &claim("v:80", 1).encode(), MsgFlags::empty()).expect("send");
            s.answer(Pid::from_raw(pid));
            let mut b = [9u8; 2];
            let n = recv(c.as_raw_fd(), &mut b, MsgFlags::MSG_DONTWAIT).expect("an answer");
            assert_eq!(n, 1);
            b[0]
        };
        assert_eq!(ask(&children[0], &mut s, 100), GRANTED);
        assert_eq!(ask(&children[1], &mut s, 101), REFUSED);
        // The holder closes its end (confinement): the slot stays until it is reaped.
        drop(children.remove(0));
        s.answer(Pid::from_raw(100));
        assert_eq!(s.poll_fds().len(), 1);
        assert_eq!(ask(&children[0], &mut s, 101), REFUSED);
        s.settle(|p| p != Pid::from_raw(100));
        assert_eq!(ask(&children[0], &mut s, 101), GRANTED);
    }
}
