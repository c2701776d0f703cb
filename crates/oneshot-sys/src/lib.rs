//! The system-call seam of oneshot-httpd: the ONLY crate of the server that contains `unsafe`.
//!
//! It is its own crate so that the server can `#![forbid(unsafe_code)]` at its roots
//! (src/lib.rs, src/main.rs); the server re-exports it as `oneshot_httpd::sys`, so the server's
//! code names it `crate::sys::...`. This crate depends on nothing of the server: the types it
//! takes and returns are its own, std's, or those of the crates it wraps (nix, rustix,
//! seccompiler).
//!
//! Stage: used by the child between "request parsed and authorised" and "handler runs", and by
//! the master at start-up to probe what the kernel offers.
//!
//! Invariants:
//! - Everything the confinement transition does to the process goes through [`Sys`], so the order
//!   of the irreversible steps can be unit-tested with the recording fake (`fake::Recording`).
//! - Every `unsafe` block carries a `// SAFETY:` comment (enforced by clippy's
//!   `undocumented_unsafe_blocks`).
//! - Methods return `io::Error` carrying the kernel's errno, so callers can tell EPERM from EACCES.

pub mod beneath;
pub mod dontfork;
/// The recording fake, for the server's unit tests (feature `fake`, a dev-dependency only).
#[cfg(any(test, feature = "fake"))]
pub mod fake;
pub mod fs;
pub mod inherit;
pub mod linux;
pub mod listen_wait;
pub mod mounts;
pub mod pam;
pub mod spawn;

use std::io;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

pub use linux::{child_exit, fork, ForkResult, Linux};
pub use nix::sys::resource::Resource;
pub use seccompiler::sock_filter;

/// A namespace a child can leave its parent's for (`unshare(2)`), and whose identity (the inode
/// of `/proc/self/ns/NAME`) can be read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Namespace {
    /// CLONE_NEWUSER; `/proc/self/ns/user`.
    User,
    /// CLONE_NEWIPC: SysV IPC and POSIX message queues; `/proc/self/ns/ipc`.
    Ipc,
    /// CLONE_NEWNS; `/proc/self/ns/mnt`.
    Mount,
    /// CLONE_NEWPID: the namespace of the caller's *future children*;
    /// `/proc/self/ns/pid_for_children`.
    PidForChildren,
}

impl Namespace {
    pub fn proc_name(self) -> &'static str {
        match self {
            Namespace::User => "user",
            Namespace::Ipc => "ipc",
            Namespace::Mount => "mnt",
            Namespace::PidForChildren => "pid_for_children",
        }
    }
}

/// What `statfs`/`stat` say about a mount point, to tell a fresh private tmpfs from what was
/// there before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountId {
    /// `st_dev` of the directory: a new mount has a new device.
    pub dev: u64,
    /// `statfs.f_type` (TMPFS_MAGIC for a tmpfs).
    pub fs_type: i64,
}

pub const TMPFS_MAGIC: i64 = 0x0102_1994;

/// Paths a Landlock domain may use. Anything not beneath one of these is denied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LandlockRules {
    /// Trees that may be read (files and directory listings), not executed or written.
    pub read: Vec<PathBuf>,
    /// Trees that may be read and executed (CGI programs, interpreters, shared libraries).
    pub exec: Vec<PathBuf>,
    /// Trees that may be read, written, created in and removed from.
    pub write: Vec<PathBuf>,
    /// TCP ports that may be connected to (Landlock ABI 4+, which also refuses every TCP
    /// bind). Older kernels leave TCP unrestricted; see docs/security-model.md.
    pub connect_tcp: Vec<u16>,
}

/// How completely the kernel enforced the requested Landlock ruleset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LandlockEnforcement {
    Full,
    Partial,
    None,
}

/// What `landlock_restrict_self` reported back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LandlockOutcome {
    pub enforcement: LandlockEnforcement,
    /// The ABI version the ruleset was built for (0 = Landlock unavailable).
    pub abi: u32,
}

/// SELinux state of the running kernel, as seen at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelinuxState {
    /// `selinuxfs` is not even listed in /proc/filesystems: the kernel lacks SELinux or it is
    /// not the active LSM.
    NotInKernel,
    /// The kernel knows selinuxfs but it is not mounted or no policy is loaded.
    NotMounted,
    Permissive,
    Enforcing,
}

/// Everything the confinement transition does to the process.
///
/// "set" methods change the calling process; "get" methods read back the state so that each
/// step can be verified after it was made.
pub trait Sys {
    /// Closes every descriptor not listed in `keep`. Descriptors 0-2 that are not kept are
    /// re-pointed at /dev/null instead, so a later `open()` cannot silently become stderr.
    fn close_fds_except(&self, keep: &[RawFd]) -> io::Result<()>;
    /// Descriptors currently open in this process.
    fn open_fds(&self) -> io::Result<Vec<RawFd>>;

    fn set_no_new_privs(&self) -> io::Result<()>;
    fn no_new_privs(&self) -> io::Result<bool>;

