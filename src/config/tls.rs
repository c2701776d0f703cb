//! mod_ssl's configuration subset: `Listen ADDR:PORT https`, and `SSLEngine`,
//! `SSLCertificateFile`, `SSLCertificateKeyFile`, `SSLCertificateChainFile`, `SSLProtocol`,
//! `SSLCipherSuite`, `SSLStrictSNIVHostCheck` (server defaults or per `<VirtualHost>`), plus
//! `SSLKeyHolderContext` (ours: the key holder's SELinux context).
//!
//! Stage: configuration. [`build`] is a second pass over the same tree `config::build` reads
//! (that pass skips the names [`is_directive`] claims), so the directive table stays in one
//! place per feature. [`load_certificates`] is the only I/O: it reads the (public) certificate
//! files; key files are only stat()ed here, opened by the key holder alone (I6).
//!
//! Decisions:
//! - A TLS vhost serves the `https` listeners whose port its `<VirtualHost *:PORT>` names (any
//!   port for `*`); on such a listener SNI picks among those vhosts, and a name with no vhost
//!   gets the first of them, as Apache.
//! - Plain listeners never select a TLS vhost (its content is served only over TLS); a plain
//!   listener therefore needs a vhost without `SSLEngine on`.
//! - Default protocol: TLS 1.3 only. `SSLCipherSuite` takes, for TLS 1.3, suite names (IANA
//!   or OpenSSL spelling) and, for TLS 1.2, an OpenSSL cipher string (`HIGH:!aNULL`) evaluated
//!   over the suites rustls's ring provider offers; a keyword or suite it cannot honour
//!   exactly is an error rather than silently different (`tls/ciphers.rs`).
//!
//! `tls/ciphers.rs` holds the protocol and cipher-suite languages, `tls/other.rs` the mod_ssl
//! directives whose behaviour here is fixed (a warning when the file asks for another).
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use super::model::{Config, Origin};
use super::parse::Node;
use super::ConfigError;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

mod ciphers;
pub mod other;

use ciphers::suite_names;
pub use ciphers::{cipher_string, openssl_name, parse_cipher_suite, parse_protocols};

/// TLS settings of the whole server.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TlsConfig {
    /// `Listen ... https` addresses.
    pub listeners: Vec<SocketAddr>,
    /// Parallel to [`Config::vhosts`]: `Some` for a vhost with `SSLEngine on`.
    pub vhosts: Vec<Option<VHostTls>>,
    /// Distinct `SSLCertificateKeyFile`s; the key holder knows keys by index here.
    pub key_files: Vec<PathBuf>,
    /// `SSLKeyHolderContext`: the SELinux context the key holder enters (verified).
    pub key_holder_context: Option<String>,
    /// `SSLRelaySocketContext`: the SELinux context of the socketpair between the TLS relay
    /// and the serving process (set with setsockcreatecon around its creation, then reset).
    #[serde(default)]
    pub relay_socket_context: Option<String>,
}

/// One vhost's TLS settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VHostTls {
    /// Ports of the `<VirtualHost>` addresses; empty = every https listener.
    pub ports: Vec<u16>,
    pub certificate_file: PathBuf,
    pub chain_file: Option<PathBuf>,
    /// Index into [`TlsConfig::key_files`].
    pub key: u16,
    /// End-entity certificate then the chain, DER ([`load_certificates`]).
    #[serde(default)]
    pub chain: Vec<Vec<u8>>,
    pub tls12: bool,
    pub tls13: bool,
    /// rustls suite names (`TLS13_AES_128_GCM_SHA256`, ...); `None` = the provider's default.
    pub suites: Option<Vec<String>>,
    /// `SSLStrictSNIVHostCheck On`: a client that sent no SNI is refused (403) here.
    pub strict_sni: bool,
    /// `SSLHonorCipherOrder On`: the first suite of [`VHostTls::suites`] the client offers
    /// wins; Off (Apache's default, and rustls's): the client's first that the server allows.
    #[serde(default)]
    pub honor_cipher_order: bool,
    pub origin: Origin,
}

impl TlsConfig {
    /// Whether a connection accepted on `local` is a TLS connection.
    pub fn is_tls(&self, local: SocketAddr) -> bool {
        self.listeners.iter().any(|l| listener_matches(l, local))
    }

