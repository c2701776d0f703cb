//! Deployment as an administrator does it: `-t`'s reachability check on a real filesystem,
//! socket activation through systemd's own `systemd-socket-activate`, and the notify protocol
//! (`Type=notify-reload`) against a datagram socket this test binds, as systemd would.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn config_test(conf: &Path) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .arg("-t")
        .arg("-f")
        .arg(conf)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An Alias target is served like the DocumentRoot, so `-t` checks it the same way.
#[test]
fn config_test_as_root_names_an_alias_target_children_cannot_search() {
    if !is_root() {
        eprintln!("skipped: -t checks reachability only for a root master");
        return;
    }
    let dir = scratch("reach-alias");
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::create_dir_all(dir.join("shared")).unwrap();
    chmod(&dir.join("shared"), 0o700);
    let conf = dir.join("httpd.conf");
    std::fs::write(
        &conf,
        "Listen 127.0.0.1:1\nUser nobody\nGroup nogroup\nDocumentRoot www\nAlias /shared shared\n",
    )
    .unwrap();
    let (code, err) = config_test(&conf);
    let want = format!(
        "{}:5: Alias {d}/shared: nobody cannot search {d}/shared (drwx------ root)",
        conf.display(),
        d = dir.display()
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&want), "missing {want:?} in {err}");
    chmod(&dir.join("shared"), 0o755);
    let (code, err) = config_test(&conf);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn config_test_as_root_names_the_directory_children_cannot_search() {
    if !is_root() {
        eprintln!("skipped: -t checks reachability only for a root master");
        return;
    }
    let dir = scratch("reach");
    let private = dir.join("private");
    std::fs::create_dir_all(private.join("www")).unwrap();
    chmod(&private, 0o700);
    let conf = dir.join("httpd.conf");
    std::fs::write(
        &conf,
        "Listen 127.0.0.1:1\nUser nobody\nGroup nogroup\nDocumentRoot private/www\n",
    )
    .unwrap();
    let (code, err) = config_test(&conf);
    let want = format!(
        "{}:4: DocumentRoot {}/www: nobody cannot search {} (drwx------ root)",
        conf.display(),
        private.display(),
        private.display()
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&want), "missing {want:?} in {err}");
    assert!(!err.contains("Syntax OK"));

    // Search for others is what it needs; the DocumentRoot itself must be readable too.
    chmod(&private, 0o711);
    let (code, err) = config_test(&conf);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("Syntax OK"), "{err}");
    chmod(&private.join("www"), 0o711);
    let (code, err) = config_test(&conf);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("nobody cannot read {}/www", private.display())),
        "{err}"
    );
    chmod(&private.join("www"), 0o755);

    // A POSIX ACL granting nobody search is honoured (when setfacl is installed).
    chmod(&private, 0o700);
    match Command::new("setfacl")
        .args(["-m", "u:nobody:x"])
        .arg(&private)
        .output()
    {
        Ok(o) if o.status.success() => {
            let (code, err) = config_test(&conf);
            assert_eq!(code, Some(0), "ACL u:nobody:x: {err}");
        }
        other => eprintln!("ACL case skipped (setfacl: {other:?})"),
    }
}

