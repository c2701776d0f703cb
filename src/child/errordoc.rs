//! Stage: `ErrorDocument` on an error page (config::errordoc says what each form means).
//!
//! A message or a URL changes the page here. A local path becomes an internal redirect: a GET
//! (HEAD stays HEAD) without body, conditions or ranges, which the caller admits like any
//! request (I1) and serves only in the identity the connection already has, or, for a refusal
//! on a connection not yet confined, in the identity the document's own admission chooses
//! (I2); its answer carries the original status. If the document is refused, needs another
//! identity or fails itself, the built-in page of the original status goes out, as Apache
//! sends its own page when an ErrorDocument fails.

use crate::config::errordoc::ErrorDocument;
use crate::http::request::{Method, Request};
use crate::http::response::Response;
use std::borrow::Cow;

pub use crate::http::response::Original;

/// What becomes of an error page.
pub enum Page {
    Send(Response),
    /// Serve this URL (path and query) by internal redirect, with this status; `page` is the
    /// built-in page, for when the document cannot be served.
    Redirect {
        url: String,
        status: u16,
        page: Response,
    },
}

/// Apache's type for the pages it generates, messages included.
const ERROR_TYPE: &str = "text/html; charset=iso-8859-1";

/// `resp` under the `ErrorDocument` rows `docs` of its request's scope.
pub fn page(docs: &[(u16, ErrorDocument)], resp: Response) -> Page {
    if !resp.generated || resp.status < 400 {
        return Page::Send(resp);
    }
    let doc = (docs.iter().rev())
        .find(|(c, _)| *c == resp.status)
        .map(|(_, d)| d);
    match doc {
        None | Some(ErrorDocument::Default) => Page::Send(resp),
        Some(ErrorDocument::Text(t)) => {
            let mut r = resp;
            r.headers
                .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
            r.headers
                .push((Cow::Borrowed("Content-Type"), ERROR_TYPE.to_string()));
            r.body = crate::http::response::Body::Bytes(t.clone().into_bytes());
            Page::Send(r)
        }
        Some(ErrorDocument::Url(u)) => {
            Page::Send(Response::error(302).header("Location", u.clone()))
        }
        Some(ErrorDocument::Local(url)) => Page::Redirect {
            url: url.clone(),
            status: resp.status,
            page: resp,
        },
    }
}

/// The request for an error document at `url`: as a program's local redirect (GET, HEAD
/// stays HEAD, no body), without the fields that would make it conditional or partial
/// (Apache's `no_local_copy`: an error document is never a 304).
pub fn request(orig: &Request, url: &str) -> Request {
    const DROPPED: &[&str] = &[
        "content-length",
        "content-type",
        "transfer-encoding",
        "expect",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "if-range",
        "range",
    ];
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (url.to_string(), None),
    };
    Request {
        method: if orig.method == Method::Head {
            Method::Head
        } else {
            Method::Get
        },
        target: url.to_string(),
        path,
        query,
        headers: (orig.headers.iter())
            .filter(|(n, _)| !DROPPED.iter().any(|f| n.eq_ignore_ascii_case(f)))
            .cloned()
            .collect(),
        body: crate::http::request::Body::None,
        expect_continue: false,
        ..orig.clone()
    }
}

/// The document's own answer as the original's: its status, the kept fields; a document that
/// failed gives way to the built-in page of the original status.
pub fn as_original(orig: &Original, resp: Response) -> Response {
    let mut r = if resp.generated && resp.status >= 400 {
        log::warn!(
            "ErrorDocument for {} failed with {}: sending the built-in page",
            orig.status,
            resp.status
        );
        Response::error(orig.status)
    } else {
        let mut r = resp;
        r.status = orig.status;
        r
    };
    r.headers.extend(orig.fields.iter().cloned());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages() {
        let docs = vec![
            (404, ErrorDocument::Local("/nf.html?x".into())),
            (403, ErrorDocument::Text("go away".into())),
            (500, ErrorDocument::Url("http://example.com/".into())),
            (410, ErrorDocument::Default),
        ];
        match page(&docs, Response::error(404)) {
            Page::Redirect { url, status, .. } => {
                assert_eq!((url.as_str(), status), ("/nf.html?x", 404))
            }
            Page::Send(_) => panic!("404 not redirected"),
        }
        let Page::Send(r) = page(&docs, Response::error(403)) else {
            panic!()
        };
        assert_eq!(r.status, 403);
        assert!(matches!(&r.body, crate::http::response::Body::Bytes(b) if b == b"go away"));
        let Page::Send(r) = page(&docs, Response::error(500)) else {
            panic!()
        };
        assert_eq!(r.status, 302);
        for (resp, status) in [
            (Response::error(410), 410),
            (Response::error(405), 405),
            (Response::new(404), 404),
        ] {
            let Page::Send(r) = page(&docs, resp) else {
                panic!("{status}")
            };
            assert_eq!(r.status, status);
        }
    }
}
