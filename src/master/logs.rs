//! The logs the master opens for its children: `CustomLog` files (O_APPEND), piped logs (a
//! program the master starts with a pipe on its stdin, restarted when it dies), the error logs
//! of virtual hosts, and opening all of them again on reload so that logrotate's renames take
//! effect.
//!
//! A piped log is started once per distinct command, as the master's user (Apache runs them
//! as the user that started it), and outlives reloads that keep the command. The master keeps
//! the pipe's read end, so a restarted program reads what children wrote while it was down,
//! and children never see EPIPE. The write end is non-blocking with a 1 MiB buffer: a program
//! that stops reading costs lines (each failure is reported once per streak, see
//! `status::FailingLogs`), never a child hanging in write(2).

use super::MasterError;
use crate::config::{Config, LogDest, LogFormat};
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::unistd::Pid;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a piped log program that died waits before it is started again.
const RESTART_DELAY: Duration = Duration::from_secs(1);

/// One piped log program and its pipe.
#[derive(Debug)]
struct Piped {
    command: String,
    shell: bool,
    read: OwnedFd,
    write: File,
    pid: Option<Pid>,
    /// When a dead program may be started again.
    retry_at: Option<Instant>,
}

/// The master's piped log programs.
#[derive(Debug, Default)]
pub struct Logs {
    pipes: Vec<Piped>,
    /// Programs of pipes a reload dropped: they end on EOF once the last child holding the
    /// pipe is gone; until they are reaped they are not strays.
    retired: Vec<Pid>,
}

impl Logs {
    /// Opens every `CustomLog` of `cfg`, in order. Files are opened anew; a pipe whose command
    /// already runs is kept, a new one is started. On error nothing changes.
    pub fn open(&mut self, cfg: &Config) -> Result<Vec<(File, LogFormat)>, MasterError> {
        let mut fresh: Vec<Piped> = Vec::new();
        let mut out = Vec::new();
        for l in &cfg.custom_logs {
            let file = match &l.dest {
                LogDest::File(path) => crate::logging::open_append(path)
                    .map_err(|e| fail("CustomLog", format!("{}: {e}", path.display()), e.kind()))?,
                LogDest::Pipe { command, shell } => {
                    let known = |p: &&Piped| p.command == *command && p.shell == *shell;
                    let p = match self.pipes.iter().chain(fresh.iter()).find(known) {
                        Some(p) => p,
                        None => {
                            let p = Piped::start(command, *shell).map_err(|e| {
                                fail("CustomLog", format!("{}: {e}", l.dest), e.kind())
                            })?;
                            fresh.push(p);
                            fresh.last().ok_or_else(|| {
                                fail("CustomLog", "no pipe".into(), io::ErrorKind::Other)
                            })?
                        }
                    };
                    p.write
                        .try_clone()
                        .map_err(|e| fail("CustomLog", format!("{}: {e}", l.dest), e.kind()))?
                }
            };
            out.push((file, l.format.clone()));
        }
        // Committed: pipes the configuration no longer names are let go.
        let wanted = |p: &Piped| {
            cfg.custom_logs.iter().any(|l| {
                matches!(&l.dest, LogDest::Pipe { command, shell } if *command == p.command && *shell == p.shell)
            })
        };
        let (keep, drop): (Vec<Piped>, Vec<Piped>) = std::mem::take(&mut self.pipes)
            .into_iter()
            .partition(wanted);
        for p in drop {
            log::info!("piped log |{} is no longer configured; it ends when the children writing to it are gone", p.command);
            self.retired.extend(p.pid);
        }
        self.pipes = keep;
        self.pipes.extend(fresh);
        Ok(out)
    }

    /// Whether `pid` is one of the piped log programs (running or retired).
    pub fn is_logger(&self, pid: Pid) -> bool {
        self.pipes.iter().any(|p| p.pid == Some(pid)) || self.retired.contains(&pid)
    }

