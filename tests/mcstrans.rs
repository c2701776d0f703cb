//! mod_selinux ranges written with mcstrans names (`anon_webapp_t:SystemLow`,
//! `*:s0-SystemHigh`) in `selinuxDomainVal`, `selinuxDomainMap` files and
//! `selinuxServerDomain`: translated by libselinux when the configuration is loaded where
//! SELinux is enabled; where it is not, `-t` stops with an error naming FILE:LINE that says
//! translation needs SELinux and mcstrans, never accepting the name untranslated. (The
//! translation itself is shown in the SELinux VM when its image has mcstrans; here the host
//! has SELinux disabled, which this test checks first.)

mod common;

use common::*;
use std::process::Command;

fn selinux_enabled() -> bool {
    std::fs::read_to_string("/sys/fs/selinux/enforce").is_ok()
}

#[test]
fn translated_names_without_selinux_are_errors_at_file_and_line() {
    if selinux_enabled() {
        eprintln!("skipped: SELinux is enabled here (the VM test shows translation)");
        return;
    }
    let dir = site("mcstrans-t");
    let d = dir.display();
    let map = dir.join("domains.map");
    write_mode(
        &map,
        "# mod_selinux map\nalice *:s0-SystemHigh\n* anon_webapp_t:s0\n",
        0o600,
    );
    let cases: [(String, String); 4] = [
        (
            "selinuxDomainVal anon_webapp_t:SystemLow".into(),
            format!("{}:4: ", dir.join("t.conf").display()),
        ),
        (
            "selinuxDomainVal *:SystemLow-SystemHigh".into(),
            format!("{}:4: ", dir.join("t.conf").display()),
        ),
        (
            format!("selinuxDomainMap {}", map.display()),
            format!("{}:2: ", map.display()),
        ),
        (
            "selinuxServerDomain *:SystemLow".into(),
            format!("{}:4: ", dir.join("t.conf").display()),
        ),
    ];
    let mut wrong = Vec::new();
    for (line, at) in &cases {
        let conf = format!(
            "ErrorLog {d}/logs/error.log\nPidFile {d}/logs/pid\nDocumentRoot {d}/www/default\n{line}\n"
        );
        let file = dir.join("t.conf");
        std::fs::write(&file, conf).unwrap();
        let out = Command::new(BIN)
            .args(["-t", "-c", "Listen 127.0.0.1:1", "-f"])
            .arg(&file)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let said = err.lines().any(|l| {
            l.contains(at.as_str())
                && l.contains("need SELinux enabled and mcstrans")
                && l.contains("write the raw range")
        });
        if out.status.success() || !said {
            wrong.push(format!(
                "{line}: wanted {at}... need SELinux enabled and mcstrans, got {}: {err}",
                out.status
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
