//! `AuthBasicProvider pam`: what the verifier makes of a PAM transaction (mod_authnz_pam's
//! rules), and the identity its success cache keys PAM answers on.
//!
//! Stage: authentication, inside the confined verifier. The transaction itself is
//! `sys::pam::authenticate` (`pam_authenticate`, then `pam_acct_mgmt`).
//!
//! Invariants:
//! - `Yes` only when both `pam_authenticate` and `pam_acct_mgmt` returned `PAM_SUCCESS`: a
//!   locked, expired or must-change-password account is refused.
//! - `PAM_USER_UNKNOWN` from `pam_authenticate` is "user not found" (the next provider is
//!   asked); every other refusal is "wrong password" (the providers stop), as mod_authnz_pam.
//! - A failure of the machinery (no such module, no memory, PAM cannot reach its data) is
//!   `Unavailable` (503), never a grant and never a 401 that would look like a wrong password.
#![forbid(unsafe_code)]

use std::ffi::c_int;
use std::net::Ipv6Addr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use libpam_sys as pam;
use log::{info, warn};

use super::cache::FileIdentity;
use super::protocol::Verdict;
use crate::sys::pam::{authenticate, strerror, Outcome};

/// What `pam_authenticate` and `pam_acct_mgmt` returned, as a verdict (pure).
pub fn verdict(authenticate: c_int, account: Option<c_int>) -> Verdict {
    match (authenticate, account) {
        (pam::PAM_SUCCESS, Some(pam::PAM_SUCCESS)) => Verdict::Yes,
        (pam::PAM_SUCCESS, Some(code)) => refusal(code, Verdict::No),
        // Authentication succeeded but nothing asked the account: not a grant.
        (pam::PAM_SUCCESS, None) => Verdict::Unavailable,
        (pam::PAM_USER_UNKNOWN, _) => Verdict::UnknownUser,
        (code, _) => refusal(code, Verdict::No),
    }
}

/// A refusing code: `no` when it is about these credentials or this account, `Unavailable`
/// when PAM itself could not decide.
fn refusal(code: c_int, no: Verdict) -> Verdict {
    match code {
        pam::PAM_AUTH_ERR
        | pam::PAM_PERM_DENIED
        | pam::PAM_CRED_INSUFFICIENT
        | pam::PAM_MAXTRIES
        | pam::PAM_ACCT_EXPIRED
        | pam::PAM_NEW_AUTHTOK_REQD
        | pam::PAM_AUTHTOK_EXPIRED
        | pam::PAM_CRED_EXPIRED
        // Our conversation refused a prompt it cannot answer (a one-time code, a new
        // password): these credentials alone cannot log in.
        | pam::PAM_CONV_ERR
        | pam::PAM_USER_UNKNOWN => no,
        _ => Verdict::Unavailable,
    }
}

/// Asks PAM service `service` about `user`/`password` from `peer` (its `PAM_RHOST`).
pub fn check(service: &str, user: &str, password: &[u8], peer: Ipv6Addr) -> Verdict {
    let rhost = peer.to_canonical().to_string();
    let outcome = match authenticate(service, user, password, &rhost) {
        Ok(o) => o,
        Err(crate::sys::pam::StartError::Nul("password")) => return Verdict::No,
        Err(e) => {
            warn!("verifier: PAM service {service}: {e}");
            return Verdict::Unavailable;
        }
    };
    let v = verdict(outcome.authenticate, outcome.account);
    log_outcome(service, user, &outcome, v);
    v
}

fn log_outcome(service: &str, user: &str, o: &Outcome, v: Verdict) {
    for m in &o.messages {
        info!("verifier: PAM service {service}: user {user}: module says {m:?}");
    }
    if let Some(p) = &o.refused_prompt {
        info!("verifier: PAM service {service}: user {user}: the conversation refused {p}");
    }
    let code = o.account.filter(|_| o.authenticate == pam::PAM_SUCCESS);
    let (step, code) = match code {
        Some(c) => ("pam_acct_mgmt", c),
        None => ("pam_authenticate", o.authenticate),
    };
    match v {
        Verdict::Yes => {}
        Verdict::Unavailable => warn!(
            "verifier: PAM service {service}: user {user}: {step}: {}",
            strerror(code)
        ),
        _ => info!(
            "verifier: PAM service {service}: user {user}: {step}: {}",
            strerror(code)
        ),
    }
}

