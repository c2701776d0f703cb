//! The FastCGI 1.0 record layer (the FastCGI Specification, Open Market, 1996, §3 and §5),
//! as a web server's side of it needs: records to send (BEGIN_REQUEST, PARAMS, STDIN,
//! ABORT_REQUEST) and an incremental decoder for what an application sends back (STDOUT,
//! STDERR, END_REQUEST). Pure: bytes in, bytes or records out.
//!
//! Invariants:
//! - A record's content is at most 65535 bytes and its padding at most 255 (the header's own
//!   field widths), so the decoder never holds more than [`MAX_RECORD`] bytes of one record.
//! - Anything but version 1, a record for another request id, a type an application may not
//!   send to a web server, or an END_REQUEST body that is not 8 bytes is an error, never a
//!   guess.
//! - Name-value pairs use the 1-byte length below 128 and the 4-byte form (high bit set) from
//!   128 up; a pair longer than the 31-bit length field allows is refused.
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

/// `FCGI_VERSION_1`.
pub const VERSION: u8 = 1;
pub const HEADER_LEN: usize = 8;
/// Largest content of one record (`contentLength` is 16 bits).
pub const MAX_CONTENT: usize = 0xffff;
/// Largest whole record: header, content, padding.
pub const MAX_RECORD: usize = HEADER_LEN + MAX_CONTENT + 0xff;

pub const BEGIN_REQUEST: u8 = 1;
pub const ABORT_REQUEST: u8 = 2;
pub const END_REQUEST: u8 = 3;
pub const PARAMS: u8 = 4;
pub const STDIN: u8 = 5;
pub const STDOUT: u8 = 6;
pub const STDERR: u8 = 7;
pub const DATA: u8 = 8;
pub const GET_VALUES: u8 = 9;
pub const GET_VALUES_RESULT: u8 = 10;
pub const UNKNOWN_TYPE: u8 = 11;

/// `FCGI_RESPONDER`.
pub const ROLE_RESPONDER: u16 = 1;
/// `FCGI_KEEP_CONN`.
pub const KEEP_CONN: u8 = 1;

/// `protocolStatus` of END_REQUEST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolStatus {
    RequestComplete,
    CantMpxConn,
    Overloaded,
    UnknownRole,
    Other(u8),
}

impl ProtocolStatus {
    fn from_byte(b: u8) -> Self {
        match b {
            0 => ProtocolStatus::RequestComplete,
            1 => ProtocolStatus::CantMpxConn,
            2 => ProtocolStatus::Overloaded,
            3 => ProtocolStatus::UnknownRole,
            o => ProtocolStatus::Other(o),
        }
    }
}

/// A record from the application, for our request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Response bytes; empty = the end of the stream.
    Stdout(Vec<u8>),
    /// Error-log bytes; empty = the end of the stream.
    Stderr(Vec<u8>),
    EndRequest {
        app_status: u32,
        protocol_status: ProtocolStatus,
    },
    /// A management record (request id 0: GET_VALUES_RESULT, UNKNOWN_TYPE): nothing to do
    /// for a server that sends no management records, so it is skipped.
    Management(u8),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record version {0}, not 1")]
    Version(u8),
    #[error("record type {0} is not one an application sends to a web server")]
    UnexpectedType(u8),
    #[error("record for request id {got}, not {want}")]
    RequestId { got: u16, want: u16 },
    #[error("END_REQUEST body of {0} bytes, not 8")]
    EndRequestLength(usize),
    #[error("name-value pair longer than 2^31-1 bytes")]
    PairTooLong,
}

/// The 8-byte header of a record.
pub fn header(kind: u8, request_id: u16, content_len: usize, padding: u8) -> [u8; HEADER_LEN] {
    let len = content_len.min(MAX_CONTENT) as u16;
    let [id1, id0] = request_id.to_be_bytes();
    let [l1, l0] = len.to_be_bytes();
    [VERSION, kind, id1, id0, l1, l0, padding, 0]
}

/// Padding that makes `content_len` a multiple of 8 (the specification's recommendation).
fn padding_for(content_len: usize) -> u8 {
    ((8 - content_len % 8) % 8) as u8
}

/// Appends `content` as one or more records of `kind` (at most [`MAX_CONTENT`] bytes each),
/// each padded to a multiple of 8. Empty `content` appends nothing: use [`end_stream`].
pub fn stream(out: &mut Vec<u8>, kind: u8, request_id: u16, content: &[u8]) {
    for part in content.chunks(MAX_CONTENT) {
        let pad = padding_for(part.len());
        out.extend_from_slice(&header(kind, request_id, part.len(), pad));
        out.extend_from_slice(part);
        out.extend(std::iter::repeat_n(0u8, pad as usize));
    }
}

