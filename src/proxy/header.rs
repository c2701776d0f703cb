//! The PROXY protocol header, versions 1 and 2 (haproxy `doc/proxy-protocol.txt`).
//!
//! Stage: pure parsing of the bytes that start a connection on a PROXY listener; no I/O.
//! [`parse`] looks at what has arrived so far and says: not enough yet, a complete header of
//! N bytes (the caller then consumes exactly N), or an error (the caller closes the connection
//! without a response).
//!
//! Why our own parser rather than the `ppp` crate: the header is small, the rules we need are
//! stricter than a general parser's (exact field syntax for v1, no family guessing, CRC32C
//! checked when present, a size cap, "incomplete" told apart from "invalid" so the reader can
//! peek without consuming HTTP bytes), and a 300-line table-tested, fuzzed module is easier to
//! audit than a dependency. CRC32C is a checksum, not cryptography.
//!
//! Invariants:
//! - Never reads past the header: the length returned is exactly the header's.
//! - v1: at most 107 bytes including CRLF; `TCP4`/`TCP6` with addresses of that family and
//!   decimal ports without leading zeros; `UNKNOWN` means "use the real endpoints".
//! - v2: version 2; command LOCAL (real endpoints, block skipped) or PROXY; family INET or INET6
//!   over STREAM carries addresses, UNSPEC and UNIX mean real endpoints, anything else
//!   (DGRAM, unknown values) is refused; TLVs must tile the rest exactly and a CRC32C TLV must
//!   match; at most [`MAX_V2_LEN`] bytes of address and TLV data.
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use thiserror::Error;

/// The v2 signature.
pub const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// Longest v1 line, CRLF included.
pub const V1_MAX: usize = 107;
/// Largest v2 payload (addresses and TLVs) accepted; the protocol allows 65535.
pub const MAX_V2_LEN: usize = 4096;
/// Largest header [`parse`] can accept, for the reader's buffer.
pub const MAX_HEADER: usize = 16 + MAX_V2_LEN;

const TLV_CRC32C: u8 = 0x04;

