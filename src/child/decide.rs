//! Stage: choose the identity this connection is served in, from admin-owned configuration
//! only: the map file's first matching rule, else the vhost default, else refuse. Refusing
//! means 403; this child never serves in the worker's or the master's identity.

use crate::config::{identity_key, Config, DirConf};
use crate::policy::{self, Decision, Rule, RuleRef};
use crate::sandbox::{Backend, UnixIdentity};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub selinux: Option<String>,
    pub unix: Option<UnixIdentity>,
    /// mpm-itk's `NiceValue` for this request's section.
    pub nice: Option<i32>,
    /// The rule(s) that chose it: `FILE:LINE` or `vhost-default`, for the audit line.
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no {0} rule matches and the vhost has no default")]
    NoRule(&'static str),
    #[error("the chosen SELinux target cannot be composed with the current context '{0}'")]
    Compose(String),
    #[error("the chosen unix identity '{0}' was not resolved at load time")]
    Unresolved(String),
    #[error("the map target '=' (the user's own account) does not apply: {0}")]
    SameName(String),
    #[error("selinuxConnectionCategories is set but this process was given no category of its own ({0})")]
    NoCategory(String),
    #[error("the chosen unix identity is outside the configured range: {0}")]
    OutOfRange(String),
    #[error("{0}")]
    Expr(String),
}

/// What of the request the identity expressions (`AssignUserIDExpr`, `AssignGroupIDExpr`,
/// `selinuxDomainEnv`) may read: the variables of the admin's `SetEnv`/`SetEnvIf` rules
/// (`config::setenv`; load refuses rules that copy request content into them) and the
/// selected virtual host's name.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    pub env: &'a [(String, String)],
    pub server_name: &'a str,
}

impl Facts<'_> {
    fn var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// `selinuxDomainEnv VAR`: the variable's `DOMAIN:RANGE`, when the request's rules set it.
fn selinux_from_env(
    conf: &DirConf,
    facts: &Facts,
) -> Result<Option<crate::policy::SelinuxTarget>, Refusal> {
    let Some((var, _)) = &conf.selinux_env else {
        return Ok(None);
    };
    let Some(value) = facts.var(var) else {
        return Ok(None);
    };
    policy::parse_selinux_target(value)
        .map(Some)
        .map_err(|m| Refusal::Expr(format!("selinuxDomainEnv {var}='{value}': {m}")))
}

/// `AssignUserIDExpr`/`AssignGroupIDExpr`: the target they name for this request, which
/// replaces `AssignUserID` (user, group, or both).
fn unix_from_exprs(conf: &DirConf, facts: &Facts) -> Result<Option<policy::UnixTarget>, Refusal> {
    if conf.assign_user_expr.is_none() && conf.assign_group_expr.is_none() {
        return Ok(None);
    }
    let eval = |e: &crate::config::itk::IdExpr, what: &str| {
        let v = e.eval(facts.env, facts.server_name);
        if v.is_empty() {
            Err(Refusal::Expr(format!(
                "{what} ({}) is empty for this request",
                e.origin
            )))
        } else {
            Ok(v)
        }
    };
    let user = match (&conf.assign_user_expr, &conf.assign_user) {
        (Some(e), _) => eval(e, "AssignUserIDExpr")?,
        (None, Some(t)) => t.user.clone(),
        (None, None) => {
            return Err(Refusal::Expr(
                "AssignGroupIDExpr without AssignUserIDExpr or AssignUserID names no user".into(),
            ))
        }
    };
    let group = match (&conf.assign_group_expr, &conf.assign_user) {
        (Some(e), _) => Some(eval(e, "AssignGroupIDExpr")?),
        (None, Some(t)) if conf.assign_user_expr.is_none() => t.group.clone(),
        (None, _) => None,
    };
    let spelled = match &group {
        Some(g) => format!("{user}:{g}"),
        None => user,
    };
    policy::parse_unix_target(&spelled)
        .map(Some)
        .map_err(|m| Refusal::Expr(format!("the identity expression gave {m}")))
}

