//! CGI through the real binary: meta-variables, request bodies, Status/Location, malformed
//! output, timeouts that leave no process behind, large outputs with bounded memory, and every
//! suEXEC refusal with its error-log line.
//!
//! Scripts are /bin/sh (or perl, for an exact environment dump) files written by the test.
//! As root the server's children run as `nobody`, so scripts are chowned to it: suEXEC's owner
//! check wants the program to belong to the identity it runs as.

mod common;
use common::*;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const NOBODY: u32 = 65534;

/// The uid the server's children run as: `nobody` under a root master, else ourselves.
fn target_uid() -> u32 {
    if is_root() {
        NOBODY
    } else {
        nix::unistd::geteuid().as_raw()
    }
}

fn chown(p: &Path, uid: u32) {
    if is_root() {
        std::os::unix::fs::chown(p, Some(uid), None).unwrap();
    }
}

/// Writes an executable script owned by the target user.
fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    chown(&p, target_uid());
    p
}

const CGI_CONF: &str = "ScriptAlias /cgi-bin/ cgi/\nCGIScriptTimeout 2\n";

/// The standard site plus `cgi/` (ScriptAlias /cgi-bin/) and `www/default/dyn/`, the one
/// place where ExecCGI lets `.cgi` files (AddHandler, everywhere) run.
fn cgi_site(name: &str) -> PathBuf {
    let dir = site(name);
    std::fs::create_dir_all(dir.join("cgi")).unwrap();
    std::fs::create_dir_all(dir.join("www/default/dyn")).unwrap();
    let d = dir.join("www/default");
    std::fs::write(d.join("dyn/plain.txt"), "plain text\n").unwrap();
    dir
}

fn start(dir: &Path, extra: &str) -> Server {
    // Server-level ScriptAlias and Directory sections apply to every vhost.
    let conf = format!(
        "{CGI_CONF}{extra}AddHandler cgi-script .cgi\n<Directory {}/www/default/dyn>\n  Options +ExecCGI\n</Directory>\n{BASE_CONF}",
        dir.display()
    );
    Server::start(dir, &conf)
}

fn request(s: &Server, raw: &str) -> Resp {
    parse_resp(&s.raw(raw.as_bytes()))
}

fn get(s: &Server, path: &str) -> Resp {
    s.get("default.test", path)
}

/// Decodes a chunked body.
fn dechunk(b: &[u8]) -> Vec<u8> {
    dechunk_split(b).0
}

/// Decodes the chunked body at the start of `b` (no trailers); what follows it.
fn dechunk_split(mut b: &[u8]) -> (Vec<u8>, &[u8]) {
    let mut out = Vec::new();
    loop {
        let nl = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let n = usize::from_str_radix(std::str::from_utf8(&b[..nl]).unwrap(), 16).unwrap();
        b = &b[nl + 2..];
        if n == 0 {
            assert!(b.starts_with(b"\r\n"), "no end after the last chunk");
            return (out, &b[2..]);
        }
        out.extend_from_slice(&b[..n]);
        assert_eq!(&b[n..n + 2], b"\r\n", "chunk {n} not followed by CRLF");
        b = &b[n + 2..];
    }
}

fn body_text(r: &Resp) -> String {
    let raw = if r.header("Transfer-Encoding").as_deref() == Some("chunked") {
        dechunk(&r.body)
    } else {
        r.body.clone()
    };
    String::from_utf8_lossy(&raw).into_owned()
}

