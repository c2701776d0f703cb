//! Stage "confine": the irreversible transition of a child into the security context chosen for
//! its request, between authorisation and the handler.
//!
//! Invariants:
//! - Every step goes through [`Sys`]; this module has no `unsafe` and no raw syscalls.
//! - The plan is validated (pure) before the first irreversible step, so a bad plan changes
//!   nothing. uid 0 / gid 0 are never targets; an empty plan is refused (fail closed: an
//!   unconfined child never serves).
//! - Each step is verified by reading the state back right after it is made; any failure or
//!   mismatch is an `Err`, after which the caller answers 500/403 and exits.
//! - [`Confined`] can only be built by [`enter`] after all steps succeeded, so handlers that take
//!   `&Confined` cannot run in an unconfined process.
#![forbid(unsafe_code)]

mod early;
pub mod forked;
mod isolate;
mod landlock;
pub mod seccomp;
mod selinux;
mod startup;
pub mod system_paths;
mod unix;

use std::fmt;
use std::io;
use std::os::fd::RawFd;

use crate::sys::Sys;
pub use crate::sys::{LandlockEnforcement, LandlockRules, Resource, SelinuxState};
pub use early::early_drop;
pub use isolate::{
    isolate, not_dumpable, own_user_ns, programs_in_pid_ns, record_isolation, IsolationPlan,
    ProgramIsolation,
};
pub use landlock::MIN_LANDLOCK_ABI;
pub use seccomp::{SeccompPolicy, SeccompRelax};
pub use selinux::check_context;
pub use startup::{check_required, Available, Backend, StartupError, LANDLOCK_SCOPE_ABI};

/// The unix identity a child takes, as resolved from the config (names already turned into ids).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnixIdentity {
    pub uid: u32,
    pub gid: u32,
    /// The exact supplementary group list; nothing is added implicitly.
    pub groups: Vec<u32>,
}

/// Everything `enter` does for one request, resolved by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Full raw target context (`user:role:type[:range]`).
    pub selinux: Option<String>,
    pub unix: Option<UnixIdentity>,
    pub landlock: Option<LandlockRules>,
    /// Descriptors that survive (connection, log); all others are closed.
    pub keep_fds: Vec<RawFd>,
    pub nice: Option<i32>,
    /// Each limit is set as both soft and hard limit.
    pub rlimits: Vec<(Resource, u64)>,
    /// The seccomp filter installed last (`None` only in tests of the other steps).
    pub seccomp: Option<SeccompPolicy>,
}

/// Proof that confinement happened. Only [`enter`] constructs it (private field, no Clone, no
/// Default).
#[derive(Debug)]
pub struct Confined {
    description: String,
    /// The plan entered, without its descriptor list (which does not define an identity).
    entered: Plan,
}

impl Confined {
    /// Whether a request admitted into `plan` may be served by this process: every part of
    /// the identity (SELinux context, ids and groups, Landlock rules, nice, limits) is the one
    /// entered. Anything else needs a fresh process (invariant I2).
    pub fn serves(&self, plan: &Plan) -> bool {
        self.entered.selinux == plan.selinux
            && self.entered.unix == plan.unix
            && self.entered.landlock == plan.landlock
            && self.entered.nice == plan.nice
            && self.entered.rlimits == plan.rlimits
            && self.entered.seccomp == plan.seccomp
    }

    /// For the access log's `ctx=`: the SELinux context if one was entered, else `uid:gid`,
    /// else `landlock`.
    pub fn describe(&self) -> &str {
        &self.description
    }
}

