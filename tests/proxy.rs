//! The PROXY protocol behind a real HAProxy (Debian's package), started here on 127.0.0.1 and
//! stopped at the end. Oracles from haproxy's `doc/proxy-protocol.txt` and mod_remoteip's
//! documentation:
//! - two oneshot-httpd instances load-balanced by HAProxy with `send-proxy-v2` (and one
//!   frontend with v1 `send-proxy`) log the client's own address (curl bound to 127.0.0.7 or
//!   127.0.0.8), and `Require ip 127.0.0.7` is decided on that address;
//! - a direct connection without a header, a header from a source outside
//!   `RemoteIPProxyProtocolTrusted`, and a garbage header are closed without a response.
//!
//! Skipped (with a message) where haproxy is not installed.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn wait_port(port: u16) -> bool {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn start_backend(name: &str) -> Server {
    let dir = site(name);
    std::fs::create_dir_all(dir.join("www/default/only7")).unwrap();
    std::fs::write(dir.join("www/default/only7/index.html"), "seven\n").unwrap();
    start_backend_in(
        dir,
        "",
        "<Location /only7>\n  Require ip 127.0.0.7\n </Location>\n",
    )
}

/// Starts oneshot-httpd in `dir` on a free port, trusting PROXY headers from 127.0.0.1 only;
/// `global` and `vhost` are added to the server and to its one vhost.
fn start_backend_in(dir: std::path::PathBuf, global: &str, vhost: &str) -> Server {
    let port = free_port();
    let conf = format!(
        "User nobody\nGroup nogroup\nErrorLog logs/error.log\nLogLevel debug\nCustomLog logs/access.log combined\n\
         StartServers 2\nMinSpareServers 2\nMaxSpareServers 4\nTimeout 5\n{global}\
         Listen 127.0.0.1:{port}\n\
         RemoteIPProxyProtocol On\nRemoteIPProxyProtocolTrusted 127.0.0.1\n\
         <VirtualHost *:{port}>\n ServerName default.test\n DocumentRoot www/default\n{vhost}</VirtualHost>\n"
    );
    std::fs::write(dir.join("httpd.conf"), conf).unwrap();
    let child = Command::new(BIN)
        .arg("-f")
        .arg(dir.join("httpd.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let srv = Server { dir, port, child };
    assert!(wait_port(srv.port), "backend did not start");
    srv
}

struct Haproxy {
    child: Child,
}

impl Haproxy {
    /// Starts Debian's haproxy in `mode tcp` with `cfg` (written to `dir/haproxy.cfg`) and
    /// waits for `ports` to answer.
    fn start(dir: &std::path::Path, cfg: &str, ports: &[u16]) -> Haproxy {
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, format!("global\n  maxconn 64\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n{cfg}")).unwrap();
        let hap = Haproxy {
            child: Command::new("haproxy")
                .arg("-db")
                .arg("-f")
                .arg(&path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        };
        assert!(ports.iter().all(|p| wait_port(*p)), "haproxy did not start");
        hap
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn curl_from(src: &str, port: u16, path: &str) -> (i32, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--interface",
            src,
        ])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// A GET through curl bound to `src`, optionally with Basic credentials: (status, body,
/// time taken).
fn fetch_from(src: &str, port: u16, path: &str, user: Option<&str>) -> (String, String, Duration) {
    let body = scratch("proxy-body").join("body");
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--max-time",
        "15",
        "-w",
        "%{http_code}",
        "--interface",
        src,
    ])
    .arg("-o")
    .arg(&body);
    if let Some(u) = user {
        cmd.args(["-u", u]);
    }
    let t = Instant::now();
    let out = cmd
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .unwrap();
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        std::fs::read_to_string(&body).unwrap_or_default(),
        took,
    )
}

/// Sends `bytes` from `src` and returns whatever comes back before the server closes.
fn raw_from(src: &str, port: u16, bytes: &[u8]) -> Vec<u8> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&src.parse::<SocketAddr>().unwrap().into())
        .unwrap();
    sock.connect(&SocketAddr::from(([127, 0, 0, 1], port)).into())
        .unwrap();
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let _ = s.write_all(bytes);
    read_all(&mut s)
}

