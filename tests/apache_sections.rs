//! `<Files>`, `<FilesMatch>`, `<DirectoryMatch>`, `<Directory ~>`, `<LocationMatch>`,
//! `<Location ~>` through the real binary, against a hand-written table of what Apache 2.4
//! answers, and the same table checked against the real Apache (`apache2`, Debian) serving
//! the same site with the same sections, so the table is not only our reading of the docs.
//!
//! The oracle's rules (Apache's "How the sections are merged", and request.c): non-regex
//! `<Directory>` from the fewest components to the most; then regex directory sections in
//! file order, tested against the whole `r->filename` (the file's path; a directory request's
//! path with its trailing slash); then `<Files>`/`<FilesMatch>` in order against the last
//! path segment (empty for a directory request); then `<Location>`/`<LocationMatch>` in file
//! order against the decoded URL. A DirectoryIndex entry is a sub-request with its own
//! sections.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The sections under test; `@ROOT@` is the DocumentRoot.
const SECTIONS: &str = r#"
<Directory "@ROOT@">
    Require all granted
</Directory>
<DirectoryMatch "/private$">
    Require all denied
</DirectoryMatch>
<DirectoryMatch "^@ROOT@/[0-9]{3}/">
    Require all denied
</DirectoryMatch>
<Directory ~ "/sub/?$">
    Require all denied
</Directory>
<Directory "@ROOT@/late">
    Require all denied
</Directory>
<DirectoryMatch "^@ROOT@/late/">
    Require all granted
</DirectoryMatch>
<Files "b.txt">
    Require all denied
</Files>
<Files ~ "^a\.">
    Require all denied
</Files>
<Directory "@ROOT@/sub2">
    <FilesMatch "^$">
        Require all denied
    </FilesMatch>
</Directory>
<Directory "@ROOT@/docs">
    <Files "*.bak">
        Require all denied
    </Files>
</Directory>
<Files "secret.txt">
    Require all denied
</Files>
<Location "/open">
    Require all granted
</Location>
<LocationMatch "^/adm">
    Require all denied
</LocationMatch>
<Location ~ "\.log$">
    Require all denied
</Location>
<Directory "@ROOT@/gated">
    <Files "index.html">
        Require all denied
    </Files>
</Directory>
"#;

/// (path, status): the answers of Apache 2.4 to these sections, by its rules above.
const TABLE: &[(&str, u16)] = &[
    // `/private$` against the whole filename: only the directory itself, without a slash.
    ("/private/f.txt", 200),
    ("/private/", 200),
    ("/private", 403),
    // Anchored at the start, open at the end: everything beneath.
    ("/123/x.txt", 403),
    ("/123/", 403),
    ("/124x/y.txt", 200),
    ("/sub/", 403),
    ("/sub", 403),
    ("/sub/index.html", 200),
    // Regex directory sections come after every plain one, whatever the file order.
    ("/late/x.txt", 200),
    ("/b.txt", 403),
    ("/docs/b.txt", 403),
    ("/a.php", 403),
    ("/xa.php", 200),
    // `^$` is the name of a directory request; the index is its own request.
    ("/sub2/", 403),
    ("/sub2/index.html", 200),
    ("/docs/x.bak", 403),
    ("/x.bak", 200),
    // <Location> after <Files>.
    ("/open/secret.txt", 200),
    ("/secret.txt", 403),
    // LocationMatch on the decoded, normalized URL: no spelling gets around it.
    ("/adm/x.txt", 403),
    ("/%61dm/x.txt", 403),
    ("//adm/x.txt", 403),
    ("/docs/../adm/x.txt", 403),
    ("/./adm/x.txt", 403),
    ("/x.log", 403),
    ("/x.lo%67", 403),
    // The directory is open; its index is denied by its own <Files>: so is the directory URL.
    ("/gated/", 403),
    ("/gated/index.html", 403),
    ("/gated/other.txt", 200),
];

