//! FastCGI (mod_proxy_fcgi's responder role): the child, already confined as the request's
//! identity, connects to that identity's FastCGI application (a php-fpm pool) and relays one
//! request (docs/fastcgi.md).
//!
//! [`lookup`] decides whether a URL goes to a backend: a `ProxyPass`/`ProxyPassMatch` rule of
//! the vhost (first), else a `SetHandler proxy:...` of the scope of the file the URL names
//! (found by walking beneath the DocumentRoot with openat(O_NOFOLLOW), as CGI does). [`run`] —
//! which needs the [`Confined`] proof — connects (as the confined identity: the kernel checks
//! the socket file's permissions, Landlock the TCP port), or takes the connection its
//! previous request left open ([`Kept`]), sends BEGIN_REQUEST (responder, FCGI_KEEP_CONN),
//! PARAMS from the CGI/1.1 builder plus SCRIPT_FILENAME, the request body as
//! STDIN records while reading STDOUT through the CGI output parser
//! ([`crate::handler::cgi::output`]) and STDERR to the error log, until END_REQUEST (the loop
//! is CGI's, [`crate::handler::cgi::pump`]; [`Records`] is what differs). When the
//! client goes away (a write to it fails, or its connection is reset) it sends ABORT_REQUEST.
//! The connection is kept for the client's next request only when the exchange ended exactly
//! at END_REQUEST (nothing unread, nothing unsent): anything else closes it, so a request cut
//! short never leaves bytes for the next one.
//!
//! Errors, one error-log line each naming the backend: connect refused or impossible 503,
//! nothing from the backend within `ProxyTimeout` 504, malformed records, an oversized or
//! malformed header block, or a close before END_REQUEST 502 (when nothing was sent yet;
//! otherwise the connection closes).

pub mod record;

use crate::config::fcgi::{self as conf, Backend, BackendType, SetHandler, Socket};
use crate::config::{Config, VHost};
use crate::handler::cgi::output::{send_error, End, Failures, LineLog, Output};
use crate::handler::cgi::pump::{read_ready, Interest, Peer, Relay, SLOTS, STDIN_BUF};
use crate::handler::cgi::{program_env, Context, Outcome, ProgramPaths};
use crate::http::body::BodyReader;
use crate::http::read::Conn;
use crate::http::request::{Method, Request};
use crate::http::response::Response;
use crate::http::route::Route;
use crate::sandbox::Confined;
use crate::sys::fs::open_beneath;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The one request id of each connection to a backend.
const REQUEST_ID: u16 = 1;
/// Bytes read from the backend per call.
const READ_CHUNK: usize = 64 * 1024;
/// Most request-body bytes kept for sending a request again on a new connection when a kept
/// one turns out closed by the backend (see [`Records::stale`]).
const RESEND_BODY: usize = 64 * 1024;
/// Longest a kept backend connection waits for the client's next request: a php-fpm worker
/// serves one connection at a time, so an idle client must not hold one for its whole
/// KeepAliveTimeout.
pub const KEEP_IDLE: Duration = Duration::from_secs(1);

/// The backend connection this client connection's last request left open (FCGI_KEEP_CONN),
/// with the address it was made to, and the read buffer requests reuse. Process-wide is
/// per-connection: a child serves exactly one client connection, in one identity (confinement
/// happens once and cannot be undone), and exits with it; so a kept connection to a pool is
/// never shared between clients or identities. A request whose socket path differs (another
/// vhost's pool, `%{ONESHOT_USER}` naming another user) closes it and connects anew.
struct Kept {
    /// The socket path or `IP:PORT` connected to.
    addr: String,
    sock: File,
}

static KEPT: Mutex<Option<Kept>> = Mutex::new(None);
static READ_BUF: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// The kept connection to `addr` if it is still open and idle; any other is closed.
fn take_kept(addr: &str) -> Option<File> {
    let kept = KEPT.lock().ok()?.take()?;
    if kept.addr != addr {
        return None;
    }
    // An idle backend sends nothing between requests: readable means it closed (EOF), reset,
    // or is out of step; any of these ends the connection.
    let mut fds = [PollFd::new(kept.sock.as_fd(), PollFlags::POLLIN)];
    match nix::poll::poll(&mut fds, PollTimeout::ZERO) {
        Ok(0) => Some(kept.sock),
        _ => None,
    }
}

