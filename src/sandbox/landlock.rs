//! Step 5 of the transition: Landlock `restrict_self` with the read / exec / write trees of the
//! plan, through `Sys::landlock_restrict`.
//!
//! Invariants: only absolute paths are accepted (a relative path would depend on the child's
//! cwd); anything short of full enforcement of the requested ruleset is an error.
#![forbid(unsafe_code)]

use super::{failed, LandlockEnforcement, LandlockRules, SandboxError, Step};
use crate::sys::Sys;

/// Lowest kernel Landlock ABI accepted at start-up. ABI 1-2 do not control truncate(2), so a
/// "read-only" tree could still be truncated.
pub const MIN_LANDLOCK_ABI: u32 = 3;

pub(super) fn validate(rules: &LandlockRules) -> Result<(), SandboxError> {
    let all = rules.read.iter().chain(&rules.exec).chain(&rules.write);
    match all.into_iter().find(|p| !p.is_absolute()) {
        Some(path) => Err(SandboxError::BadPath {
            path: path.display().to_string(),
            why: "not absolute",
        }),
        None => Ok(()),
    }
}

pub(super) fn enter(sys: &impl Sys, rules: &LandlockRules) -> Result<(), SandboxError> {
    let outcome = sys
        .landlock_restrict(rules)
        .map_err(failed(Step::Landlock))?;
    if outcome.enforcement != LandlockEnforcement::Full {
        return Err(SandboxError::NotEnforced {
            enforcement: outcome.enforcement,
            abi: outcome.abi,
        });
    }
    Ok(())
}
