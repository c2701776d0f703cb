//! Fuzz the response directives' pure parsers: mod_expires codes (`config::cache::parse_code`),
//! `FileETag` (`parse_file_etag` and core's merge), `ErrorDocument`'s heuristic
//! (`config::errordoc::parse`), mod_deflate's reading of Accept-Encoding and its ETag suffix.
//! None may panic; a short-form code reads its own number; an effective FileETag never holds
//! the None bit; a local document starts with `/`; a URL document is never for 401; a client
//! that is said to accept gzip named it. Input: `CODE\nACCEPT-ENCODING\nFILEETAG ARGS\nDOC`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneshot_httpd::config::cache::{self, FileETag};
use oneshot_httpd::config::{deflate, errordoc};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(4, '\n');
    let (code, ae, etag, doc) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    if let Ok(c) = cache::parse_code(code) {
        if let Some(n) = code.strip_prefix('A').and_then(|n| n.parse::<u64>().ok()) {
            assert_eq!((c.modification, c.seconds), (false, n), "{code:?}");
        }
    }
    if deflate::accepts_gzip(Some(ae.as_bytes())) {
        assert!(ae.to_ascii_lowercase().contains("gzip"), "{ae:?}");
    }
    let args: Vec<String> = etag.split_ascii_whitespace().map(String::from).collect();
    if let Ok(e) = cache::parse_file_etag(&args) {
        for base in [None, Some(FileETag::default()), Some(e)] {
            let merged = FileETag::merge(base, Some(e));
            assert_eq!(FileETag::effective(merged) & cache::ETAG_NONE, 0, "{etag:?}");
        }
    }
    let words: Vec<String> = doc.splitn(2, ' ').map(String::from).collect();
    if let Ok((status, Some(d), _)) = errordoc::parse(&words) {
        match d {
            errordoc::ErrorDocument::Local(p) => assert!(p.starts_with('/'), "{doc:?}"),
            errordoc::ErrorDocument::Url(_) => assert_ne!(status, 401),
            _ => {}
        }
    }
    let tagged = deflate::etag_suffix(ae);
    if ae.len() > 2 && ae.ends_with('"') {
        assert!(tagged.ends_with("-gzip\""), "{ae:?}");
    }
});
