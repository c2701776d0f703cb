//! The master: binds the listeners, keeps a pool of pristine children, reaps and respawns
//! them, and reacts to signals. Single-threaded, and it never reads a byte from a client:
//! the only bytes it reads come from its children's status pipe and its signalfd.
//!
//! This file is the event loop (`run`: poll, status pipe, signals, reap, reload, keep the
//! pool); start-up before it is in `startup`, the helper processes it supervises in
//! `verifier` and `keyholder`, and what it shares with its children in `crate::handoff`.

pub mod cgroup;
pub mod keyholder;
pub mod listen;
pub mod logs;
mod pool;
pub mod reexec;
mod startup;
pub mod validate;
mod verifier;
pub mod vhost_slots;

use crate::child;
use crate::config::Config;
use crate::handoff::{handled_signals, status, Inherited, RECLAIM_SIGNAL};
use crate::sys::{fork, ForkResult};
use nix::sys::signal::Signal;
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;
use pool::{Pool, Slot};
pub(crate) use startup::warm_up_before_fork;
use startup::{prepare_isolation, remove_pid_file, worker_identity, write_pid_file};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};
use verifier::{verifier_identity, warn_about_verifier, Verifier};

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error(transparent)]
    Listen(#[from] listen::ListenError),
    #[error("refusing to start: {0}")]
    Confinement(#[from] crate::sandbox::StartupError),
    #[error("socket activation: {0}")]
    Activation(String),
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

/// Children accepted less than this long ago are left alone even when every slot is held: a
/// real client sends its head with (or right after) the handshake's last ACK, so by the time a
/// child accepts it from the backlog the head is in the socket buffer, or one round trip away
/// when it exceeds the initial congestion window. Only a client still trickling after this
/// long is reclaimed. It also caps the churn: with every slot held by tricklers, at most
/// MaxRequestWorkers / RECLAIM_MIN_AGE slots change hands per second, so a good client queued
/// behind B trickling connections waits about B × RECLAIM_MIN_AGE / MaxRequestWorkers.
pub const RECLAIM_MIN_AGE: Duration = Duration::from_millis(250);

pub fn run(
    mut cfg: Config,
    reload: impl Fn() -> Option<Config>,
    error_log_fd: Option<std::os::fd::RawFd>,
    systemd: crate::systemd::Systemd,
) -> Result<(), MasterError> {
    let crate::systemd::Systemd { activated, notify } = systemd;
    let (available, cgroups) = startup::prepare(&cfg)?;
    let listeners = listen::open_all(&cfg.listen, activated)?;
    let mut logs = logs::Logs::default();
    let access_logs = logs.open(&cfg)?;
    let vhost_error_logs = logs::open_vhost_error_logs(&cfg)?;
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
    let worker = worker_identity(&cfg)?;
    let mut inherited = Inherited {
        listeners,
        status: status_w,
        access_logs,
        error_log_fd,
        vhost_error_logs,
        worker,
        failing_logs: status::FailingLogs::default(),
    };
    let mut reexec = setup(
        "ReexecChildren",
        reexec::Reexec::open(&cfg).map_err(io::Error::other),
    )?;
    let image = reexec.image_for(&cfg, &inherited, error_log_fd.is_some());
    reexec.set_image(setup("ReexecChildren", image.map_err(io::Error::other))?);
    let mut verifier = Verifier {
        unix: verifier_identity(&cfg, inherited.worker.as_ref())?,
        ..Verifier::default()
    };
    warn_about_verifier(&cfg, &verifier, available.landlock_abi);
    verifier.ensure(&cfg, &inherited);
    let mut keys = keyholder::KeyHolder::default();
    setup(
        "the TLS key holder",
        keys.start(&cfg, &inherited).map_err(io::Error::other),
    )?;
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

    warm_up_before_fork();
    let mut pool = Pool::default();
    let mut decoder = status::Decoder::default();
    let mut forks = Forks {
        backoff: Backoff::default(),
        cgroups,
        slots: vhost_slots::VHostSlots::default(),
    };
    spawn_many(
        &mut pool,
        &cfg,
        &inherited,
        (&verifier, &keys),
        &reexec,
        cfg.start_servers.min(cfg.max_workers),
        &mut forks,
    );
    notify.ready(&format!("serving; pool of {}", pool.len()));
    loop {
        let claims = forks.slots.poll_fds();
        let mut fds = vec![
            nix::poll::PollFd::new(sfd.as_fd(), nix::poll::PollFlags::POLLIN),
            nix::poll::PollFd::new(status_r.as_fd(), nix::poll::PollFlags::POLLIN),
        ];
        fds.extend(
            (claims.iter()).map(|(_, f)| nix::poll::PollFd::new(*f, nix::poll::PollFlags::POLLIN)),
        );
        let _ = nix::poll::poll(&mut fds, poll_timeout(&pool, &cfg));
        // MaxClientsVHost claims: each child's own channel (`vhost_slots`).
        let ready: Vec<Pid> = (claims.iter().zip(fds.iter().skip(2)))
            .filter(|(_, p)| p.revents().is_some_and(|r| !r.is_empty()))
            .map(|((pid, _), _)| *pid)
            .collect();
        drop(fds);
        drop(claims);
        for pid in ready {
            forks.slots.answer(pid);
        }
        drain_status(
            &mut status_r,
            &mut decoder,
            &mut pool,
            &mut inherited.failing_logs,
        );
        let mut stop = false;
        while let Ok(Some(info)) = sfd.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGCHLD) => {
                    reexec.note_start_failures(reap(
                        &mut pool,
                        &mut verifier,
                        &mut keys,
                        &mut logs,
                    ));
                    match &mut forks.cgroups {
                        Some(t) => settle_cgroups(t, &mut pool),
                        None => kill_strays(&mut pool, &verifier, &keys, &logs),
                    }
                }
                Ok(Signal::SIGTERM | Signal::SIGINT | Signal::SIGQUIT) => stop = true,
                // SIGUSR1 is Apache's graceful restart; here every reload is graceful.
                Ok(Signal::SIGHUP | RECLAIM_SIGNAL) => {
                    notify.reloading();
                    if let Some(new) =
                        reload().and_then(|new| cgroups_for_reload(&mut forks.cgroups, &cfg, new))
                    {
                        apply_reload(
                            &mut cfg,
                            new,
                            &mut inherited,
                            &mut pool,
                            &mut reexec,
                            &mut logs,
                        );
                        match verifier_identity(&cfg, inherited.worker.as_ref()) {
                            Ok(unix) => verifier.unix = unix,
                            Err(e) => log::error!("reload: {e}; the verifier keeps its identity"),
                        }
                        verifier.restart(&cfg, &inherited);
                        keys.restart(&cfg, &inherited);
                        if cfg.tls.enabled() {
                            // Idle children hold channels to the old key holder.
                            retire_idle(&mut pool);
                        }
                    }
                    // Applied or refused, the server serves again (systemd's reload is over).
                    notify.ready("serving");
                }
                _ => {}
            }
        }
        reexec.note_start_failures(reap(&mut pool, &mut verifier, &mut keys, &mut logs));
        if let Some(t) = &mut forks.cgroups {
            settle_cgroups(t, &mut pool);
        }
        // A reaped child's MaxClientsVHost slot is free: never on the child's word.
        forks.slots.settle(|pid| pool.contains(pid));
        if stop {
            notify.stopping();
            verifier.stop();
            keys.stop();
            log::info!(
                "pool: {} connection(s) accepted; {} of them took the last idle child",
                pool.accepted,
                pool.ran_dry
            );
            shutdown(&mut pool, cfg.timeout);
            logs.stop(Duration::from_secs(2));
            if let Some(t) = &mut forks.cgroups {
                t.shutdown();
            }
            remove_pid_file(&cfg);
            log::info!("stopped");
            return Ok(());
        }
        logs.ensure();
        let started = (verifier.starts, keys.starts);
        verifier.ensure(&cfg, &inherited);
        keys.ensure(&cfg, &inherited);
        if (verifier.starts, keys.starts) != started {
            // Idle children hold a channel to the dead verifier (or none): they would answer
            // 503 to every authenticated request. Fresh ones get a channel to the new one.
            retire_idle(&mut pool);
        }
        maintain(
            &mut pool,
            &cfg,
            &inherited,
            (&verifier, &keys),
            &reexec,
            &mut forks,
        );
    }
}

