//! Real-kernel tests of `sandbox::enter`. Not a libtest harness: libtest runs tests on spawned
//! threads, and setcon / Landlock / set*id must happen in a single-threaded process, as in the
//! server. Each case runs in its own `fork()`ed child; the child prints one line
//! (`PASS name`, `FAIL name: why`, `SKIP name: reason`); the binary exits 1 if any case failed.
//!
//! Environment for the SELinux case (run inside an enforcing VM, as a domain allowed to
//! dyntransition to TARGET):
//! - `ONESHOT_SEL_TARGET`: context to enter;
//! - `ONESHOT_SEL_BACK`, `ONESHOT_SEL_OTHER`, `ONESHOT_SEL_WIDER`: contexts that must then be
//!   refused with EACCES (the starting domain, another user's domain, TARGET with a wider range).
//!
//! Build once and copy the binary: `cargo test --test sandbox_real --no-run` prints its path.
//! Runtime dependencies: libc and libselinux only.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::sys::wait::{waitpid, WaitStatus};
use oneshot_httpd::sandbox::{
    check_context, check_required, early_drop, enter, isolate, Backend, IsolationPlan,
    LandlockRules, Plan, ProgramIsolation, SandboxError, SeccompPolicy, UnixIdentity,
    MIN_LANDLOCK_ABI,
};
use oneshot_httpd::sys::Namespace;
use oneshot_httpd::sys::{child_exit, fork, parse_cap_eff, ForkResult, Linux, Sys};

const UID: u32 = 54321;
const GID: u32 = 54321;
const GROUPS: [u32; 2] = [54321, 65534];
const STDIO: [RawFd; 2] = [1, 2];

enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

type Check = Result<(), String>;

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Check {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

fn errno_of(r: &io::Result<impl Sized>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

/// `Err` of `r` must carry `want` as errno.
fn expect_errno<T: std::fmt::Debug>(what: &str, r: io::Result<T>, want: i32) -> Check {
    ensure(errno_of(&r) == Some(want), || {
        format!("{what}: expected errno {want}, got {r:?}")
    })
}

fn is_root() -> bool {
    Linux.getresuid().map(|u| u.1 == 0).unwrap_or(false)
}

fn landlock_ok() -> Option<String> {
    match Linux.landlock_abi() {
        Ok(abi) if abi >= MIN_LANDLOCK_ABI => None,
        Ok(abi) => Some(format!("kernel Landlock ABI {abi} < {MIN_LANDLOCK_ABI}")),
        Err(e) => Some(format!("Landlock probe failed: {e}")),
    }
}

fn selinux_enforcing() -> bool {
    fs::read_to_string("/sys/fs/selinux/enforce").is_ok_and(|s| s.trim() == "1")
}

/// Runs `case` in a forked child; returns false if it failed.
fn run(name: &str, case: impl FnOnce() -> Outcome) -> bool {
    match fork() {
        Ok(ForkResult::Child) => {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(case))
                .unwrap_or_else(|_| Outcome::Fail("panicked".into()));
            let (line, code) = match outcome {
                Outcome::Pass => (format!("PASS {name}"), 0),
                Outcome::Fail(why) => (format!("FAIL {name}: {why}"), 1),
                Outcome::Skip(why) => (format!("SKIP {name}: {why}"), 3),
            };
            println!("{line}");
            child_exit(code)
        }
        Ok(ForkResult::Parent { child }) => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 0 | 3)) => true,
            Ok(WaitStatus::Exited(_, 1)) => false,
            other => {
                println!("FAIL {name}: child ended with {other:?}");
                false
            }
        },
        Err(e) => {
            println!("FAIL {name}: fork: {e}");
            false
        }
    }
}

fn outcome(check: Check) -> Outcome {
    check.map_or_else(Outcome::Fail, |()| Outcome::Pass)
}

/// A throwaway tree: ro/file, rw/, outside/secret (0600, root-owned when run as root).
struct Tree {
    root: PathBuf,
}

