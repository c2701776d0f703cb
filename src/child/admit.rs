//! Stage: admission, made for **every** request on a connection (invariant I1), pipelined or
//! sequential: virtual host → per-directory configuration (`<Directory>`/`<Location>` merge)
//! → the `.ht*` rule → `Require` → authentication when `Require` asks for a user → `Require`
//! again with the user → identity (map rule, else vhost default, else refuse).
//!
//! Pure but for the password check, which goes through [`CheckCredentials`]: the connection's
//! verifier channel in the child, a table in the tests. Nothing here looks at what the process
//! is confined to; the caller compares the admitted identity with it and closes the connection
//! when they differ (the client then retries on a fresh child).
#![forbid(unsafe_code)]

use super::decide::{self, Identity};
use super::vhost;
use crate::auth::{self, Access};
use crate::config::request::{self, request_conf};
use crate::config::{AuthProvider, Config, DirConf, VHost, VerifierSource};
use crate::http::request::Request;
use crate::http::route;
use std::net::SocketAddr;
use std::path::PathBuf;

/// What the password check said about one user/password pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Valid,
    /// The user exists in the file; the password is wrong.
    Mismatch,
    /// The user is not in the file.
    UnknownUser,
    /// The verifier cannot answer now (503, never a grant).
    Unavailable(String),
    /// This process can no longer ask (its verifier channel was closed at confinement) and has
    /// not verified these exact credentials before.
    CannotAsk,
}

/// The password check admission needs. `authorization` is the raw header, so an implementation
/// may answer a byte-identical header it already verified on this connection without asking.
pub trait CheckCredentials {
    fn check(&mut self, file: u16, authorization: &[u8], user: &str, password: &[u8]) -> Check;
}

/// A request that may be served, and in which identity.
#[derive(Debug)]
pub struct Admitted<'c> {
    pub vhost: &'c VHost,
    pub conf: DirConf,
    /// The authenticated user, None for anonymous.
    pub user: Option<String>,
    pub identity: Identity,
}

/// Why a request is answered with a refusal, in the terms the error log uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// `Require` wants a user and the request has no (usable) Basic credentials: 401, logged
    /// only at debug level (browsers send this first on every protected page).
    NoCredentials { detail: String },
    /// AH01614, an Authorization header of another scheme than Basic: 401.
    WrongScheme,
    /// AH01617: 401.
    PasswordMismatch { user: String },
    /// AH01618: 401.
    UnknownUser { user: String },
    /// AH01630, `Require` denies the client whoever it is (or the `.ht*` rule): 403.
    DeniedByConfiguration { path: PathBuf },
    /// AH01631, the verified user does not satisfy `Require`: 401 (403 with
    /// `AuthzSendForbiddenOnFailure On`).
    UserNotAllowed { user: String },
    /// No map rule and no vhost default: 403.
    NoIdentity {
        user: Option<String>,
        vhost: String,
        why: decide::Refusal,
        maps: Vec<PathBuf>,
    },
    /// The verifier cannot answer: 503.
    VerifierUnavailable(String),
    /// mpm-itk's `MaxClientsVHost`: the vhost (this key) has its limit of connections: 503.
    VHostFull { key: String },
    /// `Require` asks for a user where no way to authenticate one is configured: 500.
    Misconfigured(String),
    /// mod_alias's `Redirect`/`RedirectMatch`, answered before authentication as Apache's
    /// translate_name phase does: a 3xx with this Location, or a 410 (or other status) without.
    Redirected { location: Option<String> },
    /// A TLS connection's request for another vhost than its handshake's (421), or without SNI
    /// where `SSLStrictSNIVHostCheck On` (403).
    Misdirected(vhost::Misdirected),
}

/// A refusal: its status, the Basic realm for a 401, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub realm: Option<String>,
    pub reason: Reason,
    /// `Header` rules of the request's scope (only `always` ones act on a refusal).
    pub headers: Vec<crate::config::header::HeaderRule>,
    /// `ErrorDocument` rows of the request's scope (see `child::errordoc`).
    pub error_documents: Vec<(u16, crate::config::errordoc::ErrorDocument)>,
}

#[derive(Debug)]
pub enum Admission<'c> {
    Admit(Box<Admitted<'c>>),
    Refuse(Box<Refusal>),
    /// This process cannot decide: new credentials after its verifier channel was closed.
    NeedsFreshProcess,
}

