//! A child's whole life: accept one connection, serve it, exit. [`serve`] reads like the
//! pipeline: accept → read → parse → select vhost → (authenticate → decide) → confine →
//! handle → respond → log, repeated for keep-alive requests pinned to the first one's identity.

pub mod accept;
pub mod access_log;
pub mod confine;
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
use std::os::fd::AsRawFd;

/// Entry point after fork. Never returns: the child exits when its connection ends.
pub fn run(cfg: &Config, inh: &Inherited) -> ! {
    let code = match serve(cfg, inh) {
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
}

/// The identity the connection was first served under; later requests must match it.
struct Pinned {
    host: Option<String>,
    authorization: Option<Vec<u8>>,
    proof: Confined,
}

pub fn serve(cfg: &Config, inh: &Inherited) -> Result<(), ChildError> {
    let accepted = accept::one(inh).map_err(ChildError::Accept)?;
    let mut keep: Vec<i32> = inh.access_logs.iter().map(|(f, _)| f.as_raw_fd()).collect();
    keep.extend(inh.error_log_fd);
    keep.extend([0, 1, 2, accepted.stream.as_raw_fd()]);
    Linux
        .close_fds_except(&keep)
        .map_err(ChildError::CloseFds)?;

    let peer = accepted.peer;
    let mut conn = Conn {
        stream: accepted.stream,
        buf: Vec::new(),
    };
    let limits = crate::http::request::Limits {
        request_line: cfg.limits.request_line,
        field_size: cfg.limits.field_size,
        fields: cfg.limits.fields,
    };
    let mut pinned: Option<Pinned> = None;
    let mut served = 0usize;
    loop {
        let first_wait = if served == 0 {
            cfg.timeout
        } else {
            cfg.keep_alive_timeout
        };
        let req = match read::next(&mut conn, &limits, first_wait, cfg.timeout) {
            Outcome::Request(r) => r,
            Outcome::Idle => break,
            Outcome::Bad { status, line, why } => {
                log::info!("{peer}: {status} for a malformed request: {why}");
                finish_error(&mut conn, inh, peer, status, &line);
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
        let proof = match &pinned {
            Some(p) => &p.proof,
            None => match confine::enter(&confine::plan(cfg, vhost, keep.clone())) {
                Ok(proof) => {
                    let p = pinned.insert(Pinned {
                        host: req.host.clone(),
                        authorization: req.header("Authorization").map(<[u8]>::to_vec),
                        proof,
                    });
                    &p.proof
                }
                Err(e) => {
                    log::error!("{peer}: confinement failed, refusing to serve: {e}");
                    finish_error(&mut conn, inh, peer, 500, &req.target);
                    break;
                }
            },
        };
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
        let line = format!(
            "{} {} HTTP/1.{}",
            req.method.as_str(),
            req.target,
            req.minor_version
        );
        access_log::write(
            &inh.access_logs,
            &Entry {
                peer: peer.ip(),
                user: None,
                request_line: &line,
                status,
                bytes: sent.as_ref().map(|s| s.body_bytes).unwrap_or(0),
                referer: req.header("Referer"),
                user_agent: req.header("User-Agent"),
                ctx: proof.describe(),
                rule: "-",
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

fn finish_error(conn: &mut Conn, inh: &Inherited, peer: SocketAddr, status: u16, line: &str) {
    let sent = respond::write(&mut conn.stream, Response::error(status), false, false);
    access_log::write(
        &inh.access_logs,
        &Entry {
            peer: peer.ip(),
            user: None,
            request_line: line,
            status,
            bytes: sent.map(|s| s.body_bytes).unwrap_or(0),
            referer: None,
            user_agent: None,
            ctx: "-",
            rule: "-",
        },
    );
}
