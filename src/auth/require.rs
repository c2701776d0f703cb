//! Stage: authorization (pure), evaluated once before authentication (user = None)
//! and again after it (user = the verified name).
//!
//! Supported Apache 2.4 providers: `Require valid-user`, `Require user NAME...`,
//! `Require group NAME...` (with `AuthGroupFile`), `Require all granted|denied`,
//! `Require ip ADDR[/PREFIX]...`, `Require local` (loopback only), `Require method M...`.
//! Keywords are ASCII case-insensitive; user and group names and methods are exact. How
//! lines combine (`not`, the `<Require*>` containers, `<Limit>`) is [`super::authz`]'s.
//! Anything else (`host`, `forward-dns`, `expr`, `env`, partial addresses such as `10.1`,
//! netmask forms) is a parse error with the reason rather than a requirement that silently
//! never matches.
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::net::IpAddr;

use ipnet::IpNet;

use super::authz::{method_bit, Methods};
use crate::policy::map::{check_user_name, net_contains, parse_net};

/// One `Require` line's provider and its arguments (without `not`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Require {
    ValidUser,
    Users(Vec<String>),
    AllGranted,
    AllDenied,
    Ip(Vec<IpNet>),
    /// mod_authz_groupfile: the user is in one of these groups of the `AuthGroupFile`.
    Groups(Vec<String>),
    /// mod_authz_core's `method`: the request's method is one of these (bits of
    /// [`super::authz::method_bit`]; HEAD is GET's, as in Apache).
    Method(Methods),
}

/// What to do with the request. Discriminants are far apart so a flipped bit cannot
/// turn a denial into a grant.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Access {
    /// Serve it (with whatever user, possibly none, is known).
    Granted = 0x5a3c_c35a,
    /// Answer 401 with a Basic challenge.
    NeedAuth = 0x3ca5_a53c,
    /// Answer 403.
    Denied = 0xa5c3_3ca5,
}

/// Parses the arguments of one `Require` directive (without the word `Require`).
pub fn parse_require(args: &[&str]) -> Result<Require, String> {
    let Some((keyword, rest)) = args.split_first() else {
        return Err("Require needs an argument".to_owned());
    };
    match keyword.to_ascii_lowercase().as_str() {
        "valid-user" if rest.is_empty() => Ok(Require::ValidUser),
        "valid-user" => Err("Require valid-user takes no arguments".to_owned()),
        "user" => parse_users(rest),
        "all" => parse_all(rest),
        "ip" => parse_ips(rest),
        // mod_authz_host's `local`: the loopback networks (Apache also counts a client whose
        // address is the server's own; that narrower reading here only refuses more).
        "local" if rest.is_empty() => parse_ips(&["127.0.0.0/8", "::1/128"]),
        "local" => Err("Require local takes no arguments".to_owned()),
        "group" => parse_groups(rest),
        "method" => parse_methods(rest),
        "host" | "forward-dns" => Err(format!("Require {keyword} needs DNS lookups of the client (a double-reverse lookup), which this server never makes: write Require ip with the addresses")),
        "expr" => Err("Require expr (Apache's ap_expr language) is not implemented: write the condition with Require lines and <RequireAll>/<RequireAny>/<RequireNone> (ip, user, group, method)".to_owned()),
        "env" => Err("Require env: there are no request environment variables (SetEnvIf is not implemented): write the condition with Require ip, user, group or method".to_owned()),
        "not" => Err("Require not not: one 'not' only".to_owned()),
        _ => Err(format!("unsupported Require provider '{keyword}'")),
    }
}

fn parse_users(names: &[&str]) -> Result<Require, String> {
    if names.is_empty() {
        return Err("Require user needs at least one name".to_owned());
    }
    for name in names {
        check_user_name(name).map_err(|why| format!("Require user '{name}': {why}"))?;
    }
    Ok(Require::Users(
        names.iter().map(|&n| n.to_owned()).collect(),
    ))
}

