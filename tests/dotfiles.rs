//! Dot-files through the real binary, with oracles from Apache's stock configuration:
//!
//! * httpd.conf ships `<Files ".ht*"> Require all denied </Files>`: every `.ht*` name is
//!   403 in every vhost, whether it exists or not, with or without credentials (the denial
//!   needs no user, so no authentication is asked for: mod_authz_core answers before
//!   mod_auth_basic), and whatever spelling of the path reaches the same name.
//! * Only `^\.ht` is denied: `/.git/config` and other dot-names are served unless an
//!   administrator denies them.
//! * Listings hide dot-names (Apache's stock `IndexIgnore .??* ...`; here every dot-name).
//!
//! The oracles are the statuses and names above, written by hand: nothing here calls the
//! crate's code.

mod common;
use common::*;
use std::io::Write;

const VHOSTS: [&str; 3] = ["default", "alice", "bob"];

/// The standard site, plus in every vhost: `.htpasswd`, `.htaccess`, `sub/.htfoo`,
/// `private/` (behind a server-wide `<Location /private/>` with Basic auth) holding an
/// `.htaccess`; bob.test is protected as a whole. `www/default/list/` has `Options +Indexes`
/// and holds `.git/config`, `.htpasswd`, `.hidden` and `visible.txt`.
fn dot_site(name: &str) -> (std::path::PathBuf, String) {
    let dir = site(name);
    for v in VHOSTS {
        let d = dir.join("www").join(v);
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::create_dir_all(d.join("private")).unwrap();
        std::fs::write(d.join(".htpasswd"), format!("SECRET htpasswd of {v}\n")).unwrap();
        std::fs::write(d.join(".htaccess"), format!("SECRET htaccess of {v}\n")).unwrap();
        std::fs::write(d.join("sub/.htfoo"), format!("SECRET htfoo of {v}\n")).unwrap();
        std::fs::write(d.join("sub/page.html"), format!("{v} sub page\n")).unwrap();
        std::fs::write(d.join("private/index.html"), format!("{v} private\n")).unwrap();
        std::fs::write(
            d.join("private/.htaccess"),
            format!("SECRET private htaccess of {v}\n"),
        )
        .unwrap();
    }
    let list = dir.join("www/default/list");
    std::fs::create_dir_all(list.join(".git")).unwrap();
    std::fs::write(list.join(".git/config"), "[core]\n\tbare = false\n").unwrap();
    std::fs::write(list.join(".htpasswd"), "SECRET listed htpasswd\n").unwrap();
    std::fs::write(list.join(".hidden"), "hidden but served\n").unwrap();
    std::fs::write(list.join("visible.txt"), "visible\n").unwrap();
    htpasswd_bcrypt(&dir.join("htpasswd"), &[("alice", "alice-pw")]);
    let auth = "AuthType Basic\n  AuthName test\n  AuthUserFile htpasswd\n  Require valid-user";
    let conf = BASE_CONF
        .replace(
            "ServerName bob.test",
            &format!("ServerName bob.test\n  {auth}"),
        )
        .replace(
            "ServerName default.test",
            "ServerName default.test\n  <Directory www/default/list>\n    Options +Indexes\n  </Directory>",
        );
    let conf = format!("{conf}<Location /private/>\n  {auth}\n</Location>\n");
    (dir, conf)
}

fn get_with(s: &Server, host: &str, path: &str, auth: &str) -> Resp {
    parse_resp(
        &s.raw(
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n")
                .as_bytes(),
        ),
    )
}

#[test]
fn ht_files_are_forbidden_in_every_vhost_with_and_without_credentials() {
    let (dir, conf) = dot_site("dot-ht");
    let s = Server::start(&dir, &conf);
    // Sanity: the site serves what it should, so a 403 below is about the name.
    assert_eq!(s.get("default.test", "/sub/page.html").status, 200);
    assert_eq!(
        get_with(
            &s,
            "bob.test",
            "/sub/page.html",
            &basic_auth("alice", "alice-pw")
        )
        .status,
        200
    );
    assert_eq!(s.get("bob.test", "/sub/page.html").status, 401);

    let paths = [
        "/.htpasswd",
        "/.htaccess",
        "/sub/.htfoo",
        "/private/.htaccess",
        // does not exist: still the name Apache's <Files ".ht*"> denies
        "/.htnothere",
        // other spellings of the same names
        "/%2ehtpasswd",
        "/sub/%2Ehtfoo",
        "/.htpasswd?x=1",
        "/sub/../.htaccess",
        "//.htpasswd",
    ];
    let creds = [
        ("no credentials", String::new()),
        ("right password", basic_auth("alice", "alice-pw")),
        ("wrong password", basic_auth("alice", "wrong")),
    ];
    let mut bad = Vec::new();
    for (what, auth) in &creds {
        for v in VHOSTS {
            let host = format!("{v}.test");
            for path in paths {
                let r = get_with(&s, &host, path, auth);
                let body = String::from_utf8_lossy(&r.body);
                if r.status != 403 || body.contains("SECRET") {
                    bad.push(format!(
                        "{host}{path} ({what}): {} {:?}",
                        r.status,
                        body.chars().take(60).collect::<String>()
                    ));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "want 403 without content for every .ht* request:\n{}",
        bad.join("\n")
    );
    // Every refusal has its access line (I10).
    let log = s.wait_log_lines(3 + creds.len() * VHOSTS.len() * paths.len());
    assert!(
        log.iter()
            .any(|l| l.contains("\"GET /.htpasswd HTTP/1.1\" 403 ")),
        "{log:#?}"
    );
}

#[test]
fn ht_files_are_forbidden_on_a_kept_alive_connection_too() {
    let (dir, conf) = dot_site("dot-ht-keepalive");
    let s = Server::start(&dir, &conf);
    let mut c = s.connect();
    c.write_all(b"GET /index.html HTTP/1.1\r\nHost: alice.test\r\n\r\n")
        .unwrap();
    c.write_all(b"GET /.htpasswd HTTP/1.1\r\nHost: alice.test\r\n\r\n")
        .unwrap();
    c.write_all(b"GET /sub/.htfoo HTTP/1.1\r\nHost: alice.test\r\nConnection: close\r\n\r\n")
        .unwrap();
    let all = read_all(&mut c);
    let text = String::from_utf8_lossy(&all);
    // A refusal needs no other identity, so it is answered on the same connection.
    assert_eq!(statuses(&all), vec![200, 403, 403], "{text}");
    assert!(!text.contains("SECRET"), "{text}");
}

#[test]
fn other_dot_names_are_served_but_never_listed() {
    let (dir, conf) = dot_site("dot-listing");
    let s = Server::start(&dir, &conf);
    let r = s.get("default.test", "/list/");
    assert_eq!(r.status, 200);
    let html = String::from_utf8_lossy(&r.body).into_owned();
    let links: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(links, ["../", "visible.txt"], "{html}");
    for hidden in [".git", ".htpasswd", ".hidden"] {
        assert!(!html.contains(hidden), "{hidden} listed:\n{html}");
    }
    // Apache's stock configuration denies only ^\.ht: other dot-names are hidden from the
    // listing, not forbidden.
    let git = s.get("default.test", "/list/.git/config");
    assert_eq!(
        (git.status, git.body.as_slice()),
        (200, &b"[core]\n\tbare = false\n"[..])
    );
    let hidden = s.get("default.test", "/list/.hidden");
    assert_eq!(
        (hidden.status, hidden.body.as_slice()),
        (200, &b"hidden but served\n"[..])
    );
    assert_eq!(s.get("default.test", "/list/.htpasswd").status, 403);
}
