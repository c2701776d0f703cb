//! mod_authz_core's logic (pure): `Require` lines, `Require not`, `<RequireAll>`,
//! `<RequireAny>`, `<RequireNone>`, `<Limit>`/`<LimitExcept>` around them, and `AuthMerging`
//! between sections, as Apache 2.4's `apply_authz_sections` and
//! `merge_authz_core_dir_config` compute them.
//!
//! * A section's lines are an implicit `<RequireAny>`.
//! * Each rule answers granted, denied, denied-for-want-of-a-user or neutral. `<RequireAll>`
//!   stops at the first denial and otherwise keeps the first non-neutral answer, a
//!   denied-for-want-of-a-user winning over granted; `<RequireAny>` stops at the first grant,
//!   denied-for-want-of-a-user winning over denied. A negated rule (`Require not`,
//!   `<RequireNone>`) turns granted into denied and any denial into neutral: it never grants.
//! * A rule limited to other methods (`<Limit>`) answers granted inside a `<RequireAll>` (and
//!   at the top) and neutral inside a `<RequireAny>`; a section's methods are its rules'.
//! * At the top: granted serves, denied-for-want-of-a-user asks for authentication, denied and
//!   neutral refuse.
//!
//! The configuration walk (`config::authz`) refuses what Apache refuses at start: `not` or
//! `<RequireNone>` inside a `<RequireAny>` (or among plain lines), a container with no rule,
//! a `<RequireAll>` with only negative rules.
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use super::require::{check, Ctx, Require, Status};
use super::Access;

/// A set of methods, Apache's `AP_METHOD_BIT << M_*` bits.
pub type Methods = u64;
pub const ALL_METHODS: Methods = u64::MAX;

/// Apache's built-in methods in its numbering (`M_GET` = 0 ...); HEAD is GET's.
const METHODS: &[&str] = &[
    "GET",
    "PUT",
    "POST",
    "DELETE",
    "CONNECT",
    "OPTIONS",
    "TRACE",
    "PATCH",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "VERSION-CONTROL",
    "CHECKOUT",
    "UNCHECKOUT",
    "CHECKIN",
    "UPDATE",
    "LABEL",
    "REPORT",
    "MKWORKSPACE",
    "MKACTIVITY",
    "BASELINE-CONTROL",
    "MERGE",
];

/// The bit of a method name (case-sensitive, as Apache's `ap_method_number_of`), None for a
/// name Apache does not know.
pub fn method_bit(name: &str) -> Option<Methods> {
    let name = if name == "HEAD" { "GET" } else { name };
    METHODS.iter().position(|m| *m == name).map(|i| 1 << i)
}

/// A request's method bit: Apache's, or for a method Apache does not know its `M_INVALID`
/// bit, which every unlimited rule covers and no `<Limit>` names (never 0, which would put
/// the request outside every rule).
pub fn request_method(name: &str) -> Methods {
    method_bit(name).unwrap_or(1 << 63)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Op {
    /// `<RequireAll>` (Apache's AUTHZ_LOGIC_AND).
    All,
    /// `<RequireAny>`, `<RequireNone>` (negated), a section's plain lines.
    Any,
}

/// One rule: a `Require` line or a container, possibly negated, limited to some methods.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rule {
    pub negate: bool,
    pub limited: Methods,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    Provider(Require),
    Section { op: Op, rules: Vec<Rule> },
}

impl Rule {
    pub fn provider(req: Require, negate: bool, limited: Methods) -> Rule {
        Rule {
            negate,
            limited,
            kind: Kind::Provider(req),
        }
    }

    pub fn section(op: Op, negate: bool, rules: Vec<Rule>) -> Rule {
        Rule {
            negate,
            limited: rules.iter().fold(0, |m, r| m | r.limited),
            kind: Kind::Section { op, rules },
        }
    }

    /// Whether any rule of the tree could want a user (for `-t` checks).
    pub fn wants(&self, pred: &dyn Fn(&Require) -> bool) -> bool {
        match &self.kind {
            Kind::Provider(r) => pred(r),
            Kind::Section { rules, .. } => rules.iter().any(|r| r.wants(pred)),
        }
    }
}

