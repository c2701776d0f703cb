//! The directive table: every directive the server knows, one row each: where it may appear,
//! how many arguments it takes, the Apache module it belongs to (for `<IfModule>` and
//! `LoadModule`), what it does here, and the function that applies it. The builder
//! ([`super::build`]) checks the context, the argument count and the status from the row, then
//! calls the handler; adding a directive is adding a row (its handler may live in any module of
//! `config`, as `harden.rs`'s do).
//!
//! `tests/apache/directives.txt` is this table rendered (a test keeps it current), and the
//! configuration reference (docs/configuration.md) names every row.
#![forbid(unsafe_code)]

use super::build::{h, Builder, VHostDraft};
use super::model::{Config, DirConf};
use super::parse::Node;

/// Contexts, Apache's "Context" line, as bits.
pub type Contexts = u8;
pub const SERVER: Contexts = 1;
pub const VHOST: Contexts = 2;
pub const DIRECTORY: Contexts = 4;
pub const LOCATION: Contexts = 8;
/// `<Files>`/`<FilesMatch>`: Apache's "directory" context includes them, so every row
/// allowed in `<Directory>` is, except where the row says otherwise.
pub const FILES: Contexts = 16;
/// Inside `<Limit>`/`<LimitExcept>`: `Require` lines there apply to the named methods.
pub const LIMIT: Contexts = 32;
/// Inside `<RequireAll>`/`<RequireAny>`/`<RequireNone>`: only `Require` and the containers.
pub const AUTHZ: Contexts = 64;
const SV: Contexts = SERVER | VHOST;
const ANY: Contexts = SERVER | VHOST | DIRECTORY | LOCATION | FILES;
const DIR_ONLY: Contexts = DIRECTORY;
/// Authorization: anywhere `Require` is, and inside `<Limit>` and the containers.
const AUTHZ_ANY: Contexts = ANY | LIMIT | AUTHZ;
/// The other auth directives: as Apache, also inside `<Limit>` (applying to every method).
const AUTH: Contexts = ANY | LIMIT;

/// How many arguments a row takes. `Own`: the handler checks them with its own messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    Exactly(usize),
    Range(usize, usize),
    AtLeast(usize),
    Own,
    /// A `<Section ARGS>` block with this many arguments (`usize::MAX`: any).
    Section(usize, usize),
}

