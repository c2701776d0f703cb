//! `CGIReadPath PATH...` (server, vhost): trees a vhost's CGI programs may read besides their
//! own, as read-only Landlock grants. An interpreter run as CGI reads its configuration outside
//! every tree the server grants (Debian's php-cgi: `/etc/php/VERSION/cgi/php.ini` and
//! `conf.d/`; Python: `/etc/python3*`); without a grant it runs on built-in defaults. Nothing is
//! granted by default: the administrator names what the programs may see.
//!
//! Lines add up: the server's paths and then the vhost's own. Relative paths resolve against
//! ServerRoot. At `-t`:
//! * a path that holds a password, group or map file, or a TLS private key, is an error: those
//!   stay with the verifier and the key holder (I6);
//! * a path that does not exist grants nothing (a warning; a path created later is granted
//!   from the connection after);
//! * in a vhost that runs no CGI program the directive has no effect (a warning).
#![forbid(unsafe_code)]

use super::build::{Builder, VHostDraft};
use super::parse::Node;
use super::{Config, ConfigError, Origin};
use std::path::PathBuf;

/// The handler of the `CGIReadPath` row in [`super::directives::TABLE`].
pub(super) fn row(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
    if n.args.is_empty() {
        return b.error(n, "CGIReadPath needs at least one path");
    }
    let origin = Origin {
        file: n.file.clone(),
        line: n.line,
    };
    for a in &n.args {
        let p = b.path(a);
        let normal = p.components().collect::<PathBuf>();
        if p.components().any(|c| c == std::path::Component::ParentDir) {
            b.error(n, format!("CGIReadPath {a}: '..' is not allowed in a path"));
            continue;
        }
        v.harden.cgi_read.push((normal, origin.clone()));
    }
}

/// The `-t` checks of every vhost's grants (see the module header).
pub fn check(cfg: &Config, errors: &mut Vec<ConfigError>, warnings: &mut Vec<ConfigError>) {
    let mut secrets: Vec<(PathBuf, &str)> = Vec::new();
    for v in &cfg.vhosts {
        for (c, _) in v.scopes() {
            if let Some(f) = &c.auth_user_file {
                secrets.push((f.clone(), "AuthUserFile"));
            }
            if let Some((f, _)) = &c.auth_group_file {
                secrets.push((f.clone(), "AuthGroupFile"));
            }
            if let Some(f) = &c.user_map {
                secrets.push((f.clone(), "UserIDMap"));
            }
            if let Some(f) = &c.selinux_map {
                secrets.push((f.clone(), "selinuxDomainMap"));
            }
        }
    }
    secrets.extend((cfg.tls.key_files.iter()).map(|k| (k.clone(), "SSLCertificateKeyFile")));
    let mut said: Vec<(PathBuf, Origin)> = Vec::new();
    for v in &cfg.vhosts {
        for (path, origin) in &v.harden.cgi_read {
            if said.contains(&(path.clone(), origin.clone())) {
                continue;
            }
            said.push((path.clone(), origin.clone()));
            let at = |message: String| ConfigError {
                origin: origin.clone(),
                message,
            };
            // Symlinks resolved on both sides too: a link to the directory grants it.
            let canon = |p: &PathBuf| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
            let covers = |f: &PathBuf| f.starts_with(path) || canon(f).starts_with(canon(path));
            if let Some((f, what)) = secrets.iter().find(|(f, _)| covers(f)) {
                errors.push(at(format!(
                    "CGIReadPath {}: it holds the {what} {}, which only the server's helpers may read; grant a narrower path",
                    path.display(),
                    f.display()
                )));
            } else if !path.exists() {
                warnings.push(at(format!(
                    "CGIReadPath {}: no such file or directory; nothing is granted while it is missing",
                    path.display()
                )));
            }
        }
    }
    // A server-level line is shared by every vhost: it has no effect only when none runs CGI.
    let mut idle: Vec<(&Origin, &str)> = Vec::new();
    let mut used: Vec<&Origin> = Vec::new();
    for v in &cfg.vhosts {
        for (_, origin) in &v.harden.cgi_read {
            if v.cgi_enabled() {
                used.push(origin);
            } else {
                idle.push((origin, v.server_name()));
            }
        }
    }
    let mut warned: Vec<&Origin> = Vec::new();
    for (origin, name) in idle {
        if used.contains(&origin) || warned.contains(&origin) {
            continue;
        }
        warned.push(origin);
        warnings.push(ConfigError {
            origin: origin.clone(),
            message: format!(
                "CGIReadPath has no effect: virtual host {name} runs no CGI programs (no ScriptAlias, no AddHandler cgi-script with ExecCGI)"
            ),
        });
    }
}
