//! Authentication that cannot work, found at `-t` with FILE:LINE where the configuration alone
//! shows it, and answered as Apache 2.4 answers it where only a request does (issue #14):
//!
//! * mod_authz_core: `AuthType` with no `Require` in scope is a 500 for every request
//!   (AH01627, "AuthType configured with no corresponding authorization directives"); with
//!   no AuthType either, a scope without `Require` is granted.
//! * mod_authn_file: `Require valid-user` with no `AuthUserFile` is a 500 once credentials
//!   come (AH01619); without `AuthType` a Require that needs a user cannot be met.
//! * An `AuthType Basic` under an inherited `Require all granted` is granted without asking
//!   anyone: Apache says nothing; here `-t` warns that it has no effect.
//!
//! The table of `-t` answers is written from those rules; the run-time answers are checked
//! against the real apache2 serving the same site.

mod common;

use common::*;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Runs `-t` on BASE_CONF with `extra` appended to alice's vhost; (exit ok, stderr).
fn check_conf(dir: &Path, extra: &str) -> (bool, String) {
    let conf = BASE_CONF.replacen(
        "  DocumentRoot www/alice\n",
        &format!("  DocumentRoot www/alice\n{extra}"),
        1,
    );
    std::fs::write(
        dir.join("httpd.conf"),
        format!("Listen 127.0.0.1:8\n{conf}"),
    )
    .unwrap();
    config_test(&dir.join("httpd.conf"), &[])
}