    /// Indices (into `Config::vhosts`) of the TLS vhosts serving `local_port`, in file order.
    pub fn candidates(&self, local_port: u16) -> Vec<usize> {
        self.vhosts
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let v = v.as_ref()?;
                (v.ports.is_empty() || v.ports.contains(&local_port)).then_some(i)
            })
            .collect()
    }

    /// Whether vhost `i` is TLS-only.
    pub fn vhost_is_tls(&self, i: usize) -> bool {
        self.vhosts.get(i).is_some_and(Option::is_some)
    }

    pub fn enabled(&self) -> bool {
        !self.listeners.is_empty()
    }

    /// Every key file with its certificate and whether TLS 1.2 uses it, for the key holder.
    pub fn key_specs(&self) -> Vec<crate::keyholder::KeySpec> {
        self.key_files
            .iter()
            .enumerate()
            .map(|(k, path)| {
                let users = self
                    .vhosts
                    .iter()
                    .flatten()
                    .filter(|v| usize::from(v.key) == k);
                let mut certificate = Vec::new();
                let mut tls12 = false;
                for v in users {
                    if certificate.is_empty() {
                        certificate = v.chain.first().cloned().unwrap_or_default();
                    }
                    tls12 |= v.tls12;
                }
                crate::keyholder::KeySpec {
                    path: path.clone(),
                    certificate,
                    tls12,
                }
            })
            .collect()
    }
}

/// `Listen` address `l` accepted a connection whose local address is `local`.
pub fn listener_matches(l: &SocketAddr, local: SocketAddr) -> bool {
    let canon = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    l.port() == local.port() && (l.ip().is_unspecified() || canon(l.ip()) == canon(local.ip()))
}

const SERVER_OR_VHOST: &[&str] = &[
    "sslprotocol",
    "sslciphersuite",
    "sslstrictsnivhostcheck",
    "sslhonorcipherorder",
];
const VHOST_ONLY: &[&str] = &[
    "sslengine",
    "sslcertificatefile",
    "sslcertificatekeyfile",
    "sslcertificatechainfile",
];
const SERVER_ONLY: &[&str] = &["sslkeyholdercontext", "sslrelaysocketcontext"];

/// Whether `name` is read by this module (the main pass skips it).
pub fn is_directive(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [SERVER_OR_VHOST, VHOST_ONLY, SERVER_ONLY]
        .iter()
        .any(|set| set.contains(&n.as_str()))
}

/// Settings as read in one scope.
#[derive(Debug, Clone, Default)]
struct Draft {
    engine: Option<bool>,
    cert: Option<(PathBuf, Origin)>,
    key: Option<PathBuf>,
    chain: Option<PathBuf>,
    protocols: Option<(bool, bool)>,
    suites12: Option<Vec<String>>,
    suites13: Option<Vec<String>>,
    strict_sni: Option<bool>,
    honor_order: Option<bool>,
}

struct Pass<'a> {
    errors: &'a mut Vec<ConfigError>,
    warnings: &'a mut Vec<ConfigError>,
}

fn origin(n: &Node) -> Origin {
    Origin {
        file: n.file.clone(),
        line: n.line,
    }
}

fn resolve(n: &Node, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        n.file.parent().unwrap_or(Path::new("/")).join(p)
    }
}

