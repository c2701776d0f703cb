//! Turns the parsed tree into a validated [`Config`]: every directive checked for its context,
//! its arity and its value; every problem reported with `FILE:LINE`. Pure: the loader has
//! already read the files and expanded `Include` and the conditional sections.
//!
//! What each directive means, where it may appear and how many arguments it takes is one row
//! of [`super::directives::TABLE`]; this file walks the tree, checks each node against its row
//! and calls the row's handler (the handlers are in [`h`] below, or in the module that owns the
//! directive, such as `harden.rs`).
#![forbid(unsafe_code)]

use super::directives::{self, Arity, Contexts, Directive, Handler, Status};
use super::model::*;
use super::parse::Node;
use super::ConfigError;
use crate::sandbox::Backend;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct Builder {
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigError>,
    /// Where `Confinement` was written (the last one wins), if it was.
    confinement_at: Option<Origin>,
    /// Every identity directive with the backend it needs to have any effect.
    needs: Vec<(Backend, &'static str, Origin)>,
    /// A bad `Listen` is already reported; do not also say there is none.
    saw_listen: bool,
    /// `CGIScriptTimeout`, when given; otherwise CGI inherits `Timeout`.
    cgi_timeout: Option<Duration>,
    /// What relative paths resolve against (the last top-level `ServerRoot`, else the main
    /// file's directory).
    server_root: PathBuf,
    /// `LogFormat FORMAT NICKNAME`, lowercase nicknames.
    log_formats: Vec<(String, String)>,
    /// Warnings of `NoEffect` rows, one per directive and file: (name, file, index in
    /// `warnings`, further lines).
    no_effect: Vec<(&'static str, PathBuf, usize, usize)>,
    /// The main server's `ErrorLog`, when given.
    server_error_log: Option<LogTarget>,
    /// `<Limit>` and the open `<Require*>` containers while their bodies are read.
    pub(super) authz: super::authz::Walk,
}

pub fn build(nodes: &[Node], main_file: &Path) -> Result<Config, Vec<ConfigError>> {
    let main_dir = main_file.parent().unwrap_or(Path::new("/")).to_path_buf();
    // Apache reads ServerRoot before anything else means a path; the last one wins.
    let server_root = nodes
        .iter()
        .rev()
        .filter(|n| n.is("ServerRoot") && n.children.is_none())
        .filter_map(|n| match n.args.as_slice() {
            [root] if !root.is_empty() => Some(main_dir.join(root)),
            _ => None,
        })
        .next()
        .unwrap_or(main_dir);
    let mut b = Builder {
        errors: Vec::new(),
        warnings: Vec::new(),
        confinement_at: None,
        needs: Vec::new(),
        saw_listen: false,
        cgi_timeout: None,
        server_root: server_root.clone(),
        log_formats: Vec::new(),
        no_effect: Vec::new(),
        server_error_log: None,
        authz: Default::default(),
    };
    let mut cfg = Config {
        file: main_file.to_path_buf(),
        mime: Default::default(),
        server_root,
        listen: Vec::new(),
        pid_file: None,
        error_log: LogTarget::Stderr,
        log_level: log::LevelFilter::Warn,
        custom_logs: Vec::new(),
        vhost_error_logs: Vec::new(),
        user: None,
        group: None,
        start_servers: 5,
        min_spare: 5,
        max_spare: 10,
        max_workers: 150,
        timeout: Duration::from_secs(60),
        keep_alive: true,
        keep_alive_timeout: Duration::from_secs(5),
        max_keep_alive_requests: 100,
        request_read_timeout: RequestReadTimeout::default(),
        reexec_children: false,
        limits: Limits::default(),
        cgi_timeout: Duration::from_secs(60),
        cgi_owner_check: true,
        confinement: vec![Backend::Landlock],
        namespaces: true,
        selinux_connection_categories: None,
        cgroup: Default::default(),
        verifier: Default::default(),
        password_files: Vec::new(),
        group_files: Default::default(),
        pam_services: Vec::new(),
        selinux_maps: Default::default(),
        user_maps: Default::default(),
        users: Default::default(),
        vhosts: Vec::new(),
        tls: Default::default(),
        proxy: Default::default(),
        itk: Default::default(),
        warnings: Vec::new(),
    };
    let mut main = VHostDraft::new(Origin {
        file: main_file.to_path_buf(),
        line: 0,
    });
    let mut vhosts = Vec::new();

    for node in nodes {
        if is_second_pass(node) {
            continue;
        }
        if node.is("VirtualHost") && node.children.is_some() {
            if !b.has_empty_argument(node) {
                vhosts.push(b.vhost(node));
            }
        } else {
            b.directive(node, Scope::Server(&mut cfg, &mut main));
        }
    }
    b.finish(&mut cfg, main, vhosts);
    // HOOK(tls, proxy): their directives are read by their own passes over the same tree.
    super::tls::build(nodes, &mut cfg, &mut b.errors, &mut b.warnings);
    super::proxy::build(nodes, &mut cfg, &mut b.errors, &mut b.warnings);
    super::mime::load(&mut cfg, &mut b.errors, &mut b.warnings);
    b.errors.extend(super::cgroup::check(&cfg));
    b.errors.extend(super::verifier::check(&cfg));
    b.errors.extend(super::dav::check(&cfg));
    b.require_backends(&mut cfg);
    b.errors.extend(super::tls::check_selinux_contexts(
        &cfg,
        b.confinement_at.clone(),
    ));
    b.warn_unreachable_directories(&cfg);
    b.warn_vhosts_without_identity(&cfg);
    super::authcheck::check(&cfg, &mut b.errors, &mut b.warnings);
    if b.errors.is_empty() {
        cfg.warnings = b.warnings;
        Ok(cfg)
    } else {
        Err(b.errors)
    }
}

/// A vhost while its directives are being read; `document_root` may still be unset because
/// a `<VirtualHost>` inherits it from the main server.
pub struct VHostDraft {
    names: Vec<String>,
    document_root: Option<PathBuf>,
    root_origin: Option<Origin>,
    conf: DirConf,
    directories: Vec<Section>,
    directory_matches: Vec<Section>,
    locations: Vec<Section>,
    script_aliases: Vec<ScriptAlias>,
    aliases: Vec<super::alias::Alias>,
    redirects: Vec<super::alias::Redirect>,
    custom_logs: Vec<CustomLog>,
    /// A `<VirtualHost>`'s own `ErrorLog` file.
    error_log: Option<PathBuf>,
    origin: Origin,
    /// True for a `<VirtualHost>`, false for the main server.
    is_vhost: bool,
    pub(super) harden: super::harden::HardenDraft,
    pub(super) fcgi: super::fcgi::FcgiDraft,
}

impl VHostDraft {
    fn new(origin: Origin) -> Self {
        VHostDraft {
            names: Vec::new(),
            document_root: None,
            root_origin: None,
            conf: DirConf::default(),
            directories: Vec::new(),
            directory_matches: Vec::new(),
            locations: Vec::new(),
            script_aliases: Vec::new(),
            aliases: Vec::new(),
            redirects: Vec::new(),
            custom_logs: Vec::new(),
            error_log: None,
            origin,
            is_vhost: false,
            harden: Default::default(),
            fcgi: Default::default(),
        }
    }
}

/// Where a node is being read, with what it writes to.
enum Scope<'a> {
    /// The top level: server-wide settings and the main server's.
    Server(&'a mut Config, &'a mut VHostDraft),
    VHost(&'a mut VHostDraft),
    /// Inside `<Directory>` (`ctx` DIRECTORY) or `<Location>` (LOCATION), written as `section`.
    Dir(&'a mut DirConf, Contexts, &'a str),
}

fn origin(n: &Node) -> Origin {
    Origin {
        file: n.file.clone(),
        line: n.line,
    }
}

impl Builder {
    pub(super) fn error(&mut self, n: &Node, message: impl Into<String>) {
        self.errors.push(ConfigError {
            origin: origin(n),
            message: message.into(),
        });
    }

    pub(super) fn warn(&mut self, n: &Node, message: impl Into<String>) {
        self.warnings.push(ConfigError {
            origin: origin(n),
            message: message.into(),
        });
    }

    /// Relative paths resolve against ServerRoot, as in Apache.
    /// An identity directive that needs `backend` in `Confinement` to have any effect.
    pub(super) fn need(&mut self, backend: Backend, name: &'static str, n: &Node) {
        self.needs.push((backend, name, origin(n)));
    }

    pub(super) fn path(&self, p: &str) -> PathBuf {
        self.server_root.join(p)
    }

    /// Refuses a directive with an empty argument (`Options ""`, `DocumentRoot ""`): no
    /// directive takes one, and a path would silently become the configuration's directory.
    fn has_empty_argument(&mut self, n: &Node) -> bool {
        if n.args.iter().any(String::is_empty) {
            self.error(
                n,
                format!("{}: an empty argument (\"\") is not allowed", n.name),
            );
            return true;
        }
        false
    }

    fn arity(&mut self, n: &Node, min: usize, max: usize) -> bool {
        let k = n.args.len();
        if k < min || k > max {
            let want = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            self.error(n, format!("{} takes {want} argument(s), got {k}", n.name));
            return false;
        }
        true
    }

    /// The arguments when their count is within `min..=max` (else reported, and `None`):
    /// callers match on the slice, so a count checked here is never indexed blindly.
    fn args<'n>(&mut self, n: &'n Node, min: usize, max: usize) -> Option<&'n [String]> {
        self.arity(n, min, max).then_some(n.args.as_slice())
    }

    fn number<T: std::str::FromStr>(&mut self, n: &Node) -> Option<T> {
        let Some([a0]) = self.args(n, 1, 1) else {
            return None;
        };
        match a0.parse::<T>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.error(n, format!("{}: '{}' is not a valid number", n.name, a0));
                None
            }
        }
    }

    fn on_off(&mut self, n: &Node) -> Option<bool> {
        let Some([a0]) = self.args(n, 1, 1) else {
            return None;
        };
        match a0.to_ascii_lowercase().as_str() {
            "on" => Some(true),
            "off" => Some(false),
            other => {
                self.error(n, format!("{} must be On or Off, not '{other}'", n.name));
                None
            }
        }
    }

    /// A `NoEffect` row's warning; further lines of the same directive in the same file are
    /// counted into the first one's warning instead of repeating it.
    pub(super) fn no_effect(&mut self, n: &Node, d: &Directive, why: &str) {
        if let Some(seen) = self
            .no_effect
            .iter_mut()
            .find(|(name, file, _, _)| *name == d.name && *file == n.file)
        {
            seen.3 += 1;
            return;
        }
        self.no_effect
            .push((d.name, n.file.clone(), self.warnings.len(), 0));
        self.warn(n, format!("{}: accepted without effect: {why}", d.name));
    }

    /// Adds "(and N more lines in this file)" to the aggregated warnings.
    fn finish_no_effect(&mut self) {
        for (_, _, i, more) in std::mem::take(&mut self.no_effect) {
            if let Some(w) = self.warnings.get_mut(i).filter(|_| more > 0) {
                let s = if more == 1 { "" } else { "s" };
                w.message
                    .push_str(&format!(" (and {more} more line{s} in this file)"));
            }
        }
    }

    /// One node in one scope: its row decides whether it may be here, how many arguments it
    /// takes and what applies it.
    fn directive(&mut self, n: &Node, scope: Scope<'_>) {
        if self.has_empty_argument(n) {
            return;
        }
        let (ctx, section) = match &scope {
            Scope::Server(..) => (directives::SERVER, "server"),
            Scope::VHost(_) => (directives::VHOST, "VirtualHost"),
            Scope::Dir(_, ctx, name) => (*ctx, *name),
        };
        let row = directives::find(&n.name);
        let is_section_row = row.is_some_and(|r| matches!(r.arity, Arity::Section(..)));
        if n.children.is_some() {
            let placed = row.is_some_and(|r| r.allows(ctx));
            if n.is("VirtualHost") && ctx == directives::VHOST {
                return self.error(n, "<VirtualHost> cannot be nested");
            }
            if !(is_section_row && placed) {
                return if matches!(scope, Scope::Dir(..)) {
                    self.error(n, format!("<{}> is not allowed inside <{section}>", n.name))
                } else {
                    self.error(n, format!("unknown section <{}>", n.name))
                };
            }
        } else if is_section_row || n.is("VirtualHost") {
            return if n.is("VirtualHost") {
                self.error(n, "VirtualHost must be a section: <VirtualHost ADDRESS>")
            } else {
                self.error(n, format!("{} must be a section: <{}>", n.name, n.name))
            };
        }
        let Some(row) = row else {
            return self.error(n, format!("unknown directive '{}'", n.name));
        };
        if !row.allows(ctx) {
            return self.error(n, format!("{} is not allowed in <{section}>", n.name));
        }
        match row.status {
            Status::Refused(why) => return self.error(n, format!("{}: {why}", n.name)),
            Status::Reader => {
                return self.error(
                    n,
                    format!(
                        "{} is acted on while the files are read; it cannot appear here",
                        n.name
                    ),
                )
            }
            _ => {}
        }
        let counted = match row.arity {
            Arity::Exactly(k) => self.arity(n, k, k),
            Arity::Range(a, b) | Arity::Section(a, b) => self.arity(n, a, b),
            Arity::AtLeast(k) => self.arity(n, k, usize::MAX),
            Arity::Own => true,
        };
        if !counted {
            return;
        }
        if let Status::NoEffect(why) = row.status {
            self.no_effect(n, row, why);
        }
        match (row.handler, scope) {
            (Handler::Server(f), Scope::Server(cfg, _)) => f(self, n, cfg),
            (Handler::VHost(f), Scope::Server(_, v) | Scope::VHost(v)) => f(self, n, v),
            (Handler::Dir(f), Scope::Server(_, v) | Scope::VHost(v)) => f(self, n, &mut v.conf),
            (Handler::Dir(f), Scope::Dir(d, ..)) => f(self, n, d),
            (Handler::Check(f), _) => f(self, n),
            (Handler::None, _) => {}
            // The table's own test keeps handlers within their contexts.
            _ => self.error(n, format!("{} is not allowed in <{section}>", n.name)),
        }
    }

    /// The body of a section that writes to the enclosing scope's settings (`<Limit>`,
    /// `<RequireAll>`...), each node read in context `ctx`.
    pub(super) fn walk_into(&mut self, n: &Node, d: &mut DirConf, ctx: Contexts) {
        for c in n.children.as_deref().unwrap_or_default() {
            self.directive(c, Scope::Dir(d, ctx, &n.name));
        }
    }

    fn dir_section(&mut self, n: &Node, ctx: Contexts) -> DirConf {
        let mut d = DirConf::default();
        for c in n.children.as_deref().unwrap_or_default() {
            self.directive(c, Scope::Dir(&mut d, ctx, &n.name));
        }
        d
    }

    fn vhost(&mut self, n: &Node) -> VHostDraft {
        let mut v = VHostDraft::new(origin(n));
        v.is_vhost = true;
        if n.args.is_empty() {
            self.error(
                n,
                "<VirtualHost> needs an address, e.g. <VirtualHost *:8080>",
            );
        }
        for a in &n.args {
            if let Err(m) = parse_vhost_addr(a) {
                self.error(n, m);
            } else if vhost_addr_is_specific(a) {
                // I3: Apache would choose this vhost by the local address first; here the
                // address is accepted for compatibility but chooses nothing.
                self.warnings.push(ConfigError {
                    origin: origin(n),
                    message: format!(
                        "<VirtualHost {a}>: the address does not choose this virtual host (selection is by Host name only, as for *:PORT)"
                    ),
                });
            }
        }
        for c in n.children.as_deref().unwrap_or_default() {
            if is_second_pass(c) {
                continue;
            }
            self.directive(c, Scope::VHost(&mut v));
        }
        v
    }

    /// I3, fail closed: an identity directive is never accepted without the backend that
    /// enforces it. Without a `Confinement` line it enables (and so requires) that backend;
    /// against an explicit `Confinement` that lacks it, it is an error naming both lines.
    fn require_backends(&mut self, cfg: &mut Config) {
        let needs = std::mem::take(&mut self.needs);
        match self.confinement_at.clone() {
            None => {
                let wanted = |b: Backend| {
                    cfg.confinement.contains(&b) || needs.iter().any(|(n, _, _)| *n == b)
                };
                // Canonical order, as `Confinement` would list them.
                cfg.confinement = [Backend::Selinux, Backend::Unix, Backend::Landlock]
                    .into_iter()
                    .filter(|b| wanted(*b))
                    .collect();
            }
            Some(at) => {
                for (backend, directive, o) in needs {
                    if !cfg.confinement.contains(&backend) {
                        let lists: Vec<&str> =
                            cfg.confinement.iter().map(|b| backend_name(*b)).collect();
                        self.errors.push(ConfigError {
                            origin: o,
                            message: format!(
                                "{directive} needs '{}' in Confinement ({at} lists: {})",
                                backend_name(backend),
                                lists.join(" ")
                            ),
                        });
                    }
                }
            }
        }
    }

    /// I3, "no rule, 403": with `unix` (or `selinux`) confinement, a vhost that names no
    /// identity in any of its scopes refuses every request. Legal, and fail-closed, but
    /// rarely meant; said at `-t`.
    fn warn_vhosts_without_identity(&mut self, cfg: &Config) {
        for v in &cfg.vhosts {
            let scopes = || v.scopes().map(|(c, _)| c);
            let checks = [
                (
                    Backend::Unix,
                    scopes().any(|c| {
                        c.user_map.is_some()
                            || c.assign_user.is_some()
                            || c.assign_user_expr.is_some()
                    }),
                    "AssignUserID or UserIDMap",
                ),
                (
                    Backend::Selinux,
                    scopes().any(|c| {
                        c.selinux_map.is_some()
                            || c.selinux_default.is_some()
                            || c.selinux_env.is_some()
                    }),
                    "selinuxDomainVal or selinuxDomainMap",
                ),
            ];
            for (backend, named, directives) in checks {
                if cfg.confinement.contains(&backend) && !named {
                    self.warnings.push(ConfigError {
                        origin: v.origin.clone(),
                        message: format!(
                            "virtual host {} has no {directives} in any scope: with '{}' in Confinement every request to it is refused (403)",
                            v.server_name(),
                            backend_name(backend)
                        ),
                    });
                }
            }
        }
    }

    /// I3: a `<Directory>` that lies outside every DocumentRoot and ScriptAlias target (and is
    /// not above one) can never apply to a request; say so at `-t` instead of ignoring it.
    fn warn_unreachable_directories(&mut self, cfg: &Config) {
        let mut warned: Vec<&Origin> = Vec::new();
        let mut sections: Vec<(&Section, Vec<&Path>)> = Vec::new();
        for v in &cfg.vhosts {
            let roots: Vec<&Path> = std::iter::once(v.document_root.as_path())
                .chain(v.script_aliases.iter().map(|a| a.dir.as_path()))
                .chain(v.aliases.iter().map(|a| a.root.as_path()))
                .collect();
            for s in &v.directories {
                match sections.iter_mut().find(|(t, _)| t.origin == s.origin) {
                    Some((_, r)) => r.extend(&roots),
                    None => sections.push((s, roots.clone())),
                }
            }
        }
        for (s, roots) in sections {
            let reachable = roots
                .iter()
                .any(|r| super::glob::could_cover(&s.path, &normalize_dir(r)));
            if !reachable && !warned.contains(&&s.origin) {
                warned.push(&s.origin);
                self.warnings.push(ConfigError {
                    origin: s.origin.clone(),
                    message: format!(
                        "<Directory {}> never applies: it is outside every DocumentRoot, Alias and ScriptAlias directory",
                        s.path
                    ),
                });
            }
        }
    }

    fn finish(&mut self, cfg: &mut Config, main: VHostDraft, drafts: Vec<VHostDraft>) {
        if cfg.listen.is_empty() && !self.saw_listen {
            self.errors.push(ConfigError {
                origin: Origin {
                    file: cfg.file.clone(),
                    line: 0,
                },
                message: "no Listen directive: the server would accept nothing".into(),
            });
        }
        self.finish_no_effect();
        if let Some(t) = self.server_error_log.take() {
            cfg.error_log = t;
        }
        // Access logs: the server's, then each vhost's; the same destination with the same
        // format is opened once. A vhost without a CustomLog of its own uses the server's.
        let mut index_of = |l: &CustomLog| match cfg.custom_logs.iter().position(|c| c == l) {
            Some(i) => i,
            None => {
                cfg.custom_logs.push(l.clone());
                cfg.custom_logs.len() - 1
            }
        };
        let server_logs: Vec<usize> = main.custom_logs.iter().map(&mut index_of).collect();
        let vhost_logs: Vec<Vec<usize>> = drafts
            .iter()
            .map(|d| d.custom_logs.iter().map(&mut index_of).collect())
            .collect();
        let drafts = if drafts.is_empty() {
            vec![VHostDraft::new(main.origin.clone())]
        } else {
            drafts
        };
        for (i, d) in drafts.into_iter().enumerate() {
            let access_logs = match vhost_logs.get(i) {
                Some(own) if !own.is_empty() => own.clone(),
                _ => server_logs.clone(),
            };
            let error_log = d.error_log.as_ref().map(|p| {
                match cfg.vhost_error_logs.iter().position(|e| e == p) {
                    Some(i) => i,
                    None => {
                        cfg.vhost_error_logs.push(p.clone());
                        cfg.vhost_error_logs.len() - 1
                    }
                }
            });
            let Some(root) = d
                .document_root
                .clone()
                .or_else(|| main.document_root.clone())
            else {
                self.errors.push(ConfigError {
                    origin: d.origin.clone(),
                    message: "no DocumentRoot for this server".into(),
                });
                continue;
            };
            let mut names = d.names.clone();
            if names.is_empty() {
                names = main.names.clone();
            }
            let mut directories = main.directories.clone();
            directories.extend(d.directories);
            // Apache applies <Directory> from the fewest path components to the most (file
            // order among equals); for plain paths that is also shortest to longest.
            directories.sort_by_key(|s| s.path.split('/').filter(|c| !c.is_empty()).count());
            let mut directory_matches = main.directory_matches.clone();
            directory_matches.extend(d.directory_matches);
            let mut locations = main.locations.clone();
            locations.extend(d.locations);
            let mut script_aliases = d.script_aliases;
            script_aliases.extend(main.script_aliases.iter().cloned());
            // mod_alias's merge: the vhost's entries, then the main server's.
            let mut aliases = d.aliases;
            aliases.extend(main.aliases.iter().cloned());
            let mut redirects = d.redirects;
            redirects.extend(main.redirects.iter().cloned());
            cfg.vhosts.push(VHost {
                names,
                document_root: root,
                root_origin: d
                    .root_origin
                    .clone()
                    .or_else(|| main.root_origin.clone())
                    .unwrap_or_else(|| d.origin.clone()),
                conf: defaults().merge(&main.conf).merge(&d.conf),
                directories,
                directory_matches,
                locations,
                script_aliases,
                aliases,
                redirects,
                harden: super::harden::HardenDraft::resolve(&main.harden, &d.harden),
                fcgi: super::fcgi::FcgiDraft::resolve(&main.fcgi, &d.fcgi),
                origin: d.origin,
                access_logs,
                error_log,
            });
            // HOOK(fcgi): the child connects to its TCP FastCGI backends after Landlock.
            if let Some(v) = cfg.vhosts.last_mut() {
                let ports: Vec<u16> = v
                    .fcgi
                    .rules
                    .iter()
                    .map(|r| &r.backend)
                    .chain(v.fcgi_handlers())
                    .filter_map(|b| b.tcp_port())
                    .collect();
                for p in ports {
                    if !v.harden.connect_tcp.contains(&p) {
                        v.harden.connect_tcp.push(p);
                    }
                }
            }
        }
        cfg.cgi_timeout = self.cgi_timeout.unwrap_or(cfg.timeout);
        self.check_numbers(cfg);
    }

    fn check_numbers(&mut self, cfg: &mut Config) {
        let at = Origin {
            file: cfg.file.clone(),
            line: 0,
        };
        let mut fail = |m: &str| {
            self.errors.push(ConfigError {
                origin: at.clone(),
                message: m.into(),
            })
        };
        if cfg.max_workers == 0 {
            fail("MaxRequestWorkers must be at least 1");
        }
        if cfg.min_spare == 0 {
            fail("MinSpareServers must be at least 1");
        }
        if cfg.max_spare < cfg.min_spare {
            // Apache silently raises it; say so instead of guessing.
            fail("MaxSpareServers must not be below MinSpareServers");
        }
        if cfg.timeout.is_zero() {
            fail("Timeout must be at least 1 second");
        }
        if cfg.limits.head.request_line < 16 || cfg.limits.head.field_size < 16 {
            fail("LimitRequestLine and LimitRequestFieldSize must be at least 16");
        }
        self.check_connection_categories(cfg);
    }

    /// Every live child needs a category of its own, and the categories only mean something
    /// when SELinux is a required backend.
    fn check_connection_categories(&mut self, cfg: &Config) {
        let Some(cc) = &cfg.selinux_connection_categories else {
            return;
        };
        let mut fail = |message: String| {
            self.errors.push(ConfigError {
                origin: cc.origin.clone(),
                message,
            })
        };
        if cc.range.len() < cfg.max_workers {
            fail(format!(
                "selinuxConnectionCategories {} holds {} categories, fewer than MaxRequestWorkers {}: every live child needs one of its own",
                cc.range,
                cc.range.len(),
                cfg.max_workers
            ));
        }
        if !cfg.confinement.contains(&crate::sandbox::Backend::Selinux) {
            fail("selinuxConnectionCategories needs `Confinement selinux`: without it no category would be entered".into());
        }
    }
}

