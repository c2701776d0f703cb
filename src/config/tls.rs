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
//! - Default protocol: TLS 1.3 only. `SSLCipherSuite` takes explicit suite names (IANA or
//!   OpenSSL spelling) and each must be one rustls's ring provider offers; OpenSSL's keywords
//!   (`HIGH`, `!aNULL`) are errors rather than silently different.
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

/// `SSLProtocol [+|-]PROTO ...`: (TLS 1.2, TLS 1.3). `all` is both; SSLv3, TLSv1 and TLSv1.1
/// are refused (rustls does not implement them).
pub fn parse_protocols(args: &[String]) -> Result<(bool, bool), String> {
    if args.is_empty() {
        return Err("SSLProtocol needs at least one protocol".into());
    }
    let (mut t12, mut t13) = (false, false);
    for (i, a) in args.iter().enumerate() {
        let (op, word) = match a.as_bytes().first() {
            Some(b'+') => (Some(true), a.get(1..).unwrap_or_default()),
            Some(b'-') => (Some(false), a.get(1..).unwrap_or_default()),
            _ => (None, a.as_str()),
        };
        let (a12, a13) = match word.to_ascii_lowercase().as_str() {
            "all" => (true, true),
            "tlsv1.2" => (true, false),
            "tlsv1.3" => (false, true),
            "sslv3" | "tlsv1" | "tlsv1.1" => {
                if op == Some(false) {
                    continue;
                }
                return Err(format!(
                    "SSLProtocol: {word} is not offered (only TLSv1.2 and TLSv1.3)"
                ));
            }
            _ => return Err(format!("SSLProtocol: unknown protocol '{word}'")),
        };
        match op {
            // A bare word replaces what came before (Apache: the first plain word starts over).
            None if i == 0 => (t12, t13) = (a12, a13),
            None | Some(true) => {
                t12 |= a12;
                t13 |= a13;
            }
            Some(false) => {
                t12 &= !a12;
                t13 &= !a13;
            }
        }
    }
    if !t12 && !t13 {
        return Err("SSLProtocol leaves no protocol enabled".into());
    }
    Ok((t12, t13))
}

/// Names of one suite the ring provider offers: rustls's, IANA's, OpenSSL's.
fn suite_names(s: &rustls::SupportedCipherSuite) -> (String, Vec<String>) {
    let rustls_name = format!("{:?}", s.suite());
    let mut names = vec![rustls_name.clone()];
    if let Some(rest) = rustls_name.strip_prefix("TLS13_") {
        names.push(format!("TLS_{rest}"));
    } else {
        let openssl = rustls_name
            .strip_prefix("TLS_ECDHE_")
            .and_then(|r| r.split_once("_WITH_"))
            .map(|(auth, cipher)| {
                let cipher = cipher
                    .replace("AES_128_GCM", "AES128-GCM")
                    .replace("AES_256_GCM", "AES256-GCM")
                    .replace("CHACHA20_POLY1305_SHA256", "CHACHA20-POLY1305")
                    .replace('_', "-");
                format!("ECDHE-{auth}-{cipher}")
            });
        names.extend(openssl);
    }
    (rustls_name, names)
}

