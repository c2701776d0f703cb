//! mod_setenvif's `SetEnvIf`/`SetEnvIfNoCase`/`BrowserMatch`/`BrowserMatchNoCase` and
//! mod_env's `SetEnv`/`UnsetEnv`/`PassEnv`: the request's environment variables, which CGI and FastCGI
//! programs receive (as Apache passes `subprocess_env`). Pure: the rules are parsed here at
//! load, and [`evaluate`] computes a request's variables from its attributes.
//!
//! Order, as Apache: every `SetEnvIf` rule of the merged sections in merge order (the
//! enclosing scope's first), then mod_env's variables on top (it acts in the fixups, after
//! mod_setenvif). `UnsetEnv` removes what `SetEnv` set in an enclosing scope (mod_env's merge),
//! never a `SetEnvIf` variable; here `SetEnv`/`UnsetEnv` apply in merge order (within one
//! section Apache applies the section's `UnsetEnv` before its `SetEnv`, whatever their order). The attributes: `Remote_Addr`, `Remote_Host` (the address: there are
//! no hostname lookups), `Server_Addr`, `Request_Method`, `Request_Protocol`, `Request_URI`
//! (the path as sent, without the query), else a request header of that name, else a variable
//! set by an earlier rule; a missing one matches as the empty string. A value holding `$` is
//! substituted as ap_pregsub does (`$0`..`$9`, and then `&` is the match); one without `$` is
//! taken as written (`agent=&` is `&`, as apache2 answers).
//!
//! What stays: the httpoxy rule (no program ever gets `HTTP_PROXY`, so naming it is an error),
//! and the variables that describe the request: a rule naming a standard meta-variable
//! (`REMOTE_USER`, `PATH`...), an `HTTP_*` or an `SSL_*` one is an error (Apache lets
//! `SetEnvIf ... REMOTE_USER=x` reach an anonymous request's program; here a program can trust
//! them). A program sees a name as Apache's ap_create_environment
//! passes it: every character but letters, digits and `_` becomes `_`, and so does a leading
//! digit (`force-response-1.0` is `force_response_1_0`). Apache's special variables
//! (`nokeepalive`, `downgrade-1.0`...) change nothing here: a line that sets only such
//! variables gets a `-t` warning.
#![forbid(unsafe_code)]

use super::build::Builder;
use super::model::{DirConf, SectionRegex};
use super::parse::Node;

/// What `SetEnvIf` compares its regular expression with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Attribute {
    RemoteAddr,
    ServerAddr,
    RequestMethod,
    RequestProtocol,
    RequestUri,
    /// A request header (case-insensitive), else a variable an earlier rule set.
    Header(String),
}

/// One `[!]VAR[=VALUE]` of a `SetEnvIf` line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Assign {
    /// VALUE with `$N`/`&` still to substitute (`VAR` alone is `VAR=1`).
    Set(String, String),
    Unset(String),
}

/// One rule, in the order written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EnvRule {
    If {
        attribute: Attribute,
        regex: SectionRegex,
        assign: Vec<Assign>,
    },
    Set(String, String),
    Unset(String),
}

impl EnvRule {
    /// Whether this rule can give `var` a value taken from the request (a back-reference).
    pub fn copies_request_into(&self, var: &str) -> bool {
        match self {
            EnvRule::If { assign, .. } => assign.iter().any(|a| match a {
                Assign::Set(n, v) => n.eq_ignore_ascii_case(var) && has_substitution(v),
                Assign::Unset(_) => false,
            }),
            EnvRule::Set(..) | EnvRule::Unset(_) => false,
        }
    }

    /// Why this rule lets the request choose `var`'s value, if it does: a back-reference
    /// copies request text into it, or a header (or an earlier variable) decides whether it is
    /// set. Connection facts and the request line (as `<LocationMatch>` reads it) do not count.
    pub fn request_chooses(&self, var: &str) -> Option<&'static str> {
        let EnvRule::If {
            attribute, assign, ..
        } = self
        else {
            return None;
        };
        if self.copies_request_into(var) {
            return Some("copies request content into it ($N)");
        }
        let sets = assign.iter().any(|a| match a {
            Assign::Set(n, _) | Assign::Unset(n) => n.eq_ignore_ascii_case(var),
        });
        (sets && matches!(attribute, Attribute::Header(_)))
            .then_some("sets it when a request header matches")
    }

    /// Whether this rule names `var` at all.
    pub fn names(&self, var: &str) -> bool {
        match self {
            EnvRule::If { assign, .. } => assign.iter().any(|a| match a {
                Assign::Set(n, _) | Assign::Unset(n) => n == var,
            }),
            EnvRule::Set(n, _) | EnvRule::Unset(n) => n == var,
        }
    }
}

