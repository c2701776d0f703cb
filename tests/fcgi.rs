//! FastCGI to each identity's own php-fpm pool (issue #19), through the real binary and
//! Debian's real php-fpm (`php-fpm8.2 -F -y CONF -p PREFIX`, started here, one pool per
//! test-created user, sockets `listen.mode = 0600` owned by the pool's user).
//!
//! Oracles, none of them the code under test: the uids `useradd` gave the users; PHP's own
//! `posix_getuid()` and `$_SERVER`; SHA-1 of the bytes the test sent, against PHP's `sha1()`
//! of what it received; the kernel's refusal of a connect to another user's socket; and fake
//! backends written here from the FastCGI specification (hand-written record bytes) for the
//! slow, malformed, oversized and early-closing cases.
//!
//! Needs root (users, pools owned by them, a root master with `Confinement unix landlock`).

mod common;

use common::{parse_resp, Server};
use sha1::{Digest, Sha1};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ALICE: &str = "fcgi-alice";
const BOB: &str = "fcgi-bob";

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

const INFO_PHP: &str = r#"<?php
header('Content-Type: text/plain');
header('X-Script: info');
echo "uid=", posix_getuid(), "\n";
foreach (['SCRIPT_FILENAME', 'SCRIPT_NAME', 'PATH_INFO', 'REQUEST_URI', 'QUERY_STRING',
          'REQUEST_METHOD', 'SERVER_NAME', 'SERVER_PROTOCOL', 'GATEWAY_INTERFACE',
          'CONTENT_LENGTH', 'CONTENT_TYPE', 'HTTP_PROXY', 'HTTP_X_TEST', 'HTTP_AUTHORIZATION',
          'DOCUMENT_ROOT', 'REMOTE_ADDR'] as $k) {
    echo $k, "=", $_SERVER[$k] ?? '-', "\n";
}
$in = file_get_contents('php://input');
echo "input_len=", strlen($in), "\n";
echo "input_sha1=", sha1($in), "\n";
echo "post_a=", $_POST['a'] ?? '-', "\n";
if (isset($_FILES['f'])) {
    echo "upload_size=", $_FILES['f']['size'], "\n";
    echo "upload_sha1=", sha1_file($_FILES['f']['tmp_name']), "\n";
}
error_log("info.php ran for " . $_SERVER['SERVER_NAME']);
"#;

/// php-fpm, stopped (by its pid) when dropped.
struct Fpm {
    child: Child,
}

impl Drop for Fpm {
    fn drop(&mut self) {
        let _ = common::nix_kill(self.child.id() as i32, 15);
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One pool per user, socket `sock/USER.sock`, owned by USER, mode 0600.
fn start_fpm(dir: &Path, users: &[&str]) -> Fpm {
    let mut conf = format!(
        "[global]\npid = {d}/fpm.pid\nerror_log = {d}/logs/fpm.log\ndaemonize = no\n",
        d = dir.display()
    );
    for u in users {
        conf.push_str(&format!(
            "[{u}]\nuser = {u}\ngroup = {u}\nlisten = {d}/sock/{u}.sock\nlisten.owner = {u}\n\
             listen.group = {u}\nlisten.mode = 0600\npm = static\npm.max_children = 2\n\
             catch_workers_output = yes\ndecorate_workers_output = no\n\
             security.limit_extensions = .php\n",
            d = dir.display()
        ));
    }
    std::fs::create_dir_all(dir.join("sock")).unwrap();
    std::fs::write(dir.join("fpm.conf"), conf).unwrap();
    let child = Command::new("php-fpm8.2")
        .arg("-F")
        .arg("-y")
        .arg(dir.join("fpm.conf"))
        .arg("-p")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run php-fpm8.2 (Debian package php8.2-fpm)");
    let fpm = Fpm { child };
    let until = Instant::now() + Duration::from_secs(10);
    while !users
        .iter()
        .all(|u| dir.join(format!("sock/{u}.sock")).exists())
    {
        assert!(Instant::now() < until, "php-fpm did not create its sockets");
        std::thread::sleep(Duration::from_millis(50));
    }
    fpm
}

/// A fake FastCGI application on 127.0.0.1: reads the request up to the end of its STDIN
/// stream, then does `answer` with the socket.
fn fake_backend(answer: fn(&mut TcpStream)) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            // The empty STDIN record for request id 1: version 1, type 5, id 1, length 0.
            let end = b"\x01\x05\x00\x01\x00\x00\x00\x00";
            while !got.windows(8).any(|w| w == end) {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            answer(&mut s);
        }
    });
    port
}

/// One STDOUT record for request 1 (content at most 65535 bytes), unpadded.
fn stdout_record(content: &[u8]) -> Vec<u8> {
    let mut r = vec![1, 6, 0, 1];
    r.extend_from_slice(&(content.len() as u16).to_be_bytes());
    r.extend_from_slice(&[0, 0]);
    r.extend_from_slice(content);
    r
}

fn sha1_hex(data: &[u8]) -> String {
    Sha1::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `key=value` lines of a PHP answer.
fn field(body: &[u8], key: &str) -> String {
    String::from_utf8_lossy(body)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(String::from))
        .unwrap_or_else(|| panic!("no {key} in {}", String::from_utf8_lossy(body)))
}

struct Setup {
    dir: PathBuf,
    server: Server,
    _fpm: Fpm,
    alice_uid: u32,
    bob_uid: u32,
}

