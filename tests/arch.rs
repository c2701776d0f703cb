//! The module graph shows the design (issue #17): the master and the child are two halves of a
//! fork that share only `handoff` (the master calls `child::run`, nothing else crosses), and
//! the handlers take `http`, `config` and `sandbox` types, never reaching back into the child
//! that runs them.
//!
//! The oracle is a hand-written table of forbidden edges, checked against every path the
//! sources name (`use` lines and inline `crate::a::b` paths, `super::` chains resolved from
//! the file's place in the tree). It reads the source text only: no code of the crate runs.
//!
//! The master's one edge to the child is the call `child::run` in the forked process: no other
//! item of `crate::child` is named under `src/master` (what both halves need lives in
//! `handoff`, `sandbox` or elsewhere).
//!
//! `unsafe` lives in one crate, `crates/oneshot-sys`: no other Rust file of the repository
//! (the server, its fuzz targets, other crates) has an `unsafe` block, function or impl, or
//! re-allows `unsafe_code`; the integration tests that make raw calls of their own, as
//! oracles that must not go through the code under test, are named one by one in
//! [`TESTS_WITH_UNSAFE`].

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

/// The one crate that may contain `unsafe`, relative to the repository.
const SYS_CRATE: &str = "crates/oneshot-sys";

/// Integration tests that call the kernel themselves, with why. Each must still contain
/// `unsafe` (a stale entry fails), and no other file outside [`SYS_CRATE`] may.
const TESTS_WITH_UNSAFE: &[(&str, &str)] = &[
    (
        "tests/common/mod.rs",
        "atexit(3): the run directory is removed when the test process exits",
    ),
    (
        "tests/sandbox_real.rs",
        "raw syscall(2) with arbitrary numbers: the seccomp filter's oracle is the kernel; \
         unshare(2)/mount(2) to make the shared mount the propagation check is compared on",
    ),
    (
        "tests/probe.rs",
        "keyctl/add_key in pre_exec: the master gets a session keyring as under systemd",
    ),
];

/// Every `.rs` file under `dir`, skipping build output (`target`) and hidden directories.
fn repo_rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        if p.is_dir() {
            if name != "target" && !name.starts_with('.') {
                repo_rust_files(&p, out);
            }
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

/// The identifiers and punctuation of Rust source, without comments, string, byte-string,
/// raw-string and character literals (so a word in a message or a comment is not code).
fn code_tokens(src: &str) -> Vec<String> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    while i < c.len() {
        let ch = c[i];
        if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if (ch == 'r' || (ch == 'b' && at(i + 1) == 'r'))
            && matches!(at(i + 1 + usize::from(ch == 'b')), '"' | '#')
            && (i == 0 || !is_ident(c[i - 1]))
        {
            // r"...", r#"..."#, br"...": ends at the quote followed by as many hashes.
            let mut j = i + 1 + usize::from(ch == 'b');
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            if at(j) != '"' {
                // `r#ident`: a raw identifier.
                out.push(c[j..].iter().take_while(|&&x| is_ident(x)).collect());
                i = j + out.last().map_or(0, |t: &String| t.chars().count());
                continue;
            }
            j += 1;
            while j < c.len() && !(c[j] == '"' && (1..=hashes).all(|k| at(j + k) == '#')) {
                j += 1;
            }
            i = j + 1 + hashes;
        } else if ch == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if ch == '\'' {
            // 'x', '\n', '\u{..}' are characters; 'a (no closing quote next) is a lifetime.
            if at(i + 1) == '\\' {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
            }
        } else if is_ident(ch) {
            let word: String = c[i..].iter().take_while(|&&x| is_ident(x)).collect();
            i += word.chars().count();
            out.push(word);
        } else {
            if !ch.is_whitespace() {
                out.push(ch.to_string());
            }
            i += 1;
        }
    }
    out
}

