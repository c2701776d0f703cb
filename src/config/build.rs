//! Turns the parsed tree into a validated [`Config`]: every directive checked for its context,
//! its arity and its value; every problem reported with `FILE:LINE`. Pure: the loader has
//! already read the files and expanded `Include`.
#![forbid(unsafe_code)]

use super::model::*;
use super::parse::Node;
use super::ConfigError;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a directive appears; Apache's "context" column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Server,
    VHost,
    Dir,
}

struct Builder {
    errors: Vec<ConfigError>,
    /// A bad `Listen` is already reported; do not also say there is none.
    saw_listen: bool,
    /// `CGIScriptTimeout`, when given; otherwise CGI inherits `Timeout`.
    cgi_timeout: Option<Duration>,
}

pub fn build(nodes: &[Node], main_file: &Path) -> Result<Config, Vec<ConfigError>> {
    let mut b = Builder {
        errors: Vec::new(),
        saw_listen: false,
        cgi_timeout: None,
    };
    let mut cfg = Config {
        file: main_file.to_path_buf(),
        server_root: main_file.parent().unwrap_or(Path::new("/")).to_path_buf(),
        listen: Vec::new(),
        pid_file: None,
        error_log: LogTarget::Stderr,
        log_level: log::LevelFilter::Warn,
        custom_logs: Vec::new(),
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
        confinement: vec![crate::sandbox::Backend::Landlock],
        password_files: Vec::new(),
        selinux_maps: Default::default(),
        user_maps: Default::default(),
        users: Default::default(),
        vhosts: Vec::new(),
    };
    let mut main = VHostDraft::new(Origin {
        file: main_file.to_path_buf(),
        line: 0,
    });
    let mut vhosts = Vec::new();

    for node in nodes {
        if node.is("VirtualHost") {
            vhosts.push(b.vhost(node));
        } else if !b.vhost_directive(node, &mut main, Ctx::Server) {
            b.server_directive(node, &mut cfg);
        }
    }
    b.finish(&mut cfg, main, vhosts);
    if b.errors.is_empty() {
        Ok(cfg)
    } else {
        Err(b.errors)
    }
}

/// A vhost while its directives are being read; `document_root` may still be unset because
/// a `<VirtualHost>` inherits it from the main server.
struct VHostDraft {
    names: Vec<String>,
    document_root: Option<PathBuf>,
    root_origin: Option<Origin>,
    conf: DirConf,
    directories: Vec<Section>,
    locations: Vec<Section>,
    script_aliases: Vec<ScriptAlias>,
    origin: Origin,
}

impl VHostDraft {
    fn new(origin: Origin) -> Self {
        VHostDraft {
            names: Vec::new(),
            document_root: None,
            root_origin: None,
            conf: DirConf::default(),
            directories: Vec::new(),
            locations: Vec::new(),
            script_aliases: Vec::new(),
            origin,
        }
    }
}

fn origin(n: &Node) -> Origin {
    Origin {
        file: n.file.clone(),
        line: n.line,
    }
}

/// Relative paths resolve against the directory of the file that contains them.
fn resolve(n: &Node, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        n.file.parent().unwrap_or(Path::new("/")).join(path)
    }
}

