//! Any datagram a child could send the key holder, or the key holder a child: decoding never
//! panics, what decodes re-encodes to the same bytes, and the shape check never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneshot_httpd::keyholder::protocol::{
    classify, decode_request, decode_response, encode_request, encode_response, MAX_REQUEST,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = decode_request(data) {
        assert!(data.len() <= MAX_REQUEST);
        assert_eq!(encode_request(&req).expect("encodable"), data);
        let _ = classify(req.message);
    }
    if let Ok(resp) = decode_response(data) {
        assert_eq!(encode_response(&resp), data);
    }
    let _ = classify(data);
});
