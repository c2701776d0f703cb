//! The master's view of its children: which are pristine and waiting, which are still reading
//! a request head, which are serving.
#![forbid(unsafe_code)]

use crate::policy::mcs::CategoryRange;
use nix::unistd::Pid;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Pristine: waiting to accept its one connection.
    Idle,
    /// Has accepted its connection (at `since`) but has no complete request head yet: the only
    /// state in which the master may reclaim the slot.
    Reading { since: Instant },
    /// Has a complete request head: never interrupted by the master.
    Serving,
    /// Told to exit while idle; no longer counted as spare.
    Retiring,
    /// Told to give up its unfinished request head; still holds its slot until reaped.
    Reclaimed,
}

#[derive(Debug, Default)]
pub struct Pool {
    children: BTreeMap<Pid, Slot>,
    /// Connections accepted so far (children marked busy).
    pub accepted: u64,
    /// How many of them left no idle child behind: a connection arriving right then waited
    /// for the master to fork. Logged at shutdown, to size MinSpareServers.
    pub ran_dry: u64,
    categories: Categories,
}

/// `selinuxConnectionCategories`: which live child holds which category. A category is unique
/// among live children, and beyond them: when a child is reaped its category is only
/// *draining*, because processes the connection left behind (re-parented to the master, which
/// kills them) still carry it; it is handed out again only after a scan of the master's
/// children finds none that carries it (see [`Pool::settle_categories`]).
#[derive(Debug, Default)]
struct Categories {
    by_pid: BTreeMap<Pid, u16>,
    in_use: BTreeSet<u16>,
    draining: BTreeSet<u16>,
    /// Handed out round-robin from here, so a category is reused as late as possible.
    next: u16,
    /// The last search found none free (said once per streak in the log).
    starved: bool,
}