/// `current_context` is the worker's SELinux context (when SELinux is required);
/// `category` the MCS category the master gave this process (`selinuxConnectionCategories`),
/// added to the chosen context. It is the same for every request of the connection, so two
/// requests choose the same identity exactly when their mapped contexts are the same.
pub fn decide(
    cfg: &Config,
    conf: &DirConf,
    user: Option<&str>,
    peer: IpAddr,
    current_context: Option<&str>,
    category: Option<u16>,
    facts: &Facts,
) -> Result<Identity, Refusal> {
    let on = |b| cfg.confinement.contains(&b);
    let mut rules = Vec::new();
    // mod_selinux: the map, then the variable, then selinuxDomainVal.
    let from_env = selinux_from_env(conf, facts)?;
    let selinux = Source {
        directive: "selinuxDomainMap",
        map: lookup(conf.selinux_map.as_ref(), &cfg.selinux_maps),
        default: from_env.as_ref().or(conf.selinux_default.as_ref()),
    };
    let selinux = match selinux.choose(on(Backend::Selinux), user, peer)? {
        None => None,
        Some(Choice { target, rule }) => {
            let cur = current_context.unwrap_or_default();
            let ctx = crate::config::compose_context(cur, target)
                .ok_or_else(|| Refusal::Compose(cur.to_string()))?;
            let ctx = with_connection_category(cfg, ctx, category)?;
            rules.push(rule);
            Some(ctx)
        }
    };
    let from_expr = unix_from_exprs(conf, facts)?;
    let unix = Source {
        directive: "UserIDMap",
        map: lookup(conf.user_map.as_ref(), &cfg.user_maps),
        default: from_expr.as_ref().or(conf.assign_user.as_ref()),
    };
    let unix = match unix.choose(on(Backend::Unix), user, peer)? {
        None => None,
        Some(Choice { target, rule }) => {
            let r = if target.is_same_name() {
                // `=`: the account of the user's own name, looked up now (docs/pam.md).
                let name = user.ok_or(Refusal::SameName(
                    "an anonymous request has no account".into(),
                ))?;
                crate::config::resolve_same_name(name).map_err(Refusal::SameName)?
            } else if from_expr.as_ref().is_some_and(|e| std::ptr::eq(e, target)) {
                // Named by an expression for this request: looked up now, as mpm-itk does.
                crate::config::resolve_target(target).map_err(Refusal::Expr)?
            } else {
                let key = identity_key(target);
                cfg.users.get(&key).ok_or(Refusal::Unresolved(key))?.clone()
            };
            // mpm-itk's LimitUIDRange/LimitGIDRange, checked again here, right before the
            // switch: the load-time check cannot see `=` targets, nor a changed group database.
            if let Some(why) = cfg.itk.outside(r.uid, r.gid, &r.groups) {
                return Err(Refusal::OutOfRange(why));
            }
            rules.push(rule);
            Some(UnixIdentity {
                uid: r.uid,
                gid: r.gid,
                groups: r.groups,
            })
        }
    };
    let rule = if rules.is_empty() {
        "confinement".to_string()
    } else {
        rules.join("+")
    };
    Ok(Identity {
        selinux,
        unix,
        nice: conf.nice,
        rule,
    })
}

/// Where one backend's identity comes from in a scope: the map file it names (with its rules,
/// loaded by the master) and its default (`selinuxDomainVal` / `AssignUserID`).
struct Source<'a, T> {
    /// The map directive, for the refusal: `selinuxDomainMap` or `UserIDMap`.
    directive: &'static str,
    map: Option<(&'a PathBuf, &'a [Rule<T>])>,
    default: Option<&'a T>,
}

/// What one backend chose, and the rule that chose it (`FILE:LINE` or `vhost-default`).
struct Choice<'a, T> {
    target: &'a T,
    rule: String,
}

impl<'a, T> Source<'a, T> {
    /// The one decision, for either backend: when `Confinement` names the backend (`on`), the
    /// first matching rule of the map, else the default, else refuse (`NoRule`, 403). `None`:
    /// the backend is not configured, so it chooses nothing.
    fn choose(
        &self,
        on: bool,
        user: Option<&str>,
        peer: IpAddr,
    ) -> Result<Option<Choice<'a, T>>, Refusal> {
        if !on {
            return Ok(None);
        }
        let (file, list) = self.map.map_or((None, &[][..]), |(f, r)| (Some(f), r));
        match policy::decide(list, self.default, user, peer) {
            Decision::Chosen { target, rule } => Ok(Some(Choice {
                target,
                rule: render(file, rule),
            })),
            Decision::Refuse => Err(Refusal::NoRule(self.directive)),
        }
    }
}

