//! Taking ownership of descriptors a re-executed child inherited at agreed numbers.
//!
//! After `execve` the new program image has open descriptors that no Rust object owns. Turning
//! a number into an `OwnedFd` is sound only if nothing else owns that number, so each number
//! above stdio may be adopted once per process, and adoption must happen before the program
//! opens anything itself (the re-exec entry point does it first thing).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use nix::fcntl::{fcntl, FcntlArg, FdFlag};

/// Every number adopted so far in this process.
static ADOPTED: Mutex<Vec<RawFd>> = Mutex::new(Vec::new());

/// Adopts `fds` (in this order). Each must be open; each gets close-on-exec, as the master's
/// own descriptors have, so nothing a child later executes inherits them by accident.
pub fn adopt(fds: &[RawFd]) -> io::Result<Vec<OwnedFd>> {
    let mut sorted = fds.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != fds.len() || sorted.first().is_some_and(|&fd| fd < 3) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("inherited descriptors must be distinct and above 2: {fds:?}"),
        ));
    }
    let mut adopted = ADOPTED
        .lock()
        .map_err(|_| io::Error::other("inherited descriptor registry poisoned"))?;
    if let Some(fd) = fds.iter().find(|fd| adopted.contains(fd)) {
        return Err(io::Error::other(format!(
            "inherited descriptor {fd} was already adopted in this process"
        )));
    }
    for &fd in fds {
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(|e| {
            io::Error::new(
                io::Error::from(e).kind(),
                format!("inherited descriptor {fd}: {e}"),
            )
        })?;
    }
    adopted.extend_from_slice(fds);
    Ok(fds
        .iter()
        // SAFETY: every number is open (F_SETFD succeeded just above), above stdio, distinct
        // and never adopted before in this process (checked under the lock), and the caller
        // adopts before the program opens anything itself, so no other object owns it.
        .map(|&fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .collect())
}

/// Writes `bytes` to descriptor number `fd` (one `write(2)`, short writes not retried).
///
/// For a child that has just moved its descriptors for exec: the objects that owned the old
/// numbers (the logger's file among them) now name other files, so a message about a failed exec
/// must go to the number the error log was moved to.
pub fn write_to_number(fd: RawFd, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: `bytes` is a valid slice for its whole length during the call; write(2) only reads
    // it. No Rust object's ownership is involved: the number is used for this one call.
    let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, IntoRawFd};

    #[test]
    fn each_number_once_and_never_stdio() {
        assert!(adopt(&[1]).is_err());
        assert!(adopt(&[7, 7]).is_err());
        // A descriptor whose owner gives it up, as a parent's would across exec.
        let fd = std::fs::File::open("/").unwrap().into_raw_fd();
        let owned = adopt(&[fd]).unwrap();
        assert_eq!(owned[0].as_raw_fd(), fd);
        assert!(adopt(&[fd]).is_err(), "adopted twice");
    }

    #[test]
    fn writes_to_a_number() {
        let (r, w) = nix::unistd::pipe().unwrap();
        assert_eq!(write_to_number(w.as_raw_fd(), b"x\n").unwrap(), 2);
        let mut buf = [0u8; 4];
        assert_eq!(nix::unistd::read(r.as_raw_fd(), &mut buf).unwrap(), 2);
        assert!(write_to_number(-1, b"x").is_err());
    }
}
