//! mod_proxy_fcgi's configuration (README "FastCGI", docs/fastcgi.md): `SetHandler
//! "proxy:unix:/path.sock|fcgi://localhost"` in any scope, `ProxyPass URL-PREFIX BACKEND` and
//! `ProxyPassMatch REGEX BACKEND` (server and vhost), `ProxyFCGIBackendType FPM|GENERIC` and
//! `ProxyTimeout SECONDS`. Only FastCGI backends: any other scheme is refused (this server is
//! not an HTTP proxy). Pure: arguments in, values out.
//!
//! A unix socket path may name the admitted identity: `%{ONESHOT_USER}` (the authenticated
//! user) and `%{ONESHOT_UNIX_USER}` (the unix user the request was confined to), so one line
//! serves every user's own pool.
#![forbid(unsafe_code)]

use super::model::Origin;
use std::net::SocketAddr;
use std::time::Duration;

/// The variables a socket path may hold.
pub const VARIABLES: &[&str] = &["%{ONESHOT_USER}", "%{ONESHOT_UNIX_USER}"];

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Socket {
    /// An absolute path, possibly with [`VARIABLES`].
    Unix(String),
    Tcp(SocketAddr),
}

/// A FastCGI application: where it listens and the path part of its `fcgi://` URL.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Backend {
    pub socket: Socket,
    /// `fcgi://HOST[:PORT]` as written (for GENERIC's SCRIPT_FILENAME and log lines).
    pub authority: String,
    /// The path after the authority (`/srv/site/`), `""` when none.
    pub path: String,
    pub origin: Origin,
}

impl Backend {
    /// How log lines name it.
    pub fn describe(&self) -> String {
        match &self.socket {
            Socket::Unix(p) => format!("unix:{p}|{}{}", self.authority, self.path),
            Socket::Tcp(_) => format!("{}{}", self.authority, self.path),
        }
    }
}

/// `ProxyPass` (a URL prefix) or `ProxyPassMatch` (a regular expression on the URL path).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Pattern {
    /// Kept as written; matched on a segment boundary unless it ends in `/`.
    Prefix(String),
    Regex(String),
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProxyRule {
    pub pattern: Pattern,
    pub backend: Backend,
}

/// `ProxyFCGIBackendType`: what SCRIPT_FILENAME looks like (Apache's default is FPM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum BackendType {
    /// php-fpm: SCRIPT_FILENAME is the path alone.
    #[default]
    Fpm,
    /// SCRIPT_FILENAME is `proxy:fcgi://HOST/PATH`, as Apache sends it.
    Generic,
}

/// `SetHandler` in a scope.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SetHandler {
    /// `SetHandler none`: no handler here (undoes an enclosing one).
    None,
    Fcgi(Backend),
}

/// A vhost's FastCGI settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct FcgiSettings {
    /// The main server's rules, then the vhost's (Apache's merge order); first match wins.
    pub rules: Vec<ProxyRule>,
    pub backend_type: BackendType,
    /// `ProxyTimeout`; `None`: `Timeout`.
    pub timeout: Option<Duration>,
}

/// While reading: `None` = not set at this level.
#[derive(Debug, Clone, Default)]
pub struct FcgiDraft {
    rules: Vec<ProxyRule>,
    backend_type: Option<BackendType>,
    timeout: Option<Duration>,
}

impl FcgiDraft {
    pub fn resolve(server: &FcgiDraft, vhost: &FcgiDraft) -> FcgiSettings {
        let mut rules = server.rules.clone();
        rules.extend(vhost.rules.iter().cloned());
        FcgiSettings {
            rules,
            backend_type: vhost
                .backend_type
                .or(server.backend_type)
                .unwrap_or_default(),
            timeout: vhost.timeout.or(server.timeout),
        }
    }