impl Pass<'_> {
    fn error(&mut self, n: &Node, m: impl Into<String>) {
        self.errors.push(ConfigError {
            origin: origin(n),
            message: m.into(),
        });
    }

    fn one_arg<'n>(&mut self, n: &'n Node) -> Option<&'n str> {
        match n.args.as_slice() {
            [a] => Some(a.as_str()),
            _ => {
                self.error(n, format!("{} takes exactly one argument", n.name));
                None
            }
        }
    }

    fn on_off(&mut self, n: &Node) -> Option<bool> {
        let a = self.one_arg(n)?;
        if a.eq_ignore_ascii_case("on") {
            Some(true)
        } else if a.eq_ignore_ascii_case("off") {
            Some(false)
        } else {
            self.error(n, format!("{} takes On or Off", n.name));
            None
        }
    }

    fn directive(&mut self, n: &Node, d: &mut Draft, in_vhost: bool) {
        let name = n.name.to_ascii_lowercase();
        if !in_vhost && VHOST_ONLY.contains(&name.as_str()) {
            return self.error(
                n,
                format!(
                    "{} belongs in the <VirtualHost *:PORT> of a `Listen PORT https`",
                    n.name
                ),
            );
        }
        if in_vhost && SERVER_ONLY.contains(&name.as_str()) {
            return self.error(n, format!("{} is not allowed in <VirtualHost>", n.name));
        }
        match name.as_str() {
            "sslengine" => d.engine = self.on_off(n),
            "sslstrictsnivhostcheck" => d.strict_sni = self.on_off(n),
            "sslhonorcipherorder" => d.honor_order = self.on_off(n),
            "sslcertificatefile" => {
                d.cert = self.one_arg(n).map(|a| (resolve(n, a), origin(n)));
            }
            "sslcertificatekeyfile" => d.key = self.one_arg(n).map(|a| resolve(n, a)),
            "sslcertificatechainfile" => d.chain = self.one_arg(n).map(|a| resolve(n, a)),
            "sslprotocol" => match parse_protocols(&n.args) {
                Ok(p) => d.protocols = Some(p),
                Err(m) => self.error(n, m),
            },
            "sslciphersuite" => match parse_cipher_suite(&n.args) {
                Ok((true, s)) => d.suites13 = Some(s),
                Ok((false, s)) => d.suites12 = Some(s),
                Err(m) => self.error(n, m),
            },
            _ => {}
        }
    }
}

/// The https listeners, from the `Listen` lines' protocol argument.
fn listeners(nodes: &[Node], p: &mut Pass) -> (Vec<SocketAddr>, Vec<SocketAddr>) {
    let (mut tls, mut plain) = (Vec::new(), Vec::new());
    for n in nodes.iter().filter(|n| n.is("Listen")) {
        let Some(addr) = n
            .args
            .first()
            .and_then(|a| super::build::parse_listen(a).ok())
        else {
            continue; // the main pass reports it
        };
        match n.args.get(1).map(|s| s.to_ascii_lowercase()) {
            Some(proto) if proto == "https" => tls.push(addr),
            // Apache: "the protocol defaults to https for port 443 and http for others".
            None if addr.port() == 443 => tls.push(addr),
            None => plain.push(addr),
            Some(proto) if proto == "http" => plain.push(addr),
            Some(proto) => p.error(
                n,
                format!("Listen: protocol '{proto}' is not http or https"),
            ),
        }
    }
    (tls, plain)
}

/// Ports named by `<VirtualHost ADDR:PORT ...>`; empty when one is `*` or has no port.
fn vhost_ports(n: &Node) -> Vec<u16> {
    let mut ports = Vec::new();
    for a in &n.args {
        match a.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()) {
            Some(p) => ports.push(p),
            None => return Vec::new(),
        }
    }
    ports
}

/// The TLS pass: reads the TLS directives of `nodes` into `cfg.tls` (after the main pass built
/// `cfg.vhosts` from the same nodes).
pub fn build(
    nodes: &[Node],
    cfg: &mut Config,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<ConfigError>,
) {
    let mut p = Pass { errors, warnings };
    let (tls_listeners, plain_listeners) = listeners(nodes, &mut p);
    let mut server = Draft::default();
    for n in nodes.iter().filter(|n| is_directive(&n.name)) {
        p.directive(n, &mut server, false);
    }
    let mut tls = TlsConfig {
        listeners: tls_listeners,
        ..TlsConfig::default()
    };
    for n in nodes.iter().filter(|n| n.is("SSLKeyHolderContext")) {
        tls.key_holder_context = p.one_arg(n).map(str::to_string);
    }
    for n in nodes.iter().filter(|n| n.is("SSLRelaySocketContext")) {
        tls.relay_socket_context = p.one_arg(n).map(str::to_string);
        if !tls.enabled() {
            p.warnings.push(ConfigError {
                origin: origin(n),
                message: "SSLRelaySocketContext without a `Listen ... https`: no TLS relay runs"
                    .into(),
            });
        }
    }
    let vhost_nodes: Vec<&Node> = nodes
        .iter()
        .filter(|n| n.is("VirtualHost") && n.children.is_some())
        .collect();
    for n in &vhost_nodes {
        let mut d = server.clone();
        d.engine = None;
        for c in n.children.as_deref().unwrap_or_default() {
            if is_directive(&c.name) {
                p.directive(c, &mut d, true);
            }
        }
        let v = vhost_tls(&mut p, n, d, &mut tls.key_files);
        tls.vhosts.push(v);
    }
    if vhost_nodes.len() != cfg.vhosts.len() {
        tls.vhosts.resize(cfg.vhosts.len(), None);
    }
    check(&mut p, cfg, &tls, &plain_listeners);
    cfg.tls = tls;
}

