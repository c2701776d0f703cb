//! Loading what authentication and context choice need, once, in the master: password files
//! (validated here; afterwards only the verifier opens them), map files (admin-owned, every
//! line valid), and every unix user and group resolved to ids with their group lists.
//!
//! The identity map comes only from files the administrator owns: a map or password file
//! owned by anyone but root (or the user running the server) or writable by group or others
//! is refused, and nothing under a DocumentRoot is ever consulted.

use super::{Config, ConfigError, DirConf, Origin, ResolvedUser};
use crate::policy::{self, Keep, Rule, SelinuxTarget, UnixTarget};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

pub fn load(cfg: &mut Config, errors: &mut Vec<ConfigError>) {
    let confs: Vec<(DirConf, Origin)> = cfg
        .vhosts
        .iter()
        .flat_map(|v| v.scopes().map(|(c, o)| (c.clone(), o.clone())))
        .collect();
    let selinux_on = selinux_current_context();
    let categories = cfg.selinux_connection_categories.clone();
    let mut tried_groups = std::collections::BTreeSet::new();
    for (conf, origin) in &confs {
        if let Some(f) = &conf.auth_user_file {
            if !cfg.password_files.contains(f)
                && load_htpasswd(f, origin, errors, &mut cfg.warnings)
            {
                cfg.password_files.push(f.clone());
            }
        }
        if let Some((f, at)) = &conf.auth_group_file {
            if tried_groups.insert(f.clone()) {
                if let Some(groups) = load_groups(f, at, errors) {
                    cfg.group_files.insert(f.clone(), groups);
                }
            }
        }
        register_pam(cfg, conf);
        if let Some(f) = &conf.selinux_map {
            if !cfg.selinux_maps.contains_key(f) {
                let parse =
                    |t: &str| policy::parse_selinux_target_with(t, &super::itk::translate_range);
                if let Some(rules) = load_map(f, origin, parse, errors) {
                    if let Some(current) = &selinux_on {
                        for r in &rules {
                            check_selinux(
                                current,
                                &r.target,
                                &Origin {
                                    file: f.clone(),
                                    line: r.line,
                                },
                                errors,
                            );
                        }
                    }
                    if let Some(cc) = &categories {
                        for r in &rules {
                            let at = Origin {
                                file: f.clone(),
                                line: r.line,
                            };
                            check_categories(cc, selinux_on.as_deref(), &r.target, &at, errors);
                        }
                    }
                    cfg.selinux_maps.insert(f.clone(), rules);
                }
            }
        }
        if let (Some(current), Some(t)) = (&selinux_on, &conf.selinux_default) {
            check_selinux(current, t, origin, errors);
        }
        if let (Some(cc), Some(t)) = (&categories, &conf.selinux_default) {
            check_categories(cc, selinux_on.as_deref(), t, origin, errors);
        }
        if let Some(f) = &conf.user_map {
            if !cfg.user_maps.contains_key(f) {
                if let Some(rules) = load_map(f, origin, policy::parse_unix_target, errors) {
                    for r in &rules {
                        resolve_user(
                            &mut cfg.users,
                            &cfg.itk,
                            &r.target,
                            &Origin {
                                file: f.clone(),
                                line: r.line,
                            },
                            errors,
                        );
                    }
                    cfg.user_maps.insert(f.clone(), rules);
                }
            }
        }
        if let Some(t) = &conf.assign_user {
            resolve_user(&mut cfg.users, &cfg.itk, t, origin, errors);
        }
    }
    super::itk::check_sources(&confs, errors);
    super::itk::check_server_domain(&cfg.itk, selinux_on.as_deref(), errors, &mut cfg.warnings);
    if let (Some(cc), Some(current)) = (&categories, &selinux_on) {
        check_clearance(cc, current, errors);
    }
    check_pam(cfg, &confs, errors);
    if cfg.password_files.len() + cfg.pam_services.len() > usize::from(u16::MAX) {
        errors.push(ConfigError {
            origin: Origin {
                file: cfg.file.clone(),
                line: 0,
            },
            message: "too many AuthUserFile files and AuthPAMService names".into(),
        });
    }
}

