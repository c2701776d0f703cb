//! Stage: pick the virtual host by Host, name-based as Apache does: the first vhost whose
//! ServerName or ServerAlias matches, else the first vhost (the default). Pure.
#![forbid(unsafe_code)]

use crate::config::VHost;

pub fn select<'a>(vhosts: &'a [VHost], host: Option<&str>) -> &'a VHost {
    host.and_then(|h| {
        vhosts
            .iter()
            .find(|v| v.names.iter().any(|n| matches(n, h)))
    })
    .unwrap_or(&vhosts[0])
}

/// Exact match, or a wildcard alias such as `*.example.com` (`*` and `?` as in Apache).
fn matches(pattern: &str, host: &str) -> bool {
    fn go(p: &[u8], h: &[u8]) -> bool {
        match (p.first(), h.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], h) || (!h.is_empty() && go(p, &h[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &h[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &h[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), host.as_bytes())
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
            locations: vec![],
            script_aliases: vec![],
            origin: Origin {
                file: "f".into(),
                line: 1,
            },
            harden: Default::default(),
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
}