fn vhost_tls(p: &mut Pass, n: &Node, d: Draft, keys: &mut Vec<PathBuf>) -> Option<VHostTls> {
    if d.engine != Some(true) {
        if d.cert.is_some() || d.key.is_some() {
            p.warnings.push(ConfigError {
                origin: origin(n),
                message: "SSLCertificateFile/SSLCertificateKeyFile without `SSLEngine on`: this virtual host is served without TLS".into(),
            });
        }
        return None;
    }
    let (Some((cert, _)), Some(key)) = (d.cert, d.key) else {
        p.error(
            n,
            "SSLEngine on needs SSLCertificateFile and SSLCertificateKeyFile",
        );
        return None;
    };
    let key_index = match keys.iter().position(|k| *k == key) {
        Some(i) => i,
        None => {
            keys.push(key);
            keys.len() - 1
        }
    };
    let (tls12, tls13) = d.protocols.unwrap_or((false, true));
    let suites = match (d.suites12, d.suites13) {
        (None, None) => None,
        (a, b) => Some(
            b.unwrap_or_else(|| default_suites(true))
                .into_iter()
                .chain(a.unwrap_or_else(|| default_suites(false)))
                .collect(),
        ),
    };
    Some(VHostTls {
        ports: vhost_ports(n),
        certificate_file: cert,
        chain_file: d.chain,
        key: u16::try_from(key_index).unwrap_or(u16::MAX),
        chain: Vec::new(),
        tls12,
        tls13,
        suites,
        strict_sni: d.strict_sni.unwrap_or(false),
        honor_cipher_order: d.honor_order.unwrap_or(false),
        origin: origin(n),
    })
}

fn default_suites(tls13: bool) -> Vec<String> {
    rustls::crypto::ring::DEFAULT_CIPHER_SUITES
        .iter()
        .filter(|s| s.tls13().is_some() == tls13)
        .map(|s| suite_names(s).0)
        .collect()
}

/// I3: every listener must have something to serve, every TLS vhost a listener.
fn check(p: &mut Pass, cfg: &Config, tls: &TlsConfig, plain: &[SocketAddr]) {
    let at = |o: &Origin| ConfigError {
        origin: o.clone(),
        message: String::new(),
    };
    let file0 = Origin {
        file: cfg.file.clone(),
        line: 0,
    };
    for v in tls.vhosts.iter().flatten() {
        let served = tls
            .listeners
            .iter()
            .any(|l| v.ports.is_empty() || v.ports.contains(&l.port()));
        if !served {
            p.errors.push(ConfigError {
                message: "SSLEngine on: no `Listen PORT https` has this <VirtualHost>'s port"
                    .into(),
                ..at(&v.origin)
            });
        }
    }
    for l in &tls.listeners {
        if tls.candidates(l.port()).is_empty() {
            p.errors.push(ConfigError {
                message: format!(
                    "Listen {l} https: no <VirtualHost *:{}> has `SSLEngine on`",
                    l.port()
                ),
                ..at(&file0)
            });
        }
    }
    let any_plain_vhost = (0..cfg.vhosts.len()).any(|i| !tls.vhost_is_tls(i));
    // (No vhost at all: the main pass has reported why.)
    if !plain.is_empty() && !cfg.vhosts.is_empty() && !any_plain_vhost {
        p.errors.push(ConfigError {
            message: "a plain (http) Listen but every <VirtualHost> has `SSLEngine on`: plain connections would have nothing to serve".into(),
            ..at(&file0)
        });
    }
    if tls.enabled() && cfg.reexec_children {
        p.errors.push(ConfigError {
            message: "ReexecChildren On with TLS listeners is not supported yet (the key holder channel is not passed across exec)".into(),
            ..at(&file0)
        });
    }
    if !tls.enabled() && tls.key_holder_context.is_some() {
        p.warnings.push(ConfigError {
            message: "SSLKeyHolderContext without a `Listen ... https`: no key holder runs".into(),
            ..at(&file0)
        });
    }
}