fn has_substitution(v: &str) -> bool {
    v.contains('$') && {
        let b = v.as_bytes();
        b.iter().enumerate().any(|(i, &c)| {
            let escaped = i > 0 && b.get(i - 1) == Some(&b'\\');
            !escaped && (c == b'&' || (c == b'$' && b.get(i + 1).is_some_and(u8::is_ascii_digit)))
        })
    }
}

/// What a request offers the attributes.
#[derive(Debug, Clone, Copy)]
pub struct Attrs<'a> {
    pub remote_addr: &'a str,
    pub server_addr: &'a str,
    pub method: &'a str,
    /// `HTTP/1.1`.
    pub protocol: &'a str,
    /// The path as sent, without the query.
    pub uri: &'a str,
    pub headers: &'a [(String, Vec<u8>)],
}

/// The request's variables after `rules` (merge order), sorted by name.
pub fn evaluate(rules: &[EnvRule], a: &Attrs) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    fn set(env: &mut Vec<(String, String)>, k: &str, v: String) {
        match env.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = v,
            None => env.push((k.to_string(), v)),
        }
    }
    for rule in rules {
        let EnvRule::If {
            attribute,
            regex,
            assign,
        } = rule
        else {
            continue;
        };
        let value = attribute_value(attribute, a, &env);
        let Some(caps) = regex.0.captures(&value) else {
            continue;
        };
        for x in assign {
            match x {
                Assign::Set(k, v) if v.contains('$') => set(&mut env, k, substitute(v, &caps)),
                Assign::Set(k, v) => set(&mut env, k, v.clone()),
                Assign::Unset(k) => env.retain(|(n, _)| n != k),
            }
        }
    }
    let mut mod_env = Vec::new();
    for rule in rules {
        match rule {
            EnvRule::Set(k, v) => set(&mut mod_env, k, v.clone()),
            EnvRule::Unset(k) => mod_env.retain(|(n, _)| n != k),
            EnvRule::If { .. } => {}
        }
    }
    for (k, v) in mod_env {
        set(&mut env, &k, v);
    }
    env.sort();
    env
}

fn attribute_value(attr: &Attribute, a: &Attrs, env: &[(String, String)]) -> String {
    match attr {
        Attribute::RemoteAddr => a.remote_addr.to_string(),
        Attribute::ServerAddr => a.server_addr.to_string(),
        Attribute::RequestMethod => a.method.to_string(),
        Attribute::RequestProtocol => a.protocol.to_string(),
        Attribute::RequestUri => a.uri.to_string(),
        Attribute::Header(name) => a
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .or_else(|| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()))
            .unwrap_or_default(),
    }
}

/// ap_pregsub: `$0`..`$9` and `&` (the whole match) replaced, `\$` and `\&` literal; an
/// unmatched group is empty.
fn substitute(v: &str, caps: &regex::Captures) -> String {
    let mut out = String::new();
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        let group = match c {
            '&' => Some(0),
            '$' => chars.peek().and_then(|d| d.to_digit(10)).inspect(|_| {
                chars.next();
            }),
            '\\' if matches!(chars.peek(), Some('$' | '&')) => {
                out.extend(chars.next());
                continue;
            }
            _ => None,
        };
        match group {
            Some(g) => out.push_str(caps.get(g as usize).map_or("", |m| m.as_str())),
            None => out.push(c),
        }
    }
    out
}

/// A request's variables under `conf`'s rules. `local` is the connection's own address.
pub fn for_request(
    conf: &DirConf,
    peer: std::net::SocketAddr,
    local: Option<std::net::SocketAddr>,
    req: &crate::http::request::Request,
) -> Vec<(String, String)> {
    if conf.env_rules.is_empty() {
        return Vec::new();
    }
    let (remote, server) = (peer.ip().to_string(), local.map(|l| l.ip().to_string()));
    let protocol = format!("HTTP/1.{}", req.minor_version.min(1));
    evaluate(
        &conf.env_rules,
        &Attrs {
            remote_addr: &remote,
            server_addr: server.as_deref().unwrap_or_default(),
            method: req.method.as_str(),
            protocol: &protocol,
            uri: &req.path,
            headers: &req.headers,
        },
    )
}

