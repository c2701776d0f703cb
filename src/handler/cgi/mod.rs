//! CGI/1.1 (RFC 3875), run inside the connection's confinement.
//!
//! [`lookup`] finds the program (ScriptAlias, or `AddHandler cgi-script` + `Options ExecCGI`)
//! by walking the URL's segments beneath the tree with openat(O_NOFOLLOW), so the first
//! regular file is the program and the rest is PATH_INFO, and no symlink is ever followed.
//! It applies suEXEC's checks and refuses with 403 and an error-log line naming the check, the
//! path and the ids. [`run`] — which needs the [`Confined`] proof, so it cannot run before the
//! transition — starts the program (`sys::spawn`: own process group, only fds 0-2), streams
//! the request body to it and its output to the client with bounded buffers, parses its header
//! block, logs its stderr, and kills its whole process group on `CGIScriptTimeout`.
//!
//! Decisions where RFC 3875 leaves room:
//! - A chunked request body is decoded into memory before the program starts (at most
//!   [`MAX_CHUNKED_BODY`] or LimitRequestBody, else 413), so CONTENT_LENGTH is always exact.
//! - Every suEXEC refusal is 403 (the client asked for something the site may not run).
//! - TRACE and CONNECT are refused (405); every other method is the program's business.
//! - When the output has ended the program gets a short grace to exit, then its process group
//!   is killed in any case, so nothing it started outlives the request.
//! - An `nph-` program writes the whole response (status line included); it is relayed as is
//!   and the connection closes after it.
//! - Output without the program's own Content-Length is held (at most [`output::HOLD_MAX`] bytes, for
//!   at most [`output::HOLD_WINDOW`] after its header block) as Apache's content-length filter does:
//!   if it ends within both, the response carries `Content-Length` (so keep-alive needs no
//!   chunking and a close-delimited body becomes a framed one); otherwise the head and what was
//!   held go out and the rest streams, chunked on keep-alive, else until close. The window
//!   keeps a program that streams slowly (progress lines, long polls) from being delayed until
//!   its end. A HEAD gets the length its program's body had, unless that body was empty (a
//!   program that answers HEAD with no body says nothing about the GET's length).

pub mod env;
pub mod header;
pub(crate) mod output;

use crate::config::{Config, VHost};
use crate::http::body::{BodyError, BodyReader};
use crate::http::read::Conn;
use crate::http::request::{Method, Request};
use crate::http::response::Response;
use crate::http::route::Route;
use crate::sandbox::Confined;
use crate::sys::fs::open_beneath;
use crate::sys::spawn::{self, SpawnSpec};
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use output::{send_error, End, Failures, LineLog, Output};
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Largest chunked request body buffered for a program (LimitRequestBody may lower it).
pub const MAX_CHUNKED_BODY: u64 = 8 * 1024 * 1024;
/// Request-body bytes held for the program's stdin at a time.
const STDIN_BUF: usize = 64 * 1024;
/// Bytes read from the program's stdout or stderr per call.
const OUT_CHUNK: usize = 64 * 1024;
/// How long a program whose output has ended may take to exit before its group is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// A program found beneath a ScriptAlias target or the DocumentRoot, checked and ready to run.
#[derive(Debug)]
pub struct Script {
    dir: OwnedFd,
    dir_path: PathBuf,
    name: String,
    dev_ino: (u64, u64),
    /// URL path of the program (decoded), for SCRIPT_NAME.
    script_name: String,
    /// Decoded rest of the URL after the program, `""` or starting with `/`.
    path_info: String,
    /// `SSLOptions +StdEnvVars` applies to the program (its `<Directory>`, `<Files>`...).
    ssl_std_env_vars: bool,
}

impl Script {
    pub fn filename(&self) -> PathBuf {
        self.dir_path.join(&self.name)
    }
}

#[derive(Debug)]
pub enum Lookup {
    /// Not a CGI request: the static handler serves it.
    NotCgi,
    Script(Script),
    /// Refused (already logged).
    Refused(u16),
    /// A DirectoryIndex entry whose own sections differ from its directory's: served by an
    /// internal redirect to this URL, admitted again (see `VHost::index_needs_admission`).
    Index(String),
}

/// Which tree the URL maps into.
struct Tree<'a> {
    base: &'a Path,
    /// Segments of the URL prefix that map to `base`.
    prefix: &'a [String],
    /// True for a ScriptAlias target: everything beneath is a program.
    alias: bool,
}

