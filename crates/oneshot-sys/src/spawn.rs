//! Starting a CGI program: fork + exec from the (single-threaded, already confined) server
//! child, so the program inherits the confinement — uid/gid, Landlock domain, SELinux context,
//! no_new_privs — and nothing else.
//!
//! Invariants:
//! - The program leads its own process group (set by both sides of the fork, so a kill of
//!   the group can never miss it), which is how a timeout kills everything it started.
//! - Exactly descriptors 0, 1 and 2 are open in it: the three pipe ends given; everything else
//!   is closed before exec.
//! - It runs in its own directory and is exec'd by a path relative to it, after checking that
//!   the name still refers to the file (device and inode) that was checked before the fork.
//! - Signal dispositions and the signal mask are reset: the server blocks and ignores signals
//!   (SIGPIPE among them) that the program must get with their default meaning.
//! - Between fork and exec the child makes only async-signal-safe calls on memory prepared
//!   before the fork; a failure is reported over a close-on-exec pipe, then `_exit(127)`.
//! - Its resource limits (Apache's RLimitCPU/MEM/NPROC) are set and read back before exec.
//! - When the server child unshared a PID namespace for its programs, a minimal init
//!   ([`start_pid_ns_init`]) is that namespace's pid 1, forked before the first program: it
//!   reaps orphans, ignores every signal a program can send it, and dies with the server child
//!   (PR_SET_PDEATHSIG), which makes the kernel kill everything left in the namespace. A
//!   program is never pid 1 itself: pid 1 gets no default signal actions (SIGTERM/SIGINT would
//!   be ignored), and once it exits no further process can be created in the namespace, so a
//!   keep-alive connection could not run a second program.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// What to run and with which descriptors.
pub struct SpawnSpec<'a> {
    /// The program's directory: its working directory, and where `name` is looked up.
    pub dir: BorrowedFd<'a>,
    /// A single path component.
    pub name: CString,
    /// Device and inode of the file that passed the checks.
    pub expect: (u64, u64),
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    /// (resource, soft, hard), set in the program before exec.
    pub rlimits: Vec<(libc::__rlimit_resource_t, u64, u64)>,
    /// The server child unshared a PID namespace for its programs: start its init first.
    pub pid_ns: bool,
}

/// Which step of the exec preparation failed, reported by the forked child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnStage {
    ProcessGroup = 1,
    Signals,
    Descriptors,
    Chdir,
    Recheck,
    Replaced,
    Exec,
    Limits,
}

impl SpawnStage {
    fn from_byte(b: u8) -> Option<SpawnStage> {
        use SpawnStage::*;
        [
            ProcessGroup,
            Signals,
            Descriptors,
            Chdir,
            Recheck,
            Replaced,
            Exec,
            Limits,
        ]
        .into_iter()
        .find(|s| *s as u8 == b)
    }
}

impl std::fmt::Display for SpawnStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SpawnStage::ProcessGroup => "setpgid",
            SpawnStage::Signals => "resetting signals",
            SpawnStage::Descriptors => "setting up descriptors 0-2",
            SpawnStage::Chdir => "fchdir to the program's directory",
            SpawnStage::Recheck => "re-checking the program before exec",
            SpawnStage::Replaced => "the program was replaced after it was checked",
            SpawnStage::Exec => "execve",
            SpawnStage::Limits => "setting the program's resource limits (RLimit*)",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("cannot prepare the program's start: {0}")]
    Prepare(io::Error),
    #[error("fork: {0}")]
    Fork(io::Error),
    #[error("{stage} failed: {err}")]
    Child { stage: SpawnStage, err: io::Error },
}

impl SpawnError {
    /// The errno of the failure, for choosing a status (EACCES → 403, ENOENT → 404).
    pub fn errno(&self) -> Option<i32> {
        match self {
            SpawnError::Prepare(e) | SpawnError::Fork(e) | SpawnError::Child { err: e, .. } => {
                e.raw_os_error()
            }
        }
    }
}

