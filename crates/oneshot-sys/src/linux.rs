//! The real [`Sys`] implementation for Linux, over nix, libc, the `selinux` crate (libselinux)
//! and the `landlock` crate.
//!
//! Invariants: every call acts on the calling thread/process only; no call here decides policy,
//! it only performs or reports. Raw `libc` calls are used only where nix has no wrapper
//! (close_range, capget/capset, get/setpriority, the Landlock ABI probe, fork, _exit).

use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;
use std::path::Path;

use landlock::{
    Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, Ruleset, RulesetAttr,
    RulesetCreatedAttr, Scope, ABI,
};
use nix::errno::Errno;
use nix::unistd::{Gid, Uid};

use super::{
    sock_filter, LandlockOutcome, LandlockRules, MountId, Namespace, Resource, SelinuxState, Sys,
};

pub use nix::unistd::ForkResult;

mod fds;
mod landlock_rules;
mod selinux_ctx;

use fds::{close_around, close_by_walking, stdio_to_dev_null};
pub use fds::{close_inherited_high_fds, own_children, POLLED_FDS};
use landlock_rules::{enforcement, landlock_err, landlock_rules};
use selinux_ctx::selinux_io;
pub use selinux_ctx::{
    selinux_check_context, selinux_get_sockcreate, selinux_set_sockcreate, selinux_trans_to_raw,
};

/// The real system.
#[derive(Debug, Clone, Copy, Default)]
pub struct Linux;

/// Highest Landlock ABI whose access rights this code was written and tested against. Newer
/// kernels are driven at this ABI, so new (untested) restrictions are never switched on silently.
const LANDLOCK_TESTED_ABI: ABI = ABI::V6;

const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn errno_result(rc: libc::c_long) -> io::Result<libc::c_long> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn nix_err(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

fn capget() -> io::Result<[CapData; 2]> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and data are valid, properly sized (version 3 = two CapData) and live for
    // the duration of the call; the kernel writes only into `data`.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    errno_result(rc).map(|_| data)
}

fn capset(data: &[CapData; 2]) -> io::Result<()> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    // SAFETY: header and data are valid and sized for capability version 3; the kernel only
    // reads `data` (and may write the preferred version into `header`, which we own).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    errno_result(rc).map(|_| ())
}

/// The inode number in a /proc/PID/ns link's text, `NAME:[INODE]`.
fn parse_ns_link(text: &str) -> Option<u64> {
    let (_, rest) = text.split_once(":[")?;
    rest.strip_suffix(']')?.parse().ok().filter(|&ino| ino != 0)
}

