//! The methods that change the tree: PUT, DELETE, MKCOL, COPY and MOVE (with their 207
//! Multi-Status for members that failed). Separate from properties and locks because these
//! are the only writes to file contents and names.

#![forbid(unsafe_code)]

use super::*;

impl Dav<'_, '_> {
    pub(super) fn put(&self, conn: &mut Conn, rel: &[String]) -> Outcome {
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

    pub(super) fn delete(&self, rel: &[String]) -> Response {
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

    pub(super) fn mkcol(&self, rel: &[String]) -> Response {
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

    pub(super) fn copy_move(
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
    pub(super) fn partial(
        &self,
        what: &str,
        rel: &[String],
        failed: &[store::Failed],
        done: u16,
    ) -> Response {
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
    pub(super) fn rename(&self, from: &[String], to: &[String]) -> io::Result<()> {
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
}