pub fn lookup(cfg: &Config, vhost: &VHost, route: &Route, url_path: &str) -> Lookup {
    for a in &vhost.script_aliases {
        if route.segments.starts_with(&a.prefix) {
            let tree = Tree {
                base: &a.dir,
                prefix: &a.prefix,
                alias: true,
            };
            return walk(
                cfg,
                vhost,
                &tree,
                &route.segments[a.prefix.len()..],
                url_path,
                route.trailing_slash,
            );
        }
    }
    if !vhost.uses_cgi_extensions() {
        return Lookup::NotCgi;
    }
    // An Alias's target is not the DocumentRoot: the static handler serves it (and refuses a
    // file with a CGI suffix there: programs run only beneath ScriptAlias or DocumentRoot).
    if matches!(
        crate::config::request::map(vhost, route),
        crate::config::request::Mapped::Alias(..)
    ) {
        return Lookup::NotCgi;
    }
    let tree = Tree {
        base: &vhost.document_root,
        prefix: &[],
        alias: false,
    };
    walk(
        cfg,
        vhost,
        &tree,
        &route.segments,
        url_path,
        route.trailing_slash,
    )
}

/// Every extension any scope of the vhost runs as CGI.
pub(crate) fn any_cgi_extension(vhost: &VHost, name: &str) -> bool {
    vhost
        .scopes()
        .filter_map(|(c, _)| c.cgi_extensions.as_ref())
        .any(|exts| has_extension(exts, name))
}

fn has_extension(exts: &[String], name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, e)| exts.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

fn walk(
    cfg: &Config,
    vhost: &VHost,
    tree: &Tree,
    segs: &[String],
    url_path: &str,
    dir_request: bool,
) -> Lookup {
    let refuse = |status: u16, why: &str, path: &Path| {
        // A missing program is the client's mistake; anything else is the site's.
        let level = if status == 404 {
            log::Level::Info
        } else {
            log::Level::Warn
        };
        log::log!(
            level,
            "[{}] cgi: refused {}: {why}",
            vhost.server_name(),
            path.display()
        );
        Lookup::Refused(status)
    };
    if segs.is_empty() && tree.alias {
        return refuse(403, "a ScriptAlias directory is not a program", tree.base);
    }
    let mut cur: OwnedFd = match File::open(tree.base) {
        Ok(f) => f.into(),
        Err(e) if tree.alias => return refuse(io_status(&e), &e.to_string(), tree.base),
        Err(_) => return Lookup::NotCgi,
    };
    let mut path = tree.base.to_path_buf();
    for (i, seg) in segs.iter().enumerate() {
        let next = match open_beneath(cur.as_fd(), Path::new(seg), OFlag::O_PATH) {
            Ok(fd) => fd,
            Err(e) if tree.alias => return refuse(io_status(&e), &e.to_string(), &path.join(seg)),
            Err(_) => return Lookup::NotCgi,
        };
        let meta = match fstat(&next) {
            Ok(m) => m,
            Err(e) => return refuse(500, &format!("fstat: {e}"), &path.join(seg)),
        };
        let kind = meta.mode() & libc::S_IFMT;
        if kind == libc::S_IFLNK {
            // A symlink is never followed on the way to a program ("no symlink out of the
            // tree"); in the DocumentRoot it only matters if a program could lie behind it.
            if tree.alias || segs[i..].iter().any(|s| any_cgi_extension(vhost, s)) {
                return suexec_refusal(vhost, "symlink", &path.join(seg), &meta, None);
            }
            return Lookup::NotCgi;
        }
        if kind == libc::S_IFDIR {
            path.push(seg);
            cur = next;
            continue;
        }
        if kind != libc::S_IFREG {
            return refuse(403, "not a regular file", &path.join(seg));
        }
        let mut script_name = String::new();
        for s in tree.prefix.iter().chain(&segs[..=i]) {
            script_name.push('/');
            script_name.push_str(s);
        }
        let found = Found {
            dir: cur,
            dir_path: path,
            name: seg.clone(),
            meta,
            script_name,
            path_info: segs[i + 1..].iter().map(|s| format!("/{s}")).collect(),
        };
        return program(cfg, vhost, tree.alias, found, url_path);
    }
    if tree.alias {
        return refuse(403, "a directory is not a program", &path);
    }
    if dir_request {
        return directory_index(cfg, vhost, cur, path, url_path);
    }
    Lookup::NotCgi
}