fn env_map(text: &str) -> std::collections::BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Waits until the error log contains `needle`.
fn wait_log(s: &Server, needle: &str) -> String {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let log = s.error_log();
        if log.contains(needle) || Instant::now() > until {
            return log;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

const ENV_PL: &str = "#!/usr/bin/perl\nprint \"Content-Type: text/plain\\n\\n\";\nprint \"$_=$ENV{$_}\\n\" for sort keys %ENV;\n";

const ECHO_SH: &str = "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\necho \"len=$CONTENT_LENGTH method=$REQUEST_METHOD\"\nexec cat\n";

#[test]
fn get_with_query_and_path_info_gets_exactly_the_listed_environment() {
    let dir = cgi_site("cgi-env");
    script(&dir.join("cgi"), "env.pl", ENV_PL);
    let s = start(&dir, "");
    let r = request(
        &s,
        "GET /cgi-bin/env.pl/extra/p%20i?a=1&b=%20 HTTP/1.1\r\nHost: default.test\r\nProxy: http://evil.test:1/\r\nAuthorization: Basic YTpi\r\nX-Custom: yes\r\nX_Forged: no\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200, "{}\n{}", r.head, s.error_log());
    let env = env_map(&body_text(&r));
    let want: &[(&str, &str)] = &[
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("REQUEST_METHOD", "GET"),
        ("QUERY_STRING", "a=1&b=%20"),
        ("SCRIPT_NAME", "/cgi-bin/env.pl"),
        ("PATH_INFO", "/extra/p i"),
        ("REQUEST_URI", "/cgi-bin/env.pl/extra/p%20i?a=1&b=%20"),
        ("SERVER_NAME", "default.test"),
        ("SERVER_PORT", &s.port.to_string()),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("SERVER_SOFTWARE", "oneshot-httpd"),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("HTTPS", "off"),
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("HTTP_HOST", "default.test"),
        ("HTTP_X_CUSTOM", "yes"),
    ];
    for (k, v) in want {
        assert_eq!(env.get(*k).map(String::as_str), Some(*v), "{k} in {env:?}");
    }
    let root = dir.join("www/default");
    assert_eq!(env["DOCUMENT_ROOT"], root.to_string_lossy());
    assert_eq!(
        env["PATH_TRANSLATED"],
        format!("{}/extra/p i", root.display())
    );
    assert_eq!(
        env["SCRIPT_FILENAME"],
        dir.join("cgi/env.pl").to_string_lossy()
    );
    assert!(env["REMOTE_PORT"].parse::<u16>().is_ok());
    let allowed = [
        "AUTH_TYPE",
        "CONTENT_LENGTH",
        "CONTENT_TYPE",
        "DOCUMENT_ROOT",
        "GATEWAY_INTERFACE",
        "HTTPS",
        "PATH",
        "PATH_INFO",
        "PATH_TRANSLATED",
        "QUERY_STRING",
        "REMOTE_ADDR",
        "REMOTE_PORT",
        "REMOTE_USER",
        "REQUEST_METHOD",
        "REQUEST_URI",
        "SCRIPT_FILENAME",
        "SCRIPT_NAME",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "SERVER_SOFTWARE",
    ];
    for k in env.keys() {
        assert!(
            allowed.contains(&k.as_str()) || k.starts_with("HTTP_"),
            "unexpected variable {k}"
        );
    }
    for k in [
        "HTTP_PROXY",
        "HTTP_AUTHORIZATION",
        "HTTP_X_FORGED",
        "CONTENT_LENGTH",
        "REMOTE_USER",
    ] {
        assert!(!env.contains_key(k), "{k} must not be set: {env:?}");
    }
}

#[test]
fn post_bodies_with_content_length_chunked_and_100_continue() {
    let dir = cgi_site("cgi-post");
    script(&dir.join("cgi"), "echo.sh", ECHO_SH);
    let s = start(&dir, "");

    let r = request(
        &s,
        "POST /cgi-bin/echo.sh HTTP/1.1\r\nHost: default.test\r\nContent-Length: 11\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nhello world",
    );
    assert_eq!(r.status, 200, "{}", s.error_log());
    assert_eq!(body_text(&r), "len=11 method=POST\nhello world");
    // Its output ends only after the body went through it: the body was pumped while the
    // output was held, and the output still got its length.
    assert_eq!(
        r.header("Content-Length").as_deref(),
        Some("30"),
        "{}",
        r.head
    );

    let r = request(
        &s,
        "POST /cgi-bin/echo.sh HTTP/1.1\r\nHost: default.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
    );
    assert_eq!(r.status, 200, "{}", s.error_log());
    assert_eq!(body_text(&r), "len=11 method=POST\nhello world");

    let r = request(
        &s,
        "POST /cgi-bin/echo.sh HTTP/1.1\r\nHost: default.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    );
    assert_eq!(r.status, 400, "malformed chunked body");

    // 100 Continue comes only once the program is ready for the body.
    let mut c = s.connect();
    c.write_all(b"POST /cgi-bin/echo.sh HTTP/1.1\r\nHost: default.test\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut got = [0u8; 25];
    c.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.write_all(b"ping").unwrap();
    let r = parse_resp(&read_all(&mut c));
    assert_eq!(r.status, 200);
    assert_eq!(body_text(&r), "len=4 method=POST\nping");
}

#[test]
fn a_body_trickled_past_request_read_timeout_body_is_408() {
    let dir = cgi_site("cgi-slow-body");
    // Reads the whole body before answering, so nothing is sent before the deadline.
    script(
        &dir.join("cgi"),
        "slurp.sh",
        "#!/bin/sh\ncat >/dev/null\nprintf 'Content-Type: text/plain\\n\\nread\\n'\n",
    );
    // body=1: the body phase may take 1 s, shorter than CGIScriptTimeout (2 s) and Timeout.
    let s = start(&dir, "RequestReadTimeout header=5 body=1\n");
    let mut c = s.connect();
    c.write_all(b"POST /cgi-bin/slurp.sh HTTP/1.1\r\nHost: default.test\r\nContent-Length: 100\r\nConnection: close\r\n\r\nabc")
        .unwrap();
    // The client stays connected and sends nothing more.
    let r = parse_resp(&read_all(&mut c));
    assert_eq!(r.status, 408, "{}", s.error_log());
    wait_log(&s, "request body too slow: 3 bytes within 1s");
}

#[test]
fn a_body_over_limit_is_413_and_a_refused_request_gets_no_100_continue() {
    let dir = cgi_site("cgi-limit");
    script(&dir.join("cgi"), "echo.sh", ECHO_SH);
    let bad = script(&dir.join("cgi"), "bad.sh", ECHO_SH);
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o775)).unwrap();
    let s = start(&dir, "LimitRequestBody 10\n");
    let r = request(
        &s,
        "POST /cgi-bin/echo.sh HTTP/1.1\r\nHost: default.test\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world",
    );
    assert_eq!(r.status, 413);
    let r = request(
        &s,
        "POST /cgi-bin/echo.sh HTTP/1.1\r\nHost: default.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n",
    );
    assert_eq!(r.status, 413);
    let raw = s.raw(b"POST /cgi-bin/bad.sh HTTP/1.1\r\nHost: default.test\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 403 "), "{text}");
    assert!(!text.contains("100 Continue"), "{text}");
}

#[test]
fn status_and_location_headers() {
    let dir = cgi_site("cgi-status");
    let c = dir.join("cgi");
    script(&c, "status.sh", "#!/bin/sh\nprintf 'Status: 404 Gone Fishing\\nContent-Type: text/plain\\nX-Extra: 1\\n\\nnot here\\n'\n");
    script(
        &c,
        "away.sh",
        "#!/bin/sh\nprintf 'Location: http://elsewhere.test/x\\n\\n'\n",
    );
    script(
        &c,
        "local.sh",
        "#!/bin/sh\nprintf 'Location: /index.html\\n\\n'\n",
    );
    script(
        &c,
        "tocgi.sh",
        "#!/bin/sh\nprintf 'Location: /cgi-bin/echo.sh?from=local\\n\\n'\n",
    );
    script(&c, "echo.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\necho \"q=$QUERY_STRING m=$REQUEST_METHOD len=${CONTENT_LENGTH:-none}\"\n");
    script(
        &c,
        "loop.sh",
        "#!/bin/sh\nprintf 'Location: /cgi-bin/loop.sh\\n\\n'\n",
    );
    let s = start(&dir, "");

    let r = get(&s, "/cgi-bin/status.sh");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("X-Extra").as_deref(), Some("1"));
    assert_eq!(body_text(&r), "not here\n");

    let r = get(&s, "/cgi-bin/away.sh");
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("Location").as_deref(),
        Some("http://elsewhere.test/x")
    );

    let r = get(&s, "/cgi-bin/local.sh");
    assert_eq!(r.status, 200);
    assert_eq!(body_text(&r), "default index\n");

    // A POST redirected locally becomes a GET without its body.
    let r = request(
        &s,
        "POST /cgi-bin/tocgi.sh HTTP/1.1\r\nHost: default.test\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    );
    assert_eq!(r.status, 200);
    assert_eq!(body_text(&r), "q=from=local m=GET len=none\n");

    let r = get(&s, "/cgi-bin/loop.sh");
    assert_eq!(r.status, 500);
    assert!(wait_log(&s, "more than 10 local redirects").contains("more than 10 local redirects"));
}

#[test]
fn malformed_output_is_500_with_a_log_line_naming_script_and_reason() {
    let dir = cgi_site("cgi-malformed");
    let c = dir.join("cgi");
    script(
        &c,
        "garbage.sh",
        "#!/bin/sh\necho 'this is not a header'\necho\n",
    );
    script(
        &c,
        "nofield.sh",
        "#!/bin/sh\nprintf 'X-Only: 1\\n\\nbody'\n",
    );
    script(&c, "silent.sh", "#!/bin/sh\nexit 0\n");
    script(&c, "status.sh", "#!/bin/sh\nprintf 'Status: abc\\n\\n'\n");
    let s = start(&dir, "");
    for (name, why) in [
        ("garbage.sh", "line 1: no ':' in header line"),
        ("nofield.sh", "no Content-Type, Location or Status header"),
        (
            "silent.sh",
            "output ended before the end of the header block",
        ),
        ("status.sh", "invalid Status 'abc'"),
    ] {
        let r = get(&s, &format!("/cgi-bin/{name}"));
        assert_eq!(r.status, 500, "{name}");
        let path = c.join(name);
        let needle = format!("cgi {}: malformed header from script: ", path.display());
        let log = wait_log(&s, &format!("{needle}{why}"));
        assert!(log.contains(&format!("{needle}{why}")), "{name}: {log}");
    }
}

/// Pids of every process in process group `pgid`.
fn group_members(pgid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        // state ppid pgrp ...
        if rest.split(' ').nth(2).and_then(|g| g.parse().ok()) == Some(pgid) {
            out.push(pid);
        }
    }
    out
}