/// A variable's name as a program sees it (ap_create_environment).
pub fn program_name(name: &str) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            let keep = c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit());
            if keep {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Apache's special-purpose variables (its "Environment Variables" page): protocol
/// workarounds for old clients and switches of modules this server does not have.
const SPECIAL: &[&str] = &[
    "downgrade-1.0",
    "force-no-vary",
    "force-response-1.0",
    "gzip-only-text/html",
    "no-gzip",
    "no-cache",
    "nokeepalive",
    "prefer-language",
    "redirect-carefully",
    "ssl-unclean-shutdown",
    "suppress-error-charset",
    "force-proxy-request-1.0",
    "proxy-nokeepalive",
    "proxy-sendchunked",
    "proxy-sendcl",
    "proxy-interim-response",
    "proxy-initial-not-pooled",
];

/// Names that describe the request to a program: never set by a rule.
fn is_reserved(program_name: &str) -> bool {
    crate::handler::cgi::env::STANDARD.contains(&program_name)
        || program_name.starts_with("HTTP_")
        || program_name.starts_with("SSL_")
}

/// The variables a program gets besides the standard ones: the request's, minus any name the
/// standard builder already set or that describes the request (refused at load already).
pub fn add_to_program_env(env: &mut Vec<Vec<u8>>, vars: &[(String, String)]) {
    for (k, v) in vars {
        let k = program_name(k);
        let prefix = format!("{k}=");
        let taken = env.iter().any(|e| e.starts_with(prefix.as_bytes()));
        if taken || is_reserved(&k) || v.contains('\0') {
            continue;
        }
        env.push(format!("{k}={v}").into_bytes());
    }
    env.sort();
}

/// Any printable name without `=`, but never one a program would see as `HTTP_PROXY` (httpoxy).
fn check_name(b: &mut Builder, n: &Node, name: &str) -> bool {
    let ok = !name.is_empty() && name.bytes().all(|c| c.is_ascii_graphic() && c != b'=');
    if !ok {
        b.error(
            n,
            format!(
                "{}: '{name}' is not a variable name (printable, without '=')",
                n.name
            ),
        );
        return false;
    }
    let seen = program_name(name);
    if !seen.eq_ignore_ascii_case("HTTP_PROXY") && is_reserved(&seen) {
        b.error(
            n,
            format!("{}: {name} describes the request to programs (a standard CGI variable, HTTP_* or SSL_*), so no rule may set it", n.name),
        );
        return false;
    }
    if seen.eq_ignore_ascii_case("HTTP_PROXY") {
        b.error(
            n,
            format!("{}: no program ever gets HTTP_PROXY (httpoxy, CVE-2016-5385): it would be taken for the proxy to use", n.name),
        );
        return false;
    }
    true
}

/// `SetEnv VAR [VALUE]`.
pub fn set_env(b: &mut Builder, n: &Node, d: &mut DirConf) {
    let (name, value) = match n.args.as_slice() {
        [k] => (k, ""),
        [k, v] => (k, v.as_str()),
        _ => return b.error(n, "SetEnv takes VAR [VALUE]"),
    };
    if check_name(b, n, name) {
        d.env_rules
            .push(EnvRule::Set(name.clone(), value.to_string()));
    }
}

/// `UnsetEnv VAR...`.
pub fn unset_env(b: &mut Builder, n: &Node, d: &mut DirConf) {
    if n.args.is_empty() {
        return b.error(n, "UnsetEnv takes VAR...");
    }
    for name in &n.args {
        if check_name(b, n, name) {
            d.env_rules.push(EnvRule::Unset(name.clone()));
        }
    }
}

/// What `PassEnv VAR` gives, looked up in the environment the server was started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Passed {
    /// As `SetEnv VAR VALUE` with the start-up value (mod_env reads it when the configuration
    /// is read, and keeps it in the same table as `SetEnv`).
    Rule(EnvRule),
    /// Not in the environment: Apache warns (AH01506 "PassEnv variable %s was undefined").
    Undefined,
    /// Set, but not UTF-8: it could not reach a program unchanged.
    NotUnicode,
}