/// A directory request in the DocumentRoot: the DirectoryIndex entry the static handler would
/// pick runs as a program if its suffix is a CGI one (never served as text).
fn directory_index(
    cfg: &Config,
    vhost: &VHost,
    dir: OwnedFd,
    path: PathBuf,
    url_path: &str,
) -> Lookup {
    let conf = vhost.dir_conf(&path, url_path);
    for name in conf.directory_index.unwrap_or_default() {
        let Ok(fd) = open_beneath(dir.as_fd(), Path::new(&name), OFlag::O_PATH) else {
            continue;
        };
        let Ok(meta) = fstat(&fd) else { continue };
        let kind = meta.mode() & libc::S_IFMT;
        if kind == libc::S_IFLNK && any_cgi_extension(vhost, &name) {
            return suexec_refusal(vhost, "symlink", &path.join(&name), &meta, None);
        }
        if kind != libc::S_IFREG {
            continue;
        }
        if any_cgi_extension(vhost, &name) && vhost.index_needs_admission(&path, url_path, &name) {
            return Lookup::Index(index_url(url_path, &name));
        }
        let mut script_name = url_path.to_string();
        if !script_name.ends_with('/') {
            script_name.push('/');
        }
        script_name.push_str(&name);
        let found = Found {
            dir,
            dir_path: path,
            name,
            meta,
            script_name,
            path_info: String::new(),
        };
        return program(cfg, vhost, false, found, url_path);
    }
    Lookup::NotCgi
}

pub use crate::http::route::index_url;

/// A regular file reached by the walk, before the CGI decision.
struct Found {
    dir: OwnedFd,
    dir_path: PathBuf,
    name: String,
    meta: std::fs::Metadata,
    script_name: String,
    path_info: String,
}

/// Beneath a ScriptAlias every file is a program; in the DocumentRoot only one with a CGI
/// suffix, and only where ExecCGI is on. Then suEXEC's checks.
fn program(cfg: &Config, vhost: &VHost, alias: bool, f: Found, url_path: &str) -> Lookup {
    let file = f.dir_path.join(&f.name);
    let conf = vhost.file_conf(&f.dir_path, &file.to_string_lossy(), &f.name, url_path);
    let ssl_std_env_vars = conf.ssl_std_env_vars.unwrap_or(false);
    if !alias {
        if !has_extension(&conf.cgi_extensions.unwrap_or_default(), &f.name) {
            return Lookup::NotCgi;
        }
        if !conf.options.unwrap_or_default().exec_cgi {
            log::warn!(
                "[{}] cgi: refused {}: Options ExecCGI is off in this directory",
                vhost.server_name(),
                file.display()
            );
            return Lookup::Refused(403);
        }
    }
    let dir_meta = match fstat(&f.dir) {
        Ok(m) => m,
        Err(e) => {
            log::error!(
                "[{}] cgi: refused {}: fstat of its directory: {e}",
                vhost.server_name(),
                file.display()
            );
            return Lookup::Refused(500);
        }
    };
    let script = Script {
        dir: f.dir,
        dir_path: f.dir_path,
        name: f.name,
        dev_ino: (f.meta.dev(), f.meta.ino()),
        ssl_std_env_vars,
        script_name: f.script_name,
        path_info: f.path_info,
    };
    match suexec(cfg, &script, &f.meta, &dir_meta) {
        Ok(()) => Lookup::Script(script),
        Err(check) => suexec_refusal(vhost, check, &file, &f.meta, Some(&dir_meta)),
    }
}

pub(crate) fn fstat(fd: &OwnedFd) -> io::Result<std::fs::Metadata> {
    File::from(fd.try_clone()?).metadata()
}

fn io_status(e: &io::Error) -> u16 {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) | Some(libc::ENAMETOOLONG) => 404,
        Some(libc::EACCES) | Some(libc::EPERM) => 403,
        _ => 500,
    }
}