/// Environment variables of `pid` (NUL-separated /proc/PID/environ).
fn environ(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|b| {
            b.split(|c| *c == 0)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Under systemd's own activator (as a .socket unit would start it): the listener is the
/// activated descriptor (binding the port again would fail while the activator's copy is
/// open), the variables do not reach children, and a request is answered through it.
#[test]
fn socket_activated_listener_serves_and_stays_with_its_children() {
    let dir = site("activate");
    let port = free_port();
    std::fs::write(
        dir.join("httpd.conf"),
        format!("{BASE_CONF}Listen 127.0.0.1:{port}\nReexecChildren On\n"),
    )
    .unwrap();
    let child = Command::new("systemd-socket-activate")
        .arg("-l")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--fdname=web")
        .arg(BIN)
        .arg("-f")
        .arg(dir.join("httpd.conf"))
        .stdout(Stdio::null())
        .spawn()
        .expect("systemd-socket-activate (Debian package systemd)");
    let s = Server {
        dir: dir.clone(),
        port,
        child,
    };
    // The activator listens at once and execs the server on the first connection: this one.
    let until = Instant::now() + Duration::from_secs(10);
    let mut conn = loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(c) => break c,
            Err(e) if Instant::now() > until => panic!("the activator never listened: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    std::io::Write::write_all(
        &mut conn,
        b"GET / HTTP/1.1\r\nHost: alice.test\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let r = parse_resp(&read_all(&mut conn));
    assert_eq!(r.status, 200, "{}", s.error_log());
    assert_eq!(r.body, b"alice index\n");
    let log = s.error_log();
    assert!(
        log.contains(&format!(
            "listening on 127.0.0.1:{port} through a socket-activated descriptor"
        )),
        "{log}"
    );
    assert_eq!(s.get("bob.test", "/").status, 200);
    // With ReexecChildren On, children exec with the master's environment: no LISTEN_* left
    // in it. (/proc/PID/environ of the master itself shows the block it was started with.)
    let reexeced: Vec<u32> = children_of(s.pid())
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("--reexec-child"))
        })
        .collect();
    assert!(!reexeced.is_empty(), "no re-executed child to look at");
    for pid in reexeced {
        let env = environ(pid);
        assert!(
            !env.iter().any(|v| v.starts_with("LISTEN_")),
            "pid {pid}: {env:?}"
        );
    }
}

#[test]
fn an_activated_socket_no_listen_line_names_stops_the_start() {
    let dir = site("activate-mismatch");
    let (port, other) = (free_port(), free_port());
    std::fs::write(
        dir.join("httpd.conf"),
        format!("{BASE_CONF}Listen 127.0.0.1:{other}\nErrorLog stderr\n"),
    )
    .unwrap();
    let mut child = Command::new("systemd-socket-activate")
        .arg("-l")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--fdname=web")
        .arg(BIN)
        .arg("-f")
        .arg(dir.join("httpd.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut done = None;
    while done.is_none() && Instant::now() < until {
        done = child.try_wait().unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some(status) = done else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server kept running with an activated socket it does not serve");
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "socket-activated socket web listens on 127.0.0.1:{port}, which no Listen line names"
        )),
        "{err}"
    );
}

/// `Type=notify-reload` against a datagram socket bound here, as systemd binds its own
/// (abstract, as systemd's is): READY=1 once serving, RELOADING=1 with MONOTONIC_USEC and
/// READY=1 again for a reload applied and for one refused, STOPPING=1 on SIGTERM.
#[test]
fn notify_protocol_for_notify_reload() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let dir = site("notify");
    let name = format!("oneshot-test-notify-{}", std::process::id());
    let rx =
        UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let next = || {
        let mut buf = [0u8; 1024];
        let n = rx.recv(&mut buf).expect("a notification within 10 s");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let port = free_port();
    let conf = dir.join("httpd.conf");
    let base = format!("{BASE_CONF}Listen 127.0.0.1:{port}\nReexecChildren On\n");
    std::fs::write(&conf, &base).unwrap();
    let child = Command::new(BIN)
        .arg("-f")
        .arg(&conf)
        .env("NOTIFY_SOCKET", format!("@{name}"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut s = Server { dir, port, child };
    let ready = next();
    assert!(ready.starts_with("READY=1\n"), "{ready}");
    // Ready means serving: the listener is bound and children wait.
    assert_eq!(s.get("alice.test", "/").status, 200);
    // Re-executed children get the master's environment, NOTIFY_SOCKET no longer in it.
    // Only children that finished their exec: one just forked still shows the master's
    // starting block in /proc/PID/environ (as the verifier, which is forked, not executed).
    let reexecuted = |pid: &u32| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == b"--reexec-child"))
    };
    let children: Vec<u32> = children_of(s.pid()).into_iter().map(|(p, _)| p).collect();
    assert!(children.iter().any(reexecuted), "no re-executed child");
    for pid in children.into_iter().filter(reexecuted) {
        assert!(
            !environ(pid).iter().any(|v| v.starts_with("NOTIFY_SOCKET")),
            "child {pid} has NOTIFY_SOCKET"
        );
    }
    let reload = |conf_text: &str| {
        std::fs::write(&conf, conf_text).unwrap();
        let before = monotonic_usec();
        nix_kill(s.pid() as i32, 1).unwrap();
        let r = next();
        assert!(r.starts_with("RELOADING=1\n"), "{r}");
        let usec: u64 = r
            .lines()
            .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
            .unwrap_or_else(|| panic!("no MONOTONIC_USEC in {r:?}"))
            .parse()
            .unwrap();
        assert!(
            usec >= before,
            "MONOTONIC_USEC={usec} before the signal ({before})"
        );
        let r = next();
        assert!(r.starts_with("READY=1\n"), "{r}");
    };
    reload(&format!("{base}Timeout 4\n"));
    // A configuration that does not load is refused, and the server is ready again with the old.
    reload(&format!("{base}Bogus\n"));
    assert_eq!(s.get("alice.test", "/").status, 200);
    nix_kill(s.pid() as i32, 15).unwrap();
    let r = next();
    assert!(r.starts_with("STOPPING=1\n"), "{r}");
    s.stop();
}