/// `PassEnv`'s lookup of `name`, with the environment given as `lookup` (tests pass a table).
pub fn passed(name: &str, lookup: impl Fn(&str) -> Option<std::ffi::OsString>) -> Passed {
    match lookup(name).map(|v| v.into_string()) {
        Some(Ok(v)) => Passed::Rule(EnvRule::Set(name.to_string(), v)),
        Some(Err(_)) => Passed::NotUnicode,
        None => Passed::Undefined,
    }
}

/// `PassEnv VAR...`: the variables of the server's start-up environment, for programs and the
/// lookups that see `SetEnv` values. The names follow `SetEnv`'s rule, so no start-up variable
/// can stand in for one the server builds for the request (`PATH`, `HTTP_PROXY`, `REMOTE_USER`...).
/// An undefined variable is a `-t` warning at FILE:LINE, as Apache warns at start.
pub fn pass_env(b: &mut Builder, n: &Node, d: &mut DirConf) {
    if n.args.is_empty() {
        return b.error(n, "PassEnv takes VAR...");
    }
    for name in &n.args {
        if !check_name(b, n, name) {
            continue;
        }
        match passed(name, |k| std::env::var_os(k)) {
            Passed::Rule(r) => d.env_rules.push(r),
            Passed::Undefined => b.warn(
                n,
                format!("PassEnv variable {name} was undefined: it is not in the environment the server was started with, so programs do not get it"),
            ),
            Passed::NotUnicode => b.error(
                n,
                format!("PassEnv {name}: its value in the server's environment is not UTF-8"),
            ),
        }
    }
}

/// `SetEnvIf`, `SetEnvIfNoCase`, `BrowserMatch`, `BrowserMatchNoCase`.
pub fn set_env_if(b: &mut Builder, n: &Node, d: &mut DirConf) {
    let browser = n.name.to_ascii_lowercase().starts_with("browsermatch");
    let nocase = n.name.to_ascii_lowercase().ends_with("nocase");
    let (attr, rest) = if browser {
        (Some("User-Agent"), n.args.as_slice())
    } else {
        (
            n.args.first().map(String::as_str),
            n.args.get(1..).unwrap_or_default(),
        )
    };
    let (Some(attr), [re, vars @ ..]) = (attr, rest) else {
        return b.error(
            n,
            format!(
                "{} takes {}REGEX [!]VAR[=VALUE]...",
                n.name,
                if browser { "" } else { "ATTRIBUTE " }
            ),
        );
    };
    if vars.is_empty() {
        return b.error(n, format!("{}: no variable to set", n.name));
    }
    let Some(attribute) = attribute(b, n, attr) else {
        return;
    };
    let source = if nocase {
        format!("(?i){re}")
    } else {
        re.clone()
    };
    let regex = match SectionRegex::new(&source) {
        Ok(r) => r,
        Err(m) => return b.error(n, format!("{}: '{re}' is {m}", n.name)),
    };
    let mut assign = Vec::new();
    for v in vars {
        let a = match v.strip_prefix('!') {
            Some(name) => Assign::Unset(name.to_string()),
            None => match v.split_once('=') {
                Some((k, val)) => Assign::Set(k.to_string(), val.to_string()),
                None => Assign::Set(v.clone(), "1".into()),
            },
        };
        let (Assign::Set(name, _) | Assign::Unset(name)) = &a;
        if !check_name(b, n, name) {
            return;
        }
        assign.push(a);
    }
    let special = |a: &Assign| {
        let (Assign::Set(k, _) | Assign::Unset(k)) = a;
        SPECIAL.iter().any(|s| s.eq_ignore_ascii_case(k))
    };
    if assign.iter().all(special) {
        if let Some(row) = super::directives::find(&n.name) {
            b.no_effect(n, row, "sets only Apache's special variables (nokeepalive, downgrade-1.0, force-response-1.0, redirect-carefully...), workarounds this server does not have; programs still see them");
        }
    }
    d.env_rules.push(EnvRule::If {
        attribute,
        regex,
        assign,
    });
}

