//! Step 2 of the transition: SELinux dynamic transition (`setcon`) of the single-threaded child,
//! verified with `getcon`. Also the config-time context check.
//!
//! Invariants: the context is compared byte for byte in raw form, so a policy that canonicalises
//! the context differently from the configuration is a mismatch (fail closed), not a silent
//! acceptance. No way back is verified here: that is the policy's job (the target domain has no
//! `setcurrent`), tested in the SELinux VM.
#![forbid(unsafe_code)]

use super::{expect_eq, failed, SandboxError, Step};
use crate::sys::Sys;

/// Longest context accepted; real ones are far shorter, this only bounds config mistakes.
const MAX_CONTEXT_LEN: usize = 4096;

/// Pure syntax check: `user:role:type[:range]`, printable ASCII, no whitespace.
pub(super) fn syntax(context: &str) -> Result<(), String> {
    if context.is_empty() || context.len() > MAX_CONTEXT_LEN {
        return Err(format!(
            "length {} is outside 1..={MAX_CONTEXT_LEN}",
            context.len()
        ));
    }
    if let Some(c) = context.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "contains {c:?}; only printable ASCII without spaces is allowed"
        ));
    }
    let fields: Vec<&str> = context.splitn(4, ':').collect();
    if fields.len() < 3 || fields.iter().any(|f| f.is_empty()) {
        return Err("expected user:role:type[:range] with no empty field".to_string());
    }
    Ok(())
}

pub(super) fn validate(context: &str) -> Result<(), SandboxError> {
    syntax(context).map_err(|why| SandboxError::BadContext {
        context: context.to_string(),
        why,
    })
}

pub(super) fn enter(sys: &impl Sys, context: &str) -> Result<(), SandboxError> {
    let step = Step::Setcon(context.to_string());
    sys.selinux_setcon(context).map_err(failed(step.clone()))?;
    let now = sys.selinux_getcon().map_err(failed(step.clone()))?;
    expect_eq(step, context, now.as_str())
}

/// Config validation: the context is well-formed and valid in the loaded policy
/// (`security_check_context_raw`). Errors say why, for the config error message.
pub fn check_context(context: &str) -> Result<(), String> {
    syntax(context).map_err(|why| format!("`{context}`: {why}"))?;
    match crate::sys::linux::selinux_check_context(context) {
        Some(true) => Ok(()),
        Some(false) => Err(format!(
            "`{context}` is not a valid context in the loaded SELinux policy"
        )),
        None => Err(format!(
            "cannot validate `{context}`: SELinux is not enabled on this kernel"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::syntax;

    #[test]
    fn syntax_table() {
        let long = format!("u:r:t:{}", "s".repeat(5000));
        let cases: &[(&str, bool)] = &[
            ("system_u:system_r:user_a_t:s0:c1", true),
            ("system_u:system_r:worker_t:s0-s0:c0.c7", true),
            ("user_u:user_r:user_t", true),
            ("", false),
            ("user_u:user_r", false),
            ("user_u::user_t:s0", false),
            ("user_u:user_r:user_t:", false),
            ("user_u:user_r:user_t s0", false),
            ("user_u:user_r:user_t\0", false),
            ("user_u:user_r:usér_t", false),
            (long.as_str(), false),
        ];
        for (input, ok) in cases {
            assert_eq!(
                syntax(input).is_ok(),
                *ok,
                "input {input:?}: {:?}",
                syntax(input)
            );
        }
    }
}
