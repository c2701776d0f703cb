//! Stage: request authentication, first step (pure). Decodes an `Authorization:
//! Basic` header value (RFC 7617).
//!
//! Invariants: input longer than [`MAX_AUTHORIZATION_LEN`] is refused before any
//! decoding; base64 must be canonical with padding; the user name is non-empty UTF-8
//! without control characters and without `:` (the split is at the first `:`, so the
//! password may contain `:`). Decoded bytes live only in zeroize-on-drop buffers and
//! never appear in errors or `Debug` output.
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::fmt;

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::http::syntax::trim_ows;

/// Largest header value accepted; far above any sane user:password pair.
pub const MAX_AUTHORIZATION_LEN: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BasicError {
    #[error("Authorization value is {len} bytes, limit is {MAX_AUTHORIZATION_LEN}")]
    TooLong { len: usize },
    #[error("Authorization scheme is not Basic")]
    NotBasic,
    #[error("Basic scheme must be followed by one or more spaces and credentials")]
    MissingCredentials,
    #[error("Basic credentials are not canonical padded base64")]
    Base64,
    #[error("decoded Basic credentials have no ':' between user and password")]
    NoColon,
    #[error("Basic user name is empty")]
    EmptyUser,
    #[error("Basic user name is not UTF-8")]
    UserNotUtf8,
    #[error("Basic user name contains a control character or ':'")]
    BadUserChar,
}

/// A user name and a password that is wiped from memory when dropped.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    password: Zeroizing<Vec<u8>>,
}

impl Credentials {
    /// Builds credentials from parts (e.g. received from another process), applying
    /// the same user-name rules as header parsing.
    pub fn new(user: String, password: Zeroizing<Vec<u8>>) -> Result<Self, BasicError> {
        check_user(&user)?;
        Ok(Credentials { user, password })
    }

    pub fn password(&self) -> &[u8] {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Parses `Basic <base64(user:password)>`; the scheme is case-insensitive and
/// surrounding spaces/tabs (HTTP optional whitespace) are ignored.
pub fn parse_authorization(value: &[u8]) -> Result<Credentials, BasicError> {
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(BasicError::TooLong { len: value.len() });
    }
    let value = trim_ows(value);
    let token = strip_scheme(value)?;
    let decoded = decode(token)?;
    let (user, password) = decoded
        .iter()
        .position(|&b| b == b':')
        .and_then(|colon| decoded.split_at_checked(colon))
        .ok_or(BasicError::NoColon)?;
    let user = std::str::from_utf8(user).map_err(|_| BasicError::UserNotUtf8)?;
    let password = Zeroizing::new(password.get(1..).unwrap_or_default().to_vec());
    Credentials::new(user.to_owned(), password)
}

fn strip_scheme(value: &[u8]) -> Result<&[u8], BasicError> {
    let (scheme, rest) = value.split_at(value.len().min(5));
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return Err(BasicError::NotBasic);
    }
    match rest.first() {
        None => return Err(BasicError::MissingCredentials),
        Some(b' ') => {}
        // "Basicfoo" is another scheme; RFC 7235 allows only SP after the scheme.
        Some(_) => return Err(BasicError::NotBasic),
    }
    let spaces = rest.iter().take_while(|&&b| b == b' ').count();
    let token = rest.get(spaces..).unwrap_or_default();
    if token.is_empty() {
        return Err(BasicError::MissingCredentials);
    }
    Ok(token)
}

fn decode(token: &[u8]) -> Result<Zeroizing<Vec<u8>>, BasicError> {
    // Pre-sized so decoding never reallocates and leaves unwiped copies behind.
    let capacity = base64::decoded_len_estimate(token.len());
    let mut decoded = Zeroizing::new(Vec::with_capacity(capacity));
    base64::engine::general_purpose::STANDARD
        .decode_vec(token, &mut decoded)
        .map_err(|_| BasicError::Base64)?;
    Ok(decoded)
}

