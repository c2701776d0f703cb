//! The key holder: the only process that opens TLS private keys (after OpenBSD relayd's "ca"
//! process and h2o's neverbleed). Invariant I6: a connection child gets one signature, never
//! the key and never a signing oracle.
//!
//! Stage: TLS handshake, inside a connection child (client side) and in the key holder process
//! the master forks and supervises (server side, see `master::keyholder`).
//!
//! Invariants:
//! - Nothing is reachable by name. The master holds a `SOCK_SEQPACKET` control socket to the key
//!   holder ([`pair`]); for each child it is about to fork it makes a fresh socketpair, passes one
//!   end to the key holder with `SCM_RIGHTS` and gives the other to the child
//!   ([`Handle::new_channel`]), exactly as for the password verifier.
//! - **One signature per channel.** The key holder reads one request from a channel, answers it
//!   and closes the channel, whatever the answer: a second request on the same channel finds it
//!   closed. The child closes its end as soon as its handshake is over, before it reads a request.
//! - The key holder signs only messages of the shape a TLS server signs
//!   ([`protocol::classify`]), with a scheme that shape allows, with a key named by index.
//! - At start the key holder loads every key, checks it against its certificate's public key,
//!   and reports each key's algorithm and schemes (no secret) to the master ([`Ready`]); the
//!   master refuses to start when that fails.
#![deny(unsafe_code)]

pub mod client;
pub mod protocol;
pub mod server;

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recv, MsgFlags};

/// One key the key holder serves.
#[derive(Debug, Clone)]
pub struct KeySpec {
    /// `SSLCertificateKeyFile`; opened only by the key holder.
    pub path: PathBuf,
    /// The end-entity certificate (DER) whose public key the private key must match.
    pub certificate: Vec<u8>,
    /// Some vhost using this key enables TLS 1.2: ServerKeyExchange-shaped input is signed too.
    pub tls12: bool,
}

/// What the key holder tells the master about a key it loaded: public facts only.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyInfo {
    /// rustls `SignatureAlgorithm` as its TLS code point (1 RSA, 3 ECDSA, 7 Ed25519).
    pub algorithm: u8,
    /// The TLS SignatureScheme code points this key can sign with.
    pub schemes: Vec<u16>,
}

/// The key holder's first message on the control socket.
pub type Ready = Result<Vec<KeyInfo>, String>;

/// The master's side of the control socket.
#[derive(Debug)]
pub struct Handle {
    control: OwnedFd,
}

/// The key holder's side of the control socket.
#[derive(Debug)]
pub struct Endpoint {
    control: OwnedFd,
}

/// Creates the control socketpair, before forking the key holder.
pub fn pair() -> io::Result<(Handle, Endpoint)> {
    let (master, holder) = crate::verifier::seqpacket_pair()?;
    Ok((Handle { control: master }, Endpoint { control: holder }))
}

impl Handle {
    /// A fresh one-signature channel for one child. Fails when the key holder is gone or not
    /// keeping up; the master never blocks on it.
    pub fn new_channel(&self) -> io::Result<OwnedFd> {
        let (child_end, holder_end) = crate::verifier::seqpacket_pair()?;
        crate::verifier::send_fd(self.control.as_fd(), holder_end.as_fd())?;
        Ok(child_end)
    }

    /// Waits (at most `timeout`) for the key holder's report that its keys are loaded.
    pub fn wait_ready(&self, timeout: Duration) -> Ready {
        let until = Instant::now() + timeout;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("no report within {timeout:?}"));
            }
            let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(self.control.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(0) => continue,
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(format!("poll: {e}")),
            }
            return match recv(self.control.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
                Ok(0) => Err("it exited before loading its keys".into()),
                Ok(n) => decode_ready(buf.get(..n).unwrap_or_default()),
                Err(nix::errno::Errno::EAGAIN) => continue,
                Err(e) => Err(format!("recv: {e}")),
            };
        }
    }

    /// The control descriptor (children close it with every other master descriptor).
    pub fn control_fd(&self) -> RawFd {
        self.control.as_raw_fd()
    }
}

impl AsRawFd for Endpoint {
    fn as_raw_fd(&self) -> RawFd {
        self.control.as_raw_fd()
    }
}

impl Endpoint {
    /// Loads the keys, reports to the master, then serves until the master closes its end.
    /// Call in the forked, already confined key holder.
    pub fn serve(self, keys: &[KeySpec]) -> Result<(), server::ServeError> {
        server::run(self.control, keys)
    }
}

/// `R` then per key `algorithm u8 | n u8 | n × scheme u16`; or `E` and a UTF-8 message.
pub fn encode_ready(r: &Ready) -> Vec<u8> {
    match r {
        Ok(keys) => {
            let mut out = vec![b'R'];
            for k in keys {
                out.push(k.algorithm);
                let n = k.schemes.len().min(255);
                out.push(n as u8);
                for s in k.schemes.iter().take(n) {
                    out.extend_from_slice(&s.to_be_bytes());
                }
            }
            out
        }
        Err(m) => {
            let mut out = vec![b'E'];
            out.extend_from_slice(m.as_bytes());
            out
        }
    }
}

/// Parses what [`encode_ready`] makes.
pub fn decode_ready(buf: &[u8]) -> Ready {
    let Some((&tag, mut rest)) = buf.split_first() else {
        return Err("empty report".into());
    };
    match tag {
        b'E' => Err(String::from_utf8_lossy(rest).into_owned()),
        b'R' => {
            let mut keys = Vec::new();
            while let Some((&[algorithm, n], tail)) = rest.split_first_chunk::<2>() {
                let want = usize::from(n) * 2;
                let Some((schemes, tail)) = tail.split_at_checked(want) else {
                    return Err("truncated report".into());
                };
                keys.push(KeyInfo {
                    algorithm,
                    schemes: schemes
                        .chunks_exact(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect(),
                });
                rest = tail;
            }
            if rest.is_empty() {
                Ok(keys)
            } else {
                Err("truncated report".into())
            }
        }
        _ => Err("malformed report".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_round_trips() {
        for r in [
            Ok(vec![]),
            Ok(vec![
                KeyInfo {
                    algorithm: 3,
                    schemes: vec![0x0403],
                },
                KeyInfo {
                    algorithm: 1,
                    schemes: vec![0x0804, 0x0401],
                },
            ]),
            Err("cannot read /k: Permission denied".to_string()),
        ] {
            assert_eq!(decode_ready(&encode_ready(&r)), r);
        }
        assert!(decode_ready(b"R\x03\x02\x04").is_err());
        assert!(decode_ready(b"").is_err());
        assert!(decode_ready(b"X").is_err());
    }
}
