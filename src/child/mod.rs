//! A child's whole life: accept one connection, serve it, exit. [`serve`] reads like the
//! pipeline: accept → isolate → for each request { read → admit → confine once → handle →
//! log }. Every request is admitted on its own (invariant I1); the process confines itself
//! at the first admitted request and serves a later one only if its admission chose exactly
//! that confinement (I2); otherwise it closes without answering and the client retries on a
//! fresh process. Refusals (401, 403, 503) are answered in any state.

pub mod accept;
pub mod access_log;
pub mod admit;
pub mod authenticate;
pub mod certvars;
pub mod confine;
pub mod decide;
pub mod errordoc;
pub mod filters;
pub mod front;
mod handle;
pub mod refuse;
pub mod report;
pub mod tls;
pub mod vhost;
pub mod vhost_slot;

use crate::config::{Config, VHost};
use crate::handler;
use crate::handoff::{isolation, Inherited};
use crate::http::body::{self, BodyFate};
use crate::http::read::{self, Conn, Outcome};
use crate::http::request::{Method, Request};
use crate::http::response::{self, Response};
use crate::http::route;
use crate::sandbox;
use crate::sys::{Linux, Sys};
use access_log::Entry;
use admit::Admission;
use confine::Confined;
use handle::{handle, Handled};
use handler::static_file::Served;
use nix::sys::signalfd::SignalFd;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Entry point after fork. Never returns: the child exits when its connection ends.
/// `category`: the MCS category the master gave this child (`selinuxConnectionCategories`).
pub fn run(cfg: &Config, inh: &Inherited, verifier: Option<OwnedFd>, category: Option<u16>) -> ! {
    let code = match serve(cfg, inh, verifier, category) {
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
    #[error("cannot isolate the connection: {0}")]
    Isolate(crate::sandbox::SandboxError),
}

pub fn serve(
    cfg: &Config,
    inh: &Inherited,
    verifier: Option<OwnedFd>,
    category: Option<u16>,
) -> Result<(), ChildError> {
    let accepted = accept::one(inh).map_err(ChildError::Accept)?;
    let started = std::time::Instant::now();
    let Isolated { keep, mut reclaim } = isolate(cfg, inh, &accepted, &verifier)?;
    // PROXY header and TLS handshake; the peer is the proxied client from here on.
    let Some(front::Front { peer, on }) = front::open(cfg, &accepted) else {
        return Ok(());
    };
    access_log::connection(accepted.peer, accepted.local, on);
    let mut gate = Gate::new(cfg, inh, peer, verifier, keep, category, on);
    let mut conn = Conn {
        stream: accepted.stream,
        buf: Vec::new(),
    };
    let (mut confined, mut served): (Option<Confined>, usize) = (None, 0);
    loop {
        served += 1;
        let ctx = confined
            .as_ref()
            .map_or("-", Confined::describe)
            .to_string();
        let scene = refuse::Scene::new(cfg, inh, peer, &ctx);
        let Some(req) = next_request(&scene, &mut conn, served, started, &mut reclaim) else {
            break;
        };
        if !serve_one(&scene, &mut gate, &mut confined, &mut conn, &req, served) {
            break;
        }
    }
    handler::fcgi::close_kept();
    response::linger_close(conn.stream);
    tls::finish();
    Ok(())
}

/// A refusal whose scope has `ErrorDocument STATUS /local/path`: the document is admitted as
/// a request of its own (I1) and served in the identity this process has, or, when it is not
/// confined yet, the one the document's admission chooses (I2), with the refusal's status;
/// then the connection closes, so no later request meets that identity. False when it is not
/// served (refused, another identity, confinement failed): the built-in refusal goes out.
fn refusal_document(
    scene: &refuse::Scene,
    gate: &mut Gate,
    confined: &mut Option<Confined>,
    conn: &mut Conn,
    req: &Request,
    r: &admit::Refusal,
) -> bool {
    use crate::config::errordoc::{find_in, ErrorDocument};
    let Some(ErrorDocument::Local(url)) = find_in(&r.error_documents, r.status) else {
        return false;
    };
    let next = errordoc::request(req, url);
    let a = match gate.admit(&next) {
        Admission::Admit(a) => a,
        Admission::Refuse(_) | Admission::NeedsFreshProcess => {
            log::warn!(
                "{}: ErrorDocument {} {url} for {} is not admitted itself: sending the built-in page",
                scene.peer,
                r.status,
                req.path
            );
            return false;
        }
    };
    if gate.slot.check(a.vhost, confined.is_some()) != vhost_slot::Verdict::Go {
        return false;
    }
    let plan = gate.plan(&a);
    let Some(proof) = confine_once(confined, &plan, gate, &a) else {
        return false;
    };
    if !proof.serves(&plan) {
        log::warn!(
            "{}: ErrorDocument {} {url} for {} needs {}, this process is {}: sending the built-in page",
            scene.peer,
            r.status,
            req.path,
            confine::describe(&plan),
            proof.describe()
        );
        return false;
    }
    refuse::log_reason(scene.peer, &req.path, &r.reason);
    let fields: Vec<(std::borrow::Cow<'static, str>, String)> = (r.realm.as_ref())
        .map(|realm| ("WWW-Authenticate".into(), refuse::challenge(realm)))
        .into_iter()
        .collect();
    let cx = handler::cgi::Context {
        cfg: scene.cfg,
        vhost: a.vhost,
        peer: scene.peer,
        user: a.user.as_deref(),
        may_keep_alive: false,
        error: Some(errordoc::Original {
            status: r.status,
            req,
            fields: &fields,
        }),
    };
    let done = handle(proof, &cx, conn, &next, &mut |n| gate.admits_into(n, proof));
    log_served(
        scene,
        a.vhost,
        req,
        &done,
        a.user.as_deref(),
        &a.identity.rule,
        proof,
    );
    true
}

/// One request, its head read: admit -> confine once -> handle -> log. Whether the
/// connection goes on to its next request.
fn serve_one(
    scene: &refuse::Scene,
    gate: &mut Gate,
    confined: &mut Option<Confined>,
    conn: &mut Conn,
    req: &Request,
    served: usize,
) -> bool {
    let cfg = scene.cfg;
    route_errors(cfg, scene.inh, req, gate.on);
    let may_keep_alive = cfg.keep_alive && req.keep_alive && served < cfg.max_keep_alive_requests;
    let (admitted, plan) = match gate.admit(req) {
        Admission::Admit(a) => {
            let plan = gate.plan(&a);
            (a, plan)
        }
        Admission::Refuse(r) => {
            if refusal_document(scene, gate, confined, conn, req, &r) {
                return false;
            }
            return refuse::refuse(scene, conn, req, &r, may_keep_alive);
        }
        Admission::NeedsFreshProcess => {
            gate.closing(req, "new credentials after confinement");
            return false;
        }
    };
    match gate.slot.check(admitted.vhost, confined.is_some()) {
        vhost_slot::Verdict::Go => {}
        vhost_slot::Verdict::Full { key } => {
            let full = admit::Refusal {
                status: 503,
                realm: None,
                reason: admit::Reason::VHostFull { key },
                headers: admitted.conf.headers.clone(),
                error_documents: admitted.conf.error_documents.clone(),
            };
            return refuse::refuse(scene, conn, req, &full, false);
        }
        vhost_slot::Verdict::FreshProcess(why) => {
            gate.closing(req, why);
            return false;
        }
    }
    let Some(proof) = confine_once(confined, &plan, gate, &admitted) else {
        refuse::failed(scene, conn, req, admitted.user.as_deref());
        return false;
    };
    if !proof.serves(&plan) {
        let why = format!(
            "it needs {}, this process is {}",
            confine::describe(&plan),
            proof.describe()
        );
        gate.closing(req, &why);
        return false;
    }
    let cx = handler::cgi::Context {
        cfg,
        vhost: admitted.vhost,
        peer: scene.peer,
        user: admitted.user.as_deref(),
        may_keep_alive,
        error: None,
    };
    let done = handle(proof, &cx, conn, req, &mut |next| {
        gate.admits_into(next, proof)
    });
    log_served(
        scene,
        admitted.vhost,
        req,
        &done,
        admitted.user.as_deref(),
        &admitted.identity.rule,
        proof,
    );
    done.keep_alive
}

/// Admission for this connection: what every request is checked with.
struct Gate<'a> {
    cfg: &'a Config,
    inh: &'a Inherited,
    peer: SocketAddr,
    creds: authenticate::Verifier,
    /// The worker's SELinux context, which mapped targets complete; read before confinement.
    worker_ctx: Option<String>,
    /// Descriptors confinement keeps.
    keep: Vec<i32>,
    /// The MCS category the master gave this connection (`selinuxConnectionCategories`).
    category: Option<u16>,
    /// Plain or TLS (and for which vhost): which vhosts a request may select.
    on: vhost::On,
    /// `MaxClientsVHost`: the claim channel and the slot this process holds.
    slot: vhost_slot::VHostSlot,
}

impl<'a> Gate<'a> {
    fn new(
        cfg: &'a Config,
        inh: &'a Inherited,
        peer: SocketAddr,
        verifier: Option<OwnedFd>,
        keep: Vec<i32>,
        category: Option<u16>,
        on: vhost::On,
    ) -> Self {
        let worker_ctx = cfg
            .confinement
            .contains(&crate::sandbox::Backend::Selinux)
            .then(|| Linux.selinux_getcon().ok())
            .flatten();
        let creds = authenticate::Verifier::new(verifier, peer.ip());
        Gate {
            cfg,
            inh,
            peer,
            creds,
            worker_ctx,
            keep,
            category,
            on,
            slot: vhost_slot::VHostSlot::new(crate::handoff::vhost_slots::take()),
        }
    }

    fn admit(&mut self, req: &Request) -> Admission<'a> {
        admit::admit(
            self.cfg,
            req,
            self.peer,
            &mut self.creds,
            self.worker_ctx.as_deref(),
            self.category,
            self.on,
        )
    }

    fn plan(&self, a: &admit::Admitted) -> sandbox::Plan {
        let worker = self.inh.worker.as_ref();
        confine::plan(self.cfg, a.vhost, &a.identity, worker, self.keep.clone())
    }

    /// Whether `req` (a program's local redirect) is admitted into exactly `proof`'s plan.
    fn admits_into(&mut self, req: &Request, proof: &Confined) -> bool {
        match self.admit(req) {
            Admission::Admit(a) => proof.serves(&self.plan(&a)),
            Admission::Refuse(_) | Admission::NeedsFreshProcess => false,
        }
    }

    /// The request is not answered here: the connection closes and the client retries it on a
    /// fresh process.
    fn closing(&self, req: &Request, why: &str) {
        let peer = self.peer;
        log::info!(
            "{peer}: not serving {} here ({why}); closing so the client retries on a fresh process",
            req.path
        );
    }
}

