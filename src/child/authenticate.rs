//! Stage: the connection's password check, for admission. Credentials go to the verifier
//! process over this child's private channel; the child never opens a password file.
//!
//! The channel lives until the child confines itself (closing it is part of confinement:
//! a handler can never ask the verifier anything). After that, only an `Authorization` header
//! byte-identical to one the verifier accepted on this connection, for the same password file,
//! is still known valid; any other credentials need a fresh process.

use super::admit::{Check, CheckCredentials};
use crate::verifier::{self, Answer, VerifierError};
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::time::Duration;
use zeroize::Zeroizing;

/// How long a child waits for the verifier before answering 503.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Verifier {
    chan: Option<OwnedFd>,
    peer: IpAddr,
    /// (password file, raw Authorization header) the verifier said yes to; wiped on drop.
    accepted: Vec<(u16, Zeroizing<Vec<u8>>)>,
}

impl Verifier {
    pub fn new(chan: Option<OwnedFd>, peer: IpAddr) -> Self {
        Verifier {
            chan,
            peer,
            accepted: Vec::new(),
        }
    }

    /// Closes the channel (before confinement, which would otherwise close the descriptor
    /// behind its owner's back).
    pub fn close(&mut self) {
        self.chan = None;
    }
}

impl CheckCredentials for Verifier {
    fn check(&mut self, file: u16, authorization: &[u8], user: &str, password: &[u8]) -> Check {
        if self
            .accepted
            .iter()
            .any(|(f, h)| *f == file && h.as_slice() == authorization)
        {
            return Check::Valid;
        }
        let Some(chan) = self.chan.as_ref() else {
            return Check::CannotAsk;
        };
        match verifier::ask(chan, file, self.peer, user, password, VERIFY_TIMEOUT) {
            Ok(Answer::Yes) => {
                self.accepted
                    .push((file, Zeroizing::new(authorization.to_vec())));
                Check::Valid
            }
            Ok(Answer::Mismatch) => Check::Mismatch,
            Ok(Answer::UnknownUser) => Check::UnknownUser,
            Err(VerifierError::Unavailable(e)) => Check::Unavailable(e.to_string()),
            // The verifier refused the question itself (a user name it cannot take): as a
            // wrong password for the client, with the reason in the log.
            Err(e) => {
                log::info!("{}: credentials refused by the verifier: {e}", self.peer);
                Check::Mismatch
            }
        }
    }
}
