//! The exchange with a started program: bytes from the client's request body to its stdin,
//! from its stdout to the response framing ([`super::output`]), its stderr to the error log,
//! with bounded buffers, one poll loop and `CGIScriptTimeout` as the bound on no progress;
//! then its end: a short grace, SIGKILL to its whole process group, the reap.

use super::output::{End, Failures, LineLog, Output};
use super::{Outcome, Script};
use crate::config::VHost;
use crate::http::body::BodyReader;
use crate::http::read::Conn;
use crate::sys::spawn::{self, SpawnSpec};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// Request-body bytes held for the program's stdin at a time.
const STDIN_BUF: usize = 64 * 1024;
/// Bytes read from the program's stdout or stderr per call.
pub(super) const OUT_CHUNK: usize = 64 * 1024;
/// How long a program whose output has ended may take to exit before its group is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// Runs the exchange with a started program to its end and concludes the response.
/// `pending`: request-body bytes already read for its stdin (a decoded chunked body).
pub(super) fn exchange(
    tag: String,
    started: Started,
    pending: Vec<u8>,
    out: Output,
    timeout: Duration,
    conn: &mut Conn,
    body: &mut BodyReader,
) -> Outcome {
    let err = LineLog::new(format!("{tag} pid {}", started.pid));
    let mut x = Exchange {
        tag,
        pid: started.pid,
        stdin: Some(started.stdin),
        stdout: Some(started.stdout),
        stderr: Some(started.stderr),
        pending,
        out,
        err,
        body_failed: false,
    };
    let end = x.pump(timeout, conn, body);
    x.finish(conn, body, end)
}

/// A started program: its pid (leader of its own process group) and our ends of its pipes.
pub(super) struct Started {
    pub(super) pid: i32,
    stdin: File,
    stdout: File,
    stderr: File,
}

/// The vhost's RLimit* for a program, resolved against this process's current limits:
/// `max` and an absent hard limit mean the current hard limit, which is never raised.
fn program_limits(vhost: &VHost) -> io::Result<Vec<(libc::__rlimit_resource_t, u64, u64)>> {
    use crate::config::harden::{Limit, RLimit, DEFAULT_NPROC_IN_USERNS};
    use nix::sys::resource::{getrlimit, Resource};
    let l = &vhost.harden.limits;
    let nproc = l.nproc.or_else(|| {
        crate::sandbox::own_user_ns().then_some(RLimit {
            soft: Limit::Value(DEFAULT_NPROC_IN_USERNS),
            hard: Some(Limit::Value(DEFAULT_NPROC_IN_USERNS)),
        })
    });
    let wanted = [
        (libc::RLIMIT_CPU, Resource::RLIMIT_CPU, l.cpu),
        (libc::RLIMIT_AS, Resource::RLIMIT_AS, l.mem),
        (libc::RLIMIT_NPROC, Resource::RLIMIT_NPROC, nproc),
    ];
    let mut out = Vec::new();
    for (raw, resource, limit) in wanted {
        let Some(limit) = limit else { continue };
        let (_, cur_hard) = getrlimit(resource)?;
        let value = |l: Limit| match l {
            Limit::Value(v) => v.min(cur_hard),
            Limit::Max => cur_hard,
        };
        let hard = limit.hard.map_or(cur_hard, value);
        let soft = value(limit.soft).min(hard);
        out.push((raw, soft, hard));
    }
    Ok(out)
}

/// Starts the program (`sys::spawn`: own process group, only fds 0-2, exec'd relative to its
/// directory after re-checking device and inode), our pipe ends non-blocking.
pub(super) fn start(
    vhost: &VHost,
    script: &Script,
    env: Vec<Vec<u8>>,
) -> Result<Started, spawn::SpawnError> {
    let prep = |e: io::Error| spawn::SpawnError::Prepare(e);
    let (in_r, in_w) = spawn::pipe().map_err(prep)?;
    let (out_r, out_w) = spawn::pipe().map_err(prep)?;
    let (err_r, err_w) = spawn::pipe().map_err(prep)?;
    // Only our ends are non-blocking (each pipe end is its own open file description); set
    // before the spawn so no failure can leave a started program without its reaper.
    for fd in [&in_w, &out_r, &err_r] {
        spawn::set_nonblocking(fd.as_fd()).map_err(prep)?;
    }
    let cstr = |b: Vec<u8>| CString::new(b).map_err(|e| prep(io::Error::other(e)));
    let name = cstr(script.name.clone().into_bytes())?;
    let envp = env.into_iter().map(cstr).collect::<Result<Vec<_>, _>>()?;
    let pid = spawn::spawn(SpawnSpec {
        dir: script.dir.as_fd(),
        name: name.clone(),
        expect: script.dev_ino,
        argv: vec![name],
        envp,
        stdin: in_r,
        stdout: out_w,
        stderr: err_w,
        rlimits: program_limits(vhost).map_err(prep)?,
        pid_ns: crate::sandbox::programs_in_pid_ns(),
    })?;
    Ok(Started {
        pid,
        stdin: in_w.into(),
        stdout: out_r.into(),
        stderr: err_r.into(),
    })
}

