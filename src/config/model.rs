//! The validated configuration the master holds and every child inherits read-only.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

mod dirconf;

pub use dirconf::{AuthProvider, DirConf, Options, OptionsDelta, DEFAULT_PAM_SERVICE};

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

/// A parsed `LogFormat` string (see `crate::logformat`).
pub type LogFormat = crate::logformat::Format;

/// Where a `CustomLog` writes: a file, or a program the master starts and feeds through a pipe
/// (`"|program"` and `"||program"` run without a shell, `"|$program"` with `/bin/sh -c`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LogDest {
    File(PathBuf),
    Pipe { command: String, shell: bool },
}

impl std::fmt::Display for LogDest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogDest::File(p) => write!(f, "{}", p.display()),
            LogDest::Pipe {
                command,
                shell: true,
            } => write!(f, "|${command}"),
            LogDest::Pipe { command, .. } => write!(f, "|{command}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CustomLog {
    pub dest: LogDest,
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

/// One phase of `RequestReadTimeout` (Apache's mod_reqtimeout): `timeout[-max][,MinRate=rate]`.
/// The phase must finish within `initial`, extended by one second per `min_rate` bytes
/// received, but never beyond `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReadTimeout {
    pub initial: Duration,
    pub max: Option<Duration>,
    /// Bytes per second; `None` means no extension.
    pub min_rate: Option<u64>,
}

impl ReadTimeout {
    /// How long after the phase started it must be over, given `received` bytes so far.
    pub fn allowed(&self, received: u64) -> Duration {
        let extra = match self.min_rate {
            Some(rate) if rate > 0 => {
                Duration::try_from_secs_f64(received as f64 / rate as f64).unwrap_or(Duration::MAX)
            }
            _ => Duration::ZERO,
        };
        let t = self.initial.saturating_add(extra);
        self.max.map_or(t, |m| t.min(m))
    }
}

/// `RequestReadTimeout`: per-phase read deadlines that take a trickling client's slot away
/// long before `Timeout` would. `None` = that phase is off (`header=0`); `Timeout` bounds it
/// in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequestReadTimeout {
    pub header: Option<ReadTimeout>,
    pub body: Option<ReadTimeout>,
    /// The TLS handshake (`handshake=`, mod_reqtimeout since 2.4.39), from accept to the
    /// handshake's end. Apache's default is off (`handshake=0`, only `Timeout`); here it is
    /// `handshake=10` unless configured, so a silent TLS client holds a child 10 s, not 60.
    #[serde(default = "default_handshake")]
    pub handshake: Option<ReadTimeout>,
}

fn default_handshake() -> Option<ReadTimeout> {
    Some(ReadTimeout {
        initial: Duration::from_secs(10),
        max: None,
        min_rate: None,
    })
}

impl RequestReadTimeout {
    /// How long a phase (`self.header` or `self.body`) may have taken after `received` bytes:
    /// `Timeout`, tightened by the phase's rule when it has one. The head reader and the body
    /// reader both measure from the start of their phase.
    pub fn allowed(phase: Option<ReadTimeout>, timeout: Duration, received: u64) -> Duration {
        phase.map_or(timeout, |p| p.allowed(received).min(timeout))
    }
}

impl Default for RequestReadTimeout {
    /// mod_reqtimeout's default: `header=20-40,MinRate=500 body=20,MinRate=500`; `handshake=10`
    /// (Apache: 0).
    fn default() -> Self {
        RequestReadTimeout {
            header: Some(ReadTimeout {
                initial: Duration::from_secs(20),
                max: Some(Duration::from_secs(40)),
                min_rate: Some(500),
            }),
            body: Some(ReadTimeout {
                initial: Duration::from_secs(20),
                max: None,
                min_rate: Some(500),
            }),
            handshake: default_handshake(),
        }
    }
}

/// `ScriptAlias URL-PREFIX DIR`: requests under the prefix run programs from DIR.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScriptAlias {
    /// Decoded URL path segments of the prefix (`/cgi-bin/` is `["cgi-bin"]`).
    pub prefix: Vec<String>,
    pub dir: PathBuf,
    pub origin: Origin,
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
    /// For `<Directory>` an absolute filesystem path, for `<Location>` a URL path prefix, for
    /// `<Files>` a file name (all three may hold fnmatch wildcards); for the regex forms
    /// (`<DirectoryMatch>`, `<Directory ~>`, ...) the expression's source.
    pub path: String,
    /// The compiled expression of a regex section.
    #[serde(default)]
    pub regex: Option<SectionRegex>,
    pub conf: DirConf,
    pub origin: Origin,
}

