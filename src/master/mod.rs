//! The master: binds the listeners, keeps a pool of pristine children, reaps and respawns
//! them, and reacts to signals. Single-threaded, and it never reads a byte from a client:
//! the only bytes it reads come from its children's status pipe and its signalfd.

pub mod listen;
mod pool;

use crate::child;
use crate::config::Config;
use crate::sys::{fork, ForkResult};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;
use pool::{Pool, Slot};
use socket2::Socket;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error(transparent)]
    Listen(#[from] listen::ListenError),
    #[error("refusing to start: {0}")]
    Confinement(#[from] crate::sandbox::StartupError),
    #[error("cannot set up {what}: {source}")]
    Setup {
        what: &'static str,
        source: io::Error,
    },
}

fn setup<T>(what: &'static str, r: Result<T, impl Into<io::Error>>) -> Result<T, MasterError> {
    r.map_err(|e| MasterError::Setup {
        what,
        source: e.into(),
    })
}

/// Everything a child inherits from the master, owned so that dropping it closes it.
pub struct Inherited {
    pub listeners: Vec<Socket>,
    /// Write end of the status pipe: a child writes its pid here once it has accepted.
    pub status: OwnedFd,
    /// Access log files opened by the master, one per CustomLog, with their formats.
    pub access_logs: Vec<(File, crate::config::LogFormat)>,
    /// Descriptor of the error log file (owned by the global logger), if not stderr.
    pub error_log_fd: Option<std::os::fd::RawFd>,
}

/// The signals the master handles; children reset these (see `child::accept`).
pub fn handled_signals() -> SigSet {
    let mut s = SigSet::empty();
    for sig in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        s.add(sig);
    }
    s
}

pub fn run(
    mut cfg: Config,
    reload: impl Fn() -> Option<Config>,
    error_log_fd: Option<std::os::fd::RawFd>,
) -> Result<(), MasterError> {
    let listeners = cfg
        .listen
        .iter()
        .map(|a| listen::bind(*a))
        .collect::<Result<Vec<_>, _>>()?;
    let access_logs = open_access_logs(&cfg)?;
    let signals = handled_signals();
    setup("signal mask", signals.thread_block())?;
    let sfd = setup(
        "signalfd",
        SignalFd::with_flags(&signals, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK),
    )?;
    let (status_r, status_w) = setup(
        "status pipe",
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK),
    )?;
    let mut status_r = File::from(status_r);
    let mut inherited = Inherited {
        listeners,
        status: status_w,
        access_logs,
        error_log_fd,
    };
    write_pid_file(&cfg);
    log::info!(
        "oneshot-httpd {} listening on {} with {} vhost(s); pool {}..{} of at most {}",
        env!("CARGO_PKG_VERSION"),
        cfg.listen
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        cfg.vhosts.len(),
        cfg.min_spare,
        cfg.max_spare,
        cfg.max_workers
    );

    let mut pool = Pool::default();
    let mut fork_backoff = Backoff::default();
    spawn_many(
        &mut pool,
        &cfg,
        &inherited,
        cfg.start_servers.min(cfg.max_workers),
        &mut fork_backoff,
    );
    loop {
        let mut fds = [
            nix::poll::PollFd::new(sfd.as_fd(), nix::poll::PollFlags::POLLIN),
            nix::poll::PollFd::new(status_r.as_fd(), nix::poll::PollFlags::POLLIN),
        ];
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(1000u16));
        drain_status(&mut status_r, &mut pool);
        let mut stop = false;
        while let Ok(Some(info)) = sfd.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGCHLD) => reap(&mut pool),
                Ok(Signal::SIGTERM | Signal::SIGINT | Signal::SIGQUIT) => stop = true,
                Ok(Signal::SIGHUP) => {
                    if let Some(new) = reload() {
                        apply_reload(&mut cfg, new, &mut inherited, &mut pool);
                    }
                }
                _ => {}
            }
        }
        reap(&mut pool);
        if stop {
            shutdown(&mut pool, cfg.timeout);
            remove_pid_file(&cfg);
            log::info!("stopped");
            return Ok(());
        }
        maintain(&mut pool, &cfg, &inherited, &mut fork_backoff);
    }
}

fn open_access_logs(cfg: &Config) -> Result<Vec<(File, crate::config::LogFormat)>, MasterError> {
    cfg.custom_logs
        .iter()
        .map(|l| {
            let f = crate::logging::open_append(&l.path).map_err(|e| MasterError::Setup {
                what: "CustomLog",
                source: io::Error::new(e.kind(), format!("{}: {e}", l.path.display())),
            })?;
            Ok((f, l.format))
        })
        .collect()
}