    /// Applies directive `name` (lowercase). `None` = not ours.
    pub fn directive(
        &mut self,
        name: &str,
        args: &[String],
        origin: &Origin,
    ) -> Option<Result<(), String>> {
        let r = match (name, args) {
            ("proxypass" | "proxypassmatch", [pattern, url, rest @ ..]) => {
                if !rest.is_empty() {
                    return Some(Err(format!(
                        "{}: key=value parameters are not supported (got '{}')",
                        display(name),
                        rest.join(" ")
                    )));
                }
                let pattern = if name == "proxypass" {
                    if !pattern.starts_with('/') {
                        return Some(Err(format!(
                            "ProxyPass: '{pattern}' is not a URL path (starts with '/')"
                        )));
                    }
                    Pattern::Prefix(pattern.clone())
                } else {
                    if let Err(e) = regex::Regex::new(pattern) {
                        return Some(Err(format!("ProxyPassMatch: bad regular expression: {e}")));
                    }
                    Pattern::Regex(pattern.clone())
                };
                parse_backend(display(name), url, origin).map(|backend| {
                    self.rules.push(ProxyRule { pattern, backend });
                })
            }
            ("proxypass" | "proxypassmatch", _) => Err(format!(
                "{} takes a URL path (or regular expression) and a fcgi:// or unix:...|fcgi:// URL",
                display(name)
            )),
            ("proxyfcgibackendtype", [t]) => match t.to_ascii_uppercase().as_str() {
                "FPM" => {
                    self.backend_type = Some(BackendType::Fpm);
                    Ok(())
                }
                "GENERIC" => {
                    self.backend_type = Some(BackendType::Generic);
                    Ok(())
                }
                _ => Err(format!(
                    "ProxyFCGIBackendType must be FPM or GENERIC, not '{t}'"
                )),
            },
            ("proxyfcgibackendtype", _) => Err("ProxyFCGIBackendType takes FPM or GENERIC".into()),
            ("proxytimeout", [t]) => match t.parse::<u64>() {
                Ok(s) if s > 0 => {
                    self.timeout = Some(Duration::from_secs(s));
                    Ok(())
                }
                _ => Err(format!(
                    "ProxyTimeout: '{t}' is not a number of seconds (1 or more)"
                )),
            },
            ("proxytimeout", _) => Err("ProxyTimeout takes a number of seconds".into()),
            _ => return None,
        };
        Some(r)
    }

    /// TCP ports of this level's backends (Landlock's connect rules must allow them).
    pub fn tcp_ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.rules.iter().filter_map(|r| r.backend.tcp_port())
    }
}

impl Backend {
    /// The directory a unix socket is in, up to the first variable: a private tmpfs must not
    /// hide it from the children.
    pub fn socket_dir(&self) -> Option<std::path::PathBuf> {
        let Socket::Unix(t) = &self.socket else {
            return None;
        };
        let fixed = t.split("%{").next().unwrap_or(t);
        let dir = &fixed[..fixed.rfind('/').unwrap_or(0)];
        Some(std::path::PathBuf::from(if dir.is_empty() {
            "/"
        } else {
            dir
        }))
    }

    pub fn tcp_port(&self) -> Option<u16> {
        match self.socket {
            Socket::Tcp(a) => Some(a.port()),
            Socket::Unix(_) => None,
        }
    }
}

fn display(name: &str) -> &'static str {
    match name {
        "proxypass" => "ProxyPass",
        "proxypassmatch" => "ProxyPassMatch",
        _ => "SetHandler",
    }
}

