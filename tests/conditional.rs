//! RFC 9110 conditional requests on static files through the real binary: a hand-written
//! table from §13.1 and §13.2.2 (If-Match, strong, else If-Unmodified-Since → 412; then
//! If-None-Match, weak, else If-Modified-Since → 304), and the same table through the real
//! Apache serving the same file. `@E@` is the file's own ETag, `@W@` its weak form.

mod common;

use common::*;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

const OLD: &str = "Sat, 01 Jan 2000 00:00:00 GMT";
const NEW: &str = "Fri, 01 Jan 2100 00:00:00 GMT";
/// The file's mtime (1_500_000_000) and a day later.
const FILE_TIME: &str = "Fri, 14 Jul 2017 02:40:00 GMT";
const LATER: &str = "Sat, 15 Jul 2017 02:40:00 GMT";

/// (request fields, status, Apache's status where it departs from RFC 9110).
const TABLE: &[(&[(&str, &str)], u16)] = &[
    (&[], 200),
    (&[("If-Match", "@E@")], 200),
    (&[("If-Match", "\"nope\", @E@")], 200),
    (&[("If-Match", "*")], 200),
    (&[("If-Match", "\"nope\"")], 412),
    (&[("If-Match", "@W@")], 412),
    (&[("If-Unmodified-Since", OLD)], 412),
    (&[("If-Unmodified-Since", NEW)], 200),
    // RFC 9110 §13.2.2 step 2: If-Unmodified-Since only without If-Match. Apache 2.4
    // evaluates both (412): see APACHE_DEPARTS.
    (&[("If-Match", "@E@"), ("If-Unmodified-Since", OLD)], 200),
    (&[("If-None-Match", "@E@")], 304),
    (&[("If-None-Match", "@W@")], 304),
    (&[("If-None-Match", "\"nope\", @E@")], 304),
    (&[("If-None-Match", "*")], 304),
    (&[("If-None-Match", "\"nope\"")], 200),
    (&[("If-Modified-Since", FILE_TIME)], 304),
    (&[("If-Modified-Since", LATER)], 304),
    (&[("If-Modified-Since", OLD)], 200),
    // A date later than the server's clock is ignored (as Apache).
    (&[("If-Modified-Since", NEW)], 200),
    (
        &[("If-None-Match", "\"nope\""), ("If-Modified-Since", LATER)],
        200,
    ),
    (&[("If-Match", "\"nope\""), ("If-None-Match", "@E@")], 412),
    (
        &[("If-Unmodified-Since", OLD), ("If-Modified-Since", LATER)],
        412,
    ),
];

/// Rows where Apache 2.4 departs from RFC 9110 (the table's oracle): (row index, Apache's).
const APACHE_DEPARTS: &[(usize, u16)] = &[(8, 412)];

fn make_site(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    let p = root.join("f.txt");
    std::fs::write(&p, "conditional\n").unwrap();
    // An mtime in the past, so "modified after OLD, before NEW" holds.
    let t = std::time::UNIX_EPOCH + Duration::from_secs(1_500_000_000);
    std::fs::File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

fn ask(port: u16, fields: &[(&str, String)]) -> (u16, Option<String>) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let extra: String = fields
        .iter()
        .map(|(n, v)| format!("{n}: {v}\r\n"))
        .collect();
    s.write_all(
        format!("GET /f.txt HTTP/1.1\r\nHost: t.test\r\n{extra}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let r = parse_resp(&out);
    (r.status, r.header("ETag"))
}

fn check(who: &str, port: u16, departs: &[(usize, u16)]) {
    let (status, etag) = ask(port, &[]);
    assert_eq!(status, 200, "{who}");
    let etag = etag.unwrap_or_else(|| panic!("{who}: no ETag"));
    let weak = format!("W/{etag}");
    let mut wrong = Vec::new();
    for (i, (fields, want)) in TABLE.iter().enumerate() {
        let want = departs
            .iter()
            .find(|(j, _)| *j == i)
            .map_or(want, |(_, s)| s);
        let fields: Vec<(&str, String)> = fields
            .iter()
            .map(|(n, v)| (*n, v.replace("@E@", &etag).replace("@W@", &weak)))
            .collect();
        let (got, _) = ask(port, &fields);
        if got != *want {
            wrong.push(format!("{fields:?}: {got}, table says {want}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{who} differs from the table:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn conditionals_answer_as_the_table() {
    let dir = site("conditional");
    make_site(&dir.join("www/t"));
    let conf = BASE_CONF.replacen(
        "<VirtualHost *:80>\n  ServerName default.test",
        "<VirtualHost *:80>\n  ServerName t.test\n  DocumentRoot www/t\n  <Directory www/t>\n    Require all granted\n  </Directory>\n</VirtualHost>\n<VirtualHost *:80>\n  ServerName default.test",
        1,
    );
    let mut s = Server::start(&dir, &conf);
    check("oneshot-httpd", s.port, &[]);
    s.stop();
}

#[test]
fn the_table_is_apaches() {
    apache::with_apache(
        "conditional-apache-oracle",
        make_site,
        |_| String::new(),
        &[],
        |port| check("apache2", port, APACHE_DEPARTS),
    );
}
