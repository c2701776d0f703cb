//! Apache's output filters on a program's answer (CGI or FastCGI), in Apache's order:
//! mod_expires (`AP_FTYPE_CONTENT_SET - 2`), then the `Header` rules (mod_headers' fixup,
//! `CONTENT_SET`, applied by [`super::output`]), then mod_deflate (`CONTENT_SET + 1`). What
//! to do is decided by the pure rules of `config::cache` and `config::deflate`, as for a
//! static file (`child::filters`); what differs is that the body streams: it is compressed as
//! it arrives ([`Gz`], a sync flush after each piece the backend gave, as mod_deflate flushes
//! on the FLUSH bucket mod_cgi sends when the program pauses), so its compressed length is
//! known only when the whole output was held ([`super::output::HOLD_MAX`]).
#![forbid(unsafe_code)]

use super::header::CgiHead;
use crate::config::cache;
use crate::config::deflate::{self, Decision};
use crate::config::DirConf;
use std::io::Write;
use std::time::SystemTime;

/// What the filters need to know about the request and the program.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filters {
    /// The request's merged scope (ExpiresActive/ByType/Default, the DEFLATE settings).
    pub(crate) conf: DirConf,
    pub(crate) accept_encoding: Option<Vec<u8>>,
    /// The program's file name (for `AddOutputFilter DEFLATE EXT`, by mod_mime's reading of
    /// the script's own name), None for a ProxyPass target.
    pub(crate) file_name: Option<String>,
    /// The program's modification time (Apache's `r->finfo` for a script), for `M` codes;
    /// None when there is no file (a ProxyPass target): then an `M` code sets nothing.
    pub(crate) mtime: Option<SystemTime>,
}

fn get<'a>(h: &'a CgiHead, name: &str) -> Option<&'a str> {
    (h.headers.iter())
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
}

/// apr_table_mergen: `, VALUE` appended to the first field of that name, or a new field.
fn merge(h: &mut CgiHead, name: &str, value: &str) {
    match (h.headers.iter_mut()).find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        Some((_, v)) => {
            v.extend_from_slice(b", ");
            v.extend_from_slice(value.as_bytes());
        }
        None => h
            .headers
            .push((name.to_string(), value.as_bytes().to_vec())),
    }
}

/// apr_table_setn: the first field of that name takes the value, the others go.
fn set(h: &mut CgiHead, name: &str, value: &str) {
    let mut seen = false;
    h.headers.retain_mut(|(n, v)| {
        if !n.eq_ignore_ascii_case(name) {
            return true;
        }
        let first = !seen;
        seen = true;
        *v = value.as_bytes().to_vec();
        first
    });
    if !seen {
        h.headers
            .push((name.to_string(), value.as_bytes().to_vec()));
    }
}

impl Filters {
    /// mod_expires' filter: a head without `Expires` gets `Expires` and `Cache-Control:
    /// max-age` from the code for its Content-Type. Not on an error status (4xx, 5xx) the
    /// program printed: apache2 sends neither filter's fields on such an answer
    /// (tests/stream_filters.rs).
    pub(crate) fn expires(&self, h: &mut CgiHead, now: SystemTime) {
        if h.status >= 400 || get(h, "Expires").is_some() {
            return;
        }
        let Some(code) = cache::expiry_for(&self.conf, get(h, "Content-Type")) else {
            return;
        };
        let mtime = match (self.mtime, code.modification) {
            (_, false) => now,
            (Some(m), true) => m,
            (None, true) => return,
        };
        let (age, at) = cache::expiration(code, now, mtime);
        merge(h, "Cache-Control", &format!("max-age={age}"));
        set(h, "Expires", &crate::http::date::http_date(at));
    }

    /// mod_deflate's decision for this head; `body_len`: the body's length when known.
    pub(crate) fn decide(&self, h: &CgiHead, body_len: Option<u64>) -> Decision {
        let seen = deflate::Seen {
            status: h.status,
            content_type: get(h, "Content-Type"),
            content_encoding: get(h, "Content-Encoding"),
            content_range: get(h, "Content-Range").is_some(),
            file_name: self.file_name.as_deref(),
            body_len: body_len.unwrap_or(u64::MAX),
            accept_encoding: self.accept_encoding.as_deref(),
        };
        // Only a 2xx: apache2 leaves a program's 3xx, 4xx and 5xx answers alone (no Vary,
        // no gzip; tests/stream_filters.rs), and a 304 has no body (as a static file's 304).
        if !(200..300).contains(&h.status) {
            return Decision::Skip;
        }
        deflate::decide(&self.conf, &seen)
    }