/// Registers the PAM services a section may authenticate against: every `AuthPAMService` it
/// names and, where it asks for `pam`, the default service (sections merge at request time,
/// so the service a `pam` section ends up with may come from an enclosing one).
fn register_pam(cfg: &mut Config, conf: &DirConf) {
    let mut add = |s: &str| {
        if !cfg.pam_services.iter().any(|p| p == s) {
            cfg.pam_services.push(s.to_string());
        }
    };
    if let Some(s) = &conf.auth_pam_service {
        add(s);
    }
    if conf.providers().contains(&super::AuthProvider::Pam) {
        add(conf.pam_service());
    }
}

/// PAM runs in the verifier, which must be uid 0 for pam_unix to check other users'
/// passwords (its helper unix_chkpwd checks only the caller's own otherwise): a configuration
/// asking for `pam` that the verifier cannot serve is an error, not a server that answers 401
/// to everyone. A service without its /etc/pam.d file falls back to PAM's `other`: a warning.
fn check_pam(cfg: &mut Config, confs: &[(DirConf, Origin)], errors: &mut Vec<ConfigError>) {
    let Some((_, at)) = confs
        .iter()
        .find(|(c, _)| c.providers().contains(&super::AuthProvider::Pam))
    else {
        for (c, at) in confs {
            if let Some(s) = &c.auth_pam_service {
                cfg.warnings.push(ConfigError {
                    origin: at.clone(),
                    message: format!(
                        "AuthPAMService {s} has no effect: no section uses AuthBasicProvider pam"
                    ),
                });
            }
        }
        cfg.pam_services.clear();
        return;
    };
    if !nix::unistd::geteuid().is_root() {
        errors.push(ConfigError {
            origin: at.clone(),
            message: "AuthBasicProvider pam: the master does not run as root, so the password verifier cannot run PAM as root (pam_unix checks only the caller's own password otherwise)".into(),
        });
    }
    if let Some(user) = &cfg.verifier.user {
        errors.push(ConfigError {
            origin: cfg.verifier.user_at.clone().unwrap_or_else(|| at.clone()),
            message: format!("VerifierUser {user}: AuthBasicProvider pam needs the verifier at uid 0 (pam_unix checks only the caller's own password otherwise); remove VerifierUser, the verifier then keeps uid 0 without capabilities"),
        });
    }
    for s in &cfg.pam_services {
        let f = Path::new("/etc/pam.d").join(s);
        if !f.exists() {
            cfg.warnings.push(ConfigError {
                origin: at.clone(),
                message: format!(
                    "AuthPAMService {s}: {} does not exist, so PAM uses its 'other' service",
                    f.display()
                ),
            });
        }
    }
}

/// Refuses files an ordinary user could have written: owner must be root or the user the
/// server runs as, and no write bit for group or others.
fn check_owner(path: &Path, origin: &Origin, what: &str, errors: &mut Vec<ConfigError>) -> bool {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            errors.push(ConfigError {
                origin: origin.clone(),
                message: format!("{what} {}: {e}", path.display()),
            });
            return false;
        }
    };
    let euid = nix::unistd::geteuid().as_raw();
    if meta.uid() != 0 && meta.uid() != euid {
        errors.push(ConfigError {
            origin: origin.clone(),
            message: format!(
                "{what} {} is owned by uid {}, not by root or the server's user",
                path.display(),
                meta.uid()
            ),
        });
        return false;
    }
    if meta.mode() & 0o022 != 0 {
        errors.push(ConfigError {
            origin: origin.clone(),
            message: format!(
                "{what} {} is writable by group or others (mode {:o})",
                path.display(),
                meta.mode() & 0o7777
            ),
        });
        return false;
    }
    true
}

fn read(path: &Path, origin: &Origin, what: &str, errors: &mut Vec<ConfigError>) -> Option<String> {
    if !check_owner(path, origin, what, errors) {
        return None;
    }
    match super::file::read_regular_string(path) {
        Ok(t) => Some(t),
        Err(e) => {
            errors.push(ConfigError {
                origin: origin.clone(),
                message: format!("{what} {}: {e}", path.display()),
            });
            None
        }
    }
}

