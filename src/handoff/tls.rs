//! The TLS part of the contract across the fork: the master hands a freshly forked child its
//! own one-signature channel to the key holder and the keys' public facts ([`Handoff`]); the
//! child holds them in a process-wide slot until its handshake takes them ([`take`]) or a
//! plain connection drops them ([`discard`]). Invariant I6: the channel is the child's only
//! way to the private keys, and it never outlives the handshake (`child::tls::establish`).

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};

use crate::keyholder::KeyInfo;

/// What the master gives a child for TLS: its one-signature channel and the keys' public facts.
pub struct Handoff {
    pub channel: OwnedFd,
    pub keys: Arc<Vec<KeyInfo>>,
}

static HANDOFF: Mutex<Option<Handoff>> = Mutex::new(None);

/// Called once in a freshly forked child, before `child::run`.
pub fn install(h: Option<Handoff>) {
    if let Ok(mut slot) = HANDOFF.lock() {
        *slot = h;
    }
}

/// The channel's descriptor, so isolation keeps it until the handshake.
pub fn handoff_fd() -> Option<RawFd> {
    HANDOFF.lock().ok()?.as_ref().map(|h| h.channel.as_raw_fd())
}

/// Takes the handoff for the handshake; None when none was installed (or already taken).
pub fn take() -> Option<Handoff> {
    HANDOFF.lock().ok().and_then(|mut h| h.take())
}

/// Closes the channel unused (a plain connection).
pub fn discard() {
    drop(take());
}
