//! #14's identity side through the real binary: htpasswd lines as Apache reads them (checked
//! against apache2 with the same file), mpm-itk's `AssignUserID "#uid" "#gid"`,
//! `LimitUIDRange`/`LimitGIDRange`, `NiceValue`, and mod_selinux's `selinuxAllowCaches`.
//!
//! The oracle columns are written from the documentation: mod_authn_file ("each line
//! contains a username followed by a colon, followed by the encrypted password"; the
//! htpasswd(1) page for `-d` crypt: "only the first 8 characters"), mpm-itk's README
//! (shared/seeds) for the mpm-itk directives.

mod common;

use common::*;
use std::io::Write;
use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `oneshot-httpd -t` on `conf` (in `dir`): (accepted, stderr).
fn check_config(dir: &Path, conf: &str) -> (bool, String) {
    let file = dir.join("t.conf");
    std::fs::write(&file, conf).unwrap();
    let out = Command::new(BIN)
        .args(["-t", "-c", "Listen 127.0.0.1:1", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One password file written by the real tools: `htpasswd -d` (DES crypt, with a comment
/// field), `openssl passwd -apr1` with a 2-character and an empty salt, `htpasswd -B` with
/// a comment. The same file is checked by apache2 and by oneshot-httpd; the table is the
/// documentation's: right password 200, wrong 401, and for DES crypt the ninth character
/// onwards does not count.
#[test]
fn htpasswd_lines_as_apache_reads_them() {
    let dir = site("itk-htpasswd");
    let pw = dir.join("passwd");
    let des = run(Command::new("htpasswd").args(["-nbd", "des", "abcd1234"]));
    let bcrypt = run(Command::new("htpasswd").args(["-nbB", "-C", "4", "bee", "b secret"]));
    let apr_ab = run(Command::new("openssl").args(["passwd", "-apr1", "-salt", "ab", "apr-pw"]));
    let apr_empty = run(Command::new("openssl").args(["passwd", "-apr1", "-salt", "", "nosalt"]));
    let text = format!(
        "{}:Dee S., DES\n{}:Bee B.: room 4\napr:{}\napr0:{}:\n",
        des.trim(),
        bcrypt.trim(),
        apr_ab.trim(),
        apr_empty.trim()
    );
    std::fs::write(&pw, &text).unwrap();
    std::fs::set_permissions(&pw, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    // (user, password, status) — from the documentation, not from either server.
    let table: &[(&str, &str, u16)] = &[
        ("des", "abcd1234", 200),
        ("des", "abcd1234-ignored", 200),
        ("des", "abcd123", 401),
        ("des", "Dee S., DES", 401),
        ("bee", "b secret", 200),
        ("bee", "b secret:Bee B.", 401),
        ("apr", "apr-pw", 200),
        ("apr", "apr-px", 401),
        ("apr0", "nosalt", 200),
        ("apr0", "", 401),
        ("nobody", "abcd1234", 401),
    ];
    let section = |root: &Path| {
        format!(
            "<Directory \"{}/private\">\nAuthType Basic\nAuthName itk\nAuthUserFile \"{}\"\nRequire valid-user\n</Directory>\n",
            root.display(),
            pw.display()
        )
    };
    let make = |root: &Path| {
        std::fs::create_dir_all(root.join("private")).unwrap();
        std::fs::write(root.join("private/index.html"), "private\n").unwrap();
    };
    let ask = |port: u16, user: &str, password: &str| -> u16 {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        write!(
            s,
            "GET /private/ HTTP/1.1\r\nHost: t.test\r\n{}Connection: close\r\n\r\n",
            basic_auth(user, password)
        )
        .unwrap();
        parse_resp(&read_all(&mut s)).status
    };
    let apache_wrong = std::sync::Mutex::new(Vec::new());
    apache::with_apache(
        "itk-htpasswd-apache",
        make,
        section,
        &["auth_basic", "authn_core", "authn_file", "authz_user"],
        |port| {
            for (u, p, want) in table {
                let got = ask(port, u, p);
                if got != *want {
                    let w = format!("apache2: {u}:{p} -> {got}, documented {want}");
                    apache_wrong.lock().unwrap().push(w);
                }
            }
        },
    );
    let mut wrong = apache_wrong.into_inner().unwrap();
    let root = dir.join("www/default");
    make(&root);
    let conf = format!("{BASE_CONF}{}", section(&root));
    let (ok, err) = check_config(&dir, &conf);
    let line = text.lines().position(|l| l.starts_with("des:")).unwrap() + 1;
    assert!(
        ok && err.contains(&format!("{}:{line}", pw.display()))
            && err.contains("first 8 characters"),
        "-t: {err}"
    );
    let s = Server::start(&dir, &conf);
    for (u, p, want) in table {
        let got = ask(s.port, u, p);
        if got != *want {
            wrong.push(format!(
                "oneshot-httpd: {u}:{p} -> {got}, documented {want}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