impl Pool {
    pub fn insert(&mut self, pid: Pid, slot: Slot) {
        self.children.insert(pid, slot);
    }
    pub fn remove(&mut self, pid: Pid) {
        self.children.remove(&pid);
        let c = &mut self.categories;
        if let Some(cat) = c.by_pid.remove(&pid) {
            c.in_use.remove(&cat);
            c.draining.insert(cat);
        }
    }
    /// A category of `range` that no live child holds and no leftover process may carry, for
    /// the next child; None when there is none (the master then forks later).
    pub fn free_category(&mut self, range: CategoryRange) -> Option<u16> {
        let c = &mut self.categories;
        let start = if range.contains(c.next) {
            c.next
        } else {
            range.first
        };
        let found = (start..=range.last)
            .chain(range.first..start)
            .find(|x| !c.in_use.contains(x) && !c.draining.contains(x));
        match found {
            Some(x) => {
                c.next = if x == range.last { range.first } else { x + 1 };
                c.starved = false;
            }
            None if !c.starved => {
                c.starved = true;
                log::warn!(
                    "every connection category of {range} is held ({} by live children, {} by processes finished connections left behind); forking waits",
                    c.in_use.len(),
                    c.draining.len()
                );
            }
            None => {}
        }
        found
    }
    /// `pid` (just forked) holds `cat` until it is reaped.
    pub fn hold_category(&mut self, pid: Pid, cat: u16) {
        let c = &mut self.categories;
        c.by_pid.insert(pid, cat);
        c.in_use.insert(cat);
    }
    /// Whether reaped children's categories wait for a scan of leftovers.
    pub fn categories_draining(&self) -> bool {
        !self.categories.draining.is_empty()
    }
    /// After a scan of the master's children: `carried` are the categories that processes left
    /// behind by finished connections still carry. Every other draining category is free.
    pub fn settle_categories(&mut self, carried: &BTreeSet<u16>) {
        self.categories.draining.retain(|c| carried.contains(c));
    }
    pub fn contains(&self, pid: Pid) -> bool {
        self.children.contains_key(&pid)
    }
    /// The child accepted at `now`. A retiring child may have accepted just before its SIGTERM
    /// arrived; it serves that connection like any other.
    pub fn mark_busy(&mut self, pid: Pid, now: Instant) {
        if let Some(s) = self.children.get_mut(&pid) {
            if matches!(s, Slot::Idle | Slot::Retiring) {
                *s = Slot::Reading { since: now };
                self.accepted += 1;
                if self.idle() == 0 {
                    self.ran_dry += 1;
                }
            }
        }
    }
    /// The child has its request head. Also from Reclaimed: the child may have completed the
    /// head before it saw the signal, in which case it ignores the signal and serves.
    pub fn mark_serving(&mut self, pid: Pid) {
        if let Some(s) = self.children.get_mut(&pid) {
            if !matches!(s, Slot::Idle) {
                *s = Slot::Serving;
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
    pub fn mark_reclaimed(&mut self, pid: Pid) {
        if let Some(s) = self.children.get_mut(&pid) {
            if matches!(s, Slot::Reading { .. }) {
                *s = Slot::Reclaimed;
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
    /// Children reclaimed but not yet reaped: slots that are about to free up.
    pub fn reclaimed(&self) -> usize {
        self.children
            .values()
            .filter(|s| **s == Slot::Reclaimed)
            .count()
    }
    /// Up to `n` children still reading a head that they accepted at least `min_age` before
    /// `now`, oldest first.
    pub fn reclaimable(&self, now: Instant, min_age: Duration, n: usize) -> Vec<Pid> {
        let mut r: Vec<(Instant, Pid)> = self
            .children
            .iter()
            .filter_map(|(p, s)| match s {
                Slot::Reading { since } if now.saturating_duration_since(*since) >= min_age => {
                    Some((*since, *p))
                }
                _ => None,
            })
            .collect();
        r.sort();
        r.into_iter().take(n).map(|(_, p)| p).collect()
    }
    /// When the oldest child still reading becomes reclaimable.
    pub fn next_reclaimable_at(&self, min_age: Duration) -> Option<Instant> {
        self.children
            .values()
            .filter_map(|s| match s {
                Slot::Reading { since } => Some(*since + min_age),
                _ => None,
            })
            .min()
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
        let now = Instant::now();
        let mut p = Pool::default();
        let (a, b, c) = (Pid::from_raw(10), Pid::from_raw(11), Pid::from_raw(12));
        for pid in [a, b, c] {
            p.insert(pid, Slot::Idle);
        }
        p.mark_busy(a, now);
        p.mark_retiring(b);
        p.mark_retiring(a); // busy children are never retired
        assert_eq!(p.idle(), 1);
        assert_eq!(p.idle_pids(), vec![c]);
        p.remove(a);
        assert_eq!(p.len(), 2);
        p.mark_busy(Pid::from_raw(99), now); // an unknown pid changes nothing
        assert_eq!(p.len(), 2);
        assert_eq!((p.accepted, p.ran_dry), (1, 0));
        p.mark_busy(c, now);
        assert_eq!(
            (p.accepted, p.ran_dry),
            (2, 1),
            "the last idle child went busy"
        );
        assert!(!p.contains(Pid::from_raw(99)));
    }

    #[test]
    fn categories_are_unique_among_live_children_and_drain_before_reuse() {
        let range = CategoryRange { first: 8, last: 10 };
        let mut p = Pool::default();
        let [a, b, c, d, e] = [10, 11, 12, 13, 14].map(Pid::from_raw);
        for pid in [a, b, c] {
            let cat = p.free_category(range).expect("a free category");
            p.insert(pid, Slot::Idle);
            p.hold_category(pid, cat);
        }
        let held: BTreeSet<u16> = p.categories.in_use.clone();
        assert_eq!(
            held,
            BTreeSet::from([8, 9, 10]),
            "three children, three categories"
        );
        assert_eq!(p.free_category(range), None, "all held: no fourth child");
        p.remove(b);
        assert_eq!(
            p.free_category(range),
            None,
            "a reaped child's category drains until a scan of leftovers"
        );
        p.settle_categories(&BTreeSet::from([9]));
        assert_eq!(p.free_category(range), None, "a leftover still carries c9");
        p.settle_categories(&BTreeSet::new());
        assert!(!p.categories_draining());
        assert_eq!(p.free_category(range), Some(9));
        p.insert(d, Slot::Idle);
        p.hold_category(d, 9);
        // Round-robin: after a and c go, the next search starts after the last one given.
        p.remove(a);
        p.remove(c);
        p.settle_categories(&BTreeSet::new());
        assert_eq!(p.free_category(range), Some(10));
        p.insert(e, Slot::Idle);
        p.hold_category(e, 10);
        // A reload to another range: categories held under the old one stay taken.
        let wider = CategoryRange { first: 9, last: 12 };
        assert_eq!(p.free_category(wider), Some(11));
    }

    #[test]
    fn reclaim_takes_the_oldest_readers_and_never_a_serving_child() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut p = Pool::default();
        let pids: Vec<Pid> = (20..26).map(Pid::from_raw).collect();
        for pid in &pids {
            p.insert(*pid, Slot::Idle);
        }
        // 20..=24 accepted one second apart (24 newest); 21 then completed its head.
        for (i, pid) in pids[..5].iter().enumerate() {
            p.mark_busy(*pid, t0 + s * i as u32);
        }
        p.mark_serving(pids[1]);
        let now = t0 + s * 5;
        assert_eq!(
            p.reclaimable(now, Duration::from_millis(1500), 10),
            vec![pids[0], pids[2], pids[3]],
            "oldest first, serving and too-young children left alone"
        );
        assert_eq!(
            p.reclaimable(now, Duration::ZERO, 2),
            vec![pids[0], pids[2]]
        );
        assert_eq!(
            p.next_reclaimable_at(Duration::from_millis(500)),
            Some(t0 + Duration::from_millis(500))
        );
        p.mark_reclaimed(pids[0]);
        p.mark_reclaimed(pids[1]); // serving: stays serving
        p.mark_reclaimed(pids[5]); // idle: stays idle
        assert_eq!(p.reclaimed(), 1);
        assert_eq!(p.idle(), 1);
        assert_eq!(p.reclaimable(now, Duration::ZERO, 10)[0], pids[2]);
        // The head arrived before the signal did: the child serves, the master counts it so.
        p.mark_serving(pids[0]);
        assert_eq!(p.reclaimed(), 0);
    }
}