/// Children announce "I accepted a connection" by writing their pid (4 bytes, native order).
fn drain_status(r: &mut File, pool: &mut Pool) {
    let mut buf = [0u8; 4 * 256];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                for chunk in buf[..n].chunks_exact(4) {
                    let pid = i32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
                    pool.mark_busy(Pid::from_raw(pid));
                }
            }
        }
    }
}

fn reap(pool: &mut Pool) {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => {
                if code != 0 {
                    log::debug!("child {pid} exited with status {code}");
                }
                pool.remove(pid);
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) => {
                if sig != Signal::SIGTERM {
                    log::warn!("child {pid} was killed by {sig:?}");
                }
                pool.remove(pid);
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Keeps the number of idle children between MinSpare and MaxSpare, never exceeding
/// MaxRequestWorkers alive.
fn maintain(pool: &mut Pool, cfg: &Config, inh: &Inherited, backoff: &mut Backoff) {
    let idle = pool.idle();
    if idle < cfg.min_spare {
        let room = cfg.max_workers.saturating_sub(pool.len());
        spawn_many(pool, cfg, inh, (cfg.min_spare - idle).min(room), backoff);
    } else if idle > cfg.max_spare {
        // An idle child dies on SIGTERM only while it waits in ppoll, never after accepting.
        for pid in pool.idle_pids().into_iter().take(idle - cfg.max_spare) {
            let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
            pool.mark_retiring(pid);
        }
    }
}

fn spawn_many(pool: &mut Pool, cfg: &Config, inh: &Inherited, n: usize, backoff: &mut Backoff) {
    for _ in 0..n {
        if !backoff.ready() {
            return;
        }
        match fork() {
            Ok(ForkResult::Child) => child::run(cfg, inh),
            Ok(ForkResult::Parent { child: pid }) => {
                pool.insert(pid, Slot::Idle);
                backoff.success();
            }
            Err(e) => {
                backoff.failure(&e);
                return;
            }
        }
    }
}

/// After a failed fork (RLIMIT_NPROC, memory), wait before trying again instead of spinning;
/// the failure is logged once per streak, not once per attempt.
#[derive(Default)]
struct Backoff {
    until: Option<Instant>,
    delay: Duration,
}

impl Backoff {
    fn ready(&self) -> bool {
        self.until.is_none_or(|u| Instant::now() >= u)
    }
    fn failure(&mut self, e: &io::Error) {
        if self.delay.is_zero() {
            log::error!("fork failed: {e}; backing off");
        }
        self.delay = (self.delay * 2).clamp(Duration::from_millis(100), Duration::from_secs(5));
        self.until = Some(Instant::now() + self.delay);
    }
    fn success(&mut self) {
        if !self.delay.is_zero() {
            log::warn!("fork works again");
        }
        self.delay = Duration::ZERO;
        self.until = None;
    }
}

/// Graceful reload: new children use the new configuration; idle children of the old one are
/// retired; busy ones finish their connection. Listeners are kept; a changed Listen set needs
/// a restart, which is said in the log.
fn apply_reload(cfg: &mut Config, new: Config, inh: &mut Inherited, pool: &mut Pool) {
    if new.listen != cfg.listen {
        log::error!(
            "reload: Listen changed; keeping the old configuration (restart to change listeners)"
        );
        return;
    }
    match open_access_logs(&new) {
        Ok(logs) => inh.access_logs = logs,
        Err(e) => {
            log::error!("reload: {e}; keeping the old configuration");
            return;
        }
    }
    *cfg = new;
    for pid in pool.idle_pids() {
        let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
        pool.mark_retiring(pid);
    }
    log::warn!("reloaded configuration from {}", cfg.file.display());
}

/// SIGTERM to every child: idle ones die at once, busy ones finish their connection, which
/// their own timeouts bound; after Timeout (+1 s grace) the rest are killed.
fn shutdown(pool: &mut Pool, timeout: Duration) {
    for pid in pool.pids() {
        let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
    }
    let deadline = Instant::now() + timeout + Duration::from_secs(1);
    while !pool.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        reap(pool);
    }
    for pid in pool.pids() {
        log::warn!("child {pid} did not finish within Timeout; killing it");
        let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
    }
    while !pool.is_empty() {
        match nix::sys::wait::waitpid(None, None) {
            Ok(s) => {
                if let Some(pid) = s.pid() {
                    pool.remove(pid);
                }
            }
            Err(_) => break,
        }
    }
}

fn write_pid_file(cfg: &Config) {
    if let Some(p) = &cfg.pid_file {
        if let Err(e) = std::fs::write(p, format!("{}\n", std::process::id())) {
            log::error!("PidFile {}: {e}", p.display());
        }
    }
}

fn remove_pid_file(cfg: &Config) {
    if let Some(p) = &cfg.pid_file {
        let _ = std::fs::remove_file(p);
    }
}