/// `SetHandler proxy:...`'s argument without `proxy:`, or a ProxyPass URL:
/// `unix:/PATH|fcgi://HOST[/PATH]` or `fcgi://IP:PORT[/PATH]`.
pub fn parse_backend(what: &str, url: &str, origin: &Origin) -> Result<Backend, String> {
    let not_fcgi = || {
        format!(
            "{what}: '{url}' is not a FastCGI backend: write unix:/path.sock|fcgi://localhost[/PATH] \
             or fcgi://127.0.0.1:PORT[/PATH] (oneshot-httpd is not an HTTP proxy)"
        )
    };
    let (unix, fcgi) = match url.split_once('|') {
        Some((u, f)) => (
            Some(
                u.strip_prefix("unix:")
                    .or_else(|| u.strip_prefix("UNIX:"))
                    .ok_or_else(not_fcgi)?,
            ),
            f,
        ),
        None => (None, url),
    };
    let rest = fcgi
        .strip_prefix("fcgi://")
        .or_else(|| fcgi.strip_prefix("FCGI://"))
        .ok_or_else(not_fcgi)?;
    let (host, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if host.is_empty() {
        return Err(format!("{what}: '{url}': no host after fcgi://"));
    }
    let socket = match unix {
        Some(p) => {
            check_socket_path(p).map_err(|m| format!("{what}: {m}"))?;
            Socket::Unix(p.to_string())
        }
        None => {
            let addr: SocketAddr = host.parse().map_err(|_| {
                format!(
                    "{what}: '{host}' is not IP:PORT (a TCP FastCGI backend is named by address, \
                     e.g. fcgi://127.0.0.1:9000/; names are not resolved)"
                )
            })?;
            Socket::Tcp(addr)
        }
    };
    Ok(Backend {
        socket,
        authority: format!("fcgi://{host}"),
        path: path.to_string(),
        origin: origin.clone(),
    })
}

/// An absolute path whose only `%{...}` are [`VARIABLES`], each a whole path component or
/// part of one (never able to add a `/`: values are checked when substituted).
fn check_socket_path(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err(format!("socket path '{p}' is not absolute"));
    }
    let mut rest = p;
    while let Some(i) = rest.find("%{") {
        let tail = &rest[i..];
        match VARIABLES.iter().find(|v| tail.starts_with(**v)) {
            Some(v) => rest = &tail[v.len()..],
            None => {
                return Err(format!(
                    "socket path '{p}': unknown variable at '{tail}' (known: {})",
                    VARIABLES.join(", ")
                ))
            }
        }
    }
    // sun_path holds 108 bytes with its NUL; names may lengthen it, checked again at connect.
    if p.len() > 107 {
        return Err(format!("socket path '{p}' is longer than 107 bytes"));
    }
    Ok(())
}

/// `SetHandler` in a scope: `Some` for a FastCGI handler or `none`; `None`: not a proxy
/// handler (the caller treats the other values).
pub fn parse_set_handler(arg: &str, origin: &Origin) -> Option<Result<SetHandler, String>> {
    if arg.eq_ignore_ascii_case("none") {
        return Some(Ok(SetHandler::None));
    }
    let url = arg
        .strip_prefix("proxy:")
        .or_else(|| arg.strip_prefix("PROXY:"))?;
    Some(parse_backend("SetHandler", url, origin).map(SetHandler::Fcgi))
}

/// The socket path for a request: the template with its variables replaced. A value that is
/// empty, `.`/`..` or holds `/` or NUL is refused (it could name another directory).
pub fn socket_path(
    template: &str,
    user: Option<&str>,
    unix_user: Option<&str>,
) -> Result<String, String> {
    let mut out = template.to_string();
    for (var, value) in [
        ("%{ONESHOT_USER}", user),
        ("%{ONESHOT_UNIX_USER}", unix_user),
    ] {
        if !out.contains(var) {
            continue;
        }
        let v = value.ok_or_else(|| format!("{var}: no such identity for this request"))?;
        if v.is_empty() || v == "." || v == ".." || v.contains('/') || v.contains('\0') {
            return Err(format!("{var}: '{v}' cannot be part of a path"));
        }
        out = out.replace(var, v);
    }
    Ok(out)
}

