//! Supervision of the password verifier: the only process that opens password files.
//! Started (forked from the master, then confined through `verifier::confine::enter`, which
//! is `sandbox::enter` after the verifier's own isolation) when the configuration names any,
//! restarted when it dies (at most once a second), stopped on reload and shutdown.

use super::{reexec, MasterError};
use crate::config::Config;
use crate::handoff::Inherited;
use crate::sys::{fork, ForkResult};
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;
use std::io;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

/// Resolves `VerifierUser`/`VerifierGroup` when the master runs as root (the verifier's
/// identity, see `verifier::confine`). It must differ from the children's `User`/`Group`: a
/// child runs as them before it is confined, so it must not reach the verifier's files.
pub(super) fn verifier_identity(
    cfg: &Config,
    worker: Option<&crate::sandbox::UnixIdentity>,
) -> Result<Option<crate::sandbox::UnixIdentity>, MasterError> {
    let fail = |m: String| MasterError::Setup {
        what: "VerifierUser/VerifierGroup",
        source: io::Error::other(m),
    };
    let Some(name) = &cfg.verifier.user else {
        return Ok(None);
    };
    if !nix::unistd::geteuid().is_root() {
        log::warn!("VerifierUser {name}: the master does not run as root, so the verifier keeps the master's uid");
        return Ok(None);
    }
    let u = nix::unistd::User::from_name(name)
        .ok()
        .flatten()
        .ok_or_else(|| fail(format!("unknown VerifierUser '{name}'")))?;
    let gid = match &cfg.verifier.group {
        Some(g) => {
            nix::unistd::Group::from_name(g)
                .ok()
                .flatten()
                .ok_or_else(|| fail(format!("unknown VerifierGroup '{g}'")))?
                .gid
        }
        None => u.gid,
    };
    let id = crate::sandbox::UnixIdentity {
        uid: u.uid.as_raw(),
        gid: gid.as_raw(),
        groups: vec![gid.as_raw()],
    };
    if id.uid == 0 || id.gid == 0 {
        return Err(fail(
            "VerifierUser and VerifierGroup must not be root".into(),
        ));
    }
    if worker.is_some_and(|w| w.uid == id.uid || w.gid == id.gid) {
        return Err(fail(format!(
            "VerifierUser/VerifierGroup ({}:{}) must differ from User/Group: children run as those before they are confined",
            id.uid, id.gid
        )));
    }
    Ok(Some(id))
}

/// Says at start what keeps the verifier's files when little does.
pub(super) fn warn_about_verifier(cfg: &Config, verifier: &Verifier, landlock_abi: u32) {
    if !cfg.needs_verifier() {
        return;
    }
    let selinux = cfg.confinement.contains(&crate::sandbox::Backend::Selinux);
    let landlock = landlock_abi >= crate::sandbox::MIN_LANDLOCK_ABI;
    if nix::unistd::geteuid().is_root() && verifier.unix.is_none() && !landlock && !selinux {
        log::warn!("the password verifier keeps uid 0 without capabilities, and neither Landlock nor SELinux confines its files: set VerifierUser");
    }
}

/// The password verifier process: the only process that opens password files. Started when
/// the configuration names any, restarted when it dies (at most once a second).
#[derive(Default)]
pub(super) struct Verifier {
    /// `VerifierUser`/`VerifierGroup`, resolved (root master only).
    pub(super) unix: Option<crate::sandbox::UnixIdentity>,
    pub(super) pid: Option<Pid>,
    pub(super) handle: Option<crate::verifier::Handle>,
    pub(super) last_start: Option<Instant>,
    /// How many times it was started; a change means channels made before are dead.
    pub(super) starts: u64,
}

impl Verifier {
    pub(super) fn ensure(&mut self, cfg: &Config, inh: &Inherited) {
        if self.pid.is_some() || !cfg.needs_verifier() {
            return;
        }
        if self
            .last_start
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.last_start = Some(Instant::now());
        let (handle, endpoint) = match crate::verifier::pair() {
            Ok(p) => p,
            Err(e) => return log::error!("cannot create the verifier's socket: {e}"),
        };
        match fork() {
            Ok(ForkResult::Child) => run_verifier(cfg, inh, self.unix.clone(), handle, endpoint),
            Ok(ForkResult::Parent { child }) => {
                log::info!(
                    "password verifier started as pid {child} for {} file(s) and {} PAM service(s)",
                    cfg.password_files.len(),
                    cfg.pam_services.len()
                );
                self.pid = Some(child);
                self.starts += 1;
                self.handle = Some(handle);
            }
            Err(e) => log::error!("cannot fork the password verifier: {e}"),
        }
    }

