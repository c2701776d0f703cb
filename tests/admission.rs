//! Invariant I1 on the real binary, with the sequences that broke it: every request of a
//! keep-alive connection is admitted on its own. The expected answers are Apache's (RFC 9110
//! §11.6.1/§15.5.2 for 401 with a challenge, mod_authz_core for `Require`), written by hand.
//! A request the child cannot serve in its identity is not answered; the client, as real
//! clients do, sends it again on a new connection.

mod common;

use common::{site, Server};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;

fn server(name: &str) -> Server {
    let dir = site(name);
    std::fs::create_dir_all(dir.join("www/alice/private")).unwrap();
    std::fs::create_dir_all(dir.join("www/alice/closed")).unwrap();
    std::fs::create_dir_all(dir.join("www/alice/bob")).unwrap();
    std::fs::write(dir.join("www/alice/private/index.html"), "alice private\n").unwrap();
    std::fs::write(dir.join("www/alice/closed/index.html"), "closed\n").unwrap();
    std::fs::write(dir.join("www/alice/bob/index.html"), "bob only\n").unwrap();
    std::fs::write(dir.join("www/alice/.htpasswd"), "not for you\n").unwrap();
    let pw = dir.join("htpasswd");
    for (i, (u, p)) in [("alice", "alicepw"), ("bob", "bobpw")].iter().enumerate() {
        let flag = if i == 0 { "-cbB" } else { "-bB" };
        let ok = Command::new("htpasswd")
            .args([flag, pw.to_str().unwrap(), u, p])
            .output()
            .expect("htpasswd (apache2-utils) is installed by scripts/test");
        assert!(ok.status.success());
    }
    let conf = common::BASE_CONF.replace(
        "  DocumentRoot www/alice\n",
        &format!(
            "  DocumentRoot www/alice
  AuthType Basic
  AuthName \"alice\"
  AuthUserFile {pw}
  # Without it `/` would be Apache's 500 (AuthType and no Require), a -t error here.
  Require all granted
  <Location /private>
    Require valid-user
  </Location>
  <Location /closed>
    Require all denied
  </Location>
  <Location /bob>
    Require user bob
  </Location>
",
            pw = pw.display()
        ),
    );
    Server::start(&dir, &conf)
}

fn basic(user_pw: &str) -> String {
    // Written out by hand: "alice:alicepw" and "bob:bobpw" in base64.
    match user_pw {
        "alice:alicepw" => "Basic YWxpY2U6YWxpY2Vwdw==".into(),
        "bob:bobpw" => "Basic Ym9iOmJvYnB3".into(),
        "alice:wrong" => "Basic YWxpY2U6d3Jvbmc=".into(),
        other => panic!("no header for {other}"),
    }
}

struct Answer {
    status: u16,
    challenge: Option<String>,
    body: String,
}

/// One response off a kept-alive connection, or None if the server closed without one.
fn read_one(r: &mut BufReader<TcpStream>) -> Option<Answer> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let status = line.split(' ').nth(1)?.parse().ok()?;
    let (mut len, mut challenge) = (0usize, None);
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':')?;
        if n.eq_ignore_ascii_case("content-length") {
            len = v.trim().parse().ok()?;
        }
        if n.eq_ignore_ascii_case("www-authenticate") {
            challenge = Some(v.trim().to_string());
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Answer {
        status,
        challenge,
        body: String::from_utf8_lossy(&body).into(),
    })
}

/// A client that keeps one connection open and reconnects when the server closes it
/// without answering; `retries` counts those.
struct Client<'a> {
    srv: &'a Server,
    conn: Option<BufReader<TcpStream>>,
    retries: usize,
}

impl Client<'_> {
    fn get(&mut self, path: &str, auth: Option<&str>) -> Answer {
        for _ in 0..2 {
            let conn = self
                .conn
                .get_or_insert_with(|| BufReader::new(self.srv.connect()));
            let auth = auth.map(|a| format!("Authorization: {}\r\n", basic(a)));
            let req = format!(
                "GET {path} HTTP/1.1\r\nHost: alice.test\r\n{}\r\n",
                auth.unwrap_or_default()
            );
            if conn.get_mut().write_all(req.as_bytes()).is_ok() {
                if let Some(a) = read_one(conn) {
                    return a;
                }
            }
            self.conn = None;
            self.retries += 1;
        }
        panic!("{path}: closed twice without an answer");
    }
}

#[test]
fn keep_alive_requests_are_each_admitted() {
    let srv = server("admission-keepalive");
    let mut c = Client {
        srv: &srv,
        conn: None,
        retries: 0,
    };
    // The report: a public page, then the private one without credentials.
    assert_eq!(c.get("/", None).status, 200);
    let a = c.get("/private/", None);
    assert_eq!(a.status, 401);
    assert_eq!(a.challenge.as_deref(), Some("Basic realm=\"alice\""));
    assert_eq!(c.retries, 0, "a refusal is answered on the same connection");
    // The right credentials need a process that can still ask the verifier.
    let a = c.get("/private/", Some("alice:alicepw"));
    assert_eq!((a.status, a.body.as_str()), (200, "alice private\n"));
    assert_eq!(c.retries, 1);
    // Now confined for alice: the same header again is served here, nothing else is.
    assert_eq!(c.get("/private/", Some("alice:alicepw")).status, 200);
    assert_eq!(c.get("/private/", None).status, 401);
    assert_eq!(c.get("/private/", Some("alice:wrong")).status, 401);
    assert_eq!(c.get("/closed/", Some("alice:alicepw")).status, 403);
    // Another user than `Require user` names: 401 again, Apache's default.
    let a = c.get("/bob/", Some("alice:alicepw"));
    assert_eq!(a.status, 401);
    assert_eq!(a.challenge.as_deref(), Some("Basic realm=\"alice\""));
    assert_eq!(c.get("/bob/", Some("bob:bobpw")).status, 200);
    assert_eq!(c.get("/missing", None).status, 404);
    assert_eq!(c.get("/private/", None).status, 401);
    assert_eq!(c.get("/.htpasswd", None).status, 403);
    assert_eq!(c.get("/.htpasswd", Some("alice:alicepw")).status, 403);
}

#[test]
fn pipelined_requests_are_each_admitted() {
    let srv = server("admission-pipelined");
    let mut s = srv.connect();
    let mut reqs = String::new();
    for (path, auth) in [
        ("/", None),
        ("/private/", None),
        ("/closed/", None),
        ("/private/", None),
    ] {
        let auth: Option<&str> = auth;
        let auth = auth.map(|a| format!("Authorization: {}\r\n", basic(a)));
        reqs += &format!(
            "GET {path} HTTP/1.1\r\nHost: alice.test\r\n{}\r\n",
            auth.unwrap_or_default()
        );
    }
    s.write_all(reqs.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let got: Vec<u16> = (0..4)
        .map_while(|_| read_one(&mut r).map(|a| a.status))
        .collect();
    assert_eq!(got, [200, 401, 403, 401]);
}
