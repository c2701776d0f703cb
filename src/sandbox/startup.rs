//! Start-up: which confinement backends the configuration requires, what the kernel and the
//! master's privileges offer, and the refusal to start when a required one is unusable (I3).
//! Separate from [`enter`](super::enter) because it runs once in the master, before any child.

#![forbid(unsafe_code)]

use super::*;

/// A confinement backend the configuration can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Backend {
    Selinux,
    Unix,
    Landlock,
}

/// What the kernel and the master's privileges offer, probed at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Available {
    pub selinux: SelinuxState,
    /// 0 = no Landlock.
    pub landlock_abi: u32,
    /// euid 0 holding CAP_SETUID and CAP_SETGID, so children can switch unix identity.
    pub can_switch_ids: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("SELinux is required by `Confinement selinux` but this kernel has no SELinux (selinuxfs is not in /proc/filesystems; boot with security=selinux or lsm=...,selinux)")]
    SelinuxNotInKernel,
    #[error("SELinux is required by `Confinement selinux` but SELinux is not active (selinuxfs not mounted or no policy loaded)")]
    SelinuxNotActive,
    #[error("SELinux is required by `Confinement selinux` but the kernel is permissive: denials would be logged, not enforced")]
    SelinuxPermissive,
    #[error("Landlock is required by `Confinement landlock` but this kernel has no Landlock (not built in or not in the lsm= list)")]
    LandlockMissing,
    #[error("Landlock is required by `Confinement landlock` but the kernel's Landlock ABI is {found}; at least {min} is needed (ABI 3 adds truncate control, without which read-only trees can be truncated)")]
    LandlockTooOld { found: u32, min: u32 },
    #[error("`Confinement landlock` alone needs Landlock ABI {min} but the kernel's is {found}: with every connection under the same uid, only Landlock's signal and abstract-socket scoping (ABI 6) keeps one connection's program from signalling another's; add `unix` or `selinux` to Confinement, or run a newer kernel")]
    LandlockScopeMissing { found: u32, min: u32 },
    #[error("a unix identity switch is required by `Confinement unix` but the master runs as euid {euid}, not root")]
    NotRoot { euid: u32 },
    #[error("a unix identity switch is required by `Confinement unix` but the master lacks CAP_SETUID/CAP_SETGID (CapEff={capeff:#x})")]
    NoSetidCaps { capeff: u64 },
    #[error("probing {what} failed: {source}")]
    Probe {
        what: &'static str,
        source: io::Error,
    },
}

/// First Landlock ABI that scopes signals and abstract unix sockets to the sandbox. When
/// Landlock is the only backend, every child shares the worker uid, so without scoping a
/// confined program could signal other connections' children (shown by tests/probe.rs).
pub const LANDLOCK_SCOPE_ABI: u32 = 6;

const CAP_SETID_BITS: u64 = (1 << 6) | (1 << 7);

/// Probes the kernel and refuses to start if a required backend is unusable.
pub fn check_required(required: &[Backend], sys: &impl Sys) -> Result<Available, StartupError> {
    let available = probe(sys)?;
    for backend in required {
        match backend {
            Backend::Selinux => require_selinux(available.selinux)?,
            Backend::Landlock => require_landlock(available.landlock_abi)?,
            Backend::Unix => require_unix(sys)?,
        }
    }
    if required == [Backend::Landlock] && available.landlock_abi < LANDLOCK_SCOPE_ABI {
        return Err(StartupError::LandlockScopeMissing {
            found: available.landlock_abi,
            min: LANDLOCK_SCOPE_ABI,
        });
    }
    Ok(available)
}

fn probe_err(what: &'static str) -> impl FnOnce(io::Error) -> StartupError {
    move |source| StartupError::Probe { what, source }
}

fn probe(sys: &impl Sys) -> Result<Available, StartupError> {
    let selinux = sys.selinux_state().map_err(probe_err("SELinux state"))?;
    let landlock_abi = sys.landlock_abi().map_err(probe_err("Landlock ABI"))?;
    let euid = sys.getresuid().map_err(probe_err("uids"))?.1;
    let capeff = sys.cap_effective().map_err(probe_err("capabilities"))?;
    Ok(Available {
        selinux,
        landlock_abi,
        can_switch_ids: euid == 0 && capeff & CAP_SETID_BITS == CAP_SETID_BITS,
    })
}

