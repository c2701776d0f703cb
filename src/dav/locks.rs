//! Locking (RFC 4918 §6-7, §10.4): LOCK (new and refresh), UNLOCK, the `If` header, and the
//! check every write makes against the locks on its target and its parents. Separate because
//! it is the one state WebDAV keeps across requests.

#![forbid(unsafe_code)]

use super::*;

impl Dav<'_, '_> {
    /// Evaluates the If header (RFC 4918 §10.4): 400 when malformed, 412 when no list holds.
    /// Returns the lock tokens it submits.
    pub(super) fn check_if(&self, rel: &[String]) -> Result<Vec<String>, u16> {
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
    pub(super) fn rel_of_uri(&self, uri: &str) -> Option<Vec<String>> {
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
    pub(super) fn check_locks(
        &self,
        rel: &[String],
        submitted: &[String],
        member: bool,
    ) -> Result<(), u16> {
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

    pub(super) fn may_write(&self, rel: &[String], member: bool) -> Result<Vec<String>, Response> {
        let submitted = self.check_if(rel).map_err(Response::error)?;
        self.check_locks(rel, &submitted, member)
            .map_err(Response::error)?;
        Ok(submitted)
    }

    pub(super) fn lock(&self, rel: &[String], body: &[u8]) -> Response {
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
        let token = match new_token() {
            Ok(t) => t,
            Err(e) => return fail("LOCK token", &e),
        };
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
            token,
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

    pub(super) fn lock_answer(&self, status: u16, l: &Lock) -> Response {
        xml_response(
            status,
            format!(
                "{XML_HEAD}<D:prop xmlns:D=\"DAV:\"><D:lockdiscovery>{}</D:lockdiscovery></D:prop>\n",
                self.activelock(l)
            ),
        )
    }

    /// LOCK without a body: extends the lock whose token the If header submits.
    pub(super) fn refresh(&self, rel: &[String], timeout: u64) -> Response {
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

    pub(super) fn unlock(&self, rel: &[String]) -> Response {
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

    pub(super) fn activelock(&self, l: &Lock) -> String {
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
}

/// A fresh `opaquelocktoken:` URI (RFC 4918 §20.1): a version-4 UUID from the kernel's
/// random source. No token is made when that source fails: a predictable one would let two
/// locks share a token.
fn new_token() -> std::io::Result<String> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).map_err(std::io::Error::from)?;
    let id = uuid::Builder::from_random_bytes(b).into_uuid();
    Ok(format!("opaquelocktoken:{}", id.hyphenated()))
}

#[cfg(test)]
mod tests {
    use super::new_token;

    /// RFC 4122 §4.4 by hand: 8-4-4-4-12 lower-case hex digits, version nibble 4, variant
    /// bits 10 (8, 9, a or b).
    #[test]
    fn tokens_are_version_4_uuids_and_differ() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        let id = a.strip_prefix("opaquelocktoken:").expect(&a);
        let groups: Vec<&str> = id.split('-').collect();
        let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        assert_eq!(lens, [8, 4, 4, 4, 12], "{a}");
        assert!(id
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
        assert!(groups[2].starts_with('4'), "{a}");
        assert!("89ab".contains(&groups[3][..1]), "{a}");
    }
}