impl Tree {
    fn new() -> io::Result<Tree> {
        let root =
            std::env::temp_dir().join(format!("oneshot-sandbox-real-{}", std::process::id()));
        for dir in ["ro", "rw", "outside"] {
            fs::create_dir_all(root.join(dir))?;
        }
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755))?;
        fs::write(root.join("ro/file"), "public\n")?;
        fs::set_permissions(root.join("rw"), fs::Permissions::from_mode(0o777))?;
        fs::write(root.join("outside/secret"), "secret\n")?;
        fs::set_permissions(
            root.join("outside/secret"),
            fs::Permissions::from_mode(0o600),
        )?;
        Ok(Tree { root })
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn rules(&self) -> LandlockRules {
        LandlockRules {
            read: vec![self.path("ro")],
            exec: Vec::new(),
            write: vec![self.path("rw")],
            connect_tcp: Vec::new(),
        }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        // Best effort: a leftover directory in the temp dir harms nothing.
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn write_new(path: &Path) -> io::Result<()> {
    fs::write(path, "x")
}

fn check_landlock_effects(tree: &Tree) -> Check {
    let own = fs::read_to_string(tree.path("ro/file"));
    ensure(own.as_deref().ok() == Some("public\n"), || {
        format!("read ro/file: {own:?}")
    })?;
    expect_errno(
        "read outside/secret",
        fs::read(tree.path("outside/secret")),
        libc::EACCES,
    )?;
    expect_errno(
        "list outside/",
        fs::read_dir(tree.path("outside")),
        libc::EACCES,
    )?;
    expect_errno(
        "create in ro/",
        write_new(&tree.path("ro/new")),
        libc::EACCES,
    )?;
    let append = fs::OpenOptions::new()
        .append(true)
        .open(tree.path("ro/file"));
    expect_errno("open ro/file for writing", append, libc::EACCES)?;
    // Per-child name: an earlier case may have left rw/new owned by another uid.
    let rw = write_new(&tree.path(&format!("rw/new-{}", std::process::id())));
    ensure(rw.is_ok(), || format!("create in rw/: {rw:?}"))?;
    let nnp = Linux.no_new_privs();
    ensure(matches!(nnp, Ok(true)), || format!("no_new_privs: {nnp:?}"))
}

fn case_landlock(tree: &Tree, inherited: RawFd) -> Outcome {
    if let Some(why) = landlock_ok() {
        return Outcome::Skip(why);
    }
    let plan = Plan {
        landlock: Some(tree.rules()),
        keep_fds: STDIO.to_vec(),
        ..Plan::default()
    };
    let confined = match enter(&Linux, &plan) {
        Ok(c) => c,
        Err(e) => return Outcome::Fail(format!("enter: {e}")),
    };
    outcome(check_landlock_effects(tree).and_then(|()| {
        ensure(confined.describe() == "landlock", || {
            confined.describe().to_string()
        })?;
        let fd = nix::fcntl::fcntl(inherited, nix::fcntl::FcntlArg::F_GETFD);
        ensure(fd == Err(nix::errno::Errno::EBADF), || {
            format!("inherited fd {inherited} still open: {fd:?}")
        })
    }))
}

fn check_unix_identity() -> Check {
    let uids = Linux.getresuid().map_err(|e| e.to_string())?;
    ensure(uids == (UID, UID, UID), || format!("getresuid {uids:?}"))?;
    let gids = Linux.getresgid().map_err(|e| e.to_string())?;
    ensure(gids == (GID, GID, GID), || format!("getresgid {gids:?}"))?;
    let mut groups = Linux.getgroups().map_err(|e| e.to_string())?;
    groups.sort_unstable();
    ensure(groups == GROUPS, || format!("getgroups {groups:?}"))?;
    expect_errno("setresuid(0,0,0)", Linux.setresuid(0, 0, 0), libc::EPERM)?;
    expect_errno("setresgid(0,0,0)", Linux.setresgid(0, 0, 0), libc::EPERM)?;
    expect_errno("setgroups([0])", Linux.setgroups(&[0]), libc::EPERM)?;
    let capeff = Linux.cap_effective();
    ensure(matches!(capeff, Ok(0)), || {
        format!("capget CapEff {capeff:?}")
    })
}

/// CapEff as /proc reports it: an independent view of the same fact (needs /proc readable).
fn check_proc_capeff() -> Check {
    let status = fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    let capeff = parse_cap_eff(&status);
    ensure(capeff == Some(0), || format!("/proc CapEff {capeff:?}"))?;
    ensure(status.lines().any(|l| l == "NoNewPrivs:\t1"), || {
        "NoNewPrivs not 1".into()
    })
}

fn identity() -> UnixIdentity {
    UnixIdentity {
        uid: UID,
        gid: GID,
        groups: GROUPS.to_vec(),
    }
}

fn case_unix(tree: &Tree) -> Outcome {
    if !is_root() {
        return Outcome::Skip("not root".into());
    }
    let plan = Plan {
        unix: Some(identity()),
        keep_fds: STDIO.to_vec(),
        ..Plan::default()
    };
    if let Err(e) = enter(&Linux, &plan) {
        return Outcome::Fail(format!("enter: {e}"));
    }
    outcome(check_unix_identity().and_then(|()| {
        check_proc_capeff()?;
        let secret = fs::read(tree.path("outside/secret"));
        expect_errno("read root's 0600 file", secret, libc::EACCES)
    }))
}

fn case_unix_and_landlock(tree: &Tree) -> Outcome {
    if !is_root() {
        return Outcome::Skip("not root".into());
    }
    if let Some(why) = landlock_ok() {
        return Outcome::Skip(why);
    }
    let plan = Plan {
        unix: Some(identity()),
        landlock: Some(tree.rules()),
        keep_fds: STDIO.to_vec(),
        ..Plan::default()
    };
    match enter(&Linux, &plan) {
        Ok(c) if c.describe() == format!("{UID}:{GID}") => {}
        Ok(c) => return Outcome::Fail(format!("describe() = {}", c.describe())),
        Err(e) => return Outcome::Fail(format!("enter: {e}")),
    }
    outcome(check_unix_identity().and_then(|()| check_landlock_effects(tree)))
}

/// Root master's child: early drop to a server identity, then the per-request switch.
fn case_early_drop_then_enter() -> Outcome {
    if !is_root() {
        return Outcome::Skip("not root".into());
    }
    let server = UnixIdentity {
        uid: UID - 1,
        gid: GID - 1,
        groups: vec![GID - 1],
    };
    if let Err(e) = early_drop(&Linux, &server) {
        return Outcome::Fail(format!("early_drop: {e}"));
    }
    let capeff = Linux.cap_effective();
    if !matches!(capeff, Ok(0xc0)) {
        return Outcome::Fail(format!("after early drop CapEff {capeff:?}, expected 0xc0"));
    }
    let plan = Plan {
        unix: Some(identity()),
        keep_fds: STDIO.to_vec(),
        ..Plan::default()
    };
    if let Err(e) = enter(&Linux, &plan) {
        return Outcome::Fail(format!("enter: {e}"));
    }
    let back = UID - 1;
    outcome(check_unix_identity().and_then(|()| {
        expect_errno(
            "setresuid back to server uid",
            Linux.setresuid(back, back, back),
            libc::EPERM,
        )
    }))
}

fn case_root_target_refused() -> Outcome {
    let before = Linux.getresuid();
    let plan = Plan {
        unix: Some(UnixIdentity {
            uid: 0,
            ..identity()
        }),
        keep_fds: STDIO.to_vec(),
        ..Plan::default()
    };
    let result = enter(&Linux, &plan);
    let after = Linux.getresuid();
    outcome(
        ensure(
            matches!(result, Err(SandboxError::RootTarget { .. })),
            || format!("uid 0 plan gave {result:?}"),
        )
        .and_then(|()| ensure(before.ok() == after.ok(), || "ids changed".into())),
    )
}

fn case_check_required() -> Outcome {
    let selinux = check_required(&[Backend::Selinux], &Linux);
    let landlock = check_required(&[Backend::Landlock], &Linux);
    let unix = check_required(&[Backend::Unix], &Linux);
    let check = ensure(selinux.is_ok() == selinux_enforcing(), || {
        format!("selinux: {selinux:?}")
    })
    .and_then(|()| {
        ensure(landlock.is_ok() == landlock_ok().is_none(), || {
            format!("landlock: {landlock:?}")
        })
    })
    .and_then(|()| ensure(unix.is_ok() == is_root(), || format!("unix: {unix:?}")));
    if let Err(e) = &selinux {
        println!("INFO check_required(selinux) here: {e}");
    }
    outcome(check)
}

fn sel_env() -> Result<[String; 4], String> {
    let names = [
        "ONESHOT_SEL_TARGET",
        "ONESHOT_SEL_BACK",
        "ONESHOT_SEL_OTHER",
        "ONESHOT_SEL_WIDER",
    ];
    let values: Vec<Option<String>> = names.iter().map(|n| std::env::var(n).ok()).collect();
    let missing: Vec<&str> = names
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.as_deref().is_none_or(str::is_empty))
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        return Err(format!("environment lacks {}", missing.join(", ")));
    }
    let v: Vec<String> = values.into_iter().flatten().collect();
    Ok([v[0].clone(), v[1].clone(), v[2].clone(), v[3].clone()])
}

