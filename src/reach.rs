//! `-t`'s reachability check, for a root master: can each identity children will take search
//! every ancestor of each DocumentRoot and each `Alias`/`AliasMatch` target and read it, and
//! search each ScriptAlias directory?
//!
//! A child confines itself (setresuid, then Landlock, which opens every tree it allows) before
//! it opens a file, so a DocumentRoot under a 0700 home makes every page a 500 with
//! `Landlock restrict_self failed ... Permission denied` in the error log. This check says it
//! before the start instead: `conf:12: DocumentRoot /root/site/www: nobody cannot search /root
//! (drwx------ root)`.
//!
//! Decided from the mode bits, the owner and group, the identity's gid and supplementary groups,
//! and POSIX access ACLs (`system.posix_acl_access`), as the kernel's permission check does for
//! a process without capabilities; nothing here changes identity to try. SELinux and Landlock
//! are not evaluated (the VM tests cover them). The pure part ([`check`]) takes a [`View`] of
//! the filesystem so it can be tested with a fake one.
#![forbid(unsafe_code)]

use crate::config::{identity_key, Config, ConfigError, Origin, VHost};
use crate::sandbox::Backend;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// An identity a child can take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    /// As the configuration names it: `nobody`, `alice`, `alice:staff`.
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups, as the child will have them after setgroups.
    pub groups: Vec<u32>,
}

impl Who {
    fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }
}

/// One entry of a POSIX ACL (`acl(5)`); `perm` holds r=4, w=2, x=1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AclEntry {
    pub tag: AclTag,
    pub perm: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclTag {
    UserObj,
    User(u32),
    GroupObj,
    Group(u32),
    Mask,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acl {
    /// No access ACL: the mode bits decide.
    None,
    Entries(Vec<AclEntry>),
    /// The directory has one that could not be read or decoded (said in the message).
    NotEvaluated(String),
}

/// What the check needs to know about a directory (symlinks followed, as `stat(2)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// `st_mode`, file type bits included.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub acl: Acl,
}

/// The filesystem as the check sees it.
pub trait View {
    fn node(&self, path: &Path) -> io::Result<Node>;
    /// The path with every symlink resolved.
    fn canonical(&self, path: &Path) -> io::Result<PathBuf>;
    fn user_name(&self, uid: u32) -> String;
}

const R: u32 = 4;
const X: u32 = 1;

/// The rwx bits `who` gets on `node`, and whether an ACL was left out of the decision.
fn granted(who: &Who, node: &Node) -> (u32, bool) {
    let class = |shift: u32| (node.mode >> shift) & 7;
    let by_mode = if who.uid == node.uid {
        class(6)
    } else if who.in_group(node.gid) {
        class(3)
    } else {
        class(0)
    };
    let entries = match &node.acl {
        Acl::None => return (by_mode, false),
        Acl::NotEvaluated(_) => return (by_mode, true),
        Acl::Entries(e) => e,
    };
    // acl(5), "ACCESS CHECK ALGORITHM": owner, named user (masked), any matching group entry
    // (masked; the union of those that match), other.
    let mask = entries
        .iter()
        .find(|e| e.tag == AclTag::Mask)
        .map_or(7, |e| e.perm);
    let find = |t: AclTag| entries.iter().find(|e| e.tag == t).map(|e| e.perm);
    if who.uid == node.uid {
        return (find(AclTag::UserObj).unwrap_or(by_mode), false);
    }
    if let Some(p) = find(AclTag::User(who.uid)) {
        return (p & mask, false);
    }
    let groups: Vec<u32> = entries
        .iter()
        .filter_map(|e| match e.tag {
            AclTag::GroupObj if who.in_group(node.gid) => Some(e.perm),
            AclTag::Group(g) if who.in_group(g) => Some(e.perm),
            _ => None,
        })
        .collect();
    if !groups.is_empty() {
        return (groups.iter().fold(0, |a, p| a | p) & mask, false);
    }
    (find(AclTag::Other).unwrap_or(by_mode), false)
}

