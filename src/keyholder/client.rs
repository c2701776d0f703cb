//! The connection child's side: a rustls `SigningKey` whose one signature is made by the key
//! holder over the child's one-signature channel.
//!
//! Stage: TLS handshake, inside a connection child, in the worker identity.
//!
//! Invariants:
//! - The channel is taken out of its slot by the first `sign`, used once and dropped: the child
//!   itself cannot ask twice, and the key holder closes its end after answering anyway.
//! - Only an explicit `Signed` answer becomes a signature; anything else fails the handshake.
#![deny(unsafe_code)]

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recv, send, MsgFlags};
use rustls::sign::{Signer, SigningKey};
use rustls::{Error, SignatureAlgorithm, SignatureScheme};

use super::protocol::{self, Request, Response, MAX_RESPONSE};
use super::KeyInfo;

/// How long a child waits for its signature.
pub const SIGN_TIMEOUT: Duration = Duration::from_secs(5);

/// The child's one-signature channel, shared by the keys of every vhost it might choose.
pub type Channel = Arc<Mutex<Option<OwnedFd>>>;

/// A private key that lives in the key holder, named by index.
#[derive(Debug)]
pub struct RemoteKey {
    chan: Channel,
    key: u16,
    info: KeyInfo,
}

impl RemoteKey {
    pub fn new(chan: Channel, key: u16, info: KeyInfo) -> Self {
        RemoteKey { chan, key, info }
    }
}

impl SigningKey for RemoteKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        let scheme = self
            .info
            .schemes
            .iter()
            .map(|s| SignatureScheme::from(*s))
            .find(|s| offered.contains(s))?;
        Some(Box::new(RemoteSigner {
            chan: self.chan.clone(),
            key: self.key,
            scheme,
        }))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::from(self.info.algorithm)
    }
}

#[derive(Debug)]
struct RemoteSigner {
    chan: Channel,
    key: u16,
    scheme: SignatureScheme,
}

impl Signer for RemoteSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let chan = self
            .chan
            .lock()
            .ok()
            .and_then(|mut c| c.take())
            .ok_or_else(|| Error::General("the one-signature channel was already used".into()))?;
        sign_once(
            chan,
            self.key,
            u16::from(self.scheme),
            message,
            SIGN_TIMEOUT,
        )
        .map_err(Error::General)
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

/// Sends one request on `chan`, waits for its answer, and closes the channel.
pub fn sign_once(
    chan: OwnedFd,
    key: u16,
    scheme: u16,
    message: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    match ask(&chan, key, scheme, message, timeout)? {
        Response::Signed(sig) => Ok(sig),
        other => Err(format!("the key holder refused to sign: {other:?}")),
    }
}

/// One request and its answer, whatever it is (the tests use this to see refusals).
pub fn ask(
    chan: &OwnedFd,
    key: u16,
    scheme: u16,
    message: &[u8],
    timeout: Duration,
) -> Result<Response, String> {
    let wire = protocol::encode_request(&Request {
        key,
        scheme,
        message,
    })
    .ok_or("message too long for the key holder")?;
    send(chan.as_raw_fd(), &wire, MsgFlags::MSG_NOSIGNAL)
        .map_err(|e| format!("sending to the key holder: {e}"))?;
    let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(chan.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(ms)) {
        Ok(0) => return Err(format!("no answer from the key holder within {timeout:?}")),
        Ok(_) => {}
        Err(e) => return Err(format!("waiting for the key holder: {e}")),
    }
    let mut buf = [0u8; MAX_RESPONSE + 1];
    let n = recv(chan.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT)
        .map_err(|e| format!("reading the key holder's answer: {e}"))?;
    if n == 0 {
        return Err("the key holder closed the channel".into());
    }
    protocol::decode_response(buf.get(..n).unwrap_or_default()).map_err(|e| e.to_string())
}
