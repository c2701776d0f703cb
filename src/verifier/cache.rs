//! The verifier's memory of past verifications: a cache of successes and a
//! per-source table of failures.
//!
//! Stage: in-memory bookkeeping for the verifier's poll loop; no I/O, every method
//! takes `now` so tests control time.
//!
//! Invariants:
//! - Only successful verifications are cached, and the cache never holds a password:
//!   its key is HMAC-SHA256, under a random key drawn per verifier start, of (file
//!   index, file identity, user, password). A changed file identity therefore never
//!   hits old entries, and [`SuccessCache::invalidate_file`] also frees them.
//! - The cache holds at most `capacity` entries (oldest dropped first), each for at
//!   most `ttl`.
//! - Failures are counted per source (IPv4 address, or IPv6 /64) in a bounded table;
//!   sources that do not fit share one overflow record, so flooding the table with
//!   addresses makes the flooder's attempts slower, never faster. Counts decay.
#![forbid(unsafe_code)]

use std::collections::{HashMap, VecDeque};
use std::fs::Metadata;
use std::net::Ipv6Addr;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// What a password file was when it was loaded; any change means "reload".
///
/// ctime is included beside the mtime the design asks for because mtime can be set
/// back by the file's owner while ctime cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: (i64, i64),
    pub ctime: (i64, i64),
}

