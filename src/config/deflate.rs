//! mod_deflate's output filter: `AddOutputFilterByType DEFLATE TYPE...` (mod_filter),
//! `SetOutputFilter DEFLATE` (core), `AddOutputFilter DEFLATE EXT...` (mod_mime) and
//! `DeflateCompressionLevel`, and the decision Apache's `deflate_out_filter` makes for one
//! response. Pure; the compression itself is flate2's ([`gzip`]).
//!
//! The decision, in Apache's order: a response of at most 68 bytes (gzip's header and trailer
//! plus 50) is left alone; so are a 204, a response with Content-Range and one that already
//! has a Content-Encoding other than identity. Every other response the filter applies to is
//! *considered*: it gets `Vary: Accept-Encoding`, and is compressed when the request's
//! Accept-Encoding names `gzip` without `q=0`; then it carries `Content-Encoding: gzip` and its
//! ETag gets `-gzip` before the closing quote (DeflateAlterETag's default, AddSuffix).
//! Unlike Apache, a `Range` request is answered from the uncompressed file (Apache cuts the
//! range out of the compressed bytes); see docs/directives.md.
#![forbid(unsafe_code)]

use super::build::Builder;
use super::model::DirConf;
use super::parse::Node;
use std::io::Write;

/// The filter names in a `SetOutputFilter`/`AddOutputFilter*` argument: `DEFLATE`, or a
/// `;`-separated chain of which only DEFLATE is implemented.
fn only_deflate(b: &mut Builder, n: &Node, filters: &str) -> bool {
    for f in filters.split(';').filter(|f| !f.is_empty()) {
        if !f.eq_ignore_ascii_case("DEFLATE") {
            b.error(
                n,
                format!(
                    "{}: the output filter '{f}' is not implemented (only DEFLATE is)",
                    n.name
                ),
            );
            return false;
        }
    }
    if filters.split(';').all(str::is_empty) {
        b.error(n, format!("{}: no filter named", n.name));
        return false;
    }
    true
}

/// `AddOutputFilterByType DEFLATE TYPE...`: types accumulate down the sections.
pub fn add_output_filter_by_type(b: &mut Builder, n: &Node, d: &mut DirConf) {
    let [filters, types @ ..] = n.args.as_slice() else {
        return;
    };
    if !only_deflate(b, n, filters) {
        return;
    }
    for t in types {
        if !t.contains('/') {
            return b.error(
                n,
                format!("AddOutputFilterByType: '{t}' is not a media type (type/subtype)"),
            );
        }
    }
    d.deflate_types.extend(types.iter().cloned());
}

/// `SetOutputFilter DEFLATE`: every response of the scope.
pub fn set_output_filter(b: &mut Builder, n: &Node, d: &mut DirConf) {
    let Some(filters) = n.args.first() else {
        return;
    };
    if only_deflate(b, n, filters) {
        d.deflate_all = Some(true);
    }
}

/// `AddOutputFilter DEFLATE EXT...`: files with one of these extensions, as mod_mime.
pub fn add_output_filter(b: &mut Builder, n: &Node, d: &mut DirConf) {
    let [filters, exts @ ..] = n.args.as_slice() else {
        return;
    };
    if !only_deflate(b, n, filters) {
        return;
    }
    for w in exts {
        let e = w.strip_prefix('.').unwrap_or(w).to_ascii_lowercase();
        if e.is_empty() || e.contains('/') || e.contains('.') {
            return b.error(
                n,
                format!("AddOutputFilter: '{w}' is not a file name extension"),
            );
        }
        d.deflate_extensions.push(e);
    }
}

/// `DeflateCompressionLevel 1-9` (default: zlib's, 6).
pub fn compression_level(b: &mut Builder, n: &Node, d: &mut DirConf) {
    match n.args.first().and_then(|a| a.parse::<u32>().ok()) {
        Some(l @ 1..=9) => d.deflate_level = Some(l),
        _ => b.error(
            n,
            "DeflateCompressionLevel: Compression Level should be between 1 and 9",
        ),
    }
}

/// gzip's header and trailer (10 + 8) plus the 50 bytes Apache allows for the fields it adds.
pub const TINY: u64 = 10 + 8 + 50;

/// What the filter does with one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The filter does not apply, or leaves the response alone (no Vary).
    Skip,
    /// Considered, not compressed: `Vary: Accept-Encoding` only.
    Vary,
    /// Compressed.
    Gzip,
}

/// The response as the filter sees it.
pub struct Seen<'a> {
    pub status: u16,
    pub content_type: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
    pub content_range: bool,
    /// The served file's name (for `AddOutputFilter` extensions).
    pub file_name: Option<&'a str>,
    pub body_len: u64,
    pub accept_encoding: Option<&'a [u8]>,
}

/// Whether a DEFLATE filter is set for this response in the merged scope `d`.
pub fn applies(d: &DirConf, content_type: Option<&str>, file_name: Option<&str>) -> bool {
    if d.deflate_all == Some(true) {
        return true;
    }
    // mod_filter: the type up to `;`, space or tab, compared exactly.
    let ty = content_type.map(|t| t.split([';', ' ', '\t']).next().unwrap_or_default());
    if ty.is_some_and(|t| d.deflate_types.iter().any(|w| w == t)) {
        return true;
    }
    // mod_mime: every extension of the name (the first word is the base name).
    file_name.is_some_and(|name| {
        name.split('.').skip(1).any(|e| {
            let e = e.to_ascii_lowercase();
            d.deflate_extensions.contains(&e)
        })
    })
}

