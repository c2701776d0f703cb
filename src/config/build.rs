//! Turns the parsed tree into a validated [`Config`]: every directive checked for its context,
//! its arity and its value; every problem reported with `FILE:LINE`. Pure: the loader has
//! already read the files and expanded `Include` and the conditional sections.
//!
//! What each directive means, where it may appear and how many arguments it takes is one row
//! of [`super::directives::TABLE`]; this file walks the tree, checks each node against its row
//! and calls the row's handler. The handlers live by job in the files under `build/`
//! (`server`, `logs`, `sections`, `mapping`, `auth`, `identity`; [`h`] gathers them for the
//! table), or in the module that owns the directive, such as `harden.rs`; `finish` turns the
//! drafts into the `Config` and runs the checks that need all of it.
#![forbid(unsafe_code)]

mod auth;
mod finish;
mod identity;
mod logs;
mod mapping;
mod sections;
mod server;
#[cfg(test)]
mod tests;

pub use identity::parse_confinement;
pub use mapping::{
    parse_add_handler, parse_options, parse_options_setting, parse_script_alias, OptionsSetting,
};
use sections::{parse_vhost_addr, vhost_addr_is_specific};
pub use server::{parse_listen, parse_request_read_timeout};

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
    /// This process's nice value, read at the first `NiceValue` (`-t`, start and the reload
    /// checker all run at the master's).
    nice_floor: Option<Option<i32>>,
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
        nice_floor: None,
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
    super::cgiread::check(&cfg, &mut b.errors, &mut b.warnings);
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
    /// The nice value the server runs at (`None` if the kernel would not say): children give up
    /// CAP_SYS_NICE before they read a request, so a `NiceValue` below it could never be set.
    pub(super) fn server_nice(&mut self) -> Option<i32> {
        use crate::sys::Sys;
        *self
            .nice_floor
            .get_or_insert_with(|| crate::sys::Linux.getpriority().ok())
    }

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

    /// An identity directive that needs `backend` in `Confinement` to have any effect.
    pub(super) fn need(&mut self, backend: Backend, name: &'static str, n: &Node) {
        self.needs.push((backend, name, origin(n)));
    }

    /// Relative paths resolve against ServerRoot, as in Apache.
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
}

fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
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

/// The handlers the rows of [`super::directives::TABLE`] point to. Each runs after the row's
/// context and argument count were checked.
pub(super) mod h {
    pub use super::auth::*;
    pub use super::identity::*;
    pub use super::logs::*;
    pub use super::mapping::*;
    pub use super::sections::*;
    pub use super::server::*;
}