/// What the library offers, for the error message.
fn offered() -> String {
    rustls::crypto::ring::ALL_CIPHER_SUITES
        .iter()
        .map(|s| suite_names(s).1.last().cloned().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `SSLCipherSuite [TLSv1.3|SSL] SPEC`: (for TLS 1.3, rustls suite names in the order to
/// prefer). For TLS 1.3, as OpenSSL's `-ciphersuites`, SPEC lists suite names; otherwise it is
/// an OpenSSL cipher string ([`cipher_string`]).
pub fn parse_cipher_suite(args: &[String]) -> Result<(bool, Vec<String>), String> {
    let (tls13, spec) = match args {
        [spec] => (false, spec),
        [proto, spec] if proto.eq_ignore_ascii_case("tlsv1.3") => (true, spec),
        [proto, spec] if proto.eq_ignore_ascii_case("ssl") => (false, spec),
        _ => return Err("SSLCipherSuite takes [TLSv1.3|SSL] NAME[:NAME...]".into()),
    };
    if !tls13 {
        return cipher_string(spec).map(|v| (false, v));
    }
    let mut out = Vec::new();
    for word in spec.split(':').filter(|w| !w.is_empty()) {
        match find_suite(word) {
            Some((canon, true)) => out.push(canon),
            Some(_) => return Err(format!("SSLCipherSuite TLSv1.3: {word} is a TLS 1.2 suite")),
            None => return Err(not_offered(word)),
        }
    }
    if out.is_empty() {
        return Err("SSLCipherSuite names no suite".into());
    }
    Ok((tls13, out))
}

/// A suite the ring provider offers, by any of its names: (rustls name, is TLS 1.3).
fn find_suite(word: &str) -> Option<(String, bool)> {
    rustls::crypto::ring::ALL_CIPHER_SUITES
        .iter()
        .find_map(|s| {
            let (canon, names) = suite_names(s);
            names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(word))
                .then_some((canon, s.tls13().is_some()))
        })
}

fn not_offered(word: &str) -> String {
    format!(
        "SSLCipherSuite: '{word}' is not a suite this build offers; offered: {}",
        offered()
    )
}

/// OpenSSL's name of a suite (mod_ssl's `SSL_CIPHER`): the IANA name for TLS 1.3,
/// `ECDHE-ECDSA-AES256-GCM-SHA384` and the like for TLS 1.2.
pub fn openssl_name(s: rustls::CipherSuite) -> String {
    rustls::crypto::ring::ALL_CIPHER_SUITES
        .iter()
        .find(|x| x.suite() == s)
        .and_then(|x| suite_names(x).1.last().cloned())
        .unwrap_or_else(|| format!("{s:?}"))
}

/// The TLS 1.2 suites rustls's ring provider has, described as OpenSSL's cipher-string
/// language sees them, in the order `openssl ciphers ALL` lists them (OpenSSL 3.0):
/// (OpenSSL name, authentication, encryption, strength bits).
const TLS12: [(&str, &str, &str, u16); 6] = [
    ("ECDHE-ECDSA-AES256-GCM-SHA384", "ECDSA", "AES256GCM", 256),
    ("ECDHE-RSA-AES256-GCM-SHA384", "RSA", "AES256GCM", 256),
    ("ECDHE-ECDSA-CHACHA20-POLY1305", "ECDSA", "CHACHA20", 256),
    ("ECDHE-RSA-CHACHA20-POLY1305", "RSA", "CHACHA20", 256),
    ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDSA", "AES128GCM", 128),
    ("ECDHE-RSA-AES128-GCM-SHA256", "RSA", "AES128GCM", 128),
];

/// OpenSSL's keywords that select none of [`TLS12`] (weak, anonymous, static-key, PSK, SRP,
/// CBC-era and non-AEAD families): known, so they are not typos, and harmless to name.
const MATCH_NONE: &[&str] = &[
    "COMPLEMENTOFALL",
    "COMPLEMENTOFDEFAULT",
    "LOW",
    "MEDIUM",
    "EXPORT",
    "EXP",
    "EXPORT40",
    "EXPORT56",
    "eNULL",
    "NULL",
    "aNULL",
    "ADH",
    "AECDH",
    "kRSA",
    "RSA",
    "DH",
    "EDH",
    "DHE",
    "kDHE",
    "kEDH",
    "kDHr",
    "kDHd",
    "kDH",
    "aDH",
    "kECDHr",
    "kECDHe",
    "kECDH",
    "aECDH",
    "aDSS",
    "DSS",
    "PSK",
    "kPSK",
    "aPSK",
    "kECDHEPSK",
    "kDHEPSK",
    "kRSAPSK",
    "ECDHEPSK",
    "DHEPSK",
    "RSAPSK",
    "SRP",
    "kSRP",
    "aSRP",
    "3DES",
    "DES",
    "RC4",
    "RC2",
    "IDEA",
    "SEED",
    "MD5",
    "SHA1",
    "SHA",
    "SHA256",
    "SHA384",
    "CAMELLIA",
    "CAMELLIA128",
    "CAMELLIA256",
    "ARIA",
    "ARIA128",
    "ARIA256",
    "ARIAGCM",
    "AESCCM",
    "AESCCM8",
    "AES128CCM",
    "AES256CCM",
    "AES128CCM8",
    "AES256CCM8",
    "GOST94",
    "GOST89MAC",
    "kGOST",
    "aGOST",
    "aGOST01",
    "SSLv3",
    "TLSv1",
    "TLSv1.0",
    "SUITEB128",
    "SUITEB128ONLY",
    "SUITEB192",
];

/// Which of [`TLS12`] one keyword (no operator, no `+`) selects; `None`: not a keyword.
fn keyword(word: &str) -> Option<[bool; 6]> {
    let all = |f: &dyn Fn(&str, &str) -> bool| {
        let mut m = [false; 6];
        for (slot, (_, auth, enc, _)) in m.iter_mut().zip(TLS12.iter()) {
            *slot = f(auth, enc);
        }
        m
    };
    let w = word.to_ascii_uppercase();
    let m = match w.as_str() {
        "ALL" | "DEFAULT" | "HIGH" | "AEAD" | "TLSV1.2" | "KECDHE" | "KEECDH" | "ECDHE"
        | "EECDH" | "FIPS" => all(&|_, _| true),
        "AECDSA" | "ECDSA" => all(&|a, _| a == "ECDSA"),
        "ARSA" => all(&|a, _| a == "RSA"),
        "AES" | "AESGCM" => all(&|_, e| e.starts_with("AES")),
        "AES128" => all(&|_, e| e == "AES128GCM"),
        "AES256" => all(&|_, e| e == "AES256GCM"),
        "CHACHA20" => all(&|_, e| e == "CHACHA20"),
        _ if MATCH_NONE.iter().any(|k| k.eq_ignore_ascii_case(word)) => [false; 6],
        _ => {
            // A suite's own name (OpenSSL's, IANA's or rustls's).
            let (canon, _) = find_suite(word)?;
            let mut m = [false; 6];
            for (slot, (name, ..)) in m.iter_mut().zip(TLS12.iter()) {
                *slot = find_suite(name).is_some_and(|(c, _)| c == canon);
            }
            m
        }
    };
    Some(m)
}

/// Evaluates an OpenSSL cipher string (`ciphers(1)`) over the TLS 1.2 suites this build has,
/// as OpenSSL does: words separated by `:`, `,`, `;` or spaces; `WORD` appends what it selects
/// that is not yet listed, `-WORD` removes (it may come back), `!WORD` removes for good,
/// `+WORD` moves to the end, `A+B` selects what both select, `@STRENGTH` sorts by key length,
/// `@SECLEVEL=N` changes nothing here (every suite has at least 128 bits). A word OpenSSL
/// would not know, or a suite this build lacks (`AES128-SHA`), is an error rather than
/// silently nothing; TLS 1.3 suite names belong in `SSLCipherSuite TLSv1.3`. Returns rustls
/// suite names, most preferred first.
pub fn cipher_string(spec: &str) -> Result<Vec<String>, String> {
    let mut list: Vec<usize> = Vec::new();
    let mut banned = [false; 6];
    for word in spec.split([':', ',', ';', ' ']).filter(|w| !w.is_empty()) {
        if word.eq_ignore_ascii_case("@STRENGTH") {
            list.sort_by_key(|&i| std::cmp::Reverse(TLS12.get(i).map_or(0, |t| t.3)));
            continue;
        }
        if word.len() > 10
            && word
                .get(..10)
                .is_some_and(|p| p.eq_ignore_ascii_case("@SECLEVEL="))
        {
            continue;
        }
        let (op, body) = match word.as_bytes().first() {
            Some(c @ (b'!' | b'-' | b'+')) => (*c, word.get(1..).unwrap_or_default()),
            _ => (b' ', word),
        };
        let mut sel = [true; 6];
        for part in body.split('+') {
            if find_suite(part).is_some_and(|(_, is13)| is13) {
                return Err(format!(
                    "SSLCipherSuite: {part} is a TLS 1.3 suite; write `SSLCipherSuite TLSv1.3 {part}`"
                ));
            }
            let Some(m) = keyword(part) else {
                return Err(if part.contains('-') || part.contains('_') {
                    not_offered(part)
                } else {
                    format!("SSLCipherSuite: '{part}' is not an OpenSSL cipher keyword or a suite this build offers; offered: {}", offered())
                });
            };
            for (s, m) in sel.iter_mut().zip(m) {
                *s &= m;
            }
        }
        let selected = |i: &usize| sel.get(*i).copied().unwrap_or(false);
        match op {
            b'!' => {
                for (b, s) in banned.iter_mut().zip(sel) {
                    *b |= s;
                }
                list.retain(|i| !selected(i));
            }
            b'-' => list.retain(|i| !selected(i)),
            b'+' => {
                let (moved, kept): (Vec<usize>, Vec<usize>) =
                    list.iter().partition(|i| selected(i));
                list = kept.into_iter().chain(moved).collect();
            }
            _ => {
                for i in 0..TLS12.len() {
                    if selected(&i) && !banned.get(i).copied().unwrap_or(true) && !list.contains(&i)
                    {
                        list.push(i);
                    }
                }
            }
        }
    }
    let out: Vec<String> = list
        .iter()
        .filter_map(|&i| TLS12.get(i))
        .filter_map(|(name, ..)| find_suite(name).map(|(c, _)| c))
        .collect();
    if out.is_empty() {
        return Err(format!(
            "SSLCipherSuite {spec} selects no suite this build offers (offered: {})",
            offered()
        ));
    }
    Ok(out)
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

/// mod_ssl's directives about things this server does differently; each keeps Apache's meaning
/// where the server already behaves that way, and otherwise gets a `-t` warning saying what is
/// lost (I3: never accepted in silence).
pub mod other {
    use super::super::build::Builder;
    use super::super::model::DirConf;
    use super::super::parse::Node;

    fn arg(n: &Node) -> &str {
        n.args.first().map_or("", String::as_str)
    }

    /// `SSLSessionCache none|nonenotnull|TYPE:ARGS`.
    pub fn session_cache(b: &mut Builder, n: &Node) {
        let a = arg(n);
        if !(a.eq_ignore_ascii_case("none") || a.eq_ignore_ascii_case("nonenotnull")) {
            b.warn(n, format!("SSLSessionCache {a}: accepted without effect: there is no session cache, resumption is off (each child serves one connection; see docs/tls.md), as SSLSessionCache none"));
        }
    }

    pub fn session_cache_timeout(b: &mut Builder, n: &Node) {
        if arg(n).parse::<u64>().is_err() {
            return b.error(n, "SSLSessionCacheTimeout takes a number of seconds");
        }
        b.warn(n, "SSLSessionCacheTimeout: accepted without effect: there is no session cache, resumption is off (docs/tls.md)");
    }

    /// On/Off; Off is what the server does.
    fn off_or_warn(b: &mut Builder, n: &Node, why: &str) {
        let a = arg(n);
        if a.eq_ignore_ascii_case("on") {
            b.warn(n, format!("{} On: accepted without effect: {why}", n.name));
        } else if !a.eq_ignore_ascii_case("off") {
            b.error(n, format!("{} takes On or Off", n.name));
        }
    }

    pub fn session_tickets(b: &mut Builder, n: &Node) {
        off_or_warn(b, n, "session tickets are never issued (resumption is off; docs/tls.md), as SSLSessionTickets Off");
    }

    pub fn compression(b: &mut Builder, n: &Node) {
        off_or_warn(
            b,
            n,
            "TLS compression (CRIME) is never offered, as SSLCompression Off",
        );
    }

    /// `SSLOptions [+|-]OPTION...`: `StdEnvVars` gives CGI programs mod_ssl's `SSL_*`
    /// variables; the options about client certificates have nothing to act on.
    pub fn options(b: &mut Builder, n: &Node, d: &mut DirConf) {
        let relative = n.args.iter().any(|a| a.starts_with(['+', '-']));
        let absolute = n.args.iter().any(|a| !a.starts_with(['+', '-']));
        if relative && absolute {
            return b.error(
                n,
                "SSLOptions: either all options with + or -, or none (Apache refuses the mix)",
            );
        }
        let mut std_env = (!relative).then_some(false);
        for a in &n.args {
            let (plus, word) = match a.strip_prefix('+') {
                Some(w) => (true, w),
                None => a
                    .strip_prefix('-')
                    .map_or((true, a.as_str()), |w| (false, w)),
            };
            match word.to_ascii_lowercase().as_str() {
                "stdenvvars" => std_env = Some(plus),
                "exportcertdata" | "fakebasicauth" | "strictrequire" | "optrenegotiate" | "legacydnstringformat" => {
                    if plus {
                        b.warn(n, format!("SSLOptions {word}: accepted without effect: no client certificates are requested, so there is nothing for it to act on"));
                    }
                }
                "compatenvvars" => return b.error(n, "SSLOptions CompatEnvVars was removed in Apache 2.2; use StdEnvVars"),
                _ => return b.error(n, format!("SSLOptions: unknown option '{word}' (StdEnvVars, ExportCertData, FakeBasicAuth, StrictRequire, OptRenegotiate, LegacyDNStringFormat)")),
            }
        }
        if std_env.is_some() {
            d.ssl_std_env_vars = std_env;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn protocol_table() {
        for (args, want) in [
            (&["TLSv1.3"][..], Ok((false, true))),
            (&["TLSv1.2"], Ok((true, false))),
            (&["all"], Ok((true, true))),
            (&["all", "-TLSv1.2"], Ok((false, true))),
            (&["all", "-SSLv3", "-TLSv1", "-TLSv1.1"], Ok((true, true))),
            (&["-all", "+TLSv1.3"], Ok((false, true))),
            (&["TLSv1.2", "+TLSv1.3"], Ok((true, true))),
            (&["all", "-all"], Err(())),
            (&["TLSv1.1"], Err(())),
            (&["TLSv9"], Err(())),
        ] {
            assert_eq!(parse_protocols(&s(args)).map_err(|_| ()), want, "{args:?}");
        }
    }

    #[test]
    fn cipher_suite_table() {
        for (args, want) in [
            (
                &[
                    "TLSv1.3",
                    "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256",
                ][..],
                Ok((
                    true,
                    s(&["TLS13_AES_128_GCM_SHA256", "TLS13_CHACHA20_POLY1305_SHA256"]),
                )),
            ),
            (
                &["ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305"],
                Ok((
                    false,
                    s(&[
                        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                    ]),
                )),
            ),
            (
                &["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"],
                Ok((false, s(&["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]))),
            ),
            (
                &["HIGH:!aNULL"],
                Ok((
                    false,
                    s(&[
                        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                    ]),
                )),
            ),
            (
                &["ECDSA+AES128:CHACHA20:-aRSA:!kRSA"],
                Ok((
                    false,
                    s(&[
                        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                    ]),
                )),
            ),
            (&["MEDIUM:!aNULL"], Err(())),
            (&["HIGH:!aNULL:FOO"], Err(())),
            (&["HIGH:DHE-RSA-AES128-GCM-SHA256"], Err(())),
            (&["TLSv1.3", "ECDHE-RSA-AES128-GCM-SHA256"], Err(())),
            (&["TLS_AES_128_GCM_SHA256"], Err(())),
            (&["AES128-SHA"], Err(())),
        ] {
            assert_eq!(
                parse_cipher_suite(&s(args)).map_err(|_| ()),
                want,
                "{args:?}"
            );
        }
    }

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
