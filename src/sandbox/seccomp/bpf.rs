//! The compiler: the rule table becomes one classic BPF program, a hand-written prefix (x32,
//! clone3), the architecture check, a binary search over syscall numbers, and seccompiler's
//! program for the argument rules as its tail. Separate from the policy (what is denied) so
//! each can be read, and tested, on its own.

#![forbid(unsafe_code)]

use super::*;

// Classic BPF opcodes for the hand-written prefix.
pub(super) const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JGE_K: u16 = 0x35;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_RET_K: u16 = 0x06;
pub(super) const X32_SYSCALL_BIT: u32 = 0x4000_0000;

pub(super) fn stmt(code: u16, k: u32) -> sock_filter {
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
pub(super) fn prefix() -> Vec<sock_filter> {
    let errno = |e: i32| libc::SECCOMP_RET_ERRNO | (e as u32 & libc::SECCOMP_RET_DATA);
    vec![
        stmt(BPF_LD_W_ABS, 0),
        jump(BPF_JMP_JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(BPF_RET_K, errno(libc::EPERM)),
        jump(BPF_JMP_JEQ_K, libc::SYS_clone3 as u32, 0, 1),
        stmt(BPF_RET_K, errno(libc::ENOSYS)),
    ]
}

/// `AUDIT_ARCH_X86_64` (`EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`), the only
/// architecture the syscall tables above are written for.
pub(super) const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
const BPF_JMP_JA: u16 = 0x05;
/// `offsetof(struct seccomp_data, arch)`.
const SECCOMP_DATA_ARCH: u32 = 4;

/// What the dispatch tree does with a range of syscall numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Leaf {
    Allow,
    /// Refused whatever the arguments.
    Deny,
    /// Decided by seccompiler's argument checks (the program's tail).
    Args,
}

/// One instruction of the tree before layout: the jumps into the tail are resolved last.
pub(super) enum Insn {
    Raw(sock_filter),
    ToTail,
}

/// Compiles the filter for `policy`:
///
/// ```text
/// prefix (x32 → EPERM, clone3 → ENOSYS) · arch check (foreign → kill) · load nr ·
/// binary search over the syscalls with rules: always refused → EPERM, refused for some
/// arguments → the tail, none → ALLOW ·
/// tail: seccompiler's program for the argument rules only (its own arch check and nr load)
/// ```
///
/// The same decisions as seccompiler's program for the whole rule map (the tests compare
/// both over every syscall number), in far fewer instructions: seccompiler tests the syscalls
/// one after the other (422 instructions, a walk of up to ~200 per call), and the kernel pays
/// for that length on every `seccomp()` (classic-to-eBPF conversion, JIT) and walks it once per
/// syscall number to build its allow cache, which cost a quarter of a child's CPU.
pub fn compile(policy: &SeccompPolicy) -> Result<BpfProgram, String> {
    let all = rules(policy)?;
    let mut special = Vec::new();
    let mut with_args = BTreeMap::new();
    for (nr, alternatives) in all {
        let nr = u32::try_from(nr).map_err(|e| e.to_string())?;
        if alternatives.is_empty() {
            special.push((nr, Leaf::Deny));
        } else {
            special.push((nr, Leaf::Args));
            with_args.insert(i64::from(nr), alternatives);
        }
    }
    let tail = seccompiler_program(with_args)?;
    let mut program = prefix();
    program.extend([
        stmt(BPF_LD_W_ABS, SECCOMP_DATA_ARCH),
        jump(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(BPF_RET_K, libc::SECCOMP_RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, 0),
    ]);
    let tree = dispatch(&intervals(&special));
    let tail_at = tree.len();
    for (i, insn) in tree.into_iter().enumerate() {
        program.push(match insn {
            Insn::Raw(f) => f,
            // JA's offset counts from the next instruction.
            Insn::ToTail => stmt(BPF_JMP_JA, (tail_at - i - 1) as u32),
        });
    }
    program.extend(tail);
    if program.len() >= 4096 {
        return Err(format!(
            "filter of {} instructions is too long",
            program.len()
        ));
    }
    Ok(program)
}

/// seccompiler's program for `map` (any matching rule → EPERM, else ALLOW).
pub(super) fn seccompiler_program(
    map: BTreeMap<i64, Vec<SeccompRule>>,
) -> Result<BpfProgram, String> {
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    let filter = SeccompFilter::new(
        map,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| e.to_string())?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())
}

/// The numbers from 0 up as ranges of one action each: `(first number, action)`, ascending,
/// the first starting at 0, neighbours different. `special` is sorted by number, distinct.
pub(super) fn intervals(special: &[(u32, Leaf)]) -> Vec<(u32, Leaf)> {
    let mut out = vec![(0, Leaf::Allow)];
    let mut push = |start: u32, leaf: Leaf| match out.last_mut() {
        Some(last) if last.0 == start => last.1 = leaf,
        Some(last) if last.1 == leaf => {}
        _ => out.push((start, leaf)),
    };
    for &(nr, leaf) in special {
        push(nr, leaf);
        if let Some(next) = nr.checked_add(1) {
            push(next, Leaf::Allow);
        }
    }
    // Merging a run into its predecessor can leave equal neighbours behind; fold them.
    out.dedup_by(|b, a| a.1 == b.1);
    out
}

/// Binary search over `ranges` (from [`intervals`]) with the accumulator holding the syscall
/// number: one comparison per level, one instruction per range.
pub(super) fn dispatch(ranges: &[(u32, Leaf)]) -> Vec<Insn> {
    match ranges {
        [] | [(_, Leaf::Allow)] => vec![Insn::Raw(stmt(BPF_RET_K, libc::SECCOMP_RET_ALLOW))],
        [(_, Leaf::Deny)] => vec![Insn::Raw(stmt(
            BPF_RET_K,
            libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        ))],
        [(_, Leaf::Args)] => vec![Insn::ToTail],
        _ => {
            // Numbers >= the middle range's first go right.
            let mid = ranges.len() / 2;
            let (left, right) = (dispatch(&ranges[..mid]), dispatch(&ranges[mid..]));
            let k = ranges[mid].0;
            let mut out = match u8::try_from(left.len()) {
                Ok(skip) => vec![Insn::Raw(jump(BPF_JMP_JGE_K, k, skip, 0))],
                Err(_) => vec![
                    Insn::Raw(jump(BPF_JMP_JGE_K, k, 0, 1)),
                    Insn::Raw(stmt(BPF_JMP_JA, left.len() as u32)),
                ],
            };
            out.extend(left);
            out.extend(right);
            out
        }
    }
}