fn case_selinux() -> Outcome {
    if !selinux_enforcing() {
        return Outcome::Skip("SELinux is not enforcing (/sys/fs/selinux/enforce is not 1)".into());
    }
    let [target, back, other, wider] = match sel_env() {
        Ok(v) => v,
        Err(why) => return Outcome::Skip(why),
    };
    let plan = Plan {
        selinux: Some(target.clone()),
        // 0 kept too, so this case does not depend on the policy letting the starting domain
        // open /dev/null (which enter() does for unkept 0-2).
        keep_fds: vec![0, 1, 2],
        ..Plan::default()
    };
    match enter(&Linux, &plan) {
        Ok(c) if c.describe() == target => {}
        Ok(c) => return Outcome::Fail(format!("describe() = {}", c.describe())),
        Err(e) => return Outcome::Fail(format!("enter: {e}")),
    }
    let now = Linux.selinux_getcon();
    let check = ensure(now.as_deref().ok() == Some(target.as_str()), || {
        format!("getcon {now:?}")
    });
    outcome(check.and_then(|()| {
        for ctx in [&back, &other, &wider] {
            expect_errno(
                &format!("setcon {ctx}"),
                Linux.selinux_setcon(ctx),
                libc::EACCES,
            )?;
        }
        Ok(())
    }))
}

