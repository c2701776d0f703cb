//! Stage: request body decoding for `Transfer-Encoding: chunked` (child, after the head).
//!
//! [`ChunkedDecoder`] is an incremental state machine: the read loop feeds it whatever arrived,
//! it appends the decoded data to the caller's buffer and reports how many input bytes it
//! consumed and whether the message ended. It never consumes a byte past the final CRLF, so
//! anything after it is left to the caller.
//!
//! Invariants:
//! - Splitting the input at any point yields the same output and the same verdict.
//! - Every line ends in CRLF; bare LF, bare CR and a missing CRLF after chunk data are 400.
//! - Chunk sizes are 1-16 hex digits with no whitespace (stricter than BWS, which is a
//!   smuggling vector between parsers); a size that would overflow is 400.
//! - The body limit (`max_body`, Apache's LimitRequestBody, 0 = unlimited) is enforced as soon
//!   as a complete chunk size makes the declared total exceed it (413), before the data
//!   arrives; a malformed size line is 400 first.
//! - Chunk extensions are ignored but bounded: 1 KiB per chunk and 64 KiB per message, so tiny
//!   chunks cannot make the wire size unbounded relative to the body limit.
//! - Trailer fields are checked for syntax (`token ":" value`, no obs-fold, no CTL) and
//!   discarded; the whole trailer section is bounded to 8 KiB.
//! - After an error the decoder stays failed and returns the same error.
#![forbid(unsafe_code)]

use super::syntax::is_tchar;

/// Longest chunk-ext (from its ';' to the CR) accepted on one chunk line.
pub const MAX_CHUNK_EXT: usize = 1024;
/// Most chunk-ext bytes accepted over the whole body.
pub const MAX_TOTAL_EXT: usize = 64 * 1024;
/// Most bytes accepted for the trailer section (all trailer lines plus the final CRLF).
pub const MAX_TRAILERS: usize = 8 * 1024;
/// Most hex digits in a chunk size (16 nibbles fill a u64).
pub const MAX_SIZE_DIGITS: u32 = 16;

