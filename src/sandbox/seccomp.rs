//! The last step of the transition: a seccomp-bpf filter, built with `seccompiler` (rust-vmm),
//! inherited by every program the child runs and kept across exec.
//!
//! The filter is an allow-list's opposite on purpose: everything is allowed except the kernel
//! interfaces that let a process reach beyond its own connection (another process's memory or
//! limits, keyrings, namespaces and mounts, the kernel's global state) or that widen the kernel
//! attack surface without a use in a web program (io_uring, userfaultfd, bpf, perf). Denied
//! calls fail with EPERM (clone3 with ENOSYS, so libc falls back to clone(2), whose flags the
//! filter can see).
//!
//! Calls that take a pid are allowed only on the caller: seccomp sees arguments, not the
//! caller's pid, so "the calling process" is spelled pid 0 (`prlimit64(0, ..)`,
//! `sched_set*(0, ..)`, `setpriority(PRIO_PROCESS, 0, ..)`); `getpid()` passed explicitly is
//! refused. libc's `setrlimit`, `nice` and `sched_*` wrappers pass 0.
//!
//! Invariants:
//! - Every comparison of an `int`-typed argument compares its low 32 bits (`Dword`), as the
//!   kernel does, so high bits cannot smuggle a denied value past the filter.
//! - x32 system calls (number | 0x40000000) are refused before the architecture check and any
//!   foreign architecture kills the process (seccompiler's arch check), so no alternative
//!   syscall table reaches around a rule.
//! - Programs are compiled once per distinct [`SeccompPolicy`] in the master ([`precompile`])
//!   and inherited by every forked child through the cache; a child only compiles on a miss.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op,
    SeccompCondition as Cond, SeccompFilter, SeccompRule,
};

/// A rule a vhost may lift with `SeccompAllow NAME` (documented in docs/configuration.md). Nothing else
/// can be lifted.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum SeccompRelax {
    /// `memfd_create` (some runtimes' JIT or shared-memory code needs it).
    MemfdCreate,
    /// `listen`: a program may accept connections on a socket it made (Landlock ABI 4 refuses
    /// `bind` to TCP ports, but not `listen` on an unbound socket, which binds an ephemeral
    /// port on every address).
    Listen,
    /// `chmod`: the chmod and chown families. Landlock does not govern metadata, so where every
    /// connection shares one uid (Landlock only) a program could make another vhost's program
    /// directory world-writable (and so break its suEXEC check) or open the admin's files.
    Chmod,
}

impl SeccompRelax {
    pub const ALL: [SeccompRelax; 3] = [
        SeccompRelax::MemfdCreate,
        SeccompRelax::Listen,
        SeccompRelax::Chmod,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SeccompRelax::MemfdCreate => "memfd_create",
            SeccompRelax::Listen => "listen",
            SeccompRelax::Chmod => "chmod",
        }
    }

    pub fn parse(name: &str) -> Option<SeccompRelax> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// Which filter a connection gets: the default rules minus what its vhost lifted.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct SeccompPolicy {
    /// Sorted, no duplicates.
    pub relax: Vec<SeccompRelax>,
    /// `AllowConnect udp`: AF_INET/AF_INET6 datagram sockets (name resolution). Landlock cannot
    /// restrict UDP, so without this the filter refuses to create them.
    pub udp: bool,
    /// The password verifier's narrower filter: on top of the default rules, no socket of any
    /// kind (it only uses the socketpairs it inherits or receives), no addressing of one
    /// (bind, connect, listen, accept), no exec and no new process or thread.
    #[serde(default)]
    pub verifier: bool,
    /// With `verifier`: the verifier runs PAM (`AuthBasicProvider pam`), whose pam_unix runs
    /// its helper `unix_chkpwd` under SELinux: exec, fork and clone (still without namespace
    /// flags) stay allowed; of sockets only libpam's audit socket (AF_NETLINK, NETLINK_AUDIT),
    /// useless without CAP_AUDIT_WRITE. Landlock limits exec to the helper.
    #[serde(default)]
    pub verifier_pam: bool,
}

impl SeccompPolicy {
    pub fn new(mut relax: Vec<SeccompRelax>, udp: bool) -> SeccompPolicy {
        relax.sort_unstable();
        relax.dedup();
        SeccompPolicy {
            relax,
            udp,
            verifier: false,
            verifier_pam: false,
        }
    }

