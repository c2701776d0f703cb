//! Logs as Apache administrators run them (issue 13): the same LogFormat lines as the real
//! Apache for the same requests, CustomLog and ErrorLog per virtual host, piped logs started
//! and restarted by the master, and the shipped logrotate snippet run by the real `logrotate`
//! followed by a reload that writes both logs anew.
mod common;

use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("timed out waiting for {what}");
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn send(port: u16, req: &[u8]) -> Vec<u8> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(req).unwrap();
    let _ = s.shutdown(std::net::Shutdown::Write);
    read_all(&mut s)
}

/// The real Apache (Debian's apache2, prefork, mod_log_config) on `port`, serving `root`.
struct Apache {
    child: Child,
}

impl Apache {
    fn start(dir: &Path, root: &Path, port: u16, logs: &str) -> Apache {
        let m = "/usr/lib/apache2/modules";
        let conf = format!(
            "ServerRoot {dir}\nDefaultRuntimeDir {dir}\nPidFile {dir}/apache.pid\n\
             LoadModule mpm_prefork_module {m}/mod_mpm_prefork.so\n\
             LoadModule authz_core_module {m}/mod_authz_core.so\n\
             User nobody\nGroup nogroup\nServerName localhost\n\
             Listen 127.0.0.1:{port}\nErrorLog {dir}/apache-error.log\nLogLevel warn\n\
             DocumentRoot {root}\n<Directory {root}>\nRequire all granted\n</Directory>\n{logs}",
            dir = dir.display(),
            root = root.display(),
        );
        std::fs::write(dir.join("apache.conf"), conf).unwrap();
        let child = Command::new("/usr/sbin/apache2")
            .arg("-X")
            .arg("-f")
            .arg(dir.join("apache.conf"))
            .env("TZ", "UTC")
            .stdout(Stdio::null())
            .spawn()
            .expect("apache2 (Debian package apache2)");
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < until,
                "apache2 did not start; see {}",
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Apache { child }
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        let _ = nix_kill(self.child.id() as i32, 15);
        let _ = self.child.wait();
    }
}

/// `[10/Oct/2000:13:55:36 +0000]` → `[TIME]`: the two servers answer a few milliseconds
/// apart, possibly in different seconds; the format of the field is checked separately.
fn without_time(line: &str) -> String {
    match (line.find('['), line.find(']')) {
        (Some(a), Some(b)) if a < b => format!("{}[TIME]{}", &line[..a], &line[b + 1..]),
        _ => line.to_string(),
    }
}

/// The oracle is Apache itself: each request goes to Apache and to oneshot-httpd, both
/// serving the same directory with the same LogFormat lines, and every access line must be
/// byte for byte the same (the time field aside, whose shape is checked on its own).
#[test]
fn common_and_combined_lines_are_apaches() {
    let dir = site("apache-oracle");
    let root = dir.join("www/default");
    std::fs::write(root.join("page.txt"), "twelve bytes").unwrap();
    let formats = "LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b \\\"%{Referer}i\\\" \\\"%{User-Agent}i\\\"\" combined\n\
                   LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b\" common\n\
                   LogFormat \"%m %U%q %H %s %B %{Accept}i %X %k\" extra\n";
    let logs = |at: &Path| {
        format!(
            "{formats}CustomLog {d}/combined.log combined\nCustomLog {d}/common.log common\nCustomLog {d}/extra.log extra\n",
            d = at.display()
        )
    };
    let ours = dir.join("ours");
    let theirs = dir.join("theirs");
    std::fs::create_dir(&ours).unwrap();
    std::fs::create_dir(&theirs).unwrap();
    let aport = free_port();
    let _apache = Apache::start(&theirs, &root, aport, &logs(&theirs));
    let conf = format!(
        "User nobody\nGroup nogroup\nErrorLog logs/error.log\nPidFile logs/httpd.pid\n\
         DocumentRoot www/default\nStartServers 2\nTimeout 3\n{}",
        logs(&ours)
    );
    let s = Server::start(&dir, &conf);
    let requests: &[&[u8]] = &[
        b"GET /page.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        b"HEAD /page.txt HTTP/1.0\r\n\r\n",
        b"GET /page.txt?a=1&b=%22x%22 HTTP/1.1\r\nHost: localhost\r\nReferer: http://ref.example/p?q=\"1\"\r\nUser-Agent: agent \\ \"quoted\" \t\xc3\xa9\r\nAccept: a/b\r\nAccept: c/d\r\nConnection: close\r\n\r\n",
        b"GET /p%61ge.txt HTTP/1.1\r\nHost: localhost\r\nUser-Agent: ua\r\nConnection: close\r\n\r\n",
        b"GET /page.txt HTTP/1.1\r\nHost: localhost\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\nConnection: close\r\n\r\n",
        b"GET /page.txt HTTP/1.1\r\nHost: localhost\r\n\r\nGET /page.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        b"GET /page.txt HTTP/1.1\r\nHost: localhost\r\n\r\nGET /page.txt HTTP/1.1\r\nHost: localhost\r\n\r\nGET /page.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    ];
    let mut expected = 0;
    for r in requests {
        send(aport, r);
        send(s.port, r);
        expected += r
            .windows(5)
            .filter(|w| w.starts_with(b"GET ") || w == b"HEAD ")
            .count();
    }
    for name in ["combined.log", "common.log", "extra.log"] {
        wait_for(name, || {
            lines(&ours.join(name)).len() >= expected && lines(&theirs.join(name)).len() >= expected
        });
        let (a, o) = (lines(&theirs.join(name)), lines(&ours.join(name)));
        for (i, (a, o)) in a.iter().zip(&o).enumerate() {
            if name != "extra.log" {
                let t = &o[o.find('[').unwrap()..=o.find(']').unwrap()];
                assert!(
                    t.len() == 28 && t.ends_with(" +0000]"),
                    "{name} line {i}: time field {t:?}"
                );
            }
            assert_eq!(
                without_time(o),
                without_time(a),
                "{name} line {i}: ours, then Apache's"
            );
        }
        assert_eq!(a.len(), o.len(), "{name}: as many lines as Apache");
    }
}

