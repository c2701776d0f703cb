//! The PROXY protocol (haproxy `doc/proxy-protocol.txt`), as mod_remoteip's
//! `RemoteIPProxyProtocol`: on a configured listener the connection starts with a header that
//! names the real client, read here strictly before any HTTP or TLS byte.
//!
//! Stage: the child's front, after isolation (the child is already in the worker identity and
//! holds only its connection) and before TLS.
//!
//! Invariants:
//! - Never reads a byte past the header: a v1 line is read a byte at a time, a v2 block by its
//!   announced length, so what follows belongs untouched to HTTP or TLS.
//! - The whole header must arrive within [`crate::config::proxy::HEADER_TIMEOUT`].
//! - Any error means: close without a response (Apache does the same).
#![deny(unsafe_code)]

pub mod header;

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub use header::{Addresses, HeaderError, Parsed};

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("{0}")]
    Header(#[from] HeaderError),
    #[error("no complete PROXY header within {0:?}")]
    Timeout(Duration),
    #[error("connection closed inside the PROXY header")]
    Closed,
    #[error("reading the PROXY header: {0}")]
    Io(io::Error),
}

/// Reads one header from `stream`; returns the client's address (the real peer for LOCAL,
/// UNKNOWN and the like).
pub fn read(
    stream: &TcpStream,
    real_peer: SocketAddr,
    timeout: Duration,
) -> Result<SocketAddr, ProxyError> {
    let until = Instant::now() + timeout;
    let mut buf: Vec<u8> = Vec::with_capacity(64);
    loop {
        let want = match header::parse(&buf)? {
            Parsed::Complete { addresses, len } => {
                debug_assert_eq!(len, buf.len());
                return Ok(match addresses {
                    Addresses::Real => real_peer,
                    Addresses::Proxied { source, .. } => source,
                });
            }
            Parsed::Incomplete => next_read_len(&buf),
        };
        let start = buf.len();
        buf.resize(start + want, 0);
        let mut got = start;
        while got < buf.len() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ProxyError::Timeout(timeout));
            }
            stream
                .set_read_timeout(Some(left))
                .map_err(ProxyError::Io)?;
            match (&*stream).read(buf.get_mut(got..).unwrap_or_default()) {
                Ok(0) => return Err(ProxyError::Closed),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(ProxyError::Timeout(timeout))
                }
                Err(e) => return Err(ProxyError::Io(e)),
            }
        }
    }
}

/// How many bytes may be read next without going past the header: one at a time until the
/// version is known, then a v2 block by its length.
fn next_read_len(buf: &[u8]) -> usize {
    if buf.len() >= 16 && buf.starts_with(header::V2_SIGNATURE) {
        let len = buf
            .get(14..16)
            .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
        (16 + len).saturating_sub(buf.len()).max(1)
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (c, s)
    }

    #[test]
    fn reads_exactly_the_header() {
        let (mut c, s) = pair();
        let real: SocketAddr = "127.0.0.1:1".parse().unwrap();
        c.write_all(b"PROXY TCP4 127.0.0.7 127.0.0.1 4000 80\r\nGET / HTTP/1.1\r\n")
            .unwrap();
        let got = read(&s, real, Duration::from_secs(2)).unwrap();
        assert_eq!(got, "127.0.0.7:4000".parse().unwrap());
        let mut rest = [0u8; 5];
        (&s).read_exact(&mut rest).unwrap();
        assert_eq!(&rest, b"GET /");
    }

    #[test]
    fn garbage_and_silence_fail() {
        let real: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let (mut c, s) = pair();
        c.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        assert!(matches!(
            read(&s, real, Duration::from_secs(2)),
            Err(ProxyError::Header(HeaderError::NotProxy))
        ));
        let (_c, s) = pair();
        assert!(matches!(
            read(&s, real, Duration::from_millis(200)),
            Err(ProxyError::Timeout(_))
        ));
    }
}
