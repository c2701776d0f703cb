//! Descriptor hygiene for [`super::Linux`]: closing all but the kept descriptors, pointing
//! stdio at /dev/null, and the master's list of its own children. Separate from the `Sys`
//! implementation because the master calls two of these directly, outside the trait.

use std::io;
use std::os::fd::RawFd;

use nix::errno::Errno;

use super::{errno_result, nix_err};

fn close_range(first: u32, last: u32) -> io::Result<()> {
    // SAFETY: close_range touches no memory. Closing descriptors that Rust objects (OwnedFd,
    // File) still own is an I/O-safety hazard the caller accepts: it runs in the single-threaded
    // child and promises not to use any descriptor it did not list in `keep`.
    let rc = unsafe { libc::close_range(first, last, 0) };
    errno_result(rc.into()).map(|_| ())
}

/// How many descriptor numbers [`Sys::open_fds`] checks, from 0. Numbers above are not polled,
/// and need not be: the master closes every descriptor from this number up when it starts
/// ([`close_inherited_high_fds`]) and never holds this many, and descriptors are allocated
/// lowest-first, so no child is ever born with one there; `close_fds_except` also ends with
/// close_range(highest kept + 1, ~0).
pub const POLLED_FDS: RawFd = 1024;

/// The calling thread's live children, from /proc/thread-self/children (Linux 3.5+, with
/// CONFIG_PROC_CHILDREN). The master is single-threaded, so that is all of its children,
/// including orphans re-parented to it as a subreaper.
/// Read into the master's fork-excluded scratch buffer ([`crate::dontfork`]): read on every
/// SIGCHLD batch, it would otherwise cost a copy-on-write fault of heap pages per batch.
pub fn own_children() -> io::Result<Vec<i32>> {
    use std::io::Read;
    let mut f = std::fs::File::open("/proc/thread-self/children")?;
    let parsed = crate::dontfork::with(|buf| -> io::Result<Option<Vec<i32>>> {
        let mut len = 0;
        while len < buf.len() {
            match f.read(&mut buf[len..]) {
                Ok(0) => return Ok(Some(parse_pids(&buf[..len]))),
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    })??;
    match parsed {
        Some(pids) => Ok(pids),
        // Longer than the buffer: read it again, whole, onto the heap.
        None => Ok(parse_pids(
            std::fs::read_to_string("/proc/thread-self/children")?.as_bytes(),
        )),
    }
}

pub(super) fn parse_pids(text: &[u8]) -> Vec<i32> {
    text.split(|b| b.is_ascii_whitespace())
        .filter_map(|p| std::str::from_utf8(p).ok()?.parse().ok())
        .collect()
}

/// For the master at start-up: closes whatever it inherited at or above [`POLLED_FDS`], so the
/// children's one-poll descriptor check covers every descriptor they can have.
pub fn close_inherited_high_fds() -> io::Result<()> {
    match close_range(POLLED_FDS as u32, u32::MAX) {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            for fd in proc_fd_list()?.into_iter().filter(|&fd| fd >= POLLED_FDS) {
                match nix::unistd::close(fd) {
                    Ok(()) | Err(Errno::EBADF) => {}
                    Err(e) => return Err(nix_err(e)),
                }
            }
            Ok(())
        }
        other => other,
    }
}

/// Numbers of all descriptors listed in /proc/self/fd. The directory's own descriptor is in the
/// list too, but is already closed when this returns.
fn proc_fd_list() -> io::Result<Vec<RawFd>> {
    let fds = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    Ok(fds)
}

pub(super) fn close_by_walking(keep: &[RawFd]) -> io::Result<()> {
    for fd in proc_fd_list()? {
        if keep.contains(&fd) {
            continue;
        }
        match nix::unistd::close(fd) {
            Ok(()) | Err(Errno::EBADF) => {}
            Err(e) => return Err(nix_err(e)),
        }
    }
    Ok(())
}

/// Closes everything except `keep` (sorted, deduplicated, non-negative) with close_range(2).
pub(super) fn close_around(keep: &[RawFd]) -> io::Result<()> {
    let mut next: u32 = 0;
    for &k in keep {
        let k = k as u32;
        if k > next {
            close_range(next, k - 1)?;
        }
        next = k + 1;
    }
    close_range(next, u32::MAX)
}

/// Points descriptors 0-2 that were not kept at /dev/null.
pub(super) fn stdio_to_dev_null(keep: &[RawFd]) -> io::Result<()> {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    let missing: Vec<RawFd> = (0..=2).filter(|fd| !keep.contains(fd)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let null = open("/dev/null", OFlag::O_RDWR, Mode::empty()).map_err(nix_err)?;
    for &fd in &missing {
        if fd != null {
            nix::unistd::dup2(null, fd).map_err(nix_err)?;
        }
    }
    if !missing.contains(&null) {
        nix::unistd::close(null).map_err(nix_err)?;
    }
    Ok(())
}