/// Config-time validation against the loaded policy (runs in the starting domain, which needs
/// `security { check_context }`).
fn case_check_context() -> Outcome {
    if !selinux_enforcing() {
        return Outcome::Skip("SELinux is not enforcing".into());
    }
    let target = match sel_env() {
        Ok([target, ..]) => target,
        Err(why) => return Outcome::Skip(why),
    };
    let bogus = "system_u:system_r:oneshot_no_such_t:s0";
    outcome(check_context(&target).and_then(|()| {
        ensure(check_context(bogus).is_err(), || {
            format!("{bogus} accepted")
        })
    }))
}

/// Namespace inodes of the calling process, for "the child has new ones".
fn ns_ids() -> Vec<u64> {
    [Namespace::Ipc, Namespace::Mount, Namespace::PidForChildren]
        .iter()
        .map(|&n| Linux.namespace_id(n).unwrap_or(0))
        .collect()
}

/// After `isolate`: new IPC and mount namespaces, not dumpable, a private tmpfs on `scratch`
/// (a file written there is gone for the parent, checked by the caller), and the first
/// process forked is pid 1 of a new PID namespace.
fn check_isolated(parent_ns: &[u64], scratch: &Path) -> Check {
    let now = ns_ids();
    ensure(now.iter().zip(parent_ns).all(|(a, b)| a != b), || {
        format!("namespaces {now:?} == parent's {parent_ns:?}")
    })?;
    ensure(Linux.dumpable().ok() == Some(false), || {
        "still dumpable".into()
    })?;
    fs::write(scratch.join("left-behind"), "x").map_err(|e| format!("write tmpfs: {e}"))?;
    let id = Linux.mount_id(scratch).map_err(|e| e.to_string())?;
    ensure(id.fs_type == oneshot_httpd::sys::TMPFS_MAGIC, || {
        format!("{} is fs type {:#x}", scratch.display(), id.fs_type)
    })?;
    match fork().map_err(|e| e.to_string())? {
        ForkResult::Child => child_exit(if std::process::id() == 1 { 0 } else { 9 }),
        ForkResult::Parent { child } => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 0)) => Ok(()),
            other => Err(format!(
                "first child is not pid 1 of a new namespace: {other:?}"
            )),
        },
    }
}