fn started_pid(s: &Server, script: &Path) -> i32 {
    let needle = format!("cgi {}: started as pid ", script.display());
    let log = wait_log(s, &needle);
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains(&needle))
        .unwrap_or_else(|| panic!("no start line for {}: {log}", script.display()));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Host pids whose command line is exactly `argv` (NUL-separated in /proc).
fn pids_running(argv: &[&str]) -> Vec<i32> {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want)
                && std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|st| !st.contains(") Z "))
        })
        .collect()
}

#[test]
fn a_daemon_that_left_the_process_group_does_not_outlive_its_connection() {
    // setsid takes the sleep out of the program's process group (and session), so the group
    // kill cannot reach it. With namespaces (the default) it dies with the programs' PID
    // namespace when the server child exits; with `Namespaces Off` the master, as subreaper,
    // inherits and kills it.
    for (i, extra) in ["", "Namespaces Off\n"].into_iter().enumerate() {
        let dir = cgi_site(&format!("cgi-daemon{i}"));
        // A unique duration names the daemon on the host (its `$!` is a pid of the program's
        // own PID namespace when there is one).
        let secs = format!("{}.{}{i}", 60 + i, std::process::id());
        script(
            &dir.join("cgi"),
            "daemon.sh",
            &format!("#!/bin/sh\nsetsid sleep {secs} </dev/null >/dev/null &\nsleep 1\nprintf 'Content-Type: text/plain\\n\\ndaemon=%s\\n' \"$!\"\n"),
        );
        let s = start(&dir, extra);
        let r = get(&s, "/cgi-bin/daemon.sh");
        assert_eq!(r.status, 200, "{}", s.error_log());
        assert!(body_text(&r).starts_with("daemon="), "{}", body_text(&r));
        let until = Instant::now() + Duration::from_secs(10);
        while !pids_running(&["sleep", &secs]).is_empty() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        let left = pids_running(&["sleep", &secs]);
        assert!(
            left.is_empty(),
            "{extra:?}: sleep {secs} still runs as {left:?} after its connection ended"
        );
        if !extra.is_empty() {
            assert!(s.error_log().contains("killing pid"), "{}", s.error_log());
        }
    }
}

