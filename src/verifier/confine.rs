//! Stage "confine the verifier": before it opens a password file or reads a byte from a
//! child, the verifier process confines itself like a connection child does, with the same
//! building blocks (`sandbox::isolate`, `sandbox::enter`), each step read back.
//!
//! Decisions (docs/security-model.md):
//! - Identity: under a root master, `VerifierUser`/`VerifierGroup` when given (a dedicated
//!   user, so password files can stay `0640 root:GROUP`); otherwise it keeps uid 0 with every
//!   capability dropped, so root-owned `0600`/`0640` files stay readable without any
//!   privilege. Under an unprivileged master it keeps the master's uid (nothing else is
//!   possible) and gets a user namespace for its IPC namespace, as children do.
//! - Files: Landlock (where the kernel has the ABI the server needs) read-only on exactly the
//!   directories of the password files, so a file replaced by rename (htpasswd does that) is
//!   re-read; with ABI 4 also no TCP bind or connect.
//! - Network and processes: the verifier's seccomp filter refuses every new socket, every
//!   bind/connect/listen/accept, exec and fork/clone on top of the children's rules.
//! - SELinux (`Confinement selinux`): it enters `selinuxVerifierContext` (default
//!   `oneshot_verifier_t`), which may read the password files' type, use its socketpairs and
//!   append to the log.
//! - Its own session keyring and IPC namespace, not dumpable, no_new_privs.
//! - PAM (`AuthBasicProvider pam`): uid 0 without capabilities (pam_unix reads /etc/shadow as
//!   its owner), Landlock read on /etc and the library directories and exec of pam_unix's
//!   helper only, seccomp allowing exec/fork for that helper but no socket; under SELinux the
//!   domain `oneshot_verifier_pam_t` (docs/pam.md).
//!
//! Invariant: [`plan`] is pure (every input is an argument), [`enter`] goes through `Sys`
//! only; any failed step is an `Err` and the verifier exits without serving (the master then
//! answers 503 for authentication, as when the verifier is down).
#![forbid(unsafe_code)]

use std::os::fd::RawFd;
use std::path::PathBuf;

use crate::sandbox::{
    self, Confined, IsolationPlan, LandlockRules, Plan, SandboxError, SeccompPolicy, UnixIdentity,
    MIN_LANDLOCK_ABI,
};
use crate::sys::Sys;

const CAP_SYS_ADMIN: u64 = 1 << 21;

/// What the verifier's process is and may do, resolved by the master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs {
    pub files: Vec<PathBuf>,
    /// The context to enter (`Confinement selinux`), else None.
    pub selinux: Option<String>,
    /// `VerifierUser`/`VerifierGroup`, resolved (root master only).
    pub unix: Option<UnixIdentity>,
    /// The process's ids and effective capabilities now (the master's).
    pub uid: u32,
    pub gid: u32,
    pub capeff: u64,
    pub landlock_abi: u32,
    /// `Namespaces On`.
    pub namespaces: bool,
    pub keep_fds: Vec<RawFd>,
    /// `AuthBasicProvider pam` somewhere: what PAM reads and runs (see [`pam_access`]).
    pub pam: Option<PamAccess>,
}

/// What a verifier running PAM may reach beyond its password files: PAM reads its stack
/// from /etc/pam.d, modules and their libraries from the library directories, the accounts
/// from /etc/passwd and /etc/shadow (and whatever else in /etc a module of the stack reads:
/// Landlock cannot know, so all of /etc is readable), and pam_unix runs `unix_chkpwd` when
/// SELinux is enabled. Nothing is writable; sockets stay refused (seccomp), so a module that
/// needs the network (sss, ldap, radius) answers "unavailable".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PamAccess {
    pub read: Vec<PathBuf>,
    pub exec: Vec<PathBuf>,
}

/// Directories PAM reads from, where they exist.
pub const PAM_READ: &[&str] = &["/etc", "/usr/lib", "/usr/lib64", "/lib", "/lib64"];
/// pam_unix's helper (Debian's path, and the pre-merged-/usr one).
pub const PAM_EXEC: &[&str] = &["/usr/sbin/unix_chkpwd", "/sbin/unix_chkpwd"];

