//! Fuzz `ChunkedDecoder`: no panic, the body limit holds, consumption never exceeds the input,
//! and the verdict and output do not depend on how the input is split into reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneshot_httpd::http::chunked::{ChunkError, ChunkedDecoder};

type Outcome = (Vec<u8>, Result<(usize, bool), ChunkError>);

fn feed(max_body: u64, pieces: &[&[u8]]) -> Outcome {
    let mut dec = ChunkedDecoder::new(max_body);
    let mut out = Vec::new();
    let mut consumed = 0;
    for piece in pieces {
        match dec.decode(piece, &mut out) {
            Ok((n, true)) => return (out, Ok((consumed + n, true))),
            Ok((n, false)) => {
                assert_eq!(n, piece.len(), "an unfinished decoder consumes everything");
                consumed += n;
            }
            Err(e) => return (out, Err(e)),
        }
    }
    (out, Ok((consumed, false)))
}

/// Output only matters when the body was accepted (on error the caller drops it).
fn verdict((out, r): Outcome) -> (Option<Vec<u8>>, Result<(usize, bool), u16>) {
    match r {
        Ok(v) => (Some(out), Ok(v)),
        Err(e) => (None, Err(e.status())),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&[limit, split], input)) = data.split_first_chunk::<2>() else {
        return;
    };
    let max_body = u64::from(limit) * 4;
    let whole = feed(max_body, &[input]);
    if let Ok((n, _)) = whole.1 {
        assert!(n <= input.len());
    }
    if max_body != 0 {
        assert!(whole.0.len() as u64 <= max_body);
    }
    let whole = verdict(whole);
    let at = usize::from(split) * input.len() / 255;
    let (a, b) = input.split_at(at);
    assert_eq!(verdict(feed(max_body, &[a, b])), whole, "split at {at}");
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(verdict(feed(max_body, &bytes)), whole, "byte by byte");
});