/// Where a `ProxyPass`/`ProxyPassMatch` rule sends `url_path` (decoded): the backend path
/// (Apache: `$N` replaced by the match's groups; without any `$N` the URL path is appended;
/// a prefix rule replaces the prefix). `None`: the rule does not match.
pub fn rule_target(rule: &ProxyRule, url_path: &str) -> Option<String> {
    let base = &rule.backend.path;
    match &rule.pattern {
        Pattern::Prefix(p) => {
            let rest = url_path.strip_prefix(p.as_str())?;
            // `/app` matches `/app` and `/app/x`, not `/apple`.
            if !(p.ends_with('/') || rest.is_empty() || rest.starts_with('/')) {
                return None;
            }
            Some(format!("{base}{rest}"))
        }
        Pattern::Regex(r) => {
            let re = regex::Regex::new(r).ok()?;
            let caps = re.captures(url_path)?;
            if base.contains('$') {
                let mut out = String::new();
                caps.expand(&base.replace("$$", "\u{0}"), &mut out);
                Some(out.replace('\u{0}', "$"))
            } else {
                Some(format!("{base}{url_path}"))
            }
        }
    }
}

/// The handler of the rows `ProxyPass`, `ProxyPassMatch`, `ProxyFCGIBackendType` and
/// `ProxyTimeout` in [`super::directives::TABLE`].
pub(super) fn row(
    b: &mut super::build::Builder,
    n: &super::parse::Node,
    v: &mut super::build::VHostDraft,
) {
    let at = Origin {
        file: n.file.clone(),
        line: n.line,
    };
    if let Some(Err(m)) = v.fcgi.directive(&n.name.to_ascii_lowercase(), &n.args, &at) {
        b.error(n, m);
    }
}

