//! WebDAV class 1 and 2 (RFC 4918) where `Dav On`, served after confinement: the process
//! already *is* the admitted user, so every file it creates belongs to that user and every
//! write is checked by the kernel (uid, Landlock write rules beneath the `Dav On` trees only,
//! SELinux). GET, HEAD and POST stay with the static and CGI handlers. docs/webdav.md.
//!
//! This file dispatches a request and holds what every method shares (bodies, hrefs, error
//! answers); `write` has PUT/DELETE/MKCOL/COPY/MOVE, `props` PROPFIND/PROPPATCH, `locks`
//! LOCK/UNLOCK and the `If` checks; `store` is the file tree, `xml` and `headers` the parsers.

pub mod headers;
mod locks;
mod props;
pub mod store;
mod write;
pub mod xml;

use crate::config::dav::DavRoot;
use crate::config::{Config, VHost};
use crate::http::body::{BodyPace, BodyReader};
use crate::http::read::Conn;
use crate::http::request::{Body as ReqBody, Method, Request};
use crate::http::response::{Body, Response};
use crate::http::route::{self, Route};
use crate::sandbox::Confined;
use crate::sys::beneath::Stat;
use headers::Depth;
use std::io::{self, Write};
use std::os::fd::AsFd;
use store::{Lock, Tree};
use xml::Name;

/// What the handler did with the request body.
pub struct Outcome {
    pub resp: Response,
    /// The body was read to its end (the connection is still in step).
    pub body_read: bool,
}

/// The methods WebDAV answers here; the rest go to the other handlers.
const ALLOW: &str =
    "OPTIONS, GET, HEAD, POST, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK";

/// Default and largest lock timeouts, in seconds.
const LOCK_DEFAULT: u64 = 3600;
const LOCK_MAX: u64 = 7 * 24 * 3600;

/// The `Dav On` tree `route` falls in (the longest matching one) and the segments below it,
/// when the request's own merged configuration still says `Dav On`.
pub fn locate(vhost: &VHost, route: &Route, url_path: &str) -> Option<(DavRoot, Vec<String>)> {
    let root = crate::config::dav::roots(vhost)
        .into_iter()
        .filter(|r| route.segments.starts_with(&r.url))
        .max_by_key(|r| r.url.len())?;
    let rel = route.segments.get(root.url.len()..)?.to_vec();
    let fs = rel.iter().fold(root.dir.clone(), |p, s| p.join(s));
    (vhost.dir_conf(&fs, url_path).dav == Some(true)).then_some((root, rel))
}

/// Whether this module answers `method` (in a `Dav On` tree).
pub fn handles(method: Method) -> bool {
    !matches!(
        method,
        Method::Get | Method::Head | Method::Post | Method::Trace | Method::Connect | Method::Patch
    )
}

pub struct Cx<'a> {
    pub cfg: &'a Config,
    pub vhost: &'a VHost,
    pub user: Option<&'a str>,
    pub root: DavRoot,
    pub rel: Vec<String>,
}

struct Dav<'a, 'c> {
    cx: &'a Cx<'c>,
    tree: Tree,
    req: &'a Request,
    now: u64,
    depth_infinity: bool,
    xml_limit: u64,
}

/// Serves one WebDAV request. `same_identity` says whether a request for another URL (the
/// Destination) would be admitted into exactly this process's confinement.
pub fn serve(
    _proof: &Confined,
    cx: &Cx,
    conn: &mut Conn,
    req: &Request,
    same_identity: &mut dyn FnMut(&Request) -> bool,
) -> Outcome {
    let unread = |resp| Outcome {
        resp,
        body_read: false,
    };
    if req.method == Method::Options {
        return unread(options());
    }
    let tree = match Tree::open(&cx.root.dir) {
        Ok(t) => t,
        Err(e) => {
            log::error!("webdav: cannot open {}: {e}", cx.root.dir.display());
            return unread(Response::error(status_of(&e)));
        }
    };
    let fs = cx.rel.iter().fold(cx.root.dir.clone(), |p, s| p.join(s));
    let conf = cx.vhost.dir_conf(&fs, &req.path);
    let d = Dav {
        cx,
        tree,
        req,
        now: now(),
        depth_infinity: conf.dav_depth_infinity == Some(true),
        xml_limit: conf
            .limit_xml_body
            .unwrap_or(crate::config::dav::DEFAULT_XML_LIMIT),
    };
    let rel = cx.rel.clone();
    match req.method {
        Method::Put => d.put(conn, &rel),
        Method::Delete => unread(d.delete(&rel)),
        Method::Mkcol => unread(d.mkcol(&rel)),
        Method::Copy | Method::Move => unread(d.copy_move(&rel, same_identity)),
        Method::Propfind => d.with_xml(conn, |d, b| d.propfind(&rel, b)),
        Method::Proppatch => d.with_xml(conn, |d, b| d.proppatch(&rel, b)),
        Method::Lock => d.with_xml(conn, |d, b| d.lock(&rel, b)),
        Method::Unlock => unread(d.unlock(&rel)),
        _ => unread(Response::error(405).header("Allow", ALLOW)),
    }
}

