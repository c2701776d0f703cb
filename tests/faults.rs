//! Faults through the real binary: a full access log is reported once, not once per request;
//! when every child slot is held, the master takes back the slot of a client still trickling
//! its request head (never one already serving) so a well-behaved client gets through.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[test]
fn full_access_log_is_reported_once_and_serving_goes_on() {
    let dir = site("full-log");
    std::os::unix::fs::symlink("/dev/full", dir.join("logs/full.log")).unwrap();
    let conf = BASE_CONF.replace(
        "CustomLog logs/access.log combined",
        "CustomLog logs/full.log common\nCustomLog logs/access.log common",
    );
    let s = Server::start(&dir, &conf);
    for i in 0..12 {
        let r = s.get("alice.test", "/");
        assert_eq!(
            r.status,
            200,
            "request {i}: serving must go on; error log:\n{}",
            s.error_log()
        );
    }
    // The second CustomLog still works, and proves every request finished logging.
    assert_eq!(s.wait_log_lines(12).len(), 12);
    let log = s.error_log();
    let reports: Vec<&str> = log.lines().filter(|l| l.contains("CustomLog #1")).collect();
    assert_eq!(
        reports.len(),
        1,
        "one report per failure streak, got:\n{}",
        reports.join("\n")
    );
    assert!(
        reports[0].contains("No space left on device"),
        "{}",
        reports[0]
    );
    assert!(
        !log.contains("CustomLog #2"),
        "the working log is not reported"
    );
}

/// Reads until EOF or `limit`; what a client sees of its answer.
fn answer(s: &mut TcpStream, limit: Duration) -> Vec<u8> {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

#[test]
fn every_slot_held_reclaims_a_trickling_head_but_never_a_serving_child() {
    let dir = site("reclaim");
    // Two slots, and neither Timeout (30 s) nor RequestReadTimeout (off) would free one
    // within the good client's 10 s patience: only reclaiming can.
    let conf = BASE_CONF
        .replace(
            "\nTimeout 3\n",
            "\nTimeout 30\nRequestReadTimeout header=0 body=0\n",
        )
        .replace("StartServers 2", "StartServers 1")
        .replace("MinSpareServers 2", "MinSpareServers 1")
        .replace("MaxSpareServers 4", "MaxSpareServers 1")
        .replace("MaxRequestWorkers 20", "MaxRequestWorkers 2");
    let s = Server::start(&dir, &conf);
    std::thread::sleep(Duration::from_millis(300));

    let mut trickler = s.connect();
    trickler
        .write_all(b"GET / HTTP/1.1\r\nHost: alice.test\r\nX-Slow: a")
        .unwrap();
    // Head complete, body still coming: this child is serving and must not be touched.
    let mut uploader = s.connect();
    uploader
        .write_all(b"POST / HTTP/1.1\r\nHost: alice.test\r\nContent-Length: 10\r\n\r\n12")
        .unwrap();

    let good = s.get("alice.test", "/");
    assert_eq!(good.status, 200, "good client not served: {good:?}");

    let t = parse_resp(&answer(&mut trickler, Duration::from_secs(5)));
    assert_eq!(t.status, 408, "the trickling head is answered 408: {t:?}");
    assert_eq!(t.header("Connection").as_deref(), Some("close"));

    uploader.write_all(b"34567890").unwrap();
    let u = parse_resp(&answer(&mut uploader, Duration::from_secs(10)));
    assert_eq!(
        u.status, 200,
        "the serving child finished its request (POST to a static page is served as GET): {u:?}"
    );

    let log = s.wait_log_lines(3);
    assert!(
        log.iter().any(|l| l.contains("\"GET / HTTP/1.1\" 408")),
        "{log:?}"
    );
    assert!(alive(s.pid()));
}

#[test]
fn full_error_log_is_reported_once_on_stderr() {
    use std::process::{Command, Stdio};
    let dir = site("full-error-log");
    std::os::unix::fs::symlink("/dev/full", dir.join("logs/error.log")).unwrap();
    std::fs::write(dir.join("httpd.conf"), BASE_CONF).unwrap();
    let port = free_port();
    let master = Command::new(BIN)
        .arg("-f")
        .arg(dir.join("httpd.conf"))
        .arg("-c")
        .arg(format!("Listen 127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(up, "server did not start");
    // Each unknown method is logged by its child (LogLevel debug): every one of those
    // writes fails.
    for _ in 0..6 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"BREW / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(
            parse_resp(&answer(&mut s, Duration::from_secs(5))).status,
            501
        );
    }
    nix_kill(master.id() as i32, 15).unwrap();
    let out = master.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reports = stderr.matches("ErrorLog: write failed").count();
    assert_eq!(reports, 1, "stderr:\n{stderr}");
}
