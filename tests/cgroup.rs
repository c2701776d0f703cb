//! `CgroupPerConnection` on a host where it cannot work. This host (like many CI machines and
//! containers) has a hybrid layout: the controllers are bound to cgroup v1 hierarchies and the
//! cgroup2 mount offers none of them, so the server must refuse to start, naming exactly what
//! is missing. The working case runs in the VM (tests/vm/checks.sh, "cgroup:" checks).

mod common;

use common::*;

fn run(dir: &std::path::Path, extra: &str, args: &[&str]) -> (bool, String) {
    std::fs::write(dir.join("httpd.conf"), format!("{BASE_CONF}{extra}")).unwrap();
    let out = std::process::Command::new(BIN)
        .args(args)
        .arg("-f")
        .arg(dir.join("httpd.conf"))
        .arg("-c")
        .arg(format!("Listen 127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dir.join("logs/error.log")).unwrap_or_default()
    );
    (out.status.success(), text)
}

fn mountinfo() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap()
}

#[test]
fn limits_without_cgroup_per_connection_are_errors_with_file_and_line() {
    let dir = site("cgroup-limits-off");
    let (ok, err) = run(
        &dir,
        "ConnectionPidsMax 16\nConnectionMemoryMax 64M\nConnectionCPUMax 50000 100000\n",
        &["-t"],
    );
    assert!(!ok);
    let conf = dir.join("httpd.conf");
    let base = BASE_CONF.lines().count();
    for (i, d) in [
        "ConnectionPidsMax",
        "ConnectionMemoryMax",
        "ConnectionCPUMax",
    ]
    .iter()
    .enumerate()
    {
        let want = format!(
            "{}:{}: {d} needs `CgroupPerConnection On`",
            conf.display(),
            base + 1 + i
        );
        assert!(err.contains(&want), "want {want} in:\n{err}");
    }
    let (ok, err) = run(
        &dir,
        "CgroupPerConnection On\nConnectionPidsMax 2\n",
        &["-t"],
    );
    assert!(!ok);
    assert!(err.contains("ConnectionPidsMax 2 is below 3"), "{err}");
}

#[test]
fn refuses_to_start_on_a_host_without_delegated_cgroup2_controllers() {
    let info = mountinfo();
    let hybrid = info.contains(" - cgroup2 ") && info.contains(" - cgroup cgroup ");
    let dir = site("cgroup-refused");
    let (ok, err) = run(
        &dir,
        "CgroupPerConnection On\nConnectionPidsMax 16\nConnectionMemoryMax 64M\n",
        &[],
    );
    assert!(!ok, "started:\n{err}");
    assert!(
        err.contains("refusing to start")
            || err.contains("cannot set up per-connection cgroups: CgroupPerConnection On: "),
        "{err}"
    );
    if hybrid {
        // This host: /sys/fs/cgroup/unified offers neither controller; both are v1-bound.
        assert!(
            err.contains("controller(s) memory pids not offered in /sys/fs/cgroup/unified/cgroup.controllers (it offers: "),
            "{err}"
        );
        assert!(
            err.contains("memory is bound to the cgroup v1 hierarchy at /sys/fs/cgroup/memory"),
            "{err}"
        );
        assert!(
            err.contains("pids is bound to the cgroup v1 hierarchy at /sys/fs/cgroup/pids"),
            "{err}"
        );
        assert!(err.contains("hybrid setup"), "{err}");
    }
    // Nothing was left behind in the master's cgroup.
    assert!(!std::path::Path::new("/sys/fs/cgroup/unified/supervisor").exists());
}
