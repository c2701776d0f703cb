//! The identity and confinement directives: `Confinement`, `Namespaces`, the SELinux and
//! unix maps, `AssignUserID`, per-connection categories; and the checks that each one has the
//! backend that enforces it (I3). Separate because these decide as whom a request is served.

#![forbid(unsafe_code)]

use super::*;

impl Builder {
    /// I3, fail closed: an identity directive is never accepted without the backend that
    /// enforces it. Without a `Confinement` line it enables (and so requires) that backend;
    /// against an explicit `Confinement` that lacks it, it is an error naming both lines.
    pub(super) fn require_backends(&mut self, cfg: &mut Config) {
        let needs = std::mem::take(&mut self.needs);
        match self.confinement_at.clone() {
            None => {
                let wanted = |b: Backend| {
                    cfg.confinement.contains(&b) || needs.iter().any(|(n, _, _)| *n == b)
                };
                // Canonical order, as `Confinement` would list them.
                cfg.confinement = [Backend::Selinux, Backend::Unix, Backend::Landlock]
                    .into_iter()
                    .filter(|b| wanted(*b))
                    .collect();
            }
            Some(at) => {
                for (backend, directive, o) in needs {
                    if !cfg.confinement.contains(&backend) {
                        let lists: Vec<&str> =
                            cfg.confinement.iter().map(|b| backend_name(*b)).collect();
                        self.errors.push(ConfigError {
                            origin: o,
                            message: format!(
                                "{directive} needs '{}' in Confinement ({at} lists: {})",
                                backend_name(backend),
                                lists.join(" ")
                            ),
                        });
                    }
                }
            }
        }
    }

    /// I3, "no rule, 403": with `unix` (or `selinux`) confinement, a vhost that names no
    /// identity in any of its scopes refuses every request. Legal, and fail-closed, but
    /// rarely meant; said at `-t`.
    pub(super) fn warn_vhosts_without_identity(&mut self, cfg: &Config) {
        for v in &cfg.vhosts {
            let scopes = || v.scopes().map(|(c, _)| c);
            let checks = [
                (
                    Backend::Unix,
                    scopes().any(|c| {
                        c.user_map.is_some()
                            || c.assign_user.is_some()
                            || c.assign_user_expr.is_some()
                    }),
                    "AssignUserID or UserIDMap",
                ),
                (
                    Backend::Selinux,
                    scopes().any(|c| {
                        c.selinux_map.is_some()
                            || c.selinux_default.is_some()
                            || c.selinux_env.is_some()
                    }),
                    "selinuxDomainVal or selinuxDomainMap",
                ),
            ];
            for (backend, named, directives) in checks {
                if cfg.confinement.contains(&backend) && !named {
                    self.warnings.push(ConfigError {
                        origin: v.origin.clone(),
                        message: format!(
                            "virtual host {} has no {directives} in any scope: with '{}' in Confinement every request to it is refused (403)",
                            v.server_name(),
                            backend_name(backend)
                        ),
                    });
                }
            }
        }
    }
}

/// The name of an identity directive as the documentation spells it, among the aliases
/// `n` may be written as.
fn canonical(n: &Node, names: &[&'static str]) -> &'static str {
    names
        .iter()
        .copied()
        .find(|c| n.name.eq_ignore_ascii_case(c))
        .or_else(|| names.first().copied())
        .unwrap_or("identity directive")
}

/// A backend as `Confinement` spells it.
fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Selinux => "selinux",
        Backend::Unix => "unix",
        Backend::Landlock => "landlock",
    }
}

/// `Confinement selinux|unix|landlock...`: the backends every child must enter. There is no
/// "none": a child always enters at least one, so nothing silently runs unconfined.
pub fn parse_confinement(args: &[String]) -> Result<Vec<crate::sandbox::Backend>, String> {
    use crate::sandbox::Backend;
    let mut out = Vec::new();
    for a in args {
        let b = match a.to_ascii_lowercase().as_str() {
            "selinux" => Backend::Selinux,
            "unix" => Backend::Unix,
            "landlock" => Backend::Landlock,
            other => {
                return Err(format!(
                    "Confinement: unknown backend '{other}' (selinux, unix, landlock)"
                ))
            }
        };
        if out.contains(&b) {
            return Err(format!("Confinement: '{a}' is listed twice"));
        }
        out.push(b);
    }
    Ok(out)
}

pub fn namespaces(b: &mut Builder, n: &Node, cfg: &mut Config) {
    match super::super::harden::parse_namespaces(&n.args) {
        Ok(on) => cfg.namespaces = on,
        Err(m) => b.error(n, m),
    }
}

pub fn connection_categories(b: &mut Builder, n: &Node, cfg: &mut Config) {
    if let Some([a0]) = b.args(n, 1, 1) {
        match crate::policy::mcs::parse_category_range(a0) {
            Ok(range) => {
                cfg.selinux_connection_categories = Some(ConnectionCategories {
                    range,
                    origin: origin(n),
                })
            }
            Err(m) => b.error(n, format!("{}: {m}", n.name)),
        }
    }
}

pub fn confinement(b: &mut Builder, n: &Node, cfg: &mut Config) {
    match parse_confinement(&n.args) {
        Ok(c) => {
            cfg.confinement = c;
            b.confinement_at = Some(origin(n));
        }
        Err(m) => b.error(n, m),
    }
}

pub fn selinux_map(b: &mut Builder, n: &Node, d: &mut DirConf) {
    b.needs.push((
        Backend::Selinux,
        canonical(n, &["selinuxDomainMap", "selinuxConfigFile"]),
        origin(n),
    ));
    if let Some([a0]) = b.args(n, 1, 1) {
        d.selinux_map = Some(b.path(a0));
    }
}

pub fn selinux_default(b: &mut Builder, n: &Node, d: &mut DirConf) {
    b.needs.push((
        Backend::Selinux,
        canonical(n, &["selinuxDomainVal", "selinuxDefaultDomain"]),
        origin(n),
    ));
    if let Some([a0]) = b.args(n, 1, 1) {
        match crate::policy::parse_selinux_target_with(a0, &crate::config::itk::translate_range) {
            Ok(t) if t.is_noop() => b.error(
                n,
                format!(
                    "{}: '*' for both domain and range would serve in the worker's own context",
                    n.name
                ),
            ),
            Ok(t) => d.selinux_default = Some(t),
            Err(m) => b.error(n, format!("{}: {m}", n.name)),
        }
    }
}

pub fn user_map(b: &mut Builder, n: &Node, d: &mut DirConf) {
    b.needs.push((Backend::Unix, "UserIDMap", origin(n)));
    if let Some([a0]) = b.args(n, 1, 1) {
        d.user_map = Some(b.path(a0));
    }
}

pub fn assign_user(b: &mut Builder, n: &Node, d: &mut DirConf) {
    b.needs.push((Backend::Unix, "AssignUserID", origin(n)));
    if let Some([a0, a1]) = b.args(n, 2, 2) {
        match crate::policy::parse_unix_target(&format!("{}:{}", a0, a1)) {
            Ok(t) => d.assign_user = Some(t),
            Err(m) => b.error(n, format!("AssignUserID: {m}")),
        }
    }
}