/// What a PAM answer depends on that the verifier can see change: the service's file in
/// /etc/pam.d, /etc/passwd and /etc/shadow (`passwd -l`, `chpasswd`, `usermod -e` rewrite
/// one of them). The success cache keys on it, so a locked account or a changed password is
/// not served from the cache. Folded into one [`FileIdentity`]; a missing file counts as zeros.
pub fn identity(service: &str) -> FileIdentity {
    let files = [
        Path::new("/etc/pam.d").join(service),
        "/etc/passwd".into(),
        "/etc/shadow".into(),
    ];
    let mut id = FileIdentity {
        dev: 0,
        ino: 0,
        size: 0,
        mtime: (0, 0),
        ctime: (0, 0),
    };
    for (i, f) in files.iter().enumerate() {
        let Ok(m) = std::fs::metadata(f) else {
            continue;
        };
        id.dev ^= m.dev().rotate_left(i as u32 * 21);
        id.ino ^= m.ino().rotate_left(i as u32 * 21);
        id.size = id.size.wrapping_add(m.size());
        id.mtime = id.mtime.max((m.mtime(), m.mtime_nsec()));
        id.ctime = id.ctime.max((m.ctime(), m.ctime_nsec()));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From pam_authenticate(3) and pam_acct_mgmt(3), and mod_authnz_pam's mapping
    /// (PAM_USER_UNKNOWN → AUTH_USER_NOT_FOUND, other failures → AUTH_DENIED).
    #[test]
    fn verdict_table() {
        let rows: &[(c_int, Option<c_int>, Verdict)] = &[
            (pam::PAM_SUCCESS, Some(pam::PAM_SUCCESS), Verdict::Yes),
            (pam::PAM_AUTH_ERR, None, Verdict::No),
            (pam::PAM_USER_UNKNOWN, None, Verdict::UnknownUser),
            (pam::PAM_MAXTRIES, None, Verdict::No),
            (pam::PAM_CRED_INSUFFICIENT, None, Verdict::No),
            (pam::PAM_CONV_ERR, None, Verdict::No),
            (pam::PAM_AUTHINFO_UNAVAIL, None, Verdict::Unavailable),
            (pam::PAM_SYSTEM_ERR, None, Verdict::Unavailable),
            (pam::PAM_BUF_ERR, None, Verdict::Unavailable),
            (pam::PAM_ABORT, None, Verdict::Unavailable),
            (pam::PAM_SERVICE_ERR, None, Verdict::Unavailable),
            // A locked or expired account, or one whose password must be changed first.
            (pam::PAM_SUCCESS, Some(pam::PAM_ACCT_EXPIRED), Verdict::No),
            (
                pam::PAM_SUCCESS,
                Some(pam::PAM_NEW_AUTHTOK_REQD),
                Verdict::No,
            ),
            (
                pam::PAM_SUCCESS,
                Some(pam::PAM_AUTHTOK_EXPIRED),
                Verdict::No,
            ),
            (pam::PAM_SUCCESS, Some(pam::PAM_PERM_DENIED), Verdict::No),
            (pam::PAM_SUCCESS, Some(pam::PAM_AUTH_ERR), Verdict::No),
            // Known to authenticate, unknown to the account stack: still no.
            (pam::PAM_SUCCESS, Some(pam::PAM_USER_UNKNOWN), Verdict::No),
            (
                pam::PAM_SUCCESS,
                Some(pam::PAM_SYSTEM_ERR),
                Verdict::Unavailable,
            ),
            (pam::PAM_SUCCESS, None, Verdict::Unavailable),
        ];
        for (a, b, want) in rows {
            assert_eq!(verdict(*a, *b), *want, "{a} {b:?}");
        }
    }

    #[test]
    fn identity_changes_with_the_service_file() {
        let a = identity("oneshot-no-such-service-a");
        assert_eq!(a, identity("oneshot-no-such-service-b"));
        if Path::new("/etc/pam.d/other").exists() {
            assert_ne!(identity("other"), a);
        }
    }
}
