//! The running server's password verifier is confined like a connection child (issue #12):
//! checked from outside, through /proc, while authentication keeps working, across a change
//! of the password file (re-read on mtime change) and a reload (the verifier is restarted).
//! Needs root (the server drops to `User`), as the other server tests.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

fn conf(extra: &str) -> String {
    format!(
        "{BASE_CONF}{extra}<Location /private/>\n  AuthType Basic\n  AuthName private\n  AuthUserFile pw/htpasswd\n  Require valid-user\n</Location>\n"
    )
}

fn start(name: &str, extra: &str) -> Server {
    let dir = site(name);
    std::fs::create_dir_all(dir.join("pw")).unwrap();
    htpasswd_bcrypt(&dir.join("pw/htpasswd"), &[("alice", "alice-pw")]);
    std::fs::create_dir_all(dir.join("www/alice/private")).unwrap();
    std::fs::write(dir.join("www/alice/private/index.html"), "private\n").unwrap();
    Server::start(&dir, &conf(extra))
}

fn auth_status(s: &Server, user: &str, pw: &str) -> u16 {
    let req = format!(
        "GET /private/ HTTP/1.1\r\nHost: alice.test\r\nConnection: close\r\n{}\r\n",
        basic_auth(user, pw)
    );
    parse_resp(&s.raw(req.as_bytes())).status
}

/// The pid of the verifier started last, from the master's log line.
fn verifier_pid(s: &Server, nth: usize) -> u32 {
    let log = wait_error_log(s, |l| {
        l.matches("password verifier confined").count() >= nth
            && l.matches("password verifier started as pid").count() >= nth
    });
    let pid = log
        .lines()
        .filter_map(|l| l.split("password verifier started as pid ").nth(1))
        .filter_map(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .nth(nth - 1);
    pid.unwrap_or_else(|| panic!("no verifier #{nth} in the log:\n{log}"))
}

fn status_field(pid: u32, name: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

fn ns(pid: u32, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap()
        .display()
        .to_string()
}

/// What every confined verifier shows from outside.
fn assert_confined(s: &Server, pid: u32, uid: u32) {
    assert_eq!(
        status_field(pid, "Uid"),
        format!("{uid}\t{uid}\t{uid}\t{uid}")
    );
    assert_eq!(status_field(pid, "CapEff"), "0000000000000000");
    assert_eq!(status_field(pid, "CapPrm"), "0000000000000000");
    assert_eq!(status_field(pid, "CapInh"), "0000000000000000");
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    assert_eq!(status_field(pid, "Seccomp"), "2");
    assert_ne!(ns(pid, "ipc"), ns(s.pid(), "ipc"), "own IPC namespace");
}

#[test]
fn verifier_is_confined_and_still_verifies_across_a_file_change_and_a_reload() {
    let mut s = start("verifier-confined", "");
    assert_eq!(auth_status(&s, "alice", "alice-pw"), 200);
    assert_eq!(auth_status(&s, "alice", "wrong"), 401);
    let pid = verifier_pid(&s, 1);
    // No VerifierUser: uid 0 kept, every capability gone.
    assert_confined(&s, pid, 0);
    assert!(s
        .error_log()
        .contains("password verifier confined: landlock"));

    // The file replaced the way htpasswd does it (a new file renamed over the old one): the
    // verifier, confined to the directory, reads the new one.
    let pw = s.dir.join("pw");
    htpasswd_bcrypt(&pw.join("htpasswd.new"), &[("alice", "new-pw")]);
    std::thread::sleep(Duration::from_millis(1100)); // a visible mtime change
    std::fs::rename(pw.join("htpasswd.new"), pw.join("htpasswd")).unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    while auth_status(&s, "alice", "new-pw") != 200 {
        assert!(Instant::now() < until, "new password never accepted");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(auth_status(&s, "alice", "alice-pw"), 401);
    assert_eq!(pid, verifier_pid(&s, 1), "same verifier process");
    assert!(alive(pid));

    // Reload: a new verifier, confined the same way, answers.
    nix_kill(s.pid() as i32, libc::SIGHUP).unwrap();
    let second = verifier_pid(&s, 2);
    assert_ne!(second, pid);
    assert_confined(&s, second, 0);
    let until = Instant::now() + Duration::from_secs(5);
    while auth_status(&s, "alice", "new-pw") != 200 {
        assert!(Instant::now() < until, "no answer after the reload");
        std::thread::sleep(Duration::from_millis(100));
    }
    s.stop();
}

#[test]
fn verifier_user_reads_a_group_readable_password_file() {
    let mut s = start(
        "verifier-user",
        "VerifierUser daemon\nVerifierGroup daemon\n",
    );
    // An administrator's layout: the file 0640 root:daemon, the directory searchable.
    let file = s.dir.join("pw/htpasswd");
    std::os::unix::fs::chown(&file, Some(0), Some(1)).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(auth_status(&s, "alice", "alice-pw"), 200);
    let pid = verifier_pid(&s, 1);
    assert_confined(&s, pid, 1);
    assert_eq!(status_field(pid, "Groups"), "1");
    // Children, as nobody, cannot read it themselves.
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.permissions().mode() & 0o007, 0);
    s.stop();
}

#[test]
fn verifier_user_equal_to_user_is_refused_at_load() {
    let dir = site("verifier-user-same");
    std::fs::create_dir_all(dir.join("pw")).unwrap();
    htpasswd_bcrypt(&dir.join("pw/htpasswd"), &[("alice", "alice-pw")]);
    std::fs::write(dir.join("httpd.conf"), conf("VerifierUser nobody\n")).unwrap();
    let out = std::process::Command::new(BIN)
        .arg("-t")
        .arg("-f")
        .arg(dir.join("httpd.conf"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("VerifierUser must differ from User"), "{err}");
}
