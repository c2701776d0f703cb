//! The response-side directives through the real binary and the real Apache, with the same
//! site, configuration and requests: mod_deflate (`AddOutputFilterByType`, `SetOutputFilter`,
//! `AddOutputFilter`, `DeflateCompressionLevel`), mod_expires (`ExpiresActive`,
//! `ExpiresByType`, `ExpiresDefault`) and `FileETag`. Each row is hand-written from the
//! modules' manuals (mod_deflate: `Vary: Accept-Encoding` on every response the filter
//! considers, gzip only when Accept-Encoding names it without q=0, never a 204, a response
//! already encoded or a tiny one, the ETag suffixed `-gzip`; mod_expires: `Expires` and
//! `Cache-Control: max-age` from the type's code, then `type/*`, then the default, never on
//! errors; core: `FileETag`'s components in ap_make_etag's order, inode-size-mtime in hex).
//! Compressed bodies are decoded with flate2's decoder and compared with the files.

mod common;

use common::*;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// The directives under test; `@R@` is the DocumentRoot.
const DIRECTIVES: &str = r#"
DeflateCompressionLevel 9
AddOutputFilterByType DEFLATE text/html text/plain
ExpiresActive On
ExpiresByType text/html "access plus 1 month"
ExpiresByType image/* A3600
ExpiresDefault "modification plus 2 hours"
<Directory "@R@/ext">
    AddOutputFilter DEFLATE js
</Directory>
<Directory "@R@/all">
    SetOutputFilter DEFLATE
</Directory>
<Directory "@R@/etag">
    FileETag None
    ExpiresActive Off
</Directory>
<Directory "@R@/etag/size">
    FileETag +Size
</Directory>
<Directory "@R@/etag/all">
    FileETag All
</Directory>
<Directory "@R@/etag/all/sub">
    FileETag -INode
</Directory>
"#;

/// The ETag a row expects, computed from the file as ap_make_etag writes it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tag {
    Absent,
    /// `"size-mtime"` (Apache 2.4's default, MTime Size).
    Default,
    /// The default with mod_deflate's `-gzip` suffix.
    Gzip,
    /// `"inode-size-mtime"`.
    All,
    /// `"size"`.
    Size,
}

/// `max-age` (and `Expires` that far after `Date`): none, exactly, or within 10 s below
/// (a modification-time code, counted from the file's time).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Age {
    None,
    Exactly(u64),
    About(u64),
}

struct Row {
    target: &'static str,
    method: &'static str,
    accept_encoding: Option<&'static str>,
    /// Send the ETag the same request got without conditions as If-None-Match.
    conditional: bool,
    /// A `Range` header; such rows are oneshot-httpd's own (Apache differs, see
    /// [`apache_compresses_ranges`]).
    range: Option<&'static str>,
    status: u16,
    gzip: bool,
    vary: bool,
    tag: Tag,
    age: Age,
}

const fn get(target: &'static str, ae: Option<&'static str>) -> Row {
    Row {
        target,
        method: "GET",
        accept_encoding: ae,
        conditional: false,
        range: None,
        status: 200,
        gzip: false,
        vary: false,
        tag: Tag::Default,
        age: Age::None,
    }
}

const GZ: Option<&str> = Some("gzip, deflate");
/// mod_expires' "access plus 1 month" and "modification plus 2 hours" (files are 100 s old).
const MONTH: Age = Age::Exactly(30 * 86400);
const TWO_HOURS: Age = Age::About(7200 - 100);

const TABLE: &[Row] = &[
    Row {
        gzip: true,
        vary: true,
        tag: Tag::Gzip,
        age: MONTH,
        ..get("/page.html", GZ)
    },
    // Considered, not compressed: Vary all the same.
    Row {
        vary: true,
        age: MONTH,
        ..get("/page.html", None)
    },
    Row {
        vary: true,
        age: MONTH,
        ..get("/page.html", Some("br"))
    },
    Row {
        vary: true,
        age: MONTH,
        ..get("/page.html", Some("gzip;q=0"))
    },
    Row {
        vary: true,
        age: MONTH,
        ..get("/page.html", Some("deflate, gzip; q=0.000"))
    },
    Row {
        gzip: true,
        vary: true,
        tag: Tag::Gzip,
        age: MONTH,
        ..get("/page.html", Some("deflate, GZIP;q=0.5"))
    },
    Row {
        vary: true,
        age: MONTH,
        ..get("/page.html", Some("x-gzip"))
    },
    // HEAD: the same fields, no body.
    Row {
        method: "HEAD",
        gzip: true,
        vary: true,
        tag: Tag::Gzip,
        age: MONTH,
        ..get("/page.html", GZ)
    },
    // The plain ETag still validates: 304, which has no body to compress.
    Row {
        conditional: true,
        status: 304,
        age: MONTH,
        ..get("/page.html", None)
    },
    // The -gzip ETag does not match the file's: the page again, compressed.
    Row {
        conditional: true,
        gzip: true,
        vary: true,
        tag: Tag::Gzip,
        age: MONTH,
        ..get("/page.html", GZ)
    },
    // 68 bytes or less: left alone, no Vary.
    Row {
        age: MONTH,
        ..get("/tiny.html", GZ)
    },
    Row {
        age: Age::Exactly(3600),
        ..get("/img.png", GZ)
    },
    Row {
        gzip: true,
        vary: true,
        tag: Tag::Gzip,
        age: TWO_HOURS,
        ..get("/a.txt", GZ)
    },
    Row {
        gzip: true,
        vary: true,
        tag: Tag::Gzip,
        age: TWO_HOURS,
        ..get("/ext/app.js", GZ)
    },
    Row {
        age: TWO_HOURS,
        ..get("/app.js", GZ)
    },
    Row {
        gzip: true,
        vary: true,
        tag: Tag::Gzip,
        age: Age::Exactly(3600),
        ..get("/all/x.png", GZ)
    },
    Row {
        status: 404,
        tag: Tag::Absent,
        ..get("/missing.html", GZ)
    },
    Row {
        tag: Tag::Absent,
        ..get("/etag/a.bin", GZ)
    },
    Row {
        range: Some("bytes=0-99"),
        status: 206,
        age: MONTH,
        ..get("/page.html", GZ)
    },
    // `+Size` under None: None goes once something is added (core's merge).
    Row {
        tag: Tag::Size,
        ..get("/etag/size/a.bin", GZ)
    },
    Row {
        tag: Tag::All,
        ..get("/etag/all/a.bin", GZ)
    },
    Row {
        tag: Tag::Default,
        ..get("/etag/all/sub/a.bin", GZ)
    },
];

/// Every file of the site, with its content; their times are set 100 s in the past.
fn files() -> Vec<(&'static str, Vec<u8>)> {
    let mut page = String::from("<!DOCTYPE html>\n<html><head><title>t</title></head><body>\n");
    let mut i = 0;
    while page.len() < 30 * 1024 {
        page.push_str(&format!(
            "<p class=\"row\">Paragraph {i}: the quick brown fox jumps over the lazy dog.</p>\n"
        ));
        i += 1;
    }
    page.push_str("</body></html>\n");
    let text = "plain text, long enough to be worth compressing. ".repeat(20);
    let binary: Vec<u8> = (0..2000u32).map(|i| (i * 7 % 251) as u8).collect();
    vec![
        ("page.html", page.into_bytes()),
        ("tiny.html", b"<p>tiny</p>\n".to_vec()),
        ("img.png", binary.clone()),
        ("a.txt", text.clone().into_bytes()),
        ("ext/app.js", text.clone().into_bytes()),
        ("app.js", text.into_bytes()),
        ("all/x.png", binary.clone()),
        ("etag/a.bin", binary.clone()),
        ("etag/size/a.bin", binary.clone()),
        ("etag/all/a.bin", binary.clone()),
        ("etag/all/sub/a.bin", binary),
    ]
}

fn make_site(root: &Path) {
    let past = SystemTime::now() - Duration::from_secs(100);
    for (f, content) in files() {
        let p = root.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(past)
            .unwrap();
    }
}

fn directives(root: &Path) -> String {
    DIRECTIVES.replace("@R@", &root.to_string_lossy())
}

struct Answer {
    status: u16,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn all(&self, name: &str) -> Vec<&str> {
        (self.fields.iter())
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn one(&self, name: &str) -> Option<&str> {
        self.all(name).first().copied()
    }
}

/// A chunked body's data (Apache streams larger compressed bodies).
fn unchunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = std::str::from_utf8(&raw[..eol]).unwrap_or("0");
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 2 + size + 2..];
    }
}

fn ask(port: u16, method: &str, target: &str, extra: &str) -> Answer {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        format!("{method} {target} HTTP/1.1\r\nHost: t.test\r\n{extra}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(out.len());
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let rest = out.get(split + 4..).unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let fields: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_string(), v.trim().to_string()))
        .collect();
    let chunked = fields
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        unchunk(rest)
    } else {
        rest.to_vec()
    };
    Answer {
        status,
        fields,
        body,
    }
}

fn expected_tag(tag: Tag, file: &Path) -> Option<String> {
    let m = std::fs::metadata(file).ok()?;
    let mtime = m.mtime() as u64 * 1_000_000 + m.mtime_nsec() as u64 / 1000;
    let (size, inode) = (m.size(), m.ino());
    match tag {
        Tag::Absent => None,
        Tag::Default => Some(format!("\"{size:x}-{mtime:x}\"")),
        Tag::Gzip => Some(format!("\"{size:x}-{mtime:x}-gzip\"")),
        Tag::All => Some(format!("\"{inode:x}-{size:x}-{mtime:x}\"")),
        Tag::Size => Some(format!("\"{size:x}\"")),
    }
}

fn check_row(row: &Row, root: &Path, port: u16, wrong: &mut Vec<String>) {
    let mut extra = String::new();
    if let Some(ae) = row.accept_encoding {
        extra.push_str(&format!("Accept-Encoding: {ae}\r\n"));
    }
    if let Some(r) = row.range {
        extra.push_str(&format!("Range: {r}\r\n"));
    }
    if row.conditional {
        let plain = ask(port, "GET", row.target, "");
        let tag = plain.one("ETag").unwrap_or("\"none\"").to_string();
        // The row with gzip asks with the compressed variant's tag.
        let tag = if row.gzip {
            tag.replacen("\"", "", 2)
        } else {
            tag
        };
        let tag = if row.gzip {
            format!("\"{tag}-gzip\"")
        } else {
            tag
        };
        extra.push_str(&format!("If-None-Match: {tag}\r\n"));
    }
    let a = ask(port, row.method, row.target, &extra);
    let what = format!(
        "{} {} [{}]",
        row.method,
        row.target,
        extra.replace("\r\n", "; ")
    );
    let mut bad = |m: String| wrong.push(format!("{what}: {m}"));
    if a.status != row.status {
        bad(format!("status {}, table says {}", a.status, row.status));
    }
    let ce = a.one("Content-Encoding");
    if ce.is_some() != row.gzip || ce.is_some_and(|c| c != "gzip") {
        bad(format!(
            "Content-Encoding {ce:?}, table says gzip={}",
            row.gzip
        ));
    }
    let vary = a.all("Vary");
    let want_vary: &[&str] = if row.vary { &["Accept-Encoding"] } else { &[] };
    if vary != want_vary {
        bad(format!("Vary {vary:?}, table says {want_vary:?}"));
    }
    let file = root.join(row.target.trim_start_matches('/'));
    let want_tag = expected_tag(row.tag, &file);
    if a.one("ETag").map(String::from) != want_tag {
        bad(format!("ETag {:?}, table says {want_tag:?}", a.one("ETag")));
    }
    check_age(&a, row.age, &mut bad);
    if row.status == 200 && row.method == "GET" {
        let body = if row.gzip {
            let mut out = Vec::new();
            match flate2::read::GzDecoder::new(&a.body[..]).read_to_end(&mut out) {
                Ok(_) => out,
                Err(e) => {
                    bad(format!("the body is not gzip: {e}"));
                    return;
                }
            }
        } else {
            a.body.clone()
        };
        if body != std::fs::read(&file).unwrap_or_default() {
            bad(format!(
                "the decoded body ({} bytes) is not the file",
                body.len()
            ));
        }
    }
    if row.method == "HEAD" && !a.body.is_empty() {
        bad(format!("HEAD has a body of {} bytes", a.body.len()));
    }
}

fn check_age(a: &Answer, age: Age, bad: &mut impl FnMut(String)) {
    let cc = a.all("Cache-Control");
    let got = cc
        .first()
        .and_then(|v| v.strip_prefix("max-age="))
        .and_then(|v| v.parse::<u64>().ok());
    let expires = a
        .one("Expires")
        .and_then(|e| httpdate::parse_http_date(e).ok());
    let date = a
        .one("Date")
        .and_then(|e| httpdate::parse_http_date(e).ok());
    match (age, got) {
        (Age::None, None) if expires.is_none() => return,
        (Age::Exactly(n), Some(g)) if g == n => {}
        (Age::About(n), Some(g)) if g <= n && g + 10 >= n => {}
        _ => {
            return bad(format!(
                "Cache-Control {cc:?} Expires {:?}, table says {age:?}",
                a.one("Expires")
            ))
        }
    }
    let (Some(e), Some(d), Some(g)) = (expires, date, got) else {
        return bad(format!("Expires {:?} or Date missing", a.one("Expires")));
    };
    let gap = e.duration_since(d).unwrap_or_default().as_secs();
    if gap.abs_diff(g) > 1 {
        bad(format!("Expires is {gap} s after Date, max-age says {g}"));
    }
}

/// The one departure (docs/directives.md): Apache cuts a range out of the compressed body
/// (a 206 with Content-Encoding: gzip, usable only by a client that fetches every range of
/// it); oneshot-httpd answers a range from the file, uncompressed.
fn apache_compresses_ranges(row: &Row, port: u16, wrong: &mut Vec<String>) {
    let extra = format!(
        "Accept-Encoding: gzip\r\nRange: {}\r\n",
        row.range.unwrap_or_default()
    );
    let a = ask(port, row.method, row.target, &extra);
    if (a.status, a.one("Content-Encoding")) != (206, Some("gzip")) {
        wrong.push(format!(
            "{}: apache2 no longer compresses ranges ({} {:?}): docs/directives.md's departure is gone",
            row.target,
            a.status,
            a.one("Content-Encoding")
        ));
    }
}

fn check(who: &str, root: &Path, port: u16) {
    let mut wrong = Vec::new();
    for row in TABLE {
        if who == "apache2" && row.range.is_some() {
            apache_compresses_ranges(row, port, &mut wrong);
            continue;
        }
        check_row(row, root, port, &mut wrong);
    }
    assert!(
        wrong.is_empty(),
        "{who} differs from the table:\n{}",
        wrong.join("\n")
    );
}

fn our_conf(dir: &Path, root: &Path) -> String {
    let conf = BASE_CONF.replacen(
        "<VirtualHost *:80>\n  ServerName default.test",
        "<VirtualHost *:80>\n  ServerName t.test\n  DocumentRoot www/t\n  <Directory www/t>\n    Require all granted\n  </Directory>\n</VirtualHost>\n<VirtualHost *:80>\n  ServerName default.test",
        1,
    );
    let _ = dir;
    format!("{conf}{}", directives(root))
}

#[test]
fn response_filters_answer_as_the_table() {
    let dir = site("resp");
    let root = dir.join("www/t");
    make_site(&root);
    let mut s = Server::start(&dir, &our_conf(&dir, &root));
    check("oneshot-httpd", &root, s.port);
    s.stop();
}

#[test]
fn the_table_is_apaches() {
    let root = std::sync::Mutex::new(None);
    apache::with_apache(
        "resp-apache-oracle",
        |r| {
            make_site(r);
        },
        |r| {
            *root.lock().unwrap() = Some(r.to_path_buf());
            directives(r)
        },
        &["deflate", "filter", "expires"],
        |port| {
            let r = root.lock().unwrap().clone().unwrap();
            check("apache2", &r, port)
        },
    );
}

#[test]
fn configuration_errors_name_file_and_line() {
    let dir = site("resp-errors");
    let run = |line: &str| {
        std::fs::write(
            dir.join("httpd.conf"),
            format!("Listen 127.0.0.1:8\n{BASE_CONF}{line}\n"),
        )
        .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_oneshot-httpd"))
            .arg("-t")
            .arg("-f")
            .arg(dir.join("httpd.conf"))
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for (line, want) in [
        (
            "AddOutputFilterByType INCLUDES text/html",
            "'INCLUDES' is not implemented",
        ),
        (
            "AddOutputFilterByType DEFLATE;SUBSTITUTE text/html",
            "'SUBSTITUTE' is not implemented",
        ),
        ("AddOutputFilterByType DEFLATE html", "not a media type"),
        ("SetOutputFilter INFLATE", "'INFLATE' is not implemented"),
        ("AddOutputFilter DEFLATE a/b", "not a file name extension"),
        ("DeflateCompressionLevel 10", "between 1 and 9"),
        ("ExpiresActive maybe", "On or Off"),
        (
            "ExpiresDefault \"access plus 1 fortnight\"",
            "unrecognised <type>",
        ),
        ("ExpiresDefault \"Access plus 1 day\"", "short form"),
        ("ExpiresByType text/html later", "unrecognised <base>"),
        ("ExpiresByType html A60", "not a media type"),
        ("FileETag Digest", "not implemented"),
        ("FileETag +None", "cannot be used with '+' or '-'"),
        ("FileETag Inodes", "Unknown keyword"),
    ] {
        let (ok, err) = run(line);
        assert!(!ok, "{line}: accepted");
        assert!(
            err.contains("httpd.conf:27:") && err.contains(want),
            "{line}: {err}"
        );
    }
    for line in [
        "AddOutputFilterByType DEFLATE text/html text/css",
        "SetOutputFilter DEFLATE",
        "AddOutputFilter DEFLATE .js css",
        "DeflateCompressionLevel 1",
        "ExpiresDefault A2592000",
        "ExpiresByType image/* \"modification plus 1 year 2 days\"",
        "FileETag INode -MTime +Size",
    ] {
        let (ok, err) = run(line);
        assert!(ok, "{line}: {err}");
    }
}

/// `AddDefaultCharset` on CGI output, as core's ap_make_content_type: only text/plain and
/// text/html without a charset get one; `AddCharset` (mod_mime, by the script's own name) does
/// not reach a program's Content-Type. (Content-Type a program prints, scope, what the client
/// gets.)
const CGI_CHARSET: &[(&str, &str, &str)] = &[
    ("text/plain", "cgi", "text/plain; charset=UTF-8"),
    (
        "text/html; charset=iso-8859-2",
        "cgi",
        "text/html; charset=iso-8859-2",
    ),
    ("application/json", "cgi", "application/json"),
    // mod_cgi lower-cases the media type (not its parameters).
    ("Text/HTML", "cgi", "text/html; charset=UTF-8"),
    (
        "TEXT/PLAIN; Format=Flowed",
        "cgi/off",
        "text/plain; Format=Flowed",
    ),
    ("text/plain", "cgi/off", "text/plain"),
    ("text/plain", "cgi/on", "text/plain; charset=iso-8859-1"),
];

const CGI_DIRECTIVES: &str = r#"
AddHandler cgi-script .cgi
AddDefaultCharset UTF-8
<Directory "@R@/cgi">
    Options +ExecCGI
</Directory>
<Directory "@R@/cgi/off">
    AddDefaultCharset Off
    AddCharset utf-8 .cgi
</Directory>
<Directory "@R@/cgi/on">
    AddDefaultCharset On
</Directory>
"#;

fn make_cgi_site(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for (i, (ty, scope, _)) in CGI_CHARSET.iter().enumerate() {
        let p = root.join(scope).join(format!("t{i}.cgi"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(
            &p,
            format!("#!/bin/sh\nprintf 'Content-Type: {ty}\\n\\nhello\\n'\n"),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        if is_root() {
            // suEXEC's owner check: the program belongs to the identity it runs as.
            std::os::unix::fs::chown(&p, Some(65534), None).unwrap();
        }
    }
}

fn check_cgi_charset(who: &str, port: u16) {
    let mut wrong = Vec::new();
    for (i, (ty, scope, want)) in CGI_CHARSET.iter().enumerate() {
        let target = format!("/{scope}/t{i}.cgi");
        let a = ask(port, "GET", &target, "");
        if a.status != 200 || a.one("Content-Type") != Some(want) || a.body != b"hello\n" {
            wrong.push(format!(
                "{target} printing {ty:?}: {} {:?}, table says {want:?}",
                a.status,
                a.one("Content-Type")
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
fn cgi_output_gets_the_default_charset_as_apaches() {
    let dir = site("resp-cgi-charset");
    let root = dir.join("www/t");
    make_cgi_site(&root);
    let conf = BASE_CONF.replacen(
        "<VirtualHost *:80>\n  ServerName default.test",
        "<VirtualHost *:80>\n  ServerName t.test\n  DocumentRoot www/t\n  <Directory www/t>\n    Require all granted\n  </Directory>\n</VirtualHost>\n<VirtualHost *:80>\n  ServerName default.test",
        1,
    );
    let conf = format!(
        "{conf}{}",
        CGI_DIRECTIVES.replace("@R@", &root.to_string_lossy())
    );
    let mut s = Server::start(&dir, &conf);
    check_cgi_charset("oneshot-httpd", s.port);
    s.stop();
    apache::with_apache(
        "resp-cgi-charset-apache",
        make_cgi_site,
        |r| CGI_DIRECTIVES.replace("@R@", &r.to_string_lossy()),
        &["cgi"],
        |port| check_cgi_charset("apache2", port),
    );
}
