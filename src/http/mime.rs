//! Content-Type by file extension. A table in the code, so a confined child needs no
//! access to /etc/mime.types and the answer never depends on the machine.
#![forbid(unsafe_code)]

const TABLE: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("txt", "text/plain; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("csv", "text/csv; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
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

/// Unknown extensions are served as opaque bytes, as Apache does without a DefaultType.
pub const DEFAULT: &str = "application/octet-stream";

pub fn content_type(file_name: &str) -> &'static str {
    let Some((_, ext)) = file_name.rsplit_once('.') else {
        return DEFAULT;
    };
    TABLE
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
        .map(|(_, t)| *t)
        .unwrap_or(DEFAULT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        for (name, want) in [
            ("index.html", "text/html; charset=utf-8"),
            ("A.PNG", "image/png"),
            ("x.tar.gz", "application/gzip"),
            ("noext", DEFAULT),
            (".hidden", DEFAULT),
            ("x.unknown", DEFAULT),
        ] {
            assert_eq!(content_type(name), want, "{name}");
        }
    }
}
