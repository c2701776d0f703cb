//! Stage: enter the confinement chosen for this connection through the sandbox, which
//! verifies every step and hands out the proof (`Confined`) that handlers require.

use super::decide::Identity;
use crate::config::{Config, VHost};
use crate::sandbox::{self, Backend, LandlockRules, Plan, SandboxError, UnixIdentity};
use crate::sys::Linux;
use std::os::fd::RawFd;

pub use crate::sandbox::{describe, Confined};

/// The plan for a request on `vhost`: the backends the configuration requires, with the
/// filesystem narrowed to what the vhost serves (read-only).
/// With a root master that dropped early to `User`, a connection without a mapped unix
/// identity still ends in `User`, with every capability gone.
pub fn plan(
    cfg: &Config,
    vhost: &VHost,
    id: &Identity,
    worker: Option<&UnixIdentity>,
    keep_fds: Vec<RawFd>,
) -> Plan {
    let landlock = cfg.confinement.contains(&Backend::Landlock).then(|| {
        let mut rules = landlock_rules(vhost);
        if vhost.cgi_enabled() {
            // The private tmpfs mounts of this connection (`isolation`): writable by its
            // programs, never executable, gone with the connection.
            rules
                .write
                .extend(crate::handoff::isolation::private_tmp(cfg));
        }
        rules
    });
    Plan {
        selinux: id.selinux.clone(),
        unix: id.unix.clone().or_else(|| worker.cloned()),
        landlock,
        keep_fds,
        nice: id.nice,
        seccomp: Some(vhost.harden.seccomp()),
        ..Plan::default()
    }
}

/// Read-only on the DocumentRoot and on each `Alias`/`AliasMatch` target of this vhost (its
/// literal root; a target missing at load is left out, so nothing beneath it is granted);
/// with CGI, read+execute on the program trees (ScriptAlias
/// targets, and the DocumentRoot where AddHandler maps suffixes) and the system paths
/// ([`sandbox::system_paths`]).
pub fn landlock_rules(vhost: &VHost) -> LandlockRules {
    let mut rules = LandlockRules {
        read: vec![vhost.document_root.clone()],
        exec: Vec::new(),
        write: Vec::new(),
        connect_tcp: vhost.harden.connect_tcp.clone(),
    };
    for a in &vhost.aliases {
        if a.root.exists() && !rules.read.contains(&a.root) {
            rules.read.push(a.root.clone());
        }
    }
    // WebDAV writes as the admitted user, and only beneath the `Dav On` trees.
    rules.write.extend(
        crate::config::dav::roots(vhost)
            .into_iter()
            .map(|r| r.dir)
            .filter(|d| d.is_dir()),
    );
    if !vhost.cgi_enabled() {
        return rules;
    }
    rules
        .exec
        .extend(vhost.script_aliases.iter().map(|a| a.dir.clone()));
    if vhost.uses_cgi_extensions() {
        rules.exec.push(vhost.document_root.clone());
    }
    // CGIReadPath: what the administrator lets programs read besides (missing paths left out).
    for (p, _) in &vhost.harden.cgi_read {
        if p.exists() && !rules.read.contains(p) {
            rules.read.push(p.clone());
        }
    }
    let [exec, read, write] = sandbox::system_paths::system_paths();
    rules.exec.extend(exec.iter().cloned());
    rules.read.extend(read.iter().cloned());
    rules.write.extend(write.iter().cloned());
    rules
}

pub fn enter(plan: &Plan) -> Result<Confined, SandboxError> {
    sandbox::enter(&Linux, plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DirConf, Origin, ScriptAlias};
    use std::path::PathBuf;

    fn vhost(aliases: &[&str], extensions: bool) -> VHost {
        let origin = Origin {
            file: "f".into(),
            line: 1,
        };
        VHost {
            names: vec!["a".into()],
            document_root: "/srv/a".into(),
            root_origin: origin.clone(),
            conf: DirConf {
                cgi_extensions: extensions.then(|| vec!["cgi".to_string()]),
                ..DirConf::default()
            },
            directories: vec![],
            directory_matches: vec![],
            locations: vec![],
            script_aliases: aliases
                .iter()
                .map(|d| ScriptAlias {
                    prefix: vec!["cgi-bin".into()],
                    dir: d.into(),
                    origin: origin.clone(),
                })
                .collect(),
            aliases: vec![],
            redirects: vec![],
            origin,
            harden: Default::default(),
            access_logs: vec![],
            error_log: None,
            fcgi: Default::default(),
        }
    }

    #[test]
    fn only_cgi_vhosts_get_execute_and_system_paths() {
        let plain = landlock_rules(&vhost(&[], false));
        assert_eq!(plain.read, vec![PathBuf::from("/srv/a")]);
        assert!(plain.exec.is_empty() && plain.write.is_empty());

        let alias = landlock_rules(&vhost(&["/srv/a-cgi"], false));
        assert_eq!(alias.exec[0], PathBuf::from("/srv/a-cgi"));
        assert!(!alias.exec.contains(&PathBuf::from("/srv/a")));
        assert!(alias.exec.contains(&PathBuf::from("/usr")));
        assert!(alias.read.contains(&PathBuf::from("/etc/ld.so.cache")));
        assert_eq!(alias.write, vec![PathBuf::from("/dev/null")]);
        // Nothing writable is executable, and no system tree is writable.
        assert!(alias.write.iter().all(|w| !alias.exec.contains(w)));

        let handler = landlock_rules(&vhost(&[], true));
        assert_eq!(handler.exec[0], PathBuf::from("/srv/a"));
    }

    #[test]
    fn alias_targets_are_read_only_grants_of_their_vhost() {
        use crate::config::alias::{Alias, Pattern};
        let origin = Origin {
            file: "f".into(),
            line: 2,
        };
        let alias = |root: &str| Alias {
            pattern: Pattern::Prefix("/x/".into()),
            target: format!("{root}/"),
            root: root.into(),
            origin: origin.clone(),
        };
        let mut v = vhost(&[], false);
        v.aliases = vec![alias("/etc"), alias("/nonexistent-alias-target")];
        let rules = landlock_rules(&v);
        assert_eq!(
            rules.read,
            vec![PathBuf::from("/srv/a"), PathBuf::from("/etc")]
        );
        assert!(rules.exec.is_empty() && rules.write.is_empty());
        // Another vhost of the same server gets none of them.
        assert_eq!(
            landlock_rules(&vhost(&[], false)).read,
            vec![PathBuf::from("/srv/a")]
        );
    }
}
