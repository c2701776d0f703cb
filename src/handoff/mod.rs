//! The contract across the fork: what the master hands a child and what each side may expect
//! of the other. The master (`crate::master`) and the child (`crate::child`) both depend on this
//! module and on nothing of each other, except the master calling `child::run`:
//! - [`Inherited`]: the descriptors a child inherits (listeners, the status pipe's write end,
//!   the logs the master opened) and the identity it drops to;
//! - the signals: [`handled_signals`] (the master's; children reset the others) and
//!   [`RECLAIM_SIGNAL`], received by a child only through [`reclaim_signalfd`];
//! - [`status`]: the status-pipe protocol, the only bytes a child sends the master;
//! - [`tls`]: a child's one-signature channel to the key holder, from fork to handshake;
//! - [`isolation`]: the namespaces, tmpfs mounts and keyring every child of a configuration
//!   enters before it reads a byte, which the master checks the kernel grants at start;
//! - [`vhost_slots`]: a child's `MaxClientsVHost` claim channel, from fork to confinement.

pub mod isolation;
pub mod status;
pub mod tls;
pub mod vhost_slots;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use socket2::Socket;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;

/// Everything a child inherits from the master, owned so that dropping it closes it.
pub struct Inherited {
    pub listeners: Vec<Socket>,
    /// Write end of the status pipe: a child writes its pid here once it has accepted.
    pub status: OwnedFd,
    /// Access log files opened by the master, one per CustomLog, with their formats.
    pub access_logs: Vec<(File, crate::config::LogFormat)>,
    /// Descriptor of the error log file (owned by the global logger), if not stderr.
    pub error_log_fd: Option<std::os::fd::RawFd>,
    /// `ErrorLog` files of virtual hosts, in `Config::vhost_error_logs` order.
    pub vhost_error_logs: Vec<std::sync::Arc<File>>,
    /// With a root master: the `User`/`Group` identity children drop to before reading a byte.
    pub worker: Option<crate::sandbox::UnixIdentity>,
    /// Logs known to fail when the child was forked: its first good write to one ends the streak.
    pub failing_logs: status::FailingLogs,
}

/// What the master sends a child that is still reading its request head when every slot is
/// held: "close without serving". Blocked from birth (children inherit the master's mask), so it
/// can only be received through [`reclaim_signalfd`], which a child stops watching once its head
/// is complete: a child that is serving is never interrupted.
pub const RECLAIM_SIGNAL: Signal = Signal::SIGUSR1;

/// The descriptor a child polls for [`RECLAIM_SIGNAL`] while it reads its first head.
pub fn reclaim_signalfd() -> io::Result<SignalFd> {
    let mut s = SigSet::empty();
    s.add(RECLAIM_SIGNAL);
    SignalFd::with_flags(&s, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(io::Error::from)
}

/// The signals the master handles (and [`RECLAIM_SIGNAL`], which it only blocks so that
/// children inherit it blocked); children reset the others (see `child::accept`).
pub fn handled_signals() -> SigSet {
    let mut s = SigSet::empty();
    for sig in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        RECLAIM_SIGNAL,
    ] {
        s.add(sig);
    }
    s
}