#[test]
fn haproxy_v1_and_v2_give_the_client_address_to_logs_and_require_ip() {
    if !have("haproxy") || !have("curl") {
        eprintln!("SKIP: haproxy (Debian package) and curl are needed");
        return;
    }
    let (b1, b2) = (start_backend("proxy-b1"), start_backend("proxy-b2"));
    let (v2_port, v1_port) = (free_port(), free_port());
    let cfg = format!(
        "frontend fe2\n  bind 127.0.0.1:{v2_port}\n  default_backend be2\n\
         backend be2\n  balance roundrobin\n  server s1 127.0.0.1:{} send-proxy-v2\n  server s2 127.0.0.1:{} send-proxy-v2\n\
         frontend fe1\n  bind 127.0.0.1:{v1_port}\n  default_backend be1\n\
         backend be1\n  server s1 127.0.0.1:{} send-proxy\n",
        b1.port, b2.port, b1.port
    );
    let _hap = Haproxy::start(&b1.dir, &cfg, &[v2_port, v1_port]);

    // v2, round robin over both instances, from two client addresses.
    for _ in 0..2 {
        assert_eq!(
            curl_from("127.0.0.7", v2_port, "/only7/"),
            (0, "200".into())
        );
        assert_eq!(
            curl_from("127.0.0.8", v2_port, "/only7/"),
            (0, "403".into())
        );
    }
    // v1.
    assert_eq!(
        curl_from("127.0.0.7", v1_port, "/only7/"),
        (0, "200".into())
    );
    assert_eq!(curl_from("127.0.0.8", v1_port, "/"), (0, "200".into()));

    let mut lines = b1.wait_log_lines(4);
    lines.extend(b2.wait_log_lines(2));
    assert_eq!(lines.len(), 6, "{lines:#?}");
    assert!(!b2.access_log().is_empty(), "both instances served");
    for l in &lines {
        let ip = l.split(' ').next().unwrap();
        assert!(
            ip == "127.0.0.7" || ip == "127.0.0.8",
            "logged {ip}, not HAProxy's 127.0.0.1: {l}"
        );
        let status = l.split("\" ").nth(1).unwrap().split(' ').next().unwrap();
        let want = if l.contains("/only7/") && ip == "127.0.0.8" {
            "403"
        } else {
            "200"
        };
        assert_eq!(status, want, "{l}");
    }
    assert!(
        b1.error_log().contains("[client 127.0.0.8:"),
        "AH01630 names the proxied client"
    );

    // Direct connection, no header: closed without a response.
    let got = raw_from("127.0.0.1:0", b1.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    // A well-formed header from an untrusted source: closed without a response.
    let got = raw_from(
        "127.0.0.9:0",
        b1.port,
        b"PROXY TCP4 10.9.9.9 127.0.0.1 1234 80\r\nGET /only7/ HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    // Garbage that starts like a header: closed without a response.
    for garbage in [
        &b"PROXY TCP4 127.0.0.7 127.0.0.1 01 80\r\nGET / HTTP/1.1\r\n\r\n"[..],
        b"\r\n\r\n\0\r\nQUIT\n\x21\x12\x00\x0cxxxxxxxxxxxxGET / HTTP/1.1\r\n\r\n",
    ] {
        let got = raw_from("127.0.0.1:0", b1.port, garbage);
        assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    }
    assert_eq!(
        b1.access_log().len() + b2.access_log().len(),
        6,
        "nothing else was served"
    );
}

/// The other places the client address counts, behind HAProxy (`send-proxy-v2`), with curl
/// bound to 127.0.0.7, .8 and .9 and HAProxy itself connecting from 127.0.0.1. The oracle is
/// the address HAProxy was told to send, and hand-written expectations:
/// - the `UserIDMap`'s network rules: .7 is served by the map's line 2, .8 by line 3, .9 has
///   no rule and gets 403 (had the map seen 127.0.0.1, all three would get 403);
/// - CGI's `REMOTE_ADDR` is the client's address;
/// - the verifier's per-source slowdown: after four wrong passwords from .8, its fifth try
///   waits at least a second (250 ms doubling from the third failure), while .7, next, with the
///   right password, is answered at once (had the verifier seen 127.0.0.1 for both, .7 would
///   wait two seconds).
#[test]
fn the_proxied_address_is_what_map_rules_cgi_and_the_verifier_see() {
    if !have("haproxy") || !have("curl") || !is_root() {
        eprintln!("SKIP: haproxy, curl and root (UserIDMap switches uids) are needed");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = site("proxy-identity");
    for d in ["conf", "cgi", "www/default/private"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    std::fs::write(dir.join("www/default/private/index.html"), "private\n").unwrap();
    let map = dir.join("conf/net.map");
    std::fs::write(
        &map,
        "# by client address only\n127.0.0.7 nobody:nogroup\n127.0.0.8/32 nobody:nogroup\n",
    )
    .unwrap();
    htpasswd_bcrypt(&dir.join("conf/htpasswd"), &[("carol", "carol-pw")]);
    std::fs::set_permissions(
        dir.join("conf/htpasswd"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let env = dir.join("cgi/env.sh");
    std::fs::write(
        &env,
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\necho \"REMOTE_ADDR=$REMOTE_ADDR\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(&env, Some(65534), None).unwrap();
    let b = start_backend_in(
        dir.clone(),
        "Confinement unix landlock\nScriptAlias /cgi-bin/ cgi/\n",
        &format!(
            " UserIDMap {}\n <Location /private>\n  AuthType Basic\n  AuthName private\n  AuthUserFile {}\n  Require valid-user\n </Location>\n",
            map.display(),
            dir.join("conf/htpasswd").display()
        ),
    );
    let port = free_port();
    let _hap = Haproxy::start(
        &dir,
        &format!(
            "frontend fe\n  bind 127.0.0.1:{port}\n  default_backend be\n\
             backend be\n  server s1 127.0.0.1:{} send-proxy-v2\n",
            b.port
        ),
        &[port],
    );

    // Map-file network rules.
    let map_line = |n: usize| format!("rule={}:{n}", map.display());
    assert_eq!(fetch_from("127.0.0.7", port, "/", None).0, "200");
    assert_eq!(fetch_from("127.0.0.8", port, "/", None).0, "200");
    assert_eq!(fetch_from("127.0.0.9", port, "/", None).0, "403");
    let lines = b.wait_log_lines(3);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    for (line, (ip, status, rule)) in lines.iter().zip([
        ("127.0.0.7", "200", map_line(2)),
        ("127.0.0.8", "200", map_line(3)),
        ("127.0.0.9", "403", "rule=refused".to_string()),
    ]) {
        assert!(line.starts_with(&format!("{ip} ")), "{line}");
        assert!(line.contains(&format!("\" {status} ")), "{line}");
        assert!(line.ends_with(&rule), "want {rule}: {line}");
    }

    // CGI's REMOTE_ADDR.
    for ip in ["127.0.0.7", "127.0.0.8"] {
        let (status, body, _) = fetch_from(ip, port, "/cgi-bin/env.sh", None);
        assert_eq!(
            (status.as_str(), body.trim()),
            ("200", format!("REMOTE_ADDR={ip}").as_str())
        );
    }

    // The verifier's per-source slowdown.
    for _ in 0..4 {
        assert_eq!(
            fetch_from("127.0.0.8", port, "/private/", Some("carol:wrong")).0,
            "401"
        );
    }
    let (status, _, slow) = fetch_from("127.0.0.8", port, "/private/", Some("carol:wrong"));
    assert_eq!(status, "401");
    assert!(
        slow >= Duration::from_millis(900),
        "the fifth failure from 127.0.0.8 took only {slow:?}"
    );
    let (status, body, quick) = fetch_from("127.0.0.7", port, "/private/", Some("carol:carol-pw"));
    assert_eq!((status.as_str(), body.as_str()), ("200", "private\n"));
    assert!(
        quick < Duration::from_millis(800),
        "127.0.0.7 was slowed down by 127.0.0.8's failures: {quick:?}"
    );
}