    /// The password verifier's filter (see [`SeccompPolicy::verifier`]).
    pub fn for_verifier() -> SeccompPolicy {
        SeccompPolicy {
            verifier: true,
            ..SeccompPolicy::default()
        }
    }

    /// The filter of a verifier that runs PAM (see [`SeccompPolicy::verifier_pam`]).
    pub fn for_verifier_pam() -> SeccompPolicy {
        SeccompPolicy {
            verifier_pam: true,
            ..SeccompPolicy::for_verifier()
        }
    }

    fn lifts(&self, r: SeccompRelax) -> bool {
        self.relax.contains(&r)
    }
}

/// Denied whatever the arguments.
const DENIED: &[i64] = &[
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_userfaultfd,
    // The child joined its own anonymous session keyring before it read a byte; after that
    // neither it nor a program needs the key API.
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    // The new mount API reaches what mount(2) does.
    libc::SYS_open_tree,
    libc::SYS_move_mount,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_process_madvise,
    libc::SYS_kcmp,
    libc::SYS_pidfd_getfd,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_reboot,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_quotactl_fd,
    libc::SYS_clock_settime,
    libc::SYS_settimeofday,
    libc::SYS_adjtimex,
    libc::SYS_clock_adjtime,
];

/// Calls that take a pid as first argument and are allowed only with 0 (the caller).
const SELF_ONLY: &[i64] = &[
    libc::SYS_prlimit64,
    libc::SYS_sched_setaffinity,
    libc::SYS_sched_setscheduler,
    libc::SYS_sched_setparam,
    libc::SYS_sched_setattr,
    libc::SYS_migrate_pages,
    libc::SYS_move_pages,
];

/// Denied whatever the arguments in the verifier's filter, on top of [`DENIED`].
const VERIFIER_DENIED: &[i64] = &[
    libc::SYS_socket,
    libc::SYS_socketpair,
    libc::SYS_bind,
    libc::SYS_connect,
    libc::SYS_listen,
    libc::SYS_accept,
    libc::SYS_accept4,
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_fork,
    libc::SYS_vfork,
    libc::SYS_clone,
];

/// What a PAM verifier keeps of [`VERIFIER_DENIED`]: running pam_unix's helper. `clone`
/// keeps the default rule (no namespace flags).
const VERIFIER_PAM_ALLOWED: &[i64] = &[
    libc::SYS_execve,
    libc::SYS_fork,
    libc::SYS_vfork,
    libc::SYS_clone,
];

const TIOCLINUX: u64 = 0x541C;
const NETLINK_SOCK_DIAG: u64 = 4;
const NETLINK_AUDIT: u64 = 9;
const SOCK_TYPE_MASK: u64 = 0xf;
/// Namespace flags clone(2) could create a namespace with (CLONE_NEWTIME is clone3-only).
const CLONE_NS_FLAGS: [i32; 7] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWCGROUP,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
];

/// Changing a file's mode or owner (`SeccompAllow chmod` lifts these).
const CHMOD_FAMILY: &[i64] = &[
    libc::SYS_chmod,
    libc::SYS_fchmod,
    libc::SYS_fchmodat,
    SYS_FCHMODAT2,
    libc::SYS_chown,
    libc::SYS_fchown,
    libc::SYS_lchown,
    libc::SYS_fchownat,
];

/// fchmodat2(2), Linux 6.6 (x86_64 number; not in every libc crate version).
const SYS_FCHMODAT2: i64 = 452;

fn cond(arg: u8, op: Op, value: u64) -> Result<Cond, String> {
    Cond::new(arg, Len::Dword, op, value).map_err(|e| e.to_string())
}

fn rule(conds: Vec<Cond>) -> Result<SeccompRule, String> {
    SeccompRule::new(conds).map_err(|e| e.to_string())
}

