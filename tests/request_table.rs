//! Table tests for the request head parser: one row per case, each either the expected parsed
//! fields or the expected status. Every accepted row is also fed at every split point, which
//! must answer `Partial` without an error.

use oneshot_httpd::http::request::{
    parse_head, Body, HeadError, Limits, Method, Parsed, Request, MAX_LEADING_EMPTY_LINES,
};

/// The fields a row pins down for an accepted request.
#[derive(Debug, Clone, PartialEq)]
struct Ok {
    method: Method,
    path: &'static str,
    query: Option<&'static str>,
    minor: u8,
    host: Option<&'static str>,
    body: Body,
    keep_alive: bool,
    expect_continue: bool,
}

/// A plain HTTP/1.1 GET for `/` on host `h`; rows override what they test.
const GET: Ok = Ok {
    method: Method::Get,
    path: "/",
    query: None,
    minor: 1,
    host: Some("h"),
    body: Body::None,
    keep_alive: true,
    expect_continue: false,
};

#[derive(Debug)]
enum Want {
    Ok(Ok),
    Status(u16),
    Partial,
}

fn small() -> Limits {
    Limits {
        request_line: 32,
        field_size: 16,
        fields: 3,
    }
}

fn summary(r: &Request) -> Ok {
    let leak = |s: &str| -> &'static str { Box::leak(s.to_owned().into_boxed_str()) };
    Ok {
        method: r.method,
        path: leak(&r.path),
        query: r.query.as_deref().map(leak),
        minor: r.minor_version,
        host: r.host.as_deref().map(leak),
        body: r.body,
        keep_alive: r.keep_alive,
        expect_continue: r.expect_continue,
    }
}