impl Sys for Linux {
    fn close_fds_except(&self, keep: &[RawFd]) -> io::Result<()> {
        let mut keep: Vec<RawFd> = keep.to_vec();
        if keep.iter().any(|&fd| fd < 0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "negative fd in keep list",
            ));
        }
        keep.sort_unstable();
        keep.dedup();
        match close_around(&keep) {
            // close_range(2) exists since Linux 5.9; older kernels get the /proc walk.
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => close_by_walking(&keep)?,
            other => other?,
        }
        stdio_to_dev_null(&keep)
    }

    fn open_fds(&self) -> io::Result<Vec<RawFd>> {
        // One poll(2) over the low numbers reports each closed one as POLLNVAL. Walking
        // /proc/self/fd instead cost ~10 % of a child's CPU (the readdir, and the proc dentries
        // of the pid it creates, which the kernel must invalidate again at exit).
        let mut fds: Vec<libc::pollfd> = (0..POLLED_FDS)
            .map(|fd| libc::pollfd {
                fd,
                events: 0,
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a valid, exclusively borrowed array of `fds.len()` pollfd structs
        // that outlives the call; a zero timeout never blocks.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
        errno_result(rc.into())?;
        Ok(fds
            .iter()
            .filter(|p| p.revents & libc::POLLNVAL == 0)
            .map(|p| p.fd)
            .collect())
    }

    fn set_no_new_privs(&self) -> io::Result<()> {
        nix::sys::prctl::set_no_new_privs().map_err(nix_err)
    }

    fn no_new_privs(&self) -> io::Result<bool> {
        nix::sys::prctl::get_no_new_privs().map_err(nix_err)
    }

    fn setgroups(&self, gids: &[u32]) -> io::Result<()> {
        let gids: Vec<Gid> = gids.iter().map(|&g| Gid::from_raw(g)).collect();
        nix::unistd::setgroups(&gids).map_err(nix_err)
    }

    fn getgroups(&self) -> io::Result<Vec<u32>> {
        // nix sizes its buffer with sysconf(_SC_NGROUPS_MAX), which glibc answers by opening and
        // reading /proc/sys/kernel/ngroups_max: three syscalls and a procfs path walk per call,
        // twice per child. Asking the kernel for the count first needs one.
        // SAFETY: a zero size with a null list only returns the number of groups.
        let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
        let n = errno_result(n.into())?;
        let mut gids: Vec<libc::gid_t> = vec![0; n as usize];
        // SAFETY: `gids` has room for exactly `gids.len()` entries and outlives the call.
        let got = unsafe { libc::getgroups(gids.len() as libc::c_int, gids.as_mut_ptr()) };
        // The list cannot grow in between in this single-threaded process; if it somehow did,
        // EINVAL is reported rather than a truncated list.
        let got = errno_result(got.into())?;
        gids.truncate(got as usize);
        Ok(gids)
    }

    fn setresgid(&self, r: u32, e: u32, s: u32) -> io::Result<()> {
        let g = Gid::from_raw;
        nix::unistd::setresgid(g(r), g(e), g(s)).map_err(nix_err)
    }

    fn getresgid(&self) -> io::Result<(u32, u32, u32)> {
        let r = nix::unistd::getresgid().map_err(nix_err)?;
        Ok((r.real.as_raw(), r.effective.as_raw(), r.saved.as_raw()))
    }

    fn setresuid(&self, r: u32, e: u32, s: u32) -> io::Result<()> {
        let u = Uid::from_raw;
        nix::unistd::setresuid(u(r), u(e), u(s)).map_err(nix_err)
    }

    fn getresuid(&self) -> io::Result<(u32, u32, u32)> {
        let r = nix::unistd::getresuid().map_err(nix_err)?;
        Ok((r.real.as_raw(), r.effective.as_raw(), r.saved.as_raw()))
    }

    fn selinux_setcon(&self, context: &str) -> io::Result<()> {
        let c = CString::new(context)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "context contains NUL"))?;
        let result = selinux::SecurityContext::from_c_str(&c, true).set_as_current();
        result.map_err(selinux_io)
    }

    fn selinux_getcon(&self) -> io::Result<String> {
        let ctx = selinux::SecurityContext::current(true).map_err(selinux_io)?;
        let c = ctx.to_c_string().map_err(selinux_io)?;
        let s = c.map(|c| c.to_string_lossy().into_owned());
        Ok(s.unwrap_or_default())
    }

    fn selinux_state(&self) -> io::Result<SelinuxState> {
        let fs = std::fs::read_to_string("/proc/filesystems")?;
        if !fs
            .lines()
            .any(|l| l.split_whitespace().any(|w| w == "selinuxfs"))
        {
            return Ok(SelinuxState::NotInKernel);
        }
        if selinux::kernel_support() == selinux::KernelSupport::Unsupported {
            return Ok(SelinuxState::NotMounted);
        }
        Ok(match selinux::current_mode() {
            selinux::SELinuxMode::Enforcing => SelinuxState::Enforcing,
            selinux::SELinuxMode::Permissive => SelinuxState::Permissive,
            _ => SelinuxState::NotMounted,
        })
    }

    fn landlock_restrict(&self, rules: &LandlockRules) -> io::Result<LandlockOutcome> {
        let kernel = self.landlock_abi()?;
        let abi = ABI::from(i32::try_from(kernel).unwrap_or(i32::MAX)).min(LANDLOCK_TESTED_ABI);
        if abi == ABI::Unsupported {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "landlock: kernel has no Landlock",
            ));
        }
        // HardRequirement: the ruleset is built for what the kernel offers, so any downgrade
        // the crate would otherwise do silently is a bug and must fail instead.
        let mut ruleset = Ruleset::default()
            .set_compatibility(CompatLevel::HardRequirement)
            .handle_access(AccessFs::from_all(abi))
            .map_err(|e| landlock_err("handle_access", e))?;
        if abi >= ABI::V4 {
            // TCP bind and connect handled: nothing may bind, only the listed ports connect.
            ruleset = ruleset
                .handle_access(AccessNet::from_all(abi))
                .map_err(|e| landlock_err("handle_access(net)", e))?;
        }
        if abi >= ABI::V6 {
            ruleset = ruleset
                .scope(Scope::from_all(abi))
                .map_err(|e| landlock_err("scope", e))?;
        }
        let mut created = ruleset
            .create()
            .map_err(|e| landlock_err("create", e))?
            .add_rules(
                landlock_rules(rules, abi)?
                    .into_iter()
                    .map(Ok::<_, landlock::RulesetError>),
            )
            .map_err(|e| landlock_err("add_rule", e))?;
        if abi >= ABI::V4 {
            created = created
                .add_rules(rules.connect_tcp.iter().map(|&p| {
                    Ok::<_, landlock::RulesetError>(NetPort::new(p, AccessNet::ConnectTcp))
                }))
                .map_err(|e| landlock_err("add_rule(net)", e))?;
        }
        let status = created
            .restrict_self()
            .map_err(|e| landlock_err("restrict_self", e))?;
        Ok(LandlockOutcome {
            enforcement: enforcement(status.ruleset),
            abi: abi as u32,
        })
    }

    fn landlock_abi(&self) -> io::Result<u32> {
        const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
        // SAFETY: with a NULL attr, size 0 and the VERSION flag the kernel only returns the ABI
        // number; it reads and writes no user memory and creates no descriptor.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<libc::c_void>(),
                0usize,
                LANDLOCK_CREATE_RULESET_VERSION,
            )
        };
        match errno_result(rc) {
            Ok(v) => Ok(u32::try_from(v).unwrap_or(0)),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EOPNOTSUPP)) => Ok(0),
            Err(e) => Err(e),
        }
    }

    fn cap_effective(&self) -> io::Result<u64> {
        // capget rather than /proc/self/status: after Landlock, /proc may be unreadable.
        let d = capget()?;
        Ok(u64::from(d[0].effective) | (u64::from(d[1].effective) << 32))
    }

    fn keep_only_setid_caps(&self) -> io::Result<()> {
        let setid = (1 << CAP_SETUID) | (1 << CAP_SETGID);
        let low = CapData {
            effective: setid,
            permitted: setid,
            inheritable: 0,
        };
        capset(&[low, CapData::default()])?;
        nix::sys::prctl::set_keepcaps(true).map_err(nix_err)
    }

    fn drop_all_caps(&self) -> io::Result<()> {
        capset(&[CapData::default(); 2])
    }

    fn setpriority(&self, nice: i32) -> io::Result<()> {
        // SAFETY: setpriority takes only integers and touches no memory.
        let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
        errno_result(rc.into()).map(|_| ())
    }

    fn getpriority(&self) -> io::Result<i32> {
        // -1 is a valid nice value, so errno must be cleared to tell it from a failure.
        Errno::clear();
        // SAFETY: getpriority takes only integers and touches no memory.
        let rc = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        if rc == -1 && Errno::last_raw() != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(rc)
    }

    fn setrlimit(&self, resource: Resource, limit: u64) -> io::Result<()> {
        nix::sys::resource::setrlimit(resource, limit, limit).map_err(nix_err)
    }

    fn getrlimit(&self, resource: Resource) -> io::Result<(u64, u64)> {
        nix::sys::resource::getrlimit(resource).map_err(nix_err)
    }

    fn set_dumpable(&self, on: bool) -> io::Result<()> {
        nix::sys::prctl::set_dumpable(on).map_err(nix_err)
    }

    fn dumpable(&self) -> io::Result<bool> {
        nix::sys::prctl::get_dumpable().map_err(nix_err)
    }

    fn join_session_keyring(&self) -> io::Result<i32> {
        const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
        // SAFETY: a NULL name asks for a new anonymous keyring; the kernel reads no user memory.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_JOIN_SESSION_KEYRING,
                std::ptr::null::<libc::c_char>(),
            )
        };
        errno_result(rc).map(|v| v as i32)
    }

    fn session_keyring(&self) -> io::Result<i32> {
        const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
        const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
        // SAFETY: integers only; with create = 0 nothing is created.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_GET_KEYRING_ID,
                KEY_SPEC_SESSION_KEYRING,
                0 as libc::c_long,
            )
        };
        // ENOKEY: neither a session keyring nor the user's default one exists yet (a process
        // started by a bare init, as in the test VM). 0 is never a key serial.
        match errno_result(rc) {
            Err(e) if e.raw_os_error() == Some(libc::ENOKEY) => Ok(0),
            r => r.map(|v| v as i32),
        }
    }

    fn unshare(&self, namespaces: &[Namespace]) -> io::Result<()> {
        let flags = namespaces.iter().fold(0, |f, ns| {
            f | match ns {
                Namespace::User => libc::CLONE_NEWUSER,
                Namespace::Ipc => libc::CLONE_NEWIPC,
                Namespace::Mount => libc::CLONE_NEWNS,
                Namespace::PidForChildren => libc::CLONE_NEWPID,
            }
        });
        // SAFETY: unshare takes only flags and touches no memory of ours.
        let rc = unsafe { libc::unshare(flags) };
        errno_result(rc.into()).map(|_| ())
    }

    fn namespace_id(&self, ns: Namespace) -> io::Result<u64> {
        // readlink, not stat: the link's text ("ipc:[4026531839]") carries the namespace's inode
        // number without the kernel instantiating an nsfs dentry and inode for the stat, which
        // it then tears down again at exit (~8 % of a child's CPU for the six look-ups).
        let path = format!("/proc/self/ns/{}", ns.proc_name());
        match std::fs::read_link(&path) {
            Ok(target) => parse_ns_link(&target.to_string_lossy()).ok_or_else(|| {
                io::Error::other(format!("{path} points to {target:?}, not NAME:[INODE]"))
            }),
            // pid_for_children of a PID namespace unshared but not yet entered by a first
            // child points nowhere: report it as 0 (no namespace inode is 0).
            Err(e) if ns == Namespace::PidForChildren && e.raw_os_error() == Some(libc::ENOENT) => {
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }

    fn write_id_maps(&self, uid: u32, gid: u32) -> io::Result<()> {
        // Unprivileged writers must deny setgroups before they may write gid_map.
        std::fs::write("/proc/self/setgroups", "deny")?;
        std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1\n"))?;
        std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1\n"))
    }

    fn make_mounts_private(&self) -> io::Result<()> {
        // SAFETY: valid NUL-terminated target; NULL source, type and data are allowed for a
        // propagation change; the kernel only reads the strings.
        let rc = unsafe {
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            )
        };
        errno_result(rc.into()).map(|_| ())
    }

    fn any_mount_shared(&self) -> io::Result<bool> {
        super::mounts::any_shared()
    }

    fn mount_tmpfs(&self, path: &Path, size: u64) -> io::Result<()> {
        use std::os::unix::ffi::OsStrExt;
        let target = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
        let data = CString::new(format!("size={size},mode=1777,nr_inodes=16384"))
            .map_err(io::Error::other)?;
        // SAFETY: all pointers are valid NUL-terminated strings that outlive the call; the
        // kernel only reads them.
        let rc = unsafe {
            libc::mount(
                c"oneshot-tmp".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                data.as_ptr().cast(),
            )
        };
        errno_result(rc.into()).map(|_| ())
    }

    fn mount_id(&self, path: &Path) -> io::Result<MountId> {
        use std::os::unix::fs::MetadataExt;
        let dev = std::fs::metadata(path)?.dev();
        let fs = nix::sys::statfs::statfs(path).map_err(nix_err)?;
        Ok(MountId {
            dev,
            fs_type: fs.filesystem_type().0 as i64,
        })
    }

    fn seccomp_install(&self, filter: &[sock_filter]) -> io::Result<()> {
        seccompiler::apply_filter(filter).map_err(|e| match e {
            seccompiler::Error::Prctl(e) | seccompiler::Error::Seccomp(e) => e,
            other => io::Error::other(other.to_string()),
        })
    }

    fn seccomp_mode(&self) -> io::Result<u32> {
        // SAFETY: PR_GET_SECCOMP takes no pointers; the result is the mode.
        let rc = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
        errno_result(rc.into()).map(|v| v as u32)
    }
}