/// The rule map: syscall → alternatives (any matching one denies; an empty list denies always).
fn rules(policy: &SeccompPolicy) -> Result<BTreeMap<i64, Vec<SeccompRule>>, String> {
    let mut map: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for &nr in DENIED {
        map.insert(nr, Vec::new());
    }
    if !policy.lifts(SeccompRelax::MemfdCreate) {
        map.insert(libc::SYS_memfd_create, Vec::new());
    }
    if !policy.lifts(SeccompRelax::Listen) {
        map.insert(libc::SYS_listen, Vec::new());
    }
    if !policy.lifts(SeccompRelax::Chmod) {
        for &nr in CHMOD_FAMILY {
            map.insert(nr, Vec::new());
        }
    }
    for &nr in SELF_ONLY {
        map.insert(nr, vec![rule(vec![cond(0, Op::Ne, 0)?])?]);
    }
    map.insert(
        libc::SYS_setpriority,
        vec![
            rule(vec![cond(0, Op::Ne, libc::PRIO_PROCESS as u64)?])?,
            rule(vec![cond(1, Op::Ne, 0)?])?,
        ],
    );
    map.insert(
        libc::SYS_ioctl,
        vec![
            rule(vec![cond(1, Op::Eq, libc::TIOCSTI)?])?,
            rule(vec![cond(1, Op::Eq, TIOCLINUX)?])?,
        ],
    );
    let mut socket = vec![
        rule(vec![cond(0, Op::Eq, libc::AF_PACKET as u64)?])?,
        rule(vec![
            cond(0, Op::Eq, libc::AF_NETLINK as u64)?,
            cond(2, Op::Eq, NETLINK_SOCK_DIAG)?,
        ])?,
    ];
    if !policy.udp {
        for family in [libc::AF_INET, libc::AF_INET6] {
            socket.push(rule(vec![
                cond(0, Op::Eq, family as u64)?,
                cond(1, Op::MaskedEq(SOCK_TYPE_MASK), libc::SOCK_DGRAM as u64)?,
            ])?);
        }
    }
    map.insert(libc::SYS_socket, socket);
    let clone = CLONE_NS_FLAGS
        .iter()
        .map(|&f| rule(vec![cond(0, Op::MaskedEq(f as u64), f as u64)?]))
        .collect::<Result<Vec<_>, _>>()?;
    map.insert(libc::SYS_clone, clone);
    if policy.verifier {
        for &nr in VERIFIER_DENIED {
            if policy.verifier_pam && VERIFIER_PAM_ALLOWED.contains(&nr) {
                continue;
            }
            map.insert(nr, Vec::new());
        }
    }
    if policy.verifier_pam {
        // libpam opens an audit socket for every transaction and fails it (PAM_SYSTEM_ERR)
        // when that is refused; it tolerates EPERM on the send, which is what a verifier
        // without CAP_AUDIT_WRITE gets. Every other socket stays refused.
        map.insert(
            libc::SYS_socket,
            vec![
                rule(vec![cond(0, Op::Ne, libc::AF_NETLINK as u64)?])?,
                rule(vec![cond(2, Op::Ne, NETLINK_AUDIT)?])?,
            ],
        );
    }
    Ok(map)
}

