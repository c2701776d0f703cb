//! Stage: the output filters Apache runs on a handler's response before it is written,
//! in its order: mod_expires (`Expires`, `Cache-Control: max-age`), then mod_deflate (gzip,
//! `Vary: Accept-Encoding`). What to do is decided by the pure rules in `config::cache` and
//! `config::deflate`; this applies them to a [`Response`]. Pages the server generated (errors,
//! redirects) pass untouched, as Apache's error responses skip the content filters.
//!
//! CGI and FastCGI output does not pass here: it is streamed by `handler::cgi::output`, which
//! applies the same rules as it goes (`handler::cgi::filter`, docs/responses.md).

use crate::config::cache;
use crate::config::deflate::{self, Decision};
use crate::config::DirConf;
use crate::http::request::Request;
use crate::http::response::{Body, Response};
use std::borrow::Cow;
use std::os::unix::fs::FileExt;
use std::time::SystemTime;

/// Largest body compressed (in memory); a larger one is sent as it is.
pub const GZIP_MAX: u64 = 16 << 20;

/// Runs the filters `conf` sets on a handler's response to `req`.
pub fn apply(resp: Response, conf: &DirConf, req: &Request, now: SystemTime) -> Response {
    if resp.generated {
        return resp;
    }
    let resp = expires(resp, conf, now);
    compress(resp, conf, req)
}

fn get<'a>(resp: &'a Response, name: &str) -> Option<&'a str> {
    (resp.headers.iter())
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// apr_table_mergen: `, VALUE` appended to the first field of that name, or a new field.
fn merge(resp: &mut Response, name: &'static str, value: &str) {
    match (resp.headers.iter_mut()).find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        Some((_, v)) => {
            v.push_str(", ");
            v.push_str(value);
        }
        None => resp.headers.push((Cow::Borrowed(name), value.to_string())),
    }
}

/// apr_table_setn: the first field of that name takes the value, the others go.
fn set(resp: &mut Response, name: &'static str, value: String) {
    let mut seen = false;
    resp.headers.retain_mut(|(n, v)| {
        if !n.eq_ignore_ascii_case(name) {
            return true;
        }
        if seen {
            return false;
        }
        seen = true;
        *v = value.clone();
        true
    });
    if !seen {
        resp.headers.push((Cow::Borrowed(name), value));
    }
}

/// mod_expires: only on a successful or 304 response without an Expires of its own.
fn expires(mut resp: Response, conf: &DirConf, now: SystemTime) -> Response {
    if resp.status >= 400 || get(&resp, "Expires").is_some() {
        return resp;
    }
    let ty = get(&resp, "Content-Type")
        .or_else(|| resp.source.as_ref().and_then(|s| s.content_type.as_deref()));
    let Some(code) = cache::expiry_for(conf, ty) else {
        return resp;
    };
    let mtime = match (&resp.source, code.modification) {
        (Some(s), _) => s.mtime,
        (None, false) => now,
        // Nothing on disk to take a modification time from: as Apache, no fields.
        (None, true) => return resp,
    };
    let (age, at) = cache::expiration(code, now, mtime);
    merge(&mut resp, "Cache-Control", &format!("max-age={age}"));
    set(&mut resp, "Expires", crate::http::date::http_date(at));
    resp
}

/// mod_deflate's output filter.
fn compress(mut resp: Response, conf: &DirConf, req: &Request) -> Response {
    let seen = deflate::Seen {
        status: resp.status,
        content_type: get(&resp, "Content-Type"),
        content_encoding: get(&resp, "Content-Encoding"),
        content_range: get(&resp, "Content-Range").is_some(),
        file_name: resp.source.as_ref().map(|s| s.name.as_str()),
        body_len: resp.body.len(),
        accept_encoding: req.header("Accept-Encoding"),
    };
    let decision = deflate::decide(conf, &seen);
    if decision == Decision::Skip || resp.body.len() > GZIP_MAX {
        return resp;
    }
    merge(&mut resp, "Vary", "Accept-Encoding");
    if decision == Decision::Vary {
        return resp;
    }
    let plain = match std::mem::replace(&mut resp.body, Body::Empty) {
        Body::Bytes(b) => Ok(b),
        Body::File { file, offset, len } => {
            let mut buf = vec![0; len as usize];
            file.read_exact_at(&mut buf, offset).map(|()| buf)
        }
        Body::Empty => Ok(Vec::new()),
    };
    match plain.and_then(|p| deflate::gzip(&p, conf.deflate_level)) {
        Ok(z) => {
            resp.body = Body::Bytes(z);
            match get(&resp, "Content-Encoding") {
                Some(e) if !e.eq_ignore_ascii_case("identity") => {
                    merge(&mut resp, "Content-Encoding", "gzip")
                }
                _ => set(&mut resp, "Content-Encoding", "gzip".into()),
            }
            resp.headers.retain(|(n, _)| {
                !n.eq_ignore_ascii_case("content-length") && !n.eq_ignore_ascii_case("content-md5")
            });
            if let Some(tag) = get(&resp, "ETag").map(deflate::etag_suffix) {
                set(&mut resp, "ETag", tag);
            }
            resp
        }
        Err(e) => {
            log::error!("DEFLATE: cannot read or compress the response body: {e}");
            Response::error(500)
        }
    }
}