/// A `*Match` section's (or `~` form's) regular expression, compiled once at load; carried
/// between processes as its source. Shared (`Arc`), not cloned: a cloned `Regex` starts with an
/// empty cache pool, and the merged configuration is cloned for every request.
#[derive(Debug, Clone)]
pub struct SectionRegex(pub std::sync::Arc<regex::Regex>);

impl SectionRegex {
    pub fn new(source: &str) -> Result<Self, String> {
        regex::Regex::new(source)
            .map(|r| SectionRegex(std::sync::Arc::new(r)))
            .map_err(|e| format!("not a regular expression the regex crate accepts: {e}"))
    }

    pub fn is_match(&self, s: &str) -> bool {
        self.0.is_match(s)
    }
}

impl PartialEq for SectionRegex {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for SectionRegex {}

impl serde::Serialize for SectionRegex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for SectionRegex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let source = String::deserialize(d)?;
        SectionRegex::new(&source).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VHost {
    /// ServerName first, then ServerAlias entries; lowercase.
    pub names: Vec<String>,
    pub document_root: PathBuf,
    /// Where `document_root` was set (the main server's line when the vhost inherits it).
    pub root_origin: Origin,
    pub conf: DirConf,
    /// `<Directory>` with a plain or wildcard path, fewest components first.
    pub directories: Vec<Section>,
    /// `<DirectoryMatch>` and `<Directory ~>`, in file order (applied after `directories`).
    #[serde(default)]
    pub directory_matches: Vec<Section>,
    /// `<Location>`, `<LocationMatch>` and `<Location ~>` together, in file order.
    pub locations: Vec<Section>,
    /// This vhost's `ScriptAlias`es first, then the main server's, matched in that order.
    pub script_aliases: Vec<ScriptAlias>,
    /// `Alias`/`AliasMatch` (mod_alias), this vhost's first, then the main server's; tried
    /// after the ScriptAliases (see `config::alias`).
    #[serde(default)]
    pub aliases: Vec<super::alias::Alias>,
    /// `Redirect`/`RedirectMatch`/`RedirectPermanent`/`RedirectTemp`, in the same order; tried
    /// before any alias, before admission (Apache's translate_name phase).
    #[serde(default)]
    pub redirects: Vec<super::alias::Redirect>,
    pub origin: Origin,
    /// `AllowConnect`, `SeccompAllow`, `RLimit*` (docs/security-model.md, "Isolation").
    #[serde(default)]
    pub harden: super::harden::Harden,
    /// Indexes into `Config::custom_logs` of the logs this vhost's requests go to: its own
    /// `CustomLog`s, else the main server's (Apache's rule).
    #[serde(default)]
    pub access_logs: Vec<usize>,
    /// Index into `Config::vhost_error_logs` of this vhost's own `ErrorLog`, if it has one.
    #[serde(default)]
    pub error_log: Option<usize>,
    /// `ProxyPass`, `ProxyPassMatch`, `ProxyFCGIBackendType`, `ProxyTimeout` (`config::fcgi`).
    #[serde(default)]
    pub fcgi: super::fcgi::FcgiSettings,
}

impl VHost {
    /// CGI can run here at all: a ScriptAlias or an `AddHandler cgi-script` in any scope.
    /// Only such vhosts get the wider Landlock rules a program needs.
    pub fn cgi_enabled(&self) -> bool {
        !self.script_aliases.is_empty() || self.uses_cgi_extensions()
    }

    /// Some scope of this vhost maps file suffixes to CGI, so DocumentRoot may hold programs.
    pub fn uses_cgi_extensions(&self) -> bool {
        self.scopes()
            .any(|(c, _)| c.cgi_extensions.as_ref().is_some_and(|e| !e.is_empty()))
    }