// Classic BPF opcodes for the hand-written prefix.
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JGE_K: u16 = 0x35;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_RET_K: u16 = 0x06;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// Instructions run before seccompiler's program: x32 calls → EPERM, clone3 → ENOSYS. Both
/// only look at the syscall number (offset 0 of `seccomp_data`); the arch check follows.
fn prefix() -> Vec<sock_filter> {
    let errno = |e: i32| libc::SECCOMP_RET_ERRNO | (e as u32 & libc::SECCOMP_RET_DATA);
    vec![
        stmt(BPF_LD_W_ABS, 0),
        jump(BPF_JMP_JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(BPF_RET_K, errno(libc::EPERM)),
        jump(BPF_JMP_JEQ_K, libc::SYS_clone3 as u32, 0, 1),
        stmt(BPF_RET_K, errno(libc::ENOSYS)),
    ]
}

/// Compiles the filter for `policy`.
pub fn compile(policy: &SeccompPolicy) -> Result<BpfProgram, String> {
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    let filter = SeccompFilter::new(
        rules(policy)?,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| e.to_string())?;
    let body: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    let mut program = prefix();
    program.extend(body);
    Ok(program)
}

type Cache = BTreeMap<SeccompPolicy, Arc<BpfProgram>>;

static CACHE: Mutex<Cache> = Mutex::new(BTreeMap::new());

/// In the master (and a re-exec'd child) after each configuration load: compiles every policy
/// the configuration can ask for, so forked children inherit them compiled. Replaces the cache.
pub fn precompile(policies: impl IntoIterator<Item = SeccompPolicy>) -> Result<(), String> {
    let mut fresh = Cache::new();
    for p in policies {
        if let std::collections::btree_map::Entry::Vacant(slot) = fresh.entry(p) {
            let program = compile(slot.key())?;
            slot.insert(Arc::new(program));
        }
    }
    *CACHE.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
    Ok(())
}

/// The compiled program for `policy`: from the cache, or compiled now on a miss.
pub fn program(policy: &SeccompPolicy) -> Result<Arc<BpfProgram>, String> {
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = cache.get(policy) {
        return Ok(Arc::clone(p));
    }
    let p = Arc::new(compile(policy)?);
    cache.insert(policy.clone(), Arc::clone(&p));
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_compiles_and_starts_with_the_prefix() {
        let policies = [
            SeccompPolicy::default(),
            SeccompPolicy::new(vec![SeccompRelax::Listen, SeccompRelax::MemfdCreate], true),
        ];
        for p in policies {
            let prog = compile(&p).expect("compile");
            assert!(prog.len() > 40, "{p:?}: {} instructions", prog.len());
            assert_eq!(prog[..5], prefix()[..]);
            // Classic BPF programs are limited to 4096 instructions.
            assert!(prog.len() < 4096);
        }
    }

    #[test]
    fn relaxing_removes_exactly_that_rule() {
        let strict = rules(&SeccompPolicy::default()).unwrap();
        assert!(strict.contains_key(&libc::SYS_memfd_create));
        assert!(strict.contains_key(&libc::SYS_listen));
        assert_eq!(strict[&libc::SYS_socket].len(), 4);
        let relaxed = rules(&SeccompPolicy::new(vec![SeccompRelax::MemfdCreate], true)).unwrap();
        assert!(!relaxed.contains_key(&libc::SYS_memfd_create));
        assert!(relaxed.contains_key(&libc::SYS_listen));
        assert_eq!(relaxed[&libc::SYS_socket].len(), 2);
        assert_eq!(strict.len(), relaxed.len() + 1);
    }

    #[test]
    fn verifier_filter_refuses_sockets_exec_and_processes_outright() {
        let strict = rules(&SeccompPolicy::default()).unwrap();
        let verifier = rules(&SeccompPolicy::for_verifier()).unwrap();
        for nr in VERIFIER_DENIED {
            assert_eq!(verifier.get(nr).map(Vec::len), Some(0), "syscall {nr}");
        }
        // Everything the default filter refuses stays refused.
        assert!(strict.keys().all(|k| verifier.contains_key(k)));
        let prog = compile(&SeccompPolicy::for_verifier()).expect("compile");
        assert_eq!(prog[..5], prefix()[..]);
    }

    #[test]
    fn pam_verifier_filter_runs_a_helper_and_opens_only_the_audit_socket() {
        let plain = rules(&SeccompPolicy::for_verifier()).unwrap();
        let pam = rules(&SeccompPolicy::for_verifier_pam()).unwrap();
        for nr in [libc::SYS_connect, libc::SYS_bind, libc::SYS_execveat] {
            assert_eq!(pam.get(&nr).map(Vec::len), Some(0), "syscall {nr}");
        }
        // socket: refused unless AF_NETLINK with NETLINK_AUDIT (libpam's audit socket), as
        // two "not equal" alternatives.
        assert_eq!(pam[&libc::SYS_socket].len(), 2);
        for nr in [libc::SYS_execve, libc::SYS_fork, libc::SYS_vfork] {
            assert!(!pam.contains_key(&nr), "syscall {nr}");
        }
        // clone: refused with namespace flags, as for children.
        assert_eq!(pam[&libc::SYS_clone].len(), CLONE_NS_FLAGS.len());
        assert!(plain
            .keys()
            .all(|k| pam.contains_key(k) || VERIFIER_PAM_ALLOWED.contains(k)));
        compile(&SeccompPolicy::for_verifier_pam()).expect("compile");
    }

    #[test]
    fn relax_names_round_trip() {
        for r in SeccompRelax::ALL {
            assert_eq!(SeccompRelax::parse(r.name()), Some(r));
        }
        assert_eq!(SeccompRelax::parse("ptrace"), None);
    }

    #[test]
    fn cache_hands_out_the_precompiled_program() {
        let p = SeccompPolicy::new(vec![SeccompRelax::Listen], false);
        precompile([p.clone()]).unwrap();
        let a = program(&p).unwrap();
        let b = program(&p).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
    }
}