/// An error inside a loaded file, named by its own `FILE:LINE`.
fn at_line(path: &Path, line: usize, message: String) -> ConfigError {
    ConfigError {
        origin: Origin {
            file: path.to_path_buf(),
            line,
        },
        message,
    }
}

fn load_htpasswd(
    path: &Path,
    origin: &Origin,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<ConfigError>,
) -> bool {
    let Some(text) = read(path, origin, "AuthUserFile", errors) else {
        return false;
    };
    match crate::auth::htpasswd::parse(&text) {
        Ok(file) => {
            let w = file.warnings().iter();
            warnings.extend(w.map(|e| at_line(path, e.line, e.message.clone())));
            true
        }
        Err(es) => {
            errors.extend(es.into_iter().map(|e| at_line(path, e.line, e.message)));
            false
        }
    }
}

/// An `AuthGroupFile`: admin-owned like the password files, every line valid.
fn load_groups(
    path: &Path,
    origin: &Origin,
    errors: &mut Vec<ConfigError>,
) -> Option<crate::auth::groupfile::GroupFile> {
    let text = read(path, origin, "AuthGroupFile", errors)?;
    match crate::auth::groupfile::parse(&text) {
        Ok(g) => Some(g),
        Err(es) => {
            errors.extend(es.into_iter().map(|e| at_line(path, e.line, e.message)));
            None
        }
    }
}

fn load_map<T>(
    path: &Path,
    origin: &Origin,
    parse_target: impl Fn(&str) -> Result<T, String>,
    errors: &mut Vec<ConfigError>,
) -> Option<Vec<Rule<T>>> {
    let text = read(path, origin, "map file", errors)?;
    match policy::parse_map(&text, parse_target) {
        Ok(rules) => Some(rules),
        Err(es) => {
            errors.extend(es.into_iter().map(|e| at_line(path, e.line, e.message)));
            None
        }
    }
}

/// Resolves `t` once; an identity outside `LimitUIDRange`/`LimitGIDRange` is an error at
/// the line that names it (and is not stored, so every line naming it is reported).
fn resolve_user(
    users: &mut std::collections::BTreeMap<String, ResolvedUser>,
    itk: &super::itk::ItkSettings,
    t: &UnixTarget,
    origin: &Origin,
    errors: &mut Vec<ConfigError>,
) {
    let key = user_key(t);
    if users.contains_key(&key) || t.is_same_name() {
        // `=` names no account until a request names its user (child::decide).
        return;
    }
    match resolve(t) {
        Ok(u) => match itk.outside(u.uid, u.gid, &u.groups) {
            None => {
                users.insert(key, u);
            }
            Some(why) => errors.push(ConfigError {
                origin: origin.clone(),
                message: format!("'{key}': {why}"),
            }),
        },
        Err(m) => errors.push(ConfigError {
            origin: origin.clone(),
            message: m,
        }),
    }
}

/// A target named at request time (`AssignUserIDExpr`'s value): resolved as a configured one.
pub fn resolve_target(t: &UnixTarget) -> Result<ResolvedUser, String> {
    resolve(t)
}

/// The lowest uid the map target `=` may resolve to: below it are system accounts (Debian's
/// `UID_MIN` in /etc/login.defs, and adduser's `FIRST_UID`).
pub const SAME_NAME_MIN_UID: u32 = 1000;
/// `nobody`: an account no one logs in as, refused by `=` too.
const NOBODY_UID: u32 = 65534;

/// The map target `=` for authenticated user `name`: the unix account of that name, with its
/// primary group and supplementary groups, refused when it is a system account (uid below
/// [`SAME_NAME_MIN_UID`], or `nobody`), has gid 0, or does not exist.
pub fn resolve_same_name(name: &str) -> Result<ResolvedUser, String> {
    let t = policy::parse_unix_target(name)
        .map_err(|_| format!("'{name}' is not a unix account name"))?;
    if t.is_same_name() || t.group.is_some() {
        return Err(format!("'{name}' is not a unix account name"));
    }
    let u = resolve(&t)?;
    if u.uid < SAME_NAME_MIN_UID || u.uid == NOBODY_UID {
        return Err(format!(
            "'{name}' is a system account (uid {}), which '=' never serves as",
            u.uid
        ));
    }
    Ok(u)
}

