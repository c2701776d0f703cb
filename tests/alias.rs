//! mod_alias (`Alias`, `AliasMatch`, `Redirect`, `RedirectMatch`, `RedirectPermanent`,
//! `RedirectTemp`) through the real binary, against a hand-written table of Apache 2.4's
//! answers (modules/mappers/mod_alias.c and the mod_alias manual: every Redirect before any
//! Alias, first match in order, a plain URL-path matched on a segment boundary and a trailing
//! `/` required when written, the rest of the URL appended, `$N` substitution, a local
//! redirect target made absolute on the request's Host, the query string appended unless the
//! target has one), and the same table checked against the real Apache serving the same site.
//!
//! Alias targets go through the same `<Directory>`/`<Files>` sections and the `.ht*` rule as
//! DocumentRoot paths, and Landlock grants each vhost its own Alias targets and only those.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The directives under test; `@A@` is a directory outside every DocumentRoot.
const ALIASES: &str = r#"
Redirect /icons/old.png /new.png
Alias /icons/ "@A@/icons/"
Alias /fav.ico "@A@/f.ico"
Alias /docs "@A@/docs"
AliasMatch "^/img/(.+)\.jpg$" "@A@/pics/$1.jpeg"
Redirect /old http://other.test/new
Redirect permanent /perm /moved
RedirectMatch seeother "^/m/(.*)\.html$" "/n/$1.htm"
Redirect gone /gone
RedirectTemp /tmp2 http://other.test/t
RedirectPermanent /p2 /q2
Redirect 308 /r308 /t308
RedirectMatch "^/q$" "/elsewhere?fixed=1"
<Directory "@A@">
    Require all granted
</Directory>
<Directory "@A@/docs/private">
    Require all denied
</Directory>
<Files "deny.txt">
    Require all denied
</Files>
<Files ".ht*">
    Require all denied
</Files>
"#;

/// (request target, status, Location for mod_alias's redirects, body for a 200): Apache 2.4.
const TABLE: &[(&str, u16, Option<&str>, Option<&str>)] = &[
    ("/icons/a.png", 200, None, Some("icons/a.png\n")),
    // `Alias /icons/` needs the slash: `/icons` is the DocumentRoot's (which has none).
    ("/icons", 404, None, None),
    ("/icons/", 200, None, Some("icons/index.html\n")),
    // Every Redirect is tried before any Alias, whatever the order in the file.
    ("/icons/old.png", 302, Some("http://t.test/new.png"), None),
    ("/fav.ico", 200, None, Some("f.ico\n")),
    ("/fav.icox", 404, None, None),
    ("/docs/", 200, None, Some("docs/index.html\n")),
    ("/docs/a.txt", 200, None, Some("docs/a.txt\n")),
    // The decoded, normalized URL is what matches.
    ("/%64ocs/a.txt", 200, None, Some("docs/a.txt\n")),
    ("//docs//a.txt", 200, None, Some("docs/a.txt\n")),
    ("/x/../docs/a.txt", 200, None, Some("docs/a.txt\n")),
    ("/docsx/a.txt", 404, None, None),
    // The target's sections and the `.ht*` rule apply.
    ("/docs/private/x.txt", 403, None, None),
    ("/docs/deny.txt", 403, None, None),
    ("/docs/.htpasswd", 403, None, None),
    ("/img/a.jpg", 200, None, Some("pics/a.jpeg\n")),
    ("/img/sub/b.jpg", 200, None, Some("pics/sub/b.jpeg\n")),
    ("/img/a.png", 404, None, None),
    ("/old", 302, Some("http://other.test/new"), None),
    ("/old/x?q=1", 302, Some("http://other.test/new/x?q=1"), None),
    ("/oldx", 404, None, None),
    ("/perm/a%20b", 301, Some("http://t.test/moved/a%20b"), None),
    ("/m/x.html", 303, Some("http://t.test/n/x.htm"), None),
    ("/gone/y", 410, None, None),
    ("/tmp2", 302, Some("http://other.test/t"), None),
    ("/p2", 301, Some("http://t.test/q2"), None),
    ("/r308", 308, Some("http://t.test/t308"), None),
    // The target's own query string wins over the request's.
    ("/q?x=2", 302, Some("http://t.test/elsewhere?fixed=1"), None),
    ("/index.html", 200, None, Some("root index\n")),
];

fn make_site(root: &Path, a: &Path) {
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(root.join("index.html"), "root index\n").unwrap();
    for d in ["icons", "docs/private", "pics/sub"] {
        std::fs::create_dir_all(a.join(d)).unwrap();
    }
    for f in [
        "icons/a.png",
        "icons/index.html",
        "f.ico",
        "docs/index.html",
        "docs/a.txt",
        "docs/deny.txt",
        "docs/.htpasswd",
        "docs/private/x.txt",
        "pics/a.jpeg",
        "pics/sub/b.jpeg",
    ] {
        std::fs::write(a.join(f), format!("{f}\n")).unwrap();
    }
}

