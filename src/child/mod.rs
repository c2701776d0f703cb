//! A child's whole life: accept one connection, serve it, exit. [`serve`] reads like the
//! pipeline: accept → read → parse → select vhost → (authenticate → decide) → confine →
//! handle → respond → log, repeated for keep-alive requests pinned to the first one's identity.

pub mod accept;
pub mod access_log;
pub mod authenticate;
pub mod body;
pub mod confine;
pub mod decide;
pub mod read;
pub mod report;
pub mod respond;
pub mod route;
pub mod vhost;

use crate::config::{Config, VHost};
use crate::handler;
use crate::http::request::{Method, Request};
use crate::master::Inherited;
use crate::sys::{Linux, Sys};
use access_log::Entry;
use body::BodyFate;
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
    #[error("cannot set up the status channel to the master (dup or signalfd): {0}")]
    Status(std::io::Error),
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
    let accepted_at = std::time::Instant::now();
    let status = inh.status.try_clone().map_err(ChildError::Status)?;
    let status = report::install(status, inh.failing_logs.clone());
    // Until its first head is complete, the master may take this child's slot back.
    let mut reclaim = Some(crate::master::reclaim_signalfd().map_err(ChildError::Status)?);
    let mut keep: Vec<i32> = inh.access_logs.iter().map(|(f, _)| f.as_raw_fd()).collect();
    keep.extend(inh.error_log_fd);
    keep.push(status);
    keep.extend([0, 1, 2, accepted.stream.as_raw_fd()]);
    let mut early_keep = keep.clone();
    early_keep.extend(verifier.as_ref().map(|v| v.as_raw_fd()));
    early_keep.extend(reclaim.as_ref().map(|r| r.as_raw_fd()));
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
        let timer = read::HeadTimer {
            started: (served == 0).then_some(accepted_at),
            first_wait: if served == 0 {
                cfg.timeout
            } else {
                cfg.keep_alive_timeout
            },
            timeout: cfg.timeout,
            rate: cfg.request_read_timeout.header,
        };
        let req = match read::next(&mut conn, &cfg.limits.head, &timer, reclaim.as_ref()) {
            Outcome::Request(r) => {
                if reclaim.take().is_some() {
                    report::send(crate::master::status::Event::HeadComplete);
                }
                r
            }
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
                            && body::discard(
                                &mut conn,
                                &req,
                                cfg.limits.body,
                                body::BodyPace::of(cfg),
                            ) == BodyFate::Clean;
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
        let may_keep_alive =
            cfg.keep_alive && req.keep_alive && served < cfg.max_keep_alive_requests;
        let cx = handler::cgi::Context {
            cfg,
            vhost,
            peer,
            user: user.as_deref(),
            may_keep_alive,
        };
        let done = handle(proof, &cx, &mut conn, &req);
        access_log::write(
            &inh.access_logs,
            &Entry {
                peer: peer.ip(),
                user: user.as_deref(),
                request_line: &line,
                status: done.status,
                bytes: done.bytes,
                referer: req.header("Referer"),
                user_agent: req.header("User-Agent"),
                ctx: proof.describe(),
                rule: &rule,
            },
        );
        if !done.keep_alive {
            break;
        }
    }
    respond::linger_close(conn.stream);
    Ok(())
}

fn same_identity(p: &Pinned, req: &Request) -> bool {
    p.host == req.host && p.authorization.as_deref() == req.header("Authorization")
}

/// What one request came to, for the access log and the connection.
struct Handled {
    status: u16,
    bytes: u64,
    keep_alive: bool,
}

/// Most local redirects (a CGI program's `Location: /path`) followed for one request.
const MAX_LOCAL_REDIRECTS: usize = 10;