#[test]
fn a_hung_script_gets_504_and_leaves_no_process_behind() {
    let dir = cgi_site("cgi-hang");
    let hang = script(
        &dir.join("cgi"),
        "hang.sh",
        "#!/bin/sh\nsleep 60 &\nsleep 60\n",
    );
    let late = script(
        &dir.join("cgi"),
        "late.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nstarted\\n'\nsleep 60 &\nsleep 60\n",
    );
    let s = start(&dir, "");
    let r = get(&s, "/cgi-bin/hang.sh");
    assert_eq!(r.status, 504, "{}", s.error_log());
    let pid = started_pid(&s, &hang);
    assert!(
        group_members(pid).is_empty(),
        "process group {pid} survived: {:?}",
        group_members(pid)
    );
    assert!(s
        .error_log()
        .contains("no progress within CGIScriptTimeout"));

    // Once the response has begun, a timeout can only close the connection.
    let r = get(&s, "/cgi-bin/late.sh");
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("started"));
    let pid = started_pid(&s, &late);
    assert!(
        group_members(pid).is_empty(),
        "process group {pid} survived"
    );

    // A client that goes away while the script hangs does not leave it running either.
    let mut c = s.connect();
    c.write_all(b"GET /cgi-bin/hang.sh HTTP/1.1\r\nHost: default.test\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(c);
    let until = Instant::now() + Duration::from_secs(10);
    let pid = loop {
        let log = s.error_log();
        let n = log
            .matches(&format!("cgi {}: started as pid ", hang.display()))
            .count();
        if n >= 2 || Instant::now() > until {
            break started_pid(&s, &hang);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let until = Instant::now() + Duration::from_secs(10);
    while !group_members(pid).is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        group_members(pid).is_empty(),
        "process group {pid} survived its client"
    );
}

fn vm_hwm_kib(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.split(' ').nth(1)?.parse().ok()
}

#[test]
fn fifty_mib_of_output_stream_with_bounded_memory() {
    const SIZE: usize = 50 * 1024 * 1024;
    let dir = cgi_site("cgi-large");
    let big = script(
        &dir.join("cgi"),
        "big.sh",
        &format!("#!/bin/sh\nprintf 'Content-Type: application/octet-stream\\n\\n'\nyes 0123456789abcdef | head -c {SIZE}\n"),
    );
    let s = start(&dir, "");
    let mut c = s.connect();
    c.write_all(b"GET /cgi-bin/big.sh HTTP/1.1\r\nHost: default.test\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Read the first part, then look at the serving child while the rest is still pending.
    let mut first = vec![0u8; 1024 * 1024];
    c.read_exact(&mut first).unwrap();
    let script_pid = started_pid(&s, &big);
    let child = parent_of(script_pid).expect("the script runs while its output is pending");
    let mut rest = Vec::new();
    let mut total = first.len();
    let mut peak = vm_hwm_kib(child).unwrap_or(0);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                total += n;
                if rest.len() < 4096 {
                    rest.extend_from_slice(&buf[..n.min(4096)]);
                }
                if let Some(k) = vm_hwm_kib(child) {
                    peak = peak.max(k);
                }
            }
            Err(e) => panic!("read: {e}"),
        }
    }
    let head_end = first.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&first[..head_end]);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(head.contains("Connection: close"), "{head}");
    assert_eq!(total - head_end, SIZE);
    assert!(peak > 0, "could not read the child's VmHWM");
    eprintln!("serving child's peak RSS for {SIZE} bytes of CGI output: {peak} KiB");
    // The output is 50 MiB; the child holds a 64 KiB buffer at a time.
    assert!(
        peak < 24 * 1024,
        "serving child peaked at {peak} KiB of RSS for a 50 MiB output"
    );
}

