//! Wire format between a connection child and the password verifier.
//!
//! Stage: pure encoding/decoding, no I/O. Every message travels as exactly one
//! `SOCK_SEQPACKET` datagram, so a message is always a complete byte slice and
//! decoding never has to deal with partial reads.
//!
//! Invariants:
//! - Layouts are fixed, big-endian and versioned ([`VERSION`]); a decoder accepts a
//!   message only if it is the exact length its own length fields announce.
//! - Sizes are bounded: a user name is 1..=[`MAX_USER`] bytes of UTF-8 without control
//!   characters, a password 0..=[`MAX_PASSWORD`] bytes, so no request exceeds
//!   [`MAX_REQUEST`] bytes and a receiver needs only a fixed buffer.
//! - A child names a password file only by its index in the verifier's configured
//!   list, never by path.
//!
//! Request:  `version u8 | file u16 | peer [u8; 16] | user_len u16 | user | pass_len u16 | pass`
//! Response: `version u8 | verdict u8`
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::net::{IpAddr, Ipv6Addr};

use thiserror::Error;
use zeroize::Zeroizing;

/// Protocol version carried in the first byte of every message.
pub const VERSION: u8 = 1;
/// Longest user name accepted, in bytes.
pub const MAX_USER: usize = 255;
/// Longest password accepted, in bytes.
pub const MAX_PASSWORD: usize = 1024;
/// Fixed part of a request: version, file index, peer, and the two length fields.
const REQUEST_FIXED: usize = 1 + 2 + 16 + 2 + 2;
/// Largest possible request; receivers allocate one byte more to detect oversize.
pub const MAX_REQUEST: usize = REQUEST_FIXED + MAX_USER + MAX_PASSWORD;
/// Every response is exactly this long.
pub const RESPONSE_LEN: usize = 2;

/// A verification request, borrowing the bytes it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// Index into the verifier's configured list of password files.
    pub file: u16,
    /// Address of the HTTP client, IPv4 travels v4-mapped.
    pub peer: Ipv6Addr,
    pub user: &'a str,
    pub password: &'a [u8],
}

/// The verifier's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The credentials are valid for this file.
    Yes,
    /// The user is in the file and the password is wrong.
    No,
    /// The user is not in the file (the child logs Apache's AH01618 rather than AH01617; it
    /// learns nothing a handler could use: its channel is closed before any handler runs).
    UnknownUser,
    /// The request was malformed or named a file index that is not configured.
    BadRequest,
    /// The verifier cannot decide now (file unreadable/unparsable, overload).
    Unavailable,
}

impl Verdict {
    fn to_byte(self) -> u8 {
        // Zero is deliberately not a verdict so an all-zero buffer never decodes.
        match self {
            Verdict::Yes => 1,
            Verdict::No => 2,
            Verdict::BadRequest => 3,
            Verdict::Unavailable => 4,
            Verdict::UnknownUser => 5,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Verdict::Yes),
            2 => Some(Verdict::No),
            3 => Some(Verdict::BadRequest),
            4 => Some(Verdict::Unavailable),
            5 => Some(Verdict::UnknownUser),
            _ => None,
        }
    }
}

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("verifier message is empty")]
    Empty,
    #[error("verifier message has version {0}, this build speaks {VERSION}")]
    BadVersion(u8),
    #[error("verifier message ends inside the {0} field")]
    Truncated(&'static str),
    #[error("verifier message has {0} unexpected trailing bytes")]
    Trailing(usize),
    #[error("user name of {0} bytes exceeds the {MAX_USER}-byte limit")]
    UserTooLong(usize),
    #[error("user name is empty")]
    UserEmpty,
    #[error("user name is not valid UTF-8")]
    UserNotUtf8,
    #[error("user name contains a control character")]
    UserControlChar,
    #[error("password of {0} bytes exceeds the {MAX_PASSWORD}-byte limit")]
    PasswordTooLong(usize),
    #[error("verdict byte {0} is not a known verdict")]
    BadVerdict(u8),
}

/// Why a request could not be encoded (the same limits the decoder enforces).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("user name of {0} bytes exceeds the {MAX_USER}-byte limit")]
    UserTooLong(usize),
    #[error("user name is empty")]
    UserEmpty,
    #[error("user name contains a control character")]
    UserControlChar,
    #[error("password of {0} bytes exceeds the {MAX_PASSWORD}-byte limit")]
    PasswordTooLong(usize),
}