/// suEXEC's checks on a found program; the name of the failed check on refusal. The target
/// identity is this process's, i.e. the one the confinement switched to.
fn suexec(
    cfg: &Config,
    script: &Script,
    meta: &std::fs::Metadata,
    dir: &std::fs::Metadata,
) -> Result<(), &'static str> {
    let uid = nix::unistd::getuid().as_raw();
    if dir.mode() & 0o022 != 0 {
        return Err("directory writable by group or others");
    }
    if meta.mode() & 0o022 != 0 {
        return Err("program writable by group or others");
    }
    if meta.mode() & (libc::S_ISUID | libc::S_ISGID) != 0 {
        return Err("setuid or setgid bit");
    }
    if cfg.cgi_owner_check {
        if meta.uid() != uid {
            return Err("program owner is not the target user");
        }
        // A directory owned by someone else (root excepted) would let them swap the program.
        if dir.uid() != uid && dir.uid() != 0 {
            return Err("directory owner is neither the target user nor root");
        }
    }
    let executable = nix::unistd::faccessat(
        Some(script.dir.as_raw_fd()),
        Path::new(&script.name),
        nix::unistd::AccessFlags::X_OK,
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    );
    if executable.is_err() {
        return Err("program not executable by the target user");
    }
    Ok(())
}

fn suexec_refusal(
    vhost: &VHost,
    check: &str,
    path: &Path,
    meta: &std::fs::Metadata,
    dir: Option<&std::fs::Metadata>,
) -> Lookup {
    let dir = dir
        .map(|d| {
            format!(
                " dir uid={} gid={} mode={:04o}",
                d.uid(),
                d.gid(),
                d.mode() & 0o7777
            )
        })
        .unwrap_or_default();
    log::warn!(
        "[{}] cgi: suexec check '{check}' failed for {}: file uid={} gid={} mode={:04o}{dir}; target uid={} gid={}",
        vhost.server_name(),
        path.display(),
        meta.uid(),
        meta.gid(),
        meta.mode() & 0o7777,
        nix::unistd::getuid(),
        nix::unistd::getgid(),
    );
    Lookup::Refused(403)
}

/// What `run` did, for the access log and the connection.
#[derive(Debug)]
pub struct Outcome {
    /// Status sent (0 when nothing could be sent).
    pub status: u16,
    pub body_bytes: u64,
    /// The connection is still in step and the response was framed.
    pub keep_alive: bool,
    /// `Location: /path` without Status: the caller serves that path instead (nothing sent).
    pub local_redirect: Option<String>,
}

/// Everything about the connection the environment needs.
pub struct Context<'a> {
    pub cfg: &'a Config,
    pub vhost: &'a VHost,
    pub peer: SocketAddr,
    pub user: Option<&'a str>,
    /// The response may keep the connection open (KeepAlive, client, request count).
    pub may_keep_alive: bool,
}

