//! `ErrorDocument` through the real binary and the real Apache with the same site, sections
//! and requests. Rows hand-written from core's manual: a local path is served by internal
//! redirect with the original status (a 401's challenge kept, HEAD without body); a message
//! is the body; a URL is a 302 to it; `default` restores the built-in page; a document that
//! is itself refused gives the built-in page of the original status.

mod common;

use common::*;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

/// `@R@` is the DocumentRoot, `@PW@` the password file.
const DIRECTIVES: &str = r#"
ErrorDocument 404 /docs/404.html
ErrorDocument 403 "Go away, please"
ErrorDocument 405 http://example.com/method
<Directory "@R@/deny">
    Require all denied
</Directory>
<Directory "@R@/sub">
    ErrorDocument 404 default
</Directory>
<Directory "@R@/hidden-docs">
    Require all denied
</Directory>
<Directory "@R@/x">
    ErrorDocument 404 /hidden-docs/404.html
</Directory>
AddHandler cgi-script .cgi
<Directory "@R@/c">
    Options +ExecCGI
    ErrorDocument 404 /c/nf.cgi
</Directory>
<Directory "@R@/priv">
    AuthType Basic
    AuthName "private"
    AuthUserFile "@PW@"
    Require valid-user
    ErrorDocument 401 /docs/401.html
</Directory>
"#;

const DOC_404: &str = "<html><body>our own 404 page</body></html>\n";
const DOC_401: &str = "<html><body>please log in</body></html>\n";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Body {
    /// This text exactly.
    Is(&'static str),
    /// The server's own page: not one of the documents.
    BuiltIn,
    Empty,
}

/// (method, target, status, body, Location, WWW-Authenticate present).
type Row = (
    &'static str,
    &'static str,
    u16,
    Body,
    Option<&'static str>,
    bool,
);

const TABLE: &[Row] = &[
    ("GET", "/a.txt", 200, Body::Is("a\n"), None, false),
    ("GET", "/missing", 404, Body::Is(DOC_404), None, false),
    (
        "GET",
        "/docs/missing?q=1",
        404,
        Body::Is(DOC_404),
        None,
        false,
    ),
    ("HEAD", "/missing", 404, Body::Empty, None, false),
    (
        "GET",
        "/deny/a.txt",
        403,
        Body::Is("Go away, please"),
        None,
        false,
    ),
    (
        "DELETE",
        "/a.txt",
        302,
        Body::BuiltIn,
        Some("http://example.com/method"),
        false,
    ),
    ("GET", "/sub/missing", 404, Body::BuiltIn, None, false),
    // The document is refused itself: the built-in page of the original status.
    ("GET", "/x/missing", 404, Body::BuiltIn, None, false),
    // A program as the document: Apache's REDIRECT_* variables, the original status.
    (
        "GET",
        "/c/missing?x=1",
        404,
        Body::Is("status=404 url=/c/missing query=x=1 method=GET\n"),
        None,
        false,
    ),
    // A refusal (before any identity is chosen): the document, with the challenge.
    ("GET", "/priv/a.txt", 401, Body::Is(DOC_401), None, true),
];

fn make_site(root: &Path) {
    for (f, body) in [
        ("a.txt", "a\n"),
        ("deny/a.txt", "a\n"),
        ("sub/a.txt", "a\n"),
        ("x/a.txt", "a\n"),
        ("priv/a.txt", "a\n"),
        ("docs/404.html", DOC_404),
        ("docs/401.html", DOC_401),
        ("hidden-docs/404.html", "hidden\n"),
    ] {
        let p = root.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    htpasswd_bcrypt(&root.parent().unwrap().join("htpasswd"), &[("alice", "pw")]);
    let nf = root.join("c/nf.cgi");
    std::fs::create_dir_all(root.join("c")).unwrap();
    std::fs::write(
        &nf,
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nstatus=%s url=%s query=%s method=%s\\n' \"$REDIRECT_STATUS\" \"$REDIRECT_URL\" \"$REDIRECT_QUERY_STRING\" \"$REDIRECT_REQUEST_METHOD\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&nf, std::fs::Permissions::from_mode(0o755)).unwrap();
    if is_root() {
        std::os::unix::fs::chown(&nf, Some(65534), None).unwrap();
    }
}

fn directives(root: &Path) -> String {
    DIRECTIVES.replace("@R@", &root.to_string_lossy()).replace(
        "@PW@",
        &root.parent().unwrap().join("htpasswd").to_string_lossy(),
    )
}

/// A chunked body's data (Apache streams a program's output).
fn unchunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..eol]).unwrap_or("0");
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || raw.len() < eol + 4 + size {
            break;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 4 + size..];
    }
    out
}