/// Admits `req` from `peer`. `current_context` is the worker's SELinux context, from which a
/// mapped target inherits what it does not name (when SELinux is required); `category` is this
/// process's connection category (`selinuxConnectionCategories`), see [`decide::decide`].
pub fn admit<'c>(
    cfg: &'c Config,
    req: &Request,
    peer: SocketAddr,
    creds: &mut dyn CheckCredentials,
    current_context: Option<&str>,
    category: Option<u16>,
    on: vhost::On,
) -> Admission<'c> {
    let mut a = admit_in(cfg, req, peer, creds, current_context, category, on);
    // `Header always` rules act on refusals too (mod_headers' err_headers_out).
    if let (Admission::Refuse(r), Ok(v)) = (&mut a, vhost::select_on(cfg, req.host.as_deref(), on))
    {
        let conf = request_conf(v, req).1;
        r.headers = conf.headers;
        r.error_documents = conf.error_documents;
    }
    a
}

fn admit_in<'c>(
    cfg: &'c Config,
    req: &Request,
    peer: SocketAddr,
    creds: &mut dyn CheckCredentials,
    current_context: Option<&str>,
    category: Option<u16>,
    on: vhost::On,
) -> Admission<'c> {
    let vhost = match vhost::select_on(cfg, req.host.as_deref(), on) {
        Ok(v) => v,
        Err(m @ vhost::Misdirected::OtherVhost { .. }) => {
            return refuse(421, None, Reason::Misdirected(m))
        }
        Err(m @ vhost::Misdirected::NoSni { .. }) => {
            return refuse(403, None, Reason::Misdirected(m))
        }
    };
    if let Some(r) = redirected(vhost, req, on) {
        let location = r.location;
        return refuse(r.status, None, Reason::Redirected { location });
    }
    let (fs_path, conf) = request_conf(vhost, req);
    if is_ht_file(&req.path) {
        return refuse(403, None, Reason::DeniedByConfiguration { path: fs_path });
    }
    let user = match authorize(cfg, &conf, req, peer, creds, &fs_path) {
        Ok(user) => user,
        Err(stop) => return stop,
    };
    let local = super::access_log::local_addr();
    let env = crate::config::setenv::for_request(&conf, peer, local, req);
    let facts = decide::Facts {
        env: &env,
        server_name: vhost.server_name(),
    };
    let identity = decide::decide(
        cfg,
        &conf,
        user.as_deref(),
        peer.ip(),
        current_context,
        category,
        &facts,
    );
    match identity {
        Ok(identity) => Admission::Admit(Box::new(Admitted {
            vhost,
            conf,
            user,
            identity,
        })),
        Err(why) => {
            let maps = [conf.selinux_map.clone(), conf.user_map.clone()]
                .into_iter()
                .flatten()
                .collect();
            refuse(
                403,
                None,
                Reason::NoIdentity {
                    user,
                    vhost: vhost.server_name().to_string(),
                    why,
                    maps,
                },
            )
        }
    }
}

fn refuse<'c>(status: u16, realm: Option<String>, reason: Reason) -> Admission<'c> {
    Admission::Refuse(Box::new(Refusal {
        status,
        realm,
        reason,
        headers: Vec::new(),
        error_documents: Vec::new(),
    }))
}

