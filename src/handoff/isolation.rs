//! Stage "isolate" (before the first byte is read): which namespaces, tmpfs mounts and keyring
//! a pristine child gets, decided from the configuration alone (the child does not know its
//! vhost yet), and the start-up check that the kernel grants them. Part of the contract across
//! the fork: the child enters it (`child::serve`), the master runs it once in a throwaway
//! process at start and reload, and warns of the tmpfs mounts a configured path shadows.
//!
//! Decisions (docs/security-model.md, "Isolation"):
//! - Every child gets its own session keyring, an IPC namespace and "not dumpable".
//! - When any vhost can run programs, every child also gets a mount namespace with private
//!   tmpfs on /tmp, /var/tmp and /dev/shm and a PID namespace for its programs. Per-vhost
//!   would need CAP_SYS_ADMIN after the request is read, which a child never keeps.
//! - A master with CAP_SYS_ADMIN (root) creates them directly; otherwise the child first
//!   creates a user namespace mapping only its own uid and gid (then RLIMIT_NPROC counts the
//!   connection's processes only). `Namespaces Off` turns the namespaces (not the keyring or
//!   dumpable) off; with it On, a kernel that refuses them stops the start.
//! - A per-connection cgroup (`CgroupPerConnection`) is made by the master and entered by
//!   the child right after the fork, before it accepts (`master::cgroup`).

use std::path::PathBuf;

use crate::config::Config;
use crate::sandbox::{self, forked, IsolationPlan, ProgramIsolation, SandboxError};
use crate::sys::{Linux, Sys};

pub use crate::sandbox::forked::PRIVATE_TMP;
/// Size limit of each private tmpfs (16 MiB; pages count against the memory of the child's
/// cgroup, and die with the connection).
pub const TMPFS_SIZE: u64 = 16 << 20;
const CAP_SYS_ADMIN: u64 = 1 << 21;

/// The private tmpfs mount points programs get under this configuration (empty when no
/// program can run or namespaces are off). Also what Landlock lets programs write.
/// A directory the configuration serves or runs programs from (a DocumentRoot, ScriptAlias
/// target or `<Directory>` beneath it) is not covered, since the tmpfs would hide it; the
/// master says so at start ([`shadowed_tmp`]).
pub fn private_tmp(cfg: &Config) -> Vec<PathBuf> {
    if !cfg.namespaces || !cfg.vhosts.iter().any(|v| v.cgi_enabled()) {
        return Vec::new();
    }
    forked::existing_tmp()
        .iter()
        .filter(|p| shadowed_by(cfg, p).is_none())
        .cloned()
        .collect()
}

/// (mount point, configured path beneath it) for every private tmpfs left out.
pub fn shadowed_tmp(cfg: &Config) -> Vec<(PathBuf, PathBuf)> {
    PRIVATE_TMP
        .iter()
        .map(PathBuf::from)
        .filter_map(|p| shadowed_by(cfg, &p).map(|used| (p, used)))
        .collect()
}

fn shadowed_by(cfg: &Config, mount: &std::path::Path) -> Option<PathBuf> {
    cfg.vhosts
        .iter()
        .flat_map(|v| {
            std::iter::once(v.document_root.clone())
                .chain(v.script_aliases.iter().map(|a| a.dir.clone()))
                .chain(v.aliases.iter().map(|a| a.root.clone()))
                .chain(v.directories.iter().map(|d| PathBuf::from(&d.path)))
                // FastCGI sockets the children connect to.
                .chain(
                    v.fcgi
                        .rules
                        .iter()
                        .map(|r| &r.backend)
                        .chain(v.fcgi_handlers())
                        .filter_map(|b| b.socket_dir())
                        .collect::<Vec<_>>(),
                )
        })
        .find(|used| used.starts_with(mount))
}