/// (an error, not a warning; the named line's offset from FIRST; part of the message).
type Expect = (bool, i32, &'static str);

/// alice's `<VirtualHost>` is line 19 of the file `check_conf` writes; `extra` starts on line 22.
const FIRST: i32 = 22;

#[test]
fn broken_authentication_is_named_at_check_time() {
    let dir = site("auth-config");
    std::fs::create_dir_all(dir.join("www/alice/sub")).unwrap();
    htpasswd_bcrypt(&dir.join("htpasswd"), &[("alice", "pw")]);
    let pw = dir.join("htpasswd");
    let pw = pw.display();
    // (lines added to alice's vhost, error?, line offset of the section named, message part)
    let table: Vec<(String, Option<Expect>)> = vec![
        // AuthType and no Require anywhere: Apache's 500 for every request.
        (
            format!("<Location /private>\nAuthType Basic\nAuthName p\nAuthUserFile {pw}\n</Location>\n"),
            Some((true, 0, "AuthType Basic applies to /private, but no Require does")),
        ),
        (
            "<Directory www/alice/sub>\nAuthType Basic\nAuthName p\n</Directory>\n".into(),
            Some((true, 0, "AuthType Basic applies to /sub/, but no Require does")),
        ),
        // At the vhost's own level: "/" has AuthType and no Require, only /admin has one.
        (
            format!("AuthType Basic\nAuthName p\nAuthUserFile {pw}\n<Location /admin>\nRequire valid-user\n</Location>\n"),
            Some((true, -3, "AuthType Basic applies to /, but no Require does")),
        ),
        // Under an inherited Require all granted: granted to all, nobody asked.
        (
            format!("<Directory www/alice>\nRequire all granted\n</Directory>\n<Location /private>\nAuthType Basic\nAuthName p\nAuthUserFile {pw}\n</Location>\n"),
            Some((false, 3, "AuthType Basic has no effect")),
        ),
        // A Require that needs a user, and no way to authenticate one.
        (
            "<Location /private>\nRequire valid-user\n</Location>\n".into(),
            Some((true, 0, "no AuthType Basic applies there")),
        ),
        (
            "<Location /private>\nAuthType Basic\nAuthName p\nRequire user alice\n</Location>\n".into(),
            Some((true, 0, "no AuthUserFile applies there")),
        ),
        // Right: the pieces may come from different sections, as Apache merges them.
        (
            format!("AuthType Basic\nAuthName p\nAuthUserFile {pw}\nRequire all granted\n<Location /admin>\nRequire valid-user\n</Location>\n"),
            None,
        ),
        (
            format!("<Directory www/alice>\nAuthType Basic\nAuthName p\nAuthUserFile {pw}\nRequire valid-user\n</Directory>\n<Location /private>\nRequire user alice\n</Location>\n"),
            None,
        ),
        (
            format!("<Location /private>\nAuthType Basic\nAuthName p\nAuthUserFile {pw}\nRequire valid-user\n</Location>\n"),
            None,
        ),
    ];
    let mut wrong = Vec::new();
    for (extra, want) in &table {
        let (ok, err) = check_conf(&dir, extra);
        match want {
            None if ok && !err.contains("AuthType") && !err.contains("Require") => {}
            None => wrong.push(format!("{extra}: expected clean, got ok={ok} {err}")),
            Some((is_error, offset, text)) => {
                // The vhost's own level is named at its <VirtualHost> line.
                let line = FIRST + offset;
                let at = format!("httpd.conf:{line}: ");
                let named = err.lines().any(|l| {
                    l.contains(&at) && l.contains(text) && l.starts_with("warning") != *is_error
                });
                if ok == *is_error || !named {
                    wrong.push(format!(
                        "{extra}: expected {at}{text} (error: {is_error}), got ok={ok} {err}"
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n---\n"));
}

const SITE_DIRECTIVES: &str = r#"
Alias /other "@O@"
<LocationMatch "^/other">
    AuthType Basic
    AuthName "other"
</LocationMatch>
Alias /nofile "@O@"
<LocationMatch "^/nofile">
    AuthType Basic
    AuthName "nofile"
    Require valid-user
</LocationMatch>
<Location /pub>
    AuthType Basic
    AuthName "pub"
</Location>
"#;

fn make_site(root: &Path) {
    std::fs::create_dir_all(root.join("pub")).unwrap();
    std::fs::write(root.join("pub/p.txt"), "p\n").unwrap();
    let other = root.parent().unwrap().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("o.txt"), "o\n").unwrap();
    for p in [root, &other] {
        let _ = Command::new("chmod").arg("-R").arg("a+rX").arg(p).status();
    }
}

fn directives(root: &Path) -> String {
    let other = root.parent().unwrap().join("other");
    SITE_DIRECTIVES.replace("@O@", &other.to_string_lossy())
}

/// (path, with credentials, Apache's status).
const RUNTIME: &[(&str, bool, u16)] = &[
    // AH01627: no Require reaches the Alias target.
    ("/other/o.txt", false, 500),
    ("/other/o.txt", true, 500),
    // AH01619 once credentials come (Apache asks for them first: see `answer`).
    ("/nofile/o.txt", true, 500),
    // The DocumentRoot's Require all granted is inherited: AuthType asks nobody.
    ("/pub/p.txt", false, 200),
];

fn ask(port: u16, path: &str, creds: bool) -> u16 {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = if creds {
        basic_auth("alice", "pw")
    } else {
        String::new()
    };
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: t.test\r\n{auth}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    parse_resp(&out).status
}

fn check(who: &str, port: u16) {
    let wrong: Vec<String> = RUNTIME
        .iter()
        .filter_map(|(path, creds, want)| {
            let got = ask(port, path, *creds);
            (got != *want).then(|| format!("{path} creds={creds}: {got}, Apache {want}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{who}:\n{}", wrong.join("\n"));
}

#[test]
fn the_runtime_answers_are_apaches() {
    apache::with_apache(
        "auth-config-apache",
        make_site,
        directives,
        &[
            "alias",
            "auth_basic",
            "authn_core",
            "authn_file",
            "authz_user",
        ],
        |port| check("apache2", port),
    );
}

/// The same site through the binary: sections with regular expressions are not checked at
/// `-t` (no single URL), so admission answers them.
#[test]
fn the_runtime_answers_through_the_binary() {
    let dir = site("auth-config-run");
    let root = dir.join("www/t");
    make_site(&root);
    let conf = BASE_CONF.replacen(
        "<VirtualHost *:80>\n  ServerName default.test",
        &format!(
            "<VirtualHost *:80>\n  ServerName t.test\n  DocumentRoot www/t\n  <Directory www/t>\n    Require all granted\n  </Directory>\n{}</VirtualHost>\n<VirtualHost *:80>\n  ServerName default.test",
            directives(&root)
        ),
        1,
    );
    let mut s = Server::start(&dir, &conf);
    check("oneshot-httpd", s.port);
    // Apache asks for credentials first at /nofile (401), then fails with them (500); here
    // nobody is invited to send a password that cannot be checked.
    assert_eq!(ask(s.port, "/nofile/o.txt", false), 500);
    s.stop();
    let log = s.error_log();
    assert!(
        log.contains("AuthType configured with no corresponding authorization directives"),
        "{log}"
    );
}
