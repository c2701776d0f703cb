//! The attack probe (tests/probe/probe.c) run as a CGI through the real server on the host:
//! as root with `Confinement unix landlock` (each vhost its own uid) and with an unprivileged
//! master and `Confinement landlock`; each as alice (HTTP Basic) and as anonymous, then a
//! follow-up connection of alice.
//!
//! Every run has siblings alive: of the probe's own user an idle keep-alive connection, a
//! static child mid-response (a 32 MiB file its client does not read) and a running CGI (the
//! probe in sleeper mode, which first leaves SysV IPC, a POSIX queue and tmp files under its
//! tag); of the other vhost an idle connection and a running CGI. The probe runs on a
//! keep-alive connection whose first request names its own child (`parent=`): it attacks that
//! child (ptrace, process_vm_readv, /proc/PID/mem and fd, pidfd_getfd), forges log lines,
//! chmods the other vhost's directories, tries prlimit/setpriority/sched_setaffinity on every
//! process, the kernel interfaces the seccomp filter refuses, the limits (fork bomb, RLIMIT_AS,
//! a runaway loop under alice's `RLimitCPU 1 2`), and leaves a process behind; the next
//! request on the connection reports what that process managed, and the test checks it dies
//! with the connection. The master runs with a session keyring of its own holding a key (as
//! under systemd). The follow-up connection looks for everything the earlier ones left.
//!
//! The test fails if any attempt succeeded or was not run, or the verdict line is missing.
//! ESRCH ("unreachable") is accepted only when the probe reports its own PID namespace, and
//! every target is checked alive afterwards. It also checks the facts (ids, no capabilities,
//! no_new_privs, only fds 0-2, Landlock on, the RLimit* values).
//!
//! As root, sites live under /var/lib/oneshot-probe-tests (not under /tmp, which the server
//! would then leave without its private tmpfs); otherwise under the system temp dir.
//! As root, the test creates the system users `oneshot-probe-a`, `-b` and `-m` (nologin, no
//! home) when they are missing and leaves them for the next run; without root only the
//! Landlock-only run happens, as the invoking user.

mod common;

use base64::Engine;
use common::{alive, children_of, free_port, is_root, parse_resp, Resp, Server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Users the root run maps connections to; created when missing (CI starts clean).
const USER_ALICE: &str = "oneshot-probe-a";
const USER_ANON: &str = "oneshot-probe-b";
/// The unprivileged master of the Landlock-only run when the test runs as root.
const USER_MASTER: &str = "oneshot-probe-m";

/// The SELinux contexts of the VM's policy. On the host no LSM owns attr/current, so these
/// attempts must fail too; in the VM (tests/vm/checks.sh) they are the real targets.
const CONTEXTS: [(&str, &str); 3] = [
    ("master", "system_u:system_r:oneshot_master_t:s0-s0:c0.c15"),
    ("worker", "system_u:system_r:oneshot_worker_t:s0-s0:c0.c15"),
    ("other", "system_u:system_r:oneshot_web_bob_t:s0:c2"),
];

/// Size of the file a slow client leaves mid-response (far beyond loopback socket buffers).
const BIG_FILE: usize = 32 << 20;
/// Seconds the process the probe leaves behind keeps trying (within one keep-alive connection).
const DAEMON_SECS: u32 = 6;

#[derive(Clone, Copy)]
struct Ids {
    uid: u32,
    gid: u32,
}

fn ensure_user(name: &str) -> Ids {
    let (uid, gid) = common::system_user(name);
    Ids { uid, gid }
}

/// The probe, compiled once per test binary: static, so neither Landlock nor a chroot-like
/// view of the filesystem keeps it from loading.
fn probe_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/probe/probe.c");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oneshot-probe");
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let res = Command::new(&cc)
            .args(["-O2", "-Wall", "-Wextra", "-Werror", "-static", "-o"])
            .arg(&out)
            .arg(&src)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {cc} (install gcc): {e}"));
        assert!(
            res.status.success(),
            "{cc} failed on tests/probe/probe.c:\n{}",
            String::from_utf8_lossy(&res.stderr)
        );
        out
    })
}

/// Where sites live: not under /tmp, /var/tmp or /dev/shm when the test is root, since the
/// server leaves a directory it serves from uncovered by the private tmpfs (the probe's
/// traces and the process it leaves behind use the private /tmp).
fn site_base() -> PathBuf {
    if is_root() {
        let base = PathBuf::from("/var/lib/oneshot-probe-tests");
        std::fs::create_dir_all(&base).unwrap();
        set_mode(&base, 0o755);
        base
    } else {
        std::env::temp_dir()
    }
}

/// A fresh world-traversable directory under [`site_base`], removed on drop.
struct TempSite(PathBuf);