fn cloexec_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)
}

/// Starts the program and returns its pid (also its process group id).
pub fn spawn(spec: SpawnSpec<'_>) -> Result<i32, SpawnError> {
    let ends = [
        spec.stdin.as_raw_fd(),
        spec.stdout.as_raw_fd(),
        spec.stderr.as_raw_fd(),
    ];
    if ends.iter().any(|&fd| fd <= 2) {
        // 0-2 are always open in a server child (at least on /dev/null), so a pipe end there
        // means that invariant broke; dup2 onto itself would keep FD_CLOEXEC and lose it.
        return Err(SpawnError::Prepare(io::Error::other(
            "a pipe end for the program is one of descriptors 0-2",
        )));
    }
    // Orphans of the program then become this process's children, so `reap_group` can wait
    // for every member of the killed group instead of leaving them to init.
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| SpawnError::Prepare(io::Error::from(e)))?;
    if spec.pid_ns {
        start_pid_ns_init().map_err(SpawnError::Prepare)?;
    }
    let (err_r, err_w) = cloexec_pipe().map_err(SpawnError::Prepare)?;
    let mut argv: Vec<*const libc::c_char> = spec.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = spec.envp.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    let path = {
        let mut p = b"./".to_vec();
        p.extend_from_slice(spec.name.as_bytes());
        CString::new(p).map_err(|e| SpawnError::Prepare(io::Error::other(e)))?
    };
    let child = Child {
        dir: spec.dir.as_raw_fd(),
        name: spec.name.as_ptr(),
        path: path.as_ptr(),
        expect: spec.expect,
        ends,
        err: err_w.as_raw_fd(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        rlimits: spec.rlimits.as_ptr(),
        n_rlimits: spec.rlimits.len(),
    };
    // Not `sys::fork`: its thread-count check reads /proc, which Landlock hides from a
    // confined child, and it is not needed here.
    // SAFETY: between fork and exec the child only runs `Child::run`, which makes
    // async-signal-safe calls on memory prepared above and never allocates, so it is sound
    // even if another thread held a lock at the fork.
    let forked = unsafe { nix::unistd::fork() }.map_err(|e| SpawnError::Fork(e.into()))?;
    match forked {
        nix::unistd::ForkResult::Child => child.run(),
        nix::unistd::ForkResult::Parent { child: pid } => {
            drop(err_w);
            drop(spec.stdin);
            drop(spec.stdout);
            drop(spec.stderr);
            let pid = pid.as_raw();
            // Both sides set the group, so a kill of the group right after this returns
            // cannot miss the program. EACCES: it has already exec'd (and set it itself).
            let _ = nix::unistd::setpgid(
                nix::unistd::Pid::from_raw(pid),
                nix::unistd::Pid::from_raw(pid),
            );
            let mut report = [0u8; 5];
            let n = read_full(&err_r, &mut report);
            if n == 0 {
                return Ok(pid);
            }
            let _ = kill_group(pid);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            let stage = SpawnStage::from_byte(report[0]).unwrap_or(SpawnStage::Exec);
            let errno = i32::from_ne_bytes([report[1], report[2], report[3], report[4]]);
            Err(SpawnError::Child {
                stage,
                err: io::Error::from_raw_os_error(errno),
            })
        }
    }
}

fn read_full(fd: &OwnedFd, buf: &mut [u8]) -> usize {
    let mut got = 0;
    while got < buf.len() {
        match nix::unistd::read(fd.as_raw_fd(), &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => break,
        }
    }
    got
}

/// Everything the forked child needs, as raw values prepared before the fork.
struct Child {
    dir: RawFd,
    name: *const libc::c_char,
    path: *const libc::c_char,
    expect: (u64, u64),
    ends: [RawFd; 3],
    err: RawFd,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    rlimits: *const (libc::__rlimit_resource_t, u64, u64),
    n_rlimits: usize,
}

