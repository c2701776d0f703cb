//! WebDAV request bodies and the If header: arbitrary bytes must never panic, exceed the
//! nesting limit or loop; every dead-property value and lock owner kept as a fragment must be
//! standalone XML (it parses again inside any element) and stable (re-reading it gives the
//! same fragment), since it is written back verbatim into PROPFIND and LOCK answers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneshot_httpd::dav::{headers, xml};

fn standalone(fragment: &str) {
    let doc = format!("<v xmlns=\"urn:fuzz\">{fragment}</v>");
    let el = xml::parse(doc.as_bytes()).expect("a kept fragment is well-formed on its own");
    assert_eq!(el.inner_fragment(), fragment, "fragment is not stable");
}

fuzz_target!(|data: &[u8]| {
    let _ = xml::propfind(data);
    if let Ok(ops) = xml::proppatch(data) {
        for op in ops {
            if let xml::Patch::Set(_, v) = op {
                standalone(&v);
            }
        }
    }
    if let Ok(Some(info)) = xml::lockinfo(data) {
        if let Some(o) = info.owner {
            standalone(&o);
        }
    }
    if let Some(h) = headers::if_header(data) {
        assert!(!h.lists.is_empty());
        assert!(h.lists.iter().all(|(_, l)| !l.is_empty()));
    }
});