fn make_site(root: &Path) {
    for d in [
        "private/sub",
        "123",
        "124x",
        "sub",
        "sub2",
        "late",
        "docs",
        "open",
        "adm",
        "gated",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    for f in [
        "private/f.txt",
        "private/index.html",
        "private/sub/g.txt",
        "123/x.txt",
        "124x/y.txt",
        "sub/index.html",
        "sub2/index.html",
        "late/x.txt",
        "b.txt",
        "docs/b.txt",
        "a.php",
        "xa.php",
        "docs/x.bak",
        "x.bak",
        "open/secret.txt",
        "secret.txt",
        "adm/x.txt",
        "x.log",
        "gated/index.html",
        "gated/other.txt",
    ] {
        std::fs::write(root.join(f), format!("{f}\n")).unwrap();
    }
}

fn sections(root: &Path) -> String {
    SECTIONS.replace("@ROOT@", &root.to_string_lossy())
}

fn status_of(port: u16, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: t.test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    statuses(&out).first().copied().unwrap_or(0)
}

fn check(who: &str, port: u16) {
    let mut wrong = Vec::new();
    for (path, want) in TABLE {
        let got = status_of(port, path);
        if got != *want {
            wrong.push(format!("{path}: {got}, table says {want}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{who} differs from the table:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn sections_answer_as_the_table() {
    let dir = site("sections");
    let root = dir.join("www/t");
    make_site(&root);
    let conf = format!(
        "{BASE_CONF}<VirtualHost *:80>\n  ServerName t.test\n  DocumentRoot www/t\n</VirtualHost>\n{}",
        sections(&root)
    );
    // The vhost must be the first (default) one: Host t.test selects it either way.
    let conf = conf.replacen("<VirtualHost *:80>\n  ServerName default.test", "<VirtualHost *:80>\n  ServerName t.test\n  DocumentRoot www/t\n</VirtualHost>\n<VirtualHost *:80>\n  ServerName default.test", 1);
    let mut s = Server::start(&dir, &conf);
    check("oneshot-httpd", s.port);
    s.stop();
}

/// The table is Apache's: the real server, same site, same sections.
#[test]
fn the_table_is_apaches() {
    let apache = Path::new("/usr/sbin/apache2");
    assert!(
        apache.exists(),
        "apache2 (Debian) is the oracle of this test: scripts/test installs it"
    );
    let dir = scratch("apache-oracle");
    let root = dir.join("www");
    make_site(&root);
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let port = free_port();
    let m = "/usr/lib/apache2/modules";
    let conf = format!(
        "ServerRoot {d}\nServerName t.test\nListen 127.0.0.1:{port}\n\
         LoadModule mpm_prefork_module {m}/mod_mpm_prefork.so\n\
         LoadModule authz_core_module {m}/mod_authz_core.so\n\
         LoadModule dir_module {m}/mod_dir.so\n\
         LoadModule mime_module {m}/mod_mime.so\n\
         TypesConfig /etc/mime.types\nPidFile {d}/logs/pid\nErrorLog {d}/logs/error.log\n\
         User nobody\nGroup nogroup\nStartServers 1\nDocumentRoot {r}\n{s}",
        d = dir.display(),
        r = root.display(),
        s = sections(&root)
    );
    let file = dir.join("apache.conf");
    std::fs::write(&file, conf).unwrap();
    let ok = Command::new(apache)
        .arg("-f")
        .arg(&file)
        .args(["-k", "start"])
        .env("APACHE_RUN_DIR", &dir)
        .status()
        .unwrap()
        .success();
    assert!(
        ok,
        "apache2 did not start; see {}",
        dir.join("logs/error.log").display()
    );
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let result = std::panic::catch_unwind(|| check("apache2", port));
    let _ = Command::new(apache)
        .arg("-f")
        .arg(&file)
        .args(["-k", "stop"])
        .status();
    // `-k stop` returns before the children are gone: wait for the pid file to go.
    let until = Instant::now() + Duration::from_secs(10);
    while dir.join("logs/pid").exists() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
