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
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -subj '/C=DE/O=oneshot tests, inc./CN=oneshot test CA' -days 2 2>/dev/null
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
    // The memory scans below take longer than the default KeepAliveTimeout on a loaded
    // machine; the child must still be there when they are done (the later one wins).
    let Some(t) = start_with("tls-nokey", "KeepAliveTimeout 300\n", "", &|_| {}) else {
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
    // s_client -quiet ignores the end of its input, and the server keeps the connection for
    // KeepAliveTimeout 300: end the client instead of waiting for that.
    drop(stdin);
    let _ = client.kill();
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
            "Listen 8443 https\nSSLCipherSuite MEDIUM:!aNULL\n<VirtualHost *:8443>\nDocumentRoot www\n</VirtualHost>\n",
            "httpd.conf:2: SSLCipherSuite MEDIUM:!aNULL selects no suite this build offers",
        ),
        (
            "Listen 8443 https\nSSLCipherSuite HIGH:!aNULL:HIGHEST\n<VirtualHost *:8443>\nDocumentRoot www\n</VirtualHost>\n",
            "httpd.conf:2: SSLCipherSuite: 'HIGHEST' is not an OpenSSL cipher keyword",
        ),
        (
            "Listen 80\nDocumentRoot www\n<Directory www>\nSSLOptions +StdEnvVars StrictRequire\n</Directory>\n",
            "httpd.conf:4: SSLOptions: either all options with + or -, or none",
        ),
        (
            "Listen 80\nDocumentRoot www\nSSLOptions +StdEnvVar\n",
            "httpd.conf:3: SSLOptions: unknown option 'StdEnvVar'",
        ),
        (
            "Listen 80\nDocumentRoot www\nSSLSessionTickets maybe\n",
            "httpd.conf:3: SSLSessionTickets takes On or Off",
        ),
        (
            "Listen 443\nDocumentRoot www\n",
            "Listen 0.0.0.0:443 https: no <VirtualHost *:443> has `SSLEngine on`",
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
        " ScriptAlias /cgi-bin/ {dir}/cgi/\n SSLOptions +StdEnvVars\n",
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

/// curl over TLS with extra arguments (`--tlsv1.2 --tls-max 1.2`...) to NAME's PATH: (exit
/// code, body, what curl -v says about the connection).
fn curl_with(t: &Tls, name: &str, path: &str, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new("curl")
        .args(["-sS", "-v", "--max-time", "10", "--cacert"])
        .arg(t.dir.join("ca.pem"))
        .arg("--resolve")
        .arg(format!("{name}:{}:127.0.0.1", t.tls_port))
        .args(extra)
        .arg(format!("https://{name}:{}{path}", t.tls_port))
        .output()
        .unwrap();
    let verbose = String::from_utf8_lossy(&out.stderr);
    let connection = verbose
        .lines()
        .find_map(|l| l.split("SSL connection using ").nth(1))
        .unwrap_or("")
        .to_string();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        connection,
    )
}

