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

mod bpf;

pub use bpf::compile;

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
    use super::bpf::{
        dispatch, intervals, prefix, seccompiler_program, stmt, Insn, Leaf, AUDIT_ARCH_X86_64,
        BPF_LD_W_ABS, X32_SYSCALL_BIT,
    };
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

    /// A classic-BPF interpreter for the instructions seccomp filters use (test oracle, written
    /// from linux/filter.h and Documentation/networking/filter.rst, not from `compile`).
    fn run(prog: &[sock_filter], nr: u32, arch: u32, args: [u64; 6]) -> u32 {
        let mut data = vec![nr, arch, 0, 0];
        for a in args {
            data.extend([a as u32, (a >> 32) as u32]);
        }
        let (mut acc, mut pc) = (0u32, 0usize);
        for _ in 0..10_000 {
            let f = &prog[pc];
            pc += 1;
            match f.code {
                0x20 => acc = data[f.k as usize / 4], // LD W ABS
                0x54 => acc &= f.k,                   // ALU AND K
                0x05 => pc += f.k as usize,           // JA
                0x06 => return f.k,                   // RET K
                0x15 | 0x25 | 0x35 | 0x45 => {
                    let hit = match f.code {
                        0x15 => acc == f.k,
                        0x25 => acc > f.k,
                        0x35 => acc >= f.k,
                        _ => acc & f.k != 0,
                    };
                    pc += usize::from(if hit { f.jt } else { f.jf });
                }
                code => panic!("instruction {code:#x} at {} not modelled", pc - 1),
            }
        }
        panic!("no return within 10000 steps");
    }

    /// seccompiler's program for the whole rule map behind the same prefix: what `compile`
    /// produced before the dispatch tree, and must still decide alike.
    fn reference(policy: &SeccompPolicy) -> BpfProgram {
        let mut p = prefix();
        p.extend(seccompiler_program(rules(policy).unwrap()).unwrap());
        p
    }

    /// Argument vectors that hit every rule's boundary: the values the rules name, with and
    /// without high bits set, and their neighbours.
    fn argument_vectors() -> Vec<[u64; 6]> {
        let mut values: Vec<u64> = vec![0, 1, 2, 3, 5, 10, 16, u32::MAX as u64, u64::MAX];
        values.extend([libc::TIOCSTI, TIOCLINUX, NETLINK_SOCK_DIAG]);
        values.extend(
            [
                libc::AF_PACKET,
                libc::AF_NETLINK,
                libc::AF_INET,
                libc::AF_INET6,
            ]
            .map(|v| v as u64),
        );
        values.extend(
            [
                libc::SOCK_DGRAM,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                libc::SOCK_STREAM,
            ]
            .map(|v| v as u64),
        );
        values.extend(
            CLONE_NS_FLAGS
                .iter()
                .map(|&f| f as u64 | libc::SIGCHLD as u64),
        );
        values.push(libc::PRIO_PROCESS as u64);
        let high: Vec<u64> = values.iter().map(|v| v | 0xdead_0000_0000_0000).collect();
        values.extend(high);
        let mut out = vec![[0; 6]];
        for &a in &values {
            for &b in &values {
                out.push([a, b, 0, 0, 0, 0]);
                out.push([a, b, NETLINK_SOCK_DIAG, 0, 0, 0]);
                out.push([a, 0, b, 0, 0, 0]);
            }
        }
        out
    }

    #[test]
    fn dispatch_tree_decides_exactly_as_seccompiler() {
        let vectors = argument_vectors();
        let policies = [
            SeccompPolicy::default(),
            SeccompPolicy::new(SeccompRelax::ALL.to_vec(), true),
            SeccompPolicy::new(vec![SeccompRelax::Chmod], false),
            SeccompPolicy::for_verifier(),
        ];
        for policy in policies {
            let (ours, theirs) = (compile(&policy).unwrap(), reference(&policy));
            assert!(
                ours.len() < theirs.len(),
                "{} vs {}",
                ours.len(),
                theirs.len()
            );
            let with_args = rules(&policy).unwrap();
            let numbers = (0..=600u32).chain([X32_SYSCALL_BIT, X32_SYSCALL_BIT + 1, u32::MAX]);
            for nr in numbers {
                for arch in [AUDIT_ARCH_X86_64, 0x4000_0003 /* i386 */] {
                    // The tree looks at the number only: every argument vector where an
                    // argument rule (or a neighbour's) could decide, a few elsewhere.
                    let near = (nr.saturating_sub(1)..=nr.saturating_add(1))
                        .any(|n| with_args.get(&i64::from(n)).is_some_and(|r| !r.is_empty()));
                    let per_nr = if near && arch == AUDIT_ARCH_X86_64 {
                        &vectors[..]
                    } else {
                        &vectors[..vectors.len().min(40)]
                    };
                    for args in per_nr {
                        assert_eq!(
                            run(&ours, nr, arch, *args),
                            run(&theirs, nr, arch, *args),
                            "{policy:?}: nr {nr} arch {arch:#x} args {args:x?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn denied_and_allowed_by_hand() {
        let prog = compile(&SeccompPolicy::default()).unwrap();
        let eperm = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
        let x86 = AUDIT_ARCH_X86_64;
        let table: &[(i64, [u64; 6], u32)] = &[
            (libc::SYS_read, [0; 6], libc::SECCOMP_RET_ALLOW),
            (libc::SYS_ptrace, [0; 6], eperm),
            (libc::SYS_keyctl, [0; 6], eperm),
            (
                libc::SYS_prlimit64,
                [0, 7, 0, 0, 0, 0],
                libc::SECCOMP_RET_ALLOW,
            ),
            (libc::SYS_prlimit64, [1, 7, 0, 0, 0, 0], eperm),
            (
                libc::SYS_prlimit64,
                [1 << 32, 7, 0, 0, 0, 0],
                libc::SECCOMP_RET_ALLOW,
            ),
            (
                libc::SYS_socket,
                [libc::AF_INET as u64, libc::SOCK_STREAM as u64, 0, 0, 0, 0],
                libc::SECCOMP_RET_ALLOW,
            ),
            (
                libc::SYS_socket,
                [libc::AF_INET as u64, libc::SOCK_DGRAM as u64, 0, 0, 0, 0],
                eperm,
            ),
            (
                libc::SYS_clone,
                [libc::CLONE_NEWUSER as u64, 0, 0, 0, 0, 0],
                eperm,
            ),
            (
                libc::SYS_clone,
                [libc::SIGCHLD as u64, 0, 0, 0, 0, 0],
                libc::SECCOMP_RET_ALLOW,
            ),
            (
                libc::SYS_clone3,
                [0; 6],
                libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
            ),
            (libc::SYS_chmod, [0; 6], eperm),
            (SYS_FCHMODAT2, [0; 6], eperm),
            (libc::SYS_io_uring_setup, [0; 6], eperm),
            (libc::SYS_adjtimex, [0; 6], eperm),
        ];
        for &(nr, args, want) in table {
            assert_eq!(
                run(&prog, nr as u32, x86, args),
                want,
                "syscall {nr} {args:x?}"
            );
        }
        assert_eq!(
            run(&prog, libc::SYS_read as u32, 0x4000_0003, [0; 6]),
            libc::SECCOMP_RET_KILL_PROCESS
        );
        assert_eq!(
            run(&prog, X32_SYSCALL_BIT | libc::SYS_read as u32, x86, [0; 6]),
            eperm
        );
    }

    #[test]
    fn arch_constant_is_seccompilers() {
        let theirs = seccompiler_program(BTreeMap::new()).unwrap();
        assert_eq!(theirs[1].k, AUDIT_ARCH_X86_64);
    }

    #[test]
    fn intervals_table() {
        use Leaf::*;
        type Ranges = Vec<(u32, Leaf)>;
        let cases: Vec<(Ranges, Ranges)> = vec![
            (vec![], vec![(0, Allow)]),
            (vec![(0, Deny)], vec![(0, Deny), (1, Allow)]),
            (
                vec![(3, Deny), (4, Deny), (6, Args)],
                vec![(0, Allow), (3, Deny), (5, Allow), (6, Args), (7, Allow)],
            ),
            (
                vec![(3, Args), (4, Args), (5, Deny)],
                vec![(0, Allow), (3, Args), (5, Deny), (6, Allow)],
            ),
            (vec![(u32::MAX, Deny)], vec![(0, Allow), (u32::MAX, Deny)]),
        ];
        for (special, want) in cases {
            assert_eq!(intervals(&special), want, "{special:?}");
        }
    }

    #[test]
    fn wide_left_subtrees_jump_with_ja() {
        // 200 denied numbers, 400 ranges: the root's left half is longer than a conditional
        // jump reaches.
        let leaves: Vec<(u32, Leaf)> = (0..200).map(|i| (i * 3, Leaf::Deny)).collect();
        let tree: Vec<sock_filter> = dispatch(&intervals(&leaves))
            .into_iter()
            .map(|i| match i {
                Insn::Raw(f) => f,
                Insn::ToTail => unreachable!(),
            })
            .collect();
        let mut prog = vec![stmt(BPF_LD_W_ABS, 0)];
        prog.extend(tree);
        for nr in 0..700 {
            let want = if nr % 3 == 0 && nr < 600 {
                libc::SECCOMP_RET_ERRNO | libc::EPERM as u32
            } else {
                libc::SECCOMP_RET_ALLOW
            };
            assert_eq!(run(&prog, nr, AUDIT_ARCH_X86_64, [0; 6]), want, "nr {nr}");
        }
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
