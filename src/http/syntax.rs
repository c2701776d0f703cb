//! HTTP's shared lexical rules (RFC 9110 §5.6), written once for every parser that meets them:
//! the request head, chunked trailers, a CGI program's header block, the `Authorization` field.
//! Pure; no allocation.
#![forbid(unsafe_code)]

/// RFC 9110 §5.6.2 `tchar`: the bytes a token (a method, a field name) may hold.
/// `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|"
/// / "~" / DIGIT / ALPHA`.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 9110 §5.6.2 `token = 1*tchar`.
pub fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| is_tchar(b))
}

/// RFC 9110 §5.6.3 `OWS = *( SP / HTAB )`.
pub fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `bytes` without optional whitespace (SP / HTAB) at either end, as a field value is read
/// (RFC 9110 §5.5: "excludes leading or trailing whitespace").
pub fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !is_ows(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !is_ows(b))
        .map_or(start, |e| e + 1);
    bytes.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tchar set, spelled out from RFC 9110 §5.6.2 rather than from the function: every one
    /// of the 256 byte values is checked against it.
    #[test]
    fn tchar_is_exactly_the_rfc_set() {
        let mut want = Vec::new();
        want.extend(b'0'..=b'9');
        want.extend(b'A'..=b'Z');
        want.extend(b'a'..=b'z');
        want.extend_from_slice(b"!#$%&'*+-.^_`|~");
        for b in 0..=255u8 {
            assert_eq!(is_tchar(b), want.contains(&b), "byte {b:#04x}");
        }
    }

    #[test]
    fn tokens() {
        let table: &[(&[u8], bool)] = &[
            (b"GET", true),
            (b"Content-Length", true),
            (b"X-!#$%&'*+.^_`|~1", true),
            (b"", false),
            (b"Content Length", false),
            (b"Host:", false),
            (b"a\"b", false),
            (b"(comment)", false),
            (b"a,b", false),
            (b"a/b", false),
            (b"\xc3\xa9", false),
            (b"a\0", false),
            (b"a\x7f", false),
        ];
        for (input, want) in table {
            assert_eq!(
                is_token(input),
                *want,
                "{:?}",
                input.escape_ascii().to_string()
            );
        }
    }

    #[test]
    fn ows_is_sp_and_htab_only() {
        for b in 0..=255u8 {
            assert_eq!(is_ows(b), b == 0x20 || b == 0x09, "byte {b:#04x}");
        }
    }

    #[test]
    fn trimming() {
        let table: &[(&[u8], &[u8])] = &[
            (b"", b""),
            (b" ", b""),
            (b" \t \t", b""),
            (b"value", b"value"),
            (b"  value", b"value"),
            (b"value\t\t", b"value"),
            (b" \tin  side\t ", b"in  side"),
            // Only SP and HTAB are OWS: CR, LF, VT, FF and NBSP stay.
            (b"\rv\n", b"\rv\n"),
            (b"\x0bv\x0c", b"\x0bv\x0c"),
            (b" \xa0v\xa0 ", b"\xa0v\xa0"),
        ];
        for (input, want) in table {
            assert_eq!(
                trim_ows(input),
                *want,
                "{:?}",
                input.escape_ascii().to_string()
            );
        }
    }
}
