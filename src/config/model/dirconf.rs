//! Per-directory settings: [`DirConf`] as the sections and the vhost level write it, how
//! sections merge (Apache's order, `None` meaning "not set here"), and the `Options` flags.
//! Separate from the rest of the model because it is the one type every request resolves
//! afresh, and the only one with merge rules.

#![forbid(unsafe_code)]

use super::*;

/// `Options` flags that this server implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Options {
    pub indexes: bool,
    pub follow_symlinks: bool,
    pub symlinks_if_owner_match: bool,
    pub exec_cgi: bool,
}

/// A relative `Options +X -Y` line: applied on top of whatever the enclosing scope has, as
/// Apache merges relative options (an absolute line in a narrower scope replaces them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct OptionsDelta {
    pub on: Options,
    pub off: Options,
}

impl OptionsDelta {
    pub fn apply(&self, base: Options) -> Options {
        let f = |b: bool, on: bool, off: bool| (b || on) && !off;
        Options {
            indexes: f(base.indexes, self.on.indexes, self.off.indexes),
            follow_symlinks: f(
                base.follow_symlinks,
                self.on.follow_symlinks,
                self.off.follow_symlinks,
            ),
            symlinks_if_owner_match: f(
                base.symlinks_if_owner_match,
                self.on.symlinks_if_owner_match,
                self.off.symlinks_if_owner_match,
            ),
            exec_cgi: f(base.exec_cgi, self.on.exec_cgi, self.off.exec_cgi),
        }
    }

    /// `self` followed by `later`.
    pub fn then(&self, later: &OptionsDelta) -> OptionsDelta {
        OptionsDelta {
            on: later.off.clear_from(&later.on, &self.on),
            off: later.on.clear_from(&later.off, &self.off),
        }
    }
}

impl Options {
    /// (`earlier` without what `self` clears) plus `add`: the helper of [`OptionsDelta::then`].
    fn clear_from(&self, add: &Options, earlier: &Options) -> Options {
        let f = |clear: bool, add: bool, e: bool| add || (e && !clear);
        Options {
            indexes: f(self.indexes, add.indexes, earlier.indexes),
            follow_symlinks: f(
                self.follow_symlinks,
                add.follow_symlinks,
                earlier.follow_symlinks,
            ),
            symlinks_if_owner_match: f(
                self.symlinks_if_owner_match,
                add.symlinks_if_owner_match,
                earlier.symlinks_if_owner_match,
            ),
            exec_cgi: f(self.exec_cgi, add.exec_cgi, earlier.exec_cgi),
        }
    }
}

/// The PAM service `AuthPAMService` defaults to (`/etc/pam.d/oneshot-httpd`, shipped in
/// `dist/pam.d/`), as mod_authnz_pam's default is the service name it is given.
pub const DEFAULT_PAM_SERVICE: &str = "oneshot-httpd";

/// One `AuthBasicProvider` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AuthProvider {
    /// mod_authn_file: the `AuthUserFile`.
    File,
    /// mod_authnz_pam: the `AuthPAMService`, run by the verifier.
    Pam,
}

impl DirConf {
    /// The providers to try, in order (`file` when `AuthBasicProvider` is not given).
    pub fn providers(&self) -> &[AuthProvider] {
        self.auth_basic_provider
            .as_deref()
            .unwrap_or(&[AuthProvider::File])
    }

    /// The PAM service this section authenticates against.
    pub fn pam_service(&self) -> &str {
        self.auth_pam_service
            .as_deref()
            .unwrap_or(DEFAULT_PAM_SERVICE)
    }
}