/// Decodes the `system.posix_acl_access` extended attribute: a little-endian version 2
/// header, then (tag u16, perm u16, id u32) entries.
pub fn parse_acl(bytes: &[u8]) -> Result<Vec<AclEntry>, String> {
    let (head, rest) = bytes
        .split_first_chunk::<4>()
        .ok_or("ACL shorter than its header")?;
    if u32::from_le_bytes(*head) != 2 {
        return Err(format!("ACL version {}", u32::from_le_bytes(*head)));
    }
    if rest.len() % 8 != 0 {
        return Err("ACL entries are not 8 bytes each".into());
    }
    rest.chunks_exact(8)
        .map(|c| {
            let tag = u16::from_le_bytes([c[0], c[1]]);
            let perm = u32::from(u16::from_le_bytes([c[2], c[3]])) & 7;
            let id = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
            let tag = match tag {
                0x01 => AclTag::UserObj,
                0x02 => AclTag::User(id),
                0x04 => AclTag::GroupObj,
                0x08 => AclTag::Group(id),
                0x10 => AclTag::Mask,
                0x20 => AclTag::Other,
                t => return Err(format!("ACL tag {t:#x}")),
            };
            Ok(AclEntry { tag, perm })
        })
        .collect()
}

/// `drwx------` as ls prints it, with `+` when there is an ACL.
fn mode_string(node: &Node) -> String {
    let kind = match node.mode & 0o170000 {
        0o040000 => 'd',
        0o120000 => 'l',
        0o100000 => '-',
        _ => '?',
    };
    let mut s = String::from(kind);
    for shift in [6, 3, 0] {
        let b = (node.mode >> shift) & 7;
        s.push(if b & 4 != 0 { 'r' } else { '-' });
        s.push(if b & 2 != 0 { 'w' } else { '-' });
        s.push(if b & 1 != 0 { 'x' } else { '-' });
    }
    if node.acl != Acl::None {
        s.push('+');
    }
    s
}

/// Every directory the kernel walks to reach `path`: its ancestors, from `/`, then `path`.
fn walk(path: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = path.ancestors().map(Path::to_path_buf).collect();
    v.reverse();
    v
}

/// The first directory that stops `who` from reaching `path` (search on every ancestor, search
/// and, with `read`, read on `path` itself), as a message; `None` when nothing does. Both the
/// path as written and, when they differ, its resolved form are walked.
pub fn blocker(view: &impl View, who: &Who, path: &Path, read: bool) -> Option<String> {
    let mut dirs = walk(path);
    if let Ok(c) = view.canonical(path) {
        if c != path {
            dirs.extend(walk(&c));
        }
    }
    let resolved = view.canonical(path).unwrap_or_else(|_| path.to_path_buf());
    let mut seen = std::collections::BTreeSet::new();
    for dir in dirs {
        if !seen.insert(dir.clone()) {
            continue;
        }
        // A missing directory is the loader's error ("is not a directory"), not this one's.
        let Ok(node) = view.node(&dir) else {
            continue;
        };
        let target = dir == path || dir == resolved;
        // A file (an Alias may name one) is read, not searched.
        let need = match (target && read, node.mode & 0o170_000 == 0o040_000) {
            (true, true) => R | X,
            (true, false) => R,
            (false, _) => X,
        };
        let (got, unevaluated) = granted(who, &node);
        if got & need == need {
            continue;
        }
        let verb = if need & X != 0 && got & X == 0 {
            "search"
        } else {
            "read"
        };
        let acl = match &node.acl {
            Acl::NotEvaluated(why) if unevaluated => {
                format!("; it has an ACL, which was not evaluated: {why}")
            }
            _ => String::new(),
        };
        return Some(format!(
            "{} cannot {verb} {} ({} {}{acl})",
            who.name,
            dir.display(),
            mode_string(&node),
            view.user_name(node.uid)
        ));
    }
    None
}

