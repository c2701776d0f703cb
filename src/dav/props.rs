//! Properties (RFC 4918 §9.1-9.2, §15): PROPFIND with the live properties, and PROPPATCH
//! on the dead ones. Separate because it is the read side of WebDAV and its XML answers.

#![forbid(unsafe_code)]

use super::*;

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

impl Dav<'_, '_> {
    pub(super) fn propfind(&self, rel: &[String], body: &[u8]) -> Response {
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

    pub(super) fn prop_response(
        &self,
        rel: &[String],
        st: &Stat,
        what: &xml::Propfind,
        out: &mut String,
    ) {
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
    pub(super) fn live(&self, n: &Name, rel: &[String], st: &Stat) -> Option<String> {
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

    pub(super) fn proppatch(&self, rel: &[String], body: &[u8]) -> Response {
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
}
