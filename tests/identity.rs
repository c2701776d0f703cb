//! "No identity rule → 403" on the host, through the real binary as root with
//! `Confinement unix landlock` (INVARIANTS I1, I3; issue 11).
//!
//! nomap.test authenticates alice and bob but its `UserIDMap` has a rule for bob only and the
//! vhost has no `AssignUserID`: alice must get exactly 403 (never the content, never the
//! worker's identity), the error log must carry the audit line
//!
//! ```text
//! [DATE] [identity:error] [pid N] [client 127.0.0.1:PORT] ONESHOT0001: no identity rule for user alice in vhost nomap.test (map MAPFILE, no vhost default): /index.html
//! ```
//!
//! and the access log a line with status 403. A request for nomap.test that follows a served
//! request on the same kept-alive connection gets 403 or a clean close (then, as clients do,
//! a retry on a new connection gets 403) — never 200.
//!
//! The oracles are hand-written from the issue text; nothing here calls the crate's
//! admission or map code (the Landlock ABI query only decides whether to skip).

mod common;
use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// A site in the tests' world-searchable scratch directory (children run as nobody).
struct Site {
    dir: PathBuf,
    map: PathBuf,
    conf: String,
}

fn build_site(name: &str) -> Site {
    let dir = scratch(&format!("identity-{name}"));
    for d in ["", "conf", "logs", "www", "www/mapped", "www/nomap"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
        std::fs::set_permissions(dir.join(d), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    write_mode(&dir.join("www/mapped/index.html"), "mapped index\n", 0o644);
    write_mode(
        &dir.join("www/nomap/index.html"),
        "NOMAP SECRET index\n",
        0o644,
    );
    htpasswd_bcrypt(
        &dir.join("conf/htpasswd"),
        &[("alice", "alice-pw"), ("bob", "bob-pw")],
    );
    std::fs::set_permissions(
        dir.join("conf/htpasswd"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let map = dir.join("conf/nomap.map");
    write_mode(
        &map,
        "# only bob has a rule here\nbob nobody:nogroup\n",
        0o644,
    );
    let d = dir.display();
    let m = map.display();
    let conf = format!(
        "User nobody
Group nogroup
Confinement unix landlock
ErrorLog {d}/logs/error.log
LogLevel warn
CustomLog {d}/logs/access.log combined
PidFile {d}/logs/httpd.pid
StartServers 2
MinSpareServers 2
MaxSpareServers 4
MaxRequestWorkers 20
Timeout 5
KeepAlive On
KeepAliveTimeout 5
<VirtualHost *:80>
  ServerName mapped.test
  DocumentRoot {d}/www/mapped
  AssignUserID nobody nogroup
</VirtualHost>
<VirtualHost *:80>
  ServerName nomap.test
  DocumentRoot {d}/www/nomap
  AuthType Basic
  AuthName nomap
  AuthUserFile {d}/conf/htpasswd
  Require valid-user
  UserIDMap {m}
</VirtualHost>
"
    );
    Site { dir, map, conf }
}

fn start(site: &Site) -> Server {
    Server::start(&site.dir, &site.conf)
}

/// Reads one response (head plus Content-Length body), leaving the connection open.
/// `None` when the server closed cleanly before sending any byte of it.
fn read_one(c: &mut TcpStream) -> Option<Resp> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = parse_resp(&raw[..end + 4]);
            let len: usize = head
                .header("Content-Length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while raw.len() < end + 4 + len {
                let n = c.read(&mut buf).expect("read response body");
                assert!(n > 0, "connection closed inside a response body");
                raw.extend_from_slice(&buf[..n]);
            }
            return Some(parse_resp(&raw[..end + 4 + len]));
        }
        match c.read(&mut buf) {
            Ok(0) if raw.is_empty() => return None,
            Ok(0) => panic!("connection closed inside a response head: {raw:?}"),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("no answer and no close within the read timeout")
            }
            Err(e) => panic!("connection not closed cleanly: {e}"),
        }
    }
}

fn nomap_request(auth: &str, close: bool) -> String {
    let conn = if close { "Connection: close\r\n" } else { "" };
    format!("GET /index.html HTTP/1.1\r\nHost: nomap.test\r\n{auth}{conn}\r\n")
}

/// One request on its own connection: (response, local port).
fn alone(s: &Server, req: &str) -> (Resp, u16) {
    let mut c = s.connect();
    let port = c.local_addr().unwrap().port();
    c.write_all(req.as_bytes()).unwrap();
    let r = read_one(&mut c).expect("an answer on a fresh connection");
    (r, port)
}