/// openssl s_client with extra arguments, SNI `name`: its whole report.
fn s_client_with(t: &Tls, name: &str, extra: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect"])
        .arg(format!("127.0.0.1:{}", t.tls_port))
        .arg("-CAfile")
        .arg(t.dir.join("ca.pem"))
        .args(["-servername", name])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// The "New, TLSv1.2, Cipher is X" line of s_client: (protocol, cipher), or None.
fn negotiated(report: &str) -> Option<(String, String)> {
    let rest = report.lines().find_map(|l| l.strip_prefix("New, "))?;
    let (proto, cipher) = rest.split_once(", Cipher is ")?;
    // "New, (NONE), Cipher is (NONE)": no session.
    (proto != "(NONE)").then_some(())?;
    Some((proto.to_string(), cipher.trim().to_string()))
}

/// TLS 1.2 and 1.3 with real clients (curl, openssl s_client), and `SSLProtocol` honoured in
/// both directions: a.test says `SSLProtocol all`, b.test keeps the default (TLS 1.3 only),
/// and in a second server a.test says `SSLProtocol TLSv1.2`. Oracle: RFC 8446 §4.2.1 and
/// mod_ssl's SSLProtocol; a refused version ends in a protocol_version alert, never a page.
#[test]
fn tls12_and_tls13_with_real_clients_and_sslprotocol_honoured() {
    let Some(t) = start("tls-versions", " SSLProtocol all\n") else {
        return;
    };
    let only12 = ["--tlsv1.2", "--tls-max", "1.2"];
    let (rc, body, conn) = curl_with(&t, "a.test", "/", &only12);
    assert_eq!((rc, body.trim()), (0, "a index"));
    assert!(conn.starts_with("TLSv1.2 / ECDHE-ECDSA-"), "{conn}");
    let (rc, body, conn) = curl_with(&t, "a.test", "/", &["--tlsv1.3"]);
    assert_eq!((rc, body.trim()), (0, "a index"));
    assert!(conn.starts_with("TLSv1.3 / TLS_"), "{conn}");
    let got = negotiated(&s_client_with(&t, "a.test", &["-tls1_2"]));
    assert!(
        got.as_ref()
            .is_some_and(|(p, c)| p == "TLSv1.2" && c.starts_with("ECDHE-ECDSA-")),
        "{got:?}"
    );
    let got = negotiated(&s_client_with(&t, "a.test", &["-tls1_3"]));
    assert!(got.as_ref().is_some_and(|(p, _)| p == "TLSv1.3"), "{got:?}");

    // b.test: TLS 1.3 only; a TLS 1.2-only client is refused with an alert.
    let (rc, body, _) = curl_with(&t, "b.test", "/", &only12);
    assert_ne!(rc, 0, "TLS 1.2 accepted by a TLS 1.3-only vhost: {body}");
    assert!(!body.contains("index"));
    let report = s_client_with(&t, "b.test", &["-tls1_2"]);
    assert!(negotiated(&report).is_none(), "{report}");
    assert!(report.contains("alert protocol version"), "{report}");
    let (rc, body, conn) = curl_with(&t, "b.test", "/", &[]);
    assert_eq!((rc, body.trim()), (0, "b index"));
    assert!(conn.starts_with("TLSv1.3 "), "{conn}");

    // SSLProtocol TLSv1.2 only: a TLS 1.3-only client is refused.
    let Some(t) = start("tls-versions12", " SSLProtocol TLSv1.2\n") else {
        return;
    };
    let (rc, body, _) = curl_with(&t, "a.test", "/", &["--tlsv1.3"]);
    assert_ne!(rc, 0, "TLS 1.3 accepted by a TLS 1.2-only vhost: {body}");
    let report = s_client_with(&t, "a.test", &["-tls1_3"]);
    assert!(negotiated(&report).is_none(), "{report}");
    let (rc, body, conn) = curl_with(&t, "a.test", "/", &[]);
    assert_eq!((rc, body.trim()), (0, "a index"));
    assert!(conn.starts_with("TLSv1.2 "), "{conn}");
}

/// `SSLHonorCipherOrder`: both vhosts allow the same two suites per version (server level,
/// ChaCha20 first); the client prefers AES-128-GCM. a.test says `SSLHonorCipherOrder On`, so
/// the server's first suite the client offers wins (ChaCha20); b.test keeps Apache's default
/// Off, so the client's choice wins. Oracle: mod_ssl's documentation of the directive and what
/// openssl s_client reports it negotiated.
#[test]
fn honor_cipher_order_picks_the_servers_preference() {
    let Some(t) = start_with(
        "tls-order",
        "SSLProtocol all\nSSLCipherSuite ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256\nSSLCipherSuite TLSv1.3 TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256\n",
        " SSLHonorCipherOrder On\n",
        &|_| {},
    ) else {
        return;
    };
    let tls12 = [
        "-tls1_2",
        "-cipher",
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305",
    ];
    let tls13 = [
        "-tls1_3",
        "-ciphersuites",
        "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256",
    ];
    for (name, want12, want13) in [
        (
            "a.test",
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            "TLS_CHACHA20_POLY1305_SHA256",
        ),
        (
            "b.test",
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            "TLS_AES_128_GCM_SHA256",
        ),
    ] {
        let got = negotiated(&s_client_with(&t, name, &tls12));
        assert_eq!(got, Some(("TLSv1.2".into(), want12.into())), "{name}");
        let got = negotiated(&s_client_with(&t, name, &tls13));
        assert_eq!(got, Some(("TLSv1.3".into(), want13.into())), "{name}");
    }
    // A suite outside SSLCipherSuite is never negotiated, whatever the client prefers.
    let report = s_client_with(
        &t,
        "b.test",
        &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"],
    );
    assert!(negotiated(&report).is_none(), "{report}");
}

/// `SSLCipherSuite` takes OpenSSL's cipher-string language (Debian's ssl.conf says
/// `HIGH:!aNULL`): what it selects among the suites this build has, in order, is what OpenSSL
/// itself selects (`openssl ciphers -tls1_2 -s SPEC`, restricted to those suites); a spec
/// OpenSSL rejects or that leaves nothing is a `-t` error.
#[test]
fn cipher_strings_select_what_openssl_selects() {
    if !have("openssl") {
        eprintln!("SKIP: openssl is needed");
        return;
    }
    // rustls's names of the six TLS 1.2 suites, and OpenSSL's.
    let ours = [
        (
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "ECDHE-ECDSA-AES256-GCM-SHA384",
        ),
        (
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "ECDHE-RSA-AES256-GCM-SHA384",
        ),
        (
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "ECDHE-ECDSA-CHACHA20-POLY1305",
        ),
        (
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            "ECDHE-RSA-CHACHA20-POLY1305",
        ),
        (
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "ECDHE-ECDSA-AES128-GCM-SHA256",
        ),
        (
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "ECDHE-RSA-AES128-GCM-SHA256",
        ),
    ];
    for spec in [
        "HIGH:!aNULL",
        "DEFAULT",
        "ALL:!RSA",
        "ECDHE+AESGCM",
        "EECDH+CHACHA20:EECDH+AESGCM",
        "ALL:-AES256:AES",
        "HIGH:!aNULL:+AES128",
        "aRSA:ECDSA",
        "AESGCM:CHACHA20:@STRENGTH",
        "ECDSA+AES128:HIGH:!aRSA:@SECLEVEL=2",
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384",
        "HIGH:!CHACHA20:-AES128:+AES256",
    ] {
        let out = Command::new("openssl")
            .args(["ciphers", "-tls1_2", "-s", spec])
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl rejects {spec}");
        let openssl: Vec<&str> = std::str::from_utf8(&out.stdout)
            .unwrap()
            .trim()
            .split(':')
            .filter(|n| ours.iter().any(|(_, o)| o == n))
            .collect();
        let got = oneshot_httpd::config::tls::cipher_string(spec).unwrap();
        let got: Vec<&str> = got
            .iter()
            .map(|r| ours.iter().find(|(x, _)| x == r).unwrap().1)
            .collect();
        assert_eq!(got, openssl, "SSLCipherSuite {spec}");
    }
    for bad in [
        "MEDIUM:LOW",
        "HIGH:NOSUCHWORD",
        "HIGH:DHE-RSA-AES128-GCM-SHA256",
    ] {
        assert!(
            oneshot_httpd::config::tls::cipher_string(bad).is_err(),
            "{bad} accepted"
        );
    }
}

/// mod_ssl's CGI variables: `HTTPS=on` on every TLS request; the `SSL_*` variables only where
/// `SSLOptions +StdEnvVars` applies (here a `<Directory>` of a.test's ScriptAlias; b.test runs
/// the same program without it). Oracle: mod_ssl's documentation (the variables and their
/// values for a fresh TLS 1.2 session without compression) and curl's own report of the
/// protocol and cipher it negotiated.
#[test]
fn cgi_gets_https_always_and_ssl_variables_with_std_env_vars() {
    let setup = |dir: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir.join("cgi")).unwrap();
        let p = dir.join("cgi/env.sh");
        // `export -p` is a shell builtin: nothing to exec beyond sh.
        std::fs::write(
            &p,
            "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nexport -p\n",
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        if is_root() {
            std::os::unix::fs::chown(&p, Some(65534), None).unwrap();
        }
    };
    let Some(t) = start_with(
        "tls-cgi",
        "SSLProtocol all\nScriptAlias /cgi-bin/ {dir}/cgi/\n",
        " <Directory {dir}/cgi>\n  SSLOptions +StdEnvVars\n </Directory>\n",
        &setup,
    ) else {
        return;
    };
    let vars = |body: &str| -> Vec<String> {
        body.lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter(|l| l.starts_with("HTTPS=") || l.starts_with("SSL_"))
            .map(|l| l.replace('\'', ""))
            .collect()
    };
    let pin = [
        "--tlsv1.2",
        "--tls-max",
        "1.2",
        "--ciphers",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
    ];
    let (rc, body, conn) = curl_with(&t, "a.test", "/cgi-bin/env.sh", &pin);
    assert_eq!(rc, 0, "{body}");
    assert_eq!(conn.trim(), "TLSv1.2 / ECDHE-ECDSA-AES128-GCM-SHA256");
    let mut want = vec![
        "HTTPS=on".to_string(),
        "SSL_CIPHER=ECDHE-ECDSA-AES128-GCM-SHA256".into(),
        "SSL_CIPHER_ALGKEYSIZE=128".into(),
        "SSL_CIPHER_EXPORT=false".into(),
        "SSL_CIPHER_USEKEYSIZE=128".into(),
        "SSL_COMPRESS_METHOD=NULL".into(),
        "SSL_PROTOCOL=TLSv1.2".into(),
        "SSL_SESSION_RESUMED=Initial".into(),
        "SSL_TLS_SNI=a.test".into(),
    ];
    let mut got = vars(&body);
    // SSL_SERVER_*: certificate_variables_match_mod_ssl.
    got.retain(|v| !v.starts_with("SSL_VERSION_") && !v.starts_with("SSL_SERVER_"));
    want.sort();
    got.sort();
    assert_eq!(got, want, "{body}");
    let (rc, body, conn) = curl_with(&t, "a.test", "/cgi-bin/env.sh", &["--tlsv1.3"]);
    assert_eq!(rc, 0, "{body}");
    let cipher = conn.trim().strip_prefix("TLSv1.3 / ").unwrap();
    let got = vars(&body);
    assert!(got.contains(&"SSL_PROTOCOL=TLSv1.3".to_string()), "{got:?}");
    assert!(got.contains(&format!("SSL_CIPHER={cipher}")), "{got:?}");
    // Without StdEnvVars: HTTPS only.
    let (rc, body, _) = curl_with(&t, "b.test", "/cgi-bin/env.sh", &[]);
    assert_eq!(rc, 0, "{body}");
    assert_eq!(vars(&body), ["HTTPS=on"], "{body}");
}

