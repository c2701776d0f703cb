//! Optional early drop for a root master: the child becomes the server `User`/`Group` before it
//! reads a single client byte, keeping only CAP_SETUID and CAP_SETGID so that [`super::enter`]
//! can still switch to the per-request identity afterwards (mpm-itk's "early" mode).
//!
//! Invariants: after `early_drop` returns Ok, the ids are exactly the server identity, the
//! effective capability set is exactly CAP_SETUID|CAP_SETGID, and going back to uid 0 is still
//! possible only through those two capabilities, which `enter` drops (its unix step empties the
//! capability sets and then probes the way back to 0 and to this identity).
#![forbid(unsafe_code)]

use super::{expect_eq, failed, unix, SandboxError, Step, UnixIdentity};
use crate::sys::Sys;

const SETID_CAPS: u64 = (1 << 6) | (1 << 7);

/// Switches a root child to the server identity `id`, keeping only the set*id capabilities.
pub fn early_drop(sys: &impl Sys, id: &UnixIdentity) -> Result<(), SandboxError> {
    unix::validate(id)?;
    let (u, g) = (id.uid, id.gid);
    // First reduce to the two capabilities and set PR_SET_KEEPCAPS, so the uid change below
    // keeps them in the permitted set instead of clearing everything.
    sys.keep_only_setid_caps()
        .map_err(failed(Step::KeepSetidCaps))?;
    sys.setgroups(&id.groups)
        .map_err(failed(Step::Setgroups(id.groups.clone())))?;
    sys.setresgid(g, g, g).map_err(failed(Step::Setresgid(g)))?;
    sys.setresuid(u, u, u).map_err(failed(Step::Setresuid(u)))?;
    // Leaving uid 0 cleared the effective set even with KEEPCAPS; raise the two again.
    sys.keep_only_setid_caps()
        .map_err(failed(Step::KeepSetidCaps))?;
    verify(sys, id)?;
    // The uid change reset dumpable: set it again before the first byte is read.
    super::not_dumpable(sys)
}

fn verify(sys: &impl Sys, id: &UnixIdentity) -> Result<(), SandboxError> {
    unix::verify_ids(sys, id)?;
    let capeff = sys.cap_effective().map_err(failed(Step::KeepSetidCaps))?;
    expect_eq(Step::KeepSetidCaps, SETID_CAPS, capeff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{enter, Plan};
    use crate::sys::fake::{Call, Recording, State};

    fn server() -> UnixIdentity {
        UnixIdentity {
            uid: 33,
            gid: 33,
            groups: vec![33],
        }
    }

    #[test]
    fn early_drop_then_enter_ends_without_caps_and_without_way_back() {
        let sys = Recording::new(State::root());
        early_drop(&sys, &server()).expect("early drop");
        assert_eq!(sys.state.borrow().caps, SETID_CAPS);
        let target = UnixIdentity {
            uid: 1000,
            gid: 1000,
            groups: vec![1000],
        };
        let plan = Plan {
            unix: Some(target),
            ..Plan::default()
        };
        enter(&sys, &plan).expect("enter");
        let calls = sys.calls();
        assert_eq!(calls[0], Call::KeepOnlySetidCaps);
        for probe in [Call::SetResUid(0, 0, 0), Call::SetResUid(33, 33, 33)] {
            assert!(calls.contains(&probe), "{probe:?} not probed");
        }
        let s = sys.state.borrow();
        assert_eq!((s.uid, s.caps), ((1000, 1000, 1000), 0));
    }

    #[test]
    fn early_drop_refuses_root_and_fails_closed() {
        let sys = Recording::new(State::root());
        let root = UnixIdentity { uid: 0, ..server() };
        assert!(matches!(
            early_drop(&sys, &root),
            Err(SandboxError::RootTarget { .. })
        ));
        assert!(sys.calls().is_empty());
        for i in 0..10 {
            let mut sys = Recording::new(State::root());
            sys.fail_at = Some((i, libc::EPERM));
            assert!(early_drop(&sys, &server()).is_err(), "call {i}");
            assert_eq!(sys.calls().len(), i + 1);
        }
        let mut sys = Recording::new(State::root());
        sys.ignore = vec!["keep_only_setid_caps"];
        // Without KEEPCAPS the uid change empties the permitted set, so raising the two
        // capabilities again is refused.
        let err = early_drop(&sys, &server()).expect_err("keepcaps not set");
        assert!(
            matches!(
                err,
                SandboxError::Failed {
                    step: Step::KeepSetidCaps,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(sys.state.borrow().caps, 0);
    }
}
