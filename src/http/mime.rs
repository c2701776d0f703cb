//! Content-Type as Apache 2.4's mod_mime and core choose it (modules/http/mod_mime.c
//! `find_ct`, server/protocol.c `ap_make_content_type`): every extension of the file name
//! after its first dot is looked up in turn, the last one with a type wins (so `a.html.bak`
//! is `text/html`, as in Apache); `AddType` beats `TypesConfig`; an `AddCharset` charset is
//! appended when the type carries none; `ForceType` replaces the whole result; then
//! `AddDefaultCharset` adds its charset to `text/plain` and `text/html` without one. A name
//! with no known extension gets no Content-Type at all (Apache 2.4 has no DefaultType).
//!
//! The `TypesConfig` table (default `/etc/mime.types`) is read by the master at load; a
//! confined child never opens it.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

/// Used only when the default `/etc/mime.types` is missing (with a `-t` warning): the common
/// web types, without charsets (those come from `AddCharset`/`AddDefaultCharset`).
pub const BUILT_IN: &[(&str, &str)] = &[
    ("html", "text/html"),
    ("htm", "text/html"),
    ("txt", "text/plain"),
    ("css", "text/css"),
    ("csv", "text/csv"),
    ("md", "text/markdown"),
    ("js", "text/javascript"),
    ("mjs", "text/javascript"),
    ("json", "application/json"),
    ("xml", "application/xml"),
    ("pdf", "application/pdf"),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("tar", "application/x-tar"),
    ("wasm", "application/wasm"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("svg", "image/svg+xml"),
    ("webp", "image/webp"),
    ("ico", "image/vnd.microsoft.icon"),
    ("avif", "image/avif"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ttf", "font/ttf"),
    ("otf", "font/otf"),
    ("mp3", "audio/mpeg"),
    ("ogg", "audio/ogg"),
    ("wav", "audio/wav"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
];

/// Extension (lower case, no dot) → media type.
pub type Types = BTreeMap<String, String>;

pub fn built_in() -> Types {
    BUILT_IN
        .iter()
        .map(|(e, t)| (e.to_string(), t.to_string()))
        .collect()
}

/// A `mime.types` file as Apache reads it: `TYPE EXT...` per line, `#` starts a comment line,
/// the type is lower-cased, a later line's extension replaces an earlier one's.
pub fn parse_types(text: &str) -> Types {
    let mut out = Types::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.starts_with('#') {
            continue;
        }
        let mut words = line.split_ascii_whitespace();
        let Some(ty) = words.next() else { continue };
        for ext in words {
            out.insert(ext.to_ascii_lowercase(), ty.to_ascii_lowercase());
        }
    }
    out
}

/// `AddDefaultCharset`: Off (the default) or a charset.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DefaultCharset {
    Off,
    On(String),
}

/// The settings that decide one file's type: the server's table and the merged scope's rows.
pub struct Settings<'a> {
    pub types: &'a Types,
    /// `AddType` (extension, type), in merge order: the last row for an extension wins.
    pub add_types: &'a [(String, String)],
    /// `AddCharset` (extension, charset), in merge order.
    pub charsets: &'a [(String, String)],
    /// `ForceType`; `None` (the word) is stored as an empty string and forces nothing.
    pub force: Option<&'a str>,
    pub default_charset: Option<&'a DefaultCharset>,
}

fn last<'a>(rows: &'a [(String, String)], ext: &str) -> Option<&'a str> {
    rows.iter()
        .rev()
        .find(|(e, _)| e == ext)
        .map(|(_, v)| v.as_str())
}

fn has_charset(ty: &str) -> bool {
    ty.to_ascii_lowercase().contains("charset=")
}

/// `AddDefaultCharset CHARSET` on a type the server did not choose (a CGI program's or a
/// FastCGI application's Content-Type), as core's ap_make_content_type: only a text/plain or
/// text/html type without a charset gets `; charset=CHARSET`. None: leave it as it is.
pub fn default_charset_for(ty: &str, charset: &str) -> Option<String> {
    let lower = ty.to_ascii_lowercase();
    ((lower.contains("text/plain") || lower.contains("text/html")) && !has_charset(ty))
        .then(|| format!("{ty}; charset={charset}"))
}

