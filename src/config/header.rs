//! mod_headers' `Header [onsuccess|always] set|append|merge|add|setifempty|unset NAME [VALUE]`:
//! the rule's parser and its application to a response's fields. Pure.
//!
//! Apache keeps two tables: the handler's fields (`headers_out`, where `onsuccess` rules act)
//! and `err_headers_out` (where `always` rules act), and sends both, `err_headers_out` first. So `onsuccess` rules
//! change responses a handler made (a file, a 304, a CGI program's answer, whatever its
//! status) and not the pages the server generates for errors and redirects; `always` rules
//! add to every response, including those. The forms that read the request or the
//! environment (`echo`, `edit`, `note`, `expr=`, `env=`, `early`, `%{...}` in values) are
//! refused with the reason.
#![forbid(unsafe_code)]

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Action {
    Set,
    Append,
    Merge,
    Add,
    SetIfEmpty,
    Unset,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeaderRule {
    /// `always`: acts on every response; `onsuccess` (the default): on the handler's.
    pub always: bool,
    pub action: Action,
    pub name: String,
    pub value: String,
}

/// Fields the server writes itself (framing and hop-by-hop): a rule naming one is an error.
const FRAMING: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
];

/// Fields the server writes after every rule has run (as Apache's core does): a rule naming
/// one has no effect, which `-t` says.
pub const SERVER_OWNED: &[&str] = &["date", "server"];

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(crate::http::syntax::is_tchar)
}