fn isolation_plan(tree: &Tree, user_ns: Option<(u32, u32)>) -> IsolationPlan {
    IsolationPlan {
        namespaces: true,
        programs: Some(ProgramIsolation {
            tmpfs: vec![tree.path("rw")],
            tmpfs_size: 1 << 20,
        }),
        user_ns,
        ns_before: Vec::new(),
    }
}

/// As the master does: the namespace ids come from the parent (read before it forked this
/// process), so `isolate` reads only the new ones.
fn case_isolate_root(tree: &Tree, parent_ns: &[u64]) -> Outcome {
    if !is_root() {
        return Outcome::Skip("not root".into());
    }
    let keyring = Linux.session_keyring();
    let plan = IsolationPlan {
        ns_before: vec![
            (Namespace::Ipc, parent_ns[0]),
            (Namespace::Mount, parent_ns[1]),
            (Namespace::PidForChildren, parent_ns[2]),
        ],
        ..isolation_plan(tree, None)
    };
    if let Err(e) = isolate(&Linux, &plan) {
        return Outcome::Fail(format!("isolate: {e}"));
    }
    outcome(check_isolated(parent_ns, &tree.path("rw")).and_then(|()| {
        let now = Linux.session_keyring();
        ensure(
            now.is_ok() && now.as_ref().ok() != keyring.as_ref().ok(),
            || format!("session keyring {now:?}, was {keyring:?}"),
        )
    }))
}

/// An unprivileged process (as root: first dropped to UID) isolates through a user namespace
/// that maps only its own ids, and keeps no capability from it.
fn case_isolate_unprivileged(tree: &Tree, parent_ns: &[u64]) -> Outcome {
    if is_root() {
        let drop = Linux
            .setgroups(&[GID])
            .and_then(|()| Linux.setresgid(GID, GID, GID))
            .and_then(|()| Linux.setresuid(UID, UID, UID))
            // The uid change made it non-dumpable; an exec'd unprivileged master is dumpable
            // (a non-dumpable process cannot write its own uid_map).
            .and_then(|()| Linux.set_dumpable(true));
        if let Err(e) = drop {
            return Outcome::Fail(format!("dropping to {UID}: {e}"));
        }
    }
    let (uid, gid) = (Linux.getresuid().unwrap().0, Linux.getresgid().unwrap().0);
    match isolate(&Linux, &isolation_plan(tree, Some((uid, gid)))) {
        Ok(()) => {}
        Err(SandboxError::Failed { source, step })
            if matches!(source.raw_os_error(), Some(libc::EPERM | libc::ENOSPC)) =>
        {
            return Outcome::Skip(format!("user namespaces refused here: {step}: {source}"));
        }
        Err(e) => return Outcome::Fail(format!("isolate: {e}")),
    }
    outcome(check_isolated(parent_ns, &tree.path("rw")).and_then(|()| {
        let ids = Linux.getresuid().map_err(|e| e.to_string())?;
        ensure(ids == (uid, uid, uid), || format!("uids {ids:?}"))?;
        let caps = Linux.cap_effective().map_err(|e| e.to_string())?;
        ensure(caps == 0, || {
            format!("CapEff {caps:#x} in the user namespace")
        })
    }))
}