pub fn run(
    _proof: &Confined,
    cx: &Context,
    conn: &mut Conn,
    req: &Request,
    body: &mut BodyReader,
    script: Script,
) -> Outcome {
    let rules = crate::config::request::request_conf(cx.vhost, req)
        .1
        .headers;
    if matches!(req.method, Method::Trace | Method::Connect) {
        return send_error(
            conn,
            Response::error(405)
                .header("Allow", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS")
                .with_rules(&rules),
        );
    }
    let filename = script.filename();
    let tag = format!("[{}] cgi {}", cx.vhost.server_name(), filename.display());
    let _ = conn.stream.set_write_timeout(Some(cx.cfg.timeout));
    let _ = conn.stream.set_read_timeout(Some(cx.cfg.timeout));

    // A chunked body is decoded up front so the program gets an exact CONTENT_LENGTH.
    let mut pending = Vec::new();
    let content_length = match req.body {
        crate::http::request::Body::None => None,
        crate::http::request::Body::Length(n) => Some(n),
        crate::http::request::Body::Chunked => match buffer_chunked(cx.cfg, conn, body) {
            Ok(b) => {
                let n = b.len() as u64;
                pending = b;
                Some(n)
            }
            Err(e) => {
                log::info!("{tag}: request body refused: {e}");
                return send_error(conn, Response::error(e.status()).with_rules(&rules));
            }
        },
    };

    let env = env::build(&env::CgiRequest {
        method: req.method.as_str(),
        request_uri: &req.target,
        query: req.query.as_deref(),
        minor_version: req.minor_version,
        headers: &req.headers,
        remote_addr: cx.peer.ip().to_string(),
        remote_port: cx.peer.port(),
        server_name: cx.vhost.server_name(),
        server_port: crate::http::tls_session::session()
            .map(|s| s.port)
            .unwrap_or_else(|| conn.stream.local_addr().map(|a| a.port()).unwrap_or(0)),
        remote_user: cx.user,
        script_name: &script.script_name,
        path_info: &script.path_info,
        document_root: &cx.vhost.document_root.to_string_lossy(),
        script_filename: &filename.to_string_lossy(),
        content_length,
    });
    let env = crate::http::tls_session::with_cgi_vars(env, script.ssl_std_env_vars);
    let started = match start(cx.vhost, &script, env) {
        Ok(s) => s,
        Err(e) => {
            log::error!("{tag}: cannot start: {e}");
            return send_error(conn, Response::error(500).with_rules(&rules));
        }
    };
    log::debug!("{tag}: started as pid {}", started.pid);
    if let Err(e) = body.want(conn) {
        log::info!("{tag}: client gone before 100 Continue: {e}");
    }
    let mut x = Exchange {
        tag: tag.clone(),
        pid: started.pid,
        stdin: Some(started.stdin),
        stdout: Some(started.stdout),
        stderr: Some(started.stderr),
        pending,
        out: Output::new(
            tag.clone(),
            req.method == Method::Head,
            req.minor_version >= 1 && cx.may_keep_alive,
            cx.may_keep_alive,
            script.name.starts_with("nph-"),
        )
        .header_rules(rules),
        err: LineLog::new(format!("{tag} pid {}", started.pid)),
        body_failed: false,
    };
    let end = x.pump(cx.cfg.cgi_timeout, conn, body);
    x.finish(conn, body, end)
}

/// Reads the whole chunked body, decoded, within the smaller of LimitRequestBody and
/// [`MAX_CHUNKED_BODY`].
pub(crate) fn buffer_chunked(
    cfg: &Config,
    conn: &mut Conn,
    body: &mut BodyReader,
) -> Result<Vec<u8>, BodyError> {
    let cap = match cfg.limits.body {
        0 => MAX_CHUNKED_BODY,
        n => n.min(MAX_CHUNKED_BODY),
    };
    body.want(conn).map_err(BodyError::Io)?;
    let mut out = Vec::new();
    while !body.is_done() {
        body.read_some(conn, &mut out, OUT_CHUNK)?;
        if out.len() as u64 > cap {
            return Err(BodyError::TooLarge {
                declared: out.len() as u64,
                limit: cap,
            });
        }
    }
    Ok(out)
}

struct Started {
    pid: i32,
    stdin: File,
    stdout: File,
    stderr: File,
}

/// The vhost's RLimit* for a program, resolved against this process's current limits:
/// `max` and an absent hard limit mean the current hard limit, which is never raised.
fn program_limits(vhost: &VHost) -> io::Result<Vec<(libc::__rlimit_resource_t, u64, u64)>> {
    use crate::config::harden::{Limit, RLimit, DEFAULT_NPROC_IN_USERNS};
    use nix::sys::resource::{getrlimit, Resource};
    let l = &vhost.harden.limits;
    let nproc = l.nproc.or_else(|| {
        crate::sandbox::own_user_ns().then_some(RLimit {
            soft: Limit::Value(DEFAULT_NPROC_IN_USERNS),
            hard: Some(Limit::Value(DEFAULT_NPROC_IN_USERNS)),
        })
    });
    let wanted = [
        (libc::RLIMIT_CPU, Resource::RLIMIT_CPU, l.cpu),
        (libc::RLIMIT_AS, Resource::RLIMIT_AS, l.mem),
        (libc::RLIMIT_NPROC, Resource::RLIMIT_NPROC, nproc),
    ];
    let mut out = Vec::new();
    for (raw, resource, limit) in wanted {
        let Some(limit) = limit else { continue };
        let (_, cur_hard) = getrlimit(resource)?;
        let value = |l: Limit| match l {
            Limit::Value(v) => v.min(cur_hard),
            Limit::Max => cur_hard,
        };
        let hard = limit.hard.map_or(cur_hard, value);
        let soft = value(limit.soft).min(hard);
        out.push((raw, soft, hard));
    }
    Ok(out)
}

fn start(vhost: &VHost, script: &Script, env: Vec<Vec<u8>>) -> Result<Started, spawn::SpawnError> {
    let prep = |e: io::Error| spawn::SpawnError::Prepare(e);
    let (in_r, in_w) = spawn::pipe().map_err(prep)?;
    let (out_r, out_w) = spawn::pipe().map_err(prep)?;
    let (err_r, err_w) = spawn::pipe().map_err(prep)?;
    // Only our ends are non-blocking (each pipe end is its own open file description); set
    // before the spawn so no failure can leave a started program without its reaper.
    for fd in [&in_w, &out_r, &err_r] {
        spawn::set_nonblocking(fd.as_fd()).map_err(prep)?;
    }
    let cstr = |b: Vec<u8>| CString::new(b).map_err(|e| prep(io::Error::other(e)));
    let name = cstr(script.name.clone().into_bytes())?;
    let envp = env.into_iter().map(cstr).collect::<Result<Vec<_>, _>>()?;
    let pid = spawn::spawn(SpawnSpec {
        dir: script.dir.as_fd(),
        name: name.clone(),
        expect: script.dev_ino,
        argv: vec![name],
        envp,
        stdin: in_r,
        stdout: out_w,
        stderr: err_w,
        rlimits: program_limits(vhost).map_err(prep)?,
        pid_ns: crate::sandbox::programs_in_pid_ns(),
    })?;
    Ok(Started {
        pid,
        stdin: in_w.into(),
        stdout: out_r.into(),
        stderr: err_r.into(),
    })
}

struct Exchange {
    tag: String,
    pid: i32,
    stdin: Option<File>,
    stdout: Option<File>,
    stderr: Option<File>,
    /// Request-body bytes waiting for the program's stdin.
    pending: Vec<u8>,
    out: Output,
    err: LineLog,
    /// The request body was not read to its end: the connection is out of step.
    body_failed: bool,
}

impl Exchange {
    fn pump(&mut self, timeout: Duration, conn: &mut Conn, body: &mut BodyReader) -> End {
        let mut progress = Instant::now();
        let mut buf = vec![0u8; OUT_CHUNK];
        loop {
            if body.is_done() && self.pending.is_empty() {
                self.stdin = None;
            }
            if self.stdout.is_none() {
                return End::Output;
            }
            let want_client =
                self.stdin.is_some() && !body.is_done() && self.pending.len() < STDIN_BUF;
            if want_client && !conn.buf.is_empty() {
                if let Err(e) = self.read_body(conn, body) {
                    return e;
                }
                progress = Instant::now();
                continue;
            }
            let now = Instant::now();
            let left = (progress + timeout).saturating_duration_since(now);
            if left.is_zero() {
                return End::TimedOut;
            }
            if let Some(end) = self.out.due(conn, now, body.is_done()) {
                return end;
            }
            // The client's body has its own, usually shorter, deadline (RequestReadTimeout
            // body=): past it, reading reports the 408 instead of waiting for the program's.
            let body_left = body
                .deadline()
                .filter(|_| want_client)
                .map(|d| d.saturating_duration_since(now));
            if body_left.is_some_and(|l| l.is_zero()) {
                if let Err(e) = self.read_body(conn, body) {
                    return e;
                }
            }
            let left = body_left.map_or(left, |l| l.max(Duration::from_millis(1)).min(left));
            let left = match self.out.hold_until() {
                Some(until) => until
                    .saturating_duration_since(now)
                    .max(Duration::from_millis(1))
                    .min(left),
                None => left,
            };
            let (client_ev, in_ev, out_ev, err_ev) = {
                let mut fds: Vec<PollFd> = Vec::with_capacity(4);
                let c = slot(
                    &mut fds,
                    want_client.then(|| conn.stream.as_fd()),
                    PollFlags::POLLIN,
                );
                let i = slot(
                    &mut fds,
                    self.stdin
                        .as_ref()
                        .filter(|_| !self.pending.is_empty())
                        .map(|f| f.as_fd()),
                    PollFlags::POLLOUT,
                );
                let o = slot(
                    &mut fds,
                    self.stdout.as_ref().map(|f| f.as_fd()),
                    PollFlags::POLLIN,
                );
                let e = slot(
                    &mut fds,
                    self.stderr.as_ref().map(|f| f.as_fd()),
                    PollFlags::POLLIN,
                );
                let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
                match nix::poll::poll(
                    &mut fds,
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
                ) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => {
                        log::error!("{}: poll: {e}", self.tag);
                        return End::ClientGone;
                    }
                }
                let ready = |i: Option<usize>| {
                    i.and_then(|i| fds[i].revents())
                        .is_some_and(|r| !r.is_empty())
                };
                (ready(c), ready(i), ready(o), ready(e))
            };
            if err_ev {
                self.read_stderr(&mut buf);
                progress = Instant::now();
            }
            if client_ev {
                if let Err(e) = self.read_body(conn, body) {
                    return e;
                }
                progress = Instant::now();
            }
            if in_ev {
                self.write_stdin();
                progress = Instant::now();
            }
            if out_ev {
                progress = Instant::now();
                if let Some(end) = self.read_stdout(conn, &mut buf, body.is_done()) {
                    return end;
                }
            }
        }
    }

    fn read_body(&mut self, conn: &mut Conn, body: &mut BodyReader) -> Result<(), End> {
        let room = STDIN_BUF - self.pending.len();
        match body.read_some(conn, &mut self.pending, room) {
            Ok(()) => Ok(()),
            Err(e) => {
                log::info!("{}: request body: {e}", self.tag);
                self.body_failed = true;
                Err(End::Body(e.status()))
            }
        }
    }

    fn write_stdin(&mut self) {
        let Some(stdin) = self.stdin.as_mut() else {
            return;
        };
        match stdin.write(&self.pending) {
            Ok(n) => {
                self.pending.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // EPIPE: the program does not want (the rest of) the body.
                log::debug!("{}: stdin closed by the program: {e}", self.tag);
                self.stdin = None;
                self.pending.clear();
            }
        }
    }

    fn read_stderr(&mut self, buf: &mut [u8]) {
        let Some(f) = self.stderr.as_mut() else {
            return;
        };
        match f.read(buf) {
            Ok(0) => {
                self.stderr = None;
                self.err.flush();
            }
            Ok(n) => self.err.feed(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => self.stderr = None,
        }
    }

    /// `Some` when the loop must stop.
    fn read_stdout(&mut self, conn: &mut Conn, buf: &mut [u8], body_done: bool) -> Option<End> {
        let f = self.stdout.as_mut()?;
        let n = match f.read(buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return None
            }
            Err(e) => {
                log::error!("{}: reading its output: {e}", self.tag);
                0
            }
        };
        if n == 0 {
            self.stdout = None;
            return Some(self.out.eof(conn, body_done));
        }
        let end = self.out.data(conn, &buf[..n], body_done);
        if end == Some(End::Output) {
            // A local redirect: nothing more is read from the program.
            self.stdout = None;
        }
        end
    }

    /// Ends the program (grace, then SIGKILL to its group, reap) and the response.
    fn finish(mut self, conn: &mut Conn, body: &BodyReader, end: End) -> Outcome {
        self.stdin = None;
        if end == End::Output {
            self.stdout = None;
            // The output has ended, so the response is complete: end a chunked body now rather
            // than after the program's exit grace below.
            self.out.end_chunked(conn);
            let until = Instant::now() + EXIT_GRACE;
            let mut buf = vec![0u8; OUT_CHUNK];
            while !spawn::has_exited(self.pid) && Instant::now() < until {
                match self.stderr.as_ref() {
                    Some(f) => {
                        let mut fds = [PollFd::new(f.as_fd(), PollFlags::POLLIN)];
                        let _ = nix::poll::poll(&mut fds, PollTimeout::from(50u8));
                        self.read_stderr(&mut buf);
                    }
                    None => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }
        // Whatever is left of the group (the program, or anything it started) dies now.
        let _ = spawn::kill_group(self.pid);
        let how = spawn::reap(self.pid);
        spawn::reap_group(self.pid);
        if let Some(f) = self.stderr.take() {
            let mut rest = Vec::new();
            let _ = (&f).take(64 * 1024).read_to_end(&mut rest);
            self.err.feed(&rest);
        }
        self.err.flush();
        log::debug!("{}: pid {} {how}", self.tag, self.pid);

        if end == End::TimedOut {
            let after = if self.out.started() {
                " after the response began"
            } else {
                ""
            };
            log::error!(
                "{}: no progress within CGIScriptTimeout{after}; killed process group {}",
                self.tag,
                self.pid
            );
        }
        let complete = !self.body_failed && body.is_done();
        let fail = Failures {
            bad_header: 500,
            no_head: 500,
        };
        self.out.conclude(conn, end, complete, fail)
    }
}

/// Adds `fd` (if any) to the poll set; its index there.
fn slot<'a>(
    fds: &mut Vec<PollFd<'a>>,
    fd: Option<std::os::fd::BorrowedFd<'a>>,
    ev: PollFlags,
) -> Option<usize> {
    fds.push(PollFd::new(fd?, ev));
    Some(fds.len() - 1)
}