impl Child {
    /// Runs in the forked child; never returns.
    fn run(&self) -> ! {
        let stage = self.prepare_and_exec();
        let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
        let mut report = [0u8; 5];
        report[0] = stage as u8;
        report[1..].copy_from_slice(&errno.to_ne_bytes());
        // SAFETY: writes 5 bytes from a live stack buffer to the error pipe; async-signal-safe.
        unsafe { libc::write(self.err, report.as_ptr().cast(), report.len()) };
        // SAFETY: _exit is async-signal-safe and ends the forked child without running any of
        // the parent's destructors or atexit handlers.
        unsafe { libc::_exit(127) }
    }

    /// Returns only on failure, with errno set, naming the stage.
    fn prepare_and_exec(&self) -> SpawnStage {
        // Every call below is async-signal-safe and only reads memory prepared before the
        // fork (C strings, pointer arrays, plain integers), which this child never frees.
        // SAFETY: setpgid on ourselves.
        if unsafe { libc::setpgid(0, 0) } != 0 {
            return SpawnStage::ProcessGroup;
        }
        // SAFETY: an empty, initialised sigset_t on the stack; the mask and dispositions are
        // per-process state of this child only.
        unsafe {
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            if libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) != 0 {
                return SpawnStage::Signals;
            }
            // 1-31 are the classic signals; real-time ones are never ignored by this server.
            for sig in 1..32 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::signal(sig, libc::SIG_DFL);
                }
            }
        }
        for (target, &fd) in self.ends.iter().enumerate() {
            // SAFETY: dup2 of a descriptor we own onto 0-2; the new descriptor has no
            // FD_CLOEXEC, the pipe ends do and vanish at exec.
            if unsafe { libc::dup2(fd, target as RawFd) } < 0 {
                return SpawnStage::Descriptors;
            }
        }
        // SAFETY: `rlimits` points at `n_rlimits` entries of the spec's Vec, which the parent
        // keeps alive until the spawn returns and this child never frees; setrlimit and
        // getrlimit are async-signal-safe and only touch the stack structs given.
        unsafe {
            let limits = std::slice::from_raw_parts(self.rlimits, self.n_rlimits);
            for &(resource, soft, hard) in limits {
                let want = libc::rlimit {
                    rlim_cur: soft,
                    rlim_max: hard,
                };
                if libc::setrlimit(resource, &want) != 0 {
                    return SpawnStage::Limits;
                }
                let mut got: libc::rlimit = std::mem::zeroed();
                if libc::getrlimit(resource, &mut got) != 0 {
                    return SpawnStage::Limits;
                }
                if (got.rlim_cur, got.rlim_max) != (soft, hard) {
                    *libc::__errno_location() = libc::EINVAL;
                    return SpawnStage::Limits;
                }
            }
        }
        // SAFETY: fchdir on the directory descriptor the parent holds open.
        if unsafe { libc::fchdir(self.dir) } != 0 {
            return SpawnStage::Chdir;
        }
        // SAFETY: fstatat fills a zeroed stat buffer on our stack; the name is a valid C
        // string and AT_SYMLINK_NOFOLLOW keeps a swapped-in symlink from being followed.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstatat(self.dir, self.name, &mut st, libc::AT_SYMLINK_NOFOLLOW) != 0 {
                return SpawnStage::Recheck;
            }
            if (st.st_dev, st.st_ino) != self.expect {
                *libc::__errno_location() = libc::ESTALE;
                return SpawnStage::Replaced;
            }
        }
        // Close everything above 2 except the close-on-exec error pipe, which exec closes.
        let err = self.err as libc::c_uint;
        // SAFETY: close_range only closes descriptors of this child; none is used afterwards
        // except `err`, which stays open.
        unsafe {
            if err > 3 && libc::close_range(3, err - 1, 0) != 0 {
                return SpawnStage::Descriptors;
            }
            if libc::close_range(err + 1, libc::c_uint::MAX, 0) != 0 {
                return SpawnStage::Descriptors;
            }
        }
        // SAFETY: path, argv and envp are NUL-terminated arrays of valid C strings built before
        // the fork; execve only returns on failure.
        unsafe { libc::execve(self.path, self.argv, self.envp) };
        SpawnStage::Exec
    }
}

