//! mod_auth_basic and mod_authn_*'s per-directory settings: `AuthType`, `AuthName`,
//! `AuthUserFile`, `AuthBasicProvider`, `AuthPAMService`, `AuthzSendForbiddenOnFailure`.
//! (`Require` and its containers are in `config::authz`.)

#![forbid(unsafe_code)]

use super::*;

pub fn auth_type(b: &mut Builder, n: &Node, d: &mut DirConf) {
    if let Some([a0]) = b.args(n, 1, 1) {
        match a0.to_ascii_lowercase().as_str() {
            "basic" => d.auth_basic = Some(true),
            "none" => d.auth_basic = Some(false),
            other => b.error(
                n,
                format!("AuthType '{other}' is not supported (Basic or None)"),
            ),
        }
    }
}

pub fn auth_name(b: &mut Builder, n: &Node, d: &mut DirConf) {
    if let Some([a0]) = b.args(n, 1, 1) {
        if a0.contains(['"', '\\']) || a0.chars().any(char::is_control) {
            b.error(
                n,
                "AuthName must not contain quotes, backslashes or control characters",
            );
        } else {
            d.auth_name = Some(a0.clone());
        }
    }
}

pub fn auth_user_file(b: &mut Builder, n: &Node, d: &mut DirConf) {
    if let Some([a0]) = b.args(n, 1, 1) {
        d.auth_user_file = Some(b.path(a0));
    }
}

pub fn auth_basic_provider(b: &mut Builder, n: &Node, d: &mut DirConf) {
    let mut providers = Vec::new();
    for a in &n.args {
        let p = match a.to_ascii_lowercase().as_str() {
            "file" => crate::config::AuthProvider::File,
            "pam" => crate::config::AuthProvider::Pam,
            other => {
                return b.error(
                    n,
                    format!("AuthBasicProvider: '{other}' is not a provider here (file, pam)"),
                )
            }
        };
        if providers.contains(&p) {
            return b.error(n, format!("AuthBasicProvider: '{a}' is named twice"));
        }
        providers.push(p);
    }
    if providers.is_empty() {
        return b.error(
            n,
            "AuthBasicProvider needs at least one provider (file, pam)",
        );
    }
    d.auth_basic_provider = Some(providers);
}

pub fn auth_pam_service(b: &mut Builder, n: &Node, d: &mut DirConf) {
    if let Some([a0]) = b.args(n, 1, 1) {
        // pam_start(3) reads /etc/pam.d/NAME: a plain file name, nothing else.
        let plain = a0
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
        if !plain || a0.starts_with('.') || a0.len() > 64 {
            b.error(
                n,
                format!(
                    "AuthPAMService: '{a0}' is not a plain service name (letters, digits, . _ -)"
                ),
            );
        } else {
            d.auth_pam_service = Some(a0.clone());
        }
    }
}

pub fn authz_send_forbidden(b: &mut Builder, n: &Node, d: &mut DirConf) {
    if let Some(on) = b.on_off(n) {
        d.authz_send_forbidden = Some(on);
    }
}