/// `SSLRelaySocketContext` labels the relay's socketpair with setsockcreatecon. Where the kernel
/// cannot (this host has no SELinux), every TLS connection fails closed: the handshake may
/// complete, but no request is served, in TLS or in clear, the error log says why, and the
/// server keeps running. `-t` warns, naming FILE:LINE, when there is no https listener for it.
/// (The VM shows the positive side under enforcing SELinux: tests/vm/checks.sh, tls_checks.)
#[test]
fn relay_socket_context_fails_closed_where_it_cannot_be_set() {
    let selinux = std::fs::read_to_string("/sys/kernel/security/lsm")
        .map(|l| l.contains("selinux"))
        .unwrap_or(false);
    if selinux {
        eprintln!("SKIP: SELinux is active here; the VM checks cover it");
        return;
    }
    let Some(mut t) = start_with(
        "tls-relayctx",
        "SSLRelaySocketContext system_u:system_r:oneshot_tlsrelay_t:s0\n",
        "",
        &|_| {},
    ) else {
        return;
    };
    for _ in 0..2 {
        let (_, code, body) = t.curl("a.test", None);
        assert!(
            !code.starts_with("200"),
            "served although the relay socket could not be labelled: {code}"
        );
        assert!(!body.contains("a index"), "{body}");
    }
    let log = wait_error_log(&t.srv, |l| l.contains("SSLRelaySocketContext"));
    assert!(log.contains("SSLRelaySocketContext"), "{log}");
    assert!(t.srv.child.try_wait().unwrap().is_none(), "the master died");
    t.srv.stop();

    let dir = scratch("tls-relayctx-t");
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(
        dir.join("httpd.conf"),
        "Listen 127.0.0.1:80\nDocumentRoot www\nSSLRelaySocketContext system_u:system_r:oneshot_tlsrelay_t:s0\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("-t")
        .arg("-f")
        .arg(dir.join("httpd.conf"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "httpd.conf:3: SSLRelaySocketContext without a `Listen ... https`: no TLS relay runs"
        ),
        "{err}"
    );
}

/// `%{VAR}x` in LogFormat logs mod_ssl's variables: the protocol and cipher the client itself
/// reports having negotiated (curl -v, the oracle), the SNI it sent, `HTTPS` on; on a plain
/// connection `HTTPS` is `off` and the `SSL_*` variables `-` (mod_ssl's answers). A variable
/// this server cannot fill is refused at `-t` (config_errors_name_file_and_line covers the
/// FILE:LINE form of LogFormat errors).
#[test]
fn ssl_variables_in_the_access_log() {
    let Some(t) = start_with(
        "tls-logvars",
        "LogFormat \"%v %{HTTPS}x %{SSL_PROTOCOL}x %{SSL_CIPHER}x %{SSL_TLS_SNI}x\" sslvars\nCustomLog logs/ssl.log sslvars\n",
        " SSLProtocol all\n",
        &|_| {},
    ) else {
        return;
    };
    let mut want = Vec::new();
    for extra in [&["--tlsv1.2", "--tls-max", "1.2"][..], &["--tlsv1.3"][..]] {
        let (rc, body, conn) = curl_with(&t, "a.test", "/", extra);
        assert_eq!((rc, body.trim()), (0, "a index"), "{conn}");
        let mut parts = conn.split(" / ");
        let (proto, cipher) = (parts.next().unwrap(), parts.next().unwrap_or("?"));
        want.push(format!("a.test on {proto} {cipher} a.test"));
    }
    let r = t.srv.get("plain.test", "/");
    assert_eq!(r.status, 200);
    want.push("plain.test off - - -".to_string());
    let path = t.dir.join("logs/ssl.log");
    let until = Instant::now() + Duration::from_secs(5);
    let mut lines: Vec<String> = Vec::new();
    while Instant::now() < until {
        lines = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
        if lines.len() >= want.len() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(lines, want);
    assert!(
        want[0].contains(" TLSv1.2 ") && want[1].contains(" TLSv1.3 "),
        "{want:?}"
    );

    // A variable the server does not fill: refused at -t, never logged as '-'.
    let conf = t.dir.join("bad-x.conf");
    std::fs::write(
        &conf,
        "Listen 127.0.0.1:1\nDocumentRoot www\nLogFormat \"%{SSL_CLIENT_S_DN}x\" x\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("-t")
        .arg("-f")
        .arg(&conf)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("bad-x.conf:3") && err.contains("SSL_CLIENT_S_DN"),
        "{err}"
    );
}

/// `RequestReadTimeout handshake=1-3,MinRate=50` (mod_reqtimeout's handshake stage, from its
/// documentation): a client that sends nothing is closed after the initial second; one that
/// keeps sending a ClientHello record that never ends, faster than MinRate, gets its deadline
/// moved on as bytes arrive, up to the 3 s maximum, and no further.
#[test]
fn request_read_timeout_handshake_bounds_the_tls_handshake() {
    let Some(t) = start_with(
        "tls-handshake-timeout",
        "RequestReadTimeout handshake=1-3,MinRate=50\n",
        "",
        &|_| {},
    ) else {
        return;
    };
    let closed_after = |trickle: bool| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", t.tls_port)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let started = Instant::now();
        if trickle {
            // A handshake record announcing 16 KiB (RFC 8446 §5.1), never completed.
            s.write_all(&[22, 3, 1, 0x40, 0]).unwrap();
        }
        let mut buf = [0u8; 512];
        while started.elapsed() < Duration::from_secs(8) {
            match s.read(&mut buf) {
                Ok(0) => return started.elapsed(),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return started.elapsed(),
            }
            if trickle && s.write_all(&[0u8; 50]).is_err() {
                return started.elapsed();
            }
        }
        panic!("the handshake was not bounded");
    };
    let silent = closed_after(false);
    assert!(
        silent >= Duration::from_millis(800) && silent < Duration::from_millis(2500),
        "{silent:?}"
    );
    let trickled = closed_after(true);
    assert!(
        trickled >= Duration::from_millis(2500) && trickled < Duration::from_secs(5),
        "{trickled:?}"
    );
}

/// The certificate variables under `SSLOptions +StdEnvVars` (`SSL_SERVER_S_DN`, `_I_DN`,
/// `_M_SERIAL`, `_M_VERSION`, `_V_START`, `_V_END`, `_A_SIG`, `_A_KEY`) are mod_ssl's: the
/// oracle is Debian's apache2 with mod_ssl and mod_cgi serving the same certificate to the same
/// shell program, whose environment is compared variable by variable.
#[test]
fn certificate_variables_match_mod_ssl() {
    if !is_root() {
        eprintln!("SKIP certificate_variables_match_mod_ssl: needs root (apache2, CGI as nobody)");
        return;
    }
    let script = "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nexport -p\n";
    let setup = |dir: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir.join("cgi")).unwrap();
        let p = dir.join("cgi/env.sh");
        std::fs::write(&p, script).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(&p, Some(65534), None).unwrap();
    };
    let Some(t) = start_with(
        "tls-certvars",
        "ScriptAlias /cgi-bin/ {dir}/cgi/\n",
        " <Directory {dir}/cgi>\n  SSLOptions +StdEnvVars\n </Directory>\n",
        &setup,
    ) else {
        return;
    };
    let server_vars = |body: &str| -> Vec<String> {
        let mut v: Vec<String> = body
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter(|l| {
                [
                    "SSL_SERVER_S_DN=",
                    "SSL_SERVER_I_DN=",
                    "SSL_SERVER_M_SERIAL=",
                    "SSL_SERVER_M_VERSION=",
                    "SSL_SERVER_V_START=",
                    "SSL_SERVER_V_END=",
                    "SSL_SERVER_A_SIG=",
                    "SSL_SERVER_A_KEY=",
                ]
                .iter()
                .any(|k| l.starts_with(k))
            })
            .map(|l| l.replace('\'', ""))
            .collect();
        v.sort();
        v
    };
    let (rc, body, _) = curl_with(&t, "a.test", "/cgi-bin/env.sh", &[]);
    assert_eq!(rc, 0, "{body}");
    let ours = server_vars(&body);
    assert_eq!(ours.len(), 8, "{body}");

    let pki = t.dir.clone();
    common::apache::with_apache(
        "tls-certvars-apache",
        |root| {
            std::fs::create_dir_all(root.join("cgi")).unwrap();
            setup(root);
        },
        |root| {
            format!(
                "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n\
                 LoadModule cgi_module /usr/lib/apache2/modules/mod_cgi.so\n\
                 LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so\n\
                 SSLEngine on\nSSLCertificateFile {p}/a.pem\nSSLCertificateKeyFile {p}/keys/a.key\n\
                 ScriptAlias /cgi-bin/ {r}/cgi/\n\
                 <Directory {r}/cgi>\n  SSLOptions +StdEnvVars\n  Require all granted\n</Directory>\n",
                p = pki.display(),
                r = root.display()
            )
        },
        &[],
        |port| {
            let out = Command::new("curl")
                .args(["-sS", "--max-time", "10", "--cacert"])
                .arg(pki.join("ca.pem"))
                .arg("--resolve")
                .arg(format!("a.test:{port}:127.0.0.1"))
                .arg(format!("https://a.test:{port}/cgi-bin/env.sh"))
                .output()
                .unwrap();
            let body = String::from_utf8_lossy(&out.stdout);
            let apache = server_vars(&body);
            assert_eq!(apache.len(), 8, "{body}");
            assert_eq!(ours, apache);
        },
    );
}