/// The 16-byte wire form of a peer address.
pub fn peer_to_wire(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

fn check_user(user: &str) -> Result<(), EncodeError> {
    if user.is_empty() {
        return Err(EncodeError::UserEmpty);
    }
    if user.len() > MAX_USER {
        return Err(EncodeError::UserTooLong(user.len()));
    }
    if user.chars().any(char::is_control) {
        return Err(EncodeError::UserControlChar);
    }
    Ok(())
}

/// Serializes a request into a buffer that is wiped when dropped.
///
/// The buffer is allocated at its final size up front so no reallocation leaves an
/// unwiped copy of the password behind.
pub fn encode_request(req: &Request<'_>) -> Result<Zeroizing<Vec<u8>>, EncodeError> {
    check_user(req.user)?;
    if req.password.len() > MAX_PASSWORD {
        return Err(EncodeError::PasswordTooLong(req.password.len()));
    }
    let len = REQUEST_FIXED + req.user.len() + req.password.len();
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    out.push(VERSION);
    out.extend_from_slice(&req.file.to_be_bytes());
    out.extend_from_slice(&req.peer.octets());
    // Lengths fit in u16: both were bounded above.
    out.extend_from_slice(&(req.user.len() as u16).to_be_bytes());
    out.extend_from_slice(req.user.as_bytes());
    out.extend_from_slice(&(req.password.len() as u16).to_be_bytes());
    out.extend_from_slice(req.password);
    debug_assert_eq!(out.len(), len);
    Ok(out)
}

/// A cursor that names the field it failed in.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let (head, tail) = self
            .buf
            .split_at_checked(n)
            .ok_or(DecodeError::Truncated(field))?;
        self.buf = tail;
        Ok(head)
    }

    fn take_array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let (head, tail) = self
            .buf
            .split_first_chunk::<N>()
            .ok_or(DecodeError::Truncated(field))?;
        self.buf = tail;
        Ok(*head)
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.take_array(field).map(u16::from_be_bytes)
    }

    fn version(&mut self) -> Result<(), DecodeError> {
        match self.buf.first() {
            None => Err(DecodeError::Empty),
            Some(&VERSION) => {
                self.buf = self.buf.get(1..).unwrap_or_default();
                Ok(())
            }
            Some(&v) => Err(DecodeError::BadVersion(v)),
        }
    }

    fn finish(&self) -> Result<(), DecodeError> {
        match self.buf.len() {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }
}

fn decode_user(bytes: &[u8]) -> Result<&str, DecodeError> {
    let user = std::str::from_utf8(bytes).map_err(|_| DecodeError::UserNotUtf8)?;
    check_user(user).map_err(|e| match e {
        EncodeError::UserEmpty => DecodeError::UserEmpty,
        EncodeError::UserControlChar => DecodeError::UserControlChar,
        // Length was checked against the announced length before the bytes were read.
        EncodeError::UserTooLong(n) | EncodeError::PasswordTooLong(n) => {
            DecodeError::UserTooLong(n)
        }
    })?;
    Ok(user)
}

/// Parses one request datagram; rejects anything not produced by [`encode_request`].
pub fn decode_request(buf: &[u8]) -> Result<Request<'_>, DecodeError> {
    let mut r = Reader { buf };
    r.version()?;
    let file = r.u16("file index")?;
    let peer_bytes: [u8; 16] = r
        .take(16, "peer address")?
        .try_into()
        .map_err(|_| DecodeError::Truncated("peer address"))?;
    let user_len = usize::from(r.u16("user length")?);
    if user_len > MAX_USER {
        return Err(DecodeError::UserTooLong(user_len));
    }
    let user = decode_user(r.take(user_len, "user name")?)?;
    let pass_len = usize::from(r.u16("password length")?);
    if pass_len > MAX_PASSWORD {
        return Err(DecodeError::PasswordTooLong(pass_len));
    }
    let password = r.take(pass_len, "password")?;
    r.finish()?;
    Ok(Request {
        file,
        peer: Ipv6Addr::from(peer_bytes),
        user,
        password,
    })
}

/// Serializes a response.
pub fn encode_response(verdict: Verdict) -> [u8; RESPONSE_LEN] {
    [VERSION, verdict.to_byte()]
}