fn check(who: &str, port: u16) {
    let mut wrong = Vec::new();
    for &(method, target, status, body, location, challenge) in TABLE {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let extra = "\r\n";
        s.write_all(
            format!("{method} {target} HTTP/1.1\r\nHost: t.test\r\nConnection: close\r\n{extra}")
                .as_bytes(),
        )
        .unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let r = parse_resp(&out);
        let mut bad = |m: String| wrong.push(format!("{method} {target}: {m}"));
        if r.status != status {
            bad(format!("status {}, table says {status}", r.status));
        }
        let chunked = r
            .header("Transfer-Encoding")
            .is_some_and(|v| v.contains("chunked"));
        let raw_body = if chunked {
            unchunk(&r.body)
        } else {
            r.body.clone()
        };
        let text = String::from_utf8_lossy(&raw_body).into_owned();
        let ok = match body {
            Body::Is(t) => text == t,
            Body::Empty => text.is_empty(),
            Body::BuiltIn => {
                !text.is_empty() && ![DOC_404, DOC_401, "hidden\n"].contains(&text.as_str())
            }
        };
        if !ok {
            bad(format!("body {text:?}, table says {body:?}"));
        }
        if r.header("Location").as_deref() != location {
            bad(format!(
                "Location {:?}, table says {location:?}",
                r.header("Location")
            ));
        }
        if r.header("WWW-Authenticate").is_some() != challenge {
            bad(format!(
                "WWW-Authenticate {:?}",
                r.header("WWW-Authenticate")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{who} differs from the table:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn error_documents_answer_as_the_table() {
    let dir = site("errordoc");
    let root = dir.join("www/t");
    make_site(&root);
    let conf = BASE_CONF.replacen(
        "<VirtualHost *:80>\n  ServerName default.test",
        "<VirtualHost *:80>\n  ServerName t.test\n  DocumentRoot www/t\n  <Directory www/t>\n    Require all granted\n  </Directory>\n</VirtualHost>\n<VirtualHost *:80>\n  ServerName default.test",
        1,
    );
    let mut s = Server::start(&dir, &format!("{conf}{}", directives(&root)));
    check("oneshot-httpd", s.port);
    s.stop();
}

#[test]
fn the_table_is_apaches() {
    apache::with_apache(
        "errordoc-apache-oracle",
        make_site,
        directives,
        &[
            "auth_basic",
            "authn_core",
            "authn_file",
            "authz_user",
            "cgi",
        ],
        |port| check("apache2", port),
    );
}

/// Reads one response (head plus Content-Length body) from a kept-alive connection.
fn read_one(c: &mut std::net::TcpStream) -> Option<Resp> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = parse_resp(&raw[..end + 4]);
            let len: usize = head
                .header("Content-Length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while raw.len() < end + 4 + len {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => raw.extend_from_slice(&buf[..n]),
                }
            }
            return Some(parse_resp(&raw[..end + 4 + len]));
        }
        match c.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
}

/// I2 for error documents (root: two unix identities in one vhost): a document is served
/// only in the identity the connection already has; one that needs another gives the
/// built-in page. A refusal on a fresh connection serves its document in the document's own
/// admitted identity and closes.
#[test]
fn documents_never_cross_identities() {
    if !is_root() {
        eprintln!("SKIP documents_never_cross_identities: needs root (two unix identities)");
        return;
    }
    let dir = scratch("errordoc-identity");
    let d = dir.display();
    for (f, body) in [
        ("a.txt", "a\n"),
        ("same/404.html", "same-identity 404\n"),
        ("other/404.html", "OTHER-IDENTITY 404\n"),
        ("other/403.html", "OTHER-IDENTITY 403\n"),
        ("a/x.txt", "x\n"),
        ("deny/x.txt", "x\n"),
    ] {
        let p = dir.join("www").join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    std::fs::create_dir_all(dir.join("logs")).unwrap();
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
KeepAlive On
KeepAliveTimeout 5
<VirtualHost *:80>
  ServerName t.test
  DocumentRoot {d}/www
  AssignUserID nobody nogroup
  ErrorDocument 404 /same/404.html
  <Directory {d}/www/other>
    AssignUserID daemon daemon
  </Directory>
  <Directory {d}/www/a>
    ErrorDocument 404 /other/404.html
  </Directory>
  <Directory {d}/www/deny>
    Require all denied
    ErrorDocument 403 /other/403.html
  </Directory>
</VirtualHost>
"
    );
    let mut s = Server::start(&dir, &conf);
    let send = |c: &mut std::net::TcpStream, path: &str| {
        c.write_all(format!("GET {path} HTTP/1.1\r\nHost: t.test\r\n\r\n").as_bytes())
            .unwrap();
        read_one(c)
    };
    let body = |r: &Option<Resp>| {
        r.as_ref()
            .map(|r| (r.status, String::from_utf8_lossy(&r.body).into_owned()))
    };
    // One connection, confined as nobody by its first request.
    let mut c = s.connect();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(body(&send(&mut c, "/a.txt")), Some((200, "a\n".into())));
    assert_eq!(
        body(&send(&mut c, "/missing")),
        Some((404, "same-identity 404\n".into()))
    );
    // The document needs daemon: the built-in page, the connection stays usable.
    let (status, text) = body(&send(&mut c, "/a/missing")).unwrap();
    assert_eq!(status, 404);
    assert!(!text.contains("OTHER-IDENTITY"), "{text}");
    let (status, text) = body(&send(&mut c, "/deny/x.txt")).unwrap();
    assert_eq!(status, 403);
    assert!(!text.contains("OTHER-IDENTITY"), "{text}");
    // A fresh connection refused first: its document in the document's own identity, then
    // the connection closes.
    let mut c = s.connect();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(
        body(&send(&mut c, "/deny/x.txt")),
        Some((403, "OTHER-IDENTITY 403\n".into()))
    );
    assert!(
        send(&mut c, "/a.txt").is_none(),
        "served after the document"
    );
    let log = wait_error_log(&s, |l| {
        l.contains("not admitted in this process's identity")
    });
    assert!(log.contains("ErrorDocument 404 /other/404.html"), "{log}");
    s.stop();
}