/// Why a chunked body was refused; `at` is the byte offset in the chunked stream.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ChunkError {
    #[error("invalid chunk size at byte {at}: {why}")]
    InvalidSize { at: u64, why: &'static str },
    #[error("chunk size at byte {at} has more than {MAX_SIZE_DIGITS} hex digits")]
    SizeOverflow { at: u64 },
    #[error("chunk extension at byte {at} longer than {limit} bytes")]
    ExtTooLong { at: u64, limit: usize },
    #[error("control byte {byte:#04x} in chunk extension at byte {at}")]
    InvalidExt { at: u64, byte: u8 },
    #[error("bare LF at byte {at}: lines must end in CRLF")]
    BareLf { at: u64 },
    #[error("bare CR at byte {at}: CR must be followed by LF")]
    BareCr { at: u64 },
    #[error("chunk data not followed by CRLF at byte {at}")]
    MissingCrlf { at: u64 },
    #[error("invalid trailer field at byte {at}: {why}")]
    InvalidTrailer { at: u64, why: &'static str },
    #[error("trailer section longer than {limit} bytes at byte {at}")]
    TrailersTooLarge { at: u64, limit: usize },
    #[error("chunked body exceeds LimitRequestBody ({limit} bytes)")]
    TooLarge { limit: u64 },
}

impl ChunkError {
    /// The status code to answer with before closing the connection.
    pub fn status(&self) -> u16 {
        match self {
            ChunkError::TooLarge { .. } => 413,
            _ => 400,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Reading chunk-size hex digits.
    Size {
        digits: u32,
        size: u64,
    },
    /// Inside a chunk-ext, until CR.
    Ext {
        size: u64,
        len: usize,
    },
    /// Saw the CR ending a chunk-size line.
    SizeLf {
        size: u64,
    },
    Data {
        remaining: u64,
    },
    DataCr,
    DataLf,
    /// At the start of a trailer line or of the final empty line.
    TrailerStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    EndLf,
    Done,
    Failed(ChunkError),
}

/// Incremental decoder for one chunked request body.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    max_body: u64,
    /// Decoded bytes so far plus the size of the chunk being read.
    body: u64,
    /// Bytes of the chunked stream consumed so far (for error offsets).
    at: u64,
    ext_total: usize,
    trailer_len: usize,
}

impl ChunkedDecoder {
    /// `max_body` is LimitRequestBody; 0 means unlimited, as in Apache.
    pub fn new(max_body: u64) -> Self {
        ChunkedDecoder {
            state: State::Size { digits: 0, size: 0 },
            max_body,
            body: 0,
            at: 0,
            ext_total: 0,
            trailer_len: 0,
        }
    }

    /// Feed bytes; decoded data is appended to `out`. Returns how many input bytes were
    /// consumed and whether the final chunk and trailers (with the final CRLF) have been seen.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(usize, bool), ChunkError> {
        let mut pos = 0;
        loop {
            match &self.state {
                State::Done => return Ok((pos, true)),
                State::Failed(e) => return Err(e.clone()),
                _ if pos == input.len() => return Ok((pos, false)),
                _ => {}
            }
            let step = self.step(input.get(pos..).unwrap_or_default(), out);
            let used = match step {
                Ok(used) => used,
                Err(e) => {
                    self.state = State::Failed(e.clone());
                    return Err(e);
                }
            };
            pos += used;
            self.at += used as u64;
        }
    }

    /// Advance by at least one byte of the non-empty `input`; returns bytes used.
    fn step(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ChunkError> {
        if let State::Data { remaining } = self.state {
            let take = usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
            out.extend_from_slice(input.get(..take).unwrap_or(input));
            let remaining = remaining - take as u64;
            self.state = match remaining {
                0 => State::DataCr,
                _ => State::Data { remaining },
            };
            return Ok(take);
        }
        let Some(&byte) = input.first() else {
            return Ok(0);
        };
        self.state = self.next_state(byte)?;
        Ok(1)
    }

    fn next_state(&mut self, byte: u8) -> Result<State, ChunkError> {
        let at = self.at;
        match self.state.clone() {
            State::Size { digits, size } => self.size_byte(digits, size, byte),
            State::Ext { size, len } => self.ext_byte(size, len, byte),
            State::SizeLf { size } => match (byte, size) {
                (b'\n', 0) => Ok(State::TrailerStart),
                (b'\n', _) => {
                    // The limit was checked digit by digit; only now is the chunk committed.
                    self.body = self.body.saturating_add(size);
                    Ok(State::Data { remaining: size })
                }
                _ => Err(ChunkError::BareCr { at: at - 1 }),
            },
            State::DataCr => match byte {
                b'\r' => Ok(State::DataLf),
                _ => Err(ChunkError::MissingCrlf { at }),
            },
            State::DataLf => match byte {
                b'\n' => Ok(State::Size { digits: 0, size: 0 }),
                _ => Err(ChunkError::MissingCrlf { at }),
            },
            State::TrailerStart
            | State::TrailerName
            | State::TrailerValue
            | State::TrailerLf
            | State::EndLf => self.trailer_byte(byte),
            State::Data { .. } | State::Done | State::Failed(_) => {
                unreachable!("decode() handles data, done and failed states before next_state")
            }
        }
    }

    fn size_byte(&mut self, digits: u32, size: u64, byte: u8) -> Result<State, ChunkError> {
        let at = self.at;
        let Some(nibble) = (byte as char).to_digit(16) else {
            return match (byte, digits) {
                (_, 0) => Err(ChunkError::InvalidSize {
                    at,
                    why: "expected a hex digit",
                }),
                (b'\r', _) => self.within_limit(size).map(|()| State::SizeLf { size }),
                // The ';' counts toward the extension bounds.
                (b';', _) => self
                    .within_limit(size)
                    .and_then(|()| self.grow_ext(size, 0)),
                (b'\n', _) => Err(ChunkError::BareLf { at }),
                _ => Err(ChunkError::InvalidSize {
                    at,
                    why: "expected a hex digit, ';' or CRLF",
                }),
            };
        };
        if digits == MAX_SIZE_DIGITS {
            return Err(ChunkError::SizeOverflow { at });
        }
        Ok(State::Size {
            digits: digits + 1,
            size: (size << 4) | u64::from(nibble),
        })
    }

    /// The limit is checked once the size is complete (at most 16 digits, so still before any
    /// of its data), so a malformed size is 400 whatever its magnitude, not 413.
    fn within_limit(&self, size: u64) -> Result<(), ChunkError> {
        let declared = self.body.checked_add(size);
        if self.max_body != 0 && declared.is_none_or(|total| total > self.max_body) {
            return Err(ChunkError::TooLarge {
                limit: self.max_body,
            });
        }
        Ok(())
    }

    fn ext_byte(&mut self, size: u64, len: usize, byte: u8) -> Result<State, ChunkError> {
        let at = self.at;
        match byte {
            b'\r' => return Ok(State::SizeLf { size }),
            b'\n' => return Err(ChunkError::BareLf { at }),
            b'\t' | 0x20..=0x7e | 0x80..=0xff => {}
            _ => return Err(ChunkError::InvalidExt { at, byte }),
        }
        self.grow_ext(size, len)
    }

    /// Account one more chunk-ext byte against both bounds.
    fn grow_ext(&mut self, size: u64, len: usize) -> Result<State, ChunkError> {
        let at = self.at;
        self.ext_total += 1;
        if len + 1 > MAX_CHUNK_EXT {
            return Err(ChunkError::ExtTooLong {
                at,
                limit: MAX_CHUNK_EXT,
            });
        }
        if self.ext_total > MAX_TOTAL_EXT {
            return Err(ChunkError::ExtTooLong {
                at,
                limit: MAX_TOTAL_EXT,
            });
        }
        Ok(State::Ext { size, len: len + 1 })
    }

    fn trailer_byte(&mut self, byte: u8) -> Result<State, ChunkError> {
        let at = self.at;
        self.trailer_len += 1;
        if self.trailer_len > MAX_TRAILERS {
            return Err(ChunkError::TrailersTooLarge {
                at,
                limit: MAX_TRAILERS,
            });
        }
        let bad = |why| ChunkError::InvalidTrailer { at, why };
        match (&self.state, byte) {
            (_, b'\n') if self.state != State::TrailerLf && self.state != State::EndLf => {
                Err(ChunkError::BareLf { at })
            }
            (State::TrailerStart, b'\r') => Ok(State::EndLf),
            (State::TrailerStart, b' ' | b'\t') => Err(bad("obsolete line folding")),
            (State::TrailerStart | State::TrailerName, b) if is_tchar(b) => Ok(State::TrailerName),
            (State::TrailerStart, _) => Err(bad("field name must be a token")),
            (State::TrailerName, b':') => Ok(State::TrailerValue),
            (State::TrailerName, _) => Err(bad("field name must be a token followed by ':'")),
            (State::TrailerValue, b'\r') => Ok(State::TrailerLf),
            (State::TrailerValue, b'\t' | 0x20..=0x7e | 0x80..=0xff) => Ok(State::TrailerValue),
            (State::TrailerValue, _) => Err(bad("control byte in field value")),
            (State::TrailerLf, b'\n') => Ok(State::TrailerStart),
            (State::EndLf, b'\n') => Ok(State::Done),
            _ => Err(ChunkError::BareCr { at: at - 1 }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected outcome: decoded body, bytes consumed and whether the body ended, or a status.
    #[derive(Debug, PartialEq)]
    enum Want {
        Ok(&'static [u8], usize, bool),
        Status(u16),
    }

    fn feed(max_body: u64, pieces: &[&[u8]]) -> (Vec<u8>, Result<(usize, bool), ChunkError>) {
        let mut dec = ChunkedDecoder::new(max_body);
        let mut out = Vec::new();
        let mut consumed = 0;
        for piece in pieces {
            match dec.decode(piece, &mut out) {
                Ok((n, done)) => {
                    consumed += n;
                    if done {
                        return (out, Ok((consumed, true)));
                    }
                    assert_eq!(n, piece.len(), "unfinished decoder must consume all input");
                }
                Err(e) => return (out, Err(e)),
            }
        }
        (out, Ok((consumed, false)))
    }

    /// Decoded body (on success) and the outcome or status.
    type Verdict = (Option<Vec<u8>>, Result<(usize, bool), u16>);

    fn verdict(out: Vec<u8>, r: Result<(usize, bool), ChunkError>) -> Verdict {
        match r {
            Ok(v) => (Some(out), Ok(v)),
            Err(e) => (None, Err(e.status())),
        }
    }

    fn check(name: &str, input: &[u8], max_body: u64, want: &Want) {
        let (out, r) = feed(max_body, &[input]);
        let got = verdict(out, r);
        let expected = match want {
            Want::Ok(body, n, done) => (Some(body.to_vec()), Ok((*n, *done))),
            Want::Status(s) => (None, Err(*s)),
        };
        assert_eq!(got, expected, "case {name}");
        // Every split point for small inputs; large ones get a spread of points to stay fast.
        let stride = (input.len() / 256).max(1);
        for split in (0..=input.len()).step_by(stride) {
            let (a, b) = input.split_at(split);
            let (out, r) = feed(max_body, &[a, b]);
            assert_eq!(verdict(out, r), expected, "case {name} split at {split}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        let (out, r) = feed(max_body, &bytes);
        assert_eq!(verdict(out, r), expected, "case {name} byte by byte");
    }

    #[test]
    fn table() {
        let long_ext = format!("1;{}\r\na\r\n0\r\n\r\n", "x".repeat(MAX_CHUNK_EXT - 1));
        let too_long_ext = format!("1;{}\r\na\r\n0\r\n\r\n", "x".repeat(MAX_CHUNK_EXT));
        let big_trailer = format!("0\r\nX:{}\r\n\r\n", "v".repeat(MAX_TRAILERS - 6));
        let too_big_trailer = format!("0\r\nX:{}\r\n\r\n", "v".repeat(MAX_TRAILERS - 5));
        let full_ext_chunk = format!("1;{}\r\na\r\n", "e".repeat(MAX_CHUNK_EXT - 1));
        let total_ext = full_ext_chunk.repeat(MAX_TOTAL_EXT / MAX_CHUNK_EXT);
        let ext_total_at_limit = total_ext.clone() + "0\r\n\r\n";
        let ext_total_over_limit = total_ext + "0;\r\n\r\n";
        let a64: &[u8] = &[b'a'; MAX_TOTAL_EXT / MAX_CHUNK_EXT];
        let cases: Vec<(&str, &[u8], u64, Want)> = vec![
            (
                "simple",
                b"5\r\nhello\r\n0\r\n\r\n",
                0,
                Want::Ok(b"hello", 15, true),
            ),
            (
                "two chunks",
                b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                0,
                Want::Ok(b"abcde", 20, true),
            ),
            (
                "uppercase hex",
                b"A\r\n0123456789\r\n0\r\n\r\n",
                0,
                Want::Ok(b"0123456789", 20, true),
            ),
            (
                "leading zeros",
                b"0005\r\nhello\r\n000\r\n\r\n",
                0,
                Want::Ok(b"hello", 20, true),
            ),
            ("empty body", b"0\r\n\r\n", 0, Want::Ok(b"", 5, true)),
            (
                "stops at end",
                b"0\r\n\r\nGET / HTTP/1.1\r\n",
                0,
                Want::Ok(b"", 5, true),
            ),
            ("incomplete", b"5\r\nhel", 0, Want::Ok(b"hel", 6, false)),
            (
                "incomplete last",
                b"5\r\nhello\r\n0\r\n",
                0,
                Want::Ok(b"hello", 13, false),
            ),
            (
                "extension",
                b"5;name=\"va;l\"\r\nhello\r\n0;x\r\n\r\n",
                0,
                Want::Ok(b"hello", 29, true),
            ),
            (
                "trailers",
                b"1\r\na\r\n0\r\nX-T: 1\r\nY:\r\n\r\n",
                0,
                Want::Ok(b"a", 23, true),
            ),
            (
                "16 digits",
                b"0000000000000001\r\na\r\n0\r\n\r\n",
                0,
                Want::Ok(b"a", 26, true),
            ),
            (
                "17 digits",
                b"00000000000000001\r\na\r\n0\r\n\r\n",
                0,
                Want::Status(400),
            ),
            (
                "u64 max size",
                b"ffffffffffffffff\r\n",
                0,
                Want::Ok(b"", 18, false),
            ),
            (
                "overflow size",
                b"10000000000000000\r\n",
                0,
                Want::Status(400),
            ),
            ("no digits", b"\r\n\r\n", 0, Want::Status(400)),
            ("invalid hex", b"g\r\n", 0, Want::Status(400)),
            ("0x prefix", b"0x5\r\nhello\r\n", 0, Want::Status(400)),
            ("negative", b"-5\r\n", 0, Want::Status(400)),
            (
                "space before size",
                b" 5\r\nhello\r\n0\r\n\r\n",
                0,
                Want::Status(400),
            ),
            (
                "space after size",
                b"5 \r\nhello\r\n0\r\n\r\n",
                0,
                Want::Status(400),
            ),
            ("ext only", b";x\r\n", 0, Want::Status(400)),
            (
                "bare LF size line",
                b"5\nhello\r\n0\r\n\r\n",
                0,
                Want::Status(400),
            ),
            ("bare CR size line", b"5\rhello\r\n", 0, Want::Status(400)),
            ("bare LF in ext", b"5;a\nhello\r\n", 0, Want::Status(400)),
            ("NUL in ext", b"5;a\0\r\nhello\r\n", 0, Want::Status(400)),
            (
                "ext at limit",
                long_ext.as_bytes(),
                0,
                Want::Ok(b"a", long_ext.len(), true),
            ),
            (
                "ext over limit",
                too_long_ext.as_bytes(),
                0,
                Want::Status(400),
            ),
            (
                "ext total at limit",
                ext_total_at_limit.as_bytes(),
                0,
                Want::Ok(a64, ext_total_at_limit.len(), true),
            ),
            (
                "ext total over limit",
                ext_total_over_limit.as_bytes(),
                0,
                Want::Status(400),
            ),
            (
                "data too long",
                b"3\r\nabcd\r\n0\r\n\r\n",
                0,
                Want::Status(400),
            ),
            ("data LF only", b"3\r\nabc\n0\r\n\r\n", 0, Want::Status(400)),
            ("data CR only", b"3\r\nabc\r0\r\n\r\n", 0, Want::Status(400)),
            ("last chunk bare LF", b"0\r\n\n", 0, Want::Status(400)),
            ("last chunk bare CR", b"0\r\n\rX", 0, Want::Status(400)),
            ("trailer bare LF", b"0\r\nX: 1\n\r\n", 0, Want::Status(400)),
            (
                "trailer bare CR",
                b"0\r\nX: 1\rY\r\n\r\n",
                0,
                Want::Status(400),
            ),
            (
                "trailer obs-fold",
                b"0\r\nX: 1\r\n 2\r\n\r\n",
                0,
                Want::Status(400),
            ),
            (
                "trailer space before colon",
                b"0\r\nX : 1\r\n\r\n",
                0,
                Want::Status(400),
            ),
            ("trailer no colon", b"0\r\nX\r\n\r\n", 0, Want::Status(400)),
            ("trailer NUL", b"0\r\nX: \0\r\n\r\n", 0, Want::Status(400)),
            (
                "trailers at limit",
                big_trailer.as_bytes(),
                0,
                Want::Ok(b"", big_trailer.len(), true),
            ),
            (
                "trailers over limit",
                too_big_trailer.as_bytes(),
                0,
                Want::Status(400),
            ),
            (
                "body at limit",
                b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                5,
                Want::Ok(b"abcde", 20, true),
            ),
            (
                "body one over limit",
                b"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n",
                5,
                Want::Status(413),
            ),
            (
                "huge size refused at the end of its line, before data",
                b"ffffffff\r",
                1024,
                Want::Status(413),
            ),
            (
                "huge size with an extension refused at the ';'",
                b"ffffffff;",
                1024,
                Want::Status(413),
            ),
            (
                "17 digits are malformed (400) even over the limit",
                b"10000000000000000\r\n",
                1024,
                Want::Status(400),
            ),
            (
                "u64 total refused",
                b"ffffffffffffffff\r\n",
                u64::MAX - 1,
                Want::Status(413),
            ),
        ];
        for (name, input, max, want) in &cases {
            check(name, input, *max, want);
        }
    }

    #[test]
    fn error_is_sticky() {
        let mut dec = ChunkedDecoder::new(0);
        let mut out = Vec::new();
        let first = dec.decode(b"z", &mut out).unwrap_err();
        assert_eq!(dec.decode(b"0\r\n\r\n", &mut out), Err(first));
    }

    #[test]
    fn done_consumes_nothing_more() {
        let mut dec = ChunkedDecoder::new(0);
        let mut out = Vec::new();
        assert_eq!(dec.decode(b"0\r\n\r\n", &mut out), Ok((5, true)));
        assert_eq!(dec.decode(b"more", &mut out), Ok((0, true)));
        assert!(out.is_empty());
    }
}