/// A vhost with its own CustomLog and ErrorLog writes there and only there; a vhost without
/// uses the server's (Apache's rule).
#[test]
fn logs_per_virtual_host() {
    let dir = site("vhost-logs");
    let conf = "User nobody\nGroup nogroup\nErrorLog logs/error.log\nLogLevel info\n\
        PidFile logs/httpd.pid\nStartServers 2\nTimeout 3\n\
        LogFormat \"%v %>s %U\" short\nCustomLog logs/access.log short\n\
        <VirtualHost *:80>\nServerName default.test\nDocumentRoot www/default\n</VirtualHost>\n\
        <VirtualHost *:80>\nServerName alice.test\nDocumentRoot www/alice\n\
        CustomLog logs/alice-access.log \"%v %>s %U %{ctx}n\"\nErrorLog logs/alice-error.log\n\
        <Location /private>\nRequire all denied\n</Location>\n</VirtualHost>\n";
    let s = Server::start(&dir, conf);
    assert_eq!(s.get("alice.test", "/index.html").status, 200);
    assert_eq!(s.get("alice.test", "/private/x").status, 403);
    assert_eq!(s.get("default.test", "/index.html").status, 200);
    let logs = dir.join("logs");
    wait_for("alice's access lines", || {
        lines(&logs.join("alice-access.log")).len() >= 2
    });
    wait_for("the server's access line", || {
        !lines(&logs.join("access.log")).is_empty()
    });
    let alice = lines(&logs.join("alice-access.log"));
    assert_eq!(
        alice[0].rsplit_once(' ').unwrap().0,
        "alice.test 200 /index.html"
    );
    assert_eq!(alice[1], "alice.test 403 /private/x -");
    assert_eq!(
        lines(&logs.join("access.log")),
        vec!["default.test 200 /index.html"]
    );
    // The refusal's error line is in alice's error log, not the server's.
    wait_for("alice's error line", || {
        std::fs::read_to_string(logs.join("alice-error.log"))
            .is_ok_and(|t| t.contains("/private/x"))
    });
    assert!(!s.error_log().contains("/private/x"), "{}", s.error_log());
}