/// The error lines of this request go to its virtual host's `ErrorLog`, if it has one.
fn route_errors(cfg: &Config, inh: &Inherited, req: &Request, on: vhost::On) {
    let own = vhost::select_on(cfg, req.host.as_deref(), on)
        .ok()
        .and_then(|v| v.error_log)
        .and_then(|i| inh.vhost_error_logs.get(i))
        .cloned();
    crate::logging::route(own);
}

/// What the connection keeps through confinement, and the master's reclaim signal.
struct Isolated {
    keep: Vec<i32>,
    reclaim: Option<SignalFd>,
}

/// Before the first byte is read: only the descriptors this connection needs stay open; the
/// child gets its own keyring and namespaces and becomes non-dumpable (`isolation`), and a
/// root master's child drops to `User` at once (the verifier channel stays until confinement).
fn isolate(
    cfg: &Config,
    inh: &Inherited,
    accepted: &accept::Accepted,
    verifier: &Option<OwnedFd>,
) -> Result<Isolated, ChildError> {
    let status = inh.status.try_clone().map_err(ChildError::Status)?;
    let status = report::install(status, inh.failing_logs.clone());
    // Until its first head is complete, the master may take this child's slot back.
    let reclaim = Some(crate::handoff::reclaim_signalfd().map_err(ChildError::Status)?);
    let mut keep: Vec<i32> = inh.access_logs.iter().map(|(f, _)| f.as_raw_fd()).collect();
    keep.extend(inh.error_log_fd);
    keep.extend(inh.vhost_error_logs.iter().map(|f| f.as_raw_fd()));
    keep.push(status);
    keep.extend([0, 1, 2, accepted.stream.as_raw_fd()]);
    let mut early_keep = keep.clone();
    early_keep.extend(verifier.as_ref().map(|v| v.as_raw_fd()));
    // The MaxClientsVHost claim channel lives until confinement (`vhost_slot`).
    early_keep.extend(crate::handoff::vhost_slots::channel_fd());
    early_keep.extend(reclaim.as_ref().map(|r| r.as_raw_fd()));
    // The key holder channel lives until the handshake (`front`), never into confinement.
    early_keep.extend(crate::handoff::tls::handoff_fd());
    Linux
        .close_fds_except(&early_keep)
        .map_err(ChildError::CloseFds)?;
    // Namespaces need CAP_SYS_ADMIN, which a root master's child has only before the early
    // drop; an unprivileged master's child uses a user namespace instead.
    isolation::enter(cfg).map_err(ChildError::Isolate)?;
    if let Some(worker) = &inh.worker {
        crate::sandbox::early_drop(&Linux, worker).map_err(ChildError::EarlyDrop)?;
    }
    Ok(Isolated { keep, reclaim })
}

