//! The master's side of the key holder (see `crate::keyholder`): starting it when the
//! configuration has `Listen ... https`, confining it, handing each child a one-signature
//! channel, and restarting it when it dies (I9), at most once a second. Children forked while
//! it is down get no channel: their TLS handshakes fail (an alert, then close), they never
//! serve without TLS.
//!
//! The key holder's confinement, in order, each step checked: every descriptor but its control
//! socket (and the logs) closed; not dumpable (no ptrace, no /proc/PID/mem for same-uid
//! processes); `SSLKeyHolderContext` entered and read back when given; a root master's key
//! holder keeps uid 0 (keys are root-only files) but no capability; no_new_privs; Landlock
//! read-only on the key files alone; the children's seccomp filter plus a filter refusing
//! execve/execveat. Then, and only then, it opens the keys.

use crate::config::Config;
use crate::keyholder::{self, KeyInfo};
use crate::sys::{fork, ForkResult, Linux, Sys};
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::handoff::Inherited;

/// How long the master waits for a (re)started key holder to load its keys.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct KeyHolder {
    pid: Option<Pid>,
    handle: Option<keyholder::Handle>,
    keys: Arc<Vec<KeyInfo>>,
    last_start: Option<Instant>,
    /// How many times it was started; a change means earlier channels are dead.
    pub starts: u64,
}

impl KeyHolder {
    /// First start: the master refuses to start when the keys cannot be loaded (I3).
    pub fn start(&mut self, cfg: &Config, inh: &Inherited) -> Result<(), String> {
        if !cfg.tls.enabled() {
            return Ok(());
        }
        self.spawn(cfg, inh)
    }

    /// Restarts a dead key holder (at most once a second).
    pub fn ensure(&mut self, cfg: &Config, inh: &Inherited) {
        if self.pid.is_some() || !cfg.tls.enabled() {
            return;
        }
        if self
            .last_start
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        if let Err(e) = self.spawn(cfg, inh) {
            log::error!("key holder: {e}; TLS handshakes fail until it starts");
        }
    }

    fn spawn(&mut self, cfg: &Config, inh: &Inherited) -> Result<(), String> {
        self.last_start = Some(Instant::now());
        let (handle, endpoint) =
            keyholder::pair().map_err(|e| format!("cannot create its socket: {e}"))?;
        match fork() {
            Ok(ForkResult::Child) => run(cfg, inh, handle, endpoint),
            Ok(ForkResult::Parent { child }) => {
                drop(endpoint);
                self.pid = Some(child);
                self.starts += 1;
                match handle.wait_ready(READY_TIMEOUT) {
                    Ok(keys) => {
                        log::info!(
                            "key holder started as pid {child} with {} key(s)",
                            keys.len()
                        );
                        self.keys = Arc::new(keys);
                        self.handle = Some(handle);
                        Ok(())
                    }
                    Err(e) => {
                        let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
                        Err(format!("the key holder did not start: {e}"))
                    }
                }
            }
            Err(e) => Err(format!("cannot fork the key holder: {e}")),
        }
    }

    /// For a child about to be forked: its own one-signature channel and the keys' public
    /// facts. None when TLS is off or the key holder is down.
    pub fn handoff(&self) -> Option<crate::handoff::tls::Handoff> {
        let h = self.handle.as_ref()?;
        let channel = h
            .new_channel()
            .map_err(|e| log::warn!("no key holder channel for a new child: {e}"))
            .ok()?;
        Some(crate::handoff::tls::Handoff {
            channel,
            keys: self.keys.clone(),
        })
    }

    pub fn pid(&self) -> Option<Pid> {
        self.pid
    }

    /// Whether `pid` was the key holder (then it is marked gone, to be restarted).
    pub fn reaped(&mut self, pid: Pid, status: &str) -> bool {
        if self.pid != Some(pid) {
            return false;
        }
        log::error!("key holder exited ({status}); restarting it");
        self.pid = None;
        self.handle = None;
        true
    }