/// One step of the transition, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    CloseFds,
    Nice(i32),
    Rlimit(Resource, u64),
    Setcon(String),
    Setgroups(Vec<u32>),
    Setresgid(u32),
    Setresuid(u32),
    DropCaps,
    KeepSetidCaps,
    NoNewPrivs,
    Landlock,
    CapCheck,
    NotDumpable,
    SessionKeyring,
    Unshare(Vec<crate::sys::Namespace>),
    IdMaps(u32, u32),
    MountsPrivate,
    Tmpfs(std::path::PathBuf),
    Seccomp,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::CloseFds => write!(f, "closing inherited descriptors"),
            Step::Nice(n) => write!(f, "setting nice value {n}"),
            Step::Rlimit(r, v) => write!(f, "setting {r:?} to {v}"),
            Step::Setcon(c) => write!(f, "SELinux setcon to `{c}`"),
            Step::Setgroups(g) => write!(f, "setgroups({g:?})"),
            Step::Setresgid(g) => write!(f, "setresgid({g}, {g}, {g})"),
            Step::Setresuid(u) => write!(f, "setresuid({u}, {u}, {u})"),
            Step::DropCaps => write!(f, "dropping all capabilities"),
            Step::KeepSetidCaps => write!(f, "reducing capabilities to CAP_SETUID|CAP_SETGID"),
            Step::NoNewPrivs => write!(f, "setting no_new_privs"),
            Step::Landlock => write!(f, "Landlock restrict_self"),
            Step::CapCheck => write!(f, "checking the effective capability set"),
            Step::NotDumpable => write!(f, "PR_SET_DUMPABLE 0"),
            Step::SessionKeyring => write!(f, "joining a new anonymous session keyring"),
            Step::Unshare(ns) => {
                let names: Vec<&str> = ns.iter().map(|n| n.proc_name()).collect();
                write!(f, "unshare({})", names.join("|"))
            }
            Step::IdMaps(u, g) => write!(f, "mapping uid {u} and gid {g} in the user namespace"),
            Step::MountsPrivate => write!(f, "making mount propagation private"),
            Step::Tmpfs(p) => write!(f, "mounting a private tmpfs on {}", p.display()),
            Step::Seccomp => write!(f, "installing the seccomp filter"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("refusing to serve unconfined: the plan names no SELinux context, no unix identity and no Landlock rules")]
    EmptyPlan,
    #[error("refusing {what} 0 as confinement target: root is never a target")]
    RootTarget { what: &'static str },
    #[error("invalid SELinux context `{context}`: {why}")]
    BadContext { context: String, why: String },
    #[error("invalid Landlock path `{path}`: {why}")]
    BadPath { path: String, why: &'static str },
    #[error("{step} failed: {source}")]
    Failed { step: Step, source: io::Error },
    #[error("{step} did not take effect: expected {expected}, the kernel reports {found}")]
    Mismatch {
        step: Step,
        expected: String,
        found: String,
    },
    #[error("after {step}, {probe} still succeeded: the change is reversible, aborting the child")]
    Reversible { step: Step, probe: String },
    #[error(
        "Landlock ruleset was enforced {enforcement:?} (ABI {abi}); full enforcement is required"
    )]
    NotEnforced {
        enforcement: LandlockEnforcement,
        abi: u32,
    },
    #[error("capabilities remain after switching to uid {uid}: CapEff={capeff:#x}, expected 0")]
    CapsRemain { uid: u32, capeff: u64 },
    #[error("cannot build the seccomp filter: {0}")]
    SeccompBuild(String),
}

/// Attaches `step` to an I/O error.
pub(crate) fn failed(step: Step) -> impl FnOnce(io::Error) -> SandboxError {
    move |source| SandboxError::Failed { step, source }
}