/// The name of an identity directive as the documentation spells it, among the aliases
/// `n` may be written as.
fn canonical(n: &Node, names: &[&'static str]) -> &'static str {
    names
        .iter()
        .copied()
        .find(|c| n.name.eq_ignore_ascii_case(c))
        .or_else(|| names.first().copied())
        .unwrap_or("identity directive")
}

/// A backend as `Confinement` spells it.
fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Selinux => "selinux",
        Backend::Unix => "unix",
        Backend::Landlock => "landlock",
    }
}

fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

/// Apache 2.4's defaults for the main server.
fn defaults() -> DirConf {
    DirConf {
        options: Some(Options {
            follow_symlinks: true,
            ..Options::default()
        }),
        directory_index: Some(vec!["index.html".into()]),
        ..DirConf::default()
    }
}

/// Directives `config::tls` and `config::proxy` read in their own passes.
fn is_second_pass(n: &Node) -> bool {
    n.children.is_none()
        && (super::tls::is_directive(&n.name) || super::proxy::is_directive(&n.name))
}

fn normalize_dir(p: &Path) -> String {
    let s = p.to_string_lossy();
    let t = s.trim_end_matches('/');
    if t.is_empty() {
        "/".into()
    } else {
        t.to_string()
    }
}

/// `RequestReadTimeout [handshake=...] [header=T[-MAX][,MinRate=R]] [body=T[-MAX][,MinRate=R]]`, as Apache's
/// mod_reqtimeout parses it; a phase not named keeps its current setting, `0` turns it off.
pub fn parse_request_read_timeout(
    args: &[String],
    mut cur: RequestReadTimeout,
) -> Result<RequestReadTimeout, String> {
    for arg in args {
        let (key, spec) = arg
            .split_once('=')
            .ok_or_else(|| format!("RequestReadTimeout: '{arg}' is not header=... or body=..."))?;
        let phase = parse_read_timeout(spec)
            .map_err(|m| format!("RequestReadTimeout: {key}={spec}: {m}"))?;
        match key.to_ascii_lowercase().as_str() {
            "header" => cur.header = phase,
            "body" => cur.body = phase,
            "handshake" => cur.handshake = phase,
            _ => {
                return Err(format!(
                    "RequestReadTimeout: unknown phase '{key}' (handshake, header or body)"
                ))
            }
        }
    }
    Ok(cur)
}

