//! The directives of mod_authz_core, mod_authz_groupfile and `<Limit>`: `Require [not]`,
//! `<RequireAll>`, `<RequireAny>`, `<RequireNone>`, `<Limit>`, `<LimitExcept>`,
//! `AuthMerging`, `AuthGroupFile`. They build the scope's rule tree
//! ([`crate::auth::authz`]) as Apache's `add_authz_provider`/`add_authz_section` do, and
//! refuse at `-t` what Apache refuses at start (AH01624 and the "has no effect" errors):
//!
//! * `Require not` or `<RequireNone>` directly in a `<RequireAny>`, a `<RequireNone>`, or
//!   among a section's plain lines (an implicit RequireAny): a negation there can only
//!   remove, never grant, so it would have no effect;
//! * a container with no rule;
//! * a `<RequireAll>` whose rules are all negative: it could never grant.
//!
//! A `<RequireAny>` inside a `<RequireAny>` (or among plain lines), or a `<RequireAll>` in a
//! `<RequireAll>`, joins its parent, as Apache's "be associative" step does, so the check of
//! the last point is made on the joined rules.
#![forbid(unsafe_code)]

use super::build::Builder;
use super::directives;
use super::model::DirConf;
use super::parse::Node;
use crate::auth::authz::{method_bit, Kind, Merging, Methods, Op, Rule, ALL_METHODS};

/// The builder's state while `<Limit>` and container bodies are read.
#[derive(Debug)]
pub struct Walk {
    /// The methods of the `<Limit>`/`<LimitExcept>` being read (all outside one).
    limited: Methods,
    /// The containers open around the node being read, innermost last.
    stack: Vec<Open>,
}

impl Default for Walk {
    fn default() -> Self {
        Walk {
            limited: ALL_METHODS,
            stack: Vec::new(),
        }
    }
}

#[derive(Debug)]
struct Open {
    op: Op,
    negate: bool,
    rules: Vec<Rule>,
}

fn label(op: Op, negate: bool) -> &'static str {
    match (op, negate) {
        (Op::All, _) => "<RequireAll>",
        (Op::Any, false) => "<RequireAny>",
        (Op::Any, true) => "<RequireNone>",
    }
}

/// `Require [not] PROVIDER ARGS...`
pub fn require(b: &mut Builder, n: &Node, d: &mut DirConf) {
    let args: Vec<&str> = n.args.iter().map(String::as_str).collect();
    let (negate, rest) = match args.split_first() {
        Some((not, rest)) if not.eq_ignore_ascii_case("not") => (true, rest),
        _ => (false, args.as_slice()),
    };
    match crate::auth::parse_require(rest) {
        Ok(r) => {
            let rule = Rule::provider(r, negate, b.authz.limited);
            attach(b, n, d, rule, &format!("Require {}", n.args.join(" ")));
        }
        Err(m) => b.error(n, format!("Require: {m}")),
    }
}

/// `<RequireAll>`, `<RequireAny>`, `<RequireNone>`.
pub fn require_section(b: &mut Builder, n: &Node, d: &mut DirConf) {
    let (op, negate) = match n.name.to_ascii_lowercase().as_str() {
        "requireall" => (Op::All, false),
        "requireany" => (Op::Any, false),
        _ => (Op::Any, true),
    };
    b.authz.stack.push(Open {
        op,
        negate,
        rules: Vec::new(),
    });
    b.walk_into(n, d, directives::AUTHZ);
    let Some(open) = b.authz.stack.pop() else {
        return;
    };
    let name = label(op, negate);
    if open.rules.is_empty() {
        return b.error(
            n,
            format!("{name} contains no authorization directives (Require lines or containers)"),
        );
    }
    attach(b, n, d, Rule::section(op, negate, open.rules), name);
}

