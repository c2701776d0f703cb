//! `ReexecChildren On` through the real binary: every pre-forked child is a fresh exec of the
//! binary the master started from (its own ASLR layout, hence its own stack canary), serves
//! static and authenticated requests, and a binary replaced on disk is not picked up.

mod common;
use common::*;
use std::time::{Duration, Instant};

/// `alice:secret` as an htpasswd `{SHA}` line.
const HTPASSWD: &str = "alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n";

fn conf(reexec: &str) -> String {
    format!(
        "{BASE_CONF}ReexecChildren {reexec}\n\
         <Location /private/>\n  AuthType Basic\n  AuthName test\n  AuthUserFile htpasswd\n  Require valid-user\n</Location>\n"
    )
}

fn site_with_auth(name: &str) -> std::path::PathBuf {
    let dir = site(name);
    std::fs::write(dir.join("htpasswd"), HTPASSWD).unwrap();
    std::fs::create_dir_all(dir.join("www/alice/private")).unwrap();
    std::fs::write(dir.join("www/alice/private/index.html"), "private\n").unwrap();
    dir
}

/// Start address of the first mapping of the server binary in `pid`'s address space.
fn image_base(pid: u32) -> Option<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    let line = maps.lines().find(|l| l.contains("oneshot-httpd"))?;
    Some(line.split('-').next()?.to_string())
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Idle children of the master that went through exec (the verifier is forked, not exec'd).
fn reexeced_children(master: u32, want: usize) -> Vec<u32> {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let kids: Vec<u32> = children_of(master)
            .into_iter()
            .map(|(p, _)| p)
            .filter(|&p| cmdline(p).contains("--reexec-child"))
            .collect();
        if kids.len() >= want || Instant::now() > until {
            return kids;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn forked_children(master: u32) -> Vec<u32> {
    children_of(master).into_iter().map(|(p, _)| p).collect()
}

#[test]
fn reexec_children_have_their_own_layout_and_serve() {
    let dir = site_with_auth("reexec-on");
    let s = Server::start(&dir, &conf("On"));
    let kids = reexeced_children(s.pid(), 2);
    assert!(kids.len() >= 2, "want two re-executed children: {kids:?}");
    let master_base = image_base(s.pid()).expect("master maps its binary");
    let bases: Vec<String> = kids.iter().filter_map(|&k| image_base(k)).collect();
    assert!(bases.len() >= 2, "{kids:?}");
    assert_ne!(bases[0], bases[1], "two children share a layout");
    assert!(
        bases.iter().all(|b| *b != master_base),
        "a child kept the master's layout {master_base}: {bases:?}"
    );

    assert_eq!(s.get("alice.test", "/").status, 200);
    assert_eq!(s.get("alice.test", "/").status, 200);
    assert_eq!(s.get("alice.test", "/private/").status, 401);
    let r = parse_resp(&s.raw(
        b"GET /private/ HTTP/1.1\r\nHost: alice.test\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\nConnection: close\r\n\r\n",
    ));
    assert_eq!(r.status, 200, "{}", s.error_log());
    assert_eq!(r.body, b"private\n");
    let log = s.wait_log_lines(4);
    let pids: Vec<u32> = log.iter().map(|l| log_pid(l)).collect();
    let mut distinct = pids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "one process per connection: {log:?}");
    assert!(!pids.contains(&s.pid()));
    assert!(
        log[3].contains(" alice ") && log[3].contains("\" 200 "),
        "{log:?}"
    );
    assert!(
        !s.error_log().contains("re-executed child"),
        "{}",
        s.error_log()
    );
}

#[test]
fn without_reexec_children_share_the_masters_layout() {
    // The contrast that shows the test above can tell the two apart.
    let dir = site_with_auth("reexec-off");
    let s = Server::start(&dir, &conf("Off"));
    let until = Instant::now() + Duration::from_secs(5);
    let mut kids = forked_children(s.pid());
    while kids.len() < 2 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
        kids = forked_children(s.pid());
    }
    let master_base = image_base(s.pid()).unwrap();
    // A process that exited meanwhile (or whose maps went away) has no base to compare.
    let bases: Vec<(u32, String)> = kids
        .iter()
        .filter_map(|&k| Some((k, image_base(k)?)))
        .collect();
    assert!(!bases.is_empty(), "{kids:?}");
    for (k, base) in bases {
        assert!(!cmdline(k).contains("--reexec-child"));
        assert_eq!(base, master_base, "child {k}");
    }
    assert_eq!(s.get("alice.test", "/").status, 200);
}

#[test]
fn a_binary_replaced_on_disk_is_not_picked_up() {
    let dir = site_with_auth("reexec-replaced");
    let bin = dir.join("oneshot-httpd");
    std::fs::copy(BIN, &bin).unwrap();
    std::fs::write(dir.join("httpd.conf"), conf("On")).unwrap();
    let port = free_port();
    let child = std::process::Command::new(&bin)
        .arg("-f")
        .arg(dir.join("httpd.conf"))
        .arg("-c")
        .arg(format!("Listen 127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut s = Server {
        dir: dir.clone(),
        port,
        child,
    };
    let up = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < up {
        std::thread::sleep(Duration::from_millis(20));
    }
    // An upgrade replaces the file: rename a new one over the path.
    let new = dir.join("new-binary");
    std::fs::write(&new, "#!/bin/sh\nexit 99\n").unwrap();
    std::fs::set_permissions(&new, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::rename(&new, &bin).unwrap();
    // Children forked from now on still run the binary the master started from.
    for _ in 0..6 {
        assert_eq!(s.get("alice.test", "/").status, 200, "{}", s.error_log());
    }
    let kids = reexeced_children(s.pid(), 1);
    assert!(!kids.is_empty());
    for k in kids {
        let exe = std::fs::read_link(format!("/proc/{k}/exe")).unwrap();
        assert!(
            exe.to_string_lossy().ends_with("(deleted)"),
            "child {k} runs {exe:?}"
        );
    }
    s.stop();
}

#[test]
fn the_child_entry_point_refuses_to_run_without_an_image() {
    let out = std::process::Command::new(BIN)
        .args(["--reexec-child", "no-verifier", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(71), "EXIT_START_FAILED");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("inherited descriptors") || err.contains("image"),
        "{err}"
    );
    let out = std::process::Command::new(BIN)
        .args(["--reexec-child", "bogus", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(71), "EXIT_START_FAILED");
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
}

#[test]
fn after_a_reload_new_children_get_the_new_configuration() {
    let dir = site_with_auth("reexec-reload");
    let mut s = Server::start(&dir, &conf("On"));
    assert_eq!(s.get("alice.test", "/").body, b"alice index\n");
    // The new configuration serves alice.test from bob's tree; the file on disk is then
    // changed again WITHOUT a reload, which children must not pick up.
    let moved = conf("On").replace("DocumentRoot www/alice", "DocumentRoot www/bob");
    std::fs::write(dir.join("httpd.conf"), &moved).unwrap();
    nix_kill(s.pid() as i32, 1).unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    while !s.error_log().contains("reloaded configuration") && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(
        dir.join("httpd.conf"),
        moved.replace("DocumentRoot www/bob", "DocumentRoot www/default"),
    )
    .unwrap();
    // Idle children of the old configuration are retired; give the pool a moment to refill.
    let until = Instant::now() + Duration::from_secs(5);
    let mut body = Vec::new();
    while Instant::now() < until {
        body = s.get("alice.test", "/").body;
        if body == b"bob index\n" {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(body, b"bob index\n", "{}", s.error_log());
    for _ in 0..5 {
        assert_eq!(s.get("alice.test", "/").body, b"bob index\n");
    }
    s.stop();
}
