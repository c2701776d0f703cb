//! Stage "front": after isolation, before the first request is read. On a PROXY listener the
//! header comes first (it names the client every later stage sees), then, on an https
//! listener, the TLS handshake. Any failure closes the connection without an HTTP response
//! (a TLS failure after the alert rustls queued), as Apache does.

use super::accept::Accepted;
use super::tls;
use super::vhost::On;
use crate::config::proxy::{Expect, HEADER_TIMEOUT};
use crate::config::Config;
use std::net::SocketAddr;

/// Who the client is and what kind of connection it is.
pub struct Front {
    pub peer: SocketAddr,
    pub on: On,
}

/// PROXY header, then TLS; `None` = close now.
pub fn open(cfg: &Config, accepted: &Accepted) -> Option<Front> {
    let front = establish(cfg, accepted)?;
    // Apache's `Timeout` bounds every wait on the client, sends included: a client that stops
    // reading a response must not hold this process (and its pool slot) for ever. Set here,
    // since with TLS the descriptor is now the relay's socket (the relay dies with this
    // process).
    if let Err(e) = accepted.stream.set_write_timeout(Some(cfg.timeout)) {
        log::error!(
            "{}: cannot bound sends by Timeout: {e}; closing",
            front.peer
        );
        return None;
    }
    Some(front)
}

fn establish(cfg: &Config, accepted: &Accepted) -> Option<Front> {
    let real = accepted.peer;
    let peer = match cfg.proxy.expect(accepted.local, real.ip()) {
        Expect::Direct => real,
        Expect::Refuse => {
            log::warn!("{real}: not a trusted PROXY protocol source (RemoteIPProxyProtocolTrusted); closing");
            return None;
        }
        Expect::Header => {
            match crate::proxy::read(&accepted.stream, real, HEADER_TIMEOUT.min(cfg.timeout)) {
                Ok(p) => {
                    log::debug!("{real}: PROXY protocol names client {p}");
                    p
                }
                Err(e) => {
                    log::info!("{real}: {e}; closing without a response");
                    return None;
                }
            }
        }
    };
    if !tls::applies(cfg, accepted.local) {
        crate::handoff::tls::discard();
        return Some(Front {
            peer,
            on: On::Plain,
        });
    }
    match tls::establish(cfg, &accepted.stream, accepted.local) {
        Ok(()) => {
            let s = crate::http::tls_session::session()?;
            log::debug!(
                "{peer}: {} {} for vhost {} (SNI {})",
                s.protocol,
                s.cipher,
                cfg.vhosts.get(s.vhost).map_or("-", |v| v.server_name()),
                s.sni.as_deref().unwrap_or("-")
            );
            Some(Front {
                peer,
                on: On::Tls {
                    vhost: s.vhost,
                    port: s.port,
                    sni: s.sni.is_some(),
                },
            })
        }
        Err(e) => {
            log::info!("{peer}: TLS {e}; closing");
            None
        }
    }
}