fn parse_groups(names: &[&str]) -> Result<Require, String> {
    if names.is_empty() {
        return Err("Require group needs at least one group name".to_owned());
    }
    for name in names {
        if name.contains("%{") {
            return Err(format!(
                "Require group '{name}': expressions in group names are not implemented"
            ));
        }
        if name.contains(':') || name.chars().any(char::is_control) {
            return Err(format!("Require group '{name}': a group name has no ':' or control characters (no group file line could name it)"));
        }
    }
    Ok(Require::Groups(
        names.iter().map(|&n| n.to_owned()).collect(),
    ))
}

fn parse_methods(names: &[&str]) -> Result<Require, String> {
    if names.is_empty() {
        return Err("Require method needs at least one method".to_owned());
    }
    let mut bits = 0;
    for name in names {
        bits |= method_bit(name).ok_or_else(|| {
            format!("Require method: invalid method '{name}' (methods are case-sensitive: GET, POST...)")
        })?;
    }
    Ok(Require::Method(bits))
}

fn parse_all(rest: &[&str]) -> Result<Require, String> {
    match rest {
        [word] if word.eq_ignore_ascii_case("granted") => Ok(Require::AllGranted),
        [word] if word.eq_ignore_ascii_case("denied") => Ok(Require::AllDenied),
        _ => Err("Require all takes exactly 'granted' or 'denied'".to_owned()),
    }
}

fn parse_ips(addrs: &[&str]) -> Result<Require, String> {
    if addrs.is_empty() {
        return Err("Require ip needs at least one address or network".to_owned());
    }
    let nets = addrs
        .iter()
        .map(|addr| parse_net(addr).map_err(|why| format!("Require ip: {why}")))
        .collect::<Result<_, _>>()?;
    Ok(Require::Ip(nets))
}

/// One provider's answer, mod_authz_core's `authz_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Granted,
    Denied,
    /// Denied for want of a user: authenticating may change the answer.
    DeniedNoUser,
    Neutral,
}

/// What a provider may look at: the verified user (None before authentication), the client's
/// address, the request's method bit and the `AuthGroupFile` in force.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub user: Option<&'a str>,
    pub peer: IpAddr,
    pub method: Methods,
    pub groups: Option<&'a super::groupfile::GroupFile>,
}