fn keep(addr: String, sock: File) {
    if let Ok(mut k) = KEPT.lock() {
        *k = Some(Kept { addr, sock });
    }
}

/// Closes the kept backend connection, if any (the client connection is ending).
pub fn close_kept() {
    if let Ok(mut k) = KEPT.lock() {
        k.take();
    }
}

/// Called before waiting up to `wait` for the client's next request: a kept backend
/// connection stays only if the request arrives within [`KEEP_IDLE`] (or `reclaim` fires
/// first: the master wants the slot). Returns how long this waited, to be taken off `wait`.
pub fn release_when_idle(
    buffered: bool,
    client: BorrowedFd<'_>,
    reclaim: Option<BorrowedFd<'_>>,
    wait: Duration,
) -> Duration {
    let kept = KEPT.lock().map(|k| k.is_some()).unwrap_or(false);
    if !kept || buffered {
        return Duration::ZERO;
    }
    let start = Instant::now();
    let grace = KEEP_IDLE.min(wait);
    let ms = grace.as_millis().min(i32::MAX as u128) as i32;
    let mut fds = vec![PollFd::new(client, PollFlags::POLLIN)];
    if let Some(r) = reclaim {
        fds.push(PollFd::new(r, PollFlags::POLLIN));
    }
    let client_ready = matches!(
        nix::poll::poll(&mut fds, PollTimeout::try_from(ms).unwrap_or(PollTimeout::ZERO)),
        Ok(n) if n > 0
    ) && fds[0].revents().is_some_and(|r| !r.is_empty());
    if !client_ready {
        close_kept();
    }
    start.elapsed()
}

/// A request a backend will answer.
#[derive(Debug, Clone)]
pub struct Target {
    pub backend: Backend,
    /// The file (or backend path) the application runs: SCRIPT_FILENAME before
    /// `ProxyFCGIBackendType` shapes it.
    pub path: String,
    /// URL path of the script, for SCRIPT_NAME.
    pub script_name: String,
    /// Decoded rest of the URL after the script (SetHandler only), `""` or starting with `/`.
    pub path_info: String,
    /// `Some` for a file found beneath the DocumentRoot: its directory and name.
    local: Option<(PathBuf, String)>,
    /// `SSLOptions +StdEnvVars` of the script's scope, when the lookup merged it already.
    std_env_vars: Option<bool>,
    /// The script's modification time, from the lookup's fstat (for mod_expires' `M`).
    mtime: Option<std::time::SystemTime>,
}

#[derive(Debug)]
pub enum Lookup {
    NotFcgi,
    Fcgi(Box<Target>),
    /// Refused (already logged).
    Refused(u16),
}

/// Whether `url_path` (decoded, `route` its segments) goes to a FastCGI backend.
pub fn lookup(vhost: &VHost, route: &Route, url_path: &str) -> Lookup {
    for rule in &vhost.fcgi.rules {
        if let Some(path) = conf::rule_target(rule, url_path) {
            return Lookup::Fcgi(Box::new(Target {
                backend: rule.backend.clone(),
                path,
                script_name: url_path.to_string(),
                path_info: String::new(),
                local: None,
                std_env_vars: None,
                mtime: None,
            }));
        }
    }
    if !vhost.uses_fcgi_handler() {
        return Lookup::NotFcgi;
    }
    walk(vhost, route, url_path)
}

/// The backend a `SetHandler` gives file `name` in `dir` reached by `url_path` (every section
/// kind applies, `<Files>`/`<FilesMatch>` included).
/// With the file's `SSLOptions +StdEnvVars`.
fn handler_for(vhost: &VHost, dir: &Path, name: &str, url_path: &str) -> Option<(Backend, bool)> {
    let filename = dir.join(name);
    let conf = vhost.file_conf(dir, &filename.to_string_lossy(), name, url_path);
    match conf.set_handler {
        Some(SetHandler::Fcgi(b)) => Some((b, conf.ssl_std_env_vars.unwrap_or(false))),
        Some(SetHandler::None) | None => None,
    }
}