/// The empty record that ends a stream (PARAMS, STDIN).
pub fn end_stream(out: &mut Vec<u8>, kind: u8, request_id: u16) {
    out.extend_from_slice(&header(kind, request_id, 0, 0));
}

/// BEGIN_REQUEST with `role` and `flags` (`0`: the application closes the connection when
/// the request ends).
pub fn begin_request(out: &mut Vec<u8>, request_id: u16, role: u16, flags: u8) {
    out.extend_from_slice(&header(BEGIN_REQUEST, request_id, 8, 0));
    let [r1, r0] = role.to_be_bytes();
    out.extend_from_slice(&[r1, r0, flags, 0, 0, 0, 0, 0]);
}

/// ABORT_REQUEST: the client went away.
pub fn abort_request(out: &mut Vec<u8>, request_id: u16) {
    out.extend_from_slice(&header(ABORT_REQUEST, request_id, 0, 0));
}

fn pair_len(out: &mut Vec<u8>, n: usize) -> Result<(), RecordError> {
    if n < 0x80 {
        out.push(n as u8);
    } else if n <= 0x7fff_ffff {
        out.extend_from_slice(&((n as u32) | 0x8000_0000).to_be_bytes());
    } else {
        return Err(RecordError::PairTooLong);
    }
    Ok(())
}

/// One name-value pair (§3.4) appended to `out`.
pub fn pair(out: &mut Vec<u8>, name: &[u8], value: &[u8]) -> Result<(), RecordError> {
    pair_len(out, name.len())?;
    pair_len(out, value.len())?;
    out.extend_from_slice(name);
    out.extend_from_slice(value);
    Ok(())
}

/// The PARAMS stream for `env` entries (`NAME=value`, as the CGI builder makes them), ended
/// by its empty record. An entry without `=` is a name with an empty value.
pub fn params(out: &mut Vec<u8>, request_id: u16, env: &[Vec<u8>]) -> Result<(), RecordError> {
    let mut body = Vec::new();
    for e in env {
        let (name, value) = match e.iter().position(|&b| b == b'=') {
            Some(i) => e.split_at(i),
            None => (e.as_slice(), &b"="[..]),
        };
        pair(&mut body, name, value.get(1..).unwrap_or_default())?;
    }
    stream(out, PARAMS, request_id, &body);
    end_stream(out, PARAMS, request_id);
    Ok(())
}

/// Decodes name-value pairs; `None` if `data` is not a whole number of well-formed pairs.
pub fn decode_pairs(mut data: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    fn len(d: &mut &[u8]) -> Option<usize> {
        let first = *d.first()?;
        if first < 0x80 {
            *d = d.get(1..)?;
            return Some(first as usize);
        }
        let b: [u8; 4] = d.get(..4)?.try_into().ok()?;
        *d = d.get(4..)?;
        Some((u32::from_be_bytes(b) & 0x7fff_ffff) as usize)
    }
    let mut out = Vec::new();
    while !data.is_empty() {
        let n = len(&mut data)?;
        let v = len(&mut data)?;
        let name = data.get(..n)?.to_vec();
        data = data.get(n..)?;
        let value = data.get(..v)?.to_vec();
        data = data.get(v..)?;
        out.push((name, value));
    }
    Some(out)
}

/// Incremental decoder of the application's records for one request id.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    request_id: u16,
}

impl Decoder {
    pub fn new(request_id: u16) -> Self {
        Decoder {
            buf: Vec::new(),
            request_id,
        }
    }

