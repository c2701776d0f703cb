//! A child's whole life: accept one connection, serve it, exit. [`serve`] reads like the
//! pipeline: accept → read → parse → select vhost → (authenticate → decide) → confine →
//! handle → respond → log, repeated for keep-alive requests pinned to the first one's identity.

pub mod accept;
pub mod access_log;
pub mod authenticate;
pub mod confine;
pub mod decide;
pub mod read;
pub mod respond;
pub mod route;
pub mod vhost;

use crate::config::{Config, VHost};
use crate::handler;
use crate::http::request::{Body, Method, Request};
use crate::master::Inherited;
use crate::sys::{Linux, Sys};
use access_log::Entry;
use confine::Confined;
use read::{Conn, Outcome};
use respond::Response;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};

/// Entry point after fork. Never returns: the child exits when its connection ends.
pub fn run(cfg: &Config, inh: &Inherited, verifier: Option<OwnedFd>) -> ! {
    let code = match serve(cfg, inh, verifier) {
        Ok(()) => 0,
        Err(e) => {
            log::error!("{e}");
            1
        }
    };
    crate::sys::child_exit(code)
}

#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error("accept failed: {0}")]
    Accept(std::io::Error),
    #[error("cannot close inherited descriptors: {0}")]
    CloseFds(std::io::Error),
    #[error("cannot drop to the worker identity: {0}")]
    EarlyDrop(crate::sandbox::SandboxError),
}

/// The identity the connection was first served under; later requests must match it.
struct Pinned {
    host: Option<String>,
    authorization: Option<Vec<u8>>,
    user: Option<String>,
    rule: String,
    proof: Confined,
}

