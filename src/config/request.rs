//! What the configuration says about one request: which tree its URL maps into ([`map`]), in
//! mod_alias's order: a ScriptAlias (segment prefix), else the first matching
//! `Alias`/`AliasMatch` (on the decoded, normalized URL), else the DocumentRoot; and the
//! merged sections that apply to it ([`request_conf`]). Admission (for the `<Directory>`
//! sections, `Require`), the CGI lookup and the static handler all ask here, so they always
//! agree on the file a request names and the settings for it. Pure.
#![forbid(unsafe_code)]

use crate::config::alias::{self, Alias, Landing, Outside};
use crate::config::{DirConf, VHost};
use crate::http::request::Request;
use crate::http::route::{self, Route};
use std::path::PathBuf;

#[derive(Debug)]
pub enum Mapped<'v> {
    /// Beneath a ScriptAlias: the CGI lookup's business.
    Script,
    /// An Alias matched; its landing, or why its substitution is refused.
    Alias(&'v Alias, Result<Landing, Outside>),
    /// Beneath the DocumentRoot, by the route's segments.
    DocumentRoot,
}

pub fn map<'v>(vhost: &'v VHost, route: &Route) -> Mapped<'v> {
    if vhost
        .script_aliases
        .iter()
        .any(|a| route.segments.starts_with(&a.prefix))
    {
        return Mapped::Script;
    }
    if vhost.aliases.is_empty() {
        return Mapped::DocumentRoot;
    }
    match alias::alias(&vhost.aliases, &uri(route)) {
        Some((a, landing)) => Mapped::Alias(a, landing),
        None => Mapped::DocumentRoot,
    }
}

/// Apache's `r->uri` for a routed path: decoded segments, the trailing slash kept.
pub fn uri(route: &Route) -> String {
    let mut u = String::new();
    for s in &route.segments {
        u.push('/');
        u.push_str(s);
    }
    if route.trailing_slash || u.is_empty() {
        u.push('/');
    }
    u
}

/// Where the URL maps on disk, and the settings for it ([`VHost::file_conf`]'s merge order):
/// `<Directory>` sections matched against that path beneath the DocumentRoot (or a
/// ScriptAlias target, so sections around CGI programs apply to them), `<DirectoryMatch>`
/// against the whole path, `<Files>` against the last segment (empty for a directory request),
/// `<Location>` against the decoded URL.
pub fn request_conf(vhost: &VHost, req: &Request) -> (PathBuf, DirConf) {
    if let Some(aliased) = alias_conf(vhost, req) {
        return aliased;
    }
    let mut dir = vhost.document_root.clone();
    let mut file = None;
    let mut is_dir = true;
    if let Ok(r) = route::route(&req.path) {
        let n = if r.trailing_slash {
            r.segments.len()
        } else {
            r.segments.len().saturating_sub(1)
        };
        let mut segs = r.segments.get(..n).unwrap_or_default();
        if let Some(a) = vhost
            .script_aliases
            .iter()
            .find(|a| r.segments.starts_with(&a.prefix))
        {
            dir = a.dir.clone();
            segs = segs.get(a.prefix.len()..).unwrap_or_default();
        }
        dir.extend(segs);
        if !r.trailing_slash {
            file = r.segments.last().cloned();
        }
        is_dir = r.trailing_slash || r.segments.is_empty();
    }
    let fs_path = match &file {
        Some(f) => dir.join(f),
        None => dir.clone(),
    };
    // Apache's r->filename: a directory request keeps its trailing slash.
    let mut filename = fs_path.to_string_lossy().into_owned();
    if is_dir && !filename.ends_with('/') {
        filename.push('/');
    }
    let name = if is_dir {
        ""
    } else {
        file.as_deref().unwrap_or("")
    };
    let conf = vhost.file_conf(&dir, &filename, name, &req.path);
    (fs_path, conf)
}

/// [`request_conf`] for a URL an `Alias`/`AliasMatch` maps: the sections of the path it lands
/// on (its root when the substitution is refused: the handler answers 403 then).
fn alias_conf(vhost: &VHost, req: &Request) -> Option<(PathBuf, DirConf)> {
    let r = route::route(&req.path).ok()?;
    let full = match map(vhost, &r) {
        Mapped::Alias(_, Ok(landing)) => landing.path(),
        Mapped::Alias(a, Err(_)) => a.root.clone(),
        _ => return None,
    };
    let is_dir = r.trailing_slash;
    let (dir, name) = match (is_dir, full.parent(), full.file_name()) {
        (false, Some(parent), Some(name)) => {
            (parent.to_path_buf(), name.to_string_lossy().into_owned())
        }
        _ => (full.clone(), String::new()),
    };
    let mut filename = full.to_string_lossy().into_owned();
    if name.is_empty() && !filename.ends_with('/') {
        filename.push('/');
    }
    let conf = vhost.file_conf(&dir, &filename, &name, &req.path);
    Some((full, conf))
}
