//! RFC 3875 meta-variables: the script's whole environment, built from the request by a pure
//! function. Nothing of the server's own environment is passed on.
//!
//! Invariants:
//! - Only the variables listed in [`STANDARD`] and `HTTP_*` ones appear; `PATH` is fixed.
//! - `Proxy` never becomes `HTTP_PROXY` (httpoxy), `Authorization` never reaches the script,
//!   `Content-Type`/`Content-Length` appear only as `CONTENT_TYPE`/`CONTENT_LENGTH`.
//! - A field name with anything but letters, digits and `-` is dropped: `X_A` and `X-A` would
//!   both become `HTTP_X_A`, and the first could be used to forge the second.
//! - No name or value contains NUL (the request parser refuses CTLs; here they are dropped to
//!   keep the function total).
#![forbid(unsafe_code)]

/// The fixed search path a script gets.
pub const SAFE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Every non-`HTTP_*` variable this module may emit.
pub const STANDARD: &[&str] = &[
    "AUTH_TYPE",
    "CONTENT_LENGTH",
    "CONTENT_TYPE",
    "DOCUMENT_ROOT",
    "GATEWAY_INTERFACE",
    "HTTPS",
    "PATH",
    "PATH_INFO",
    "PATH_TRANSLATED",
    "QUERY_STRING",
    "REDIRECT_QUERY_STRING",
    "REDIRECT_REQUEST_METHOD",
    "REDIRECT_STATUS",
    "REDIRECT_URL",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "REMOTE_USER",
    "REQUEST_METHOD",
    "REQUEST_URI",
    "SCRIPT_FILENAME",
    "SCRIPT_NAME",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SERVER_SOFTWARE",
];

/// What the environment is made from; all of it already validated by earlier stages.
#[derive(Debug, Clone, Default)]
pub struct CgiRequest<'a> {
    pub method: &'a str,
    /// The request-target as sent.
    pub request_uri: &'a str,
    pub query: Option<&'a str>,
    pub minor_version: u8,
    pub headers: &'a [(String, Vec<u8>)],
    pub remote_addr: String,
    pub remote_port: u16,
    pub server_name: &'a str,
    pub server_port: u16,
    /// The authenticated user, when there is one.
    pub remote_user: Option<&'a str>,
    /// The URL path of the script (decoded), e.g. `/cgi-bin/env.cgi`.
    pub script_name: &'a str,
    /// The decoded rest of the URL after the script, `""` or starting with `/`.
    pub path_info: &'a str,
    pub document_root: &'a str,
    pub script_filename: &'a str,
    /// Length of the body the script will read on stdin (decoded length for chunked bodies).
    pub content_length: Option<u64>,
    /// Run as an `ErrorDocument`: the original answer's status, the original request's
    /// (decoded) path, query and method, as Apache's `REDIRECT_*` variables.
    pub redirect: Option<Redirect<'a>>,
}

/// What an error document's program learns of the request it stands in for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Redirect<'a> {
    pub status: u16,
    pub url: &'a str,
    pub query: Option<&'a str>,
    pub method: &'a str,
}

/// `NAME=value` entries, sorted by name, ready for execve.
pub fn build(r: &CgiRequest) -> Vec<Vec<u8>> {
    let mut env: Vec<(String, Vec<u8>)> = Vec::new();
    let mut put = |k: &str, v: &[u8]| env.push((k.to_string(), v.to_vec()));
    if let Some(u) = r.remote_user {
        put("AUTH_TYPE", b"Basic");
        put("REMOTE_USER", u.as_bytes());
    }
    if let Some(n) = r.content_length {
        put("CONTENT_LENGTH", n.to_string().as_bytes());
        if let Some(t) = header(r.headers, "Content-Type") {
            put("CONTENT_TYPE", t);
        }
    }
    put("DOCUMENT_ROOT", r.document_root.as_bytes());
    put("GATEWAY_INTERFACE", b"CGI/1.1");
    put("HTTPS", b"off");
    put("PATH", SAFE_PATH.as_bytes());
    if !r.path_info.is_empty() {
        put("PATH_INFO", r.path_info.as_bytes());
        let translated = format!("{}{}", r.document_root.trim_end_matches('/'), r.path_info);
        put("PATH_TRANSLATED", translated.as_bytes());
    }
    put("QUERY_STRING", r.query.unwrap_or("").as_bytes());
    if let Some(rd) = &r.redirect {
        if let Some(q) = rd.query {
            put("REDIRECT_QUERY_STRING", q.as_bytes());
        }
        put("REDIRECT_REQUEST_METHOD", rd.method.as_bytes());
        put("REDIRECT_STATUS", rd.status.to_string().as_bytes());
        put("REDIRECT_URL", rd.url.as_bytes());
    }
    put("REMOTE_ADDR", r.remote_addr.as_bytes());
    put("REMOTE_PORT", r.remote_port.to_string().as_bytes());
    put("REQUEST_METHOD", r.method.as_bytes());
    put("REQUEST_URI", r.request_uri.as_bytes());
    put("SCRIPT_FILENAME", r.script_filename.as_bytes());
    put("SCRIPT_NAME", r.script_name.as_bytes());
    put("SERVER_NAME", r.server_name.as_bytes());
    put("SERVER_PORT", r.server_port.to_string().as_bytes());
    put(
        "SERVER_PROTOCOL",
        format!("HTTP/1.{}", r.minor_version.min(1)).as_bytes(),
    );
    put("SERVER_SOFTWARE", b"oneshot-httpd");

    for (name, value) in r.headers {
        let Some(var) = http_var(name) else { continue };
        // Several fields of one name are one list (RFC 9110 §5.3), as Apache joins them.
        match env.iter_mut().find(|(k, _)| *k == var) {
            Some((_, v)) => {
                v.extend_from_slice(b", ");
                v.extend_from_slice(value);
            }
            None => env.push((var, value.clone())),
        }
    }
    env.sort_by(|a, b| a.0.cmp(&b.0));
    env.into_iter()
        .filter(|(_, v)| !v.contains(&0))
        .map(|(k, v)| {
            let mut e = k.into_bytes();
            e.push(b'=');
            e.extend_from_slice(&v);
            e
        })
        .collect()
}

