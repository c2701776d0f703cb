//! Stage: admission, made for **every** request on a connection (invariant I1), pipelined or
//! sequential: virtual host → per-directory configuration (`<Directory>`/`<Location>` merge)
//! → the `.ht*` rule → `Require` → authentication when `Require` asks for a user → `Require`
//! again with the user → identity (map rule, else vhost default, else refuse).
//!
//! Pure but for the password check, which goes through [`CheckCredentials`]: the connection's
//! verifier channel in the child, a table in the tests. Nothing here looks at what the process
//! is confined to; the caller compares the admitted identity with it and closes the connection
//! when they differ (the client then retries on a fresh child).
#![forbid(unsafe_code)]

use super::decide::{self, Identity};
use super::{route, vhost};
use crate::auth::{self, Access};
use crate::config::{Config, DirConf, VHost};
use crate::http::request::Request;
use std::net::SocketAddr;
use std::path::PathBuf;

/// What the password check said about one user/password pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Valid,
    /// The user exists in the file; the password is wrong.
    Mismatch,
    /// The user is not in the file.
    UnknownUser,
    /// The verifier cannot answer now (503, never a grant).
    Unavailable(String),
    /// This process can no longer ask (its verifier channel was closed at confinement) and has
    /// not verified these exact credentials before.
    CannotAsk,
}

/// The password check admission needs. `authorization` is the raw header, so an implementation
/// may answer a byte-identical header it already verified on this connection without asking.
pub trait CheckCredentials {
    fn check(&mut self, file: u16, authorization: &[u8], user: &str, password: &[u8]) -> Check;
}

/// A request that may be served, and in which identity.
#[derive(Debug)]
pub struct Admitted<'c> {
    pub vhost: &'c VHost,
    pub conf: DirConf,
    /// The authenticated user, None for anonymous.
    pub user: Option<String>,
    pub identity: Identity,
}

/// Why a request is answered with a refusal, in the terms the error log uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// `Require` wants a user and the request has no (usable) Basic credentials: 401, logged
    /// only at debug level (browsers send this first on every protected page).
    NoCredentials { detail: String },
    /// AH01614, an Authorization header of another scheme than Basic: 401.
    WrongScheme,
    /// AH01617: 401.
    PasswordMismatch { user: String },
    /// AH01618: 401.
    UnknownUser { user: String },
    /// AH01630, `Require` denies the client whoever it is (or the `.ht*` rule): 403.
    DeniedByConfiguration { path: PathBuf },
    /// AH01631, the verified user does not satisfy `Require`: 403.
    UserNotAllowed { user: String },
    /// No map rule and no vhost default: 403.
    NoIdentity {
        user: Option<String>,
        vhost: String,
        why: decide::Refusal,
        maps: Vec<PathBuf>,
    },
    /// The verifier cannot answer: 503.
    VerifierUnavailable(String),
    /// `Require` asks for a user where no way to authenticate one is configured: 500.
    Misconfigured(String),
}

/// A refusal: its status, the Basic realm for a 401, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub realm: Option<String>,
    pub reason: Reason,
}

#[derive(Debug)]
pub enum Admission<'c> {
    Admit(Box<Admitted<'c>>),
    Refuse(Box<Refusal>),
    /// This process cannot decide: new credentials after its verifier channel was closed.
    NeedsFreshProcess,
}

/// Admits `req` from `peer`. `current_context` is the worker's SELinux context, from which a
/// mapped target inherits what it does not name (when SELinux is required).
pub fn admit<'c>(
    cfg: &'c Config,
    req: &Request,
    peer: SocketAddr,
    creds: &mut dyn CheckCredentials,
    current_context: Option<&str>,
) -> Admission<'c> {
    let vhost = vhost::select(&cfg.vhosts, req.host.as_deref());
    let (fs_path, conf) = request_conf(vhost, req);
    if is_ht_file(&req.path) {
        return refuse(403, None, Reason::DeniedByConfiguration { path: fs_path });
    }
    let user = match authorize(cfg, &conf, req, peer, creds, &fs_path) {
        Ok(user) => user,
        Err(stop) => return stop,
    };
    match decide::decide(cfg, &conf, user.as_deref(), peer.ip(), current_context) {
        Ok(identity) => Admission::Admit(Box::new(Admitted {
            vhost,
            conf,
            user,
            identity,
        })),
        Err(why) => {
            let maps = [conf.selinux_map.clone(), conf.user_map.clone()]
                .into_iter()
                .flatten()
                .collect();
            refuse(
                403,
                None,
                Reason::NoIdentity {
                    user,
                    vhost: vhost.server_name().to_string(),
                    why,
                    maps,
                },
            )
        }
    }
}

fn refuse<'c>(status: u16, realm: Option<String>, reason: Reason) -> Admission<'c> {
    Admission::Refuse(Box::new(Refusal {
        status,
        realm,
        reason,
    }))
}