fn check_user(user: &str) -> Result<(), BasicError> {
    if user.is_empty() {
        return Err(BasicError::EmptyUser);
    }
    if user.chars().any(|c| c.is_control() || c == ':') {
        return Err(BasicError::BadUserChar);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_values() {
        let cases: &[(&[u8], &str, &[u8])] = &[
            (b"Basic YWxpY2U6c2VjcmV0", "alice", b"secret"),
            (b"basic YWxpY2U6c2VjcmV0", "alice", b"secret"),
            (b"BASIC    YWxpY2U6c2VjcmV0", "alice", b"secret"),
            (b" \tBasic YWxpY2U6c2VjcmV0 \t", "alice", b"secret"),
            (
                b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
                "Aladdin",
                b"open sesame",
            ),
            (b"Basic YWxpY2U6YTpiOmM=", "alice", b"a:b:c"),
            (b"Basic YWxpY2U6", "alice", b""),
            (b"Basic Ym9iOnD/dw==", "bob", b"p\xffw"),
            (b"Basic am9zw6k6cHc=", "jos\u{e9}", b"pw"),
        ];
        for (value, user, password) in cases {
            let shown = String::from_utf8_lossy(value);
            let creds = parse_authorization(value).unwrap_or_else(|e| panic!("{shown}: {e}"));
            assert_eq!(creds.user, *user, "{shown}");
            assert_eq!(creds.password(), *password, "{shown}");
        }
    }

    #[test]
    fn rejected_values() {
        let cases: &[(&[u8], BasicError)] = &[
            (b"Bearer YWxpY2U6c2VjcmV0", BasicError::NotBasic),
            (b"Basi", BasicError::NotBasic),
            (b"", BasicError::NotBasic),
            (b"BasicYWxpY2U6c2VjcmV0", BasicError::NotBasic),
            (b"Basic\tYWxpY2U6c2VjcmV0", BasicError::NotBasic),
            (b"Basic", BasicError::MissingCredentials),
            (b"Basic   ", BasicError::MissingCredentials),
            (b"Basic YWxpY2U6c2VjcmV0 x", BasicError::Base64),
            (b"Basic YWxpY2U6YTpiOmM", BasicError::Base64),
            (b"Basic YWxpY2U6YTpiOmN=", BasicError::Base64),
            (b"Basic YWxp Y2U6c2VjcmV0", BasicError::Base64),
            (b"Basic YWxpY2U6c2VjcmV0\r\n", BasicError::Base64),
            (b"Basic YWxpY2U6c2Vjc-V0", BasicError::Base64),
            (b"Basic bm9jb2xvbg==", BasicError::NoColon),
            (b"Basic OnB3", BasicError::EmptyUser),
            (b"Basic YWwBY2U6cHc=", BasicError::BadUserChar),
            (b"Basic //46cHc=", BasicError::UserNotUtf8),
        ];
        for (value, expected) in cases {
            let shown = String::from_utf8_lossy(value);
            let err = parse_authorization(value).expect_err(&shown);
            assert_eq!(&err, expected, "{shown}");
        }
    }

    #[test]
    fn size_is_bounded_before_decoding() {
        let mut value = b"Basic ".to_vec();
        value.resize(MAX_AUTHORIZATION_LEN, b'A');
        // Exactly at the limit the length is fine and the content decides.
        assert_ne!(
            parse_authorization(&value).unwrap_err(),
            BasicError::TooLong { len: value.len() }
        );
        value.push(b'A');
        assert_eq!(
            parse_authorization(&value).unwrap_err(),
            BasicError::TooLong {
                len: MAX_AUTHORIZATION_LEN + 1
            }
        );
    }

    #[test]
    fn new_applies_user_rules_and_debug_hides_password() {
        let password = Zeroizing::new(b"hunter2".to_vec());
        assert_eq!(
            Credentials::new("a:b".into(), password.clone()).unwrap_err(),
            BasicError::BadUserChar
        );
        assert_eq!(
            Credentials::new(String::new(), password.clone()).unwrap_err(),
            BasicError::EmptyUser
        );
        let creds = Credentials::new("carol".into(), password).unwrap();
        let shown = format!("{creds:?}");
        assert!(
            shown.contains("carol") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