    pub(super) fn channel(&self) -> Option<OwnedFd> {
        let h = self.handle.as_ref()?;
        h.new_channel()
            .map_err(|e| log::warn!("no verifier channel for a new child: {e}"))
            .ok()
    }

    pub(super) fn gone(&mut self) {
        self.pid = None;
        self.handle = None;
    }

    pub(super) fn stop(&mut self) {
        if let Some(pid) = self.pid {
            let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
        }
        self.gone();
    }

    pub(super) fn restart(&mut self, cfg: &Config, inh: &Inherited) {
        self.stop();
        self.last_start = None;
        self.ensure(cfg, inh);
    }
}

fn run_verifier(
    cfg: &Config,
    inh: &Inherited,
    unix: Option<crate::sandbox::UnixIdentity>,
    handle: crate::verifier::Handle,
    endpoint: crate::verifier::Endpoint,
) -> ! {
    use crate::sys::Sys;
    use std::os::fd::AsRawFd;
    drop(handle);
    let mut keep = vec![0, 1, 2, endpoint.as_raw_fd()];
    keep.extend(inh.error_log_fd);
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGTERM);
    let mut unblock = SigSet::empty();
    unblock.add(Signal::SIGTERM);
    let _ = unblock.thread_unblock();
    if let Err(e) = crate::sys::Linux.close_fds_except(&keep) {
        log::error!("verifier: cannot close inherited descriptors: {e}");
        crate::sys::child_exit(1);
    }
    // Confined before it opens a password file or reads a byte from a child; a failed step
    // means no verifier (authentication answers 503) and the reason in the log.
    match confine_verifier(cfg, unix, keep) {
        Ok(proof) => log::info!("password verifier confined: {}", proof.describe()),
        Err(e) => {
            log::error!("password verifier not started: confinement failed: {e}");
            crate::sys::child_exit(reexec::EXIT_START_FAILED);
        }
    }
    let mut vcfg = crate::verifier::Config::new(cfg.password_files.clone());
    vcfg.pam_services = cfg.pam_services.clone();
    let code = match endpoint.serve(vcfg, load_password_db) {
        Ok(()) => 0,
        Err(e) => {
            log::error!("verifier: {e}");
            1
        }
    };
    crate::sys::child_exit(code)
}

fn confine_verifier(
    cfg: &Config,
    unix: Option<crate::sandbox::UnixIdentity>,
    keep_fds: Vec<std::os::fd::RawFd>,
) -> Result<crate::sandbox::Confined, crate::sandbox::SandboxError> {
    use crate::sandbox::{failed, Backend, Step};
    use crate::sys::{Linux, Sys};
    let probe = |e| failed(Step::CapCheck)(e);
    let pam = !cfg.pam_services.is_empty();
    let inputs = crate::verifier::confine::Inputs {
        files: cfg.password_files.clone(),
        selinux: cfg
            .confinement
            .contains(&Backend::Selinux)
            .then(|| cfg.verifier.selinux_context_for(pam).to_string()),
        unix,
        uid: Linux.getresuid().map_err(probe)?.1,
        gid: Linux.getresgid().map_err(probe)?.1,
        capeff: Linux.cap_effective().map_err(probe)?,
        landlock_abi: Linux.landlock_abi().map_err(probe)?,
        namespaces: cfg.namespaces,
        keep_fds,
        pam: pam.then(|| crate::verifier::confine::pam_access(|p| p.exists())),
    };
    crate::verifier::confine::enter(&Linux, &crate::verifier::confine::plan(&inputs))
}

/// The verifier's loader: reads and parses one password file (only the verifier calls it).
fn load_password_db(path: &str) -> Result<Box<dyn crate::verifier::PasswordDb>, String> {
    let text = crate::config::file::read_regular_string(std::path::Path::new(path))
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    crate::auth::htpasswd::parse(&text)
        .map(|h| Box::new(h) as Box<dyn crate::verifier::PasswordDb>)
        .map_err(|es| {
            es.iter()
                .map(|e| format!("{path}: {e}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
}