/// The Content-Type for `file_name`, or `None`: Apache 2.4 then sends no Content-Type.
pub fn content_type(file_name: &str, s: &Settings) -> Option<String> {
    let mut ty: Option<String> = None;
    let mut charset: Option<&str> = None;
    // Apache skips the first word (the base name, even when empty: `.html` is text/html).
    for ext in file_name.split('.').skip(1).filter(|e| !e.is_empty()) {
        let ext = ext.to_ascii_lowercase();
        if let Some(t) = last(s.add_types, &ext).or_else(|| s.types.get(&ext).map(String::as_str)) {
            ty = Some(t.to_string());
        }
        if let Some(c) = last(s.charsets, &ext) {
            charset = Some(c);
        }
    }
    if let (Some(t), Some(c)) = (&mut ty, charset) {
        if !has_charset(t) {
            t.push_str("; charset=");
            t.push_str(c);
        }
    }
    if let Some(f) = s.force.filter(|f| !f.is_empty()) {
        ty = Some(f.to_string());
    }
    if let (Some(t), Some(DefaultCharset::On(c))) = (&mut ty, s.default_charset) {
        let lower = t.to_ascii_lowercase();
        if (lower.contains("text/plain") || lower.contains("text/html")) && !has_charset(t) {
            t.push_str("; charset=");
            t.push_str(c);
        }
    }
    ty
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(r: &[(&str, &str)]) -> Vec<(String, String)> {
        r.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn mime_types_file() {
        let t = parse_types(
            "# comment html\n\ntext/html html htm\nText/Plain TXT\n  # indented comment\nimage/x y\napplication/x-y y\n",
        );
        assert_eq!(t.get("html").map(String::as_str), Some("text/html"));
        assert_eq!(t.get("htm").map(String::as_str), Some("text/html"));
        assert_eq!(t.get("txt").map(String::as_str), Some("text/plain"));
        assert_eq!(t.get("y").map(String::as_str), Some("application/x-y"));
        assert_eq!(t.get("comment"), None);
        assert_eq!(t.len(), 4);
    }

    /// Hand-written from mod_mime's documentation ("Files with Multiple Extensions",
    /// AddType, AddCharset, ForceType) and core's AddDefaultCharset.
    #[test]
    fn table() {
        let types = built_in();
        let add = rows(&[
            ("foo", "text/x-foo"),
            ("html", "text/x-first"),
            ("html", "text/x-mine"),
        ]);
        let cs = rows(&[("ja", "ISO-2022-JP"), ("txt", "UTF-8")]);
        let on = DefaultCharset::On("ISO-8859-1".into());
        let off = DefaultCharset::Off;
        let plain = Settings {
            types: &types,
            add_types: &[],
            charsets: &[],
            force: None,
            default_charset: None,
        };
        let mine = Settings {
            types: &types,
            add_types: &add,
            charsets: &cs,
            force: None,
            default_charset: Some(&off),
        };
        let dflt = Settings {
            types: &types,
            add_types: &[],
            charsets: &[],
            force: None,
            default_charset: Some(&on),
        };
        let forced = Settings {
            types: &types,
            add_types: &add,
            charsets: &cs,
            force: Some("image/gif"),
            default_charset: Some(&on),
        };
        let force_none = Settings {
            types: &types,
            add_types: &[],
            charsets: &[],
            force: Some(""),
            default_charset: None,
        };
        let cases: &[(&Settings, &str, Option<&str>)] = &[
            (&plain, "index.html", Some("text/html")),
            (&plain, "A.PNG", Some("image/png")),
            (&plain, "x.tar.gz", Some("application/gzip")),
            // The last extension with a type wins; unknown ones are skipped.
            (&plain, "index.html.bak", Some("text/html")),
            (&plain, "a.gz.unknown", Some("application/gzip")),
            (&plain, "noext", None),
            (&plain, "x.unknown", None),
            // The base name is skipped even when empty.
            (&plain, ".html", Some("text/html")),
            (&plain, "a..html", Some("text/html")),
            (&plain, "html", None),
            // AddType beats TypesConfig, the last AddType for an extension wins.
            (&mine, "a.html", Some("text/x-mine")),
            (&mine, "a.foo", Some("text/x-foo")),
            (&mine, "a.FOO", Some("text/x-foo")),
            // AddCharset appends to the type from any extension.
            (&mine, "a.txt", Some("text/plain; charset=UTF-8")),
            (&mine, "a.html.ja", Some("text/x-mine; charset=ISO-2022-JP")),
            (&mine, "a.ja.html", Some("text/x-mine; charset=ISO-2022-JP")),
            (&mine, "a.ja", None),
            // AddDefaultCharset: text/plain and text/html only.
            (&dflt, "a.html", Some("text/html; charset=ISO-8859-1")),
            (&dflt, "a.txt", Some("text/plain; charset=ISO-8859-1")),
            (&dflt, "a.css", Some("text/css")),
            (&dflt, "a.png", Some("image/png")),
            (&dflt, "noext", None),
            // ForceType replaces the whole type, even without an extension.
            (&forced, "a.txt", Some("image/gif")),
            (&forced, "noext", Some("image/gif")),
            (&force_none, "a.txt", Some("text/plain")),
        ];
        for (s, name, want) in cases {
            assert_eq!(content_type(name, s).as_deref(), *want, "{name}");
        }
        let forced_text = Settings {
            force: Some("text/plain"),
            ..dflt
        };
        assert_eq!(
            content_type("a.png", &forced_text).as_deref(),
            Some("text/plain; charset=ISO-8859-1")
        );
        let own = Settings {
            force: Some("text/html; charset=koi8-r"),
            ..forced_text
        };
        assert_eq!(
            content_type("a.png", &own).as_deref(),
            Some("text/html; charset=koi8-r")
        );
    }
}