fn assert_refused(r: &Resp, what: &str) {
    assert_eq!(r.status, 403, "{what}: {}", r.head);
    assert!(
        !String::from_utf8_lossy(&r.body).contains("NOMAP SECRET"),
        "{what}: content leaked with the 403"
    );
}

#[test]
fn a_user_without_an_identity_rule_gets_403_and_an_audit_line() {
    let test = "a_user_without_an_identity_rule_gets_403_and_an_audit_line";
    if skip_unless_root_landlock(test) {
        return;
    }
    let site = build_site("refused");
    let s = start(&site);
    let alice = basic_auth("alice", "alice-pw");

    // Sanity: the vhost serves the user it has a rule for, so alice's 403 is about her rule.
    let (bob, _) = alone(&s, &nomap_request(&basic_auth("bob", "bob-pw"), true));
    assert_eq!(
        (bob.status, bob.body.as_slice()),
        (200, &b"NOMAP SECRET index\n"[..])
    );

    let (r, port) = alone(&s, &nomap_request(&alice, true));
    assert_refused(&r, "alice on nomap.test");

    let want = format!(
        "ONESHOT0001: no identity rule for user alice in vhost nomap.test (map {}, no vhost default): /index.html",
        site.map.display()
    );
    let client = format!("] [client 127.0.0.1:{port}] ");
    let log = wait_error_log(&s, |l| l.lines().any(|x| x.contains(&client)));
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(&client)).collect();
    let [line] = lines.as_slice() else {
        panic!("want one error-log line for [client 127.0.0.1:{port}] at LogLevel warn:\n{log}");
    };
    let (prefix, msg) = line.split_once(&client[..]).unwrap();
    assert_eq!(msg, want, "{line}");
    let fields = prefix.split("] [").collect::<Vec<_>>();
    assert!(
        fields.len() == 3
            && fields[0].starts_with('[')
            && fields[1] == "identity:error"
            && fields[2]
                .strip_prefix("pid ")
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
        "want [DATE] [identity:error] [pid N] [client ...]: {line}"
    );

    let access = s.wait_log_lines(2);
    assert!(
        access
            .iter()
            .any(|l| l.contains(" - alice [") && l.contains("\"GET /index.html HTTP/1.1\" 403 ")),
        "no access line with alice and 403:\n{}",
        access.join("\n")
    );
}

#[test]
fn an_unmapped_request_after_a_served_one_on_the_same_connection_is_never_served() {
    let test = "an_unmapped_request_after_a_served_one_on_the_same_connection_is_never_served";
    if skip_unless_root_landlock(test) {
        return;
    }
    let site = build_site("keepalive");
    let s = start(&site);
    let alice = basic_auth("alice", "alice-pw");
    let served = "GET /index.html HTTP/1.1\r\nHost: mapped.test\r\n\r\n";

    // Sequential: the second request is sent after the first answer.
    let mut c = s.connect();
    c.write_all(served.as_bytes()).unwrap();
    let first = read_one(&mut c).expect("the served request is answered");
    assert_eq!(
        (first.status, first.body.as_slice()),
        (200, &b"mapped index\n"[..])
    );
    c.write_all(nomap_request(&alice, true).as_bytes()).unwrap();
    match read_one(&mut c) {
        Some(r) => assert_refused(&r, "sequential, same connection"),
        None => {
            let (r, _) = alone(&s, &nomap_request(&alice, true));
            assert_refused(&r, "sequential, retried on a new connection");
        }
    }

    // Pipelined: both requests in one write.
    let mut c = s.connect();
    c.write_all(format!("{served}{}", nomap_request(&alice, true)).as_bytes())
        .unwrap();
    let first = read_one(&mut c).expect("the served request is answered");
    assert_eq!(first.status, 200);
    match read_one(&mut c) {
        Some(r) => assert_refused(&r, "pipelined, same connection"),
        None => {
            let (r, _) = alone(&s, &nomap_request(&alice, true));
            assert_refused(&r, "pipelined, retried on a new connection");
        }
    }

    let access = s.wait_log_lines(4);
    assert!(
        !access
            .iter()
            .any(|l| l.contains(" - alice [") && l.contains("\" 200 ")),
        "alice was served on nomap.test:\n{}",
        access.join("\n")
    );
}
