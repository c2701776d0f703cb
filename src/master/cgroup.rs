//! `CgroupPerConnection On`: a cgroup v2 per child, under the master's own (delegated) cgroup.
//!
//! Layout, with D the cgroup the master was started in (systemd: the unit's cgroup with
//! `Delegate=yes`):
//! - `D/supervisor`: the master (and the verifier it forks) moves here at start, because
//!   cgroup v2 lets a non-root cgroup hand controllers to its children only while it holds
//!   no process itself; then the needed controllers are enabled in `D/cgroup.subtree_control`.
//! - `D/conn-N`: one per forked child, made by the master before the fork with `pids.max`,
//!   `memory.max` (and `memory.swap.max` 0), `cpu.max` written and read back. The child moves
//!   itself in (`cgroup.procs` ← 0) first thing after the fork, before it accepts, and checks
//!   /proc/self/cgroup; if it cannot, it exits without accepting.
//! - When the child is reaped: `cgroup.kill` (Linux 5.14) kills everything left in it, and the
//!   directory is removed once empty (retried on later rounds while killed processes exit).
//!   That replaces the scan of the master's children for leftovers; a connection category
//!   (`selinuxConnectionCategories`) drains until its cgroup is gone.
//!
//! The start is refused, with every missing piece named, when the master is not in a
//! writable cgroup2 subtree offering the controllers the limits need.
//!
//! Invariant: the parsing and the start-up diagnosis are pure functions of file contents
//! (tested on text); the rest is thin file I/O on the cgroup filesystem.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use nix::unistd::Pid;

use crate::config::cgroup::CgroupSettings;

/// The leaf the master moves to.
pub const SUPERVISOR: &str = "supervisor";
const CONN_PREFIX: &str = "conn-";

/// The cgroup v2 path of a process, from its /proc/PID/cgroup (the `0::` line).
pub fn own_path(proc_cgroup: &str) -> Option<&str> {
    proc_cgroup.lines().find_map(|l| l.strip_prefix("0::"))
}

/// Where cgroup2 is mounted, from /proc/self/mountinfo (the first cgroup2 mount).
pub fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        (post.split_whitespace().next()? == "cgroup2")
            .then(|| pre.split_whitespace().nth(4).map(PathBuf::from))?
    })
}

/// A cgroup v1 hierarchy `controller` is bound to (a hybrid setup), from mountinfo.
pub fn v1_mount_of(mountinfo: &str, controller: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        let mut f = post.split_whitespace();
        if f.next()? != "cgroup" {
            return None;
        }
        let opts = f.nth(1)?;
        opts.split(',')
            .any(|o| o == controller)
            .then(|| pre.split_whitespace().nth(4).map(PathBuf::from))?
    })
}

/// What the kernel shows about the master's cgroup, gathered before anything is changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    pub mountinfo: String,
    pub proc_cgroup: String,
    /// Contents of D/cgroup.controllers (None: unreadable).
    pub controllers: Option<String>,
    pub has_kill: bool,
    /// D and its cgroup.procs and cgroup.subtree_control are writable by the master.
    pub writable: bool,
    pub uid: u32,
}

