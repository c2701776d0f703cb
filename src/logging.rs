//! The error log: `log` + `env_logger`, formatted as Apache formats its error log, written to
//! a descriptor the master opened. Children inherit it and keep it across confinement,
//! because logs are never reopened after a privilege drop.

use crate::config::{Config, LogTarget};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::SystemTime;

/// Opens a log file for appending, creating it 0640 if needed.
pub fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

/// Installs the global logger. Returns the descriptor children must keep open.
pub fn init(cfg: &Config) -> io::Result<Option<RawFd>> {
    let file = match &cfg.error_log {
        LogTarget::Stderr => None,
        LogTarget::File(p) => Some(
            open_append(p)
                .map_err(|e| io::Error::new(e.kind(), format!("ErrorLog {}: {e}", p.display())))?,
        ),
    };
    install(cfg, file)
}

/// Installs the global logger writing to `file` (the ErrorLog the master opened), or to stderr.
/// A re-executed child calls this with the descriptor it inherited.
pub fn install(cfg: &Config, file: Option<File>) -> io::Result<Option<RawFd>> {
    let fd = file.as_ref().map(|f| f.as_raw_fd());
    let target = env_logger::Target::Pipe(Box::new(Reporting(file)));
    let mut b = env_logger::Builder::new();
    b.filter_level(cfg.log_level)
        .target(target)
        .format(|buf, rec| {
            let target = rec.target().split("::").nth(1).unwrap_or("core");
            writeln!(
                buf,
                "[{}] [{}:{}] [pid {}] {}",
                crate::http::date::error_log(SystemTime::now()),
                target,
                rec.level().as_str().to_ascii_lowercase(),
                std::process::id(),
                rec.args()
            )
        });
    // RUST_LOG may raise verbosity for debugging; LogLevel stays the default.
    if let Ok(s) = std::env::var("RUST_LOG") {
        b.parse_filters(&s);
    }
    b.try_init().map_err(|e| io::Error::other(e.to_string()))?;
    Ok(fd)
}

/// The `ErrorLog` file opened again, to be put in place by [`Reopened::install`] once the
/// rest of a reload succeeded (opening has no effect on what is logged until then).
pub struct Reopened(Option<(File, RawFd)>);

/// Opens the `ErrorLog` file again for the descriptor the logger (and every later child)
/// writes to, so that a reload after logrotate renamed it writes a new file. `fd` is the
/// descriptor `init` returned. Between stderr and a file there is no such switch.
pub fn reopen(target: &LogTarget, fd: Option<RawFd>) -> io::Result<Reopened> {
    match (target, fd) {
        (LogTarget::Stderr, None) => Ok(Reopened(None)),
        (LogTarget::File(p), Some(fd)) => open_append(p)
            .map(|f| Reopened(Some((f, fd))))
            .map_err(|e| io::Error::new(e.kind(), format!("ErrorLog {}: {e}", p.display()))),
        _ => Err(io::Error::other(
            "ErrorLog changed between stderr and a file: restart the server to change it",
        )),
    }
}

impl Reopened {
    /// dup2 swaps what the descriptor names in one step; close-on-exec is per descriptor.
    pub fn install(self) -> io::Result<()> {
        if let Some((new, fd)) = self.0 {
            nix::unistd::dup2(new.as_raw_fd(), fd)?;
            nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )?;
        }
        Ok(())
    }
}

/// The error log of the virtual host the current request selected (a child sets it; `None`:
/// the server's).
static VHOST_LOG: std::sync::Mutex<Option<std::sync::Arc<File>>> = std::sync::Mutex::new(None);

/// From now on, this process's error lines go to `file` (a virtual host's `ErrorLog`), or to
/// the server's error log for `None`.
pub fn route(file: Option<std::sync::Arc<File>>) {
    if let Ok(mut v) = VHOST_LOG.lock() {
        *v = file;
    }
}

/// The error log file, telling the child's reporter whether each write worked: env_logger
/// drops write errors, and a child cannot log that its error log is full.
struct Reporting(Option<File>);

impl Write for Reporting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let routed = VHOST_LOG.lock().ok().and_then(|v| v.clone());
        let r = match (routed, &mut self.0) {
            (Some(f), _) => (&*f).write(buf),
            (None, Some(f)) => f.write(buf),
            // stderr: nobody to report a failure to but stderr itself.
            (None, None) => return io::stderr().write(buf),
        };
        let outcome = match &r {
            Ok(_) => Ok(()),
            Err(e) => Err(io::Error::from_raw_os_error(
                e.raw_os_error().unwrap_or(libc::EIO),
            )),
        };
        crate::child::report::log_write(crate::handoff::status::LogId::Error, &outcome);
        r
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.0 {
            Some(f) => f.flush(),
            None => io::stderr().flush(),
        }
    }
}
