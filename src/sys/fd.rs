//! Closing every inherited descriptor but the few a child keeps.

use std::io;
use std::os::fd::RawFd;

/// Closes every descriptor not in `keep`, with close_range(2) over the gaps.
pub fn close_all_except(keep: &[RawFd]) -> io::Result<()> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|fd| *fd >= 0).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut from: u32 = 0;
    for fd in keep.iter().map(|f| *f as u32) {
        if fd > from {
            close_range(from, fd - 1)?;
        }
        from = fd + 1;
    }
    close_range(from, u32::MAX)
}

fn close_range(first: u32, last: u32) -> io::Result<()> {
    // SAFETY: close_range only closes descriptors; the caller has given up every descriptor in
    // the range (the objects still holding their numbers in this process are never used or
    // dropped again, because the child exits through process::exit).
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
