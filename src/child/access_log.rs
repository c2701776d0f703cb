//! The access log line: each `CustomLog` of the request's virtual host (its own, else the main
//! server's, as Apache) gets the line its `LogFormat` describes (`crate::logformat`). One
//! write(2) per line on a descriptor the master opened (a file with O_APPEND or a pipe to a
//! log program), so lines never interleave.
//!
//! A child serves one connection, so what is the same for every request of it (the TCP peer
//! and local address, TLS) and when the current request began are kept here, set by the
//! stages that know them.

use crate::config::{Config, VHost};
use crate::handoff::Inherited;
use crate::http::request::Request;
use crate::logformat::Record;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

pub use crate::logformat::escape;

/// What this connection is, for `%{c}a`, `%A`, `%{local}p`, `%{remote}p`, `%{HTTPS}e`.
#[derive(Debug, Clone, Copy)]
struct Connection {
    peer: SocketAddr,
    local: Option<SocketAddr>,
    on: super::vhost::On,
}

/// The current request: when its head was complete, how long the head was, how many
/// requests the connection served before it.
#[derive(Debug, Clone, Copy)]
struct Current {
    at: SystemTime,
    clock: Instant,
    head_bytes: u64,
    earlier: usize,
}

static CONNECTION: Mutex<Option<Connection>> = Mutex::new(None);
static CURRENT: Mutex<Option<Current>> = Mutex::new(None);

/// The connection this child accepted.
pub fn connection(peer: SocketAddr, local: SocketAddr, on: super::vhost::On) {
    if let Ok(mut c) = CONNECTION.lock() {
        *c = Some(Connection {
            peer,
            local: Some(local),
            on,
        });
    }
}

/// The address this child's connection was accepted on (`Server_Addr` for `SetEnvIf`).
pub fn local_addr() -> Option<SocketAddr> {
    CONNECTION
        .lock()
        .ok()
        .and_then(|c| c.as_ref().and_then(|c| c.local))
}

/// A request head of `head_bytes` bytes was read (or found malformed) just now.
pub fn request_began(head_bytes: usize) {
    if let Ok(mut c) = CURRENT.lock() {
        let earlier = c.map_or(0, |c| c.earlier + 1);
        *c = Some(Current {
            at: SystemTime::now(),
            clock: Instant::now(),
            head_bytes: head_bytes as u64,
            earlier,
        });
    }
}

/// One request's outcome.
pub struct Entry<'a> {
    /// The client (after a PROXY header).
    pub peer: SocketAddr,
    /// The virtual host that answered; None before one was chosen (the default one's logs).
    pub vhost: Option<&'a VHost>,
    pub req: Option<&'a Request>,
    pub user: Option<&'a str>,
    pub request_line: &'a str,
    /// 0 when nothing could be sent.
    pub status: u16,
    pub bytes: u64,
    /// Bytes of the response head, when known.
    pub head_bytes: u64,
    pub headers_out: &'a [(String, String)],
    pub keep_alive: bool,
    pub ctx: &'a str,
    pub rule: &'a str,
}

/// Renders `e` with each format of its vhost's logs and writes it.
pub fn write(cfg: &Config, inh: &Inherited, e: &Entry<'_>) {
    let conn = CONNECTION.lock().ok().and_then(|c| *c);
    let cur = CURRENT.lock().ok().and_then(|c| *c);
    let req = e.req;
    let on = conn.map_or(super::vhost::On::Plain, |c| c.on);
    let host = req.and_then(|r| r.host.as_deref());
    let vhost = match e.vhost {
        Some(v) => v,
        None => super::vhost::select_on(cfg, host, on)
            .unwrap_or_else(|_| super::vhost::select(&cfg.vhosts, None)),
    };
    let (method, protocol, path, query) = match req {
        Some(r) => (
            r.method.as_str().to_string(),
            format!("HTTP/1.{}", r.minor_version),
            r.path.as_str(),
            r.query.as_deref(),
        ),
        None => ("-".to_string(), "-".to_string(), "-", None),
    };
    let client = e.peer.ip().to_string();
    let mut env: Vec<(&str, &str)> = vec![("REMOTE_ADDR", &client)];
    if matches!(on, super::vhost::On::Tls { .. }) {
        env.push(("HTTPS", "on"));
    }
    if let Some(u) = e.user {
        env.push(("REMOTE_USER", u));
    }
    let local = conn.and_then(|c| c.local);
    let ssl = crate::http::tls_session::log_vars();
    let ssl: Vec<(&str, &str)> = ssl.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let record = Record {
        client: e.peer.ip(),
        peer: conn.map_or(e.peer, |c| c.peer),
        local,
        user: e.user,
        request_line: e.request_line,
        method: &method,
        protocol: &protocol,
        path,
        query,
        filename: None,
        status: e.status,
        body_bytes: e.bytes,
        bytes_in: cur.map_or(0, |c| c.head_bytes),
        bytes_out: e.head_bytes + e.bytes,
        headers_in: req.map_or(&[], |r| r.headers.as_slice()),
        headers_out: e.headers_out,
        notes: &[("ctx", e.ctx), ("rule", e.rule)],
        env: &env,
        ssl: &ssl,
        server_name: vhost.server_name(),
        host: req.and_then(|r| r.host.as_deref()),
        server_port: local.map_or(0, |l| l.port()),
        pid: std::process::id(),
        // Apache counts keep-alive responses so far, this one included, minus one.
        keepalives: cur
            .map_or(0, |c| c.earlier + usize::from(e.keep_alive))
            .saturating_sub(1),
        keep_alive: e.keep_alive,
        aborted: e.status == 0,
        started: cur.map_or_else(SystemTime::now, |c| c.at),
        elapsed: cur.map_or_else(Default::default, |c| c.clock.elapsed()),
    };
    for &i in &vhost.access_logs {
        let Some((f, fmt)) = inh.access_logs.get(i) else {
            continue;
        };
        let line = fmt.render(&record);
        // A full disk must not cost one error-log line per request: the master hears of it
        // and says it once per failure streak.
        let log = crate::handoff::status::LogId::Access(i.try_into().unwrap_or(u16::MAX - 1));
        super::report::log_write(log, &(&*f).write_all(line.as_bytes()));
    }
}