/// Where the head ends: the first CRLFCRLF after the leading empty lines.
fn head_len(input: &[u8]) -> usize {
    let start = input
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap();
    start
        + input[start..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("accepted rows contain a complete head")
        + 4
}

fn check(name: &str, input: &[u8], limits: &Limits, want: &Want) {
    let got = parse_head(input, limits);
    match (want, got) {
        (Want::Ok(w), Result::Ok(Parsed::Complete(req, n))) => {
            assert_eq!(summary(&req), *w, "row {name}");
            assert_eq!(n, head_len(input), "row {name}: consumed");
            assert_eq!(
                req.target.as_bytes(),
                target_of(input),
                "row {name}: target"
            );
            for split in 0..n {
                assert_eq!(
                    parse_head(&input[..split], limits),
                    Result::Ok(Parsed::Partial),
                    "row {name}: prefix of {split} bytes"
                );
            }
        }
        (Want::Status(s), Err(e)) => assert_eq!(e.status(), *s, "row {name}: {e}"),
        (Want::Partial, Result::Ok(Parsed::Partial)) => {}
        (want, got) => panic!("row {name}: wanted {want:?}, got {got:?}"),
    }
}

/// The raw request-target of the first non-empty line.
fn target_of(input: &[u8]) -> &[u8] {
    let start = input
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap();
    let line = &input[start..];
    let line = &line[..line.iter().position(|&b| b == b'\r').unwrap()];
    line.split(|&b| b == b' ').nth(1).unwrap()
}

fn ok(o: Ok) -> Want {
    Want::Ok(o)
}

#[test]
fn basic_forms() {
    #[rustfmt::skip]
    let rows: Vec<(&str, &[u8], Want)> = vec![
        ("get", b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", ok(GET)),
        ("body bytes after head", b"GET / HTTP/1.1\r\nHost: h\r\n\r\nXYZ", ok(GET)),
        ("all methods are returned", b"TRACE / HTTP/1.1\r\nHost: h\r\n\r\n", ok(Ok { method: Method::Trace, ..GET })),
        ("patch", b"PATCH / HTTP/1.1\r\nHost: h\r\n\r\n", ok(Ok { method: Method::Patch, ..GET })),
        ("query", b"GET /a%20b/c?x=1&y=%2F?z HTTP/1.1\r\nHost: h\r\n\r\n", ok(Ok { path: "/a%20b/c", query: Some("x=1&y=%2F?z"), ..GET })),
        ("empty query", b"GET /p? HTTP/1.1\r\nHost: h\r\n\r\n", ok(Ok { path: "/p", query: Some(""), ..GET })),
        ("host lowercased, port stripped", b"GET / HTTP/1.1\r\nHost: WWW.Example.ORG:8080\r\n\r\n", ok(Ok { host: Some("www.example.org"), ..GET })),
        ("host trailing dot", b"GET / HTTP/1.1\r\nHost: example.org.\r\n\r\n", ok(Ok { host: Some("example.org"), ..GET })),
        ("host ipv4", b"GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n", ok(Ok { host: Some("127.0.0.1"), ..GET })),
        ("host ipv6", b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", ok(Ok { host: Some("[::1]"), ..GET })),
        ("host ipv6 upper", b"GET / HTTP/1.1\r\nHost: [FE80::1]\r\n\r\n", ok(Ok { host: Some("[fe80::1]"), ..GET })),
        ("host OWS", b"GET / HTTP/1.1\r\nHost: \t h \t\r\n\r\n", ok(GET)),
        ("http/1.0 no host", b"GET / HTTP/1.0\r\n\r\n", ok(Ok { minor: 0, host: None, keep_alive: false, ..GET })),
        ("http/1.0 keep-alive", b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", ok(Ok { minor: 0, host: None, ..GET })),
        ("http/1.1 close", b"GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n", ok(Ok { keep_alive: false, ..GET })),
        ("expect 100", b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n", ok(Ok { method: Method::Post, body: Body::Length(3), expect_continue: true, ..GET })),
        ("expect 100 ignored in 1.0", b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", ok(Ok { method: Method::Post, body: Body::Length(3), minor: 0, host: None, keep_alive: false, ..GET })),
        ("expect other", b"GET / HTTP/1.1\r\nHost: h\r\nExpect: magic\r\n\r\n", Want::Status(417)),
        ("leading empty lines", b"\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", ok(GET)),
        ("obs-text in value", b"GET / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\r\n\r\n", ok(GET)),
        ("absolute-form", b"GET http://Example.COM:81/p/q?r HTTP/1.1\r\nHost: example.com\r\n\r\n", ok(Ok { path: "/p/q", query: Some("r"), host: Some("example.com"), ..GET })),
        ("absolute-form authority wins", b"GET https://a.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n", ok(Ok { path: "/x", host: Some("a.example"), ..GET })),
        ("absolute-form empty path", b"GET http://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n", ok(Ok { host: Some("a.example"), ..GET })),
        ("absolute-form query only", b"GET http://a.example?q HTTP/1.1\r\nHost: a.example\r\n\r\n", ok(Ok { query: Some("q"), host: Some("a.example"), ..GET })),
        ("absolute-form 1.0 no host", b"GET http://a.example/ HTTP/1.0\r\n\r\n", ok(Ok { minor: 0, host: Some("a.example"), keep_alive: false, ..GET })),
        ("options *", b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", ok(Ok { method: Method::Options, path: "*", ..GET })),
        ("connect", b"CONNECT Proxy.Example:443 HTTP/1.1\r\nHost: proxy.example:443\r\n\r\n", ok(Ok { method: Method::Connect, path: "", host: Some("proxy.example"), ..GET })),
        ("connect ipv6", b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n", ok(Ok { method: Method::Connect, path: "", host: Some("[::1]"), ..GET })),
    ];
    for (name, input, want) in &rows {
        check(name, input, &Limits::default(), want);
    }
}

#[test]
fn framing_and_smuggling() {
    #[rustfmt::skip]
    let rows: Vec<(&str, &[u8], Want)> = vec![
        ("content-length", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n", ok(Ok { method: Method::Post, body: Body::Length(10), ..GET })),
        ("content-length zero", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", ok(Ok { method: Method::Post, body: Body::Length(0), ..GET })),
        ("content-length huge is the lead's", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n", ok(Ok { method: Method::Post, body: Body::Length(u64::MAX), ..GET })),
        ("content-length overflow", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n", Want::Status(400)),
        ("content-length plus sign", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", Want::Status(400)),
        ("content-length negative", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", Want::Status(400)),
        ("content-length hex", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\n", Want::Status(400)),
        ("content-length empty", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", Want::Status(400)),
        ("content-length inner space", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", Want::Status(400)),
        ("content-length list equal", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", Want::Status(400)),
        ("content-length duplicate equal", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", Want::Status(400)),
        ("content-length conflicting", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n", Want::Status(400)),
        ("chunked", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", ok(Ok { method: Method::Post, body: Body::Chunked, ..GET })),
        ("chunked case and OWS", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \t CHUNKED \r\n\r\n", ok(Ok { method: Method::Post, body: Body::Chunked, ..GET })),
        ("CL.TE", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n", Want::Status(400)),
        ("TE.CL", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n", Want::Status(400)),
        ("gzip, chunked", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", Want::Status(501)),
        ("gzip then chunked fields", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", Want::Status(501)),
        ("identity, chunked", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity, chunked\r\n\r\n", Want::Status(501)),
        ("chunked, identity", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n", Want::Status(400)),
        ("gzip only", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", Want::Status(400)),
        ("xchunked", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", Want::Status(400)),
        ("chunked twice in list", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", Want::Status(400)),
        ("chunked twice in fields", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", Want::Status(400)),
        ("chunked with parameter", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", Want::Status(400)),
        ("chunked trailing comma", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked,\r\n\r\n", Want::Status(400)),
        ("chunked empty", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", Want::Status(400)),
        ("chunked quoted", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", Want::Status(400)),
        ("chunked vertical tab", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \x0bchunked\r\n\r\n", Want::Status(400)),
        ("chunked in http/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", Want::Status(400)),
        ("space before colon", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n", Want::Status(400)),
        ("tab before colon", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length\t: 5\r\n\r\n", Want::Status(400)),
        ("obs-fold", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", Want::Status(400)),
        ("obs-fold tab", b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", Want::Status(400)),
        ("whitespace line after request line", b"GET / HTTP/1.1\r\n Host: h\r\n\r\n", Want::Status(400)),
        ("bare LF", b"GET / HTTP/1.1\nHost: h\n\n", Want::Status(400)),
        ("bare LF in fields", b"GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", Want::Status(400)),
        ("bare LF end", b"GET / HTTP/1.1\r\nHost: h\r\n\n", Want::Status(400)),
        ("bare LF leading", b"\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("bare CR", b"GET / HTTP/1.1\rHost: h\r\n\r\n", Want::Status(400)),
        ("bare CR in value", b"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", Want::Status(400)),
        ("bare CR end", b"GET / HTTP/1.1\r\nHost: h\r\n\rX", Want::Status(400)),
        ("NUL in value", b"GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", Want::Status(400)),
        ("NUL in name", b"GET / HTTP/1.1\r\nHost: h\r\nX\0: a\r\n\r\n", Want::Status(400)),
        ("NUL in target", b"GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("DEL in value", b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n", Want::Status(400)),
        ("ESC in value", b"GET / HTTP/1.1\r\nHost: h\r\nX: \x1b[31m\r\n\r\n", Want::Status(400)),
        ("NUL early is decided before the head ends", b"GET / HTTP/1.1\r\nX: \0", Want::Status(400)),
        ("tab in request line", b"GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("empty field name", b"GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", Want::Status(400)),
        ("no colon", b"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", Want::Status(400)),
        ("separator in name", b"GET / HTTP/1.1\r\nHost: h\r\nA(b): c\r\n\r\n", Want::Status(400)),
    ];
    for (name, input, want) in &rows {
        check(name, input, &Limits::default(), want);
    }
}

#[test]
fn request_line_and_host() {
    #[rustfmt::skip]
    let rows: Vec<(&str, &[u8], Want)> = vec![
        ("unknown method", b"BREW / HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(501)),
        ("lowercase method", b"get / HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(501)),
        ("method not a token", b"GE(T / HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("http/2.0", b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", Want::Status(505)),
        ("http/3.0", b"GET / HTTP/3.0\r\nHost: h\r\n\r\n", Want::Status(505)),
        ("http/1.2", b"GET / HTTP/1.2\r\nHost: h\r\n\r\n", Want::Status(505)),
        ("http/0.9 version", b"GET / HTTP/0.9\r\n\r\n", Want::Status(505)),
        ("http/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Want::Status(505)),
        ("http/0.9 no version", b"GET /\r\n\r\n", Want::Status(400)),
        ("http/0.9 judged at the line's CRLF", b"GET /\r\n", Want::Status(400)),
        ("http/2 preface judged at the line's CRLF", b"PRI * HTTP/2.0\r\n", Want::Status(505)),
        ("bad method judged at the line's CRLF", b"BREW / HTTP/1.1\r\n", Want::Status(501)),
        ("valid line still waits for fields", b"GET / HTTP/1.1\r\nHost: h\r\n", Want::Partial),
        ("version lowercase", b"GET / http/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("version garbage", b"GET / HTTP/1.1x\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("version no minor", b"GET / HTTP/2\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("double space", b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("trailing space", b"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", Want::Status(400)),
        ("four parts", b"GET / x HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("only method", b"GET\r\n\r\n", Want::Status(400)),
        ("too many empty lines", [b"\r\n".repeat(MAX_LEADING_EMPTY_LINES + 1), b"GET / HTTP/1.1\r\nHost: h\r\n\r\n".to_vec()].concat().leak(), Want::Status(400)),
        ("most empty lines", [b"\r\n".repeat(MAX_LEADING_EMPTY_LINES), b"GET / HTTP/1.1\r\nHost: h\r\n\r\n".to_vec()].concat().leak(), ok(GET)),
        ("fragment", b"GET /#f HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("bad escape", b"GET /%4 HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("bad escape hex", b"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("non-ascii target", b"GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("backslash target", b"GET /a\\b HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("quote target", b"GET /\"x HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("relative target", b"GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("asterisk with GET", b"GET * HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("authority-form with GET", b"GET example.org:443 HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("connect origin-form", b"CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("connect no port", b"CONNECT example.org HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("connect asterisk", b"CONNECT * HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("absolute ftp", b"GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("absolute empty authority", b"GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("absolute userinfo", b"GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("absolute userinfo password", b"GET http://u:p@h/ HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("absolute bad path", b"GET http://h/a\\b HTTP/1.1\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("absolute without host field", b"GET http://h/ HTTP/1.1\r\n\r\n", Want::Status(400)),
        ("absolute with invalid host field", b"GET http://h/ HTTP/1.1\r\nHost: a b\r\n\r\n", Want::Status(400)),
        ("missing host", b"GET / HTTP/1.1\r\n\r\n", Want::Status(400)),
        ("duplicate host", b"GET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n", Want::Status(400)),
        ("duplicate host 1.0", b"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", Want::Status(400)),
        ("host list", b"GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", Want::Status(400)),
        ("host empty", b"GET / HTTP/1.1\r\nHost:\r\n\r\n", Want::Status(400)),
        ("host userinfo", b"GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", Want::Status(400)),
        ("host slash", b"GET / HTTP/1.1\r\nHost: h/x\r\n\r\n", Want::Status(400)),
        ("host empty label", b"GET / HTTP/1.1\r\nHost: a..b\r\n\r\n", Want::Status(400)),
        ("host dot only", b"GET / HTTP/1.1\r\nHost: .\r\n\r\n", Want::Status(400)),
        ("host empty port", b"GET / HTTP/1.1\r\nHost: h:\r\n\r\n", Want::Status(400)),
        ("host big port", b"GET / HTTP/1.1\r\nHost: h:65536\r\n\r\n", Want::Status(400)),
        ("host max port", b"GET / HTTP/1.1\r\nHost: h:65535\r\n\r\n", ok(GET)),
        ("host two ports", b"GET / HTTP/1.1\r\nHost: h:1:2\r\n\r\n", Want::Status(400)),
        ("host ipv6 unbracketed", b"GET / HTTP/1.1\r\nHost: ::1\r\n\r\n", Want::Status(400)),
        ("host ipv6 bad", b"GET / HTTP/1.1\r\nHost: [::g]\r\n\r\n", Want::Status(400)),
        ("host ipv6 zone", b"GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]\r\n\r\n", Want::Status(400)),
        ("host ipvfuture", b"GET / HTTP/1.1\r\nHost: [v1.x]\r\n\r\n", Want::Status(400)),
        ("host ipv6 unterminated", b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", Want::Status(400)),
        ("host ipv6 garbage after", b"GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", Want::Status(400)),
        ("host label too long", [b"GET / HTTP/1.1\r\nHost: ".to_vec(), b"a".repeat(64), b"\r\n\r\n".to_vec()].concat().leak(), Want::Status(400)),
        ("host label at limit", [b"GET / HTTP/1.1\r\nHost: ".to_vec(), b"a".repeat(63), b".b\r\n\r\n".to_vec()].concat().leak(), ok(Ok { host: Some(Box::leak(format!("{}.b", "a".repeat(63)).into_boxed_str())), ..GET })),
        ("host non-ascii", b"GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n", Want::Status(400)),
    ];
    for (name, input, want) in &rows {
        check(name, input, &Limits::default(), want);
    }
}

/// `request_line` = 32, `field_size` = 16, `fields` = 3.
#[test]
fn limits_at_and_past_the_boundary() {
    // A request line of exactly `n` bytes, and its path.
    let line = |n: usize| format!("GET /{} HTTP/1.1", "a".repeat(n - 14));
    let path = |n: usize| -> &'static str {
        Box::leak(format!("/{}", "a".repeat(n - 14)).into_boxed_str())
    };
    // A field line of exactly `n` bytes.
    let field = |n: usize| format!("X: {}", "a".repeat(n - 3));
    let head =
        |line: String, field: String| format!("{line}\r\nHost: h\r\n{field}\r\n\r\n").into_bytes();
    #[rustfmt::skip]
    let rows: Vec<(&str, Vec<u8>, Want)> = vec![
        ("request line at limit", head(line(32), field(5)), ok(Ok { path: path(32), ..GET })),
        ("request line one over", head(line(33), field(5)), Want::Status(414)),
        ("request line over, no CRLF yet", line(33).into_bytes(), Want::Status(414)),
        ("request line at limit, no CRLF yet", line(32).into_bytes(), Want::Partial),
        ("request line at limit, CR only", (line(32) + "\r").into_bytes(), Want::Partial),
        ("field at limit", head(line(20), field(16)), ok(Ok { path: path(20), ..GET })),
        ("field one over", head(line(20), field(17)), Want::Status(431)),
        ("field over, no CRLF yet", format!("{}\r\nHost: h\r\n{}", line(20), field(17)).into_bytes(), Want::Status(431)),
        ("fields at limit", b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n".to_vec(), ok(GET)),
        ("fields one over", b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n".to_vec(), Want::Status(431)),
        ("fields over, decided at first byte", b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC".to_vec(), Want::Status(431)),
    ];
    for (name, input, want) in &rows {
        check(name, input, &small(), want);
    }
}

/// A head of exactly `max_head()` bytes is accepted; no valid head is longer, and any byte
/// past it is refused.
#[test]
fn max_head_is_exact() {
    let limits = small();
    let mut head = b"\r\n".repeat(MAX_LEADING_EMPTY_LINES);
    head.extend_from_slice(format!("GET /{} HTTP/1.1\r\n", "a".repeat(18)).as_bytes());
    head.extend_from_slice(b"Host: hhhhhhhhhh\r\n");
    head.extend_from_slice(b"A: aaaaaaaaaaaaa\r\n");
    head.extend_from_slice(b"B: bbbbbbbbbbbbb\r\n");
    head.extend_from_slice(b"\r\n");
    assert_eq!(head.len(), limits.max_head());
    match parse_head(&head, &limits) {
        Result::Ok(Parsed::Complete(_, n)) => assert_eq!(n, head.len()),
        other => panic!("max-size head refused: {other:?}"),
    }
    let mut longer = head[..head.len() - 2].to_vec();
    longer.extend_from_slice(b"C");
    assert_eq!(
        parse_head(&longer, &limits).map_err(|e| e.status()),
        Err(431)
    );
}

#[test]
fn header_lookup_is_case_insensitive_and_ordered() {
    let input = b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a:  2 \r\nAccept: */*\r\n\r\n";
    let Result::Ok(Parsed::Complete(req, _)) = parse_head(input, &Limits::default()) else {
        panic!("valid request refused");
    };
    assert_eq!(req.header("x-A"), Some(&b"1"[..]));
    assert_eq!(
        req.header_all("X-a").collect::<Vec<_>>(),
        vec![&b"1"[..], &b"2"[..]]
    );
    assert_eq!(req.header("missing"), None);
    assert_eq!(req.headers[1].0, "X-A", "names are kept as sent");
    assert_eq!(req.headers.len(), 4);
}

#[test]
fn errors_do_not_echo_raw_control_bytes() {
    let err = parse_head(b"G\x1bT / HTTP/1.1\r\n\r\n", &Limits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            HeadError::ControlByte {
                offset: 1,
                byte: 0x1b
            }
        ),
        "{err:?}"
    );
    let err = parse_head(b"GE\xffT / HTTP/1.1\r\n\r\n", &Limits::default()).unwrap_err();
    assert!(
        !err.to_string().contains('\u{fffd}') && err.to_string().contains("\\xff"),
        "{err}"
    );
}