/// With `Confinement selinux` and a TLS listener, the key holder and the relay's socket need
/// contexts of their own: without `SSLKeyHolderContext` the key holder would run in the master's
/// domain (keys readable by the domain that forks every child), and without
/// `SSLRelaySocketContext` the relay's socketpair carries the child's pre-admission context,
/// which no web domain may use, so every handshake would end with nothing served. Both are
/// errors at `-t` rather than a weaker or dead server (checked once `Confinement` is settled).
pub fn check_selinux_contexts(cfg: &Config, confinement_at: Option<Origin>) -> Vec<ConfigError> {
    let tls = &cfg.tls;
    if !tls.enabled() || !cfg.confinement.contains(&crate::sandbox::Backend::Selinux) {
        return Vec::new();
    }
    let at = ConfigError {
        origin: confinement_at.unwrap_or_else(|| Origin {
            file: cfg.file.clone(),
            line: 0,
        }),
        message: String::new(),
    };
    let mut errors = Vec::new();
    for (set, name, why) in [
        (
            tls.key_holder_context.is_some(),
            "SSLKeyHolderContext",
            "the key holder would stay in the master's domain",
        ),
        (
            tls.relay_socket_context.is_some(),
            "SSLRelaySocketContext",
            "the relay's socket would carry the master's context, which no web domain may use, so nothing would be served",
        ),
    ] {
        if !set {
            errors.push(ConfigError {
                message: format!(
                    "`Confinement selinux` with a `Listen ... https` needs {name} (docs/tls.md): without it {why}"
                ),
                ..at.clone()
            });
        }
    }
    errors
}

/// Reads every TLS vhost's certificate file and chain file (public data) into `chain`, and
/// checks that each key file exists without opening it (only the key holder opens keys).
pub fn load_certificates(cfg: &mut Config, errors: &mut Vec<ConfigError>) {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let key_files = cfg.tls.key_files.clone();
    for v in cfg.tls.vhosts.iter_mut().flatten() {
        let mut chain = Vec::new();
        for (what, file) in [
            ("SSLCertificateFile", Some(&v.certificate_file)),
            ("SSLCertificateChainFile", v.chain_file.as_ref()),
        ] {
            let Some(file) = file else { continue };
            let certs: Result<Vec<_>, String> = match super::file::read_regular(file) {
                Ok(pem) => CertificateDer::pem_slice_iter(&pem)
                    .map(|c| c.map(|c| c.into_owned()))
                    .collect::<Result<_, _>>()
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match certs {
                Ok(c) if !c.is_empty() => chain.extend(c.into_iter().map(|c| c.to_vec())),
                Ok(_) => errors.push(ConfigError {
                    origin: v.origin.clone(),
                    message: format!("{what} {}: no certificate in it", file.display()),
                }),
                Err(e) => errors.push(ConfigError {
                    origin: v.origin.clone(),
                    message: format!("{what} {}: {e}", file.display()),
                }),
            }
        }
        v.chain = chain;
        if let Some(k) = key_files.get(usize::from(v.key)) {
            if let Err(e) = std::fs::symlink_metadata(k) {
                errors.push(ConfigError {
                    origin: v.origin.clone(),
                    message: format!("SSLCertificateKeyFile {}: {e}", k.display()),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn listener_matching() {
        let any: SocketAddr = "0.0.0.0:443".parse().unwrap();
        let lo: SocketAddr = "127.0.0.1:443".parse().unwrap();
        assert!(listener_matches(&any, "127.0.0.5:443".parse().unwrap()));
        assert!(listener_matches(&lo, "127.0.0.1:443".parse().unwrap()));
        assert!(listener_matches(
            &lo,
            "[::ffff:127.0.0.1]:443".parse().unwrap()
        ));
        assert!(!listener_matches(&lo, "127.0.0.2:443".parse().unwrap()));
        assert!(!listener_matches(&any, "127.0.0.1:80".parse().unwrap()));
    }
}
