//! Stage "front" for a TLS listener: the handshake, in the child, in the worker identity, after
//! isolation and before any request is read; then a relay process carries the records.
//!
//! Flow: the ClientHello is read with rustls's `Acceptor`; SNI picks the vhost among the TLS
//! vhosts of this listener's port (a name with no vhost gets the first of them, as Apache);
//! that vhost's protocols, suites and certificate build the `ServerConfig`. The private key is
//! a [`RemoteKey`]: its one signature is made by the key holder over this child's channel, which
//! is closed as soon as the handshake is over (I6).
//!
//! After the handshake the child forks a **relay**: it keeps the TCP socket and the TLS state,
//! drops every other descriptor, and enters an empty Landlock domain and the seccomp filter; the
//! serving process gets a Unix socketpair end in place of the TCP socket (`dup3` onto the same
//! descriptor number), so every later stage (reading, `sendfile`, CGI, confinement's descriptor
//! list) works unchanged on plaintext. The serving process never holds the TLS session keys
//! after the fork (its copy of the connection is dropped), and a handler that is compromised
//! later can only speak plaintext to the relay. (kTLS would let the kernel do the record layer
//! instead; this machine's kernel has no `tls` ULP, see docs/tls.md.)
//!
//! Each process serves exactly one connection, so the session facts are process-wide
//! ([`tls_session::session`]): admission reads them to refuse a Host that is not the handshake's vhost (421)
//! and CGI reads them for mod_ssl's variables.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::Pid;
use rustls::server::{Acceptor, ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, ServerConnection};
use rustls_pki_types::CertificateDer;

use crate::config::{Config, VHostTls};
use crate::handoff::tls::Handoff;
use crate::http::tls_session::{self, Session};
use crate::keyholder::client::{Channel, RemoteKey};
use crate::keyholder::KeyInfo;
use crate::sys::{Linux, Sys};

static RELAY: Mutex<Option<Pid>> = Mutex::new(None);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("no key holder channel (the key holder is down)")]
    NoKeyHolder,
    #[error("handshake: {0}")]
    Handshake(String),
    #[error("handshake not finished within {0:?}")]
    Timeout(Duration),
    #[error("starting the TLS relay: {0}")]
    Relay(io::Error),
}

/// Whether the connection accepted on `local` is a TLS connection.
pub fn applies(cfg: &Config, local: SocketAddr) -> bool {
    cfg.tls.is_tls(local)
}

/// How long the handshake may have taken after `received` bytes from the client:
/// `RequestReadTimeout handshake=` (10 s unless configured; `handshake=0`: `Timeout` alone),
/// never more than `Timeout`.
pub fn handshake_timeout(cfg: &Config, received: u64) -> Duration {
    crate::config::RequestReadTimeout::allowed(
        cfg.request_read_timeout.handshake,
        cfg.timeout,
        received,
    )
}

/// The handshake's deadline, moved on by `handshake=`'s MinRate as the client's bytes arrive.
struct Clock {
    start: Instant,
    received: u64,
}

impl Clock {
    fn allowed(&self, cfg: &Config) -> Duration {
        handshake_timeout(cfg, self.received)
    }
    fn until(&self, cfg: &Config) -> Instant {
        self.start + self.allowed(cfg)
    }
}

/// Makes the handshake on `stream` and starts the relay; afterwards `stream` is the plaintext
/// end. The key holder channel is closed whatever happens.
pub fn establish(cfg: &Config, stream: &TcpStream, local: SocketAddr) -> Result<(), TlsError> {
    let Some(Handoff { channel, keys }) = crate::handoff::tls::take() else {
        return Err(TlsError::NoKeyHolder);
    };
    let chan: Channel = Arc::new(Mutex::new(Some(channel)));
    let mut clock = Clock {
        start: Instant::now(),
        received: 0,
    };
    let result = handshake(cfg, stream, local, &chan, &keys, &mut clock);
    // I6: the channel never outlives the handshake, used or not.
    drop(chan.lock().ok().and_then(|mut c| c.take()));
    let (conn, session) = result?;
    tls_session::set(session);
    let pid = start_relay(conn, stream, cfg.tls.relay_socket_context.as_deref())
        .map_err(TlsError::Relay)?;
    if let Ok(mut r) = RELAY.lock() {
        *r = Some(pid);
    }
    Ok(())
}

