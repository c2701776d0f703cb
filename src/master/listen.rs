//! Binding the listeners: the only sockets the master ever opens towards clients.
//! It never accepts on them; pristine children do.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct ListenError {
    pub addr: SocketAddr,
    pub source: io::Error,
}

pub fn bind(addr: SocketAddr) -> Result<Socket, ListenError> {
    let wrap = |source| ListenError { addr, source };
    let sock = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.cloexec(),
        Some(Protocol::TCP),
    )
    .map_err(wrap)?;
    sock.set_reuse_address(true).map_err(wrap)?;
    if addr.is_ipv6() {
        sock.set_only_v6(true).map_err(wrap)?;
    }
    // Children poll all listeners and then accept; non-blocking so a child that loses the
    // race for a connection goes back to waiting instead of blocking on one listener.
    sock.set_nonblocking(true).map_err(wrap)?;
    sock.bind(&addr.into()).map_err(wrap)?;
    sock.listen(1024).map_err(wrap)?;
    Ok(sock)
}

/// One listener per `Listen` address: the socket systemd activated for it, if any (see
/// `crate::systemd`), else one bound here. An activated socket that matches no `Listen` line
/// is an error, never silently kept open.
pub fn open_all(
    addrs: &[SocketAddr],
    activated: Vec<(Socket, String)>,
) -> Result<Vec<Socket>, super::MasterError> {
    let found = activated
        .iter()
        .map(|(s, name)| Ok((crate::systemd::listening_addr(s, name)?, name.clone())))
        .collect::<Result<Vec<_>, String>>()
        .map_err(super::MasterError::Activation)?;
    let which = crate::systemd::assign(addrs, &found).map_err(super::MasterError::Activation)?;
    let mut activated: Vec<Option<Socket>> = activated.into_iter().map(|(s, _)| Some(s)).collect();
    addrs
        .iter()
        .zip(which)
        .map(|(addr, i)| match i.and_then(|i| activated[i].take()) {
            Some(s) => {
                log::info!("listening on {addr} through a socket-activated descriptor");
                Ok(s)
            }
            None => Ok(bind(*addr)?),
        })
        .collect()
}
