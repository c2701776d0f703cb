//! WebDAV as the authenticated user (issue 18, docs/webdav.md), through the real binary as
//! root with `Confinement unix landlock` and a test-created system user mapped by UserIDMap.
//!
//! Oracles that do not call the code under test:
//! - Debian's `litmus` (the WebDAV conformance suite) run against the `Dav On` location: its
//!   `basic`, `copymove`, `props` and `locks` summaries must say every test passed;
//! - `curl -T` uploads, then `stat` of the file on disk: owned by the mapped user's uid;
//! - hand-written refusals (RFC 4918 and the issue): a Destination outside the location or on
//!   another host, a symlink on the way, a `..` that leaves the location — with the file system
//!   checked afterwards (nothing written outside);
//! - PUT of 100 MiB: the serving child's peak RSS (VmHWM from /proc) stays far below it.

mod common;
use common::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::Command;

const USER: &str = "oneshot-dav";
const PW: &str = "dav-pw";

fn skip(test: &str) -> bool {
    if !nix::unistd::geteuid().is_root() {
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

struct Dav {
    server: Server,
    dir: PathBuf,
    uid: u32,
}

impl Dav {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.server.port)
    }

    /// `curl` with the user's credentials; returns the status code.
    fn curl(&self, args: &[&str], path: &str) -> u16 {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-u"])
            .arg(format!("{USER}:{PW}"))
            .args(args)
            .arg(self.url(path))
            .output()
            .expect("run curl");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    }
}

