//! Stage: pick the virtual host by Host, name-based as Apache does: the first vhost whose
//! ServerName or ServerAlias matches, else the first vhost (the default). Pure.
#![forbid(unsafe_code)]

use crate::config::{Config, VHost};

/// The connection a request arrived on, for vhost selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    Plain,
    /// A TLS connection whose handshake was made for `vhost` (an index into `Config::vhosts`)
    /// on a listener of `port`; `sni` says whether the client sent a name.
    Tls {
        vhost: usize,
        port: u16,
        sni: bool,
    },
}

/// Why a request on a TLS connection cannot be served there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misdirected {
    /// Host names another vhost than the one the TLS session was established for: 421
    /// (RFC 9110 §15.5.20; Apache AH02032).
    OtherVhost { host: String, session: String },
    /// No SNI and the vhost says `SSLStrictSNIVHostCheck On`: 403 (Apache AH02033).
    NoSni { vhost: String },
}

/// Selection by Host among the vhosts this connection may reach: on a plain connection the
/// vhosts without TLS (a TLS vhost's content is never served in clear); on a TLS connection
/// the TLS vhosts of its port, and the result must be the handshake's vhost (never vhost B's
/// content on A's certificate). A request without Host keeps the handshake's vhost.
pub fn select_on<'a>(
    cfg: &'a Config,
    host: Option<&str>,
    on: On,
) -> Result<&'a VHost, Misdirected> {
    match on {
        On::Plain => {
            let reachable: Vec<&VHost> = cfg
                .vhosts
                .iter()
                .enumerate()
                .filter(|(i, _)| !cfg.tls.vhost_is_tls(*i))
                .map(|(_, v)| v)
                .collect();
            let pick = host.and_then(|h| {
                reachable
                    .iter()
                    .find(|v| v.names.iter().any(|n| matches(n, h)))
            });
            Ok(pick
                .or(reachable.first())
                .copied()
                .unwrap_or(&cfg.vhosts[0]))
        }
        On::Tls { vhost, port, sni } => {
            let session = &cfg.vhosts[vhost];
            let chosen = match host {
                None => vhost,
                Some(h) => {
                    let candidates = cfg.tls.candidates(port);
                    candidates
                        .iter()
                        .copied()
                        .find(|&i| cfg.vhosts[i].names.iter().any(|n| matches(n, h)))
                        .or(candidates.first().copied())
                        .unwrap_or(vhost)
                }
            };
            if chosen != vhost {
                return Err(Misdirected::OtherVhost {
                    host: host.unwrap_or_default().to_string(),
                    session: session.server_name().to_string(),
                });
            }
            let strict = cfg
                .tls
                .vhosts
                .get(vhost)
                .and_then(Option::as_ref)
                .is_some_and(|t| t.strict_sni);
            if strict && !sni {
                return Err(Misdirected::NoSni {
                    vhost: session.server_name().to_string(),
                });
            }
            Ok(session)
        }
    }
}

pub fn select<'a>(vhosts: &'a [VHost], host: Option<&str>) -> &'a VHost {
    host.and_then(|h| {
        vhosts
            .iter()
            .find(|v| v.names.iter().any(|n| matches(n, h)))
    })
    .unwrap_or(&vhosts[0])
}

/// Exact match, or a wildcard alias such as `*.example.com` (`*` and `?` as in Apache).
pub fn matches(pattern: &str, host: &str) -> bool {
    crate::config::glob::star_question_matches(pattern, host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DirConf, Origin};

    fn v(names: &[&str]) -> VHost {
        VHost {
            names: names.iter().map(|s| s.to_string()).collect(),
            document_root: "/x".into(),
            root_origin: Origin {
                file: "f".into(),
                line: 2,
            },
            conf: DirConf::default(),
            directories: vec![],
            directory_matches: vec![],
            locations: vec![],
            script_aliases: vec![],
            aliases: vec![],
            redirects: vec![],
            origin: Origin {
                file: "f".into(),
                line: 1,
            },
            harden: Default::default(),
            access_logs: vec![],
            error_log: None,
            fcgi: Default::default(),
        }
    }

    #[test]
    fn table() {
        let hosts = [
            v(&["default.localhost"]),
            v(&["alice.localhost", "www.alice.localhost"]),
            v(&["*.bob.localhost"]),
        ];
        for (host, want) in [
            (Some("alice.localhost"), 1),
            (Some("www.alice.localhost"), 1),
            (Some("x.bob.localhost"), 2),
            (Some("bob.localhost"), 0),
            (Some("unknown"), 0),
            (None, 0),
        ] {
            let got = select(&hosts, host);
            assert_eq!(got.names, hosts[want].names, "{host:?}");
        }
    }

    /// A ServerAlias pattern with many stars against a long Host that almost matches: a
    /// backtracking matcher takes time exponential in the stars (C(400, 8) tries here); the
    /// answer must come at once. The Host is the client's, so this is a request, not a
    /// configuration, that would hang a child.
    #[test]
    fn many_stars_against_a_long_host_is_linear() {
        let host = "a".repeat(400);
        let started = std::time::Instant::now();
        assert!(!matches("*a*a*a*a*a*a*a*b", &host));
        assert!(matches("*a*a*a*a*a*a*a*a", &host));
        assert!(matches(
            &format!("*a*a*a*a*a*a*a*{}", "?".repeat(10)),
            &host
        ));
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_secs(1), "took {took:?}");
    }

    #[test]
    fn alias_table() {
        for (pattern, host, want) in [
            ("*.bob.localhost", "x.bob.localhost", true),
            ("*.bob.localhost", "bob.localhost", false),
            ("w?w.example", "www.example", true),
            ("w?w.example", "ww.example", false),
            ("alice.localhost", "alice.localhost", true),
            ("alice.localhost", "alice.localhost.", false),
        ] {
            assert_eq!(matches(pattern, host), want, "{pattern} {host}");
        }
    }
}