    /// A child of the master exited: if it was a log program, it is restarted soon. Returns
    /// whether it was one.
    pub fn reaped(&mut self, pid: Pid, how: &str) -> bool {
        if let Some(i) = self.retired.iter().position(|&p| p == pid) {
            self.retired.swap_remove(i);
            return true;
        }
        let Some(p) = self.pipes.iter_mut().find(|p| p.pid == Some(pid)) else {
            return false;
        };
        log::error!(
            "piped log |{} (pid {pid}) exited ({how}); starting it again in {}s",
            p.command,
            RESTART_DELAY.as_secs()
        );
        p.pid = None;
        p.retry_at = Some(Instant::now() + RESTART_DELAY);
        true
    }

    /// Starts again the programs that died, once their delay is over.
    pub fn ensure(&mut self) {
        let now = Instant::now();
        for p in &mut self.pipes {
            if p.pid.is_some() || p.retry_at.is_some_and(|t| now < t) {
                continue;
            }
            match p.spawn() {
                Ok(pid) => {
                    log::warn!("piped log |{} started again (pid {pid})", p.command);
                    p.pid = Some(pid);
                    p.retry_at = None;
                }
                Err(e) => {
                    log::error!("piped log |{}: cannot start it: {e}", p.command);
                    p.retry_at = Some(now + RESTART_DELAY);
                }
            }
        }
    }

    /// Whether some dead program waits for its restart (the master then wakes up for it).
    pub fn restart_pending(&self) -> bool {
        self.pipes.iter().any(|p| p.pid.is_none())
    }

    /// At stop, after the children are gone: closes the pipes so each program reads EOF and
    /// ends; one still running after `grace` gets SIGTERM.
    pub fn stop(&mut self, grace: Duration) {
        let pids: Vec<Pid> = self
            .pipes
            .iter()
            .filter_map(|p| p.pid)
            .chain(self.retired.iter().copied())
            .collect();
        self.pipes.clear();
        self.retired.clear();
        let deadline = Instant::now() + grace;
        for pid in pids {
            use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
            loop {
                match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    Ok(WaitStatus::StillAlive) => {
                        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
                        let _ = waitpid(pid, None);
                        break;
                    }
                    _ => break,
                }
            }
        }
    }
}

impl Piped {
    fn start(command: &str, shell: bool) -> io::Result<Piped> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        // A bigger buffer rides out a slow program; failing is harmless (the default stays).
        let _ = fcntl(write.as_raw_fd(), FcntlArg::F_SETPIPE_SZ(1 << 20));
        fcntl(write.as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
        let mut p = Piped {
            command: command.to_string(),
            shell,
            read,
            write: File::from(write),
            pid: None,
            retry_at: None,
        };
        let pid = p.spawn()?;
        log::info!("piped log |{command} started (pid {pid})");
        p.pid = Some(pid);
        Ok(p)
    }

    /// The program with the pipe as its stdin; stdout and stderr are the master's.
    fn spawn(&self) -> io::Result<Pid> {
        let mut c = if self.shell {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(&self.command);
            c
        } else {
            let argv = shlex::split(&self.command)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| io::Error::other("unbalanced quotes"))?;
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        };
        c.stdin(Stdio::from(self.read.try_clone()?));
        let child = c.spawn()?;
        let pid = i32::try_from(child.id()).map_err(io::Error::other)?;
        // Reaped by the master's waitpid loop, not through `child`.
        drop(child);
        Ok(Pid::from_raw(pid))
    }
}

/// Opens the `ErrorLog` files of virtual hosts (`Config::vhost_error_logs`).
pub fn open_vhost_error_logs(cfg: &Config) -> Result<Vec<Arc<File>>, MasterError> {
    cfg.vhost_error_logs
        .iter()
        .map(|p| {
            crate::logging::open_append(p)
                .map(Arc::new)
                .map_err(|e| fail("ErrorLog", format!("{}: {e}", p.display()), e.kind()))
        })
        .collect()
}

fn fail(what: &'static str, msg: String, kind: io::ErrorKind) -> MasterError {
    MasterError::Setup {
        what,
        source: io::Error::new(kind, msg),
    }
}
