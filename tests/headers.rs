//! mod_headers' `Header` through the real binary, against a hand-written table of Apache
//! 2.4's answers (the mod_headers manual: `onsuccess`, the default, acts on the handler's
//! fields; `always` on every response, errors included, and on a table of its own, sent first, so a field
//! set both ways is sent twice (the `always` value first); `append`/`merge` join with ", ", `merge` not when the value
//! is there already; rules merge down the sections), and the same table checked against the
//! real Apache serving the same site.

mod common;

use common::*;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

/// The directives under test; `@R@` is the DocumentRoot.
const DIRECTIVES: &str = r#"
Header set X-Frame-Options DENY
Header always set X-Always yes
Header set X-Both on
Header always set X-Both always
Header set Cache-Control "max-age=60"
<Directory "@R@/sub">
    Header unset X-Frame-Options
    Header append X-Sub one
    Header append X-Sub two
    Header merge X-Sub one
    Header merge Cache-Control public
    Header merge Cache-Control public
</Directory>
<Files "b.txt">
    Header setifempty X-Frame-Options SAMEORIGIN
    Header add X-Add 1
    Header add X-Add 2
    Header always unset X-Always
</Files>
<Directory "@R@/deny">
    Require all denied
</Directory>
"#;

const FIELDS: &[&str] = &[
    "X-Frame-Options",
    "X-Always",
    "X-Both",
    "X-Sub",
    "Cache-Control",
    "X-Add",
];

/// (target, If-None-Match the ETag, status, every value of each of FIELDS in order).
type Row = (
    &'static str,
    bool,
    u16,
    &'static [(&'static str, &'static [&'static str])],
);

const TABLE: &[Row] = &[
    (
        "/a.txt",
        false,
        200,
        &[
            ("X-Frame-Options", &["DENY"]),
            ("X-Always", &["yes"]),
            ("X-Both", &["always", "on"]),
            ("Cache-Control", &["max-age=60"]),
        ],
    ),
    // A 304 is the handler's answer: onsuccess rules act.
    (
        "/a.txt",
        true,
        304,
        &[
            ("X-Frame-Options", &["DENY"]),
            ("X-Always", &["yes"]),
            ("X-Both", &["always", "on"]),
            ("Cache-Control", &["max-age=60"]),
        ],
    ),
    // Error pages: only always rules.
    (
        "/missing.txt",
        false,
        404,
        &[("X-Always", &["yes"]), ("X-Both", &["always"])],
    ),
    (
        "/deny/a.txt",
        false,
        403,
        &[("X-Always", &["yes"]), ("X-Both", &["always"])],
    ),
    // The trailing-slash redirect is generated too.
    (
        "/sub",
        false,
        301,
        &[("X-Always", &["yes"]), ("X-Both", &["always"])],
    ),
    (
        "/sub/a.txt",
        false,
        200,
        &[
            ("X-Always", &["yes"]),
            ("X-Both", &["always", "on"]),
            ("X-Sub", &["one, two"]),
            ("Cache-Control", &["max-age=60, public"]),
        ],
    ),
    (
        "/b.txt",
        false,
        200,
        &[
            ("X-Frame-Options", &["DENY"]),
            ("X-Both", &["always", "on"]),
            ("Cache-Control", &["max-age=60"]),
            ("X-Add", &["1", "2"]),
        ],
    ),
    (
        "/sub/b.txt",
        false,
        200,
        &[
            ("X-Frame-Options", &["SAMEORIGIN"]),
            ("X-Both", &["always", "on"]),
            ("X-Sub", &["one, two"]),
            ("Cache-Control", &["max-age=60, public"]),
            ("X-Add", &["1", "2"]),
        ],
    ),
];

fn make_site(root: &Path) {
    for f in ["a.txt", "b.txt", "sub/a.txt", "sub/b.txt", "deny/a.txt"] {
        let p = root.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, format!("{f}\n")).unwrap();
    }
}

fn directives(root: &Path) -> String {
    DIRECTIVES.replace("@R@", &root.to_string_lossy())
}

/// Status and the raw head's lines.
fn ask(port: u16, target: &str, inm: Option<&str>) -> (u16, Vec<(String, String)>) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let extra = inm
        .map(|e| format!("If-None-Match: {e}\r\n"))
        .unwrap_or_default();
    s.write_all(
        format!("GET {target} HTTP/1.1\r\nHost: t.test\r\n{extra}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let fields = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_string(), v.trim().to_string()))
        .collect();
    (status, fields)
}

fn check(who: &str, port: u16) {
    let mut wrong = Vec::new();
    for (target, conditional, status, want) in TABLE {
        let inm = if *conditional {
            let (_, f) = ask(port, target, None);
            f.into_iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("etag"))
                .map(|(_, v)| v)
        } else {
            None
        };
        let (got_status, fields) = ask(port, target, inm.as_deref());
        if got_status != *status {
            wrong.push(format!("{target}: {got_status}, table says {status}"));
        }
        for name in FIELDS {
            let got: Vec<&str> = fields
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .collect();
            let expect: &[&str] = want
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| *v)
                .unwrap_or(&[]);
            if got != expect {
                wrong.push(format!(
                    "{target} ({status}): {name} {got:?}, table says {expect:?}"
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
fn headers_answer_as_the_table() {
    let dir = site("headers");
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

#[test]
fn the_table_is_apaches() {
    apache::with_apache(
        "headers-apache-oracle",
        make_site,
        directives,
        &["headers"],
        |port| check("apache2", port),
    );
}

#[test]
fn configuration_errors_and_warnings_name_file_and_line() {
    let dir = site("headers-errors");
    let run = |line: &str| {
        std::fs::write(
            dir.join("httpd.conf"),
            format!("Listen 127.0.0.1:8\n{BASE_CONF}{line}\n"),
        )
        .unwrap();
        config_test(&dir.join("httpd.conf"), &[])
    };
    for (line, want) in [
        ("Header set Content-Length 5", "framing or hop-by-hop"),
        (
            "Header always set Transfer-Encoding chunked",
            "framing or hop-by-hop",
        ),
        ("Header unset Connection", "framing or hop-by-hop"),
        ("Header set X-T \"%t\"", "format specifiers"),
        ("Header edit X-T a b", "not implemented"),
        ("Header set X-T v env=HTTPS", "not implemented"),
        ("Header set X-T expr=%{REQUEST_URI}", "expr="),
    ] {
        let (ok, err) = run(line);
        assert!(!ok, "{line}: accepted");
        assert!(
            err.contains("httpd.conf:27:") && err.contains(want),
            "{line}: {err}"
        );
    }
    let (ok, err) = run("Header set Server x");
    assert!(
        ok && err.contains("httpd.conf:27:") && err.contains("has no effect"),
        "{err}"
    );
}
