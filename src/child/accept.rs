//! Stage 1: accept exactly one connection and announce it to the master. The caller then
//! closes every listener and master descriptor before a single client byte is read.

use crate::handoff::{handled_signals, Inherited};
use crate::sys::listen_wait::ListenWait;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};

pub struct Accepted {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub local: SocketAddr,
}

/// Blocks until one connection is accepted. An idle child dies of SIGTERM at once when the
/// master retires it, but a child that has accepted never dies of SIGTERM and always finishes
/// its connection. SIGTERM stays blocked and is watched through a signalfd beside the
/// listeners: a child woken for a connection and retired at the same moment accepts first,
/// and dies only when nothing is left to accept. (With SIGTERM unblocked during the wait, the
/// kernel could hand the one `EPOLLEXCLUSIVE` wake-up of a new connection to a child that then
/// died of a simultaneous SIGTERM: the connection waited in the backlog, its client hanging,
/// until another one arrived; seen after reloads.)
pub fn one(inh: &Inherited) -> io::Result<Accepted> {
    let mut keep_blocked = handled_signals();
    keep_blocked.remove(Signal::SIGCHLD);
    let mut unblock_chld = SigSet::empty();
    unblock_chld.add(Signal::SIGCHLD);
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&unblock_chld), None)?;
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGTERM);
    let mut term = SigSet::empty();
    term.add(Signal::SIGTERM);
    let term_fd = SignalFd::with_flags(&term, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(io::Error::from)?;

    let listeners: Vec<BorrowedFd<'_>> = inh.listeners.iter().map(|l| l.as_fd()).collect();
    let waiter = ListenWait::new(&listeners)?;
    let term_index = listeners.len();
    waiter.watch_also(term_fd.as_fd(), term_index)?;
    let accepted = loop {
        let ready = match waiter.wait(&keep_blocked) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if let Some(a) = ready
            .iter()
            .filter_map(|&i| inh.listeners.get(i))
            .find_map(|l| try_accept(l).transpose())
        {
            break a?;
        }
        if ready.contains(&term_index) {
            // Retired (or the master died) with nothing to accept: die of the pending SIGTERM,
            // as an idle child always did.
            nix::sys::signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&term), None)?;
        }
    };
    drop(waiter);
    drop(term_fd);
    announce(inh);
    Ok(accepted)
}

fn try_accept(l: &socket2::Socket) -> io::Result<Option<Accepted>> {
    match l.accept() {
        Ok((sock, peer)) => {
            let local = sock
                .local_addr()?
                .as_socket()
                .ok_or_else(|| io::Error::other("not an inet socket"))?;
            let peer = peer
                .as_socket()
                .ok_or_else(|| io::Error::other("not an inet peer"))?;
            sock.set_nonblocking(false)?;
            // The head is written with send() and the body with sendfile(): without NODELAY,
            // Nagle plus the client's delayed ACK stalls every keep-alive response by ~40 ms.
            sock.set_nodelay(true)?;
            Ok(Some(Accepted {
                stream: sock.into(),
                peer,
                local,
            }))
        }
        Err(e)
            if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted =>
        {
            Ok(None)
        }
        // Another child won the race or the peer already left: wait again.
        Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Tells the master this child is no longer spare (one message, atomic on a pipe).
fn announce(inh: &Inherited) {
    let msg = crate::handoff::status::Message {
        pid: std::process::id() as i32,
        event: crate::handoff::status::Event::Accepted,
    };
    let _ = nix::unistd::write(&inh.status, &msg.encode());
}
