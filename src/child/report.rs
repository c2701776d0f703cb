//! What a child tells the master over the status pipe after it has accepted: that its request
//! head is complete, and whether its log writes fail or work again. A full disk then costs the
//! error log one line per failure streak (written by the master), not one per request.
//!
//! Process-global because log writes happen deep inside the logger and the access-log writer;
//! a child is single-threaded, and the master never installs a reporter, so there a failure is
//! logged directly.

use crate::handoff::status::{Event, FailingLogs, LogId, Message};
use std::collections::BTreeSet;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, OnceLock};

struct Reporter {
    /// The child's own duplicate of the status pipe's write end (close-on-exec, so a program a
    /// handler executes never holds it).
    status: OwnedFd,
    /// Logs the master knew to be failing when it forked this child.
    failing: FailingLogs,
    /// Logs this child already reported on, so a keep-alive connection reports once.
    said: Mutex<BTreeSet<LogId>>,
}

static REPORTER: OnceLock<Reporter> = OnceLock::new();

/// Starts reporting through `status`. Returns its descriptor, which the child must keep open.
pub fn install(status: OwnedFd, failing: FailingLogs) -> RawFd {
    let fd = status.as_raw_fd();
    let _ = REPORTER.set(Reporter {
        status,
        failing,
        said: Mutex::new(BTreeSet::new()),
    });
    fd
}

/// Sends one event to the master; a full or closed pipe is not worth failing a request for.
pub fn send(event: Event) {
    if let Some(r) = REPORTER.get() {
        let msg = Message {
            pid: std::process::id() as i32,
            event,
        };
        let _ = nix::unistd::write(&r.status, &msg.encode());
    }
}

/// Records the outcome of one write to `log`. Must not itself log: it runs inside the logger.
pub fn log_write(log: LogId, outcome: &io::Result<()>) {
    let Some(r) = REPORTER.get() else {
        if let (Err(e), LogId::Access(i)) = (outcome, log) {
            log::error!("access log #{i} write failed: {e}");
        }
        return;
    };
    let event = match outcome {
        Err(e) => Event::LogFailed {
            log,
            errno: e.raw_os_error().unwrap_or(0),
        },
        Ok(()) if r.failing.is_failing(log) => Event::LogRecovered { log },
        Ok(()) => return,
    };
    let first = r.said.lock().map(|mut s| s.insert(log)).unwrap_or(false);
    if first {
        send(event);
    }
}
