//! Scratch memory of the master that its children never need, mapped with `MADV_DONTFORK`.
//!
//! Every page of the master is shared copy-on-write with the children forked since it was last
//! written, so a buffer the master fills on every SIGCHLD batch (the list of its children)
//! costs a page-fault copy per batch when it lives on the heap, and a page of every child's
//! address space that fork had to map. A mapping the kernel leaves out of every fork is
//! written in place; a child does not have it at all (so only the process that made it may
//! use it: [`with`] checks the pid).

use std::cell::RefCell;
use std::io;

/// Size of each process's scratch buffer: 16 pages, room for /proc/thread-self/children with
/// over 8,000 children (at most 7 digits and a space each). Longer contents are read onto the
/// heap instead.
pub const SCRATCH_LEN: usize = 64 * 1024;

struct Scratch {
    ptr: *mut u8,
    owner: u32,
}

thread_local! {
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

fn map() -> io::Result<*mut u8> {
    // SAFETY: an anonymous private mapping at an address of the kernel's choosing; no existing
    // memory is touched. The pointer is checked against MAP_FAILED below.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            SCRATCH_LEN,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `ptr` is the start of the SCRATCH_LEN bytes just mapped; madvise only changes
    // whether fork copies them.
    if unsafe { libc::madvise(ptr, SCRATCH_LEN, libc::MADV_DONTFORK) } != 0 {
        let e = io::Error::last_os_error();
        // SAFETY: unmapping exactly what was mapped above, never handed out.
        unsafe { libc::munmap(ptr, SCRATCH_LEN) };
        return Err(e);
    }
    Ok(ptr.cast())
}

/// Runs `f` on this process's scratch buffer (mapped on first use, kept out of every fork).
/// A forked child inherits the record of its parent's buffer but not the memory: it maps its
/// own. Not reentrant: a nested call gets an error.
pub fn with<T>(f: impl FnOnce(&mut [u8]) -> T) -> io::Result<T> {
    let pid = std::process::id();
    SCRATCH.with(|cell| {
        let mut slot = cell
            .try_borrow_mut()
            .map_err(|_| io::Error::other("scratch buffer already in use"))?;
        if slot.as_ref().is_none_or(|s| s.owner != pid) {
            // A parent's mapping is absent here: forget it (never unmap: the address may
            // since have been reused by this process for something else).
            *slot = Some(Scratch {
                ptr: map()?,
                owner: pid,
            });
        }
        let s = slot.as_ref().expect("set above");
        // SAFETY: `s.ptr` is a live SCRATCH_LEN-byte mapping of this process (its owner is
        // this pid, and it is never unmapped), borrowed exclusively through the RefCell.
        let buf = unsafe { std::slice::from_raw_parts_mut(s.ptr, SCRATCH_LEN) };
        Ok(f(buf))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_is_kept_and_writable() {
        with(|b| b[..5].copy_from_slice(b"hello")).unwrap();
        let kept = with(|b| b[..5].to_vec()).unwrap();
        assert_eq!(kept, b"hello");
        assert!(with(|_| with(|_| ())).unwrap().is_err(), "nested use");
    }

    #[test]
    fn the_mapping_is_marked_dontfork() {
        let addr = with(|b| b.as_ptr() as usize).unwrap();
        // /proc/self/smaps lists "dc" (do not copy on fork) in VmFlags of such a mapping.
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut lines = smaps.lines();
        let mut found = false;
        while let Some(l) = lines.next() {
            let range = l.split(' ').next().unwrap_or("");
            let Some((lo, hi)) = range.split_once('-') else {
                continue;
            };
            let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
            else {
                continue;
            };
            if lo <= addr && addr < hi {
                let flags = lines.by_ref().find(|l| l.starts_with("VmFlags:")).unwrap();
                assert!(flags.split_whitespace().any(|f| f == "dc"), "{flags}");
                found = true;
                break;
            }
        }
        assert!(found, "no mapping holds {addr:#x}");
    }
}