fn setup() -> Setup {
    let (alice_uid, _) = common::system_user(ALICE);
    let (bob_uid, _) = common::system_user(BOB);
    let dir = common::site("fcgi");
    for v in ["alice", "bob"] {
        std::fs::write(dir.join(format!("www/{v}/info.php")), INFO_PHP).unwrap();
        std::fs::create_dir_all(dir.join(format!("www/{v}/sub"))).unwrap();
        std::fs::write(dir.join(format!("www/{v}/sub/index.php")), INFO_PHP).unwrap();
    }
    let fpm = start_fpm(&dir, &[ALICE, BOB]);

    // Fake backends (FastCGI spec, §5.3 and §8, written by hand).
    let slow = fake_backend(|_| std::thread::sleep(Duration::from_secs(4)));
    let bad = fake_backend(|s| {
        // Version 2 is not FastCGI 1.0.
        let _ = s.write_all(b"\x02\x06\x00\x01\x00\x00\x00\x00");
        std::thread::sleep(Duration::from_millis(500));
    });
    let huge = fake_backend(|s| {
        // A header field that never ends: 40 KiB of one line, no empty line.
        let mut head = b"X-Long: ".to_vec();
        head.extend(std::iter::repeat_n(b'a', 40 * 1024));
        for part in head.chunks(60000) {
            let _ = s.write_all(&stdout_record(part));
        }
        std::thread::sleep(Duration::from_millis(500));
    });
    let early = fake_backend(|s| {
        let _ = s.write_all(&stdout_record(b"Content-Type: text/plain\r\n\r\nhalf"));
        // Closed without END_REQUEST.
    });

    let d = dir.display();
    let conf = format!(
        "User nobody
Group nogroup
Confinement unix landlock
ErrorLog logs/error.log
LogLevel debug
CustomLog logs/access.log combined
PidFile logs/httpd.pid
StartServers 2
MinSpareServers 2
MaxSpareServers 4
Timeout 5
<VirtualHost *:80>
  ServerName alice.test
  DocumentRoot www/alice
  AssignUserID {ALICE} {ALICE}
  DirectoryIndex index.php index.html
  <Directory {d}/www/alice>
    SetHandler \"proxy:unix:{d}/sock/{ALICE}.sock|fcgi://localhost\"
  </Directory>
</VirtualHost>
<VirtualHost *:80>
  ServerName bob.test
  DocumentRoot www/bob
  AssignUserID {BOB} {BOB}
  DirectoryIndex index.php index.html
  ProxyPassMatch ^/(.*\\.php)$ \"unix:{d}/sock/%{{ONESHOT_UNIX_USER}}.sock|fcgi://localhost{d}/www/bob/$1\"
</VirtualHost>
<VirtualHost *:80>
  ServerName files.test
  DocumentRoot www/alice
  AssignUserID {ALICE} {ALICE}
  <FilesMatch \"\\.php$\">
    SetHandler \"proxy:unix:{d}/sock/{ALICE}.sock|fcgi://localhost\"
  </FilesMatch>
</VirtualHost>
<VirtualHost *:80>
  ServerName mallory.test
  DocumentRoot www/bob
  AssignUserID {BOB} {BOB}
  ProxyPassMatch ^/(.*\\.php)$ \"unix:{d}/sock/{ALICE}.sock|fcgi://localhost{d}/www/alice/$1\"
</VirtualHost>
<VirtualHost *:80>
  ServerName down.test
  DocumentRoot www/bob
  AssignUserID {BOB} {BOB}
  ProxyPass / \"unix:{d}/sock/nobody-here.sock|fcgi://localhost/srv/\"
</VirtualHost>
<VirtualHost *:80>
  ServerName slow.test
  DocumentRoot www/bob
  AssignUserID {BOB} {BOB}
  ProxyTimeout 1
  ProxyPass / fcgi://127.0.0.1:{slow}/srv/
</VirtualHost>
<VirtualHost *:80>
  ServerName bad.test
  DocumentRoot www/bob
  AssignUserID {BOB} {BOB}
  ProxyPass / fcgi://127.0.0.1:{bad}/srv/
</VirtualHost>
<VirtualHost *:80>
  ServerName huge.test
  DocumentRoot www/bob
  AssignUserID {BOB} {BOB}
  ProxyPass / fcgi://127.0.0.1:{huge}/srv/
</VirtualHost>
<VirtualHost *:80>
  ServerName early.test
  DocumentRoot www/bob
  AssignUserID {BOB} {BOB}
  ProxyPass / fcgi://127.0.0.1:{early}/srv/
</VirtualHost>
"
    );
    let server = Server::start(&dir, &conf);
    Setup {
        dir,
        server,
        _fpm: fpm,
        alice_uid,
        bob_uid,
    }
}

fn request(s: &Server, raw: &[u8]) -> common::Resp {
    parse_resp(&s.raw(raw))
}

