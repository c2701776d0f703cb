//! The module graph shows the design (issue #17): the master and the child are two halves of a
//! fork that share only `handoff` (the master calls `child::run`, nothing else crosses), and
//! the handlers take `http`, `config` and `sandbox` types, never reaching back into the child
//! that runs them.
//!
//! The oracle is a hand-written table of forbidden edges, checked against every path the
//! sources name (`use` lines and inline `crate::a::b` paths, `super::` chains resolved from
//! the file's place in the tree). It reads the source text only: no code of the crate runs.

use std::path::{Path, PathBuf};

/// (modules whose files are checked, module they must not name, why).
const FORBIDDEN: &[(&[&str], &str, &str)] = &[
    (
        &["child"],
        "master",
        "the child reads the contract across the fork from `handoff`, not from the master",
    ),
    (
        &["handler", "dav"],
        "child",
        "a handler takes http/config/sandbox types; the child runs it, not the other way round",
    ),
    (
        &["handoff"],
        "master",
        "the contract across the fork depends on neither half",
    ),
    (
        &["handoff"],
        "child",
        "the contract across the fork depends on neither half",
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a source file: `src/child/admit.rs` is `child::admit`,
/// `src/child/mod.rs` is `child`, `src/lib.rs` is the crate root.
fn module_of(rel: &Path) -> Vec<String> {
    let mut m: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(m.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        m.pop();
    }
    m
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Top-level modules of the crate named by `code` (comments stripped), seen from `module`:
/// `crate::x`, `crate::{x, y::z}`, `super::…::x` resolved to the crate root.
fn named_roots(code: &str, module: &[String]) -> Vec<String> {
    let mut roots = Vec::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or("");
        for (i, _) in line.match_indices(['c', 's']) {
            let before_ok = !line[..i].ends_with(|c: char| is_ident(c) || c == ':');
            let tail = &line[i..];
            if before_ok && tail.starts_with("crate::") {
                roots.extend(after_root(&tail["crate::".len()..]));
            } else if before_ok && tail.starts_with("super::") {
                let mut depth = 0;
                let mut t = tail;
                while let Some(r) = t.strip_prefix("super::") {
                    depth += 1;
                    t = r;
                }
                // `super` from a file's inline `mod tests` is the file itself: treat every
                // chain as if written at file level, which can only over-report.
                if depth == module.len() {
                    roots.extend(after_root(t));
                } else if depth < module.len() {
                    if let Some(first) = module.first() {
                        roots.push(first.clone());
                    }
                }
            }
        }
    }
    roots
}

/// The first segment(s) of a path written after `crate::`: one name, or each name of a
/// brace group.
fn after_root(t: &str) -> Vec<String> {
    if let Some(group) = t.strip_prefix('{') {
        let mut out = Vec::new();
        let mut nest = 0;
        let mut item_start = true;
        for (i, c) in group.char_indices() {
            match c {
                '{' => nest += 1,
                '}' if nest == 0 => break,
                '}' => nest -= 1,
                ',' if nest == 0 => item_start = true,
                c if item_start && is_ident(c) => {
                    let name: String = group[i..].chars().take_while(|&c| is_ident(c)).collect();
                    out.push(name);
                    item_start = false;
                }
                _ => {}
            }
        }
        return out;
    }
    let name: String = t.chars().take_while(|&c| is_ident(c)).collect();
    if name.is_empty() {
        Vec::new()
    } else {
        vec![name]
    }
}

fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    assert!(files.len() > 50, "too few sources under {}", src.display());
    let mut out = Vec::new();
    for f in files {
        let rel = f.strip_prefix(src).expect("under src");
        let module = module_of(rel);
        let code = std::fs::read_to_string(&f).expect("readable source");
        let roots = named_roots(&code, &module);
        for (from, to, why) in FORBIDDEN {
            let Some(top) = module.first() else { continue };
            if from.contains(&top.as_str()) && roots.iter().any(|r| r == to) {
                out.push(format!(
                    "{} (module {}) names crate::{to}: {why}",
                    rel.display(),
                    module.join("::")
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn no_forbidden_edge_in_the_module_graph() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let v = violations(&src);
    assert!(v.is_empty(), "forbidden imports:\n{}", v.join("\n"));
}

/// The checker itself, against hand-written snippets: each forbidden form is caught, and
/// comments and other crates' paths are not.
#[test]
fn the_checker_sees_each_form() {
    let m = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    for (code, module, expected) in [
        (
            "use crate::master::Inherited;",
            "child::accept",
            &["master"][..],
        ),
        (
            "let x = crate::master::status::Event::Accepted;",
            "child",
            &["master"],
        ),
        (
            "use crate::{http, master::Inherited};",
            "child::refuse",
            &["http", "master"],
        ),
        (
            "use crate::{config::{A, B}, child};",
            "handler",
            &["config", "child"],
        ),
        (
            "use super::super::child::route;",
            "handler::cgi",
            &["child"],
        ),
        ("use super::super::route;", "child::x", &["route"]),
        ("use super::map;", "child::admit", &["child"]),
        ("// crate::master is not named here", "child", &[]),
        ("use oneshot_httpd::master;", "child", &[]),
        ("mycrate::master::x()", "child", &[]),
        ("ccrate::master::x()", "child", &[]),
    ] {
        let got = named_roots(code, &m(module));
        let got: Vec<&str> = got.iter().map(String::as_str).collect();
        assert_eq!(got, expected, "{code} in {module}");
    }
}

/// `child::serve` reads as the pipeline (accept -> isolate -> front -> loop { read -> one
/// request: admit, confine once, handle, log }) in under 40 lines, signature included.
#[test]
fn child_serve_stays_a_table_of_contents() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/child/mod.rs");
    let text = std::fs::read_to_string(path).expect("src/child/mod.rs");
    let body: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("pub fn serve("))
        .take_while(|l| *l != "}")
        .collect();
    assert!(!body.is_empty(), "child::serve not found");
    let lines = body.len() + 1;
    assert!(lines < 40, "child::serve is {lines} lines");
}
