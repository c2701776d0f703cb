//! Fuzz the mod_mime reader and lookup (`http::mime`): any `mime.types` text parses without
//! panic, every key is a non-empty lower-case word (no ASCII whitespace) and every value
//! lower-case; the lookup of any file name against it never panics, and without AddCharset
//! its answer is one of the table's types. Input: `NAME\nMIME.TYPES TEXT`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneshot_httpd::http::mime::{content_type, parse_types, DefaultCharset, Settings};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (name, table) = text.split_once('\n').unwrap_or((text, ""));
    let types = parse_types(table);
    for (k, v) in &types {
        assert!(!k.is_empty() && !k.bytes().any(|b| b.is_ascii_whitespace()), "{k:?}");
        assert_eq!(k, &k.to_ascii_lowercase());
        assert_eq!(v, &v.to_ascii_lowercase());
    }
    let plain = Settings {
        types: &types,
        add_types: &[],
        charsets: &[],
        force: None,
        default_charset: None,
    };
    if let Some(t) = content_type(name, &plain) {
        assert!(types.values().any(|v| *v == t), "{name:?}: {t:?}");
    }
    let cs = vec![("x".to_string(), "utf-8".to_string())];
    let on = DefaultCharset::On("iso-8859-1".into());
    let more = Settings {
        charsets: &cs,
        default_charset: Some(&on),
        ..plain
    };
    let _ = content_type(name, &more);
});
