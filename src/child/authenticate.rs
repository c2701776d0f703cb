//! Stage: authenticate the request (HTTP Basic) as the effective `Require` lines demand.
//! Credentials go to the verifier process over this child's private channel; the child
//! never opens a password file. Decoded credentials are wiped when dropped.

use crate::auth::{self, Access};
use crate::config::{Config, DirConf};
use crate::http::request::Request;
use crate::verifier::{self, VerifierError};
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::time::Duration;

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Anonymous,
    User(String),
    /// 401 with a Basic challenge for this realm.
    Challenge(String),
    /// 403.
    Forbidden,
    /// 503: the verifier cannot answer; never a grant.
    Unavailable,
    /// 500: the configuration asks for a user but gives no way to authenticate one.
    Misconfigured,
}

/// How long a child waits for the verifier before answering 503.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(10);

pub fn authenticate(
    cfg: &Config,
    conf: &DirConf,
    req: &Request,
    peer: IpAddr,
    chan: Option<&OwnedFd>,
) -> Outcome {
    let reqs = conf.requires.as_deref().unwrap_or(&[]);
    match auth::evaluate(reqs, None, peer) {
        Access::Granted => return Outcome::Anonymous,
        Access::Denied => return Outcome::Forbidden,
        Access::NeedAuth => {}
    }
    let realm = conf
        .auth_name
        .clone()
        .unwrap_or_else(|| "Restricted".into());
    let (Some(true), Some(file)) = (conf.auth_basic, conf.auth_user_file.as_ref()) else {
        log::error!(
            "Require needs a user, but AuthType Basic with an AuthUserFile is not configured here"
        );
        return Outcome::Misconfigured;
    };
    let Some(header) = req.header("Authorization") else {
        return Outcome::Challenge(realm);
    };
    let creds = match auth::parse_authorization(header) {
        Ok(c) => c,
        Err(e) => {
            log::info!("{peer}: malformed credentials: {e}");
            return Outcome::Challenge(realm);
        }
    };
    let Some(index) = cfg.password_files.iter().position(|f| f == file) else {
        return Outcome::Misconfigured;
    };
    let Some(chan) = chan else {
        return Outcome::Unavailable;
    };
    match verifier::verify(
        chan,
        index as u16,
        peer,
        &creds.user,
        creds.password(),
        VERIFY_TIMEOUT,
    ) {
        Ok(true) => {}
        Ok(false) => {
            log::info!("{peer}: wrong password for user '{}'", creds.user);
            return Outcome::Challenge(realm);
        }
        Err(VerifierError::Unavailable(e)) => {
            log::error!("{peer}: password verifier unavailable: {e}");
            return Outcome::Unavailable;
        }
        Err(e) => {
            log::info!("{peer}: credentials refused by the verifier: {e}");
            return Outcome::Challenge(realm);
        }
    }
    match auth::evaluate(reqs, Some(&creds.user), peer) {
        Access::Granted => Outcome::User(creds.user.clone()),
        Access::NeedAuth | Access::Denied => Outcome::Forbidden,
    }
}