/// [`PamAccess`] from [`PAM_READ`] and [`PAM_EXEC`], keeping what `exists` says exists
/// (Landlock rules need existing paths).
pub fn pam_access(exists: impl Fn(&std::path::Path) -> bool) -> PamAccess {
    let keep = |list: &[&str]| {
        list.iter()
            .map(PathBuf::from)
            .filter(|p| exists(p))
            .collect()
    };
    PamAccess {
        read: keep(PAM_READ),
        exec: keep(PAM_EXEC),
    }
}

/// Everything the verifier does to itself, in order: isolate, drop capabilities (uid 0
/// kept), then `sandbox::enter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confinement {
    pub isolation: IsolationPlan,
    pub drop_caps: bool,
    pub plan: Plan,
}

/// The directories holding `files`, sorted and without duplicates.
pub fn password_dirs(files: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.parent().map(PathBuf::from))
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

pub fn plan(i: &Inputs) -> Confinement {
    let privileged = i.capeff & CAP_SYS_ADMIN != 0;
    let landlock = (i.landlock_abi >= MIN_LANDLOCK_ABI).then(|| {
        let mut read = password_dirs(&i.files);
        let mut exec = Vec::new();
        if let Some(p) = &i.pam {
            read.extend(p.read.iter().cloned());
            exec.extend(p.exec.iter().cloned());
        }
        LandlockRules {
            read,
            exec,
            ..LandlockRules::default()
        }
    });
    let seccomp = match i.pam {
        Some(_) => SeccompPolicy::for_verifier_pam(),
        None => SeccompPolicy::for_verifier(),
    };
    Confinement {
        isolation: IsolationPlan {
            namespaces: i.namespaces,
            programs: None,
            user_ns: (i.namespaces && !privileged).then_some((i.uid, i.gid)),
            ns_before: Vec::new(),
        },
        // uid 0 without VerifierUser: every capability goes. (A user namespace already
        // dropped what it gave; the unix switch drops them itself.)
        drop_caps: i.uid == 0 && i.unix.is_none(),
        plan: Plan {
            selinux: i.selinux.clone(),
            unix: i.unix.clone(),
            landlock,
            keep_fds: i.keep_fds.clone(),
            nice: None,
            rlimits: Vec::new(),
            seccomp: Some(seccomp),
        },
    }
}