fn walk(vhost: &VHost, route: &Route, url_path: &str) -> Lookup {
    let Ok(root) = File::open(&vhost.document_root) else {
        return Lookup::NotFcgi;
    };
    let mut cur: OwnedFd = root.into();
    let mut path = vhost.document_root.clone();
    for (i, seg) in route.segments.iter().enumerate() {
        let Ok(next) = open_beneath(cur.as_fd(), Path::new(seg), OFlag::O_PATH) else {
            return Lookup::NotFcgi;
        };
        // fstat on the descriptor itself (no duplicate to make a File of it).
        let Ok(meta) = crate::sys::beneath::fstat(next.as_fd()) else {
            return Lookup::NotFcgi;
        };
        let kind = meta.st_mode & libc::S_IFMT;
        if kind == libc::S_IFDIR {
            path.push(seg);
            cur = next;
            continue;
        }
        let Some((backend, std_env_vars)) = handler_for(vhost, &path, seg, url_path) else {
            return Lookup::NotFcgi;
        };
        if kind != libc::S_IFREG {
            // A symlink is never followed to a script: served as text, it would show the
            // source; sent to the backend, it could name a file outside the tree.
            log::warn!(
                "[{}] fcgi: refused {}: not a regular file (symlinks are not followed)",
                vhost.server_name(),
                path.join(seg).display()
            );
            return Lookup::Refused(403);
        }
        let mut script_name = String::new();
        for s in &route.segments[..=i] {
            script_name.push('/');
            script_name.push_str(s);
        }
        return Lookup::Fcgi(Box::new(Target {
            backend,
            path: path.join(seg).to_string_lossy().into_owned(),
            script_name,
            path_info: route.segments[i + 1..]
                .iter()
                .map(|s| format!("/{s}"))
                .collect(),
            local: Some((path, seg.clone())),
            std_env_vars: Some(std_env_vars),
            mtime: u64::try_from(meta.st_mtime).ok().map(|secs| {
                std::time::UNIX_EPOCH
                    + Duration::new(secs, u32::try_from(meta.st_mtime_nsec).unwrap_or(0))
            }),
        }));
    }
    // A directory: the static handler's DirectoryIndex redirect brings its index file back
    // here as a URL of its own.
    Lookup::NotFcgi
}

/// The unix user name the process runs as, as the configuration wrote it (AssignUserID,
/// UserIDMap): the master resolved every name it uses, so no name service is consulted.
fn unix_user_name(cfg: &Config) -> Option<String> {
    let uid = nix::unistd::getuid().as_raw();
    cfg.users
        .iter()
        .find(|(_, u)| u.uid == uid)
        .map(|(name, _)| name.split(':').next().unwrap_or(name).to_string())
}

/// Where the backend listens for this request (the identity filled into a socket path), and
/// how log lines and [`Kept`] name it.
fn address(cfg: &Config, cx: &Context, b: &Backend) -> Result<(socket2::SockAddr, String), String> {
    use socket2::SockAddr;
    match &b.socket {
        Socket::Unix(template) => {
            let unix_user = template
                .contains("%{ONESHOT_UNIX_USER}")
                .then(|| unix_user_name(cfg))
                .flatten();
            let path = conf::socket_path(template, cx.user, unix_user.as_deref())?;
            let addr = SockAddr::unix(&path).map_err(|e| format!("{path}: {e}"))?;
            Ok((addr, path))
        }
        Socket::Tcp(a) => Ok((SockAddr::from(*a), a.to_string())),
    }
}

/// A new connection to the backend, non-blocking.
fn connect(addr: &socket2::SockAddr, shown: &str, timeout: Duration) -> Result<File, String> {
    use socket2::{Domain, Socket as S, Type};
    let domain = if addr.is_unix() {
        Domain::UNIX
    } else {
        addr.domain()
    };
    let sock = S::new(domain, Type::STREAM, None).map_err(|e| e.to_string())?;
    sock.connect_timeout(addr, timeout)
        .map_err(|e| format!("cannot connect to {shown}: {e}"))?;
    sock.set_nonblocking(true)
        .map_err(|e| format!("{shown}: {e}"))?;
    Ok(File::from(OwnedFd::from(sock)))
}

