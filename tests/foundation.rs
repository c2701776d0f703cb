//! The Foundation, through the real binary on 127.0.0.1: one process per connection,
//! precise statuses for malformed requests, no path escapes, config checking, and a master
//! that survives its children and leaves none behind.

mod common;
use common::*;
use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn each_connection_gets_its_own_child_which_then_exits() {
    let dir = site("pids");
    let s = Server::start(&dir, BASE_CONF);
    assert_eq!(s.get("alice.test", "/").status, 200);
    assert_eq!(s.get("alice.test", "/").status, 200);
    let log = s.wait_log_lines(2);
    let (a, b) = (log_pid(&log[0]), log_pid(&log[1]));
    assert_ne!(
        a, b,
        "two connections must be served by two processes: {log:?}"
    );
    assert_ne!(a, s.pid());
    let until = Instant::now() + Duration::from_secs(5);
    while (alive(a) || alive(b)) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !alive(a) && !alive(b),
        "children must exit after their connection"
    );
    std::thread::sleep(Duration::from_millis(1200)); // the master reaps at least once a second
    let zombies: Vec<_> = children_of(s.pid())
        .into_iter()
        .filter(|(_, st)| *st == 'Z')
        .collect();
    assert!(zombies.is_empty(), "zombies left: {zombies:?}");
}

#[test]
fn keep_alive_requests_share_one_child() {
    let dir = site("keepalive");
    let s = Server::start(&dir, BASE_CONF);
    let mut c = s.connect();
    let req = "GET / HTTP/1.1\r\nHost: bob.test\r\n\r\n";
    c.write_all(req.as_bytes()).unwrap();
    c.write_all(req.as_bytes()).unwrap();
    c.write_all(b"GET /index.html HTTP/1.1\r\nHost: bob.test\r\nConnection: close\r\n\r\n")
        .unwrap();
    let all = read_all(&mut c);
    assert_eq!(statuses(&all), vec![200, 200, 200]);
    let log = s.wait_log_lines(3);
    let pids: Vec<u32> = log.iter().map(|l| log_pid(l)).collect();
    assert!(pids.iter().all(|p| *p == pids[0]), "{log:?}");
}

#[test]
fn another_host_on_a_kept_alive_connection_is_not_served_by_the_same_child() {
    let dir = site("pinning");
    let s = Server::start(&dir, BASE_CONF);
    let mut c = s.connect();
    c.write_all(
        b"GET / HTTP/1.1\r\nHost: alice.test\r\n\r\nGET / HTTP/1.1\r\nHost: bob.test\r\n\r\n",
    )
    .unwrap();
    let all = read_all(&mut c);
    assert_eq!(
        statuses(&all),
        vec![200],
        "the second identity must be refused by closing"
    );
    assert!(String::from_utf8_lossy(&all).contains("alice index"));
}