/// Per-directory settings, from the vhost level and `<Directory>`/`<Location>` sections.
/// `None` means "not set here", so sections merge as Apache merges them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DirConf {
    pub options: Option<Options>,
    /// Relative `Options` still waiting for an enclosing absolute set to apply to.
    pub options_delta: Option<OptionsDelta>,
    /// `AddHandler cgi-script .EXT...`: file name suffixes run as CGI where ExecCGI is on.
    pub cgi_extensions: Option<Vec<String>>,
    pub directory_index: Option<Vec<String>>,
    /// `AuthType Basic` (true) or `AuthType None` (false).
    pub auth_basic: Option<bool>,
    pub auth_name: Option<String>,
    /// `AuthUserFile`; its position in [`Config::password_files`] names it to the verifier.
    pub auth_user_file: Option<PathBuf>,
    /// `AuthBasicProvider file|pam ...` (mod_auth_basic): tried in order, a provider that does
    /// not know the user passes to the next; unset means `file` (see docs/pam.md).
    #[serde(default)]
    pub auth_basic_provider: Option<Vec<AuthProvider>>,
    /// `AuthPAMService NAME` (mod_authnz_pam); unset means [`DEFAULT_PAM_SERVICE`].
    #[serde(default)]
    pub auth_pam_service: Option<String>,
    /// `AuthzSendForbiddenOnFailure On`: 403 rather than Apache's default 401 when an
    /// authenticated user does not satisfy `Require`.
    pub authz_send_forbidden: Option<bool>,
    /// The `Require` lines and `<Require*>` containers of one section (its plain lines are an
    /// implicit RequireAny) with its `AuthMerging`; merged as mod_authz_core merges them.
    #[serde(default)]
    pub authz: crate::auth::AuthzConf,
    /// `AuthGroupFile` and where it was written; its groups in [`Config::group_files`].
    #[serde(default)]
    pub auth_group_file: Option<(PathBuf, Origin)>,
    /// `selinuxDomainMap` (alias `selinuxConfigFile`); rules in [`Config::selinux_maps`].
    pub selinux_map: Option<PathBuf>,
    /// `selinuxDomainVal` (alias `selinuxDefaultDomain`).
    pub selinux_default: Option<crate::policy::SelinuxTarget>,
    /// `UserIDMap`; rules in [`Config::user_maps`].
    pub user_map: Option<PathBuf>,
    /// `AssignUserID USER GROUP`, resolved in [`Config::users`].
    pub assign_user: Option<crate::policy::UnixTarget>,
    /// `SetHandler proxy:...|fcgi://...` or `SetHandler none` (`config::fcgi`).
    #[serde(default)]
    pub set_handler: Option<super::super::fcgi::SetHandler>,
    /// mod_dav's `Dav On|Off` (see `config::dav`, docs/webdav.md).
    #[serde(default)]
    pub dav: Option<bool>,
    /// `DavDepthInfinity On|Off` (default Off): PROPFIND with `Depth: infinity`.
    #[serde(default)]
    pub dav_depth_infinity: Option<bool>,
    /// `LimitXMLRequestBody BYTES` (default 1 000 000; 0 = none).
    #[serde(default)]
    pub limit_xml_body: Option<u64>,
    /// `<Files>`/`<FilesMatch>` written in this scope; merging appends (the enclosing scope's
    /// first), and they apply after every `<Directory>`/`<DirectoryMatch>`, as Apache's
    /// file walk reads the merged directory configuration's list.
    #[serde(default)]
    pub files: Vec<Section>,
    /// `AddType` (extension, type) rows; merging appends, the last row for an extension wins.
    #[serde(default)]
    pub add_types: Vec<(String, String)>,
    /// `AddCharset` (extension, charset) rows, merged as `add_types`.
    #[serde(default)]
    pub add_charsets: Vec<(String, String)>,
    /// `ForceType` (empty: `ForceType None`).
    #[serde(default)]
    pub force_type: Option<String>,
    /// `AddDefaultCharset`; unset is Off, as in Apache 2.4.
    #[serde(default)]
    pub default_charset: Option<crate::http::mime::DefaultCharset>,
    /// `Header` rules, in merge order (the enclosing scope's first).
    #[serde(default)]
    pub headers: Vec<super::super::header::HeaderRule>,
    /// `SSLOptions +StdEnvVars`: CGI programs get mod_ssl's `SSL_*` variables.
    #[serde(default)]
    pub ssl_std_env_vars: Option<bool>,
    /// mpm-itk's `NiceValue` (`config::itk`): the nice value requests here run at.
    #[serde(default)]
    pub nice: Option<i32>,
    /// `SetEnv`, `UnsetEnv`, `SetEnvIf`... (`config::setenv`), in merge order.
    #[serde(default)]
    pub env_rules: Vec<super::super::setenv::EnvRule>,
    /// mpm-itk's `AssignUserIDExpr` (`config::itk`): overrides `AssignUserID`.
    #[serde(default)]
    pub assign_user_expr: Option<super::super::itk::IdExpr>,
    /// mpm-itk's `AssignGroupIDExpr`: the group of the identity, overriding its primary group.
    #[serde(default)]
    pub assign_group_expr: Option<super::super::itk::IdExpr>,
    /// mod_selinux's `selinuxDomainEnv VAR`, and where it was written.
    #[serde(default)]
    pub selinux_env: Option<(String, Origin)>,
    /// mod_expires (`config::cache`): `ExpiresActive`, `ExpiresDefault`, `ExpiresByType`
    /// rows (merging appends; the last row for a type wins).
    #[serde(default)]
    pub expires_active: Option<bool>,
    #[serde(default)]
    pub expires_default: Option<super::super::cache::ExpiresCode>,
    #[serde(default)]
    pub expires_by_type: Vec<(String, super::super::cache::ExpiresCode)>,
    /// `FileETag` (`config::cache`), merged as core merges it.
    #[serde(default)]
    pub file_etag: Option<super::super::cache::FileETag>,
    /// mod_deflate (`config::deflate`): `AddOutputFilterByType DEFLATE` types,
    /// `SetOutputFilter DEFLATE`, `AddOutputFilter DEFLATE` extensions,
    /// `DeflateCompressionLevel`.
    #[serde(default)]
    pub deflate_types: Vec<String>,
    #[serde(default)]
    pub deflate_all: Option<bool>,
    #[serde(default)]
    pub deflate_extensions: Vec<String>,
    #[serde(default)]
    pub deflate_level: Option<u32>,
    /// `ErrorDocument` rows (`config::errordoc`); merging appends, the last for a code wins.
    #[serde(default)]
    pub error_documents: Vec<(u16, super::super::errordoc::ErrorDocument)>,
}