pub fn run(
    _proof: &Confined,
    cx: &Context,
    conn: &mut Conn,
    req: &Request,
    body: &mut BodyReader,
    target: Target,
) -> Outcome {
    if matches!(req.method, Method::Trace | Method::Connect) {
        return send_error(
            conn,
            Response::error(405).header("Allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS"),
        );
    }
    let cfg = cx.cfg;
    let tag = format!(
        "[{}] fcgi {} ({})",
        cx.vhost.server_name(),
        target.backend.describe(),
        target.path
    );
    let _ = conn.stream.set_write_timeout(Some(cfg.timeout));
    // Only a request body is read from the client here (its going away is seen by poll).
    if !matches!(req.body, crate::http::request::Body::None) {
        let _ = conn.stream.set_read_timeout(Some(cfg.timeout));
    }
    let local_addr = conn.stream.local_addr().ok();
    let timeout = cx.vhost.fcgi.timeout.unwrap_or(cfg.timeout);

    // A chunked body is decoded up front so the application gets an exact CONTENT_LENGTH.
    let mut pending = Vec::new();
    let content_length = match req.body {
        crate::http::request::Body::None => None,
        crate::http::request::Body::Length(n) => Some(n),
        crate::http::request::Body::Chunked => {
            match crate::handler::cgi::buffer_chunked(cfg, conn, body) {
                Ok(b) => {
                    let n = b.len() as u64;
                    pending = b;
                    Some(n)
                }
                Err(e) => {
                    log::info!("{tag}: request body refused: {e}");
                    return send_error(conn, Response::error(e.status()));
                }
            }
        }
    };
    let script_filename = match cx.vhost.fcgi.backend_type {
        BackendType::Fpm => target.path.clone(),
        BackendType::Generic => format!("proxy:{}{}", target.backend.authority, target.path),
    };
    let document_root = cx.vhost.document_root.to_string_lossy();
    let env = program_env(
        cx,
        req,
        local_addr,
        ProgramPaths {
            script_name: &target.script_name,
            path_info: &target.path_info,
            document_root: &document_root,
            script_filename: &script_filename,
            content_length,
        },
    );
    // SSLOptions +StdEnvVars where it applies to the script (for a ProxyPass target with no
    // local file: the vhost's and its <Location>s' setting).
    let std_env_vars = match (&target.local, target.std_env_vars) {
        (_, Some(on)) => on,
        (Some((dir, name)), None) => cx
            .vhost
            .file_conf(
                dir,
                &dir.join(name).to_string_lossy(),
                name,
                &target.script_name,
            )
            .ssl_std_env_vars
            .unwrap_or(false),
        (None, None) => cx
            .vhost
            .dir_conf(&cx.vhost.document_root, &target.script_name)
            .ssl_std_env_vars
            .unwrap_or(false),
    };
    let env = crate::http::tls_session::with_cgi_vars(env, std_env_vars);
    let env = crate::handler::cgi::with_request_vars(env, cx, req, local_addr);
    // The application gets exactly the CGI variables; PATH is the process's business there.
    let env: Vec<Vec<u8>> = env
        .into_iter()
        .filter(|e| !e.starts_with(b"PATH="))
        .collect();

    let mut outbuf = Vec::new();
    record::begin_request(
        &mut outbuf,
        REQUEST_ID,
        record::ROLE_RESPONDER,
        record::KEEP_CONN,
    );
    if let Err(e) = record::params(&mut outbuf, REQUEST_ID, &env) {
        log::error!("{tag}: {e}");
        return send_error(conn, Response::error(500));
    }
    if let Some((dir, name)) = &target.local {
        log::debug!("{tag}: script {name} in {}", dir.display());
    }
    let (addr, shown) = match address(cfg, cx, &target.backend) {
        Ok(a) => a,
        Err(e) => {
            log::error!("{tag}: backend unavailable: {e} (503)");
            return send_error(conn, Response::error(503));
        }
    };
    let (sock, reused) = match take_kept(&shown) {
        Some(s) => (s, true),
        None => match connect(&addr, &shown, timeout) {
            Ok(s) => (s, false),
            Err(e) => {
                log::error!("{tag}: backend unavailable: {e} (503)");
                return send_error(conn, Response::error(503));
            }
        },
    };
    if let Err(e) = body.want(conn) {
        log::info!("{tag}: client gone before 100 Continue: {e}");
    }
    let conf = crate::config::request::request_conf(cx.vhost, req).1;
    let out = Output::new(
        tag.clone(),
        req.method == Method::Head,
        req.minor_version >= 1 && cx.may_keep_alive,
        cx.may_keep_alive,
        false,
    )
    .header_rules(conf.headers.clone())
    .default_charset(conf.default_charset.as_ref())
    .error_status(cx.error.map(|o| o.status))
    .filters(crate::handler::cgi::filter::Filters {
        accept_encoding: req.header("Accept-Encoding").map(<[u8]>::to_vec),
        file_name: target.local.as_ref().map(|(_, name)| name.clone()),
        mtime: target.mtime.or_else(|| {
            (target.local.as_ref())
                .and_then(|(dir, name)| std::fs::symlink_metadata(dir.join(name)).ok())
                .and_then(|m| m.modified().ok())
        }),
        conf,
    });
    // On a kept connection, the request's records and body are kept too, to be sent again on
    // a new connection if the backend turns out to have closed it (Records::stale).
    let head = reused.then(|| outbuf.clone());
    let mut x = Exchange::new(tag.clone(), sock, reused, outbuf, pending, out);
    x.write_now(body);
    let mut end = x.pump(timeout, conn, body);
    if x.sock.stale && end == End::Gateway(502) {
        match (head, x.body_for_resend()) {
            (Some(records), Some(sent)) => {
                log::info!("{tag}: the kept connection to {shown} was closed by the backend; sending the request on a new one");
                let sock = match connect(&addr, &shown, timeout) {
                    Ok(s) => s,
                    Err(e) => {
                        log::error!("{tag}: backend unavailable: {e} (503)");
                        return send_error(conn, Response::error(503));
                    }
                };
                x = Exchange::new(tag.clone(), sock, false, records, sent, x.relay.out);
                x.write_now(body);
                end = x.pump(timeout, conn, body);
            }
            _ => log::error!(
                "{tag}: the kept connection to {shown} was closed by the backend after more than {} KiB of the request body; not sent again (502)",
                RESEND_BODY / 1024
            ),
        }
    }
    let (outcome, reusable) = x.finish(conn, body, end, timeout);
    if let Some(sock) = reusable {
        keep(shown, sock);
    }
    outcome
}