    /// Bytes received and not yet decoded.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Adds received bytes. Callers feed what they read and call [`Decoder::next`] until it
    /// returns `Ok(None)`, so at most one partial record plus one read is ever held.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole record, `Ok(None)` if more bytes are needed.
    pub fn next_record(&mut self) -> Result<Option<Record>, RecordError> {
        let Some(h) = self.buf.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let [version, kind, id1, id0, l1, l0, pad, _reserved] =
            <[u8; HEADER_LEN]>::try_from(h).map_err(|_| RecordError::Version(0))?;
        if version != VERSION {
            return Err(RecordError::Version(version));
        }
        let id = u16::from_be_bytes([id1, id0]);
        let len = u16::from_be_bytes([l1, l0]) as usize;
        let total = HEADER_LEN + len + pad as usize;
        let management = matches!(kind, GET_VALUES_RESULT | UNKNOWN_TYPE);
        if !matches!(kind, STDOUT | STDERR | END_REQUEST) && !management {
            return Err(RecordError::UnexpectedType(kind));
        }
        let want = if management { 0 } else { self.request_id };
        if id != want {
            return Err(RecordError::RequestId { got: id, want });
        }
        if kind == END_REQUEST && len != 8 {
            return Err(RecordError::EndRequestLength(len));
        }
        let Some(content) = self.buf.get(HEADER_LEN..HEADER_LEN + len) else {
            return Ok(None);
        };
        if self.buf.len() < total {
            return Ok(None);
        }
        let record = match kind {
            STDOUT => Record::Stdout(content.to_vec()),
            STDERR => Record::Stderr(content.to_vec()),
            END_REQUEST => {
                let b: [u8; 8] = content
                    .try_into()
                    .map_err(|_| RecordError::EndRequestLength(len))?;
                let [a3, a2, a1, a0, ps, ..] = b;
                Record::EndRequest {
                    app_status: u32::from_be_bytes([a3, a2, a1, a0]),
                    protocol_status: ProtocolStatus::from_byte(ps),
                }
            }
            other => Record::Management(other),
        };
        self.buf.drain(..total);
        Ok(Some(record))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    /// Records written out by hand from the specification's §8 structures (FCGI_Header,
    /// FCGI_BeginRequestBody, FCGI_EndRequestBody) and §3.4's length encoding.
    #[test]
    fn encoding_table() {
        let mut out = Vec::new();
        begin_request(&mut out, 1, ROLE_RESPONDER, 0);
        assert_eq!(
            out,
            b"\x01\x01\x00\x01\x00\x08\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"
        );

        let mut out = Vec::new();
        begin_request(&mut out, 0x0102, ROLE_RESPONDER, KEEP_CONN);
        assert_eq!(
            out,
            b"\x01\x01\x01\x02\x00\x08\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00"
        );

        let mut out = Vec::new();
        abort_request(&mut out, 1);
        assert_eq!(out, b"\x01\x02\x00\x01\x00\x00\x00\x00");

        let mut out = Vec::new();
        end_stream(&mut out, STDIN, 1);
        assert_eq!(out, b"\x01\x05\x00\x01\x00\x00\x00\x00");

        // 5 bytes of STDIN: padded with 3 zero bytes to 8.
        let mut out = Vec::new();
        stream(&mut out, STDIN, 1, b"hello");
        assert_eq!(out, b"\x01\x05\x00\x01\x00\x05\x03\x00hello\x00\x00\x00");

        // 8 bytes: no padding.
        let mut out = Vec::new();
        stream(&mut out, STDIN, 1, b"12345678");
        assert_eq!(out, b"\x01\x05\x00\x01\x00\x08\x00\x0012345678");

        // Nothing: no record (the end of a stream is explicit).
        let mut out = Vec::new();
        stream(&mut out, STDIN, 1, b"");
        assert!(out.is_empty());
    }

    #[test]
    fn pair_lengths_table() {
        for (name_len, value_len, want_prefix) in [
            (1usize, 1usize, &b"\x01\x01"[..]),
            (127, 0, b"\x7f\x00"),
            (128, 0, b"\x80\x00\x00\x80\x00"),
            (3, 300, b"\x03\x80\x00\x01\x2c"),
            (0x10000, 1, b"\x80\x01\x00\x00\x01"),
        ] {
            let mut out = Vec::new();
            pair(&mut out, &vec![b'n'; name_len], &vec![b'v'; value_len]).unwrap();
            assert_eq!(
                &out[..want_prefix.len()],
                want_prefix,
                "{name_len} {value_len}"
            );
            assert_eq!(out.len(), want_prefix.len() + name_len + value_len);
        }
    }

    #[test]
    fn params_stream() {
        let mut out = Vec::new();
        params(
            &mut out,
            1,
            &[b"A=b".to_vec(), b"EMPTY=".to_vec(), b"X=y=z".to_vec()],
        )
        .unwrap();
        let body: &[u8] = b"\x01\x01Ab\x05\x00EMPTY\x01\x03Xy=z";
        assert_eq!(body.len(), 17);
        let mut want = b"\x01\x04\x00\x01\x00\x11\x07\x00".to_vec();
        want.extend_from_slice(body);
        want.extend_from_slice(&[0; 7]);
        want.extend_from_slice(b"\x01\x04\x00\x01\x00\x00\x00\x00");
        assert_eq!(out, want);
        assert_eq!(
            decode_pairs(body).unwrap(),
            vec![
                (b"A".to_vec(), b"b".to_vec()),
                (b"EMPTY".to_vec(), b"".to_vec()),
                (b"X".to_vec(), b"y=z".to_vec())
            ]
        );
        assert_eq!(decode_pairs(b"\x05\x00EMP"), None);
        assert_eq!(decode_pairs(b"\x80\x00"), None);
    }

    #[test]
    fn long_stream_is_split() {
        let data = vec![7u8; MAX_CONTENT + 10];
        let mut out = Vec::new();
        stream(&mut out, STDIN, 1, &data);
        // 65535 bytes + 1 padding; then 10 bytes + 6 padding.
        assert_eq!(&out[..8], b"\x01\x05\x00\x01\xff\xff\x01\x00");
        let second = HEADER_LEN + MAX_CONTENT + 1;
        assert_eq!(
            &out[second..second + 8],
            b"\x01\x05\x00\x01\x00\x0a\x06\x00"
        );
        assert_eq!(out.len(), second + 8 + 16);
    }

    #[test]
    fn decoding_table() {
        type Want = Result<Vec<Record>, RecordError>;
        let end_ok = Record::EndRequest {
            app_status: 0,
            protocol_status: ProtocolStatus::RequestComplete,
        };
        let cases: Vec<(&[u8], Want)> = vec![
            (
                b"\x01\x06\x00\x01\x00\x02\x06\x00hi\0\0\0\0\0\0",
                Ok(vec![Record::Stdout(b"hi".to_vec())]),
            ),
            (
                b"\x01\x06\x00\x01\x00\x00\x00\x00",
                Ok(vec![Record::Stdout(vec![])]),
            ),
            (
                b"\x01\x07\x00\x01\x00\x03\x00\x00err",
                Ok(vec![Record::Stderr(b"err".to_vec())]),
            ),
            (
                b"\x01\x03\x00\x01\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
                Ok(vec![end_ok.clone()]),
            ),
            (
                b"\x01\x03\x00\x01\x00\x08\x00\x00\x00\x00\x01\x02\x02\x00\x00\x00",
                Ok(vec![Record::EndRequest {
                    app_status: 258,
                    protocol_status: ProtocolStatus::Overloaded,
                }]),
            ),
            (
                b"\x01\x0b\x00\x00\x00\x08\x00\x00\x09\0\0\0\0\0\0\0",
                Ok(vec![Record::Management(UNKNOWN_TYPE)]),
            ),
            // Not yet whole: nothing, no error.
            (b"\x01\x06\x00\x01\x00\x02\x06\x00hi\0\0", Ok(vec![])),
            (b"\x01\x06\x00", Ok(vec![])),
            (
                b"\x02\x06\x00\x01\x00\x00\x00\x00",
                Err(RecordError::Version(2)),
            ),
            (
                b"\x01\x06\x00\x02\x00\x00\x00\x00",
                Err(RecordError::RequestId { got: 2, want: 1 }),
            ),
            (
                b"\x01\x05\x00\x01\x00\x00\x00\x00",
                Err(RecordError::UnexpectedType(STDIN)),
            ),
            (
                b"\x01\x01\x00\x01\x00\x08\x00\x00",
                Err(RecordError::UnexpectedType(BEGIN_REQUEST)),
            ),
            (
                b"\x01\x03\x00\x01\x00\x04\x00\x00\0\0\0\0",
                Err(RecordError::EndRequestLength(4)),
            ),
            (
                b"\x01\x0a\x00\x01\x00\x00\x00\x00",
                Err(RecordError::RequestId { got: 1, want: 0 }),
            ),
        ];
        for (bytes, want) in cases {
            // Whole, and one byte at a time: the same records.
            for split in [bytes.len(), 1] {
                let mut d = Decoder::new(1);
                let mut got = Vec::new();
                let mut err = None;
                for part in bytes.chunks(split) {
                    d.push(part);
                    loop {
                        match d.next_record() {
                            Ok(Some(r)) => got.push(r),
                            Ok(None) => break,
                            Err(e) => {
                                err = Some(e);
                                break;
                            }
                        }
                    }
                    if err.is_some() {
                        break;
                    }
                }
                let result = match err {
                    Some(e) => Err(e),
                    None => Ok(got),
                };
                assert_eq!(result, want, "{bytes:?} in pieces of {split}");
            }
        }
    }
}
