//! mpm-itk's process directives besides `AssignUserID`: `LimitUIDRange`/`LimitGIDRange`
//! (server-wide: every assigned or mapped identity must lie inside, checked when the
//! configuration is loaded and again by the child before it switches) and `NiceValue` (the
//! nice value a request runs at, set by the child before confinement). Pure but for one
//! read: the server's own nice value, through the builder, which a `NiceValue` may not be below.
//!
//! Where this server differs from mpm-itk (docs/itk.md): mpm-itk enforces the ranges with a
//! seccomp filter over set*id and "does not restrict supplemental gids"; here the whole chosen
//! identity, supplementary groups included, is compared with the ranges, and the child's own
//! seccomp filter already refuses every set*id call after confinement. mpm-itk clamps a
//! NiceValue outside -20..19 with a warning; here it is an error, and so is a negative value:
//! children give up CAP_SYS_NICE before they read a byte, so they can only lower their priority,
//! and for the same reason a value below the nice value the server runs at is an error too.
#![forbid(unsafe_code)]

use super::build::Builder;
use super::model::{Config, DirConf, Origin};
use super::parse::Node;

/// `LimitUIDRange MIN MAX` / `LimitGIDRange MIN MAX`, inclusive, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdRange {
    pub min: u32,
    pub max: u32,
    pub origin: Origin,
}

impl IdRange {
    pub fn contains(&self, id: u32) -> bool {
        (self.min..=self.max).contains(&id)
    }
}

/// The server-wide mpm-itk settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ItkSettings {
    pub uid_range: Option<IdRange>,
    pub gid_range: Option<IdRange>,
    /// mod_selinux's `selinuxServerDomain DOMAIN:RANGE`: the context the server must already
    /// run in (checked at load; see [`check_server_domain`]).
    #[serde(default)]
    pub server_domain: Option<(crate::policy::SelinuxTarget, Origin)>,
}

impl ItkSettings {
    /// Why `uid`/`gid`/`groups` lies outside the ranges, or None when it lies inside (or no
    /// range is set). Every supplementary group is checked against `LimitGIDRange` too.
    pub fn outside(&self, uid: u32, gid: u32, groups: &[u32]) -> Option<String> {
        if let Some(r) = &self.uid_range {
            if !r.contains(uid) {
                return Some(format!(
                    "uid {uid} is outside LimitUIDRange {} {} ({})",
                    r.min, r.max, r.origin
                ));
            }
        }
        let r = self.gid_range.as_ref()?;
        let bad = std::iter::once(&gid)
            .chain(groups)
            .find(|g| !r.contains(**g))?;
        let what = if *bad == gid {
            "gid"
        } else {
            "supplementary group"
        };
        Some(format!(
            "{what} {bad} is outside LimitGIDRange {} {} ({})",
            r.min, r.max, r.origin
        ))
    }
}

fn range(b: &mut Builder, n: &Node) -> Option<IdRange> {
    let [min, max] = n.args.as_slice() else {
        b.error(n, format!("{} takes two arguments: MIN MAX", n.name));
        return None;
    };
    let parse = |s: &str| s.parse::<u32>().ok().filter(|&v| v != u32::MAX);
    match (parse(min), parse(max)) {
        (Some(lo), Some(hi)) if lo <= hi => Some(IdRange {
            min: lo,
            max: hi,
            origin: Origin {
                file: n.file.clone(),
                line: n.line,
            },
        }),
        (Some(_), Some(_)) => {
            b.error(n, format!("{}: MIN {min} is above MAX {max}", n.name));
            None
        }
        _ => {
            b.error(
                n,
                format!("{}: '{min} {max}' are not two ids in 0..4294967294", n.name),
            );
            None
        }
    }
}

pub fn limit_uid_range(b: &mut Builder, n: &Node, cfg: &mut Config) {
    if let Some(r) = range(b, n) {
        cfg.itk.uid_range = Some(r);
    }
}

pub fn limit_gid_range(b: &mut Builder, n: &Node, cfg: &mut Config) {
    if let Some(r) = range(b, n) {
        cfg.itk.gid_range = Some(r);
    }
}

/// `selinuxServerDomain DOMAIN:RANGE` (`*` keeps a part, as in the map files).
pub fn selinux_server_domain(b: &mut Builder, n: &Node, cfg: &mut Config) {
    let [v] = n.args.as_slice() else {
        return b.error(n, "selinuxServerDomain takes one DOMAIN:RANGE");
    };
    match crate::policy::parse_selinux_target_with(v, &translate_range) {
        Ok(t) => {
            cfg.itk.server_domain = Some((
                t,
                Origin {
                    file: n.file.clone(),
                    line: n.line,
                },
            ))
        }
        Err(m) => b.error(n, format!("selinuxServerDomain: {m}")),
    }
}