impl TempSite {
    fn new(name: &str) -> TempSite {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = site_base().join(format!("oneshot-probe-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        set_mode(&dir, 0o755);
        TempSite(dir)
    }
}

impl Drop for TempSite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn own(p: &Path, ids: Ids) {
    chown(p, Some(ids.uid), Some(ids.gid)).unwrap();
}

fn write_file(p: &Path, text: &str, mode: u32, ids: Ids) {
    std::fs::write(p, text).unwrap();
    set_mode(p, mode);
    own(p, ids);
}

fn mkdir(p: &Path, mode: u32, ids: Ids) {
    std::fs::create_dir_all(p).unwrap();
    set_mode(p, mode);
    own(p, ids);
}

/// Which confinement the server runs with, and so which identities everything has.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Root master, `Confinement unix landlock`, per-vhost users.
    RootUnixLandlock,
    /// Unprivileged master, `Confinement landlock`: every process shares one uid.
    LandlockOnly,
}

struct Site {
    _tmp: TempSite,
    dir: PathBuf,
    mode: Mode,
    master: Ids,
    alice: Ids,
    anon: Ids,
}

impl Site {
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }
}

/// Lays out two vhosts (anon.test, the default, and alice.test with Basic auth), each with a
/// read-only DocumentRoot, a world-readable page, a secret only its own user may read, and a
/// ScriptAlias directory holding the probe, owned by the user the script runs as.
fn build_site(mode: Mode) -> Site {
    let tmp = TempSite::new(match mode {
        Mode::RootUnixLandlock => "unix",
        Mode::LandlockOnly => "landlock",
    });
    let dir = tmp.0.clone();
    let root = Ids { uid: 0, gid: 0 };
    let me = Ids {
        uid: nix::unistd::geteuid().as_raw(),
        gid: nix::unistd::getegid().as_raw(),
    };
    let (master, alice, anon, admin) = match mode {
        Mode::RootUnixLandlock => (root, ensure_user(USER_ALICE), ensure_user(USER_ANON), root),
        Mode::LandlockOnly => {
            // As root, a dedicated unprivileged user runs the master; otherwise whoever runs
            // the test does. Every child and CGI then has that same uid.
            let m = if is_root() {
                ensure_user(USER_MASTER)
            } else {
                me
            };
            (m, m, m, m)
        }
    };
    for d in ["conf", "logs", "www", "cgi"] {
        mkdir(&dir.join(d), 0o755, admin);
    }
    own(&dir.join("logs"), master);
    for (name, user) in [("alice", alice), ("anon", anon)] {
        // The DocumentRoot belongs to the administrator (or, in the Landlock-only run, to the
        // one uid everything has: there only Landlock keeps it read-only).
        let www = dir.join("www").join(name);
        mkdir(&www, 0o755, admin);
        write_file(
            &www.join("index.html"),
            &format!("{name} index\n"),
            0o644,
            admin,
        );
        // a static response the slow sibling keeps mid-way (larger than the socket buffers)
        write_file(&www.join("big.bin"), &"x".repeat(BIG_FILE), 0o644, admin);
        write_file(
            &www.join("secret.html"),
            &format!("{name} secret\n"),
            0o600,
            user,
        );
        // suEXEC-style: the script and its directory belong to the user it runs as and are
        // writable by nobody else.
        let cgi = dir.join("cgi").join(name);
        mkdir(&cgi, 0o755, user);
        let probe = cgi.join("probe");
        std::fs::copy(probe_binary(), &probe).unwrap();
        set_mode(&probe, 0o755);
        own(&probe, user);
    }
    let hash = bcrypt::hash("alice-pw", 4).unwrap();
    write_file(
        &dir.join("conf/htpasswd"),
        &format!("alice:{hash}\n"),
        0o600,
        admin,
    );
    if mode == Mode::RootUnixLandlock {
        write_file(
            &dir.join("conf/users.map"),
            &format!("alice {USER_ALICE}\n"),
            0o600,
            admin,
        );
    }
    Site {
        _tmp: tmp,
        dir,
        mode,
        master,
        alice,
        anon,
    }
}