/// `Require` and, when it asks for one, the user: `Ok(None)` anonymous, `Ok(Some(user))`
/// verified, else the refusal, or `NeedsFreshProcess` when only a fresh process could verify.
fn authorize(
    cfg: &Config,
    conf: &DirConf,
    req: &Request,
    peer: SocketAddr,
    creds: &mut dyn CheckCredentials,
    fs_path: &std::path::Path,
) -> Result<Option<String>, Admission<'static>> {
    let reqs = conf.requires.as_deref().unwrap_or(&[]);
    let no = |status, realm, reason| Err(refuse(status, realm, reason));
    match auth::evaluate(reqs, None, peer.ip()) {
        Access::Granted => return Ok(None),
        Access::Denied => {
            let path = fs_path.to_path_buf();
            return no(403, None, Reason::DeniedByConfiguration { path });
        }
        Access::NeedAuth => {}
    }
    let (Some(true), Some(file)) = (conf.auth_basic, conf.auth_user_file.as_ref()) else {
        let why =
            "Require needs a user, but AuthType Basic with an AuthUserFile is not configured here";
        return no(500, None, Reason::Misconfigured(why.into()));
    };
    let Some(index) = cfg
        .password_files
        .iter()
        .position(|f| f == file)
        .and_then(|i| u16::try_from(i).ok())
    else {
        let why = format!(
            "AuthUserFile {} is not known to the verifier",
            file.display()
        );
        return no(500, None, Reason::Misconfigured(why));
    };
    let realm = Some(
        conf.auth_name
            .clone()
            .unwrap_or_else(|| "Restricted".into()),
    );
    let Some(header) = req.header("Authorization") else {
        let detail = "no Authorization header".to_string();
        return no(401, realm, Reason::NoCredentials { detail });
    };
    let parsed = match auth::parse_authorization(header) {
        Ok(c) => c,
        Err(auth::BasicError::NotBasic) => return no(401, realm, Reason::WrongScheme),
        Err(e) => {
            let detail = format!("unusable Authorization header: {e}");
            return no(401, realm, Reason::NoCredentials { detail });
        }
    };
    let user = parsed.user.clone();
    match creds.check(index, header, &user, parsed.password()) {
        Check::Valid => {}
        Check::Mismatch => return no(401, realm, Reason::PasswordMismatch { user }),
        Check::UnknownUser => return no(401, realm, Reason::UnknownUser { user }),
        Check::Unavailable(e) => return no(503, None, Reason::VerifierUnavailable(e)),
        Check::CannotAsk => return Err(Admission::NeedsFreshProcess),
    }
    match auth::evaluate(reqs, Some(&user), peer.ip()) {
        Access::Granted => Ok(Some(user)),
        Access::NeedAuth | Access::Denied => no(403, None, Reason::UserNotAllowed { user }),
    }
}

/// Apache's stock `<Files ".ht*"> Require all denied`, for every vhost; here any path segment
/// (still percent-encoded: `%2e` for the dot is decoded first) starting with `.ht` is denied, so
/// a file inside a `.ht*` directory is refused as well.
fn is_ht_file(path: &str) -> bool {
    match route::route(path) {
        Ok(r) => r.segments.iter().any(|s| s.starts_with(".ht")),
        Err(_) => false,
    }
}

/// Where the URL maps on disk, and the per-directory settings for it: `<Directory>` sections
/// matched against that path beneath the DocumentRoot (or a ScriptAlias target, so sections
/// around CGI programs apply to them), `<Location>` sections against the URL.
pub fn request_conf(vhost: &VHost, req: &Request) -> (PathBuf, DirConf) {
    let mut dir = vhost.document_root.clone();
    let mut file = None;
    if let Ok(r) = route::route(&req.path) {
        let n = if r.trailing_slash {
            r.segments.len()
        } else {
            r.segments.len().saturating_sub(1)
        };
        let mut segs = r.segments.get(..n).unwrap_or_default();
        if let Some(a) = vhost
            .script_aliases
            .iter()
            .find(|a| r.segments.starts_with(&a.prefix))
        {
            dir = a.dir.clone();
            segs = segs.get(a.prefix.len()..).unwrap_or_default();
        }
        dir.extend(segs);
        if !r.trailing_slash {
            file = r.segments.last().cloned();
        }
    }
    let conf = vhost.dir_conf(&dir, &req.path);
    let fs_path = match file {
        Some(f) => dir.join(f),
        None => dir,
    };
    (fs_path, conf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ht_rule_table() {
        for (path, denied) in [
            ("/.htpasswd", true),
            ("/.htaccess", true),
            ("/sub/.htfoo", true),
            ("/%2ehtpasswd", true),
            ("/.ht/x", true),
            ("/.git/config", false),
            ("/x.htpasswd", false),
            ("/ht", false),
            ("/", false),
        ] {
            assert_eq!(is_ht_file(path), denied, "{path}");
        }
    }
}
