//! `CGIReadPath`: Debian's php-cgi, run as a CGI program through the binary, reads its
//! php.ini only where the administrator granted it (issue #14). The oracle is the same
//! php-cgi run by this test outside any sandbox with the same environment: what it reports
//! there is what it must report under a grant of /etc/php; without the grant Landlock keeps
//! /etc/php from it and it runs on its built-in defaults (`php_ini_loaded_file()` is false).

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const PHP_CGI: &str = "/usr/bin/php-cgi";

/// The PHP page: which configuration php-cgi loaded.
const INFO: &str = "<?php header('Content-Type: text/plain'); echo 'ini=', var_export(php_ini_loaded_file(), true), \"\\n\";";

/// php-cgi refuses to run without REDIRECT_STATUS (cgi.force_redirect, as Apache's `Action`
/// would set it), so the CGI program is the usual wrapper around it. `conf.d` is left out
/// (PHP_INI_SCAN_DIR empty): its opcache wants a lock file in /tmp, which is read-only to
/// programs here because the test's site lives under /tmp (no private tmpfs then).
fn wrapper(info: &Path) -> String {
    format!(
        "#!/bin/sh\nexport REDIRECT_STATUS=200 PHP_INI_SCAN_DIR=\nexport SCRIPT_FILENAME={}\nexec {PHP_CGI}\n",
        info.display()
    )
}

fn php_site(name: &str) -> std::path::PathBuf {
    let dir = site(name);
    let cgi = dir.join("cgi");
    std::fs::create_dir_all(&cgi).unwrap();
    let info = cgi.join("info.php");
    std::fs::write(&info, INFO).unwrap();
    let w = cgi.join("php.cgi");
    std::fs::write(&w, wrapper(&info)).unwrap();
    std::fs::set_permissions(&w, std::fs::Permissions::from_mode(0o755)).unwrap();
    if is_root() {
        // suEXEC's owner check: the program belongs to the user it runs as.
        for p in [&w, &info] {
            std::os::unix::fs::chown(p, Some(65534), None).unwrap();
        }
    }
    dir
}

/// What php-cgi says with no sandbox around it.
fn unconfined(dir: &Path) -> String {
    let out = Command::new(PHP_CGI)
        .env_clear()
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("REQUEST_METHOD", "GET")
        .env("REDIRECT_STATUS", "200")
        .env("PHP_INI_SCAN_DIR", "")
        .env("SCRIPT_FILENAME", dir.join("cgi/info.php"))
        .output()
        .expect("php-cgi (php8.2-cgi) is installed by scripts/test");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text.lines().find(|l| l.starts_with("ini=")).unwrap_or("");
    line.to_string()
}

fn served(dir: &Path, extra: &str) -> String {
    let conf = format!("ScriptAlias /cgi-bin/ cgi/\n{extra}{BASE_CONF}");
    let mut s = Server::start(dir, &conf);
    let r = s.get("default.test", "/cgi-bin/php.cgi");
    s.stop();
    let text = String::from_utf8_lossy(&r.body).into_owned();
    assert_eq!(r.status, 200, "{text}\n{}", s.error_log());
    text.lines()
        .find(|l| l.starts_with("ini="))
        .unwrap_or("")
        .to_string()
}

#[test]
fn php_cgi_reads_its_ini_only_where_granted() {
    if !Path::new(PHP_CGI).exists() {
        panic!("php-cgi (php8.2-cgi) is the subject of this test: scripts/test installs it");
    }
    let dir = php_site("cgi-read-php");
    let want = unconfined(&dir);
    assert!(
        want.starts_with("ini='/etc/php/"),
        "outside the sandbox php-cgi reads its php.ini: {want}"
    );
    assert_eq!(
        served(&dir, ""),
        "ini=false",
        "without a grant Landlock keeps /etc/php from the program"
    );
    assert_eq!(served(&dir, "CGIReadPath /etc/php\n"), want);
}

fn check_conf(dir: &Path, conf: &str) -> (bool, String) {
    std::fs::write(dir.join("httpd.conf"), conf).unwrap();
    config_test(&dir.join("httpd.conf"), &[])
}

#[test]
fn grants_that_would_leak_or_do_nothing_are_named_at_check_time() {
    let dir = php_site("cgi-read-check");
    std::fs::create_dir_all(dir.join("secret")).unwrap();
    htpasswd_bcrypt(&dir.join("secret/htpasswd"), &[("a", "b")]);
    let head = format!(
        "Listen 127.0.0.1:8\nScriptAlias /cgi-bin/ cgi/\nAuthType Basic\nAuthName x\nAuthUserFile secret/htpasswd\nRequire valid-user\n{BASE_CONF}"
    );
    let at = |line: usize| format!("httpd.conf:{}:", line + head.lines().count());
    let (ok, err) = check_conf(&dir, &format!("{head}CGIReadPath /etc/php secret\n"));
    assert!(!ok, "{err}");
    assert!(
        err.contains(&at(1)) && err.contains("holds the AuthUserFile"),
        "{err}"
    );
    std::os::unix::fs::symlink(dir.join("secret"), dir.join("link")).unwrap();
    let (ok, err) = check_conf(&dir, &format!("{head}CGIReadPath link\n"));
    assert!(
        !ok && err.contains("holds the AuthUserFile"),
        "a link to it: {err}"
    );
    let (ok, err) = check_conf(&dir, &format!("{head}CGIReadPath /nonexistent/php\n"));
    assert!(ok, "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("warning:") && l.contains(&at(1)) && l.contains("no such file")),
        "{err}"
    );
    let (ok, err) = check_conf(&dir, &format!("{head}CGIReadPath ../x\n"));
    assert!(!ok && err.contains("'..' is not allowed"), "{err}");
    // No CGI anywhere: the grant does nothing.
    let plain = format!("Listen 127.0.0.1:8\n{BASE_CONF}CGIReadPath /etc/php\n");
    let (ok, err) = check_conf(&dir, &plain);
    let line = plain.lines().count();
    assert!(
        ok && err.contains(&format!(
            "warning: {}:{line}:",
            dir.join("httpd.conf").display()
        )) && err.contains("CGIReadPath has no effect"),
        "{err}"
    );
}