/// Every reason the master cannot run a cgroup per connection, in one message; else D.
pub fn diagnose(settings: &CgroupSettings, seen: &Seen) -> Result<PathBuf, String> {
    let lead = "CgroupPerConnection On";
    let Some(mount) = cgroup2_mount(&seen.mountinfo) else {
        return Err(format!("{lead}: no cgroup2 filesystem is mounted (cgroup v1 only); boot with systemd.unified_cgroup_hierarchy=1"));
    };
    let Some(rel) = own_path(&seen.proc_cgroup) else {
        return Err(format!(
            "{lead}: /proc/self/cgroup has no cgroup v2 (0::) line"
        ));
    };
    let dir = mount.join(rel.trim_start_matches('/'));
    let mut missing = Vec::new();
    if rel == "/" {
        missing.push(format!("the master runs in the root cgroup of {} (start it in a cgroup of its own, delegated to it: systemd Delegate=yes)", mount.display()));
    }
    let offered: Vec<&str> = seen
        .controllers
        .as_deref()
        .map(|c| c.split_whitespace().collect())
        .unwrap_or_default();
    let absent: Vec<&str> = settings
        .controllers()
        .into_iter()
        .filter(|c| !offered.contains(c))
        .collect();
    if !absent.is_empty() {
        let v1: Vec<String> = absent
            .iter()
            .filter_map(|c| {
                v1_mount_of(&seen.mountinfo, c)
                    .map(|m| format!("{c} is bound to the cgroup v1 hierarchy at {}", m.display()))
            })
            .collect();
        let mut m = format!(
            "controller(s) {} not offered in {} (it offers: {}), so the limits cannot be set; the parent cgroup must enable them in its cgroup.subtree_control (systemd: Delegate=yes)",
            absent.join(" "),
            dir.join("cgroup.controllers").display(),
            if offered.is_empty() { "none".to_string() } else { offered.join(" ") }
        );
        if !v1.is_empty() {
            m.push_str(&format!(
                "; {} (a hybrid setup: boot with systemd.unified_cgroup_hierarchy=1)",
                v1.join(", ")
            ));
        }
        missing.push(m);
    }
    // The root cgroup has no cgroup.kill of its own; it is named above already.
    if !seen.has_kill && rel != "/" {
        missing.push(format!(
            "{} is missing (the kernel needs Linux 5.14 for cgroup.kill)",
            dir.join("cgroup.kill").display()
        ));
    }
    if !seen.writable {
        missing.push(format!(
            "{} (its cgroup.procs and cgroup.subtree_control) is not writable by uid {}: it is not delegated to the master",
            dir.display(),
            seen.uid
        ));
    }
    if missing.is_empty() {
        Ok(dir)
    } else {
        Err(format!("{lead}: {}", missing.join("; ")))
    }
}

fn look(dir: &Path) -> Seen {
    let w = |p: &Path| nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok();
    Seen {
        mountinfo: std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default(),
        proc_cgroup: std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default(),
        controllers: std::fs::read_to_string(dir.join("cgroup.controllers")).ok(),
        has_kill: dir.join("cgroup.kill").exists(),
        writable: w(dir) && w(&dir.join("cgroup.procs")) && w(&dir.join("cgroup.subtree_control")),
        uid: nix::unistd::geteuid().as_raw(),
    }
}

/// The master's delegated subtree and the connection cgroups in it.
#[derive(Debug)]
pub struct Tree {
    dir: PathBuf,
    seq: u64,
    /// Forked children, their cgroups and the connection category each holds.
    live: BTreeMap<Pid, (PathBuf, Option<u16>)>,
    /// Killed, not yet removed, with the connection category the child held (if any).
    draining: Vec<(PathBuf, Option<u16>)>,
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|e| format!("writing '{value}' to {}: {e}", path.display()))
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("reading {}: {e}", path.display()))
}

/// Writes `value` and reads it back (I4: a limit that did not take stops the fork).
fn set(dir: &Path, file: &str, value: &str) -> Result<(), String> {
    let path = dir.join(file);
    write(&path, value)?;
    let found = read(&path)?;
    if found != value {
        return Err(format!(
            "{} reads '{found}' after writing '{value}'",
            path.display()
        ));
    }
    Ok(())
}

impl Tree {
    /// At start: diagnoses the master's cgroup, moves the master to `D/supervisor`, enables
    /// the controllers, and removes connection cgroups an earlier master left.
    pub fn setup(settings: &CgroupSettings) -> Result<Tree, String> {
        let pre = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mount =
            cgroup2_mount(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default());
        let guess = match (mount, own_path(&pre)) {
            (Some(m), Some(rel)) => m.join(rel.trim_start_matches('/')),
            _ => PathBuf::from("/nonexistent"),
        };
        let dir = diagnose(settings, &look(&guess))?;
        let mut tree = Tree {
            dir,
            seq: 0,
            live: BTreeMap::new(),
            draining: Vec::new(),
        };
        tree.enter_supervisor()?;
        tree.enable(settings)?;
        tree.remove_leftovers();
        Ok(tree)
    }

