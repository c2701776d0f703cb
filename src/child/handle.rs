//! After confinement: which handler serves the request (WebDAV, a CGI or FastCGI program, a
//! static file), a program's local redirects (followed in the same process), and the
//! response's filters. Separate from [`serve`](super::serve)'s pipeline because it runs only
//! in a confined process and never decides who is served.

#![forbid(unsafe_code)]

use super::*;

/// What one request came to, for the access log and the connection.
pub(super) struct Handled {
    pub(super) status: u16,
    pub(super) bytes: u64,
    /// The response head's length, when this process wrote it (not a CGI program's).
    pub(super) head_bytes: u64,
    /// The response's header fields, when this process wrote them.
    pub(super) headers_out: Vec<(String, String)>,
    pub(super) keep_alive: bool,
}

/// Most local redirects (a CGI program's `Location: /path`) followed for one request.
const MAX_LOCAL_REDIRECTS: usize = 10;

/// Serves one confined request: a CGI program if the URL names one, else the static handler;
/// a program's local redirect is served here too, as GET without a body, in the same process
/// and confinement.
pub(super) fn handle(
    proof: &Confined,
    cx: &handler::cgi::Context,
    conn: &mut Conn,
    req: &Request,
    same_identity: &mut dyn FnMut(&Request) -> bool,
) -> Handled {
    use handler::cgi::{self, Lookup};
    let (cfg, vhost) = (cx.cfg, cx.vhost);
    let mut redirected: Option<Request> = None;
    let mut may_keep_alive = cx.may_keep_alive;
    // Set once an ErrorDocument is being served (see `errordoc`).
    let mut cx_now = handler::cgi::Context { ..*cx };
    let fields: &[(std::borrow::Cow<'static, str>, String)] = &[];
    // The request an error document stands in for, kept for its REDIRECT_* variables.
    let original = std::cell::OnceCell::new();
    // An error page under ErrorDocument: sent, or followed by internal redirect in this
    // identity (once: a failing document gives way to the built-in page).
    macro_rules! answer {
        ($req:expr, $keep:expr, $resp:expr) => {{
            let (req_now, keep_now, resp_now): (&Request, bool, Response) = ($req, $keep, $resp);
            let docs = match cx_now.error {
                Some(_) => Vec::new(),
                None => crate::config::request::request_conf(vhost, req_now).1.error_documents,
            };
            match errordoc::page(&docs, resp_now) {
                errordoc::Page::Send(r) => return respond_static(&cx_now, conn, req_now, keep_now, r),
                errordoc::Page::Redirect { url, status, page } => {
                    let next = errordoc::request(req_now, &url);
                    if !same_identity(&next) {
                        log::warn!(
                            "[{}] ErrorDocument {status} {url} for {} not served: it is not admitted in this process's identity; sending the built-in page",
                            vhost.server_name(),
                            req_now.path
                        );
                        return respond_static(&cx_now, conn, req_now, keep_now, page);
                    }
                    let fate = body::discard(conn, req_now, cfg.limits.body, body::BodyPace::of(cfg));
                    may_keep_alive = keep_now && fate == BodyFate::Clean;
                    cx_now.error = Some(errordoc::Original {
                        status,
                        req: original.get_or_init(|| req_now.clone()),
                        fields,
                    });
                    cx_now.may_keep_alive = may_keep_alive;
                    redirected = Some(next);
                    continue;
                }
            }
        }};
    }
    for _ in 0..=MAX_LOCAL_REDIRECTS {
        let cur = redirected.as_ref().unwrap_or(req);
        if let Some(done) = webdav(proof, &cx_now, conn, cur, may_keep_alive, same_identity) {
            return done;
        }
        let routed = route::route(&cur.path).ok().filter(|_| cur.target != "*");
        // HOOK(fcgi): ProxyPass/ProxyPassMatch and SetHandler proxy: come before CGI, as
        // mod_proxy's translate_name and a SetHandler come before mod_cgi in Apache.
        let fcgi = routed
            .as_ref()
            .map(|r| handler::fcgi::lookup(vhost, r, &r.decoded_path()));
        let gateway = match fcgi {
            Some(handler::fcgi::Lookup::Fcgi(t)) => Some(Gateway::Fcgi(t)),
            Some(handler::fcgi::Lookup::Refused(status)) => {
                answer!(cur, false, Response::error(status))
            }
            Some(handler::fcgi::Lookup::NotFcgi) | None => None,
        };
        let found = match (&gateway, &routed) {
            (None, Some(r)) if vhost.cgi_enabled() => cgi::lookup(cfg, vhost, r, &cur.path),
            _ => Lookup::NotCgi,
        };
        // mod_dir keeps the query string on its internal redirect to the index.
        let with_query = |url: String| match &cur.query {
            Some(q) => format!("{url}?{q}"),
            None => url,
        };
        let gateway = match (gateway, found) {
            (Some(g), _) => Ok(g),
            (None, Lookup::Script(s)) => Ok(Gateway::Cgi(s)),
            (None, other) => Err(other),
        };
        let location = match gateway {
            Ok(g) => match run_script(proof, &cx_now, conn, cur, may_keep_alive, g) {
                Ok(done) => return done,
                Err((location, keep)) => {
                    may_keep_alive = keep;
                    location
                }
            },
            Err(Lookup::NotCgi) => match dispatch(proof, &cfg.mime.types, vhost, cur) {
                Served::Response(resp) => answer!(cur, may_keep_alive, resp),
                Served::Index(url) => match drain_before_redirect(&cx_now, conn, cur) {
                    Ok(clean) => {
                        may_keep_alive &= clean;
                        with_query(url)
                    }
                    Err(refused) => return refused,
                },
            },
            Err(Lookup::Refused(status)) => answer!(cur, false, Response::error(status)),
            Err(Lookup::Index(url)) => match drain_before_redirect(&cx_now, conn, cur) {
                Ok(clean) => {
                    may_keep_alive &= clean;
                    with_query(url)
                }
                Err(refused) => return refused,
            },
            // Taken as a gateway above.
            Err(Lookup::Script(_)) => answer!(cur, false, Response::error(500)),
        };
        let next = local_redirect(cur, &location);
        if !same_identity(&next) {
            log::warn!(
                "[{}] local redirect from {} to {location} refused: it is not admitted in this process's identity",
                vhost.server_name(),
                cur.path
            );
            return respond_static(&cx_now, conn, &next, false, Response::error(403));
        }
        redirected = Some(next);
    }
    log::error!(
        "[{}] more than {MAX_LOCAL_REDIRECTS} local redirects for {}",
        vhost.server_name(),
        req.target
    );
    respond_static(cx, conn, req, false, Response::error(500))
}

/// What runs a request: a CGI program, or a FastCGI backend.
enum Gateway {
    Cgi(handler::cgi::Script),
    Fcgi(Box<handler::fcgi::Target>),
}

/// A request in a `Dav On` tree with a method WebDAV answers (docs/webdav.md); `None` for
/// everything else (GET, HEAD and POST there go to the static and CGI handlers).
fn webdav(
    proof: &Confined,
    cx: &handler::cgi::Context,
    conn: &mut Conn,
    req: &Request,
    may_keep_alive: bool,
    same_identity: &mut dyn FnMut(&Request) -> bool,
) -> Option<Handled> {
    if !crate::dav::handles(req.method) || req.target == "*" {
        return None;
    }
    let r = route::route(&req.path).ok()?;
    let (root, rel) = crate::dav::locate(cx.vhost, &r, &req.path)?;
    let dcx = crate::dav::Cx {
        cfg: cx.cfg,
        vhost: cx.vhost,
        user: cx.user,
        root,
        rel,
    };
    let out = crate::dav::serve(proof, &dcx, conn, req, same_identity);
    // A body the handler read to its end is gone from the connection.
    let rest = if out.body_read {
        Request {
            body: crate::http::request::Body::None,
            expect_continue: false,
            ..req.clone()
        }
    } else {
        req.clone()
    };
    Some(respond_static(cx, conn, &rest, may_keep_alive, out.resp))
}

/// Runs a program or a FastCGI request; `Err((location, may_keep_alive))` when it answered
/// with a local redirect.
fn run_script(
    proof: &Confined,
    cx: &handler::cgi::Context,
    conn: &mut Conn,
    cur: &Request,
    may_keep_alive: bool,
    gateway: Gateway,
) -> Result<Handled, (String, bool)> {
    let cfg = cx.cfg;
    let mut body = match body::BodyReader::new(cur, cfg.limits.body, body::BodyPace::of(cfg)) {
        Ok(b) => b,
        Err(e) => {
            return Ok(respond_static(
                cx,
                conn,
                cur,
                false,
                Response::error(e.status()),
            ))
        }
    };
    let run_cx = handler::cgi::Context {
        may_keep_alive,
        ..*cx
    };
    let out = match gateway {
        Gateway::Cgi(script) => handler::cgi::run(proof, &run_cx, conn, cur, &mut body, script),
        Gateway::Fcgi(t) => handler::fcgi::run(proof, &run_cx, conn, cur, &mut body, *t),
    };
    match out.local_redirect {
        Some(location) => Err((location, out.keep_alive)),
        None => Ok(Handled {
            status: out.status,
            bytes: out.body_bytes,
            head_bytes: 0,
            headers_out: Vec::new(),
            keep_alive: out.keep_alive,
        }),
    }
}

/// The request a program's `Location: /path?query` asks for: GET (HEAD stays HEAD), no body.
fn local_redirect(orig: &Request, location: &str) -> Request {
    let (path, query) = match location.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (location.to_string(), None),
    };
    const BODY_FIELDS: &[&str] = &[
        "content-length",
        "content-type",
        "transfer-encoding",
        "expect",
    ];
    Request {
        method: if orig.method == Method::Head {
            Method::Head
        } else {
            Method::Get
        },
        target: location.to_string(),
        path,
        query,
        headers: orig
            .headers
            .iter()
            .filter(|(n, _)| !BODY_FIELDS.iter().any(|f| n.eq_ignore_ascii_case(f)))
            .cloned()
            .collect(),
        body: crate::http::request::Body::None,
        expect_continue: false,
        ..orig.clone()
    }
}

/// The body of a request about to be redirected internally to its DirectoryIndex (which is
/// asked for by GET, without it): drained so the connection stays in step. `Ok(true)` when the
/// connection may be kept, `Err` with the answer when the body itself is refused.
fn drain_before_redirect(
    cx: &handler::cgi::Context,
    conn: &mut Conn,
    req: &Request,
) -> Result<bool, Handled> {
    match body::discard(conn, req, cx.cfg.limits.body, body::BodyPace::of(cx.cfg)) {
        BodyFate::Clean => Ok(true),
        BodyFate::CloseAfter => Ok(false),
        BodyFate::Reject(status) => {
            let bodyless = Request {
                body: crate::http::request::Body::None,
                ..req.clone()
            };
            Err(respond_static(
                cx,
                conn,
                &bodyless,
                false,
                Response::error(status),
            ))
        }
    }
}

/// Answers with `resp` after dealing with the body the handler did not want.
fn respond_static(
    cx: &handler::cgi::Context,
    conn: &mut Conn,
    req: &Request,
    may_keep_alive: bool,
    resp: Response,
) -> Handled {
    let fate = body::discard(conn, req, cx.cfg.limits.body, body::BodyPace::of(cx.cfg));
    let resp = match fate {
        BodyFate::Reject(status) => Response::error(status),
        BodyFate::Clean | BodyFate::CloseAfter => resp,
    };
    let resp = match &cx.error {
        Some(orig) => errordoc::as_original(orig, resp),
        None => resp,
    };
    let conf = crate::config::request::request_conf(cx.vhost, req).1;
    let resp = resp.with_rules(&conf.headers);
    let resp = filters::apply(resp, &conf, req, std::time::SystemTime::now());
    let keep_alive =
        fate == BodyFate::Clean && may_keep_alive && resp.status < 500 && resp.status != 400;
    let status = resp.status;
    let mut headers_out: Vec<(String, String)> = resp
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    if status != 304 {
        headers_out.push(("Content-Length".into(), resp.body.len().to_string()));
    }
    let sent = response::write(
        &mut conn.stream,
        resp,
        req.method == Method::Head,
        keep_alive,
    );
    Handled {
        status,
        bytes: sent.as_ref().map(|s| s.body_bytes).unwrap_or(0),
        head_bytes: sent.as_ref().map(|s| s.head_bytes).unwrap_or(0),
        headers_out,
        keep_alive: keep_alive && sent.is_ok(),
    }
}

/// Routes a confined request to the static handler.
fn dispatch(
    proof: &Confined,
    types: &crate::http::mime::Types,
    vhost: &VHost,
    req: &Request,
) -> Served {
    let answer = |r: Response| Served::Response(r);
    // Apache's default handler: POST is answered as GET (the body is drained, never read into
    // anything: `respond_static`), other methods 405 with what the handler allows.
    const ALLOW: &str = "GET, HEAD, POST, OPTIONS";
    match req.method {
        Method::Get | Method::Head | Method::Post => {}
        Method::Options => return answer(Response::new(200).header("Allow", ALLOW)),
        _ => return answer(Response::error(405).header("Allow", ALLOW)),
    }
    if req.target == "*" {
        return answer(Response::error(400));
    }
    match route::route(&req.path) {
        Ok(r) => handler::static_file::serve(proof, types, vhost, &r, req),
        Err(e) => answer(Response::error(e.status())),
    }
}
