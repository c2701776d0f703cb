//! Fuzz the `Authorization: Basic` parser (`auth::basic::parse_authorization`): no panic; an
//! accepted user name is non-empty with no `:` and no control byte (RFC 7617 §2); and what it
//! accepted, encoded again with the base64 crate as a client would, parses to the same user
//! and password.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use oneshot_httpd::auth::basic::parse_authorization;

fuzz_target!(|data: &[u8]| {
    let Ok(c) = parse_authorization(data) else {
        return;
    };
    assert!(!c.user.is_empty());
    assert!(!c.user.chars().any(|ch| ch == ':' || ch.is_control()), "{:?}", c.user);
    let mut pair = c.user.as_bytes().to_vec();
    pair.push(b':');
    pair.extend_from_slice(c.password());
    let header = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(&pair)
    );
    let again = parse_authorization(header.as_bytes()).expect("re-encoded credentials parse");
    assert_eq!(again.user, c.user);
    assert_eq!(again.password(), c.password());
});
