//! Step 3 of the transition: the unix identity. setgroups(exact) → setresgid(g,g,g) →
//! setresuid(u,u,u) → drop all capabilities, then verify.
//!
//! Invariants:
//! - uid 0, gid 0 and group 0 are never targets (mpm-itk CVE-2011-1176: a child "confined" as
//!   root is not confined).
//! - Groups and gids are set while CAP_SETGID is still held, i.e. before the uid changes.
//! - After the switch, going back (to 0, or to the ids held before) must FAIL; if it succeeds
//!   the child is aborted with an error.
#![forbid(unsafe_code)]

use super::{expect_eq, failed, SandboxError, Step, UnixIdentity};
use crate::sys::Sys;

pub(super) fn validate(id: &UnixIdentity) -> Result<(), SandboxError> {
    if id.uid == 0 {
        return Err(SandboxError::RootTarget { what: "uid" });
    }
    if id.gid == 0 {
        return Err(SandboxError::RootTarget { what: "gid" });
    }
    if id.groups.contains(&0) {
        return Err(SandboxError::RootTarget {
            what: "supplementary group",
        });
    }
    Ok(())
}

pub(super) fn enter(sys: &impl Sys, id: &UnixIdentity) -> Result<(), SandboxError> {
    let (u, g) = (id.uid, id.gid);
    let before_uid = sys.getresuid().map_err(failed(Step::Setresuid(u)))?;
    let before_gid = sys.getresgid().map_err(failed(Step::Setresgid(g)))?;
    let groups_step = Step::Setgroups(id.groups.clone());
    sys.setgroups(&id.groups)
        .map_err(failed(groups_step.clone()))?;
    sys.setresgid(g, g, g).map_err(failed(Step::Setresgid(g)))?;
    sys.setresuid(u, u, u).map_err(failed(Step::Setresuid(u)))?;
    // Leaving uid 0 already empties the capability sets, but a master that kept CAP_SETUID
    // across an earlier switch (PR_SET_KEEPCAPS) would otherwise keep it here.
    sys.drop_all_caps().map_err(failed(Step::DropCaps))?;
    verify(sys, id)?;
    refuse_way_back(sys, id, before_uid, before_gid)?;
    // A refused way back must also have left the ids alone.
    verify(sys, id)
}

fn verify(sys: &impl Sys, id: &UnixIdentity) -> Result<(), SandboxError> {
    verify_ids(sys, id)?;
    let step = Step::Setgroups(id.groups.clone());
    let found = sys.getgroups().map_err(failed(step.clone()))?;
    // The kernel keeps the list sorted; order is not part of the identity, duplicates are not
    // either.
    expect_eq(step, normalised(&id.groups), normalised(&found))
}

/// Real, effective and saved uid and gid all read back as the target's.
pub(super) fn verify_ids(sys: &impl Sys, id: &UnixIdentity) -> Result<(), SandboxError> {
    let (u, g) = (id.uid, id.gid);
    let uids = sys.getresuid().map_err(failed(Step::Setresuid(u)))?;
    expect_eq(Step::Setresuid(u), (u, u, u), uids)?;
    let gids = sys.getresgid().map_err(failed(Step::Setresgid(g)))?;
    expect_eq(Step::Setresgid(g), (g, g, g), gids)
}

fn normalised(groups: &[u32]) -> Vec<u32> {
    let mut g = groups.to_vec();
    g.sort_unstable();
    g.dedup();
    g
}

/// Ids (other than the target) that a successful switch must have made unreachable.
fn old_ids(target: u32, before: (u32, u32, u32)) -> Vec<u32> {
    let mut ids = vec![0, before.0, before.1, before.2];
    ids.retain(|&i| i != target);
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn refuse_way_back(
    sys: &impl Sys,
    id: &UnixIdentity,
    before_uid: (u32, u32, u32),
    before_gid: (u32, u32, u32),
) -> Result<(), SandboxError> {
    for old in old_ids(id.gid, before_gid) {
        if sys.setresgid(old, old, old).is_ok() {
            return Err(SandboxError::Reversible {
                step: Step::Setresgid(id.gid),
                probe: format!("setresgid({old}, {old}, {old})"),
            });
        }
    }
    for old in old_ids(id.uid, before_uid) {
        if sys.setresuid(old, old, old).is_ok() {
            return Err(SandboxError::Reversible {
                step: Step::Setresuid(id.uid),
                probe: format!("setresuid({old}, {old}, {old})"),
            });
        }
    }
    Ok(())
}