/// The mountinfo oracle, written from proc(5): the mount ids (field 1) whose optional fields
/// (between field 6 and the "-") include `shared:N`.
fn shared_in_mountinfo() -> Result<Vec<u64>, String> {
    let info = fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    Ok(info
        .lines()
        .filter(|l| {
            l.split(' ')
                .skip(6)
                .take_while(|f| *f != "-")
                .any(|f| f.starts_with("shared:"))
        })
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect())
}

/// `any_mount_shared` answers from statmount (where the kernel has it) what mountinfo says: in
/// a new mount namespace, with one tmpfs made shared, then everything made private, then one
/// made shared again beneath a private parent.
fn case_mount_propagation(tree: &Tree) -> Outcome {
    use oneshot_httpd::sys::mounts;
    if !is_root() {
        return Outcome::Skip("not root".into());
    }
    if mounts::any_shared_statmount().is_none() {
        return Outcome::Skip("no listmount/statmount here (mountinfo is read instead)".into());
    }
    let mnt = |target: &Path, flags: libc::c_ulong, fstype: Option<&std::ffi::CStr>| {
        let t = std::ffi::CString::new(target.to_str().unwrap()).unwrap();
        // SAFETY: valid NUL-terminated strings or NULL, read by the kernel only.
        let rc = unsafe {
            libc::mount(
                c"oneshot-test".as_ptr(),
                t.as_ptr(),
                fstype.map_or(std::ptr::null(), |f| f.as_ptr()),
                flags,
                std::ptr::null(),
            )
        };
        ensure(rc == 0, || {
            format!("mount {}: {}", target.display(), io::Error::last_os_error())
        })
    };
    let step = |what: &str| -> Check {
        let want = !shared_in_mountinfo()?.is_empty();
        let got = mounts::any_shared_statmount();
        ensure(got == Some(want), || {
            format!("{what}: statmount says {got:?}, mountinfo {want}")
        })?;
        let via_sys = Linux.any_mount_shared().map_err(|e| e.to_string())?;
        ensure(via_sys == want, || {
            format!("{what}: any_mount_shared {via_sys}")
        })
    };
    // SAFETY: integers only.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return Outcome::Fail(format!("unshare: {}", io::Error::last_os_error()));
    }
    let dir = tree.path("rw");
    outcome((|| {
        step("as inherited")?;
        mnt(Path::new("/"), libc::MS_REC | libc::MS_PRIVATE, None)?;
        step("all private")?;
        ensure(shared_in_mountinfo()?.is_empty(), || "still shared".into())?;
        mnt(&dir, libc::MS_NOSUID, Some(c"tmpfs"))?;
        mnt(&dir, libc::MS_SHARED, None)?;
        ensure(!shared_in_mountinfo()?.is_empty(), || {
            "mountinfo shows no shared mount after MS_SHARED".into()
        })?;
        step("one tmpfs shared")?;
        mnt(&dir, libc::MS_PRIVATE, None)?;
        step("private again")
    })())
}

/// errno of a raw syscall with integer arguments, 0 if it succeeded.
fn raw_errno(nr: libc::c_long, args: [libc::c_long; 4]) -> i32 {
    // SAFETY: every call made through here takes integers or NULL only (no pointer to memory
    // of ours is passed), so the kernel writes nothing into this process.
    let rc = unsafe { libc::syscall(nr, args[0], args[1], args[2], args[3]) };
    if rc < 0 {
        io::Error::last_os_error().raw_os_error().unwrap_or(0)
    } else {
        0
    }
}