fn require_selinux(state: SelinuxState) -> Result<(), StartupError> {
    match state {
        SelinuxState::Enforcing => Ok(()),
        SelinuxState::Permissive => Err(StartupError::SelinuxPermissive),
        SelinuxState::NotMounted => Err(StartupError::SelinuxNotActive),
        SelinuxState::NotInKernel => Err(StartupError::SelinuxNotInKernel),
    }
}

fn require_landlock(abi: u32) -> Result<(), StartupError> {
    match abi {
        0 => Err(StartupError::LandlockMissing),
        found if found < MIN_LANDLOCK_ABI => Err(StartupError::LandlockTooOld {
            found,
            min: MIN_LANDLOCK_ABI,
        }),
        _ => Ok(()),
    }
}

fn require_unix(sys: &impl Sys) -> Result<(), StartupError> {
    let euid = sys.getresuid().map_err(probe_err("uids"))?.1;
    if euid != 0 {
        return Err(StartupError::NotRoot { euid });
    }
    let capeff = sys.cap_effective().map_err(probe_err("capabilities"))?;
    if capeff & CAP_SETID_BITS != CAP_SETID_BITS {
        return Err(StartupError::NoSetidCaps { capeff });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fake::{Recording, State, ALL_CAPS};

    #[test]
    fn check_required_table() {
        type Expect = fn(&Result<Available, StartupError>) -> bool;
        let cases: Vec<(&[Backend], State, Expect)> = vec![
            (
                &[Backend::Selinux, Backend::Unix, Backend::Landlock],
                State::root(),
                |r| r.is_ok(),
            ),
            (
                &[],
                State {
                    selinux: SelinuxState::NotInKernel,
                    landlock_abi: 0,
                    ..State::root()
                },
                |r| r.is_ok(),
            ),
            (
                &[Backend::Selinux],
                State {
                    selinux: SelinuxState::NotInKernel,
                    ..State::root()
                },
                |r| matches!(r, Err(StartupError::SelinuxNotInKernel)),
            ),
            (
                &[Backend::Selinux],
                State {
                    selinux: SelinuxState::NotMounted,
                    ..State::root()
                },
                |r| matches!(r, Err(StartupError::SelinuxNotActive)),
            ),
            (
                &[Backend::Selinux],
                State {
                    selinux: SelinuxState::Permissive,
                    ..State::root()
                },
                |r| matches!(r, Err(StartupError::SelinuxPermissive)),
            ),
            (
                &[Backend::Landlock],
                State {
                    landlock_abi: 0,
                    ..State::root()
                },
                |r| matches!(r, Err(StartupError::LandlockMissing)),
            ),
            (
                &[Backend::Landlock],
                State {
                    landlock_abi: 2,
                    ..State::root()
                },
                |r| matches!(r, Err(StartupError::LandlockTooOld { found: 2, min: 3 })),
            ),
            (
                &[Backend::Landlock],
                State {
                    landlock_abi: 5,
                    ..State::root()
                },
                |r| {
                    matches!(
                        r,
                        Err(StartupError::LandlockScopeMissing { found: 5, min: 6 })
                    )
                },
            ),
            (
                &[Backend::Landlock],
                State {
                    landlock_abi: 6,
                    ..State::root()
                },
                |r| r.is_ok(),
            ),
            (
                &[Backend::Unix, Backend::Landlock],
                State {
                    landlock_abi: 3,
                    ..State::root()
                },
                |r| r.is_ok(),
            ),
            (
                &[Backend::Unix],
                State {
                    uid: (1000, 1000, 1000),
                    caps: 0,
                    ..State::root()
                },
                |r| matches!(r, Err(StartupError::NotRoot { euid: 1000 })),
            ),
            (
                &[Backend::Unix],
                State {
                    caps: ALL_CAPS & !(1 << 7),
                    ..State::root()
                },
                |r| matches!(r, Err(StartupError::NoSetidCaps { .. })),
            ),
        ];
        for (required, state, expect) in cases {
            let desc = format!("{required:?} {state:?}");
            let result = check_required(required, &Recording::new(state));
            assert!(expect(&result), "{desc}: {result:?}");
        }
    }

    #[test]
    fn startup_error_names_the_missing_kernel_feature() {
        let msg = StartupError::SelinuxNotInKernel.to_string();
        assert!(msg.starts_with(
            "SELinux is required by `Confinement selinux` but this kernel has no SELinux"
        ));
        let msg = StartupError::LandlockTooOld { found: 2, min: 3 }.to_string();
        assert!(msg.contains("ABI is 2"), "{msg}");
    }
}