/// The identities children serving `vhost` can end in: with `Confinement unix`, every one its
/// `AssignUserID` and `UserIDMap` rules name (in any scope); otherwise `User` (the worker),
/// which is what a root master's children stay.
pub fn identities(cfg: &Config, vhost: &VHost, worker: Option<&Who>) -> Vec<Who> {
    if !cfg.confinement.contains(&Backend::Unix) {
        return worker.cloned().into_iter().collect();
    }
    let mut out: BTreeMap<String, Who> = BTreeMap::new();
    let confs = vhost.scopes().map(|(c, _)| c);
    for conf in confs {
        let mut keys: Vec<String> = conf.assign_user.iter().map(identity_key).collect();
        if let Some(rules) = conf.user_map.as_ref().and_then(|f| cfg.user_maps.get(f)) {
            keys.extend(rules.iter().map(|r| identity_key(&r.target)));
        }
        for key in keys {
            if let Some(u) = cfg.users.get(&key) {
                out.entry(key.clone()).or_insert_with(|| Who {
                    name: key,
                    uid: u.uid,
                    gid: u.gid,
                    groups: u.groups.clone(),
                });
            }
        }
    }
    out.into_values().collect()
}

/// Every DocumentRoot and Alias target (read) and ScriptAlias directory (search) checked for every identity
/// that serves it; one error per (line, identity, directory), with the line that names it.
pub fn check(cfg: &Config, worker: Option<&Who>, view: &impl View) -> Vec<ConfigError> {
    let mut out: Vec<ConfigError> = Vec::new();
    for v in &cfg.vhosts {
        let mut targets: Vec<(String, &Path, &Origin, bool)> = vec![(
            format!("DocumentRoot {}", v.document_root.display()),
            &v.document_root,
            &v.root_origin,
            true,
        )];
        for a in &v.script_aliases {
            targets.push((
                format!("ScriptAlias {}", a.dir.display()),
                &a.dir,
                &a.origin,
                false,
            ));
        }
        // Alias targets are served like the DocumentRoot (an AliasMatch from the literal
        // directory its target starts with, which is what Landlock grants).
        for a in &v.aliases {
            let kind = match a.pattern {
                crate::config::alias::Pattern::Prefix(_) => "Alias",
                crate::config::alias::Pattern::Regex(_) => "AliasMatch",
            };
            targets.push((
                format!("{kind} {}", a.root.display()),
                &a.root,
                &a.origin,
                true,
            ));
        }
        for who in identities(cfg, v, worker) {
            for (what, path, origin, read) in &targets {
                if let Some(m) = blocker(view, &who, path, *read) {
                    let e = ConfigError {
                        origin: (*origin).clone(),
                        message: format!("{what}: {m}"),
                    };
                    if !out.contains(&e) {
                        out.push(e);
                    }
                }
            }
        }
    }
    out
}

/// `User`/`Group` resolved as the master does for its children (primary group only).
pub fn worker(cfg: &Config) -> Option<Who> {
    let user = nix::unistd::User::from_name(cfg.user.as_deref()?).ok()??;
    let group = nix::unistd::Group::from_name(cfg.group.as_deref()?).ok()??;
    Some(Who {
        name: user.name,
        uid: user.uid.as_raw(),
        gid: group.gid.as_raw(),
        groups: vec![group.gid.as_raw()],
    })
}

/// The real filesystem.
pub struct Real;