fn handshake(
    cfg: &Config,
    stream: &TcpStream,
    local: SocketAddr,
    chan: &Channel,
    keys: &[KeyInfo],
    clock: &mut Clock,
) -> Result<(ServerConnection, Session), TlsError> {
    let mut sock = stream;
    let mut acceptor = Acceptor::default();
    let accepted = loop {
        set_deadline(stream, clock.until(cfg), clock.allowed(cfg))?;
        match acceptor.read_tls(&mut sock) {
            Ok(0) => return Err(TlsError::Handshake("closed before a ClientHello".into())),
            Ok(n) => clock.received += n as u64,
            Err(e) => return Err(io_error(e, clock.allowed(cfg))),
        }
        match acceptor.accept() {
            Ok(Some(a)) => break a,
            Ok(None) => continue,
            Err((e, mut alert)) => {
                let _ = alert.write_all(&mut sock);
                return Err(TlsError::Handshake(e.to_string()));
            }
        }
    };
    let hello = accepted.client_hello();
    let sni = hello.server_name().map(str::to_ascii_lowercase);
    let vhost = pick_vhost(cfg, local.port(), sni.as_deref())
        .ok_or_else(|| TlsError::Handshake("no TLS vhost for this listener".into()))?;
    let vt = cfg
        .tls
        .vhosts
        .get(vhost)
        .and_then(Option::as_ref)
        .ok_or_else(|| TlsError::Handshake("vhost has no TLS settings".into()))?;
    let info = keys
        .get(usize::from(vt.key))
        .cloned()
        .ok_or_else(|| TlsError::Handshake("key holder does not know this key".into()))?;
    let config = server_config(vt, RemoteKey::new(chan.clone(), vt.key, info))
        .map_err(|e| TlsError::Handshake(format!("configuration: {e}")))?;
    let mut conn = match accepted.into_connection(Arc::new(config)) {
        Ok(c) => c,
        Err((e, mut alert)) => {
            let _ = alert.write_all(&mut sock);
            return Err(TlsError::Handshake(e.to_string()));
        }
    };
    while conn.is_handshaking() {
        set_deadline(stream, clock.until(cfg), clock.allowed(cfg))?;
        match conn.complete_io(&mut sock) {
            Ok((read, _)) => clock.received += read as u64,
            Err(e) => {
                // rustls queued an alert for a protocol error: send it before closing.
                let _ = conn.write_tls(&mut sock);
                return Err(io_error(e, clock.allowed(cfg)));
            }
        }
    }
    while conn.wants_write() {
        set_deadline(stream, clock.until(cfg), clock.allowed(cfg))?;
        conn.write_tls(&mut sock)
            .map_err(|e| io_error(e, clock.allowed(cfg)))?;
    }
    let protocol = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
        _ => "TLSv1.2",
    };
    let cipher = conn
        .negotiated_cipher_suite()
        .map(|s| crate::config::tls::openssl_name(s.suite()))
        .unwrap_or_default();
    let session = Session {
        vhost,
        port: local.port(),
        sni,
        protocol,
        cipher,
        server_cert: vt
            .chain
            .first()
            .map(|der| super::certvars::server_vars(der))
            .unwrap_or_default(),
    };
    Ok((conn, session))
}

fn set_deadline(stream: &TcpStream, until: Instant, timeout: Duration) -> Result<(), TlsError> {
    let left = until.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(TlsError::Timeout(timeout));
    }
    stream
        .set_read_timeout(Some(left))
        .and_then(|()| stream.set_write_timeout(Some(left)))
        .map_err(|e| TlsError::Handshake(e.to_string()))
}

fn io_error(e: io::Error, timeout: Duration) -> TlsError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => TlsError::Timeout(timeout),
        _ => TlsError::Handshake(e.to_string()),
    }
}

/// SNI → vhost among this port's TLS vhosts; no SNI or an unknown name → the first of them.
pub fn pick_vhost(cfg: &Config, port: u16, sni: Option<&str>) -> Option<usize> {
    let candidates = cfg.tls.candidates(port);
    let by_name = sni.and_then(|name| {
        candidates.iter().copied().find(|&i| {
            cfg.vhosts
                .get(i)
                .is_some_and(|v| v.names.iter().any(|n| super::vhost::matches(n, name)))
        })
    });
    by_name.or_else(|| candidates.first().copied())
}

/// The certificate of the handshake's vhost, whatever the ClientHello says (the vhost was
/// chosen before this config was built).
#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