/// mod_selinux's `selinuxServerDomain` made the daemon `setcon` itself at start. This server
/// never changes its own context (the master stays in the domain it was started in, e.g. by
/// systemd's `SELinuxContext=` or the policy's transition), so the directive is a check: with
/// SELinux enabled, the context it names (relative to the current one) must be the current
/// one, else an error saying how to start the server; without SELinux, a warning saying what
/// is not checked.
pub fn check_server_domain(
    itk: &ItkSettings,
    current: Option<&str>,
    errors: &mut Vec<super::ConfigError>,
    warnings: &mut Vec<super::ConfigError>,
) {
    let Some((t, at)) = &itk.server_domain else {
        return;
    };
    let Some(current) = current else {
        warnings.push(super::ConfigError {
            origin: at.clone(),
            message: "selinuxServerDomain is not checked: SELinux is not enabled on this host, so there is no context to compare (the server never changes its own context)".into(),
        });
        return;
    };
    let want = super::identity::compose(current, t);
    if want.as_deref() != Some(current) {
        errors.push(super::ConfigError {
            origin: at.clone(),
            message: format!(
                "selinuxServerDomain asks for {}, but the server runs as {current}: oneshot-httpd does not change its own context (mod_selinux did, with setcon); start it in that context (systemd SELinuxContext=, runcon) or change the directive",
                want.unwrap_or_else(|| "a context that cannot be composed".into())
            ),
        });
    }
}

/// Why a range written with mcstrans names cannot be translated on a host without SELinux.
pub const NO_TRANSLATION: &str = "translated range names (mcstrans: SystemLow, SystemHigh, names from /etc/selinux/*/setrans.conf) need SELinux enabled and mcstrans running to be translated, and SELinux is not enabled on this host: write the raw range (e.g. s0-s0:c0.c1023)";

/// mod_selinux ranges with mcstrans names (`anon_webapp_t:SystemLow`, `s0-SystemHigh`):
/// translated once, when the configuration and map files are loaded, by libselinux
/// (`selinux_trans_to_raw_context`, which asks mcstransd), so the configuration and children
/// hold raw ranges only. Without SELinux there is nothing to translate with: an error.
pub fn translate_range(range: &str) -> Result<String, String> {
    use crate::sys::{Linux, SelinuxState, Sys};
    if !matches!(
        Linux.selinux_state(),
        Ok(SelinuxState::Enforcing | SelinuxState::Permissive)
    ) {
        return Err(NO_TRANSLATION.into());
    }
    // mcstrans translates the MLS part of a whole context; the other parts pass unchanged.
    let context = format!("system_u:object_r:unlabeled_t:{range}");
    let raw = crate::sys::linux::selinux_trans_to_raw(&context)
        .map_err(|e| format!("libselinux could not translate it: {e}"))?;
    raw.splitn(4, ':')
        .nth(3)
        .map(str::to_owned)
        .ok_or_else(|| format!("libselinux translated it to '{raw}', which has no range"))
}

/// `NiceValue N`: 0..=19 (see the module comment for negative values).
pub fn nice_value(b: &mut Builder, n: &Node, d: &mut DirConf) {
    let [v] = n.args.as_slice() else {
        return b.error(n, "NiceValue takes one argument: a nice value 0..19");
    };
    match v.parse::<i32>() {
        Ok(x @ 0..=19) => match b.server_nice() {
            Some(floor) if x < floor => b.error(
                n,
                format!("NiceValue {x}: the server runs at nice {floor}, and children give up CAP_SYS_NICE before they read a request, so they can lower their priority but not raise it: use {floor}..19, or start the server at nice {x} or less"),
            ),
            _ => d.nice = Some(x),
        },
        Ok(x @ -20..=-1) => b.error(
            n,
            format!("NiceValue {x}: children give up CAP_SYS_NICE before they read a request, so they can lower their priority (0..19) but never raise it above the master's"),
        ),
        _ => b.error(n, format!("NiceValue '{v}' is not a nice value (0..19)")),
    }
}

/// `MaxClientsVHost N`: a non-negative number; 0 is no limit (mpm-itk enforces only values
/// above 0). A number that does not fit is an error, where mpm-itk's `atoi` would wrap.
pub fn parse_max_clients_vhost(args: &[String]) -> Result<u32, String> {
    let [v] = args else {
        return Err("MaxClientsVHost takes one argument: the most connections this virtual host may have at once (0: no limit)".into());
    };
    v.parse::<u32>().map_err(|_| {
        format!("MaxClientsVHost '{v}' is not a number of connections (0..4294967295; 0: no limit)")
    })
}