/// Adds `rule` to the innermost open container, else to the scope's own section.
fn attach(b: &mut Builder, n: &Node, d: &mut DirConf, rule: Rule, what: &str) {
    let (parent_op, parent) = match b.authz.stack.last() {
        Some(o) => (o.op, label(o.op, o.negate)),
        None => (Op::Any, "<RequireAny>"),
    };
    if rule.negate && parent_op == Op::Any {
        let implicit = if b.authz.stack.is_empty() {
            " (a section's own Require lines are an implicit <RequireAny>)"
        } else {
            ""
        };
        return b.error(n, format!("{what} has no effect in {parent}{implicit}: a negation only removes, so it needs a <RequireAll> with a positive rule beside it"));
    }
    let joined = match rule.kind {
        Kind::Section { op, rules } if !rule.negate && op == parent_op => rules,
        kind => {
            let rule = Rule { kind, ..rule };
            if let Kind::Section { op: Op::All, rules } = &rule.kind {
                if !rules.iter().any(|r| !r.negate) {
                    b.error(n, format!("{what} contains only negative authorization directives (Require not, <RequireNone>): it could never grant; put the rule they narrow beside them"));
                }
            }
            vec![rule]
        }
    };
    match b.authz.stack.last_mut() {
        Some(open) => open.rules.extend(joined),
        None => {
            let top = d
                .authz
                .section
                .get_or_insert_with(|| Rule::section(Op::Any, false, Vec::new()));
            top.limited |= joined.iter().fold(0, |m, r| m | r.limited);
            if let Kind::Section { rules, .. } = &mut top.kind {
                rules.extend(joined);
            }
        }
    }
}

/// `<Limit METHOD...>` and `<LimitExcept METHOD...>`: the `Require` lines inside apply only to
/// those methods (or all but those); other directives inside apply to every method, as in
/// Apache.
pub fn limit(b: &mut Builder, n: &Node, d: &mut DirConf) {
    let except = n.is("LimitExcept");
    let mut bits: Methods = 0;
    let mut unknown = Vec::new();
    for m in &n.args {
        if m == "TRACE" && !except {
            return b.error(
                n,
                "TRACE cannot be controlled by <Limit> (Apache's rule, see TraceEnable): this server always answers TRACE with 405",
            );
        }
        match method_bit(m) {
            Some(bit) => bits |= bit,
            None => unknown.push(m.as_str()),
        }
    }
    if !unknown.is_empty() {
        b.warn(n, format!("<{} {}>: {} is not a method this server serves (methods are case-sensitive; any other method is answered 501 before admission), so no request is limited by that name", n.name, n.args.join(" "), unknown.join(", ")));
    }
    let limited = if except { !bits } else { bits };
    let old = b.authz.limited;
    if old != ALL_METHODS {
        return b.error(
            n,
            format!(
                "<{}> cannot be nested in another <Limit> or <LimitExcept>",
                n.name
            ),
        );
    }
    b.authz.limited = old & limited;
    b.walk_into(n, d, directives::LIMIT);
    b.authz.limited = old;
}

/// `AuthMerging Off|And|Or`.
pub fn auth_merging(b: &mut Builder, n: &Node, d: &mut DirConf) {
    let Some(word) = n.args.first() else { return };
    d.authz.merging = Some(match word.to_ascii_lowercase().as_str() {
        "off" => Merging::Off,
        "and" => Merging::And,
        "or" => Merging::Or,
        _ => return b.error(n, "AuthMerging must be one of: Off | And | Or"),
    });
}

/// `AuthGroupFile PATH`: read (and checked) by the master at load, like AuthUserFile.
pub fn auth_group_file(b: &mut Builder, n: &Node, d: &mut DirConf) {
    if let Some(f) = n.args.first() {
        let at = super::model::Origin {
            file: n.file.clone(),
            line: n.line,
        };
        d.auth_group_file = Some((b.path(f), at));
    }
}

#[cfg(test)]
mod tests {
    use super::super::build::build;
    use super::super::parse::parse;
    use std::path::Path;

    fn errors(body: &str) -> Vec<String> {
        let text = format!(
            "Listen 127.0.0.1:80\nDocumentRoot /srv\n<Directory /srv>\n{body}</Directory>\n"
        );
        let nodes = parse(&text, Path::new("/etc/t.conf")).unwrap();
        // Whether a user-Require has AuthType and AuthUserFile is config::authcheck's test.
        let structural = |m: &String| !m.contains("asks for a user");
        match build(&nodes, Path::new("/etc/t.conf")) {
            Ok(c) => c.warnings.iter().map(|w| format!("warning {w}")).collect(),
            Err(es) => es
                .iter()
                .map(|e| e.to_string())
                .filter(structural)
                .collect(),
        }
    }