/// Enters the confinement described by `plan`. On `Err` the process may be half-confined and
/// must not serve anything: the caller answers with an error status and exits.
pub fn enter(sys: &impl Sys, plan: &Plan) -> Result<Confined, SandboxError> {
    validate(plan)?;
    // 1. Descriptors first: nothing opened by the privileged master (listeners, verifier
    //    socket, config files) may survive into the confined process, whatever it becomes.
    close_fds(sys, &plan.keep_fds)?;
    // 1b. Priority and limits while the process may still change them: the target SELinux
    //     domain and uid are not expected to hold setsched/setrlimit/CAP_SYS_RESOURCE.
    apply_limits(sys, plan)?;
    // 2. setcon while still in the worker domain, which alone holds `setcurrent` and
    //    `dyntransition`. It precedes the unix switch so that switch and its way-back probes
    //    run under the final MAC domain, i.e. they test the final combination. Cost: with both
    //    backends configured, the target domain needs `self:capability { setuid setgid }`.
    if let Some(context) = &plan.selinux {
        selinux::enter(sys, context)?;
    }
    // 3. Unix identity after SELinux, before no_new_privs and Landlock (neither blocks set*id,
    //    but Landlock without CAP_SYS_ADMIN needs no_new_privs, which we set after).
    if let Some(id) = &plan.unix {
        unix::enter(sys, id)?;
    }
    // 3b. Not dumpable again: the identity switch reset it (and a plan without one re-asserts
    //     what `isolate` set). Nothing of this uid may ptrace or read this process's memory.
    isolate::not_dumpable(sys)?;
    // 4. no_new_privs: later execs (CGI) can never gain privileges via setuid bits or file
    //    capabilities; also the precondition of an unprivileged Landlock restrict_self.
    set_no_new_privs(sys)?;
    // 5. Landlock last among the restrictions: a ruleset that handles file writes without
    //    allowing /proc would otherwise block step 2's write to /proc/self/attr/current.
    if let Some(rules) = &plan.landlock {
        landlock::enter(sys, rules)?;
    }
    // 6. Checked last, so no earlier step can have re-added a capability after the check.
    if let Some(id) = &plan.unix {
        check_no_caps(sys, id.uid)?;
    }
    // 7. seccomp last: it refuses calls (keyctl, unshare, prlimit on others) that no earlier
    //    step needs, and is inherited by every program this process runs.
    if let Some(policy) = &plan.seccomp {
        install_seccomp(sys, policy)?;
    }
    Ok(Confined {
        description: describe(plan),
        entered: Plan {
            keep_fds: Vec::new(),
            ..plan.clone()
        },
    })
}

fn validate(plan: &Plan) -> Result<(), SandboxError> {
    if plan.selinux.is_none() && plan.unix.is_none() && plan.landlock.is_none() {
        return Err(SandboxError::EmptyPlan);
    }
    if let Some(context) = &plan.selinux {
        selinux::validate(context)?;
    }
    if let Some(id) = &plan.unix {
        unix::validate(id)?;
    }
    if let Some(rules) = &plan.landlock {
        landlock::validate(rules)?;
    }
    Ok(())
}

pub fn describe(plan: &Plan) -> String {
    match (&plan.selinux, &plan.unix) {
        (Some(context), _) => context.clone(),
        (None, Some(id)) => format!("{}:{}", id.uid, id.gid),
        (None, None) => "landlock".to_string(),
    }
}

fn close_fds(sys: &impl Sys, keep: &[RawFd]) -> Result<(), SandboxError> {
    sys.close_fds_except(keep).map_err(failed(Step::CloseFds))?;
    let open = sys.open_fds().map_err(failed(Step::CloseFds))?;
    // 0-2 are allowed to remain: the sys layer points unkept ones at /dev/null.
    let stray: Vec<RawFd> = open
        .into_iter()
        .filter(|fd| !keep.contains(fd) && !(0..=2).contains(fd))
        .collect();
    if stray.is_empty() {
        return Ok(());
    }
    Err(SandboxError::Mismatch {
        step: Step::CloseFds,
        expected: format!("only {keep:?} and 0-2 open"),
        found: format!("{stray:?} still open"),
    })
}

fn apply_limits(sys: &impl Sys, plan: &Plan) -> Result<(), SandboxError> {
    if let Some(nice) = plan.nice {
        let step = Step::Nice(nice);
        sys.setpriority(nice).map_err(failed(step.clone()))?;
        let found = sys.getpriority().map_err(failed(step.clone()))?;
        expect_eq(step, nice, found)?;
    }
    for &(resource, limit) in &plan.rlimits {
        let step = Step::Rlimit(resource, limit);
        sys.setrlimit(resource, limit)
            .map_err(failed(step.clone()))?;
        let found = sys.getrlimit(resource).map_err(failed(step.clone()))?;
        expect_eq(step, (limit, limit), found)?;
    }
    Ok(())
}

