//! RFC 9110 §13.2.2: the order in which a server evaluates the preconditions of a GET or HEAD
//! on a file: If-Match (strong comparison) else If-Unmodified-Since → 412; then If-None-Match
//! (weak comparison) else If-Modified-Since → 304. Pure.
#![forbid(unsafe_code)]

use super::date;
use std::time::SystemTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Serve the file (Range and If-Range still apply).
    Proceed,
    NotModified,
    PreconditionFailed,
}

/// The request's precondition fields (raw values; `None`: absent).
#[derive(Debug, Default, Clone, Copy)]
pub struct Fields<'a> {
    pub if_match: Option<&'a str>,
    pub if_unmodified_since: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
    pub if_modified_since: Option<&'a str>,
}

/// `(weak, opaque-tag)` of an entity-tag, `None` when it is not one.
fn entity_tag(s: &str) -> Option<(bool, &str)> {
    let s = s.trim();
    let (weak, rest) = match s.strip_prefix("W/") {
        Some(r) => (true, r),
        None => (false, s),
    };
    (rest.len() >= 2 && rest.starts_with('"') && rest.ends_with('"')).then_some((weak, rest))
}

/// Whether the field's list (or `*`) matches `current`, strongly or weakly (§8.8.3.2).
fn list_matches(field: &str, current: &str, strong: bool) -> bool {
    if field.trim() == "*" {
        return true;
    }
    let Some((cur_weak, cur)) = entity_tag(current) else {
        return false;
    };
    field
        .split(',')
        .filter_map(entity_tag)
        .any(|(weak, tag)| tag == cur && !(strong && (weak || cur_weak)))
}

/// `etag`: the file's current entity-tag; `mtime`: its modification time (whole seconds);
/// `now`: the server's clock. An If-Modified-Since date later than `now` is ignored (RFC 7232
/// §3.3's "invalid", which Apache's `ap_meets_conditions` also applies), so a client's bad
/// clock cannot pin a 304.
pub fn evaluate(f: &Fields, etag: &str, mtime: SystemTime, now: SystemTime) -> Outcome {
    // Step 1 and 2: If-Match, else If-Unmodified-Since (an invalid date is ignored).
    if let Some(im) = f.if_match {
        if !list_matches(im, etag, true) {
            return Outcome::PreconditionFailed;
        }
    } else if let Some(since) = f
        .if_unmodified_since
        .and_then(|v| date::parse_http_date(v.trim()))
    {
        if mtime > since {
            return Outcome::PreconditionFailed;
        }
    }
    // Step 3 and 4: If-None-Match, else If-Modified-Since (GET and HEAD only: the caller's).
    if let Some(inm) = f.if_none_match {
        if list_matches(inm, etag, false) {
            return Outcome::NotModified;
        }
    } else if let Some(since) = f
        .if_modified_since
        .and_then(|v| date::parse_http_date(v.trim()))
        .filter(|since| *since <= now)
    {
        if mtime <= since {
            return Outcome::NotModified;
        }
    }
    Outcome::Proceed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};
    use Outcome::*;

    /// Hand-written from RFC 9110 §13.1.1-§13.1.4 and §13.2.2.
    #[test]
    fn table() {
        let tag = "\"abc\"";
        let mtime = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        let now = mtime + Duration::from_secs(10);
        let at = "Sun, 06 Nov 1994 08:49:37 GMT";
        let future = "Sun, 06 Nov 1994 08:50:37 GMT";
        let before = "Sun, 06 Nov 1994 08:49:36 GMT";
        let after = "Sun, 06 Nov 1994 08:49:38 GMT";
        let f = |im, ius, inm, ims| Fields {
            if_match: im,
            if_unmodified_since: ius,
            if_none_match: inm,
            if_modified_since: ims,
        };
        for (fields, want) in [
            (f(None, None, None, None), Proceed),
            (f(Some("\"abc\""), None, None, None), Proceed),
            (f(Some("\"x\", \"abc\""), None, None, None), Proceed),
            (f(Some("*"), None, None, None), Proceed),
            (f(Some("\"x\""), None, None, None), PreconditionFailed),
            // If-Match uses the strong comparison.
            (f(Some("W/\"abc\""), None, None, None), PreconditionFailed),
            (f(Some("abc"), None, None, None), PreconditionFailed),
            (f(None, Some(at), None, None), Proceed),
            (f(None, Some(after), None, None), Proceed),
            (f(None, Some(before), None, None), PreconditionFailed),
            (f(None, Some("not a date"), None, None), Proceed),
            // If-Match present: If-Unmodified-Since is not evaluated.
            (f(Some("\"abc\""), Some(before), None, None), Proceed),
            // If-None-Match uses the weak comparison.
            (f(None, None, Some("\"abc\""), None), NotModified),
            (f(None, None, Some("W/\"abc\""), None), NotModified),
            (f(None, None, Some("\"x\", W/\"abc\""), None), NotModified),
            (f(None, None, Some("*"), None), NotModified),
            (f(None, None, Some("\"x\""), None), Proceed),
            (f(None, None, None, Some(at)), NotModified),
            (f(None, None, None, Some(after)), NotModified),
            (f(None, None, None, Some(before)), Proceed),
            (f(None, None, None, Some(future)), Proceed),
            // If-None-Match present: If-Modified-Since is not evaluated.
            (f(None, None, Some("\"x\""), Some(after)), Proceed),
            // 412 before 304.
            (
                f(Some("\"x\""), None, Some("\"abc\""), None),
                PreconditionFailed,
            ),
            (f(None, Some(before), None, Some(at)), PreconditionFailed),
            (f(Some("\"abc\""), None, Some("\"abc\""), None), NotModified),
        ] {
            assert_eq!(evaluate(&fields, tag, mtime, now), want, "{fields:?}");
        }
    }
}