/// `T[-MAX][,MinRate=R]`; `None` for a disabled phase (`0`).
fn parse_read_timeout(spec: &str) -> Result<Option<ReadTimeout>, String> {
    let (times, rate) = match spec.split_once(',') {
        Some((t, r)) => {
            let (_, v) = r
                .split_once('=')
                .filter(|(k, _)| k.eq_ignore_ascii_case("minrate"))
                .ok_or_else(|| format!("'{r}' is not MinRate=BYTES_PER_SECOND"))?;
            let rate: u64 = v
                .parse()
                .ok()
                .filter(|r| *r > 0)
                .ok_or_else(|| format!("MinRate '{v}' is not a positive number"))?;
            (t, Some(rate))
        }
        None => (spec, None),
    };
    let secs = |s: &str| {
        s.parse::<u64>()
            .ok()
            .filter(|n| *n <= 24 * 3600)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("'{s}' is not a number of seconds (0 to 86400)"))
    };
    let (initial, max) = match times.split_once('-') {
        Some((a, b)) => (secs(a)?, Some(secs(b)?)),
        None => (secs(times)?, None),
    };
    if let Some(m) = max {
        if rate.is_none() {
            return Err("a timeout range needs MinRate".into());
        }
        if m <= initial {
            return Err("the maximum must be larger than the initial timeout".into());
        }
    }
    if initial.is_zero() {
        return match (max, rate) {
            (None, None) => Ok(None),
            _ => Err("0 turns the phase off and takes no range or MinRate".into()),
        };
    }
    Ok(Some(ReadTimeout {
        initial,
        max,
        min_rate: rate,
    }))
}

/// `Listen [addr:]port`. A bare port listens on every IPv4 address, as Apache does.
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    s.parse::<SocketAddr>()
        .map_err(|_| format!("Listen: '{s}' is not PORT, IPv4:PORT or [IPv6]:PORT"))
}

fn parse_vhost_addr(s: &str) -> Result<(), String> {
    let ok = match s.rsplit_once(':') {
        Some((host, port)) => {
            (host == "*"
                || host == "_default_"
                || host.parse::<IpAddr>().is_ok()
                || host.starts_with('[')
                || !host.is_empty())
                && (port == "*" || port.parse::<u16>().is_ok())
        }
        None => !s.is_empty(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("<VirtualHost {s}>: not an address[:port]"))
    }
}

/// An address other than `*` or `_default_`, which Apache would match connections against.
fn vhost_addr_is_specific(s: &str) -> bool {
    let host = s.rsplit_once(':').map_or(s, |(h, _)| h);
    !(host == "*" || host == "_default_")
}

fn parse_host_name(s: &str) -> Result<String, String> {
    let host = s.split_once("://").map(|(_, h)| h).unwrap_or(s);
    let host = match host.rsplit_once(':') {
        Some((h, p))
            if p.parse::<u16>().is_ok() && !h.ends_with(']')
                || p.parse::<u16>().is_ok() && h.starts_with('[') =>
        {
            h
        }
        _ => host,
    };
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.*?[]:_".contains(&b));
    if ok {
        Ok(host.to_ascii_lowercase())
    } else {
        Err(format!("'{s}' is not a valid host name"))
    }
}

fn parse_level(s: &str) -> Option<log::LevelFilter> {
    use log::LevelFilter as L;
    Some(match s.to_ascii_lowercase().as_str() {
        "emerg" | "alert" | "crit" | "error" => L::Error,
        "warn" => L::Warn,
        "notice" | "info" => L::Info,
        "debug" => L::Debug,
        s if s.starts_with("trace") => L::Trace,
        _ => return None,
    })
}

/// `Confinement selinux|unix|landlock...`: the backends every child must enter. There is no
/// "none": a child always enters at least one, so nothing silently runs unconfined.
pub fn parse_confinement(args: &[String]) -> Result<Vec<crate::sandbox::Backend>, String> {
    use crate::sandbox::Backend;
    let mut out = Vec::new();
    for a in args {
        let b = match a.to_ascii_lowercase().as_str() {
            "selinux" => Backend::Selinux,
            "unix" => Backend::Unix,
            "landlock" => Backend::Landlock,
            other => {
                return Err(format!(
                    "Confinement: unknown backend '{other}' (selinux, unix, landlock)"
                ))
            }
        };
        if out.contains(&b) {
            return Err(format!("Confinement: '{a}' is listed twice"));
        }
        out.push(b);
    }
    Ok(out)
}

/// An `Alias`/`AliasMatch` entry (its origin still to be set): the target made absolute
/// against ServerRoot, its reachable root, the URL-path or the compiled expression.
fn alias_entry(
    b: &Builder,
    fake: &str,
    real: &str,
    is_regex: bool,
) -> Result<super::alias::Alias, String> {
    use super::alias::{literal_root, Alias, Pattern};
    let mut target = b.path(real).to_string_lossy().into_owned();
    if real.ends_with('/') && !target.ends_with('/') {
        target.push('/');
    }
    let pattern = if is_regex {
        Pattern::Regex(SectionRegex::new(fake)?)
    } else {
        if !fake.starts_with('/') {
            return Err(format!("the URL-path '{fake}' must start with '/'"));
        }
        if fake.ends_with('/') != target.ends_with('/') {
            return Err(format!(
                "'{fake}' and '{real}': end both or neither with '/' (Apache would append the rest of the URL without a separator)"
            ));
        }
        Pattern::Prefix(fake.to_string())
    };
    let root_text = if is_regex {
        literal_root(&target)
    } else {
        target.as_str()
    };
    let root = PathBuf::from(root_text);
    if root
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(format!("the target '{real}' may not contain '..'"));
    }
    Ok(Alias {
        pattern,
        target,
        root,
        origin: Origin {
            file: PathBuf::new(),
            line: 0,
        },
    })
}

/// Apache's AH00671: a plain Alias whose URL-path an earlier Alias or AliasMatch of the same
/// server already covers will probably never match.
fn alias_overlap(v: &VHostDraft) -> Option<String> {
    use super::alias::{alias_matches, Pattern};
    let (last, earlier) = v.aliases.split_last()?;
    let Pattern::Prefix(fake) = &last.pattern else {
        return None;
    };
    let covered = |p: &Pattern| match p {
        Pattern::Prefix(f) => alias_matches(fake, f).is_some(),
        Pattern::Regex(r) => r.is_match(fake),
    };
    if let Some(e) = earlier.iter().find(|e| covered(&e.pattern)) {
        return Some(format!(
            "will probably never match because it overlaps the Alias at {}",
            e.origin
        ));
    }
    let segs = crate::http::route::route(fake).ok()?.segments;
    v.script_aliases
        .iter()
        .find(|s| segs.starts_with(&s.prefix))
        .map(|s| {
            format!(
                "never matches: the ScriptAlias at {} covers it, and ScriptAliases are tried first",
                s.origin
            )
        })
}

/// `ScriptAlias URL-PREFIX DIR`: the prefix as decoded route segments. A prefix covering the
/// whole site would turn every URL into a program, so it is refused.
pub fn parse_script_alias(url: &str) -> Result<Vec<String>, String> {
    if !url.starts_with('/') {
        return Err(format!(
            "ScriptAlias: the URL prefix '{url}' must start with '/'"
        ));
    }
    let r = crate::http::route::route(url)
        .map_err(|e| format!("ScriptAlias: URL prefix '{url}': {e}"))?;
    if r.segments.is_empty() {
        return Err(format!(
            "ScriptAlias: the URL prefix '{url}' would make every URL a program"
        ));
    }
    Ok(r.segments)
}

/// `AddHandler cgi-script .EXT...`: only the CGI handler exists here. Suffixes are stored
/// lowercase without the dot (Apache matches them case-insensitively, dot optional).
pub fn parse_add_handler(args: &[String]) -> Result<Vec<String>, String> {
    let Some((handler, extensions)) = args.split_first() else {
        return Err("AddHandler takes at least 2 argument(s), got 0".into());
    };
    if !handler.eq_ignore_ascii_case("cgi-script") {
        return Err(format!(
            "AddHandler: handler '{handler}' is not supported (only cgi-script)"
        ));
    }
    extensions
        .iter()
        .map(|a| {
            let e = a.strip_prefix('.').unwrap_or(a);
            if e.is_empty() || e.contains(['/', '.']) || e.chars().any(char::is_control) {
                Err(format!("AddHandler: '{a}' is not a file extension"))
            } else {
                Ok(e.to_ascii_lowercase())
            }
        })
        .collect()
}

/// An `Options` line: absolute (replaces what the scope inherits) or relative (adjusts it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionsSetting {
    Absolute(Options),
    Relative(OptionsDelta),
}

/// Apache's `Options`: plain words replace, `+`/`-` words adjust; mixing the two is an error.
pub fn parse_options_setting(args: &[String]) -> Result<OptionsSetting, String> {
    let relative = args
        .iter()
        .any(|a| a.starts_with('+') || a.starts_with('-'));
    if !relative {
        return parse_options(args, Options::default()).map(OptionsSetting::Absolute);
    }
    let on = parse_options(args, Options::default())?;
    let negated: Vec<String> = args
        .iter()
        .filter_map(|a| a.strip_prefix('-').map(|w| format!("+{w}")))
        .collect();
    let off = if negated.is_empty() {
        Options::default()
    } else {
        parse_options(&negated, Options::default())?
    };
    Ok(OptionsSetting::Relative(OptionsDelta { on, off }))
}