fn set_no_new_privs(sys: &impl Sys) -> Result<(), SandboxError> {
    sys.set_no_new_privs().map_err(failed(Step::NoNewPrivs))?;
    let on = sys.no_new_privs().map_err(failed(Step::NoNewPrivs))?;
    expect_eq(Step::NoNewPrivs, true, on)
}

fn install_seccomp(sys: &impl Sys, policy: &SeccompPolicy) -> Result<(), SandboxError> {
    let program = seccomp::program(policy).map_err(SandboxError::SeccompBuild)?;
    sys.seccomp_install(&program)
        .map_err(failed(Step::Seccomp))?;
    let mode = sys.seccomp_mode().map_err(failed(Step::Seccomp))?;
    expect_eq(Step::Seccomp, 2, mode)
}

/// Drops every capability (effective, permitted, inheritable) and reads back that none is
/// effective: for a process that keeps uid 0 (a root master's verifier without
/// `VerifierUser`). With no_new_privs set later, no exec can give them back.
pub fn drop_capabilities(sys: &impl Sys) -> Result<(), SandboxError> {
    sys.drop_all_caps().map_err(failed(Step::DropCaps))?;
    check_no_caps(sys, 0)
}

fn check_no_caps(sys: &impl Sys, uid: u32) -> Result<(), SandboxError> {
    let capeff = sys.cap_effective().map_err(failed(Step::CapCheck))?;
    if capeff != 0 {
        return Err(SandboxError::CapsRemain { uid, capeff });
    }
    Ok(())
}