/// `AuthMerging`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Merging {
    Off,
    And,
    Or,
}

/// One scope's authorization: its rules (a section of op `Any` holding its lines) and its
/// `AuthMerging` (None: not written, which merges as Off).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuthzConf {
    pub section: Option<Rule>,
    pub merging: Option<Merging>,
}

impl AuthzConf {
    /// Plain `Require` lines, as one section (tests and simple callers).
    pub fn any(reqs: Vec<Require>) -> AuthzConf {
        let rules = reqs
            .into_iter()
            .map(|r| Rule::provider(r, false, ALL_METHODS))
            .collect::<Vec<_>>();
        AuthzConf {
            section: (!rules.is_empty()).then(|| Rule::section(Op::Any, false, rules)),
            merging: None,
        }
    }

    /// `merge_authz_core_dir_config`: `over` is the later (narrower) section.
    pub fn merge(&self, over: &AuthzConf) -> AuthzConf {
        let op = match over.merging {
            None if over.section.is_none() && self.section.is_some() => return self.clone(),
            None | Some(Merging::Off) => return over.clone(),
            Some(Merging::And) => Op::All,
            Some(Merging::Or) => Op::Any,
        };
        let section = match (&self.section, &over.section) {
            (Some(b), Some(n)) => Some(Rule::section(op, false, vec![b.clone(), n.clone()])),
            (b, n) => n.clone().or_else(|| b.clone()),
        };
        AuthzConf {
            section,
            merging: over.merging,
        }
    }
}

/// `authorize_user_core`'s decision for `ctx` (its user None before authentication).
pub fn evaluate(conf: &AuthzConf, ctx: &Ctx<'_>) -> Access {
    let Some(top) = &conf.section else {
        return Access::Granted;
    };
    match apply(top, ctx, Op::All) {
        Status::Granted => Access::Granted,
        Status::DeniedNoUser => Access::NeedAuth,
        Status::Denied | Status::Neutral => Access::Denied,
    }
}

/// `apply_authz_sections`.
fn apply(rule: &Rule, ctx: &Ctx<'_>, parent: Op) -> Status {
    if rule.limited & ctx.method == 0 {
        return match parent {
            Op::All => Status::Granted,
            Op::Any => Status::Neutral,
        };
    }
    let result = match &rule.kind {
        Kind::Provider(req) => check(req, ctx),
        Kind::Section { op, rules } => combine(*op, rules, ctx),
    };
    match (rule.negate, result) {
        (false, r) => r,
        (true, Status::Granted) => Status::Denied,
        (true, _) => Status::Neutral,
    }
}

fn combine(op: Op, rules: &[Rule], ctx: &Ctx<'_>) -> Status {
    use Status::*;
    let mut result = Neutral;
    for rule in rules {
        let r = apply(rule, ctx, op);
        if r == Neutral {
            continue;
        }
        match op {
            Op::All if r == Denied => return Denied,
            Op::Any if r == Granted => return Granted,
            Op::All if (r == DeniedNoUser && result != Denied) || result == Neutral => result = r,
            Op::Any if (r == DeniedNoUser && result == Denied) || result == Neutral => result = r,
            _ => {}
        }
    }
    result
}

#[cfg(test)]
mod tests {
    //! The rules as tables written from mod_authz_core's documentation ("Authorization
    //! Containers", `Require not`, `<Limit>`, `AuthMerging`): each row is a tree, a request
    //! and the answer.
    use super::super::groupfile;
    use super::super::parse_require;
    use super::*;
    use std::net::IpAddr;

