//! mod_mime's and core's type directives: `TypesConfig` (server; default `/etc/mime.types`,
//! read here by the master), `AddType`, `AddCharset`, `AddDefaultCharset`, `ForceType` (any
//! scope, merged as Apache merges per-directory settings) and `DefaultType` (a no-op in Apache
//! 2.4: a `-t` warning unless `None`). The lookup itself is pure: [`crate::http::mime`].
#![forbid(unsafe_code)]

use super::build::Builder;
use super::model::{Config, DirConf, Origin};
use super::parse::Node;
use super::ConfigError;
use crate::http::mime::{self, DefaultCharset, Types};
use std::path::PathBuf;

/// Apache's default `TypesConfig` on Debian (the `media-types` package).
pub const DEFAULT_TYPES: &str = "/etc/mime.types";

/// The server's `TypesConfig` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MimeServer {
    /// Where `TypesConfig` was written; `None`: the default file.
    pub origin: Option<Origin>,
    pub file: Option<PathBuf>,
    pub types: Types,
}

pub fn types_config(b: &mut Builder, n: &Node, cfg: &mut Config) {
    if let [file] = n.args.as_slice() {
        cfg.mime.file = Some(b.path(file));
        cfg.mime.origin = Some(Origin {
            file: n.file.clone(),
            line: n.line,
        });
    }
}

/// Reads the `TypesConfig` file once, at load. An explicit file that cannot be read is an
/// error (Apache does not start either); a missing default falls back to the built-in table
/// with a warning.
pub fn load(cfg: &mut Config, errors: &mut Vec<ConfigError>, warnings: &mut Vec<ConfigError>) {
    let path = cfg
        .mime
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_TYPES));
    match super::file::read_regular_string(&path) {
        Ok(text) => cfg.mime.types = mime::parse_types(&text),
        Err(e) => match &cfg.mime.origin {
            Some(origin) => errors.push(ConfigError {
                origin: origin.clone(),
                message: format!("TypesConfig: cannot read {}: {e}", path.display()),
            }),
            None => {
                warnings.push(ConfigError {
                    origin: Origin {
                        file: cfg.file.clone(),
                        line: 0,
                    },
                    message: format!(
                        "TypesConfig: the default {} cannot be read ({e}): file types come from a built-in table of {} extensions; install Debian's media-types or set TypesConfig",
                        path.display(),
                        mime::BUILT_IN.len()
                    ),
                });
                cfg.mime.types = mime::built_in();
            }
        },
    }
}

/// `.ext` or `ext`, lower case; an extension with a `/` or nothing in it is an error.
fn extensions(b: &mut Builder, n: &Node, words: &[String]) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for w in words {
        let e = w.strip_prefix('.').unwrap_or(w).to_ascii_lowercase();
        if e.is_empty() || e.contains('/') || e.contains('.') {
            b.error(n, format!("{}: '{w}' is not a file name extension", n.name));
            return None;
        }
        out.push(e);
    }
    Some(out)
}

/// `AddType MEDIA-TYPE EXT...` (the type lower-cased, as mod_mime does).
pub fn add_type(b: &mut Builder, n: &Node, d: &mut DirConf) {
    let [ty, exts @ ..] = n.args.as_slice() else {
        return;
    };
    if !ty.contains('/') {
        return b.error(
            n,
            format!("AddType: '{ty}' is not a media type (type/subtype)"),
        );
    }
    if let Some(exts) = extensions(b, n, exts) {
        let ty = ty.to_ascii_lowercase();
        d.add_types
            .extend(exts.into_iter().map(|e| (e, ty.clone())));
    }
}

/// `AddCharset CHARSET EXT...` (the charset lower-cased, as mod_mime does).
pub fn add_charset(b: &mut Builder, n: &Node, d: &mut DirConf) {
    let [cs, exts @ ..] = n.args.as_slice() else {
        return;
    };
    if !token(cs) {
        return b.error(n, format!("AddCharset: '{cs}' is not a charset name"));
    }
    if let Some(exts) = extensions(b, n, exts) {
        let cs = cs.to_ascii_lowercase();
        d.add_charsets
            .extend(exts.into_iter().map(|e| (e, cs.clone())));
    }
}

fn token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(crate::http::syntax::is_tchar)
}

/// `AddDefaultCharset On|Off|CHARSET` (On: `iso-8859-1`, as Apache; a named charset kept as written).
pub fn add_default_charset(b: &mut Builder, n: &Node, d: &mut DirConf) {
    let Some(a) = n.args.first() else { return };
    d.default_charset = Some(if a.eq_ignore_ascii_case("off") {
        DefaultCharset::Off
    } else if a.eq_ignore_ascii_case("on") {
        DefaultCharset::On("iso-8859-1".into())
    } else if token(a) {
        DefaultCharset::On(a.clone())
    } else {
        return b.error(
            n,
            format!("AddDefaultCharset: '{a}' is not On, Off or a charset name"),
        );
    });
}

/// `ForceType MEDIA-TYPE|None`.
pub fn force_type(b: &mut Builder, n: &Node, d: &mut DirConf) {
    let Some(a) = n.args.first() else { return };
    if a.eq_ignore_ascii_case("none") {
        d.force_type = Some(String::new());
    } else if a.contains('/') && !a.bytes().any(|c| c.is_ascii_control()) {
        d.force_type = Some(a.to_ascii_lowercase());
    } else {
        b.error(n, format!("ForceType: '{a}' is not a media type or None"));
    }
}

/// `DefaultType`: Apache 2.4 ignores it (with a warning unless `None`); so does this server.
pub fn default_type(b: &mut Builder, n: &Node) {
    if !n
        .args
        .first()
        .is_some_and(|a| a.eq_ignore_ascii_case("none"))
    {
        b.warn(n, "DefaultType has no effect (as in Apache 2.4): a file without a known extension is sent without Content-Type; use ForceType or AddType");
    }
}

impl DirConf {
    /// The content-type settings of this (merged) scope over the server's table.
    pub fn mime<'a>(&'a self, types: &'a Types) -> mime::Settings<'a> {
        mime::Settings {
            types,
            add_types: &self.add_types,
            charsets: &self.add_charsets,
            force: self.force_type.as_deref(),
            default_charset: self.default_charset.as_ref(),
        }
    }
}
