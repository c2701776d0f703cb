//! The key holder's single-threaded poll loop.
//!
//! Stage: runs inside the forked, confined key holder process for its whole life.
//!
//! Invariants:
//! - Keys are loaded once, at start, before the loop; each is checked against its certificate.
//! - A channel carries one request: it is read once, answered once, and closed (dropped) right
//!   after, whatever the answer, so a child gets at most one signature per channel.
//! - A request is signed only if its message has a TLS server signature shape
//!   ([`protocol::classify`]) that the key accepts and its scheme fits that shape and the key.
//! - Channels are capped at [`MAX_CHANNELS`]; a channel whose peer hung up is dropped.
#![deny(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recv, send, MsgFlags};
use rustls::sign::{CertifiedKey, SigningKey};
use rustls::SignatureScheme;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;

use super::protocol::{self, Response, Shape, MAX_REQUEST};
use super::{encode_ready, KeyInfo, KeySpec};
use crate::verifier::{recv_fd, ControlMsg};

/// More simultaneous channels than any sane child pool; beyond it new ones are closed.
pub const MAX_CHANNELS: usize = 4096;

#[derive(Debug, Error)]
pub enum ServeError {
    #[error("key holder: {0}")]
    Load(String),
    #[error("key holder: poll(2) failed: {0}")]
    Poll(Errno),
    #[error("key holder: receiving from the control socket failed: {0}")]
    Control(io::Error),
}

/// A loaded key and what it may sign.
pub struct Loaded {
    key: Arc<dyn SigningKey>,
    tls12: bool,
}

/// Every scheme rustls knows, to ask a key which it supports.
const ALL_SCHEMES: &[SignatureScheme] = &[
    SignatureScheme::ECDSA_NISTP256_SHA256,
    SignatureScheme::ECDSA_NISTP384_SHA384,
    SignatureScheme::ECDSA_NISTP521_SHA512,
    SignatureScheme::ED25519,
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PSS_SHA384,
    SignatureScheme::RSA_PSS_SHA512,
    SignatureScheme::RSA_PKCS1_SHA256,
    SignatureScheme::RSA_PKCS1_SHA384,
    SignatureScheme::RSA_PKCS1_SHA512,
];

/// Reads and parses one key file and checks it against its certificate.
pub fn load_key(spec: &KeySpec) -> Result<Loaded, String> {
    let path = spec.path.display();
    let pem = zeroize::Zeroizing::new(
        crate::config::file::read_regular(&spec.path)
            .map_err(|e| format!("cannot read {path}: {e}"))?,
    );
    let der = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| format!("{path}: no private key in PEM form: {e}"))?;
    let key = rustls::crypto::ring::sign::any_supported_type(&der)
        .map_err(|e| format!("{path}: unsupported private key: {e}"))?;
    let certified = CertifiedKey::new(
        vec![CertificateDer::from(spec.certificate.clone())],
        key.clone(),
    );
    certified
        .keys_match()
        .map_err(|e| format!("{path}: does not belong to its SSLCertificateFile: {e}"))?;
    Ok(Loaded {
        key,
        tls12: spec.tls12,
    })
}

/// What a loaded key can do, for the master.
pub fn info(l: &Loaded) -> KeyInfo {
    KeyInfo {
        algorithm: u8::from(l.key.algorithm()),
        schemes: ALL_SCHEMES
            .iter()
            .filter(|s| l.key.choose_scheme(&[**s]).is_some())
            .map(|s| u16::from(*s))
            .collect(),
    }
}

