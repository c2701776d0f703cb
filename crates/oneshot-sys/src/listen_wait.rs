//! Waiting for a connection on the shared listeners without waking every idle child.
//!
//! Every pristine child waits on the same listening sockets. With poll(2) each connection wakes
//! all of them and all but one get EAGAIN from accept (28 of 64 woke for one request under
//! strace). An epoll instance per child with `EPOLLEXCLUSIVE` makes the kernel wake one waiter
//! (or a few) per connection. `epoll_pwait` keeps ppoll's guarantee that the signals unblocked
//! by the mask are deliverable only while waiting.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::sys::signal::SigSet;

/// A per-process epoll instance watching the listeners for readability.
#[derive(Debug)]
pub struct ListenWait {
    ep: OwnedFd,
}

impl ListenWait {
    /// Registers `listeners` (reported back by their index in this slice).
    pub fn new(listeners: &[BorrowedFd<'_>]) -> io::Result<Self> {
        // SAFETY: epoll_create1 takes only a flag and touches no memory of ours.
        let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor the kernel just created for us and nothing else owns.
        let ep = unsafe { OwnedFd::from_raw_fd(raw) };
        for (i, l) in listeners.iter().enumerate() {
            let mut ev = libc::epoll_event {
                events: (libc::EPOLLIN | libc::EPOLLEXCLUSIVE) as u32,
                u64: i as u64,
            };
            // SAFETY: `ev` is a valid epoll_event that outlives the call; both descriptors are
            // open (one owned here, one borrowed for the duration of the call).
            let rc = unsafe {
                libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, l.as_raw_fd(), &mut ev)
            };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(ListenWait { ep })
    }

    /// Also watches `fd` (not exclusively: every waiter wakes for it), reported as `index`.
    pub fn watch_also(&self, fd: BorrowedFd<'_>, index: usize) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: index as u64,
        };
        // SAFETY: `ev` is a valid epoll_event that outlives the call; both descriptors are
        // open (one owned here, one borrowed for the duration of the call).
        let rc = unsafe {
            libc::epoll_ctl(
                self.ep.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd.as_raw_fd(),
                &mut ev,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Blocks with `mask` as the signal mask until a listener is readable; returns the indices
    /// of the readable ones. A signal delivered while waiting gives `ErrorKind::Interrupted`.
    pub fn wait(&self, mask: &SigSet) -> io::Result<Vec<usize>> {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 8];
        // SAFETY: `evs` is a writable array of `evs.len()` events and `mask` a valid sigset_t,
        // both outliving the call; -1 waits without a timeout.
        let n = unsafe {
            libc::epoll_pwait(
                self.ep.as_raw_fd(),
                evs.as_mut_ptr(),
                evs.len() as libc::c_int,
                -1,
                mask.as_ref(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(evs[..n as usize].iter().map(|e| e.u64 as usize).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsFd;

    #[test]
    fn reports_the_readable_listener_by_index() {
        let quiet = TcpListener::bind("127.0.0.1:0").unwrap();
        let busy = TcpListener::bind("127.0.0.1:0").unwrap();
        let w = ListenWait::new(&[quiet.as_fd(), busy.as_fd()]).unwrap();
        let _c = TcpStream::connect(busy.local_addr().unwrap()).unwrap();
        assert_eq!(w.wait(&SigSet::empty()).unwrap(), vec![1]);
    }

    #[test]
    fn refuses_a_descriptor_epoll_cannot_watch() {
        let f = std::fs::File::open("/").unwrap();
        assert!(ListenWait::new(&[f.as_fd()]).is_err());
    }
}
