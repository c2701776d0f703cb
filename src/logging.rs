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
    let (target, fd) = match file {
        None => (env_logger::Target::Stderr, None),
        Some(f) => {
            let fd = f.as_raw_fd();
            (env_logger::Target::Pipe(Box::new(Reporting(f))), Some(fd))
        }
    };
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

/// The error log file, telling the child's reporter whether each write worked: env_logger
/// drops write errors, and a child cannot log that its error log is full.
struct Reporting(File);

impl Write for Reporting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.0.write(buf);
        let outcome = match &r {
            Ok(_) => Ok(()),
            Err(e) => Err(io::Error::from_raw_os_error(
                e.raw_os_error().unwrap_or(libc::EIO),
            )),
        };
        crate::child::report::log_write(crate::master::status::LogId::Error, &outcome);
        r
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