pub(crate) fn expect_eq<T: PartialEq + fmt::Debug>(
    step: Step,
    expected: T,
    found: T,
) -> Result<(), SandboxError> {
    if expected == found {
        return Ok(());
    }
    Err(SandboxError::Mismatch {
        step,
        expected: format!("{expected:?}"),
        found: format!("{found:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fake::{Call, Recording, State};
    use std::path::PathBuf;

    const TARGET: &str = "system_u:system_r:user_a_t:s0:c1";

    fn id() -> UnixIdentity {
        UnixIdentity {
            uid: 54321,
            gid: 54322,
            groups: vec![54322, 65534],
        }
    }

    fn rules() -> LandlockRules {
        LandlockRules {
            read: vec![PathBuf::from("/srv/www")],
            exec: vec![PathBuf::from("/usr/lib/cgi-bin")],
            write: vec![PathBuf::from("/var/tmp/a")],
            connect_tcp: vec![443],
        }
    }

    fn full_plan() -> Plan {
        Plan {
            selinux: Some(TARGET.into()),
            unix: Some(id()),
            landlock: Some(rules()),
            keep_fds: vec![3, 4],
            nice: Some(5),
            rlimits: vec![(Resource::RLIMIT_NPROC, 10)],
            seccomp: Some(SeccompPolicy::default()),
        }
    }

    fn filter_len() -> usize {
        seccomp::program(&SeccompPolicy::default()).unwrap().len()
    }

    fn root() -> Recording {
        Recording::new(State::root())
    }

    fn full_trace() -> Vec<Call> {
        use Call::*;
        vec![
            CloseFdsExcept(vec![3, 4]),
            OpenFds,
            SetPriority(5),
            GetPriority,
            SetRlimit(Resource::RLIMIT_NPROC, 10),
            GetRlimit(Resource::RLIMIT_NPROC),
            SetCon(TARGET.into()),
            GetCon,
            GetResUid,
            GetResGid,
            SetGroups(vec![54322, 65534]),
            SetResGid(54322, 54322, 54322),
            SetResUid(54321, 54321, 54321),
            DropAllCaps,
            GetResUid,
            GetResGid,
            GetGroups,
            SetResGid(0, 0, 0),
            SetResUid(0, 0, 0),
            GetResUid,
            GetResGid,
            GetGroups,
            SetDumpable(false),
            Dumpable,
            SetNoNewPrivs,
            NoNewPrivs,
            LandlockRestrict(rules()),
            CapEffective,
            SeccompInstall(filter_len()),
            SeccompMode,
        ]
    }

    /// Indices of the way-back probes, which are expected to fail.
    fn is_probe(i: usize) -> bool {
        i == 17 || i == 18
    }

    #[test]
    fn full_plan_exact_order() {
        let sys = root();
        let confined = enter(&sys, &full_plan()).expect("enter");
        assert_eq!(sys.calls(), full_trace());
        assert_eq!(confined.describe(), TARGET);
        let s = sys.state.borrow();
        assert_eq!(
            (s.uid, s.gid, s.caps, s.nnp, s.dumpable),
            ((54321, 54321, 54321), (54322, 54322, 54322), 0, true, false)
        );
        assert_eq!(s.seccomp, (2, filter_len()));
        assert_eq!(s.fds, vec![3, 4, 0, 1, 2]);
    }

    #[test]
    fn each_plan_shape_runs_only_its_steps() {
        let shapes: Vec<(Plan, Vec<&str>, &str)> = vec![
            (
                Plan {
                    selinux: Some(TARGET.into()),
                    ..Plan::default()
                },
                vec![
                    "close_fds_except",
                    "open_fds",
                    "selinux_setcon",
                    "selinux_getcon",
                    "set_dumpable",
                    "dumpable",
                    "set_no_new_privs",
                    "no_new_privs",
                ],
                TARGET,
            ),
            (
                Plan {
                    landlock: Some(rules()),
                    keep_fds: vec![5],
                    ..Plan::default()
                },
                vec![
                    "close_fds_except",
                    "open_fds",
                    "set_dumpable",
                    "dumpable",
                    "set_no_new_privs",
                    "no_new_privs",
                    "landlock_restrict",
                ],
                "landlock",
            ),
            (
                Plan {
                    unix: Some(id()),
                    ..Plan::default()
                },
                full_trace()[8..22]
                    .iter()
                    .map(Call::name)
                    .chain([
                        "set_dumpable",
                        "dumpable",
                        "set_no_new_privs",
                        "no_new_privs",
                        "cap_effective",
                    ])
                    .collect(),
                "54321:54322",
            ),
        ];
        for (plan, mut want, described) in shapes {
            if plan.unix.is_some() {
                want.splice(0..0, ["close_fds_except", "open_fds"]);
            }
            let sys = root();
            let confined = enter(&sys, &plan).expect("enter");
            let names: Vec<&str> = sys.calls().iter().map(Call::name).collect();
            assert_eq!(names, want, "plan {plan:?}");
            assert_eq!(confined.describe(), described);
        }
    }

    #[test]
    fn failure_at_every_call_stops_everything_after_it() {
        let n = full_trace().len();
        for i in 0..n {
            let mut sys = root();
            sys.fail_at = Some((i, libc::EIO));
            let result = enter(&sys, &full_plan());
            if is_probe(i) {
                // A failing way back is the expected outcome, so enter goes on.
                assert!(result.is_ok(), "probe {i}: {result:?}");
                assert_eq!(sys.calls(), full_trace());
                continue;
            }
            let err = result.expect_err(&format!("call {i} failed but enter succeeded"));
            assert!(
                matches!(err, SandboxError::Failed { .. }),
                "call {i}: {err}"
            );
            assert_eq!(sys.calls(), full_trace()[..=i].to_vec(), "call {i}");
        }
    }

    #[test]
    fn set_that_silently_does_nothing_is_caught() {
        let setters = [
            "close_fds_except",
            "setpriority",
            "setrlimit",
            "selinux_setcon",
            "setgroups",
            "setresgid",
            "setresuid",
            "set_dumpable",
            "set_no_new_privs",
            "seccomp_install",
        ];
        for name in setters {
            let mut sys = root();
            sys.ignore = vec![name];
            let err = enter(&sys, &full_plan()).expect_err(name);
            assert!(
                matches!(err, SandboxError::Mismatch { .. }),
                "{name}: {err}"
            );
            let calls = sys.calls();
            // Nothing after the failed step ran (seccomp is the last one).
            let after = if name == "seccomp_install" {
                Call::SeccompInstall(usize::MAX)
            } else {
                Call::LandlockRestrict(rules())
            };
            assert!(!calls.contains(&after), "{name}: {calls:?}");
        }
    }

    #[test]
    fn root_targets_are_refused_before_any_call() {
        let bad = [
            UnixIdentity { uid: 0, ..id() },
            UnixIdentity { gid: 0, ..id() },
            UnixIdentity {
                groups: vec![5, 0],
                ..id()
            },
        ];
        for identity in bad {
            let sys = root();
            let plan = Plan {
                unix: Some(identity.clone()),
                ..full_plan()
            };
            let err = enter(&sys, &plan).expect_err("root target");
            assert!(
                matches!(err, SandboxError::RootTarget { .. }),
                "{identity:?}: {err}"
            );
            assert!(sys.calls().is_empty());
        }
    }

    #[test]
    fn invalid_plans_are_refused_before_any_call() {
        let plans = [
            Plan::default(),
            Plan {
                selinux: Some("user_u:user_r".into()),
                ..full_plan()
            },
            Plan {
                landlock: Some(LandlockRules {
                    write: vec![PathBuf::from("tmp")],
                    ..rules()
                }),
                ..full_plan()
            },
        ];
        for plan in plans {
            let sys = root();
            assert!(enter(&sys, &plan).is_err(), "{plan:?}");
            assert!(sys.calls().is_empty(), "{plan:?}");
        }
    }

    #[test]
    fn working_way_back_to_root_aborts() {
        let mut sys = root();
        sys.root_returns = true;
        // setresgid back still fails (no CAP_SETGID), so the uid probe is the one that trips.
        let err = enter(&sys, &full_plan()).expect_err("reversible");
        match err {
            SandboxError::Reversible { probe, .. } => assert_eq!(probe, "setresuid(0, 0, 0)"),
            other => panic!("unexpected {other}"),
        }
        assert!(!sys.calls().contains(&Call::SetNoNewPrivs));
    }

    #[test]
    fn early_dropped_master_probes_previous_ids_and_drops_kept_caps() {
        let setid = (1 << 6) | (1 << 7);
        let state = State {
            uid: (33, 33, 33),
            gid: (33, 33, 33),
            caps: setid,
            ..State::root()
        };
        let plan = Plan {
            unix: Some(id()),
            ..Plan::default()
        };
        let sys = Recording::new(state.clone());
        enter(&sys, &plan).expect("enter");
        let calls = sys.calls();
        for probe in [
            Call::SetResGid(33, 33, 33),
            Call::SetResUid(0, 0, 0),
            Call::SetResUid(33, 33, 33),
        ] {
            assert!(calls.contains(&probe), "{probe:?} missing in {calls:?}");
        }
        // Without the explicit drop, CAP_SETUID survives and the way back opens.
        let mut sys = Recording::new(state);
        sys.ignore = vec!["drop_all_caps"];
        let err = enter(&sys, &plan).expect_err("caps kept");
        assert!(matches!(err, SandboxError::Reversible { .. }), "{err}");
    }

    #[test]
    fn remaining_capabilities_fail_step_six() {
        let sys = Recording::new(State {
            caps: 1 << 10,
            ..State::root()
        });
        let err = check_no_caps(&sys, 1000).expect_err("caps");
        assert!(
            matches!(
                err,
                SandboxError::CapsRemain {
                    capeff: 0x400,
                    uid: 1000
                }
            ),
            "{err}"
        );
        let sys = Recording::new(State {
            caps: 0,
            ..State::root()
        });
        assert!(check_no_caps(&sys, 1000).is_ok());
    }

    #[test]
    fn landlock_short_of_full_enforcement_fails() {
        for enforcement in [LandlockEnforcement::Partial, LandlockEnforcement::None] {
            let mut sys = root();
            sys.enforcement = enforcement;
            let err = enter(&sys, &full_plan()).expect_err("not enforced");
            assert!(
                matches!(err, SandboxError::NotEnforced { abi: 6, .. }),
                "{err}"
            );
        }
    }

    #[test]
    fn stray_descriptor_fails_step_one() {
        let mut sys = root();
        sys.ignore = vec!["close_fds_except"];
        let err = enter(&sys, &full_plan()).expect_err("stray");
        assert!(err.to_string().contains("[7] still open"), "{err}");
    }
}