fn server_config(vt: &VHostTls, key: RemoteKey) -> Result<ServerConfig, rustls::Error> {
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(names) = &vt.suites {
        // In the configured order: with SSLHonorCipherOrder On it is the preference.
        provider.cipher_suites = names
            .iter()
            .filter_map(|n| {
                rustls::crypto::ring::ALL_CIPHER_SUITES
                    .iter()
                    .find(|s| format!("{:?}", s.suite()) == *n)
            })
            .copied()
            .collect();
    }
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if vt.tls13 {
        versions.push(&rustls::version::TLS13);
    }
    if vt.tls12 {
        versions.push(&rustls::version::TLS12);
    }
    let chain = vt
        .chain
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect();
    let certified = Arc::new(CertifiedKey::new(chain, Arc::new(key)));
    let mut sc = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&versions)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(certified)));
    sc.alpn_protocols = vec![b"http/1.1".to_vec()];
    sc.ignore_client_order = vt.honor_cipher_order;
    // Resumption is off: every child exits with its connection, so a per-process cache is
    // useless, and tickets would need a ticket key shared by all children (docs/tls.md).
    sc.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    sc.send_tls13_tickets = 0;
    sc.max_early_data_size = 0;
    Ok(sc)
}

/// Forks the relay; in this process `stream`'s descriptor becomes the plaintext socket.
fn start_relay(
    conn: ServerConnection,
    stream: &TcpStream,
    socket_context: Option<&str>,
) -> io::Result<Pid> {
    if crate::sandbox::programs_in_pid_ns() {
        // The first process forked into the programs' PID namespace is its init.
        crate::sys::spawn::start_pid_ns_init()?;
    }
    let (mine, theirs) = relay_pair(socket_context)?;
    let tcp = stream.try_clone()?;
    let tcp_fd = stream.as_raw_fd();
    match crate::sys::fork()? {
        crate::sys::ForkResult::Child => {
            drop(mine);
            relay_main(conn, tcp, theirs)
        }
        crate::sys::ForkResult::Parent { child } => {
            drop((theirs, tcp));
            drop(conn);
            nix::unistd::dup3(mine.as_raw_fd(), tcp_fd, nix::fcntl::OFlag::O_CLOEXEC)?;
            drop(mine);
            Ok(child)
        }
    }
}

/// The relay's socketpair. With `SSLRelaySocketContext` it carries that context instead of
/// this (pre-admission) process's own, so that the web domain the serving process enters may
/// use it while master-made sockets (the verifier channel) stay out of its reach; the socket
/// creation context is reset before anything else is created, and read back (I4).
fn relay_pair(context: Option<&str>) -> io::Result<(UnixStream, UnixStream)> {
    let Some(ctx) = context else {
        return UnixStream::pair();
    };
    let labelled = |what: &str, e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"));
    crate::sys::linux::selinux_set_sockcreate(Some(ctx))
        .map_err(|e| labelled("SSLRelaySocketContext", e))?;
    let pair = UnixStream::pair();
    crate::sys::linux::selinux_set_sockcreate(None)
        .map_err(|e| labelled("resetting the socket creation context", e))?;
    match crate::sys::linux::selinux_get_sockcreate() {
        Ok(None) => pair,
        Ok(Some(left)) => Err(io::Error::other(format!(
            "the socket creation context is still {left} after resetting it"
        ))),
        Err(e) => Err(labelled("reading the socket creation context back", e)),
    }
}

/// At the end of the connection: waits (bounded) for the relay to flush and close.
pub fn finish() {
    let Some(pid) = RELAY.lock().ok().and_then(|mut r| r.take()) else {
        return;
    };
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(5)),
            _ => return,
        }
    }
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    let _ = waitpid(pid, None);
}

/// The relay process: TLS records on `tcp_fd`, plaintext on `plain`. Never returns.
fn relay_main(conn: ServerConnection, tcp: TcpStream, plain: UnixStream) -> ! {
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    let code = match confine_relay(tcp.as_raw_fd(), plain.as_raw_fd()) {
        Ok(()) => relay::pump(conn, tcp, plain).map_or(1, |()| 0),
        Err(e) => {
            log::error!("TLS relay: cannot confine itself: {e}");
            1
        }
    };
    crate::sys::child_exit(code)
}

