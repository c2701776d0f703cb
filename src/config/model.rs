//! The validated configuration the master holds and every child inherits read-only.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where a directive came from, for messages of the form `FILE:LINE`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LogTarget {
    Stderr,
    File(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LogFormat {
    Combined,
    Common,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CustomLog {
    pub path: PathBuf,
    pub format: LogFormat,
}

/// Apache's `LimitRequest*` directives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// LimitRequestLine, LimitRequestFieldSize, LimitRequestFields: the request parser's own type.
    pub head: crate::http::request::Limits,
    /// LimitRequestBody; 0 means unlimited, as in Apache.
    pub body: u64,
}

/// `Options` flags that this server implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Options {
    pub indexes: bool,
    pub follow_symlinks: bool,
    pub symlinks_if_owner_match: bool,
    pub exec_cgi: bool,
}

/// Per-directory settings, from the vhost level and `<Directory>`/`<Location>` sections.
/// `None` means "not set here", so sections merge as Apache merges them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DirConf {
    pub options: Option<Options>,
    pub directory_index: Option<Vec<String>>,
    /// `AuthType Basic` (true) or `AuthType None` (false).
    pub auth_basic: Option<bool>,
    pub auth_name: Option<String>,
    /// `AuthUserFile`; its position in [`Config::password_files`] names it to the verifier.
    pub auth_user_file: Option<PathBuf>,
    /// The `Require` lines of one section (any may grant, as Apache's implicit RequireAny);
    /// a section with its own lines replaces the inherited ones (AuthMerging Off).
    pub requires: Option<Vec<crate::auth::Require>>,
    /// `selinuxDomainMap` (alias `selinuxConfigFile`); rules in [`Config::selinux_maps`].
    pub selinux_map: Option<PathBuf>,
    /// `selinuxDomainVal` (alias `selinuxDefaultDomain`).
    pub selinux_default: Option<crate::policy::SelinuxTarget>,
    /// `UserIDMap`; rules in [`Config::user_maps`].
    pub user_map: Option<PathBuf>,
    /// `AssignUserID USER GROUP`, resolved in [`Config::users`].
    pub assign_user: Option<crate::policy::UnixTarget>,
}

impl DirConf {
    /// Settings of `over` win where they are set.
    pub fn merge(&self, over: &DirConf) -> DirConf {
        fn pick<T: Clone>(over: &Option<T>, base: &Option<T>) -> Option<T> {
            over.clone().or_else(|| base.clone())
        }
        DirConf {
            options: over.options.or(self.options),
            directory_index: pick(&over.directory_index, &self.directory_index),
            auth_basic: over.auth_basic.or(self.auth_basic),
            auth_name: pick(&over.auth_name, &self.auth_name),
            auth_user_file: pick(&over.auth_user_file, &self.auth_user_file),
            requires: pick(&over.requires, &self.requires),
            selinux_map: pick(&over.selinux_map, &self.selinux_map),
            selinux_default: pick(&over.selinux_default, &self.selinux_default),
            user_map: pick(&over.user_map, &self.user_map),
            assign_user: pick(&over.assign_user, &self.assign_user),
        }
    }
}

/// A unix identity resolved once by the master (groups included), so children never
/// consult the name service.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Section {
    /// For `<Directory>` an absolute filesystem path, for `<Location>` a URL path prefix.
    pub path: String,
    pub conf: DirConf,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VHost {
    /// ServerName first, then ServerAlias entries; lowercase.
    pub names: Vec<String>,
    pub document_root: PathBuf,
    pub conf: DirConf,
    pub directories: Vec<Section>,
    pub locations: Vec<Section>,
    pub origin: Origin,
}

impl VHost {
    /// The first name, for logs and CGI's SERVER_NAME.
    pub fn server_name(&self) -> &str {
        self.names
            .first()
            .map(String::as_str)
            .unwrap_or("localhost")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    pub file: PathBuf,
    pub server_root: PathBuf,
    pub listen: Vec<SocketAddr>,
    pub pid_file: Option<PathBuf>,
    pub error_log: LogTarget,
    pub log_level: log::LevelFilter,
    pub custom_logs: Vec<CustomLog>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub start_servers: usize,
    pub min_spare: usize,
    pub max_spare: usize,
    pub max_workers: usize,
    pub timeout: Duration,
    pub keep_alive: bool,
    pub keep_alive_timeout: Duration,
    pub max_keep_alive_requests: usize,
    /// `ReexecChildren On`: every pre-forked child execs the binary the master started from,
    /// for a fresh address-space layout and stack canary per connection (see `master::reexec`).
    pub reexec_children: bool,
    pub limits: Limits,
    /// Backends every child must enter (`Confinement`); the server refuses to start when the
    /// kernel or the master's privileges cannot provide one of them.
    pub confinement: Vec<crate::sandbox::Backend>,
    /// Every distinct AuthUserFile, in a fixed order: children name a file to the verifier
    /// by its index here, never by path.
    pub password_files: Vec<PathBuf>,
    pub selinux_maps: BTreeMap<PathBuf, Vec<crate::policy::Rule<crate::policy::SelinuxTarget>>>,
    pub user_maps: BTreeMap<PathBuf, Vec<crate::policy::Rule<crate::policy::UnixTarget>>>,
    /// Every `user[:group]` that AssignUserID or a UserIDMap names, resolved at load time.
    pub users: BTreeMap<String, ResolvedUser>,
    /// Never empty: when the file has no `<VirtualHost>`, the main server is the only one.
    /// The first entry is the default, as in Apache's name-based hosting.
    pub vhosts: Vec<VHost>,
}

impl VHost {
    /// Effective per-directory settings for a filesystem directory and the URL that reached it:
    /// the vhost level, then every matching `<Directory>` from the shortest path to the longest,
    /// then every matching `<Location>` in file order (Apache's merge order).
    pub fn dir_conf(&self, fs_dir: &std::path::Path, url_path: &str) -> DirConf {
        let dir = fs_dir.to_string_lossy();
        let mut c = self.conf.clone();
        for s in &self.directories {
            if path_prefix(&s.path, &dir) {
                c = c.merge(&s.conf);
            }
        }
        for s in &self.locations {
            if path_prefix(&s.path, url_path) {
                c = c.merge(&s.conf);
            }
        }
        c
    }
}

/// `prefix` covers `path` on a segment boundary: `/a` covers `/a` and `/a/b`, not `/ab`.
fn path_prefix(prefix: &str, path: &str) -> bool {
    let p = prefix.trim_end_matches('/');
    p.is_empty()
        || path == p
        || path
            .strip_prefix(p)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::path_prefix;

    #[test]
    fn prefix_table() {
        for (p, s, want) in [
            ("/", "/x", true),
            ("/a", "/a", true),
            ("/a", "/a/b", true),
            ("/a", "/ab", false),
            ("/a/", "/a/b", true),
            ("/a/b", "/a", false),
        ] {
            assert_eq!(path_prefix(p, s), want, "{p} {s}");
        }
    }
}