/// The handler of `SetHandler`: `proxy:...` and `none` here, the other values in `build`.
pub(super) fn set_handler_row(
    b: &mut super::build::Builder,
    n: &super::parse::Node,
    d: &mut super::model::DirConf,
) {
    let at = Origin {
        file: n.file.clone(),
        line: n.line,
    };
    match n.args.first().and_then(|a| parse_set_handler(a, &at)) {
        Some(Ok(h)) => d.set_handler = Some(h),
        Some(Err(m)) => b.error(n, m),
        None => super::build::h::set_handler(b, n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Origin {
        Origin {
            file: "t.conf".into(),
            line: 1,
        }
    }

    #[test]
    fn backends_table() {
        for (url, want) in [
            (
                "unix:/run/php/a.sock|fcgi://localhost",
                Ok((
                    Socket::Unix("/run/php/a.sock".into()),
                    "fcgi://localhost",
                    "",
                )),
            ),
            (
                "unix:/run/php/%{ONESHOT_UNIX_USER}.sock|fcgi://localhost/srv/site/",
                Ok((
                    Socket::Unix("/run/php/%{ONESHOT_UNIX_USER}.sock".into()),
                    "fcgi://localhost",
                    "/srv/site/",
                )),
            ),
            (
                "fcgi://127.0.0.1:9000/srv/app/",
                Ok((
                    Socket::Tcp("127.0.0.1:9000".parse().unwrap()),
                    "fcgi://127.0.0.1:9000",
                    "/srv/app/",
                )),
            ),
            ("http://127.0.0.1/", Err("not a FastCGI backend")),
            ("fcgi://localhost:9000/", Err("not IP:PORT")),
            ("unix:run/php.sock|fcgi://localhost", Err("not absolute")),
            (
                "unix:/run/%{HOME}.sock|fcgi://localhost",
                Err("unknown variable"),
            ),
            (
                "unix:/run/a.sock|http://localhost",
                Err("not a FastCGI backend"),
            ),
            ("fcgi:///x", Err("no host")),
        ] {
            let got = parse_backend("ProxyPass", url, &at());
            match (got, want) {
                (Ok(b), Ok((s, a, p))) => {
                    assert_eq!((b.socket, b.authority.as_str(), b.path.as_str()), (s, a, p))
                }
                (Err(m), Err(w)) => assert!(m.contains(w), "{url}: {m}"),
                (got, want) => panic!("{url}: {got:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn targets_table() {
        let rule = |pattern: Pattern, path: &str| ProxyRule {
            pattern,
            backend: Backend {
                socket: Socket::Unix("/s".into()),
                authority: "fcgi://localhost".into(),
                path: path.into(),
                origin: at(),
            },
        };
        let re = |r: &str| Pattern::Regex(r.into());
        let pre = |p: &str| Pattern::Prefix(p.into());
        for (r, url, want) in [
            // Apache: without $N the URL path is appended.
            (
                rule(re(r"^/(.*\.php)$"), "/srv/site/"),
                "/x.php",
                Some("/srv/site//x.php"),
            ),
            (
                rule(re(r"^/(.*\.php)$"), "/srv/site/$1"),
                "/a/x.php",
                Some("/srv/site/a/x.php"),
            ),
            (rule(re(r"^/(.*\.php)$"), "/srv/site/$1"), "/x.html", None),
            (
                rule(pre("/app/"), "/srv/app/"),
                "/app/x.php",
                Some("/srv/app/x.php"),
            ),
            (
                rule(pre("/app"), "/srv/app"),
                "/app/x.php",
                Some("/srv/app/x.php"),
            ),
            (rule(pre("/app"), "/srv/app"), "/apple", None),
            (rule(pre("/"), "/srv/"), "/i.php", Some("/srv/i.php")),
        ] {
            assert_eq!(
                rule_target(&r, url).as_deref(),
                want,
                "{:?} {url}",
                r.pattern
            );
        }
    }

    #[test]
    fn socket_paths_table() {
        let t = "/run/php/%{ONESHOT_UNIX_USER}.sock";
        assert_eq!(
            socket_path(t, None, Some("alice")).unwrap(),
            "/run/php/alice.sock"
        );
        assert!(socket_path(t, Some("alice"), None).is_err());
        assert!(socket_path(t, None, Some("../x")).is_err());
        assert!(socket_path(t, None, Some("..")).is_err());
        assert!(socket_path("/run/%{ONESHOT_USER}/s", Some("a/b"), None).is_err());
        assert_eq!(
            socket_path("/run/%{ONESHOT_USER}/s", Some("bob"), None).unwrap(),
            "/run/bob/s"
        );
        assert_eq!(socket_path("/run/s", None, None).unwrap(), "/run/s");
    }

    #[test]
    fn directives_table() {
        let mut d = FcgiDraft::default();
        let a = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert!(d.directive("proxytimeout", &a("5"), &at()).unwrap().is_ok());
        assert!(d
            .directive("proxytimeout", &a("0"), &at())
            .unwrap()
            .is_err());
        assert!(d
            .directive("proxyfcgibackendtype", &a("generic"), &at())
            .unwrap()
            .is_ok());
        assert!(d
            .directive(
                "proxypassmatch",
                &a("^/(.*\\.php$ fcgi://127.0.0.1:9000/"),
                &at()
            )
            .unwrap()
            .unwrap_err()
            .contains("regular expression"));
        assert!(d
            .directive("proxypass", &a("/x http://127.0.0.1/"), &at())
            .unwrap()
            .unwrap_err()
            .contains("not an HTTP proxy"));
        assert!(d
            .directive("proxypass", &a("/x fcgi://127.0.0.1:9000/ retry=0"), &at())
            .unwrap()
            .is_err());
        assert!(d
            .directive("proxypass", &a("/x fcgi://127.0.0.1:9000/"), &at())
            .unwrap()
            .is_ok());
        assert!(d.directive("alias", &a("/x /y"), &at()).is_none());
        let s = FcgiDraft::resolve(&FcgiDraft::default(), &d);
        assert_eq!(s.backend_type, BackendType::Generic);
        assert_eq!(s.timeout, Some(Duration::from_secs(5)));
        assert_eq!(d.tcp_ports().collect::<Vec<_>>(), vec![9000]);
    }
}
