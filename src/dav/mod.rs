//! WebDAV class 1 and 2 (RFC 4918) where `Dav On`, served after confinement: the process
//! already *is* the admitted user, so every file it creates belongs to that user and every
//! write is checked by the kernel (uid, Landlock write rules beneath the `Dav On` trees only,
//! SELinux). GET, HEAD and POST stay with the static and CGI handlers. docs/webdav.md.

pub mod headers;
pub mod store;
pub mod xml;

use crate::config::dav::DavRoot;
use crate::config::{Config, VHost};
use crate::http::body::{BodyPace, BodyReader};
use crate::http::read::Conn;
use crate::http::request::{Body as ReqBody, Method, Request};
use crate::http::response::{Body, Response};
use crate::http::route::{self, Route};
use crate::sandbox::Confined;
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

    /// Evaluates the If header (RFC 4918 §10.4): 400 when malformed, 412 when no list holds.
    /// Returns the lock tokens it submits.
    fn check_if(&self, rel: &[String]) -> Result<Vec<String>, u16> {
        let Some(v) = self.req.header("If") else {
            return Ok(Vec::new());
        };
        let h = headers::if_header(v).ok_or(400u16)?;
        let holds = h.lists.iter().any(|(tag, list)| {
            let target = match tag {
                None => Some(rel.to_vec()),
                Some(t) => self.rel_of_uri(t),
            };
            let Some(target) = target else {
                return false;
            };
            let tokens: Vec<String> = self
                .tree
                .covering(&target, self.now)
                .into_iter()
                .map(|(_, l)| l.token)
                .collect();
            let etag = self
                .tree
                .stat(&target)
                .ok()
                .flatten()
                .map(|s| store::etag(&s));
            list.iter().all(|(not, c)| {
                let ok = match c {
                    headers::Cond::Token(t) => tokens.contains(t),
                    headers::Cond::ETag(e) => etag.as_deref() == Some(e.as_str()),
                };
                ok != *not
            })
        });
        if !holds {
            return Err(412);
        }
        Ok(h.tokens().map(str::to_string).collect())
    }

    /// The segments (in this tree) of an absolute URI or path on this host; `None` otherwise.
    fn rel_of_uri(&self, uri: &str) -> Option<Vec<String>> {
        let (auth, path) = headers::uri_path(uri)?;
        if let Some(a) = auth {
            let host = self.req.header("Host")?;
            if !a.as_bytes().eq_ignore_ascii_case(host) {
                return None;
            }
        }
        let r = route::route(path).ok()?;
        let (root, rel) = locate(self.cx.vhost, &r, path)?;
        (root == self.cx.root).then_some(rel)
    }

    /// 423 unless every lock on `rel` (and, when `member` — the request adds or removes
    /// `rel` itself — every lock on its parent) is submitted by its own user.
    fn check_locks(&self, rel: &[String], submitted: &[String], member: bool) -> Result<(), u16> {
        let mut locks: Vec<Lock> = self
            .tree
            .covering(rel, self.now)
            .into_iter()
            .map(|(_, l)| l)
            .collect();
        if member && !rel.is_empty() {
            let parent = rel.get(..rel.len() - 1).unwrap_or_default();
            locks.extend(self.tree.locks_on(parent, self.now));
        }
        let user = self.cx.user.map(str::to_string);
        match locks
            .iter()
            .find(|l| !(submitted.contains(&l.token) && l.user == user))
        {
            Some(l) => {
                log::info!("webdav: {} is locked ({})", self.req.path, l.token);
                Err(423)
            }
            None => Ok(()),
        }
    }

    fn may_write(&self, rel: &[String], member: bool) -> Result<Vec<String>, Response> {
        let submitted = self.check_if(rel).map_err(Response::error)?;
        self.check_locks(rel, &submitted, member)
            .map_err(Response::error)?;
        Ok(submitted)
    }

    // ---- methods ----

    fn put(&self, conn: &mut Conn, rel: &[String]) -> Outcome {
        let unread = |resp| Outcome {
            resp,
            body_read: false,
        };
        let Some(name) = rel.last() else {
            return unread(Response::error(405).header("Allow", ALLOW));
        };
        let existing = match self.tree.stat(rel) {
            Ok(s) => s,
            Err(e) => return unread(fail("PUT stat", &e)),
        };
        if existing.as_ref().is_some_and(store::is_dir) {
            return unread(Response::error(405).header("Allow", ALLOW));
        }
        let parent = match self.tree.parent(rel) {
            Ok(Some(p)) => p,
            Ok(None) => return unread(Response::error(409)),
            Err(e) => return unread(fail("PUT parent", &e)),
        };
        if let Err(r) = self.may_write(rel, existing.is_none()) {
            return unread(r);
        }
        let tmp = store::tmp_name(name);
        let mut file = match crate::sys::beneath::create(parent.as_fd(), &tmp, 0o644) {
            Ok(f) => f,
            Err(e) => return unread(fail("PUT create", &e)),
        };
        let mut werr: Option<io::Error> = None;
        let read = self.read_body(conn, |chunk| {
            file.write_all(chunk).map_err(|e| {
                let s = status_of(&e);
                werr = Some(e);
                s
            })
        });
        let finished = read.and_then(|()| {
            if existing.is_some() {
                if let Ok(old) = self.tree.open_any(rel) {
                    store::copy_resource_state(&old, &file).map_err(|e| {
                        let s = status_of(&e);
                        werr = Some(e);
                        s
                    })?;
                }
            }
            crate::sys::beneath::rename(parent.as_fd(), &tmp, parent.as_fd(), name, true).map_err(
                |e| {
                    let s = status_of(&e);
                    werr = Some(e);
                    s
                },
            )
        });
        match finished {
            Ok(()) => Outcome {
                resp: Response::new(if existing.is_some() { 204 } else { 201 }),
                body_read: true,
            },
            Err(s) => {
                let _ = crate::sys::beneath::unlink(parent.as_fd(), &tmp, false);
                if let Some(e) = werr {
                    log::info!("webdav: PUT {}: {e}", self.req.path);
                }
                unread(Response::error(s))
            }
        }
    }

    fn delete(&self, rel: &[String]) -> Response {
        if rel.is_empty() {
            return Response::error(403);
        }
        match self.tree.stat(rel) {
            Ok(Some(st)) => {
                if let Err(r) = self.may_write(rel, true) {
                    return r;
                }
                if store::is_dir(&st) && !self.tree.locks_beneath(rel, self.now).is_empty() {
                    return Response::error(423);
                }
                match self.tree.remove(rel) {
                    Ok(failed) => self.partial("DELETE", rel, &failed, 204),
                    Err(e) => fail("DELETE", &e),
                }
            }
            Ok(None) => Response::error(404),
            Err(e) => fail("DELETE stat", &e),
        }
    }

    fn mkcol(&self, rel: &[String]) -> Response {
        if !matches!(self.req.body, ReqBody::None | ReqBody::Length(0)) {
            return Response::error(415);
        }
        let Some(name) = rel.last() else {
            return Response::error(405).header("Allow", ALLOW);
        };
        match self.tree.stat(rel) {
            Ok(Some(_)) => return Response::error(405).header("Allow", ALLOW),
            Ok(None) => {}
            Err(e) => return fail("MKCOL stat", &e),
        }
        let parent = match self.tree.parent(rel) {
            Ok(Some(p)) => p,
            Ok(None) => return Response::error(409),
            Err(e) => return fail("MKCOL parent", &e),
        };
        if let Err(r) = self.may_write(rel, true) {
            return r;
        }
        match crate::sys::beneath::mkdir(parent.as_fd(), name, 0o755) {
            Ok(()) => Response::new(201),
            Err(e) => fail("MKCOL", &e),
        }
    }

    fn copy_move(
        &self,
        rel: &[String],
        same_identity: &mut dyn FnMut(&Request) -> bool,
    ) -> Response {
        let moving = self.req.method == Method::Move;
        let Some(dest) = self
            .req
            .header("Destination")
            .and_then(|v| std::str::from_utf8(v).ok())
        else {
            return Response::error(400);
        };
        let Some((auth, dpath)) = headers::uri_path(dest) else {
            return Response::error(400);
        };
        if let Some(a) = auth {
            if self
                .req
                .header("Host")
                .is_none_or(|h| !a.as_bytes().eq_ignore_ascii_case(h))
            {
                log::info!("webdav: Destination {dest} is on another host");
                return Response::error(502);
            }
        }
        let Ok(droute) = route::route(dpath) else {
            return Response::error(400);
        };
        // The destination must lie in this same Dav tree and be admitted exactly as this
        // request was (same vhost, same Require, same identity).
        let Some(drel) = locate(self.cx.vhost, &droute, dpath)
            .filter(|(root, _)| *root == self.cx.root)
            .map(|(_, r)| r)
        else {
            log::info!(
                "webdav: Destination {dest} is outside {}",
                self.href(&[], true)
            );
            return Response::error(403);
        };
        let probe = Request {
            target: dpath.to_string(),
            path: dpath.to_string(),
            query: None,
            body: ReqBody::None,
            expect_continue: false,
            ..self.req.clone()
        };
        if !same_identity(&probe) {
            log::info!("webdav: Destination {dest} is not admitted in this identity");
            return Response::error(403);
        }
        if drel.is_empty() || drel == rel || (drel.starts_with(rel)) || rel.is_empty() {
            return Response::error(403);
        }
        let depth = match headers::depth(self.req.header("Depth"), Depth::Infinity) {
            Some(Depth::Infinity) => true,
            Some(Depth::Zero) if !moving => false,
            _ => return Response::error(400),
        };
        let Some(overwrite) = headers::overwrite(self.req.header("Overwrite")) else {
            return Response::error(400);
        };
        let src = match self.tree.stat(rel) {
            Ok(Some(s)) => s,
            Ok(None) => return Response::error(404),
            Err(e) => return fail("COPY/MOVE stat", &e),
        };
        let _ = src;
        match self.tree.parent(&drel) {
            Ok(Some(_)) => {}
            Ok(None) => return Response::error(409),
            Err(e) => return fail("COPY/MOVE parent", &e),
        }
        let exists = match self.tree.stat(&drel) {
            Ok(s) => s.is_some(),
            Err(e) => return fail("COPY/MOVE stat", &e),
        };
        if exists && !overwrite {
            return Response::error(412);
        }
        let submitted = match self.check_if(rel) {
            Ok(s) => s,
            Err(s) => return Response::error(s),
        };
        if moving {
            if let Err(s) = self.check_locks(rel, &submitted, true) {
                return Response::error(s);
            }
        }
        if let Err(s) = self.check_locks(&drel, &submitted, true) {
            return Response::error(s);
        }
        // Overwrite: T is a DELETE of the destination first (§9.8.4, §9.9.3); members of it
        // that stay are the answer, and nothing is copied or moved.
        if exists {
            match self.tree.remove(&drel) {
                Ok(failed) if failed.is_empty() => {}
                Ok(failed) => return self.partial("COPY/MOVE overwrite", &drel, &failed, 204),
                Err(e) => return fail("COPY/MOVE overwrite", &e),
            }
        }
        let done = if moving {
            self.rename(rel, &drel).map(|()| Vec::new())
        } else {
            self.tree.copy(rel, &drel, depth)
        };
        match done {
            Ok(failed) => self.partial("COPY", rel, &failed, if exists { 204 } else { 201 }),
            Err(e) => fail("COPY/MOVE", &e),
        }
    }

    /// The answer of a DELETE, COPY or MOVE that acted on several resources: `done` when
    /// nothing failed; the failure's own status when the only failure is the request's
    /// resource itself; else 207 Multi-Status naming each member that failed with its status
    /// (RFC 4918 §9.6.1, §9.8.5, §9.8.8, §9.9.4). Only failures are listed: no 424 for the
    /// collections that held them, no 2xx for what succeeded.
    fn partial(&self, what: &str, rel: &[String], failed: &[store::Failed], done: u16) -> Response {
        match failed {
            [] => Response::new(done),
            [only] if only.rel == rel => fail(what, &only.error),
            _ => {
                let mut out = format!("{XML_HEAD}<D:multistatus xmlns:D=\"DAV:\">\n");
                for f in failed {
                    let code = status_of(&f.error);
                    log::info!("webdav: {what}: {}: {}", rel_path_shown(&f.rel), f.error);
                    out.push_str(&format!(
                        "<D:response><D:href>{}</D:href>{}</D:response>\n",
                        self.href(&f.rel, f.dir),
                        status_line(code)
                    ));
                }
                out.push_str("</D:multistatus>\n");
                xml_response(207, out)
            }
        }
    }

    /// MOVE: a rename within the tree; locks stay behind (RFC 4918 §7.7), so the moved
    /// resource loses its own.
    fn rename(&self, from: &[String], to: &[String]) -> io::Result<()> {
        let (Some(fp), Some(tp)) = (self.tree.parent(from)?, self.tree.parent(to)?) else {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        };
        let (Some(f), Some(t)) = (from.last(), to.last()) else {
            return Err(io::Error::from_raw_os_error(libc::EPERM));
        };
        crate::sys::beneath::rename(fp.as_fd(), f, tp.as_fd(), t, false)?;
        if let Ok(fd) = self.tree.open_any(to) {
            let _ = crate::sys::beneath::xattr_remove(&fd, store::LOCKS_XATTR);
        }
        Ok(())
    }

    fn propfind(&self, rel: &[String], body: &[u8]) -> Response {
        let depth = match headers::depth(self.req.header("Depth"), Depth::Infinity) {
            Some(d) => d,
            None => return Response::error(400),
        };
        if depth == Depth::Infinity && !self.depth_infinity {
            return xml_response(
                403,
                format!(
                    "{XML_HEAD}<D:error xmlns:D=\"DAV:\"><D:propfind-finite-depth/></D:error>\n"
                ),
            );
        }
        let what = match xml::propfind(body) {
            Ok(w) => w,
            Err(e) => {
                log::info!("webdav: PROPFIND body: {e}");
                return Response::error(400);
            }
        };
        let st = match self.tree.stat(rel) {
            Ok(Some(s)) => s,
            Ok(None) => return Response::error(404),
            Err(e) => return fail("PROPFIND", &e),
        };
        let mut out = format!("{XML_HEAD}<D:multistatus xmlns:D=\"DAV:\">\n");
        let mut todo: Vec<(Vec<String>, Stat)> = vec![(rel.to_vec(), st)];
        let mut count = 0usize;
        while let Some((r, st)) = todo.pop() {
            count += 1;
            if count > 100_000 {
                break;
            }
            self.prop_response(&r, &st, &what, &mut out);
            let deeper = match depth {
                Depth::Zero => false,
                Depth::One => r.len() == rel.len(),
                Depth::Infinity => r.len() - rel.len() < store::MAX_TREE_DEPTH,
            };
            if !deeper || !store::is_dir(&st) {
                continue;
            }
            let Ok(members) = self.tree.members(&r) else {
                continue;
            };
            for (name, _) in members.into_iter().rev() {
                let mut m = r.clone();
                m.push(name);
                if let Ok(Some(s)) = self.tree.stat(&m) {
                    let ty = store::FileTypeOf::of(&s);
                    if ty.served() {
                        todo.push((m, s));
                    }
                }
            }
        }
        out.push_str("</D:multistatus>\n");
        xml_response(207, out)
    }

    fn prop_response(&self, rel: &[String], st: &Stat, what: &xml::Propfind, out: &mut String) {
        let dir = store::is_dir(st);
        out.push_str(&format!(
            "<D:response><D:href>{}</D:href>",
            xml::text_content(&self.href(rel, dir))
        ));
        let fd = self.tree.open_any(rel).ok();
        let dead = fd
            .as_ref()
            .map(|f| self.tree.dead_props(f))
            .unwrap_or_default();
        let live = LIVE.iter().map(|l| Name::dav(l));
        let (mut found, mut missing) = (String::new(), String::new());
        match what {
            xml::Propfind::PropName => {
                for n in live.filter(|n| self.live(n, rel, st).is_some()) {
                    found.push_str(&xml::empty_tag(&n));
                }
                for (n, _) in &dead {
                    found.push_str(&xml::empty_tag(n));
                }
            }
            xml::Propfind::AllProp => {
                for n in live {
                    if let Some(v) = self.live(&n, rel, st) {
                        found.push_str(&format!("{}{v}{}", xml::open_tag(&n), xml::close_tag(&n)));
                    }
                }
                for (n, v) in &dead {
                    found.push_str(&format!("{}{v}{}", xml::open_tag(n), xml::close_tag(n)));
                }
            }
            xml::Propfind::Prop(names) => {
                for n in names {
                    let v = if n.ns == xml::DAV {
                        self.live(n, rel, st)
                    } else {
                        None
                    }
                    .or_else(|| dead.iter().find(|(d, _)| d == n).map(|(_, v)| v.clone()));
                    match v {
                        Some(v) => {
                            found.push_str(&format!("{}{v}{}", xml::open_tag(n), xml::close_tag(n)))
                        }
                        None => missing.push_str(&xml::empty_tag(n)),
                    }
                }
            }
        }
        if !found.is_empty() || missing.is_empty() {
            out.push_str(&format!(
                "<D:propstat><D:prop>{found}</D:prop>{}</D:propstat>",
                status_line(200)
            ));
        }
        if !missing.is_empty() {
            out.push_str(&format!(
                "<D:propstat><D:prop>{missing}</D:prop>{}</D:propstat>",
                status_line(404)
            ));
        }
        out.push_str("</D:response>\n");
    }

    /// A live property's content, `None` when the resource does not have it.
    fn live(&self, n: &Name, rel: &[String], st: &Stat) -> Option<String> {
        if n.ns != xml::DAV {
            return None;
        }
        let dir = store::is_dir(st);
        let mtime =
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(st.st_mtime.max(0) as u64);
        Some(match n.local.as_str() {
            "resourcetype" if dir => "<D:collection/>".into(),
            "resourcetype" => String::new(),
            "getcontentlength" if !dir => st.st_size.to_string(),
            "getlastmodified" => crate::http::date::http_date(mtime),
            "getetag" if !dir => xml::text_content(&store::etag(st)),
            "getcontenttype" if !dir => {
                // The vhost-level mod_mime settings (a <Files>-level ForceType is not seen
                // here); no known type: no such property, as mod_dav_fs.
                let types = &self.cx.cfg.mime.types;
                crate::http::mime::content_type(
                    rel.last().map_or("", String::as_str),
                    &self.cx.vhost.conf.mime(types),
                )?
            }
            "supportedlock" => "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>\
<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>".into(),
            "lockdiscovery" => self
                .tree
                .covering(rel, self.now)
                .iter()
                .map(|(_, l)| self.activelock(l))
                .collect(),
            _ => return None,
        })
    }

    fn activelock(&self, l: &Lock) -> String {
        let scope = if l.exclusive { "exclusive" } else { "shared" };
        let depth = if l.infinite { "infinity" } else { "0" };
        let owner = l
            .owner
            .as_ref()
            .map(|o| format!("<D:owner>{o}</D:owner>"))
            .unwrap_or_default();
        let left = l.expires.saturating_sub(self.now).max(1);
        format!(
            "<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:{scope}/></D:lockscope>\
<D:depth>{depth}</D:depth>{owner}<D:timeout>Second-{left}</D:timeout>\
<D:locktoken><D:href>{}</D:href></D:locktoken><D:lockroot><D:href>{}</D:href></D:lockroot></D:activelock>",
            xml::text_content(&l.token),
            xml::text_content(&l.root)
        )
    }

    fn proppatch(&self, rel: &[String], body: &[u8]) -> Response {
        let st = match self.tree.stat(rel) {
            Ok(Some(s)) => s,
            Ok(None) => return Response::error(404),
            Err(e) => return fail("PROPPATCH", &e),
        };
        let ops = match xml::proppatch(body) {
            Ok(o) => o,
            Err(e) => {
                log::info!("webdav: PROPPATCH body: {e}");
                return Response::error(400);
            }
        };
        if let Err(r) = self.may_write(rel, false) {
            return r;
        }
        let fd = match self.tree.open_any(rel) {
            Ok(f) => f,
            Err(e) => return fail("PROPPATCH open", &e),
        };
        let name_of = |p: &xml::Patch| match p {
            xml::Patch::Set(n, _) | xml::Patch::Remove(n) => n.clone(),
        };
        // DAV: properties are the server's (protected); any of them fails the whole request.
        let protected = ops.iter().any(|p| name_of(p).ns == xml::DAV);
        let mut statuses: Vec<(Name, u16)> = Vec::new();
        let mut failed = protected;
        for p in &ops {
            let n = name_of(p);
            let s = if n.ns == xml::DAV {
                403
            } else if failed {
                424
            } else {
                let x = store::prop_xattr(&n);
                let r = match p {
                    xml::Patch::Set(_, v) => crate::sys::beneath::xattr_set(&fd, &x, v.as_bytes()),
                    xml::Patch::Remove(_) => crate::sys::beneath::xattr_remove(&fd, &x),
                };
                match r {
                    Ok(()) => 200,
                    Err(e) => {
                        failed = true;
                        log::info!("webdav: PROPPATCH {}: {e}", self.req.path);
                        status_of(&e)
                    }
                }
            };
            statuses.retain(|(m, _)| *m != n);
            statuses.push((n, s));
        }
        let mut out = format!(
            "{XML_HEAD}<D:multistatus xmlns:D=\"DAV:\"><D:response><D:href>{}</D:href>",
            xml::text_content(&self.href(rel, store::is_dir(&st)))
        );
        for (n, s) in &statuses {
            out.push_str(&format!(
                "<D:propstat><D:prop>{}</D:prop>{}</D:propstat>",
                xml::empty_tag(n),
                status_line(*s)
            ));
        }
        out.push_str("</D:response></D:multistatus>\n");
        xml_response(207, out)
    }

    fn lock(&self, rel: &[String], body: &[u8]) -> Response {
        let info = match xml::lockinfo(body) {
            Ok(i) => i,
            Err(e) => {
                log::info!("webdav: LOCK body: {e}");
                return Response::error(400);
            }
        };
        let timeout = headers::timeout(self.req.header("Timeout"), LOCK_DEFAULT, LOCK_MAX);
        let Some(info) = info else {
            return self.refresh(rel, timeout);
        };
        let infinite = match headers::depth(self.req.header("Depth"), Depth::Infinity) {
            Some(Depth::Infinity) => true,
            Some(Depth::Zero) => false,
            _ => return Response::error(400),
        };
        let existing = match self.tree.stat(rel) {
            Ok(s) => s,
            Err(e) => return fail("LOCK stat", &e),
        };
        let conflict = |l: &Lock| l.exclusive || info.exclusive;
        if self
            .tree
            .covering(rel, self.now)
            .iter()
            .any(|(_, l)| conflict(l))
            || (infinite
                && existing.as_ref().is_some_and(store::is_dir)
                && self.tree.locks_beneath(rel, self.now).iter().any(conflict))
        {
            return Response::error(423);
        }
        if let Err(s) = self.check_if(rel) {
            return Response::error(s);
        }
        let created = existing.is_none();
        if created {
            // A lock on an unmapped URL creates an empty resource (RFC 4918 §9.10.4).
            let (Some(parent), Some(name)) = (self.tree.parent(rel).ok().flatten(), rel.last())
            else {
                return Response::error(409);
            };
            if let Err(r) = self.may_write(rel, true) {
                return r;
            }
            if let Err(e) = crate::sys::beneath::create(parent.as_fd(), name, 0o644) {
                return fail("LOCK create", &e);
            }
        }
        let st = self.tree.stat(rel).ok().flatten();
        let lock = Lock {
            token: new_token(),
            exclusive: info.exclusive,
            infinite: infinite && st.as_ref().is_some_and(store::is_dir),
            owner: info.owner,
            user: self.cx.user.map(str::to_string),
            timeout,
            expires: self.now + timeout,
            root: self.href(rel, st.as_ref().is_some_and(store::is_dir)),
        };
        let mut locks = self.tree.locks_on(rel, self.now);
        locks.push(lock.clone());
        if let Err(e) = self.tree.store_locks(rel, &locks) {
            return fail("LOCK store", &e);
        }
        self.lock_answer(if created { 201 } else { 200 }, &lock)
            .header("Lock-Token", format!("<{}>", lock.token))
    }

    fn lock_answer(&self, status: u16, l: &Lock) -> Response {
        xml_response(
            status,
            format!(
                "{XML_HEAD}<D:prop xmlns:D=\"DAV:\"><D:lockdiscovery>{}</D:lockdiscovery></D:prop>\n",
                self.activelock(l)
            ),
        )
    }

    /// LOCK without a body: extends the lock whose token the If header submits.
    fn refresh(&self, rel: &[String], timeout: u64) -> Response {
        let submitted = match self.check_if(rel) {
            Ok(s) if !s.is_empty() => s,
            Ok(_) => return Response::error(400),
            Err(s) => return Response::error(s),
        };
        let user = self.cx.user.map(str::to_string);
        for (holder, l) in self.tree.covering(rel, self.now) {
            if submitted.contains(&l.token) && l.user == user {
                let mut locks = self.tree.locks_on(&holder, self.now);
                let mut renewed = l.clone();
                for m in locks.iter_mut().filter(|m| m.token == l.token) {
                    m.timeout = timeout;
                    m.expires = self.now + timeout;
                    renewed = m.clone();
                }
                if let Err(e) = self.tree.store_locks(&holder, &locks) {
                    return fail("LOCK refresh", &e);
                }
                return self.lock_answer(200, &renewed);
            }
        }
        Response::error(412)
    }

    fn unlock(&self, rel: &[String]) -> Response {
        let Some(token) = headers::lock_token(self.req.header("Lock-Token")) else {
            return Response::error(400);
        };
        let user = self.cx.user.map(str::to_string);
        for (holder, l) in self.tree.covering(rel, self.now) {
            if l.token != token {
                continue;
            }
            if l.user != user {
                return Response::error(403);
            }
            let mut locks = self.tree.locks_on(&holder, self.now);
            locks.retain(|m| m.token != token);
            return match self.tree.store_locks(&holder, &locks) {
                Ok(()) => Response::new(204),
                Err(e) => fail("UNLOCK", &e),
            };
        }
        xml_response(
            409,
            format!("{XML_HEAD}<D:error xmlns:D=\"DAV:\"><D:lock-token-matches-request-uri/></D:error>\n"),
        )
    }
}

/// The live properties reported by allprop and propname, in that order.
const LIVE: &[&str] = &[
    "resourcetype",
    "getcontentlength",
    "getlastmodified",
    "getetag",
    "getcontenttype",
    "supportedlock",
    "lockdiscovery",
];

/// `opaquelocktoken:` with a random (version 4) UUID.
fn new_token() -> String {
    let mut b = [0u8; 16];
    let _ = getrandom::getrandom(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    let h = h.concat();
    format!(
        "opaquelocktoken:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

use crate::sys::beneath::Stat;