impl FileIdentity {
    pub fn of(meta: &Metadata) -> Self {
        FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// Keyed digest naming one successful (file, identity, user, password) combination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

struct Entry {
    inserted: Instant,
    file: u16,
}

/// Bounded, expiring set of credentials that verified successfully.
pub struct SuccessCache {
    mac: Hmac<Sha256>,
    ttl: Duration,
    capacity: usize,
    entries: HashMap<CacheKey, Entry>,
    // Insertion order for drop-oldest; may hold records of entries already removed,
    // recognised by a differing insertion time and compacted when it grows.
    order: VecDeque<(CacheKey, Instant)>,
}

impl SuccessCache {
    /// A cache keyed by 32 fresh random bytes; a capacity of 0 disables caching.
    pub fn new(ttl: Duration, capacity: usize) -> Result<Self, getrandom::Error> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(key.as_mut())?;
        Ok(Self::with_key(&key, ttl, capacity))
    }

    fn with_key(key: &[u8; 32], ttl: Duration, capacity: usize) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
        SuccessCache {
            mac,
            ttl,
            capacity,
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn key_for(
        &self,
        file: u16,
        ident: &FileIdentity,
        user: &str,
        password: &[u8],
    ) -> CacheKey {
        let mut mac = self.mac.clone();
        mac.update(&file.to_be_bytes());
        for n in [ident.dev, ident.ino, ident.size] {
            mac.update(&n.to_be_bytes());
        }
        for n in [ident.mtime.0, ident.mtime.1, ident.ctime.0, ident.ctime.1] {
            mac.update(&n.to_be_bytes());
        }
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        mac.update(&(user.len() as u64).to_be_bytes());
        mac.update(user.as_bytes());
        mac.update(&(password.len() as u64).to_be_bytes());
        mac.update(password);
        CacheKey(mac.finalize().into_bytes().into())
    }

    /// True if `key` verified successfully less than `ttl` ago.
    pub fn hit(&mut self, key: &CacheKey, now: Instant) -> bool {
        match self.entries.get(key) {
            Some(e) if now.saturating_duration_since(e.inserted) < self.ttl => true,
            Some(_) => {
                self.entries.remove(key);
                false
            }
            None => false,
        }
    }

    /// Remembers a successful verification.
    pub fn insert(&mut self, key: CacheKey, file: u16, now: Instant) {
        if self.capacity == 0 {
            return;
        }
        self.drop_expired(now);
        while self.entries.len() >= self.capacity {
            self.drop_oldest();
        }
        self.entries.insert(
            key,
            Entry {
                inserted: now,
                file,
            },
        );
        self.order.push_back((key, now));
        if self.order.len() > 2 * self.capacity {
            let entries = &self.entries;
            self.order
                .retain(|(k, t)| entries.get(k).is_some_and(|e| e.inserted == *t));
        }
    }

    /// Forgets every success for `file`; called when its identity changes.
    pub fn invalidate_file(&mut self, file: u16) {
        self.entries.retain(|_, e| e.file != file);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn is_live_record(&self, key: &CacheKey, at: Instant) -> bool {
        self.entries.get(key).is_some_and(|e| e.inserted == at)
    }

    fn drop_expired(&mut self, now: Instant) {
        while let Some(&(key, at)) = self.order.front() {
            if now.saturating_duration_since(at) < self.ttl {
                break;
            }
            self.order.pop_front();
            if self.is_live_record(&key, at) {
                self.entries.remove(&key);
            }
        }
    }

    fn drop_oldest(&mut self) {
        while let Some((key, at)) = self.order.pop_front() {
            if self.is_live_record(&key, at) {
                self.entries.remove(&key);
                return;
            }
        }
        // Order lost track of an entry (cannot happen); clearing keeps the bound.
        self.entries.clear();
    }
}

/// How failures slow down a source.
#[derive(Debug, Clone)]
pub struct FailurePolicy {
    /// One remembered failure is forgotten per this much quiet time.
    pub decay: Duration,
    /// Delay after the second failure; doubles per further failure.
    pub step: Duration,
    pub max_delay: Duration,
    /// A request that would have to wait longer than this is refused instead.
    pub max_wait: Duration,
    /// Sources tracked individually; the rest share one record.
    pub max_sources: usize,
}

impl Default for FailurePolicy {
    fn default() -> Self {
        FailurePolicy {
            decay: Duration::from_secs(30),
            step: Duration::from_millis(250),
            max_delay: Duration::from_secs(2),
            max_wait: Duration::from_secs(10),
            max_sources: 1024,
        }
    }
}

impl FailurePolicy {
    /// The first failure costs nothing (typos happen), then 1, 2, 4, 8 steps, capped.
    pub fn delay_after(&self, failures: u32) -> Duration {
        if failures <= 1 {
            return Duration::ZERO;
        }
        let doublings = (failures - 2).min(16);
        self.step.saturating_mul(1 << doublings).min(self.max_delay)
    }
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    decayed_at: Instant,
    next_slot: Instant,
}

impl Record {
    fn new(now: Instant) -> Self {
        Record {
            failures: 0,
            decayed_at: now,
            next_slot: now,
        }
    }

    fn decay(&mut self, decay: Duration, now: Instant) {
        if decay.is_zero() {
            self.failures = 0;
            return;
        }
        let quiet = now.saturating_duration_since(self.decayed_at);
        let forgotten = quiet.as_nanos() / decay.as_nanos();
        if forgotten >= u128::from(self.failures) {
            self.failures = 0;
            self.decayed_at = now;
        } else {
            // forgotten < failures <= u32::MAX, so both conversions are exact.
            self.failures -= forgotten as u32;
            self.decayed_at += decay * forgotten as u32;
        }
    }

    fn is_idle(&self, now: Instant) -> bool {
        self.failures == 0 && self.next_slot <= now
    }
}

/// Address bits that identify one source: a whole IPv4 address, or an IPv6 /64
/// (the smallest block a single site usually gets).
fn source_key(peer: Ipv6Addr) -> [u8; 16] {
    let mut bytes = peer.octets();
    if peer.to_ipv4_mapped().is_none() {
        bytes[8..].fill(0);
    }
    bytes
}

/// Bounded per-source failure counters that schedule when a request may be served.
pub struct FailureTable {
    policy: FailurePolicy,
    sources: HashMap<[u8; 16], Record>,
    overflow: Option<Record>,
}

impl FailureTable {
    pub fn new(policy: FailurePolicy) -> Self {
        FailureTable {
            policy,
            sources: HashMap::new(),
            overflow: None,
        }
    }

    /// When a request from `peer` arriving at `now` may be verified, or `None` if
    /// the source has queued so much that it must be refused.
    ///
    /// Penalised sources get one slot per delay, so parallel attempts from one
    /// source are serialised instead of all waiting the same single delay.
    pub fn schedule(&mut self, peer: Ipv6Addr, now: Instant) -> Option<Instant> {
        let policy = self.policy.clone();
        let Some(rec) = self.existing(peer) else {
            return Some(now);
        };
        rec.decay(policy.decay, now);
        let delay = policy.delay_after(rec.failures);
        if delay.is_zero() {
            return Some(now);
        }
        let due = (now + delay).max(rec.next_slot);
        if due.saturating_duration_since(now) > policy.max_wait {
            return None;
        }
        rec.next_slot = due + delay;
        Some(due)
    }

    /// Counts one failed verification against `peer`.
    pub fn record_failure(&mut self, peer: Ipv6Addr, now: Instant) {
        let decay = self.policy.decay;
        if self.is_full() && !self.sources.contains_key(&source_key(peer)) {
            self.prune(now);
        }
        let rec = match self.existing(peer) {
            Some(rec) => rec,
            None => self.admit(peer, now),
        };
        rec.decay(decay, now);
        rec.failures = rec.failures.saturating_add(1);
    }

    /// Failures currently remembered for `peer`.
    pub fn failures(&mut self, peer: Ipv6Addr, now: Instant) -> u32 {
        let decay = self.policy.decay;
        self.existing(peer).map_or(0, |rec| {
            rec.decay(decay, now);
            rec.failures
        })
    }

    pub fn tracked_sources(&self) -> usize {
        self.sources.len()
    }

    fn is_full(&self) -> bool {
        self.sources.len() >= self.policy.max_sources
    }

    fn existing(&mut self, peer: Ipv6Addr) -> Option<&mut Record> {
        let key = source_key(peer);
        if self.sources.contains_key(&key) {
            return self.sources.get_mut(&key);
        }
        if self.is_full() {
            return self.overflow.as_mut();
        }
        None
    }

    fn prune(&mut self, now: Instant) {
        let decay = self.policy.decay;
        self.sources.retain(|_, r| {
            r.decay(decay, now);
            !r.is_idle(now)
        });
    }

    fn admit(&mut self, peer: Ipv6Addr, now: Instant) -> &mut Record {
        if self.is_full() {
            return self.overflow.get_or_insert_with(|| Record::new(now));
        }
        self.sources
            .entry(source_key(peer))
            .or_insert_with(|| Record::new(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(size: u64) -> FileIdentity {
        FileIdentity {
            dev: 1,
            ino: 2,
            size,
            mtime: (3, 4),
            ctime: (5, 6),
        }
    }

    fn cache(ttl_s: u64, cap: usize) -> SuccessCache {
        SuccessCache::with_key(&[7u8; 32], Duration::from_secs(ttl_s), cap)
    }

    #[test]
    fn key_depends_on_every_input() {
        let c = cache(300, 8);
        let base = c.key_for(0, &ident(10), "alice", b"pw");
        let variants = [
            c.key_for(1, &ident(10), "alice", b"pw"),
            c.key_for(0, &ident(11), "alice", b"pw"),
            c.key_for(0, &ident(10), "alicf", b"pw"),
            c.key_for(0, &ident(10), "alice", b"pX"),
            c.key_for(0, &ident(10), "alicep", b"w"),
            SuccessCache::with_key(&[8u8; 32], Duration::ZERO, 1).key_for(
                0,
                &ident(10),
                "alice",
                b"pw",
            ),
        ];
        for v in variants {
            assert_ne!(v, base);
        }
        assert_eq!(base, c.key_for(0, &ident(10), "alice", b"pw"));
    }

    #[test]
    fn random_keys_differ_per_start() {
        let a = SuccessCache::new(Duration::from_secs(1), 1).unwrap();
        let b = SuccessCache::new(Duration::from_secs(1), 1).unwrap();
        assert_ne!(
            a.key_for(0, &ident(1), "u", b"p"),
            b.key_for(0, &ident(1), "u", b"p")
        );
    }

    #[test]
    fn hit_until_ttl_then_miss() {
        let mut c = cache(300, 8);
        let t0 = Instant::now();
        let k = c.key_for(0, &ident(10), "alice", b"pw");
        assert!(!c.hit(&k, t0));
        c.insert(k, 0, t0);
        assert!(c.hit(&k, t0 + Duration::from_secs(299)));
        assert!(!c.hit(&k, t0 + Duration::from_secs(300)));
        assert!(c.is_empty());
    }

    #[test]
    fn changed_identity_misses_and_invalidation_frees() {
        let mut c = cache(300, 8);
        let t0 = Instant::now();
        let k0 = c.key_for(0, &ident(10), "alice", b"pw");
        let k1 = c.key_for(1, &ident(10), "alice", b"pw");
        c.insert(k0, 0, t0);
        c.insert(k1, 1, t0);
        assert!(!c.hit(&c.key_for(0, &ident(11), "alice", b"pw"), t0));
        c.invalidate_file(0);
        assert!(!c.hit(&k0, t0));
        assert!(c.hit(&k1, t0), "other files keep their entries");
    }

    #[test]
    fn size_is_bounded_oldest_dropped_first() {
        let mut c = cache(300, 3);
        let t0 = Instant::now();
        let keys: Vec<_> = (0..5u8)
            .map(|i| c.key_for(0, &ident(1), &format!("u{i}"), b"p"))
            .collect();
        for (i, k) in keys.iter().enumerate() {
            c.insert(*k, 0, t0 + Duration::from_secs(i as u64));
            assert!(c.len() <= 3);
        }
        let now = t0 + Duration::from_secs(5);
        let hits: Vec<bool> = keys.iter().map(|k| c.hit(k, now)).collect();
        assert_eq!(hits, [false, false, true, true, true]);
    }

    #[test]
    fn reinsert_after_expiry_is_not_evicted_by_stale_record() {
        let mut c = cache(10, 2);
        let t0 = Instant::now();
        let a = c.key_for(0, &ident(1), "a", b"p");
        let b = c.key_for(0, &ident(1), "b", b"p");
        c.insert(a, 0, t0);
        let t1 = t0 + Duration::from_secs(11);
        assert!(!c.hit(&a, t1));
        c.insert(a, 0, t1);
        c.insert(b, 0, t1);
        assert!(c.hit(&a, t1) && c.hit(&b, t1));
    }

    #[test]
    fn zero_capacity_disables_caching() {
        let mut c = cache(300, 0);
        let k = c.key_for(0, &ident(1), "a", b"p");
        c.insert(k, 0, Instant::now());
        assert!(!c.hit(&k, Instant::now()));
    }

    #[test]
    fn delay_grows_and_is_capped() {
        let p = FailurePolicy::default();
        let got: Vec<u64> = (0..8)
            .map(|n| p.delay_after(n).as_millis() as u64)
            .collect();
        assert_eq!(got, [0, 0, 250, 500, 1000, 2000, 2000, 2000]);
        assert_eq!(p.delay_after(u32::MAX), p.max_delay);
    }

    fn peer(s: &str) -> Ipv6Addr {
        super::super::protocol::peer_to_wire(s.parse().unwrap())
    }

    #[test]
    fn per_source_delay_grows_then_decays() {
        let mut t = FailureTable::new(FailurePolicy::default());
        let t0 = Instant::now();
        let a = peer("192.0.2.1");
        assert_eq!(t.schedule(a, t0), Some(t0));
        t.record_failure(a, t0);
        assert_eq!(t.schedule(a, t0), Some(t0), "first failure is free");
        t.record_failure(a, t0);
        assert_eq!(t.schedule(a, t0), Some(t0 + Duration::from_millis(250)));
        t.record_failure(a, t0);
        let later = t0 + Duration::from_secs(5);
        assert_eq!(
            t.schedule(a, later),
            Some(later + Duration::from_millis(500))
        );
        assert_eq!(
            t.schedule(peer("192.0.2.2"), t0),
            Some(t0),
            "other sources unaffected"
        );
        let quiet = t0 + Duration::from_secs(61);
        assert_eq!(t.failures(a, quiet), 1);
        assert_eq!(t.schedule(a, quiet), Some(quiet));
    }

    #[test]
    fn parallel_attempts_are_serialised_and_bounded() {
        let mut t = FailureTable::new(FailurePolicy::default());
        let t0 = Instant::now();
        let a = peer("2001:db8::1");
        for _ in 0..6 {
            t.record_failure(a, t0);
        }
        let dues: Vec<_> = (0..5).map(|_| t.schedule(a, t0)).collect();
        let secs: Vec<u64> = dues
            .iter()
            .map(|d| d.unwrap().duration_since(t0).as_secs())
            .collect();
        assert_eq!(secs, [2, 4, 6, 8, 10]);
        assert_eq!(
            t.schedule(a, t0),
            None,
            "beyond max_wait the source is refused"
        );
    }

    #[test]
    fn ipv6_sources_are_grouped_by_64() {
        let mut t = FailureTable::new(FailurePolicy::default());
        let t0 = Instant::now();
        t.record_failure(peer("2001:db8:1:2::1"), t0);
        t.record_failure(peer("2001:db8:1:2:ffff::9"), t0);
        assert_eq!(t.failures(peer("2001:db8:1:2::77"), t0), 2);
        assert_eq!(t.failures(peer("2001:db8:1:3::1"), t0), 0);
    }

    #[test]
    fn table_is_bounded_and_overflow_is_shared() {
        let policy = FailurePolicy {
            max_sources: 4,
            ..FailurePolicy::default()
        };
        let mut t = FailureTable::new(policy);
        let t0 = Instant::now();
        for i in 0..10 {
            t.record_failure(peer(&format!("198.51.100.{i}")), t0);
        }
        assert_eq!(t.tracked_sources(), 4);
        assert_eq!(
            t.failures(peer("198.51.100.9"), t0),
            6,
            "overflow shares one counter"
        );
        let quiet = t0 + Duration::from_secs(600);
        t.record_failure(peer("203.0.113.1"), quiet);
        assert_eq!(
            t.tracked_sources(),
            1,
            "decayed sources are pruned when full"
        );
        assert_eq!(t.failures(peer("203.0.113.1"), quiet), 1);
    }
}