/// The key under which a target's resolved identity is stored: `user` or `user:group`.
pub fn user_key(t: &UnixTarget) -> String {
    match &t.group {
        Some(g) => format!("{}:{g}", t.user),
        None => t.user.clone(),
    }
}

fn resolve(t: &UnixTarget) -> Result<ResolvedUser, String> {
    use nix::unistd::{Gid, Group, Uid, User};
    // mpm-itk's `#N` forms: the id itself, with or without an account behind it.
    let (uid, account) = match policy::numeric_id(&t.user) {
        Some(n) => (
            n,
            User::from_uid(Uid::from_raw(n)).map_err(|e| format!("cannot look up uid {n}: {e}"))?,
        ),
        None => {
            let user = User::from_name(&t.user)
                .map_err(|e| format!("cannot look up user '{}': {e}", t.user))?
                .ok_or_else(|| format!("unknown user '{}'", t.user))?;
            (user.uid.as_raw(), Some(user))
        }
    };
    let gid = match (&t.group, &account) {
        (Some(g), _) => match policy::numeric_id(g) {
            Some(n) => n,
            None => {
                Group::from_name(g)
                    .map_err(|e| format!("cannot look up group '{g}': {e}"))?
                    .ok_or_else(|| format!("unknown group '{g}'"))?
                    .gid
                    .as_raw()
            }
        },
        (None, Some(a)) => a.gid.as_raw(),
        (None, None) => {
            return Err(format!(
                "'{}' has no account, so it has no primary group: name one (AssignUserID \"{}\" \"#GID\")",
                t.user, t.user
            ))
        }
    };
    if uid == 0 || gid == 0 {
        return Err(format!(
            "'{}' resolves to uid or gid 0, which is never a target",
            user_key(t)
        ));
    }
    // The supplementary groups are the account's (initgroups, as mpm-itk); a numeric uid
    // without an account has only its primary group.
    let mut groups: Vec<u32> = match &account {
        Some(a) => {
            let name = std::ffi::CString::new(a.name.as_str())
                .map_err(|_| "user name contains NUL".to_string())?;
            nix::unistd::getgrouplist(&name, Gid::from_raw(gid))
                .map_err(|e| format!("cannot list the groups of '{}': {e}", a.name))?
                .into_iter()
                .map(|g| g.as_raw())
                .filter(|g| *g != 0)
                .collect()
        }
        None => vec![gid],
    };
    groups.sort_unstable();
    groups.dedup();
    Ok(ResolvedUser { uid, gid, groups })
}

/// The master's own context when SELinux is active, so map entries can be checked against
/// the kernel's policy at load time.
fn selinux_current_context() -> Option<String> {
    use crate::sys::{Linux, SelinuxState, Sys};
    match Linux.selinux_state() {
        Ok(SelinuxState::Enforcing | SelinuxState::Permissive) => Linux.selinux_getcon().ok(),
        _ => None,
    }
}

/// Builds the context a target names, relative to `current` (`*` keeps that part).
pub fn compose(current: &str, t: &SelinuxTarget) -> Option<String> {
    let mut parts = current.splitn(4, ':');
    let (user, role, ty, range) = (parts.next()?, parts.next()?, parts.next()?, parts.next());
    let ty = match &t.domain {
        Keep::Current => ty,
        Keep::Set(d) => d.as_str(),
    };
    let range = match &t.range {
        Keep::Current => range.map(str::to_string),
        Keep::Set(r) => Some(r.clone()),
    };
    Some(match range {
        Some(r) => format!("{user}:{role}:{ty}:{r}"),
        None => format!("{user}:{role}:{ty}"),
    })
}