/// What in `src` makes `unsafe` possible: the keyword itself (blocks, functions, impls,
/// traits), or a lint attribute that lets `unsafe_code` through again.
fn unsafe_forms(src: &str) -> Vec<String> {
    let t = code_tokens(src);
    let mut found = Vec::new();
    for (i, w) in t.iter().enumerate() {
        if w == "unsafe" {
            found.push("unsafe".to_string());
        }
        if matches!(w.as_str(), "allow" | "warn" | "expect")
            && t.get(i + 1).is_some_and(|p| p == "(")
        {
            let args = t[i + 2..].iter().take_while(|p| *p != ")");
            if args.clone().any(|a| a == "unsafe_code") {
                found.push(format!("{w}(unsafe_code)"));
            }
        }
    }
    found
}

#[test]
fn unsafe_only_in_the_sys_crate() {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    repo_rust_files(top, &mut files);
    assert!(files.len() > 100, "too few sources under {}", top.display());
    let mut bad = Vec::new();
    let mut allowed_seen = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(top).expect("under the repository");
        if rel.starts_with(SYS_CRATE) {
            continue;
        }
        let code = std::fs::read_to_string(f).expect("readable source");
        let forms = unsafe_forms(&code);
        if forms.is_empty() {
            continue;
        }
        let rel_s = rel.to_string_lossy();
        if TESTS_WITH_UNSAFE.iter().any(|(p, _)| *p == rel_s) {
            allowed_seen.push(rel_s.to_string());
        } else {
            bad.push(format!("{rel_s}: {}", forms.join(", ")));
        }
    }
    assert!(
        bad.is_empty(),
        "`unsafe` outside {SYS_CRATE} (move it there, behind a safe function):\n{}",
        bad.join("\n")
    );
    for (p, why) in TESTS_WITH_UNSAFE {
        assert!(
            allowed_seen.iter().any(|s| s == p),
            "{p} is listed as needing `unsafe` ({why}) but has none: drop it from the list"
        );
    }
}

/// Both roots of the server forbid `unsafe_code`, so no module of it can allow it again.
#[test]
fn the_server_forbids_unsafe_at_its_roots() {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    for root in ["src/lib.rs", "src/main.rs"] {
        let text = std::fs::read_to_string(top.join(root)).expect("crate root");
        let t = code_tokens(&text);
        let forbids = t.windows(7).any(|w| {
            w.iter()
                .map(String::as_str)
                .eq(["#", "!", "[", "forbid", "(", "unsafe_code", ")"])
        });
        assert!(forbids, "{root} does not say #![forbid(unsafe_code)]");
    }
}

/// The scanner itself, against hand-written snippets: code is caught, words in comments and
/// literals are not.
#[test]
fn the_unsafe_scanner_sees_each_form() {
    for (code, expected) in [
        ("let x = unsafe { f() };", &["unsafe"][..]),
        ("unsafe fn f() {}", &["unsafe"]),
        ("unsafe impl Send for X {}", &["unsafe"]),
        ("#![allow(unsafe_code)]", &["allow(unsafe_code)"]),
        ("#[allow(dead_code, unsafe_code)]", &["allow(unsafe_code)"]),
        ("#[expect(unsafe_code)] fn f() {}", &["expect(unsafe_code)"]),
        ("#![forbid(unsafe_code)]", &[]),
        ("#![deny(unsafe_code)]", &[]),
        ("// unsafe { f() }", &[]),
        ("/* unsafe /* nested */ unsafe */ let a = 1;", &[]),
        ("let s = \"unsafe { }\";", &[]),
        ("let s = \"a \\\" unsafe\";", &[]),
        ("let s = r#\"unsafe \" allow(unsafe_code)\"#;", &[]),
        ("let c = '\"'; unsafe { g() }", &["unsafe"]),
        (
            "fn f<'a>(x: &'a str) -> &'a str { unsafe { x } }",
            &["unsafe"],
        ),
        ("let not_unsafe = unsafe_thing();", &[]),
    ] {
        assert_eq!(unsafe_forms(code), expected, "{code}");
    }
}

