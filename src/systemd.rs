//! systemd integration, written out because the protocol is a few lines: socket activation
//! (`sd_listen_fds(3)`) and state notification (`sd_notify(3)`) for `Type=notify-reload`.
//!
//! - Activation: when `LISTEN_PID` is this process, descriptors 3 .. 3+`LISTEN_FDS` are
//!   listening sockets systemd bound; `LISTEN_FDNAMES` names them. They are adopted (close-on-
//!   exec, owned), the three variables are removed so nothing started later sees them, and each
//!   socket must match a `Listen` line by address and port ([`assign`]); a `Listen` line with no
//!   activated socket is bound as usual. Children get them exactly as bound listeners: held
//!   while a child waits to accept, closed right after its one accept.
//! - Notification: `NOTIFY_SOCKET` (a path, or `@` for an abstract name) is read once and
//!   removed from the environment; each message is one datagram from a fresh close-on-exec
//!   socket, so no child ever holds a descriptor towards systemd. `READY=1` once the
//!   listeners are bound and the pool is up; `RELOADING=1` with `MONOTONIC_USEC=` on SIGHUP,
//!   then `READY=1` when the reload was applied or refused; `STOPPING=1` on SIGTERM/SIGINT.
#![forbid(unsafe_code)]

use socket2::Socket;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: i32 = 3;

/// What systemd handed this process.
#[derive(Debug, Default)]
pub struct Systemd {
    /// Activated sockets with their `FileDescriptorName=`, in descriptor order.
    pub activated: Vec<(Socket, String)>,
    pub notify: Notifier,
}

impl Systemd {
    /// Reads and removes the variables. Call before the program opens any descriptor, so the
    /// numbers systemd passed are not owned by anything else.
    pub fn from_env() -> Result<Systemd, String> {
        let var = |k: &str| std::env::var(k).ok();
        let (pid, fds, names) = (var("LISTEN_PID"), var("LISTEN_FDS"), var("LISTEN_FDNAMES"));
        let notify = Notifier::parse(std::env::var_os("NOTIFY_SOCKET").as_deref())?;
        for k in [
            "LISTEN_PID",
            "LISTEN_FDS",
            "LISTEN_FDNAMES",
            "NOTIFY_SOCKET",
        ] {
            // Single-threaded here (before any thread or fork), which is what makes
            // changing the environment sound.
            std::env::remove_var(k);
        }
        let activated = match (pid, fds) {
            (Some(pid), Some(n)) if pid.trim() == std::process::id().to_string() => {
                adopt(&n, names.as_deref())?
            }
            // Meant for another process (a wrapper that exec'd us after forking): not ours.
            _ => Vec::new(),
        };
        Ok(Systemd { activated, notify })
    }
}

fn adopt(n: &str, names: Option<&str>) -> Result<Vec<(Socket, String)>, String> {
    let n: i32 = n
        .trim()
        .parse()
        .ok()
        .filter(|n| (0..1000).contains(n))
        .ok_or_else(|| format!("LISTEN_FDS={n} is not a descriptor count"))?;
    let numbers: Vec<i32> = (LISTEN_FDS_START..LISTEN_FDS_START + n).collect();
    let owned: Vec<OwnedFd> = crate::sys::inherit::adopt(&numbers)
        .map_err(|e| format!("socket activation (LISTEN_FDS={n}): {e}"))?;
    let mut names: Vec<String> = names
        .map(|s| s.split(':').map(str::to_string).collect())
        .unwrap_or_default();
    names.resize(owned.len(), "unknown".to_string());
    Ok(owned.into_iter().map(Socket::from).zip(names).collect())
}

/// The address an activated descriptor listens on, after checking it is a listening TCP
/// socket; made non-blocking, as the master's own listeners are.
pub fn listening_addr(sock: &Socket, fd_name: &str) -> Result<SocketAddr, String> {
    use std::os::fd::AsRawFd;
    let what = format!(
        "socket-activated descriptor {} ({fd_name})",
        sock.as_raw_fd()
    );
    let addr = sock
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .ok_or_else(|| format!("{what} is not an IPv4/IPv6 socket"))?;
    if sock.r#type().ok() != Some(socket2::Type::STREAM) || !sock.is_listener().unwrap_or(false) {
        return Err(format!(
            "{what} on {addr} is not a listening stream socket (ListenStream= in the .socket unit)"
        ));
    }
    sock.set_nonblocking(true)
        .map_err(|e| format!("{what}: cannot make it non-blocking: {e}"))?;
    Ok(addr)
}

/// Which activated socket serves each `Listen` address (index into `activated`), or `None`
/// where the master binds it itself. Every activated socket must equal one `Listen` line's
/// address and port, and no two the same line.
pub fn assign(
    listen: &[SocketAddr],
    activated: &[(SocketAddr, String)],
) -> Result<Vec<Option<usize>>, String> {
    let mut out = vec![None; listen.len()];
    for (i, (addr, name)) in activated.iter().enumerate() {
        let Some(j) = listen.iter().position(|l| l == addr) else {
            let wanted: Vec<String> = listen.iter().map(|l| l.to_string()).collect();
            return Err(format!(
                "socket-activated socket {name} listens on {addr}, which no Listen line names (Listen: {}); make ListenStream= and Listen agree, address and port",
                wanted.join(", ")
            ));
        };
        if out[j].is_some() {
            return Err(format!(
                "two socket-activated sockets listen on {addr} (the second is {name})"
            ));
        }
        out[j] = Some(i);
    }
    Ok(out)
}