/// `CustomLog "|program"` and `"|$shell command"`: the master starts each program once, it
/// receives the lines on stdin; killed, it is started again and the lines keep coming.
#[test]
fn piped_logs_receive_lines_and_are_restarted() {
    let dir = site("piped-logs");
    let plain = dir.join("logs/plain.log");
    let shell = dir.join("logs/shell.log");
    let conf = format!(
        "User nobody\nGroup nogroup\nErrorLog logs/error.log\nLogLevel info\nPidFile logs/httpd.pid\n\
         StartServers 2\nTimeout 3\nDocumentRoot www/default\n\
         CustomLog \"|/usr/bin/tee -a {plain}\" \"%>s %U\"\n\
         CustomLog \"|$exec cat >> '{shell}'\" \"%>s %U shell\"\n",
        plain = plain.display(),
        shell = shell.display()
    );
    let s = Server::start(&dir, &conf);
    assert_eq!(s.get("x", "/index.html").status, 200);
    wait_for("both piped logs", || {
        lines(&plain) == ["200 /index.html"] && lines(&shell) == ["200 /index.html shell"]
    });
    // The tee program is a child of the master; kill it.
    let tee = children_of(s.pid())
        .into_iter()
        .map(|(pid, _)| pid)
        .find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.starts_with("/usr/bin/tee"))
        })
        .expect("the master's tee child");
    nix_kill(tee as i32, 9).unwrap();
    wait_error_log(&s, |t| t.contains("started again"));
    assert_eq!(s.get("x", "/again").status, 404);
    wait_for("the line after the restart", || lines(&plain).len() == 2);
    assert_eq!(lines(&plain)[1], "404 /again");
    assert!(s.error_log().contains("exited"), "{}", s.error_log());
}

/// The shipped `dist/logrotate/oneshot-httpd`, with its paths pointed at a scratch site, run
/// by the real `logrotate -f`: the files are renamed, its postrotate sends SIGHUP, and both
/// the access log and the error log are then written anew (not into the renamed files).
#[test]
fn logrotate_then_reload_writes_new_files() {
    let Some(logrotate) = ["/usr/sbin/logrotate", "/sbin/logrotate"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
    else {
        panic!("logrotate is not installed (Debian package logrotate, in scripts/test)");
    };
    let dir = site("logrotate");
    let logs = dir.join("logs");
    let conf = "User nobody\nGroup nogroup\nErrorLog logs/error.log\nLogLevel info\n\
        PidFile logs/httpd.pid\nStartServers 2\nTimeout 3\nDocumentRoot www/default\n\
        CustomLog logs/access.log combined\n";
    let s = Server::start(&dir, conf);
    assert_eq!(s.get("x", "/index.html").status, 200);
    wait_for("the first access line", || {
        lines(&logs.join("access.log")).len() == 1
    });
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/logrotate/oneshot-httpd"),
    )
    .unwrap();
    let rotate = shipped
        .replace("/var/log/oneshot-httpd", &logs.display().to_string())
        .replace(
            "/run/oneshot-httpd/oneshot-httpd.pid",
            &logs.join("httpd.pid").display().to_string(),
        )
        // No systemd unit runs this test's server: the snippet's PidFile branch is taken.
        .replace(
            "oneshot-httpd.service",
            "oneshot-httpd-not-under-test.service",
        );
    let rc = dir.join("logrotate.conf");
    std::fs::write(&rc, rotate).unwrap();
    let out = Command::new(&logrotate)
        .arg("-f")
        .arg("-s")
        .arg(dir.join("logrotate.state"))
        .arg(&rc)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "logrotate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(logs.join("access.log.1").exists() && logs.join("error.log.1").exists());
    wait_for("the reload's line in the new error log", || {
        std::fs::read_to_string(logs.join("error.log"))
            .is_ok_and(|t| t.contains("reloaded configuration"))
    });
    // The reload retires idle children. One that was already woken for a connection when its
    // SIGTERM came serves it first, with the old descriptors (Apache's graceful does the
    // same; the snippet's delaycompress leaves the renamed file alone until the next
    // rotation); a request soon lands in the new file.
    let in_new = || {
        lines(&logs.join("access.log"))
            .iter()
            .any(|l| l.contains("?after"))
    };
    let until = Instant::now() + Duration::from_secs(10);
    let mut sent = 0;
    loop {
        sent += 1;
        assert_eq!(s.get("x", &format!("/index.html?after{sent}")).status, 200);
        let wait = Instant::now() + Duration::from_secs(1);
        while !in_new() && Instant::now() < wait {
            std::thread::sleep(Duration::from_millis(25));
        }
        if in_new() {
            break;
        }
        assert!(
            Instant::now() < until,
            "no access line in the new file after {sent} requests"
        );
    }
    let old = lines(&logs.join("access.log.1"));
    assert!(old.len() < 1 + sent, "{old:?}");
    assert!(!std::fs::read_to_string(logs.join("error.log.1"))
        .unwrap()
        .contains("reloaded configuration"));
}
