//! Isolation of a pristine child, right after accept and before it reads a byte: whatever the
//! connection's identity will be, nothing it does may reach another connection's state.
//!
//! Steps, each read back:
//! 1. its own anonymous **session keyring** (the master's, e.g. systemd's, is left);
//! 2. new **namespaces** in one `unshare`: IPC (SysV objects and POSIX queues die with the
//!    connection), and where programs can run, mount (private tmpfs) and PID (for the
//!    programs: the first process the child forks is that namespace's init, and when it dies
//!    the kernel kills everything left in it). Without CAP_SYS_ADMIN (an unprivileged master)
//!    a user namespace comes first, mapping only the child's own uid and gid to themselves;
//! 3. mount propagation private, then a size-limited tmpfs on each of `/tmp`, `/var/tmp`,
//!    `/dev/shm` that exists;
//! 4. in a user namespace, every capability it gave is dropped again;
//! 5. **not dumpable**, last, because every credential change above resets it (and a
//!    non-dumpable process could not write its own uid_map). `enter` sets it again after the
//!    identity switch.
//!
//! Invariants: the plan is pure data chosen by the caller (which paths exist, whether the
//! master holds CAP_SYS_ADMIN); this module makes no decision the plan did not state.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{expect_eq, failed, SandboxError, Step};
use crate::sys::{Namespace, Sys, TMPFS_MAGIC};

