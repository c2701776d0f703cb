//! Fuzz path canonicalisation (`child::route::route`): no panic, and every accepted path is
//! clean, as the stage promises before any filesystem call: no segment empty, `.`, `..`, or
//! holding `/`, NUL or another control byte; and canonicalising is idempotent: the clean
//! segments, percent-encoded and joined again, route to themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneshot_httpd::http::route::{encode_path, route};

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(r) = route(path) else {
        return;
    };
    for seg in &r.segments {
        assert!(!seg.is_empty() && seg != "." && seg != "..", "{path:?} gave {seg:?}");
        assert!(
            !seg.bytes().any(|b| b == b'/' || b < 0x20 || b == 0x7f),
            "{path:?} gave {seg:?}"
        );
    }
    let again = format!("/{}", encode_path(&r.segments.join("/")));
    let r2 = route(&again).unwrap_or_else(|e| panic!("{path:?} -> {again:?}: {e}"));
    assert_eq!(r2.segments, r.segments, "{path:?} -> {again:?}");
});