    pub fn stop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
        }
        self.handle = None;
    }

    /// On reload: key files may have changed.
    pub fn restart(&mut self, cfg: &Config, inh: &Inherited) {
        self.stop();
        self.last_start = None;
        self.ensure(cfg, inh);
    }
}

/// The forked key holder: confine, then serve. Never returns.
fn run(
    cfg: &Config,
    inh: &Inherited,
    handle: keyholder::Handle,
    endpoint: keyholder::Endpoint,
) -> ! {
    drop(handle);
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGTERM);
    let mut unblock = SigSet::empty();
    unblock.add(Signal::SIGTERM);
    let _ = unblock.thread_unblock();
    let mut keep = vec![0, 1, 2, endpoint.as_raw_fd()];
    keep.extend(inh.error_log_fd);
    let specs = cfg.tls.key_specs();
    let code = match confine(cfg, &keep, &specs) {
        Err(e) => {
            log::error!("key holder: cannot confine itself: {e}");
            let _ = nix::sys::socket::send(
                endpoint.as_raw_fd(),
                &keyholder::encode_ready(&Err(format!("cannot confine itself: {e}"))),
                nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
            );
            1
        }
        Ok(()) => match endpoint.serve(&specs) {
            Ok(()) => 0,
            Err(e) => {
                log::error!("{e}");
                1
            }
        },
    };
    crate::sys::child_exit(code)
}

fn confine(cfg: &Config, keep: &[i32], specs: &[keyholder::KeySpec]) -> Result<(), String> {
    let sys = Linux;
    let step = |what: &str, r: std::io::Result<()>| r.map_err(|e| format!("{what}: {e}"));
    step("closing descriptors", sys.close_fds_except(keep))?;
    step("not dumpable", sys.set_dumpable(false))?;
    if let Some(ctx) = &cfg.tls.key_holder_context {
        step("SSLKeyHolderContext", sys.selinux_setcon(ctx))?;
        let now = sys.selinux_getcon().map_err(|e| format!("getcon: {e}"))?;
        if now != *ctx {
            return Err(format!("entered {now}, not {ctx}"));
        }
    }
    if nix::unistd::geteuid().is_root() {
        step("dropping capabilities", sys.drop_all_caps())?;
        if sys.cap_effective().map_err(|e| e.to_string())? != 0 {
            return Err("capabilities still effective after dropping them".into());
        }
    }
    step("no_new_privs", sys.set_no_new_privs())?;
    let abi = sys.landlock_abi().map_err(|e| e.to_string())?;
    if abi > 0 {
        let rules = crate::sys::LandlockRules {
            read: specs.iter().map(|s| s.path.clone()).collect(),
            ..Default::default()
        };
        let out = sys
            .landlock_restrict(&rules)
            .map_err(|e| format!("Landlock: {e}"))?;
        if out.enforcement != crate::sys::LandlockEnforcement::Full {
            return Err(format!("Landlock only {:?}", out.enforcement));
        }
    } else if cfg.confinement.contains(&crate::sandbox::Backend::Landlock) {
        return Err("Landlock is required but the kernel does not offer it".into());
    }
    let prog = crate::sandbox::seccomp::program(&Default::default())?;
    step("seccomp", sys.seccomp_install(&prog))?;
    step("seccomp (no exec)", sys.seccomp_install(&no_exec_filter()?))?;
    Ok(())
}

/// execve and execveat fail with EPERM: a root key holder without capabilities would get them
/// all back by executing any program.
fn no_exec_filter() -> Result<seccompiler::BpfProgram, String> {
    use seccompiler::{SeccompAction, SeccompFilter};
    let rules = [libc::SYS_execve, libc::SYS_execveat]
        .into_iter()
        .map(|n| (n, vec![]))
        .collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        std::env::consts::ARCH
            .try_into()
            .map_err(|e| format!("seccomp arch: {e:?}"))?,
    )
    .map_err(|e| format!("seccomp filter: {e}"))?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| format!("seccomp compile: {e}"))
}