pub fn serve(
    cfg: &Config,
    inh: &Inherited,
    mut verifier: Option<OwnedFd>,
) -> Result<(), ChildError> {
    let accepted = accept::one(inh).map_err(ChildError::Accept)?;
    let mut keep: Vec<i32> = inh.access_logs.iter().map(|(f, _)| f.as_raw_fd()).collect();
    keep.extend(inh.error_log_fd);
    keep.extend([0, 1, 2, accepted.stream.as_raw_fd()]);
    let mut early_keep = keep.clone();
    early_keep.extend(verifier.as_ref().map(|v| v.as_raw_fd()));
    Linux
        .close_fds_except(&early_keep)
        .map_err(ChildError::CloseFds)?;
    if let Some(worker) = &inh.worker {
        crate::sandbox::early_drop(&Linux, worker).map_err(ChildError::EarlyDrop)?;
    }

    let peer = accepted.peer;
    let mut conn = Conn {
        stream: accepted.stream,
        buf: Vec::new(),
    };
    let mut pinned: Option<Pinned> = None;
    let mut served = 0usize;
    loop {
        let first_wait = if served == 0 {
            cfg.timeout
        } else {
            cfg.keep_alive_timeout
        };
        let req = match read::next(&mut conn, &cfg.limits.head, first_wait, cfg.timeout) {
            Outcome::Request(r) => r,
            Outcome::Idle => break,
            Outcome::Bad { status, line, why } => {
                log::info!("{peer}: {status} for a malformed request: {why}");
                finish_error(&mut conn, inh, peer, Response::error(status), &line, None);
                break;
            }
        };
        served += 1;
        let vhost = vhost::select(&cfg.vhosts, req.host.as_deref());
        if let Some(p) = &pinned {
            if !same_identity(p, &req) {
                // A different identity is never served by this process: close cleanly so the
                // client retries on a new connection and a fresh child.
                log::info!("{peer}: request with another Host or Authorization on a pinned connection; closing");
                break;
            }
        }
        let line = format!(
            "{} {} HTTP/1.{}",
            req.method.as_str(),
            req.target,
            req.minor_version
        );
        if pinned.is_none() {
            {
                let conf = request_conf(vhost, &req);
                let user = match authenticate::authenticate(
                    cfg,
                    &conf,
                    &req,
                    peer.ip(),
                    verifier.as_ref(),
                ) {
                    authenticate::Outcome::Anonymous => None,
                    authenticate::Outcome::User(u) => Some(u),
                    refused => {
                        let resp = refusal_response(refused);
                        let again = resp.status == 401 && req.keep_alive && cfg.keep_alive;
                        let again = again
                            && discard_body(&mut conn, &req, cfg.limits.body) == BodyFate::Clean;
                        let sent = respond::write(
                            &mut conn.stream,
                            resp,
                            req.method == Method::Head,
                            again,
                        );
                        let ok = sent.is_ok();
                        log_refusal(inh, peer, &req, &line, sent, "-");
                        if again && ok {
                            continue;
                        }
                        break;
                    }
                };
                let current = cfg
                    .confinement
                    .contains(&crate::sandbox::Backend::Selinux)
                    .then(|| Linux.selinux_getcon().ok())
                    .flatten();
                let identity = match decide::decide(
                    cfg,
                    &conf,
                    user.as_deref(),
                    peer.ip(),
                    current.as_deref(),
                ) {
                    Ok(i) => i,
                    Err(e) => {
                        log::warn!(target: "oneshot_httpd::audit", "{peer}: refused user={} host={}: {e}", user.as_deref().unwrap_or("-"), vhost.server_name());
                        finish_error(
                            &mut conn,
                            inh,
                            peer,
                            Response::error(403),
                            &line,
                            user.as_deref(),
                        );
                        break;
                    }
                };
                // Confinement closes every descriptor not kept, the verifier channel included;
                // closing it here through its owner keeps that owner from closing it twice.
                drop(verifier.take());
                let plan = confine::plan(cfg, vhost, &identity, inh.worker.as_ref(), keep.clone());
                match confine::enter(&plan) {
                    Ok(proof) => {
                        log::info!(target: "oneshot_httpd::audit", "{peer}: user={} entered {} by rule {}", user.as_deref().unwrap_or("-"), proof.describe(), identity.rule);
                        pinned = Some(Pinned {
                            host: req.host.clone(),
                            authorization: req.header("Authorization").map(<[u8]>::to_vec),
                            user,
                            rule: identity.rule,
                            proof,
                        });
                    }
                    Err(e) => {
                        log::error!("{peer}: confinement failed, refusing to serve: {e}");
                        finish_error(
                            &mut conn,
                            inh,
                            peer,
                            Response::error(500),
                            &line,
                            user.as_deref(),
                        );
                        break;
                    }
                }
            }
        };
        let Some(pin) = pinned.as_ref() else { break };
        let (proof, user, rule) = (&pin.proof, pin.user.clone(), pin.rule.clone());
        let fate = discard_body(&mut conn, &req, cfg.limits.body);
        let resp = match fate {
            BodyFate::Reject(status) => Response::error(status),
            BodyFate::Clean | BodyFate::CloseAfter => dispatch(proof, vhost, &req),
        };
        let keep_alive = fate == BodyFate::Clean
            && cfg.keep_alive
            && req.keep_alive
            && served < cfg.max_keep_alive_requests
            && resp.status < 500
            && resp.status != 400;
        let status = resp.status;
        let sent = respond::write(
            &mut conn.stream,
            resp,
            req.method == Method::Head,
            keep_alive,
        );
        access_log::write(
            &inh.access_logs,
            &Entry {
                peer: peer.ip(),
                user: user.as_deref(),
                request_line: &line,
                status,
                bytes: sent.as_ref().map(|s| s.body_bytes).unwrap_or(0),
                referer: req.header("Referer"),
                user_agent: req.header("User-Agent"),
                ctx: proof.describe(),
                rule: &rule,
            },
        );
        if sent.is_err() || !keep_alive {
            break;
        }
    }
    respond::linger_close(conn.stream);
    Ok(())
}

fn same_identity(p: &Pinned, req: &Request) -> bool {
    p.host == req.host && p.authorization.as_deref() == req.header("Authorization")
}

