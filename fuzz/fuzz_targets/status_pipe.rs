//! Feeds arbitrary bytes, cut at arbitrary points, to the master's status-pipe decoder (what
//! children write is a claim, not a fact). It must never panic, must decode the same messages
//! however the bytes were split across reads, and everything it returns must encode back to a
//! message that decodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneshot_httpd::handoff::status::{Decoder, Message};

fuzz_target!(|data: &[u8]| {
    // The first byte chooses the size of the reads, the rest is what was on the pipe.
    let Some((&cut, bytes)) = data.split_first() else {
        return;
    };
    let whole = Decoder::default().feed(bytes);
    let mut pieces = Decoder::default();
    let mut split = Vec::new();
    for piece in bytes.chunks(usize::from(cut).max(1)) {
        split.extend(pieces.feed(piece));
    }
    assert_eq!(whole, split, "decoding depends on how reads were split");
    for m in whole {
        assert_eq!(Message::decode(&m.encode()), Some(m));
    }
});