/// Where `code` (a file of the master) names an item of `crate::child` other than `run`, or
/// imports the module under another name: one string per offence. A bare `use crate::child;`
/// is allowed, and then each `child::x` of the file is checked the same way.
fn master_child_items(code: &str) -> Vec<String> {
    let t = code_tokens(code);
    let tok = |i: usize| t.get(i).map_or("", String::as_str);
    let mut out = Vec::new();
    for i in 0..t.len() {
        if tok(i) == "crate" && tok(i + 1) == ":" && tok(i + 2) == ":" && tok(i + 3) == "*" {
            out.push("crate::*".to_string());
        }
        if tok(i) != "child" || (i > 0 && tok(i - 1) == ".") {
            continue;
        }
        // What the path says before `child`: `crate::`/`super::` (the crate's module), another
        // path's `x::` (not ours), or nothing (a `use`d name, or inside `crate::{...}`).
        let after_colons = i >= 2 && tok(i - 1) == ":" && tok(i - 2) == ":";
        if after_colons && !matches!(i.checked_sub(3).map(tok), Some("crate" | "super")) {
            continue;
        }
        if tok(i + 1) == ":" && tok(i + 2) == ":" {
            let item = tok(i + 3);
            if item != "run" {
                out.push(format!("child::{item}"));
            }
        } else if after_colons && !matches!(tok(i + 1), ";" | "," | "}") {
            out.push(format!("crate::child {}", tok(i + 1)));
        }
    }
    out
}

#[test]
fn the_master_calls_only_child_run() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src.join("master"), &mut files);
    assert!(files.len() > 5, "too few sources under src/master");
    let mut bad = Vec::new();
    let mut runs = 0;
    for f in files {
        let code = std::fs::read_to_string(&f).expect("readable source");
        runs += code_tokens(&code)
            .windows(4)
            .filter(|w| w[0] == "child" && w[3] == "run")
            .count();
        for item in master_child_items(&code) {
            let rel = f.strip_prefix(&src).expect("under src");
            bad.push(format!("{}: {item}", rel.display()));
        }
    }
    assert!(
        bad.is_empty(),
        "the master names the child beyond `child::run` (move what both halves need to handoff, sandbox, ...):\n{}",
        bad.join("\n")
    );
    assert!(
        runs > 0,
        "no `child::run` under src/master: did the check lose its target?"
    );
}

/// The master-side checker against hand-written snippets.
#[test]
fn the_master_checker_sees_each_form() {
    for (code, expected) in [
        ("crate::child::run(cfg, inh, chan, category)", &[][..]),
        (
            "use crate::child;\nchild::run(cfg, inh, chan, category)",
            &[],
        ),
        ("use crate::{child, config::Config};", &[]),
        (
            "use crate::child;\nchild::tls::install(tls);",
            &["child::tls"],
        ),
        ("crate::child::confine::warm_up();", &["child::confine"]),
        (
            "use crate::child::isolation::shadowed_tmp;",
            &["child::isolation"],
        ),
        ("use crate::{config, child::tls::Handoff};", &["child::tls"]),
        ("use crate::child::{run, tls};", &["child::{"]),
        ("use crate::child::*;", &["child::*"]),
        ("use crate::child as c;", &["crate::child as"]),
        ("use super::super::child::tls;", &["child::tls"]),
        ("use crate::*;", &["crate::*"]),
        ("nix::sys::wait::child::x()", &[]),
        ("let p = slot.child; ForkResult::Child", &[]),
        ("// child::tls::install(tls)", &[]),
        ("log::info!(\"child::tls\")", &[]),
    ] {
        assert_eq!(master_child_items(code), expected, "{code}");
    }
}

/// One job per file (issue #17): no source file under `src/` longer than 800 lines. The
/// limit is the oracle; the offenders are listed with their lengths.
#[test]
fn no_source_file_over_800_lines() {
    const LIMIT: usize = 800;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    // The server and its syscall crate alike.
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("crates/oneshot-sys/src"), &mut files);
    assert!(files.len() > 50, "too few sources under {}", root.display());
    let mut over: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let lines = std::fs::read_to_string(f)
                .expect("readable source")
                .lines()
                .count();
            let rel = f.strip_prefix(root).expect("under the checkout");
            (lines > LIMIT).then(|| format!("{} has {lines} lines", rel.display()))
        })
        .collect();
    over.sort();
    assert!(
        over.is_empty(),
        "files over {LIMIT} lines (split them by job):\n{}",
        over.join("\n")
    );
}