fn aliases(a: &Path) -> String {
    ALIASES.replace("@A@", &a.to_string_lossy())
}

fn ask(port: u16, target: &str) -> Resp {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        format!("GET {target} HTTP/1.1\r\nHost: t.test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    parse_resp(&out)
}

fn check(who: &str, port: u16) {
    let mut wrong = Vec::new();
    for (target, status, location, body) in TABLE {
        let r = ask(port, target);
        if r.status != *status {
            wrong.push(format!("{target}: {}, table says {status}", r.status));
            continue;
        }
        if let Some(l) = location {
            if r.header("Location").as_deref() != Some(l) {
                wrong.push(format!(
                    "{target}: Location {:?}, table says {l}",
                    r.header("Location")
                ));
            }
        }
        if let Some(b) = body {
            if r.body != b.as_bytes() {
                wrong.push(format!(
                    "{target}: body {:?}, table says {b:?}",
                    String::from_utf8_lossy(&r.body)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{who} differs from the table:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn aliases_and_redirects_answer_as_the_table() {
    let dir = site("alias");
    let a = dir.join("elsewhere");
    make_site(&dir.join("www/t"), &a);
    let conf = BASE_CONF.replacen(
        "<VirtualHost *:80>\n  ServerName default.test",
        "<VirtualHost *:80>\n  ServerName t.test\n  DocumentRoot www/t\n  <Directory www/t>\n    Require all granted\n  </Directory>\n</VirtualHost>\n<VirtualHost *:80>\n  ServerName default.test",
        1,
    );
    let conf = format!("{conf}{}", aliases(&a));
    let mut s = Server::start(&dir, &conf);
    check("oneshot-httpd", s.port);
    s.stop();
}

/// Landlock grants a vhost its own Alias targets and nothing else: bob's symlink into alice's
/// Alias target (FollowSymLinks is on by default) is refused by the kernel, while alice's
/// Alias serves the same file.
#[test]
fn landlock_grants_each_vhost_its_own_alias_targets() {
    let dir = site("alias-landlock");
    let a = dir.join("alice-extra");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::write(a.join("f.txt"), "alice extra\n").unwrap();
    std::os::unix::fs::symlink(a.join("f.txt"), dir.join("www/bob/link.txt")).unwrap();
    std::fs::write(dir.join("www/bob/own.txt"), "bob own\n").unwrap();
    std::os::unix::fs::symlink(dir.join("www/bob/own.txt"), dir.join("www/bob/ownlink.txt"))
        .unwrap();
    let conf = BASE_CONF.replacen(
        "  ServerName alice.test\n  DocumentRoot www/alice\n",
        &format!(
            "  ServerName alice.test\n  DocumentRoot www/alice\n  Alias /extra/ {}/\n",
            a.display()
        ),
        1,
    );
    let mut s = Server::start(&dir, &conf);
    let r = s.get("alice.test", "/extra/f.txt");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"alice extra\n"[..]));
    // The control: a symlink inside bob's own tree is followed.
    assert_eq!(s.get("bob.test", "/ownlink.txt").status, 200);
    assert_eq!(s.get("bob.test", "/link.txt").status, 403);
    // And bob has no /extra/ at all.
    assert_eq!(s.get("bob.test", "/extra/f.txt").status, 404);
    s.stop();
}

#[test]
fn configuration_errors_name_file_and_line() {
    let dir = site("alias-errors");
    for (line, want) in [
        ("Alias /d/ /srv/d", "end both or neither with '/'"),
        ("Alias d /srv/d", "must start with '/'"),
        ("AliasMatch ^/(?=x) /srv/$1", "not a regular expression"),
        ("Redirect /a b", "redirect to a non-URL"),
        ("Redirect gone /a http://x/", "not valid for status 410"),
        ("Redirect permanent /a", "the URL to redirect to is missing"),
        ("RedirectPermanent /a", "takes 2 argument(s)"),
        (
            "<Location /x>\nRedirect /a /b\n</Location>",
            "httpd.conf:28: Redirect is not allowed in <Location>",
        ),
    ] {
        std::fs::write(
            dir.join("httpd.conf"),
            format!("Listen 127.0.0.1:8\n{BASE_CONF}{line}\n"),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_oneshot-httpd"))
            .arg("-t")
            .arg("-f")
            .arg(dir.join("httpd.conf"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{line}: accepted");
        assert!(
            (err.contains("httpd.conf:27:") || want.contains(":28:")) && err.contains(want),
            "{line}: {err}"
        );
    }
}

/// The table is Apache's: the real server, same site, same directives.
#[test]
fn the_table_is_apaches() {
    // The Alias targets live beside the DocumentRoot, outside it.
    let elsewhere = |root: &Path| root.parent().unwrap().join("elsewhere");
    apache::with_apache(
        "alias-apache-oracle",
        |root| make_site(root, &elsewhere(root)),
        |root| aliases(&elsewhere(root)),
        &["alias"],
        |port| check("apache2", port),
    );
}
