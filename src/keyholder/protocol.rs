//! Wire format between a connection child and the key holder, and the shape check that decides
//! what the key holder is willing to sign.
//!
//! Stage: pure encoding/decoding, no I/O. Every message is one `SOCK_SEQPACKET` datagram.
//!
//! Invariants:
//! - Layouts are fixed, big-endian and versioned ([`VERSION`]); a decoder accepts a message only
//!   when it is exactly as long as its own length field says.
//! - A child names a key only by its index in the key holder's list, never by path.
//! - The key holder signs only a message of one of the two shapes a TLS server signs
//!   ([`classify`]): a TLS 1.3 server CertificateVerify input (RFC 8446 §4.4.3: 64 spaces, the
//!   context string, a zero byte, a transcript hash of 32 or 48 bytes), or, when TLS 1.2 is
//!   enabled for the key, a TLS 1.2 ECDHE ServerKeyExchange input (RFC 8422 §5.4: client random,
//!   server random, `named_curve`, a group rustls offers and a public value of that group's
//!   length). Anything else is refused before the key is touched.
//!
//! Request:  `version u8 | key u16 | scheme u16 | msg_len u16 | msg`
//! Response: `version u8 | status u8 | sig_len u16 | sig` (sig empty unless `Signed`)
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use thiserror::Error;

/// Protocol version carried in the first byte of every message.
pub const VERSION: u8 = 1;
/// Longest message a child may ask to have signed (both shapes are far shorter).
pub const MAX_MESSAGE: usize = 512;
/// Longest signature (RSA-8192 is 1024 bytes).
pub const MAX_SIGNATURE: usize = 1024;
const REQUEST_FIXED: usize = 1 + 2 + 2 + 2;
/// Largest possible request; receivers allocate one byte more to detect oversize.
pub const MAX_REQUEST: usize = REQUEST_FIXED + MAX_MESSAGE;
const RESPONSE_FIXED: usize = 1 + 1 + 2;
/// Largest possible response.
pub const MAX_RESPONSE: usize = RESPONSE_FIXED + MAX_SIGNATURE;

/// RFC 8446 §4.4.3: what precedes the transcript hash in a server CertificateVerify input.
pub const TLS13_SERVER_CONTEXT: &[u8] = b"TLS 1.3, server CertificateVerify";
const TLS13_PAD: usize = 64;

/// One signature request, borrowing the bytes it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// Index into the key holder's list of keys.
    pub key: u16,
    /// The TLS SignatureScheme code point (e.g. 0x0403 ecdsa_secp256r1_sha256).
    pub scheme: u16,
    pub message: &'a [u8],
}

/// The key holder's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Signed(Vec<u8>),
    /// The message is not of a shape the key holder signs (or TLS 1.2 shape for a key whose
    /// vhosts do not enable TLS 1.2).
    BadShape,
    /// The scheme is not one this key can sign with for this shape.
    BadScheme,
    /// Malformed request or unknown key index.
    BadRequest,
    /// The key is not loaded (or signing failed).
    Unavailable,
}

