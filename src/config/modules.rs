//! Apache's modules as this server sees them: what `LoadModule` of each one means and when an
//! `<IfModule>` for it is true. One row per module; the directives a module provides are the
//! rows of [`super::directives::TABLE`] that name it.
//!
//! The rule (docs/configuration.md): a module whose directives oneshot-httpd
//! implements is accepted by `LoadModule` and `<IfModule>` for it is true once it is loaded
//! (as in Apache; its directives work with or without `LoadModule`, so configurations written
//! for this server need none). A few modules that Debian enables by default and whose absence
//! changes neither who may read what nor as whom are accepted with a `-t` warning, and
//! `<IfModule>` for them stays false. Any other module is an error that says what to do.
#![forbid(unsafe_code)]

/// What `LoadModule` of a module means here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModStatus {
    /// Part of the server, loaded without `LoadModule` (Apache's static modules, and the MPM).
    BuiltIn,
    /// Implemented: `LoadModule` accepted, `<IfModule>` true once loaded.
    Implemented,
    /// Not implemented, but harmless to load: a `-t` warning says what is missing;
    /// `<IfModule>` for it is false.
    Warn(&'static str),
    /// Refused: an error with the reason and what to do instead.
    Refused(&'static str),
}

/// One Apache module.
#[derive(Debug, Clone, Copy)]
pub struct Module {
    /// The name `LoadModule` and `<IfModule>` use: `alias_module`.
    pub id: &'static str,
    /// The source file name `<IfModule>` also accepts: `mod_alias.c`.
    pub source: &'static str,
    pub status: ModStatus,
}

const fn m(id: &'static str, source: &'static str, status: ModStatus) -> Module {
    Module { id, source, status }
}

use ModStatus::{BuiltIn, Implemented, Refused, Warn};

/// Every module the server knows by name. A module not listed here is refused with a
/// generic hint.
pub const MODULES: &[Module] = &[
    m("core_module", "core.c", BuiltIn),
    m("http_module", "http_core.c", BuiltIn),
    m("so_module", "mod_so.c", BuiltIn),
    m("unixd_module", "mod_unixd.c", BuiltIn),
    m("version_module", "mod_version.c", BuiltIn),
    m("log_config_module", "mod_log_config.c", BuiltIn),
    m("mpm_prefork_module", "prefork.c", BuiltIn),
    m("alias_module", "mod_alias.c", Implemented),
    m("auth_basic_module", "mod_auth_basic.c", Implemented),
    m("authn_core_module", "mod_authn_core.c", Implemented),
    m("authn_file_module", "mod_authn_file.c", Implemented),
    m("authnz_pam_module", "mod_authnz_pam.c", Implemented),
    m("authz_core_module", "mod_authz_core.c", Implemented),
    m("authz_groupfile_module", "mod_authz_groupfile.c", Implemented),
    m("authz_host_module", "mod_authz_host.c", Implemented),
    m("authz_user_module", "mod_authz_user.c", Implemented),
    m("autoindex_module", "mod_autoindex.c", Implemented),
    m("cgi_module", "mod_cgi.c", Implemented),
    m("cgid_module", "mod_cgid.c", Implemented),
    m("dav_module", "mod_dav.c", Implemented),
    m("dav_fs_module", "mod_dav_fs.c", Implemented),
    m("dir_module", "mod_dir.c", Implemented),
    m("mime_module", "mod_mime.c", Implemented),
    m("headers_module", "mod_headers.c", Implemented),
    m("reqtimeout_module", "mod_reqtimeout.c", Implemented),
    m("mpm_itk_module", "mpm_itk.c", Implemented),
    m("selinux_module", "mod_selinux.c", Implemented),
    m(
        "mpm_event_module",
        "event.c",
        Warn("oneshot-httpd is its own prefork MPM (one process per connection): mpm_event's thread settings (ThreadsPerChild, MinSpareThreads...) have no effect; StartServers, MaxRequestWorkers and MaxConnectionsPerChild keep their meaning"),
    ),
    m(
        "mpm_worker_module",
        "worker.c",
        Warn("oneshot-httpd is its own prefork MPM (one process per connection): mpm_worker's thread settings have no effect"),
    ),
    m(
        "access_compat_module",
        "mod_access_compat.c",
        Warn("Order, Allow, Deny and Satisfy (Apache 2.2 access control) are refused: write Require"),
    ),
    m(
        "socache_shmcb_module",
        "mod_socache_shmcb.c",
        Warn("there is no session cache (TLS resumption is off)"),
    ),
    m(
        "deflate_module",
        "mod_deflate.c",
        Warn("responses are not compressed (DEFLATE filter)"),
    ),
    m(
        "filter_module",
        "mod_filter.c",
        Warn("there are no output filters (AddOutputFilterByType, FilterProvider...)"),
    ),
    m("env_module", "mod_env.c", Implemented),
    m(
        "negotiation_module",
        "mod_negotiation.c",
        Warn("no content negotiation (type maps, MultiViews): LanguagePriority and ForceLanguagePriority have no effect"),
    ),
    m("setenvif_module", "mod_setenvif.c", Implemented),
    m(
        "status_module",
        "mod_status.c",
        Warn("there is no server-status page: SetHandler server-status and ExtendedStatus have no effect"),
    ),
    m(
        "rewrite_module",
        "mod_rewrite.c",
        Refused("remove it: oneshot-httpd has no mod_rewrite (map URLs with ScriptAlias and DocumentRoot, or rewrite in a proxy in front)"),
    ),
    m("ssl_module", "mod_ssl.c", Implemented),
    m("remoteip_module", "mod_remoteip.c", Implemented),
    m("proxy_module", "mod_proxy.c", Implemented),
    m("proxy_fcgi_module", "mod_proxy_fcgi.c", Implemented),
    m(
        "php_module",
        "mod_php.c",
        Refused("remove it: PHP does not run inside the server; run it as a CGI program (AddHandler cgi-script .php) so it runs in the request's identity"),
    ),
    m(
        "userdir_module",
        "mod_userdir.c",
        Refused("remove it: home directories are not served (give each user a <VirtualHost> and an identity)"),
    ),
    m(
        "suexec_module",
        "mod_suexec.c",
        Refused("remove it: every request already runs in its own identity (AssignUserID, UserIDMap); SuexecUserGroup is not needed"),
    ),
    m(
        "include_module",
        "mod_include.c",
        Refused("remove it: server-side includes are not implemented"),
    ),
];

/// The module `LoadModule` or `<IfModule>` names, by its id (`alias_module`) or its source
/// file (`mod_alias.c`).
pub fn find(name: &str) -> Option<&'static Module> {
    MODULES.iter().find(|m| m.id == name || m.source == name)
}