fn start(name: &str) -> Dav {
    let (uid, gid) = system_user(USER);
    let dir = scratch(&format!("webdav-{name}"));
    for d in ["conf", "logs", "www", "www/dav", "www/outside"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
        std::fs::set_permissions(dir.join(d), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::os::unix::fs::chown(dir.join("www/dav"), Some(uid), Some(gid)).unwrap();
    // The user may write here too: only the Dav tree's confinement keeps it out.
    std::os::unix::fs::chown(dir.join("www/outside"), Some(uid), Some(gid)).unwrap();
    std::fs::write(dir.join("www/index.html"), "index\n").unwrap();
    htpasswd_bcrypt(&dir.join("conf/htpasswd"), &[(USER, PW)]);
    std::fs::set_permissions(
        dir.join("conf/htpasswd"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(
        dir.join("conf/users.map"),
        format!("{USER} {USER}:{USER}\n"),
    )
    .unwrap();
    let d = dir.display();
    let conf = format!(
        "User nobody
Group nogroup
Confinement unix landlock
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
KeepAliveTimeout 5
DocumentRoot {d}/www
AssignUserID nobody nogroup
<Location /dav>
  Dav On
  AuthType Basic
  AuthName dav
  AuthUserFile {d}/conf/htpasswd
  Require valid-user
  UserIDMap {d}/conf/users.map
</Location>
<Location /outside>
  AuthType Basic
  AuthName dav
  AuthUserFile {d}/conf/htpasswd
  Require valid-user
  UserIDMap {d}/conf/users.map
</Location>
"
    );
    let server = Server::start(&dir, &conf);
    Dav { server, dir, uid }
}

/// litmus's "<- summary for `SUITE': of N tests run: N passed, 0 failed." for each suite.
#[test]
fn litmus_basic_copymove_props_locks_pass() {
    if skip("litmus_basic_copymove_props_locks_pass") {
        return;
    }
    let dav = start("litmus");
    let out = Command::new("timeout")
        .args(["300", "litmus"])
        .arg(dav.url("/dav/"))
        .args([USER, PW])
        .env("TESTS", "basic copymove props locks")
        .current_dir(&dav.dir)
        .output()
        .expect("run litmus (Debian package litmus)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for suite in ["basic", "copymove", "props", "locks"] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("<- summary for `{suite}'")))
            .unwrap_or_else(|| panic!("no summary for {suite} in:\n{text}"));
        let nums: Vec<u32> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|s| s.parse().ok())
            .collect();
        // [run, passed, failed, percent...]
        assert!(
            nums.len() >= 3 && nums[0] > 0 && nums[0] == nums[1] && nums[2] == 0,
            "{suite}: {line}\n{text}"
        );
    }
    // Everything litmus created belongs to the user (litmus cleans up its files, so look at
    // the collection it leaves, if any, and at the tree itself).
    assert_eq!(
        std::fs::metadata(dav.dir.join("www/dav")).unwrap().uid(),
        dav.uid
    );
}

#[test]
fn uploads_belong_to_the_user() {
    if skip("uploads_belong_to_the_user") {
        return;
    }
    let dav = start("owner");
    let src = dav.dir.join("upload.txt");
    std::fs::write(&src, "uploaded by curl -T\n").unwrap();
    assert_eq!(dav.curl(&["-X", "MKCOL"], "/dav/sub/"), 201);
    assert_eq!(
        dav.curl(&["-T", src.to_str().unwrap()], "/dav/sub/u.txt"),
        201
    );
    let file = dav.dir.join("www/dav/sub/u.txt");
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.uid(), dav.uid, "file owner");
    assert_eq!(
        std::fs::metadata(dav.dir.join("www/dav/sub"))
            .unwrap()
            .uid(),
        dav.uid
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "uploaded by curl -T\n"
    );
    // Replacing keeps it the user's, and no temporary file is left behind.
    assert_eq!(
        dav.curl(&["-T", src.to_str().unwrap()], "/dav/sub/u.txt"),
        204
    );
    let names: Vec<_> = std::fs::read_dir(dav.dir.join("www/dav/sub"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("u.txt")]);
    // Without credentials: 401, nothing written.
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-T"])
        .arg(&src)
        .arg(dav.url("/dav/anon.txt"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "401");
    assert!(!dav.dir.join("www/dav/anon.txt").exists());
}

#[test]
fn writes_outside_the_location_are_refused() {
    if skip("writes_outside_the_location_are_refused") {
        return;
    }
    let dav = start("outside");
    let www = dav.dir.join("www");
    let src = dav.dir.join("f.txt");
    std::fs::write(&src, "payload\n").unwrap();
    let t = src.to_str().unwrap();
    assert_eq!(dav.curl(&["-T", t], "/dav/a.txt"), 201);
    let outside_empty = |what: &str| {
        let n = std::fs::read_dir(www.join("outside")).unwrap().count();
        assert_eq!(n, 0, "{what}: something was written outside the Dav tree");
        assert!(
            !www.join("a.txt").exists() && !dav.dir.join("a.txt").exists(),
            "{what}"
        );
    };
    let port = dav.server.port;
    // Destination outside the location (same vhost, same user), by path and by URL.
    for dest in [
        "/outside/a.txt".to_string(),
        format!("http://127.0.0.1:{port}/outside/a.txt"),
        "/a.txt".to_string(),
        "/dav/../outside/a.txt".to_string(),
        "/dav/%2e%2e/outside/a.txt".to_string(),
    ] {
        for m in ["COPY", "MOVE"] {
            let got = dav.curl(
                &["-X", m, "-H", &format!("Destination: {dest}")],
                "/dav/a.txt",
            );
            assert_eq!(got, 403, "{m} to {dest}");
            outside_empty(&format!("{m} {dest}"));
        }
    }
    // Destination on another host: 502 (RFC 4918 §9.8.5), nothing done.
    let got = dav.curl(
        &[
            "-X",
            "COPY",
            "-H",
            "Destination: http://elsewhere.test/dav/b.txt",
        ],
        "/dav/a.txt",
    );
    assert_eq!(got, 502);
    assert!(!www.join("dav/b.txt").exists());
    // `..` in the request path: it never names a file outside the tree.
    for p in [
        "/dav/../outside/x.txt",
        "/dav/%2e%2e/outside/x.txt",
        "/dav/%2e%2e/%2e%2e/x.txt",
    ] {
        let got = dav.curl(&["--path-as-is", "-T", t], p);
        assert!(matches!(got, 400 | 403 | 404 | 405), "PUT {p}: {got}");
        outside_empty(&format!("PUT {p}"));
    }
    // A symlink on the way (made by someone who could write the tree): refused, not followed.
    std::os::unix::fs::symlink(www.join("outside"), www.join("dav/link")).unwrap();
    for m in [&["-T", t][..], &["-X", "MKCOL"][..]] {
        let got = dav.curl(m, "/dav/link/x");
        assert_eq!(got, 403, "{m:?} through a symlink");
        outside_empty("through a symlink");
    }
    let got = dav.curl(
        &["-X", "COPY", "-H", "Destination: /dav/link/y.txt"],
        "/dav/a.txt",
    );
    assert_eq!(got, 403, "COPY into a symlinked directory");
    outside_empty("COPY into a symlink");
    // A symlink as the final name: PUT replaces the link, never writes through it.
    std::fs::write(www.join("outside-file"), "untouched\n").unwrap();
    std::os::unix::fs::symlink(www.join("outside-file"), www.join("dav/flink")).unwrap();
    let got = dav.curl(&["-T", t], "/dav/flink");
    assert!(matches!(got, 204 | 403), "PUT onto a symlink: {got}");
    assert_eq!(
        std::fs::read_to_string(www.join("outside-file")).unwrap(),
        "untouched\n"
    );
    // WebDAV methods outside `Dav On` are not served at all.
    assert_eq!(dav.curl(&["-T", t], "/outside/x.txt"), 405);
    assert_eq!(dav.curl(&["-X", "MKCOL"], "/outside/c/"), 405);
    outside_empty("methods outside Dav On");
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[test]
fn put_of_100_mib_streams_with_bounded_memory() {
    if skip("put_of_100_mib_streams_with_bounded_memory") {
        return;
    }
    let dav = start("big");
    let src = dav.dir.join("big.bin");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&src).unwrap();
        let block: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
        for _ in 0..100 {
            f.write_all(&block).unwrap();
        }
    }
    let mut curl = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-u"])
        .arg(format!("{USER}:{PW}"))
        .arg("-T")
        .arg(&src)
        .arg(dav.url("/dav/big.bin"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let master = dav.server.pid();
    let mut peak = 0u64;
    let until = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while curl.try_wait().unwrap().is_none() && std::time::Instant::now() < until {
        for (pid, _) in children_of(master) {
            peak = peak.max(vm_hwm_kib(pid).unwrap_or(0));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = curl.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "201");
    let put = dav.dir.join("www/dav/big.bin");
    assert_eq!(std::fs::metadata(&put).unwrap().len(), 100 * 1024 * 1024);
    assert!(std::fs::read(&put).unwrap() == std::fs::read(&src).unwrap());
    eprintln!("peak child RSS during a 100 MiB PUT: {peak} KiB");
    assert!(peak > 0, "no child seen");
    assert!(
        peak < 32 * 1024,
        "a child's peak RSS was {peak} KiB for a 100 MiB PUT"
    );
}

/// Status and body of a request made with curl.
fn curl_body(dav: &Dav, args: &[&str], path: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "-u"])
        .arg(format!("{USER}:{PW}"))
        .args(args)
        .arg(dav.url(path))
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", ""));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// RFC 4918: OPTIONS names classes 1 and 2; Depth: infinity without DavDepthInfinity is 403
/// with `propfind-finite-depth` (§9.1); an XML body over LimitXMLRequestBody is 413; a DTD or
/// an undeclared entity is 400 (never expanded).
#[test]
fn options_depth_and_xml_limits() {
    if skip("options_depth_and_xml_limits") {
        return;
    }
    let dav = start("limits");
    let out = Command::new("curl")
        .args(["-s", "-i", "-X", "OPTIONS", "-u"])
        .arg(format!("{USER}:{PW}"))
        .arg(dav.url("/dav/"))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(head.contains("\r\ndav: 1, 2\r\n"), "{head}");
    assert!(head.contains("propfind") && head.contains("lock"), "{head}");

    let (code, body) = curl_body(&dav, &["-X", "PROPFIND"], "/dav/");
    assert_eq!(code, 403);
    assert!(body.contains("propfind-finite-depth"), "{body}");
    let (code, body) = curl_body(&dav, &["-X", "PROPFIND", "-H", "Depth: 1"], "/dav/");
    assert_eq!(code, 207);
    assert!(body.contains("<D:collection/>"), "{body}");

    let big = format!(
        "<?xml version=\"1.0\"?><propfind xmlns=\"DAV:\"><prop>{}</prop></propfind>",
        "<x:a xmlns:x=\"urn:a\"/>".repeat(60_000)
    );
    std::fs::write(dav.dir.join("big.xml"), big).unwrap();
    let at = format!("@{}", dav.dir.join("big.xml").display());
    let (code, _) = curl_body(
        &dav,
        &["-X", "PROPFIND", "-H", "Depth: 0", "--data-binary", &at],
        "/dav/",
    );
    assert_eq!(code, 413, "over LimitXMLRequestBody (default 1000000)");
    for evil in [
        "<?xml version=\"1.0\"?><!DOCTYPE p [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><propfind xmlns=\"DAV:\"><prop>&e;</prop></propfind>",
        "<?xml version=\"1.0\"?><propfind xmlns=\"DAV:\"><prop>&e;</prop></propfind>",
        "<propfind xmlns=\"DAV:\"><prop>",
    ] {
        let (code, body) = curl_body(&dav, &["-X", "PROPFIND", "-H", "Depth: 0", "--data-binary", evil], "/dav/");
        assert_eq!(code, 400, "{evil}");
        assert!(!body.contains("root:"), "{body}");
    }
}

/// The members a 207 Multi-Status names, with their status codes, in document order: each
/// `response`'s `href` and `status` (any namespace prefix).
fn multistatus(body: &str) -> Vec<(String, u16)> {
    let re = regex::Regex::new(
        r"(?s)<(?:\w+:)?response>.*?<(?:\w+:)?href>([^<]*)</(?:\w+:)?href>.*?<(?:\w+:)?status>HTTP/1\.1 (\d{3})",
    )
    .unwrap();
    re.captures_iter(body)
        .map(|c| (c[1].to_string(), c[2].parse().unwrap()))
        .collect()
}

/// RFC 4918 §9.6.1 (DELETE), §9.8.3/§9.8.5/§9.8.8 (COPY) and §9.9.2/§9.9.4 (MOVE): when
/// some members of a collection cannot be acted on, the answer is 207 Multi-Status naming
/// each failed member with its own status; DELETE goes on past them (what can go, goes), does
/// not list their ancestors (no 424) nor what succeeded (no 204); COPY copies what it can and
/// names a member by the URL that failed (the unreadable source); Overwrite: T deletes the
/// destination first, and when a member of it stays, nothing is copied or moved. The failing
/// members here are files the user may not delete or read (owned by root in root's
/// directories): the kernel's permission checks, which the server cannot override.
#[test]
fn per_member_multistatus() {
    if skip("per_member_multistatus") {
        return;
    }
    let dav = start("multistatus");
    let (uid, gid) = system_user(USER);
    let root = dav.dir.join("www/dav");
    // `owned`: the user's; otherwise root's. Directories 0755, files 0644 (0600 for `secret`).
    let mk = |rel: &str, owned: bool| {
        let p = root.join(rel);
        if rel.ends_with('/') {
            std::fs::create_dir_all(&p).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        } else {
            std::fs::write(&p, format!("{rel}\n")).unwrap();
            let mode = if rel.contains("secret") { 0o600 } else { 0o644 };
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let (u, g) = if owned { (uid, gid) } else { (0, 0) };
        std::os::unix::fs::chown(&p, Some(u), Some(g)).unwrap();
    };
    for (rel, owned) in [
        ("del/", true),
        ("del/ok.txt", true),
        ("del/sub/", true),
        ("del/sub/ok2.txt", true),
        ("del/keep/", false),
        ("del/keep/stays.txt", false),
        ("gone/", true),
        ("gone/a/", true),
        ("gone/a/b.txt", true),
        ("src/", true),
        ("src/f.txt", true),
        ("dst/", true),
        ("dst/keep/", false),
        ("dst/keep/x.txt", false),
        ("mdst/", true),
        ("mdst/keep/", false),
        ("mdst/keep/y.txt", false),
        ("src2/", true),
        ("src2/fine.txt", true),
        ("src2/secret.txt", false),
    ] {
        mk(rel, owned);
    }
    let dest = |p: &str| format!("Destination: {}", dav.url(p));
    // (method, URL, extra headers, expected status, expected members of the 207)
    type Row<'a> = (&'a str, &'a str, Vec<String>, u16, Vec<(&'a str, u16)>);
    let table: Vec<Row> = vec![
        // §9.6.1: one member cannot be deleted: 207 names it with 403 (EACCES); not its
        // ancestors /dav/del/keep/ and /dav/del/ (no 424), not what was deleted (no 204).
        (
            "DELETE",
            "/dav/del/",
            vec![],
            207,
            vec![("/dav/del/keep/stays.txt", 403)],
        ),
        // Everything deletable: 204, no body.
        ("DELETE", "/dav/gone/", vec![], 204, vec![]),
        // §9.8.4 + §9.8.5: Overwrite: T deletes the destination first; a member of it stays:
        // 207 naming it, and nothing copied.
        (
            "COPY",
            "/dav/src/",
            vec![dest("/dav/dst/"), "Overwrite: T".into()],
            207,
            vec![("/dav/dst/keep/x.txt", 403)],
        ),
        // §9.9.3 + §9.9.4: the same for MOVE; the source stays where it was.
        (
            "MOVE",
            "/dav/src/",
            vec![dest("/dav/mdst/"), "Overwrite: T".into()],
            207,
            vec![("/dav/mdst/keep/y.txt", 403)],
        ),
        // §9.8.3 + §9.8.8: a member that cannot be read is named by its source URL; the
        // other members are copied.
        (
            "COPY",
            "/dav/src2/",
            vec![dest("/dav/copy2/")],
            207,
            vec![("/dav/src2/secret.txt", 403)],
        ),
    ];
    for (method, path, headers, status, members) in &table {
        let mut args = vec!["-X".to_string(), method.to_string()];
        for h in headers {
            args.push("-H".into());
            args.push(h.clone());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, body) = curl_body(&dav, &args, path);
        assert_eq!(code, *status, "{method} {path}: {body}");
        let got = multistatus(&body);
        let want: Vec<(String, u16)> = members.iter().map(|(h, s)| (h.to_string(), *s)).collect();
        assert_eq!(got, want, "{method} {path}: {body}");
    }
    // What the file system shows afterwards.
    let exists = |rel: &str| root.join(rel).symlink_metadata().is_ok();
    assert!(
        !exists("del/ok.txt") && !exists("del/sub"),
        "DELETE went on past the failure"
    );
    assert!(exists("del/keep/stays.txt") && exists("del"));
    assert!(!exists("gone"));
    assert!(
        !exists("dst/f.txt") && exists("dst/keep/x.txt"),
        "nothing copied"
    );
    assert!(
        exists("src/f.txt") && !exists("mdst/f.txt"),
        "nothing moved"
    );
    assert!(exists("copy2/fine.txt") && !exists("copy2/secret.txt"));
    assert_eq!(
        std::fs::metadata(root.join("copy2/fine.txt"))
            .unwrap()
            .uid(),
        uid
    );
}
