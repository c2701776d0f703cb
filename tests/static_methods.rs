//! Methods other than GET on static content, as Apache 2.4's default handler answers them
//! (issue #14): POST is served as GET (its body drained, never read into anything), PUT,
//! DELETE, PATCH get 405 with `Allow`, OPTIONS gets 200 with `Allow`; a listing
//! (mod_autoindex, GET only) is 404 to POST. The oracle is a hand-written table of Apache's
//! answers, checked against the real apache2 serving the same site with `TraceEnable Off`
//! (this server never answers TRACE), and the same table through the binary.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

/// The directives under test; `@R@` is the DocumentRoot.
const DIRECTIVES: &str = r#"
TraceEnable Off
DirectoryIndex index.html idx.html
<Directory "@R@/list">
    Options +Indexes
</Directory>
<Directory "@R@/own">
    <Files "idx.html">
        Header set X-Own yes
    </Files>
</Directory>
"#;

/// (method, path, status, body for a 200): Apache 2.4's default handler.
const TABLE: &[(&str, &str, u16, Option<&str>)] = &[
    ("GET", "/a.txt", 200, Some("a\n")),
    ("POST", "/a.txt", 200, Some("a\n")),
    ("PUT", "/a.txt", 405, None),
    ("DELETE", "/a.txt", 405, None),
    ("PATCH", "/a.txt", 405, None),
    ("OPTIONS", "/a.txt", 200, None),
    ("POST", "/sub/", 200, Some("sub index\n")),
    ("PUT", "/sub/", 405, None),
    ("POST", "/sub", 301, None),
    // The index has sections of its own: an internal redirect to it.
    ("POST", "/own/", 200, Some("own index\n")),
    ("GET", "/list/", 200, None),
    ("POST", "/list/", 404, None),
    ("DELETE", "/list/", 405, None),
    ("POST", "/missing", 404, None),
    ("PUT", "/missing", 405, None),
    ("OPTIONS", "/missing", 200, None),
];

/// The methods a 405 or an OPTIONS answer names in `Allow` (Apache's order differs).
const ALLOWED: &[&str] = &["GET", "HEAD", "OPTIONS", "POST"];

fn make_site(root: &Path) {
    for (f, text) in [
        ("a.txt", "a\n"),
        ("sub/index.html", "sub index\n"),
        ("own/idx.html", "own index\n"),
        ("list/z.txt", "z\n"),
    ] {
        let p = root.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

fn directives(root: &Path) -> String {
    DIRECTIVES.replace("@R@", &root.to_string_lossy())
}

fn ask(port: u16, method: &str, target: &str) -> Resp {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        format!(
            "{method} {target} HTTP/1.1\r\nHost: t.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\nConnection: close\r\n\r\nq=1&r=2"
        )
        .as_bytes(),
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    parse_resp(&out)
}

fn allow_set(r: &Resp) -> BTreeSet<String> {
    r.header("Allow")
        .unwrap_or_default()
        .split(',')
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect()
}

fn check(who: &str, port: u16) {
    let allowed: BTreeSet<String> = ALLOWED.iter().map(|m| m.to_string()).collect();
    let mut wrong = Vec::new();
    for (method, path, status, body) in TABLE {
        let r = ask(port, method, path);
        if r.status != *status {
            wrong.push(format!(
                "{method} {path}: {}, table says {status}",
                r.status
            ));
            continue;
        }
        if let Some(b) = body {
            if r.body != b.as_bytes() {
                wrong.push(format!(
                    "{method} {path}: body {:?}",
                    String::from_utf8_lossy(&r.body)
                ));
            }
        }
        if (*status == 405 || *method == "OPTIONS") && allow_set(&r) != allowed {
            wrong.push(format!("{method} {path}: Allow {:?}", r.header("Allow")));
        }
    }
    assert!(
        wrong.is_empty(),
        "{who} differs from the table:\n{}",
        wrong.join("\n")
    );
}

fn start() -> Server {
    let dir = site("static-methods");
    let root = dir.join("www/t");
    make_site(&root);
    let conf = BASE_CONF.replacen(
        "<VirtualHost *:80>\n  ServerName default.test",
        "<VirtualHost *:80>\n  ServerName t.test\n  DocumentRoot www/t\n  <Directory www/t>\n    Require all granted\n  </Directory>\n</VirtualHost>\n<VirtualHost *:80>\n  ServerName default.test",
        1,
    );
    Server::start(&dir, &format!("{conf}{}", directives(&root)))
}

#[test]
fn static_methods_answer_as_the_table() {
    let mut s = start();
    check("oneshot-httpd", s.port);
    s.stop();
}

/// The table is Apache's: the real server, same site, same directives.
#[test]
fn the_table_is_apaches() {
    apache::with_apache(
        "static-methods-apache",
        make_site,
        directives,
        &["autoindex", "headers"],
        |port| check("apache2", port),
    );
}

/// A POST's body is drained, not taken for the next request: on one keep-alive connection a
/// POST to a file, a POST to a directory whose index is reached by internal redirect, and a
/// chunked POST are each followed by a GET that gets its own answer.
#[test]
fn a_posted_body_never_becomes_the_next_request() {
    let mut s = start();
    let mut c = s.connect();
    let smuggled = "GET /a.txt HTTP/1.1\r\nHost: t.test\r\n\r\n";
    let posts = [
        format!(
            "POST /a.txt HTTP/1.1\r\nHost: t.test\r\nContent-Length: {}\r\n\r\n{smuggled}",
            smuggled.len()
        ),
        format!(
            "POST /own/ HTTP/1.1\r\nHost: t.test\r\nContent-Length: {}\r\n\r\n{smuggled}",
            smuggled.len()
        ),
        format!(
            "POST /a.txt HTTP/1.1\r\nHost: t.test\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{smuggled}\r\n0\r\n\r\n",
            smuggled.len()
        ),
    ];
    let mut sent = String::new();
    for p in &posts {
        sent.push_str(p);
        sent.push_str("GET /sub/ HTTP/1.1\r\nHost: t.test\r\n\r\n");
    }
    sent.push_str("GET /missing HTTP/1.1\r\nHost: t.test\r\nConnection: close\r\n\r\n");
    c.write_all(sent.as_bytes()).unwrap();
    let out = read_all(&mut c);
    assert_eq!(
        statuses(&out),
        vec![200, 200, 200, 200, 200, 200, 404],
        "{}",
        String::from_utf8_lossy(&out)
    );
    let text = String::from_utf8_lossy(&out);
    assert_eq!(text.matches("sub index\n").count(), 3, "{text}");
    assert_eq!(text.matches("own index\n").count(), 1, "{text}");
    assert_eq!(text.matches("\r\n\r\na\n").count(), 2, "{text}");
    s.stop();
}