fn header<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// `HTTP_` + the field name, or `None` for the fields a script must not see this way.
fn http_var(name: &str) -> Option<String> {
    const WITHHELD: &[&str] = &["proxy", "authorization", "content-type", "content-length"];
    if name.is_empty()
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        || WITHHELD.iter().any(|w| name.eq_ignore_ascii_case(w))
    {
        return None;
    }
    Some(format!(
        "HTTP_{}",
        name.to_ascii_uppercase().replace('-', "_")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_map(env: &[Vec<u8>]) -> std::collections::BTreeMap<String, String> {
        env.iter()
            .map(|e| {
                let s = String::from_utf8_lossy(e);
                let (k, v) = s.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    fn headers(h: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        h.iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    fn base<'a>(h: &'a [(String, Vec<u8>)]) -> CgiRequest<'a> {
        CgiRequest {
            method: "POST",
            request_uri: "/cgi-bin/env.cgi/x%20y?a=1",
            query: Some("a=1"),
            minor_version: 1,
            headers: h,
            remote_addr: "127.0.0.1".into(),
            remote_port: 40000,
            server_name: "alice.test",
            server_port: 8080,
            remote_user: Some("alice"),
            script_name: "/cgi-bin/env.cgi",
            path_info: "/x y",
            document_root: "/srv/alice/",
            script_filename: "/srv/cgi/env.cgi",
            content_length: Some(5),
            redirect: None,
        }
    }

    #[test]
    fn full_request() {
        let h = headers(&[
            ("Host", "alice.test"),
            ("User-Agent", "t/1"),
            ("Proxy", "http://evil:1"),
            ("Authorization", "Basic YWxpY2U6eA=="),
            ("Content-Type", "text/plain"),
            ("Content-Length", "5"),
            ("X_Forged", "1"),
            ("Accept", "a"),
            ("accept", "b"),
            ("X-Null", "a\0b"),
        ]);
        let got = as_map(&build(&base(&h)));
        let want: &[(&str, &str)] = &[
            ("AUTH_TYPE", "Basic"),
            ("CONTENT_LENGTH", "5"),
            ("CONTENT_TYPE", "text/plain"),
            ("DOCUMENT_ROOT", "/srv/alice/"),
            ("GATEWAY_INTERFACE", "CGI/1.1"),
            ("HTTPS", "off"),
            ("HTTP_ACCEPT", "a, b"),
            ("HTTP_HOST", "alice.test"),
            ("HTTP_USER_AGENT", "t/1"),
            ("PATH", SAFE_PATH),
            ("PATH_INFO", "/x y"),
            ("PATH_TRANSLATED", "/srv/alice/x y"),
            ("QUERY_STRING", "a=1"),
            ("REMOTE_ADDR", "127.0.0.1"),
            ("REMOTE_PORT", "40000"),
            ("REMOTE_USER", "alice"),
            ("REQUEST_METHOD", "POST"),
            ("REQUEST_URI", "/cgi-bin/env.cgi/x%20y?a=1"),
            ("SCRIPT_FILENAME", "/srv/cgi/env.cgi"),
            ("SCRIPT_NAME", "/cgi-bin/env.cgi"),
            ("SERVER_NAME", "alice.test"),
            ("SERVER_PORT", "8080"),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("SERVER_SOFTWARE", "oneshot-httpd"),
        ];
        let want: std::collections::BTreeMap<String, String> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn anonymous_get_without_body_or_path_info() {
        let h = headers(&[("Content-Type", "x/y"), ("Proxy", "p")]);
        let r = CgiRequest {
            method: "GET",
            query: None,
            minor_version: 0,
            remote_user: None,
            path_info: "",
            content_length: None,
            ..base(&h)
        };
        let got = as_map(&build(&r));
        for absent in [
            "AUTH_TYPE",
            "REMOTE_USER",
            "CONTENT_LENGTH",
            "CONTENT_TYPE",
            "PATH_INFO",
            "PATH_TRANSLATED",
            "HTTP_PROXY",
            "HTTP_CONTENT_TYPE",
        ] {
            assert!(!got.contains_key(absent), "{absent} in {got:?}");
        }
        assert_eq!(got["QUERY_STRING"], "");
        assert_eq!(got["SERVER_PROTOCOL"], "HTTP/1.0");
        assert!(got
            .keys()
            .all(|k| STANDARD.contains(&k.as_str()) || k.starts_with("HTTP_")));
    }

    #[test]
    fn http_var_table() {
        for (name, want) in [
            ("Host", Some("HTTP_HOST")),
            ("x-a-b", Some("HTTP_X_A_B")),
            ("PROXY", None),
            ("proxy", None),
            ("Proxy-Connection", Some("HTTP_PROXY_CONNECTION")),
            ("Authorization", None),
            ("Content-Length", None),
            ("X_A", None),
            ("X.A", None),
            ("", None),
        ] {
            assert_eq!(http_var(name).as_deref(), want, "{name}");
        }
    }
}
