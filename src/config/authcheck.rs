//! `-t` checks of authentication that the configuration alone shows to be broken (I3, issue
//! #14), each named at the section that writes it. A section is checked at its own URL (a
//! `<Location>`'s path; a `<Directory>`'s path seen through the DocumentRoot, an `Alias` or a
//! `ScriptAlias`; `/` for the virtual host itself), with the settings a request for that URL
//! gets after every merge ([`super::request::request_conf`], what admission uses):
//!
//! * `AuthType Basic` where no `Require` applies: Apache answers every such request 500
//!   (AH01627 "AuthType configured with no corresponding authorization directives"), and so
//!   does admission here; at `-t` it is an error.
//! * A `Require` that asks for a user (`valid-user`, `user`, `group`) where no `AuthType Basic`
//!   applies, or where the provider `file` has no `AuthUserFile` (Apache: AH01619, 500 to every
//!   request with credentials): an error.
//! * `AuthType Basic` in a virtual host where no `Require` of any section asks for a user:
//!   nobody is ever asked to authenticate, so it has no effect (Apache grants silently, e.g.
//!   under an inherited `Require all granted`): a warning.
//!
//! Sections written with wildcards or regular expressions have no single URL and are left to
//! admission, which answers 500 where these rules are broken.
#![forbid(unsafe_code)]

use super::{Config, ConfigError, DirConf, Origin, Section, VHost};
use crate::auth::require::Require;
use crate::config::alias::Pattern;

/// Whether a rule may ask for a user.
fn user_rule(r: &Require) -> bool {
    matches!(
        r,
        Require::ValidUser | Require::Users(_) | Require::Groups(_)
    )
}

fn wants_user(c: &DirConf) -> bool {
    c.authz
        .section
        .as_ref()
        .is_some_and(|s| s.wants(&user_rule))
}

/// Why requests asking for a user cannot be authenticated with `c`, or None.
pub fn missing_source(c: &DirConf) -> Option<String> {
    if c.auth_basic != Some(true) {
        return Some("no AuthType Basic applies there".into());
    }
    let file = c.providers().contains(&super::AuthProvider::File);
    (file && c.auth_user_file.is_none())
        .then(|| "AuthType Basic with the provider file, but no AuthUserFile applies there".into())
}

pub fn check(cfg: &Config, errors: &mut Vec<ConfigError>, warnings: &mut Vec<ConfigError>) {
    let mut said: Vec<(Origin, &'static str)> = Vec::new();
    let mut say = |list: &mut Vec<ConfigError>, origin: &Origin, kind, message: String| {
        if !said.contains(&(origin.clone(), kind)) {
            said.push((origin.clone(), kind));
            list.push(ConfigError {
                origin: origin.clone(),
                message,
            });
        }
    };
    for v in &cfg.vhosts {
        let any_user_rule = v.scopes().any(|(c, _)| wants_user(c));
        for (own, origin, url) in samples(v) {
            let Some(req) = request(&url) else { continue };
            let merged = super::request::request_conf(v, &req).1;
            if own.auth_basic == Some(true) && merged.authz.section.is_none() {
                say(errors, origin, "no-require", format!(
                    "AuthType Basic applies to {url}, but no Require does: Apache answers every request there 500 (\"AuthType configured with no corresponding authorization directives\"), and so would this server; add a Require (e.g. `Require valid-user`)"
                ));
                continue;
            }
            if own.auth_basic == Some(true) && !wants_user(&merged) && !any_user_rule {
                say(warnings, origin, "no-effect", format!(
                    "AuthType Basic has no effect: no Require in virtual host {} asks for a user (valid-user, user, group), so nobody is asked to authenticate at {url}",
                    v.server_name()
                ));
            }
            let writes_auth = wants_user(own)
                || own.auth_basic.is_some()
                || own.auth_basic_provider.is_some()
                || own.auth_user_file.is_some();
            if writes_auth && wants_user(&merged) {
                if let Some(why) = missing_source(&merged) {
                    say(errors, origin, "no-source", format!(
                        "a Require at {url} asks for a user, but {why}: a request that must authenticate there would be answered 500; add AuthType Basic and AuthUserFile (or AuthBasicProvider pam)"
                    ));
                }
            }
        }
    }
}

/// Each scope of `v` that has a URL of its own: (its settings as written, where, the URL).
fn samples(v: &VHost) -> Vec<(&DirConf, &Origin, String)> {
    let mut out = vec![(&v.conf, &v.origin, "/".to_string())];
    let literal = |s: &Section| s.regex.is_none() && !super::glob::is_pattern(&s.path);
    for s in v.locations.iter().filter(|s| literal(s)) {
        if s.path.starts_with('/') {
            out.push((&s.conf, &s.origin, s.path.clone()));
        }
    }
    for s in v.directories.iter().filter(|s| literal(s)) {
        if let Some(url) = directory_url(v, &s.path) {
            out.push((&s.conf, &s.origin, url));
        }
    }
    out
}

/// The URL through which a request reaches directory `dir`: beneath a ScriptAlias, a plain
/// Alias or the DocumentRoot (mod_alias's order).
fn directory_url(v: &VHost, dir: &str) -> Option<String> {
    let dir = std::path::Path::new(dir);
    let mut roots: Vec<(std::path::PathBuf, String)> = Vec::new();
    for a in &v.script_aliases {
        roots.push((a.dir.clone(), format!("/{}", a.prefix.join("/"))));
    }
    for a in &v.aliases {
        if let Pattern::Prefix(p) = &a.pattern {
            roots.push((a.root.clone(), p.clone()));
        }
    }
    roots.push((v.document_root.clone(), "/".into()));
    roots.into_iter().find_map(|(root, prefix)| {
        let rest = dir.strip_prefix(&root).ok()?;
        let mut url = prefix.trim_end_matches('/').to_string();
        for c in rest.iter() {
            url.push('/');
            url.push_str(&c.to_string_lossy());
        }
        url.push('/');
        Some(url)
    })
}

/// A GET for `url` as a client would send it.
fn request(url: &str) -> Option<crate::http::request::Request> {
    use crate::http::request::{parse_head, Limits, Parsed};
    let head = format!(
        "GET {} HTTP/1.1\r\nHost: check\r\n\r\n",
        crate::http::route::encode_path(url)
    );
    match parse_head(head.as_bytes(), &Limits::default()) {
        Ok(Parsed::Complete(req, _)) => Some(req),
        _ => None,
    }
}