impl Builder {
    fn error(&mut self, n: &Node, message: impl Into<String>) {
        self.errors.push(ConfigError {
            origin: origin(n),
            message: message.into(),
        });
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

    fn number<T: std::str::FromStr>(&mut self, n: &Node) -> Option<T> {
        if !self.arity(n, 1, 1) {
            return None;
        }
        match n.args[0].parse::<T>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.error(
                    n,
                    format!("{}: '{}' is not a valid number", n.name, n.args[0]),
                );
                None
            }
        }
    }

    fn on_off(&mut self, n: &Node) -> Option<bool> {
        if !self.arity(n, 1, 1) {
            return None;
        }
        match n.args[0].to_ascii_lowercase().as_str() {
            "on" => Some(true),
            "off" => Some(false),
            other => {
                self.error(n, format!("{} must be On or Off, not '{other}'", n.name));
                None
            }
        }
    }

    fn server_directive(&mut self, n: &Node, cfg: &mut Config) {
        let name = n.name.to_ascii_lowercase();
        if n.children.is_some() {
            self.error(n, format!("unknown section <{}>", n.name));
            return;
        }
        match name.as_str() {
            "listen" => {
                self.saw_listen = true;
                if self.arity(n, 1, 2) {
                    match parse_listen(&n.args[0]) {
                        Ok(a) if cfg.listen.contains(&a) => {
                            self.error(n, format!("Listen {a} is given twice"))
                        }
                        Ok(a) => cfg.listen.push(a),
                        Err(m) => self.error(n, m),
                    }
                }
            }
            "serverroot" => {
                if self.arity(n, 1, 1) {
                    cfg.server_root = resolve(n, &n.args[0]);
                }
            }
            "pidfile" => {
                if self.arity(n, 1, 1) {
                    cfg.pid_file = Some(resolve(n, &n.args[0]));
                }
            }
            "errorlog" => {
                if self.arity(n, 1, 1) {
                    cfg.error_log = if n.args[0].eq_ignore_ascii_case("stderr") {
                        LogTarget::Stderr
                    } else if n.args[0].starts_with('|') || n.args[0].starts_with("syslog") {
                        self.error(n, "ErrorLog: piped and syslog logs are not supported; give a path or 'stderr'");
                        return;
                    } else {
                        LogTarget::File(resolve(n, &n.args[0]))
                    };
                }
            }
            "loglevel" => {
                if self.arity(n, 1, 1) {
                    match parse_level(&n.args[0]) {
                        Some(l) => cfg.log_level = l,
                        None => self.error(n, format!("LogLevel: unknown level '{}'", n.args[0])),
                    }
                }
            }
            "customlog" => {
                if self.arity(n, 2, 2) {
                    let format = match n.args[1].to_ascii_lowercase().as_str() {
                        "combined" => LogFormat::Combined,
                        "common" => LogFormat::Common,
                        other => {
                            self.error(n, format!("CustomLog: format '{other}' is not supported (use combined or common)"));
                            return;
                        }
                    };
                    if n.args[0].starts_with('|') {
                        self.error(n, "CustomLog: piped logs are not supported");
                        return;
                    }
                    cfg.custom_logs.push(CustomLog {
                        path: resolve(n, &n.args[0]),
                        format,
                    });
                }
            }
            "user" => {
                if self.arity(n, 1, 1) {
                    cfg.user = Some(n.args[0].clone());
                }
            }
            "group" => {
                if self.arity(n, 1, 1) {
                    cfg.group = Some(n.args[0].clone());
                }
            }
            "startservers" => set(&mut cfg.start_servers, self.number(n)),
            "minspareservers" => set(&mut cfg.min_spare, self.number(n)),
            "maxspareservers" => set(&mut cfg.max_spare, self.number(n)),
            "maxrequestworkers" | "maxclients" => set(&mut cfg.max_workers, self.number(n)),
            "timeout" => set(
                &mut cfg.timeout,
                self.number::<u64>(n).map(Duration::from_secs),
            ),
            "keepalive" => set(&mut cfg.keep_alive, self.on_off(n)),
            "keepalivetimeout" => set(
                &mut cfg.keep_alive_timeout,
                self.number::<u64>(n).map(Duration::from_secs),
            ),
            "maxkeepaliverequests" => set(&mut cfg.max_keep_alive_requests, self.number(n)),
            "requestreadtimeout" => {
                if self.arity(n, 1, 2) {
                    match parse_request_read_timeout(&n.args, cfg.request_read_timeout) {
                        Ok(t) => cfg.request_read_timeout = t,
                        Err(m) => self.error(n, m),
                    }
                }
            }
            "reexecchildren" => set(&mut cfg.reexec_children, self.on_off(n)),
            "limitrequestline" => set(&mut cfg.limits.head.request_line, self.number(n)),
            "limitrequestfieldsize" => set(&mut cfg.limits.head.field_size, self.number(n)),
            "limitrequestfields" => set(&mut cfg.limits.head.fields, self.number(n)),
            "limitrequestbody" => set(&mut cfg.limits.body, self.number(n)),
            "cgiscripttimeout" => {
                if let Some(t) = self.number::<u64>(n) {
                    if t == 0 {
                        self.error(n, "CGIScriptTimeout must be at least 1 second");
                    } else {
                        self.cgi_timeout = Some(Duration::from_secs(t));
                    }
                }
            }
            "cgiownercheck" => set(&mut cfg.cgi_owner_check, self.on_off(n)),
            "confinement" => {
                if self.arity(n, 1, 3) {
                    match parse_confinement(&n.args) {
                        Ok(c) => cfg.confinement = c,
                        Err(m) => self.error(n, m),
                    }
                }
            }
            _ => self.error(n, format!("unknown directive '{}'", n.name)),
        }
    }

    /// Directives allowed in a vhost (and at server level, for the main server). Returns
    /// false when the directive is not one of them.
    fn vhost_directive(&mut self, n: &Node, v: &mut VHostDraft, ctx: Ctx) -> bool {
        let name = n.name.to_ascii_lowercase();
        match name.as_str() {
            "servername" => {
                if self.arity(n, 1, 1) {
                    match parse_host_name(&n.args[0]) {
                        Ok(h) => v.names.insert(0, h),
                        Err(m) => self.error(n, m),
                    }
                }
            }
            "serveralias" => {
                if self.arity(n, 1, usize::MAX) {
                    for a in &n.args {
                        match parse_host_name(a) {
                            Ok(h) => v.names.push(h),
                            Err(m) => self.error(n, m),
                        }
                    }
                }
            }
            "documentroot" => {
                if self.arity(n, 1, 1) {
                    v.document_root = Some(resolve(n, &n.args[0]));
                    v.root_origin = Some(origin(n));
                }
            }
            "directory" | "location" => {
                if n.children.is_none() {
                    self.error(n, format!("{} must be a section: <{}>", n.name, n.name));
                } else if self.arity(n, 1, 1) {
                    let is_dir = name == "directory";
                    let path = if is_dir {
                        let p = resolve(n, &n.args[0]);
                        normalize_dir(&p)
                    } else {
                        n.args[0].clone()
                    };
                    if !is_dir && !path.starts_with('/') {
                        self.error(
                            n,
                            format!("<Location {path}>: the URL path must start with '/'"),
                        );
                    }
                    let conf = self.dir_section(n);
                    let s = Section {
                        path,
                        conf,
                        origin: origin(n),
                    };
                    if is_dir {
                        v.directories.push(s);
                    } else {
                        v.locations.push(s);
                    }
                }
            }
            "scriptalias" => {
                if self.arity(n, 2, 2) {
                    match parse_script_alias(&n.args[0]) {
                        Ok(prefix) => v.script_aliases.push(ScriptAlias {
                            prefix,
                            dir: resolve(n, &n.args[1]),
                            origin: origin(n),
                        }),
                        Err(m) => self.error(n, m),
                    }
                }
            }
            "virtualhost" if ctx == Ctx::VHost => self.error(n, "<VirtualHost> cannot be nested"),
            _ => return self.dir_directive(n, &mut v.conf, ctx),
        }
        true
    }

    /// Directives allowed in `<Directory>`/`<Location>` and above.
    fn dir_directive(&mut self, n: &Node, d: &mut DirConf, _ctx: Ctx) -> bool {
        match n.name.to_ascii_lowercase().as_str() {
            "options" => {
                if self.arity(n, 1, usize::MAX) {
                    match parse_options_setting(&n.args) {
                        Ok(OptionsSetting::Absolute(o)) => {
                            d.options = Some(o);
                            d.options_delta = None;
                        }
                        Ok(OptionsSetting::Relative(delta)) => match d.options {
                            Some(o) => d.options = Some(delta.apply(o)),
                            None => {
                                d.options_delta =
                                    Some(d.options_delta.unwrap_or_default().then(&delta))
                            }
                        },
                        Err(m) => self.error(n, m),
                    }
                }
            }
            "addhandler" => {
                if self.arity(n, 2, usize::MAX) {
                    match parse_add_handler(&n.args) {
                        Ok(exts) => d.cgi_extensions.get_or_insert_with(Vec::new).extend(exts),
                        Err(m) => self.error(n, m),
                    }
                }
            }
            "directoryindex" => {
                if self.arity(n, 1, usize::MAX) {
                    if n.args.len() == 1 && n.args[0].eq_ignore_ascii_case("disabled") {
                        d.directory_index = Some(Vec::new());
                    } else if let Some(bad) = n
                        .args
                        .iter()
                        .find(|a| a.contains('/') || a.as_str() == "..")
                    {
                        self.error(
                            n,
                            format!("DirectoryIndex: '{bad}' must be a plain file name"),
                        );
                    } else {
                        d.directory_index = Some(n.args.clone());
                    }
                }
            }
            "authtype" => {
                if self.arity(n, 1, 1) {
                    match n.args[0].to_ascii_lowercase().as_str() {
                        "basic" => d.auth_basic = Some(true),
                        "none" => d.auth_basic = Some(false),
                        other => self.error(
                            n,
                            format!("AuthType '{other}' is not supported (Basic or None)"),
                        ),
                    }
                }
            }
            "authname" => {
                if self.arity(n, 1, 1) {
                    if n.args[0].contains(['"', '\\']) || n.args[0].chars().any(char::is_control) {
                        self.error(
                            n,
                            "AuthName must not contain quotes, backslashes or control characters",
                        );
                    } else {
                        d.auth_name = Some(n.args[0].clone());
                    }
                }
            }
            "authuserfile" => {
                if self.arity(n, 1, 1) {
                    d.auth_user_file = Some(resolve(n, &n.args[0]));
                }
            }
            "require" => {
                let args: Vec<&str> = n.args.iter().map(String::as_str).collect();
                match crate::auth::parse_require(&args) {
                    Ok(r) => d.requires.get_or_insert_with(Vec::new).push(r),
                    Err(m) => self.error(n, format!("Require: {m}")),
                }
            }
            "selinuxdomainmap" | "selinuxconfigfile" => {
                if self.arity(n, 1, 1) {
                    d.selinux_map = Some(resolve(n, &n.args[0]));
                }
            }
            "selinuxdomainval" | "selinuxdefaultdomain" => {
                if self.arity(n, 1, 1) {
                    match crate::policy::parse_selinux_target(&n.args[0]) {
                        Ok(t) if t.is_noop() => self.error(n, format!("{}: '*' for both domain and range would serve in the worker's own context", n.name)),
                        Ok(t) => d.selinux_default = Some(t),
                        Err(m) => self.error(n, format!("{}: {m}", n.name)),
                    }
                }
            }
            "useridmap" => {
                if self.arity(n, 1, 1) {
                    d.user_map = Some(resolve(n, &n.args[0]));
                }
            }
            "assignuserid" => {
                if self.arity(n, 2, 2) {
                    match crate::policy::parse_unix_target(&format!("{}:{}", n.args[0], n.args[1]))
                    {
                        Ok(t) => d.assign_user = Some(t),
                        Err(m) => self.error(n, format!("AssignUserID: {m}")),
                    }
                }
            }
            _ => return false,
        }
        true
    }

    fn dir_section(&mut self, n: &Node) -> DirConf {
        let mut d = DirConf::default();
        for c in n.children.as_deref().unwrap_or_default() {
            if c.children.is_some() {
                self.error(
                    c,
                    format!("<{}> is not allowed inside <{}>", c.name, n.name),
                );
            } else if !self.dir_directive(c, &mut d, Ctx::Dir) {
                self.not_here(c, &n.name);
            }
        }
        d
    }

    fn not_here(&mut self, n: &Node, section: &str) {
        if is_known(&n.name) {
            self.error(n, format!("{} is not allowed in <{section}>", n.name));
        } else {
            self.error(n, format!("unknown directive '{}'", n.name));
        }
    }

    fn vhost(&mut self, n: &Node) -> VHostDraft {
        let mut v = VHostDraft::new(origin(n));
        if n.args.is_empty() {
            self.error(
                n,
                "<VirtualHost> needs an address, e.g. <VirtualHost *:8080>",
            );
        }
        for a in &n.args {
            if let Err(m) = parse_vhost_addr(a) {
                self.error(n, m);
            }
        }
        for c in n.children.as_deref().unwrap_or_default() {
            if !self.vhost_directive(c, &mut v, Ctx::VHost) {
                self.not_here(c, "VirtualHost");
            }
        }
        v
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
        let drafts = if drafts.is_empty() {
            vec![VHostDraft::new(main.origin.clone())]
        } else {
            drafts
        };
        for d in drafts {
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
            // Apache applies <Directory> from the shortest path to the longest.
            directories.sort_by_key(|s| s.path.len());
            let mut locations = main.locations.clone();
            locations.extend(d.locations);
            let mut script_aliases = d.script_aliases;
            script_aliases.extend(main.script_aliases.iter().cloned());
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
                locations,
                script_aliases,
                origin: d.origin,
            });
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