fn config(site: &Site) -> String {
    let d = site.dir.display();
    let server = match site.mode {
        Mode::RootUnixLandlock => "User nobody\nGroup nogroup\nConfinement unix landlock\n",
        Mode::LandlockOnly => "Confinement landlock\n",
    };
    // RLIMIT_NPROC counts a root master's user across connections: no default there, so the
    // administrator sets it (what the fork bomb meets); with per-connection user namespaces
    // the default 64 applies. alice's CGIs get 1 s of CPU (2 hard), so the runaway loop is
    // really stopped; anonymous keeps the default (checked, not exercised).
    let nproc = match site.mode {
        Mode::RootUnixLandlock => "    RLimitNPROC 64 64\n",
        Mode::LandlockOnly => "",
    };
    let (anon_id, alice_id) = match site.mode {
        Mode::RootUnixLandlock => (
            format!("    AssignUserID {USER_ANON} {USER_ANON}\n"),
            format!("    UserIDMap {d}/conf/users.map\n"),
        ),
        Mode::LandlockOnly => (String::new(), String::new()),
    };
    format!(
        "{server}\
ErrorLog {d}/logs/error.log
LogLevel info
CustomLog {d}/logs/access.log combined
PidFile {d}/logs/httpd.pid
StartServers 2
MinSpareServers 2
MaxSpareServers 4
MaxRequestWorkers 20
Timeout 30
KeepAlive On
KeepAliveTimeout 30
<VirtualHost *:80>
    ServerName anon.test
    DocumentRoot {d}/www/anon
    ScriptAlias /cgi-bin/ {d}/cgi/anon/
    <Directory {d}/cgi/anon>
        Options +ExecCGI
    </Directory>
{anon_id}{nproc}</VirtualHost>
<VirtualHost *:80>
    ServerName alice.test
    DocumentRoot {d}/www/alice
    ScriptAlias /cgi-bin/ {d}/cgi/alice/
    <Directory {d}/cgi/alice>
        Options +ExecCGI
    </Directory>
    AuthType Basic
    AuthName \"alice\"
    AuthUserFile {d}/conf/htpasswd
    Require valid-user
    RLimitCPU 1 2
{alice_id}{nproc}</VirtualHost>
"
    )
}

/// Starts the server: directly as root, or through setpriv as the unprivileged master.
fn start(site: &Site) -> Server {
    let conf = site.path("httpd.conf");
    write_file(&conf, &config(site), 0o644, site.master);
    // The master's binary must be reachable by the unprivileged user, whatever the
    // permissions of the checkout it was built in.
    let bin = site.path("oneshot-httpd");
    std::fs::copy(common::BIN, &bin).unwrap();
    set_mode(&bin, 0o755);
    for _ in 0..5 {
        let port = free_port();
        let mut cmd = if site.mode == Mode::LandlockOnly && is_root() {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={}", site.master.uid))
                .arg(format!("--regid={}", site.master.gid))
                .arg("--clear-groups")
                .arg("--")
                .arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        // The master gets a session keyring of its own holding a key, as under systemd: the
        // probe must neither join nor search it.
        // SAFETY: between fork and exec only two raw system calls on static C strings.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::syscall(libc::SYS_keyctl, 1, c"oneshot-probe-master".as_ptr());
                libc::syscall(
                    libc::SYS_add_key,
                    c"user".as_ptr(),
                    c"oneshot-probe-master-key".as_ptr(),
                    c"secret".as_ptr(),
                    6usize,
                    -3i32,
                );
                Ok(())
            });
        }
        cmd.arg("-f")
            .arg(&conf)
            .arg("-c")
            .arg(format!("Listen 127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = spawn_copied(&mut cmd);
        let mut s = Server {
            dir: site.dir.clone(),
            port,
            child,
        };
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = s.child.try_wait() {
                break;
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return s;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        s.stop();
    }
    panic!(
        "server did not start; error log:\n{}",
        std::fs::read_to_string(site.path("logs/error.log")).unwrap_or_default()
    );
}

/// Spawns a binary this process has just written. A thread forking in between keeps the
/// write descriptor open in its child until that child execs, and exec of a file open for
/// writing fails with ETXTBSY; it passes once that child has exec'd.
fn spawn_copied(cmd: &mut Command) -> std::process::Child {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        match cmd.spawn() {
            Ok(c) => return c,
            Err(e)
                if e.kind() == std::io::ErrorKind::ExecutableFileBusy && Instant::now() < until =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("cannot start the server: {e}"),
        }
    }
}