/// Apache's `deflate_out_filter` decision.
pub fn decide(d: &DirConf, r: &Seen) -> Decision {
    if !applies(d, r.content_type, r.file_name)
        || r.body_len <= TINY
        || r.status == 204
        || r.content_range
    {
        return Decision::Skip;
    }
    if let Some(enc) = r.content_encoding {
        let identity = enc
            .split(',')
            .map(str::trim)
            .all(|t| t.is_empty() || ["identity", "7bit", "8bit", "binary"].contains(&t));
        if !identity {
            return Decision::Skip;
        }
    }
    if accepts_gzip(r.accept_encoding) {
        Decision::Gzip
    } else {
        Decision::Vary
    }
}

/// Apache's reading of Accept-Encoding: the first `gzip` element (case-insensitive), refused
/// only by a first parameter that is a prefix of `q=0.000` of at least 3 characters.
pub fn accepts_gzip(accept_encoding: Option<&[u8]>) -> bool {
    let Some(value) = accept_encoding.and_then(|v| std::str::from_utf8(v).ok()) else {
        return false;
    };
    for element in value.split(',') {
        let mut parts = element.split(';');
        let token = parts.next().unwrap_or_default().trim();
        if token.eq_ignore_ascii_case("gzip") {
            return match parts.next().map(str::trim) {
                Some(q) => !(q.len() >= 3 && "q=0.000".starts_with(q)),
                None => true,
            };
        }
    }
    false
}

/// An ETag with `-gzip` before its closing quote (mod_deflate's AddSuffix).
pub fn etag_suffix(etag: &str) -> String {
    match etag.strip_suffix('"') {
        Some(open) if etag.len() > 2 => format!("{open}-gzip\""),
        _ => etag.to_string(),
    }
}

/// gzip of `body` at `level` (1-9; None: 6, zlib's default).
pub fn gzip(body: &[u8], level: Option<u32>) -> std::io::Result<Vec<u8>> {
    let level = flate2::Compression::new(level.unwrap_or(6));
    let mut e = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 3 + 64), level);
    e.write_all(body)?;
    e.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-written from mod_deflate.c's deflate_out_filter (2.4).
    #[test]
    fn decisions() {
        let by_type = DirConf {
            deflate_types: vec!["text/html".into(), "text/plain".into()],
            deflate_extensions: vec!["js".into()],
            ..Default::default()
        };
        let base = Seen {
            status: 200,
            content_type: Some("text/html; charset=utf-8"),
            content_encoding: None,
            content_range: false,
            file_name: Some("a.html"),
            body_len: 1000,
            accept_encoding: Some(b"gzip, deflate"),
        };
        use Decision::*;
        let cases: Vec<(Seen, Decision)> = vec![
            (Seen { ..base }, Gzip),
            (
                Seen {
                    body_len: 68,
                    ..base
                },
                Skip,
            ),
            (
                Seen {
                    body_len: 69,
                    ..base
                },
                Gzip,
            ),
            (
                Seen {
                    status: 204,
                    ..base
                },
                Skip,
            ),
            (
                Seen {
                    content_range: true,
                    ..base
                },
                Skip,
            ),
            (
                Seen {
                    content_encoding: Some("br"),
                    ..base
                },
                Skip,
            ),
            (
                Seen {
                    content_encoding: Some("identity"),
                    ..base
                },
                Gzip,
            ),
            (
                Seen {
                    accept_encoding: None,
                    ..base
                },
                Vary,
            ),
            (
                Seen {
                    accept_encoding: Some(b"br"),
                    ..base
                },
                Vary,
            ),
            (
                Seen {
                    accept_encoding: Some(b"gzip;q=0"),
                    ..base
                },
                Vary,
            ),
            (
                Seen {
                    accept_encoding: Some(b"br, GZIP; q=0.0"),
                    ..base
                },
                Vary,
            ),
            (
                Seen {
                    accept_encoding: Some(b"gzip;q=0.5"),
                    ..base
                },
                Gzip,
            ),
            (
                Seen {
                    accept_encoding: Some(b"x-gzip"),
                    ..base
                },
                Vary,
            ),
            (
                Seen {
                    content_type: Some("image/png"),
                    file_name: Some("a.png"),
                    ..base
                },
                Skip,
            ),
            (
                Seen {
                    content_type: Some("text/javascript"),
                    file_name: Some("app.min.js"),
                    ..base
                },
                Gzip,
            ),
            (
                Seen {
                    content_type: None,
                    file_name: None,
                    ..base
                },
                Skip,
            ),
            (
                Seen {
                    status: 304,
                    body_len: 0,
                    ..base
                },
                Skip,
            ),
        ];
        for (seen, want) in cases {
            assert_eq!(
                decide(&by_type, &seen),
                want,
                "{:?} {:?} {:?} {}",
                seen.content_type,
                seen.accept_encoding.map(String::from_utf8_lossy),
                seen.content_encoding,
                seen.body_len
            );
        }
        let all = DirConf {
            deflate_all: Some(true),
            ..Default::default()
        };
        assert_eq!(
            decide(
                &all,
                &Seen {
                    content_type: Some("image/png"),
                    ..base
                }
            ),
            Gzip
        );
    }

    #[test]
    fn etags_and_round_trip() {
        assert_eq!(etag_suffix("\"5-abc\""), "\"5-abc-gzip\"");
        assert_eq!(etag_suffix("W/\"5-abc\""), "W/\"5-abc-gzip\"");
        assert_eq!(etag_suffix("\"\""), "\"\"");
        let body = b"<p>hello</p>".repeat(100);
        let z = gzip(&body, Some(9)).unwrap();
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&z[..]), &mut out).unwrap();
        assert_eq!(out, body);
        assert!(z.len() < body.len() / 10);
    }
}