    /// The master's cgroup directory (D).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn enter_supervisor(&self) -> Result<(), String> {
        let leaf = self.dir.join(SUPERVISOR);
        match std::fs::create_dir(&leaf) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("creating {}: {e}", leaf.display())),
        }
        write(&leaf.join("cgroup.procs"), &std::process::id().to_string())?;
        let now = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        match own_path(&now) {
            Some(p) if p.ends_with(&format!("/{SUPERVISOR}")) => Ok(()),
            other => Err(format!(
                "the master is in cgroup {other:?} after moving itself to {}",
                leaf.display()
            )),
        }
    }

    /// Enables what `settings` needs in D/cgroup.subtree_control (also on reload).
    pub fn enable(&mut self, settings: &CgroupSettings) -> Result<(), String> {
        let wanted = settings.controllers();
        let path = self.dir.join("cgroup.subtree_control");
        if !wanted.is_empty() {
            let line: Vec<String> = wanted.iter().map(|c| format!("+{c}")).collect();
            if let Err(e) = std::fs::write(&path, line.join(" ")) {
                let procs = read(&self.dir.join("cgroup.procs")).unwrap_or_default();
                let extra = if e.raw_os_error() == Some(libc::EBUSY) {
                    format!(
                        ": processes other than the master remain in {} (cgroup.procs: {})",
                        self.dir.display(),
                        procs.replace('\n', " ")
                    )
                } else {
                    String::new()
                };
                return Err(format!(
                    "writing '{}' to {}: {e}{extra}",
                    line.join(" "),
                    path.display()
                ));
            }
        }
        let on = read(&path)?;
        let on: Vec<&str> = on.split_whitespace().collect();
        if let Some(c) = wanted.iter().find(|c| !on.contains(c)) {
            return Err(format!("{} lacks {c} after enabling it", path.display()));
        }
        Ok(())
    }

    fn remove_leftovers(&mut self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(CONN_PREFIX) {
                log::warn!("removing {}, left by an earlier master", e.path().display());
                let _ = write(&e.path().join("cgroup.kill"), "1");
                self.draining.push((e.path(), None));
            }
        }
        self.drain();
    }

    /// Before a fork: a fresh cgroup with the limits written and read back.
    pub fn prepare(&mut self, s: &CgroupSettings) -> Result<PathBuf, String> {
        self.seq += 1;
        let dir = self.dir.join(format!("{CONN_PREFIX}{}", self.seq));
        std::fs::create_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let result = (|| {
            if let Some(n) = s.pids_max {
                set(&dir, "pids.max", &n.to_string())?;
            }
            if let Some(n) = s.memory_max {
                set(&dir, "memory.max", &n.to_string())?;
                if dir.join("memory.swap.max").exists() {
                    set(&dir, "memory.swap.max", "0")?;
                }
            }
            if let Some(c) = s.cpu_max {
                set(&dir, "cpu.max", &c.file_value())?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_dir(&dir);
            return Err(e);
        }
        Ok(dir)
    }

    /// After the fork: the child `pid` lives in `dir`.
    pub fn adopt(&mut self, pid: Pid, dir: PathBuf, category: Option<u16>) {
        self.live.insert(pid, (dir, category));
    }

    /// A fork that failed: its cgroup goes.
    pub fn discard(&mut self, dir: &Path) {
        let _ = std::fs::remove_dir(dir);
    }

    /// Every child no longer `alive` (reaped) has everything left in its cgroup killed; the
    /// cgroup drains with the connection category the child held.
    pub fn reaped(&mut self, alive: impl Fn(Pid) -> bool) {
        let gone: Vec<Pid> = self.live.keys().copied().filter(|p| !alive(*p)).collect();
        for pid in gone {
            if let Some((dir, category)) = self.live.remove(&pid) {
                if let Err(e) = write(&dir.join("cgroup.kill"), "1") {
                    log::error!("cannot kill what connection {pid} left: {e}");
                }
                self.draining.push((dir, category));
            }
        }
    }

    /// At the end: every connection cgroup is killed and removed (briefly waiting for the
    /// killed processes to exit).
    pub fn shutdown(&mut self) {
        self.reaped(|_| false);
        for _ in 0..50 {
            self.drain();
            if self.draining.is_empty() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            while let Ok(
                nix::sys::wait::WaitStatus::Exited(..) | nix::sys::wait::WaitStatus::Signaled(..),
            ) = nix::sys::wait::waitpid(None, Some(nix::sys::wait::WaitPidFlag::WNOHANG))
            {
            }
        }
        for (dir, _) in &self.draining {
            log::error!("{} could not be removed at shutdown", dir.display());
        }
    }

    /// Removes every killed cgroup that is empty now; returns the connection categories still
    /// carried by cgroups that are not (their processes are still exiting).
    pub fn drain(&mut self) -> std::collections::BTreeSet<u16> {
        self.draining
            .retain(|(dir, _)| match std::fs::remove_dir(dir) {
                Ok(()) => false,
                Err(e) if e.kind() == io::ErrorKind::NotFound => false,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    // Still populated: killed processes not gone yet; kill again (a fork may
                    // have raced the first kill) and retry on the next round.
                    let _ = write(&dir.join("cgroup.kill"), "1");
                    true
                }
                Err(e) => {
                    log::error!("cannot remove {}: {e}", dir.display());
                    true
                }
            });
        self.draining.iter().filter_map(|(_, c)| *c).collect()
    }

    /// Whether killed cgroups still wait for removal.
    pub fn draining(&self) -> bool {
        !self.draining.is_empty()
    }
}

