//! A started program: its start (`sys::spawn`, its RLimit*), its pipes as the pump's
//! [`Peer`] (request-body bytes to its stdin, its stdout to the response framing, its
//! stderr to the error log; [`super::pump`] runs the loop, `CGIScriptTimeout` bounding no
//! progress), then its end: a short grace, SIGKILL to its whole process group, the reap.

use super::output::{End, Failures, LineLog, Output};
use super::pump::{read_ready, Interest, Peer, Relay, SLOTS};
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
    let mut x = Relay::new(tag, err, pending, out);
    let mut pipes = Pipes {
        pid: started.pid,
        stdin: Some(started.stdin),
        stdout: Some(started.stdout),
        stderr: Some(started.stderr),
    };
    let mut buf = vec![0u8; OUT_CHUNK];
    let end = x.pump(&mut pipes, timeout, conn, body, &mut buf);
    pipes.finish(x, conn, body, end)
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

/// A program's pipes as the pump's [`Peer`]: request-body bytes to its stdin, its stdout
/// to the response, its stderr to the error log.
struct Pipes {
    pid: i32,
    stdin: Option<File>,
    stdout: Option<File>,
    stderr: Option<File>,
}

impl Peer for Pipes {
    fn prepare(&mut self, x: &mut Relay, body_done: bool) -> Option<End> {
        if body_done && x.pending.is_empty() {
            self.stdin = None;
        }
        self.stdout.is_none().then_some(End::Output)
    }

    fn takes_body(&self) -> bool {
        self.stdin.is_some()
    }

    fn watches_client(&self) -> bool {
        false
    }

    fn interest(&self, x: &Relay) -> Interest<'_> {
        [
            (self.stdin.as_ref())
                .filter(|_| !x.pending.is_empty())
                .map(|f| (f.as_fd(), PollFlags::POLLOUT)),
            (self.stdout.as_ref()).map(|f| (f.as_fd(), PollFlags::POLLIN)),
            (self.stderr.as_ref()).map(|f| (f.as_fd(), PollFlags::POLLIN)),
        ]
    }

    fn ready(
        &mut self,
        x: &mut Relay,
        [in_ev, out_ev, err_ev]: [PollFlags; SLOTS],
        conn: &mut Conn,
        buf: &mut [u8],
        body_done: bool,
    ) -> Option<End> {
        if !err_ev.is_empty() {
            self.read_stderr(x, buf);
        }
        if !in_ev.is_empty() {
            self.write_stdin(x);
        }
        if !out_ev.is_empty() {
            return self.read_stdout(x, conn, buf, body_done);
        }
        None
    }
}

impl Pipes {
    fn write_stdin(&mut self, x: &mut Relay) {
        let Some(stdin) = self.stdin.as_mut() else {
            return;
        };
        match stdin.write(&x.pending) {
            Ok(n) => {
                x.pending.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // EPIPE: the program does not want (the rest of) the body.
                log::debug!("{}: stdin closed by the program: {e}", x.tag);
                self.stdin = None;
                x.pending.clear();
            }
        }
    }

    fn read_stderr(&mut self, x: &mut Relay, buf: &mut [u8]) {
        let Some(f) = self.stderr.as_mut() else {
            return;
        };
        match read_ready(f, buf) {
            None => {}
            Some(Ok(0)) => {
                self.stderr = None;
                x.err.flush();
            }
            Some(Ok(n)) => x.err.feed(&buf[..n]),
            Some(Err(_)) => self.stderr = None,
        }
    }

    /// `Some` when the loop must stop.
    fn read_stdout(
        &mut self,
        x: &mut Relay,
        conn: &mut Conn,
        buf: &mut [u8],
        body_done: bool,
    ) -> Option<End> {
        let f = self.stdout.as_mut()?;
        let n = match read_ready(f, buf)? {
            Ok(n) => n,
            Err(e) => {
                log::error!("{}: reading its output: {e}", x.tag);
                0
            }
        };
        if n == 0 {
            self.stdout = None;
            return Some(x.out.eof(conn, body_done));
        }
        let end = x.out.data(conn, &buf[..n], body_done);
        if end == Some(End::Output) {
            // A local redirect: nothing more is read from the program.
            self.stdout = None;
        }
        end
    }

    /// Ends the program (grace, then SIGKILL to its group, reap) and the response.
    fn finish(mut self, mut x: Relay, conn: &mut Conn, body: &BodyReader, end: End) -> Outcome {
        self.stdin = None;
        if end == End::Output {
            self.stdout = None;
            // The output has ended, so the response is complete: end a chunked body now rather
            // than after the program's exit grace below.
            x.out.end_chunked(conn);
            let until = Instant::now() + EXIT_GRACE;
            let mut buf = vec![0u8; OUT_CHUNK];
            while !spawn::has_exited(self.pid) && Instant::now() < until {
                match self.stderr.as_ref() {
                    Some(f) => {
                        let mut fds = [PollFd::new(f.as_fd(), PollFlags::POLLIN)];
                        let _ = nix::poll::poll(&mut fds, PollTimeout::from(50u8));
                        self.read_stderr(&mut x, &mut buf);
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
            x.err.feed(&rest);
        }
        x.err.flush();
        log::debug!("{}: pid {} {how}", x.tag, self.pid);

        if end == End::TimedOut {
            let after = if x.out.started() {
                " after the response began"
            } else {
                ""
            };
            log::error!(
                "{}: no progress within CGIScriptTimeout{after}; killed process group {}",
                x.tag,
                self.pid
            );
        }
        let complete = !x.body_failed && body.is_done();
        let fail = Failures {
            bad_header: 500,
            no_head: 500,
        };
        x.out.conclude(conn, end, complete, fail)
    }
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
}