/// The decision for one request datagram. Pure but for the signing itself.
pub fn answer(keys: &[Loaded], datagram: &[u8]) -> Response {
    let Ok(req) = protocol::decode_request(datagram) else {
        return Response::BadRequest;
    };
    let Some(loaded) = keys.get(usize::from(req.key)) else {
        return Response::BadRequest;
    };
    let shape = match protocol::classify(req.message) {
        Some(s @ Shape::Tls13CertificateVerify { .. }) => s,
        Some(s @ Shape::Tls12ServerKeyExchange { .. }) if loaded.tls12 => s,
        _ => return Response::BadShape,
    };
    if !protocol::scheme_allowed_for(shape, req.scheme) {
        return Response::BadScheme;
    }
    let scheme = SignatureScheme::from(req.scheme);
    let Some(signer) = loaded.key.choose_scheme(&[scheme]) else {
        return Response::BadScheme;
    };
    if signer.scheme() != scheme {
        return Response::BadScheme;
    }
    match signer.sign(req.message) {
        Ok(sig) => Response::Signed(sig),
        Err(_) => Response::Unavailable,
    }
}

/// Loads every key, reports to the master, then serves channels until the master goes away.
pub fn run(control: OwnedFd, specs: &[KeySpec]) -> Result<(), ServeError> {
    let loaded: Result<Vec<Loaded>, String> = specs.iter().map(load_key).collect();
    let report = loaded
        .as_ref()
        .map(|ks| ks.iter().map(info).collect())
        .map_err(Clone::clone);
    let _ = send(
        control.as_raw_fd(),
        &encode_ready(&report),
        MsgFlags::MSG_NOSIGNAL,
    );
    let keys = loaded.map_err(ServeError::Load)?;
    log::info!("key holder: {} key(s) loaded", keys.len());
    serve(control, &keys)
}

fn serve(control: OwnedFd, keys: &[Loaded]) -> Result<(), ServeError> {
    let mut channels: Vec<OwnedFd> = Vec::new();
    loop {
        let (control_ev, ready) = {
            let mut fds = Vec::with_capacity(channels.len() + 1);
            fds.push(PollFd::new(control.as_fd(), PollFlags::POLLIN));
            fds.extend(
                channels
                    .iter()
                    .map(|c| PollFd::new(c.as_fd(), PollFlags::POLLIN)),
            );
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(ServeError::Poll(e)),
            }
            let ev: Vec<bool> = fds
                .iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect();
            (ev.first().copied().unwrap_or(false), ev)
        };
        // Serve ready channels, newest first so indices stay valid while removing.
        for i in (0..channels.len()).rev() {
            if ready.get(i + 1).copied().unwrap_or(false) {
                let chan = channels.swap_remove(i);
                serve_once(&chan, keys);
                // `chan` is dropped here: one request per channel, whatever happened.
            }
        }
        if control_ev {
            match recv_fd(control.as_fd()) {
                Ok(ControlMsg::Channel(c)) if channels.len() < MAX_CHANNELS => channels.push(c),
                Ok(ControlMsg::Channel(_)) => log::warn!("key holder: too many channels"),
                Ok(ControlMsg::Garbage) => {}
                Ok(ControlMsg::Closed) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ServeError::Control(e)),
            }
        }
    }
}

/// Reads the one request a channel may carry and answers it. A hung-up channel reads 0 bytes
/// and gets nothing.
fn serve_once(chan: &OwnedFd, keys: &[Loaded]) {
    let mut buf = [0u8; MAX_REQUEST + 1];
    let n = match recv(
        chan.as_raw_fd(),
        &mut buf,
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC,
    ) {
        Ok(0) | Err(_) => return,
        Ok(n) => n,
    };
    let resp = match buf.get(..n) {
        Some(d) if n <= MAX_REQUEST => answer(keys, d),
        _ => Response::BadRequest,
    };
    match &resp {
        Response::Signed(_) => log::debug!("key holder: signed one handshake"),
        other => log::warn!("key holder: refused a signature request: {other:?}"),
    }
    let _ = send(
        chan.as_raw_fd(),
        &protocol::encode_response(&resp),
        MsgFlags::MSG_NOSIGNAL | MsgFlags::MSG_DONTWAIT,
    );
    let _ = nix::sys::socket::shutdown(chan.as_raw_fd(), nix::sys::socket::Shutdown::Both);
}