/// The map file a scope names, with its rules (a name the master did not load has none).
fn lookup<'a, T>(
    file: Option<&'a PathBuf>,
    maps: &'a BTreeMap<PathBuf, Vec<Rule<T>>>,
) -> Option<(&'a PathBuf, &'a [Rule<T>])> {
    file.and_then(|f| maps.get(f).map(|r| (f, r.as_slice())))
}

/// The chosen context with this connection's category, when the configuration reserves some.
fn with_connection_category(
    cfg: &Config,
    ctx: String,
    category: Option<u16>,
) -> Result<String, Refusal> {
    let Some(cc) = &cfg.selinux_connection_categories else {
        return Ok(ctx);
    };
    match category {
        Some(c) if cc.range.contains(c) => {
            crate::policy::mcs::with_category(&ctx, c).map_err(|_| Refusal::Compose(ctx))
        }
        Some(c) => Err(Refusal::NoCategory(format!("c{c} is outside {}", cc.range))),
        None => Err(Refusal::NoCategory("none".into())),
    }
}

fn render(file: Option<&PathBuf>, rule: RuleRef) -> String {
    match (file, rule) {
        (Some(f), RuleRef::Map { line }) => format!("{}:{line}", f.display()),
        (None, RuleRef::Map { line }) => format!("{}:{line}", Path::new("?").display()),
        (_, RuleRef::VhostDefault) => "vhost-default".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const WORKER: &str = "system_u:system_r:master_t:s0-s0:c0.c15";

    /// Loads `text` as a configuration file; Err holds every `FILE:LINE: message`.
    fn load(text: &str) -> Result<Config, Vec<String>> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("oneshot-decide-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("t.conf");
        std::fs::write(&f, text).unwrap();
        crate::config::load(&f, &[])
            .map_err(|es| es.iter().map(|e| e.to_string()).collect::<Vec<_>>())
    }

    const BASE: &str = "Listen 127.0.0.1:1\nDocumentRoot /\nConfinement selinux\n";

    fn decide_as(cfg: &Config, category: Option<u16>) -> Result<Identity, Refusal> {
        let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
        decide(
            cfg,
            &cfg.vhosts[0].conf,
            None,
            peer,
            Some(WORKER),
            category,
            &Facts::default(),
        )
    }

    #[test]
    fn the_connection_category_is_added_to_the_mapped_context() {
        let cfg = load(&format!(
            "{BASE}MaxRequestWorkers 8\nselinuxConnectionCategories c8.c15\nselinuxDomainVal web_t:s0:c1\n"
        ))
        .unwrap();
        let id = decide_as(&cfg, Some(9)).unwrap();
        assert_eq!(
            id.selinux.as_deref(),
            Some("system_u:system_r:web_t:s0:c1,c9")
        );
        // Per process, not per request: the next request of the connection chooses the very
        // same identity (so `Confined::serves` compares what the admission chose), another
        // connection a different one.
        assert_eq!(decide_as(&cfg, Some(9)).unwrap(), id);
        assert_ne!(decide_as(&cfg, Some(10)).unwrap().selinux, id.selinux);
        // Fail closed: a child without a category, or with one outside the range, serves nothing.
        assert!(matches!(decide_as(&cfg, None), Err(Refusal::NoCategory(_))));
        assert!(matches!(
            decide_as(&cfg, Some(20)),
            Err(Refusal::NoCategory(_))
        ));
        // Without the directive nothing is added.
        let plain = load(&format!("{BASE}selinuxDomainVal web_t:s0:c1\n")).unwrap();
        let id = decide_as(&plain, Some(9)).unwrap();
        assert_eq!(id.selinux.as_deref(), Some("system_u:system_r:web_t:s0:c1"));
    }

    /// mpm-itk's LimitUIDRange/LimitGIDRange, checked again by the child right before the
    /// switch (the load-time check cannot see `=` targets, nor a group database that changed
    /// since): an identity outside is refused, inside is chosen; NiceValue rides along.
    #[test]
    fn the_child_rechecks_the_id_ranges_before_it_switches() {
        let cfg = load(
            "Listen 127.0.0.1:1\nDocumentRoot /\nConfinement unix\nLimitUIDRange 4000 5000\nLimitGIDRange 4000 5000\nAssignUserID \"#4242\" \"#4343\"\nNiceValue 19\n",
        )
        .unwrap();
        let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let conf = &cfg.vhosts[0].conf;
        let id = decide(&cfg, conf, None, peer, None, None, &Facts::default()).unwrap();
        let u = id.unix.as_ref().unwrap();
        assert_eq!(
            (u.uid, u.gid, u.groups.as_slice()),
            (4242, 4343, &[4343][..])
        );
        assert_eq!(id.nice, Some(19));
        // The same resolved identity under narrower ranges (as if the ranges or the group
        // database had changed after the load): refused, never served.
        for (uid, gid) in [((4300, 5000), (4000, 5000)), ((4000, 5000), (4000, 4300))] {
            let mut narrower = cfg.clone();
            let r = narrower.itk.uid_range.as_mut().unwrap();
            (r.min, r.max) = uid;
            let r = narrower.itk.gid_range.as_mut().unwrap();
            (r.min, r.max) = gid;
            let got = decide(&narrower, conf, None, peer, None, None, &Facts::default());
            assert!(matches!(got, Err(Refusal::OutOfRange(_))), "{got:?}");
        }
    }

    #[test]
    fn the_directive_is_checked_at_load_with_file_and_line() {
        let errors = |text: &str| load(text).expect_err(text).join("\n");
        let e = errors(&format!(
            "{BASE}selinuxConnectionCategories c8.c15\nMaxRequestWorkers 9\nselinuxDomainVal web_t:s0:c1\n"
        ));
        assert!(
            e.contains("t.conf:4: selinuxConnectionCategories c8.c15 holds 8 categories, fewer than MaxRequestWorkers 9"),
            "{e}"
        );
        let e = errors(
            "Listen 127.0.0.1:1\nDocumentRoot /\nMaxRequestWorkers 8\nselinuxConnectionCategories c8.c15\n",
        );
        assert!(
            e.contains("t.conf:4:") && e.contains("Confinement selinux"),
            "{e}"
        );
        // A vhost default is named by its section (as every selinuxDomainVal error).
        let e = errors(&format!(
            "{BASE}MaxRequestWorkers 8\nselinuxConnectionCategories c8.c15\n<VirtualHost *:1>\nselinuxDomainVal web_t:s0-s0:c0.c15\n</VirtualHost>\n"
        ));
        assert!(
            e.contains("t.conf:6: range s0-s0:c0.c15 holds c8 of selinuxConnectionCategories"),
            "{e}"
        );
        let map = std::env::temp_dir().join(format!("oneshot-decide-map-{}", std::process::id()));
        std::fs::write(
            &map,
            "# user  domain:range\nalice web_t:s0:c1\nbob web_t:s0:c9\n",
        )
        .unwrap();
        let e = errors(&format!(
            "{BASE}MaxRequestWorkers 8\nselinuxConnectionCategories c8.c15\nselinuxDomainMap {}\n",
            map.display()
        ));
        assert!(
            e.contains(&format!("{}:3: range s0:c9 holds c9", map.display())),
            "{e}"
        );
        for bad in ["c15.c8", "8.15", "c8.c15 c16"] {
            let e = errors(&format!(
                "{BASE}MaxRequestWorkers 1\nselinuxConnectionCategories {bad}\n"
            ));
            assert!(e.contains("t.conf:5:"), "{bad}: {e}");
        }
        let e = errors(&format!(
            "{BASE}<VirtualHost *:1>\nselinuxConnectionCategories c8.c15\n</VirtualHost>\n"
        ));
        assert!(e.contains("t.conf:5:") && e.contains("not allowed"), "{e}");
    }
}
