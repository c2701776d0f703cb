//! mod_mime and core's type directives (`TypesConfig`, `AddType`, `AddCharset`,
//! `AddDefaultCharset`, `ForceType`, `DefaultType`) through the real binary, against a
//! hand-written table of Apache 2.4's answers (the mod_mime manual: every extension counts
//! and the last known one wins, AddType beats TypesConfig, ForceType replaces the type and
//! `ForceType None` cancels it; core: AddDefaultCharset is Off by default and applies to
//! text/plain and text/html only; charset names from AddCharset and
//! `AddDefaultCharset On` are lower case, a named default charset is kept as written; no DefaultType: an unknown file has no Content-Type), and
//! the same table checked against the real Apache serving the same site.

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

/// The directives under test; `@R@` is the DocumentRoot.
const DIRECTIVES: &str = r#"
AddType text/x-foo .foo
AddType Application/X-Mine html2
AddCharset UTF-8 .utf8
<Directory "@R@/latin">
    AddDefaultCharset On
</Directory>
<Directory "@R@/koi">
    AddDefaultCharset KOI8-R
</Directory>
<Files "forced.*">
    ForceType image/gif
</Files>
<Directory "@R@/none">
    ForceType text/plain
    <Files "x.png">
        ForceType None
    </Files>
</Directory>
"#;

/// (file, Content-Type): Apache 2.4 with Debian's /etc/mime.types.
const TABLE: &[(&str, Option<&str>)] = &[
    ("a.html", Some("text/html")),
    ("a.txt", Some("text/plain")),
    ("a.css", Some("text/css")),
    ("a.png", Some("image/png")),
    ("a.tar.gz", Some("application/gzip")),
    // Unknown extensions are skipped, the last known one wins.
    ("a.html.zzz", Some("text/html")),
    ("a.html.bak", Some("application/x-trash")),
    ("noext", None),
    ("a.zzz", None),
    ("a.foo", Some("text/x-foo")),
    ("a.html2", Some("application/x-mine")),
    ("a.txt.utf8", Some("text/plain; charset=utf-8")),
    ("latin/a.html", Some("text/html; charset=iso-8859-1")),
    ("latin/a.css", Some("text/css")),
    ("koi/a.txt", Some("text/plain; charset=KOI8-R")),
    ("forced.txt", Some("image/gif")),
    ("none/a.html", Some("text/plain")),
    ("none/x.png", Some("image/png")),
];

fn make_site(root: &Path) {
    for (f, _) in TABLE {
        let p = root.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, format!("{f}\n")).unwrap();
    }
}

fn directives(root: &Path) -> String {
    DIRECTIVES.replace("@R@", &root.to_string_lossy())
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
    for (file, ty) in TABLE {
        let r = ask(port, &format!("/{file}"));
        let got = r.header("Content-Type");
        if r.status != 200 || got.as_deref() != *ty {
            wrong.push(format!("/{file}: {} {got:?}, table says {ty:?}", r.status));
        }
    }
    assert!(
        wrong.is_empty(),
        "{who} differs from the table:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn content_types_answer_as_the_table() {
    let dir = site("mime");
    let root = dir.join("www/t");
    make_site(&root);
    let conf = BASE_CONF.replacen(
        "<VirtualHost *:80>\n  ServerName default.test",
        "<VirtualHost *:80>\n  ServerName t.test\n  DocumentRoot www/t\n  <Directory www/t>\n    Require all granted\n  </Directory>\n</VirtualHost>\n<VirtualHost *:80>\n  ServerName default.test",
        1,
    );
    let conf = format!("{conf}{}", directives(&root));
    let mut s = Server::start(&dir, &conf);
    check("oneshot-httpd", s.port);
    s.stop();
}

fn check_conf(dir: &Path, extra: &str) -> (bool, String) {
    std::fs::write(
        dir.join("httpd.conf"),
        format!("Listen 127.0.0.1:8\n{BASE_CONF}{extra}\n"),
    )
    .unwrap();
    config_test(&dir.join("httpd.conf"), &[])
}

#[test]
fn configuration_errors_and_warnings_name_file_and_line() {
    let dir = site("mime-errors");
    for (line, want) in [
        ("AddType html .html", "not a media type"),
        ("AddType text/html a/b", "not a file name extension"),
        ("AddCharset utf-8 .x/y", "not a file name extension"),
        ("AddDefaultCharset \"a b\"", "not On, Off or a charset name"),
        (
            "TypesConfig /nonexistent/mime.types",
            "cannot read /nonexistent/mime.types",
        ),
        ("ForceType text/plain", "not allowed"),
    ] {
        let (ok, err) = check_conf(&dir, line);
        assert!(!ok, "{line}: accepted");
        assert!(
            err.contains("httpd.conf:27:") && err.contains(want),
            "{line}: {err}"
        );
    }
    let (ok, err) = check_conf(&dir, "DefaultType text/plain");
    assert!(
        ok && err.contains("httpd.conf:27:") && err.contains("DefaultType has no effect"),
        "{err}"
    );
    let (ok, err) = check_conf(&dir, "DefaultType None");
    assert!(ok && !err.contains("DefaultType"), "{err}");
}

/// The table is Apache's: the real server, same site, same directives.
#[test]
fn the_table_is_apaches() {
    apache::with_apache("mime-apache-oracle", make_site, directives, &[], |port| {
        check("apache2", port)
    });
}