/// What the server does with a directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Applied by its handler.
    Implemented,
    /// Accepted with Apache's meaning because the server already behaves that way (values
    /// that would ask for something else get a warning or an error from the handler).
    Apache,
    /// Accepted without effect: a `-t` warning naming FILE:LINE with this reason.
    NoEffect(&'static str),
    /// Refused: an error naming FILE:LINE with this reason and what to do.
    Refused(&'static str),
    /// Acted on while the files are read (`Include`, `Define`, `<IfModule>`...); never reaches
    /// the builder through the loader.
    Reader,
}

pub type ServerFn = fn(&mut Builder, &Node, &mut Config);
pub type VHostFn = fn(&mut Builder, &Node, &mut VHostDraft);
pub type DirFn = fn(&mut Builder, &Node, &mut DirConf);
pub type CheckFn = fn(&mut Builder, &Node);

/// The function that applies a directive, by the scope it writes to.
#[derive(Clone, Copy)]
pub enum Handler {
    /// Server-wide settings (rows whose context is `SERVER` only).
    Server(ServerFn),
    /// A virtual host (or the main server) as a whole.
    VHost(VHostFn),
    /// Per-directory settings: the main server's, a vhost's, a `<Directory>`'s or `<Location>`'s.
    Dir(DirFn),
    /// Only checks the arguments (statuses `Apache` and `NoEffect`).
    Check(CheckFn),
    None,
}

#[derive(Clone, Copy)]
pub struct Directive {
    /// As the documentation spells it; matched case-insensitively.
    pub name: &'static str,
    pub contexts: Contexts,
    pub arity: Arity,
    /// The module `<IfModule>`/`LoadModule` know it by, or `oneshot` for this server's own.
    pub module: &'static str,
    pub status: Status,
    pub handler: Handler,
    /// One line for `tests/apache/directives.txt`.
    pub note: &'static str,
}

impl Directive {
    pub fn allows(&self, ctx: Contexts) -> bool {
        self.contexts & ctx != 0
    }
}

const fn row(
    name: &'static str,
    contexts: Contexts,
    arity: Arity,
    module: &'static str,
    status: Status,
    handler: Handler,
    note: &'static str,
) -> Directive {
    Directive {
        name,
        contexts,
        arity,
        module,
        status,
        handler,
        note,
    }
}

use Arity::{AtLeast, Exactly, Own, Range, Section};
use Handler::{Check, Dir, Server, VHost};
use Status::{Apache, Implemented, NoEffect, Reader, Refused};

const fn implemented(
    name: &'static str,
    contexts: Contexts,
    arity: Arity,
    module: &'static str,
    handler: Handler,
    note: &'static str,
) -> Directive {
    row(name, contexts, arity, module, Implemented, handler, note)
}

const fn reader(
    name: &'static str,
    arity: Arity,
    module: &'static str,
    note: &'static str,
) -> Directive {
    row(name, ANY, arity, module, Reader, Handler::None, note)
}

const fn no_effect(
    name: &'static str,
    contexts: Contexts,
    arity: Arity,
    module: &'static str,
    why: &'static str,
) -> Directive {
    row(
        name,
        contexts,
        arity,
        module,
        NoEffect(why),
        Handler::None,
        "",
    )
}

const fn refused(name: &'static str, module: &'static str, why: &'static str) -> Directive {
    row(name, ANY, Own, module, Refused(why), Handler::None, "")
}

const HTACCESS: &str = "has no effect here: names the per-directory files AllowOverride would read, and AllowOverride is always None";
const THREADS: &str = "this server has no threads (one process per connection): size the pool with StartServers, MinSpareServers, MaxSpareServers, MaxRequestWorkers";
const ICONS: &str = "directory listings have no icons";
const NEGOTIATION: &str = "there is no content negotiation";
const COMPAT: &str = "is Apache 2.2 access control (mod_access_compat), refused: write Require instead (Require all granted, Require ip 10.0.0.0/8, Require valid-user...)";
const REWRITE: &str = "oneshot-httpd has no mod_rewrite: map URLs with ScriptAlias and DocumentRoot, or rewrite in a proxy in front";
const PROXY: &str = "oneshot-httpd is not a proxy: put it behind one instead";
const PHP: &str = "PHP does not run inside the server: run it as a CGI program (AddHandler cgi-script .php), in the request's identity";

/// Every directive, in the order of the configuration reference (docs/configuration.md).
pub const TABLE: &[Directive] = &[
    // Reading the files.
    reader("Include", Exactly(1), "core_module", "file, directory or wildcard, relative to ServerRoot"),
    reader("IncludeOptional", Exactly(1), "core_module", "as Include; nothing matching is not an error"),
    reader("Define", Range(1, 2), "core_module", "NAME [VALUE]: for <IfDefine> and ${NAME}; also -D NAME"),
    reader("UnDefine", Exactly(1), "core_module", "forgets a Define"),
    reader("LoadModule", Exactly(2), "so_module", "accepted for implemented modules; see the module rule"),
    reader("IfDefine", Section(1, 1), "core_module", "[!]NAME"),
    reader("IfModule", Section(1, 1), "core_module", "[!]MODULE: true for built-in and loaded implemented modules"),
    reader("IfFile", Section(1, 1), "core_module", "[!]PATH, relative to ServerRoot"),
    reader("IfVersion", Section(1, 2), "version_module", "[[!]OP] VERSION against 2.4.62; regular expressions refused"),
    // Server.
    implemented("Listen", SERVER, Range(1, 2), "mpm_prefork_module", Server(h::listen), "[ADDR:]PORT; the master binds"),
    implemented("ServerRoot", SERVER, Exactly(1), "core_module", Server(h::server_root), "relative paths resolve against it (default: the main file's directory)"),
    implemented("PidFile", SERVER, Exactly(1), "mpm_prefork_module", Server(h::pid_file), "as Apache"),
    implemented("ErrorLog", SV, Exactly(1), "core_module", VHost(h::error_log), "PATH or stderr; in a vhost: that vhost's errors once a request selected it (docs/deployment.md)"),
    implemented("LogLevel", SERVER, Exactly(1), "core_module", Server(h::log_level), "as Apache (one level)"),
    implemented("LogFormat", SV, Range(1, 2), "log_config_module", VHost(h::log_format), "FORMAT NICKNAME: Apache's format letters (src/logformat.rs); without a nickname, a warning"),
    implemented("CustomLog", SV, Exactly(2), "log_config_module", VHost(h::custom_log), "PATH|\"|program\"|\"|$shell command\" NICKNAME|FORMAT; per vhost as Apache (docs/deployment.md)"),
    implemented("User", SERVER, Exactly(1), "unixd_module", Server(h::user), "children's identity when the master runs as root"),
    implemented("Group", SERVER, Exactly(1), "unixd_module", Server(h::group), "as User"),
    implemented("StartServers", SERVER, Exactly(1), "mpm_prefork_module", Server(h::start_servers), "the pristine-child pool"),
    implemented("MinSpareServers", SERVER, Exactly(1), "mpm_prefork_module", Server(h::min_spare), "the pristine-child pool"),
    implemented("MaxSpareServers", SERVER, Exactly(1), "mpm_prefork_module", Server(h::max_spare), "the pristine-child pool"),
    implemented("MaxRequestWorkers", SERVER, Exactly(1), "mpm_prefork_module", Server(h::max_workers), "live children at most"),
    implemented("MaxClients", SERVER, Exactly(1), "mpm_prefork_module", Server(h::max_workers), "old name of MaxRequestWorkers"),
    row("MaxConnectionsPerChild", SERVER, Exactly(1), "mpm_prefork_module", Apache, Server(h::connections_per_child), "every child serves one connection, which any value allows"),
    row("MaxRequestsPerChild", SERVER, Exactly(1), "mpm_prefork_module", Apache, Server(h::connections_per_child), "old name of MaxConnectionsPerChild"),
    implemented("Timeout", SERVER, Exactly(1), "core_module", Server(h::timeout), "upper bound of every phase"),
    implemented("KeepAlive", SERVER, Exactly(1), "core_module", Server(h::keep_alive), "within one child"),
    implemented("KeepAliveTimeout", SERVER, Exactly(1), "core_module", Server(h::keep_alive_timeout), "as Apache"),
    implemented("MaxKeepAliveRequests", SERVER, Exactly(1), "core_module", Server(h::max_keep_alive_requests), "as Apache"),
    implemented("RequestReadTimeout", SERVER, Range(1, 3), "reqtimeout_module", Server(h::request_read_timeout), "mod_reqtimeout syntax and defaults"),
    implemented("ReexecChildren", SERVER, Exactly(1), "oneshot", Server(h::reexec_children), "fresh ASLR per connection"),
    implemented("LimitRequestLine", SERVER, Exactly(1), "core_module", Server(h::limit_request_line), "414"),
    implemented("LimitRequestFieldSize", SERVER, Exactly(1), "core_module", Server(h::limit_request_field_size), "431"),
    implemented("LimitRequestFields", SERVER, Exactly(1), "core_module", Server(h::limit_request_fields), "431"),
    implemented("LimitRequestBody", SERVER, Exactly(1), "core_module", Server(h::limit_request_body), "413"),
    implemented("CGIScriptTimeout", SERVER, Exactly(1), "cgid_module", Server(h::cgi_script_timeout), "idle program killed: 504 or close"),
    implemented("CGIOwnerCheck", SERVER, Exactly(1), "oneshot", Server(h::cgi_owner_check), "suEXEC's owner check"),
    implemented("Confinement", SERVER, Range(1, 3), "oneshot", Server(h::confinement), "selinux|unix|landlock backends every child enters"),
    implemented("Namespaces", SERVER, Own, "oneshot", Server(h::namespaces), "per-connection namespaces"),
    implemented("selinuxConnectionCategories", SERVER, Exactly(1), "selinux_module", Server(h::connection_categories), "an MCS category per live connection"),
    row("DefaultRuntimeDir", SERVER, Exactly(1), "core_module", NoEffect("there are no runtime files besides PidFile"), Handler::None, ""),
    row("Mutex", SERVER, AtLeast(1), "core_module", NoEffect("no mutex is used: each child accepts alone and serves one connection"), Handler::None, ""),
    row("NameVirtualHost", SERVER, Exactly(1), "core_module", NoEffect("no effect in Apache 2.4 either: name-based virtual hosts need no declaration"), Handler::None, ""),
    row("ServerTokens", SERVER, Exactly(1), "core_module", Apache, Check(h::server_tokens), "Prod is the behaviour (Server: oneshot-httpd); other values: a warning"),
    row("TraceEnable", SV, Exactly(1), "core_module", Apache, Check(h::trace_enable), "Off is the behaviour (TRACE is 405); On/extended: a warning"),
    row("HostnameLookups", ANY, Exactly(1), "core_module", Apache, Check(h::hostname_lookups), "Off is the behaviour; On/Double: a warning"),
    row("ServerSignature", ANY, Exactly(1), "core_module", Apache, Check(h::server_signature), "Off is the behaviour; On/EMail: a warning"),
    row("ServerAdmin", SV, Exactly(1), "core_module", NoEffect("shown nowhere: generated pages carry no signature and CGI programs get no SERVER_ADMIN"), Handler::None, ""),
    row("AccessFileName", SV, AtLeast(1), "core_module", Apache, Handler::None, HTACCESS),
    row("AllowOverride", DIR_ONLY, AtLeast(1), "core_module", Apache, Check(h::allow_override), "None is the behaviour; anything else is an error: .htaccess is never read"),
    row("AllowOverrideList", DIR_ONLY, AtLeast(1), "core_module", Apache, Check(h::allow_override), "as AllowOverride"),
    no_effect("EnableSendfile", ANY, Exactly(1), "core_module", "the server chooses how file bodies are sent"),
    no_effect("EnableMMAP", ANY, Exactly(1), "core_module", "the server chooses how file bodies are read"),
    no_effect("ThreadsPerChild", SERVER, Exactly(1), "mpm_event_module", THREADS),
    no_effect("ThreadLimit", SERVER, Exactly(1), "mpm_event_module", THREADS),
    no_effect("MinSpareThreads", SERVER, Exactly(1), "mpm_event_module", THREADS),
    no_effect("MaxSpareThreads", SERVER, Exactly(1), "mpm_event_module", THREADS),
    // Virtual hosts.
    implemented("VirtualHost", SERVER, Own, "core_module", Handler::None, "<VirtualHost ADDR:PORT>, chosen by Host name"),
    implemented("ServerName", SV, Exactly(1), "core_module", VHost(h::server_name), "name-based"),
    implemented("ServerAlias", SV, AtLeast(1), "core_module", VHost(h::server_alias), "name-based"),
    implemented("DocumentRoot", SV, Exactly(1), "core_module", VHost(h::document_root), "as Apache"),
    implemented("Directory", SV, Section(1, 2), "core_module", VHost(h::directory), "PATH with fnmatch wildcards, fewest components first; `~ RE` as DirectoryMatch"),
    implemented("DirectoryMatch", SV, Section(1, 1), "core_module", VHost(h::directory), "regex against the file's full path, after every <Directory>, in file order"),
    implemented("Files", SV | DIRECTORY, Section(1, 2), "core_module", Dir(h::files), "NAME with fnmatch wildcards against the file name; `~ RE` as FilesMatch; after the directory sections"),
    implemented("FilesMatch", SV | DIRECTORY, Section(1, 1), "core_module", Dir(h::files), "regex against the file name (empty for a directory request), in order with <Files>"),
    implemented("Location", SV, Section(1, 2), "core_module", VHost(h::location), "URL prefix (segment boundary) or wildcards on the decoded, normalized URL path; `~ RE` as LocationMatch; last"),
    implemented("LocationMatch", SV, Section(1, 1), "core_module", VHost(h::location), "regex against the decoded, normalized URL path, in order with <Location>"),
    implemented("ScriptAlias", SV, Exactly(2), "alias_module", VHost(h::script_alias), "a CGI directory under a URL prefix"),
    implemented("Alias", SV, Exactly(2), "alias_module", VHost(h::alias), "URL-PATH TARGET, after every ScriptAlias; Landlock grants the target (read)"),
    implemented("AliasMatch", SV, Exactly(2), "alias_module", VHost(h::alias), "REGEX TARGET with $0-$9; Landlock grants the target's literal directory"),
    implemented("Redirect", SV, Own, "alias_module", VHost(h::redirect), "[permanent|temp|seeother|gone|3xx|4xx] URL-PATH [URL], before admission; not in sections"),
    implemented("RedirectMatch", SV, Own, "alias_module", VHost(h::redirect), "[STATUS] REGEX [URL] with $0-$9"),
    implemented("RedirectPermanent", SV, Own, "alias_module", VHost(h::redirect), "as Redirect permanent"),
    implemented("RedirectTemp", SV, Own, "alias_module", VHost(h::redirect), "as Redirect temp"),
    implemented("CgroupPerConnection", SERVER, Own, "oneshot", Server(h::cgroup_or_verifier), "a cgroup v2 per connection (delegated subtree)"),
    implemented("ConnectionPidsMax", SERVER, Own, "oneshot", Server(h::cgroup_or_verifier), "pids.max of each connection's cgroup"),
    implemented("ConnectionMemoryMax", SERVER, Own, "oneshot", Server(h::cgroup_or_verifier), "memory.max of each connection's cgroup"),
    implemented("ConnectionCPUMax", SERVER, Own, "oneshot", Server(h::cgroup_or_verifier), "cpu.max of each connection's cgroup"),
    implemented("VerifierUser", SERVER, Own, "oneshot", Server(h::cgroup_or_verifier), "the password verifier's uid (root master)"),
    implemented("VerifierGroup", SERVER, Own, "oneshot", Server(h::cgroup_or_verifier), "the password verifier's gid"),
    implemented("selinuxVerifierContext", SERVER, Own, "selinux_module", Server(h::cgroup_or_verifier), "the verifier's SELinux context"),
    implemented("SSLEngine", SV, Own, "ssl_module", Check(h::second_pass), "read by config::tls: the vhost is TLS-only"),
    implemented("SSLCertificateFile", SV, Own, "ssl_module", Check(h::second_pass), "read by config::tls"),
    implemented("SSLCertificateKeyFile", SV, Own, "ssl_module", Check(h::second_pass), "read by config::tls; only the key holder opens it"),
    implemented("SSLCertificateChainFile", SV, Own, "ssl_module", Check(h::second_pass), "read by config::tls"),
    implemented("SSLProtocol", SV, Own, "ssl_module", Check(h::second_pass), "read by config::tls: TLSv1.2, TLSv1.3"),
    implemented("SSLCipherSuite", SV, Own, "ssl_module", Check(h::second_pass), "read by config::tls: explicit suite names"),
    implemented("SSLStrictSNIVHostCheck", SV, Own, "ssl_module", Check(h::second_pass), "read by config::tls"),
    implemented("SSLHonorCipherOrder", SV, Own, "ssl_module", Check(h::second_pass), "read by config::tls: On = the server's SSLCipherSuite order decides (rustls ignore_client_order)"),
    implemented("SSLOptions", ANY, AtLeast(1), "ssl_module", Dir(super::tls::other::options), "StdEnvVars: SSL_* for CGI; client-certificate options warn"),
    row("SSLSessionTickets", SV, Exactly(1), "ssl_module", Apache, Check(super::tls::other::session_tickets), "Off as Apache; On warns (never issued)"),
    row("SSLCompression", SV, Exactly(1), "ssl_module", Apache, Check(super::tls::other::compression), "Off as Apache; On warns (never offered)"),
    row("SSLSessionCache", SERVER, Exactly(1), "ssl_module", Apache, Check(super::tls::other::session_cache), "none as Apache; a cache warns (resumption is off)"),
    row("SSLSessionCacheTimeout", SV, Exactly(1), "ssl_module", Apache, Check(super::tls::other::session_cache_timeout), "warns: resumption is off"),
    no_effect("SSLRandomSeed", SERVER, Range(2, 3), "ssl_module", "rustls and ring draw every random number from the kernel (getrandom(2)); there is no PRNG to seed"),
    no_effect("SSLPassPhraseDialog", SERVER, Exactly(1), "ssl_module", "keys are read unencrypted by the key holder, which never asks for a pass phrase (an encrypted key stops the start)"),
    implemented("SSLKeyHolderContext", SERVER, Own, "oneshot", Check(h::second_pass), "read by config::tls: the key holder's SELinux context"),
    implemented("SSLRelaySocketContext", SERVER, Own, "oneshot", Check(h::second_pass), "read by config::tls: the SELinux context of the TLS relay's plaintext socketpair"),
    implemented("RemoteIPProxyProtocol", SV, Own, "remoteip_module", Check(h::second_pass), "read by config::proxy: PROXY v1/v2"),
    implemented("RemoteIPProxyProtocolExceptions", SV, Own, "remoteip_module", Check(h::second_pass), "read by config::proxy"),
    implemented("RemoteIPProxyProtocolTrusted", SV, Own, "oneshot", Check(h::second_pass), "read by config::proxy: sources that may send a header"),
    implemented("AllowConnect", SV, Own, "oneshot", VHost(super::harden::row), "TCP ports programs may connect to"),
    implemented("SeccompAllow", SV, Own, "oneshot", VHost(super::harden::row), "lifts named seccomp rules"),
    implemented("CGIReadPath", SV, Own, "oneshot", VHost(super::cgiread::row), "read-only Landlock trees for CGI programs (an interpreter's configuration)"),
    implemented("RLimitCPU", SV, Own, "core_module", VHost(super::harden::row), "CGI limits"),
    implemented("RLimitMEM", SV, Own, "core_module", VHost(super::harden::row), "CGI limits"),
    implemented("RLimitNPROC", SV, Own, "core_module", VHost(super::harden::row), "CGI limits"),
    // Any scope.
    implemented("Options", ANY, AtLeast(1), "core_module", Dir(h::options), "Indexes FollowSymLinks SymLinksIfOwnerMatch ExecCGI, absolute or +/-"),
    implemented("AddHandler", ANY, AtLeast(2), "mime_module", Dir(h::add_handler), "cgi-script only (type-map: a warning)"),
    implemented("DirectoryIndex", ANY, AtLeast(1), "dir_module", Dir(h::directory_index), "as Apache"),
    implemented("AuthType", AUTH, Exactly(1), "authn_core_module", Dir(h::auth_type), "Basic or None"),
    implemented("AuthName", AUTH, Exactly(1), "authn_core_module", Dir(h::auth_name), "the realm"),
    implemented("AuthUserFile", AUTH, Exactly(1), "authn_file_module", Dir(h::auth_user_file), "htpasswd"),
    implemented("AuthBasicProvider", AUTH, AtLeast(1), "auth_basic_module", Dir(h::auth_basic_provider), "file, pam: tried in order (docs/pam.md)"),
    implemented("AuthPAMService", AUTH, Exactly(1), "authnz_pam_module", Dir(h::auth_pam_service), "the /etc/pam.d service (docs/pam.md)"),
    implemented("AuthGroupFile", AUTH, Exactly(1), "authz_groupfile_module", Dir(super::authz::auth_group_file), "GROUP: USER... lines, read by the master at load; a missing or malformed file is an error"),
    implemented("AuthzSendForbiddenOnFailure", AUTH, Exactly(1), "authz_core_module", Dir(h::authz_send_forbidden), "403 instead of 401"),
    implemented("Require", AUTHZ_ANY, Own, "authz_core_module", Dir(super::authz::require), "[not] valid-user, user, group, all, ip, local, method; host, forward-dns, expr, env refused with the reason"),
    implemented("RequireAll", AUTHZ_ANY, Section(0, 0), "authz_core_module", Dir(super::authz::require_section), "every rule must grant; Require not and <RequireNone> inside remove"),
    implemented("RequireAny", AUTHZ_ANY, Section(0, 0), "authz_core_module", Dir(super::authz::require_section), "one rule must grant (a section's plain Require lines are one)"),
    implemented("RequireNone", AUTHZ_ANY, Section(0, 0), "authz_core_module", Dir(super::authz::require_section), "no rule may grant; never grants on its own, so only inside <RequireAll>"),
    implemented("AuthMerging", AUTH, Exactly(1), "authz_core_module", Dir(super::authz::auth_merging), "Off | And | Or with the enclosing sections' rules"),
    implemented("Limit", ANY | AUTHZ, Section(1, usize::MAX), "core_module", Dir(super::authz::limit), "METHOD...: the Require lines inside apply to those methods (HEAD is GET); other auth directives to all"),
    implemented("LimitExcept", ANY | AUTHZ, Section(1, usize::MAX), "core_module", Dir(super::authz::limit), "METHOD...: the Require lines inside apply to all other methods"),
    implemented("Dav", DIRECTORY | LOCATION, Exactly(1), "dav_module", Dir(super::dav::dav), "class 1 and 2, as the admitted user (docs/webdav.md)"),
    implemented("DavDepthInfinity", ANY, Exactly(1), "dav_module", Dir(super::dav::depth_infinity), "PROPFIND Depth: infinity"),
    implemented("LimitXMLRequestBody", ANY, Exactly(1), "core_module", Dir(super::dav::limit_xml_body), "413 for larger WebDAV XML bodies"),
    no_effect("DavLockDB", SV, Exactly(1), "dav_fs_module", "locks live in user.* extended attributes of the locked resources (docs/webdav.md)"),
    implemented("selinuxDomainMap", ANY, Exactly(1), "selinux_module", Dir(h::selinux_map), "mod_selinux map"),
    implemented("selinuxConfigFile", ANY, Exactly(1), "selinux_module", Dir(h::selinux_map), "old name of selinuxDomainMap"),
    implemented("selinuxServerDomain", SERVER, Own, "selinux_module", Server(super::itk::selinux_server_domain), "DOMAIN:RANGE the server must already run in: checked at -t when SELinux is enabled, else a warning (docs/itk.md)"),
    implemented("selinuxDomainEnv", ANY, Own, "selinux_module", Dir(super::itk::selinux_domain_env), "VAR: DOMAIN:RANGE from a variable only literal admin rules set (docs/itk.md)"),
    no_effect("selinuxAllowCaches", ANY, Exactly(1), "selinux_module", "there are no content caches, so nothing is served before authentication and the domain transition (mod_selinux's reason to turn caches off)"),
    implemented("selinuxDomainVal", ANY, Exactly(1), "selinux_module", Dir(h::selinux_default), "the default context"),
    implemented("selinuxDefaultDomain", ANY, Exactly(1), "selinux_module", Dir(h::selinux_default), "old name of selinuxDomainVal"),
    implemented("UserIDMap", ANY, Exactly(1), "mpm_itk_module", Dir(h::user_map), "user to uid/gid map"),
    implemented("AssignUserID", ANY, Exactly(2), "mpm_itk_module", Dir(h::assign_user), "USER GROUP, names or \"#uid\" \"#gid\" (docs/itk.md)"),
    implemented("LimitUIDRange", SERVER, Own, "mpm_itk_module", Server(super::itk::limit_uid_range), "MIN MAX: an identity outside is a -t error, re-checked by the child (docs/itk.md)"),
    implemented("LimitGIDRange", SERVER, Own, "mpm_itk_module", Server(super::itk::limit_gid_range), "MIN MAX: gid and supplementary groups (docs/itk.md)"),
    implemented("AssignUserIDExpr", ANY, Own, "mpm_itk_module", Dir(super::itk::assign_user_expr), "%{reqenv:VAR} and %{SERVER_NAME} only (admin data; request-derived forms refused with the reason): a user name, resolved by the child (docs/itk.md)"),
    implemented("AssignGroupIDExpr", ANY, Own, "mpm_itk_module", Dir(super::itk::assign_group_expr), "as AssignUserIDExpr: a group name"),
    implemented("MaxClientsVHost", SV, Own, "mpm_itk_module", VHost(super::itk::max_clients_vhost), "N: at most N connections in the vhost at once, counted by the master; over it 503; 0 no limit; the server's line applies to vhosts without one (docs/itk.md)"),
    implemented("NiceValue", ANY, Own, "mpm_itk_module", Dir(super::itk::nice_value), "0..19, set by the child before confinement; a keep-alive request needing another value gets a fresh process"),
    implemented("Header", ANY, Own, "headers_module", Dir(super::header::directive), "[onsuccess|always] set|append|merge|add|setifempty|unset NAME [VALUE]: onsuccess on handler responses, always on every one; echo/edit/expr=/env= refused"),
    implemented("ErrorDocument", ANY, Exactly(2), "core_module", Dir(super::errordoc::directive), "CODE \"text\" | /local/path (internal redirect in the same identity, else the built-in page) | http://url (302; ignored for 401 with a warning)"),
    implemented("ExpiresActive", ANY, Exactly(1), "expires_module", Dir(super::cache::expires_active), "On|Off: Expires and Cache-Control max-age on handler responses (not errors)"),
    implemented("ExpiresByType", ANY, Exactly(2), "expires_module", Dir(super::cache::expires_by_type), "TYPE|type/* CODE: A<secs>, M<secs> or 'access|modification plus N unit...'"),
    implemented("ExpiresDefault", ANY, Exactly(1), "expires_module", Dir(super::cache::expires_default), "CODE, for types without an ExpiresByType"),
    implemented("FileETag", ANY, AtLeast(1), "core_module", Dir(super::cache::file_etag), "INode MTime Size All None, +/- relative (default MTime Size); Digest refused"),
    implemented("AddOutputFilterByType", ANY, AtLeast(2), "filter_module", Dir(super::deflate::add_output_filter_by_type), "DEFLATE TYPE...: gzip for these types (other filters: an error)"),
    implemented("SetOutputFilter", ANY, Exactly(1), "core_module", Dir(super::deflate::set_output_filter), "DEFLATE: gzip for every response of the scope (other filters: an error)"),
    implemented("AddOutputFilter", ANY, AtLeast(2), "mime_module", Dir(super::deflate::add_output_filter), "DEFLATE EXT...: gzip for files with these extensions (other filters: an error)"),
    implemented("DeflateCompressionLevel", SV, Exactly(1), "deflate_module", Dir(super::deflate::compression_level), "1-9 (default 6, zlib's)"),
    implemented("SetHandler", ANY, Exactly(1), "core_module", Dir(super::fcgi::set_handler_row), "proxy:unix:/PATH|fcgi://... or proxy:fcgi://IP:PORT (FastCGI), none; server-status: a warning; others: an error"),
    implemented("ProxyPass", SV, Own, "proxy_module", VHost(super::fcgi::row), "URL-PREFIX fcgi:// or unix:...|fcgi:// backends only"),
    implemented("ProxyPassMatch", SV, Own, "proxy_module", VHost(super::fcgi::row), "REGEX fcgi:// or unix:...|fcgi:// backends only"),
    implemented("ProxyFCGIBackendType", SV, Own, "proxy_fcgi_module", VHost(super::fcgi::row), "FPM (default) or GENERIC: SCRIPT_FILENAME's form"),
    implemented("ProxyTimeout", SV, Own, "proxy_module", VHost(super::fcgi::row), "a FastCGI backend silent this long: 504 (default Timeout)"),
    no_effect("IndexOptions", ANY, AtLeast(1), "autoindex_module", "listings have one fixed layout"),
    no_effect("IndexIgnore", ANY, AtLeast(1), "autoindex_module", "not implemented yet: listings hide every dot-name and nothing else"),
    no_effect("AddIcon", ANY, AtLeast(2), "autoindex_module", ICONS),
    no_effect("AddIconByType", ANY, AtLeast(2), "autoindex_module", ICONS),
    no_effect("AddIconByEncoding", ANY, AtLeast(2), "autoindex_module", ICONS),
    no_effect("DefaultIcon", ANY, Exactly(1), "autoindex_module", ICONS),
    no_effect("ReadmeName", ANY, Exactly(1), "autoindex_module", "listings show no README"),
    no_effect("HeaderName", ANY, Exactly(1), "autoindex_module", "listings show no header file"),
    implemented("TypesConfig", SERVER, Exactly(1), "mime_module", Server(super::mime::types_config), "default /etc/mime.types, read once by the master"),
    implemented("AddType", ANY, AtLeast(2), "mime_module", Dir(super::mime::add_type), "TYPE EXT...: beats TypesConfig; every extension of the name counts, the last known one wins"),
    no_effect("RemoveType", ANY, AtLeast(1), "mime_module", "not implemented yet: AddType rows cannot be removed in a deeper scope"),
    implemented("AddCharset", ANY, AtLeast(2), "mime_module", Dir(super::mime::add_charset), "CHARSET EXT...: appended to a type without a charset"),
    implemented("AddDefaultCharset", ANY, Exactly(1), "core_module", Dir(super::mime::add_default_charset), "Off (default, as 2.4) | On (ISO-8859-1) | CHARSET, for text/plain and text/html"),
    implemented("ForceType", DIRECTORY | LOCATION | FILES, Exactly(1), "core_module", Dir(super::mime::force_type), "TYPE|None: replaces the file's type"),
    row("DefaultType", ANY, Exactly(1), "core_module", Apache, Check(super::mime::default_type), "no effect, as in Apache 2.4: None is silent, anything else a warning"),
    no_effect("AddLanguage", ANY, AtLeast(2), "mime_module", "no Content-Language is sent"),
    no_effect("LanguagePriority", ANY, AtLeast(1), "negotiation_module", NEGOTIATION),
    no_effect("ForceLanguagePriority", ANY, AtLeast(1), "negotiation_module", NEGOTIATION),
    implemented("SetEnv", ANY, Own, "env_module", Dir(super::setenv::set_env), "VAR [VALUE]: for CGI and FastCGI programs, after every SetEnvIf (docs/itk.md)"),
    implemented("PassEnv", ANY, Own, "env_module", Dir(super::setenv::pass_env), "VAR...: the start-up environment's value, as SetEnv (same names refused); undefined: a -t warning"),
    implemented("UnsetEnv", ANY, Own, "env_module", Dir(super::setenv::unset_env), "VAR...: as SetEnv"),
    implemented("SetEnvIf", ANY, Own, "setenvif_module", Dir(super::setenv::set_env_if), "ATTRIBUTE REGEX [!]VAR[=VALUE]...: Remote_Addr, Remote_Host (the address), Server_Addr, Request_Method, Request_Protocol, Request_URI, a header, an earlier variable; $1 and & in values; HTTP_PROXY refused (httpoxy)"),
    implemented("SetEnvIfNoCase", ANY, Own, "setenvif_module", Dir(super::setenv::set_env_if), "as SetEnvIf, the regex case-insensitive"),
    implemented("BrowserMatch", ANY, Own, "setenvif_module", Dir(super::setenv::set_env_if), "SetEnvIf User-Agent (nokeepalive, force-response-1.0... are set but mean nothing here)"),
    implemented("BrowserMatchNoCase", ANY, Own, "setenvif_module", Dir(super::setenv::set_env_if), "as BrowserMatch, case-insensitive"),
    no_effect("ExtendedStatus", SERVER, Exactly(1), "status_module", "there is no server-status page"),
    // Refused, with what to do instead.
    refused("Order", "access_compat_module", COMPAT),
    refused("Allow", "access_compat_module", COMPAT),
    refused("Deny", "access_compat_module", COMPAT),
    refused("Satisfy", "access_compat_module", COMPAT),
    refused("RewriteEngine", "rewrite_module", REWRITE),
    refused("RewriteRule", "rewrite_module", REWRITE),
    refused("RewriteCond", "rewrite_module", REWRITE),
    refused("RewriteBase", "rewrite_module", REWRITE),
    refused("ProxyPassReverse", "proxy_module", PROXY),
    refused("php_value", "php_module", PHP),
    refused("php_flag", "php_module", PHP),
    refused("php_admin_value", "php_module", PHP),
    refused("php_admin_flag", "php_module", PHP),
    refused("SuexecUserGroup", "suexec_module", "every request already runs in its own identity: write AssignUserID USER GROUP"),
    refused("UserDir", "userdir_module", "home directories are not served: give each user a <VirtualHost> and an identity"),
];

/// The row for `name`, case-insensitively.
pub fn find(name: &str) -> Option<&'static Directive> {
    TABLE.iter().find(|d| d.name.eq_ignore_ascii_case(name))
}