/// Adds `bytes` to a kept copy of the request body, which is dropped (`None`) once it would
/// hold more than [`RESEND_BODY`].
fn keep_copy(copy: &mut Option<Vec<u8>>, bytes: &[u8]) {
    if let Some(c) = copy.as_mut() {
        if c.len() + bytes.len() <= RESEND_BODY {
            c.extend_from_slice(bytes);
        } else {
            *copy = None;
        }
    }
}

/// One request's exchange with the backend: the pump's shared side and the socket.
struct Exchange {
    relay: Relay,
    sock: Records,
}

/// FastCGI records on one socket as the pump's [`Peer`]: request-body bytes as STDIN
/// records, STDOUT to the response, STDERR to the error log, until END_REQUEST.
struct Records {
    sock: Option<File>,
    /// The connection was kept from an earlier request.
    reused: bool,
    /// Any byte came from the backend.
    received: bool,
    /// A reused connection failed before the backend sent anything (it had closed it).
    stale: bool,
    /// On a reused connection, the request-body bytes already put into STDIN records or
    /// dropped by a failed write (with the relay's `pending`: every body byte read so far), at
    /// most [`RESEND_BODY`], else `None`: for sending the request again when it turns out stale.
    sent_body: Option<Vec<u8>>,
    /// END_REQUEST (REQUEST_COMPLETE) was read.
    ended: bool,
    /// Records waiting to be written to the backend.
    outbuf: Vec<u8>,
    stdin_ended: bool,
    decoder: record::Decoder,
}