/// `MaxClientsVHost N` (server config, virtual host): the master counts the connections each
/// vhost has (`master::vhost_slots`); a request over the limit gets 503. A vhost's own line
/// replaces the server's, and the server's applies to every vhost without one (mpm-itk has no
/// server-config merge, so there it limits only requests the main server itself serves).
pub fn max_clients_vhost(b: &mut Builder, n: &Node, v: &mut super::build::VHostDraft) {
    match parse_max_clients_vhost(&n.args) {
        Ok(x) => v.harden.set_max_clients(x),
        Err(m) => b.error(n, m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_clients_vhost_table() {
        let a = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        for (arg, want) in [
            ("1", Some(1)),
            ("30", Some(30)),
            ("0", Some(0)),
            ("4294967295", Some(u32::MAX)),
        ] {
            assert_eq!(parse_max_clients_vhost(&a(arg)).ok(), want, "{arg}");
        }
        for arg in ["", "-1", "x", "1.5", "4294967296", "1 2"] {
            assert!(parse_max_clients_vhost(&a(arg)).is_err(), "{arg}");
        }
    }

    /// Written from mpm-itk's documentation (ranges are inclusive, `LimitGIDRange` bounds the
    /// gid) plus this server's one addition (supplementary groups are bounded too).
    #[test]
    fn outside_table() {
        let at = Origin {
            file: "t.conf".into(),
            line: 3,
        };
        let r = |min, max| {
            Some(IdRange {
                min,
                max,
                origin: at.clone(),
            })
        };
        let s = ItkSettings {
            uid_range: r(1000, 1999),
            gid_range: r(1000, 1999),
            server_domain: None,
        };
        // (uid, gid, groups, inside?)
        let table: &[(u32, u32, &[u32], bool)] = &[
            (1000, 1000, &[1000], true),
            (1999, 1999, &[], true),
            (999, 1000, &[], false),
            (2000, 1000, &[], false),
            (1000, 999, &[], false),
            (1000, 2000, &[], false),
            (1000, 1000, &[1000, 27], false),
            (1000, 1000, &[1000, 1500], true),
        ];
        for (uid, gid, groups, inside) in table {
            let got = s.outside(*uid, *gid, groups);
            assert_eq!(got.is_none(), *inside, "{uid} {gid} {groups:?}: {got:?}");
            if let Some(m) = got {
                assert!(m.contains("t.conf:3"), "{m}");
            }
        }
        assert_eq!(ItkSettings::default().outside(0, 0, &[0]), None);
        let only_uid = ItkSettings {
            uid_range: r(5, 5),
            gid_range: None,
            server_domain: None,
        };
        assert_eq!(only_uid.outside(5, 0, &[1, 2]), None);
        assert!(only_uid.outside(6, 6, &[]).unwrap().contains("uid 6"));
    }
}

/// One piece of an `AssignUserIDExpr`/`AssignGroupIDExpr` string.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Part {
    Lit(String),
    /// `%{reqenv:VAR}`: a variable of the admin's `SetEnv`/`SetEnvIf` rules.
    ReqEnv(String),
    /// `%{SERVER_NAME}`: the selected virtual host's name.
    ServerName,
}

/// An `AssignUserIDExpr`/`AssignGroupIDExpr` of the forms that read admin-controlled data
/// only, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdExpr {
    pub parts: Vec<Part>,
    pub origin: Origin,
}

impl IdExpr {
    /// The variables it reads.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::ReqEnv(v) => Some(v.as_str()),
            _ => None,
        })
    }

    /// Its value for a request: unset variables are empty, as ap_expr's.
    pub fn eval(&self, env: &[(String, String)], server_name: &str) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Lit(s) => s.as_str(),
                Part::ReqEnv(v) => env
                    .iter()
                    .find(|(k, _)| k == v)
                    .map_or("", |(_, x)| x.as_str()),
                Part::ServerName => server_name,
            })
            .collect()
    }
}

/// What ap_expr variables say about the request; refused with this reason.
const FROM_REQUEST: &str = "is request content, so the request would choose its own identity (I7): match it with an admin rule instead (SetEnvIf ATTRIBUTE REGEX VAR=name, with a literal name) and write %{reqenv:VAR}";

