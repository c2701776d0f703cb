//! `AuthBasicProvider pam` end to end, with real PAM (Debian's pam_unix), real accounts and the
//! real binary as root under `Confinement unix landlock` (issue 18; INVARIANTS I1, I2, I3, I6).
//!
//! The test creates its accounts (`useradd`, `chpasswd`, `passwd -l`, `chage -E`), writes its
//! own PAM service `/etc/pam.d/oneshot-test-PID` (pam_unix for auth and account) and removes
//! both at the end. The oracles are written from pam_unix(8), pam_authenticate(3),
//! pam_acct_mgmt(3) and mod_auth_basic's documentation ("if a provider does not find the user,
//! the next is asked; if it finds the user and the password is wrong, the search stops"),
//! and from the issue: an account's own uid for the map target `=`, never a system account.
//! Nothing here calls the crate's PAM, admission or map code.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const OK_USER: &str = "oshpam-ok";
const LOCKED_USER: &str = "oshpam-locked";
const EXPIRED_USER: &str = "oshpam-expired";
const SYS_USER: &str = "oshpam-sys";
const FILE_ONLY: &str = "oshpam-fileonly";
const PAM_ONLY: &str = "oshpam-pamonly";
const PW: &str = "Pam-Secret-1";

fn skip(test: &str) -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP {test}: needs root (accounts, /etc/pam.d, Confinement unix)");
        return true;
    }
    let pam_unix = [
        "/usr/lib/x86_64-linux-gnu/security/pam_unix.so",
        "/lib/security/pam_unix.so",
    ];
    if !pam_unix.iter().any(|p| Path::new(p).exists()) {
        eprintln!("SKIP {test}: pam_unix.so not found (Debian package libpam-modules)");
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

fn run(cmd: &str, args: &[&str], stdin: Option<&str>) {
    use std::io::Write;
    let mut c = Command::new(cmd);
    c.args(args).stdin(std::process::Stdio::piped());
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap_or_else(|e| panic!("run {cmd}: {e}"));
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn uid_gid(name: &str) -> Option<(u32, u32)> {
    let u = nix::unistd::User::from_name(name).ok()??;
    Some((u.uid.as_raw(), u.gid.as_raw()))
}

/// Accounts and the PAM service this test made, removed when it ends (also on failure).
struct Fixture {
    users: Vec<&'static str>,
    service: String,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(Path::new("/etc/pam.d").join(&self.service));
        for u in &self.users {
            let _ = Command::new("userdel").arg(u).output();
        }
    }
}

/// A login account (uid from useradd's UID_MIN up, so `=` may serve as it) or, with
/// `system`, a system account; either way with password [`PW`], unlocked, not expired.
fn account(name: &str, system: bool) -> (u32, u32) {
    if uid_gid(name).is_none() {
        let mut args = vec![
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
        ];
        args.extend(["--shell", "/usr/sbin/nologin"]);
        if system {
            args.push("--system");
        }
        args.push(name);
        run("useradd", &args, None);
    }
    run("chpasswd", &[], Some(&format!("{name}:{PW}\n")));
    run("chage", &["-E", "-1", name], None);
    uid_gid(name).expect("account exists after useradd")
}

fn write(p: &Path, text: &str, mode: u32) {
    std::fs::write(p, text).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn site(service: &str) -> (PathBuf, String) {
    let dir = scratch("pam");
    for d in ["conf", "logs", "www", "www/pam", "www/order"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
        std::fs::set_permissions(dir.join(d), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    write(&dir.join("www/pam/index.html"), "pam index\n", 0o644);
    write(&dir.join("www/order/index.html"), "order index\n", 0o644);
    // The file knows FILE_ONLY, and OK_USER with another password than its unix one.
    htpasswd_bcrypt(
        &dir.join("conf/htpasswd"),
        &[(FILE_ONLY, "file-pw"), (OK_USER, "not-the-unix-one")],
    );
    std::fs::set_permissions(
        dir.join("conf/htpasswd"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    write(&dir.join("conf/same.map"), "* =\n", 0o644);
    write(
        &dir.join("conf/order.map"),
        &format!("{FILE_ONLY} nobody:nogroup\n* =\n"),
        0o644,
    );
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
Timeout 5
KeepAlive Off
<VirtualHost *:80>
  ServerName pam.test
  DocumentRoot {d}/www/pam
  AuthType Basic
  AuthName \"unix accounts\"
  AuthBasicProvider pam
  AuthPAMService {service}
  Require valid-user
  UserIDMap {d}/conf/same.map
</VirtualHost>
<VirtualHost *:80>
  ServerName order.test
  DocumentRoot {d}/www/order
  AuthType Basic
  AuthName order
  AuthBasicProvider file pam
  AuthUserFile {d}/conf/htpasswd
  AuthPAMService {service}
  Require valid-user
  UserIDMap {d}/conf/order.map
</VirtualHost>
"
    );
    (dir, conf)
}

fn get(s: &Server, host: &str, user: &str, pw: &str) -> Resp {
    let auth = basic_auth(user, pw);
    parse_resp(&s.raw(
        format!("GET / HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n").as_bytes(),
    ))
}

/// The access-log line of the last request by `user` (children write after answering).
fn last_line(s: &Server, user: &str) -> String {
    let needle = format!(" - {user} [");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if let Some(l) = s
            .access_log()
            .into_iter()
            .rev()
            .find(|l| l.contains(&needle))
        {
            return l;
        }
        assert!(
            std::time::Instant::now() < until,
            "no access line for {user}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn pam_accounts_end_to_end() {
    if skip("pam_accounts_end_to_end") {
        return;
    }
    let service = format!("oneshot-test-{}", std::process::id());
    let fx = Fixture {
        users: vec![OK_USER, LOCKED_USER, EXPIRED_USER, SYS_USER, PAM_ONLY],
        service: service.clone(),
    };
    let _ = Command::new("userdel").arg(FILE_ONLY).output();
    let ok = account(OK_USER, false);
    let locked = account(LOCKED_USER, false);
    account(EXPIRED_USER, false);
    let sys = account(SYS_USER, true);
    assert!(
        ok.0 >= 1000 && locked.0 >= 1000,
        "useradd gave a login uid: {ok:?}"
    );
    assert!(sys.0 < 1000, "useradd --system gave a system uid: {sys:?}");
    write(
        &Path::new("/etc/pam.d").join(&fx.service),
        "auth required pam_unix.so\naccount required pam_unix.so\n",
        0o644,
    );
    // pam_acct_mgmt: an account that expired on 2 Jan 1970.
    run("chage", &["-E", "1", EXPIRED_USER], None);

    let (dir, conf) = site(&service);
    let mut s = Server::start(&dir, &conf);

    // The right password: 200, served as the account itself (`=`), twice (the second from the
    // verifier's success cache).
    for _ in 0..2 {
        let r = get(&s, "pam.test", OK_USER, PW);
        assert_eq!(r.status, 200, "{OK_USER}: {}", s.error_log());
        assert_eq!(r.body, b"pam index\n");
        let line = last_line(&s, OK_USER);
        assert!(line.contains(&format!("ctx={}:{}", ok.0, ok.1)), "{line}");
    }
    // A wrong password: 401 with the realm, and Apache's AH01617.
    let r = get(&s, "pam.test", OK_USER, "wrong");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("WWW-Authenticate").as_deref(),
        Some("Basic realm=\"unix accounts\"")
    );
    let log = wait_error_log(&s, |l| l.contains(&format!("AH01617: user {OK_USER}")));
    assert!(log.contains(&format!("AH01617: user {OK_USER}")), "{log}");
    // An unknown user: 401 and AH01618.
    let r = get(&s, "pam.test", "oshpam-nobody-here", PW);
    assert_eq!(r.status, 401);
    let log = wait_error_log(&s, |l| {
        l.contains("AH01618: user oshpam-nobody-here not found")
    });
    assert!(
        log.contains("AH01618: user oshpam-nobody-here not found"),
        "{log}"
    );
    // An expired account with its right password: pam_acct_mgmt refuses, 401.
    assert_eq!(get(&s, "pam.test", EXPIRED_USER, PW).status, 401);
    // A system account authenticates, but `=` never serves as one: 403.
    let r = get(&s, "pam.test", SYS_USER, PW);
    assert_eq!(r.status, 403, "{}", s.error_log());
    // Locked after a success: the cached success does not outlive `passwd -l`.
    assert_eq!(get(&s, "pam.test", LOCKED_USER, PW).status, 200);
    run("passwd", &["-l", LOCKED_USER], None);
    assert_eq!(get(&s, "pam.test", LOCKED_USER, PW).status, 401);

    // Provider order file, pam: a user the file does not know goes on to PAM; a user the file
    // knows with another password stops there; the file's own user is served by its rule.
    let r = get(&s, "order.test", FILE_ONLY, "file-pw");
    assert_eq!(r.status, 200, "{}", s.error_log());
    assert!(last_line(&s, FILE_ONLY).contains("ctx=65534:65534"));
    let r = get(&s, "order.test", LOCKED_USER, PW);
    assert_eq!(
        r.status, 401,
        "locked stays locked through the second provider"
    );
    assert_eq!(
        get(&s, "order.test", OK_USER, PW).status,
        401,
        "the file said wrong password"
    );
    assert_eq!(
        get(&s, "order.test", OK_USER, "not-the-unix-one").status,
        200
    );
    // Not in the file, known to PAM: served as its own account.
    let pamonly = account(PAM_ONLY, false);
    assert_eq!(
        get(&s, "order.test", PAM_ONLY, PW).status,
        200,
        "{}",
        s.error_log()
    );
    let line = last_line(&s, PAM_ONLY);
    assert!(
        line.contains(&format!("ctx={}:{}", pamonly.0, pamonly.1)),
        "{line}"
    );

    // The verifier ran PAM confined, and said so.
    let log = s.error_log();
    assert!(log.contains("password verifier confined"), "{log}");
    s.stop();
    drop(fx);
}

/// `-t` refuses a configuration whose verifier could not run PAM: with `VerifierUser` it would
/// not be uid 0, and pam_unix checks only the caller's own password then.
#[test]
fn pam_with_verifier_user_is_refused_at_t() {
    if skip("pam_with_verifier_user_is_refused_at_t") {
        return;
    }
    let (dir, conf) = site("oneshot-httpd");
    system_user("oshpam-verifier");
    let conf = format!("VerifierUser oshpam-verifier\n{conf}");
    std::fs::write(dir.join("httpd.conf"), conf).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_oneshot-httpd"))
        .arg("-t")
        .arg("-f")
        .arg(dir.join("httpd.conf"))
        .arg("-c")
        .arg("Listen 127.0.0.1:1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let want = format!(
        "{}:1: VerifierUser oshpam-verifier: AuthBasicProvider pam needs the verifier at uid 0",
        dir.join("httpd.conf").display()
    );
    assert!(err.contains(&want), "{err}");
}