    /// Every scope's own settings with where it was written: the vhost level, each
    /// `<Directory>`, `<DirectoryMatch>` and `<Location>` section, and every `<Files>` section
    /// at any of these levels. What "any scope of the vhost" means for Landlock grants,
    /// identities and CGI.
    pub fn scopes(&self) -> impl Iterator<Item = (&DirConf, &Origin)> {
        let sections = self
            .directories
            .iter()
            .chain(&self.directory_matches)
            .chain(&self.locations)
            .map(|s| (&s.conf, &s.origin));
        let top = std::iter::once((&self.conf, &self.origin)).chain(sections);
        top.flat_map(|(c, o)| {
            std::iter::once((c, o)).chain(c.files.iter().map(|f| (&f.conf, &f.origin)))
        })
    }

    /// Some scope of this vhost has `SetHandler proxy:...`.
    pub fn uses_fcgi_handler(&self) -> bool {
        self.fcgi_handlers().next().is_some()
    }

    /// Every FastCGI backend a `SetHandler` of this vhost names.
    pub fn fcgi_handlers(&self) -> impl Iterator<Item = &super::fcgi::Backend> {
        self.scopes().filter_map(|(c, _)| match &c.set_handler {
            Some(super::fcgi::SetHandler::Fcgi(b)) => Some(b),
            _ => None,
        })
    }

    /// The first name, for logs and CGI's SERVER_NAME.
    pub fn server_name(&self) -> &str {
        self.names
            .first()
            .map(String::as_str)
            .unwrap_or("localhost")
    }
}

/// `selinuxConnectionCategories`, with where it was written (for `-t` errors).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConnectionCategories {
    pub range: crate::policy::mcs::CategoryRange,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    pub file: PathBuf,
    /// `TypesConfig` and the table read from it (see `config::mime`).
    #[serde(default)]
    pub mime: super::mime::MimeServer,
    pub server_root: PathBuf,
    pub listen: Vec<SocketAddr>,
    pub pid_file: Option<PathBuf>,
    pub error_log: LogTarget,
    pub log_level: log::LevelFilter,
    pub custom_logs: Vec<CustomLog>,
    /// The files of `ErrorLog` inside `<VirtualHost>`s (see `VHost::error_log`).
    #[serde(default)]
    pub vhost_error_logs: Vec<PathBuf>,
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
    pub request_read_timeout: RequestReadTimeout,
    /// `ReexecChildren On`: every pre-forked child execs the binary the master started from,
    /// for a fresh address-space layout and stack canary per connection (see `master::reexec`).
    pub reexec_children: bool,
    pub limits: Limits,
    /// `CGIScriptTimeout`: a CGI program that moves no byte for this long is killed (504).
    /// Defaults to `Timeout`.
    pub cgi_timeout: Duration,
    /// `CGIOwnerCheck`: suEXEC's "the program belongs to the identity it runs as" (default On).
    pub cgi_owner_check: bool,
    /// Backends every child must enter (`Confinement`); the server refuses to start when the
    /// kernel or the master's privileges cannot provide one of them.
    pub confinement: Vec<crate::sandbox::Backend>,
    /// `Namespaces On|Off` (default On): per-connection IPC, mount and PID namespaces; the
    /// start fails when On and the kernel refuses them.
    #[serde(default = "super::harden::on")]
    pub namespaces: bool,
    /// `selinuxConnectionCategories cA.cB`: MCS categories the master hands out, one to each
    /// live child, added to the child's mapped range (see `policy::mcs`).
    pub selinux_connection_categories: Option<ConnectionCategories>,
    /// `CgroupPerConnection` and the `Connection*Max` limits (see `config::cgroup`).
    #[serde(default)]
    pub cgroup: super::cgroup::CgroupSettings,
    /// `VerifierUser`, `VerifierGroup`, `selinuxVerifierContext` (see `config::verifier`).
    #[serde(default)]
    pub verifier: super::verifier::VerifierSettings,
    /// Every distinct AuthUserFile, in a fixed order: children name a file to the verifier
    /// by its index here, never by path.
    pub password_files: Vec<PathBuf>,
    /// Every `AuthGroupFile`, read by the master at load (a reload re-reads them).
    #[serde(default)]
    pub group_files: BTreeMap<PathBuf, crate::auth::groupfile::GroupFile>,
    /// Every distinct PAM service an `AuthBasicProvider pam` section uses, in a fixed order:
    /// the verifier knows service `i` as source `password_files.len() + i` (see
    /// [`Config::verifier_source`]).
    #[serde(default)]
    pub pam_services: Vec<String>,
    pub selinux_maps: BTreeMap<PathBuf, Vec<crate::policy::Rule<crate::policy::SelinuxTarget>>>,
    pub user_maps: BTreeMap<PathBuf, Vec<crate::policy::Rule<crate::policy::UnixTarget>>>,
    /// Every `user[:group]` that AssignUserID or a UserIDMap names, resolved at load time.
    pub users: BTreeMap<String, ResolvedUser>,
    /// Never empty: when the file has no `<VirtualHost>`, the main server is the only one.
    /// The first entry is the default, as in Apache's name-based hosting.
    pub vhosts: Vec<VHost>,
    /// mod_ssl's subset (`config::tls`).
    #[serde(default)]
    pub tls: super::tls::TlsConfig,
    /// mod_remoteip's PROXY protocol (`config::proxy`).
    #[serde(default)]
    pub proxy: super::proxy::ProxyConfig,
    /// mpm-itk's `LimitUIDRange`/`LimitGIDRange` (`config::itk`).
    #[serde(default)]
    pub itk: super::itk::ItkSettings,
    /// What `-t` and a (re)load print as warnings: accepted, but probably not what was meant
    /// (a `<Directory>` that can never apply).
    pub warnings: Vec<super::ConfigError>,
}

