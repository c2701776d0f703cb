//! Directives of the password verifier's own confinement (docs/security-model.md):
//! `VerifierUser USER`, `VerifierGroup GROUP` (the unix identity it takes under a root master)
//! and `selinuxVerifierContext CONTEXT` (the domain it enters under `Confinement selinux`).
//! Pure: arguments in, values out; `verifier::confine` turns them into a plan.
#![forbid(unsafe_code)]

use super::model::{Config, Origin};
use super::ConfigError;

/// The verifier's context when `selinuxVerifierContext` is not given: the type both policies
/// (selinux-module/) define for it, at the lowest level.
pub const DEFAULT_SELINUX_CONTEXT: &str = "system_u:system_r:oneshot_verifier_t:s0";

/// The verifier's context when it runs PAM (`AuthBasicProvider pam`) and
/// `selinuxVerifierContext` is not given: a domain that may also read shadow_t and run
/// chkpwd_t (selinux-module/).
pub const DEFAULT_PAM_SELINUX_CONTEXT: &str = "system_u:system_r:oneshot_verifier_pam_t:s0";

/// What the verifier directives ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerifierSettings {
    /// `VerifierUser`: a root master's verifier switches to this user. Unset: it keeps uid 0
    /// and drops every capability (see docs/security-model.md).
    pub user: Option<String>,
    /// `VerifierGroup`: its group, the only one it holds (default: the user's primary group).
    pub group: Option<String>,
    /// `selinuxVerifierContext`; unset: [`DEFAULT_SELINUX_CONTEXT`].
    pub selinux_context: Option<String>,
    /// Where `VerifierUser` and `VerifierGroup` were given, for the errors of [`check`].
    pub user_at: Option<Origin>,
    pub group_at: Option<Origin>,
}

impl VerifierSettings {
    pub fn selinux_context(&self) -> &str {
        self.selinux_context
            .as_deref()
            .unwrap_or(DEFAULT_SELINUX_CONTEXT)
    }

    /// The context to enter: as given, else the PAM domain when `pam`, else the default.
    pub fn selinux_context_for(&self, pam: bool) -> &str {
        match (&self.selinux_context, pam) {
            (Some(c), _) => c,
            (None, true) => DEFAULT_PAM_SELINUX_CONTEXT,
            (None, false) => DEFAULT_SELINUX_CONTEXT,
        }
    }
}

/// Parses one server-level directive of this file into `cfg`; `None` when `name` (lower
/// case) is not one of them.
pub fn server_directive(
    name: &str,
    args: &[String],
    at: &Origin,
    cfg: &mut Config,
) -> Option<Result<(), String>> {
    let v = &mut cfg.verifier;
    let (directive, slot) = match name {
        "verifieruser" => {
            v.user_at = Some(at.clone());
            ("VerifierUser", &mut v.user)
        }
        "verifiergroup" => {
            v.group_at = Some(at.clone());
            ("VerifierGroup", &mut v.group)
        }
        "selinuxverifiercontext" => ("selinuxVerifierContext", &mut v.selinux_context),
        _ => return None,
    };
    Some(match args {
        [a] if name == "selinuxverifiercontext" && a.split(':').count() < 4 => Err(format!(
            "{directive}: '{a}' is not a full context (user:role:type:level)"
        )),
        [a] if a == "root" || a == "0" => Err(format!(
            "{directive} must not be root: the verifier parses bytes sent by children"
        )),
        [a] => {
            *slot = Some(a.clone());
            Ok(())
        }
        _ => Err(format!(
            "{directive} takes exactly one argument, not {}",
            args.len()
        )),
    })
}

/// After the whole file is read.
pub fn check(cfg: &Config) -> Vec<ConfigError> {
    let v = &cfg.verifier;
    let mut errors = Vec::new();
    if let (Some(at), None) = (&v.group_at, &v.user) {
        errors.push(ConfigError {
            origin: at.clone(),
            message: "VerifierGroup needs VerifierUser".into(),
        });
    }
    if v.user.is_some() && v.user == cfg.user {
        if let Some(at) = &v.user_at {
            errors.push(ConfigError {
                origin: at.clone(),
                message: "VerifierUser must differ from User: children run as User before they are confined".into(),
            });
        }
    }
    errors
}