/// Where `sd_notify` messages go; `None` when not started by systemd with `Type=notify*`.
#[derive(Debug, Default)]
pub struct Notifier {
    addr: Option<std::os::unix::net::SocketAddr>,
}

impl Notifier {
    /// `NOTIFY_SOCKET`: an absolute path, or `@name` for an abstract socket.
    pub fn parse(v: Option<&std::ffi::OsStr>) -> Result<Notifier, String> {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::ffi::OsStrExt;
        let Some(v) = v.filter(|v| !v.is_empty()) else {
            return Ok(Notifier::default());
        };
        let b = v.as_bytes();
        let addr = match b[0] {
            b'/' => std::os::unix::net::SocketAddr::from_pathname(v),
            b'@' => std::os::unix::net::SocketAddr::from_abstract_name(&b[1..]),
            _ => {
                return Err(format!(
                    "NOTIFY_SOCKET={} is neither a path nor @abstract",
                    v.to_string_lossy()
                ))
            }
        }
        .map_err(|e| format!("NOTIFY_SOCKET={}: {e}", v.to_string_lossy()))?;
        Ok(Notifier { addr: Some(addr) })
    }

    pub fn enabled(&self) -> bool {
        self.addr.is_some()
    }

    /// Sends one message (`KEY=VALUE` lines). Failures are logged, never fatal: systemd may
    /// have gone, and serving matters more.
    pub fn send(&self, state: &str) {
        let Some(addr) = &self.addr else {
            return;
        };
        let sent = std::os::unix::net::UnixDatagram::unbound()
            .and_then(|s| s.send_to_addr(state.as_bytes(), addr));
        if let Err(e) = sent {
            log::warn!("cannot notify systemd ({}): {e}", state.replace('\n', " "));
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}"));
    }

    /// `RELOADING=1` with the CLOCK_MONOTONIC time systemd needs to match it to its request.
    pub fn reloading(&self) {
        self.send(&format!(
            "RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading the configuration",
            monotonic_usec()
        ));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping: finishing accepted connections");
    }
}

pub fn monotonic_usec() -> u64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .expect("CLOCK_MONOTONIC is always available");
    (t.tv_sec() as u64) * 1_000_000 + (t.tv_nsec() as u64) / 1_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn assign_table() {
        let listen = [a("127.0.0.1:80"), a("0.0.0.0:443"), a("[::1]:80")];
        let act = |v: &[&str]| -> Vec<(SocketAddr, String)> {
            v.iter().map(|s| (a(s), format!("n-{s}"))).collect()
        };
        assert_eq!(assign(&listen, &[]), Ok(vec![None, None, None]));
        assert_eq!(
            assign(&listen, &act(&["[::1]:80", "127.0.0.1:80"])),
            Ok(vec![Some(1), None, Some(0)])
        );
        // The same port on another address is not the same socket.
        let e = assign(&listen, &act(&["127.0.0.1:443"])).unwrap_err();
        assert!(
            e.contains("127.0.0.1:443, which no Listen line names"),
            "{e}"
        );
        let e = assign(&listen, &act(&["[::]:443"])).unwrap_err();
        assert!(e.contains("no Listen line"), "{e}");
        let e = assign(&listen, &act(&["127.0.0.1:80", "127.0.0.1:80"])).unwrap_err();
        assert!(e.contains("two socket-activated sockets"), "{e}");
    }

    #[test]
    fn notify_socket_forms() {
        use std::os::linux::net::SocketAddrExt;
        let p = |s: &str| Notifier::parse(Some(std::ffi::OsStr::new(s)));
        assert!(!Notifier::parse(None).unwrap().enabled());
        assert!(!p("").unwrap().enabled());
        let n = p("/run/systemd/notify").unwrap();
        assert_eq!(
            n.addr.unwrap().as_pathname(),
            Some(std::path::Path::new("/run/systemd/notify"))
        );
        let n = p("@sd-notify-x").unwrap();
        assert_eq!(
            n.addr.unwrap().as_abstract_name(),
            Some(&b"sd-notify-x"[..])
        );
        assert!(p("vsock:2:1").is_err());
    }

    #[test]
    fn notifications_arrive_as_datagrams() {
        let dir = std::env::temp_dir().join(format!("oneshot-notify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let rx = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let n = Notifier::parse(Some(path.as_os_str())).unwrap();
        let before = monotonic_usec();
        n.ready("up");
        n.reloading();
        n.stopping();
        let mut buf = [0u8; 512];
        let mut next = || {
            let k = rx.recv(&mut buf).unwrap();
            String::from_utf8_lossy(&buf[..k]).into_owned()
        };
        assert_eq!(next(), "READY=1\nSTATUS=up");
        let r = next();
        let usec: u64 = r
            .lines()
            .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
            .unwrap()
            .parse()
            .unwrap();
        assert!(r.starts_with("RELOADING=1\n") && usec >= before, "{r}");
        assert!(next().starts_with("STOPPING=1\n"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