/// The verifier's pid, from the master's start-up line in the error log.
fn verifier_pid(server: &Server) -> u32 {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let log = server.error_log();
        if let Some(pid) = log.lines().find_map(|l| {
            l.split("password verifier started as pid ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        }) {
            return pid;
        }
        assert!(
            Instant::now() < until,
            "no verifier start line in the error log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn basic(user: &str, pw: &str) -> String {
    format!(
        "Authorization: Basic {}\r\n",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
    )
}

/// Reads exactly one response (head, then a Content-Length or chunked body) and leaves the
/// connection open; the status and the decoded body.
fn read_one(s: &mut TcpStream) -> Resp {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf).expect("read response head");
        assert!(n > 0, "connection closed before a response head");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = parse_resp(&raw[..head_end]);
    let chunked = head
        .header("Transfer-Encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let mut more = |raw: &mut Vec<u8>| {
        let n = s.read(&mut buf).expect("read response body");
        assert!(n > 0, "connection closed inside a response body");
        raw.extend_from_slice(&buf[..n]);
    };
    let body = if chunked {
        let mut body = Vec::new();
        let mut at = head_end;
        loop {
            let line_end = loop {
                if let Some(i) = raw[at..].windows(2).position(|w| w == b"\r\n") {
                    break at + i;
                }
                more(&mut raw);
            };
            let size_text = String::from_utf8_lossy(&raw[at..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size {size_text:?}"));
            while raw.len() < line_end + 2 + size + 2 {
                more(&mut raw);
            }
            body.extend_from_slice(&raw[line_end + 2..line_end + 2 + size]);
            at = line_end + 2 + size + 2;
            if size == 0 {
                break body;
            }
        }
    } else {
        let len: usize = head
            .header("Content-Length")
            .and_then(|v| v.parse().ok())
            .expect("keep-alive response with Content-Length or chunked");
        while raw.len() < head_end + len {
            more(&mut raw);
        }
        raw[head_end..head_end + len].to_vec()
    };
    Resp { body, ..head }
}

/// A kept-alive connection whose child stays alive (and confined as that vhost's user) until
/// the stream is dropped: the sibling the probe attacks. Optionally busy: in the middle of a
/// large static response its client does not read, or running a CGI that sleeps.
struct Sibling {
    stream: TcpStream,
    pid: u32,
    what: &'static str,
}

fn open_sibling(server: &Server, host: &str, auth: &str) -> Sibling {
    let before = server.access_log().len();
    let mut s = server.connect();
    // A unique path, so the log line that names this child is unambiguous.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path = format!("/index.html?sibling-{n}");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n").as_bytes())
        .unwrap();
    let resp = read_one(&mut s);
    assert_eq!(
        resp.status,
        200,
        "sibling request on {host}: {}\n{}",
        resp.head,
        std::fs::read_to_string(server.dir.join("logs/error.log")).unwrap_or_default()
    );
    // other connections' lines (a busy sibling dropped) may come first: wait for this one
    let until = Instant::now() + Duration::from_secs(5);
    let line = loop {
        let lines = server.wait_log_lines(before + 1);
        if let Some(l) = lines
            .iter()
            .rev()
            .find(|l| l.contains(&format!("{path} HTTP/")))
        {
            break l.clone();
        }
        assert!(
            Instant::now() < until,
            "no access log line for {path}: {lines:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let pid = common::log_pid(&line);
    assert!(alive(pid), "sibling child {pid} on {host} is not running");
    Sibling {
        stream: s,
        pid,
        what: "idle keep-alive",
    }
}

/// A sibling whose child is blocked writing a 32 MiB file its client does not read.
fn open_slow_sibling(server: &Server, host: &str, auth: &str) -> Sibling {
    let mut sib = open_sibling(server, host, auth);
    sib.stream
        .write_all(format!("GET /big.bin HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n").as_bytes())
        .unwrap();
    let mut head = [0u8; 1024];
    let n = sib
        .stream
        .read(&mut head)
        .expect("the big file's first bytes");
    assert!(
        head[..n].starts_with(b"HTTP/1.1 200"),
        "big file: {:?}",
        String::from_utf8_lossy(&head[..n])
    );
    sib.what = "static, mid-response";
    sib
}

/// A sibling running the probe in sleeper mode (a CGI that stays), after it left its traces
/// under `tag`; returns the sibling and the processes under its child (the programs' init
/// and the CGI).
fn open_sleeper_sibling(server: &Server, host: &str, auth: &str, tag: &str) -> (Sibling, Vec<u32>) {
    let mut sib = open_sibling(server, host, auth);
    sib.stream
        .write_all(
            format!("GET /cgi-bin/probe?sleep=40&tag={tag} HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n")
                .as_bytes(),
        )
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(5).any(|w| w == b"ready") {
        let n = sib.stream.read(&mut buf).expect("the sleeper's first line");
        assert!(n > 0, "sleeper closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    sib.what = "running CGI";
    let cgis: Vec<u32> = children_of(sib.pid)
        .into_iter()
        .filter(|&(_, st)| st != 'Z')
        .map(|(p, _)| p)
        .collect();
    assert!(
        !cgis.is_empty(),
        "the sleeper sibling {} has no program running",
        sib.pid
    );
    (sib, cgis)
}

/// Processes whose name is the one the probe gives the process it leaves behind.
fn daemons() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "probe-daemon")
                && alive(*pid)
        })
        .collect()
}

fn query(pairs: &[(String, String)]) -> String {
    // Everything but letters, digits and the path/context punctuation is %-escaped, which
    // covers the bytes that matter ('%', '&', '+', '=', '#', space) and is what the probe
    // decodes.
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"/._-:".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

struct Who {
    host: &'static str,
    user: Option<(&'static str, &'static str)>,
    /// the vhost directory names: own and the other one
    own: &'static str,
    other: &'static str,
}

const ALICE: Who = Who {
    host: "alice.test",
    user: Some(("alice", "alice-pw")),
    own: "alice",
    other: "anon",
};
const ANON: Who = Who {
    host: "anon.test",
    user: None,
    own: "anon",
    other: "alice",
};

/// One probe run as `who`, with siblings of its own user (idle keep-alive, static mid-response,
/// running CGI) and of the other vhost (idle, running CGI) alive, on a keep-alive connection:
/// the probe's own child's pid is learnt from a first request, the probe leaves a process
/// behind, and a third request reads what that process managed. Returns the probe's output.
fn run_probe(site: &Site, server: &Server, who: &Who) -> String {
    let started = Instant::now();
    let verifier = verifier_pid(server);
    let alice_auth = basic("alice", "alice-pw");
    let auth_of = |host: &str| {
        if host == "alice.test" {
            alice_auth.clone()
        } else {
            String::new()
        }
    };
    let other_host = if who.host == "alice.test" {
        "anon.test"
    } else {
        "alice.test"
    };
    let own_auth = auth_of(who.host);
    let other_auth = auth_of(other_host);
    let (own_sleeper, mut cgis) =
        open_sleeper_sibling(server, who.host, &own_auth, &format!("{}-live", who.own));
    let (other_sleeper, other_cgis) = open_sleeper_sibling(
        server,
        other_host,
        &other_auth,
        &format!("{}-live", who.other),
    );
    cgis.extend(other_cgis);
    let siblings = [
        open_sibling(server, who.host, &own_auth),
        open_slow_sibling(server, who.host, &own_auth),
        own_sleeper,
        open_sibling(server, other_host, &other_auth),
        other_sleeper,
    ];
    for s in &siblings {
        eprintln!("sibling {} on its way: {}", s.pid, s.what);
    }
    // the probe's own connection: a first request names its child
    let mut own = open_sibling(server, who.host, &own_auth);
    let parent = own.pid;
    let master = server.pid();
    let mut pairs: Vec<(String, String)> = vec![
        ("master".into(), master.to_string()),
        ("master_uid".into(), site.master.uid.to_string()),
        ("master_gid".into(), site.master.gid.to_string()),
        ("verifier".into(), verifier.to_string()),
        ("parent".into(), parent.to_string()),
        ("daemon".into(), DAEMON_SECS.to_string()),
        ("tag".into(), who.own.to_string()),
    ];
    for s in &siblings {
        pairs.push(("sibling".into(), s.pid.to_string()));
    }
    for c in &cgis {
        pairs.push(("siblingcgi".into(), c.to_string()));
    }
    for t in LOOK_TAGS {
        pairs.push(("look".into(), t.to_string()));
    }
    if who.own == "alice" {
        // RLimitCPU 1 2 on alice.test: the runaway loop may spend up to 2 s
        pairs.push(("spin".into(), "2".into()));
    }
    for (name, ctx) in CONTEXTS {
        pairs.push((format!("setcon_{name}"), ctx.into()));
    }
    let p = |rel: String| site.path(&rel).display().to_string();
    pairs.extend([
        (
            "read_othervhost".into(),
            p(format!("www/{}/index.html", who.other)),
        ),
        (
            "read_othersecret".into(),
            p(format!("www/{}/secret.html", who.other)),
        ),
        ("read_htpasswd".into(), p("conf/htpasswd".into())),
        ("read_config".into(), p("httpd.conf".into())),
        ("writedir_docroot".into(), p(format!("www/{}", who.own))),
        (
            "writefile_index".into(),
            p(format!("www/{}/index.html", who.own)),
        ),
        ("writedir_cgi".into(), p(format!("cgi/{}", who.own))),
        ("writefile_accesslog".into(), p("logs/access.log".into())),
        ("writefile_errorlog".into(), p("logs/error.log".into())),
        ("chmod_othercgi".into(), p(format!("cgi/{}", who.other))),
        ("chmod_otherdocroot".into(), p(format!("www/{}", who.other))),
        ("chmod_htpasswd".into(), p("conf/htpasswd".into())),
    ]);
    if site.mode == Mode::RootUnixLandlock {
        pairs.push(("read_map".into(), p("conf/users.map".into())));
    }
    let req = format!(
        "GET /cgi-bin/probe?{} HTTP/1.1\r\nHost: {}\r\n{own_auth}\r\n",
        query(&pairs),
        who.host
    );
    own.stream.write_all(req.as_bytes()).unwrap();
    own.stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let resp = read_one(&mut own.stream);
    let body = String::from_utf8_lossy(&resp.body).into_owned();
    assert_eq!(
        resp.status,
        200,
        "probe as {:?} on {}: {}\n{body}\nerror log:\n{}",
        who.user,
        who.host,
        resp.head,
        server.error_log()
    );
    eprintln!(
        "---- probe ({:?}, {:?} on {}) ----\n{body}",
        site.mode, who.user, who.host
    );
    // The process it left keeps trying while the next request of the connection is served;
    // that request reports what it managed.
    let running = daemons();
    own.stream
        .write_all(
            format!(
                "GET /cgi-bin/probe?only=traces&report_daemon=1 HTTP/1.1\r\nHost: {}\r\n{own_auth}\r\n",
                who.host
            )
            .as_bytes(),
        )
        .unwrap();
    let report = read_one(&mut own.stream);
    let report = String::from_utf8_lossy(&report.body).into_owned();
    eprintln!("---- the process left behind, seen from the next request ----\n{report}");

    let expect_ids = if who.own == "alice" {
        site.alice
    } else {
        site.anon
    };
    let want_same_identity = site.mode == Mode::LandlockOnly;
    check_output(&body, expect_ids, want_same_identity, who);
    // `only=traces` runs make no attempt on the master's ids: nothing same-identity to expect.
    check_output(&report, expect_ids, false, who);
    assert!(
        !running.is_empty(),
        "the probe left no process behind (no probe-daemon running):\n{body}"
    );
    assert_ne!(fact(&report, "daemon_round"), "0", "{report}");
    for a in [
        "ptrace-parent",
        "vm-read-parent",
        "pidfd-getfd-parent",
        "proc-fd-parent",
        "read-mem-parent",
    ] {
        let name = format!("daemon-{a}");
        assert!(
            attempt_line(&report, &name).is_some(),
            "the process left behind did not report {name}:\n{report}"
        );
    }

    let mut required: Vec<String> = [
        "inherited-fds",
        "setuid-0",
        "setgid-0",
        "setgroups-0",
        "setresuid-master",
        "setresgid-master",
        "read-othervhost",
        "read-othersecret",
        "read-htpasswd",
        "read-config",
        "create-in-docroot",
        "write-index",
        "create-in-cgi",
        "write-accesslog",
        "write-errorlog",
        "chmod-othercgi",
        "chmod-otherdocroot",
        "chmod-htpasswd",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if site.mode == Mode::RootUnixLandlock {
        required.push("read-map".into());
    }
    for (name, _) in CONTEXTS {
        required.push(format!("setcon-{name}"));
        required.push(format!("setexeccon-{name}"));
    }
    let mut targets = vec!["master".to_string(), "verifier".to_string()];
    targets.extend(siblings.iter().map(|s| format!("sibling-{}", s.pid)));
    for t in ["master", "verifier"] {
        required.push(format!("kill-KILL-{t}"));
    }
    for t in &targets {
        for a in ["kill-0", "kill-TERM", "ptrace-attach", "ptrace-seize"] {
            required.push(format!("{a}-{t}"));
        }
    }
    let cgi_targets: Vec<String> = cgis.iter().map(|c| format!("siblingcgi-{c}")).collect();
    for t in &cgi_targets {
        for a in ["kill-0", "ptrace-attach", "ptrace-seize", "vm-read"] {
            required.push(format!("{a}-{t}"));
        }
    }
    targets.push("parent".into());
    targets.extend(cgi_targets);
    for t in &targets {
        for a in [
            "read-mem",
            "proc-fd",
            "pidfd-getfd",
            "prlimit",
            "setpriority",
            "setaffinity",
        ] {
            required.push(format!("{a}-{t}"));
        }
    }
    // Issue 12's isolation: one attempt per protection (tests/probe/probe.c, "Isolation
    // between connections"). bind-any needs Landlock ABI 4 (the server warns below that).
    required.extend(ISOLATION_ATTEMPTS.iter().map(|s| s.to_string()));
    for tag in LOOK_TAGS {
        required.extend(trace_attempts(tag));
    }
    if who.own == "alice" {
        required.push("cpu-runaway".into());
    }
    // The programs' own PID namespace hides every outside process: ESRCH ("unreachable") is
    // then the refusal, accepted only because the probe reports that namespace and the
    // targets are checked alive below.
    assert_eq!(
        fact(&body, "pid_namespace"),
        "own",
        "the probe is not in its own PID namespace:\n{body}"
    );
    assert_eq!(fact(&body, "ppid"), "0", "{body}");
    for name in &required {
        attempt_line(&body, name)
            .unwrap_or_else(|| panic!("the probe did not report attempt {name}:\n{body}"));
    }
    // What it left must really be there for the next connection to look for.
    assert_eq!(
        fact(&body, "left_sysv"),
        "shm yes sem yes msg yes",
        "{body}"
    );
    if is_root() {
        assert_eq!(fact(&body, "left_file_/tmp"), "yes", "{body}");
    }
    assert_eq!(fact(&body, "left_file_/dev/shm"), "yes", "{body}");
    if who.own == "alice" {
        assert_eq!(fact(&body, "rlimit_cpu"), "1 2", "alice.test's RLimitCPU");
    } else {
        assert_eq!(fact(&body, "rlimit_cpu"), "60 120", "RLimitCPU default");
    }
    assert_eq!(
        fact(&body, "rlimit_as"),
        "1073741824 1073741824",
        "RLimitMEM default"
    );
    // Own user namespace: RLIMIT_NPROC counts this connection only, default 64; a root
    // master's user gets the configured 64.
    assert_eq!(fact(&body, "rlimit_nproc"), "64 64", "RLimitNPROC");
    for log in ["access.log", "error.log"] {
        let text = std::fs::read_to_string(site.path(&format!("logs/{log}"))).unwrap_or_default();
        assert!(
            !text.contains("oneshot-probe forged"),
            "a forged line reached {log}"
        );
    }

    assert!(alive(master), "the master died during the probe");
    assert!(alive(verifier), "the verifier died during the probe");
    assert!(alive(parent), "the probe's own child {parent} died");
    for s in &siblings {
        assert!(
            alive(s.pid),
            "sibling {} ({}) died during the probe; children of the master: {:?}",
            s.pid,
            s.what,
            children_of(master)
        );
    }
    for c in &cgis {
        assert!(alive(*c), "a sibling's program {c} died during the probe");
    }
    // The connection ends: nothing it started may outlive it.
    drop(own);
    drop(siblings);
    let until = Instant::now() + Duration::from_secs(5);
    while !daemons().is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        daemons(),
        Vec::<u32>::new(),
        "the process the probe left outlived its connection"
    );
    eprintln!(
        "probe run ({:?}, {:?}) took {:?}",
        site.mode,
        who.user,
        started.elapsed()
    );
    body
}

/// The follow-up: a new connection of the same user, after the probe's, looks for everything
/// the earlier connections (its own user's, the other vhost's, the sleepers') left.
fn follow_up(site: &Site, server: &Server, who: &Who) {
    let mut q = String::from("only=traces");
    for t in LOOK_TAGS {
        q.push_str(&format!("&look={t}"));
    }
    let auth = who.user.map(|(u, pw)| basic(u, pw)).unwrap_or_default();
    let req = format!(
        "GET /cgi-bin/probe?{q} HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n",
        who.host
    );
    let resp = parse_resp(&server.raw(req.as_bytes()));
    let body = String::from_utf8_lossy(&resp.body).into_owned();
    assert_eq!(resp.status, 200, "follow-up: {}\n{body}", resp.head);
    eprintln!(
        "---- follow-up ({:?}, {:?}) ----\n{body}",
        site.mode, who.user
    );
    let ids = if who.own == "alice" {
        site.alice
    } else {
        site.anon
    };
    // an `only=traces` run: no attempt on the master's ids
    check_output(&body, ids, false, who);
    for tag in LOOK_TAGS {
        for name in trace_attempts(tag) {
            attempt_line(&body, &name)
                .unwrap_or_else(|| panic!("the follow-up did not report {name}:\n{body}"));
        }
    }
}

/// Tags of what the probe leaves (tests/probe/probe.c, "traces"): each vhost's probe run and
/// each vhost's sleeping sibling.
const LOOK_TAGS: [&str; 4] = ["alice", "anon", "alice-live", "anon-live"];

fn trace_attempts(tag: &str) -> Vec<String> {
    let mut v: Vec<String> = ["sysv-shm", "sysv-sem", "sysv-msg", "posix-mq", "keyring"]
        .iter()
        .map(|a| format!("{a}-of-{tag}"))
        .collect();
    for d in ["/tmp", "/var/tmp", "/dev/shm"] {
        v.push(format!("file-of-{tag}-{d}"));
    }
    v
}

/// What the probe tries against the per-connection isolation; each must be denied.
const ISOLATION_ATTEMPTS: &[&str] = &[
    "ptrace-parent",
    "vm-read-parent",
    "sysv-ipc-from-earlier",
    "file-from-earlier-/tmp",
    "file-from-earlier-/var/tmp",
    "file-from-earlier-/dev/shm",
    "add-key-session",
    "keyctl-join",
    "keyctl-join-master",
    "keyctl-search-master",
    "request-key-master",
    "keyctl-session-id",
    "io-uring-setup",
    "userfaultfd",
    "unshare-user",
    "memfd-create",
    "memfd-execveat",
    "exec-from-tmp",
    "exec-from-dev-shm",
    "af-packet",
    "sock-diag",
    "udp-socket",
    "bind-any",
    "listen-unbound",
    "rlimit-as",
    "fork-bomb",
];

fn attempt_line<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("ATTEMPT {name}: ");
    body.lines().find(|l| l.starts_with(&prefix))
}

fn fact<'a>(body: &'a str, name: &str) -> &'a str {
    let prefix = format!("FACT {name}: ");
    body.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("the probe reported no FACT {name}:\n{body}"))
}

fn check_output(body: &str, ids: Ids, landlock_only: bool, who: &Who) {
    let verdicts: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("VERDICT: "))
        .collect();
    assert_eq!(
        verdicts,
        ["VERDICT: contained"],
        "probe verdict as {:?}:\n{body}",
        who.user
    );
    for line in body.lines().filter(|l| l.starts_with("ATTEMPT ")) {
        let (name, outcome) = line["ATTEMPT ".len()..].split_once(": ").unwrap();
        let same = outcome.starts_with("same-identity")
            && landlock_only
            && matches!(name, "setresuid-master" | "setresgid-master");
        // ESRCH: the target is outside the programs' PID namespace (the caller checks the
        // targets were alive)
        let unreachable =
            outcome.starts_with("unreachable (errno ESRCH") && fact(body, "pid_namespace") == "own";
        assert!(
            outcome.starts_with("denied") || same || unreachable,
            "attempt not denied: {line}\n{body}"
        );
    }
    if landlock_only {
        // the master's ids are the probe's own: the probe must have seen that, not been denied
        for name in ["setresuid-master", "setresgid-master"] {
            let l = attempt_line(body, name).unwrap_or_else(|| panic!("no {name}:\n{body}"));
            assert!(l.contains("same-identity"), "{l}");
        }
    }
    let (u, g) = (ids.uid, ids.gid);
    assert_eq!(fact(body, "uid"), format!("{u} {u} {u}"), "{body}");
    assert_eq!(fact(body, "gid"), format!("{g} {g} {g}"), "{body}");
    assert_eq!(fact(body, "cap_eff"), "0000000000000000", "{body}");
    assert_eq!(fact(body, "cap_prm"), "0000000000000000", "{body}");
    assert_eq!(fact(body, "no_new_privs"), "1", "{body}");
    assert!(
        fact(body, "landlock").contains("root_dir=EACCES (restricted)"),
        "the probe is not under Landlock: {body}"
    );
    let fds: Vec<&str> = fact(body, "fds").split(' ').collect();
    assert_eq!(fds.len(), 3, "descriptors beyond 0-2: {fds:?}");
    assert!(
        fds.iter()
            .zip(["0(", "1(", "2("])
            .all(|(f, p)| f.starts_with(p)),
        "{fds:?}"
    );
    let want_user = who.user.map(|(u, _)| u).unwrap_or("(unset)");
    assert_eq!(fact(body, "REMOTE_USER"), want_user, "{body}");
}