/// The modules loaded so far while reading, in reading order (Apache's `<IfModule>` looks
/// at what is loaded at that point of the file).
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    ids: Vec<&'static str>,
}

/// What a `LoadModule` line comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadOutcome {
    Accepted,
    Warning(String),
    Error(String),
}

impl Loaded {
    /// `LoadModule ID PATH`: the file is not opened (nothing is loaded into this server).
    pub fn load(&mut self, args: &[String]) -> LoadOutcome {
        let [id, path] = args else {
            return LoadOutcome::Error(format!(
                "LoadModule takes 2 arguments (MODULE FILE), got {}",
                args.len()
            ));
        };
        let Some(module) = MODULES.iter().find(|m| m.id == id.as_str()) else {
            let shown = std::path::Path::new(path)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.clone());
            return LoadOutcome::Error(format!(
                "LoadModule {id}: oneshot-httpd has no such module ({shown}): remove the line, and any directive of the module that is not inside <IfModule {id}>"
            ));
        };
        match module.status {
            BuiltIn | Implemented => {
                if !self.ids.contains(&module.id) {
                    self.ids.push(module.id);
                }
                LoadOutcome::Accepted
            }
            Warn(what) => LoadOutcome::Warning(format!(
                "LoadModule {id}: {} is not implemented, <IfModule {id}> is false: {what}",
                module.source.trim_end_matches(".c")
            )),
            Refused(hint) => LoadOutcome::Error(format!("LoadModule {id}: {hint}")),
        }
    }

    /// `<IfModule [!]NAME>`: true for a built-in module, or an implemented one loaded
    /// earlier; false for everything else, including names no module has (as in Apache).
    pub fn if_module(&self, arg: &str) -> bool {
        let (negated, name) = match arg.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, arg),
        };
        let present = find(name).is_some_and(|m| match m.status {
            BuiltIn => true,
            Implemented => self.ids.contains(&m.id),
            Warn(_) | Refused(_) => false,
        });
        present != negated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn load_and_if_module_table() {
        let mut l = Loaded::default();
        assert!(l.if_module("mod_so.c") && l.if_module("mpm_prefork_module"));
        assert!(!l.if_module("mod_alias.c") && l.if_module("!alias_module"));
        assert_eq!(
            l.load(&args(&[
                "alias_module",
                "/usr/lib/apache2/modules/mod_alias.so"
            ])),
            LoadOutcome::Accepted
        );
        assert!(l.if_module("mod_alias.c") && l.if_module("alias_module"));
        assert!(!l.if_module("!mod_alias.c"));
        assert!(matches!(
            l.load(&args(&["deflate_module", "x.so"])),
            LoadOutcome::Warning(w) if w.starts_with("LoadModule deflate_module: mod_deflate is not implemented, <IfModule deflate_module> is false")
        ));
        assert!(!l.if_module("mod_deflate.c") && l.if_module("!deflate_module"));
        assert_eq!(
            l.load(&args(&["rewrite_module", "x.so"])),
            LoadOutcome::Error("LoadModule rewrite_module: remove it: oneshot-httpd has no mod_rewrite (map URLs with ScriptAlias and DocumentRoot, or rewrite in a proxy in front)".into())
        );
        assert_eq!(
            l.load(&args(&["frob_module", "/m/mod_frob.so"])),
            LoadOutcome::Error("LoadModule frob_module: oneshot-httpd has no such module (mod_frob.so): remove the line, and any directive of the module that is not inside <IfModule frob_module>".into())
        );
        assert!(matches!(
            l.load(&args(&["alias_module"])),
            LoadOutcome::Error(_)
        ));
        assert!(!l.if_module("mod_gnutls.c") && !l.if_module(""));
    }

    #[test]
    fn ids_and_sources_are_unique() {
        for (i, a) in MODULES.iter().enumerate() {
            for b in MODULES.iter().skip(i + 1) {
                assert!(a.id != b.id && a.source != b.source, "{a:?} {b:?}");
            }
        }
    }
}