    /// The head's fields for `decision`: `Vary: Accept-Encoding` when considered; when
    /// compressed also `Content-Encoding: gzip`, no Content-Length or Content-MD5 (they
    /// describe the plain body), and the ETag with `-gzip`.
    pub(crate) fn shape(decision: Decision, h: &mut CgiHead) {
        if decision == Decision::Skip {
            return;
        }
        merge(h, "Vary", "Accept-Encoding");
        if decision == Decision::Vary {
            return;
        }
        match get(h, "Content-Encoding") {
            Some(e) if !e.eq_ignore_ascii_case("identity") => merge(h, "Content-Encoding", "gzip"),
            _ => set(h, "Content-Encoding", "gzip"),
        }
        h.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("content-md5"));
        h.content_length = None;
        if let Some(tag) = get(h, "ETag").map(deflate::etag_suffix) {
            set(h, "ETag", &tag);
        }
    }

    /// A streaming compressor at the scope's `DeflateCompressionLevel`; `declared`: the
    /// program's own Content-Length, still checked against its plain output.
    pub(crate) fn gz(&self, declared: Option<u64>) -> Gz {
        Gz {
            enc: flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::new(self.conf.deflate_level.unwrap_or(6)),
            ),
            declared_left: declared,
        }
    }

    /// The whole body compressed at the scope's level.
    pub(crate) fn gzip(&self, body: &[u8]) -> std::io::Result<Vec<u8>> {
        deflate::gzip(body, self.conf.deflate_level)
    }
}

/// A body being compressed as it streams.
pub(crate) struct Gz {
    enc: flate2::write::GzEncoder<Vec<u8>>,
    /// Plain bytes the program's Content-Length still announces.
    pub(crate) declared_left: Option<u64>,
}

impl Gz {
    /// Compresses `data` and flushes (Z_SYNC_FLUSH): the compressed bytes to send now.
    pub(crate) fn push(&mut self, data: &[u8]) -> std::io::Result<Vec<u8>> {
        self.enc.write_all(data)?;
        self.enc.flush()?;
        Ok(std::mem::take(self.enc.get_mut()))
    }