impl DirConf {
    /// Settings of `over` win where they are set.
    pub fn merge(&self, over: &DirConf) -> DirConf {
        fn pick<T: Clone>(over: &Option<T>, base: &Option<T>) -> Option<T> {
            over.clone().or_else(|| base.clone())
        }
        let (options, options_delta) = match (over.options, over.options_delta) {
            (Some(o), _) => (Some(o), None),
            (None, Some(d)) => match self.options {
                Some(b) => (Some(d.apply(b)), None),
                None => (None, Some(self.options_delta.unwrap_or_default().then(&d))),
            },
            (None, None) => (self.options, self.options_delta),
        };
        DirConf {
            options,
            options_delta,
            cgi_extensions: pick(&over.cgi_extensions, &self.cgi_extensions),
            directory_index: pick(&over.directory_index, &self.directory_index),
            auth_basic: over.auth_basic.or(self.auth_basic),
            auth_name: pick(&over.auth_name, &self.auth_name),
            auth_user_file: pick(&over.auth_user_file, &self.auth_user_file),
            auth_basic_provider: pick(&over.auth_basic_provider, &self.auth_basic_provider),
            auth_pam_service: pick(&over.auth_pam_service, &self.auth_pam_service),
            authz_send_forbidden: pick(&over.authz_send_forbidden, &self.authz_send_forbidden),
            authz: self.authz.merge(&over.authz),
            auth_group_file: pick(&over.auth_group_file, &self.auth_group_file),
            selinux_map: pick(&over.selinux_map, &self.selinux_map),
            selinux_default: pick(&over.selinux_default, &self.selinux_default),
            user_map: pick(&over.user_map, &self.user_map),
            assign_user: pick(&over.assign_user, &self.assign_user),
            set_handler: pick(&over.set_handler, &self.set_handler),
            dav: pick(&over.dav, &self.dav),
            dav_depth_infinity: pick(&over.dav_depth_infinity, &self.dav_depth_infinity),
            limit_xml_body: pick(&over.limit_xml_body, &self.limit_xml_body),
            files: self.files.iter().chain(&over.files).cloned().collect(),
            add_types: self
                .add_types
                .iter()
                .chain(&over.add_types)
                .cloned()
                .collect(),
            add_charsets: (self.add_charsets.iter().chain(&over.add_charsets))
                .cloned()
                .collect(),
            force_type: pick(&over.force_type, &self.force_type),
            default_charset: pick(&over.default_charset, &self.default_charset),
            headers: self.headers.iter().chain(&over.headers).cloned().collect(),
            ssl_std_env_vars: over.ssl_std_env_vars.or(self.ssl_std_env_vars),
            nice: over.nice.or(self.nice),
            env_rules: (self.env_rules.iter().chain(&over.env_rules))
                .cloned()
                .collect(),
            assign_user_expr: pick(&over.assign_user_expr, &self.assign_user_expr),
            assign_group_expr: pick(&over.assign_group_expr, &self.assign_group_expr),
            selinux_env: pick(&over.selinux_env, &self.selinux_env),
            expires_active: over.expires_active.or(self.expires_active),
            expires_default: over.expires_default.or(self.expires_default),
            expires_by_type: (self.expires_by_type.iter().chain(&over.expires_by_type))
                .cloned()
                .collect(),
            file_etag: super::super::cache::FileETag::merge(self.file_etag, over.file_etag),
            deflate_types: (self.deflate_types.iter().chain(&over.deflate_types))
                .cloned()
                .collect(),
            deflate_all: over.deflate_all.or(self.deflate_all),
            deflate_extensions: (self.deflate_extensions.iter())
                .chain(&over.deflate_extensions)
                .cloned()
                .collect(),
            deflate_level: over.deflate_level.or(self.deflate_level),
            error_documents: (self.error_documents.iter())
                .chain(&over.error_documents)
                .cloned()
                .collect(),
        }
    }
}
