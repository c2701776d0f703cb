//! mod_env's `PassEnv` through the binary. The expected values are a table written from
//! mod_env's documentation: `PassEnv VAR` gives programs the value VAR had in the environment
//! the server was started with, in the same table as `SetEnv` (a later `SetEnv` of the name
//! wins, `UnsetEnv` in a deeper section removes it); an undefined VAR is warned about at start
//! (AH01506 "PassEnv variable %s was undefined"). And this server's rule for every variable
//! rule: the start-up environment never stands in for what the server builds for the request
//! (httpoxy's `HTTP_PROXY`, `PATH`, `REMOTE_USER`, `SERVER_NAME`...), neither through `PassEnv`
//! (a `-t` error naming FILE:LINE) nor by leaking into programs.

mod common;

use common::*;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The environment the server is started with.
const START_ENV: &[(&str, &str)] = &[
    ("ONESHOT_PE_A", "alpha value"),
    ("ONESHOT_PE_B", "b"),
    ("ONESHOT_PE_C", "c-at-start"),
    ("HTTP_PROXY", "http://evil.test:3128"),
    ("REMOTE_USER", "forged"),
    ("SERVER_NAME", "forged.test"),
];

const PROBE: &str = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nfor v in ONESHOT_PE_A ONESHOT_PE_B ONESHOT_PE_C ONESHOT_PE_UNDEFINED HTTP_PROXY REMOTE_USER SERVER_NAME; do eval \"x=\\${$v-unset}\"; echo \"$v=$x\"; done\n";

/// What the program prints: the table.
const WANT: &str = "ONESHOT_PE_A=alpha value\nONESHOT_PE_B=unset\nONESHOT_PE_C=set later\nONESHOT_PE_UNDEFINED=unset\nHTTP_PROXY=unset\nREMOTE_USER=unset\nSERVER_NAME=pe.test\n";

/// `oneshot-httpd -t` on `conf` with the start-up environment: (accepted, stderr).
fn check_config(dir: &Path, conf: &str) -> (bool, String) {
    let file = dir.join("t.conf");
    std::fs::write(&file, conf).unwrap();
    let out = Command::new(BIN)
        .args(["-t", "-c", "Listen 127.0.0.1:1", "-f"])
        .arg(&file)
        .envs(START_ENV.iter().copied())
        .env_remove("ONESHOT_PE_UNDEFINED")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `Server::start` with the start-up environment.
fn start(dir: &Path, conf: &str) -> Server {
    std::fs::write(dir.join("httpd.conf"), conf).unwrap();
    let port = free_port();
    let child = Command::new(BIN)
        .arg("-f")
        .arg(dir.join("httpd.conf"))
        .arg("-c")
        .arg(format!("Listen 127.0.0.1:{port}"))
        .envs(START_ENV.iter().copied())
        .env_remove("ONESHOT_PE_UNDEFINED")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let s = Server {
        dir: dir.to_path_buf(),
        port,
        child,
    };
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < until, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    s
}

#[test]
fn pass_env_reaches_programs_as_mod_env_says() {
    let dir = site("passenv");
    let root = dir.join("www/pe");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(root.join("cgi")).unwrap();
        for d in [&root, &root.join("cgi")] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        write_mode(&root.join("cgi/env"), PROBE, 0o755);
    }
    let r = root.display();
    let conf = format!(
        "{BASE_CONF}CGIOwnerCheck Off\n<VirtualHost *:80>\nServerName pe.test\nDocumentRoot {r}\n\
         ScriptAlias /cgi-bin/ {r}/cgi/\n\
         PassEnv ONESHOT_PE_A ONESHOT_PE_B\n\
         PassEnv ONESHOT_PE_C\n\
         SetEnv ONESHOT_PE_C \"set later\"\n\
         PassEnv ONESHOT_PE_UNDEFINED\n\
         <Directory {r}/cgi>\n  UnsetEnv ONESHOT_PE_B\n</Directory>\n</VirtualHost>\n"
    );
    let (ok, err) = check_config(&dir, &conf);
    assert!(ok, "-t: {err}");
    let line = conf
        .lines()
        .position(|l| l == "PassEnv ONESHOT_PE_UNDEFINED")
        .unwrap()
        + 1;
    let at = format!("{}:{line}: ", dir.join("t.conf").display());
    assert!(
        err.lines().any(|l| l.contains(&at)
            && l.contains("PassEnv variable ONESHOT_PE_UNDEFINED was undefined")),
        "the warning names FILE:LINE: {err}"
    );
    let mut s = start(&dir, &conf);
    let mut c = s.connect();
    c.write_all(
        b"GET /cgi-bin/env HTTP/1.0\r\nHost: pe.test\r\nProxy: http://evil.test:3128\r\n\r\n",
    )
    .unwrap();
    let got = parse_resp(&read_all(&mut c));
    assert_eq!(
        (got.status, String::from_utf8_lossy(&got.body).into_owned()),
        (200, WANT.to_string()),
        "{}",
        got.head
    );
    s.stop();
}

/// `PassEnv` follows `SetEnv`'s rule for names: the start-up environment never supplies a
/// variable the server builds for the request. Each refusal names FILE:LINE.
#[test]
fn pass_env_refusals_name_file_and_line() {
    let dir = site("passenv-t");
    let d = dir.display();
    let cases = [
        ("PassEnv HTTP_PROXY", "httpoxy"),
        ("PassEnv http-proxy", "httpoxy"),
        ("PassEnv PATH", "describes the request"),
        ("PassEnv REMOTE_USER", "describes the request"),
        ("PassEnv SERVER_NAME", "describes the request"),
        ("PassEnv HTTP_HOST", "describes the request"),
        ("PassEnv SSL_CLIENT_S_DN", "describes the request"),
        ("PassEnv", "takes VAR"),
        ("PassEnv A=B", "without '='"),
    ];
    let mut wrong = Vec::new();
    for (line, words) in cases {
        let conf = format!(
            "ErrorLog {d}/logs/error.log\nPidFile {d}/logs/pid\nDocumentRoot {d}/www/default\n{line}\n"
        );
        let (ok, err) = check_config(&dir, &conf);
        let at = format!("{}:4: ", dir.join("t.conf").display());
        if ok || !err.contains(&at) || !err.contains(words) {
            wrong.push(format!("{line}: wanted {at}...{words}, got ok={ok}: {err}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