/// Confines the calling process (the forked verifier) as `c` says.
pub fn enter(sys: &impl Sys, c: &Confinement) -> Result<Confined, SandboxError> {
    sandbox::isolate(sys, &c.isolation)?;
    if c.drop_caps {
        sandbox::drop_capabilities(sys)?;
    }
    let confined = sandbox::enter(sys, &c.plan)?;
    if c.drop_caps {
        // Nothing in `enter` adds one back; checked after it all the same (I4).
        sandbox::drop_capabilities(sys)?;
    }
    Ok(confined)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fake::{Call, Recording, State, ALL_CAPS};

    fn inputs() -> Inputs {
        Inputs {
            files: vec![
                PathBuf::from("/etc/oneshot/htpasswd.a"),
                PathBuf::from("/etc/oneshot/htpasswd.b"),
                PathBuf::from("/srv/pw/users"),
            ],
            selinux: Some("system_u:system_r:oneshot_verifier_t:s0".into()),
            unix: None,
            uid: 0,
            gid: 0,
            capeff: ALL_CAPS,
            landlock_abi: 6,
            namespaces: true,
            keep_fds: vec![2, 5],
            pam: None,
        }
    }

    #[test]
    fn pam_reads_its_stack_and_runs_only_its_helper() {
        let access = pam_access(|p| p != std::path::Path::new("/lib64"));
        assert!(!access.read.contains(&PathBuf::from("/lib64")));
        let c = plan(&Inputs {
            pam: Some(access),
            ..inputs()
        });
        let rules = c.plan.landlock.expect("landlock");
        assert!(rules.read.contains(&PathBuf::from("/etc")));
        assert!(rules.read.contains(&PathBuf::from("/srv/pw")));
        assert_eq!(
            rules.exec,
            [
                PathBuf::from("/usr/sbin/unix_chkpwd"),
                PathBuf::from("/sbin/unix_chkpwd")
            ]
        );
        assert!(rules.write.is_empty() && rules.connect_tcp.is_empty());
        assert_eq!(c.plan.seccomp, Some(SeccompPolicy::for_verifier_pam()));
        // Still uid 0 without a capability.
        assert!(c.drop_caps);
    }

    #[test]
    fn landlock_reads_exactly_the_password_directories() {
        let c = plan(&inputs());
        let rules = c.plan.landlock.expect("landlock");
        assert_eq!(
            rules.read,
            [PathBuf::from("/etc/oneshot"), PathBuf::from("/srv/pw")]
        );
        assert!(rules.exec.is_empty() && rules.write.is_empty() && rules.connect_tcp.is_empty());
        assert_eq!(c.plan.seccomp, Some(SeccompPolicy::for_verifier()));
        let old = plan(&Inputs {
            landlock_abi: 2,
            ..inputs()
        });
        assert_eq!(old.plan.landlock, None);
    }

    #[test]
    fn root_master_without_verifier_user_keeps_uid_0_and_drops_every_capability() {
        let sys = Recording::new(State::root());
        let c = plan(&inputs());
        assert!(c.drop_caps && c.isolation.user_ns.is_none());
        enter(&sys, &c).expect("enter");
        let s = sys.state.borrow();
        assert_eq!(
            (s.uid, s.caps, s.nnp, s.dumpable, s.seccomp.0),
            ((0, 0, 0), 0, true, false, 2)
        );
        assert_eq!(s.context, "system_u:system_r:oneshot_verifier_t:s0");
        drop(s);
        let names: Vec<&str> = sys.calls().iter().map(Call::name).collect();
        // Isolation first, then the capabilities, then the sandbox's steps; seccomp last
        // but for the final capability check.
        let at = |n: &str| names.iter().position(|x| *x == n).expect(n);
        assert!(at("join_session_keyring") < at("unshare"));
        assert!(at("unshare") < at("drop_all_caps"));
        assert!(at("drop_all_caps") < at("selinux_setcon"));
        assert!(at("selinux_setcon") < at("landlock_restrict"));
        assert!(at("landlock_restrict") < at("seccomp_install"));
        assert_eq!(names.last(), Some(&"cap_effective"));
    }

    #[test]
    fn verifier_user_is_switched_to_and_verified() {
        let id = UnixIdentity {
            uid: 998,
            gid: 997,
            groups: vec![997],
        };
        let sys = Recording::new(State::root());
        let c = plan(&Inputs {
            unix: Some(id),
            ..inputs()
        });
        assert!(!c.drop_caps);
        enter(&sys, &c).expect("enter");
        let s = sys.state.borrow();
        assert_eq!(
            (s.uid, s.gid, s.caps),
            ((998, 998, 998), (997, 997, 997), 0)
        );
        assert!(
            sys.calls().contains(&Call::SetResUid(0, 0, 0)),
            "way back probed"
        );
    }

    #[test]
    fn unprivileged_master_gets_a_user_namespace() {
        let c = plan(&Inputs {
            uid: 1000,
            gid: 1000,
            capeff: 0,
            ..inputs()
        });
        assert_eq!(c.isolation.user_ns, Some((1000, 1000)));
        assert!(!c.drop_caps);
        let off = plan(&Inputs {
            namespaces: false,
            capeff: 0,
            ..inputs()
        });
        assert!(!off.isolation.namespaces && off.isolation.user_ns.is_none());
    }

    #[test]
    fn a_failed_step_is_an_error_and_nothing_runs_after_it() {
        let c = plan(&inputs());
        let n = {
            let sys = Recording::new(State::root());
            enter(&sys, &c).expect("enter");
            sys.calls().len()
        };
        // Call 0 only looks at the inherited session keyring, which may be invisible: not an
        // error (see sandbox::isolate); every other call is a step.
        for i in 1..n {
            let mut sys = Recording::new(State::root());
            sys.fail_at = Some((i, libc::EIO));
            let result = enter(&sys, &c);
            assert!(result.is_err(), "call {i} failed but enter succeeded");
            assert_eq!(sys.calls().len(), i + 1, "call {i}: steps ran after it");
        }
        let mut sys = Recording::new(State::root());
        sys.ignore = vec!["drop_all_caps"];
        let err = enter(&sys, &c).expect_err("capabilities kept");
        assert!(
            matches!(err, SandboxError::CapsRemain { uid: 0, .. }),
            "{err}"
        );
        assert!(!sys.calls().iter().any(|c| c.name() == "selinux_setcon"));
    }
}
