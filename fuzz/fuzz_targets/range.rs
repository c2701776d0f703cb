//! Fuzz the `Range` field reader (`http::range::parse_range`): no panic for any value and
//! any size, and a satisfiable range always lies inside the representation (first <= last <
//! size), so a 206 never reads past the file's end. The first 8 bytes are the size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneshot_httpd::http::range::{parse_range, RangeSpec};

fuzz_target!(|data: &[u8]| {
    let Some((size, value)) = data.split_first_chunk::<8>() else {
        return;
    };
    let Ok(value) = std::str::from_utf8(value) else {
        return;
    };
    // Small sizes as often as huge ones: the edges (0, 1, u64::MAX) are where ranges break.
    let size = u64::from_le_bytes(*size) >> (size[7] % 64);
    match parse_range(value, size) {
        RangeSpec::Satisfiable(first, last) => {
            assert!(first <= last && last < size, "{value:?} size {size}: {first}-{last}");
        }
        RangeSpec::Unsatisfiable | RangeSpec::Ignore => {}
    }
});