impl Response {
    fn status(&self) -> u8 {
        // Zero is deliberately not a status, so an all-zero buffer never decodes.
        match self {
            Response::Signed(_) => 1,
            Response::BadShape => 2,
            Response::BadScheme => 3,
            Response::BadRequest => 4,
            Response::Unavailable => 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("key holder message is empty")]
    Empty,
    #[error("key holder message has version {0}, this build speaks {VERSION}")]
    BadVersion(u8),
    #[error("key holder message ends inside the {0} field")]
    Truncated(&'static str),
    #[error("key holder message has {0} unexpected trailing bytes")]
    Trailing(usize),
    #[error("message of {0} bytes exceeds the {MAX_MESSAGE}-byte limit")]
    MessageTooLong(usize),
    #[error("signature of {0} bytes exceeds the {MAX_SIGNATURE}-byte limit")]
    SignatureTooLong(usize),
    #[error("status byte {0} is not a known status")]
    BadStatus(u8),
    #[error("a {0} answer carries a signature")]
    UnexpectedSignature(&'static str),
}

/// Serializes a request; `None` when the message is too long to send.
pub fn encode_request(req: &Request<'_>) -> Option<Vec<u8>> {
    if req.message.len() > MAX_MESSAGE {
        return None;
    }
    let mut out = Vec::with_capacity(REQUEST_FIXED + req.message.len());
    out.push(VERSION);
    out.extend_from_slice(&req.key.to_be_bytes());
    out.extend_from_slice(&req.scheme.to_be_bytes());
    out.extend_from_slice(&(req.message.len() as u16).to_be_bytes());
    out.extend_from_slice(req.message);
    Some(out)
}

/// Serializes a response; a signature longer than [`MAX_SIGNATURE`] becomes `Unavailable`.
pub fn encode_response(resp: &Response) -> Vec<u8> {
    let sig: &[u8] = match resp {
        Response::Signed(s) if s.len() <= MAX_SIGNATURE => s,
        Response::Signed(_) => return encode_response(&Response::Unavailable),
        _ => &[],
    };
    let mut out = Vec::with_capacity(RESPONSE_FIXED + sig.len());
    out.push(VERSION);
    out.push(resp.status());
    out.extend_from_slice(&(sig.len() as u16).to_be_bytes());
    out.extend_from_slice(sig);
    out
}

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

    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let (first, rest) = self
            .buf
            .split_first()
            .ok_or(DecodeError::Truncated(field))?;
        self.buf = rest;
        Ok(*first)
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        let (head, tail) = self
            .buf
            .split_first_chunk::<2>()
            .ok_or(DecodeError::Truncated(field))?;
        self.buf = tail;
        Ok(u16::from_be_bytes(*head))
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

/// Parses one request datagram; rejects anything [`encode_request`] would not produce.
pub fn decode_request(buf: &[u8]) -> Result<Request<'_>, DecodeError> {
    let mut r = Reader { buf };
    r.version()?;
    let key = r.u16("key index")?;
    let scheme = r.u16("scheme")?;
    let len = usize::from(r.u16("message length")?);
    if len > MAX_MESSAGE {
        return Err(DecodeError::MessageTooLong(len));
    }
    let message = r.take(len, "message")?;
    r.finish()?;
    Ok(Request {
        key,
        scheme,
        message,
    })
}

/// Parses one response datagram.
pub fn decode_response(buf: &[u8]) -> Result<Response, DecodeError> {
    let mut r = Reader { buf };
    r.version()?;
    let status = r.u8("status")?;
    let len = usize::from(r.u16("signature length")?);
    if len > MAX_SIGNATURE {
        return Err(DecodeError::SignatureTooLong(len));
    }
    let sig = r.take(len, "signature")?;
    r.finish()?;
    let empty = |resp: Response, name| {
        if sig.is_empty() {
            Ok(resp)
        } else {
            Err(DecodeError::UnexpectedSignature(name))
        }
    };
    match status {
        1 if !sig.is_empty() => Ok(Response::Signed(sig.to_vec())),
        1 => Err(DecodeError::Truncated("signature")),
        2 => empty(Response::BadShape, "bad-shape"),
        3 => empty(Response::BadScheme, "bad-scheme"),
        4 => empty(Response::BadRequest, "bad-request"),
        5 => empty(Response::Unavailable, "unavailable"),
        s => Err(DecodeError::BadStatus(s)),
    }
}

/// What a message to be signed is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// RFC 8446 §4.4.3 server CertificateVerify input with a transcript hash of this length.
    Tls13CertificateVerify { hash_len: usize },
    /// RFC 5246 §7.4.3 / RFC 8422 §5.4 ECDHE ServerKeyExchange signature input.
    Tls12ServerKeyExchange { group: u16 },
}

/// TLS 1.2 named groups rustls offers for ECDHE, with the length of their public value.
const TLS12_GROUPS: &[(u16, usize)] = &[
    (0x001d, 32), // x25519
    (0x0017, 65), // secp256r1, uncompressed point
    (0x0018, 97), // secp384r1, uncompressed point
];

/// Which shape `msg` has, if any. Pure.
pub fn classify(msg: &[u8]) -> Option<Shape> {
    tls13(msg).or_else(|| tls12(msg))
}

fn tls13(msg: &[u8]) -> Option<Shape> {
    let (pad, rest) = msg.split_at_checked(TLS13_PAD)?;
    if pad.iter().any(|&b| b != 0x20) {
        return None;
    }
    let rest = rest.strip_prefix(TLS13_SERVER_CONTEXT)?;
    let hash = rest.strip_prefix(&[0u8])?;
    matches!(hash.len(), 32 | 48).then_some(Shape::Tls13CertificateVerify {
        hash_len: hash.len(),
    })
}

fn tls12(msg: &[u8]) -> Option<Shape> {
    // client_random[32] server_random[32] curve_type=named_curve(3) group[2] len[1] point
    let params = msg.get(64..)?;
    let (&curve_type, rest) = params.split_first()?;
    let (group, rest) = rest.split_first_chunk::<2>()?;
    let (&len, point) = rest.split_first()?;
    let group = u16::from_be_bytes(*group);
    let want = TLS12_GROUPS.iter().find(|(g, _)| *g == group)?.1;
    let uncompressed_ok = want == 32 || point.first() == Some(&0x04);
    (curve_type == 3 && usize::from(len) == want && point.len() == want && uncompressed_ok)
        .then_some(Shape::Tls12ServerKeyExchange { group })
}

/// Signature schemes TLS 1.3 permits for CertificateVerify (RFC 8446 §4.2.3: no PKCS#1 v1.5,
/// no SHA-1); TLS 1.2 takes any scheme the key supports.
pub fn scheme_allowed_for(shape: Shape, scheme: u16) -> bool {
    match shape {
        Shape::Tls13CertificateVerify { .. } => matches!(
            scheme,
            0x0403 | 0x0503 | 0x0603 | 0x0804 | 0x0805 | 0x0806 | 0x0807
        ),
        Shape::Tls12ServerKeyExchange { .. } => true,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    fn cv(hash_len: usize) -> Vec<u8> {
        let mut m = vec![0x20; 64];
        m.extend_from_slice(TLS13_SERVER_CONTEXT);
        m.push(0);
        m.extend(std::iter::repeat_n(0xab, hash_len));
        m
    }

    fn ske(group: u16, len: u8, point_len: usize, first: u8) -> Vec<u8> {
        let mut m = vec![7; 64];
        m.push(3);
        m.extend_from_slice(&group.to_be_bytes());
        m.push(len);
        let mut p = vec![9; point_len];
        if let Some(f) = p.first_mut() {
            *f = first;
        }
        m.extend(p);
        m
    }

    #[test]
    fn shape_table() {
        let mut client_ctx = cv(32);
        client_ctx[64 + 7] = b'c'; // "TLS 1.3, client CertificateVerify"
        let mut short_pad = cv(32);
        short_pad[3] = 0x21;
        let mut no_zero = cv(32);
        no_zero[64 + TLS13_SERVER_CONTEXT.len()] = 1;
        for (name, msg, want) in [
            (
                "tls13 sha256",
                cv(32),
                Some(Shape::Tls13CertificateVerify { hash_len: 32 }),
            ),
            (
                "tls13 sha384",
                cv(48),
                Some(Shape::Tls13CertificateVerify { hash_len: 48 }),
            ),
            ("tls13 hash too short", cv(31), None),
            ("tls13 hash of sha-512 length", cv(64), None),
            ("tls13 client context", client_ctx, None),
            ("tls13 padding not spaces", short_pad, None),
            ("tls13 missing zero byte", no_zero, None),
            ("empty", vec![], None),
            ("arbitrary", b"sign me please".to_vec(), None),
            (
                "tls12 x25519",
                ske(0x001d, 32, 32, 1),
                Some(Shape::Tls12ServerKeyExchange { group: 0x001d }),
            ),
            (
                "tls12 p256",
                ske(0x0017, 65, 65, 4),
                Some(Shape::Tls12ServerKeyExchange { group: 0x0017 }),
            ),
            (
                "tls12 p384",
                ske(0x0018, 97, 97, 4),
                Some(Shape::Tls12ServerKeyExchange { group: 0x0018 }),
            ),
            ("tls12 p256 compressed", ske(0x0017, 65, 65, 2), None),
            ("tls12 length lies", ske(0x001d, 33, 32, 1), None),
            ("tls12 trailing byte", ske(0x001d, 32, 33, 1), None),
            ("tls12 unknown group", ske(0x0019, 32, 32, 1), None),
            (
                "tls12 explicit curve",
                {
                    let mut m = ske(0x001d, 32, 32, 1);
                    m[64] = 1;
                    m
                },
                None,
            ),
        ] {
            assert_eq!(classify(&msg), want, "{name}");
        }
    }

    #[test]
    fn tls13_refuses_pkcs1_and_sha1() {
        let s = Shape::Tls13CertificateVerify { hash_len: 32 };
        for (scheme, ok) in [
            (0x0401u16, false), // rsa_pkcs1_sha256
            (0x0201, false),    // rsa_pkcs1_sha1
            (0x0203, false),    // ecdsa_sha1
            (0x0403, true),
            (0x0804, true),
            (0x0807, true),
        ] {
            assert_eq!(scheme_allowed_for(s, scheme), ok, "{scheme:#06x}");
        }
        assert!(scheme_allowed_for(
            Shape::Tls12ServerKeyExchange { group: 0x1d },
            0x0401
        ));
    }

    #[test]
    fn request_round_trip_and_errors() {
        let msg = cv(32);
        let req = Request {
            key: 3,
            scheme: 0x0403,
            message: &msg,
        };
        let wire = encode_request(&req).unwrap();
        assert_eq!(decode_request(&wire).unwrap(), req);
        let mut long = wire.clone();
        long.push(0);
        for (name, buf, want) in [
            ("empty", vec![], DecodeError::Empty),
            ("version", vec![2, 0, 0], DecodeError::BadVersion(2)),
            ("key", vec![1, 0], DecodeError::Truncated("key index")),
            ("trailing", long, DecodeError::Trailing(1)),
            (
                "short message",
                wire[..wire.len() - 1].to_vec(),
                DecodeError::Truncated("message"),
            ),
            (
                "oversize",
                vec![1, 0, 0, 4, 3, 0x02, 0x01],
                DecodeError::MessageTooLong(513),
            ),
        ] {
            assert_eq!(decode_request(&buf), Err(want), "{name}");
        }
        assert!(encode_request(&Request {
            key: 0,
            scheme: 0,
            message: &[0; MAX_MESSAGE + 1]
        })
        .is_none());
    }

    #[test]
    fn response_round_trip_and_errors() {
        for r in [
            Response::Signed(vec![1, 2, 3]),
            Response::BadShape,
            Response::BadScheme,
            Response::BadRequest,
            Response::Unavailable,
        ] {
            assert_eq!(decode_response(&encode_response(&r)).unwrap(), r);
        }
        assert_eq!(
            decode_response(&encode_response(&Response::Signed(vec![0; 2000]))).unwrap(),
            Response::Unavailable
        );
        for (name, buf, want) in [
            ("zero status", vec![1, 0, 0, 0], DecodeError::BadStatus(0)),
            (
                "signed without signature",
                vec![1, 1, 0, 0],
                DecodeError::Truncated("signature"),
            ),
            (
                "refusal with signature",
                vec![1, 2, 0, 1, 9],
                DecodeError::UnexpectedSignature("bad-shape"),
            ),
            ("all zero", vec![0; 4], DecodeError::BadVersion(0)),
        ] {
            assert_eq!(decode_response(&buf), Err(want), "{name}");
        }
    }
}
