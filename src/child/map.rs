//! Stage: which tree a URL maps into, in mod_alias's order: a ScriptAlias (segment prefix),
//! else the first matching `Alias`/`AliasMatch` (on the decoded, normalized URL), else the
//! DocumentRoot. Admission (for the `<Directory>` sections), the CGI lookup and the static
//! handler all ask here, so they always agree on the file a request names. Pure.
#![forbid(unsafe_code)]

use super::route::Route;
use crate::config::alias::{self, Alias, Landing, Outside};
use crate::config::VHost;

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