struct Exchange {
    tag: String,
    pid: i32,
    stdin: Option<File>,
    stdout: Option<File>,
    stderr: Option<File>,
    /// Request-body bytes waiting for the program's stdin.
    pending: Vec<u8>,
    out: Output,
    err: LineLog,
    /// The request body was not read to its end: the connection is out of step.
    body_failed: bool,
}

impl Exchange {
    fn pump(&mut self, timeout: Duration, conn: &mut Conn, body: &mut BodyReader) -> End {
        let mut progress = Instant::now();
        let mut buf = vec![0u8; OUT_CHUNK];
        loop {
            if body.is_done() && self.pending.is_empty() {
                self.stdin = None;
            }
            if self.stdout.is_none() {
                return End::Output;
            }
            let want_client =
                self.stdin.is_some() && !body.is_done() && self.pending.len() < STDIN_BUF;
            if want_client && !conn.buf.is_empty() {
                if let Err(e) = self.read_body(conn, body) {
                    return e;
                }
                progress = Instant::now();
                continue;
            }
            let now = Instant::now();
            let left = (progress + timeout).saturating_duration_since(now);
            if left.is_zero() {
                return End::TimedOut;
            }
            if let Some(end) = self.out.due(conn, now, body.is_done()) {
                return end;
            }
            // The client's body has its own, usually shorter, deadline (RequestReadTimeout
            // body=): past it, reading reports the 408 instead of waiting for the program's.
            let body_left = body
                .deadline()
                .filter(|_| want_client)
                .map(|d| d.saturating_duration_since(now));
            if body_left.is_some_and(|l| l.is_zero()) {
                if let Err(e) = self.read_body(conn, body) {
                    return e;
                }
            }
            let left = body_left.map_or(left, |l| l.max(Duration::from_millis(1)).min(left));
            let left = match self.out.hold_until() {
                Some(until) => until
                    .saturating_duration_since(now)
                    .max(Duration::from_millis(1))
                    .min(left),
                None => left,
            };
            let (client_ev, in_ev, out_ev, err_ev) = {
                let mut fds: Vec<PollFd> = Vec::with_capacity(4);
                let c = slot(
                    &mut fds,
                    want_client.then(|| conn.stream.as_fd()),
                    PollFlags::POLLIN,
                );
                let i = slot(
                    &mut fds,
                    self.stdin
                        .as_ref()
                        .filter(|_| !self.pending.is_empty())
                        .map(|f| f.as_fd()),
                    PollFlags::POLLOUT,
                );
                let o = slot(
                    &mut fds,
                    self.stdout.as_ref().map(|f| f.as_fd()),
                    PollFlags::POLLIN,
                );
                let e = slot(
                    &mut fds,
                    self.stderr.as_ref().map(|f| f.as_fd()),
                    PollFlags::POLLIN,
                );
                let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
                match nix::poll::poll(
                    &mut fds,
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
                ) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => {
                        log::error!("{}: poll: {e}", self.tag);
                        return End::ClientGone;
                    }
                }
                let ready = |i: Option<usize>| {
                    i.and_then(|i| fds[i].revents())
                        .is_some_and(|r| !r.is_empty())
                };
                (ready(c), ready(i), ready(o), ready(e))
            };
            if err_ev {
                self.read_stderr(&mut buf);
                progress = Instant::now();
            }
            if client_ev {
                if let Err(e) = self.read_body(conn, body) {
                    return e;
                }
                progress = Instant::now();
            }
            if in_ev {
                self.write_stdin();
                progress = Instant::now();
            }
            if out_ev {
                progress = Instant::now();
                if let Some(end) = self.read_stdout(conn, &mut buf, body.is_done()) {
                    return end;
                }
            }
        }
    }

    fn read_body(&mut self, conn: &mut Conn, body: &mut BodyReader) -> Result<(), End> {
        let room = STDIN_BUF - self.pending.len();
        match body.read_some(conn, &mut self.pending, room) {
            Ok(()) => Ok(()),
            Err(e) => {
                log::info!("{}: request body: {e}", self.tag);
                self.body_failed = true;
                Err(End::Body(e.status()))
            }
        }
    }

    fn write_stdin(&mut self) {
        let Some(stdin) = self.stdin.as_mut() else {
            return;
        };
        match stdin.write(&self.pending) {
            Ok(n) => {
                self.pending.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // EPIPE: the program does not want (the rest of) the body.
                log::debug!("{}: stdin closed by the program: {e}", self.tag);
                self.stdin = None;
                self.pending.clear();
            }
        }
    }

    fn read_stderr(&mut self, buf: &mut [u8]) {
        let Some(f) = self.stderr.as_mut() else {
            return;
        };
        match f.read(buf) {
            Ok(0) => {
                self.stderr = None;
                self.err.flush();
            }
            Ok(n) => self.err.feed(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => self.stderr = None,
        }
    }

    /// `Some` when the loop must stop.
    fn read_stdout(&mut self, conn: &mut Conn, buf: &mut [u8], body_done: bool) -> Option<End> {
        let f = self.stdout.as_mut()?;
        let n = match f.read(buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return None
            }
            Err(e) => {
                log::error!("{}: reading its output: {e}", self.tag);
                0
            }
        };
        if n == 0 {
            self.stdout = None;
            return Some(self.out.eof(conn, body_done));
        }
        let end = self.out.data(conn, &buf[..n], body_done);
        if end == Some(End::Output) {
            // A local redirect: nothing more is read from the program.
            self.stdout = None;
        }
        end
    }

    /// Ends the program (grace, then SIGKILL to its group, reap) and the response.
    fn finish(mut self, conn: &mut Conn, body: &BodyReader, end: End) -> Outcome {
        self.stdin = None;
        if end == End::Output {
            self.stdout = None;
            // The output has ended, so the response is complete: end a chunked body now rather
            // than after the program's exit grace below.
            self.out.end_chunked(conn);
            let until = Instant::now() + EXIT_GRACE;
            let mut buf = vec![0u8; OUT_CHUNK];
            while !spawn::has_exited(self.pid) && Instant::now() < until {
                match self.stderr.as_ref() {
                    Some(f) => {
                        let mut fds = [PollFd::new(f.as_fd(), PollFlags::POLLIN)];
                        let _ = nix::poll::poll(&mut fds, PollTimeout::from(50u8));
                        self.read_stderr(&mut buf);
                    }
                    None => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }
        // Whatever is left of the group (the program, or anything it started) dies now.
        let _ = spawn::kill_group(self.pid);
        let how = spawn::reap(self.pid);
        spawn::reap_group(self.pid);
        if let Some(f) = self.stderr.take() {
            let mut rest = Vec::new();
            let _ = (&f).take(64 * 1024).read_to_end(&mut rest);
            self.err.feed(&rest);
        }
        self.err.flush();
        log::debug!("{}: pid {} {how}", self.tag, self.pid);

        if end == End::TimedOut {
            let after = if self.out.started() {
                " after the response began"
            } else {
                ""
            };
            log::error!(
                "{}: no progress within CGIScriptTimeout{after}; killed process group {}",
                self.tag,
                self.pid
            );
        }
        let complete = !self.body_failed && body.is_done();
        let fail = Failures {
            bad_header: 500,
            no_head: 500,
        };
        self.out.conclude(conn, end, complete, fail)
    }
}

/// Adds `fd` (if any) to the poll set; its index there.
fn slot<'a>(
    fds: &mut Vec<PollFd<'a>>,
    fd: Option<std::os::fd::BorrowedFd<'a>>,
    ev: PollFlags,
) -> Option<usize> {
    fds.push(PollFd::new(fd?, ev));
    Some(fds.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vhost_limits(extra: &str) -> Vec<(libc::__rlimit_resource_t, u64, u64)> {
        let dir = std::env::temp_dir();
        let text = format!("Listen 8080\nDocumentRoot /srv\n{extra}");
        let nodes = crate::config::parse::parse(&text, &dir.join("t.conf")).expect("parse");
        let cfg = crate::config::build::build(&nodes, &dir.join("t.conf")).expect("build");
        program_limits(&cfg.vhosts[0]).expect("getrlimit")
    }

    /// Apache's RLimitCPU: soft and hard seconds, `max` meaning the current hard limit, never
    /// raised; the default is `60 120` (docs/configuration.md).
    #[test]
    fn program_limits_follow_rlimit_directives() {
        let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_CPU)
            .expect("getrlimit");
        let cpu = |l: &[(libc::__rlimit_resource_t, u64, u64)]| {
            l.iter()
                .find(|(r, _, _)| *r == libc::RLIMIT_CPU)
                .map(|&(_, s, h)| (s, h))
        };
        assert_eq!(cpu(&vhost_limits("")), Some((60.min(hard), 120.min(hard))));
        assert_eq!(
            cpu(&vhost_limits("RLimitCPU 5 10\n")),
            Some((5.min(hard), 10.min(hard)))
        );
        assert_eq!(cpu(&vhost_limits("RLimitCPU max\n")), Some((hard, hard)));
    }

    #[test]
    fn slot_indexes_only_present_descriptors() {
        let (a, b) = spawn::pipe().expect("pipe");
        let mut fds = Vec::new();
        assert_eq!(slot(&mut fds, None, PollFlags::POLLIN), None);
        assert_eq!(slot(&mut fds, Some(a.as_fd()), PollFlags::POLLIN), Some(0));
        assert_eq!(slot(&mut fds, None, PollFlags::POLLOUT), None);
        assert_eq!(slot(&mut fds, Some(b.as_fd()), PollFlags::POLLOUT), Some(1));
        assert_eq!(fds.len(), 2);
    }
}
