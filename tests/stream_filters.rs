//! mod_deflate, mod_expires and `Header` on streamed program output (issue #14), through the
//! real binary and the real Apache (mod_cgi, mod_deflate, mod_filter, mod_expires) with the
//! same programs, directives and requests. Each row is hand-written from the modules' manuals:
//! mod_deflate compresses a response of a type `AddOutputFilterByType DEFLATE` names, adds
//! `Vary: Accept-Encoding` to every response it considers, compresses only when the request's
//! Accept-Encoding names gzip, never a 204, a response with Content-Range, one already
//! encoded or a tiny one, and appends `-gzip` to the ETag; mod_expires sets `Expires` and
//! `Cache-Control: max-age` from the Content-Type the program printed unless it printed an
//! `Expires` of its own. Compressed bodies are decoded by a real client (curl --compressed)
//! and compared with what the program printed.

mod common;

use common::*;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const DIRECTIVES: &str = r#"
AddHandler cgi-script .cgi
AddOutputFilterByType DEFLATE text/html text/plain
ExpiresActive On
ExpiresByType text/html "access plus 1 hour"
ExpiresByType image/* A600
<Directory "@R@/cgi">
    Options +ExecCGI
</Directory>
"#;

/// About 30 KB of HTML whose text repeats words, not lines (as scripts/bench-gzip's page).
fn page() -> Vec<u8> {
    const WORDS: &[&str] = &[
        "request",
        "process",
        "identity",
        "confinement",
        "the",
        "a",
        "of",
        "server",
        "child",
        "user",
        "context",
        "file",
        "policy",
        "vhost",
        "kernel",
        "gzip",
        "header",
        "body",
        "page",
        "cache",
        "expires",
    ];
    let mut out = String::from("<!DOCTYPE html>\n<html><body>\n");
    let mut seed: u64 = 12345;
    let mut n = 0;
    while out.len() < 30 * 1024 {
        out.push_str(&format!("<h2>Part {n}</h2>\n<p>"));
        for _ in 0..40 {
            seed = (seed * 1103515245 + 12345) % (1 << 31);
            out.push_str(WORDS[(seed % WORDS.len() as u64) as usize]);
            out.push(' ');
        }
        out.push_str("</p>\n");
        n += 1;
    }
    out.push_str("</body></html>\n");
    out.into_bytes()
}

/// One program: its name, the header block it prints, and how many times it prints the page
/// after it (0: `hello\n`).
struct Program {
    name: &'static str,
    head: &'static str,
    pages: usize,
}

const PROGRAMS: &[Program] = &[
    // Held whole (under 64 KiB): compressed at once.
    Program {
        name: "page",
        head: "Content-Type: text/html",
        pages: 1,
    },
    // Past the hold: compressed as it streams.
    Program {
        name: "big",
        head: "Content-Type: text/html; charset=utf-8",
        pages: 6,
    },
    // The program's own Content-Length: dropped, the body compressed.
    Program {
        name: "len",
        head: "Content-Type: text/html\nContent-Length: @LEN@",
        pages: 1,
    },
    Program {
        name: "etag",
        head: "Content-Type: text/html\nETag: \"abc\"",
        pages: 1,
    },
    Program {
        name: "encoded",
        head: "Content-Type: text/html\nContent-Encoding: br",
        pages: 1,
    },
    Program {
        name: "range",
        head: "Status: 206 Partial Content\nContent-Type: text/html\nContent-Range: bytes 0-30719/99999",
        pages: 1,
    },
    Program {
        name: "expires",
        head: "Content-Type: text/html\nExpires: Thu, 01 Dec 1994 16:00:00 GMT",
        pages: 1,
    },
    Program {
        name: "png",
        head: "Content-Type: image/png",
        pages: 1,
    },
    Program {
        name: "tiny",
        head: "Content-Type: text/html",
        pages: 0,
    },
    Program {
        name: "nocontent",
        head: "Status: 204 No Content\nContent-Type: text/html",
        pages: 0,
    },
    Program {
        name: "notfound",
        head: "Status: 404 Not Found\nContent-Type: text/html",
        pages: 1,
    },
    Program {
        name: "failed",
        head: "Status: 500 Internal Server Error\nContent-Type: text/html",
        pages: 1,
    },
    Program {
        name: "moved",
        head: "Status: 302 Found\nLocation: http://elsewhere.test/\nContent-Type: text/html",
        pages: 1,
    },
];

/// What the client gets for a program: (program, method, Accept-Encoding gzip?, status,
/// Content-Encoding, Vary, Cache-Control, Expires, ETag). `*` in Expires: any date.
type Row = (
    &'static str,
    &'static str,
    bool,
    u16,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

#[rustfmt::skip]
const ROWS: &[Row] = &[
    ("page", "GET", true, 200, Some("gzip"), Some("Accept-Encoding"), Some("max-age=3600"), Some("*"), None),
    ("page", "GET", false, 200, None, Some("Accept-Encoding"), Some("max-age=3600"), Some("*"), None),
    ("page", "HEAD", true, 200, Some("gzip"), Some("Accept-Encoding"), Some("max-age=3600"), Some("*"), None),
    ("big", "GET", true, 200, Some("gzip"), Some("Accept-Encoding"), Some("max-age=3600"), Some("*"), None),
    ("big", "GET", false, 200, None, Some("Accept-Encoding"), Some("max-age=3600"), Some("*"), None),
    ("big", "HEAD", true, 200, Some("gzip"), Some("Accept-Encoding"), Some("max-age=3600"), Some("*"), None),
    ("len", "GET", true, 200, Some("gzip"), Some("Accept-Encoding"), Some("max-age=3600"), Some("*"), None),
    ("etag", "GET", true, 200, Some("gzip"), Some("Accept-Encoding"), Some("max-age=3600"), Some("*"), Some("\"abc-gzip\"")),
    ("etag", "GET", false, 200, None, Some("Accept-Encoding"), Some("max-age=3600"), Some("*"), Some("\"abc\"")),
    ("encoded", "GET", true, 200, Some("br"), None, Some("max-age=3600"), Some("*"), None),
    ("range", "GET", true, 206, None, None, Some("max-age=3600"), Some("*"), None),
    ("expires", "GET", true, 200, Some("gzip"), Some("Accept-Encoding"), None, Some("Thu, 01 Dec 1994 16:00:00 GMT"), None),
    ("png", "GET", true, 200, None, None, Some("max-age=600"), Some("*"), None),
    ("tiny", "GET", true, 200, None, None, Some("max-age=3600"), Some("*"), None),
    ("nocontent", "GET", true, 204, None, None, Some("max-age=3600"), Some("*"), None),
    // A program's own error status: neither filter; a redirect with a body: Expires, no
    // DEFLATE (apache2's answers; the manuals are silent).
    ("notfound", "GET", true, 404, None, None, None, None, None),
    ("failed", "GET", true, 500, None, None, None, None, None),
    ("moved", "GET", true, 302, None, None, Some("max-age=3600"), Some("*"), None),
];

fn make_site(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let dir = root.join("cgi");
    std::fs::create_dir_all(&dir).unwrap();
    let page_file = dir.join("page.txt");
    std::fs::write(&page_file, page()).unwrap();
    for p in PROGRAMS {
        let head = p.head.replace("@LEN@", &page().len().to_string());
        let body = match p.pages {
            0 => "printf 'hello\\n'\n".to_string(),
            n => format!(
                "for i in $(seq {n}); do cat '{}'; done\n",
                page_file.display()
            ),
        };
        let script = dir.join(format!("{}.cgi", p.name));
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '{}\\n\\n'\n{body}",
                head.replace('\n', "\\n")
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        if is_root() {
            // suEXEC's owner check: the program belongs to the identity it runs as.
            std::os::unix::fs::chown(&script, Some(65534), None).unwrap();
        }
    }
}

/// The response head as sent (no decoding): status and fields.
fn head_of(port: u16, method: &str, target: &str, gzip: bool) -> (u16, Vec<(String, String)>) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let ae = if gzip {
        "Accept-Encoding: gzip\r\n"
    } else {
        ""
    };
    s.write_all(
        format!("{method} {target} HTTP/1.1\r\nHost: t.test\r\n{ae}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let split = (out.windows(4))
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(out.len());
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = (lines.next())
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let fields = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_string(), v.trim().to_string()))
        .collect();
    (status, fields)
}

/// The body as curl --compressed delivers it (decoded when it was gzipped), and curl's view
/// of the Content-Encoding.
fn curl_body(port: u16, target: &str, compressed: bool) -> Vec<u8> {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--http1.1", "--max-time", "20", "-H", "Host: t.test"]);
    if compressed {
        cmd.arg("--compressed");
    }
    let out = cmd
        .arg(format!("http://127.0.0.1:{port}{target}"))
        .output()
        .expect("curl (Debian package curl)");
    assert!(
        out.status.success(),
        "curl {target}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn check(who: &str, port: u16) {
    let page = page();
    let mut wrong = Vec::new();
    for &(prog, method, gzip, status, ce, vary, cc, expires, etag) in ROWS {
        let target = format!("/cgi/{prog}.cgi");
        let (got, fields) = head_of(port, method, &target, gzip);
        let one = |name: &str| {
            (fields.iter())
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let exp_ok = match (expires, one("Expires")) {
            (Some("*"), Some(_)) | (None, None) => true,
            (Some(want), Some(got)) => want == got,
            _ => false,
        };
        if got != status
            || one("Content-Encoding") != ce
            || one("Vary") != vary
            || one("Cache-Control") != cc
            || !exp_ok
            || (etag.is_some() && one("ETag") != etag)
        {
            wrong.push(format!(
                "{method} {target} gzip={gzip}: {got} Content-Encoding {:?} Vary {:?} \
                 Cache-Control {:?} Expires {:?} ETag {:?}; the table says {status} {ce:?} \
                 {vary:?} {cc:?} {expires:?} {etag:?}",
                one("Content-Encoding"),
                one("Vary"),
                one("Cache-Control"),
                one("Expires"),
                one("ETag"),
            ));
        }
    }
    // What a real client decodes is what the programs printed.
    for (prog, pages) in [("page", 1), ("big", 6), ("len", 1), ("notfound", 1)] {
        let want = page.repeat(pages);
        for compressed in [true, false] {
            let body = curl_body(port, &format!("/cgi/{prog}.cgi"), compressed);
            if body != want {
                wrong.push(format!(
                    "{prog}.cgi (curl, compressed={compressed}): {} bytes, not the {} printed",
                    body.len(),
                    want.len()
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

/// The common test configuration with a vhost t.test on `root` and [`DIRECTIVES`].
fn our_conf(root: &Path) -> String {
    let conf = BASE_CONF.replacen(
        "<VirtualHost *:80>\n  ServerName default.test",
        "<VirtualHost *:80>\n  ServerName t.test\n  DocumentRoot www/t\n  <Directory www/t>\n    Require all granted\n  </Directory>\n</VirtualHost>\n<VirtualHost *:80>\n  ServerName default.test",
        1,
    );
    format!(
        "{conf}{}",
        DIRECTIVES.replace("@R@", &root.to_string_lossy())
    )
}

#[test]
fn program_output_is_compressed_and_dated_as_apaches() {
    let dir = site("stream-filters");
    let root = dir.join("www/t");
    make_site(&root);
    let conf = our_conf(&root);
    let mut s = Server::start(&dir, &conf);
    check("oneshot-httpd", s.port);
    s.stop();
    apache::with_apache(
        "stream-filters-apache",
        make_site,
        |r| DIRECTIVES.replace("@R@", &r.to_string_lossy()),
        &["cgi", "deflate", "filter", "expires"],
        |port| check("apache2", port),
    );
}

/// On a keep-alive connection a compressed stream is framed (chunked) and the next request
/// follows it: curl fetches both over one connection and decodes both.
#[test]
fn compressed_streams_keep_the_connection() {
    let dir = site("stream-filters-keep");
    let root = dir.join("www/t");
    make_site(&root);
    let conf = our_conf(&root);
    let mut s = Server::start(&dir, &conf);
    let out = Command::new("curl")
        .args(["-sS", "-v", "--http1.1", "--compressed", "--max-time", "20"])
        .args(["-H", "Host: t.test"])
        .arg(format!("http://127.0.0.1:{}/cgi/big.cgi", s.port))
        .arg(format!("http://127.0.0.1:{}/cgi/len.cgi", s.port))
        .output()
        .expect("curl");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let page = page();
    assert_eq!(out.stdout.len(), page.len() * 7);
    assert!(out.stdout == [page.repeat(6), page.clone()].concat());
    assert!(
        log.contains("Re-using existing connection") || log.contains("Reusing existing"),
        "the second request did not reuse the connection:\n{log}"
    );
    assert!(log
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked"));
    s.stop();
}