impl Exchange {
    fn new(
        tag: String,
        sock: File,
        reused: bool,
        outbuf: Vec<u8>,
        pending: Vec<u8>,
        out: Output,
    ) -> Self {
        Exchange {
            relay: Relay::new(tag.clone(), LineLog::new(tag), pending, out),
            sock: Records {
                sock: Some(sock),
                reused,
                received: false,
                stale: false,
                sent_body: reused.then(Vec::new),
                ended: false,
                outbuf,
                stdin_ended: false,
                decoder: record::Decoder::new(REQUEST_ID),
            },
        }
    }

    /// Writes what the socket takes now, without waiting for poll: a connection's first
    /// records (BEGIN_REQUEST, PARAMS, a small body) fit its buffer.
    fn write_now(&mut self, body: &BodyReader) {
        self.sock.frame_stdin(&mut self.relay, body.is_done());
        if let Err(e) = self.sock.write_out() {
            log::debug!("{}: writing to the backend: {e}", self.relay.tag);
            self.sock.write_failed(&mut self.relay);
        }
    }

    /// Every request-body byte read so far, for sending the request again; `None` if more than
    /// [`RESEND_BODY`] (or the connection was new).
    fn body_for_resend(&mut self) -> Option<Vec<u8>> {
        let mut sent = self.sock.sent_body.take()?;
        let pending = &self.relay.pending;
        (sent.len() + pending.len() <= RESEND_BODY).then(|| {
            sent.extend_from_slice(pending);
            sent
        })
    }

    fn pump(&mut self, timeout: Duration, conn: &mut Conn, body: &mut BodyReader) -> End {
        // One buffer for every request of the connection (no 64 KiB allocation per request).
        let mut buf = std::mem::take(&mut *READ_BUF.lock().unwrap_or_else(|e| e.into_inner()));
        buf.resize(READ_CHUNK, 0);
        let end = self
            .relay
            .pump(&mut self.sock, timeout, conn, body, &mut buf);
        *READ_BUF.lock().unwrap_or_else(|e| e.into_inner()) = buf;
        end
    }

    /// The client's outcome, and the backend connection when it may serve the next request:
    /// the exchange ended exactly at END_REQUEST, every record was sent and every byte read.
    fn finish(
        self,
        conn: &mut Conn,
        body: &BodyReader,
        end: End,
        timeout: Duration,
    ) -> (Outcome, Option<File>) {
        let Exchange {
            relay: mut x,
            sock: mut r,
        } = self;
        x.err.flush();
        match end {
            End::Output => x.out.end_chunked(conn),
            End::ClientGone => {
                // Best effort: the application may stop working for nobody.
                let mut abort = Vec::new();
                record::abort_request(&mut abort, REQUEST_ID);
                if let Some(s) = r.sock.as_mut() {
                    let _ = s.write(&abort);
                }
            }
            End::TimedOut => {
                let after = if x.out.started() {
                    " after the response began"
                } else {
                    " (504)"
                };
                log::error!(
                    "{}: no answer within ProxyTimeout ({}s){after}",
                    x.tag,
                    timeout.as_secs()
                );
            }
            _ => {}
        }
        let clean = r.ended
            && end == End::Output
            && r.stdin_ended
            && r.outbuf.is_empty()
            && r.decoder.pending() == 0;
        let sock = r.sock.take().filter(|_| clean);
        let complete = !x.body_failed && body.is_done();
        let fail = Failures {
            bad_header: 502,
            no_head: 502,
        };
        (x.out.conclude(conn, end, complete, fail), sock)
    }
}

impl Peer for Records {
    fn prepare(&mut self, x: &mut Relay, body_done: bool) -> Option<End> {
        self.frame_stdin(x, body_done);
        self.sock.is_none().then_some(End::Gateway(502))
    }

    fn takes_body(&self) -> bool {
        true
    }

    fn watches_client(&self) -> bool {
        true
    }