/// `tests/apache/directives.txt`: one line per row, `DIRECTIVE | CONTEXTS | MODULE | STATUS | NOTE`.
pub fn render() -> String {
    let mut out = String::from(
        "# Every directive oneshot-httpd knows (generated from src/config/directives.rs; a test\n\
         # keeps it current: UPDATE_DIRECTIVES=1 cargo test directives_file rewrites it).\n\
         # Anything not listed is an error: unknown directive.\n\
         # directive | contexts | module | status | note\n",
    );
    for d in TABLE {
        let mut ctx = Vec::new();
        for (bit, word) in [
            (SERVER, "server"),
            (VHOST, "vhost"),
            (DIRECTORY, "directory"),
            (LOCATION, "location"),
            (FILES, "files"),
            (LIMIT, "limit"),
            (AUTHZ, "require-containers"),
        ] {
            if d.allows(bit) {
                ctx.push(word);
            }
        }
        let (status, note) = match d.status {
            Implemented => ("implemented", d.note),
            Apache => ("apache-meaning", d.note),
            NoEffect(why) => ("warning", why),
            Refused(why) => ("refused", why),
            Reader => ("read-time", d.note),
        };
        out.push_str(&format!(
            "{} | {} | {} | {status} | {note}\n",
            d.name,
            ctx.join(","),
            d.module
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_modules_known() {
        for (i, a) in TABLE.iter().enumerate() {
            for b in TABLE.iter().skip(i + 1) {
                assert!(!a.name.eq_ignore_ascii_case(b.name), "{} twice", a.name);
            }
            assert!(
                a.module == "oneshot" || super::super::modules::find(a.module).is_some(),
                "{}: module {}",
                a.name,
                a.module
            );
            // A server-wide handler can only run where the server's settings are.
            if matches!(a.handler, Server(_)) {
                assert_eq!(a.contexts, SERVER, "{}", a.name);
            }
            if matches!(a.handler, VHost(_)) {
                assert_eq!(a.contexts & (DIRECTORY | LOCATION), 0, "{}", a.name);
            }
            if matches!(a.status, Implemented) {
                assert!(
                    !matches!(a.handler, Handler::None) || a.name == "VirtualHost",
                    "{}",
                    a.name
                );
            }
        }
    }

    /// The committed `tests/apache/directives.txt` is this table.
    #[test]
    fn directives_file() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/apache/directives.txt");
        let want = render();
        if std::env::var_os("UPDATE_DIRECTIVES").is_some() {
            std::fs::write(path, &want).unwrap();
        }
        let got = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            got == want,
            "{path} is not the table: run UPDATE_DIRECTIVES=1 cargo test directives_file"
        );
    }

    /// The configuration reference (docs/configuration.md) names every row, and every directive its table
    /// names has a row.
    #[test]
    fn readme_reference_agrees() {
        let section = include_str!("../../docs/configuration.md");
        for d in TABLE {
            let spelled = [
                format!("`{}", d.name),
                format!("`<{}", d.name),
                format!(", {}", d.name),
            ];
            assert!(
                spelled.iter().any(|s| section.contains(s.as_str()))
                    || section.contains(&format!("`{}`", d.name)),
                "docs/configuration.md does not name {}",
                d.name
            );
        }
        // Every backticked directive-looking word at the start of a table cell is known.
        for line in section.lines().filter(|l| l.starts_with("| `")) {
            let first = line.split('|').nth(1).unwrap_or_default();
            for word in first.split('`').skip(1).step_by(2) {
                let name = word
                    .trim_start_matches('<')
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or_default();
                // Directive names start upper-case (argument words such as `soft` do not).
                if name.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
                    assert!(
                        find(name).is_some(),
                        "docs/configuration.md names {name}, which has no row"
                    );
                }
            }
        }
    }
}