/// CLOCK_MONOTONIC in microseconds, the clock MONOTONIC_USEC is on.
fn monotonic_usec() -> u64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).unwrap();
    t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1_000
}

/// `systemd-analyze verify` on the shipped units, with ExecStart pointed at the binary under
/// test (the units name /usr/sbin/oneshot-httpd, which only an installed package has) and
/// `--man=no` (the man page comes with the package). systemd before 253 (Debian 12 has 252)
/// does not know Type=notify-reload or ReloadSignal=: exactly those two lines may be said
/// there, and the unit is verified again with dist/systemd/systemd-252-compat.conf.
#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/systemd");
    let service = std::fs::read_to_string(src.join("oneshot-httpd.service")).unwrap();
    let directives: Vec<&str> = service
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    for want in ["Type=notify-reload", "NotifyAccess=main", "KillMode=mixed"] {
        assert!(directives.contains(&want), "{want} missing");
    }
    assert!(
        !directives.iter().any(|l| l.starts_with("NoNewPrivileges")),
        "NoNewPrivileges= must stay unset (see the unit's comment)"
    );
    let version = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .expect("systemd-analyze (Debian package systemd)");
    let version: u32 = String::from_utf8_lossy(&version.stdout)
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("systemd version");
    let dir = scratch("units");
    for f in ["oneshot-httpd.service", "oneshot-httpd.socket"] {
        let text = std::fs::read_to_string(src.join(f)).unwrap();
        std::fs::write(dir.join(f), text.replace("/usr/sbin/oneshot-httpd", BIN)).unwrap();
    }
    let verify = || {
        let out = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(dir.join("oneshot-httpd.service"))
            .arg(dir.join("oneshot-httpd.socket"))
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{said}");
        said
    };
    let allowed: &[&str] = if version < 253 {
        &[
            "Failed to parse service type, ignoring: notify-reload",
            "Unknown key 'ReloadSignal' in section [Service], ignoring.",
        ]
    } else {
        &[]
    };
    let check = |said: &str| {
        for line in said.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                allowed.iter().any(|a| line.ends_with(a)),
                "systemd {version}: {line}"
            );
        }
    };
    check(&verify());
    if version < 253 {
        let d = dir.join("oneshot-httpd.service.d");
        std::fs::create_dir(&d).unwrap();
        std::fs::copy(
            src.join("systemd-252-compat.conf"),
            d.join("systemd-252-compat.conf"),
        )
        .unwrap();
        check(&verify());
    }
}