/// The next request head, or None when the connection is done (idle, closed, or a malformed
/// request that was answered).
fn next_request(
    scene: &refuse::Scene,
    conn: &mut Conn,
    served: usize,
    accepted_at: std::time::Instant,
    reclaim: &mut Option<SignalFd>,
) -> Option<Request> {
    let cfg = scene.cfg;
    // HOOK(fcgi): a FastCGI connection kept from the last request holds a php-fpm worker;
    // it is let go when the client is idle (the time spent is taken off KeepAliveTimeout).
    let idle = handler::fcgi::release_when_idle(
        !conn.buf.is_empty(),
        conn.stream.as_fd(),
        reclaim.as_ref().map(|r| r.as_fd()),
        cfg.keep_alive_timeout,
    );
    let first = served == 1;
    let timer = read::HeadTimer {
        started: first.then_some(accepted_at),
        first_wait: if first {
            cfg.timeout
        } else {
            cfg.keep_alive_timeout.saturating_sub(idle)
        },
        timeout: cfg.timeout,
        rate: cfg.request_read_timeout.header,
    };
    match read::next(conn, &cfg.limits.head, &timer, reclaim.as_ref()) {
        Outcome::Request { req, head_bytes } => {
            access_log::request_began(head_bytes);
            if reclaim.take().is_some() {
                report::send(crate::handoff::status::Event::HeadComplete);
            }
            Some(req)
        }
        Outcome::Idle => None,
        Outcome::Bad { status, line, why } => {
            access_log::request_began(line.len());
            log::info!("{}: {status} for a malformed request: {why}", scene.peer);
            refuse::malformed(scene, conn, status, &line);
            None
        }
    }
}

