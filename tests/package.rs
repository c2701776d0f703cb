//! The Debian package (issue 13): `scripts/package` builds a .deb, `dpkg --root` installs it
//! into a fresh scratch root (its own dpkg database), and the installed binary checks the
//! installed default configuration with `-t` inside that root (chroot, the binary's shared
//! libraries and the host's passwd/group copied in, so `User www-data` resolves). lintian
//! finds nothing to say, and the man page renders with `man -l` and documents every option
//! `--help` lists.
mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The .deb, built once per test binary from the debug binary under test.
fn deb() -> PathBuf {
    static DEB: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DEB.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = run(Command::new(manifest.join("scripts/package"))
            .env("ONESHOT_BINARY", BIN)
            .current_dir(manifest));
        manifest.join(out.trim())
    })
    .clone()
}

#[test]
fn installs_into_a_fresh_root_and_passes_dash_t() {
    let root = scratch("debroot");
    for d in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
        "etc",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    // Dependencies are the host's libraries, not packages of this root; maintainer scripts
    // run on the host with DPKG_ROOT (the root has no shell).
    run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args([
            "--force-depends",
            "--force-script-chrootless",
            "--log=/dev/null",
            "-i",
        ])
        .arg(deb()));
    let status = run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["-s", "oneshot-httpd"]));
    assert!(status.contains("Status: install ok installed"), "{status}");
    for conffile in [
        "/etc/oneshot-httpd/oneshot-httpd.conf",
        "/etc/logrotate.d/oneshot-httpd",
    ] {
        assert!(
            status.contains(conffile),
            "{conffile} is not a conffile:\n{status}"
        );
    }
    for f in [
        "usr/sbin/oneshot-httpd",
        "lib/systemd/system/oneshot-httpd.service",
        "lib/systemd/system/oneshot-httpd.socket",
        "etc/logrotate.d/oneshot-httpd",
        "usr/share/man/man8/oneshot-httpd.8.gz",
        "usr/share/selinux/packages/oneshot-httpd/oneshot.te",
        "usr/share/selinux/packages/oneshot-httpd/oneshot.fc",
        "usr/share/selinux/packages/oneshot-httpd/oneshot.if",
        "usr/share/selinux/packages/oneshot-httpd/oneshot.cil",
        "usr/share/oneshot-httpd/www/index.html",
        "var/log/oneshot-httpd",
    ] {
        assert!(root.join(f).exists(), "{f} is not installed");
    }
    if Path::new("/usr/share/selinux/devel/Makefile").exists() {
        assert!(root
            .join("usr/share/selinux/packages/oneshot-httpd/oneshot.pp")
            .exists());
    }
    // The binary's libraries and the accounts, so that it runs inside the root.
    let ldd = run(Command::new("ldd").arg(root.join("usr/sbin/oneshot-httpd")));
    for lib in ldd.split_whitespace().filter(|w| w.starts_with('/')) {
        let dest = root.join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(lib, &dest).unwrap();
    }
    // etc/mime.types: from media-types, which the package Depends on (as apache2 does).
    for f in ["etc/passwd", "etc/group", "etc/mime.types"] {
        std::fs::copy(Path::new("/").join(f), root.join(f)).unwrap();
    }
    let out = Command::new("chroot")
        .arg(&root)
        .args([
            "/usr/sbin/oneshot-httpd",
            "-t",
            "-f",
            "/etc/oneshot-httpd/oneshot-httpd.conf",
        ])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "-t in the installed root:\n{text}");
    assert!(text.contains("Syntax OK"), "{text}");
    assert!(
        !text.contains("warning"),
        "the default configuration has warnings:\n{text}"
    );
}

#[test]
fn lintian_is_silent() {
    let out = Command::new("lintian")
        .arg(deb())
        .output()
        .expect("lintian (Debian package lintian, in scripts/test)");
    let text = String::from_utf8_lossy(&out.stdout);
    let tags: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("E:") || l.starts_with("W:"))
        .collect();
    assert!(tags.is_empty(), "lintian:\n{}", tags.join("\n"));
}

#[test]
fn man_page_renders_and_documents_every_option() {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/oneshot-httpd.8");
    let warnings = Command::new("groff")
        .args(["-man", "-ww", "-z", "-Tutf8"])
        .arg(&page)
        .output()
        .unwrap();
    assert!(
        warnings.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&warnings.stderr)
    );
    let rendered = run(Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANWIDTH", "80"));
    for section in [
        "NAME",
        "SYNOPSIS",
        "OPTIONS",
        "SIGNALS",
        "LOGS",
        "FILES",
        "EXIT STATUS",
    ] {
        assert!(rendered.contains(section), "no {section} in:\n{rendered}");
    }
    let help = run(Command::new(BIN).arg("--help"));
    let source = std::fs::read_to_string(&page).unwrap();
    for opt in help
        .split_whitespace()
        .filter(|w| w.starts_with('-') && w.len() > 1)
        .map(|w| w.trim_end_matches(','))
    {
        let roff = opt.replace('-', "\\-");
        assert!(
            source.contains(&roff),
            "--help lists {opt}, the man page does not"
        );
    }
}
