//! Any datagram a child or verifier could send: decoding must never panic, and
//! whatever decodes must re-encode to exactly the same bytes (no second reading).
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneshot_httpd::verifier::protocol::{
    decode_request, decode_response, encode_request, encode_response, MAX_REQUEST,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = decode_request(data) {
        assert!(data.len() <= MAX_REQUEST);
        let wire = encode_request(&req).expect("a decoded request is encodable");
        assert_eq!(&wire[..], data);
    }
    if let Ok(verdict) = decode_response(data) {
        assert_eq!(&encode_response(verdict)[..], data);
    }
});