/// What `isolate` does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IsolationPlan {
    /// New IPC namespace (and the others below). Off only with `Namespaces Off`.
    pub namespaces: bool,
    /// Where programs can run: mount + PID namespaces and these private tmpfs mounts.
    pub programs: Option<ProgramIsolation>,
    /// The master lacks CAP_SYS_ADMIN: a user namespace mapping this (uid, gid) to itself.
    pub user_ns: Option<(u32, u32)>,
    /// The namespaces the calling process is in before `unshare`, read once by the master
    /// before it forked (a forked child is in exactly its parent's namespaces), so a child does
    /// not read them again per connection. A namespace missing here is read by `isolate` itself.
    pub ns_before: Vec<(Namespace, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramIsolation {
    /// Existing directories to cover with a fresh tmpfs.
    pub tmpfs: Vec<PathBuf>,
    /// Size limit of each tmpfs, in bytes.
    pub tmpfs_size: u64,
}

/// Set when this child's programs run in their own PID namespace; read by the CGI spawner.
static PROGRAMS_IN_PID_NS: AtomicBool = AtomicBool::new(false);
/// Set when this child is in its own user namespace (RLIMIT_NPROC is then per connection).
static OWN_USER_NS: AtomicBool = AtomicBool::new(false);

pub fn programs_in_pid_ns() -> bool {
    PROGRAMS_IN_PID_NS.load(Ordering::Relaxed)
}

pub fn own_user_ns() -> bool {
    OWN_USER_NS.load(Ordering::Relaxed)
}

/// Records what [`isolate`] gave this process, for what runs in it later (the CGI spawner:
/// PID namespace, RLIMIT_NPROC). Called by the child once its isolation succeeded.
pub fn record_isolation(plan: &IsolationPlan) {
    PROGRAMS_IN_PID_NS.store(plan.programs.is_some(), Ordering::Relaxed);
    OWN_USER_NS.store(plan.user_ns.is_some(), Ordering::Relaxed);
}

/// Applies `plan` to the calling process.
pub fn isolate(sys: &impl Sys, plan: &IsolationPlan) -> Result<(), SandboxError> {
    join_own_keyring(sys)?;
    if plan.namespaces {
        unshare(sys, plan)?;
        if let Some(p) = &plan.programs {
            private_tmp(sys, p)?;
        }
        if plan.user_ns.is_some() {
            sys.drop_all_caps().map_err(failed(Step::DropCaps))?;
            let capeff = sys.cap_effective().map_err(failed(Step::DropCaps))?;
            expect_eq(Step::DropCaps, 0, capeff)?;
        }
    }
    not_dumpable(sys)
}

/// Sets and reads back "not dumpable": no ptrace, process_vm_*, /proc/PID/mem or core dump of
/// this process by anything of its uid that lacks CAP_SYS_PTRACE.
pub fn not_dumpable(sys: &impl Sys) -> Result<(), SandboxError> {
    sys.set_dumpable(false).map_err(failed(Step::NotDumpable))?;
    let on = sys.dumpable().map_err(failed(Step::NotDumpable))?;
    expect_eq(Step::NotDumpable, false, on)
}

fn join_own_keyring(sys: &impl Sys) -> Result<(), SandboxError> {
    let step = || Step::SessionKeyring;
    // The inherited session keyring may not be visible at all (none installed and the policy
    // lets this domain neither create one nor search the user's: ENOKEY/EACCES); the check
    // below then only needs the joined one to be current.
    let before = sys.session_keyring().ok();
    let joined = sys.join_session_keyring().map_err(failed(step()))?;
    let now = sys.session_keyring().map_err(failed(step()))?;
    if before == Some(joined) || now != joined {
        return Err(SandboxError::Mismatch {
            step: step(),
            expected: format!(
                "a new session keyring (not {})",
                before.map_or("-".to_string(), |b| b.to_string())
            ),
            found: format!("joined {joined}, current {now}"),
        });
    }
    Ok(())
}

fn namespaces(plan: &IsolationPlan) -> Vec<Namespace> {
    let mut ns = Vec::new();
    if plan.user_ns.is_some() {
        ns.push(Namespace::User);
    }
    ns.push(Namespace::Ipc);
    if plan.programs.is_some() {
        ns.extend([Namespace::Mount, Namespace::PidForChildren]);
    }
    ns
}

fn unshare(sys: &impl Sys, plan: &IsolationPlan) -> Result<(), SandboxError> {
    let wanted = namespaces(plan);
    let step = || Step::Unshare(wanted.clone());
    let before = wanted
        .iter()
        .map(|&n| match plan.ns_before.iter().find(|(m, _)| *m == n) {
            Some(&(_, id)) => Ok(id),
            None => sys.namespace_id(n),
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(failed(step()))?;
    sys.unshare(&wanted).map_err(failed(step()))?;
    if let Some((uid, gid)) = plan.user_ns {
        sys.write_id_maps(uid, gid)
            .map_err(failed(Step::IdMaps(uid, gid)))?;
        let uids = sys.getresuid().map_err(failed(Step::IdMaps(uid, gid)))?;
        expect_eq(Step::IdMaps(uid, gid), (uid, uid, uid), uids)?;
    }
    for (&n, old) in wanted.iter().zip(before) {
        let now = sys.namespace_id(n).map_err(failed(step()))?;
        if now == old {
            return Err(SandboxError::Mismatch {
                step: step(),
                expected: format!("a new {} namespace", n.proc_name()),
                found: format!("still {old}"),
            });
        }
    }
    Ok(())
}

fn private_tmp(sys: &impl Sys, p: &ProgramIsolation) -> Result<(), SandboxError> {
    sys.make_mounts_private()
        .map_err(failed(Step::MountsPrivate))?;
    let shared = sys
        .any_mount_shared()
        .map_err(failed(Step::MountsPrivate))?;
    expect_eq(Step::MountsPrivate, false, shared)?;
    for path in &p.tmpfs {
        let step = || Step::Tmpfs(path.clone());
        let before = sys.mount_id(path).map_err(failed(step()))?;
        sys.mount_tmpfs(path, p.tmpfs_size)
            .map_err(failed(step()))?;
        let after = sys.mount_id(path).map_err(failed(step()))?;
        if after.fs_type != TMPFS_MAGIC || after.dev == before.dev {
            return Err(SandboxError::Mismatch {
                step: step(),
                expected: format!("a new tmpfs (not device {})", before.dev),
                found: format!("fs type {:#x} on device {}", after.fs_type, after.dev),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fake::{Call, Recording, State};

    fn programs() -> ProgramIsolation {
        ProgramIsolation {
            tmpfs: vec![PathBuf::from("/tmp"), PathBuf::from("/dev/shm")],
            tmpfs_size: 1 << 20,
        }
    }

    fn root_plan() -> IsolationPlan {
        IsolationPlan {
            namespaces: true,
            programs: Some(programs()),
            user_ns: None,
            ns_before: Vec::new(),
        }
    }

    /// As a child of the master gets it: the ids of the namespaces it was forked in.
    fn forked_plan(s: &State) -> IsolationPlan {
        IsolationPlan {
            ns_before: s.namespaces.clone(),
            ..root_plan()
        }
    }

    /// `root_trace` without the reads of the old namespace ids.
    fn forked_trace() -> Vec<Call> {
        let mut t = root_trace();
        let first = t
            .iter()
            .position(|c| matches!(c, Call::NamespaceId(_)))
            .unwrap();
        t.drain(first..first + 3);
        t
    }

    fn unprivileged_plan() -> IsolationPlan {
        IsolationPlan {
            user_ns: Some((1000, 1001)),
            ..root_plan()
        }
    }

    fn unprivileged() -> State {
        State {
            uid: (1000, 1000, 1000),
            gid: (1001, 1001, 1001),
            caps: 0,
            permitted: 0,
            ..State::root()
        }
    }

    fn root_trace() -> Vec<Call> {
        use Call::*;
        use Namespace::*;
        let ns = vec![Ipc, Mount, PidForChildren];
        vec![
            SessionKeyring,
            JoinSessionKeyring,
            SessionKeyring,
            NamespaceId(Ipc),
            NamespaceId(Mount),
            NamespaceId(PidForChildren),
            Unshare(ns),
            NamespaceId(Ipc),
            NamespaceId(Mount),
            NamespaceId(PidForChildren),
            MakeMountsPrivate,
            AnyMountShared,
            MountId("/tmp".into()),
            MountTmpfs("/tmp".into(), 1 << 20),
            MountId("/tmp".into()),
            MountId("/dev/shm".into()),
            MountTmpfs("/dev/shm".into(), 1 << 20),
            MountId("/dev/shm".into()),
            SetDumpable(false),
            Dumpable,
        ]
    }

    #[test]
    fn root_child_exact_order() {
        let sys = Recording::new(State::root());
        isolate(&sys, &root_plan()).expect("isolate");
        assert_eq!(sys.calls(), root_trace());
        let s = sys.state.borrow();
        assert!(!s.dumpable && !s.mounts_shared);
        assert_eq!(s.session_keyring, 101);
        assert_eq!(s.tmpfs.len(), 2);
    }

    #[test]
    fn forked_child_compares_with_the_masters_ids_and_reads_only_the_new_ones() {
        let sys = Recording::new(State::root());
        let plan = forked_plan(&sys.state.borrow());
        isolate(&sys, &plan).expect("isolate");
        assert_eq!(sys.calls(), forked_trace());
        // The comparison is with the given ids: an unshare that changes nothing is caught...
        let mut sys = Recording::new(State::root());
        sys.ignore = vec!["unshare"];
        let plan = forked_plan(&sys.state.borrow());
        let err = isolate(&sys, &plan).expect_err("silent unshare");
        assert!(matches!(err, SandboxError::Mismatch { .. }), "{err}");
        // ...and so is one whose result equals the given id of one namespace.
        let sys = Recording::new(State::root());
        let mut plan = forked_plan(&sys.state.borrow());
        for (n, id) in plan.ns_before.iter_mut() {
            if *n == Namespace::Mount {
                *id += 1000; // what the fake's unshare makes of it
            }
        }
        let err = isolate(&sys, &plan).expect_err("same mount namespace");
        assert!(
            matches!(&err, SandboxError::Mismatch { expected, .. } if expected.contains("mnt")),
            "{err}"
        );
        // A namespace the plan does not name is read before the unshare, as without ids.
        let sys = Recording::new(State::root());
        let mut plan = forked_plan(&sys.state.borrow());
        plan.ns_before.retain(|(n, _)| *n != Namespace::Ipc);
        isolate(&sys, &plan).expect("isolate");
        let calls = sys.calls();
        let unshare = calls
            .iter()
            .position(|c| matches!(c, Call::Unshare(_)))
            .unwrap();
        assert_eq!(calls[unshare - 1], Call::NamespaceId(Namespace::Ipc));
        // Failure at every call of the forked trace stops everything after it.
        for i in 1..forked_trace().len() {
            let mut sys = Recording::new(State::root());
            sys.fail_at = Some((i, libc::EIO));
            let plan = forked_plan(&sys.state.borrow());
            let err = isolate(&sys, &plan).expect_err(&format!("call {i}"));
            assert!(
                matches!(err, SandboxError::Failed { .. }),
                "call {i}: {err}"
            );
            assert_eq!(sys.calls(), forked_trace()[..=i].to_vec(), "call {i}");
        }
    }

    #[test]
    fn unprivileged_child_maps_itself_and_drops_the_namespace_caps() {
        let sys = Recording::new(unprivileged());
        isolate(&sys, &unprivileged_plan()).expect("isolate");
        let calls = sys.calls();
        let unshare = calls.iter().position(|c| matches!(c, Call::Unshare(_)));
        assert_eq!(
            calls[unshare.unwrap()],
            Call::Unshare(vec![
                Namespace::User,
                Namespace::Ipc,
                Namespace::Mount,
                Namespace::PidForChildren
            ])
        );
        assert_eq!(calls[unshare.unwrap() + 1], Call::WriteIdMaps(1000, 1001));
        let s = sys.state.borrow();
        assert_eq!((s.caps, s.permitted, s.dumpable), (0, 0, false));
        // Dumpable comes last: the user namespace's credentials reset it.
        assert_eq!(calls[calls.len() - 2], Call::SetDumpable(false));
    }

    #[test]
    fn without_user_namespace_an_unprivileged_child_fails_closed() {
        let sys = Recording::new(unprivileged());
        let err = isolate(&sys, &root_plan()).expect_err("needs CAP_SYS_ADMIN");
        assert!(
            matches!(
                err,
                SandboxError::Failed {
                    step: Step::Unshare(_),
                    ..
                }
            ),
            "{err}"
        );
        assert!(sys.state.borrow().dumpable);
    }

    #[test]
    fn plain_vhosts_get_ipc_only_and_off_means_keyring_and_dumpable_only() {
        let sys = Recording::new(State::root());
        let plan = IsolationPlan {
            programs: None,
            ..root_plan()
        };
        isolate(&sys, &plan).expect("isolate");
        assert!(sys.calls().contains(&Call::Unshare(vec![Namespace::Ipc])));
        assert!(!sys.calls().contains(&Call::MakeMountsPrivate));
        let sys = Recording::new(State::root());
        isolate(&sys, &IsolationPlan::default()).expect("isolate");
        let names: Vec<&str> = sys.calls().iter().map(Call::name).collect();
        assert_eq!(
            names,
            [
                "session_keyring",
                "join_session_keyring",
                "session_keyring",
                "set_dumpable",
                "dumpable"
            ]
        );
    }

    #[test]
    fn failure_at_every_call_stops_everything_after_it() {
        let n = root_trace().len();
        // Call 0 only reads the inherited session keyring, which may be invisible (no keyring
        // installed, or a policy that hides it): isolation goes on and checks the joined one.
        let mut sys = Recording::new(State::root());
        sys.fail_at = Some((0, libc::ENOKEY));
        isolate(&sys, &root_plan()).expect("an invisible inherited keyring is not an error");
        for i in 1..n {
            let mut sys = Recording::new(State::root());
            sys.fail_at = Some((i, libc::EIO));
            let err = isolate(&sys, &root_plan()).expect_err(&format!("call {i}"));
            assert!(
                matches!(err, SandboxError::Failed { .. }),
                "call {i}: {err}"
            );
            assert_eq!(sys.calls(), root_trace()[..=i].to_vec(), "call {i}");
        }
        let n = {
            let sys = Recording::new(unprivileged());
            isolate(&sys, &unprivileged_plan()).unwrap();
            sys.calls().len()
        };
        for i in 1..n {
            let mut sys = Recording::new(unprivileged());
            sys.fail_at = Some((i, libc::EIO));
            assert!(isolate(&sys, &unprivileged_plan()).is_err(), "call {i}");
            assert_eq!(sys.calls().len(), i + 1);
        }
    }

    #[test]
    fn set_that_silently_does_nothing_is_caught() {
        for name in [
            "join_session_keyring",
            "unshare",
            "make_mounts_private",
            "mount_tmpfs",
            "set_dumpable",
        ] {
            let mut sys = Recording::new(State::root());
            sys.ignore = vec![name];
            let err = isolate(&sys, &root_plan()).expect_err(name);
            assert!(
                matches!(err, SandboxError::Mismatch { .. }),
                "{name}: {err}"
            );
        }
        for name in ["write_id_maps", "drop_all_caps"] {
            let mut sys = Recording::new(unprivileged());
            sys.ignore = vec![name];
            let r = isolate(&sys, &unprivileged_plan());
            assert!(
                matches!(r, Err(SandboxError::Mismatch { .. })),
                "{name}: {r:?}"
            );
        }
    }
}
