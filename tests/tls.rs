//! TLS end to end with real clients (Debian's curl and openssl s_client) against the real
//! binary, a test CA and two SNI vhosts generated here with openssl. Oracles come from RFC 8446,
//! RFC 9110 §15.5.20 (421) and mod_ssl's documented behaviour, not from the code under test:
//! - SNI selects the vhost and its certificate; an unknown name or no SNI gets the listener's
//!   first TLS vhost; TLS 1.3 is negotiated by default; ALPN is http/1.1.
//! - A Host naming another vhost than the handshake's is answered 421, never served.
//! - Plaintext HTTP on the TLS port gets no HTTP response, and the connection ends promptly.
//! - The serving child never has the key file open or mapped, holds no socket but its
//!   connection, runs as an unprivileged uid that cannot open the 0600 root key, and its
//!   memory (and the relay's) does not contain the private key, while the key holder's does
//!   (the positive control that shows the scan works).
//! - The key holder killed: the master restarts it; in between a handshake fails cleanly or
//!   succeeds with TLS, a response is never sent without TLS.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .arg("-ec")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test CA and P-256 certificates for a.test and b.test; keys root-only.
fn pki(dir: &Path) {
    sh(
        dir,
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -subj '/CN=oneshot test CA' -days 2 2>/dev/null
         mkdir -p keys && chmod 700 keys
         for h in a b; do
           openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout keys/$h.key -out $h.csr -subj /CN=$h.test 2>/dev/null
           printf 'subjectAltName=DNS:%s.test\\n' $h > $h.ext
           openssl x509 -req -in $h.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $h.pem -days 2 -extfile $h.ext 2>/dev/null
         done
         chmod 600 keys/*.key",
    );
}

struct Tls {
    srv: Server,
    tls_port: u16,
    dir: PathBuf,
}

fn start(name: &str, extra_vhost: &str) -> Option<Tls> {
    start_with(name, "", extra_vhost, &|_| {})
}

/// `extra_server` goes before the listeners; `{dir}` in either extra stands for the scratch
/// directory; `setup` runs on that directory before the server starts.
fn start_with(
    name: &str,
    extra_server: &str,
    extra_vhost: &str,
    setup: &dyn Fn(&Path),
) -> Option<Tls> {
    if !have("openssl") || !have("curl") {
        eprintln!("SKIP: openssl and curl are needed");
        return None;
    }
    let dir = scratch(name);
    for v in ["plain", "a", "b"] {
        std::fs::create_dir_all(dir.join("www").join(v)).unwrap();
        std::fs::write(
            dir.join("www").join(v).join("index.html"),
            format!("{v} index\n"),
        )
        .unwrap();
    }
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    pki(&dir);
    setup(&dir);
    let d = dir.display().to_string();
    let (extra_server, extra_vhost) = (
        extra_server.replace("{dir}", &d),
        extra_vhost.replace("{dir}", &d),
    );
    for _ in 0..5 {
        let (port, tls_port) = (free_port(), free_port());
        let conf = format!(
            "User nobody\nGroup nogroup\nErrorLog logs/error.log\nLogLevel debug\nCustomLog logs/access.log combined\n\
             StartServers 2\nMinSpareServers 2\nMaxSpareServers 4\nMaxRequestWorkers 20\nTimeout 10\nKeepAlive On\nKeepAliveTimeout 10\n\
             {extra_server}Listen 127.0.0.1:{port}\nListen 127.0.0.1:{tls_port} https\n\
             <VirtualHost *:{port}>\n ServerName plain.test\n DocumentRoot www/plain\n</VirtualHost>\n\
             <VirtualHost *:{tls_port}>\n ServerName a.test\n DocumentRoot www/a\n SSLEngine on\n SSLCertificateFile a.pem\n SSLCertificateKeyFile keys/a.key\n{extra_vhost}</VirtualHost>\n\
             <VirtualHost *:{tls_port}>\n ServerName b.test\n DocumentRoot www/b\n SSLEngine on\n SSLCertificateFile b.pem\n SSLCertificateKeyFile keys/b.key\n</VirtualHost>\n"
        );
        std::fs::write(dir.join("httpd.conf"), conf).unwrap();
        let child = Command::new(BIN)
            .arg("-f")
            .arg(dir.join("httpd.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut srv = Server {
            dir: dir.clone(),
            port,
            child,
        };
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = srv.child.try_wait() {
                break;
            }
            if std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_ok() {
                return Some(Tls { srv, tls_port, dir });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        srv.stop();
    }
    panic!(
        "server did not start: {}",
        std::fs::read_to_string(dir.join("logs/error.log")).unwrap_or_default()
    );
}

impl Tls {
    /// curl over TLS to NAME (resolved to 127.0.0.1) with optional Host; (exit code, http code, body).
    fn curl(&self, name: &str, host: Option<&str>) -> (i32, String, String) {
        let mut c = Command::new("curl");
        c.args(["-sS", "--max-time", "10", "--cacert"])
            .arg(self.dir.join("ca.pem"))
            .arg("--resolve")
            .arg(format!("{name}:{}:127.0.0.1", self.tls_port))
            .args(["-w", "\n%{http_code} %{ssl_verify_result}"])
            .arg(format!("https://{name}:{}/", self.tls_port));
        if let Some(h) = host {
            c.arg("-H").arg(format!("Host: {h}"));
        }
        let out = c.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        (
            out.status.code().unwrap_or(-1),
            code.to_string(),
            body.to_string(),
        )
    }

    /// openssl s_client's report of one handshake (no HTTP).
    fn s_client(&self, sni: Option<&str>) -> String {
        let mut c = Command::new("openssl");
        c.args(["s_client", "-connect"])
            .arg(format!("127.0.0.1:{}", self.tls_port))
            .args(["-CAfile"])
            .arg(self.dir.join("ca.pem"))
            .args(["-alpn", "http/1.1"]);
        match sni {
            Some(n) => c.args(["-servername", n]),
            None => c.arg("-noservername"),
        };
        let out = c.stdin(Stdio::null()).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }

    fn key_holder_pids(&self) -> Vec<i32> {
        self.srv
            .error_log()
            .lines()
            .filter_map(|l| l.split("key holder started as pid ").nth(1))
            .filter_map(|r| r.split(' ').next()?.parse().ok())
            .collect()
    }
}

#[test]
fn sni_selects_vhost_and_certificate_with_curl_and_s_client() {
    let Some(t) = start("tls-sni", "") else {
        return;
    };
    for (name, body) in [("a.test", "a index"), ("b.test", "b index")] {
        let (rc, code, got) = t.curl(name, None);
        assert_eq!(
            (rc, code.as_str(), got.trim()),
            (0, "200 0", body),
            "curl {name}"
        );
    }
    // s_client: the certificate follows SNI; unknown name and no SNI get the first TLS vhost.
    for (sni, cn) in [
        (Some("b.test"), "CN = b.test"),
        (Some("a.test"), "CN = a.test"),
        (Some("nosuch.test"), "CN = a.test"),
        (None, "CN = a.test"),
    ] {
        let out = t.s_client(sni);
        assert!(out.contains(&format!("subject={cn}")), "{sni:?}: {out}");
        assert!(out.contains("TLSv1.3"), "TLS 1.3 by default: {out}");
        assert!(out.contains("ALPN protocol: http/1.1"), "{out}");
        assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    }
    // The plain listener never serves a TLS vhost's content.
    assert_eq!(
        parse_resp(
            &t.srv
                .raw(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        )
        .body,
        b"plain index\n"
    );
}

#[test]
fn host_of_another_vhost_gets_421_never_its_content() {
    let Some(t) = start("tls-421", "") else {
        return;
    };
    let (rc, code, body) = t.curl("a.test", Some("b.test"));
    assert_eq!((rc, code.as_str()), (0, "421 0"), "{body}");
    assert!(!body.contains("b index"));
    // Unknown Host on a's session: Host selects the listener's first TLS vhost, which is a.
    let (_, code, body) = t.curl("a.test", Some("nosuch.test"));
    assert_eq!((code.as_str(), body.trim()), ("200 0", "a index"));
    // b's session with Host a → 421 as well.
    let (_, code, _) = t.curl("b.test", Some("a.test"));
    assert_eq!(code, "421 0");
    assert!(t.srv.error_log().contains("AH02032"));
}

#[test]
fn strict_sni_refuses_clients_without_sni() {
    let Some(t) = start("tls-strict", " SSLStrictSNIVHostCheck On\n") else {
        return;
    };
    // With SNI: served.
    assert_eq!(t.curl("a.test", None).1, "200 0");
    // Without SNI (an IP address in the URL sends none): 403, AH02033.
    let out = Command::new("curl")
        .args([
            "-sS",
            "-k",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "Host: a.test",
        ])
        .arg(format!("https://127.0.0.1:{}/", t.tls_port))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "403");
    assert!(t.srv.error_log().contains("AH02033"));
}

#[test]
fn plaintext_on_the_tls_port_gets_no_http_answer_and_a_prompt_close() {
    let Some(t) = start("tls-plain", "") else {
        return;
    };
    let mut s = std::net::TcpStream::connect(("127.0.0.1", t.tls_port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let started = Instant::now();
    s.write_all(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        .unwrap();
    let got = read_all(&mut s);
    assert!(started.elapsed() < Duration::from_secs(5), "no hang");
    assert!(
        !got.starts_with(b"HTTP/"),
        "no HTTP response in clear: {got:?}"
    );
    // What comes back, if anything, is a TLS alert record (content type 21).
    assert!(got.is_empty() || got[0] == 21, "{got:?}");
}

/// The private scalar of an EC key, from openssl's text dump.
fn ec_private_scalar(key: &Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(["pkey", "-noout", "-text", "-in"])
        .arg(key)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let hex: String = text
        .split("priv:")
        .nth(1)
        .unwrap()
        .split("pub:")
        .next()
        .unwrap()
        .chars()
        .filter(char::is_ascii_hexdigit)
        .collect();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    // openssl may print a leading 00 for a high bit.
    let skip = bytes.len().saturating_sub(32);
    bytes[skip..].to_vec()
}

/// Whether `needle` occurs in any readable private mapping of `pid` (as root).
fn memory_contains(pid: i32, needle: &[u8]) -> std::io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))?;
    let mem = std::fs::File::open(format!("/proc/{pid}/mem"))?;
    for l in maps.lines() {
        let mut f = l.split_whitespace();
        let (range, perms) = (f.next().unwrap(), f.next().unwrap());
        if !perms.starts_with('r') || l.contains("[vvar]") || l.contains("[vsyscall]") {
            continue;
        }
        let (a, b) = range.split_once('-').unwrap();
        let (a, b) = (
            u64::from_str_radix(a, 16).unwrap(),
            u64::from_str_radix(b, 16).unwrap(),
        );
        let mut buf = vec![0u8; (b - a) as usize];
        if mem.read_exact_at(&mut buf, a).is_err() {
            continue;
        }
        if buf.windows(needle.len()).any(|w| w == needle) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn children_of(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[test]
fn serving_child_never_holds_the_key() {
    if !is_root() {
        eprintln!("SKIP: reading another process's memory needs root");
        return;
    }
    let Some(t) = start("tls-nokey", "") else {
        return;
    };
    let key = t.dir.join("keys/a.key");
    let scalar = ec_private_scalar(&key);
    assert_eq!(scalar.len(), 32);
    // A keep-alive TLS connection held open by s_client while we look at its child.
    let mut client = Command::new("openssl")
        .args(["s_client", "-quiet", "-servername", "a.test", "-connect"])
        .arg(format!("127.0.0.1:{}", t.tls_port))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = client.stdin.take().unwrap();
    stdin
        .write_all(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        .unwrap();
    let mut out = client.stdout.take().unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 512];
    while !got.ends_with(b"a index\n") {
        let n = out.read(&mut b).unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&b[..n]);
    }
    let line = t.srv.wait_log_lines(1).pop().unwrap();
    let pid: i32 = line
        .split("pid=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let relay = children_of(pid);
    assert_eq!(relay.len(), 1, "one relay process: {relay:?}");
    for p in [pid, relay[0]] {
        let maps = std::fs::read_to_string(format!("/proc/{p}/maps")).unwrap();
        assert!(
            !maps.contains("a.key") && !maps.contains("/keys/"),
            "{p} maps the key: {maps}"
        );
        for fd in std::fs::read_dir(format!("/proc/{p}/fd")).unwrap() {
            let target = std::fs::read_link(fd.unwrap().path()).unwrap_or_default();
            assert!(
                !target.to_string_lossy().contains("keys/"),
                "{p} has {target:?} open"
            );
        }
        assert!(
            !memory_contains(p, &scalar).unwrap(),
            "the private key is in the memory of {p}"
        );
    }
    // Exactly one socket in the serving child: its (plaintext) connection. The key holder
    // channel was closed after the handshake, the verifier's at confinement.
    let sockets = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter(|e| {
            std::fs::read_link(e.as_ref().unwrap().path())
                .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"))
        })
        .count();
    assert_eq!(sockets, 1, "sockets held by the serving child");
    // Unix permissions: the child runs as an unprivileged uid and the key is 0600 root.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid_line.split_whitespace().skip(1).all(|u| u != "0"),
        "{uid_line}"
    );
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o077), (0, 0));
    // Positive control: the same scan finds the key in the key holder.
    let holder = *t.key_holder_pids().last().unwrap();
    assert!(
        memory_contains(holder, &scalar).unwrap(),
        "the scan finds the key where it is"
    );
    drop(stdin);
    let _ = client.wait();
}

#[test]
fn key_holder_crash_is_survived_and_never_serves_without_tls() {
    let Some(t) = start("tls-crash", "") else {
        return;
    };
    assert_eq!(t.curl("a.test", None).1, "200 0");
    let first = t.key_holder_pids();
    assert_eq!(first.len(), 1);
    nix_kill(first[0], 9).unwrap();
    // In the meantime: a TLS success or a clean handshake failure (curl 35), never anything
    // else, and never plaintext.
    let mut failures = 0;
    for _ in 0..6 {
        let (rc, code, body) = t.curl("a.test", None);
        match rc {
            0 => assert_eq!((code.as_str(), body.trim()), ("200 0", "a index")),
            35 | 56 => failures += 1,
            other => panic!("curl exit {other}: {code} {body}"),
        }
    }
    let until = Instant::now() + Duration::from_secs(10);
    while t.key_holder_pids().len() < 2 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let pids = t.key_holder_pids();
    assert!(
        pids.len() >= 2 && pids[1] != first[0],
        "restarted: {pids:?}"
    );
    // After the restart every handshake works again (idle children were renewed).
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..4 {
        assert_eq!(t.curl("a.test", None).1, "200 0");
    }
    eprintln!("handshakes that failed while the key holder was down: {failures}");
    assert!(t.srv.error_log().contains("key holder exited"));
}

#[test]
fn config_errors_name_file_and_line() {
    let dir = scratch("tls-conf");
    std::fs::create_dir_all(dir.join("www")).unwrap();
    for (conf, want) in [
        (
            "Listen 8443 https\n<VirtualHost *:8443>\nDocumentRoot www\nSSLEngine on\n</VirtualHost>\n",
            "httpd.conf:2: SSLEngine on needs SSLCertificateFile and SSLCertificateKeyFile",
        ),
        (
            "Listen 8443 https\n<VirtualHost *:8443>\nDocumentRoot www\nSSLProtocol TLSv1.1\n</VirtualHost>\n",
            "httpd.conf:4: SSLProtocol: TLSv1.1 is not offered",
        ),
        (
            "Listen 8443 https\nSSLCipherSuite HIGH:!aNULL\n<VirtualHost *:8443>\nDocumentRoot www\n</VirtualHost>\n",
            "httpd.conf:2: SSLCipherSuite: 'HIGH' is not a suite this build offers",
        ),
        (
            "Listen 8443 https\n<VirtualHost *:8443>\nDocumentRoot www\n</VirtualHost>\n",
            "Listen 0.0.0.0:8443 https: no <VirtualHost *:8443> has `SSLEngine on`",
        ),
        (
            "Listen 80\nSSLEngine on\nDocumentRoot www\n",
            "httpd.conf:2: SSLEngine belongs in the <VirtualHost *:PORT>",
        ),
        (
            "Listen 80 spdy\nDocumentRoot www\n",
            "httpd.conf:1: Listen: protocol 'spdy' is not http or https",
        ),
    ] {
        std::fs::write(dir.join("httpd.conf"), conf).unwrap();
        let out = Command::new(BIN)
            .arg("-t")
            .arg("-f")
            .arg(dir.join("httpd.conf"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(want), "{conf}\n{err}");
    }
}

/// tests/tls/keyattack.c, compiled static (as tests/probe.rs does its probe).
fn keyattack_binary(dir: &Path) -> PathBuf {
    let out = dir.join("keyattack");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls/keyattack.c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let res = Command::new(&cc)
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-static", "-o"])
        .arg(&out)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cc} (install gcc): {e}"));
    assert!(
        res.status.success(),
        "{cc} failed on tests/tls/keyattack.c:\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    out
}

/// The socket inodes `pid` holds, from outside (as root).
fn socket_inodes(pid: i32) -> Vec<u64> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|t| {
            let t = t.to_string_lossy().into_owned();
            t.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

/// An attack CGI, served over TLS by a root master with `Confinement unix landlock`, tries
/// every way to the key holder's signing service after its handshake: an inherited fd above 2,
/// the fds of its parent and of any process it can see (/proc/PID/fd, pidfd_getfd,
/// /proc/PID/mem, ptrace), the key holder's and the master's pids, a named unix socket of the
/// key holder, and the key file itself. Every attempt must fail; one success fails the test.
/// From outside, the key holder's sockets must have no name at all (nothing to connect to).
#[test]
fn attack_cgi_cannot_reach_the_key_holder() {
    if !is_root() {
        eprintln!("SKIP: the unix backend needs a root master");
        return;
    }
    if !have("cc") {
        eprintln!("SKIP: cc is needed for the attack CGI");
        return;
    }
    // The CGI directory and program belong to the identity it runs as (CGIOwnerCheck).
    let Some(t) = start_with(
        "tls-attack",
        "Confinement unix landlock\nAssignUserID nobody nogroup\n",
        " ScriptAlias /cgi-bin/ {dir}/cgi/\n",
        &|dir| {
            std::fs::create_dir(dir.join("cgi")).unwrap();
            std::fs::copy(keyattack_binary(dir), dir.join("cgi/attack")).unwrap();
            sh(
                dir,
                "chown nobody:nogroup cgi cgi/attack && chmod 755 cgi cgi/attack",
            );
        },
    ) else {
        return;
    };
    // The master logs the key holder's pid; the line may land after the port answers.
    wait_error_log(&t.srv, |l| l.contains("key holder started as pid "));
    let holder = *t
        .key_holder_pids()
        .last()
        .expect("the key holder's pid in the error log");
    let master = t.srv.child.id();
    let inodes = socket_inodes(holder);
    assert!(
        !inodes.is_empty(),
        "the key holder holds its control socket"
    );
    // From outside: none of the key holder's sockets is bound to a path or an abstract name.
    let net_unix = std::fs::read_to_string("/proc/net/unix").unwrap();
    for l in net_unix.lines().skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() >= 8 && inodes.iter().any(|i| f[6] == i.to_string()) {
            panic!("a key holder socket has a name: {l}");
        }
    }
    let key = t.dir.join("keys/a.key");
    let list: Vec<String> = inodes.iter().map(u64::to_string).collect();
    let url = format!(
        "https://a.test:{}/cgi-bin/attack?kh={holder}&master={master}&key={}&inodes={}",
        t.tls_port,
        key.display(),
        list.join(",")
    );
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "30", "--cacert"])
        .arg(t.dir.join("ca.pem"))
        .arg("--resolve")
        .arg(format!("a.test:{}:127.0.0.1", t.tls_port))
        .args(["-w", "\nHTTP %{http_code}\n"])
        .arg(&url)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{report}");
    assert!(
        out.status.success() && report.contains("HTTP 200"),
        "curl: {}\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr),
        t.srv.error_log()
    );
    assert!(
        report.contains("FACT https: on protocol TLSv1.3"),
        "{report}"
    );
    assert!(
        !report.contains("SUCCEEDED"),
        "an attack on the key holder succeeded:\n{report}"
    );
    for name in [
        "ATTEMPT inherited-fds: denied",
        "ATTEMPT read-key-file: denied",
    ] {
        assert!(report.contains(name), "{name} missing:\n{report}");
    }
    // Named sockets: either the list is closed to the CGI (Landlock) or none of the key
    // holder's sockets is in it; checked from outside above as well.
    assert!(
        report.contains("ATTEMPT proc-net-unix: denied")
            || report.contains("ATTEMPT key-holder-named-socket: denied"),
        "{report}"
    );
    // The key holder and the master were really attacked (denied or not there), and the
    // parent likewise.
    for who in ["key-holder", "master"] {
        for what in ["proc-fd", "pidfd-getfd", "proc-mem", "ptrace"] {
            let p = format!("ATTEMPT {what}-{who}: ");
            assert!(
                report.lines().any(|l| l.starts_with(&p)
                    && (l.contains(": denied") || l.contains(": unreachable"))),
                "{p} missing:\n{report}"
            );
        }
    }
    assert!(report.contains("ATTEMPT ") && report.contains("SUMMARY denied="));
    // The key holder is still there (the pids named were alive during the attack) and still
    // signs: a new handshake works.
    assert!(Path::new(&format!("/proc/{holder}")).exists());
    assert_eq!(t.curl("a.test", None).1, "200 0");
}