/// Routes a confined request to its handler.
fn dispatch(proof: &Confined, vhost: &VHost, req: &Request) -> Response {
    match req.method {
        Method::Get | Method::Head => {}
        Method::Options => return Response::new(200).header("Allow", "GET, HEAD, OPTIONS"),
        _ => return Response::error(405).header("Allow", "GET, HEAD, OPTIONS"),
    }
    if req.target == "*" {
        return Response::error(400);
    }
    match route::route(&req.path) {
        Ok(r) => handler::static_file::serve(proof, vhost, &r, req),
        Err(e) => Response::error(e.status()),
    }
}

/// What became of a request body the static handler does not want.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyFate {
    /// No body, or a small one read and dropped: the connection is still in step.
    Clean,
    /// Unread bytes remain: answer, then close.
    CloseAfter,
    /// Answer with this status instead, then close.
    Reject(u16),
}

/// A declared body over LimitRequestBody is 413; a small one is read and dropped so the
/// connection stays in step for keep-alive; a large or chunked one ends the connection.
fn discard_body(conn: &mut Conn, req: &Request, limit: u64) -> BodyFate {
    use std::io::Read;
    match req.body {
        Body::None => BodyFate::Clean,
        Body::Length(n) if limit > 0 && n > limit => BodyFate::Reject(413),
        Body::Length(n) if n <= 64 * 1024 && !req.expect_continue => {
            let have = conn.buf.len().min(n as usize);
            conn.buf.drain(..have);
            let want = n - have as u64;
            let mut rest = (&conn.stream).take(want);
            match std::io::copy(&mut rest, &mut std::io::sink()) {
                Ok(got) if got == want => BodyFate::Clean,
                _ => BodyFate::CloseAfter,
            }
        }
        Body::Length(_) | Body::Chunked => BodyFate::CloseAfter,
    }
}

/// The per-directory settings for a request: `<Directory>` sections matched against where
/// the URL maps beneath the DocumentRoot, `<Location>` sections against the URL.
fn request_conf(vhost: &VHost, req: &Request) -> crate::config::DirConf {
    let mut dir = vhost.document_root.clone();
    if let Ok(r) = route::route(&req.path) {
        let n = if r.trailing_slash {
            r.segments.len()
        } else {
            r.segments.len().saturating_sub(1)
        };
        dir.extend(&r.segments[..n]);
    }
    vhost.dir_conf(&dir, &req.path)
}

fn refusal_response(o: authenticate::Outcome) -> Response {
    use authenticate::Outcome as O;
    match o {
        O::Challenge(realm) => {
            Response::error(401).header("WWW-Authenticate", format!("Basic realm=\"{realm}\""))
        }
        O::Forbidden => Response::error(403),
        O::Unavailable => Response::error(503),
        O::Misconfigured | O::Anonymous | O::User(_) => Response::error(500),
    }
}

fn log_refusal(
    inh: &Inherited,
    peer: SocketAddr,
    req: &Request,
    line: &str,
    sent: std::io::Result<respond::Sent>,
    ctx: &str,
) {
    let (status, bytes) = sent.map(|s| (s.status, s.body_bytes)).unwrap_or((0, 0));
    access_log::write(
        &inh.access_logs,
        &Entry {
            peer: peer.ip(),
            user: None,
            request_line: line,
            status,
            bytes,
            referer: req.header("Referer"),
            user_agent: req.header("User-Agent"),
            ctx,
            rule: "-",
        },
    );
}

fn finish_error(
    conn: &mut Conn,
    inh: &Inherited,
    peer: SocketAddr,
    resp: Response,
    line: &str,
    user: Option<&str>,
) {
    let status = resp.status;
    let sent = respond::write(&mut conn.stream, resp, false, false);
    access_log::write(
        &inh.access_logs,
        &Entry {
            peer: peer.ip(),
            user,
            request_line: line,
            status,
            bytes: sent.map(|s| s.body_bytes).unwrap_or(0),
            referer: None,
            user_agent: None,
            ctx: "-",
            rule: if status == 403 { "refused" } else { "-" },
        },
    );
}