/// Confines the process for the connection's first admitted request; later requests reuse
/// the proof (the caller checks that it serves their plan). The verifier channel is closed
/// first: no handler can ever ask it anything. None if confinement failed.
fn confine_once<'p>(
    confined: &'p mut Option<Confined>,
    plan: &sandbox::Plan,
    gate: &mut Gate,
    admitted: &admit::Admitted,
) -> Option<&'p Confined> {
    let peer = gate.peer;
    if confined.is_none() {
        gate.creds.close();
        gate.slot.close();
        match confine::enter(plan) {
            Ok(proof) => {
                log::info!(target: "oneshot_httpd::audit", "{peer}: user={} entered {} by rule {}", admitted.user.as_deref().unwrap_or("-"), proof.describe(), admitted.identity.rule);
                *confined = Some(proof);
            }
            Err(e) => {
                log::error!("{peer}: confinement failed, refusing to serve: {e}");
                return None;
            }
        }
    }
    confined.as_ref()
}

fn log_served(
    scene: &refuse::Scene,
    vhost: &VHost,
    req: &Request,
    done: &Handled,
    user: Option<&str>,
    rule: &str,
    proof: &Confined,
) {
    access_log::write(
        scene.cfg,
        scene.inh,
        &Entry {
            peer: scene.peer,
            vhost: Some(vhost),
            req: Some(req),
            user,
            request_line: &refuse::request_line(req),
            status: done.status,
            bytes: done.bytes,
            head_bytes: done.head_bytes,
            headers_out: &done.headers_out,
            keep_alive: done.keep_alive,
            ctx: proof.describe(),
            rule,
        },
    );
}