/// Over TLS the serving process writes to the relay, which stops reading when the client does:
/// Apache's `Timeout` still ends the request (tests/slow_reader.rs is the plaintext case), and
/// neither the serving process nor its relay is left behind.
#[test]
fn a_tls_client_that_stops_reading_is_dropped_after_timeout() {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let Some(t) = start_with("tls_slow_reader", "", "", &|dir| {
        let big = std::fs::File::create(dir.join("www/a/big.bin")).unwrap();
        big.set_len(256 << 20).unwrap();
    }) else {
        return;
    };
    // The server's Timeout is 10 s (start_with); the bound below allows for it.
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(t.dir.join("ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn =
        rustls::ClientConnection::new(std::sync::Arc::new(cfg), "a.test".try_into().unwrap())
            .unwrap();
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", t.tls_port).parse().unwrap();
    sock.connect(&addr.into()).unwrap();
    let tcp: std::net::TcpStream = sock.into();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"GET /big.bin HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        .unwrap();
    tls.flush().unwrap();
    // Read only the head, then nothing more.
    let mut first = [0u8; 64];
    let n = tls.read(&mut first).unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &first[..n]);
    let started = Instant::now();
    let mut serving = None;
    let mut relays = Vec::new();
    let line = loop {
        // The serving process is the master's child with a child of its own (the relay).
        for pid in children_of(t.srv.pid() as i32) {
            let kids: Vec<u32> = children_of(pid).into_iter().map(|p| p as u32).collect();
            if !kids.is_empty() && serving.is_none() {
                serving = Some(pid as u32);
                relays = kids;
            }
        }
        let lines = t.srv.access_log();
        if let Some(l) = lines.iter().find(|l| l.contains("GET /big.bin")) {
            break l.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "no access line after {:?}: the serving process still waits on the client",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let pid = log_pid(&line);
    assert_eq!(serving, Some(pid), "{line}");
    assert!(!relays.is_empty());
    let until = Instant::now() + Duration::from_secs(10);
    while (alive(pid) || relays.iter().any(|&r| alive(r))) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(pid), "serving process {pid} left behind: {line}");
    for r in relays {
        assert!(!alive(r), "relay {r} left behind");
    }
    drop(tls);
}