    /// The rest of the stream and gzip's trailer.
    pub(crate) fn finish(self) -> std::io::Result<Vec<u8>> {
        self.enc.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::time::Duration;

    fn head(status: u16, fields: &[(&str, &str)]) -> CgiHead {
        CgiHead {
            status,
            headers: (fields.iter())
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect(),
            content_length: Some(1000),
            local_redirect: None,
        }
    }

    fn filters() -> Filters {
        Filters {
            conf: DirConf {
                deflate_types: vec!["text/html".into()],
                expires_active: Some(true),
                expires_by_type: vec![(
                    "text/html".into(),
                    cache::parse_code("access plus 1 hour").unwrap(),
                )],
                expires_default: Some(cache::parse_code("M60").unwrap()),
                ..Default::default()
            },
            accept_encoding: Some(b"gzip".to_vec()),
            file_name: Some("page.cgi".into()),
            mtime: None,
        }
    }

    fn field(h: &CgiHead, name: &str) -> Option<String> {
        get(h, name).map(str::to_string)
    }

    /// mod_expires (manual): by type, the program's own Expires kept, an M code needs a file.
    #[test]
    fn expires_as_mod_expires() {
        let f = filters();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let mut h = head(500, &[("Content-Type", "text/html")]);
        f.expires(&mut h, now);
        assert_eq!(field(&h, "Expires"), None);
        let mut h = head(200, &[("Content-Type", "text/html; charset=utf-8")]);
        f.expires(&mut h, now);
        assert_eq!(field(&h, "Cache-Control").as_deref(), Some("max-age=3600"));
        assert_eq!(
            field(&h, "Expires").as_deref(),
            Some("Sun, 09 Sep 2001 02:46:40 GMT")
        );
        let mut h = head(
            200,
            &[
                ("Content-Type", "text/html"),
                ("Expires", "0"),
                ("Cache-Control", "no-store"),
            ],
        );
        f.expires(&mut h, now);
        assert_eq!(field(&h, "Expires").as_deref(), Some("0"));
        assert_eq!(field(&h, "Cache-Control").as_deref(), Some("no-store"));
        // The default is an M code: nothing without the program's file, from its mtime with.
        let mut h = head(200, &[("Content-Type", "image/png")]);
        f.expires(&mut h, now);
        assert_eq!(field(&h, "Expires"), None);
        let f = Filters {
            mtime: Some(now - Duration::from_secs(30)),
            ..filters()
        };
        f.expires(&mut h, now);
        assert_eq!(field(&h, "Cache-Control").as_deref(), Some("max-age=30"));
        let mut h = head(
            200,
            &[("Content-Type", "text/html"), ("Cache-Control", "public")],
        );
        f.expires(&mut h, now);
        assert_eq!(
            field(&h, "Cache-Control").as_deref(),
            Some("public, max-age=3600")
        );
    }

    /// mod_deflate on a program's head: considered gets Vary, compressed loses its length.
    #[test]
    fn deflate_decisions_and_fields() {
        let f = filters();
        let html = [("Content-Type", "text/html"), ("ETag", "\"x\"")];
        let mut h = head(200, &html);
        assert_eq!(f.decide(&h, Some(1000)), Decision::Gzip);
        assert_eq!(f.decide(&h, None), Decision::Gzip);
        assert_eq!(f.decide(&h, Some(20)), Decision::Skip);
        assert_eq!(f.decide(&head(304, &html), None), Decision::Skip);
        assert_eq!(f.decide(&head(204, &html), None), Decision::Skip);
        assert_eq!(f.decide(&head(404, &html), None), Decision::Skip);
        assert_eq!(f.decide(&head(302, &html), None), Decision::Skip);
        let ranged = head(
            206,
            &[
                ("Content-Type", "text/html"),
                ("Content-Range", "bytes 0-9/99"),
            ],
        );
        assert_eq!(f.decide(&ranged, None), Decision::Skip);
        let encoded = head(
            200,
            &[("Content-Type", "text/html"), ("Content-Encoding", "br")],
        );
        assert_eq!(f.decide(&encoded, None), Decision::Skip);
        let png = head(200, &[("Content-Type", "image/png")]);
        assert_eq!(f.decide(&png, None), Decision::Skip);
        let plain = Filters {
            accept_encoding: None,
            ..filters()
        };
        assert_eq!(plain.decide(&h, None), Decision::Vary);
        Filters::shape(Decision::Gzip, &mut h);
        assert_eq!(field(&h, "Vary").as_deref(), Some("Accept-Encoding"));
        assert_eq!(field(&h, "Content-Encoding").as_deref(), Some("gzip"));
        assert_eq!(field(&h, "ETag").as_deref(), Some("\"x-gzip\""));
        assert_eq!(h.content_length, None);
        let mut h = head(200, &[("Content-Type", "text/html"), ("Vary", "Cookie")]);
        Filters::shape(Decision::Vary, &mut h);
        assert_eq!(
            field(&h, "Vary").as_deref(),
            Some("Cookie, Accept-Encoding")
        );
        assert_eq!(h.content_length, Some(1000));
    }

    #[test]
    fn streamed_gzip_decodes_to_the_input() {
        let f = filters();
        let mut gz = f.gz(None);
        let mut z = Vec::new();
        let pieces: Vec<Vec<u8>> = (0..50)
            .map(|i| format!("<p>piece {i}</p>\n").repeat(i % 7 + 1).into_bytes())
            .collect();
        for p in &pieces {
            let out = gz.push(p).unwrap();
            // Every piece is flushed: something goes out for it.
            assert!(!out.is_empty());
            z.extend(out);
        }
        z.extend(gz.finish().unwrap());
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, pieces.concat());
    }
}