/// What a child asks the verifier to check credentials against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifierSource<'a> {
    File(&'a std::path::Path),
    Pam(&'a str),
}

impl Config {
    /// The verifier's index of a source: password files first, then PAM services. None when
    /// the load did not register it (or the index does not fit the protocol's u16).
    pub fn verifier_source(&self, source: VerifierSource<'_>) -> Option<u16> {
        let i = match source {
            VerifierSource::File(f) => self.password_files.iter().position(|p| p == f)?,
            VerifierSource::Pam(s) => {
                self.password_files.len() + self.pam_services.iter().position(|p| p == s)?
            }
        };
        u16::try_from(i).ok()
    }

    /// Whether the verifier has anything to check (it is started only then).
    pub fn needs_verifier(&self) -> bool {
        !self.password_files.is_empty() || !self.pam_services.is_empty()
    }
}

impl VHost {
    /// Effective per-directory settings for a filesystem directory and the URL that reached
    /// it, without `<Files>` sections (a directory on the way to the requested file).
    pub fn dir_conf(&self, fs_dir: &std::path::Path, url_path: &str) -> DirConf {
        let dir = fs_dir.to_string_lossy();
        self.merged(&dir, &dir, None, url_path)
    }

    /// Effective settings for a request, in Apache's merge order: the vhost level; every
    /// matching `<Directory>` from the fewest components to the most; every
    /// `<DirectoryMatch>`/`<Directory ~>` in file order, tested against `filename` (the whole
    /// file path, or the directory path with its trailing slash for a directory request, as
    /// Apache's `r->filename`); the `<Files>`/`<FilesMatch>` sections collected so far, in
    /// order, against `file_name` (empty for a directory request, as Apache); then
    /// `<Location>`/`<LocationMatch>` in file order against the URL path, which is
    /// percent-decoded and normalized first (Apache's `r->uri`), so no spelling of a URL
    /// escapes a section that covers it.
    pub fn file_conf(
        &self,
        fs_dir: &std::path::Path,
        filename: &str,
        file_name: &str,
        url_path: &str,
    ) -> DirConf {
        let dir = fs_dir.to_string_lossy();
        self.merged(&dir, filename, Some(file_name), url_path)
    }

    fn merged(&self, dir: &str, filename: &str, file: Option<&str>, url_path: &str) -> DirConf {
        let mut c = self.conf.clone();
        for s in &self.directories {
            if directory_matches(&s.path, dir) {
                c = c.merge(&s.conf);
            }
        }
        for s in &self.directory_matches {
            if s.regex.as_ref().is_some_and(|r| r.is_match(filename)) {
                c = c.merge(&s.conf);
            }
        }
        if let Some(name) = file {
            let files = std::mem::take(&mut c.files);
            for s in &files {
                let hit = match &s.regex {
                    Some(r) => r.is_match(name),
                    None if super::glob::is_pattern(&s.path) => super::glob::matches(&s.path, name),
                    None => s.path == name,
                };
                if hit {
                    c = c.merge(&s.conf);
                }
            }
            c.files = files;
        }
        let url = normalized_url(url_path);
        for s in &self.locations {
            let hit = match &s.regex {
                Some(r) => r.is_match(&url),
                None => location_matches(&s.path, &url),
            };
            if hit {
                c = c.merge(&s.conf);
            }
        }
        c
    }
}

impl VHost {
    /// mod_dir's rule for a DirectoryIndex entry: Apache serves it through a sub-request
    /// that is admitted on its own. Here, when the entry's own settings (its `<Files>`,
    /// `<DirectoryMatch>` and `<Location>` sections) differ from the directory request's, the
    /// handler answers with an internal redirect to `URL + NAME`, which goes through
    /// admission again (I1); otherwise the entry is served under the directory's admission.
    /// `dir` is the directory, `url` the (still encoded) directory URL ending in `/`.
    pub fn index_needs_admission(&self, dir: &std::path::Path, url: &str, name: &str) -> bool {
        let d = dir.to_string_lossy();
        let dir_name = format!("{}/", d.trim_end_matches('/'));
        let file = format!("{dir_name}{name}");
        let as_dir = self.file_conf(dir, &dir_name, "", url);
        let index = crate::http::route::index_url(url, name);
        let as_file = self.file_conf(dir, &file, name, &index);
        // HOOK(fcgi): an index a FastCGI backend answers (SetHandler proxy:, or a ProxyPass
        // rule matching its URL) must never be sent as a file: that would show its source.
        let fcgi = matches!(as_file.set_handler, Some(super::fcgi::SetHandler::Fcgi(_)))
            || (self.fcgi.rules.iter())
                .any(|r| super::fcgi::rule_target(r, &normalized_url(&index)).is_some());
        as_dir != as_file || fcgi
    }
}

/// The URL path as `<Location>` sees it: percent-decoded, `.`/`..`/empty segments resolved
/// (Apache's `r->uri` after `ap_getparents` and `MergeSlashes On`), the trailing slash kept.
/// A path the router refuses is matched as written (it is answered 400/404 anyway).
pub fn normalized_url(url_path: &str) -> String {
    match crate::http::route::route(url_path) {
        Ok(r) => {
            let mut u = String::new();
            for s in &r.segments {
                u.push('/');
                u.push_str(s);
            }
            if r.trailing_slash || u.is_empty() {
                u.push('/');
            }
            u
        }
        Err(_) => url_path.to_string(),
    }
}

/// `<Directory>`: a plain path covers itself and everything beneath it; a wildcard path
/// (Apache's fnmatch, no wildcard crossing `/`) covers what its leading segments match.
fn directory_matches(section: &str, dir: &str) -> bool {
    if super::glob::is_pattern(section) {
        super::glob::matches_prefix(section.trim_end_matches('/'), dir)
    } else {
        path_prefix(section, dir)
    }
}

/// `<Location>`: a plain path is a segment prefix of the URL path; a wildcard path must match
/// the whole URL path, as Apache's location walk does.
fn location_matches(section: &str, url_path: &str) -> bool {
    if super::glob::is_pattern(section) {
        super::glob::matches(section, url_path)
    } else {
        path_prefix(section, url_path)
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
    use super::{directory_matches, location_matches, path_prefix};

    #[test]
    fn wildcard_sections_table() {
        for (p, s, dir, loc) in [
            ("/srv/g*", "/srv/gallery", true, true),
            ("/srv/g*", "/srv/gallery/2024", true, false),
            ("/srv/g*", "/srv/x", false, false),
            ("/srv/*/pub", "/srv/a/pub/img", true, false),
            ("/srv/[ab]", "/srv/b", true, true),
            ("/srv/?", "/srv/ab", false, false),
            ("/srv/g*/", "/srv/gallery", true, false),
        ] {
            assert_eq!(directory_matches(p, s), dir, "Directory {p} {s}");
            assert_eq!(location_matches(p, s), loc, "Location {p} {s}");
        }
    }

    #[test]
    fn normalized_url_table() {
        for (raw, want) in [
            ("/", "/"),
            ("/a/b", "/a/b"),
            ("/a/b/", "/a/b/"),
            ("//a///b", "/a/b"),
            ("/%61dm/x", "/adm/x"),
            ("/x/../adm", "/adm"),
            ("/./adm/.", "/adm/"),
            ("/a%2fb", "/a%2fb"),
        ] {
            assert_eq!(super::normalized_url(raw), want, "{raw}");
        }
    }

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