    fn setgroups(&self, gids: &[u32]) -> io::Result<()>;
    fn getgroups(&self) -> io::Result<Vec<u32>>;
    fn setresgid(&self, r: u32, e: u32, s: u32) -> io::Result<()>;
    fn getresgid(&self) -> io::Result<(u32, u32, u32)>;
    fn setresuid(&self, r: u32, e: u32, s: u32) -> io::Result<()>;
    fn getresuid(&self) -> io::Result<(u32, u32, u32)>;

    /// `setcon_raw(context)`: the SELinux dynamic transition of the calling (single) thread.
    fn selinux_setcon(&self, context: &str) -> io::Result<()>;
    /// `getcon_raw()`: the current raw context.
    fn selinux_getcon(&self) -> io::Result<String>;
    fn selinux_state(&self) -> io::Result<SelinuxState>;

    fn landlock_restrict(&self, rules: &LandlockRules) -> io::Result<LandlockOutcome>;
    /// Kernel Landlock ABI version, 0 when Landlock is not built in or not enabled.
    fn landlock_abi(&self) -> io::Result<u32>;

    /// The effective capability set as a bit mask (bit n = capability n).
    fn cap_effective(&self) -> io::Result<u64>;
    /// Reduces permitted and effective capabilities to CAP_SETUID|CAP_SETGID and sets
    /// PR_SET_KEEPCAPS, so a root master's child can first become `User` and still switch once
    /// more to the final identity.
    fn keep_only_setid_caps(&self) -> io::Result<()>;
    /// Empties the effective, permitted and inheritable capability sets.
    fn drop_all_caps(&self) -> io::Result<()>;

    fn setpriority(&self, nice: i32) -> io::Result<()>;
    fn getpriority(&self) -> io::Result<i32>;
    /// Sets soft and hard limit of `resource` to `limit`.
    fn setrlimit(&self, resource: Resource, limit: u64) -> io::Result<()>;
    /// Returns (soft, hard).
    fn getrlimit(&self, resource: Resource) -> io::Result<(u64, u64)>;

    /// PR_SET_DUMPABLE. The kernel resets it to 1 (suid_dumpable) on every credential change,
    /// so it is set again after each one.
    fn set_dumpable(&self, on: bool) -> io::Result<()>;
    /// PR_GET_DUMPABLE.
    fn dumpable(&self) -> io::Result<bool>;
    /// keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL): a new, anonymous session keyring that nothing
    /// else holds; returns its serial.
    fn join_session_keyring(&self) -> io::Result<i32>;
    /// keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0): the current session keyring.
    fn session_keyring(&self) -> io::Result<i32>;
    /// One `unshare(2)` with all of `namespaces`.
    fn unshare(&self, namespaces: &[Namespace]) -> io::Result<()>;
    /// Inode of `/proc/self/ns/NAME`: equal inodes are the same namespace. 0 for
    /// `pid_for_children` of a PID namespace that has no process yet.
    fn namespace_id(&self, ns: Namespace) -> io::Result<u64>;
    /// In a user namespace just created: `setgroups` deny, then maps `uid` and `gid` to
    /// themselves (and nothing else).
    fn write_id_maps(&self, uid: u32, gid: u32) -> io::Result<()>;
    /// `mount(NULL, "/", NULL, MS_REC|MS_PRIVATE)`: nothing mounted later propagates out.
    fn make_mounts_private(&self) -> io::Result<()>;
    /// Whether any mount of this mount namespace still has shared propagation (mountinfo).
    fn any_mount_shared(&self) -> io::Result<bool>;
    /// A fresh tmpfs of at most `size` bytes on `path` (nosuid, nodev, noexec, mode 1777).
    fn mount_tmpfs(&self, path: &Path, size: u64) -> io::Result<()>;
    fn mount_id(&self, path: &Path) -> io::Result<MountId>;
    /// Installs a seccomp-bpf filter (SECCOMP_SET_MODE_FILTER; no_new_privs is already set).
    fn seccomp_install(&self, filter: &[sock_filter]) -> io::Result<()>;
    /// PR_GET_SECCOMP: 0 none, 1 strict, 2 filter. (Not /proc/self/status: Landlock hides
    /// /proc from the confined child; the kernel answers both from the same field.)
    fn seccomp_mode(&self) -> io::Result<u32>;
}

/// Decodes the hexadecimal `CapEff:` line of /proc/<pid>/status.
pub fn parse_cap_eff(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
}

#[cfg(test)]
mod tests {
    use super::parse_cap_eff;

    #[test]
    fn cap_eff_table() {
        let cases: &[(&str, Option<u64>)] = &[
            ("Name:\tx\nCapEff:\t0000000000000000\n", Some(0)),
            (
                "CapInh:\t0\nCapEff:\t00000000000000c0\nCapBnd:\t1\n",
                Some(0xc0),
            ),
            ("CapEff:\t000001ffffffffff", Some(0x1ff_ffff_ffff)),
            ("CapPrm:\t0000000000000000\n", None),
            ("CapEff:\tzz\n", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_cap_eff(input), *want, "input {input:?}");
        }
    }
}