/// Serves one confined request: a CGI program if the URL names one, else the static handler;
/// a program's local redirect is served here too, as GET without a body, in the same process
/// and confinement.
fn handle(proof: &Confined, cx: &handler::cgi::Context, conn: &mut Conn, req: &Request) -> Handled {
    use handler::cgi::{self, Lookup};
    let (cfg, vhost) = (cx.cfg, cx.vhost);
    let mut redirected: Option<Request> = None;
    let mut may_keep_alive = cx.may_keep_alive;
    for _ in 0..=MAX_LOCAL_REDIRECTS {
        let cur = redirected.as_ref().unwrap_or(req);
        let found = match route::route(&cur.path) {
            Ok(r) if vhost.cgi_enabled() && cur.target != "*" => {
                cgi::lookup(cfg, vhost, &r, &cur.path)
            }
            _ => Lookup::NotCgi,
        };
        let script = match found {
            Lookup::NotCgi => {
                return respond_static(cx, conn, cur, may_keep_alive, dispatch(proof, vhost, cur))
            }
            Lookup::Refused(status) => {
                return respond_static(cx, conn, cur, false, Response::error(status))
            }
            Lookup::Script(s) => s,
        };
        let mut body = match body::BodyReader::new(cur, cfg.limits.body, body::BodyPace::of(cfg)) {
            Ok(b) => b,
            Err(e) => return respond_static(cx, conn, cur, false, Response::error(e.status())),
        };
        let run_cx = handler::cgi::Context {
            may_keep_alive,
            ..*cx
        };
        let out = cgi::run(proof, &run_cx, conn, cur, &mut body, script);
        let Some(location) = out.local_redirect else {
            return Handled {
                status: out.status,
                bytes: out.body_bytes,
                keep_alive: out.keep_alive,
            };
        };
        may_keep_alive = out.keep_alive;
        let next = local_redirect(cur, &location);
        if !same_authorization(&request_conf(vhost, req), &request_conf(vhost, &next)) {
            log::warn!(
                "[{}] cgi local redirect from {} to {location} refused: it crosses an authentication or identity boundary",
                vhost.server_name(),
                cur.path
            );
            return respond_static(cx, conn, &next, false, Response::error(403));
        }
        redirected = Some(next);
    }
    log::error!(
        "[{}] more than {MAX_LOCAL_REDIRECTS} local redirects for {}",
        vhost.server_name(),
        req.target
    );
    respond_static(cx, conn, req, false, Response::error(500))
}

/// The request a program's `Location: /path?query` asks for: GET (HEAD stays HEAD), no body.
fn local_redirect(orig: &Request, location: &str) -> Request {
    let (path, query) = match location.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (location.to_string(), None),
    };
    const BODY_FIELDS: &[&str] = &[
        "content-length",
        "content-type",
        "transfer-encoding",
        "expect",
    ];
    Request {
        method: if orig.method == Method::Head {
            Method::Head
        } else {
            Method::Get
        },
        target: location.to_string(),
        path,
        query,
        headers: orig
            .headers
            .iter()
            .filter(|(n, _)| !BODY_FIELDS.iter().any(|f| n.eq_ignore_ascii_case(f)))
            .cloned()
            .collect(),
        body: crate::http::request::Body::None,
        expect_continue: false,
        ..orig.clone()
    }
}

/// The connection's identity was chosen for the first request's authentication and identity
/// settings; a local redirect is served under it only if the target has the same ones.
fn same_authorization(a: &crate::config::DirConf, b: &crate::config::DirConf) -> bool {
    a.auth_basic == b.auth_basic
        && a.auth_user_file == b.auth_user_file
        && a.requires == b.requires
        && a.selinux_map == b.selinux_map
        && a.selinux_default == b.selinux_default
        && a.user_map == b.user_map
        && a.assign_user == b.assign_user
}

/// Answers with `resp` after dealing with the body the handler did not want.
fn respond_static(
    cx: &handler::cgi::Context,
    conn: &mut Conn,
    req: &Request,
    may_keep_alive: bool,
    resp: Response,
) -> Handled {
    let fate = body::discard(conn, req, cx.cfg.limits.body, body::BodyPace::of(cx.cfg));
    let resp = match fate {
        BodyFate::Reject(status) => Response::error(status),
        BodyFate::Clean | BodyFate::CloseAfter => resp,
    };
    let keep_alive =
        fate == BodyFate::Clean && may_keep_alive && resp.status < 500 && resp.status != 400;
    let status = resp.status;
    let sent = respond::write(
        &mut conn.stream,
        resp,
        req.method == Method::Head,
        keep_alive,
    );
    Handled {
        status,
        bytes: sent.as_ref().map(|s| s.body_bytes).unwrap_or(0),
        keep_alive: keep_alive && sent.is_ok(),
    }
}

/// Routes a confined request to the static handler.
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

/// The per-directory settings for a request: `<Directory>` sections matched against where
/// the URL maps beneath the DocumentRoot, `<Location>` sections against the URL.
/// A URL under a ScriptAlias maps into its target directory, so `<Directory>` sections
/// around CGI programs (Require, identity maps) apply to them.
fn request_conf(vhost: &VHost, req: &Request) -> crate::config::DirConf {
    let mut dir = vhost.document_root.clone();
    if let Ok(r) = route::route(&req.path) {
        let n = if r.trailing_slash {
            r.segments.len()
        } else {
            r.segments.len().saturating_sub(1)
        };
        let mut segs = &r.segments[..n];
        if let Some(a) = vhost
            .script_aliases
            .iter()
            .find(|a| r.segments.starts_with(&a.prefix))
        {
            dir = a.dir.clone();
            segs = segs.get(a.prefix.len()..).unwrap_or_default();
        }
        dir.extend(segs);
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