fn thread_count() -> io::Result<usize> {
    // One stat instead of having the kernel format all of /proc/self/status before every fork
    // (~5 % of the CPU per connection): a task directory links "." and ".." plus one entry per
    // thread.
    use std::os::unix::fs::MetadataExt;
    let nlink = std::fs::metadata("/proc/self/task")?.nlink();
    match nlink.checked_sub(2) {
        Some(n) if n >= 1 => Ok(n as usize),
        _ => Err(io::Error::other(format!(
            "/proc/self/task has {nlink} links, expected 2 + threads"
        ))),
    }
}

/// `fork(2)`, refused unless the calling process has exactly one thread.
///
/// The child of a multi-threaded parent may only make async-signal-safe calls before exec, which
/// the child code of this server does not limit itself to; checking the thread count turns that
/// hazard into an error instead of undefined behaviour.
pub fn fork() -> io::Result<ForkResult> {
    let n = thread_count()?;
    if n != 1 {
        return Err(io::Error::other(format!(
            "refusing to fork: process has {n} threads, not 1"
        )));
    }
    // SAFETY: the process is single-threaded (checked just above; only this thread could have
    // started another one since), so the child inherits no locks held by other threads.
    unsafe { nix::unistd::fork() }.map_err(nix_err)
}

/// Ends the calling process at once with `code`, without running atexit handlers or unwinding,
/// which is what a forked child must do so it never runs the parent's cleanup.
pub fn child_exit(code: i32) -> ! {
    use std::io::Write;
    // _exit skips std's buffers, so whatever the child reported must be pushed out first; a
    // failed flush cannot be reported anywhere, hence ignored.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: _exit never returns and touches no memory of ours; skipping destructors is the
    // intended effect.
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fds::parse_pids;
    use std::os::fd::AsRawFd;

    #[test]
    fn ns_link_text_table() {
        let cases: [(&str, Option<u64>); 7] = [
            ("ipc:[4026531839]", Some(4026531839)),
            ("pid_for_children:[4026532201]", Some(4026532201)),
            ("ipc:[0]", None),
            ("ipc:4026531839", None),
            ("ipc:[4026531839", None),
            ("ipc:[x]", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_ns_link(text), want, "{text:?}");
        }
    }

    #[test]
    fn namespace_id_is_the_nsfs_inode() {
        use std::os::unix::fs::MetadataExt;
        for ns in [Namespace::Ipc, Namespace::Mount] {
            let ino = std::fs::metadata(format!("/proc/self/ns/{}", ns.proc_name()))
                .unwrap()
                .ino();
            assert_eq!(Linux.namespace_id(ns).unwrap(), ino, "{ns:?}");
        }
    }

    #[test]
    fn own_children_lists_a_child_of_this_thread_until_it_is_reaped() {
        // /proc/thread-self/children lists the children this thread forked.
        let mut child = std::process::Command::new("sleep")
            .arg("10")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let during = own_children().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        let after = own_children().unwrap();
        assert!(during.contains(&pid), "{pid} not in {during:?}");
        assert!(!after.contains(&pid), "{pid} still in {after:?}");
        assert_eq!(parse_pids(b"12 345 \n"), vec![12, 345]);
        assert_eq!(parse_pids(b""), Vec::<i32>::new());
    }

    #[test]
    fn open_fds_sees_a_descriptor_open_then_closed() {
        let f = std::fs::File::open("/").unwrap();
        let fd = f.as_raw_fd();
        assert!(Linux.open_fds().unwrap().contains(&fd));
        drop(f);
        assert!(!Linux.open_fds().unwrap().contains(&fd));
    }

    #[test]
    fn getgroups_matches_the_kernels_list() {
        let mine = Linux.getgroups().unwrap();
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("Groups:")).unwrap();
        let want: Vec<u32> = line["Groups:".len()..]
            .split_whitespace()
            .map(|g| g.parse().unwrap())
            .collect();
        let mut sorted = mine.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, want);
    }

    #[test]
    fn thread_count_counts_a_new_thread() {
        // Other tests come and go on other threads, so only lower bounds are certain: this
        // thread and the spawned one exist while it waits.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || rx.recv());
        let during = thread_count().unwrap();
        tx.send(()).unwrap();
        t.join().unwrap().unwrap();
        assert!(during >= 2, "{during}");
    }
}