fn check_selinux(current: &str, t: &SelinuxTarget, origin: &Origin, errors: &mut Vec<ConfigError>) {
    let Some(ctx) = compose(current, t) else {
        errors.push(ConfigError {
            origin: origin.clone(),
            message: format!("cannot compose a context from '{current}'"),
        });
        return;
    };
    if let Err(m) = crate::sandbox::check_context(&ctx) {
        errors.push(ConfigError {
            origin: origin.clone(),
            message: format!("SELinux context {ctx} is not valid in the loaded policy: {m}"),
        });
    }
}

/// With `selinuxConnectionCategories`, a target must hold no reserved category (its processes
/// would dominate connections, and the added category would separate nothing); with SELinux
/// active, the target completed with the first and the last reserved category must be valid in
/// the loaded policy.
fn check_categories(
    cc: &super::ConnectionCategories,
    current: Option<&str>,
    t: &SelinuxTarget,
    origin: &Origin,
    errors: &mut Vec<ConfigError>,
) {
    use crate::policy::mcs;
    let mut fail = |message: String| {
        errors.push(ConfigError {
            origin: origin.clone(),
            message,
        })
    };
    let composed = current.and_then(|c| compose(c, t));
    let reserved = match (&t.range, &composed) {
        (_, Some(ctx)) => mcs::reserved_in_context(ctx, cc.range),
        (Keep::Set(r), None) => mcs::reserved_in_range(r, cc.range),
        (Keep::Current, None) => Ok(Vec::new()),
    };
    match reserved {
        Ok(r) if r.is_empty() => {}
        Ok(r) => {
            let first = r.first().copied().unwrap_or_default();
            let what = match &t.range {
                Keep::Set(range) => format!("range {range}"),
                Keep::Current => "the server's own range (the target names none)".to_string(),
            };
            fail(format!(
                "{what} holds c{} of selinuxConnectionCategories {} ({}): a mapped range must leave the connection categories alone",
                first, cc.range, cc.origin
            ));
            return;
        }
        Err(m) => {
            fail(format!("cannot read the MLS range: {m}"));
            return;
        }
    }
    let Some(ctx) = composed else {
        return;
    };
    for c in [cc.range.first, cc.range.last] {
        let checked = mcs::with_category(&ctx, c).and_then(|full| {
            crate::sandbox::check_context(&full)
                .map_err(|m| format!("with connection category c{c}: {m}"))
        });
        if let Err(m) = checked {
            fail(m);
            return;
        }
    }
}

/// The server hands the categories out, so its own range must hold them all.
fn check_clearance(cc: &super::ConnectionCategories, current: &str, errors: &mut Vec<ConfigError>) {
    let message = match crate::policy::mcs::clearance_covers(current, cc.range) {
        Ok(true) => return,
        Ok(false) => format!(
            "selinuxConnectionCategories {}: the server runs as {current}, whose range does not hold them all, so it could not hand them out",
            cc.range
        ),
        Err(m) => format!("selinuxConnectionCategories needs an MLS/MCS policy: {m}"),
    };
    errors.push(ConfigError {
        origin: cc.origin.clone(),
        message,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_table() {
        let t = |d: Option<&str>, r: Option<&str>| SelinuxTarget {
            domain: d.map(|s| Keep::Set(s.to_string())).unwrap_or(Keep::Current),
            range: r.map(|s| Keep::Set(s.to_string())).unwrap_or(Keep::Current),
        };
        let cur = "system_u:system_r:worker_t:s0-s0:c0.c15";
        assert_eq!(
            compose(cur, &t(Some("web_t"), Some("s0:c1"))).unwrap(),
            "system_u:system_r:web_t:s0:c1"
        );
        assert_eq!(
            compose(cur, &t(Some("web_t"), None)).unwrap(),
            "system_u:system_r:web_t:s0-s0:c0.c15"
        );
        assert_eq!(
            compose(cur, &t(None, Some("s0:c2"))).unwrap(),
            "system_u:system_r:worker_t:s0:c2"
        );
        assert_eq!(compose("u:r:t", &t(Some("x_t"), None)).unwrap(), "u:r:x_t");
        assert_eq!(compose("bad", &t(Some("x_t"), None)), None);
    }
}