    /// A tiny tree language for the rows: `all(..)`, `any(..)`, `none(..)`, `not(LINE)`,
    /// `limit(GET POST|LINE)`, `except(GET|LINE)` or a plain `Require` line.
    fn tree(text: &str) -> Rule {
        let text = text.trim();
        let inner = |p: &str| text.strip_prefix(p).and_then(|t| t.strip_suffix(')'));
        let parts = |t: &str| split(t).into_iter().map(|p| tree(&p)).collect::<Vec<_>>();
        if let Some(t) = inner("all(") {
            Rule::section(Op::All, false, parts(t))
        } else if let Some(t) = inner("any(") {
            Rule::section(Op::Any, false, parts(t))
        } else if let Some(t) = inner("none(") {
            Rule::section(Op::Any, true, parts(t))
        } else if let Some(t) = inner("not(") {
            Rule {
                negate: true,
                ..tree(t)
            }
        } else if let Some(t) = inner("limit(").or_else(|| inner("except(")) {
            let (methods, line) = t.split_once('|').unwrap();
            let bits = methods
                .split_whitespace()
                .fold(0, |m, x| m | method_bit(x).unwrap());
            let bits = if text.starts_with("except") {
                !bits
            } else {
                bits
            };
            let mut r = tree(line);
            r.limited = bits;
            r
        } else {
            let args: Vec<&str> = text.split_whitespace().collect();
            Rule::provider(parse_require(&args).unwrap(), false, ALL_METHODS)
        }
    }