/// The filter is on (mode 2), refuses what it must with the errno it must, and leaves what
/// it must: fork, prlimit on the caller, TCP sockets.
fn case_seccomp(tree: &Tree) -> Outcome {
    if let Some(why) = landlock_ok() {
        return Outcome::Skip(why);
    }
    let plan = Plan {
        landlock: Some(tree.rules()),
        keep_fds: STDIO.to_vec(),
        seccomp: Some(SeccompPolicy::default()),
        ..Plan::default()
    };
    if let Err(e) = enter(&Linux, &plan) {
        return Outcome::Fail(format!("enter: {e}"));
    }
    let ppid = libc::c_long::from(nix::unistd::getppid().as_raw());
    let nul = 0 as libc::c_long;
    let table: &[(&str, libc::c_long, [libc::c_long; 4], i32)] = &[
        (
            "io_uring_setup",
            libc::SYS_io_uring_setup,
            [1, nul, 0, 0],
            libc::EPERM,
        ),
        ("userfaultfd", libc::SYS_userfaultfd, [0; 4], libc::EPERM),
        ("keyctl", libc::SYS_keyctl, [0, -3, 0, 0], libc::EPERM),
        (
            "unshare",
            libc::SYS_unshare,
            [libc::CLONE_NEWUSER.into(), 0, 0, 0],
            libc::EPERM,
        ),
        (
            "ptrace",
            libc::SYS_ptrace,
            [libc::PTRACE_ATTACH.into(), ppid, 0, 0],
            libc::EPERM,
        ),
        (
            "prlimit64(parent)",
            libc::SYS_prlimit64,
            [ppid, libc::RLIMIT_NPROC.into(), 0, 0],
            libc::EPERM,
        ),
        (
            "prlimit64(0)",
            libc::SYS_prlimit64,
            [0, libc::RLIMIT_NPROC.into(), 0, 0],
            0,
        ),
        (
            "setpriority(parent)",
            libc::SYS_setpriority,
            [libc::PRIO_PROCESS.into(), ppid, 0, 0],
            libc::EPERM,
        ),
        (
            "sched_setaffinity(parent)",
            libc::SYS_sched_setaffinity,
            [ppid, 0, 0, 0],
            libc::EPERM,
        ),
        (
            "ioctl(TIOCSTI)",
            libc::SYS_ioctl,
            [0, libc::TIOCSTI as libc::c_long, 0, 0],
            libc::EPERM,
        ),
        (
            "socket(AF_PACKET)",
            libc::SYS_socket,
            [libc::AF_PACKET.into(), libc::SOCK_RAW.into(), 0, 0],
            libc::EPERM,
        ),
        (
            "socket(sock_diag)",
            libc::SYS_socket,
            [libc::AF_NETLINK.into(), libc::SOCK_RAW.into(), 4, 0],
            libc::EPERM,
        ),
        (
            "socket(UDP|CLOEXEC)",
            libc::SYS_socket,
            [
                libc::AF_INET6.into(),
                (libc::SOCK_DGRAM | libc::SOCK_CLOEXEC).into(),
                0,
                0,
            ],
            libc::EPERM,
        ),
        (
            "memfd_create",
            libc::SYS_memfd_create,
            [nul, 0, 0, 0],
            libc::EPERM,
        ),
        ("clone3", libc::SYS_clone3, [nul, 0, 0, 0], libc::ENOSYS),
        (
            "x32 getpid",
            0x4000_0000 | libc::SYS_getpid,
            [0; 4],
            libc::EPERM,
        ),
    ];
    let check = ensure(Linux.seccomp_mode().ok() == Some(2), || {
        format!("PR_GET_SECCOMP = {:?}", Linux.seccomp_mode())
    })
    .and_then(|()| {
        for &(what, nr, args, want) in table {
            let got = raw_errno(nr, args);
            ensure(got == want, || format!("{what}: errno {got}, want {want}"))?;
        }
        let tcp = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None);
        ensure(tcp.is_ok(), || format!("TCP socket refused: {tcp:?}"))?;
        match fork().map_err(|e| e.to_string())? {
            ForkResult::Child => child_exit(0),
            ForkResult::Parent { child } => {
                let r = waitpid(child, None);
                ensure(matches!(r, Ok(WaitStatus::Exited(_, 0))), || {
                    format!("fork: {r:?}")
                })
            }
        }
    });
    outcome(check)
}