fn attribute(b: &mut Builder, n: &Node, attr: &str) -> Option<Attribute> {
    let special = [
        ("Remote_Addr", Attribute::RemoteAddr),
        ("Remote_Host", Attribute::RemoteAddr),
        ("Server_Addr", Attribute::ServerAddr),
        ("Request_Method", Attribute::RequestMethod),
        ("Request_Protocol", Attribute::RequestProtocol),
        ("Request_URI", Attribute::RequestUri),
    ];
    if let Some((_, a)) = special.iter().find(|(s, _)| s.eq_ignore_ascii_case(attr)) {
        return Some(a.clone());
    }
    if attr.starts_with("expr=") {
        b.error(n, format!("{}: expr= is not implemented: name an attribute (Remote_Addr, Request_URI, a header...)", n.name));
        return None;
    }
    if !attr
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    {
        b.error(n, format!("{}: attribute '{attr}' looks like a regular expression over header names, which is not implemented: name one header", n.name));
        return None;
    }
    Some(Attribute::Header(attr.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mod_env: `PassEnv VAR` is `SetEnv VAR <start-up value>`; undefined is only a warning.
    #[test]
    fn pass_env_table() {
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStringExt;
        let env = |k: &str| match k {
            "LANG" => Some(OsString::from("C.UTF-8")),
            "EMPTY" => Some(OsString::new()),
            "LATIN1" => Some(OsString::from_vec(vec![b'x', 0xe9])),
            _ => None,
        };
        let rows = [
            (
                "LANG",
                Passed::Rule(EnvRule::Set("LANG".into(), "C.UTF-8".into())),
            ),
            (
                "EMPTY",
                Passed::Rule(EnvRule::Set("EMPTY".into(), String::new())),
            ),
            ("LATIN1", Passed::NotUnicode),
            ("lang", Passed::Undefined),
            ("NOPE", Passed::Undefined),
        ];
        for (name, want) in rows {
            assert_eq!(passed(name, env), want, "{name}");
        }
        // In the same table as SetEnv: the later line wins, UnsetEnv removes.
        let Passed::Rule(lang) = passed("LANG", env) else {
            unreachable!()
        };
        let a = Attrs {
            remote_addr: "127.0.0.1",
            server_addr: "127.0.0.1",
            method: "GET",
            protocol: "HTTP/1.1",
            uri: "/",
            headers: &[],
        };
        let rules = [lang.clone(), EnvRule::Set("LANG".into(), "de".into())];
        assert_eq!(evaluate(&rules, &a), vec![("LANG".into(), "de".into())]);
        assert_eq!(
            evaluate(&[lang.clone(), EnvRule::Unset("LANG".into())], &a),
            vec![]
        );
        assert_eq!(
            evaluate(&[lang], &a),
            vec![("LANG".into(), "C.UTF-8".into())]
        );
    }

    fn rx(s: &str) -> SectionRegex {
        SectionRegex::new(s).unwrap()
    }

    /// Expected values written from mod_setenvif's and mod_env's documentation: rules in
    /// order, later ones see earlier variables, `!VAR` unsets, `VAR` alone is 1, `$1` is the
    /// first group, a missing header matches as "", SetEnv/UnsetEnv apply after every
    /// SetEnvIf whatever their order in the file.
    #[test]
    fn evaluate_table() {
        let headers = vec![
            (
                "User-Agent".to_string(),
                b"Mozilla/4.0 (compatible; MSIE 6.0)".to_vec(),
            ),
            ("X-Site".to_string(), b"shop-eu".to_vec()),
        ];
        let a = Attrs {
            remote_addr: "10.1.2.3",
            server_addr: "127.0.0.23",
            method: "POST",
            protocol: "HTTP/1.1",
            uri: "/app/x%20y",
            headers: &headers,
        };
        let rule = |attr: Attribute, re: &str, assign: Vec<Assign>| EnvRule::If {
            attribute: attr,
            regex: rx(re),
            assign,
        };
        let set = |k: &str, v: &str| Assign::Set(k.into(), v.into());
        type Case = (Vec<EnvRule>, Vec<(&'static str, &'static str)>);
        let cases: Vec<Case> = vec![
            (
                vec![rule(
                    Attribute::RemoteAddr,
                    r"^10\.1\.",
                    vec![set("lan", "1")],
                )],
                vec![("lan", "1")],
            ),
            (
                vec![rule(
                    Attribute::RemoteAddr,
                    r"^192\.",
                    vec![set("lan", "1")],
                )],
                vec![],
            ),
            (
                vec![rule(
                    Attribute::Header("user-agent".into()),
                    r"MSIE (\d+)",
                    vec![
                        set("ie", "$1"),
                        set("amp", "&"),
                        set("whole", "$0&"),
                        set("lit", r"\$1"),
                    ],
                )],
                vec![
                    ("amp", "&"),
                    ("ie", "6"),
                    ("lit", "$1"),
                    ("whole", "MSIE 6MSIE 6"),
                ],
            ),
            (
                vec![rule(
                    Attribute::Header("X-Missing".into()),
                    "^$",
                    vec![set("nohdr", "1")],
                )],
                vec![("nohdr", "1")],
            ),
            (
                vec![
                    rule(
                        Attribute::Header("X-Site".into()),
                        "^(shop)-(eu|us)$",
                        vec![set("site", "$1"), set("region", "$2")],
                    ),
                    rule(
                        Attribute::Header("site".into()),
                        "^shop$",
                        vec![set("shop", "1"), Assign::Unset("region".into())],
                    ),
                ],
                vec![("shop", "1"), ("site", "shop")],
            ),
            (
                vec![
                    EnvRule::Set("site".into(), "fixed".into()),
                    rule(
                        Attribute::Header("X-Site".into()),
                        "(.*)",
                        vec![set("site", "$1")],
                    ),
                    EnvRule::Unset("never".into()),
                ],
                vec![("site", "fixed")],
            ),
            // UnsetEnv removes mod_env's variables, not SetEnvIf's.
            (
                vec![
                    EnvRule::Unset("gone".into()),
                    rule(Attribute::RequestMethod, "^POST$", vec![set("gone", "1")]),
                    EnvRule::Set("dropped".into(), "x".into()),
                    EnvRule::Unset("dropped".into()),
                ],
                vec![("gone", "1")],
            ),
            (
                vec![rule(
                    Attribute::RequestMethod,
                    "^POST$",
                    vec![set("post", "")],
                )],
                vec![("post", "")],
            ),
            (
                vec![rule(
                    Attribute::RequestUri,
                    r"^/app/x%20",
                    vec![set("raw", "1")],
                )],
                vec![("raw", "1")],
            ),
            (
                vec![rule(
                    Attribute::ServerAddr,
                    r"^127\.0\.0\.23$",
                    vec![set("ip23", "1")],
                )],
                vec![("ip23", "1")],
            ),
            (
                vec![rule(
                    Attribute::RequestProtocol,
                    r"^HTTP/1\.1$",
                    vec![set("h11", "1")],
                )],
                vec![("h11", "1")],
            ),
            (
                vec![rule(Attribute::RemoteAddr, "(?i)^10", vec![set("a", "$9")])],
                vec![("a", "")],
            ),
        ];
        for (rules, want) in cases {
            let got = evaluate(&rules, &a);
            let want: Vec<(String, String)> = want
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(got, want, "{rules:?}");
        }
    }

    #[test]
    fn back_references_are_seen() {
        let r = |v: &str| EnvRule::If {
            attribute: Attribute::RemoteAddr,
            regex: rx("(.*)"),
            assign: vec![Assign::Set("ctx".into(), v.into())],
        };
        assert!(r("$1").copies_request_into("ctx"));
        assert!(r("$0&").copies_request_into("CTX"));
        assert!(!r("x&").copies_request_into("ctx"));
        assert!(!r(r"\$1").copies_request_into("ctx"));
        assert!(!r("anon_webapp_t:s0").copies_request_into("ctx"));
        assert!(!r("$1").copies_request_into("other"));
        assert!(!EnvRule::Set("ctx".into(), "$1".into()).copies_request_into("ctx"));
    }

    #[test]
    fn program_env_keeps_the_standard_variables() {
        let mut env = vec![b"PATH=/usr/bin".to_vec(), b"REMOTE_USER=alice".to_vec()];
        add_to_program_env(
            &mut env,
            &[
                ("PATH".into(), "/evil".into()),
                ("site".into(), "shop".into()),
                ("z".into(), "a\0b".into()),
            ],
        );
        assert_eq!(
            env,
            vec![
                b"PATH=/usr/bin".to_vec(),
                b"REMOTE_USER=alice".to_vec(),
                b"site=shop".to_vec()
            ]
        );
        // ap_create_environment's names.
        for (name, seen) in [
            ("force-response-1.0", "force_response_1_0"),
            ("1st", "_st"),
            ("a_B9", "a_B9"),
            ("HTTP-PROXY", "HTTP_PROXY"),
        ] {
            assert_eq!(program_name(name), seen);
        }
    }
}
