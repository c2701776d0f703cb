//! Any bytes at the start of a connection on a PROXY listener: parsing never panics, a complete
//! header never claims more bytes than arrived, and its verdict does not change when more bytes
//! follow it (the reader relies on both).
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneshot_httpd::proxy::header::{parse, Parsed};

fuzz_target!(|data: &[u8]| {
    if let Ok(Parsed::Complete { len, addresses }) = parse(data) {
        assert!(len <= data.len());
        let prefix = &data[..len];
        assert_eq!(parse(prefix), Ok(Parsed::Complete { len, addresses }));
    }
});
