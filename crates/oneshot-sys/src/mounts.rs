//! Whether any mount of the calling process's mount namespace propagates as shared, read with
//! `listmount`/`statmount` (Linux 6.8+) instead of having the kernel format every mount's
//! path, root and options into `/proc/self/mountinfo` (5-9 % of a child's CPU, taking the
//! namespace lock for each line).
//!
//! The fact is the same: mountinfo prints `shared:N` for a mount exactly when the kernel's
//! `IS_MNT_SHARED` holds for it, and statmount reports `MS_SHARED` in `mnt_propagation` on the
//! same condition (fs/proc_namespace.c, fs/namespace.c). Both list the mounts reachable from
//! the process's root. Where the calls are missing or refused (an older kernel, a container's
//! seccomp profile), or anything about the answer is unexpected, the mountinfo text is read as
//! before: the answer never rests on a guess.

use std::io;

/// `LSMT_ROOT`: list the mounts beneath the calling process's root.
const LSMT_ROOT: u64 = u64::MAX;
/// `STATMOUNT_MNT_BASIC`: ids, attributes and propagation.
const STATMOUNT_MNT_BASIC: u64 = 0x2;
/// `MNT_ID_REQ_SIZE_VER0`: the first published `struct mnt_id_req` (no namespace id: the
/// caller's own namespace), accepted by every kernel that has the calls.
const MNT_ID_REQ_SIZE_VER0: u32 = 24;
/// Byte offsets in `struct statmount` (include/uapi/linux/mount.h).
const SM_MASK: usize = 8;
const SM_PROPAGATION: usize = 72;
/// `sizeof(struct statmount)` without strings (Linux 6.8-6.18: 512).
const SM_SIZE: usize = 512;

/// Numbered alike on every architecture (syscalls added since Linux 5.1 share one table).
const SYS_STATMOUNT: libc::c_long = 457;
const SYS_LISTMOUNT: libc::c_long = 458;

#[repr(C)]
struct MntIdReq {
    size: u32,
    spare: u32,
    mnt_id: u64,
    param: u64,
}

/// Mount ids returned per `listmount` call; more are fetched from the last one on.
const BATCH: usize = 256;

/// Whether any mount reachable from this process's root is shared: by statmount where the
/// kernel offers it, else from /proc/self/mountinfo.
pub fn any_shared() -> io::Result<bool> {
    match any_shared_statmount() {
        Some(answer) => Ok(answer),
        None => any_shared_mountinfo(),
    }
}

/// `None` when the calls are unavailable or anything is off (then mountinfo decides).
pub fn any_shared_statmount() -> Option<bool> {
    let mut ids = [0u64; BATCH];
    let mut last = 0u64;
    loop {
        let req = MntIdReq {
            size: MNT_ID_REQ_SIZE_VER0,
            spare: 0,
            mnt_id: LSMT_ROOT,
            param: last,
        };
        // SAFETY: `req` is a valid mnt_id_req of the declared size, the kernel reads it only;
        // `ids` has room for BATCH u64 and the kernel writes at most that many.
        let n = unsafe {
            libc::syscall(
                SYS_LISTMOUNT,
                &req as *const MntIdReq,
                ids.as_mut_ptr(),
                BATCH,
                0 as libc::c_uint,
            )
        };
        let n = usize::try_from(n).ok()?;
        if n > BATCH {
            return None;
        }
        for &id in &ids[..n] {
            if shared(id)? {
                return Some(true);
            }
        }
        if n < BATCH {
            return Some(false);
        }
        last = ids[BATCH - 1];
    }
}

/// Whether mount `id` is shared; `None` if statmount fails or did not fill the basic part.
fn shared(id: u64) -> Option<bool> {
    // u64 words: aligned for the kernel's struct, which it fills up to SM_SIZE bytes.
    let mut buf = [0u64; SM_SIZE / 8];
    let req = MntIdReq {
        size: MNT_ID_REQ_SIZE_VER0,
        spare: 0,
        mnt_id: id,
        param: STATMOUNT_MNT_BASIC,
    };
    // SAFETY: `req` is a valid mnt_id_req the kernel only reads; `buf` is SM_SIZE writable
    // bytes, the size passed, and the kernel writes no more than that.
    let rc = unsafe {
        libc::syscall(
            SYS_STATMOUNT,
            &req as *const MntIdReq,
            buf.as_mut_ptr(),
            SM_SIZE,
            0 as libc::c_uint,
        )
    };
    if rc != 0 {
        return None;
    }
    let mask = buf[SM_MASK / 8];
    if mask & STATMOUNT_MNT_BASIC == 0 {
        return None;
    }
    Some(buf[SM_PROPAGATION / 8] & libc::MS_SHARED != 0)
}

/// The same question answered from /proc/self/mountinfo (proc(5)): optional fields sit between
/// the mount options (field 6) and the "-" separator.
pub fn any_shared_mountinfo() -> io::Result<bool> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(info.lines().any(|l| {
        l.split(' ')
            .skip(6)
            .take_while(|f| *f != "-")
            .any(|f| f.starts_with("shared:"))
    }))
}
