//! Start-up of the master, before its loop: the kernel features the configuration requires
//! (a missing one stops the start), the subreaper, the children's isolation checked once, the
//! cgroup tree, the warnings about weak set-ups, the worker identity and the pid file.

use super::{cgroup, setup, MasterError};
use crate::config::Config;
use std::io;

/// The checks and set-up that come before the listeners: what the kernel offers, and the
/// per-connection cgroup tree when configured.
pub(super) fn prepare(
    cfg: &Config,
) -> Result<(crate::sandbox::Available, Option<cgroup::Tree>), MasterError> {
    // Nothing silently degrades: a required backend the kernel or our privileges cannot
    // provide (SELinux absent, disabled or permissive; Landlock too old) stops the start.
    let available = crate::sandbox::check_required(&cfg.confinement, &crate::sys::Linux)?;
    crate::sys::linux::close_inherited_high_fds().map_err(|source| MasterError::Setup {
        what: "the descriptor table (closing inherited descriptors from 1024 up)",
        source,
    })?;
    // Whatever a CGI program leaves running (a daemon that left its process group with
    // setsid) is re-parented to its server child, a subreaper, and when that child exits, to
    // the master instead of init: the master then kills it (see `kill_strays`), so nothing a
    // connection started outlives it.
    setup(
        "the master as subreaper",
        nix::sys::prctl::set_child_subreaper(true),
    )?;
    prepare_isolation(cfg).map_err(|why| MasterError::Setup {
        what: "per-connection isolation",
        source: io::Error::other(why),
    })?;
    // Before the verifier and the first child are forked: the master moves itself to
    // `supervisor` so that its cgroup can hand controllers to the connections' cgroups.
    let cgroups = match cfg.cgroup.per_connection {
        true => Some(setup(
            "per-connection cgroups",
            cgroup::Tree::setup(&cfg.cgroup).map_err(io::Error::other),
        )?),
        false => None,
    };
    if let Some(t) = &cgroups {
        log::info!(
            "a cgroup per connection under {} (controllers: {})",
            t.dir().display(),
            cfg.cgroup.controllers().join(" ")
        );
    }
    if cfg.confinement.contains(&crate::sandbox::Backend::Landlock) && available.landlock_abi < 4 {
        log::warn!(
            "Landlock ABI {} < 4: children's programs may bind and connect to any TCP port (AllowConnect is not enforced); only the seccomp filter's UDP, AF_PACKET and listen rules apply",
            available.landlock_abi
        );
    }
    log::info!(
        "confinement: requiring {:?}; kernel offers SELinux {:?}, Landlock ABI {}, id switching {}",
        cfg.confinement,
        available.selinux,
        available.landlock_abi,
        available.can_switch_ids
    );
    if cfg.confinement.contains(&crate::sandbox::Backend::Selinux)
        && cfg.selinux_connection_categories.is_none()
    {
        log::warn!(
            "Confinement selinux without selinuxConnectionCategories: connections mapped to the same \
             domain:range share one context, so their programs may read each other's /proc/PID files \
             and SIGKILL each other; reserve a category per connection with selinuxConnectionCategories"
        );
    }
    Ok((available, cgroups))
}

/// Runtime CPU-feature detection (std_detect's CPUID, behind httparse's SIMD dispatch) caches
/// its answer in process memory on first use. The master never parses a request, so without
/// this every child executed CPUID itself, which traps to the hypervisor on a VM: 9-14 % of a
/// child's CPU. Done once here, every forked child inherits the answer; so are which of the
/// CGI system paths exist (Landlock rules).
pub(crate) fn warm_up_before_fork() {
    #[cfg(target_arch = "x86_64")]
    let _ = std::is_x86_feature_detected!("sse4.2");
    let _ = crate::http::request::parse_head(
        b"GET /warm-up HTTP/1.1\r\nHost: warm.up\r\n\r\n",
        &crate::http::request::Limits::default(),
    );
    crate::sandbox::system_paths::warm_up();
    crate::sandbox::forked::warm_up();
}

/// Compiles the seccomp filters every vhost can ask for (children inherit them compiled) and,
/// with `Namespaces On`, checks once in a throwaway child that the kernel grants the
/// isolation every child will enter.
pub(super) fn prepare_isolation(cfg: &Config) -> Result<(), String> {
    crate::sandbox::seccomp::precompile(cfg.vhosts.iter().map(|v| v.harden.seccomp()))
        .map_err(|e| format!("seccomp filter: {e}"))?;
    if !cfg.namespaces {
        log::warn!("Namespaces Off: connections share SysV IPC, /tmp, /dev/shm and the PID namespace with each other (each still has its own session keyring and is not dumpable)");
        return Ok(());
    }
    if cfg.vhosts.iter().any(|v| v.cgi_enabled()) {
        for (mount, used) in crate::handoff::isolation::shadowed_tmp(cfg) {
            log::warn!(
                "no private tmpfs on {} for programs: the configuration serves {} from beneath it; programs share {} (Landlock, where configured, keeps them from writing there)",
                mount.display(),
                used.display(),
                mount.display()
            );
        }
    }
    crate::handoff::isolation::check_at_start(cfg).map_err(|e| {
        format!("the kernel refuses the per-connection namespaces ({e}); an unprivileged master needs user namespaces (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone, AppArmor's restrict_unprivileged_userns); or set `Namespaces Off` to run without them")
    })
}

pub(super) fn write_pid_file(cfg: &Config) {
    if let Some(p) = &cfg.pid_file {
        if let Err(e) = std::fs::write(p, format!("{}\n", std::process::id())) {
            log::error!("PidFile {}: {e}", p.display());
        }
    }
}

pub(super) fn remove_pid_file(cfg: &Config) {
    if let Some(p) = &cfg.pid_file {
        let _ = std::fs::remove_file(p);
    }
}

/// Resolves `User`/`Group` when the master runs as root: children drop to it before reading a
/// byte. Running as root without them would leave children able to become anyone.
pub(super) fn worker_identity(
    cfg: &Config,
) -> Result<Option<crate::sandbox::UnixIdentity>, MasterError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let fail = |m: String| MasterError::Setup {
        what: "User/Group",
        source: io::Error::other(m),
    };
    let (Some(user), Some(group)) = (&cfg.user, &cfg.group) else {
        return Err(fail(
            "running as root requires User and Group for the children".into(),
        ));
    };
    let u = nix::unistd::User::from_name(user)
        .ok()
        .flatten()
        .ok_or_else(|| fail(format!("unknown User '{user}'")))?;
    let g = nix::unistd::Group::from_name(group)
        .ok()
        .flatten()
        .ok_or_else(|| fail(format!("unknown Group '{group}'")))?;
    if u.uid.is_root() || g.gid.as_raw() == 0 {
        return Err(fail("User and Group must not be root".into()));
    }
    Ok(Some(crate::sandbox::UnixIdentity {
        uid: u.uid.as_raw(),
        gid: g.gid.as_raw(),
        groups: vec![g.gid.as_raw()],
    }))
}
