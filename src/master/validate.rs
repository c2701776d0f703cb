//! I9, the master survives a reload: the new configuration is read and validated in a
//! short-lived forked process, never in the master itself. Whatever the configuration
//! reader does with the new files (a panic, which aborts in the release profile; a hang in
//! the name service while resolving a user), it does it in that process: the master waits a
//! bounded time, and on any failure keeps the configuration it runs.
//!
//! On success the checker sends the validated [`Config`] back through the pipe (as JSON, the
//! form `ReexecChildren` already hands configurations to children in), so the master adopts
//! exactly what was checked and never reads the files a second time.

use crate::config::Config;
use crate::sys::{child_exit, fork, ForkResult};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a configuration check may take before it is killed and the reload refused.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// What the checker writes to the pipe.
#[derive(serde::Serialize, serde::Deserialize)]
enum Report {
    Valid(Box<Config>),
    Invalid(Vec<String>),
}

/// Loads `file` (plus the `-c` directives) in a forked checker. `Err` holds the lines to log:
/// the configuration's own errors (`FILE:LINE: ...`), or why the check itself failed.
pub fn load_in_child(
    file: &Path,
    defines: &[String],
    extra: &[String],
    timeout: Duration,
) -> Result<Config, Vec<String>> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| vec![format!("cannot check the new configuration: pipe: {e}")])?;
    match fork() {
        Err(e) => Err(vec![format!(
            "cannot check the new configuration: fork: {e}"
        )]),
        Ok(ForkResult::Child) => {
            drop(r);
            let code = check(file, defines, extra, w);
            child_exit(code)
        }
        Ok(ForkResult::Parent { child }) => {
            drop(w);
            collect(child, r, timeout)
        }
    }
}

/// The checker's whole life: load, report, exit code.
fn check(file: &Path, defines: &[String], extra: &[String], w: OwnedFd) -> i32 {
    let report = match std::panic::catch_unwind(|| crate::config::load_with(file, defines, extra)) {
        Ok(Ok(cfg)) => Report::Valid(Box::new(cfg)),
        Ok(Err(errors)) => Report::Invalid(errors.iter().map(|e| e.to_string()).collect()),
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Report::Invalid(vec![format!(
                "the configuration reader panicked ({what}); this is a bug, please report it with the configuration"
            )])
        }
    };
    let Ok(bytes) = serde_json::to_vec(&report) else {
        return 2;
    };
    match File::from(w).write_all(&bytes) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// The master's side: read the report until EOF or the deadline, then reap the checker.
fn collect(child: Pid, r: OwnedFd, timeout: Duration) -> Result<Config, Vec<String>> {
    let deadline = Instant::now() + timeout;
    let read = read_until(&r, deadline);
    if read.is_err() {
        // Timed out or the pipe failed: the checker must not outlive this call.
        let _ = kill(child, Signal::SIGKILL);
    }
    let status = loop {
        match waitpid(child, None) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => break other,
        }
    };
    let bytes = read.map_err(|e| {
        vec![if e.kind() == io::ErrorKind::TimedOut {
            format!(
                "the configuration check took longer than {} s and was killed",
                timeout.as_secs()
            )
        } else {
            format!("cannot read the configuration check's report: {e}")
        }]
    })?;
    match status {
        Ok(WaitStatus::Exited(_, 0)) => {}
        Ok(WaitStatus::Signaled(_, sig, _)) => {
            return Err(vec![format!(
                "the configuration check died by signal {sig} (a crash while reading the new configuration)"
            )])
        }
        Ok(other) => return Err(vec![format!("the configuration check ended with {other:?}")]),
        Err(e) => return Err(vec![format!("cannot reap the configuration check: {e}")]),
    }
    match serde_json::from_slice::<Report>(&bytes) {
        Ok(Report::Valid(cfg)) => Ok(*cfg),
        Ok(Report::Invalid(errors)) => Err(errors),
        Err(e) => Err(vec![format!(
            "the configuration check sent an unreadable report: {e}"
        )]),
    }
}

fn read_until(r: &OwnedFd, deadline: Instant) -> io::Result<Vec<u8>> {
    crate::sys::spawn::set_nonblocking(r.as_fd())?;
    let mut file = File::from(r.try_clone()?);
    let mut out = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
                let mut fds = [nix::poll::PollFd::new(
                    r.as_fd(),
                    nix::poll::PollFlags::POLLIN,
                )];
                match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e),
        }
    }
}
