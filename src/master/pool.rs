//! The master's view of its children: which are pristine and waiting, which are serving.
#![forbid(unsafe_code)]

use nix::unistd::Pid;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Pristine: waiting to accept its one connection.
    Idle,
    /// Has accepted its connection.
    Busy,
    /// Told to exit while idle; no longer counted as spare.
    Retiring,
}

#[derive(Debug, Default)]
pub struct Pool {
    children: BTreeMap<Pid, Slot>,
    /// Connections accepted so far (children marked busy).
    pub accepted: u64,
    /// How many of them left no idle child behind: a connection arriving right then waited
    /// for the master to fork. Logged at shutdown, to size MinSpareServers.
    pub ran_dry: u64,
}

impl Pool {
    pub fn insert(&mut self, pid: Pid, slot: Slot) {
        self.children.insert(pid, slot);
    }
    pub fn remove(&mut self, pid: Pid) {
        self.children.remove(&pid);
    }
    pub fn mark_busy(&mut self, pid: Pid) {
        if let Some(s) = self.children.get_mut(&pid) {
            *s = Slot::Busy;
            self.accepted += 1;
            if self.idle() == 0 {
                self.ran_dry += 1;
            }
        }
    }
    pub fn mark_retiring(&mut self, pid: Pid) {
        if let Some(s) = self.children.get_mut(&pid) {
            if *s == Slot::Idle {
                *s = Slot::Retiring;
            }
        }
    }
    pub fn idle(&self) -> usize {
        self.children.values().filter(|s| **s == Slot::Idle).count()
    }
    pub fn idle_pids(&self) -> Vec<Pid> {
        self.children
            .iter()
            .filter(|(_, s)| **s == Slot::Idle)
            .map(|(p, _)| *p)
            .collect()
    }
    pub fn pids(&self) -> Vec<Pid> {
        self.children.keys().copied().collect()
    }
    pub fn len(&self) -> usize {
        self.children.len()
    }
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_transitions() {
        let mut p = Pool::default();
        let (a, b, c) = (Pid::from_raw(10), Pid::from_raw(11), Pid::from_raw(12));
        for pid in [a, b, c] {
            p.insert(pid, Slot::Idle);
        }
        p.mark_busy(a);
        p.mark_retiring(b);
        p.mark_retiring(a); // busy children are never retired
        assert_eq!(p.idle(), 1);
        assert_eq!(p.idle_pids(), vec![c]);
        p.remove(a);
        assert_eq!(p.len(), 2);
        p.mark_busy(Pid::from_raw(99)); // an unknown pid changes nothing
        assert_eq!(p.len(), 2);
        assert_eq!((p.accepted, p.ran_dry), (1, 0));
        p.mark_busy(c);
        assert_eq!(
            (p.accepted, p.ran_dry),
            (2, 1),
            "the last idle child went busy"
        );
    }
}
