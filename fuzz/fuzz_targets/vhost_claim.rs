//! Feeds arbitrary bytes, as a run of messages from children, to the master's side of
//! `MaxClientsVHost` (what a child sends is a claim, not a fact). Decoding must never panic,
//! whatever decodes must encode back to itself, and the ledger must never grant a key more
//! slots than the limit of the claim that was granted, nor one child two slots.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneshot_httpd::handoff::vhost_slots::Claim;
use oneshot_httpd::master::vhost_slots::Ledger;

fuzz_target!(|data: &[u8]| {
    let mut ledger = Ledger::default();
    let mut holders = std::collections::BTreeSet::new();
    // Messages are separated by 0xff (never in a UTF-8 key); the first byte of each is the
    // child's pid (one in 256), and byte 0xfe in that place reaps the child named next.
    for msg in data.split(|b| *b == 0xff) {
        let Some((&pid, rest)) = msg.split_first() else {
            continue;
        };
        if pid == 0xfe {
            if let Some(&p) = rest.first() {
                ledger.release(nix::unistd::Pid::from_raw(i32::from(p)));
                holders.remove(&p);
            }
            continue;
        }
        let Some(c) = Claim::decode(rest) else {
            continue;
        };
        assert_eq!(Claim::decode(&c.encode()).as_ref(), Some(&c));
        if ledger.claim(nix::unistd::Pid::from_raw(i32::from(pid)), &c) {
            assert!(holders.insert(pid), "a child got two slots");
            assert!(ledger.count(&c.key) <= c.limit as usize, "more slots than the limit");
        }
    }
});
