//! What the header fields say about the message around the head: its body framing
//! (Content-Length, Transfer-Encoding; RFC 9112 §6), persistence (`Connection`) and
//! `Expect: 100-continue`. Separate because these decide where the next request starts,
//! the smuggling boundary.

#![forbid(unsafe_code)]

use super::*;

pub(super) fn body_framing(headers: &[(String, Vec<u8>)], minor: u8) -> Result<Body, HeadError> {
    let has_te = values(headers, "transfer-encoding").next().is_some();
    let mut lengths = values(headers, "content-length");
    let length = lengths.next();
    if lengths.next().is_some() {
        return Err(HeadError::DuplicateContentLength);
    }
    match (length, has_te) {
        (Some(_), true) => Err(HeadError::ContentLengthWithTransferEncoding),
        (Some(value), false) => parse_content_length(value).map(Body::Length),
        (None, true) if minor == 0 => Err(HeadError::TransferEncodingInHttp10),
        (None, true) => check_transfer_encoding(headers).map(|()| Body::Chunked),
        (None, false) => Ok(Body::None),
    }
}

fn parse_content_length(value: &[u8]) -> Result<u64, HeadError> {
    let bad = |why| HeadError::InvalidContentLength { why };
    if value.is_empty() {
        return Err(bad("empty"));
    }
    if value.contains(&b',') {
        return Err(bad("a list of values"));
    }
    if !value.iter().all(u8::is_ascii_digit) {
        return Err(bad("not a decimal number"));
    }
    let mut n: u64 = 0;
    for &d in value {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(bad("does not fit in 64 bits"))?;
    }
    Ok(n)
}

/// Accept only `chunked` as the single, final, parameterless coding (see module docs).
fn check_transfer_encoding(headers: &[(String, Vec<u8>)]) -> Result<(), HeadError> {
    let bad = |why| HeadError::BadTransferEncoding { why };
    let codings: Vec<&[u8]> = values(headers, "transfer-encoding")
        .flat_map(|v| v.split(|&b| b == b','))
        .map(trim_ows)
        .collect();
    if codings.iter().any(|c| c.is_empty()) {
        return Err(bad("empty list element"));
    }
    if !codings.iter().all(|c| is_coding(c)) {
        return Err(bad("list element is not a transfer coding"));
    }
    let (last, before) = codings.split_last().ok_or(bad("empty value"))?;
    let is_chunked = |c: &&[u8]| coding_name(c).eq_ignore_ascii_case(b"chunked");
    if is_chunked(last) && coding_name(last).len() != last.len() {
        return Err(bad("chunked takes no parameters"));
    }
    if !is_chunked(last) {
        return Err(bad("chunked is not the final coding"));
    }
    if before.iter().any(is_chunked) {
        return Err(bad("chunked applied more than once"));
    }
    match before.first() {
        Some(coding) => Err(HeadError::UnsupportedTransferCoding {
            coding: escape(coding),
        }),
        None => Ok(()),
    }
}

/// `token *( OWS ";" OWS token "=" value )`: only the name is checked, since the only coding
/// we decode (chunked) must not carry parameters and every other coding is refused anyway.
fn is_coding(coding: &[u8]) -> bool {
    is_token(coding_name(coding))
}

/// The coding name without parameters or the OWS before them.
fn coding_name(coding: &[u8]) -> &[u8] {
    trim_ows(coding.split(|&b| b == b';').next().unwrap_or_default())
}

pub(super) fn keep_alive(headers: &[(String, Vec<u8>)], minor: u8) -> bool {
    let has = |option: &[u8]| {
        values(headers, "connection")
            .flat_map(|v| v.split(|&b| b == b','))
            .any(|o| trim_ows(o).eq_ignore_ascii_case(option))
    };
    if has(b"close") {
        return false;
    }
    minor == 1 || has(b"keep-alive")
}

pub(super) fn expect_continue(headers: &[(String, Vec<u8>)], minor: u8) -> Result<bool, HeadError> {
    let mut seen = false;
    for value in values(headers, "expect") {
        if !value.eq_ignore_ascii_case(b"100-continue") {
            return Err(HeadError::UnsupportedExpectation {
                value: escape(value),
            });
        }
        seen = true;
    }
    Ok(seen && minor == 1)
}