/// Parses the string forms this server evaluates: literal text, `%{reqenv:VAR}`,
/// `%{SERVER_NAME}`. Everything else is refused, naming why.
pub fn parse_expr(s: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("%{") {
        if start > 0 {
            parts.push(Part::Lit(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("'%{{' without '}}' in '{s}'"))?;
        let var = &after[..end];
        let upper = var.to_ascii_uppercase();
        parts.push(if let Some(name) = var.strip_prefix("reqenv:") {
            if name.is_empty() {
                return Err("%{reqenv:} names no variable".into());
            }
            Part::ReqEnv(name.to_string())
        } else if upper == "SERVER_NAME" {
            Part::ServerName
        } else if upper == "REMOTE_USER" || upper == "AUTH_TYPE" {
            return Err(format!("%{{{var}}}: mpm-itk evaluates the expression before authentication; to serve as the authenticated user's account write UserIDMap with the target ="));
        } else if upper.starts_with("HTTP")
            || upper.starts_with("REQUEST_")
            || upper.starts_with("REMOTE_")
            || upper.starts_with("QUERY")
            || upper.starts_with("THE_REQUEST")
            || upper.starts_with("PATH_INFO")
            || upper.starts_with("REQ")
            || upper.starts_with("COOKIE")
            || upper.starts_with("SERVER_PROTOCOL")
            || upper.starts_with("IPV6")
        {
            return Err(format!("%{{{var}}} {FROM_REQUEST}"));
        } else {
            return Err(format!("%{{{var}}} is not implemented: only %{{reqenv:VAR}} and %{{SERVER_NAME}} (admin-controlled data) are evaluated"));
        });
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Lit(rest.to_string()));
    }
    if parts.is_empty() {
        return Err("an empty expression names no one".into());
    }
    if parts.iter().all(|p| matches!(p, Part::Lit(_))) {
        return Err("holds no %{...}: write AssignUserID instead".into());
    }
    // ap_expr functions and operators in a string expression: not evaluated here.
    if parts.iter().any(
        |p| matches!(p, Part::Lit(l) if l.contains('(') || l.contains('\'') || l.contains(' ')),
    ) {
        return Err("only literal text, %{reqenv:VAR} and %{SERVER_NAME} are evaluated (no ap_expr functions or operators)".into());
    }
    Ok(parts)
}

fn expr_of(b: &mut Builder, n: &Node) -> Option<IdExpr> {
    let [e] = n.args.as_slice() else {
        b.error(n, format!("{} takes one expression", n.name));
        return None;
    };
    match parse_expr(e) {
        Ok(parts) => Some(IdExpr {
            parts,
            origin: Origin {
                file: n.file.clone(),
                line: n.line,
            },
        }),
        Err(m) => {
            b.error(n, format!("{} {e}: {m}", n.name));
            None
        }
    }
}

pub fn assign_user_expr(b: &mut Builder, n: &Node, d: &mut DirConf) {
    b.need(crate::sandbox::Backend::Unix, "AssignUserIDExpr", n);
    if let Some(e) = expr_of(b, n) {
        d.assign_user_expr = Some(e);
    }
}

pub fn assign_group_expr(b: &mut Builder, n: &Node, d: &mut DirConf) {
    b.need(crate::sandbox::Backend::Unix, "AssignGroupIDExpr", n);
    if let Some(e) = expr_of(b, n) {
        d.assign_group_expr = Some(e);
    }
}

/// mod_selinux's `selinuxDomainEnv VAR`.
pub fn selinux_domain_env(b: &mut Builder, n: &Node, d: &mut DirConf) {
    b.need(crate::sandbox::Backend::Selinux, "selinuxDomainEnv", n);
    let [v] = n.args.as_slice() else {
        return b.error(n, "selinuxDomainEnv takes one variable name");
    };
    d.selinux_env = Some((
        v.clone(),
        Origin {
            file: n.file.clone(),
            line: n.line,
        },
    ));
}

/// I7 for the variables an identity is read from: every rule that can give one a value must
/// take it from the administrator, not from the request (no back-reference, no header
/// condition). Errors name the directive that reads the variable.
pub fn check_sources(confs: &[(DirConf, Origin)], errors: &mut Vec<super::ConfigError>) {
    let rules: Vec<&super::setenv::EnvRule> =
        confs.iter().flat_map(|(c, _)| &c.env_rules).collect();
    let mut readers: Vec<(String, Origin, &'static str)> = Vec::new();
    for (c, _) in confs {
        for (e, what) in [
            (&c.assign_user_expr, "AssignUserIDExpr"),
            (&c.assign_group_expr, "AssignGroupIDExpr"),
        ] {
            if let Some(e) = e {
                readers.extend(e.vars().map(|v| (v.to_string(), e.origin.clone(), what)));
            }
        }
        if let Some((v, at)) = &c.selinux_env {
            readers.push((v.clone(), at.clone(), "selinuxDomainEnv"));
        }
    }
    readers.sort_by(|a, b| (&a.1.file, a.1.line, &a.0).cmp(&(&b.1.file, b.1.line, &b.0)));
    readers.dedup();
    for (var, at, what) in readers {
        if let Some(why) = rules.iter().find_map(|r| r.request_chooses(&var)) {
            errors.push(super::ConfigError {
                origin: at,
                message: format!("{what} reads {var}, and a rule {why}: the request would choose its own identity (I7); set {var} only with literal values, on Remote_Addr, Server_Addr, Request_Method, Request_Protocol or Request_URI"),
            });
        }
    }
}

#[cfg(test)]
mod expr_tests {
    use super::*;

    /// From mpm-itk's documentation (the expression is an ap_expr string; its value is a
    /// user or group name) and this server's rule that only admin data may be read.
    #[test]
    fn parse_expr_table() {
        let env = |v: &str| Part::ReqEnv(v.into());
        let lit = |v: &str| Part::Lit(v.into());
        let ok: &[(&str, Vec<Part>)] = &[
            ("%{reqenv:owner}", vec![env("owner")]),
            ("web-%{reqenv:site}", vec![lit("web-"), env("site")]),
            ("%{SERVER_NAME}", vec![Part::ServerName]),
            ("%{reqenv:a}%{reqenv:b}", vec![env("a"), env("b")]),
        ];
        for (s, want) in ok {
            assert_eq!(&parse_expr(s).unwrap(), want, "{s}");
        }
        let refused: &[(&str, &str)] = &[
            ("%{HTTP_HOST}", "request content"),
            ("%{HTTP:X-User}", "request content"),
            ("%{REQUEST_URI}", "request content"),
            ("%{QUERY_STRING}", "request content"),
            ("%{REMOTE_ADDR}", "request content"),
            ("%{REMOTE_USER}", "before authentication"),
            ("%{TIME_HOUR}", "not implemented"),
            ("%{reqenv:}", "names no variable"),
            ("%{reqenv:x", "without"),
            ("alice", "write AssignUserID"),
            ("", "empty"),
            ("%{reqenv:x} . 'y'", "no ap_expr functions"),
        ];
        for (s, why) in refused {
            let e = parse_expr(s).expect_err(s);
            assert!(e.contains(why), "{s}: {e}");
        }
        let e = IdExpr {
            parts: vec![lit("u-"), env("site"), Part::ServerName],
            origin: Origin {
                file: "t".into(),
                line: 1,
            },
        };
        let vars = [("site".to_string(), "shop".to_string())];
        assert_eq!(e.eval(&vars, "a.test"), "u-shopa.test");
        assert_eq!(e.eval(&[], "a.test"), "u-a.test");
        assert_eq!(e.vars().collect::<Vec<_>>(), ["site"]);
    }
}

#[cfg(test)]
mod server_domain_tests {
    use super::*;

    /// mod_selinux's `selinuxServerDomain` (e.g. its default `*:s0`): `*` keeps the current
    /// part. Expected column written by hand: equal to the running context or not.
    #[test]
    fn server_domain_table() {
        let at = Origin {
            file: "t.conf".into(),
            line: 2,
        };
        let current = "system_u:system_r:httpd_t:s0-s0:c0.c1023";
        let table: &[(&str, bool)] = &[
            ("*:s0-s0:c0.c1023", true),
            ("httpd_t:*", true),
            ("httpd_t:s0-s0:c0.c1023", true),
            ("*:s0", false),
            ("other_t:*", false),
            ("*:s0-s0:c0.c15", false),
        ];
        for (target, same) in table {
            let s = ItkSettings {
                server_domain: Some((
                    crate::policy::parse_selinux_target(target).unwrap(),
                    at.clone(),
                )),
                ..Default::default()
            };
            let (mut e, mut w) = (Vec::new(), Vec::new());
            check_server_domain(&s, Some(current), &mut e, &mut w);
            assert_eq!(e.is_empty(), *same, "{target}: {e:?}");
            assert!(w.is_empty());
            if let Some(err) = e.first() {
                assert_eq!(err.origin, at);
                assert!(err.message.contains(current), "{}", err.message);
            }
            check_server_domain(&s, None, &mut e, &mut w);
            assert_eq!(w.len(), 1);
            assert!(w[0].message.contains("not checked"), "{}", w[0].message);
        }
    }
}
