//! mod_remoteip's PROXY protocol directives: `RemoteIPProxyProtocol On|Off` (server or
//! `<VirtualHost>`), `RemoteIPProxyProtocolExceptions ADDR[/CIDR]...`, and ours,
//! `RemoteIPProxyProtocolTrusted ADDR[/CIDR]...`: the only sources whose header is believed.
//!
//! Stage: configuration, a second pass over the tree like `config::tls` (the main pass skips the
//! names [`is_directive`] claims).
//!
//! Decisions:
//! - The header comes before any HTTP (or TLS) byte, before a vhost is known, so `On` applies to
//!   listeners: at server level to every `Listen`, in a `<VirtualHost *:PORT>` to the listeners
//!   on PORT (on all of them for `*`), which is what mod_remoteip does for name-based vhosts.
//! - On such a listener a connection from an exception host is served as is, without a header
//!   (Apache); one from a host outside `RemoteIPProxyProtocolTrusted` (when given) is closed
//!   before a byte is read; every other connection must start with a valid header or is closed
//!   without a response (Apache's behaviour on a bad header).
//! - Without `RemoteIPProxyProtocolTrusted` any source may claim any address (Apache's
//!   behaviour): that is a warning, since it gives away `Require ip` and map network rules.
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
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How long a PROXY header may take to arrive (HAProxy's documentation: a few seconds).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProxyConfig {
    /// Listen addresses whose connections start with a PROXY header.
    pub listeners: Vec<SocketAddr>,
    /// Sources served without a header.
    pub exceptions: Vec<IpNet>,
    /// Sources whose header is believed; `None` = any (warned about).
    pub trusted: Option<Vec<IpNet>>,
}

/// What to do with a new connection before reading from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Not a PROXY listener, or an exception host: HTTP (or TLS) starts at once.
    Direct,
    /// Read and check the header first.
    Header,
    /// A PROXY listener and a source that may not send one: close.
    Refuse,
}

impl ProxyConfig {
    pub fn expect(&self, local: SocketAddr, source: IpAddr) -> Expect {
        let contains = |nets: &[IpNet]| {
            nets.iter()
                .any(|n| crate::policy::map::net_contains(n, source))
        };
        let on_listener = self
            .listeners
            .iter()
            .any(|l| super::tls::listener_matches(l, local));
        if !on_listener || contains(&self.exceptions) {
            Expect::Direct
        } else if self.trusted.as_deref().is_some_and(|t| !contains(t)) {
            Expect::Refuse
        } else {
            Expect::Header
        }
    }
}

const NAMES: &[&str] = &[
    "remoteipproxyprotocol",
    "remoteipproxyprotocolexceptions",
    "remoteipproxyprotocoltrusted",
];

pub fn is_directive(name: &str) -> bool {
    NAMES.contains(&name.to_ascii_lowercase().as_str())
}

fn origin(n: &Node) -> Origin {
    Origin {
        file: n.file.clone(),
        line: n.line,
    }
}

fn nets(n: &Node, errors: &mut Vec<ConfigError>) -> Vec<IpNet> {
    if n.args.is_empty() {
        errors.push(ConfigError {
            origin: origin(n),
            message: format!("{} needs at least one address or network", n.name),
        });
    }
    n.args
        .iter()
        .filter_map(|a| match crate::policy::map::parse_net(a) {
            Ok(net) => Some(net),
            Err(m) => {
                errors.push(ConfigError {
                    origin: origin(n),
                    message: format!("{}: {m}", n.name),
                });
                None
            }
        })
        .collect()
}

fn on_off(n: &Node, errors: &mut Vec<ConfigError>) -> Option<bool> {
    match n.args.as_slice() {
        [a] if a.eq_ignore_ascii_case("on") => Some(true),
        [a] if a.eq_ignore_ascii_case("off") => Some(false),
        _ => {
            errors.push(ConfigError {
                origin: origin(n),
                message: format!("{} takes On or Off", n.name),
            });
            None
        }
    }
}

/// Reads the PROXY directives into `cfg.proxy` (after the main pass filled `cfg.listen`).
pub fn build(
    nodes: &[Node],
    cfg: &mut Config,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<ConfigError>,
) {
    let mut p = ProxyConfig::default();
    let mut server_on = false;
    let mut ports: Vec<Option<u16>> = Vec::new();
    let mut on_at: Option<Origin> = None;
    let directive =
        |n: &Node, p: &mut ProxyConfig, errors: &mut Vec<ConfigError>| -> Option<bool> {
            match n.name.to_ascii_lowercase().as_str() {
                "remoteipproxyprotocol" => return on_off(n, errors),
                "remoteipproxyprotocolexceptions" => p.exceptions.extend(nets(n, errors)),
                _ => {
                    let t = nets(n, errors);
                    p.trusted.get_or_insert_with(Vec::new).extend(t);
                }
            }
            None
        };
    for n in nodes.iter().filter(|n| is_directive(&n.name)) {
        if directive(n, &mut p, errors) == Some(true) {
            server_on = true;
            on_at = Some(origin(n));
        }
    }
    for v in nodes
        .iter()
        .filter(|n| n.is("VirtualHost") && n.children.is_some())
    {
        for c in v.children.as_deref().unwrap_or_default() {
            if is_directive(&c.name) && directive(c, &mut p, errors) == Some(true) {
                on_at = Some(origin(c));
                let vp: Vec<Option<u16>> = v
                    .args
                    .iter()
                    .map(|a| a.rsplit_once(':').and_then(|(_, port)| port.parse().ok()))
                    .collect();
                ports.extend(vp);
            }
        }
    }
    p.listeners = cfg
        .listen
        .iter()
        .filter(|l| server_on || ports.iter().any(|pt| pt.is_none_or(|pt| pt == l.port())))
        .copied()
        .collect();
    if let Some(at) = on_at {
        if p.listeners.is_empty() {
            errors.push(ConfigError {
                origin: at.clone(),
                message: "RemoteIPProxyProtocol On: no Listen has this <VirtualHost>'s port".into(),
            });
        }
        if p.trusted.is_none() {
            warnings.push(ConfigError {
                origin: at,
                message: "RemoteIPProxyProtocol On without RemoteIPProxyProtocolTrusted: any host that reaches the listener can claim any client address (Require ip, map network rules, logs)".into(),
            });
        }
    }
    cfg.proxy = p;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn expect_table() {
        let p = ProxyConfig {
            listeners: vec!["0.0.0.0:8080".parse().unwrap()],
            exceptions: vec!["127.0.0.9/32".parse().unwrap()],
            trusted: Some(vec!["127.0.0.0/29".parse().unwrap()]),
        };
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let other: SocketAddr = "127.0.0.1:9090".parse().unwrap();
        for (l, src, want) in [
            (local, "127.0.0.1", Expect::Header),
            (local, "127.0.0.9", Expect::Direct),
            (local, "127.0.0.20", Expect::Refuse),
            (other, "127.0.0.20", Expect::Direct),
            (local, "::ffff:127.0.0.2", Expect::Header),
        ] {
            assert_eq!(p.expect(l, src.parse().unwrap()), want, "{l} {src}");
        }
        let open = ProxyConfig { trusted: None, ..p };
        assert_eq!(
            open.expect(local, "10.1.1.1".parse().unwrap()),
            Expect::Header
        );
    }
}