#[test]
fn a_small_output_on_connection_close_carries_its_content_length() {
    let dir = cgi_site("cgi-length");
    let c = dir.join("cgi");
    // Three writes (shell builtins): the length covers all of them.
    script(
        &c,
        "parts.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nprintf 'one\\n'\necho two\n",
    );
    script(
        &c,
        "empty.sh",
        "#!/bin/sh\nprintf 'Status: 201 Created\\nContent-Type: text/plain\\n\\n'\n",
    );
    let s = start(&dir, "");
    for raw in [
        "GET /cgi-bin/parts.sh HTTP/1.1\r\nHost: default.test\r\nConnection: close\r\n\r\n",
        // HTTP/1.0 cannot take chunks: before, its body was delimited by the close.
        "GET /cgi-bin/parts.sh HTTP/1.0\r\nHost: default.test\r\n\r\n",
    ] {
        let r = request(&s, raw);
        assert_eq!(r.status, 200, "{raw:?}: {}", s.error_log());
        assert_eq!(
            r.header("Content-Length").as_deref(),
            Some("8"),
            "{}",
            r.head
        );
        assert_eq!(r.header("Transfer-Encoding"), None, "{}", r.head);
        assert_eq!(r.header("Connection").as_deref(), Some("close"));
        assert_eq!(r.body, b"one\ntwo\n");
    }
    let r = get(&s, "/cgi-bin/empty.sh");
    assert_eq!(r.status, 201);
    assert_eq!(
        r.header("Content-Length").as_deref(),
        Some("0"),
        "{}",
        r.head
    );
    assert!(r.body.is_empty());
    let lines = s.wait_log_lines(3);
    assert!(lines[0].contains("\" 200 8 "), "{}", lines[0]);
    // The combined format writes an empty body as "-".
    assert!(lines[2].contains("\" 201 - "), "{}", lines[2]);
}

#[test]
fn keep_alive_small_outputs_get_content_length_and_head_gets_no_body() {
    let dir = cgi_site("cgi-keepalive");
    script(
        &dir.join("cgi"),
        "hi.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhello\\n'\n",
    );
    script(
        &dir.join("cgi"),
        "len.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\nContent-Length: 3\\n\\nabc'\n",
    );
    // Writes no body for HEAD: that says nothing about the GET's length.
    script(
        &dir.join("cgi"),
        "headaware.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n[ \"$REQUEST_METHOD\" = HEAD ] || echo body\n",
    );
    let s = start(&dir, "");
    let raw = s.raw(b"GET /cgi-bin/hi.sh HTTP/1.1\r\nHost: default.test\r\n\r\nHEAD /cgi-bin/hi.sh HTTP/1.1\r\nHost: default.test\r\n\r\nHEAD /cgi-bin/headaware.sh HTTP/1.1\r\nHost: default.test\r\n\r\nGET /cgi-bin/len.sh HTTP/1.1\r\nHost: default.test\r\n\r\nGET /index.html HTTP/1.1\r\nHost: default.test\r\nConnection: close\r\n\r\n");
    let text = String::from_utf8_lossy(&raw);
    assert_eq!(statuses(&raw), vec![200; 5], "{text}");
    assert!(!text.contains("Transfer-Encoding"), "{text}");
    let resps: Vec<&str> = text.split("HTTP/1.1 200 OK").skip(1).collect();
    assert!(
        resps[0].ends_with("Content-Length: 6\r\nConnection: keep-alive\r\n\r\nhello\n"),
        "{:?}",
        resps[0]
    );
    // The HEAD response has the GET's length and a head only: the next response follows it.
    assert!(
        resps[1].ends_with("Content-Length: 6\r\nConnection: keep-alive\r\n\r\n"),
        "{:?}",
        resps[1]
    );
    assert!(
        resps[2].ends_with("Connection: keep-alive\r\n\r\n") && !resps[2].contains("Length"),
        "{:?}",
        resps[2]
    );
    assert!(
        resps[3].ends_with("Content-Length: 3\r\nConnection: keep-alive\r\n\r\nabc"),
        "{:?}",
        resps[3]
    );
    assert!(text.ends_with("default index\n"), "{text}");
    let pids: std::collections::BTreeSet<u32> =
        s.wait_log_lines(5).iter().map(|l| log_pid(l)).collect();
    assert_eq!(pids.len(), 1, "one child served the connection");
}