/// A field value Apache's format would write as given: `%%` is a literal `%`; any other
/// `%` starts a format specifier, which is refused.
fn literal(value: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some('%') => out.push('%'),
                _ => {
                    return Err(format!(
                        "'{value}': format specifiers (%t, %D, %{{VAR}}e...) are not implemented: write the value literally (%% for %)"
                    ))
                }
            }
        } else if c.is_control() && c != '\t' {
            return Err(format!(
                "'{}': control characters in a field value",
                value.escape_debug()
            ));
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Parses a `Header` line's arguments.
pub fn parse(args: &[String]) -> Result<HeaderRule, String> {
    let mut rest = args;
    let mut always = false;
    if let Some((first, after)) = args.split_first() {
        if first.eq_ignore_ascii_case("always") {
            always = true;
            rest = after;
        } else if first.eq_ignore_ascii_case("onsuccess") {
            rest = after;
        }
    }
    let Some((action, rest)) = rest.split_first() else {
        return Err(
            "Header: the action (set, append, merge, add, setifempty, unset) is missing".into(),
        );
    };
    let action = match action.to_ascii_lowercase().as_str() {
        "set" => Action::Set,
        "append" => Action::Append,
        "merge" => Action::Merge,
        "add" => Action::Add,
        "setifempty" => Action::SetIfEmpty,
        "unset" => Action::Unset,
        "echo" => return Err("Header echo copies request fields into the response: not implemented (write the fields with set)".into()),
        "edit" | "edit*" => return Err("Header edit: regular-expression editing of fields is not implemented: write the whole value with set".into()),
        "note" => return Err("Header note: there are no request notes here".into()),
        other => return Err(format!("Header: '{other}' is not an action (set, append, merge, add, setifempty, unset)")),
    };
    let Some((name, rest)) = rest.split_first() else {
        return Err("Header: the field name is missing".into());
    };
    if !is_token(name) {
        return Err(format!("Header: '{name}' is not a field name"));
    }
    let lower = name.to_ascii_lowercase();
    if FRAMING.contains(&lower.as_str()) {
        return Err(format!(
            "Header: {name} is a framing or hop-by-hop field the server writes itself; it cannot be changed"
        ));
    }
    let (value, rest) = match (action, rest) {
        (Action::Unset, r) => (String::new(), r),
        (_, [v, r @ ..]) => {
            if v.starts_with("expr=") {
                return Err(
                    "Header: expr= values (ap_expr) are not implemented: write the value literally"
                        .into(),
                );
            }
            (literal(v)?, r)
        }
        (_, []) => return Err(format!("Header: the value for {name} is missing")),
    };
    match rest {
        [] => {}
        [c] if c.eq_ignore_ascii_case("early") => {
            return Err("Header ... early: request-time headers are not implemented".into())
        }
        [c] if c.starts_with("env=") || c.starts_with("expr=") => {
            return Err(format!(
                "Header ... {c}: conditions on the environment or on expressions are not implemented; put the rule in a <Directory>, <Files> or <Location> section instead"
            ))
        }
        more => {
            return Err(format!(
                "Header: unexpected argument(s) after the value: {}",
                more.join(" ")
            ))
        }
    }
    Ok(HeaderRule {
        always,
        action,
        name: name.clone(),
        value,
    })
}

/// The `Header` directive's handler.
pub fn directive(
    b: &mut super::build::Builder,
    n: &super::parse::Node,
    d: &mut super::model::DirConf,
) {
    match parse(&n.args) {
        Ok(r) => {
            if SERVER_OWNED.contains(&r.name.to_ascii_lowercase().as_str()) {
                b.warn(n, format!("Header {}: has no effect: the server writes this field after every rule (as Apache's core)", r.name));
            }
            d.headers.push(r);
        }
        Err(e) => b.error(n, e),
    }
}

pub type Fields = Vec<(String, Vec<u8>)>;

/// One rule on one table, as mod_headers' `do_headers_fixup`.
fn apply_one(r: &HeaderRule, t: &mut Fields) {
    let is = |n: &String| n.eq_ignore_ascii_case(&r.name);
    if SERVER_OWNED.contains(&r.name.to_ascii_lowercase().as_str()) {
        return;
    }
    let value = r.value.as_bytes().to_vec();
    let first = t.iter().position(|(n, _)| is(n));
    let first_value = first.and_then(|i| t.get(i)).map(|(_, v)| v.clone());
    match (r.action, first) {
        // apr_table_setn: the first field keeps its place (and spelling), the others go.
        (Action::Set, Some(i)) => {
            let mut k = 0;
            t.retain(|(n, _)| {
                k += 1;
                k - 1 == i || !is(n)
            });
            if let Some(f) = t.get_mut(i) {
                f.1 = value;
            }
        }
        (Action::Set | Action::SetIfEmpty | Action::Append | Action::Merge, None)
        | (Action::Add, _) => t.push((r.name.clone(), value)),
        (Action::SetIfEmpty, Some(_)) => {}
        (Action::Unset, _) => t.retain(|(n, _)| !is(n)),
        // Merge looks at the first field only (apr_table_get) and leaves the table alone
        // when the value is already one of its comma-separated values.
        (Action::Merge, Some(_))
            if first_value.as_deref().is_some_and(|v| {
                v.split(|&b| b == b',')
                    .any(|p| crate::http::syntax::trim_ows(p) == value.as_slice())
            }) => {}
        // apr_table_mergen: ", VALUE" appended to the first field.
        (Action::Append | Action::Merge, Some(i)) => {
            if let Some(f) = t.get_mut(i) {
                f.1.extend_from_slice(b", ");
                f.1.extend_from_slice(&value);
            }
        }
    }
}

/// Applies `rules` (in merge order) to a response. `handler`: the fields of a response a
/// handler made (onsuccess rules act on them; always rules on a second table, sent first);
/// `None`: a page the server generated (only always rules act, on its own fields).
pub fn apply(rules: &[HeaderRule], fields: &mut Fields, handler: bool) {
    if handler {
        let mut err = Fields::new();
        for r in rules {
            if r.always {
                apply_one(r, &mut err);
            } else {
                apply_one(r, fields);
            }
        }
        // apr_table_overlay(err_headers_out, headers_out): the always table goes first.
        err.append(fields);
        *fields = err;
    } else {
        for r in rules.iter().filter(|r| r.always) {
            apply_one(r, fields);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(line: &str) -> HeaderRule {
        let args: Vec<String> = line.split(' ').map(String::from).collect();
        parse(&args).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn fields(f: &[(&str, &str)]) -> Fields {
        f.iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    /// Hand-written from the mod_headers manual's descriptions of each action.
    #[test]
    fn actions() {
        let start = &[("X-A", "1"), ("Content-Type", "text/html"), ("x-a", "2")];
        for (rules, handler, want) in [
            (
                &["set X-A 3"][..],
                true,
                &[("X-A", "3"), ("Content-Type", "text/html")][..],
            ),
            (
                &["set x-A 3"],
                true,
                &[("X-A", "3"), ("Content-Type", "text/html")],
            ),
            (&["unset x-a"], true, &[("Content-Type", "text/html")]),
            (
                &["add X-A 3"],
                true,
                &[
                    ("X-A", "1"),
                    ("Content-Type", "text/html"),
                    ("x-a", "2"),
                    ("X-A", "3"),
                ],
            ),
            (
                &["append X-A 3"],
                true,
                &[("X-A", "1, 3"), ("Content-Type", "text/html"), ("x-a", "2")],
            ),
            (&["merge X-A 1"], true, start),
            (
                &["merge X-A 2"],
                true,
                &[("X-A", "1, 2"), ("Content-Type", "text/html"), ("x-a", "2")],
            ),
            (
                &["append X-New v"],
                true,
                &[
                    ("X-A", "1"),
                    ("Content-Type", "text/html"),
                    ("x-a", "2"),
                    ("X-New", "v"),
                ],
            ),
            (
                &["setifempty X-A 9", "setifempty X-B 9"],
                true,
                &[
                    ("X-A", "1"),
                    ("Content-Type", "text/html"),
                    ("x-a", "2"),
                    ("X-B", "9"),
                ],
            ),
            // always acts on a second table, sent before the handler's fields.
            (
                &["always set X-A 9"],
                true,
                &[
                    ("X-A", "9"),
                    ("X-A", "1"),
                    ("Content-Type", "text/html"),
                    ("x-a", "2"),
                ],
            ),
            (&["always unset X-A"], true, start),
            // A generated page: only always rules, on its own fields.
            (
                &["set X-B 1", "always set X-C 2"],
                false,
                &[
                    ("X-A", "1"),
                    ("Content-Type", "text/html"),
                    ("x-a", "2"),
                    ("X-C", "2"),
                ],
            ),
            (
                &["always unset X-A"],
                false,
                &[("Content-Type", "text/html")],
            ),
            // The server writes Date and Server itself.
            (&["set Server x", "always set Date y"], true, start),
            (
                &["set X-P 100%%"],
                true,
                &[
                    ("X-A", "1"),
                    ("Content-Type", "text/html"),
                    ("x-a", "2"),
                    ("X-P", "100%"),
                ],
            ),
        ] {
            let rules: Vec<HeaderRule> = rules.iter().map(|l| rule(l)).collect();
            let mut f = fields(start);
            apply(&rules, &mut f, handler);
            assert_eq!(f, fields(want), "{rules:?}");
        }
    }

    #[test]
    fn refused() {
        for (line, want) in [
            ("set Content-Length 5", "framing"),
            ("always set Transfer-Encoding chunked", "framing"),
            ("unset Connection", "framing"),
            ("echo ^X-", "not implemented"),
            ("edit X a b", "not implemented"),
            ("set X %t", "format specifiers"),
            ("set X expr=%{REQUEST_URI}", "expr="),
            ("set X v env=HTTPS", "environment"),
            ("set X v early", "early"),
            ("set X v w", "unexpected"),
            ("set X", "value for X is missing"),
            ("set", "field name is missing"),
            ("always", "action"),
            ("frob X v", "not an action"),
            ("set X(y) v", "not a field name"),
        ] {
            let args: Vec<String> = line.split(' ').map(String::from).collect();
            let e = parse(&args).expect_err(line);
            assert!(e.contains(want), "{line}: {e}");
        }
        let r = rule("onsuccess SET x-y v");
        assert_eq!(
            (r.always, r.action, r.name.as_str()),
            (false, Action::Set, "x-y")
        );
    }
}
