//! Fuzz the FastCGI record layer: the decoder never panics, never holds more than one record
//! beyond what it was given, gives the same records whole or fed in two pieces, and every
//! STDOUT/STDERR record's content fits the 16-bit length; name-value pairs that decode
//! re-encode to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneshot_httpd::handler::fcgi::record::{self, Decoder, Record};

fn decode(parts: &[&[u8]]) -> (Vec<Record>, bool) {
    let mut d = Decoder::new(1);
    let mut out = Vec::new();
    for p in parts {
        d.push(p);
        loop {
            match d.next_record() {
                Ok(Some(r)) => out.push(r),
                Ok(None) => break,
                Err(_) => return (out, true),
            }
        }
        assert!(d.pending() <= record::MAX_RECORD + p.len());
    }
    (out, false)
}

fuzz_target!(|data: &[u8]| {
    let (whole, whole_err) = decode(&[data]);
    let cut = data.first().map_or(0, |&b| b as usize % (data.len() + 1));
    let (split, split_err) = decode(&[&data[..cut], &data[cut..]]);
    assert_eq!(whole, split);
    assert_eq!(whole_err, split_err);
    for r in &whole {
        if let Record::Stdout(c) | Record::Stderr(c) = r {
            assert!(c.len() <= record::MAX_CONTENT);
        }
    }

    if let Some(pairs) = record::decode_pairs(data) {
        let mut again = Vec::new();
        for (n, v) in &pairs {
            record::pair(&mut again, n, v).unwrap();
        }
        // The 4-byte form may encode a short length; re-encoding uses the short form, so
        // compare by decoding again.
        assert_eq!(record::decode_pairs(&again), Some(pairs));
    }
});