#[test]
fn an_output_past_64_kib_streams_chunked_on_keep_alive_else_until_close() {
    const HOLD: usize = 64 * 1024;
    let dir = cgi_site("cgi-past-hold");
    // One process, one buffered print: the whole output comes at once.
    script(
        &dir.join("cgi"),
        "fill.pl",
        "#!/usr/bin/perl\nprint \"Content-Type: application/octet-stream\\n\\n\", 'x' x $ENV{QUERY_STRING};\n",
    );
    let s = start(&dir, "");

    let r = get(&s, &format!("/cgi-bin/fill.pl?{HOLD}"));
    assert_eq!(r.status, 200, "{}", s.error_log());
    assert_eq!(
        r.header("Content-Length"),
        Some(HOLD.to_string()),
        "{}",
        r.head
    );
    assert_eq!(r.body.len(), HOLD);

    let r = get(&s, &format!("/cgi-bin/fill.pl?{}", HOLD + 1));
    assert_eq!(r.status, 200, "{}", s.error_log());
    assert_eq!(r.header("Content-Length"), None, "{}", r.head);
    assert_eq!(r.header("Transfer-Encoding"), None, "{}", r.head);
    assert_eq!(r.header("Connection").as_deref(), Some("close"));
    assert_eq!(r.body, vec![b'x'; HOLD + 1]);

    let req = format!(
        "GET /cgi-bin/fill.pl?{0} HTTP/1.1\r\nHost: default.test\r\n\r\nHEAD /cgi-bin/fill.pl?{0} HTTP/1.1\r\nHost: default.test\r\n\r\nGET /index.html HTTP/1.1\r\nHost: default.test\r\nConnection: close\r\n\r\n",
        HOLD + 1
    );
    let raw = s.raw(req.as_bytes());
    let first = parse_resp(&raw);
    assert_eq!(first.status, 200, "{}", s.error_log());
    assert_eq!(
        first.header("Transfer-Encoding").as_deref(),
        Some("chunked"),
        "{}",
        first.head
    );
    assert_eq!(first.header("Connection").as_deref(), Some("keep-alive"));
    let (body, rest) = dechunk_split(&first.body);
    assert_eq!(body, vec![b'x'; HOLD + 1]);
    // HEAD: the length is not known, so none is claimed, and no body follows.
    let head = String::from_utf8_lossy(rest);
    let (head, after) = head.split_once("\r\n\r\n").expect("a HEAD response");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(!head.contains("Content-Length"), "{head}");
    assert!(head.ends_with("Connection: keep-alive"), "{head}");
    assert!(after.starts_with("HTTP/1.1 200 OK\r\n"), "{after:?}");
    assert!(after.ends_with("default index\n"), "{after:?}");
}

#[test]
fn a_program_pausing_past_the_hold_window_streams_as_before() {
    let dir = cgi_site("cgi-pause");
    // The pause (1 s) is twice the hold window and under CGIScriptTimeout (2 s).
    script(
        &dir.join("cgi"),
        "pause.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nfirst\\n'\nsleep 1\necho second\n",
    );
    let s = start(&dir, "");
    let raw = s.raw(b"GET /cgi-bin/pause.sh HTTP/1.1\r\nHost: default.test\r\n\r\nGET /index.html HTTP/1.1\r\nHost: default.test\r\nConnection: close\r\n\r\n");
    let r = parse_resp(&raw);
    assert_eq!(r.status, 200, "{}", s.error_log());
    assert_eq!(
        r.header("Transfer-Encoding").as_deref(),
        Some("chunked"),
        "{}",
        r.head
    );
    let (body, rest) = dechunk_split(&r.body);
    assert_eq!(body, b"first\nsecond\n");
    assert!(
        String::from_utf8_lossy(rest).ends_with("default index\n"),
        "{rest:?}"
    );

    let r = get(&s, "/cgi-bin/pause.sh");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Length"), None, "{}", r.head);
    assert_eq!(r.body, b"first\nsecond\n");
}

#[test]
fn stderr_goes_to_the_error_log_and_only_fds_0_to_2_are_open() {
    let dir = cgi_site("cgi-stderr");
    let p = script(
        &dir.join("cgi"),
        "fds.sh",
        "#!/bin/sh\necho 'a complaint' >&2\nprintf 'Content-Type: text/plain\\n\\n'\nfor fd in $(seq 0 64); do if { : >&$fd; } 2>/dev/null || { : <&$fd; } 2>/dev/null; then echo \"open $fd\"; fi; done\n",
    );
    let s = start(&dir, "");
    let r = get(&s, "/cgi-bin/fds.sh");
    assert_eq!(r.status, 200, "{}", s.error_log());
    assert_eq!(body_text(&r), "open 0\nopen 1\nopen 2\n");
    let pid = started_pid(&s, &p);
    let needle = format!(
        "[default.test] cgi {} pid {pid}: stderr: a complaint",
        p.display()
    );
    assert!(wait_log(&s, &needle).contains(&needle), "{}", s.error_log());
}

#[test]
fn add_handler_runs_programs_only_where_exec_cgi_is_on() {
    let dir = cgi_site("cgi-addhandler");
    let d = dir.join("www/default");
    script(&d.join("dyn"), "t.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\necho \"ran $SCRIPT_NAME $PATH_INFO\"\n");
    script(
        &d,
        "top.cgi",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nmust not run\\n'\n",
    );
    let s = start(&dir, "");
    let r = get(&s, "/dyn/t.cgi/more");
    assert_eq!(r.status, 200, "{}", s.error_log());
    assert_eq!(body_text(&r), "ran /dyn/t.cgi /more\n");
    let r = get(&s, "/dyn/plain.txt");
    assert_eq!((r.status, body_text(&r).as_str()), (200, "plain text\n"));
    let r = get(&s, "/top.cgi");
    assert_eq!(r.status, 403);
    assert!(!body_text(&r).contains("must not run"));
    let log = wait_log(&s, "Options ExecCGI is off");
    assert!(
        log.contains(&format!(
            "cgi: refused {}: Options ExecCGI is off",
            d.join("top.cgi").display()
        )),
        "{log}"
    );
}