/// The relay keeps two sockets and nothing else: no file system (an empty Landlock domain,
/// where the kernel has Landlock) and the children's seccomp filter.
fn confine_relay(tcp_fd: RawFd, plain_fd: RawFd) -> io::Result<()> {
    Linux.close_fds_except(&[0, 1, 2, tcp_fd, plain_fd])?;
    Linux.set_dumpable(false)?;
    Linux.set_no_new_privs()?;
    if Linux.landlock_abi()? > 0 {
        Linux.landlock_restrict(&crate::sys::LandlockRules::default())?;
    }
    let prog = crate::sandbox::seccomp::program(&Default::default()).map_err(io::Error::other)?;
    Linux.seccomp_install(&prog)
}

mod relay {
    //! The relay's pump: one poll loop moving records and plaintext both ways, with
    //! backpressure (nothing is read from a side whose bytes cannot be passed on yet).
    use super::*;

    const CHUNK: usize = 16 * 1024;

    pub fn pump(
        mut conn: ServerConnection,
        mut tcp: TcpStream,
        mut plain: UnixStream,
    ) -> io::Result<()> {
        tcp.set_nonblocking(true)?;
        plain.set_nonblocking(true)?;
        let mut to_plain: Vec<u8> = Vec::new();
        let (mut client_done, mut server_done, mut plain_shut) = (false, false, false);
        let mut buf = vec![0u8; CHUNK];
        loop {
            // Plaintext rustls already holds (the handshake's last read may have brought the
            // first request with it).
            if to_plain.len() < CHUNK * 4 {
                loop {
                    match conn.reader().read(&mut buf) {
                        Ok(0) => {
                            client_done = true;
                            break;
                        }
                        Ok(n) => to_plain.extend_from_slice(&buf[..n]),
                        Err(_) => break,
                    }
                }
            }
            // Decrypted bytes waiting → the serving process.
            while !to_plain.is_empty() {
                match plain.write(&to_plain) {
                    Ok(n) => {
                        to_plain.drain(..n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        to_plain.clear();
                        server_done = true;
                    }
                }
            }
            if client_done && to_plain.is_empty() && !plain_shut {
                let _ = plain.shutdown(std::net::Shutdown::Write);
                plain_shut = true;
            }
            if server_done && !conn.wants_write() {
                let _ = tcp.shutdown(std::net::Shutdown::Write);
                linger(&mut tcp);
                return Ok(());
            }
            let mut fds = Vec::with_capacity(2);
            let mut tcp_ev = PollFlags::empty();
            if !client_done && to_plain.len() < CHUNK * 4 {
                tcp_ev |= PollFlags::POLLIN;
            }
            if conn.wants_write() {
                tcp_ev |= PollFlags::POLLOUT;
            }
            let mut plain_ev = PollFlags::empty();
            if !server_done && !conn.wants_write() {
                plain_ev |= PollFlags::POLLIN;
            }
            if !to_plain.is_empty() {
                plain_ev |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(tcp.as_fd(), tcp_ev));
            fds.push(PollFd::new(plain.as_fd(), plain_ev));
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
            let tcp_r = fds[0].revents().unwrap_or(PollFlags::empty());
            let plain_r = fds[1].revents().unwrap_or(PollFlags::empty());
            drop(fds);
            if !tcp_r.is_empty() && !client_done {
                match conn.read_tls(&mut tcp) {
                    Ok(0) => client_done = true,
                    Ok(_) => match conn.process_new_packets() {
                        // close_notify shows as end of plaintext, read at the loop's top.
                        Ok(_) => {}
                        Err(_) => {
                            let _ = conn.write_tls(&mut tcp);
                            return Ok(());
                        }
                    },
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => client_done = true,
                }
                if tcp_r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR)
                    && !tcp_r.contains(PollFlags::POLLIN)
                {
                    client_done = true;
                }
            }
            if plain_r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP) && !server_done {
                match plain.read(&mut buf) {
                    Ok(0) => {
                        server_done = true;
                        conn.send_close_notify();
                    }
                    Ok(n) => conn.writer().write_all(&buf[..n])?,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => {
                        server_done = true;
                        conn.send_close_notify();
                    }
                }
            }
            while conn.wants_write() {
                match conn.write_tls(&mut tcp) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => return Ok(()),
                }
            }
        }
    }

    /// After our FIN, read what the client still sends (at most 1 s) so the kernel does not
    /// answer unread data with a reset that could destroy the last response in flight.
    fn linger(tcp: &mut TcpStream) {
        let _ = tcp.set_nonblocking(false);
        let _ = tcp.set_read_timeout(Some(Duration::from_millis(200)));
        let until = Instant::now() + Duration::from_secs(1);
        let mut b = [0u8; 4096];
        while Instant::now() < until {
            match tcp.read(&mut b) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
}
