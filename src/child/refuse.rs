//! Stage: answer a refused or unreadable request, the same way everywhere: the error-log line
//! in Apache's words (so fail2ban's stock `apache-auth` filter and admins' habits work), the
//! response, and the access-log line.

use super::access_log::{self, escape, Entry};
use super::admit::{Reason, Refusal};
use super::decide;
use crate::config::Config;
use crate::handoff::Inherited;
use crate::http::body::{self, BodyFate};
use crate::http::read::Conn;
use crate::http::request::{Method, Request};
use crate::http::response::{self, Response};
use std::net::SocketAddr;

/// Where the refusal happens, for its log lines.
pub struct Scene<'a> {
    pub cfg: &'a Config,
    pub inh: &'a Inherited,
    pub peer: SocketAddr,
    /// `ctx=` of the access line: what this process is confined to, `-` before confinement.
    pub ctx: &'a str,
}

impl<'a> Scene<'a> {
    pub fn new(cfg: &'a Config, inh: &'a Inherited, peer: SocketAddr, ctx: &'a str) -> Self {
        Scene {
            cfg,
            inh,
            peer,
            ctx,
        }
    }
}

/// Logs and answers `refusal` for `req`. Returns whether the connection may carry on: only
/// after a 401 or 403 the client asked to keep open, once any body was read off cleanly.
pub fn refuse(
    scene: &Scene,
    conn: &mut Conn,
    req: &Request,
    refusal: &Refusal,
    may_keep_alive: bool,
) -> bool {
    log_reason(scene.peer, &req.path, &refusal.reason);
    let mut resp = Response::error(refusal.status);
    if let Some(realm) = &refusal.realm {
        resp = resp.header("WWW-Authenticate", challenge(realm));
    }
    if let Reason::Redirected {
        location: Some(l), ..
    } = &refusal.reason
    {
        resp = resp.header("Location", l.clone());
    }
    // ErrorDocument: a message or a URL here; a local path the caller could not serve
    // (`child::refusal_document`) leaves the built-in page.
    let resp = match super::errordoc::page(&refusal.error_documents, resp) {
        super::errordoc::Page::Send(r) => r,
        super::errordoc::Page::Redirect { page, .. } => page,
    };
    let resp = resp.with_rules(&refusal.headers);
    let redirect = matches!(refusal.reason, Reason::Redirected { .. });
    let again = may_keep_alive
        && (matches!(refusal.status, 401 | 403) || redirect)
        && body::discard(
            conn,
            req,
            scene.cfg.limits.body,
            body::BodyPace::of(scene.cfg),
        ) == BodyFate::Clean;
    let sent = response::write(&mut conn.stream, resp, req.method == Method::Head, again);
    let user = match &refusal.reason {
        Reason::PasswordMismatch { user }
        | Reason::UnknownUser { user }
        | Reason::UserNotAllowed { user } => Some(user.as_str()),
        Reason::NoIdentity { user, .. } => user.as_deref(),
        _ => None,
    };
    let ok = sent.is_ok();
    access_line(scene, req, refusal.status, sent, user);
    again && ok
}

/// A 401's `WWW-Authenticate` value for `realm`.
pub fn challenge(realm: &str) -> String {
    let realm = realm.replace('\\', "\\\\").replace('"', "\\\"");
    format!("Basic realm=\"{realm}\"")
}

/// Answers a request that could not be read or parsed (`line` is what the access log shows of
/// it), then the connection closes.
pub fn malformed(scene: &Scene, conn: &mut Conn, status: u16, line: &str) {
    let sent = response::write(&mut conn.stream, Response::error(status), false, false);
    let (status, bytes, head_bytes) = sent
        .map(|s| (s.status, s.body_bytes, s.head_bytes))
        .unwrap_or((0, 0, 0));
    access_log::write(
        scene.cfg,
        scene.inh,
        &Entry {
            peer: scene.peer,
            vhost: None,
            req: None,
            user: None,
            request_line: line,
            status,
            bytes,
            head_bytes,
            headers_out: &[],
            keep_alive: false,
            ctx: scene.ctx,
            rule: "-",
        },
    );
}

/// Answers a request admitted but not servable here (its confinement failed): 500, close.
pub fn failed(scene: &Scene, conn: &mut Conn, req: &Request, user: Option<&str>) {
    let sent = response::write(&mut conn.stream, Response::error(500), false, false);
    access_line(scene, req, 500, sent, user);
}