/// Landlock ABI 4: no TCP bind at all, connect only to the listed port.
fn case_landlock_net(tree: &Tree) -> Outcome {
    match Linux.landlock_abi() {
        Ok(abi) if abi >= 4 => {}
        other => return Outcome::Skip(format!("Landlock ABI {other:?} < 4")),
    }
    let listen = || std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string());
    let (allowed, refused) = match (listen(), listen()) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => return Outcome::Fail(format!("listeners: {a:?} {b:?}")),
    };
    let port = |l: &std::net::TcpListener| l.local_addr().unwrap().port();
    let mut rules = tree.rules();
    rules.connect_tcp = vec![port(&allowed)];
    let plan = Plan {
        landlock: Some(rules),
        keep_fds: vec![1, 2, allowed.as_raw_fd(), refused.as_raw_fd()],
        ..Plan::default()
    };
    if let Err(e) = enter(&Linux, &plan) {
        return Outcome::Fail(format!("enter: {e}"));
    }
    let connect = |p: u16| std::net::TcpStream::connect(("127.0.0.1", p));
    outcome(
        ensure(connect(port(&allowed)).is_ok(), || {
            "listed port refused".into()
        })
        .and_then(|()| expect_errno("connect unlisted", connect(port(&refused)), libc::EACCES))
        .and_then(|()| {
            expect_errno(
                "bind",
                std::net::TcpListener::bind("127.0.0.1:0"),
                libc::EACCES,
            )
        }),
    )
}

/// After enter with a unix identity, the process is not dumpable (the switch reset it).
fn case_not_dumpable_after_switch() -> Outcome {
    if !is_root() {
        return Outcome::Skip("not root".into());
    }
    let plan = Plan {
        unix: Some(identity()),
        keep_fds: STDIO.to_vec(),
        ..Plan::default()
    };
    if let Err(e) = enter(&Linux, &plan) {
        return Outcome::Fail(format!("enter: {e}"));
    }
    outcome(ensure(Linux.dumpable().ok() == Some(false), || {
        "dumpable after the identity switch".into()
    }))
}

fn main() {
    let tree = match Tree::new() {
        Ok(t) => t,
        Err(e) => {
            println!("FAIL setup: creating the test tree: {e}");
            std::process::exit(1);
        }
    };
    // An fd the child inherits and must have closed after enter().
    let inherited = match fs::File::open(tree.path("ro/file")) {
        Ok(f) => f,
        Err(e) => {
            println!("FAIL setup: {e}");
            std::process::exit(1);
        }
    };
    let fd = inherited.as_raw_fd();
    let parent_ns = ns_ids();
    let results = [
        run("landlock_confines_files", || case_landlock(&tree, fd)),
        run("unix_identity_is_final", || case_unix(&tree)),
        run("unix_and_landlock", || case_unix_and_landlock(&tree)),
        run("early_drop_then_enter", case_early_drop_then_enter),
        run("root_target_refused", case_root_target_refused),
        run("check_required_matches_kernel", case_check_required),
        run("selinux_check_context", case_check_context),
        run("selinux_transition_is_one_way", case_selinux),
        run("isolate_as_root", || case_isolate_root(&tree, &parent_ns)),
        run("isolate_unprivileged_via_user_namespace", || {
            case_isolate_unprivileged(&tree, &parent_ns)
        }),
        run("mount_propagation_matches_mountinfo", || {
            case_mount_propagation(&tree)
        }),
        run("seccomp_filter_is_on_and_refuses", || case_seccomp(&tree)),
        run("landlock_network_rules", || case_landlock_net(&tree)),
        run(
            "not_dumpable_after_identity_switch",
            case_not_dumpable_after_switch,
        ),
    ];
    let leaked = tree.path("rw/left-behind");
    let leak = if leaked.exists() {
        println!(
            "FAIL isolate: {} written on the private tmpfs is visible outside",
            leaked.display()
        );
        1
    } else {
        0
    };
    let failed = results.iter().filter(|ok| !**ok).count() + leak;
    println!("{failed} failed of {}", results.len());
    std::process::exit(i32::from(failed > 0));
}
