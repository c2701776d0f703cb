//! Stage: choose the identity this connection is served in, from admin-owned configuration
//! only: the map file's first matching rule, else the vhost default, else refuse. Refusing
//! means 403; this child never serves in the worker's or the master's identity.

use crate::config::{identity_key, Config, DirConf};
use crate::policy::{self, Decision, RuleRef};
use crate::sandbox::{Backend, UnixIdentity};
use std::net::IpAddr;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub selinux: Option<String>,
    pub unix: Option<UnixIdentity>,
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
}

/// `current_context` is the worker's SELinux context (when SELinux is required).
pub fn decide(
    cfg: &Config,
    conf: &DirConf,
    user: Option<&str>,
    peer: IpAddr,
    current_context: Option<&str>,
) -> Result<Identity, Refusal> {
    let mut rules = Vec::new();
    let selinux = if cfg.confinement.contains(&Backend::Selinux) {
        let map = conf
            .selinux_map
            .as_ref()
            .and_then(|f| cfg.selinux_maps.get(f).map(|r| (f, r)));
        let (file, list) = map
            .map(|(f, r)| (Some(f), r.as_slice()))
            .unwrap_or((None, &[]));
        match policy::decide(list, conf.selinux_default.as_ref(), user, peer) {
            Decision::Chosen { target, rule } => {
                let cur = current_context.unwrap_or_default();
                let ctx = crate::config::compose_context(cur, target)
                    .ok_or_else(|| Refusal::Compose(cur.to_string()))?;
                rules.push(render(file, rule));
                Some(ctx)
            }
            Decision::Refuse => return Err(Refusal::NoRule("selinuxDomainMap")),
        }
    } else {
        None
    };
    let unix = if cfg.confinement.contains(&Backend::Unix) {
        let map = conf
            .user_map
            .as_ref()
            .and_then(|f| cfg.user_maps.get(f).map(|r| (f, r)));
        let (file, list) = map
            .map(|(f, r)| (Some(f), r.as_slice()))
            .unwrap_or((None, &[]));
        match policy::decide(list, conf.assign_user.as_ref(), user, peer) {
            Decision::Chosen { target, rule } => {
                let key = identity_key(target);
                let r = cfg.users.get(&key).ok_or(Refusal::Unresolved(key))?;
                rules.push(render(file, rule));
                Some(UnixIdentity {
                    uid: r.uid,
                    gid: r.gid,
                    groups: r.groups.clone(),
                })
            }
            Decision::Refuse => return Err(Refusal::NoRule("UserIDMap")),
        }
    } else {
        None
    };
    let rule = if rules.is_empty() {
        "confinement".to_string()
    } else {
        rules.join("+")
    };
    Ok(Identity {
        selinux,
        unix,
        rule,
    })
}

fn render(file: Option<&std::path::PathBuf>, rule: RuleRef) -> String {
    match (file, rule) {
        (Some(f), RuleRef::Map { line }) => format!("{}:{line}", f.display()),
        (None, RuleRef::Map { line }) => format!("{}:{line}", Path::new("?").display()),
        (_, RuleRef::VhostDefault) => "vhost-default".into(),
    }
}