/// Reads what children said on the status pipe (see [`status`]).
fn drain_status(
    r: &mut File,
    decoder: &mut status::Decoder,
    pool: &mut Pool,
    failing: &mut status::FailingLogs,
) {
    let mut buf = [0u8; status::MSG_LEN * 256];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                for m in decoder.feed(&buf[..n]) {
                    let pid = Pid::from_raw(m.pid);
                    match m.event {
                        status::Event::Accepted => pool.mark_busy(pid, Instant::now()),
                        status::Event::HeadComplete => pool.mark_serving(pid),
                        e @ (status::Event::LogFailed { .. }
                        | status::Event::LogRecovered { .. }) => {
                            // Only a pid we forked may change what the master believes.
                            if pool.contains(pid) {
                                if let Some(t) = failing.observe(e, Instant::now()) {
                                    report_log_transition(t);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Says once that a log started failing, and once that it works again. A failing error log
/// cannot carry its own news, so that is also said on stderr.
fn report_log_transition(t: status::Transition) {
    let name = |l: status::LogId| match l {
        status::LogId::Error => "ErrorLog".to_string(),
        status::LogId::Access(i) => format!("CustomLog #{}", u32::from(i) + 1),
    };
    let (log, msg) = match t {
        status::Transition::StartedFailing { log, errno } => (
            log,
            format!(
                "{}: write failed: {}; serving goes on, and further failures are not logged until it works again",
                name(log),
                io::Error::from_raw_os_error(errno)
            ),
        ),
        status::Transition::Recovered { log } => (log, format!("{}: writes work again", name(log))),
    };
    if log == status::LogId::Error {
        eprintln!("oneshot-httpd: {msg}");
    }
    match t {
        status::Transition::StartedFailing { .. } => log::error!("{msg}"),
        status::Transition::Recovered { .. } => log::warn!("{msg}"),
    }
}

/// Reaps every exited child; returns how many could not start (see `reexec::start_failed`).
fn reap(
    pool: &mut Pool,
    verifier: &mut Verifier,
    keys: &mut keyholder::KeyHolder,
    logs: &mut logs::Logs,
) -> usize {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let mut start_failed = 0;
    loop {
        let status = waitpid(None, Some(WaitPidFlag::WNOHANG));
        if let Ok(s) = &status {
            if s.pid().is_some() && s.pid() == verifier.pid {
                log::error!("password verifier exited ({s:?}); restarting it");
                verifier.gone();
                continue;
            }
            // The status is formatted only for the helpers that log it: a connection's child
            // is reaped without touching the heap (each write to a page the master shares with
            // its children since the last fork is a copy-on-write fault).
            if let Some(pid) = s
                .pid()
                .filter(|&p| keys.pid() == Some(p) || logs.is_logger(p))
            {
                let how = format!("{s:?}");
                if keys.reaped(pid, &how) || logs.reaped(pid, &how) {
                    continue;
                }
            }
        }
        match status {
            Ok(WaitStatus::Exited(pid, code)) => {
                if code != 0 {
                    log::debug!("child {pid} exited with status {code}");
                }
                if reexec::start_failed(code) {
                    start_failed += 1;
                }
                pool.remove(pid);
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) => {
                if sig != Signal::SIGTERM {
                    log::warn!("child {pid} was killed by {sig:?}");
                }
                pool.remove(pid);
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return start_failed,
            Ok(_) => {}
        }
    }
}

/// Kills every child of the master that it did not fork: descendants of a server child (a CGI
/// program's daemon) re-parented here when that child exited. Each kill makes another SIGCHLD,
/// so a stray that forked again in between is found on the next round.
/// Done on every SIGCHLD batch (one read of a small /proc file), not only for children that
/// said they ran a program: a compromised child would simply not say so.
/// The same scan frees the connection categories of reaped children: a category is draining
/// until no stray carries it. Every process a connection started descends from a stray here
/// once the connection's child is gone (the master is their subreaper), so a category no
/// stray carries is carried by no process at all.
fn kill_strays(
    pool: &mut Pool,
    verifier: &Verifier,
    keys: &keyholder::KeyHolder,
    logs: &logs::Logs,
) {
    let children = match crate::sys::linux::own_children() {
        Ok(c) => c,
        Err(e) => {
            log::error!("cannot list the master's children to kill strays: {e}");
            return;
        }
    };
    let draining = pool.categories_draining();
    // None when a stray's context could not be read: then no category is freed this round.
    let mut carried = Some(std::collections::BTreeSet::new());
    for pid in children.into_iter().map(Pid::from_raw) {
        if pool.contains(pid)
            || verifier.pid == Some(pid)
            || keys.pid() == Some(pid)
            || logs.is_logger(pid)
        {
            continue;
        }
        if draining {
            match stray_categories(pid) {
                Ok(cats) => carried.iter_mut().for_each(|c| c.extend(&cats)),
                Err(e) => {
                    log::warn!("cannot read the SELinux context of stray pid {pid}: {e}; its connection category stays reserved");
                    carried = None;
                }
            }
        }
        log::warn!(
            "killing pid {pid}: left running by a finished connection (re-parented to the master)"
        );
        let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
    }
    if let Some(carried) = carried {
        pool.settle_categories(&carried);
    }
}

/// With a cgroup per connection: the cgroups of reaped children are killed (`cgroup.kill`
/// takes everything the connection left, wherever it was re-parented) and removed once empty;
/// this replaces [`kill_strays`]. A connection category drains until its cgroup is gone.
fn settle_cgroups(tree: &mut cgroup::Tree, pool: &mut Pool) {
    tree.reaped(|pid| pool.contains(pid));
    let carried = tree.drain();
    if pool.categories_draining() {
        pool.settle_categories(&carried);
    }
}

/// A reload may change the limits (the controllers they need are enabled first) but not
/// `CgroupPerConnection` itself, which needs a restart; `None` keeps the old configuration.
fn cgroups_for_reload(
    tree: &mut Option<cgroup::Tree>,
    old: &Config,
    new: Config,
) -> Option<Config> {
    if new.cgroup.per_connection != old.cgroup.per_connection {
        log::error!("reload: CgroupPerConnection changed; keeping the old configuration (restart to change it)");
        return None;
    }
    if let Some(t) = tree {
        if let Err(e) = t.enable(&new.cgroup) {
            log::error!("reload: {e}; keeping the old configuration");
            return None;
        }
    }
    Some(new)
}

/// Every category in a process's SELinux context (read from /proc/PID/attr/current).
fn stray_categories(pid: Pid) -> io::Result<Vec<u16>> {
    let ctx = std::fs::read_to_string(format!("/proc/{pid}/attr/current"))?;
    let ctx = ctx.trim_end_matches(['\0', '\n']);
    let all = crate::policy::mcs::CategoryRange {
        first: 0,
        last: u16::MAX,
    };
    crate::policy::mcs::reserved_in_context(ctx, all).map_err(io::Error::other)
}

/// Keeps the number of idle children between MinSpare and MaxSpare, never exceeding
/// MaxRequestWorkers alive.
fn maintain(
    pool: &mut Pool,
    cfg: &Config,
    inh: &Inherited,
    verifier: (&Verifier, &keyholder::KeyHolder),
    reexec: &reexec::Reexec,
    forks: &mut Forks,
) {
    let idle = pool.idle();
    if idle < cfg.min_spare {
        let room = cfg.max_workers.saturating_sub(pool.len());
        spawn_many(
            pool,
            cfg,
            inh,
            verifier,
            reexec,
            (cfg.min_spare - idle).min(room),
            forks,
        );
    } else if idle > cfg.max_spare {
        // An idle child dies on SIGTERM only while it waits for a connection, never after accepting.
        for pid in pool.idle_pids().into_iter().take(idle - cfg.max_spare) {
            let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
            pool.mark_retiring(pid);
        }
    }
    reclaim(pool, cfg);
}

/// Every slot is held and too few children wait to accept: the oldest children still reading
/// a request head give their slot back (they answer 408 if they got part of a head, and close),
/// so a well-behaved client queued in the backlog is not held up by trickling ones. Children
/// that are serving are never touched.
fn reclaim(pool: &mut Pool, cfg: &Config) {
    let want = reclaim_wanted(pool, cfg);
    for pid in pool.reclaimable(Instant::now(), RECLAIM_MIN_AGE, want) {
        log::debug!("every slot held: reclaiming child {pid}, which has no complete request head");
        let _ = nix::sys::signal::kill(pid, RECLAIM_SIGNAL);
        pool.mark_reclaimed(pid);
    }
}

/// How many slots to take back: enough for MinSpareServers (at least one) children to be
/// waiting, counting those already reclaimed and about to exit; none while a slot is free.
fn reclaim_wanted(pool: &Pool, cfg: &Config) -> usize {
    if pool.len() < cfg.max_workers {
        return 0;
    }
    let coming = pool.idle() + pool.reclaimed();
    cfg.min_spare.max(1).saturating_sub(coming)
}

/// Wakes the master when a reading child becomes reclaimable, if a slot is wanted.
fn poll_timeout(pool: &Pool, cfg: &Config) -> nix::poll::PollTimeout {
    let idle_tick = Duration::from_secs(1);
    let wait = if reclaim_wanted(pool, cfg) > 0 {
        pool.next_reclaimable_at(RECLAIM_MIN_AGE)
            .map_or(idle_tick, |t| t.saturating_duration_since(Instant::now()))
            .min(idle_tick)
    } else {
        idle_tick
    };
    let ms = u16::try_from(wait.as_millis() + 1).unwrap_or(u16::MAX);
    nix::poll::PollTimeout::from(ms)
}

fn spawn_many(
    pool: &mut Pool,
    cfg: &Config,
    inh: &Inherited,
    (verifier, keys): (&Verifier, &keyholder::KeyHolder),
    reexec: &reexec::Reexec,
    n: usize,
    forks: &mut Forks,
) {
    let (backoff, cgroups, slots) = (&mut forks.backoff, &mut forks.cgroups, &mut forks.slots);
    for _ in 0..n {
        if !backoff.ready() || !reexec.ready() {
            return;
        }
        // A connection category unique among live children (and processes finished
        // connections left behind), when the configuration reserves them.
        let category = match &cfg.selinux_connection_categories {
            Some(cc) => match pool.free_category(cc.range) {
                Some(c) => Some(c),
                None => return,
            },
            None => None,
        };
        // Each child gets its own channel to the verifier; the master's copy is dropped at the
        // end of this iteration. Without one, requests needing authentication get 503.
        // Its own cgroup, limits written and read back, made before the fork.
        let cgroup_dir = match cgroups.as_mut().map(|t| t.prepare(&cfg.cgroup)) {
            Some(Ok(d)) => Some(d),
            Some(Err(e)) => {
                backoff.failure(&io::Error::other(format!("connection cgroup: {e}")));
                return;
            }
            None => None,
        };
        let chan = verifier.channel();
        // MaxClientsVHost: the child's own channel for claiming a vhost slot.
        let slot_chan = if vhost_slots::VHostSlots::wanted(cfg) {
            match crate::handoff::vhost_slots::channel() {
                Ok(c) => Some(c),
                Err(e) => {
                    if let (Some(t), Some(d)) = (cgroups.as_mut(), cgroup_dir) {
                        t.discard(&d);
                    }
                    backoff.failure(&io::Error::other(format!("MaxClientsVHost channel: {e}")));
                    return;
                }
            }
        } else {
            None
        };
        let (slot_master, slot_child) = slot_chan.unzip();
        // HOOK(tls): likewise a one-signature channel to the key holder (TLS configured).
        let tls = keys.handoff();
        match fork() {
            Ok(ForkResult::Child)
                if cgroup_dir.is_some() && !enter_cgroup(cgroup_dir.as_deref()) =>
            {
                crate::sys::child_exit(1)
            }
            Ok(ForkResult::Child) => {
                drop(slot_master);
                match reexec.image() {
                    Some(image) => reexec.exec_child(image, inh, chan, slot_child, category),
                    None => {
                        crate::handoff::tls::install(tls);
                        crate::handoff::vhost_slots::install(slot_child);
                        child::run(cfg, inh, chan, category)
                    }
                }
            }
            Ok(ForkResult::Parent { child: pid }) => {
                pool.insert(pid, Slot::Idle);
                if let Some(m) = slot_master {
                    slots.adopt(pid, m);
                }
                if let (Some(t), Some(d)) = (cgroups.as_mut(), cgroup_dir) {
                    t.adopt(pid, d, category);
                }
                if let Some(c) = category {
                    pool.hold_category(pid, c);
                }
                backoff.success();
            }
            Err(e) => {
                if let (Some(t), Some(d)) = (cgroups.as_mut(), cgroup_dir) {
                    t.discard(&d);
                }
                backoff.failure(&e);
                return;
            }
        }
    }
}

/// In a just-forked child, before it accepts: into its connection's cgroup, or no serving.
fn enter_cgroup(dir: Option<&std::path::Path>) -> bool {
    match dir.map(cgroup::enter) {
        Some(Err(e)) => {
            log::error!("child: cannot enter its connection cgroup: {e}");
            false
        }
        _ => true,
    }
}

/// What forking a child needs beyond the pool: the back-off after failures and, with
/// `CgroupPerConnection On`, the tree the child's cgroup is made in.
struct Forks {
    backoff: Backoff,
    cgroups: Option<cgroup::Tree>,
    /// `MaxClientsVHost`: the children's claim channels and who holds which slot.
    slots: vhost_slots::VHostSlots,
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
fn apply_reload(
    cfg: &mut Config,
    new: Config,
    inh: &mut Inherited,
    pool: &mut Pool,
    reexec: &mut reexec::Reexec,
    logs: &mut logs::Logs,
) {
    if new.listen != cfg.listen {
        log::error!(
            "reload: Listen changed; keeping the old configuration (restart to change listeners)"
        );
        return;
    }
    if let Err(why) = prepare_isolation(&new) {
        log::error!("reload: per-connection isolation: {why}; keeping the old configuration");
        return;
    }
    let image = match reexec.image_for(&new, inh, inh.error_log_fd.is_some()) {
        Ok(i) => i,
        Err(e) => {
            log::error!("reload: {e}; keeping the old configuration");
            return;
        }
    };
    // Every log is opened again, so that files logrotate renamed are written anew.
    let vhost_error_logs = match logs::open_vhost_error_logs(&new) {
        Ok(v) => v,
        Err(e) => {
            log::error!("reload: {e}; keeping the old configuration");
            return;
        }
    };
    let error_log = match crate::logging::reopen(&new.error_log, inh.error_log_fd) {
        Ok(r) => r,
        Err(e) => {
            log::error!("reload: {e}; keeping the old configuration");
            return;
        }
    };
    match logs.open(&new) {
        Ok(l) => inh.access_logs = l,
        Err(e) => {
            log::error!("reload: {e}; keeping the old configuration");
            return;
        }
    }
    inh.vhost_error_logs = vhost_error_logs;
    if let Err(e) = error_log.install() {
        log::error!("reload: ErrorLog: {e}; it keeps writing to the file it had");
    }
    *cfg = new;
    reexec.set_image(image);
    retire_idle(pool);
    log::warn!("reloaded configuration from {}", cfg.file.display());
}

/// Idle children exit (SIGTERM is deliverable only while they wait to accept); those that
/// already accepted finish their connection.
fn retire_idle(pool: &mut Pool) {
    for pid in pool.idle_pids() {
        let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
        pool.mark_retiring(pid);
    }
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
        reap(
            pool,
            &mut Verifier::default(),
            &mut keyholder::KeyHolder::default(),
            &mut logs::Logs::default(),
        );
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
