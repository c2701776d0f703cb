//! Test support: start the real `oneshot-httpd` binary on 127.0.0.1 with a generated
//! configuration, talk raw HTTP to it, read its access log, and stop it.
#![allow(dead_code)]

pub mod apache;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_oneshot-httpd");

/// Whether this test runs as root (effective uid 0): the tests that need a root master (uid
/// switches, `nobody`, real users) skip with a line on stderr otherwise.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// This test binary's directory for sites: `oneshot-tests-PID-...` under the system temp dir,
/// mode 0755, never inside the checkout. Children that drop to `nobody` (root master) or to a
/// mapped user must be able to search every ancestor of a DocumentRoot, and a checkout may sit
/// in a 0700 home (`/root/...`); so must programs they exec (CGI scripts, the probe), which the
/// tests write or copy into their sites. Removed when the test binary exits with no test
/// failed; kept, and named on stderr, when one failed (or `ONESHOT_KEEP_SCRATCH` is set).
pub fn run_dir() -> &'static Path {
    use std::os::unix::fs::PermissionsExt;
    static RUN: OnceLock<(PathBuf, u32)> = OnceLock::new();
    static FAILED: AtomicBool = AtomicBool::new(false);
    extern "C" fn at_exit() {
        let Some((dir, owner)) = RUN.get() else {
            return;
        };
        // Only the test process itself: a forked helper exiting must not remove it.
        if std::process::id() != *owner {
            return;
        }
        if FAILED.load(Ordering::SeqCst) || std::env::var_os("ONESHOT_KEEP_SCRATCH").is_some() {
            eprintln!("test sites kept in {}", dir.display());
        } else {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    &RUN.get_or_init(|| {
        let base = temp_base();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = base.join(format!("oneshot-tests-{}-{nanos:x}", std::process::id()));
        // create_dir, not create_dir_all: never adopt a directory someone else made.
        std::fs::create_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        // A failing test panics: remember it, then report as usual.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            FAILED.store(true, Ordering::SeqCst);
            previous(info)
        }));
        // SAFETY: `at_exit` is a plain `extern "C" fn()` that never unwinds (it only reads
        // statics and removes files, ignoring errors); registering it has no other effect.
        unsafe { libc::atexit(at_exit) };
        (dir, std::process::id())
    })
    .0
}

/// Where run directories go: the system temp dir when every ancestor is searchable by others,
/// else `/tmp` (a `TMPDIR` inside a 0700 home would hide the sites from children).
pub fn temp_base() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let t = std::env::temp_dir();
    let searchable = t.ancestors().all(|a| {
        std::fs::metadata(a).is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o001 != 0)
    });
    if searchable {
        t
    } else {
        PathBuf::from("/tmp")
    }
}

/// A fresh directory (mode 0755) for one test, in [`run_dir`].
pub fn scratch(name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = run_dir().join(format!("{name}-{n}"));
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Copies a tree (files keep their mode bits) into `to`, which must exist: for tests that use
/// files of the checkout (policy/demo) where children must reach them.
pub fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir(&dest).unwrap();
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Server {
    pub dir: PathBuf,
    pub port: u16,
    pub child: Child,
}

/// Standard site: vhosts default / alice.test / bob.test under `dir/www/...`.
pub const BASE_CONF: &str = "\
User nobody
Group nogroup
ErrorLog logs/error.log
LogLevel debug
CustomLog logs/access.log combined
PidFile logs/httpd.pid
StartServers 2
MinSpareServers 2
MaxSpareServers 4
MaxRequestWorkers 20
Timeout 3
KeepAlive On
KeepAliveTimeout 2
<VirtualHost *:80>
  ServerName default.test
  DocumentRoot www/default
</VirtualHost>
<VirtualHost *:80>
  ServerName alice.test
  DocumentRoot www/alice
</VirtualHost>
<VirtualHost *:80>
  ServerName bob.test
  DocumentRoot www/bob
</VirtualHost>
";

pub fn site(name: &str) -> PathBuf {
    let dir = scratch(name);
    for v in ["default", "alice", "bob"] {
        std::fs::create_dir_all(dir.join("www").join(v)).unwrap();
        std::fs::write(
            dir.join("www").join(v).join("index.html"),
            format!("{v} index\n"),
        )
        .unwrap();
    }
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    dir
}

impl Server {
    /// Writes `conf` to `dir/httpd.conf` and starts the server on a free port.
    pub fn start(dir: &Path, conf: &str) -> Server {
        std::fs::write(dir.join("httpd.conf"), conf).unwrap();
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(BIN)
                .arg("-f")
                .arg(dir.join("httpd.conf"))
                .arg("-c")
                .arg(format!("Listen 127.0.0.1:{port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
            let mut s = Server {
                dir: dir.to_path_buf(),
                port,
                child,
            };
            if s.wait_ready() {
                return s;
            }
            s.stop();
        }
        panic!(
            "server did not start; see {}",
            dir.join("logs/error.log").display()
        );
    }

    fn wait_ready(&mut self) -> bool {
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// Sends raw bytes on a new connection, half-closes, and returns everything received.
    pub fn raw(&self, req: &[u8]) -> Vec<u8> {
        let mut s = self.connect();
        s.write_all(req).unwrap();
        let _ = s.shutdown(Shutdown::Write);
        read_all(&mut s)
    }

    pub fn get(&self, host: &str, path: &str) -> Resp {
        parse_resp(&self.raw(
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        ))
    }

    pub fn access_log(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("logs/access.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/error.log")).unwrap_or_default()
    }

    /// Waits until the access log has at least `n` lines (children write after responding).
    pub fn wait_log_lines(&self, n: usize) -> Vec<String> {
        // Returns as soon as the lines are there; the bound is for a machine so loaded that
        // children write their lines seconds after the answers (seen at load average 50).
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let l = self.access_log();
            if l.len() >= n || Instant::now() > until {
                return l;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn stop(&mut self) {
        let _ = nix_kill(self.child.id() as i32, 15);
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

pub fn nix_kill(pid: i32, sig: i32) -> std::io::Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other("kill failed"))
    }
}

pub fn read_all(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    out
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Parses the first response in `raw` (status 0 when nothing came back).
pub fn parse_resp(raw: &[u8]) -> Resp {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Resp {
            status: 0,
            head: String::from_utf8_lossy(raw).into(),
            body: Vec::new(),
        };
    };
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Resp {
        status,
        head,
        body: raw[end + 4..].to_vec(),
    }
}

/// Every response status found in a stream of pipelined responses.
pub fn statuses(raw: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(raw);
    text.match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| text[i + 9..i + 12].parse().ok())
        .collect()
}

/// The `pid=` field of an access log line.
pub fn log_pid(line: &str) -> u32 {
    line.split(" pid=")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap()
}

/// Children of `ppid` according to /proc (including zombies).
pub fn children_of(ppid: u32) -> Vec<(u32, char)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else {
            continue;
        };
        let mut f = rest.split(' ');
        let state = f.next().and_then(|s| s.chars().next()).unwrap_or('?');
        if f.next().and_then(|p| p.parse::<u32>().ok()) == Some(ppid) {
            out.push((pid, state));
        }
    }
    out
}

pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit_once(") ")
                .map(|(_, r)| r.starts_with('Z'))
                .unwrap_or(true)
        })
        .unwrap_or(false)
}

/// Writes an htpasswd file the way an administrator would: Apache's own `htpasswd -B`
/// (bcrypt, cost 4 to keep the tests fast). Panics with a hint when apache2-utils is missing.
pub fn htpasswd_bcrypt(path: &Path, users: &[(&str, &str)]) {
    let _ = std::fs::remove_file(path);
    for (i, (user, pw)) in users.iter().enumerate() {
        let mut cmd = Command::new("htpasswd");
        cmd.arg("-B").arg("-C").arg("4").arg("-b");
        if i == 0 {
            cmd.arg("-c");
        }
        let out = cmd
            .arg(path)
            .arg(user)
            .arg(pw)
            .output()
            .expect("run htpasswd (Debian package apache2-utils)");
        assert!(
            out.status.success(),
            "htpasswd -B {user}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// An `Authorization: Basic` header line (with its CRLF) for `user:pw`.
pub fn basic_auth(user: &str, pw: &str) -> String {
    use base64::Engine;
    format!(
        "Authorization: Basic {}\r\n",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
    )
}

/// Polls the error log until `pred` holds for it (children log after they answer).
pub fn wait_error_log(s: &Server, pred: impl Fn(&str) -> bool) -> String {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let log = s.error_log();
        if pred(&log) || Instant::now() > until {
            return log;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// True (and a SKIP line) unless this test can run `Confinement unix landlock`: root, and a
/// kernel Landlock ABI the server accepts.
pub fn skip_unless_root_landlock(test: &str) -> bool {
    if !is_root() {
        eprintln!("SKIP {test}: needs root (Confinement unix changes uids)");
        return true;
    }
    use oneshot_httpd::sys::{Linux, Sys};
    match Linux.landlock_abi().ok() {
        Some(abi) if abi >= oneshot_httpd::sandbox::MIN_LANDLOCK_ABI => false,
        other => {
            eprintln!("SKIP {test}: kernel Landlock ABI {other:?} is below the server's minimum");
            true
        }
    }
}

/// Writes `text` to `p` and sets its mode (map and password files must not be group/other
/// writable).
pub fn write_mode(p: &std::path::Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(p, text).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A system account for tests as (uid, gid): looked up, else created once with useradd (left
/// in place; useradd is not safe to run concurrently with itself, hence the lock).
pub fn system_user(name: &str) -> (u32, u32) {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let lookup = || {
        let u = nix::unistd::User::from_name(name).ok()??;
        Some((u.uid.as_raw(), u.gid.as_raw()))
    };
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(ids) = lookup() {
        return ids;
    }
    let out = Command::new("useradd")
        .args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ])
        .output()
        .expect("run useradd");
    assert!(
        out.status.success(),
        "useradd {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lookup().unwrap_or_else(|| panic!("{name} missing after useradd"))
}

/// `oneshot-httpd -t [extra...] -f file`: whether the configuration passed, and what `-t` said
/// on stderr (its errors and warnings, each naming FILE:LINE).
pub fn config_test(file: &Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_oneshot-httpd"))
        .arg("-t")
        .args(extra)
        .arg("-f")
        .arg(file)
        .output()
        .expect("run oneshot-httpd -t");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