/// Apache's `Options`: plain words replace, `+`/`-` words adjust; mixing the two is an error.
pub fn parse_options(args: &[String], inherited: Options) -> Result<Options, String> {
    let relative = args
        .iter()
        .any(|a| a.starts_with('+') || a.starts_with('-'));
    let absolute = args
        .iter()
        .any(|a| !(a.starts_with('+') || a.starts_with('-')));
    if relative && absolute {
        return Err("Options: either all options must start with + or -, or no option may".into());
    }
    let mut o = if relative {
        inherited
    } else {
        Options::default()
    };
    for a in args {
        let (on, word) = if let Some(w) = a.strip_prefix('+') {
            (true, w)
        } else if let Some(w) = a.strip_prefix('-') {
            (false, w)
        } else {
            (true, a.as_str())
        };
        match word.to_ascii_lowercase().as_str() {
            "none" if !relative => o = Options::default(),
            // Apache's All is every option but MultiViews.
            "all" if !relative => {
                o = Options {
                    indexes: true,
                    follow_symlinks: true,
                    symlinks_if_owner_match: true,
                    exec_cgi: true,
                }
            }
            "indexes" => o.indexes = on,
            "followsymlinks" => o.follow_symlinks = on,
            "symlinksifownermatch" => o.symlinks_if_owner_match = on,
            "execcgi" => o.exec_cgi = on,
            // Turning off what this server never does is what it does.
            "includes" | "includesnoexec" | "multiviews" if relative && !on => {}
            "includes" | "includesnoexec" | "multiviews" => {
                return Err(format!("Options: '{word}' is not supported by this server"))
            }
            _ => return Err(format!("Options: unknown option '{word}'")),
        }
    }
    Ok(o)
}

/// The handlers the rows of [`super::directives::TABLE`] point to. Each runs after the row's
/// context and argument count were checked.
pub(super) mod h {
    use super::*;

    pub fn listen(b: &mut Builder, n: &Node, cfg: &mut Config) {
        b.saw_listen = true;
        if let Some([a0, ..]) = b.args(n, 1, 2) {
            match parse_listen(a0) {
                Ok(a) if cfg.listen.contains(&a) => {
                    b.error(n, format!("Listen {a} is given twice"))
                }
                Ok(a) => cfg.listen.push(a),
                Err(m) => b.error(n, m),
            }
        }
    }

    /// Read before everything else (see [`build`]); here only checked.
    pub fn server_root(_: &mut Builder, _: &Node, _: &mut Config) {}

    /// The cgroup and verifier directives, parsed by `config::cgroup` and `config::verifier`.
    pub fn cgroup_or_verifier(b: &mut Builder, n: &Node, cfg: &mut Config) {
        let name = n.name.to_ascii_lowercase();
        let at = origin(n);
        match super::super::cgroup::server_directive(&name, &n.args, &at, cfg)
            .or_else(|| super::super::verifier::server_directive(&name, &n.args, &at, cfg))
        {
            Some(Ok(())) => {}
            Some(Err(m)) => b.error(n, m),
            None => b.error(n, format!("unknown directive '{}'", n.name)),
        }
    }

    /// TLS and PROXY directives: `config::tls` and `config::proxy` read them in their own
    /// passes after the vhosts are built (the main pass skips them, see `is_second_pass`).
    pub fn second_pass(_: &mut Builder, _: &Node) {}

    pub fn pid_file(b: &mut Builder, n: &Node, cfg: &mut Config) {
        if let Some([a0]) = b.args(n, 1, 1) {
            cfg.pid_file = Some(b.path(a0));
        }
    }

    pub fn error_log(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
        let Some([a0]) = b.args(n, 1, 1) else { return };
        if a0.starts_with('|') || a0.starts_with("syslog") {
            return b.error(
                n,
                "ErrorLog: piped and syslog error logs are not supported; give a path or 'stderr' (CustomLog can be piped)",
            );
        }
        let stderr = a0.eq_ignore_ascii_case("stderr");
        if v.is_vhost {
            if stderr {
                return b.error(n, "ErrorLog stderr in <VirtualHost>: give this virtual host a file, or leave its errors to the server's ErrorLog");
            }
            v.error_log = Some(b.path(a0));
        } else if stderr {
            b.server_error_log = Some(LogTarget::Stderr);
        } else {
            b.server_error_log = Some(LogTarget::File(b.path(a0)));
        }
    }

    pub fn log_level(b: &mut Builder, n: &Node, cfg: &mut Config) {
        if let Some([a0]) = b.args(n, 1, 1) {
            match parse_level(a0) {
                Some(l) => cfg.log_level = l,
                None => b.error(n, format!("LogLevel: unknown level '{}'", a0)),
            }
        }
    }

    pub fn log_format(b: &mut Builder, n: &Node, _: &mut VHostDraft) {
        match n.args.as_slice() {
            [format, nick] => {
                // As Apache: a format is parsed where it is defined, used or not.
                if let Err(e) = crate::logformat::Format::parse(format) {
                    return b.error(n, format!("LogFormat {nick}: {e}"));
                }
                let nick = nick.to_ascii_lowercase();
                b.log_formats.retain(|(k, _)| *k != nick);
                b.log_formats.push((nick, format.clone()));
            }
            _ => b.warn(
                n,
                "LogFormat without a nickname: accepted without effect (there is no TransferLog; CustomLog always names its format)",
            ),
        }
    }

    pub fn custom_log(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
        let Some([a0, a1]) = b.args(n, 2, 2) else {
            return;
        };
        let lower = a1.to_ascii_lowercase();
        let named = b
            .log_formats
            .iter()
            .find(|(k, _)| *k == lower)
            .map(|(_, f)| f.clone());
        use crate::logformat::{COMBINED, COMMON, SUFFIX};
        let text = match (named, lower.as_str()) {
            (Some(f), _) => f,
            (None, "combined") => format!("{COMBINED}{SUFFIX}"),
            (None, "common") => format!("{COMMON}{SUFFIX}"),
            (None, "clf") => COMMON.to_string(),
            (None, _) if a1.contains('%') => a1.clone(),
            (None, other) => {
                return b.error(n, format!("CustomLog: no LogFormat is named '{other}' (define it before this line, or use combined or common)"))
            }
        };
        let format = match crate::logformat::Format::parse(&text) {
            Ok(f) => f,
            Err(e) => return b.error(n, format!("CustomLog: {e}")),
        };
        for var in format.env_names() {
            if !crate::logformat::ENV.contains(&var) {
                b.warn(n, format!("CustomLog: %{{{var}}}e is always '-': this server sets no such variable for its access log (it sets {})", crate::logformat::ENV.join(", ")));
            }
        }
        for note in format.note_names() {
            if !crate::logformat::NOTES.contains(&note) {
                b.warn(
                    n,
                    format!(
                        "CustomLog: %{{{note}}}n is always '-': the notes are {}",
                        crate::logformat::NOTES.join(", ")
                    ),
                );
            }
        }
        if format.uses_filename() {
            b.warn(n, "CustomLog: %f is always '-': the file a request mapped to is not passed to the access log yet");
        }
        let dest = match piped(a0) {
            Some(Ok(dest)) => dest,
            Some(Err(m)) => return b.error(n, format!("CustomLog: {m}")),
            None => LogDest::File(b.path(a0)),
        };
        v.custom_logs.push(CustomLog { dest, format });
    }

    pub fn user(b: &mut Builder, n: &Node, cfg: &mut Config) {
        if let Some([a0]) = b.args(n, 1, 1) {
            cfg.user = Some(a0.clone());
        }
    }

    pub fn group(b: &mut Builder, n: &Node, cfg: &mut Config) {
        if let Some([a0]) = b.args(n, 1, 1) {
            cfg.group = Some(a0.clone());
        }
    }

    pub fn start_servers(b: &mut Builder, n: &Node, cfg: &mut Config) {
        set(&mut cfg.start_servers, b.number(n));
    }

    pub fn min_spare(b: &mut Builder, n: &Node, cfg: &mut Config) {
        set(&mut cfg.min_spare, b.number(n));
    }

    pub fn max_spare(b: &mut Builder, n: &Node, cfg: &mut Config) {
        set(&mut cfg.max_spare, b.number(n));
    }

    pub fn max_workers(b: &mut Builder, n: &Node, cfg: &mut Config) {
        set(&mut cfg.max_workers, b.number(n));
    }

    /// Any value: each child serves exactly one connection.
    pub fn connections_per_child(b: &mut Builder, n: &Node, _: &mut Config) {
        let _: Option<u64> = b.number(n);
    }

    pub fn timeout(b: &mut Builder, n: &Node, cfg: &mut Config) {
        set(
            &mut cfg.timeout,
            b.number::<u64>(n).map(Duration::from_secs),
        );
    }

    pub fn keep_alive(b: &mut Builder, n: &Node, cfg: &mut Config) {
        set(&mut cfg.keep_alive, b.on_off(n));
    }

    pub fn keep_alive_timeout(b: &mut Builder, n: &Node, cfg: &mut Config) {
        set(
            &mut cfg.keep_alive_timeout,
            b.number::<u64>(n).map(Duration::from_secs),
        );
    }

    pub fn max_keep_alive_requests(b: &mut Builder, n: &Node, cfg: &mut Config) {
        set(&mut cfg.max_keep_alive_requests, b.number(n));
    }

    pub fn request_read_timeout(b: &mut Builder, n: &Node, cfg: &mut Config) {
        match parse_request_read_timeout(&n.args, cfg.request_read_timeout) {
            Ok(t) => cfg.request_read_timeout = t,
            Err(m) => b.error(n, m),
        }
    }

    pub fn reexec_children(b: &mut Builder, n: &Node, cfg: &mut Config) {
        set(&mut cfg.reexec_children, b.on_off(n));
    }

    pub fn limit_request_line(b: &mut Builder, n: &Node, cfg: &mut Config) {
        set(&mut cfg.limits.head.request_line, b.number(n));
    }

    pub fn limit_request_field_size(b: &mut Builder, n: &Node, cfg: &mut Config) {
        set(&mut cfg.limits.head.field_size, b.number(n));
    }

    pub fn limit_request_fields(b: &mut Builder, n: &Node, cfg: &mut Config) {
        set(&mut cfg.limits.head.fields, b.number(n));
    }

    pub fn limit_request_body(b: &mut Builder, n: &Node, cfg: &mut Config) {
        set(&mut cfg.limits.body, b.number(n));
    }

    pub fn cgi_script_timeout(b: &mut Builder, n: &Node, _: &mut Config) {
        if let Some(t) = b.number::<u64>(n) {
            if t == 0 {
                b.error(n, "CGIScriptTimeout must be at least 1 second");
            } else {
                b.cgi_timeout = Some(Duration::from_secs(t));
            }
        }
    }

    pub fn cgi_owner_check(b: &mut Builder, n: &Node, cfg: &mut Config) {
        set(&mut cfg.cgi_owner_check, b.on_off(n));
    }

    pub fn namespaces(b: &mut Builder, n: &Node, cfg: &mut Config) {
        match super::super::harden::parse_namespaces(&n.args) {
            Ok(on) => cfg.namespaces = on,
            Err(m) => b.error(n, m),
        }
    }

    pub fn connection_categories(b: &mut Builder, n: &Node, cfg: &mut Config) {
        if let Some([a0]) = b.args(n, 1, 1) {
            match crate::policy::mcs::parse_category_range(a0) {
                Ok(range) => {
                    cfg.selinux_connection_categories = Some(ConnectionCategories {
                        range,
                        origin: origin(n),
                    })
                }
                Err(m) => b.error(n, format!("{}: {m}", n.name)),
            }
        }
    }

    pub fn confinement(b: &mut Builder, n: &Node, cfg: &mut Config) {
        match parse_confinement(&n.args) {
            Ok(c) => {
                cfg.confinement = c;
                b.confinement_at = Some(origin(n));
            }
            Err(m) => b.error(n, m),
        }
    }