#[test]
fn php_fpm_pools_per_identity_and_every_failure_answered() {
    if !is_root() {
        eprintln!("skipped: needs root (users, their php-fpm pools, a root master)");
        return;
    }
    let t = setup();
    let s = &t.server;
    let d = t.dir.display().to_string();

    // alice's vhost (SetHandler in <Directory>): her pool, her uid, the CGI variables.
    let r = request(
        s,
        b"GET /info.php/extra/path?x=1&y=2 HTTP/1.1\r\nHost: alice.test\r\nProxy: http://evil:1/\r\n\
          X-Test: hello\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200, "{r:?}\n{}", s.error_log());
    assert_eq!(r.header("X-Script").as_deref(), Some("info"));
    assert_eq!(field(&r.body, "uid"), t.alice_uid.to_string());
    assert_eq!(
        field(&r.body, "SCRIPT_FILENAME"),
        format!("{d}/www/alice/info.php")
    );
    assert_eq!(field(&r.body, "SCRIPT_NAME"), "/info.php");
    assert_eq!(field(&r.body, "PATH_INFO"), "/extra/path");
    assert_eq!(field(&r.body, "QUERY_STRING"), "x=1&y=2");
    assert_eq!(
        field(&r.body, "REQUEST_URI"),
        "/info.php/extra/path?x=1&y=2"
    );
    assert_eq!(field(&r.body, "REQUEST_METHOD"), "GET");
    assert_eq!(field(&r.body, "SERVER_NAME"), "alice.test");
    assert_eq!(field(&r.body, "SERVER_PROTOCOL"), "HTTP/1.1");
    assert_eq!(field(&r.body, "GATEWAY_INTERFACE"), "CGI/1.1");
    assert_eq!(field(&r.body, "HTTP_X_TEST"), "hello");
    assert_eq!(field(&r.body, "HTTP_PROXY"), "-", "httpoxy");
    assert_eq!(field(&r.body, "REMOTE_ADDR"), "127.0.0.1");

    // A directory's DirectoryIndex entry in a SetHandler scope goes to the pool too.
    let r = s.get("alice.test", "/sub/");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        field(&r.body, "SCRIPT_FILENAME"),
        format!("{d}/www/alice/sub/index.php")
    );
    // A static file in the same scope is not PHP: it does not exist as a script, so 404.
    assert_eq!(s.get("alice.test", "/missing.php").status, 404);

    // SetHandler in <FilesMatch>: .php files go to the pool, others are static.
    let r = s.get("files.test", "/info.php");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(field(&r.body, "uid"), t.alice_uid.to_string());
    assert_eq!(s.get("files.test", "/index.html").body, b"alice index\n");

    // bob's vhost (ProxyPassMatch with %{ONESHOT_UNIX_USER}): his pool, his uid.
    let r = s.get("bob.test", "/sub/index.php?q");
    assert_eq!(r.status, 200, "{r:?}\n{}", s.error_log());
    assert_eq!(field(&r.body, "uid"), t.bob_uid.to_string());
    assert_eq!(
        field(&r.body, "SCRIPT_FILENAME"),
        format!("{d}/www/bob/sub/index.php")
    );
    // A directory whose DirectoryIndex file a ProxyPassMatch rule covers: the pool answers
    // (never the file's source).
    let r = s.get("bob.test", "/sub/");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(field(&r.body, "uid"), t.bob_uid.to_string());
    // Not a .php URL: the static handler.
    assert_eq!(s.get("bob.test", "/index.html").body, b"bob index\n");

    // POST bodies reach PHP intact: Content-Length, chunked, and a multipart upload.
    let mut form = b"a=hello&pad=".to_vec();
    form.extend((0..200_000).map(|i| b"abcdefghij"[i % 10]));
    let mut req = format!(
        "POST /info.php HTTP/1.1\r\nHost: bob.test\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        form.len()
    )
    .into_bytes();
    req.extend_from_slice(&form);
    let r = request(s, &req);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(field(&r.body, "post_a"), "hello");
    assert_eq!(field(&r.body, "CONTENT_LENGTH"), form.len().to_string());
    // PHP reads php://input for urlencoded forms too.
    assert_eq!(field(&r.body, "input_sha1"), sha1_hex(&form));

    let raw_body: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut req =
        b"POST /info.php HTTP/1.1\r\nHost: bob.test\r\nContent-Type: application/octet-stream\r\n\
                    Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            .to_vec();
    for c in raw_body.chunks(7000) {
        req.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        req.extend_from_slice(c);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let r = request(s, &req);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(field(&r.body, "input_len"), raw_body.len().to_string());
    assert_eq!(field(&r.body, "input_sha1"), sha1_hex(&raw_body));

    let file: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 256) as u8).collect();
    let boundary = "----oneshotboundary7d3";
    let mut mp = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nup\r\n--{boundary}\r\n\
         Content-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    mp.extend_from_slice(&file);
    mp.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut req = format!(
        "POST /info.php HTTP/1.1\r\nHost: alice.test\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        mp.len()
    )
    .into_bytes();
    req.extend_from_slice(&mp);
    let r = request(s, &req);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(field(&r.body, "post_a"), "up");
    assert_eq!(field(&r.body, "upload_size"), file.len().to_string());
    assert_eq!(field(&r.body, "upload_sha1"), sha1_hex(&file));

    // Keep-alive: two requests on one connection, both answered by the pool.
    let mut c = s.connect();
    c.write_all(b"GET /info.php HTTP/1.1\r\nHost: bob.test\r\n\r\nGET /info.php?2 HTTP/1.1\r\nHost: bob.test\r\nConnection: close\r\n\r\n").unwrap();
    let all = common::read_all(&mut c);
    assert_eq!(common::statuses(&all), vec![200, 200]);

    // A vhost confined as bob, pointed at alice's pool: the kernel refuses the connect (her
    // socket is 0600 and hers), so 503 and a log line, never alice's identity.
    let r = s.get("mallory.test", "/info.php");
    assert_eq!(r.status, 503, "{r:?}");
    assert!(!String::from_utf8_lossy(&r.body).contains("uid="));
    let log = common::wait_error_log(s, |l| l.contains("Permission denied"));
    assert!(
        log.lines().any(|l| l.contains("[mallory.test] fcgi unix:")
            && l.contains(&format!("{ALICE}.sock"))
            && l.contains("Permission denied")),
        "{log}"
    );

    // Backend down: 503 naming the socket.
    assert_eq!(s.get("down.test", "/x.php").status, 503);
    let log = common::wait_error_log(s, |l| l.contains("nobody-here.sock: No such file"));
    assert!(log.contains("nobody-here.sock: No such file"), "{log}");

    // Slower than ProxyTimeout: 504.
    let started = Instant::now();
    assert_eq!(s.get("slow.test", "/x.php").status, 504);
    assert!(started.elapsed() < Duration::from_secs(4));
    let log = common::wait_error_log(s, |l| l.contains("no answer within ProxyTimeout"));
    assert!(log.contains("[slow.test] fcgi fcgi://127.0.0.1:"), "{log}");

    // Malformed records, an oversized header block, a close before END_REQUEST: 502 each.
    assert_eq!(s.get("bad.test", "/x.php").status, 502);
    assert_eq!(s.get("huge.test", "/x.php").status, 502);
    assert_eq!(s.get("early.test", "/x.php").status, 502);
    let log = common::wait_error_log(s, |l| {
        l.contains("before END_REQUEST") && l.contains("header block longer")
    });
    for (host, what) in [
        (
            "bad.test",
            "malformed record from the backend: record version 2",
        ),
        ("huge.test", "header block longer than"),
        ("early.test", "closed the connection before END_REQUEST"),
    ] {
        assert!(
            log.lines().any(
                |l| l.contains(&format!("[{host}] fcgi fcgi://127.0.0.1:")) && l.contains(what)
            ),
            "{host}: {what}\n{log}"
        );
    }

    // PHP's error_log() reached the pool's log, not ours (php-fpm keeps stderr of workers).
    let access = s.wait_log_lines(15);
    assert!(
        access
            .iter()
            .any(|l| l.contains("/info.php/extra/path") && l.contains(" 200 ")),
        "{access:?}"
    );
}

