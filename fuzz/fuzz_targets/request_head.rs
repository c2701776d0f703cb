//! Fuzz `parse_head`: no panic, only the documented statuses, and the incremental contract
//! (a complete head re-parses identically on its own, every proper prefix of it is `Partial`,
//! `Partial` never exceeds `max_head()`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneshot_httpd::http::request::{parse_head, Limits, Parsed};

/// Small limits so the fuzzer reaches every limit and the quadratic prefix check stays cheap.
const SMALL: Limits = Limits {
    request_line: 64,
    field_size: 48,
    fields: 6,
};

fn check(data: &[u8], limits: &Limits, check_prefixes: bool) {
    match parse_head(data, limits) {
        Ok(Parsed::Complete(req, n)) => {
            assert!(n <= data.len() && n <= limits.max_head());
            let alone = parse_head(&data[..n], limits);
            assert_eq!(alone, Ok(Parsed::Complete(req, n)));
            if check_prefixes {
                for split in 0..n {
                    assert_eq!(parse_head(&data[..split], limits), Ok(Parsed::Partial));
                }
            }
        }
        Ok(Parsed::Partial) => assert!(data.len() < limits.max_head()),
        Err(e) => assert!(
            matches!(e.status(), 400 | 414 | 417 | 431 | 501 | 505),
            "{e}"
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    check(data, &SMALL, true);
    check(data, &Limits::default(), false);
});
