//! core's `ErrorDocument CODE "text" | /local/path | http://url | default`, parsed with
//! Apache's heuristic (a value with a space is a message; one starting with `/` a local path;
//! one that is a URL a redirect; anything else a message) and merged per code down the
//! sections, as Apache merges its response_code_strings. Pure.
//!
//! What each form does (applied in `child::errordoc`): a message is the page's body (sent as
//! `text/html; charset=iso-8859-1`, Apache's type for error pages); a URL turns the answer into
//! a 302 to it (for 401 Apache ignores a URL with a warning, and so does `-t` here); a local
//! path is an internal redirect (GET, no body) answered with the original status, served
//! only if that URL is admitted into the identity the connection has or takes for it; when it
//! is refused, needs another identity or fails, the built-in page goes out, as Apache sends
//! its own page when the ErrorDocument fails.
#![forbid(unsafe_code)]

use super::build::Builder;
use super::model::DirConf;
use super::parse::Node;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ErrorDocument {
    /// The page's body, as written.
    Text(String),
    /// A URL path (with an optional query) served by internal redirect.
    Local(String),
    /// A 302 to this URL.
    Url(String),
    /// `default`: the built-in page (cancels an enclosing section's document).
    Default,
}

/// `scheme://...` as ap_is_url: a scheme of letters, digits, `+`, `-`, `.` before `:`, then `//`.
fn is_url(s: &str) -> bool {
    match s.split_once(':') {
        Some((scheme, rest)) => {
            !scheme.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
                && rest.starts_with("//")
        }
        None => false,
    }
}

/// Parses `CODE VALUE`. `Ok(None)`: accepted without effect (a URL for 401), with the warning.
pub fn parse(args: &[String]) -> Result<(u16, Option<ErrorDocument>, Option<String>), String> {
    let [code, value] = args else {
        return Err("ErrorDocument takes a status code and a document".into());
    };
    let code: u16 = match code.parse() {
        Ok(c @ 400..=599) if crate::http::status::reason(c) != "Unknown" => c,
        _ => {
            return Err(format!(
                "ErrorDocument: '{code}' is not an error status this server sends (4xx, 5xx)"
            ))
        }
    };
    if value.contains("%{") {
        return Err(format!(
            "ErrorDocument {code}: expressions (%{{...}}) in the document are not implemented: write it literally"
        ));
    }
    if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        return Err(format!(
            "ErrorDocument {code}: control characters in the document"
        ));
    }
    let doc = if value.eq_ignore_ascii_case("default") {
        ErrorDocument::Default
    } else if value.contains(' ') {
        ErrorDocument::Text(value.clone())
    } else if value.starts_with('/') {
        if crate::http::route::route(value.split('?').next().unwrap_or_default()).is_err() {
            return Err(format!(
                "ErrorDocument {code}: '{value}' is not a URL path this server would serve"
            ));
        }
        ErrorDocument::Local(value.clone())
    } else if is_url(value) {
        if code == 401 {
            return Ok((
                code,
                None,
                Some(format!(
                    "ErrorDocument 401 {value}: ignored, as Apache ignores it: a full URL in a 401 ErrorDocument would make the browser forget to ask for credentials; use a local path"
                )),
            ));
        }
        ErrorDocument::Url(value.clone())
    } else {
        ErrorDocument::Text(value.clone())
    };
    Ok((code, Some(doc), None))
}

/// The `ErrorDocument` handler.
pub fn directive(b: &mut Builder, n: &Node, d: &mut DirConf) {
    match parse(&n.args) {
        Ok((code, doc, warning)) => {
            if let Some(w) = warning {
                b.warn(n, w);
            }
            if let Some(doc) = doc {
                d.error_documents.push((code, doc));
            }
        }
        Err(e) => b.error(n, e),
    }
}

/// The document for `status` in a merged scope (the last one written wins), None for the
/// built-in page.
pub fn find(d: &DirConf, status: u16) -> Option<&ErrorDocument> {
    find_in(&d.error_documents, status)
}

/// [`find`] on a scope's rows.
pub fn find_in(rows: &[(u16, ErrorDocument)], status: u16) -> Option<&ErrorDocument> {
    match (rows.iter().rev())
        .find(|(c, _)| *c == status)
        .map(|(_, doc)| doc)
    {
        Some(ErrorDocument::Default) | None => None,
        found => found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-written from core's manual (ErrorDocument) and set_error_document's heuristic.
    #[test]
    fn forms() {
        let p = |code: &str, v: &str| parse(&[code.to_string(), v.to_string()]);
        use ErrorDocument::*;
        for (code, v, want) in [
            ("404", "/missing.html", Local("/missing.html".into())),
            (
                "404",
                "/cgi-bin/nf.cgi?x=1",
                Local("/cgi-bin/nf.cgi?x=1".into()),
            ),
            (
                "500",
                "http://example.com/oops",
                Url("http://example.com/oops".into()),
            ),
            (
                "403",
                "Sorry can't allow you access today",
                Text("Sorry can't allow you access today".into()),
            ),
            ("403", "Forbidden!", Text("Forbidden!".into())),
            ("403", "/has space", Text("/has space".into())),
            ("404", "default", Default),
            ("404", "mailto:x", Text("mailto:x".into())),
        ] {
            assert_eq!(
                p(code, v),
                Ok((code.parse().unwrap(), Some(want), None)),
                "{v}"
            );
        }
        let (code, doc, warning) = p("401", "https://example.com/login").unwrap();
        assert_eq!((code, doc), (401, None));
        assert!(warning.unwrap().contains("ignored"));
        for (code, v, want) in [
            ("200", "/x", "not an error status"),
            ("4044", "/x", "not an error status"),
            ("abc", "/x", "not an error status"),
            ("404", "/%{REQUEST_URI}", "expressions"),
            ("404", "/a/../../b", "not a URL path"),
        ] {
            let e = p(code, v).expect_err(v);
            assert!(e.contains(want), "{v}: {e}");
        }
    }

    #[test]
    fn merge_and_default() {
        let outer = DirConf {
            error_documents: vec![
                (404, ErrorDocument::Local("/nf.html".into())),
                (403, ErrorDocument::Text("no".into())),
            ],
            ..Default::default()
        };
        let inner = DirConf {
            error_documents: vec![(404, ErrorDocument::Default)],
            ..Default::default()
        };
        let m = outer.merge(&inner);
        assert_eq!(find(&m, 404), None);
        assert_eq!(find(&m, 403), Some(&ErrorDocument::Text("no".into())));
        assert_eq!(
            find(&outer, 404),
            Some(&ErrorDocument::Local("/nf.html".into()))
        );
        assert_eq!(find(&outer, 500), None);
    }
}