/// `Require` and, when it asks for one, the user: `Ok(None)` anonymous, `Ok(Some(user))`
/// verified, else the refusal, or `NeedsFreshProcess` when only a fresh process could verify.
fn authorize(
    cfg: &Config,
    conf: &DirConf,
    req: &Request,
    peer: SocketAddr,
    creds: &mut dyn CheckCredentials,
    fs_path: &std::path::Path,
) -> Result<Option<String>, Admission<'static>> {
    let no = |status, realm, reason| Err(refuse(status, realm, reason));
    let ctx = |user| auth::require::Ctx {
        user,
        peer: peer.ip(),
        method: auth::authz::request_method(req.method.as_str()),
        groups: conf
            .auth_group_file
            .as_ref()
            .and_then(|(f, _)| cfg.group_files.get(f)),
    };
    // mod_authz_core: an AuthType with no Require at all is a misconfiguration (500), not
    // the "granted (no directives)" of a scope without either.
    if conf.auth_basic == Some(true) && conf.authz.section.is_none() {
        let why = "AH01627: AuthType configured with no corresponding authorization directives";
        return no(500, None, Reason::Misconfigured(why.into()));
    }
    match auth::evaluate(&conf.authz, &ctx(None)) {
        Access::Granted => return Ok(None),
        Access::Denied => {
            let path = fs_path.to_path_buf();
            return no(403, None, Reason::DeniedByConfiguration { path });
        }
        Access::NeedAuth => {}
    }
    if conf.auth_basic != Some(true) {
        let why = "Require needs a user, but AuthType Basic is not configured here";
        return no(500, None, Reason::Misconfigured(why.into()));
    }
    let sources = match sources(cfg, conf) {
        Ok(s) => s,
        Err(why) => return no(500, None, Reason::Misconfigured(why)),
    };
    let realm = Some(
        conf.auth_name
            .clone()
            .unwrap_or_else(|| "Restricted".into()),
    );
    let Some(header) = req.header("Authorization") else {
        let detail = "no Authorization header".to_string();
        return no(401, realm, Reason::NoCredentials { detail });
    };
    let parsed = match auth::parse_authorization(header) {
        Ok(c) => c,
        Err(auth::BasicError::NotBasic) => return no(401, realm, Reason::WrongScheme),
        Err(e) => {
            let detail = format!("unusable Authorization header: {e}");
            return no(401, realm, Reason::NoCredentials { detail });
        }
    };
    let user = parsed.user.clone();
    // mod_auth_basic: each provider in turn; only "user not found" passes to the next.
    let mut check = Check::UnknownUser;
    for index in sources {
        check = creds.check(index, header, &user, parsed.password());
        if check != Check::UnknownUser {
            break;
        }
    }
    match check {
        Check::Valid => {}
        Check::Mismatch => return no(401, realm, Reason::PasswordMismatch { user }),
        Check::UnknownUser => return no(401, realm, Reason::UnknownUser { user }),
        Check::Unavailable(e) => return no(503, None, Reason::VerifierUnavailable(e)),
        Check::CannotAsk => return Err(Admission::NeedsFreshProcess),
    }
    match auth::evaluate(&conf.authz, &ctx(Some(&user))) {
        Access::Granted => Ok(Some(user)),
        // Apache answers 401 by default, so the browser asks again (perhaps for another
        // user); `AuthzSendForbiddenOnFailure On` makes it 403.
        Access::NeedAuth | Access::Denied if conf.authz_send_forbidden == Some(true) => {
            no(403, None, Reason::UserNotAllowed { user })
        }
        Access::NeedAuth | Access::Denied => no(401, realm, Reason::UserNotAllowed { user }),
    }
}

/// The vhost's first matching Redirect for `req` (matched on the decoded, normalized path),
/// its Location made absolute on the request's scheme and Host.
fn redirected(
    vhost: &VHost,
    req: &Request,
    on: vhost::On,
) -> Option<crate::config::alias::Redirected> {
    if vhost.redirects.is_empty() {
        return None;
    }
    let r = route::route(&req.path).ok()?;
    let scheme = match on {
        vhost::On::Plain => "http",
        vhost::On::Tls { .. } => "https",
    };
    // The Host as sent (port included), when it is a plain host[:port]; else the ServerName.
    let host = req
        .header("Host")
        .and_then(|h| std::str::from_utf8(h).ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b".-:[]".contains(&c))
        })
        .unwrap_or_else(|| vhost.server_name());
    crate::config::alias::redirect(
        &vhost.redirects,
        &request::uri(&r),
        req.query.as_deref(),
        scheme,
        host,
    )
}

/// The verifier's indices of `AuthBasicProvider`'s providers, in order; why not, when one
/// cannot be asked (no `AuthUserFile` for `file`, or a source the load did not register).
fn sources(cfg: &Config, conf: &DirConf) -> Result<Vec<u16>, String> {
    conf.providers()
        .iter()
        .map(|p| match p {
            AuthProvider::File => {
                let Some(file) = conf.auth_user_file.as_ref() else {
                    return Err(
                        "AuthBasicProvider file, but no AuthUserFile is configured here".into(),
                    );
                };
                cfg.verifier_source(VerifierSource::File(file))
                    .ok_or_else(|| {
                        format!(
                            "AuthUserFile {} is not known to the verifier",
                            file.display()
                        )
                    })
            }
            AuthProvider::Pam => {
                let service = conf.pam_service();
                cfg.verifier_source(VerifierSource::Pam(service))
                    .ok_or_else(|| format!("AuthPAMService {service} is not known to the verifier"))
            }
        })
        .collect()
}