static PID_NS_INIT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Forks the init of the PID namespace the calling process unshared for its children, once.
pub fn start_pid_ns_init() -> io::Result<()> {
    use std::sync::atomic::Ordering;
    if PID_NS_INIT.load(Ordering::Relaxed) {
        return Ok(());
    }
    // SAFETY: the child only runs `pid_ns_init`, which makes async-signal-safe calls on its
    // own stack and never returns.
    match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
        nix::unistd::ForkResult::Child => pid_ns_init(),
        nix::unistd::ForkResult::Parent { .. } => {
            PID_NS_INIT.store(true, Ordering::Relaxed);
            Ok(())
        }
    }
}

/// pid 1 of the programs' namespace. It holds no descriptor (the client socket must close
/// when the server child closes it), blocks every signal (so nothing inside the namespace can
/// signal it, and SIGCHLD is taken with sigwaitinfo), and reaps whatever is re-parented to
/// it. It dies when the server child does (PDEATHSIG); should the server child already be
/// gone, it is re-parented to the master, which kills strays.
fn pid_ns_init() -> ! {
    // SAFETY: every call here is async-signal-safe and uses only stack memory; _exit ends the
    // process without running the parent's destructors.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        libc::close_range(0, libc::c_uint::MAX, 0);
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
        let mut chld: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut chld);
        libc::sigaddset(&mut chld, libc::SIGCHLD);
        loop {
            if libc::waitpid(-1, std::ptr::null_mut(), 0) < 0
                && *libc::__errno_location() == libc::ECHILD
            {
                libc::sigwaitinfo(&chld, std::ptr::null_mut());
            }
        }
    }
}

/// SIGKILL to the whole process group `pgid`.
pub fn kill_group(pgid: i32) -> io::Result<()> {
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .map_err(io::Error::from)
}

/// Whether `pid` has exited, without reaping it (so its process group id stays reserved and
/// a later kill of the group cannot hit a recycled id).
pub fn has_exited(pid: i32) -> bool {
    use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    match waitid(Id::Pid(nix::unistd::Pid::from_raw(pid)), flags) {
        Ok(WaitStatus::StillAlive) => false,
        Ok(_) => true,
        Err(nix::errno::Errno::EINTR) => false,
        // ECHILD: already reaped, or not ours.
        Err(_) => true,
    }
}

/// After [`kill_group`]: waits for every member of group `pgid` that is (or, as its parent
/// dies, becomes) a child of this subreaper, so none is left when this returns. A member
/// that left the group (setsid) is not waited for. In the programs' own PID namespace,
/// orphans go to that namespace's init instead, which reaps them: the group is then watched
/// until it is empty (killpg(0) fails with ESRCH once the last member is reaped), for at most
/// [`GROUP_GONE_WAIT`].
pub fn reap_group(pgid: i32) {
    use nix::sys::wait::waitpid;
    let group = nix::unistd::Pid::from_raw(pgid);
    while let Ok(_) | Err(nix::errno::Errno::EINTR) =
        waitpid(nix::unistd::Pid::from_raw(-pgid), None)
    {}
    let until = std::time::Instant::now() + GROUP_GONE_WAIT;
    while nix::sys::signal::killpg(group, None).is_ok() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Longest [`reap_group`] waits for a killed group's last members to be reaped by others.
const GROUP_GONE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Reaps `pid`, waiting for it; returns a description of how it ended.
pub fn reap(pid: i32) -> String {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return format!("exit status {code}"),
            Ok(WaitStatus::Signaled(_, sig, _)) => return format!("killed by {sig:?}"),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return format!("not reaped: {e}"),
        }
    }
}

/// Makes `fd` non-blocking (pipe ends polled together with the client socket).
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// A close-on-exec pipe as (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    cloexec_pipe()
}