/// Parses one response datagram.
pub fn decode_response(buf: &[u8]) -> Result<Verdict, DecodeError> {
    let mut r = Reader { buf };
    r.version()?;
    let [b] = r.take_array("verdict")?;
    r.finish()?;
    Verdict::from_byte(b).ok_or(DecodeError::BadVerdict(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn raw_request(file: u16, user: &[u8], user_len: u16, pass: &[u8], pass_len: u16) -> Vec<u8> {
        let mut v = vec![VERSION];
        v.extend_from_slice(&file.to_be_bytes());
        v.extend_from_slice(&[0u8; 16]);
        v.extend_from_slice(&user_len.to_be_bytes());
        v.extend_from_slice(user);
        v.extend_from_slice(&pass_len.to_be_bytes());
        v.extend_from_slice(pass);
        v
    }

    #[test]
    fn request_round_trips() {
        let peer = peer_to_wire(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)));
        let long_user = "u".repeat(MAX_USER);
        let long_pass = vec![0xffu8; MAX_PASSWORD];
        let cases: Vec<Request<'_>> = vec![
            Request {
                file: 0,
                peer,
                user: "alice",
                password: b"secret",
            },
            Request {
                file: u16::MAX,
                peer: Ipv6Addr::LOCALHOST,
                user: "bob",
                password: b"",
            },
            Request {
                file: 3,
                peer,
                user: "çé",
                password: b"\0:\xff",
            },
            Request {
                file: 1,
                peer,
                user: &long_user,
                password: &long_pass,
            },
        ];
        for req in cases {
            let wire = encode_request(&req).unwrap();
            assert!(wire.len() <= MAX_REQUEST);
            assert_eq!(decode_request(&wire).unwrap(), req);
        }
    }

    #[test]
    fn v4_peer_is_mapped() {
        let w = peer_to_wire("10.1.2.3".parse().unwrap());
        assert_eq!(w.to_ipv4_mapped(), Some(Ipv4Addr::new(10, 1, 2, 3)));
    }

    #[test]
    fn encode_rejects_out_of_bounds() {
        let peer = Ipv6Addr::UNSPECIFIED;
        let long_user = "u".repeat(MAX_USER + 1);
        let long_pass = vec![b'p'; MAX_PASSWORD + 1];
        let cases: Vec<(Request<'_>, EncodeError)> = vec![
            (
                Request {
                    file: 0,
                    peer,
                    user: "",
                    password: b"x",
                },
                EncodeError::UserEmpty,
            ),
            (
                Request {
                    file: 0,
                    peer,
                    user: &long_user,
                    password: b"x",
                },
                EncodeError::UserTooLong(MAX_USER + 1),
            ),
            (
                Request {
                    file: 0,
                    peer,
                    user: "a\nb",
                    password: b"x",
                },
                EncodeError::UserControlChar,
            ),
            (
                Request {
                    file: 0,
                    peer,
                    user: "a",
                    password: &long_pass,
                },
                EncodeError::PasswordTooLong(MAX_PASSWORD + 1),
            ),
        ];
        for (req, want) in cases {
            assert_eq!(encode_request(&req).unwrap_err(), want, "{req:?}");
        }
    }

    #[test]
    fn decode_rejects_every_malformed_request() {
        let good = raw_request(1, b"al", 2, b"pw", 2);
        let mut bad_version = good.clone();
        bad_version[0] = 2;
        let mut trailing = good.clone();
        trailing.push(0);
        let too_big = vec![b'a'; MAX_REQUEST + 1];
        let cases: Vec<(&str, Vec<u8>, DecodeError)> = vec![
            ("empty", vec![], DecodeError::Empty),
            ("version", bad_version, DecodeError::BadVersion(2)),
            ("oversize", too_big, DecodeError::BadVersion(b'a')),
            (
                "no file",
                vec![VERSION, 0],
                DecodeError::Truncated("file index"),
            ),
            (
                "short peer",
                good[..10].to_vec(),
                DecodeError::Truncated("peer address"),
            ),
            (
                "no user len",
                good[..20].to_vec(),
                DecodeError::Truncated("user length"),
            ),
            (
                "short user",
                good[..22].to_vec(),
                DecodeError::Truncated("user name"),
            ),
            (
                "no pass len",
                good[..24].to_vec(),
                DecodeError::Truncated("password length"),
            ),
            (
                "short pass",
                good[..good.len() - 1].to_vec(),
                DecodeError::Truncated("password"),
            ),
            ("trailing", trailing, DecodeError::Trailing(1)),
            (
                "user len",
                raw_request(0, b"", 256, b"", 0),
                DecodeError::UserTooLong(256),
            ),
            (
                "user huge",
                raw_request(0, b"", u16::MAX, b"", 0),
                DecodeError::UserTooLong(65535),
            ),
            (
                "user empty",
                raw_request(0, b"", 0, b"", 0),
                DecodeError::UserEmpty,
            ),
            (
                "user utf8",
                raw_request(0, b"\xc3(", 2, b"", 0),
                DecodeError::UserNotUtf8,
            ),
            (
                "user ctl",
                raw_request(0, b"a\0", 2, b"", 0),
                DecodeError::UserControlChar,
            ),
            (
                "user del",
                raw_request(0, b"a\x7f", 2, b"", 0),
                DecodeError::UserControlChar,
            ),
            (
                "pass len",
                raw_request(0, b"a", 1, b"", 1025),
                DecodeError::PasswordTooLong(1025),
            ),
            (
                "len lies",
                raw_request(0, b"a", 1, b"x", 0),
                DecodeError::Trailing(1),
            ),
        ];
        for (name, buf, want) in cases {
            assert_eq!(decode_request(&buf).unwrap_err(), want, "case {name}");
        }
        assert!(decode_request(&good).is_ok());
    }

    #[test]
    fn responses_round_trip() {
        for v in [
            Verdict::Yes,
            Verdict::No,
            Verdict::BadRequest,
            Verdict::Unavailable,
            Verdict::UnknownUser,
        ] {
            assert_eq!(decode_response(&encode_response(v)).unwrap(), v);
        }
    }

    #[test]
    fn decode_rejects_every_malformed_response() {
        let cases: Vec<(&[u8], DecodeError)> = vec![
            (b"", DecodeError::Empty),
            (&[VERSION], DecodeError::Truncated("verdict")),
            (&[9, 1], DecodeError::BadVersion(9)),
            (&[VERSION, 0], DecodeError::BadVerdict(0)),
            (&[VERSION, 6], DecodeError::BadVerdict(6)),
            (&[VERSION, 1, 0], DecodeError::Trailing(1)),
        ];
        for (buf, want) in cases {
            assert_eq!(decode_response(buf).unwrap_err(), want, "{buf:?}");
        }
    }
}
