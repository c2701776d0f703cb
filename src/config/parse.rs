//! Stage 0 (before any fork): the pure lexer/parser for Apache's configuration language.
//!
//! Text in, a tree of directives and sections out, every node carrying its line. No I/O:
//! `Include` is left as a directive for the loader to expand, so this function can be
//! table-tested and fuzzed on arbitrary bytes.
#![forbid(unsafe_code)]

use std::fmt;
use std::path::{Path, PathBuf};

/// One directive or section as written, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Directive or section name as written (compare with `eq_ignore_ascii_case`).
    pub name: String,
    pub args: Vec<String>,
    pub line: usize,
    /// The file the node was read from; relative paths in it resolve against its directory.
    pub file: PathBuf,
    /// `Some` for `<Section ...>` blocks, holding the nodes inside.
    pub children: Option<Vec<Node>>,
}

impl Node {
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Sections nest this deep at most (Apache's own stop at `<VirtualHost>` > `<Directory>` >
/// `<Limit>`): the tree is walked and dropped recursively, so depth must stay bounded.
pub const MAX_NESTING: usize = 16;

/// Parses a whole configuration text. Reports every syntax error, not only the first.
pub fn parse(text: &str, file: &Path) -> Result<Vec<Node>, Vec<SyntaxError>> {
    let mut errors = Vec::new();
    // Stack of open sections: (name, args, line, children collected so far).
    let mut stack: Vec<(String, Vec<String>, usize, Vec<Node>)> = Vec::new();
    let mut top: Vec<Node> = Vec::new();

    for (line_no, logical) in logical_lines(text) {
        let trimmed = logical.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if trimmed.contains('\0') {
            errors.push(err(line_no, "NUL byte in the line"));
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("</") {
            let Some(name) = rest.strip_suffix('>') else {
                errors.push(err(line_no, "section end is missing its closing '>'"));
                continue;
            };
            let name = name.trim();
            match stack.pop() {
                Some((open, args, open_line, children)) if open.eq_ignore_ascii_case(name) => {
                    let node = Node {
                        name: open,
                        args,
                        line: open_line,
                        file: file.to_path_buf(),
                        children: Some(children),
                    };
                    push(&mut stack, &mut top, node);
                }
                Some((open, args, open_line, children)) => {
                    errors.push(err(
                        line_no,
                        &format!("</{name}> does not close <{open}> opened on line {open_line}"),
                    ));
                    // Keep the section open so its own end tag still matches later.
                    stack.push((open, args, open_line, children));
                }
                None => errors.push(err(
                    line_no,
                    &format!("</{name}> without matching <{name}>"),
                )),
            }
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('<') {
            let Some(inner) = rest.strip_suffix('>') else {
                errors.push(err(line_no, "section start is missing its closing '>'"));
                continue;
            };
            match split_args(inner) {
                Ok(_) if stack.len() >= MAX_NESTING => {
                    // Nothing after this can be matched up reliably: stop here.
                    errors.push(err(
                        line_no,
                        &format!("sections nested more than {MAX_NESTING} deep"),
                    ));
                    errors.sort_by_key(|e| e.line);
                    return Err(errors);
                }
                Ok(mut words) if !words.is_empty() => {
                    let name = words.remove(0);
                    stack.push((name, words, line_no, Vec::new()));
                }
                Ok(_) => errors.push(err(line_no, "empty section name")),
                Err(m) => errors.push(err(line_no, &m)),
            }
            continue;
        }
        match split_args(trimmed) {
            Ok(mut words) => {
                let name = words.remove(0);
                if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    errors.push(err(line_no, &format!("invalid directive name '{name}'")));
                    continue;
                }
                let node = Node {
                    name,
                    args: words,
                    line: line_no,
                    file: file.to_path_buf(),
                    children: None,
                };
                push(&mut stack, &mut top, node);
            }
            Err(m) => errors.push(err(line_no, &m)),
        }
    }
    for (name, _, line, _) in stack.into_iter().rev() {
        errors.push(err(line, &format!("<{name}> is never closed")));
    }
    if errors.is_empty() {
        Ok(top)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

fn err(line: usize, message: &str) -> SyntaxError {
    SyntaxError {
        line,
        message: message.to_string(),
    }
}

fn push(stack: &mut [(String, Vec<String>, usize, Vec<Node>)], top: &mut Vec<Node>, node: Node) {
    match stack.last_mut() {
        Some(open) => open.3.push(node),
        None => top.push(node),
    }
}

/// Joins backslash-continued lines (Apache's rule: a trailing `\` joins the next line),
/// yielding each logical line with the number of its first physical line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let (start, mut acc) = current.take().unwrap_or((i + 1, String::new()));
        if let Some(cont) = line.strip_suffix('\\') {
            acc.push_str(cont);
            acc.push(' ');
            current = Some((start, acc));
        } else {
            acc.push_str(line);
            out.push((start, acc));
        }
    }
    if let Some(last) = current {
        out.push(last);
    }
    out
}

/// Splits a directive line into words; double- or single-quoted words may contain spaces,
/// and a backslash inside quotes escapes the quote character.
fn split_args(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else { break };
        if c == '"' || c == '\'' {
            chars.next();
            let mut word = String::new();
            let mut closed = false;
            while let Some(ch) = chars.next() {
                if ch == '\\' && chars.peek() == Some(&c) {
                    word.push(c);
                    chars.next();
                } else if ch == c {
                    closed = true;
                    break;
                } else {
                    word.push(ch);
                }
            }
            if !closed {
                return Err(format!("unterminated {c}quoted{c} argument"));
            }
            if chars.peek().is_some_and(|c| !c.is_whitespace()) {
                return Err("a quoted argument must be followed by whitespace".into());
            }
            words.push(word);
        } else {
            let mut word = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                word.push(ch);
                chars.next();
            }
            words.push(word);
        }
    }
    if words.is_empty() {
        return Err("empty directive".into());
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(nodes: &[Node]) -> Vec<(String, Vec<String>, usize)> {
        nodes
            .iter()
            .map(|n| (n.name.clone(), n.args.clone(), n.line))
            .collect()
    }

    #[test]
    fn table_ok() {
        type Want<'a> = &'a [(&'a str, &'a [&'a str], usize)];
        let rows: &[(&str, Want)] = &[
            (
                "Listen 127.0.0.1:8080",
                &[("Listen", &["127.0.0.1:8080"], 1)],
            ),
            ("# c\n\n  listen 80  \n", &[("listen", &["80"], 3)]),
            (
                "DocumentRoot \"/a b/c\"",
                &[("DocumentRoot", &["/a b/c"], 1)],
            ),
            (
                "LogFormat \"%h \\\"q\\\"\" x",
                &[("LogFormat", &["%h \"q\"", "x"], 1)],
            ),
            (
                "Options Indexes \\\n  FollowSymLinks\nUser u",
                &[
                    ("Options", &["Indexes", "FollowSymLinks"], 1),
                    ("User", &["u"], 3),
                ],
            ),
            ("A\r\nB 1\r\n", &[("A", &[], 1), ("B", &["1"], 2)]),
        ];
        for (text, want) in rows {
            let got = parse(text, Path::new("t")).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
            let want: Vec<_> = want
                .iter()
                .map(|(n, a, l)| (n.to_string(), a.iter().map(|s| s.to_string()).collect(), *l))
                .collect();
            assert_eq!(names(&got), want, "{text:?}");
        }
    }

    #[test]
    fn sections_nest() {
        let t = "<VirtualHost *:80>\n ServerName a\n <Directory /x>\n  Options None\n </Directory>\n</virtualhost>\n";
        let got = parse(t, Path::new("t")).unwrap();
        assert_eq!(got.len(), 1);
        assert!(got[0].is("virtualhost"));
        assert_eq!(got[0].args, vec!["*:80"]);
        let kids = got[0].children.as_ref().unwrap();
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[1].children.as_ref().unwrap()[0].line, 4);
    }

    #[test]
    fn table_errors() {
        let rows: &[(&str, &[usize])] = &[
            ("<VirtualHost *:80>\nServerName a\n", &[1]),
            ("</Directory>", &[1]),
            ("<A>\n</B>\n</A>", &[2]),
            ("X \"unterminated", &[1]),
            ("X \"a\"b", &[1]),
            ("<A\n</A>", &[1, 2]),
            ("Bad-Name 1\nok 2\n<>\n", &[1, 3]),
            ("X\0 1\n", &[1]),
        ];
        for (text, lines) in rows {
            let errs = parse(text, Path::new("t")).expect_err(text);
            let got: Vec<usize> = errs.iter().map(|e| e.line).collect();
            assert_eq!(&got, lines, "{text:?}: {errs:?}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = "<A>\n".repeat(100_000);
        let errs = parse(&deep, Path::new("t")).unwrap_err();
        assert_eq!(
            errs,
            vec![err(MAX_NESTING + 1, "sections nested more than 16 deep")]
        );
        let ok = format!(
            "{}{}",
            "<A>\n".repeat(MAX_NESTING),
            "</A>\n".repeat(MAX_NESTING)
        );
        assert!(parse(&ok, Path::new("t")).is_ok());
        // A very long line is just a long line.
        let long = format!("Options {}\n", "Indexes ".repeat(200_000));
        assert_eq!(parse(&long, Path::new("t")).unwrap()[0].args.len(), 200_000);
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        for t in [
            "<",
            ">",
            "</>",
            "\\",
            "\"",
            "<'a>",
            "<a \">",
            "a \\\n\\\n\\",
            "\u{0}",
        ] {
            let _ = parse(t, Path::new("t"));
        }
    }
}
