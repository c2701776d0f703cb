//! Deployment as an administrator does it: `-t`'s reachability check on a real filesystem,
//! socket activation through systemd's own `systemd-socket-activate`, and the notify protocol
//! (`Type=notify-reload`) against a datagram socket this test binds, as systemd would.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn config_test(conf: &Path) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .arg("-t")
        .arg("-f")
        .arg(conf)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_test_as_root_names_the_directory_children_cannot_search() {
    if !is_root() {
        eprintln!("skipped: -t checks reachability only for a root master");
        return;
    }
    let dir = scratch("reach");
    let private = dir.join("private");
    std::fs::create_dir_all(private.join("www")).unwrap();
    chmod(&private, 0o700);
    let conf = dir.join("httpd.conf");
    std::fs::write(
        &conf,
        "Listen 127.0.0.1:1\nUser nobody\nGroup nogroup\nDocumentRoot private/www\n",
    )
    .unwrap();
    let (code, err) = config_test(&conf);
    let want = format!(
        "{}:4: DocumentRoot {}/www: nobody cannot search {} (drwx------ root)",
        conf.display(),
        private.display(),
        private.display()
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&want), "missing {want:?} in {err}");
    assert!(!err.contains("Syntax OK"));

    // Search for others is what it needs; the DocumentRoot itself must be readable too.
    chmod(&private, 0o711);
    let (code, err) = config_test(&conf);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("Syntax OK"), "{err}");
    chmod(&private.join("www"), 0o711);
    let (code, err) = config_test(&conf);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("nobody cannot read {}/www", private.display())),
        "{err}"
    );
    chmod(&private.join("www"), 0o755);

    // A POSIX ACL granting nobody search is honoured (when setfacl is installed).
    chmod(&private, 0o700);
    match Command::new("setfacl")
        .args(["-m", "u:nobody:x"])
        .arg(&private)
        .output()
    {
        Ok(o) if o.status.success() => {
            let (code, err) = config_test(&conf);
            assert_eq!(code, Some(0), "ACL u:nobody:x: {err}");
        }
        other => eprintln!("ACL case skipped (setfacl: {other:?})"),
    }
}
