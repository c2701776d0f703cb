//! Facts about this process's TLS session, once `child::tls` has made the handshake: which
//! vhost it was made for (front-end selection), the listener's port, and mod_ssl's CGI
//! variables for the handlers (CGI, FastCGI). Set once per process; a plain connection has none.
#![forbid(unsafe_code)]

use std::sync::OnceLock;

static SESSION: OnceLock<Session> = OnceLock::new();

/// Records the established session; only the first call in a process counts.
pub fn set(session: Session) {
    let _ = SESSION.set(session);
}

/// The TLS session of this process's connection, if it is one.
pub fn session() -> Option<&'static Session> {
    SESSION.get()
}

/// Facts about the established session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Index into `Config::vhosts` of the vhost the handshake was made for.
    pub vhost: usize,
    /// The listener's port (which TLS vhosts are candidates).
    pub port: u16,
    /// The SNI name, lowercase.
    pub sni: Option<String>,
    /// `TLSv1.3` or `TLSv1.2`, as mod_ssl's SSL_PROTOCOL.
    pub protocol: &'static str,
    /// The suite's OpenSSL name, as mod_ssl's SSL_CIPHER.
    pub cipher: String,
    /// mod_ssl's `SSL_SERVER_*` variables of the vhost's certificate (`child::certvars`).
    pub server_cert: Vec<(&'static str, String)>,
}

/// mod_ssl's CGI variables on a TLS connection: `HTTPS=on` always (mod_ssl's fixup sets it
/// for every TLS request), and with `SSLOptions +StdEnvVars` (`std_env_vars`) the `SSL_*`
/// variables this server knows: protocol, cipher (OpenSSL's name) and its key sizes, SNI,
/// no compression, never resumed. Plain connections keep `HTTPS=off`.
pub fn with_cgi_vars(mut env: Vec<Vec<u8>>, std_env_vars: bool) -> Vec<Vec<u8>> {
    let Some(s) = session() else { return env };
    env.retain(|e| !e.starts_with(b"HTTPS="));
    let mut put = |k: &str, v: &str| env.push(format!("{k}={v}").into_bytes());
    put("HTTPS", "on");
    if std_env_vars {
        for (k, v) in ssl_vars(s) {
            put(k, &v);
        }
        for (k, v) in &s.server_cert {
            put(k, v);
        }
        put("SSL_CIPHER_EXPORT", "false");
        put("SSL_COMPRESS_METHOD", "NULL");
        put(
            "SSL_VERSION_INTERFACE",
            concat!("oneshot-httpd/", env!("CARGO_PKG_VERSION")),
        );
        put("SSL_VERSION_LIBRARY", "rustls/0.23");
    }
    env.sort();
    env
}

/// The session's mod_ssl variables that depend on it (names as mod_ssl's).
fn ssl_vars(s: &Session) -> Vec<(&'static str, String)> {
    let bits = if s.cipher.contains("128") {
        "128"
    } else {
        "256"
    };
    let mut v = vec![
        ("SSL_PROTOCOL", s.protocol.to_string()),
        ("SSL_CIPHER", s.cipher.clone()),
        ("SSL_CIPHER_USEKEYSIZE", bits.to_string()),
        ("SSL_CIPHER_ALGKEYSIZE", bits.to_string()),
        ("SSL_SESSION_RESUMED", "Initial".to_string()),
    ];
    if let Some(sni) = &s.sni {
        v.push(("SSL_TLS_SNI", sni.clone()));
    }
    v
}

/// mod_ssl's variables for the access log's `%{VAR}x` (`crate::logformat::SSL_VARS`): on a
/// TLS connection `HTTPS=on` and the session's; on a plain one only `HTTPS=off` (mod_ssl's
/// answers: the `SSL_*` ones are then `-`).
pub fn log_vars() -> Vec<(&'static str, String)> {
    match session() {
        Some(s) => {
            let mut v = ssl_vars(s);
            v.push(("HTTPS", "on".to_string()));
            v
        }
        None => vec![("HTTPS", "off".to_string())],
    }
}