impl View for Real {
    fn node(&self, path: &Path) -> io::Result<Node> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path)?;
        let mut buf = vec![0u8; 4096];
        let acl = match rustix::fs::getxattr(path, "system.posix_acl_access", &mut buf[..]) {
            Ok(n) => match parse_acl(&buf[..n]) {
                Ok(e) => Acl::Entries(e),
                Err(why) => Acl::NotEvaluated(why),
            },
            Err(e) if e == rustix::io::Errno::NODATA || e == rustix::io::Errno::NOTSUP => Acl::None,
            Err(e) => Acl::NotEvaluated(format!("cannot read it: {e}")),
        };
        Ok(Node {
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
            acl,
        })
    }

    fn canonical(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }

    fn user_name(&self, uid: u32) -> String {
        nix::unistd::User::from_uid(uid.into())
            .ok()
            .flatten()
            .map_or_else(|| uid.to_string(), |u| u.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A filesystem given as a table: path → (mode, uid, gid, ACL); symlinks as a map.
    #[derive(Default)]
    struct Fake {
        nodes: BTreeMap<PathBuf, Node>,
        links: BTreeMap<PathBuf, PathBuf>,
    }

    impl Fake {
        fn dir(mut self, p: &str, mode: u32, uid: u32, gid: u32) -> Self {
            self.nodes.insert(
                p.into(),
                Node {
                    mode: 0o040000 | mode,
                    uid,
                    gid,
                    acl: Acl::None,
                },
            );
            self
        }
        fn file(mut self, p: &str, mode: u32, uid: u32, gid: u32) -> Self {
            self = self.dir(p, mode, uid, gid);
            if let Some(n) = self.nodes.get_mut(Path::new(p)) {
                n.mode = 0o100000 | mode;
            }
            self
        }
        fn acl(mut self, p: &str, acl: Acl) -> Self {
            self.nodes.get_mut(Path::new(p)).unwrap().acl = acl;
            self
        }
        fn link(mut self, p: &str, to: &str) -> Self {
            self.links.insert(p.into(), to.into());
            self
        }
        /// The usual top: / and /srv root-owned 0755.
        fn new() -> Self {
            Fake::default()
                .dir("/", 0o755, 0, 0)
                .dir("/srv", 0o755, 0, 0)
        }
    }

    impl View for Fake {
        fn node(&self, p: &Path) -> io::Result<Node> {
            let p = self.canonical(p)?;
            self.nodes
                .get(&p)
                .cloned()
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
        }
        fn canonical(&self, p: &Path) -> io::Result<PathBuf> {
            for (from, to) in &self.links {
                if let Ok(rest) = p.strip_prefix(from) {
                    return Ok(if rest.as_os_str().is_empty() {
                        to.clone()
                    } else {
                        to.join(rest)
                    });
                }
            }
            Ok(p.to_path_buf())
        }
        fn user_name(&self, uid: u32) -> String {
            match uid {
                0 => "root".into(),
                1000 => "alice".into(),
                n => n.to_string(),
            }
        }
    }

    fn who(name: &str, uid: u32, gid: u32, groups: &[u32]) -> Who {
        Who {
            name: name.into(),
            uid,
            gid,
            groups: groups.to_vec(),
        }
    }

    fn nobody() -> Who {
        who("nobody", 65534, 65534, &[65534])
    }

    #[test]
    fn table() {
        let alice = who("alice", 1000, 1000, &[1000, 33]);
        let acl = |e: &[(AclTag, u32)]| {
            Acl::Entries(
                e.iter()
                    .map(|&(tag, perm)| AclEntry { tag, perm })
                    .collect(),
            )
        };
        use AclTag::*;
        // (case, filesystem, identity, path, read wanted, expected blocker)
        type Case<'a> = (&'a str, Fake, Who, &'a str, bool, Option<&'a str>);
        let cases: Vec<Case> = vec![
            ("all 0755", Fake::new().dir("/srv/www", 0o755, 0, 0), nobody(), "/srv/www", true, None),
            (
                "0700 home",
                Fake::new().dir("/root", 0o700, 0, 0).dir("/root/site", 0o755, 0, 0).dir("/root/site/www", 0o755, 0, 0),
                nobody(), "/root/site/www", true,
                Some("nobody cannot search /root (drwx------ root)"),
            ),
            (
                "0711 home lets through, 0700 root does not",
                Fake::new().dir("/home", 0o755, 0, 0).dir("/home/alice", 0o711, 1000, 1000).dir("/home/alice/www", 0o700, 1000, 1000),
                nobody(), "/home/alice/www", true,
                Some("nobody cannot search /home/alice/www (drwx------ alice)"),
            ),
            (
                "search without read on the DocumentRoot",
                Fake::new().dir("/srv/www", 0o711, 0, 0),
                nobody(), "/srv/www", true,
                Some("nobody cannot read /srv/www (drwx--x--x root)"),
            ),
            (
                "search is enough for a ScriptAlias directory",
                Fake::new().dir("/srv/cgi", 0o711, 0, 0),
                nobody(), "/srv/cgi", false, None,
            ),
            (
                "owner class decides even when other would grant",
                Fake::new().dir("/srv/www", 0o075, 1000, 1000),
                alice.clone(), "/srv/www", true,
                Some("alice cannot search /srv/www (d---rwxr-x alice)"),
            ),
            (
                "supplementary group grants",
                Fake::new().dir("/srv/www", 0o750, 0, 33),
                alice.clone(), "/srv/www", true, None,
            ),
            (
                "group class decides for a member",
                Fake::new().dir("/srv/www", 0o705, 0, 33),
                alice.clone(), "/srv/www", true,
                Some("alice cannot search /srv/www (drwx---r-x root)"),
            ),
            (
                "primary group grants",
                Fake::new().dir("/srv/www", 0o750, 0, 65534),
                nobody(), "/srv/www", true, None,
            ),
            (
                "a symlink's target's ancestors count",
                Fake::new().dir("/root", 0o700, 0, 0).dir("/root/www", 0o755, 0, 0).link("/srv/www", "/root/www"),
                nobody(), "/srv/www", true,
                Some("nobody cannot search /root (drwx------ root)"),
            ),
            (
                "named-user ACL grants where the mode would not",
                Fake::new().dir("/srv/www", 0o750, 0, 0).acl("/srv/www", acl(&[(UserObj, 7), (User(65534), 5), (GroupObj, 5), (Mask, 5), (Other, 0)])),
                nobody(), "/srv/www", true, None,
            ),
            (
                "the mask limits a named user",
                Fake::new().dir("/srv/www", 0o710, 0, 0).acl("/srv/www", acl(&[(UserObj, 7), (User(65534), 5), (GroupObj, 0), (Mask, 1), (Other, 0)])),
                nobody(), "/srv/www", true,
                Some("nobody cannot read /srv/www (drwx--x---+ root)"),
            ),
            (
                "named-group ACL for a supplementary group",
                Fake::new().dir("/srv/www", 0o750, 0, 0).acl("/srv/www", acl(&[(UserObj, 7), (GroupObj, 0), (Group(33), 5), (Mask, 5), (Other, 0)])),
                alice.clone(), "/srv/www", true, None,
            ),
            (
                "ACL other entry",
                Fake::new().dir("/srv/www", 0o700, 0, 0).acl("/srv/www", acl(&[(UserObj, 7), (GroupObj, 0), (Other, 0)])),
                nobody(), "/srv/www", true,
                Some("nobody cannot search /srv/www (drwx------+ root)"),
            ),
            (
                "an ACL that could not be read is named",
                Fake::new().dir("/srv/www", 0o700, 0, 0).acl("/srv/www", Acl::NotEvaluated("ACL version 3".into())),
                nobody(), "/srv/www", true,
                Some("nobody cannot search /srv/www (drwx------+ root; it has an ACL, which was not evaluated: ACL version 3)"),
            ),
            (
                "a missing directory is left to the loader",
                Fake::new(),
                nobody(), "/srv/nothing", true, None,
            ),
        ];
        for (name, fs, who, path, read, want) in cases {
            assert_eq!(
                blocker(&fs, &who, Path::new(path), read).as_deref(),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn acl_bytes() {
        let mut b = 2u32.to_le_bytes().to_vec();
        for (tag, perm, id) in [
            (1u16, 7u16, u32::MAX),
            (2, 5, 65534),
            (4, 5, u32::MAX),
            (16, 5, u32::MAX),
            (32, 0, u32::MAX),
        ] {
            b.extend(tag.to_le_bytes());
            b.extend(perm.to_le_bytes());
            b.extend(id.to_le_bytes());
        }
        let e = parse_acl(&b).unwrap();
        assert_eq!(
            e[1],
            AclEntry {
                tag: AclTag::User(65534),
                perm: 5
            }
        );
        assert_eq!(e.len(), 5);
        assert!(parse_acl(&b[..7]).is_err());
        assert!(parse_acl(&b[..10]).is_err());
        assert!(parse_acl(&[3, 0, 0, 0]).is_err());
    }

    fn config(text: &str) -> Config {
        let nodes = crate::config::parse::parse(text, Path::new("/etc/x/h.conf")).unwrap();
        crate::config::build::build(&nodes, Path::new("/etc/x/h.conf")).unwrap()
    }

    #[test]
    fn config_errors_name_the_line_and_each_identity() {
        let fs = Fake::new()
            .dir("/root", 0o700, 0, 0)
            .dir("/root/www", 0o755, 0, 0)
            .dir("/root/cgi", 0o755, 0, 0)
            .dir("/srv/alice", 0o700, 1000, 1000);
        let mut cfg = config(
            "Listen 80\nUser nobody\nGroup nogroup\nDocumentRoot /root/www\nScriptAlias /cgi-bin/ /root/cgi\n<VirtualHost *:80>\nServerName a\nDocumentRoot /srv/alice\nAssignUserID alice alice\n</VirtualHost>\n<VirtualHost *:80>\nServerName b\n</VirtualHost>\n",
        );
        let errors = |cfg: &Config| -> Vec<String> {
            check(cfg, Some(&nobody()), &fs)
                .iter()
                .map(|e| e.to_string())
                .collect()
        };
        // Landlock only: every child stays `User`; the main server's ScriptAlias is reported
        // once, though both vhosts have it. (AssignUserID turns `unix` on when Confinement is
        // not written; this case looks at a landlock-only server with the same vhosts.)
        cfg.confinement = vec![Backend::Landlock];
        assert_eq!(
            errors(&cfg),
            [
                "/etc/x/h.conf:8: DocumentRoot /srv/alice: nobody cannot search /srv/alice (drwx------ alice)",
                "/etc/x/h.conf:5: ScriptAlias /root/cgi: nobody cannot search /root (drwx------ root)",
                "/etc/x/h.conf:4: DocumentRoot /root/www: nobody cannot search /root (drwx------ root)",
            ]
        );
        // With unix ids: vhost a is served as alice, who owns her root; vhost b has no
        // identity rule (every request refused), so nothing there needs to be reachable.
        cfg.confinement = vec![Backend::Unix, Backend::Landlock];
        cfg.users.insert(
            "alice:alice".into(),
            crate::config::ResolvedUser {
                uid: 1000,
                gid: 1000,
                groups: vec![1000],
            },
        );
        assert_eq!(
            errors(&cfg),
            ["/etc/x/h.conf:5: ScriptAlias /root/cgi: alice:alice cannot search /root (drwx------ root)"]
        );
    }

    /// An Alias target is served as the DocumentRoot is: each identity must search its
    /// ancestors and read it (a file target: read only); an AliasMatch is checked at the
    /// literal directory its target starts with.
    #[test]
    fn alias_targets_are_checked_as_document_roots() {
        let fs = Fake::new()
            .dir("/srv", 0o755, 0, 0)
            .dir("/srv/www", 0o755, 0, 0)
            .dir("/srv/shared", 0o700, 0, 0)
            .dir("/srv/m", 0o711, 0, 0)
            .file("/srv/robots.txt", 0o600, 0, 0)
            .file("/srv/open.txt", 0o644, 0, 0)
            .dir("/srv/fine", 0o755, 0, 0);
        let mut cfg = config(
            "Listen 80\nUser nobody\nGroup nogroup\nDocumentRoot /srv/www\nAlias /s /srv/shared\nAliasMatch ^/m/(.*)$ /srv/m/$1\nAlias /robots.txt /srv/robots.txt\nAlias /open.txt /srv/open.txt\nAlias /fine /srv/fine\n",
        );
        cfg.confinement = vec![Backend::Landlock];
        let got: Vec<String> = check(&cfg, Some(&nobody()), &fs)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            got,
            [
                "/etc/x/h.conf:5: Alias /srv/shared: nobody cannot search /srv/shared (drwx------ root)",
                "/etc/x/h.conf:6: AliasMatch /srv/m: nobody cannot read /srv/m (drwx--x--x root)",
                "/etc/x/h.conf:7: Alias /srv/robots.txt: nobody cannot read /srv/robots.txt (-rw------- root)",
            ]
        );
    }
}