fn options() -> Response {
    Response::new(200)
        .header("DAV", "1, 2")
        .header("MS-Author-Via", "DAV")
        .header("Allow", ALLOW)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The answer for a failed filesystem call.
fn status_of(e: &io::Error) -> u16 {
    match e.raw_os_error() {
        Some(libc::ENOENT) => 404,
        Some(libc::ENOTDIR) => 409,
        Some(libc::EEXIST) | Some(libc::ENOTEMPTY) => 412,
        Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EXDEV) | Some(libc::ELOOP)
        | Some(libc::EROFS) => 403,
        Some(libc::ENOSPC) | Some(libc::EDQUOT) | Some(libc::E2BIG) | Some(libc::ERANGE) => 507,
        Some(libc::ENAMETOOLONG) => 414,
        _ => 500,
    }
}

fn fail(what: &str, e: &io::Error) -> Response {
    let s = status_of(e);
    if s >= 500 && s != 507 {
        log::error!("webdav: {what}: {e}");
    } else {
        log::info!("webdav: {what}: {e}");
    }
    Response::error(s)
}

fn xml_response(status: u16, body: String) -> Response {
    Response::new(status)
        .header("Content-Type", "application/xml; charset=utf-8")
        .body(Body::Bytes(body.into_bytes()))
}

const XML_HEAD: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";

fn status_line(code: u16) -> String {
    format!(
        "<D:status>HTTP/1.1 {code} {}</D:status>",
        crate::http::status::reason(code)
    )
}

/// A tree-relative path for log lines.
fn rel_path_shown(rel: &[String]) -> String {
    store::rel_path(rel).display().to_string()
}

/// Percent-encodes one path segment for an href.
fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Dav<'_, '_> {
    fn href(&self, rel: &[String], dir: bool) -> String {
        let mut h = String::new();
        for s in self.cx.root.url.iter().chain(rel) {
            h.push('/');
            h.push_str(&encode_segment(s));
        }
        if dir || h.is_empty() {
            h.push('/');
        }
        h
    }

    // ---- bodies ----

    /// Reads an XML body under `LimitXMLRequestBody` (413) and hands it to `f`.
    fn with_xml(&self, conn: &mut Conn, f: impl FnOnce(&Self, &[u8]) -> Response) -> Outcome {
        let limit = self.xml_limit;
        if let ReqBody::Length(n) = self.req.body {
            if limit > 0 && n > limit {
                return Outcome {
                    resp: Response::error(413),
                    body_read: false,
                };
            }
        }
        let mut buf = Vec::new();
        let read = self.read_body(conn, |chunk| {
            if limit > 0 && (buf.len() + chunk.len()) as u64 > limit {
                return Err(413);
            }
            buf.extend_from_slice(chunk);
            Ok(())
        });
        match read {
            Ok(()) => Outcome {
                resp: f(self, &buf),
                body_read: true,
            },
            Err(s) => Outcome {
                resp: Response::error(s),
                body_read: false,
            },
        }
    }

    /// Streams the body to `sink` in pieces of at most 64 KiB (LimitRequestBody: 413).
    fn read_body(
        &self,
        conn: &mut Conn,
        mut sink: impl FnMut(&[u8]) -> Result<(), u16>,
    ) -> Result<(), u16> {
        let cfg = self.cx.cfg;
        let mut r = BodyReader::new(self.req, cfg.limits.body, BodyPace::of(cfg))
            .map_err(|e| e.status())?;
        if r.is_done() {
            return Ok(());
        }
        r.want(conn).map_err(|_| 400u16)?;
        let mut buf = Vec::with_capacity(64 * 1024);
        while !r.is_done() {
            buf.clear();
            r.read_some(conn, &mut buf, 64 * 1024).map_err(|e| {
                log::info!("webdav: request body: {e}");
                e.status()
            })?;
            sink(&buf)?;
        }
        Ok(())
    }

    // ---- preconditions ----

    // ---- methods ----
}