#[test]
fn every_suexec_refusal_is_403_with_its_log_line() {
    let dir = cgi_site("cgi-suexec");
    let c = dir.join("cgi");
    let ok = "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nran\\n'\n";
    script(&c, "good.sh", ok);
    let gw = script(&c, "groupwritable.sh", ok);
    std::fs::set_permissions(&gw, std::fs::Permissions::from_mode(0o775)).unwrap();
    let ow = script(&c, "otherwritable.sh", ok);
    std::fs::set_permissions(&ow, std::fs::Permissions::from_mode(0o757)).unwrap();
    let su = script(&c, "setuid.sh", ok);
    std::fs::set_permissions(&su, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let sg = script(&c, "setgid.sh", ok);
    std::fs::set_permissions(&sg, std::fs::Permissions::from_mode(0o2755)).unwrap();
    let nx = script(&c, "noexec.sh", ok);
    std::fs::set_permissions(&nx, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink(c.join("good.sh"), c.join("link.sh")).unwrap();
    std::fs::create_dir(c.join("open")).unwrap();
    script(&c.join("open"), "in-open-dir.sh", ok);
    std::fs::set_permissions(c.join("open"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut rows: Vec<(&str, &str)> = vec![
        ("groupwritable.sh", "program writable by group or others"),
        ("otherwritable.sh", "program writable by group or others"),
        ("setuid.sh", "setuid or setgid bit"),
        ("setgid.sh", "setuid or setgid bit"),
        ("noexec.sh", "program not executable by the target user"),
        ("link.sh", "symlink"),
        (
            "open/in-open-dir.sh",
            "directory writable by group or others",
        ),
    ];
    if is_root() {
        let root_owned = script(&c, "rootowned.sh", ok);
        std::os::unix::fs::chown(&root_owned, Some(0), None).unwrap();
        std::fs::create_dir(c.join("daemons")).unwrap();
        script(&c.join("daemons"), "in-daemons-dir.sh", ok);
        std::os::unix::fs::chown(c.join("daemons"), Some(1), None).unwrap();
        rows.push(("rootowned.sh", "program owner is not the target user"));
        rows.push((
            "daemons/in-daemons-dir.sh",
            "directory owner is neither the target user nor root",
        ));
    }
    let s = start(&dir, "");
    let r = get(&s, "/cgi-bin/good.sh");
    assert_eq!(
        (r.status, body_text(&r).as_str()),
        (200, "ran\n"),
        "{}",
        s.error_log()
    );
    let uid = target_uid();
    for (name, check) in &rows {
        let r = get(&s, &format!("/cgi-bin/{name}"));
        assert_eq!(r.status, 403, "{name}");
        assert!(!body_text(&r).contains("ran"), "{name}");
        let needle = format!(
            "[default.test] cgi: suexec check '{check}' failed for {}: file uid=",
            c.join(name).display()
        );
        let log = wait_log(&s, &needle);
        let line = log
            .lines()
            .find(|l| l.contains(&needle))
            .unwrap_or_else(|| panic!("{name}: no line {needle:?} in\n{log}"));
        assert!(line.contains(&format!("target uid={uid} gid=")), "{line}");
        assert!(line.contains(" mode="), "{line}");
    }
}

#[test]
fn owner_check_off_runs_a_program_owned_by_someone_else() {
    if !is_root() {
        eprintln!("skipped: needs root to own a program by another user");
        return;
    }
    let dir = cgi_site("cgi-ownercheck-off");
    let p = script(
        &dir.join("cgi"),
        "root.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nuid=%s\\n' \"$(id -u)\"\n",
    );
    std::os::unix::fs::chown(&p, Some(0), None).unwrap();
    let s = start(&dir, "CGIOwnerCheck Off\n");
    let r = get(&s, "/cgi-bin/root.sh");
    assert_eq!(r.status, 200, "{}", s.error_log());
    // It still runs with the connection's identity, not its owner's.
    assert_eq!(body_text(&r), format!("uid={NOBODY}\n"));
}

#[test]
fn a_scriptalias_directory_and_a_missing_program_are_refused() {
    let dir = cgi_site("cgi-missing");
    script(
        &dir.join("cgi"),
        "x.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nran\\n'\n",
    );
    let s = start(&dir, "");
    assert_eq!(get(&s, "/cgi-bin/").status, 403);
    assert_eq!(get(&s, "/cgi-bin/nothing.sh").status, 404);
    assert_eq!(
        request(
            &s,
            "TRACE /cgi-bin/x.sh HTTP/1.1\r\nHost: default.test\r\nConnection: close\r\n\r\n"
        )
        .status,
        405
    );
}

#[test]
fn directory_sections_around_a_scriptalias_target_apply_to_its_programs() {
    let dir = cgi_site("cgi-dirsection");
    let ok = "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nran\\n'\n";
    std::fs::create_dir(dir.join("cgi/closed")).unwrap();
    script(&dir.join("cgi/closed"), "x.sh", ok);
    script(&dir.join("cgi"), "open.sh", ok);
    let closed = format!(
        "<Directory {}/cgi/closed>\n  Require all denied\n</Directory>\n",
        dir.display()
    );
    let s = start(&dir, &closed);
    assert_eq!(get(&s, "/cgi-bin/open.sh").status, 200);
    let r = get(&s, "/cgi-bin/closed/x.sh/info");
    assert_eq!(r.status, 403);
    assert!(!body_text(&r).contains("ran"));
}

#[test]
fn a_program_that_writes_before_reading_its_body_does_not_deadlock() {
    const BODY: usize = 4 * 1024 * 1024;
    let dir = cgi_site("cgi-deadlock");
    // 1 MiB of output before reading any input: more than any pipe buffer in either direction.
    script(
        &dir.join("cgi"),
        "eager.sh",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nyes x | head -c 1048576\necho\necho \"read $(wc -c)\"\n",
    );
    let s = start(&dir, "");
    let mut c = s.connect();
    let head = format!(
        "POST /cgi-bin/eager.sh HTTP/1.1\r\nHost: default.test\r\nContent-Length: {BODY}\r\nConnection: close\r\n\r\n"
    );
    let writer = {
        let mut w = c.try_clone().unwrap();
        std::thread::spawn(move || {
            w.write_all(head.as_bytes()).unwrap();
            let chunk = vec![b'b'; 64 * 1024];
            for _ in 0..BODY / chunk.len() {
                w.write_all(&chunk).unwrap();
            }
        })
    };
    let r = parse_resp(&read_all(&mut c));
    writer.join().unwrap();
    assert_eq!(r.status, 200, "{}", s.error_log());
    let text = body_text(&r);
    assert!(
        text.ends_with(&format!("\nread {BODY}\n")),
        "{}",
        &text[text.len().saturating_sub(100)..]
    );
}

#[test]
fn nph_programs_write_the_whole_response_and_the_config_names_a_missing_scriptalias() {
    let dir = cgi_site("cgi-nph");
    script(
        &dir.join("cgi"),
        "nph-raw.sh",
        "#!/bin/sh\nprintf 'HTTP/1.1 299 Custom\\r\\nContent-Type: text/plain\\r\\nX-Nph: 1\\r\\n\\r\\nraw body'\n",
    );
    let s = start(&dir, "");
    let raw = s.raw(b"GET /cgi-bin/nph-raw.sh HTTP/1.1\r\nHost: default.test\r\n\r\n");
    assert_eq!(
        String::from_utf8_lossy(&raw),
        "HTTP/1.1 299 Custom\r\nContent-Type: text/plain\r\nX-Nph: 1\r\n\r\nraw body"
    );
    let line = s.wait_log_lines(1).pop().unwrap();
    // The server does not parse an nph- response: every byte relayed counts.
    assert!(line.contains("\" 299 67 "), "{line}");

    let conf = dir.join("bad.conf");
    std::fs::write(
        &conf,
        "Listen 127.0.0.1:1\nDocumentRoot www/default\nScriptAlias /x/ nowhere/\n",
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .arg("-t")
        .arg("-f")
        .arg(&conf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:3: ScriptAlias: {} is not a directory",
            conf.display(),
            dir.join("nowhere/").display()
        )),
        "{err}"
    );
}

#[test]
fn a_directory_index_with_a_cgi_suffix_runs_or_is_refused_never_served_as_text() {
    let dir = cgi_site("cgi-index");
    let d = dir.join("www/default");
    std::fs::create_dir_all(d.join("dyn/idx")).unwrap();
    std::fs::create_dir_all(d.join("src")).unwrap();
    let prog =
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\necho \"index ran as $SCRIPT_NAME\"\n";
    script(&d.join("dyn/idx"), "index.cgi", prog);
    script(&d.join("src"), "index.cgi", prog);
    let extra = format!(
        "<Directory {0}/dyn/idx>\n  DirectoryIndex index.cgi\n</Directory>\n<Directory {0}/src>\n  DirectoryIndex index.cgi\n</Directory>\n",
        d.display()
    );
    let s = start(&dir, &extra);
    let r = get(&s, "/dyn/idx/");
    assert_eq!(r.status, 200, "{}", s.error_log());
    assert_eq!(body_text(&r), "index ran as /dyn/idx/index.cgi\n");
    let r = get(&s, "/src/");
    assert_eq!(r.status, 403);
    assert!(!body_text(&r).contains("#!/bin/sh"), "program text leaked");
}

/// `Header` on programs' answers (mod_headers manual): onsuccess rules act on whatever the
/// program sent, even a failing status; on a page the server generates (a program whose
/// header block is broken: 500) only `always` rules act.
#[test]
fn header_rules_act_on_program_answers() {
    let dir = cgi_site("cgi-header");
    let c = dir.join("cgi");
    script(&c, "status.sh", "#!/bin/sh\nprintf 'Status: 404 Gone Fishing\\nContent-Type: text/plain\\nX-Extra: 1\\nX-Keep: a\\n\\nnot here\\n'\n");
    script(
        &c,
        "bad.sh",
        "#!/bin/sh\necho 'this is not a header'\necho\n",
    );
    let s = start(
        &dir,
        "Header set X-On yes\nHeader always set X-Al yes\nHeader unset X-Extra\nHeader append X-Keep b\n",
    );
    let r = get(&s, "/cgi-bin/status.sh");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("X-On").as_deref(), Some("yes"));
    assert_eq!(r.header("X-Al").as_deref(), Some("yes"));
    assert_eq!(r.header("X-Extra"), None);
    assert_eq!(r.header("X-Keep").as_deref(), Some("a, b"));
    let r = get(&s, "/cgi-bin/bad.sh");
    assert_eq!(r.status, 500);
    assert_eq!(r.header("X-On"), None);
    assert_eq!(r.header("X-Al").as_deref(), Some("yes"));
}