    /// One word out of `allowed` (lowercase), or an error listing them.
    fn word<'a>(b: &mut Builder, n: &Node, allowed: &[&'a str]) -> Option<&'a str> {
        let a = n.args.first()?.to_ascii_lowercase();
        let found = allowed.iter().copied().find(|w| *w == a);
        if found.is_none() {
            b.error(
                n,
                format!(
                    "{}: '{}' is not one of {}",
                    n.name,
                    n.args.first().map(String::as_str).unwrap_or_default(),
                    allowed.join(", ")
                ),
            );
        }
        found
    }

    pub fn server_tokens(b: &mut Builder, n: &Node) {
        let words = [
            "prod",
            "productonly",
            "major",
            "minor",
            "min",
            "minimal",
            "os",
            "full",
        ];
        match word(b, n, &words) {
            Some("prod" | "productonly") | None => {}
            Some(_) => b.warn(n, format!("ServerTokens {}: the Server header is always 'oneshot-httpd' (as ServerTokens Prod)", n.args.first().map(String::as_str).unwrap_or_default())),
        }
    }

    pub fn trace_enable(b: &mut Builder, n: &Node) {
        match word(b, n, &["off", "on", "extended"]) {
            Some("off") | None => {}
            Some(_) => b.warn(n, "TraceEnable: accepted without effect: TRACE is always answered 405 (as TraceEnable Off)"),
        }
    }

    pub fn hostname_lookups(b: &mut Builder, n: &Node) {
        match word(b, n, &["off", "on", "double"]) {
            Some("off") | None => {}
            Some(_) => b.warn(n, "HostnameLookups: accepted without effect: client addresses are never looked up (logs show addresses, as HostnameLookups Off)"),
        }
    }

    pub fn server_signature(b: &mut Builder, n: &Node) {
        match word(b, n, &["off", "on", "email"]) {
            Some("off") | None => {}
            Some(_) => b.warn(n, "ServerSignature: accepted without effect: generated pages carry no signature line (as ServerSignature Off)"),
        }
    }

    /// I7: nothing under a DocumentRoot chooses anything, so per-directory files are never read.
    pub fn allow_override(b: &mut Builder, n: &Node) {
        if !matches!(n.args.as_slice(), [none] if none.eq_ignore_ascii_case("none")) {
            b.error(n, format!("{} {}: .htaccess files are never read: what is under a DocumentRoot must not decide how requests are served or as whom (the administrator's files alone do); put these directives in the server configuration and write {} None", n.name, n.args.join(" "), n.name));
        }
    }

    /// `<Files NAME>`, `<Files ~ RE>`, `<FilesMatch RE>`: at the server or vhost level, or in a
    /// `<Directory>`; tested against the requested file's name after the directory sections.
    pub fn files(b: &mut Builder, n: &Node, d: &mut DirConf) {
        if let Some(s) = section_of(b, n, Kind::Files) {
            d.files.push(s);
        }
    }

    pub fn set_handler(b: &mut Builder, n: &Node) {
        match n.args.first().map(|a| a.to_ascii_lowercase()).as_deref() {
            Some("server-status") | Some("server-info") => b.warn(n, format!("SetHandler {}: accepted without effect: there is no such page; its URLs are served as any other", n.args.join(" "))),
            Some("none") => {}
            _ => b.error(n, format!("SetHandler {}: not supported (ScriptAlias or AddHandler cgi-script for programs)", n.args.join(" "))),
        }
    }

    pub fn server_name(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
        if let Some([a0]) = b.args(n, 1, 1) {
            match parse_host_name(a0) {
                Ok(h) => v.names.insert(0, h),
                Err(m) => b.error(n, m),
            }
        }
    }

    pub fn server_alias(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
        for a in &n.args {
            match parse_host_name(a) {
                Ok(h) => v.names.push(h),
                Err(m) => b.error(n, m),
            }
        }
    }

    pub fn document_root(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
        if let Some([a0]) = b.args(n, 1, 1) {
            v.document_root = Some(b.path(a0));
            v.root_origin = Some(origin(n));
        }
    }

    pub fn directory(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
        if let Some(s) = section_of(b, n, Kind::Directory) {
            if s.regex.is_some() {
                v.directory_matches.push(s);
            } else {
                v.directories.push(s);
            }
        }
    }

    pub fn location(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
        if let Some(s) = section_of(b, n, Kind::Location) {
            v.locations.push(s);
        }
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Kind {
        Directory,
        Location,
        Files,
    }

    /// One section of any of the three kinds, in any of its spellings: `<Kind PATH>`,
    /// `<Kind ~ RE>`, `<KindMatch RE>`. Its body is read in the kind's context.
    fn section_of(b: &mut Builder, n: &Node, kind: Kind) -> Option<Section> {
        let is_match = n.name.to_ascii_lowercase().ends_with("match");
        let (pattern, regex) = match n.args.as_slice() {
            [re] if is_match => (re.clone(), true),
            [tilde, re] if !is_match && tilde == "~" => (re.clone(), true),
            [p] if !is_match => (p.clone(), false),
            _ => {
                let form = if is_match { "RE" } else { "PATH or ~ RE" };
                b.error(
                    n,
                    format!("<{} {}>: takes {form}", n.name, n.args.join(" ")),
                );
                return None;
            }
        };
        let (ctx, path) = match kind {
            Kind::Directory => (directives::DIRECTORY, pattern.clone()),
            Kind::Location => (directives::LOCATION, pattern.clone()),
            Kind::Files => (directives::FILES, pattern.clone()),
        };
        let mut compiled = None;
        if regex {
            match SectionRegex::new(&pattern) {
                Ok(r) => compiled = Some(r),
                Err(m) => b.error(n, format!("<{} {}>: {m}", n.name, n.args.join(" "))),
            }
        } else {
            check_plain_section(b, n, kind, &path);
        }
        let path = match kind {
            Kind::Directory if !regex => normalize_dir(&b.path(&path)),
            _ => path,
        };
        let conf = b.dir_section(n, ctx);
        Some(Section {
            path,
            regex: compiled,
            conf,
            origin: origin(n),
        })
    }

    fn check_plain_section(b: &mut Builder, n: &Node, kind: Kind, path: &str) {
        if kind == Kind::Location && !path.starts_with('/') {
            b.error(
                n,
                format!("<Location {path}>: the URL path must start with '/'"),
            );
        }
        if kind == Kind::Files && path.contains('/') {
            b.error(
                n,
                format!("<Files {path}>: a file name cannot contain '/' (it is matched against the last path component only), so this section would never apply"),
            );
        }
        if let Err(m) = super::super::glob::check(path) {
            b.error(n, format!("<{} {path}>: {m}", n.name));
        }
    }

    pub fn script_alias(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
        if let Some([a0, a1]) = b.args(n, 2, 2) {
            match parse_script_alias(a0) {
                Ok(prefix) => v.script_aliases.push(ScriptAlias {
                    prefix,
                    dir: b.path(a1),
                    origin: origin(n),
                }),
                Err(m) => b.error(n, m),
            }
        }
    }

    /// `Alias URL-PATH TARGET` and `AliasMatch REGEX TARGET` (see `config::alias`).
    pub fn alias(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
        let Some([fake, real]) = b.args(n, 2, 2) else {
            return;
        };
        let is_regex = n.name.eq_ignore_ascii_case("AliasMatch");
        match alias_entry(b, fake, real, is_regex) {
            Ok(a) => {
                let a = super::super::alias::Alias {
                    origin: origin(n),
                    ..a
                };
                v.aliases.push(a);
            }
            Err(m) => b.error(n, format!("{}: {m}", n.name)),
        }
        if let Some(w) = alias_overlap(v) {
            b.warn(n, format!("{}: {w}", n.name));
        }
    }

    /// `Redirect`, `RedirectMatch`, `RedirectPermanent`, `RedirectTemp`.
    pub fn redirect(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
        let name = n.name.to_ascii_lowercase();
        let implied = if name == "redirectpermanent" {
            301
        } else {
            302
        };
        let is_regex = name == "redirectmatch";
        if matches!(name.as_str(), "redirectpermanent" | "redirecttemp") && n.args.len() != 2 {
            return b.error(
                n,
                format!("{} takes 2 argument(s), got {}", n.name, n.args.len()),
            );
        }
        let parsed = super::super::alias::parse_redirect(implied, &n.args, is_regex).and_then(
            |(status, fake, target)| {
                let pattern = if is_regex {
                    super::super::alias::Pattern::Regex(SectionRegex::new(&fake)?)
                } else {
                    super::super::alias::Pattern::Prefix(fake)
                };
                Ok(super::super::alias::Redirect {
                    pattern,
                    status,
                    target,
                    origin: origin(n),
                })
            },
        );
        match parsed {
            Ok(r) => v.redirects.push(r),
            Err(m) => b.error(n, format!("{}: {m}", n.name)),
        }
    }

    pub fn options(b: &mut Builder, n: &Node, d: &mut DirConf) {
        match parse_options_setting(&n.args) {
            Ok(OptionsSetting::Absolute(o)) => {
                d.options = Some(o);
                d.options_delta = None;
            }
            Ok(OptionsSetting::Relative(delta)) => match d.options {
                Some(o) => d.options = Some(delta.apply(o)),
                None => d.options_delta = Some(d.options_delta.unwrap_or_default().then(&delta)),
            },
            Err(m) => b.error(n, m),
        }
    }

    pub fn add_handler(b: &mut Builder, n: &Node, d: &mut DirConf) {
        if n.args
            .first()
            .is_some_and(|h| h.eq_ignore_ascii_case("type-map"))
        {
            return b.warn(n, "AddHandler type-map: accepted without effect: there is no content negotiation; such files are served as they are");
        }
        match parse_add_handler(&n.args) {
            Ok(exts) => d.cgi_extensions.get_or_insert_with(Vec::new).extend(exts),
            Err(m) => b.error(n, m),
        }
    }

    pub fn directory_index(b: &mut Builder, n: &Node, d: &mut DirConf) {
        if matches!(n.args.as_slice(), [only] if only.eq_ignore_ascii_case("disabled")) {
            d.directory_index = Some(Vec::new());
        } else if let Some(bad) = n
            .args
            .iter()
            .find(|a| a.contains('/') || a.as_str() == "..")
        {
            b.error(
                n,
                format!("DirectoryIndex: '{bad}' must be a plain file name"),
            );
        } else {
            d.directory_index = Some(n.args.clone());
        }
    }

    pub fn auth_type(b: &mut Builder, n: &Node, d: &mut DirConf) {
        if let Some([a0]) = b.args(n, 1, 1) {
            match a0.to_ascii_lowercase().as_str() {
                "basic" => d.auth_basic = Some(true),
                "none" => d.auth_basic = Some(false),
                other => b.error(
                    n,
                    format!("AuthType '{other}' is not supported (Basic or None)"),
                ),
            }
        }
    }

    pub fn auth_name(b: &mut Builder, n: &Node, d: &mut DirConf) {
        if let Some([a0]) = b.args(n, 1, 1) {
            if a0.contains(['"', '\\']) || a0.chars().any(char::is_control) {
                b.error(
                    n,
                    "AuthName must not contain quotes, backslashes or control characters",
                );
            } else {
                d.auth_name = Some(a0.clone());
            }
        }
    }

    pub fn auth_user_file(b: &mut Builder, n: &Node, d: &mut DirConf) {
        if let Some([a0]) = b.args(n, 1, 1) {
            d.auth_user_file = Some(b.path(a0));
        }
    }

    pub fn auth_basic_provider(b: &mut Builder, n: &Node, d: &mut DirConf) {
        let mut providers = Vec::new();
        for a in &n.args {
            let p = match a.to_ascii_lowercase().as_str() {
                "file" => crate::config::AuthProvider::File,
                "pam" => crate::config::AuthProvider::Pam,
                other => {
                    return b.error(
                        n,
                        format!("AuthBasicProvider: '{other}' is not a provider here (file, pam)"),
                    )
                }
            };
            if providers.contains(&p) {
                return b.error(n, format!("AuthBasicProvider: '{a}' is named twice"));
            }
            providers.push(p);
        }
        if providers.is_empty() {
            return b.error(
                n,
                "AuthBasicProvider needs at least one provider (file, pam)",
            );
        }
        d.auth_basic_provider = Some(providers);
    }

    pub fn auth_pam_service(b: &mut Builder, n: &Node, d: &mut DirConf) {
        if let Some([a0]) = b.args(n, 1, 1) {
            // pam_start(3) reads /etc/pam.d/NAME: a plain file name, nothing else.
            let plain = a0
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
            if !plain || a0.starts_with('.') || a0.len() > 64 {
                b.error(
                    n,
                    format!("AuthPAMService: '{a0}' is not a plain service name (letters, digits, . _ -)"),
                );
            } else {
                d.auth_pam_service = Some(a0.clone());
            }
        }
    }

    pub fn authz_send_forbidden(b: &mut Builder, n: &Node, d: &mut DirConf) {
        if let Some(on) = b.on_off(n) {
            d.authz_send_forbidden = Some(on);
        }
    }

    pub fn selinux_map(b: &mut Builder, n: &Node, d: &mut DirConf) {
        b.needs.push((
            Backend::Selinux,
            canonical(n, &["selinuxDomainMap", "selinuxConfigFile"]),
            origin(n),
        ));
        if let Some([a0]) = b.args(n, 1, 1) {
            d.selinux_map = Some(b.path(a0));
        }
    }

    pub fn selinux_default(b: &mut Builder, n: &Node, d: &mut DirConf) {
        b.needs.push((
            Backend::Selinux,
            canonical(n, &["selinuxDomainVal", "selinuxDefaultDomain"]),
            origin(n),
        ));
        if let Some([a0]) = b.args(n, 1, 1) {
            match crate::policy::parse_selinux_target(a0) {
                Ok(t) if t.is_noop() => b.error(
                    n,
                    format!(
                        "{}: '*' for both domain and range would serve in the worker's own context",
                        n.name
                    ),
                ),
                Ok(t) => d.selinux_default = Some(t),
                Err(m) => b.error(n, format!("{}: {m}", n.name)),
            }
        }
    }

    pub fn user_map(b: &mut Builder, n: &Node, d: &mut DirConf) {
        b.needs.push((Backend::Unix, "UserIDMap", origin(n)));
        if let Some([a0]) = b.args(n, 1, 1) {
            d.user_map = Some(b.path(a0));
        }
    }

    pub fn assign_user(b: &mut Builder, n: &Node, d: &mut DirConf) {
        b.needs.push((Backend::Unix, "AssignUserID", origin(n)));
        if let Some([a0, a1]) = b.args(n, 2, 2) {
            match crate::policy::parse_unix_target(&format!("{}:{}", a0, a1)) {
                Ok(t) => d.assign_user = Some(t),
                Err(m) => b.error(n, format!("AssignUserID: {m}")),
            }
        }
    }
}