/// (name, raw request, expected status)
const BAD: &[(&str, &[u8], u16)] = &[
    ("garbage", b"GARBAGE\r\n\r\n", 400),
    ("no host on 1.1", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("bad host", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    ("CL and TE", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("duplicate CL", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nxx", 400),
    ("body over LimitRequestBody", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\n\r\n", 413),
    ("unknown method", b"FROB / HTTP/1.1\r\nHost: a\r\n\r\n", 501),
    ("unknown coding", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    ("HTTP/2.0", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    ("HTTP/3.0", b"GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505),
    ("whitespace before colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    ("NUL in header", b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400),
];

#[test]
fn malformed_requests_get_precise_statuses_and_a_clean_close() {
    let dir = site("bad");
    let conf = format!("{BASE_CONF}LimitRequestBody 1000\nLimitRequestLine 100\nLimitRequestFields 5\nLimitRequestFieldSize 200\n");
    let s = Server::start(&dir, &conf);
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(200));
    let many = format!(
        "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
        "X-A: 1\r\n".repeat(10)
    );
    let big = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "b".repeat(300)
    );
    let mut cases: Vec<(&str, Vec<u8>, u16)> =
        BAD.iter().map(|(n, r, c)| (*n, r.to_vec(), *c)).collect();
    cases.push((
        "request line over LimitRequestLine",
        long_uri.into_bytes(),
        414,
    ));
    cases.push(("too many fields", many.into_bytes(), 431));
    cases.push(("field over LimitRequestFieldSize", big.into_bytes(), 431));
    for (name, req, want) in cases {
        let mut c = s.connect();
        c.write_all(&req).unwrap();
        // Do not half-close: the server must answer and close on its own.
        let got = read_until_close(&mut c);
        let r = parse_resp(&got);
        assert_eq!(r.status, want, "{name}: {}", r.head);
        assert_eq!(r.header("Connection").as_deref(), Some("close"), "{name}");
        let len: usize = r.header("Content-Length").unwrap().parse().unwrap();
        assert_eq!(
            r.body.len(),
            len,
            "{name}: the error response must be complete"
        );
    }
}

/// Reads until the server closes; a reset counts as a failure.
fn read_until_close(c: &mut std::net::TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "connection ended with {e} instead of a clean close after {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
}

#[test]
fn header_timeout_is_408() {
    let dir = site("timeout");
    let s = Server::start(&dir, &BASE_CONF.replace("Timeout 3", "Timeout 1"));
    let mut c = s.connect();
    c.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n").unwrap();
    let t = Instant::now();
    let r = parse_resp(&read_until_close(&mut c));
    assert_eq!(r.status, 408);
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn paths_never_escape_the_document_root() {
    let dir = site("escape");
    std::fs::write(dir.join("secret.txt"), "TOP-SECRET\n").unwrap();
    std::os::unix::fs::symlink(dir.join("secret.txt"), dir.join("www/alice/link.txt")).unwrap();
    std::os::unix::fs::symlink(dir.join("www/bob"), dir.join("www/alice/bobdir")).unwrap();
    let conf = BASE_CONF.replace("CustomLog", "Options -FollowSymLinks\nCustomLog");
    let s = Server::start(&dir, &conf);
    for (path, want) in [
        ("/../secret.txt", 400),
        ("/%2e%2e/secret.txt", 400),
        ("/.%2e/secret.txt", 400),
        ("/a/../../secret.txt", 400),
        ("/..%2fsecret.txt", 404),
        ("/%2e%2e%2fsecret.txt", 404),
        ("/index.html%00.txt", 400),
        ("/link.txt", 403),
        ("/bobdir/index.html", 403),
    ] {
        let raw = s.raw(
            format!("GET {path} HTTP/1.1\r\nHost: alice.test\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        let r = parse_resp(&raw);
        assert_eq!(r.status, want, "{path}");
        let text = String::from_utf8_lossy(&raw);
        assert!(
            !text.contains("TOP-SECRET") && !text.contains("bob index"),
            "{path} leaked a file"
        );
        assert!(
            !text.contains(dir.to_str().unwrap()),
            "{path}: error page leaks a filesystem path"
        );
    }
}

#[test]
fn static_files_behave_as_apache() {
    let dir = site("static");
    std::fs::create_dir_all(dir.join("www/alice/sub")).unwrap();
    std::fs::write(dir.join("www/alice/sub/data.txt"), "0123456789").unwrap();
    std::fs::create_dir_all(dir.join("www/alice/open")).unwrap();
    std::fs::write(dir.join("www/alice/open/a b.css"), "x").unwrap();
    let conf = BASE_CONF.replace(
        "ServerName alice.test",
        "ServerName alice.test\n<Directory www/alice/open>\nOptions +Indexes\n</Directory>",
    );
    let s = Server::start(&dir, &conf);
    let r = s.get("alice.test", "/sub/data.txt");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"0123456789");
    assert_eq!(r.header("Content-Type").as_deref(), Some("text/plain"));
    let etag = r.header("ETag").unwrap();
    let lm = r.header("Last-Modified").unwrap();
    let cond = |h: &str| {
        parse_resp(&s.raw(format!("GET /sub/data.txt HTTP/1.1\r\nHost: alice.test\r\n{h}\r\nConnection: close\r\n\r\n").as_bytes()))
    };
    assert_eq!(cond(&format!("If-None-Match: {etag}")).status, 304);
    assert_eq!(cond("If-None-Match: \"other\"").status, 200);
    assert_eq!(cond(&format!("If-Modified-Since: {lm}")).status, 304);
    let part = cond("Range: bytes=2-4");
    assert_eq!((part.status, part.body.as_slice()), (206, &b"234"[..]));
    assert_eq!(
        part.header("Content-Range").as_deref(),
        Some("bytes 2-4/10")
    );
    let bad = cond("Range: bytes=50-");
    assert_eq!(
        (bad.status, bad.header("Content-Range").as_deref()),
        (416, Some("bytes */10"))
    );
    let head = parse_resp(
        &s.raw(b"HEAD /sub/data.txt HTTP/1.1\r\nHost: alice.test\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.header("Content-Length").as_deref(), Some("10"));
    let redirect = s.get("alice.test", "/sub?x=1");
    assert_eq!(
        (redirect.status, redirect.header("Location").as_deref()),
        (301, Some("/sub/?x=1"))
    );
    assert_eq!(
        s.get("alice.test", "/sub/").status,
        403,
        "no index and no Indexes"
    );
    let listing = s.get("alice.test", "/open/");
    assert_eq!(listing.status, 200);
    assert!(String::from_utf8_lossy(&listing.body).contains("href=\"a%20b.css\""));
    assert_eq!(s.get("alice.test", "/missing").status, 404);
    assert_eq!(
        s.get("unknown.test", "/").body,
        b"default index\n",
        "the first vhost is the default"
    );
    // Apache's default handler serves POST as GET and refuses PUT (tests/static_methods.rs).
    let post = parse_resp(&s.raw(b"POST /index.html HTTP/1.1\r\nHost: alice.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
    assert_eq!(post.status, 200);
    let put = parse_resp(&s.raw(b"PUT /index.html HTTP/1.1\r\nHost: alice.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
    assert_eq!(put.status, 405);
}

#[test]
fn large_files_stream() {
    let dir = site("large");
    let data: Vec<u8> = (0..(8 << 20)).map(|i: u32| (i % 251) as u8).collect();
    std::fs::write(dir.join("www/alice/big.bin"), &data).unwrap();
    let s = Server::start(&dir, BASE_CONF);
    let r = s.get("alice.test", "/big.bin");
    assert_eq!(r.status, 200);
    assert!(r.body == data, "body differs");
}

#[test]
fn config_test_reports_every_error_with_file_and_line() {
    let dir = scratch("configtest");
    std::fs::write(dir.join("inc.conf"), "Bogus 1\n").unwrap();
    std::fs::write(dir.join("bad.conf"), "Listen 127.0.0.1:1\nDocumentRoot .\nTimeout x\nInclude inc.conf\n<Directory .>\nListen 2\n</Directory>\n").unwrap();
    let out = Command::new(BIN)
        .arg("-t")
        .arg("-f")
        .arg(dir.join("bad.conf"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let bad = dir.join("bad.conf");
    for want in [
        format!("{}:3: Timeout: 'x' is not a valid number", bad.display()),
        format!(
            "{}:1: unknown directive 'Bogus'",
            dir.join("inc.conf").display()
        ),
        format!("{}:6: Listen is not allowed in <Directory>", bad.display()),
    ] {
        assert!(err.contains(&want), "missing {want:?} in {err}");
    }
    // The demo, copied where the identities its children take can reach it (the checkout may
    // be in a 0700 home, which `-t` as root reports).
    let demo = scratch("demo");
    copy_tree(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policy/demo"),
        &demo,
    );
    let ok = Command::new(BIN)
        .arg("-t")
        .arg("-f")
        .arg(demo.join("oneshot.conf"))
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let usage = Command::new(BIN).arg("--bogus").output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("usage:"));
    for flag in ["--version", "-v", "-V"] {
        let v = Command::new(BIN).arg(flag).output().unwrap();
        assert_eq!(v.status.code(), Some(0), "{flag}");
        assert!(String::from_utf8_lossy(&v.stdout).starts_with("oneshot-httpd "));
    }
    for flag in ["--help", "-h"] {
        let h = Command::new(BIN).arg(flag).output().unwrap();
        assert_eq!(h.status.code(), Some(0), "{flag}");
        assert!(String::from_utf8_lossy(&h.stdout).starts_with("usage: oneshot-httpd -f FILE"));
        assert!(h.stderr.is_empty(), "{flag}");
    }
}

#[test]
fn killed_children_do_not_take_the_master_down_and_sigterm_leaves_none() {
    let dir = site("faults");
    let mut s = Server::start(&dir, BASE_CONF);
    let mut pending = s.connect();
    pending.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    for (pid, _) in children_of(s.pid()) {
        let _ = nix_kill(pid as i32, 9);
    }
    let r = s.get("alice.test", "/");
    assert_eq!(
        r.status, 200,
        "the master must keep serving after SIGKILLed children"
    );
    assert!(s.child.try_wait().unwrap().is_none());
    // A busy child finishes its connection on SIGTERM; idle ones go at once.
    let mut busy = s.connect();
    busy.write_all(b"GET / HTTP/1.1\r\nHost: alice.test\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let kids: Vec<u32> = children_of(s.pid()).into_iter().map(|(p, _)| p).collect();
    assert!(!kids.is_empty());
    nix_kill(s.pid() as i32, 15).unwrap();
    busy.write_all(b"Connection: close\r\n\r\n").unwrap();
    let r = parse_resp(&read_all(&mut busy));
    assert_eq!(
        r.status, 200,
        "a busy child must finish its request on SIGTERM"
    );
    let until = Instant::now() + Duration::from_secs(8);
    while s.child.try_wait().unwrap().is_none() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        s.child.try_wait().unwrap().is_some(),
        "master did not stop on SIGTERM"
    );
    for k in kids {
        assert!(!alive(k), "child {k} outlived the master");
    }
    s.stop();
}

#[test]
fn required_selinux_on_a_kernel_without_it_refuses_to_start() {
    if std::fs::read_to_string("/proc/filesystems")
        .unwrap_or_default()
        .contains("selinuxfs")
    {
        eprintln!("SKIP: this kernel has SELinux; the VM suite covers the permissive case");
        return;
    }
    let dir = site("noselinux");
    std::fs::write(dir.join("httpd.conf"), BASE_CONF).unwrap();
    let out = Command::new(BIN)
        .arg("-f")
        .arg(dir.join("httpd.conf"))
        .args([
            "-c",
            &format!("Listen 127.0.0.1:{}", free_port()),
            "-c",
            "Confinement selinux",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("SELinux is required by `Confinement selinux` but this kernel has no SELinux"),
        "{err}"
    );
}

/// Children check their descriptors with one poll over 0..1024; that is complete only because
/// the master closes whatever it inherited from 1024 up. A descriptor leaked into the master
/// at 1500 must reach neither it (after start-up) nor any child.
#[test]
fn a_descriptor_inherited_above_1024_reaches_no_child() {
    let dir = site("high-fd");
    std::fs::write(dir.join("httpd.conf"), BASE_CONF).unwrap();
    let port = free_port();
    let child = Command::new("bash")
        .arg("-c")
        .arg("exec 1500</dev/null; exec \"$0\" -f \"$1\" -c \"Listen 127.0.0.1:$2\"")
        .arg(BIN)
        .arg(dir.join("httpd.conf"))
        .arg(port.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut s = Server { dir, port, child };
    let until = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(s.get("alice.test", "/").status, 200);
    let master = s.pid();
    let kids = std::fs::read_to_string(format!("/proc/{master}/task/{master}/children")).unwrap();
    let kids: Vec<&str> = kids.split_whitespace().collect();
    assert!(!kids.is_empty(), "the master keeps pristine children");
    for pid in std::iter::once(master.to_string()).chain(kids.iter().map(|k| k.to_string())) {
        let leaked = std::path::Path::new(&format!("/proc/{pid}/fd/1500")).exists();
        assert!(!leaked, "pid {pid} still has descriptor 1500");
    }
    s.stop();
}