#[test]
fn configuration_errors_name_file_and_line() {
    let dir = common::scratch("fcgi-conf");
    std::fs::create_dir_all(dir.join("www")).unwrap();
    for (line, want) in [
        (
            "ProxyPass /x http://127.0.0.1:8080/",
            "is not a FastCGI backend",
        ),
        (
            "SetHandler \"proxy:unix:run/x.sock|fcgi://localhost\"",
            "is not absolute",
        ),
        (
            "ProxyPassMatch ^/(.*\\.php$ fcgi://127.0.0.1:9000/",
            "bad regular expression",
        ),
        ("ProxyFCGIBackendType FAST", "must be FPM or GENERIC"),
        ("ProxyTimeout soon", "not a number of seconds"),
        (
            "SetHandler \"proxy:unix:/run/%{HOME}.sock|fcgi://localhost\"",
            "unknown variable",
        ),
    ] {
        let conf = format!("Listen 127.0.0.1:1\nDocumentRoot www\n{line}\n");
        std::fs::write(dir.join("t.conf"), &conf).unwrap();
        let out = Command::new(common::BIN)
            .arg("-t")
            .arg("-f")
            .arg(dir.join("t.conf"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{line}: accepted");
        assert!(
            err.contains("t.conf:3: ") && err.contains(want),
            "{line}: {err}"
        );
    }
}

/// A FastCGI record as a fake application received it: (type, request id, content).
type Rec = (u8, u16, Vec<u8>);

/// Reads one record (FastCGI 1.0 §3.3: version, type, requestId, contentLength,
/// paddingLength, reserved; content; padding), `None` at EOF, a timeout or a short read.
fn read_record(s: &mut TcpStream) -> Option<Rec> {
    let mut h = [0u8; 8];
    s.read_exact(&mut h).ok()?;
    let len = u16::from_be_bytes([h[4], h[5]]) as usize;
    let mut content = vec![0u8; len + h[6] as usize];
    s.read_exact(&mut content).ok()?;
    content.truncate(len);
    Some((h[1], u16::from_be_bytes([h[2], h[3]]), content))
}

/// FastCGI name-value pairs (§3.4): each length one byte below 128, else four bytes with
/// the top bit set.
fn name_values(mut b: &[u8]) -> Vec<(String, String)> {
    fn len(b: &mut &[u8]) -> usize {
        if b[0] < 0x80 {
            let n = b[0] as usize;
            *b = &b[1..];
            n
        } else {
            let n = u32::from_be_bytes([b[0] & 0x7f, b[1], b[2], b[3]]) as usize;
            *b = &b[4..];
            n
        }
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let n = len(&mut b);
        let v = len(&mut b);
        let name = String::from_utf8_lossy(&b[..n]).into_owned();
        let value = String::from_utf8_lossy(&b[n..n + v]).into_owned();
        b = &b[n + v..];
        out.push((name, value));
    }
    out
}

/// The END_REQUEST record for request 1: appStatus 0, protocolStatus REQUEST_COMPLETE.
const END_REQUEST: &[u8] = b"\x01\x03\x00\x01\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";

/// A fake FastCGI application on 127.0.0.1 that records every record of each connection:
/// reads up to the empty STDIN record, calls `answer` with what it has, then keeps reading
/// until the server closes (or 10 s pass) and sends the whole list on the channel.
fn recording_backend(
    answer: fn(&mut TcpStream, &[Rec]),
) -> (u16, std::sync::mpsc::Receiver<Vec<Rec>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut recs = Vec::new();
            while let Some(r) = read_record(&mut s) {
                let stdin_end = r.0 == 5 && r.2.is_empty();
                recs.push(r);
                if stdin_end {
                    break;
                }
            }
            answer(&mut s, &recs);
            while let Some(r) = read_record(&mut s) {
                recs.push(r);
            }
            if tx.send(recs).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

/// php-fpm with one pool for `user` listening on TCP `addr`.
fn start_fpm_tcp(dir: &Path, user: &str, addr: &str) -> Fpm {
    let d = dir.display();
    let conf = format!(
        "[global]\npid = {d}/fpm.pid\nerror_log = {d}/logs/fpm.log\ndaemonize = no\n\
         [{user}]\nuser = {user}\ngroup = {user}\nlisten = {addr}\n\
         listen.allowed_clients = 127.0.0.1\npm = static\npm.max_children = 2\n\
         security.limit_extensions = .php\n"
    );
    std::fs::write(dir.join("fpm.conf"), conf).unwrap();
    let child = Command::new("php-fpm8.2")
        .arg("-F")
        .arg("-y")
        .arg(dir.join("fpm.conf"))
        .arg("-p")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run php-fpm8.2 (Debian package php8.2-fpm)");
    let fpm = Fpm { child };
    // Ready once its log says so (a probe connection would be a request it has to refuse).
    let until = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(dir.join("logs/fpm.log"))
        .unwrap_or_default()
        .contains("ready to handle connections")
    {
        assert!(Instant::now() < until, "php-fpm did not start on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    fpm
}

/// A program that tries two TCP connects with bash's /dev/tcp and prints how each ended.
fn probe_cgi(pool: &str, other_port: u16) -> String {
    let (host, port) = pool.split_once(':').unwrap();
    format!(
        r#"#!/bin/bash
printf 'Content-Type: text/plain\n\n'
try() {{
    out=$( (exec 3<>"/dev/tcp/$2/$3") 2>&1 ) && echo "$1=connected" || echo "$1=refused: $out"
}}
try pool {host} {port}
try other 127.0.0.1 {other_port}
"#
    )
}

#[test]
fn tcp_backend_generic_type_abort_and_landlock_ports() {
    if !is_root() {
        eprintln!("skipped: needs root (users, a php-fpm pool, a root master)");
        return;
    }
    let (alice_uid, alice_gid) = common::system_user(ALICE);
    let dir = common::site("fcgi-tcp");
    let d = dir.display().to_string();
    std::fs::write(dir.join("www/alice/info.php"), INFO_PHP).unwrap();

    // php-fpm's pool for alice on a TCP address of its own.
    let pool_host = "127.0.0.37";
    let pool_port = TcpListener::bind((pool_host, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _fpm = start_fpm_tcp(&dir, ALICE, &format!("{pool_host}:{pool_port}"));

    // GENERIC: the application echoes the PARAMS it received, one NAME=VALUE a line.
    let (generic, _generic_rx) = recording_backend(|s, recs| {
        let params: Vec<u8> = recs
            .iter()
            .filter(|r| r.0 == 4)
            .flat_map(|r| r.2.clone())
            .collect();
        let mut out = b"Content-Type: text/plain\r\n\r\n".to_vec();
        for (n, v) in name_values(&params) {
            out.extend_from_slice(format!("{n}={v}\n").as_bytes());
        }
        let _ = s.write_all(&stdout_record(&out));
        let _ = s.write_all(END_REQUEST);
    });
    // Mid-response: a head and 100 KiB of body (past what is held for a Content-Length),
    // then nothing: no END_REQUEST, so only the client can end this exchange.
    let (abort, abort_rx) = recording_backend(|s, _| {
        let _ = s.write_all(&stdout_record(b"Content-Type: text/plain\r\n\r\n"));
        for _ in 0..4 {
            let _ = s.write_all(&stdout_record(&[b'x'; 25600]));
        }
    });
    // The same with a few bytes of body, then silence: the server has nothing more to
    // write, so only the client's reset tells it the client went away.
    let (quiet, quiet_rx) = recording_backend(|s, _| {
        let _ = s.write_all(&stdout_record(b"Content-Type: text/plain\r\n\r\nfirst\n"));
    });
    // The second vhost's backend: a port the first vhost's programs must not reach. Nothing
    // ever accepts here; the listener's queue is the oracle.
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let other_port = other.local_addr().unwrap().port();
    std::fs::create_dir_all(dir.join("cgi")).unwrap();
    let probe = dir.join("cgi/probe.sh");
    std::fs::write(
        &probe,
        probe_cgi(&format!("{pool_host}:{pool_port}"), other_port),
    )
    .unwrap();
    std::fs::set_permissions(&probe, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // suexec's rules: the program and its directory belong to the identity that runs it.
    for p in [&probe, &dir.join("cgi")] {
        std::os::unix::fs::chown(p, Some(alice_uid), Some(alice_gid)).unwrap();
    }

    let conf = format!(
        "User nobody
Group nogroup
Confinement unix landlock
ErrorLog logs/error.log
LogLevel debug
CustomLog logs/access.log combined
PidFile logs/httpd.pid
StartServers 2
MinSpareServers 2
MaxSpareServers 4
Timeout 5
<VirtualHost *:80>
  ServerName tcp.test
  DocumentRoot www/alice
  AssignUserID {ALICE} {ALICE}
  ProxyPassMatch ^/(.*\\.php)$ fcgi://{pool_host}:{pool_port}{d}/www/alice/$1
  ScriptAlias /cgi-bin/ {d}/cgi/
</VirtualHost>
<VirtualHost *:80>
  ServerName generic.test
  DocumentRoot www/bob
  AssignUserID {BOB} {BOB}
  ProxyFCGIBackendType GENERIC
  ProxyPass /app/ fcgi://127.0.0.1:{generic}/srv/app/
</VirtualHost>
<VirtualHost *:80>
  ServerName abort.test
  DocumentRoot www/bob
  AssignUserID {BOB} {BOB}
  ProxyPass / fcgi://127.0.0.1:{abort}/srv/
</VirtualHost>
<VirtualHost *:80>
  ServerName quiet.test
  DocumentRoot www/bob
  AssignUserID {BOB} {BOB}
  ProxyPass / fcgi://127.0.0.1:{quiet}/srv/
</VirtualHost>
<VirtualHost *:80>
  ServerName other.test
  DocumentRoot www/bob
  AssignUserID {BOB} {BOB}
  ProxyPass / fcgi://127.0.0.1:{other_port}/srv/
</VirtualHost>
"
    );
    common::system_user(BOB);
    let s = Server::start(&dir, &conf);

    // TCP to real php-fpm: alice's pool answers as alice, the body arrives intact.
    let body: Vec<u8> = (0..150_000u32).map(|i| (i * 11 % 253) as u8).collect();
    let mut req = format!(
        "POST /info.php?t=1 HTTP/1.1\r\nHost: tcp.test\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    let r = request(&s, &req);
    assert_eq!(r.status, 200, "{r:?}\n{}", s.error_log());
    assert_eq!(field(&r.body, "uid"), alice_uid.to_string());
    assert_eq!(
        field(&r.body, "SCRIPT_FILENAME"),
        format!("{d}/www/alice/info.php")
    );
    assert_eq!(field(&r.body, "SCRIPT_NAME"), "/info.php");
    assert_eq!(field(&r.body, "QUERY_STRING"), "t=1");
    assert_eq!(field(&r.body, "input_sha1"), sha1_hex(&body));

    // ProxyFCGIBackendType GENERIC: SCRIPT_FILENAME is mod_proxy's r->filename,
    // "proxy:" + the backend URL with the rest of the path (Apache's mod_proxy_fcgi docs).
    let r = s.get("generic.test", "/app/x.php?q=1");
    assert_eq!(r.status, 200, "{r:?}\n{}", s.error_log());
    assert_eq!(
        field(&r.body, "SCRIPT_FILENAME"),
        format!("proxy:fcgi://127.0.0.1:{generic}/srv/app/x.php")
    );
    assert_eq!(field(&r.body, "SCRIPT_NAME"), "/app/x.php");
    assert_eq!(field(&r.body, "QUERY_STRING"), "q=1");
    assert_eq!(field(&r.body, "GATEWAY_INTERFACE"), "CGI/1.1");

    // The client goes away mid-response: the application gets ABORT_REQUEST (type 2) for
    // request 1, and then the server closes the connection. abort.test: the server notices
    // as its write fails; quiet.test: the backend is silent, the client's reset (it closes
    // with a chunk unread) is what the server sees.
    for (host, rx, how) in [
        ("abort.test", &abort_rx, "client gone"),
        ("quiet.test", &quiet_rx, "client gone; aborting"),
    ] {
        let mut c = s.connect();
        c.write_all(format!("GET /slow.php HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
            .unwrap();
        // Byte by byte up to the end of the head, so the body stays unread.
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            let n = c.read(&mut byte).unwrap();
            assert!(n > 0, "{host}: closed before the head: {got:?}");
            got.push(byte[0]);
        }
        assert!(got.starts_with(b"HTTP/1.1 200"), "{host}: {got:?}");
        drop(c);
        let recs = rx
            .recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|_| panic!("{host}: the backend's connection never ended"));
        let stdin_end = recs
            .iter()
            .position(|r| r.0 == 5 && r.2.is_empty())
            .expect("no end of STDIN");
        let after: Vec<&Rec> = recs[stdin_end + 1..].iter().collect();
        assert_eq!(after, vec![&(2u8, 1u16, Vec::new())], "{host}: {recs:?}");
        let tag = format!("[{host}] fcgi fcgi://127.0.0.1:");
        let log = common::wait_error_log(&s, |l| l.contains(&tag) && l.contains(how));
        assert!(
            log.lines().any(|l| l.contains(&tag) && l.contains(how)),
            "{host}: {log}"
        );
    }

    // Landlock (ABI 4+ has TCP rules): the vhost's programs may connect to its own backend's
    // port, and are refused by the kernel (EACCES) for another vhost's.
    use oneshot_httpd::sys::{Linux, Sys};
    match Linux.landlock_abi() {
        Ok(abi) if abi >= 4 => {
            let r = s.get("tcp.test", "/cgi-bin/probe.sh");
            assert_eq!(r.status, 200, "{r:?}\n{}", s.error_log());
            let text = String::from_utf8_lossy(&r.body);
            assert!(text.contains("pool=connected"), "{text}");
            assert!(
                text.lines()
                    .any(|l| l.starts_with("other=refused") && l.contains("Permission denied")),
                "{text}"
            );
            other.set_nonblocking(true).unwrap();
            assert!(
                other
                    .accept()
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
                "a connection reached the other vhost's port"
            );
        }
        abi => eprintln!("Landlock part skipped: ABI {abi:?} has no TCP connect rules"),
    }
}

/// One response read from a keep-alive connection: its head, then Content-Length bytes.
fn read_response(c: &mut TcpStream) -> common::Resp {
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        match c.read(&mut byte) {
            Ok(1) => raw.push(byte[0]),
            _ => break,
        }
    }
    let head = common::parse_resp(&raw);
    let len: usize = head
        .header("Content-Length")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Content-Length: {}", String::from_utf8_lossy(&raw)));
    let mut body = vec![0u8; len];
    c.read_exact(&mut body).unwrap();
    raw.extend_from_slice(&body);
    common::parse_resp(&raw)
}

/// The accepted connections of the pool listening on `sock`, by their socket inode, as the
/// kernel lists them (`ss`, iproute2): the pool's end of each connection has the socket's
/// path as its local address.
fn pool_connections(sock: &Path) -> Vec<String> {
    let out = Command::new("ss")
        .args(["-xHn", "state", "established", "src"])
        .arg(sock)
        .output()
        .expect("run ss (iproute2)");
    let text = String::from_utf8_lossy(&out.stdout);
    let path = sock.to_string_lossy();
    text.lines()
        .filter_map(|l| {
            let mut t = l.split_whitespace().skip_while(|w| *w != path);
            t.next()?;
            t.next().map(String::from)
        })
        .collect()
}

/// The pool's connections once they have settled (a closed one leaves the list when php-fpm
/// has seen the close).
fn pool_connections_settled(sock: &Path, want: usize) -> Vec<String> {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let c = pool_connections(sock);
        if c.len() == want || Instant::now() > until {
            return c;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

const SLOW_PHP: &str = r#"<?php
ignore_user_abort(true);
usleep(700000);
echo "slow done\n";
"#;

/// A FastCGI application written here from the specification that keeps its connections
/// (§3.5, FCGI_KEEP_CONN): on each connection it answers request after request. `/a` gets a
/// local redirect (`Location: /b`, §6.3 of RFC 3875) followed, 300 ms later, by more output
/// and END_REQUEST; `/vanish`, when it is not the connection's first request, is read and the
/// connection closed without an answer (as a worker that reached `pm.max_requests` between
/// the check and the request); every other URI gets `uri=URI conn=N`, N counting the
/// connections it accepted, followed by ` stdin=LENGTH SHA1` when the request had a body.
fn keeping_backend() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, s) in l.incoming().enumerate() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                for served in 0.. {
                    let mut params = Vec::new();
                    let mut stdin = Vec::new();
                    let mut complete = false;
                    while let Some((kind, _, content)) = read_record(&mut s) {
                        if kind == 4 {
                            params.extend_from_slice(&content);
                        }
                        if kind == 5 {
                            stdin.extend_from_slice(&content);
                        }
                        if kind == 5 && content.is_empty() {
                            complete = true;
                            break;
                        }
                    }
                    if !complete {
                        return;
                    }
                    let uri = name_values(&params)
                        .into_iter()
                        .find(|(k, _)| k == "REQUEST_URI")
                        .map(|(_, v)| v)
                        .unwrap_or_default();
                    if uri == "/vanish" && served > 0 {
                        return;
                    }
                    let mut out = Vec::new();
                    if uri == "/a" {
                        let _ = s.write_all(&stdout_record(b"Location: /b\r\n\r\n"));
                        std::thread::sleep(Duration::from_millis(300));
                        out.extend(stdout_record(b"STALE rest of /a"));
                    } else {
                        let mut text =
                            format!("Content-Type: text/plain\r\n\r\nuri={uri} conn={n}");
                        if !stdin.is_empty() {
                            text.push_str(&format!(" stdin={} {}", stdin.len(), sha1_hex(&stdin)));
                        }
                        out.extend(stdout_record(text.as_bytes()));
                    }
                    out.extend_from_slice(END_REQUEST);
                    if s.write_all(&out).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// FCGI_KEEP_CONN: the keep-alive requests of one client connection use one connection to the
/// pool; the pool restarting between two requests is survived; a request cut short (a local
/// redirect read before the script ended) does not leave its rest for the next request; an
/// idle client lets the pool's worker go.
#[test]
fn keep_conn_one_pool_connection_per_client_connection() {
    if !is_root() {
        eprintln!("skipped: needs root (users, their php-fpm pools, a root master)");
        return;
    }
    let (alice_uid, _) = common::system_user(ALICE);
    let dir = common::site("fcgi-keep");
    let d = dir.display().to_string();
    for (name, text) in [("info.php", INFO_PHP), ("slow.php", SLOW_PHP)] {
        std::fs::write(dir.join("www/alice").join(name), text).unwrap();
    }
    let sock = dir.join(format!("sock/{ALICE}.sock"));
    let fpm = start_fpm(&dir, &[ALICE]);
    let keeping = keeping_backend();
    let conf = alice_fpm_conf(
        &d,
        "debug",
        &format!(
            "<VirtualHost *:80>
  ServerName keeping.test
  DocumentRoot www/alice
  AssignUserID {ALICE} {ALICE}
  ProxyPass / fcgi://127.0.0.1:{keeping}/srv/
</VirtualHost>
"
        ),
    );
    let s = Server::start(&dir, &conf);
    let get_on = |c: &mut TcpStream, host: &str, path: &str| {
        c.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
            .unwrap();
        read_response(c)
    };
    let get = |c: &mut TcpStream, path: &str| get_on(c, "alice.test", path);

    // With the application written here: its connection counter is the oracle. A local
    // kept connection closed by the application after it read a bodyless request is sent
    // again on a new one. A local redirect is acted on before /a's output ends, so that
    // connection is not kept (its rest would be read as the next answer): /b, /c and /d share
    // one new connection.
    let mut k = s.connect();
    let body = |r: common::Resp| String::from_utf8_lossy(&r.body).into_owned();
    assert_eq!(body(get_on(&mut k, "keeping.test", "/x")), "uri=/x conn=0");
    assert_eq!(body(get_on(&mut k, "keeping.test", "/y")), "uri=/y conn=0");
    let r = get_on(&mut k, "keeping.test", "/vanish");
    assert_eq!(body(r), "uri=/vanish conn=1", "{}", s.error_log());
    let log = common::wait_error_log(&s, |l| l.contains("sending the request on a new one"));
    assert!(
        log.contains("[keeping.test] fcgi fcgi://127.0.0.1:"),
        "{log}"
    );
    // The same with a request body (it was read from the client, so it is kept to be sent
    // again), up to 64 KiB; a larger one gets 502, as the backend may have consumed it.
    let post_on = |c: &mut TcpStream, path: &str, data: &[u8]| {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: keeping.test\r\nContent-Length: {}\r\n\r\n",
            data.len()
        );
        c.write_all(head.as_bytes()).unwrap();
        c.write_all(data).unwrap();
        read_response(c)
    };
    let small: Vec<u8> = (0..60_000u32).map(|i| (i % 251) as u8).collect();
    let r = post_on(&mut k, "/vanish", &small);
    let want = format!("uri=/vanish conn=2 stdin=60000 {}", sha1_hex(&small));
    assert_eq!(body(r), want, "{}", s.error_log());
    let large: Vec<u8> = (0..100_000u32).map(|i| (i % 241) as u8).collect();
    let r = post_on(&mut k, "/vanish", &large);
    assert_eq!(r.status, 502, "{r:?}");
    let log = common::wait_error_log(&s, |l| l.contains("after more than 64 KiB"));
    assert!(
        log.contains("after more than 64 KiB of the request body"),
        "{log}"
    );
    let mut k = s.connect();
    let r = post_on(&mut k, "/e", &large);
    let want = format!("uri=/e conn=3 stdin=100000 {}", sha1_hex(&large));
    assert_eq!(body(r), want);
    assert_eq!(body(get_on(&mut k, "keeping.test", "/a")), "uri=/b conn=4");
    assert_eq!(body(get_on(&mut k, "keeping.test", "/c")), "uri=/c conn=4");
    assert_eq!(body(get_on(&mut k, "keeping.test", "/d")), "uri=/d conn=4");
    drop(k);

    // Three requests, one client connection: one pool connection, the same one each time.
    let mut c = s.connect();
    let mut seen = Vec::new();
    for i in 0..3 {
        let r = get(&mut c, &format!("/info.php?{i}"));
        assert_eq!(r.status, 200, "{r:?}\n{}", s.error_log());
        assert_eq!(field(&r.body, "uid"), alice_uid.to_string());
        assert_eq!(field(&r.body, "QUERY_STRING"), i.to_string());
        seen.push(pool_connections(&sock));
    }
    assert_eq!(seen[0].len(), 1, "{seen:?}");
    assert!(seen.iter().all(|c| c == &seen[0]), "{seen:?}");

    // A request cut short: its client goes away while the script runs (ABORT_REQUEST, the
    // connection closed). The pool's next requests, on another client connection, get their
    // own answers.
    let mut gone = s.connect();
    gone.write_all(b"GET /slow.php HTTP/1.1\r\nHost: alice.test\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(gone);
    let mut c2 = s.connect();
    for i in 0..2 {
        let r = get(&mut c2, &format!("/info.php?after-abort-{i}"));
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(field(&r.body, "QUERY_STRING"), format!("after-abort-{i}"));
    }
    drop(c2);
    for i in 3..5 {
        let r = get(&mut c, &format!("/info.php?{i}"));
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(field(&r.body, "QUERY_STRING"), i.to_string(), "{r:?}");
    }
    let before_restart = pool_connections_settled(&sock, 1);
    assert_eq!(before_restart.len(), 1, "{before_restart:?}");

    // The pool restarts between two requests of the client connection: the kept connection
    // is found closed and a new one made.
    drop(fpm);
    let _ = std::fs::remove_file(&sock);
    let fpm = start_fpm(&dir, &[ALICE]);
    let r = get(&mut c, "/info.php?restarted");
    assert_eq!(r.status, 200, "{r:?}\n{}", s.error_log());
    assert_eq!(field(&r.body, "QUERY_STRING"), "restarted");
    let after_restart = pool_connections(&sock);
    assert_eq!(after_restart.len(), 1, "{after_restart:?}");
    assert_ne!(after_restart, before_restart);

    // An idle client does not hold the pool's worker: after KEEP_IDLE (1 s) the child closes
    // the pool connection while the client connection stays open and usable.
    assert!(pool_connections_settled(&sock, 0).is_empty());
    let r = get(&mut c, "/info.php?later");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(field(&r.body, "QUERY_STRING"), "later");

    // The client connection's end closes the pool connection too.
    drop(c);
    assert!(pool_connections_settled(&sock, 0).is_empty());
    drop(fpm);
}

/// mod_deflate, mod_expires and `Header` on php-fpm's output (issue #14), as on a CGI's
/// (tests/stream_filters.rs has the table against apache2): a page PHP sends whole is
/// compressed with its length, one it flushes in pieces as it streams (chunked); each gets
/// `Vary: Accept-Encoding`, `Expires` and `Cache-Control: max-age` by its Content-Type
/// unless PHP set an Expires, and the `Header` rules. curl decodes; the oracle is the file
/// PHP read.
#[test]
fn php_output_is_compressed_dated_and_ruled() {
    if !is_root() {
        eprintln!("skipped: needs root (users, a php-fpm pool, a root master)");
        return;
    }
    common::system_user(ALICE);
    let dir = common::site("fcgi-gzip");
    let d = dir.display().to_string();
    let page: Vec<u8> = (0..2000u32)
        .map(|i| format!("<p>line {i} of {} words</p>\n", i * 7919 % 1000))
        .collect::<String>()
        .into_bytes();
    std::fs::write(dir.join("www/alice/page.txt"), &page).unwrap();
    std::fs::write(
        dir.join("www/alice/page.php"),
        "<?php readfile(__DIR__ . '/page.txt');\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("www/alice/big.php"),
        "<?php for ($i = 0; $i < 6; $i++) { readfile(__DIR__ . '/page.txt'); flush(); usleep(100000); }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("www/alice/dated.php"),
        "<?php header('Expires: Thu, 01 Dec 1994 16:00:00 GMT'); readfile(__DIR__ . '/page.txt');\n",
    )
    .unwrap();
    let pool_host = "127.0.0.38";
    let pool_port = TcpListener::bind((pool_host, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _fpm = start_fpm_tcp(&dir, ALICE, &format!("{pool_host}:{pool_port}"));
    let conf = format!(
        "User nobody
Group nogroup
Confinement unix landlock
ErrorLog logs/error.log
LogLevel debug
CustomLog logs/access.log combined
PidFile logs/httpd.pid
StartServers 2
MinSpareServers 2
MaxSpareServers 4
Timeout 5
AddOutputFilterByType DEFLATE text/html
ExpiresActive On
ExpiresByType text/html A3600
Header always set X-Frame-Options DENY
<VirtualHost *:80>
  ServerName php.test
  DocumentRoot www/alice
  AssignUserID {ALICE} {ALICE}
  ProxyPassMatch ^/(.*\\.php)$ fcgi://{pool_host}:{pool_port}{d}/www/alice/$1
</VirtualHost>
"
    );
    let s = Server::start(&dir, &conf);
    let curl = |path: &str, compressed: bool| {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--http1.1", "--max-time", "20", "-D", "-"]);
        cmd.args(["-H", "Host: php.test"]);
        if compressed {
            cmd.arg("--compressed");
        }
        let out = cmd
            .arg(format!("http://127.0.0.1:{}{path}", s.port))
            .output()
            .expect("curl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let split = (out.stdout.windows(4))
            .position(|w| w == b"\r\n\r\n")
            .unwrap();
        let head = String::from_utf8_lossy(&out.stdout[..split]).to_ascii_lowercase();
        (head, out.stdout[split + 4..].to_vec())
    };
    for (path, pages) in [("/page.php", 1), ("/big.php", 6), ("/dated.php", 1)] {
        let want = page.repeat(pages);
        let (head, body) = curl(path, true);
        assert!(body == want, "{path}: {} bytes decoded\n{head}", body.len());
        assert!(
            head.contains("\r\ncontent-encoding: gzip"),
            "{path}: {head}"
        );
        assert!(head.contains("\r\nvary: accept-encoding"), "{path}: {head}");
        assert!(head.contains("\r\nx-frame-options: deny"), "{path}: {head}");
        if path == "/dated.php" {
            assert!(
                head.contains("expires: thu, 01 dec 1994 16:00:00 gmt"),
                "{head}"
            );
            assert!(!head.contains("max-age"), "{head}");
        } else {
            assert!(
                head.contains("\r\ncache-control: max-age=3600"),
                "{path}: {head}"
            );
            assert!(head.contains("\r\nexpires: "), "{path}: {head}");
        }
        if path == "/big.php" {
            assert!(head.contains("transfer-encoding: chunked"), "{head}");
        } else {
            assert!(head.contains("content-length: "), "{head}");
        }
        let (head, body) = curl(path, false);
        assert!(body == want, "{path} plain: {} bytes\n{head}", body.len());
        assert!(!head.contains("content-encoding"), "{path}: {head}");
        assert!(head.contains("\r\nvary: accept-encoding"), "{path}: {head}");
    }
}

/// A pool whose worker closes its connection after every request (`pm.max_requests = 1`: the
/// worker exits and php-fpm starts another): each keep-alive request of one client
/// connection, with and without a body, still gets its own complete answer, never a 502; the
/// kept connection found closed is replaced (before use, or by sending the request again).
#[test]
fn keep_conn_pool_closing_after_each_request() {
    if !is_root() {
        eprintln!("skipped: needs root (users, their php-fpm pools, a root master)");
        return;
    }
    let (alice_uid, _) = common::system_user(ALICE);
    let dir = common::site("fcgi-maxreq");
    let d = dir.display().to_string();
    std::fs::write(dir.join("www/alice/info.php"), INFO_PHP).unwrap();
    std::fs::create_dir_all(dir.join("sock")).unwrap();
    std::fs::write(
        dir.join("fpm.conf"),
        format!(
            "[global]\npid = {d}/fpm.pid\nerror_log = {d}/logs/fpm.log\ndaemonize = no\n\
             [{ALICE}]\nuser = {ALICE}\ngroup = {ALICE}\nlisten = {d}/sock/{ALICE}.sock\n\
             listen.owner = {ALICE}\nlisten.group = {ALICE}\nlisten.mode = 0600\n\
             pm = static\npm.max_children = 2\npm.max_requests = 1\n\
             security.limit_extensions = .php\n"
        ),
    )
    .unwrap();
    let child = Command::new("php-fpm8.2")
        .arg("-F")
        .arg("-y")
        .arg(dir.join("fpm.conf"))
        .arg("-p")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run php-fpm8.2 (Debian package php8.2-fpm)");
    let _fpm = Fpm { child };
    let sock = dir.join(format!("sock/{ALICE}.sock"));
    let until = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(Instant::now() < until, "php-fpm did not create its socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    let conf = alice_fpm_conf(&d, "info", "");
    let s = Server::start(&dir, &conf);
    let mut c = s.connect();
    for i in 0..12usize {
        let data: Vec<u8> = (0..(i * 5000)).map(|j| (j % 253) as u8).collect();
        let head = if data.is_empty() {
            format!("GET /info.php?{i} HTTP/1.1\r\nHost: alice.test\r\n\r\n")
        } else {
            format!(
                "POST /info.php?{i} HTTP/1.1\r\nHost: alice.test\r\n\
                 Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
                data.len()
            )
        };
        // Every other request pipelined right behind the previous one's answer.
        c.write_all(head.as_bytes()).unwrap();
        c.write_all(&data).unwrap();
        let r = read_response(&mut c);
        assert_eq!(r.status, 200, "request {i}: {r:?}\n{}", s.error_log());
        assert_eq!(field(&r.body, "uid"), alice_uid.to_string());
        assert_eq!(field(&r.body, "QUERY_STRING"), i.to_string());
        assert_eq!(field(&r.body, "input_len"), data.len().to_string());
        assert_eq!(field(&r.body, "input_sha1"), sha1_hex(&data));
    }
    let log = s.error_log();
    assert!(!log.contains("(502)") && !log.contains("[error]"), "{log}");
    eprintln!(
        "re-sent on a new connection: {} of 12",
        log.matches("sending the request on a new one").count()
    );
}

/// A root master whose vhost alice.test sends everything to alice's own php-fpm pool over
/// `sock/alice.sock`; `more` follows (further vhosts).
fn alice_fpm_conf(d: &str, log_level: &str, more: &str) -> String {
    format!(
        "User nobody
Group nogroup
Confinement unix landlock
ErrorLog logs/error.log
LogLevel {log_level}
PidFile logs/httpd.pid
StartServers 2
Timeout 10
KeepAliveTimeout 10
<VirtualHost *:80>
  ServerName alice.test
  DocumentRoot www/alice
  AssignUserID {ALICE} {ALICE}
  <Directory {d}/www/alice>
    SetHandler \"proxy:unix:{d}/sock/{ALICE}.sock|fcgi://localhost\"
  </Directory>
</VirtualHost>
{more}"
    )
}