/// `"|program"`, `"||program"` (no shell) and `"|$program"` (`/bin/sh -c`), as Apache 2.4;
/// None for a file.
fn piped(a: &str) -> Option<Result<LogDest, String>> {
    let rest = a.strip_prefix('|')?;
    let (command, shell) = match (rest.strip_prefix('|'), rest.strip_prefix('$')) {
        (Some(c), _) => (c, false),
        (_, Some(c)) => (c, true),
        _ => (rest, false),
    };
    let command = command.trim();
    if command.is_empty() {
        return Some(Err(format!("'{a}' names no program")));
    }
    if !shell {
        match shlex::split(command) {
            Some(argv) if !argv.is_empty() => {}
            _ => return Some(Err(format!("'{command}': unbalanced quotes"))),
        }
    }
    Some(Ok(LogDest::Pipe {
        command: command.to_string(),
        shell,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse::parse;

    /// Parse, the reading stage without files, build: warnings of both stages in `warnings`.
    fn load(text: &str) -> Result<Config, Vec<String>> {
        let f = Path::new("/etc/x/h.conf");
        let nodes =
            parse(text, f).map_err(|e| e.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
        let (nodes, errors, mut warnings) = crate::config::load::expand_text(nodes, f);
        let strings = |e: Vec<ConfigError>| e.iter().map(|e| e.to_string()).collect();
        if !errors.is_empty() {
            return Err(strings(errors));
        }
        let mut c = build(&nodes, f).map_err(strings)?;
        warnings.append(&mut c.warnings);
        c.warnings = warnings;
        Ok(c)
    }

    #[test]
    fn minimal_main_server() {
        let c = load("Listen 127.0.0.1:8080\nDocumentRoot www\n").unwrap();
        assert_eq!(c.listen, vec!["127.0.0.1:8080".parse().unwrap()]);
        assert_eq!(c.vhosts.len(), 1);
        assert_eq!(c.vhosts[0].document_root, PathBuf::from("/etc/x/www"));
        assert!(c.vhosts[0].conf.options.unwrap().follow_symlinks);
    }

    #[test]
    fn vhosts_inherit_and_order() {
        let c = load("Listen 8080\nDocumentRoot /srv/main\nOptions Indexes\n<VirtualHost *:8080>\nServerName A.example\nServerAlias b c\n</VirtualHost>\n<VirtualHost *:8080>\nservername d\ndocumentroot /srv/d\nOptions -Indexes\n</VirtualHost>\n").unwrap();
        assert_eq!(c.vhosts.len(), 2);
        assert_eq!(c.vhosts[0].names, vec!["a.example", "b", "c"]);
        assert_eq!(c.vhosts[0].document_root, PathBuf::from("/srv/main"));
        assert!(c.vhosts[0].conf.options.unwrap().indexes);
        assert!(!c.vhosts[1].conf.options.unwrap().indexes);
        // The line that set each DocumentRoot, inherited or not (for `-t`'s reachability).
        assert_eq!(c.vhosts[0].root_origin.to_string(), "/etc/x/h.conf:2");
        assert_eq!(c.vhosts[1].root_origin.to_string(), "/etc/x/h.conf:10");
    }

    /// Logs as mod_log_config places them: a vhost with CustomLog lines of its own logs there
    /// only, the others use the server's; a LogFormat is checked where it is written.
    #[test]
    fn log_directives() {
        let c = load("Listen 80\nDocumentRoot /x\nLogFormat \"%v %>s\" short\nCustomLog /l/a.log short\nCustomLog \"|/usr/bin/logger -t web\" common\n<VirtualHost *:80>\nServerName a\n</VirtualHost>\n<VirtualHost *:80>\nServerName b\nCustomLog /l/b.log \"%h %U\"\nCustomLog \"|$cat >>/l/b2\" short\nErrorLog /l/b-error.log\n</VirtualHost>\n").unwrap();
        assert_eq!(c.vhosts[0].access_logs, vec![0, 1]);
        assert_eq!(c.vhosts[1].access_logs, vec![2, 3]);
        assert_eq!(c.vhosts[0].error_log, None);
        assert_eq!(c.vhosts[1].error_log, Some(0));
        assert_eq!(c.vhost_error_logs, vec![PathBuf::from("/l/b-error.log")]);
        assert_eq!(
            c.custom_logs[1].dest,
            LogDest::Pipe {
                command: "/usr/bin/logger -t web".into(),
                shell: false
            }
        );
        assert_eq!(
            c.custom_logs[3].dest,
            LogDest::Pipe {
                command: "cat >>/l/b2".into(),
                shell: true
            }
        );
        let rows: &[(&str, &str)] = &[
            ("LogFormat \"%h %Z\" x\n", "/etc/x/h.conf:3: LogFormat x: Unrecognized LogFormat directive %Z"),
            ("CustomLog /l nosuch\n", "/etc/x/h.conf:3: CustomLog: no LogFormat is named 'nosuch' (define it before this line, or use combined or common)"),
            ("CustomLog /l \"%{x}a\"\n", "/etc/x/h.conf:3: CustomLog: %{x}a: 'x' is not an argument %a takes"),
            ("CustomLog \"|\" common\n", "/etc/x/h.conf:3: CustomLog: '|' names no program"),
            ("CustomLog \"|/bin/x 'a\" common\n", "/etc/x/h.conf:3: CustomLog: '/bin/x 'a': unbalanced quotes"),
            ("ErrorLog \"|/bin/x\"\n", "/etc/x/h.conf:3: ErrorLog: piped and syslog error logs are not supported; give a path or 'stderr' (CustomLog can be piped)"),
        ];
        for (line, want) in rows {
            let text = format!("Listen 80\nDocumentRoot /x\n{line}");
            assert_eq!(
                load(&text).expect_err(&text),
                vec![want.to_string()],
                "{line}"
            );
        }
        let c = load("Listen 80\nDocumentRoot /x\nCustomLog /l \"%f %{FOO}e %{bar}n\"\n").unwrap();
        let w: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(
            w.iter()
                .all(|w| w.starts_with("/etc/x/h.conf:3: CustomLog: %")),
            "{w:?}"
        );
    }

    #[test]
    fn table_errors_name_file_and_line() {
        let rows: &[(&str, &[&str])] = &[
            ("Listen 8080\nDocumentRoot /x\nFrobnicate on\n", &["/etc/x/h.conf:3: unknown directive 'Frobnicate'"]),
            ("Listen nope\nDocumentRoot /x\n", &["/etc/x/h.conf:1: Listen: 'nope' is not PORT, IPv4:PORT or [IPv6]:PORT"]),
            ("Listen 8080\nDocumentRoot /x\nTimeout abc\n", &["/etc/x/h.conf:3: Timeout: 'abc' is not a valid number"]),
            ("Listen 8080\nDocumentRoot /x\nKeepAlive maybe\n", &["/etc/x/h.conf:3: KeepAlive must be On or Off, not 'maybe'"]),
            ("Listen 8080\nDocumentRoot /x\n<Directory /x>\nListen 9\n</Directory>\n", &["/etc/x/h.conf:4: Listen is not allowed in <Directory>"]),
            ("Listen 8080\nDocumentRoot /x\nOptions +Indexes FollowSymLinks\n", &["/etc/x/h.conf:3: Options: either all options must start with + or -, or no option may"]),
            ("Listen 8080\nDocumentRoot /x\n<Foo>\n</Foo>\n", &["/etc/x/h.conf:3: unknown section <Foo>"]),
            ("DocumentRoot /x\n", &["/etc/x/h.conf:0: no Listen directive: the server would accept nothing"]),
            ("Listen 8080\n", &["/etc/x/h.conf:0: no DocumentRoot for this server"]),
            ("Listen 8080\nDocumentRoot /x\n<Location rel>\n</Location>\n", &["/etc/x/h.conf:3: <Location rel>: the URL path must start with '/'"]),
            ("Listen 8080\nDocumentRoot /x\nDirectoryIndex ../x\n", &["/etc/x/h.conf:3: DirectoryIndex: '../x' must be a plain file name"]),
            ("Listen 8080\nListen 8080\nDocumentRoot /x\n", &["/etc/x/h.conf:2: Listen 0.0.0.0:8080 is given twice"]),
        ];
        for (text, want) in rows {
            let got = load(text).expect_err(text);
            assert_eq!(&got, want, "{text:?}");
        }
    }

    /// Every directive that takes arguments, with `""`: each is refused with FILE:LINE, none
    /// panics (`Options ""` used to index an empty word).
    #[test]
    fn empty_arguments_are_errors_everywhere() {
        let directives = [
            "Listen",
            "ServerRoot",
            "PidFile",
            "ErrorLog",
            "LogLevel",
            "User",
            "Group",
            "StartServers",
            "MinSpareServers",
            "MaxSpareServers",
            "MaxRequestWorkers",
            "MaxClients",
            "Timeout",
            "KeepAlive",
            "KeepAliveTimeout",
            "MaxKeepAliveRequests",
            "RequestReadTimeout",
            "ReexecChildren",
            "LimitRequestLine",
            "LimitRequestFieldSize",
            "LimitRequestFields",
            "LimitRequestBody",
            "CGIScriptTimeout",
            "CGIOwnerCheck",
            "Confinement",
            "ServerName",
            "ServerAlias",
            "DocumentRoot",
            "Options",
            "AddHandler",
            "DirectoryIndex",
            "AuthType",
            "AuthName",
            "AuthUserFile",
            "Require",
            "selinuxDomainMap",
            "selinuxConfigFile",
            "selinuxDomainVal",
            "selinuxDefaultDomain",
            "UserIDMap",
            "AssignUserID",
            "ScriptAlias",
            "CustomLog",
            "Frobnicate",
        ];
        for d in directives {
            for (text, line) in [
                (format!("Listen 8080\nDocumentRoot /x\n{d} \"\"\n"), 3),
                (format!("Listen 8080\nDocumentRoot /x\n{d} a \"\"\n"), 3),
                (format!("Listen 8080\nDocumentRoot /x\n<VirtualHost *:8080>\n{d} ''\n</VirtualHost>\n"), 4),
                (format!("Listen 8080\nDocumentRoot /x\n<Directory /x>\n{d} \"\"\n</Directory>\n"), 4),
            ] {
                let got = load(&text).expect_err(&text);
                assert_eq!(
                    got,
                    vec![format!("/etc/x/h.conf:{line}: {d}: an empty argument (\"\") is not allowed")],
                    "{text:?}"
                );
            }
        }
        for (text, want) in [
            (
                "<Directory \"\">\n</Directory>\n",
                "/etc/x/h.conf:3: Directory: an empty argument (\"\") is not allowed",
            ),
            (
                "<Location ''>\n</Location>\n",
                "/etc/x/h.conf:3: Location: an empty argument (\"\") is not allowed",
            ),
            (
                "<VirtualHost \"\">\n</VirtualHost>\n",
                "/etc/x/h.conf:3: VirtualHost: an empty argument (\"\") is not allowed",
            ),
        ] {
            let text = format!("Listen 8080\nDocumentRoot /x\n{text}");
            assert_eq!(
                load(&text).expect_err(&text),
                vec![want.to_string()],
                "{text:?}"
            );
        }
        // The pure parsers refuse an empty word themselves, whoever calls them.
        assert_eq!(
            parse_options(&[String::new()], Options::default()),
            Err("Options: unknown option ''".into())
        );
        assert!(parse_add_handler(&[]).is_err());
    }

    /// The section forms and their errors: each with FILE:LINE, none accepted to never apply.
    #[test]
    fn section_forms_table() {
        let rows: &[(&str, &[&str])] = &[
            ("<Files a.txt>\nRequire all denied\n</Files>\n<Files ~ \"^b\">\n</Files>\n<FilesMatch \"\\.php$\">\n</FilesMatch>\n<Directory ~ \"^/x/\">\n</Directory>\n<DirectoryMatch ^/x/>\n</DirectoryMatch>\n<Location ~ ^/y>\n</Location>\n<LocationMatch ^/y>\n</LocationMatch>\n<Directory /x>\n<Files *.bak>\n</Files>\n<FilesMatch x>\n</FilesMatch>\n</Directory>\n<VirtualHost *:80>\n<FilesMatch x>\n</FilesMatch>\n<DirectoryMatch x>\n</DirectoryMatch>\n</VirtualHost>\n", &[]),
            ("<FilesMatch \"(\">\n</FilesMatch>\n", &["/etc/x/h.conf:3: <FilesMatch (>: not a regular expression the regex crate accepts: regex parse error:\n    (\n    ^\nerror: unclosed group"]),
            ("<Directory ~ \"a(?=b)\">\n</Directory>\n", &["/etc/x/h.conf:3: <Directory ~ a(?=b)>: not a regular expression the regex crate accepts: regex parse error:\n    a(?=b)\n     ^^^\nerror: look-around, including look-ahead and look-behind, is not supported"]),
            ("<Directory a b>\n</Directory>\n", &["/etc/x/h.conf:3: <Directory a b>: takes PATH or ~ RE"]),
            ("<DirectoryMatch ~ x>\n</DirectoryMatch>\n", &["/etc/x/h.conf:3: DirectoryMatch takes 1 argument(s), got 2"]),
            ("<Files a/b>\n</Files>\n", &["/etc/x/h.conf:3: <Files a/b>: a file name cannot contain '/' (it is matched against the last path component only), so this section would never apply"]),
            ("<Location /x>\n<Files a>\n</Files>\n</Location>\n", &["/etc/x/h.conf:4: <Files> is not allowed inside <Location>"]),
            ("<Files a>\n<Files b>\n</Files>\n</Files>\n", &["/etc/x/h.conf:4: <Files> is not allowed inside <Files>"]),
            ("<Files a>\n<Directory /x>\n</Directory>\n</Files>\n", &["/etc/x/h.conf:4: <Directory> is not allowed inside <Files>"]),
            ("<Files a>\nAllowOverride None\n</Files>\n", &["/etc/x/h.conf:4: AllowOverride is not allowed in <Files>"]),
            ("<LocationMatch x>\n<DirectoryMatch y>\n</DirectoryMatch>\n</LocationMatch>\n", &["/etc/x/h.conf:4: <DirectoryMatch> is not allowed inside <LocationMatch>"]),
        ];
        for (text, want) in rows {
            let text = format!("Listen 8080\nDocumentRoot /x\n{text}");
            let got = match load(&text) {
                Ok(_) => vec![],
                Err(e) => e,
            };
            assert_eq!(&got, want, "{text:?}");
        }
    }

    #[test]
    fn odd_nesting_table() {
        let rows: &[(&str, &[&str])] = &[
            (
                "</Directory>\n",
                &["line 3: </Directory> without matching <Directory>"],
            ),
            (
                "<Directory /x>\n<VirtualHost *:80>\n</VirtualHost>\n</Directory>\n",
                &["/etc/x/h.conf:4: <VirtualHost> is not allowed inside <Directory>"],
            ),
            (
                "<Location /x>\n<Directory /x>\n</Directory>\n</Location>\n",
                &["/etc/x/h.conf:4: <Directory> is not allowed inside <Location>"],
            ),
            (
                "<VirtualHost *:80>\n<VirtualHost *:80>\n</VirtualHost>\n</VirtualHost>\n",
                &["/etc/x/h.conf:4: <VirtualHost> cannot be nested"],
            ),
            ("<Directory /x>\n", &["line 3: <Directory> is never closed"]),
            (
                "<VirtualHost *:80>\n<Directory /x>\n</VirtualHost>\n",
                &[
                    "line 3: <VirtualHost> is never closed",
                    "line 4: <Directory> is never closed",
                    "line 5: </VirtualHost> does not close <Directory> opened on line 4",
                ],
            ),
            (
                "VirtualHost *:80\n",
                &["/etc/x/h.conf:3: VirtualHost must be a section: <VirtualHost ADDRESS>"],
            ),
            (
                "Directory /x\n",
                &["/etc/x/h.conf:3: Directory must be a section: <Directory>"],
            ),
            (
                "<DocumentRoot /y>\n</DocumentRoot>\n",
                &["/etc/x/h.conf:3: unknown section <DocumentRoot>"],
            ),
            (
                "<VirtualHost *:80>\n<ServerName a>\n</ServerName>\n</VirtualHost>\n",
                &["/etc/x/h.conf:4: unknown section <ServerName>"],
            ),
            (
                "<VirtualHost *:80>\n<IfModule x y>\n</IfModule>\n</VirtualHost>\n",
                &["/etc/x/h.conf:4: <IfModule> takes 1 argument ([!]MODULE), got 2"],
            ),
            (
                "<VirtualHost *:80>\nConfinement unix\n</VirtualHost>\n",
                &["/etc/x/h.conf:4: Confinement is not allowed in <VirtualHost>"],
            ),
            (
                "<Directory /x/[ab>\n</Directory>\n",
                &["/etc/x/h.conf:3: <Directory /x/[ab>: '[ab': '[' without its closing ']'"],
            ),
            (
                "<Location /[>\n</Location>\n",
                &["/etc/x/h.conf:3: <Location /[>: '[': '[' without its closing ']'"],
            ),
            (
                "Options \"None\n",
                &["line 3: unterminated \"quoted\" argument"],
            ),
            (
                "Options 'None\n",
                &["line 3: unterminated 'quoted' argument"],
            ),
            (
                "Options \"None\"x\n",
                &["line 3: a quoted argument must be followed by whitespace"],
            ),
            ("Options None\0\n", &["line 3: NUL byte in the line"]),
        ];
        for (text, want) in rows {
            let text = format!("Listen 8080\nDocumentRoot /x\n{text}");
            let got = load(&text).expect_err(&text);
            assert_eq!(&got, want, "{text:?}");
        }
    }

    /// I3: identity directives bring the backend that enforces them, or name both lines.
    #[test]
    fn identity_directives_need_their_backend() {
        use crate::sandbox::Backend::{Landlock, Selinux, Unix};
        let ok: &[(&str, &[crate::sandbox::Backend])] = &[
            ("", &[Landlock]),
            ("UserIDMap /etc/m\n", &[Unix, Landlock]),
            (
                "<Location /a>\nAssignUserID www www\n</Location>\n",
                &[Unix, Landlock],
            ),
            (
                "<VirtualHost *:80>\nselinuxDomainMap /etc/m\n</VirtualHost>\n",
                &[Selinux, Landlock],
            ),
            (
                "selinuxDomainVal user_t:s0\nAssignUserID a b\n",
                &[Selinux, Unix, Landlock],
            ),
            ("Confinement unix\nUserIDMap /etc/m\n", &[Unix]),
            (
                "Confinement landlock selinux\nselinuxConfigFile /etc/m\n",
                &[Landlock, Selinux],
            ),
        ];
        for (text, want) in ok {
            let text = format!("Listen 8080\nDocumentRoot /x\n{text}");
            let c = load(&text).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
            assert_eq!(&c.confinement, want, "{text:?}");
        }
        let bad: &[(&str, &[&str])] = &[
            ("Confinement landlock\nUserIDMap /etc/m\n", &["/etc/x/h.conf:4: UserIDMap needs 'unix' in Confinement (/etc/x/h.conf:3 lists: landlock)"]),
            ("<Directory /x>\nassignuserid a b\n</Directory>\nConfinement selinux landlock\n", &["/etc/x/h.conf:4: AssignUserID needs 'unix' in Confinement (/etc/x/h.conf:6 lists: selinux landlock)"]),
            ("Confinement unix landlock\n<VirtualHost *:80>\nselinuxDefaultDomain user_t:s0\n<Location /p>\nSELINUXDOMAINMAP /etc/m\n</Location>\n</VirtualHost>\n", &[
                "/etc/x/h.conf:5: selinuxDefaultDomain needs 'selinux' in Confinement (/etc/x/h.conf:3 lists: unix landlock)",
                "/etc/x/h.conf:7: selinuxDomainMap needs 'selinux' in Confinement (/etc/x/h.conf:3 lists: unix landlock)",
            ]),
        ];
        for (text, want) in bad {
            let text = format!("Listen 8080\nDocumentRoot /x\n{text}");
            assert_eq!(&load(&text).expect_err(&text), want, "{text:?}");
        }
        // Enabled for one vhost, the backend applies to all: one that names nobody refuses
        // everything, which -t says.
        let c = load("Listen 8080\nDocumentRoot /x\n<VirtualHost *:80>\nServerName a\nAssignUserID a a\n</VirtualHost>\n<VirtualHost *:80>\nServerName b\n</VirtualHost>\n").unwrap();
        let got: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(got, vec!["/etc/x/h.conf:7: virtual host b has no AssignUserID or UserIDMap in any scope: with 'unix' in Confinement every request to it is refused (403)".to_string()]);
    }

    #[test]
    fn tls_under_selinux_needs_both_helper_contexts() {
        let tls = "Listen 127.0.0.1:443 https\n<VirtualHost *:443>\nServerName a\nSSLEngine on\nSSLCertificateFile /c.pem\nSSLCertificateKeyFile /k.pem\nselinuxDomainVal user_t:s0\n</VirtualHost>\n";
        let kh = "SSLKeyHolderContext system_u:system_r:oneshot_keyholder_t:s0\n";
        let relay = "SSLRelaySocketContext system_u:system_r:oneshot_tlsrelay_t:s0\n";
        let need = |name: &str, why: &str| {
            format!("/etc/x/h.conf:2: `Confinement selinux` with a `Listen ... https` needs {name} (docs/tls.md): without it {why}")
        };
        let kh_err = need(
            "SSLKeyHolderContext",
            "the key holder would stay in the master's domain",
        );
        let relay_err = need("SSLRelaySocketContext", "the relay's socket would carry the master's context, which no web domain may use, so nothing would be served");
        for (extra, want) in [
            ("", vec![kh_err.clone(), relay_err.clone()]),
            (kh, vec![relay_err.clone()]),
            (relay, vec![kh_err.clone()]),
        ] {
            let text = format!("DocumentRoot /x\nConfinement selinux\n{extra}{tls}");
            let got = load(&text).expect_err(&text);
            for w in &want {
                assert!(got.contains(w), "{extra:?}: want {w:?} in {got:?}");
            }
            assert!(
                !got.iter()
                    .any(|e| !want.contains(e) && e.contains("needs SSL")),
                "{got:?}"
            );
        }
        let text = format!("DocumentRoot /x\nConfinement selinux\n{kh}{relay}{tls}");
        if let Err(e) = load(&text) {
            assert!(!e.iter().any(|e| e.contains("needs SSL")), "{e:?}");
        }
        // Without selinux in Confinement neither is needed.
        let text = format!(
            "DocumentRoot /x\nConfinement landlock\n{}",
            tls.replace("selinuxDomainVal user_t:s0\n", "")
        );
        if let Err(e) = load(&text) {
            assert!(!e.iter().any(|e| e.contains("needs SSL")), "{e:?}");
        }
    }

    #[test]
    fn directories_that_never_apply_are_warnings() {
        let rows: &[(&str, &[&str])] = &[
            ("<Directory />\n</Directory>\n<Directory /srv/www/sub>\n</Directory>\n<Directory /srv/w*>\n</Directory>\n", &[]),
            ("<Directory /var/www>\n</Directory>\n", &["/etc/x/h.conf:3: <Directory /var/www> never applies: it is outside every DocumentRoot, Alias and ScriptAlias directory"]),
            ("<Directory /srv/x*>\n</Directory>\n", &["/etc/x/h.conf:3: <Directory /srv/x*> never applies: it is outside every DocumentRoot, Alias and ScriptAlias directory"]),
            ("ScriptAlias /cgi-bin/ /usr/lib/cgi-bin/\n<Directory /usr/lib/cgi-bin>\n</Directory>\n", &[]),
            ("<VirtualHost *:80>\nDocumentRoot /var/www\n</VirtualHost>\n<VirtualHost *:80>\n</VirtualHost>\n<Directory /var/www>\n</Directory>\n", &[]),
            ("<VirtualHost *:80>\nDocumentRoot /var/www\n<Directory /srv/www>\n</Directory>\n</VirtualHost>\n", &["/etc/x/h.conf:5: <Directory /srv/www> never applies: it is outside every DocumentRoot, Alias and ScriptAlias directory"]),
            ("<VirtualHost 10.0.0.1:80 *:80>\n</VirtualHost>\n<VirtualHost _default_:80>\n</VirtualHost>\n<VirtualHost [::1]:80>\n</VirtualHost>\n", &[
                "/etc/x/h.conf:3: <VirtualHost 10.0.0.1:80>: the address does not choose this virtual host (selection is by Host name only, as for *:PORT)",
                "/etc/x/h.conf:7: <VirtualHost [::1]:80>: the address does not choose this virtual host (selection is by Host name only, as for *:PORT)",
            ]),
        ];
        for (text, want) in rows {
            let text = format!("Listen 8080\nDocumentRoot /srv/www\n{text}");
            let c = load(&text).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
            let got: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
            assert_eq!(&got, want, "{text:?}");
        }
    }

    #[test]
    fn wildcard_directory_applies_like_apache() {
        let c = load("Listen 8080\nDocumentRoot /srv/www\n<Directory /srv/www/g*>\nOptions Indexes\n</Directory>\n<Directory /srv/www/gallery/x>\nOptions +ExecCGI\n</Directory>\n").unwrap();
        let v = &c.vhosts[0];
        let at = |d: &str| v.dir_conf(Path::new(d), "/").options.unwrap();
        assert!(at("/srv/www/gallery").indexes);
        assert!(at("/srv/www/gallery/2024").indexes);
        assert!(!at("/srv/www/photos").indexes);
        let x = at("/srv/www/gallery/x");
        assert!(x.indexes && x.exec_cgi, "{x:?}");
    }

    #[test]
    fn cgi_directives() {
        let c = load("Listen 8080\nDocumentRoot /srv/www\nScriptAlias /cgi-bin/ cgi\nCGIScriptTimeout 7\nCGIOwnerCheck Off\n<VirtualHost *:8080>\nServerName a\nScriptAlias /run/x /srv/a-cgi/\n<Directory /srv/www/dyn>\nOptions +ExecCGI\nAddHandler cgi-script .CGI pl\n</Directory>\n</VirtualHost>\n<VirtualHost *:8080>\nServerName b\n</VirtualHost>\n").unwrap();
        assert_eq!(c.cgi_timeout, Duration::from_secs(7));
        assert!(!c.cgi_owner_check);
        let a = &c.vhosts[0];
        let prefixes: Vec<(Vec<String>, PathBuf)> = a
            .script_aliases
            .iter()
            .map(|s| (s.prefix.clone(), s.dir.clone()))
            .collect();
        assert_eq!(
            prefixes,
            vec![
                (vec!["run".into(), "x".into()], PathBuf::from("/srv/a-cgi/")),
                (vec!["cgi-bin".into()], PathBuf::from("/etc/x/cgi")),
            ]
        );
        let dyn_conf = a.dir_conf(Path::new("/srv/www/dyn"), "/dyn/t.cgi");
        let o = dyn_conf.options.unwrap();
        // Relative Options merge onto the vhost's (Apache's default FollowSymLinks).
        assert!(o.exec_cgi && o.follow_symlinks, "{o:?}");
        assert_eq!(
            dyn_conf.cgi_extensions,
            Some(vec!["cgi".to_string(), "pl".to_string()])
        );
        assert!(
            !a.dir_conf(Path::new("/srv/www"), "/")
                .options
                .unwrap()
                .exec_cgi
        );
        assert!(a.cgi_enabled() && a.uses_cgi_extensions());
        let b = &c.vhosts[1];
        assert!(b.cgi_enabled() && !b.uses_cgi_extensions());
        let plain = load("Listen 8080\nDocumentRoot /x\n").unwrap();
        assert_eq!(plain.cgi_timeout, plain.timeout);
        assert!(plain.cgi_owner_check && !plain.vhosts[0].cgi_enabled());
    }

    #[test]
    fn cgi_directive_errors() {
        let rows: &[(&str, &str)] = &[
            ("ScriptAlias cgi-bin /x\n", "/etc/x/h.conf:3: ScriptAlias: the URL prefix 'cgi-bin' must start with '/'"),
            ("ScriptAlias / /x\n", "/etc/x/h.conf:3: ScriptAlias: the URL prefix '/' would make every URL a program"),
            ("ScriptAlias /a\n", "/etc/x/h.conf:3: ScriptAlias takes 2 argument(s), got 1"),
            ("AddHandler php-script .php\n", "/etc/x/h.conf:3: AddHandler: handler 'php-script' is not supported (only cgi-script)"),
            ("AddHandler cgi-script .\n", "/etc/x/h.conf:3: AddHandler: '.' is not a file extension"),
            ("AddHandler cgi-script\n", "/etc/x/h.conf:3: AddHandler takes at least 2 argument(s), got 1"),
            ("CGIScriptTimeout 0\n", "/etc/x/h.conf:3: CGIScriptTimeout must be at least 1 second"),
            ("CGIScriptTimeout soon\n", "/etc/x/h.conf:3: CGIScriptTimeout: 'soon' is not a valid number"),
            ("CGIOwnerCheck maybe\n", "/etc/x/h.conf:3: CGIOwnerCheck must be On or Off, not 'maybe'"),
            ("<Directory /x>\nCGIOwnerCheck Off\n</Directory>\n", "/etc/x/h.conf:4: CGIOwnerCheck is not allowed in <Directory>"),
            ("<Location /x>\nScriptAlias /a /b\n</Location>\n", "/etc/x/h.conf:4: ScriptAlias is not allowed in <Location>"),
        ];
        for (text, want) in rows {
            let text = format!("Listen 8080\nDocumentRoot /x\n{text}");
            let got = load(&text).expect_err(&text);
            assert_eq!(got, vec![want.to_string()], "{text:?}");
        }
    }

    #[test]
    fn relative_options_merge_across_scopes() {
        let c = load("Listen 8080\nDocumentRoot /w\nOptions Indexes ExecCGI\n<Directory /w/a>\nOptions -Indexes\n</Directory>\n<Directory /w/a/b>\nOptions +Indexes -ExecCGI\n</Directory>\n<Directory /w/c>\nOptions FollowSymLinks\nOptions +ExecCGI\n</Directory>\n").unwrap();
        let v = &c.vhosts[0];
        let at = |d: &str| v.dir_conf(Path::new(d), "/").options.unwrap();
        assert!(at("/w").indexes && at("/w").exec_cgi);
        assert!(!at("/w/a").indexes && at("/w/a").exec_cgi);
        assert!(at("/w/a/b").indexes && !at("/w/a/b").exec_cgi);
        let c = at("/w/c");
        assert!(c.follow_symlinks && c.exec_cgi && !c.indexes, "{c:?}");
    }

    #[test]
    fn request_read_timeout_table() {
        let t = |initial, max: Option<u64>, rate| ReadTimeout {
            initial: Duration::from_secs(initial),
            max: max.map(Duration::from_secs),
            min_rate: rate,
        };
        let d = RequestReadTimeout::default();
        let rows: &[(&[&str], Result<RequestReadTimeout, &str>)] = &[
            (&["header=20-40,MinRate=500", "body=20,MinRate=500"], Ok(d)),
            (&["header=5"], Ok(RequestReadTimeout { header: Some(t(5, None, None)), ..d })),
            (&["HEADER=5-10,minrate=1"], Ok(RequestReadTimeout { header: Some(t(5, Some(10), Some(1))), ..d })),
            (&["header=0", "body=0"], Ok(RequestReadTimeout { header: None, body: None, ..d })),
            (&["body=10,MinRate=100"], Ok(RequestReadTimeout { body: Some(t(10, None, Some(100))), ..d })),
            (&["header"], Err("RequestReadTimeout: 'header' is not header=... or body=...")),
            (&["head=5"], Err("RequestReadTimeout: unknown phase 'head' (handshake, header or body)")),
            (&["handshake=5"], Ok(RequestReadTimeout { handshake: Some(t(5, None, None)), ..d })),
            (&["handshake=5-10,MinRate=100"], Ok(RequestReadTimeout { handshake: Some(t(5, Some(10), Some(100))), ..d })),
            (&["handshake=0"], Ok(RequestReadTimeout { handshake: None, ..d })),
            (&["header=5-10"], Err("RequestReadTimeout: header=5-10: a timeout range needs MinRate")),
            (&["header=10-5,MinRate=1"], Err("RequestReadTimeout: header=10-5,MinRate=1: the maximum must be larger than the initial timeout")),
            (&["header=5,MinRate=0"], Err("RequestReadTimeout: header=5,MinRate=0: MinRate '0' is not a positive number")),
            (&["header=5,Rate=9"], Err("RequestReadTimeout: header=5,Rate=9: 'Rate=9' is not MinRate=BYTES_PER_SECOND")),
            (&["header=x"], Err("RequestReadTimeout: header=x: 'x' is not a number of seconds (0 to 86400)")),
            (&["header=-5,MinRate=1"], Err("RequestReadTimeout: header=-5,MinRate=1: '' is not a number of seconds (0 to 86400)")),
            (&["header=99999999999999999999"], Err("RequestReadTimeout: header=99999999999999999999: '99999999999999999999' is not a number of seconds (0 to 86400)")),
            (&["header=0,MinRate=5"], Err("RequestReadTimeout: header=0,MinRate=5: 0 turns the phase off and takes no range or MinRate")),
        ];
        for (args, want) in rows {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            assert_eq!(
                parse_request_read_timeout(&args, d),
                want.map_err(str::to_string),
                "{args:?}"
            );
        }
        let e = load(
            "Listen 8080\nDocumentRoot /x\nRequestReadTimeout handshake=1 header=1 body=2 x=3\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            vec!["/etc/x/h.conf:3: RequestReadTimeout takes 1 to 3 argument(s), got 4".to_string()]
        );
    }

    #[test]
    fn read_timeout_extends_with_the_rate_up_to_the_maximum() {
        let h = RequestReadTimeout::default().header.unwrap();
        let rows = [
            (0, 20.0),
            (500, 21.0),
            (5000, 30.0),
            (10_000, 40.0),
            (u64::MAX, 40.0),
        ];
        for (received, secs) in rows {
            assert_eq!(
                h.allowed(received),
                Duration::from_secs_f64(secs),
                "{received}"
            );
        }
        let fixed = ReadTimeout {
            initial: Duration::from_secs(3),
            max: None,
            min_rate: None,
        };
        assert_eq!(fixed.allowed(1 << 40), Duration::from_secs(3));
    }

    #[test]
    fn options_table() {
        let base = Options {
            follow_symlinks: true,
            ..Options::default()
        };
        let rows: &[(&[&str], Options)] = &[
            (&["None"], Options::default()),
            (
                &["Indexes"],
                Options {
                    indexes: true,
                    ..Options::default()
                },
            ),
            (
                &["+Indexes"],
                Options {
                    indexes: true,
                    follow_symlinks: true,
                    ..Options::default()
                },
            ),
            (
                &["-FollowSymLinks", "+SymLinksIfOwnerMatch"],
                Options {
                    symlinks_if_owner_match: true,
                    ..Options::default()
                },
            ),
            (
                &["ExecCGI", "FollowSymLinks"],
                Options {
                    exec_cgi: true,
                    follow_symlinks: true,
                    ..Options::default()
                },
            ),
        ];
        for (args, want) in rows {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            assert_eq!(parse_options(&args, base).unwrap(), *want, "{args:?}");
        }
    }
}