    /// What Apache 2.4 refuses at start (checked with `apache2 -t`), refused here with
    /// FILE:LINE; what it accepts, accepted.
    #[test]
    fn structure_table() {
        let ok: &[&str] = &[
            "Require all granted\n",
            "<RequireAll>\nRequire valid-user\nRequire not user bob\n</RequireAll>\n",
            "<RequireAll>\nRequire valid-user\n<RequireNone>\nRequire user bob\nRequire ip 10.0.0.0/8\n</RequireNone>\n</RequireAll>\n",
            // Joined with its parent first, then checked: a positive rule is there.
            "<RequireAll>\nRequire ip 10.0.0.0/8\n<RequireAll>\nRequire not user bob\n</RequireAll>\n</RequireAll>\n",
            "<RequireAny>\n<RequireAll>\nRequire valid-user\nRequire not user bob\n</RequireAll>\nRequire ip 10.0.0.0/8\n</RequireAny>\n",
            "<Limit POST PUT>\nRequire valid-user\n</Limit>\n<LimitExcept POST PUT>\nRequire all granted\n</LimitExcept>\n",
            "<Limit POST>\n<RequireAll>\nRequire valid-user\nRequire not user bob\n</RequireAll>\n</Limit>\n",
            "<LimitExcept TRACE>\nRequire all granted\n</LimitExcept>\n",
            "<RequireAll>\nRequire valid-user\n<Limit GET>\nRequire all granted\n</Limit>\n</RequireAll>\n",
            "AuthMerging And\nRequire valid-user\n",
            "Require method GET HEAD\n",
        ];
        for body in ok {
            assert_eq!(errors(body), Vec::<String>::new(), "{body}");
        }
        let refused: &[(&str, &str)] = &[
            ("Require not user bob\n", "4: Require not user bob has no effect in <RequireAny> (a section's own"),
            ("Require all granted\nRequire not ip 10.0.0.1\n", "5: Require not ip 10.0.0.1 has no effect"),
            ("<RequireAny>\nRequire valid-user\nRequire not user bob\n</RequireAny>\n", "6: Require not user bob has no effect in <RequireAny>"),
            ("<RequireNone>\nRequire user bob\n</RequireNone>\n", "4: <RequireNone> has no effect in <RequireAny>"),
            ("<RequireAll>\nRequire all granted\n<RequireNone>\n<RequireNone>\nRequire user bob\n</RequireNone>\n</RequireNone>\n</RequireAll>\n", "7: <RequireNone> has no effect in <RequireNone>"),
            ("<RequireAll>\nRequire not user bob\n</RequireAll>\n", "4: <RequireAll> contains only negative"),
            ("<RequireAll>\n<RequireNone>\nRequire user bob\n</RequireNone>\n</RequireAll>\n", "4: <RequireAll> contains only negative"),
            ("<RequireAll>\n</RequireAll>\n", "4: <RequireAll> contains no authorization"),
            ("<RequireAll foo>\nRequire all granted\n</RequireAll>\n", "RequireAll takes 0 argument"),
            ("<RequireAll>\nOptions None\n</RequireAll>\n", "5: Options is not allowed in <RequireAll>"),
            ("<Limit GET>\n<RequireAll>\n<Limit POST>\nRequire all granted\n</Limit>\n</RequireAll>\n</Limit>\n", "6: <Limit> cannot be nested"),
            ("<Limit GET>\n<Limit POST>\nRequire all granted\n</Limit>\n</Limit>\n", "<Limit> is not allowed inside <Limit>"),
            ("<Limit TRACE>\nRequire all denied\n</Limit>\n", "4: TRACE cannot be controlled"),
            ("<Limit GET>\nOptions None\n</Limit>\n", "Options is not allowed in <Limit>"),
            ("Require group\n", "at least one group"),
            ("Require expr %{REMOTE_ADDR} == '1.2.3.4'\n", "not implemented"),
            ("Require host example.org\n", "DNS"),
            ("AuthMerging Maybe\n", "Off | And | Or"),
        ];
        for (body, want) in refused {
            let got = errors(body);
            assert!(
                got.iter().any(|e| e.contains(want)),
                "{body}: {got:?} lacks '{want}'"
            );
        }
        let w = errors("<Limit get PROPFIND>\nRequire all denied\n</Limit>\n");
        assert!(
            w.iter().any(
                |e| e.starts_with("warning /etc/t.conf:4") && e.contains("get is not a method")
            ),
            "{w:?}"
        );
    }
}