    /// Splits on top-level commas.
    fn split(t: &str) -> Vec<String> {
        let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0);
        for c in t.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(std::mem::take(&mut cur));
                    continue;
                }
                _ => {}
            }
            cur.push(c);
        }
        out.push(cur);
        out
    }

    fn top(lines: &[&str]) -> AuthzConf {
        AuthzConf {
            section: Some(Rule::section(
                Op::Any,
                false,
                lines.iter().map(|l| tree(l)).collect(),
            )),
            merging: None,
        }
    }

    const NET: &str = "192.0.2.7";
    const OTHER: &str = "198.51.100.1";

    fn run(conf: &AuthzConf, user: Option<&str>, peer: &str, method: &str) -> Access {
        let groups = groupfile::parse("staff: alice bob\nadmins: carol\n").unwrap();
        let ctx = Ctx {
            user,
            peer: peer.parse::<IpAddr>().unwrap(),
            method: method_bit(method).unwrap(),
            groups: Some(&groups),
        };
        evaluate(conf, &ctx)
    }

    #[test]
    fn containers_table() {
        use Access::*;
        type Row<'a> = (&'a [&'a str], Option<&'a str>, &'a str, &'a str, Access);
        let rows: &[Row] = &[
            (&[], None, NET, "GET", Granted),
            // Plain lines: any.
            (
                &["all denied", "user bob"],
                Some("bob"),
                NET,
                "GET",
                Granted,
            ),
            (&["all denied", "user bob"], None, NET, "GET", NeedAuth),
            (
                &["ip 192.0.2.0/24", "valid-user"],
                None,
                OTHER,
                "GET",
                NeedAuth,
            ),
            (
                &["ip 192.0.2.0/24", "valid-user"],
                None,
                NET,
                "GET",
                Granted,
            ),
            (
                &["ip 192.0.2.0/24", "user bob"],
                Some("alice"),
                OTHER,
                "GET",
                Denied,
            ),
            // RequireAll: every one, a user asked for only if nothing already denies.
            (
                &["all(ip 192.0.2.0/24, valid-user)"],
                None,
                NET,
                "GET",
                NeedAuth,
            ),
            (
                &["all(ip 192.0.2.0/24, valid-user)"],
                None,
                OTHER,
                "GET",
                Denied,
            ),
            (
                &["all(ip 192.0.2.0/24, valid-user)"],
                Some("x"),
                NET,
                "GET",
                Granted,
            ),
            (
                &["all(ip 192.0.2.0/24, valid-user)"],
                Some("x"),
                OTHER,
                "GET",
                Denied,
            ),
            (
                &["all(valid-user, ip 192.0.2.0/24)"],
                None,
                OTHER,
                "GET",
                Denied,
            ),
            // Require not: removes, never grants.
            (
                &["all(valid-user, not(user bob))"],
                Some("alice"),
                NET,
                "GET",
                Granted,
            ),
            (
                &["all(valid-user, not(user bob))"],
                Some("bob"),
                NET,
                "GET",
                Denied,
            ),
            (
                &["all(valid-user, not(user bob))"],
                None,
                NET,
                "GET",
                NeedAuth,
            ),
            (
                &["all(all granted, not(ip 192.0.2.0/24))"],
                None,
                NET,
                "GET",
                Denied,
            ),
            (
                &["all(all granted, not(ip 192.0.2.0/24))"],
                None,
                OTHER,
                "GET",
                Granted,
            ),
            // `not user` without a user is neutral, so the positive rule decides.
            (
                &["all(all granted, not(user bob))"],
                None,
                NET,
                "GET",
                Granted,
            ),
            // RequireNone inside RequireAll.
            (
                &["all(group staff, none(user bob, ip 198.51.100.0/24))"],
                Some("alice"),
                NET,
                "GET",
                Granted,
            ),
            (
                &["all(group staff, none(user bob, ip 198.51.100.0/24))"],
                Some("bob"),
                NET,
                "GET",
                Denied,
            ),
            (
                &["all(group staff, none(user bob, ip 198.51.100.0/24))"],
                Some("alice"),
                OTHER,
                "GET",
                Denied,
            ),
            (
                &["all(group staff, none(user bob, ip 198.51.100.0/24))"],
                Some("carol"),
                NET,
                "GET",
                Denied,
            ),
            (
                &["all(group staff, none(user bob, ip 198.51.100.0/24))"],
                None,
                OTHER,
                "GET",
                Denied,
            ),
            (
                &["all(group staff, none(user bob, ip 198.51.100.0/24))"],
                None,
                NET,
                "GET",
                NeedAuth,
            ),
            // Nesting: any of (all of ...).
            (
                &["any(all(ip 192.0.2.0/24, group admins), user bob)"],
                Some("carol"),
                NET,
                "GET",
                Granted,
            ),
            (
                &["any(all(ip 192.0.2.0/24, group admins), user bob)"],
                Some("carol"),
                OTHER,
                "GET",
                Denied,
            ),
            (
                &["any(all(ip 192.0.2.0/24, group admins), user bob)"],
                Some("bob"),
                OTHER,
                "GET",
                Granted,
            ),
            (
                &["any(all(ip 192.0.2.0/24, group admins), user bob)"],
                None,
                OTHER,
                "GET",
                NeedAuth,
            ),
            // Groups.
            (&["group staff"], Some("alice"), NET, "GET", Granted),
            (&["group staff"], Some("carol"), NET, "GET", Denied),
            (&["group staff admins"], Some("carol"), NET, "GET", Granted),
            (&["group staff"], None, NET, "GET", NeedAuth),
            // Methods; HEAD is GET.
            (&["method GET"], None, NET, "HEAD", Granted),
            (&["method GET"], None, NET, "POST", Denied),
            (
                &["all(valid-user, not(method DELETE))"],
                Some("x"),
                NET,
                "DELETE",
                Denied,
            ),
            (
                &["all(valid-user, not(method DELETE))"],
                Some("x"),
                NET,
                "PUT",
                Granted,
            ),
            // <Limit>: lines for other methods do not apply.
            (&["limit(POST|valid-user)"], None, NET, "GET", Granted),
            (&["limit(POST|valid-user)"], None, NET, "POST", NeedAuth),
            (
                &["limit(POST PUT|valid-user)", "all granted"],
                None,
                NET,
                "POST",
                Granted,
            ),
            (
                &["limit(POST|valid-user)", "limit(GET|all granted)"],
                None,
                NET,
                "POST",
                NeedAuth,
            ),
            (
                &["limit(POST|valid-user)", "limit(GET|all granted)"],
                None,
                NET,
                "GET",
                Granted,
            ),
            (
                &["limit(POST|valid-user)", "limit(GET|all denied)"],
                None,
                NET,
                "GET",
                Denied,
            ),
            (
                &["limit(POST|valid-user)", "limit(GET|all denied)"],
                None,
                NET,
                "DELETE",
                Granted,
            ),
            (&["except(GET|valid-user)"], None, NET, "HEAD", Granted),
            (&["except(GET|valid-user)"], None, NET, "PUT", NeedAuth),
            (
                &["except(GET|all denied)", "all granted"],
                None,
                NET,
                "PUT",
                Granted,
            ),
            (
                &["all(limit(GET|all denied), valid-user)"],
                Some("x"),
                NET,
                "POST",
                Granted,
            ),
            (
                &["all(limit(GET|all denied), valid-user)"],
                Some("x"),
                NET,
                "GET",
                Denied,
            ),
        ];
        for (lines, user, peer, method, want) in rows {
            let got = run(&top(lines), *user, peer, method);
            assert_eq!(got, *want, "{lines:?} user={user:?} {peer} {method}");
        }
    }

    #[test]
    fn group_without_group_file_denies() {
        let ctx = Ctx {
            user: Some("alice"),
            peer: NET.parse().unwrap(),
            method: method_bit("GET").unwrap(),
            groups: None,
        };
        assert_eq!(evaluate(&top(&["group staff"]), &ctx), Access::Denied);
    }

    #[test]
    fn merging_table() {
        use Access::*;
        let sec = |lines: &[&str], m: Option<Merging>| AuthzConf {
            merging: m,
            ..top(lines)
        };
        let only = |m: Option<Merging>| AuthzConf {
            section: None,
            merging: m,
        };
        let base = sec(&["ip 192.0.2.0/24"], None);
        let rows: &[(AuthzConf, Option<&str>, &str, Access)] = &[
            // Off (or not written): the narrower section's rules replace the inherited ones.
            (sec(&["valid-user"], None), None, NET, NeedAuth),
            (
                sec(&["valid-user"], Some(Merging::Off)),
                None,
                NET,
                NeedAuth,
            ),
            // No rules of its own: inherited.
            (only(None), None, NET, Granted),
            (only(None), None, OTHER, Denied),
            (only(Some(Merging::And)), None, OTHER, Denied),
            // And: both must grant; Or: either.
            (
                sec(&["valid-user"], Some(Merging::And)),
                None,
                NET,
                NeedAuth,
            ),
            (
                sec(&["valid-user"], Some(Merging::And)),
                None,
                OTHER,
                Denied,
            ),
            (
                sec(&["valid-user"], Some(Merging::And)),
                Some("x"),
                NET,
                Granted,
            ),
            (sec(&["valid-user"], Some(Merging::Or)), None, NET, Granted),
            (
                sec(&["valid-user"], Some(Merging::Or)),
                None,
                OTHER,
                NeedAuth,
            ),
            // Off with no rules of its own: nothing inherited, so granted (Apache's merge
            // takes the new scope's empty configuration).
            (only(Some(Merging::Off)), None, OTHER, Granted),
        ];
        for (over, user, peer, want) in rows {
            let merged = base.merge(over);
            assert_eq!(
                run(&merged, *user, peer, "GET"),
                *want,
                "{over:?} {user:?} {peer}"
            );
        }
        // Merging is the narrower section's: a third level without AuthMerging replaces.
        let two = base.merge(&sec(&["valid-user"], Some(Merging::And)));
        let three = two.merge(&sec(&["all granted"], None));
        assert_eq!(run(&three, None, OTHER, "GET"), Granted);
        let three = two.merge(&only(None));
        assert_eq!(run(&three, None, OTHER, "GET"), Denied);
    }

    #[test]
    fn methods_are_apaches() {
        assert_eq!(method_bit("HEAD"), method_bit("GET"));
        assert!(method_bit("get").is_none());
        assert!(method_bit("FOO").is_none());
        assert_ne!(method_bit("POST"), method_bit("PUT"));
        for m in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH",
        ] {
            assert!(method_bit(m).is_some(), "{m}");
        }
        assert_ne!(request_method("FOO") & ALL_METHODS, 0);
        assert_eq!(request_method("FOO") & method_bit("GET").unwrap(), 0);
    }
}