const KNOWN: &[&str] = &[
    "listen",
    "serverroot",
    "pidfile",
    "errorlog",
    "loglevel",
    "customlog",
    "user",
    "group",
    "startservers",
    "minspareservers",
    "maxspareservers",
    "maxrequestworkers",
    "maxclients",
    "timeout",
    "keepalive",
    "keepalivetimeout",
    "maxkeepaliverequests",
    "requestreadtimeout",
    "reexecchildren",
    "limitrequestline",
    "limitrequestfieldsize",
    "limitrequestfields",
    "limitrequestbody",
    "cgiscripttimeout",
    "cgiownercheck",
    "scriptalias",
    "addhandler",
    "servername",
    "serveralias",
    "documentroot",
    "directoryindex",
    "options",
    "include",
    "includeoptional",
    "virtualhost",
    "directory",
    "location",
];

fn is_known(name: &str) -> bool {
    KNOWN.contains(&name.to_ascii_lowercase().as_str())
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

/// `RequestReadTimeout [header=T[-MAX][,MinRate=R]] [body=T[-MAX][,MinRate=R]]`, as Apache's
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
            "handshake" => return Err(
                "RequestReadTimeout: handshake= applies to TLS, which this server does not speak"
                    .into(),
            ),
            _ => {
                return Err(format!(
                    "RequestReadTimeout: unknown phase '{key}' (header or body)"
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

/// `ScriptAlias URL-PREFIX DIR`: the prefix as decoded route segments. A prefix covering the
/// whole site would turn every URL into a program, so it is refused.
pub fn parse_script_alias(url: &str) -> Result<Vec<String>, String> {
    if !url.starts_with('/') {
        return Err(format!(
            "ScriptAlias: the URL prefix '{url}' must start with '/'"
        ));
    }
    let r = crate::child::route::route(url)
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
    if !args[0].eq_ignore_ascii_case("cgi-script") {
        return Err(format!(
            "AddHandler: handler '{}' is not supported (only cgi-script)",
            args[0]
        ));
    }
    args[1..]
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
        let (on, word) = match a.as_bytes()[0] {
            b'+' => (true, &a[1..]),
            b'-' => (false, &a[1..]),
            _ => (true, a.as_str()),
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
            "includes" | "includesnoexec" | "multiviews" => {
                return Err(format!("Options: '{word}' is not supported by this server"))
            }
            _ => return Err(format!("Options: unknown option '{word}'")),
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse::parse;

    fn load(text: &str) -> Result<Config, Vec<String>> {
        let nodes = parse(text, Path::new("/etc/x/h.conf"))
            .map_err(|e| e.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
        build(&nodes, Path::new("/etc/x/h.conf"))
            .map_err(|e| e.iter().map(|e| e.to_string()).collect())
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
            (&["header=0", "body=0"], Ok(RequestReadTimeout { header: None, body: None })),
            (&["body=10,MinRate=100"], Ok(RequestReadTimeout { body: Some(t(10, None, Some(100))), ..d })),
            (&["header"], Err("RequestReadTimeout: 'header' is not header=... or body=...")),
            (&["head=5"], Err("RequestReadTimeout: unknown phase 'head' (header or body)")),
            (&["handshake=5"], Err("RequestReadTimeout: handshake= applies to TLS, which this server does not speak")),
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
        let e = load("Listen 8080\nDocumentRoot /x\nRequestReadTimeout header=1 body=2 x=3\n")
            .unwrap_err();
        assert_eq!(
            e,
            vec!["/etc/x/h.conf:3: RequestReadTimeout takes 1 to 2 argument(s), got 3".to_string()]
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