/// In the child, right after the fork and before anything else: moves itself into `dir` and
/// checks that /proc/self/cgroup says so.
pub fn enter(dir: &Path) -> Result<(), String> {
    write(&dir.join("cgroup.procs"), "0")?;
    let now = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    match own_path(&now) {
        Some(p) if p.ends_with(&format!("/{name}")) => Ok(()),
        other => Err(format!(
            "still in cgroup {other:?} after moving into {}",
            dir.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cgroup::CpuMax;

    /// This host's hybrid layout (v1 controllers, a controller-less cgroup2 "unified").
    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const UNIFIED: &str = "\
25 1 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
";

    fn limits() -> CgroupSettings {
        CgroupSettings {
            per_connection: true,
            pids_max: Some(16),
            memory_max: Some(64 << 20),
            cpu_max: Some(CpuMax {
                quota: Some(50_000),
                period: 100_000,
            }),
            limits_at: Vec::new(),
        }
    }

    #[test]
    fn parses_proc_cgroup_and_mountinfo() {
        assert_eq!(
            own_path("9:name=systemd:/\n0::/system.slice/x.service\n"),
            Some("/system.slice/x.service")
        );
        assert_eq!(own_path("4:memory:/\n"), None);
        assert_eq!(
            cgroup2_mount(HYBRID),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        assert_eq!(
            cgroup2_mount(UNIFIED),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
        assert_eq!(cgroup2_mount("1 2 0:3 / /proc rw - proc proc rw\n"), None);
        assert_eq!(
            v1_mount_of(HYBRID, "memory"),
            Some(PathBuf::from("/sys/fs/cgroup/memory"))
        );
        assert_eq!(
            v1_mount_of(HYBRID, "cpu"),
            Some(PathBuf::from("/sys/fs/cgroup/cpu"))
        );
        assert_eq!(v1_mount_of(UNIFIED, "pids"), None);
    }

    #[test]
    fn a_delegated_cgroup_with_the_controllers_is_accepted() {
        let seen = Seen {
            mountinfo: UNIFIED.into(),
            proc_cgroup: "0::/system.slice/oneshot.service\n".into(),
            controllers: Some("cpuset cpu io memory pids\n".into()),
            has_kill: true,
            writable: true,
            uid: 0,
        };
        assert_eq!(
            diagnose(&limits(), &seen),
            Ok(PathBuf::from("/sys/fs/cgroup/system.slice/oneshot.service"))
        );
    }

    #[test]
    fn the_hybrid_host_is_refused_naming_everything_missing() {
        let seen = Seen {
            mountinfo: HYBRID.into(),
            proc_cgroup: "4:memory:/x\n0::/\n".into(),
            controllers: Some("hugetlb\n".into()),
            has_kill: true,
            writable: true,
            uid: 0,
        };
        let e = diagnose(&limits(), &seen).unwrap_err();
        assert!(e.starts_with("CgroupPerConnection On: the master runs in the root cgroup of /sys/fs/cgroup/unified"), "{e}");
        assert!(e.contains("controller(s) cpu memory pids not offered in /sys/fs/cgroup/unified/cgroup.controllers (it offers: hugetlb)"), "{e}");
        assert!(e.contains("cpu is bound to the cgroup v1 hierarchy at /sys/fs/cgroup/cpu, memory is bound to the cgroup v1 hierarchy at /sys/fs/cgroup/memory, pids is bound to the cgroup v1 hierarchy at /sys/fs/cgroup/pids"), "{e}");
    }

    #[test]
    fn each_missing_piece_is_named() {
        let base = Seen {
            mountinfo: UNIFIED.into(),
            proc_cgroup: "0::/a.service\n".into(),
            controllers: Some("memory pids\n".into()),
            has_kill: false,
            writable: false,
            uid: 1000,
        };
        let e = diagnose(&limits(), &base).unwrap_err();
        assert!(e.contains("controller(s) cpu not offered in /sys/fs/cgroup/a.service/cgroup.controllers (it offers: memory pids)"), "{e}");
        assert!(
            e.contains(
                "/sys/fs/cgroup/a.service/cgroup.kill is missing (the kernel needs Linux 5.14"
            ),
            "{e}"
        );
        assert!(e.contains("/sys/fs/cgroup/a.service (its cgroup.procs and cgroup.subtree_control) is not writable by uid 1000"), "{e}");
        // Without limits no controller is needed: only cgroup.kill matters.
        let kill_only = CgroupSettings {
            per_connection: true,
            ..CgroupSettings::default()
        };
        let ok = Seen {
            has_kill: true,
            writable: true,
            controllers: Some(String::new()),
            ..base
        };
        assert!(diagnose(&kill_only, &ok).is_ok());
        let none = Seen {
            mountinfo: String::new(),
            ..ok
        };
        assert!(diagnose(&kill_only, &none)
            .unwrap_err()
            .contains("no cgroup2 filesystem is mounted"));
    }

    #[test]
    fn connection_cgroups_get_their_limits_read_back_and_drain() {
        // A plain directory stands in for the cgroup filesystem: files keep what is written.
        let root = std::env::temp_dir().join(format!("oneshot-cgroup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let mut t = Tree {
            dir: root.clone(),
            seq: 0,
            live: BTreeMap::new(),
            draining: Vec::new(),
        };
        let dir = t.prepare(&limits()).unwrap();
        assert_eq!(dir, root.join("conn-1"));
        assert_eq!(std::fs::read_to_string(dir.join("pids.max")).unwrap(), "16");
        assert_eq!(
            std::fs::read_to_string(dir.join("memory.max")).unwrap(),
            "67108864"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("cpu.max")).unwrap(),
            "50000 100000"
        );
        t.adopt(Pid::from_raw(42), dir.clone(), Some(9));
        t.reaped(|p| p != Pid::from_raw(42));
        assert_eq!(
            std::fs::read_to_string(dir.join("cgroup.kill")).unwrap(),
            "1"
        );
        // Not empty (a plain directory with files): stays draining with its category.
        assert_eq!(t.drain().into_iter().collect::<Vec<_>>(), [9]);
        for f in ["pids.max", "memory.max", "cpu.max", "cgroup.kill"] {
            std::fs::remove_file(dir.join(f)).unwrap();
        }
        assert!(t.drain().is_empty() || !dir.exists());
        let _ = std::fs::remove_dir_all(&root);
    }
}