/// What the header says about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addresses {
    /// LOCAL, UNKNOWN, UNSPEC or UNIX: the real endpoints stand.
    Real,
    /// The client's and the proxy's listening address as the proxy saw them.
    Proxied {
        source: SocketAddr,
        destination: SocketAddr,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// Every byte so far fits a header; more are needed.
    Incomplete,
    /// A header of `len` bytes.
    Complete { addresses: Addresses, len: usize },
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HeaderError {
    #[error("the connection does not start with a PROXY protocol header")]
    NotProxy,
    #[error("PROXY v1 line longer than 107 bytes")]
    V1TooLong,
    #[error("PROXY v1 line is malformed: {0}")]
    V1Syntax(&'static str),
    #[error("PROXY v2 version {0} is not 2")]
    V2Version(u8),
    #[error("PROXY v2 command {0} is neither LOCAL nor PROXY")]
    V2Command(u8),
    #[error("PROXY v2 address family/protocol {0:#04x} is not supported")]
    V2Family(u8),
    #[error("PROXY v2 block of {0} bytes exceeds the {MAX_V2_LEN}-byte limit")]
    V2TooLong(usize),
    #[error("PROXY v2 block too short for its addresses")]
    V2Short,
    #[error("PROXY v2 TLVs do not fill the block exactly")]
    V2Tlv,
    #[error("PROXY v2 CRC32C does not match")]
    V2Checksum,
}

/// Parses the start of a connection.
pub fn parse(buf: &[u8]) -> Result<Parsed, HeaderError> {
    const V1_PREFIX: &[u8] = b"PROXY ";
    if buf.is_empty() {
        return Ok(Parsed::Incomplete);
    }
    let n = buf.len().min(V1_PREFIX.len());
    if buf.get(..n) == V1_PREFIX.get(..n) {
        return if buf.len() < V1_PREFIX.len() {
            Ok(Parsed::Incomplete)
        } else {
            v1(buf)
        };
    }
    let n = buf.len().min(V2_SIGNATURE.len());
    if buf.get(..n) == V2_SIGNATURE.get(..n) {
        return v2(buf);
    }
    Err(HeaderError::NotProxy)
}

fn v1(buf: &[u8]) -> Result<Parsed, HeaderError> {
    let window = buf.get(..buf.len().min(V1_MAX)).unwrap_or_default();
    let Some(end) = window.windows(2).position(|w| w == b"\r\n") else {
        if window.len() >= V1_MAX {
            return Err(HeaderError::V1TooLong);
        }
        if window.contains(&b'\n') {
            return Err(HeaderError::V1Syntax("LF without CR"));
        }
        return Ok(Parsed::Incomplete);
    };
    let line = window.get(..end).unwrap_or_default();
    let line = std::str::from_utf8(line).map_err(|_| HeaderError::V1Syntax("not ASCII"))?;
    let len = end + 2;
    let mut fields = line.split(' ');
    fields.next(); // "PROXY"
    let proto = fields.next().ok_or(HeaderError::V1Syntax("no protocol"))?;
    if proto == "UNKNOWN" {
        return Ok(Parsed::Complete {
            addresses: Addresses::Real,
            len,
        });
    }
    let (src, dst, sport, dport) = match (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) {
        (Some(a), Some(b), Some(c), Some(d), None) => (a, b, c, d),
        _ => return Err(HeaderError::V1Syntax("wrong number of fields")),
    };
    let ip = |s: &str| -> Result<IpAddr, HeaderError> {
        match proto {
            "TCP4" => s.parse::<Ipv4Addr>().map(IpAddr::V4),
            "TCP6" => s.parse::<Ipv6Addr>().map(IpAddr::V6),
            _ => {
                return Err(HeaderError::V1Syntax(
                    "protocol is not TCP4, TCP6 or UNKNOWN",
                ))
            }
        }
        .map_err(|_| HeaderError::V1Syntax("bad address"))
    };
    let source = SocketAddr::new(ip(src)?, port(sport)?);
    let destination = SocketAddr::new(ip(dst)?, port(dport)?);
    Ok(Parsed::Complete {
        addresses: Addresses::Proxied {
            source,
            destination,
        },
        len,
    })
}

fn port(s: &str) -> Result<u16, HeaderError> {
    let ok = !s.is_empty()
        && s.len() <= 5
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    ok.then(|| s.parse::<u16>().ok())
        .flatten()
        .ok_or(HeaderError::V1Syntax("bad port"))
}

fn v2(buf: &[u8]) -> Result<Parsed, HeaderError> {
    let Some(fixed) = buf.get(..16) else {
        return Ok(Parsed::Incomplete);
    };
    let (ver_cmd, fam, len_bytes) = match fixed.get(12..16) {
        Some(&[a, b, c, d]) => (a, b, [c, d]),
        _ => return Ok(Parsed::Incomplete),
    };
    if ver_cmd >> 4 != 2 {
        return Err(HeaderError::V2Version(ver_cmd >> 4));
    }
    let local = match ver_cmd & 0x0f {
        0 => true,
        1 => false,
        c => return Err(HeaderError::V2Command(c)),
    };
    let len = usize::from(u16::from_be_bytes(len_bytes));
    if len > MAX_V2_LEN {
        return Err(HeaderError::V2TooLong(len));
    }
    let Some(whole) = buf.get(..16 + len) else {
        return Ok(Parsed::Incomplete);
    };
    let total = 16 + len;
    if local {
        return Ok(Parsed::Complete {
            addresses: Addresses::Real,
            len: total,
        });
    }
    let block = whole.get(16..).unwrap_or_default();
    let (addresses, addr_len) = match fam {
        0x00 => (Addresses::Real, 0),
        0x11 => {
            let a = block.get(..12).ok_or(HeaderError::V2Short)?;
            let ip = |o: usize| {
                a.get(o..o + 4)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map(Ipv4Addr::from)
                    .map(IpAddr::V4)
            };
            (proxied(a, ip(0), ip(4), 8)?, 12)
        }
        0x21 => {
            let a = block.get(..36).ok_or(HeaderError::V2Short)?;
            let ip = |o: usize| {
                a.get(o..o + 16)
                    .and_then(|b| <[u8; 16]>::try_from(b).ok())
                    .map(Ipv6Addr::from)
                    .map(IpAddr::V6)
            };
            (proxied(a, ip(0), ip(16), 32)?, 36)
        }
        0x31 => {
            block.get(..216).ok_or(HeaderError::V2Short)?;
            (Addresses::Real, 216)
        }
        f => return Err(HeaderError::V2Family(f)),
    };
    check_tlvs(whole, 16 + addr_len)?;
    Ok(Parsed::Complete {
        addresses,
        len: total,
    })
}

fn proxied(
    a: &[u8],
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    ports_at: usize,
) -> Result<Addresses, HeaderError> {
    let p = |o: usize| {
        a.get(o..o + 2)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map(u16::from_be_bytes)
    };
    match (src, dst, p(ports_at), p(ports_at + 2)) {
        (Some(s), Some(d), Some(sp), Some(dp)) => Ok(Addresses::Proxied {
            source: SocketAddr::new(s, sp),
            destination: SocketAddr::new(d, dp),
        }),
        _ => Err(HeaderError::V2Short),
    }
}

/// TLVs from `start` to the end of `whole` must tile it exactly; a CRC32C TLV must match the
/// checksum of the whole header with its value zeroed.
fn check_tlvs(whole: &[u8], start: usize) -> Result<(), HeaderError> {
    let mut at = start;
    let mut crc_at = None;
    while at < whole.len() {
        let (t, l) = match whole.get(at..at + 3) {
            Some(&[t, a, b]) => (t, usize::from(u16::from_be_bytes([a, b]))),
            _ => return Err(HeaderError::V2Tlv),
        };
        let value_at = at + 3;
        if whole.get(value_at..value_at + l).is_none() {
            return Err(HeaderError::V2Tlv);
        }
        if t == TLV_CRC32C {
            if l != 4 || crc_at.is_some() {
                return Err(HeaderError::V2Tlv);
            }
            crc_at = Some(value_at);
        }
        at = value_at + l;
    }
    if let Some(c) = crc_at {
        let want = whole
            .get(c..c + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
            .ok_or(HeaderError::V2Tlv)?;
        let mut zeroed = whole.to_vec();
        if let Some(v) = zeroed.get_mut(c..c + 4) {
            v.fill(0);
        }
        if crc32c(&zeroed) != want {
            return Err(HeaderError::V2Checksum);
        }
    }
    Ok(())
}

/// CRC-32C (Castagnoli), bitwise: headers are tiny.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn v2_inet(cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.push(0x20 | cmd);
        h.push(fam);
        h.extend_from_slice(&(body.len() as u16).to_be_bytes());
        h.extend_from_slice(body);
        h
    }

    fn inet4_body() -> Vec<u8> {
        let mut b = vec![127, 0, 0, 7, 127, 0, 0, 1];
        b.extend_from_slice(&40000u16.to_be_bytes());
        b.extend_from_slice(&8080u16.to_be_bytes());
        b
    }

    fn with_crc(mut body: Vec<u8>, corrupt: bool) -> Vec<u8> {
        body.extend_from_slice(&[TLV_CRC32C, 0, 4, 0, 0, 0, 0]);
        let mut h = v2_inet(1, 0x11, &body);
        let crc = crc32c(&h) ^ u32::from(corrupt);
        let n = h.len();
        h[n - 4..].copy_from_slice(&crc.to_be_bytes());
        h
    }

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn v1_table() {
        let proxied = |s: &str, d: &str, len| {
            Ok(Parsed::Complete {
                addresses: Addresses::Proxied {
                    source: sa(s),
                    destination: sa(d),
                },
                len,
            })
        };
        let line4 = "PROXY TCP4 127.0.0.7 127.0.0.1 40000 8080\r\n";
        let line6 = "PROXY TCP6 ::1 ::2 1 65535\r\n";
        let long = format!("PROXY UNKNOWN {}\r\n", "x".repeat(100));
        for (name, input, want) in [
            (
                "tcp4",
                format!("{line4}GET / HTTP/1.1\r\n"),
                proxied("127.0.0.7:40000", "127.0.0.1:8080", line4.len()),
            ),
            (
                "tcp6",
                line6.to_string(),
                proxied("[::1]:1", "[::2]:65535", line6.len()),
            ),
            (
                "unknown",
                "PROXY UNKNOWN ff ee\r\n".into(),
                Ok(Parsed::Complete {
                    addresses: Addresses::Real,
                    len: 21,
                }),
            ),
            ("prefix", "PROX".into(), Ok(Parsed::Incomplete)),
            (
                "no crlf yet",
                "PROXY TCP4 1.2.3.4".into(),
                Ok(Parsed::Incomplete),
            ),
            ("too long", long, Err(HeaderError::V1TooLong)),
            (
                "lf only",
                "PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n".into(),
                Err(HeaderError::V1Syntax("LF without CR")),
            ),
            (
                "v6 address in TCP4",
                "PROXY TCP4 ::1 ::2 1 2\r\n".into(),
                Err(HeaderError::V1Syntax("bad address")),
            ),
            (
                "leading zero port",
                "PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n".into(),
                Err(HeaderError::V1Syntax("bad port")),
            ),
            (
                "port too big",
                "PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n".into(),
                Err(HeaderError::V1Syntax("bad port")),
            ),
            (
                "double space",
                "PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n".into(),
                Err(HeaderError::V1Syntax("wrong number of fields")),
            ),
            (
                "leading zero octet",
                "PROXY TCP4 01.2.3.4 1.2.3.4 1 2\r\n".into(),
                Err(HeaderError::V1Syntax("bad address")),
            ),
            (
                "udp",
                "PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n".into(),
                Err(HeaderError::V1Syntax(
                    "protocol is not TCP4, TCP6 or UNKNOWN",
                )),
            ),
            (
                "http",
                "GET / HTTP/1.1\r\n".into(),
                Err(HeaderError::NotProxy),
            ),
            ("tls", "\x16\x03\x01".into(), Err(HeaderError::NotProxy)),
            ("lowercase", "proxy TCP4".into(), Err(HeaderError::NotProxy)),
        ] {
            assert_eq!(parse(input.as_bytes()), want, "{name}");
        }
    }

    #[test]
    fn v2_table() {
        let body6 = {
            let mut b = Ipv6Addr::LOCALHOST.octets().to_vec();
            b.extend_from_slice(&Ipv6Addr::UNSPECIFIED.octets());
            b.extend_from_slice(&[0, 1, 0, 2]);
            b
        };
        let mut with_tlv = inet4_body();
        with_tlv.extend_from_slice(&[0x01, 0, 8]);
        with_tlv.extend_from_slice(b"http/1.1");
        let mut bad_tlv = inet4_body();
        bad_tlv.extend_from_slice(&[0x01, 0, 9, b'h']);
        let four = Addresses::Proxied {
            source: sa("127.0.0.7:40000"),
            destination: sa("127.0.0.1:8080"),
        };
        let full = v2_inet(1, 0x11, &inet4_body());
        let mut trailing = full.clone();
        trailing.extend_from_slice(b"GET /");
        for (name, input, want) in [
            (
                "inet stream",
                trailing,
                Ok(Parsed::Complete {
                    addresses: four,
                    len: 28,
                }),
            ),
            (
                "inet truncated",
                full[..20].to_vec(),
                Ok(Parsed::Incomplete),
            ),
            (
                "signature prefix",
                V2_SIGNATURE[..5].to_vec(),
                Ok(Parsed::Incomplete),
            ),
            (
                "inet6",
                v2_inet(1, 0x21, &body6),
                Ok(Parsed::Complete {
                    addresses: Addresses::Proxied {
                        source: sa("[::1]:1"),
                        destination: sa("[::]:2"),
                    },
                    len: 52,
                }),
            ),
            (
                "local skips its block",
                v2_inet(0, 0x99, b"whatever"),
                Ok(Parsed::Complete {
                    addresses: Addresses::Real,
                    len: 24,
                }),
            ),
            (
                "unspec",
                v2_inet(1, 0x00, b""),
                Ok(Parsed::Complete {
                    addresses: Addresses::Real,
                    len: 16,
                }),
            ),
            (
                "tlv skipped",
                v2_inet(1, 0x11, &with_tlv),
                Ok(Parsed::Complete {
                    addresses: four,
                    len: 16 + 12 + 11,
                }),
            ),
            (
                "crc ok",
                with_crc(inet4_body(), false),
                Ok(Parsed::Complete {
                    addresses: four,
                    len: 35,
                }),
            ),
            (
                "crc bad",
                with_crc(inet4_body(), true),
                Err(HeaderError::V2Checksum),
            ),
            (
                "tlv overruns",
                v2_inet(1, 0x11, &bad_tlv),
                Err(HeaderError::V2Tlv),
            ),
            (
                "short inet",
                v2_inet(1, 0x11, &[1, 2, 3]),
                Err(HeaderError::V2Short),
            ),
            (
                "dgram",
                v2_inet(1, 0x12, &inet4_body()),
                Err(HeaderError::V2Family(0x12)),
            ),
            (
                "unknown family",
                v2_inet(1, 0x41, &[]),
                Err(HeaderError::V2Family(0x41)),
            ),
            (
                "command 2",
                v2_inet(2, 0x11, &inet4_body()),
                Err(HeaderError::V2Command(2)),
            ),
            (
                "version 1",
                {
                    let mut h = full.clone();
                    h[12] = 0x11;
                    h
                },
                Err(HeaderError::V2Version(1)),
            ),
            (
                "too long",
                {
                    let mut h = full.clone();
                    h[14..16].copy_from_slice(&5000u16.to_be_bytes());
                    h
                },
                Err(HeaderError::V2TooLong(5000)),
            ),
        ] {
            assert_eq!(parse(&input), want, "{name}");
        }
    }
}
