//! CGI/1.1 (RFC 3875), run inside the connection's confinement, one job per file:
//! - [`locate`]: [`lookup`] finds the program (ScriptAlias, or `AddHandler cgi-script` +
//!   `Options ExecCGI`) by walking the URL's segments beneath the tree with openat(O_NOFOLLOW),
//!   so the first regular file is the program and the rest is PATH_INFO, and no symlink is
//!   ever followed;
//! - [`suexec`]: suEXEC's checks, a refusal being a 403 and an error-log line naming the
//!   check, the path and the ids;
//! - [`program`]: starting the program, its pipes, its end; [`pump`]: the one exchange loop
//!   (client, backend, response framing) that FastCGI shares;
//! - [`output`]: the response framing (its header block, Content-Length or chunked), pure
//!   parts unit-tested, shared with FastCGI; [`header`] and [`env`]: the CGI header block and
//!   the environment (pure).
//!
//! [`run`] — which needs the [`Confined`] proof, so it cannot run before the
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
pub(crate) mod filter;
pub mod header;
mod locate;
pub(crate) mod output;
mod program;
pub(crate) mod pump;
mod suexec;

pub use crate::http::route::index_url;
pub(crate) use locate::any_cgi_extension;
pub use locate::{lookup, Lookup, Script};

use crate::config::{Config, VHost};
use crate::http::body::{BodyError, BodyReader};
use crate::http::read::Conn;
use crate::http::request::{Method, Request};
use crate::http::response::Response;
use crate::sandbox::Confined;
use output::{send_error, Output};
use program::{start, OUT_CHUNK};
use std::net::SocketAddr;

/// Largest chunked request body buffered for a program (LimitRequestBody may lower it).
pub const MAX_CHUNKED_BODY: u64 = 8 * 1024 * 1024;

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
    /// Serving an `ErrorDocument`: the original status, and fields of the original answer
    /// it keeps (a 401's WWW-Authenticate); see `child::errordoc`.
    pub error: Option<crate::http::response::Original<'a>>,
}

/// Where the program is, as its CGI/1.1 variables name it: what differs between a CGI program
/// and a FastCGI target.
pub struct ProgramPaths<'a> {
    pub script_name: &'a str,
    pub path_info: &'a str,
    pub document_root: &'a str,
    pub script_filename: &'a str,
    pub content_length: Option<u64>,
}

/// The CGI/1.1 variables of `req` as `cx` admitted it (`env::build`, httpoxy-safe), the same
/// for a CGI program and a FastCGI backend; `SERVER_PORT` is the TLS session's port when
/// there is one, else the listener's.
pub fn program_env(
    cx: &Context,
    req: &Request,
    local: Option<SocketAddr>,
    paths: ProgramPaths,
) -> Vec<Vec<u8>> {
    let redirect = cx.error.map(|o| (o, o.url()));
    env::build(&env::CgiRequest {
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
            .unwrap_or_else(|| local.map(|a| a.port()).unwrap_or(0)),
        remote_user: cx.user,
        script_name: paths.script_name,
        path_info: paths.path_info,
        document_root: paths.document_root,
        script_filename: paths.script_filename,
        content_length: paths.content_length,
        redirect: redirect.as_ref().map(|(o, url)| env::Redirect {
            status: o.status,
            url,
            query: o.req.query.as_deref(),
            method: o.req.method.as_str(),
        }),
    })
}

/// The request's `SetEnv`/`SetEnvIf` variables (`config::setenv`), which Apache passes to
/// programs with its `subprocess_env`.
pub fn with_request_vars(
    mut env: Vec<Vec<u8>>,
    cx: &Context,
    req: &Request,
    local: Option<SocketAddr>,
) -> Vec<Vec<u8>> {
    let conf = crate::config::request::request_conf(cx.vhost, req).1;
    let vars = crate::config::setenv::for_request(&conf, cx.peer, local, req);
    crate::config::setenv::add_to_program_env(&mut env, &vars);
    env
}

pub fn run(
    _proof: &Confined,
    cx: &Context,
    conn: &mut Conn,
    req: &Request,
    body: &mut BodyReader,
    script: Script,
) -> Outcome {
    let conf = crate::config::request::request_conf(cx.vhost, req).1;
    let (rules, charset) = (conf.headers.clone(), conf.default_charset.clone());
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

    let local = conn.stream.local_addr().ok();
    let env = program_env(
        cx,
        req,
        local,
        ProgramPaths {
            script_name: &script.script_name,
            path_info: &script.path_info,
            document_root: &cx.vhost.document_root.to_string_lossy(),
            script_filename: &filename.to_string_lossy(),
            content_length,
        },
    );
    let env = crate::http::tls_session::with_cgi_vars(env, script.ssl_std_env_vars);
    let env = with_request_vars(env, cx, req, local);
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
    let out = Output::new(
        tag.clone(),
        req.method == Method::Head,
        req.minor_version >= 1 && cx.may_keep_alive,
        cx.may_keep_alive,
        script.name.starts_with("nph-"),
    )
    .header_rules(rules)
    .default_charset(charset.as_ref())
    .error_status(cx.error.map(|o| o.status))
    .filters(filter::Filters {
        accept_encoding: req.header("Accept-Encoding").map(<[u8]>::to_vec),
        file_name: Some(script.name.clone()),
        mtime: std::fs::symlink_metadata(&filename)
            .and_then(|m| m.modified())
            .ok(),
        conf,
    });
    program::exchange(tag, started, pending, out, cx.cfg.cgi_timeout, conn, body)
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