/// The plan for a child of a master whose effective capabilities are `capeff` and whose ids
/// are `uid`/`gid`.
pub fn plan(cfg: &Config, capeff: u64, uid: u32, gid: u32) -> IsolationPlan {
    let programs = cfg.vhosts.iter().any(|v| v.cgi_enabled());
    IsolationPlan {
        namespaces: cfg.namespaces,
        programs: (cfg.namespaces && programs).then(|| ProgramIsolation {
            tmpfs: private_tmp(cfg),
            tmpfs_size: TMPFS_SIZE,
        }),
        user_ns: (cfg.namespaces && capeff & CAP_SYS_ADMIN == 0).then_some((uid, gid)),
        ns_before: Vec::new(),
    }
}

fn plan_here(cfg: &Config) -> std::io::Result<IsolationPlan> {
    let capeff = Linux.cap_effective()?;
    let (uid, _, _) = Linux.getresuid()?;
    let (gid, _, _) = Linux.getresgid()?;
    Ok(IsolationPlan {
        ns_before: forked::master_namespaces().to_vec(),
        ..plan(cfg, capeff, uid, gid)
    })
}

/// Isolates the calling (pristine, just accepted) child.
pub fn enter(cfg: &Config) -> Result<(), SandboxError> {
    let plan = plan_here(cfg).map_err(sandbox::failed(sandbox::Step::CapCheck))?;
    sandbox::isolate(&Linux, &plan)?;
    sandbox::record_isolation(&plan);
    Ok(())
}

/// At start-up and reload, in the master: runs the children's isolation once in a throwaway
/// process, so a kernel that refuses it stops the start (with `Namespaces On`) instead of
/// failing every connection.
pub fn check_at_start(cfg: &Config) -> Result<(), String> {
    use std::io::{Read, Write};
    let (mut r, w) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    match crate::sys::fork().map_err(|e| format!("fork: {e}"))? {
        crate::sys::ForkResult::Child => {
            drop(r);
            let mut w = w;
            let code = match enter(cfg) {
                Ok(()) => 0,
                Err(e) => {
                    let _ = write!(w, "{e}");
                    1
                }
            };
            crate::sys::child_exit(code)
        }
        crate::sys::ForkResult::Parent { child } => {
            drop(w);
            let mut why = String::new();
            let _ = r.read_to_string(&mut why);
            let status = nix::sys::wait::waitpid(child, None).map_err(|e| format!("wait: {e}"))?;
            match status {
                nix::sys::wait::WaitStatus::Exited(_, 0) => Ok(()),
                _ if !why.is_empty() => Err(why),
                other => Err(format!("the probe process ended with {other:?}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        let dir = std::env::temp_dir();
        let nodes = crate::config::parse::parse(text, &dir.join("t.conf")).expect("parse");
        crate::config::build::build(&nodes, &dir.join("t.conf")).expect("build")
    }

    #[test]
    fn plan_follows_configuration_and_privilege() {
        let plain = cfg("Listen 8080\nDocumentRoot /srv\n");
        let cgi = cfg("Listen 8080\nDocumentRoot /srv\nScriptAlias /cgi-bin/ /srv/cgi/\n");
        let off = cfg("Listen 8080\nDocumentRoot /srv\nNamespaces Off\nScriptAlias /c/ /s/\n");
        let root = ALL;
        let p = plan(&plain, root, 0, 0);
        assert!(p.namespaces && p.programs.is_none() && p.user_ns.is_none());
        let p = plan(&cgi, root, 0, 0);
        assert_eq!(p.programs.as_ref().map(|p| p.tmpfs_size), Some(TMPFS_SIZE));
        assert!(p.programs.unwrap().tmpfs.contains(&PathBuf::from("/tmp")));
        let p = plan(&cgi, 0, 1000, 1001);
        assert_eq!(p.user_ns, Some((1000, 1001)));
        assert_eq!(plan(&off, 0, 1000, 1000), IsolationPlan::default());
        assert!(private_tmp(&off).is_empty() && private_tmp(&plain).is_empty());
    }

    const ALL: u64 = (1 << 41) - 1;
}