fn access_line(
    scene: &Scene,
    req: &Request,
    status: u16,
    sent: std::io::Result<response::Sent>,
    user: Option<&str>,
) {
    let bytes = sent.as_ref().map(|s| s.body_bytes).unwrap_or(0);
    let head_bytes = sent.as_ref().map(|s| s.head_bytes).unwrap_or(0);
    let status = if sent.is_ok() { status } else { 0 };
    access_log::write(
        scene.cfg,
        scene.inh,
        &Entry {
            peer: scene.peer,
            vhost: None,
            req: Some(req),
            user,
            request_line: &request_line(req),
            status,
            bytes,
            head_bytes,
            headers_out: &[],
            keep_alive: false,
            ctx: scene.ctx,
            rule: "refused",
        },
    );
}

/// The request line as the access log shows it.
pub fn request_line(req: &Request) -> String {
    format!(
        "{} {} HTTP/1.{}",
        req.method.as_str(),
        req.target,
        req.minor_version
    )
}

/// Apache's `[client IP:PORT]` (no brackets around an IPv6 address).
fn client(peer: SocketAddr) -> String {
    format!("[client {}:{}]", peer.ip(), peer.port())
}

/// The error-log line for a refusal, with Apache's module tag and message number where Apache
/// has one. Client-supplied text (user names, the path) is escaped as in the access log.
pub fn log_reason(peer: SocketAddr, path: &str, reason: &Reason) {
    let c = client(peer);
    let uri = escape(path.as_bytes());
    let esc = |s: &str| escape(s.as_bytes());
    match reason {
        Reason::NoCredentials { detail } => {
            log::debug!(target: "oneshot_httpd::auth_basic", "{c} {detail}: {uri}")
        }
        Reason::WrongScheme => {
            log::error!(target: "oneshot_httpd::auth_basic", "{c} AH01614: client used wrong authentication scheme: {uri}")
        }
        Reason::PasswordMismatch { user } => {
            log::error!(target: "oneshot_httpd::auth_basic", "{c} AH01617: user {}: authentication failure for \"{uri}\": Password Mismatch", esc(user))
        }
        Reason::UnknownUser { user } => {
            log::error!(target: "oneshot_httpd::auth_basic", "{c} AH01618: user {} not found: {uri}", esc(user))
        }
        Reason::DeniedByConfiguration { path } => {
            let path = escape(path.as_os_str().as_encoded_bytes());
            log::error!(target: "oneshot_httpd::authz_core", "{c} AH01630: client denied by server configuration: {path}")
        }
        Reason::UserNotAllowed { user } => {
            log::error!(target: "oneshot_httpd::authz_core", "{c} AH01631: user {}: authorization failure for \"{uri}\": ", esc(user))
        }
        Reason::NoIdentity {
            user,
            vhost,
            why,
            maps,
        } => {
            let who = user
                .as_deref()
                .map(|u| format!("user {}", esc(u)))
                .unwrap_or_else(|| "anonymous".into());
            let maps = if maps.is_empty() {
                "no map".to_string()
            } else {
                let names: Vec<String> = maps.iter().map(|m| m.display().to_string()).collect();
                format!("map {}", names.join(", "))
            };
            match why {
                decide::Refusal::NoRule(_) => {
                    log::error!(target: "oneshot_httpd::identity", "{c} ONESHOT0001: no identity rule for {who} in vhost {vhost} ({maps}, no vhost default): {uri}")
                }
                _ => {
                    log::error!(target: "oneshot_httpd::identity", "{c} ONESHOT0002: the identity chosen for {who} in vhost {vhost} ({maps}) cannot be used: {why}: {uri}")
                }
            }
        }
        Reason::VerifierUnavailable(e) => {
            log::error!(target: "oneshot_httpd::auth_basic", "{c} password verifier unavailable, answering 503: {e}: {uri}")
        }
        Reason::Redirected { location } => {
            let to = location.as_deref().map(&esc).unwrap_or_default();
            log::debug!(target: "oneshot_httpd::alias", "{c} redirected: {uri} {to}")
        }
        Reason::VHostFull { key } => {
            log::warn!(target: "oneshot_httpd::mpm_itk", "{c} MaxClientsVhost reached for {}, refusing client: {uri}", esc(key))
        }
        Reason::Misconfigured(why) => {
            log::error!(target: "oneshot_httpd::auth_basic", "{c} {why}: {uri}")
        }
        Reason::Misdirected(super::vhost::Misdirected::OtherVhost { host, session }) => {
            log::error!(target: "oneshot_httpd::ssl", "{c} AH02032: Hostname {} provided via HTTP is not the virtual host {} the TLS session was established for (SNI): {uri}", esc(host), esc(session))
        }
        Reason::Misdirected(super::vhost::Misdirected::NoSni { vhost }) => {
            log::error!(target: "oneshot_httpd::ssl", "{c} AH02033: No hostname was provided via SNI for a name based virtual host ({}, SSLStrictSNIVHostCheck On): {uri}", esc(vhost))
        }
    }
}