/// Apache's stock `<Files ".ht*"> Require all denied`, for every vhost; here any path segment
/// (still percent-encoded: `%2e` for the dot is decoded first) starting with `.ht` is denied, so
/// a file inside a `.ht*` directory is refused as well.
fn is_ht_file(path: &str) -> bool {
    match route::route(path) {
        Ok(r) => r.segments.iter().any(|s| s.starts_with(".ht")),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ht_rule_table() {
        for (path, denied) in [
            ("/.htpasswd", true),
            ("/.htaccess", true),
            ("/sub/.htfoo", true),
            ("/%2ehtpasswd", true),
            ("/.ht/x", true),
            ("/.git/config", false),
            ("/x.htpasswd", false),
            ("/ht", false),
            ("/", false),
        ] {
            assert_eq!(is_ht_file(path), denied, "{path}");
        }
    }
}

#[cfg(test)]
mod table {
    //! Admission as a table: each row is a request and the answer Apache's documentation
    //! (mod_authz_core, mod_auth_basic, mpm-itk's AssignUserID) and the identity rule
    //! (map, else vhost default, else 403) give for it, written by hand.
    use super::*;
    use crate::config::{parse, ResolvedUser};
    use crate::http::request::{Body, Method};
    use std::collections::HashMap;
    use std::path::Path;

    const CONF: &str = r#"
Listen 127.0.0.1:80
Confinement unix landlock
<VirtualHost *:80>
  ServerName a.test
  DocumentRoot /srv/a
  AssignUserID wa wa
  <Location /private>
    AuthType Basic
    AuthName "A private"
    AuthUserFile /pw/a
    Require valid-user
    UserIDMap /maps/a.map
  </Location>
  <Location /bob>
    AuthType Basic
    AuthUserFile /pw/a
    Require user bob
  </Location>
  <Location /bob403>
    AuthType Basic
    AuthUserFile /pw/a
    Require user bob
    AuthzSendForbiddenOnFailure On
  </Location>
  <Location /closed>
    Require all denied
  </Location>
</VirtualHost>
<VirtualHost *:80>
  ServerName nomap.test
  DocumentRoot /srv/n
  UserIDMap /maps/n.map
</VirtualHost>
"#;

    fn config() -> Config {
        let nodes = parse::parse(CONF, Path::new("/etc/t.conf")).unwrap();
        let mut cfg = crate::config::build::build(&nodes, Path::new("/etc/t.conf"))
            .unwrap_or_else(|e| panic!("{e:?}"));
        cfg.password_files = vec!["/pw/a".into()];
        let unix = |t: &str| crate::policy::parse_unix_target(t);
        cfg.user_maps.insert(
            "/maps/a.map".into(),
            crate::policy::parse_map("alice alice\nbob bob\n", unix).unwrap(),
        );
        cfg.user_maps.insert(
            "/maps/n.map".into(),
            crate::policy::parse_map("bob bob\n", unix).unwrap(),
        );
        for (key, uid) in [("wa:wa", 900), ("alice", 901), ("bob", 902)] {
            let u = ResolvedUser {
                uid,
                gid: uid,
                groups: vec![uid],
            };
            cfg.users.insert(key.into(), u);
        }
        cfg
    }

    /// The verifier as a table: header → answer; `closed` turns every header not yet
    /// accepted into `CannotAsk`, as after confinement.
    struct Fake {
        answers: HashMap<Vec<u8>, Check>,
        accepted: Vec<Vec<u8>>,
        closed: bool,
        asked: usize,
    }

    impl CheckCredentials for Fake {
        fn check(&mut self, file: u16, header: &[u8], _: &str, _: &[u8]) -> Check {
            assert_eq!(file, 0);
            if self.accepted.iter().any(|h| h == header) {
                return Check::Valid;
            }
            if self.closed {
                return Check::CannotAsk;
            }
            self.asked += 1;
            let a = self.answers.get(header).cloned().unwrap_or(Check::Mismatch);
            if a == Check::Valid {
                self.accepted.push(header.to_vec());
            }
            a
        }
    }

    fn basic(user_pw: &str) -> Vec<u8> {
        use base64::Engine;
        let b = base64::engine::general_purpose::STANDARD.encode(user_pw);
        format!("Basic {b}").into_bytes()
    }

    fn request(host: &str, path: &str, auth: Option<&str>) -> Request {
        let mut headers = vec![("Host".to_string(), host.as_bytes().to_vec())];
        if let Some(a) = auth {
            headers.push(("Authorization".into(), basic(a)));
        }
        Request {
            method: Method::Get,
            target: path.into(),
            path: path.into(),
            query: None,
            minor_version: 1,
            headers,
            host: Some(host.into()),
            body: Body::None,
            keep_alive: true,
            expect_continue: false,
        }
    }

    /// What a row expects: served as uid (with user), or refused with status and reason kind.
    #[derive(Debug, PartialEq)]
    enum Want {
        Serve(u32, Option<&'static str>),
        Refuse(u16, &'static str),
        Fresh,
    }

    fn outcome(a: Admission) -> Want {
        match a {
            Admission::Admit(a) => {
                let uid = a.identity.unix.as_ref().map(|u| u.uid).unwrap_or(0);
                let user = a.user.map(|u| &*Box::leak(u.into_boxed_str()));
                Want::Serve(uid, user)
            }
            Admission::Refuse(r) => {
                let kind = match r.reason {
                    Reason::NoCredentials { .. } => "none",
                    Reason::WrongScheme => "scheme",
                    Reason::PasswordMismatch { .. } => "mismatch",
                    Reason::UnknownUser { .. } => "unknown",
                    Reason::DeniedByConfiguration { .. } => "denied",
                    Reason::UserNotAllowed { .. } => "not-allowed",
                    Reason::NoIdentity { .. } => "no-identity",
                    Reason::VerifierUnavailable(_) => "unavailable",
                    Reason::Misconfigured(_) => "misconfigured",
                    Reason::Misdirected(_) => "misdirected",
                    Reason::Redirected { .. } => "redirected",
                    Reason::VHostFull { .. } => "vhost-full",
                };
                Want::Refuse(r.status, kind)
            }
            Admission::NeedsFreshProcess => Want::Fresh,
        }
    }

    /// `request_conf`'s merge order as a table: which section's `Require` decides, for
    /// Apache's four groups (Directory, DirectoryMatch, Files, Location), written from
    /// Apache's "How the sections are merged" (and confirmed against apache2 by
    /// tests/apache_sections.rs).
    #[test]
    fn sections_merge_in_apaches_order() {
        let text = r#"
Listen 127.0.0.1:80
DocumentRoot /srv/w
<Directory /srv/w/d>
  Require all denied
</Directory>
<DirectoryMatch ^/srv/w/d/open>
  Require all granted
</DirectoryMatch>
<Directory /srv/w>
  Require all granted
  <Files *.bak>
    Require all denied
  </Files>
</Directory>
<Directory /srv/w/d/open/deep>
  Require all denied
</Directory>
<FilesMatch \.(key|pem)$>
  Require all denied
</FilesMatch>
<Location /pub>
  Require all granted
</Location>
<LocationMatch ^/pub/x\.pem$>
  Require all denied
</LocationMatch>
<Directory ~ ^/srv/w/re/>
  Require all denied
</Directory>
<Files ~ ^\.>
  Require all denied
</Files>
"#;
        let nodes = parse::parse(text, Path::new("/etc/t.conf")).unwrap();
        let cfg = crate::config::build::build(&nodes, Path::new("/etc/t.conf"))
            .unwrap_or_else(|e| panic!("{e:?}"));
        let peer: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        let mut fake = Fake {
            answers: HashMap::new(),
            accepted: vec![],
            closed: false,
            asked: 0,
        };
        use Want::*;
        for (path, want) in [
            ("/a.txt", Serve(0, None)),
            ("/d/a.txt", Refuse(403, "denied")),
            ("/d/", Refuse(403, "denied")),
            // DirectoryMatch after every Directory, even a longer one.
            ("/d/open/a.txt", Serve(0, None)),
            ("/d/open/deep/a.txt", Serve(0, None)),
            ("/d/opener.txt", Serve(0, None)),
            // Files after the directories; Files nested in a Directory apply beneath it.
            ("/x.bak", Refuse(403, "denied")),
            ("/d/open/x.bak", Refuse(403, "denied")),
            ("/tls.key", Refuse(403, "denied")),
            ("/tls.key/", Serve(0, None)),
            ("/.env", Refuse(403, "denied")),
            ("/%2eenv", Refuse(403, "denied")),
            // Location last: it overrides Files; LocationMatch in order after Location.
            ("/pub/x.bak", Serve(0, None)),
            ("/pub/y.pem", Serve(0, None)),
            ("/pub/x.pem", Refuse(403, "denied")),
            ("/pub/%78.pem", Refuse(403, "denied")),
            ("/re/a", Refuse(403, "denied")),
            ("/re", Serve(0, None)),
        ] {
            let got = outcome(admit(
                &cfg,
                &request("a.test", path, None),
                peer,
                &mut fake,
                None,
                None,
                vhost::On::Plain,
            ));
            assert_eq!(got, want, "{path}");
        }
    }

    #[test]
    fn every_request_of_a_connection_is_admitted_on_its_own() {
        let cfg = config();
        let mut fake = Fake {
            answers: HashMap::from([
                (basic("alice:right"), Check::Valid),
                (basic("bob:right"), Check::Valid),
                (basic("carol:right"), Check::Valid),
                (basic("alice:wrong"), Check::Mismatch),
                (basic("zed:x"), Check::UnknownUser),
            ]),
            accepted: vec![],
            closed: false,
            asked: 0,
        };
        let peer: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        use Want::*;
        // One connection, in order: the answers never depend on what came before, except
        // that after `closed` only credentials already accepted can be verified.
        let rows: &[(&str, &str, Option<&str>, Want)] = &[
            ("a.test", "/", None, Serve(900, None)),
            ("a.test", "/private/", None, Refuse(401, "none")),
            (
                "a.test",
                "/private/",
                Some("alice:right"),
                Serve(901, Some("alice")),
            ),
            ("a.test", "/private/", None, Refuse(401, "none")),
            (
                "a.test",
                "/private/",
                Some("alice:wrong"),
                Refuse(401, "mismatch"),
            ),
            ("a.test", "/private/", Some("zed:x"), Refuse(401, "unknown")),
            // In the file but not in the map: the vhost default.
            (
                "a.test",
                "/private/x",
                Some("carol:right"),
                Serve(900, Some("carol")),
            ),
            (
                "a.test",
                "/bob/",
                Some("alice:right"),
                Refuse(401, "not-allowed"),
            ),
            (
                "a.test",
                "/bob403/",
                Some("alice:right"),
                Refuse(403, "not-allowed"),
            ),
            (
                "a.test",
                "/bob/",
                Some("bob:right"),
                Serve(900, Some("bob")),
            ),
            (
                "a.test",
                "/closed/x",
                Some("alice:right"),
                Refuse(403, "denied"),
            ),
            ("a.test", "/closed", None, Refuse(403, "denied")),
            // <Location> sees the decoded, normalized URL (Apache's r->uri): no other spelling
            // of /closed escapes it.
            ("a.test", "/%63losed", None, Refuse(403, "denied")),
            ("a.test", "//closed/x", None, Refuse(403, "denied")),
            ("a.test", "/./closed", None, Refuse(403, "denied")),
            ("a.test", "/x/../closed/", None, Refuse(403, "denied")),
            ("a.test", "/.htpasswd", None, Refuse(403, "denied")),
            (
                "a.test",
                "/private/.htaccess",
                Some("alice:right"),
                Refuse(403, "denied"),
            ),
            ("nomap.test", "/", None, Refuse(403, "no-identity")),
            // No Require there, so the credentials are not even looked at (as Apache):
            // anonymous, and the map has no rule for anonymous.
            (
                "nomap.test",
                "/",
                Some("bob:right"),
                Refuse(403, "no-identity"),
            ),
            ("unknown.test", "/", None, Serve(900, None)),
        ];
        for (host, path, auth, want) in rows {
            let got = outcome(admit(
                &cfg,
                &request(host, path, *auth),
                peer,
                &mut fake,
                None,
                None,
                vhost::On::Plain,
            ));
            assert_eq!(&got, want, "{host} {path} {auth:?}");
        }
        let asked = fake.asked;
        fake.closed = true;
        let after: &[(&str, &str, Option<&str>, Want)] = &[
            (
                "a.test",
                "/private/",
                Some("alice:right"),
                Serve(901, Some("alice")),
            ),
            ("a.test", "/private/", None, Refuse(401, "none")),
            ("a.test", "/private/", Some("alice:wrong"), Fresh),
            ("a.test", "/private/", Some("dave:new"), Fresh),
            (
                "a.test",
                "/closed/",
                Some("dave:new"),
                Refuse(403, "denied"),
            ),
            ("a.test", "/", Some("dave:new"), Serve(900, None)),
        ];
        for (host, path, auth, want) in after {
            let got = outcome(admit(
                &cfg,
                &request(host, path, *auth),
                peer,
                &mut fake,
                None,
                None,
                vhost::On::Plain,
            ));
            assert_eq!(&got, want, "after close: {host} {path} {auth:?}");
        }
        assert_eq!(fake.asked, asked, "nothing asked once closed");
    }
}