    fn interest(&self, _: &Relay) -> Interest<'_> {
        let mut ev = PollFlags::POLLIN;
        if !self.outbuf.is_empty() {
            ev |= PollFlags::POLLOUT;
        }
        [self.sock.as_ref().map(|s| (s.as_fd(), ev)), None, None]
    }

    fn ready(
        &mut self,
        x: &mut Relay,
        [s, ..]: [PollFlags; SLOTS],
        conn: &mut Conn,
        buf: &mut [u8],
        body_done: bool,
    ) -> Option<End> {
        if s.contains(PollFlags::POLLOUT) {
            if let Err(e) = self.write_out() {
                // The application may answer without reading all of its input.
                log::debug!("{}: writing to the backend: {e}", x.tag);
                self.write_failed(x);
            }
        }
        if s.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            return self.read_backend(x, conn, buf, body_done);
        }
        None
    }
}

impl Records {
    /// Puts read body bytes into STDIN records, and the stream's end once the body is done.
    fn frame_stdin(&mut self, x: &mut Relay, body_done: bool) {
        if self.stdin_ended || self.outbuf.len() > STDIN_BUF {
            return;
        }
        if !x.pending.is_empty() {
            record::stream(&mut self.outbuf, record::STDIN, REQUEST_ID, &x.pending);
            keep_copy(&mut self.sent_body, &x.pending);
            x.pending.clear();
        }
        if body_done {
            record::end_stream(&mut self.outbuf, record::STDIN, REQUEST_ID);
            self.stdin_ended = true;
        }
    }

    /// The backend stopped taking input (it may answer without reading all of it): what is
    /// left of the request is dropped.
    fn write_failed(&mut self, x: &mut Relay) {
        keep_copy(&mut self.sent_body, &x.pending);
        self.outbuf.clear();
        x.pending.clear();
        self.stdin_ended = true;
    }

    fn write_out(&mut self) -> io::Result<()> {
        let Some(sock) = self.sock.as_mut() else {
            return Ok(());
        };
        while !self.outbuf.is_empty() {
            match sock.write(&self.outbuf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.outbuf.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// `Some` when the exchange must stop.
    fn read_backend(
        &mut self,
        x: &mut Relay,
        conn: &mut Conn,
        buf: &mut [u8],
        body_done: bool,
    ) -> Option<End> {
        let sock = self.sock.as_mut()?;
        let n = match read_ready(sock, buf)? {
            Ok(n) => n,
            Err(e) if self.reused && !self.received => {
                log::debug!("{}: kept connection: {e}", x.tag);
                self.stale = true;
                return Some(End::Gateway(502));
            }
            Err(e) => {
                log::error!("{}: reading from the backend: {e}", x.tag);
                return Some(End::Gateway(502));
            }
        };
        if n == 0 && self.reused && !self.received {
            self.stale = true;
            return Some(End::Gateway(502));
        }
        if n == 0 {
            log::error!(
                "{}: the backend closed the connection before END_REQUEST",
                x.tag
            );
            return Some(End::Gateway(502));
        }
        self.received = true;
        self.decoder.push(&buf[..n]);
        loop {
            match self.decoder.next_record() {
                Ok(None) => return None,
                Ok(Some(record::Record::Stdout(data))) => {
                    if let Some(end) = x.out.data(conn, &data, body_done) {
                        return Some(end);
                    }
                }
                Ok(Some(record::Record::Stderr(data))) => x.err.feed(&data),
                Ok(Some(record::Record::Management(_))) => {}
                Ok(Some(record::Record::EndRequest {
                    app_status,
                    protocol_status,
                })) => {
                    if protocol_status != record::ProtocolStatus::RequestComplete {
                        log::error!(
                            "{}: the backend refused the request: {protocol_status:?}",
                            x.tag
                        );
                        return Some(End::Gateway(503));
                    }
                    log::debug!("{}: END_REQUEST, application status {app_status}", x.tag);
                    self.ended = true;
                    return Some(x.out.eof(conn, body_done));
                }
                Err(e) => {
                    log::error!("{}: malformed record from the backend: {e}", x.tag);
                    return Some(End::Gateway(502));
                }
            }
        }
    }
}