/// Apache's providers: `user`, `valid-user` and `group` answer `DeniedNoUser` without a user;
/// `group` without a group file denies (mod_authz_groupfile's AH01664).
pub fn check(req: &Require, ctx: &Ctx<'_>) -> Status {
    let yes = |b: bool| if b { Status::Granted } else { Status::Denied };
    match (req, ctx.user) {
        (Require::AllGranted, _) => Status::Granted,
        (Require::AllDenied, _) => Status::Denied,
        (Require::Ip(nets), _) => yes(nets.iter().any(|net| net_contains(net, ctx.peer))),
        (Require::Method(bits), _) => yes(bits & ctx.method != 0),
        (Require::ValidUser | Require::Users(_) | Require::Groups(_), None) => Status::DeniedNoUser,
        (Require::ValidUser, Some(_)) => Status::Granted,
        (Require::Users(names), Some(user)) => yes(names.iter().any(|n| n == user)),
        (Require::Groups(names), Some(user)) => {
            yes(ctx.groups.is_some_and(|g| g.in_any(user, names)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reqs(lines: &[&str]) -> Vec<Require> {
        lines
            .iter()
            .map(|line| {
                let args: Vec<&str> = line.split_whitespace().collect();
                parse_require(&args).unwrap_or_else(|e| panic!("{line}: {e}"))
            })
            .collect()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn parses_supported_forms() {
        let net = |s: &str| s.parse::<IpNet>().unwrap();
        let cases: &[(&str, Require)] = &[
            ("valid-user", Require::ValidUser),
            ("Valid-User", Require::ValidUser),
            (
                "user alice bob",
                Require::Users(vec!["alice".into(), "bob".into()]),
            ),
            ("all granted", Require::AllGranted),
            ("All Denied", Require::AllDenied),
            (
                "ip 10.0.0.0/8 ::1 2001:db8::/32",
                Require::Ip(vec![
                    net("10.0.0.0/8"),
                    net("::1/128"),
                    net("2001:db8::/32"),
                ]),
            ),
            (
                "local",
                Require::Ip(vec![net("127.0.0.0/8"), net("::1/128")]),
            ),
            (
                "group staff wheel",
                Require::Groups(vec!["staff".into(), "wheel".into()]),
            ),
            (
                "method GET HEAD POST",
                Require::Method(
                    super::super::authz::method_bit("GET").unwrap()
                        | super::super::authz::method_bit("POST").unwrap(),
                ),
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(&reqs(&[line])[0], expected, "{line}");
        }
    }

    #[test]
    fn rejects_unsupported_or_malformed_forms() {
        let cases: &[(&[&str], &str)] = &[
            (&[], "needs an argument"),
            (&["valid-user", "x"], "no arguments"),
            (&["user"], "at least one name"),
            (&["user", "a\u{1}b"], "control"),
            (&["all"], "exactly"),
            (&["all", "granted", "denied"], "exactly"),
            (&["all", "maybe"], "exactly"),
            (&["ip"], "at least one"),
            (&["ip", "10.1"], "not an IPv4 or IPv6"),
            (&["ip", "10.0.0.1/8"], "host bits"),
            (&["ip", "10.0.0.0/255.0.0.0"], "not an address/prefix"),
            (&["ip", "!10.0.0.0/8"], "not an address/prefix"),
            (&["ip", "!10.0.0.1"], "not an IPv4"),
            (&["group"], "at least one group"),
            (&["group", "a:b"], "no ':'"),
            (&["group", "%{x}"], "expressions"),
            (&["method"], "at least one method"),
            (&["method", "get"], "invalid method 'get'"),
            (&["method", "FOO"], "invalid method"),
            (&["host", "example.org"], "DNS"),
            (&["forward-dns", "example.org"], "DNS"),
            (&["expr", "true"], "not implemented"),
            (&["env", "X"], "environment"),
            (&["not", "ip", "10.0.0.1"], "one 'not'"),
            (&["nosuch"], "unsupported Require provider 'nosuch'"),
            (&["local", "x"], "no arguments"),
        ];
        for (args, expected) in cases {
            let err = parse_require(args).expect_err(&format!("{args:?}"));
            assert!(
                err.contains(expected),
                "{args:?}: '{err}' lacks '{expected}'"
            );
        }
    }

    #[test]
    fn evaluation_table() {
        use Access::*;
        let v4 = ip("192.0.2.7");
        let mapped = ip("::ffff:192.0.2.7");
        let other = ip("198.51.100.1");
        let cases: &[(&[&str], Option<&str>, IpAddr, Access)] = &[
            (&[], None, v4, Granted),
            (&["all granted"], None, v4, Granted),
            (&["all denied"], None, v4, Denied),
            (&["all denied"], Some("alice"), v4, Denied),
            (&["valid-user"], None, v4, NeedAuth),
            (&["valid-user"], Some("alice"), v4, Granted),
            (&["user alice"], Some("alice"), v4, Granted),
            (&["user alice"], Some("Alice"), v4, Denied),
            (&["user alice"], Some("bob"), v4, Denied),
            (&["user alice"], None, v4, NeedAuth),
            (&["ip 192.0.2.0/24"], None, v4, Granted),
            (&["ip 192.0.2.0/24"], None, mapped, Granted),
            (&["ip ::ffff:192.0.2.0/120"], None, v4, Granted),
            (&["ip 192.0.2.0/24"], None, other, Denied),
            (&["ip 192.0.2.0/24", "valid-user"], None, other, NeedAuth),
            (&["ip 192.0.2.0/24", "valid-user"], None, v4, Granted),
            (
                &["ip 192.0.2.0/24", "user bob"],
                Some("alice"),
                other,
                Denied,
            ),
            (&["all denied", "user bob"], Some("bob"), other, Granted),
            (&["all denied", "user bob"], None, other, NeedAuth),
            (&["ip 2001:db8::/32"], None, ip("2001:db8::1"), Granted),
            (&["ip 2001:db8::/32"], None, v4, Denied),
        ];
        for (lines, user, peer, expected) in cases {
            let ctx = Ctx {
                user: *user,
                peer: *peer,
                method: super::super::authz::request_method("GET"),
                groups: None,
            };
            let got = super::super::evaluate(&super::super::AuthzConf::any(reqs(lines)), &ctx);
            assert_eq!(got, *expected, "{lines:?} user={user:?} peer={peer}");
        }
    }
}