/// Kernel support the runs need: Landlock at the server's minimum ABI.
fn landlock_abi() -> Option<u32> {
    use oneshot_httpd::sys::{Linux, Sys};
    Linux.landlock_abi().ok()
}

fn skip_without_landlock(name: &str) -> bool {
    match landlock_abi() {
        Some(abi) if abi >= oneshot_httpd::sandbox::MIN_LANDLOCK_ABI => false,
        other => {
            eprintln!("SKIP {name}: kernel Landlock ABI {other:?} is below the server's minimum");
            true
        }
    }
}

#[test]
fn probe_is_contained_as_root_with_unix_ids_and_landlock() {
    if !is_root() {
        eprintln!("SKIP probe_is_contained_as_root_with_unix_ids_and_landlock: needs root");
        return;
    }
    if skip_without_landlock("probe_is_contained_as_root_with_unix_ids_and_landlock") {
        return;
    }
    let site = build_site(Mode::RootUnixLandlock);
    let started = Instant::now();
    let mut server = start(&site);
    run_probe(&site, &server, &ALICE);
    run_probe(&site, &server, &ANON);
    follow_up(&site, &server, &ALICE);
    server.stop();
    let took = started.elapsed();
    eprintln!("{:?}: {took:?}", site.mode);
    assert!(took < Duration::from_secs(60), "the run took {took:?}");
}

#[test]
fn probe_is_contained_with_an_unprivileged_master_and_landlock_only() {
    if skip_without_landlock("probe_is_contained_with_an_unprivileged_master_and_landlock_only") {
        return;
    }
    let site = build_site(Mode::LandlockOnly);
    let started = Instant::now();
    let mut server = start(&site);
    run_probe(&site, &server, &ALICE);
    run_probe(&site, &server, &ANON);
    follow_up(&site, &server, &ALICE);
    server.stop();
    let took = started.elapsed();
    eprintln!("{:?}: {took:?}", site.mode);
    assert!(took < Duration::from_secs(60), "the run took {took:?}");
}
