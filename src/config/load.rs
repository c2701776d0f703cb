//! The loader: the only part of configuration handling that touches the filesystem.
//! It reads the main file and every `Include`, appends the `-c` directives, hands the tree
//! to the pure builder and then checks what only the filesystem can tell.
#![forbid(unsafe_code)]

use super::parse::{self, Node};
use super::{build, Config, ConfigError, Origin};
use std::path::{Path, PathBuf};

/// Include nesting deeper than this is a loop in practice.
const MAX_INCLUDE_DEPTH: usize = 16;

pub fn load(file: &Path, extra: &[String]) -> Result<Config, Vec<ConfigError>> {
    let file = absolute(file);
    let mut errors = Vec::new();
    let mut nodes = read_file(
        &file,
        Origin {
            file: file.clone(),
            line: 0,
        },
        0,
        &mut errors,
    );
    // `-c` directives behave as if written after the main file, in its directory.
    for (i, d) in extra.iter().enumerate() {
        let origin_name = file.with_file_name(format!("-c#{}", i + 1));
        match parse::parse(d, &origin_name) {
            Ok(mut more) => {
                for n in &mut more {
                    n.line = i + 1;
                }
                expand(&mut more, 0, &mut errors);
                nodes.extend(more)
            }
            Err(es) => errors.extend(es.into_iter().map(|e| ConfigError {
                origin: Origin {
                    file: PathBuf::from("-c"),
                    line: i + 1,
                },
                message: e.message,
            })),
        }
    }
    let built = build::build(&nodes, &file);
    let cfg = match built {
        Ok(c) if errors.is_empty() => c,
        Ok(_) => return Err(errors),
        Err(es) => {
            errors.extend(es);
            return Err(errors);
        }
    };
    check_filesystem(&cfg, &mut errors);
    let mut cfg = cfg;
    super::identity::load(&mut cfg, &mut errors);
    if errors.is_empty() {
        Ok(cfg)
    } else {
        Err(errors)
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

fn read_file(file: &Path, from: Origin, depth: usize, errors: &mut Vec<ConfigError>) -> Vec<Node> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            errors.push(ConfigError {
                origin: from,
                message: format!("cannot read {}: {e}", file.display()),
            });
            return Vec::new();
        }
    };
    match parse::parse(&text, file) {
        Ok(mut nodes) => {
            expand(&mut nodes, depth, errors);
            nodes
        }
        Err(es) => {
            errors.extend(es.into_iter().map(|e| ConfigError {
                origin: Origin {
                    file: file.to_path_buf(),
                    line: e.line,
                },
                message: e.message,
            }));
            Vec::new()
        }
    }
}

/// Replaces every `Include`/`IncludeOptional` (at any depth) by the nodes of the files it names.
fn expand(nodes: &mut Vec<Node>, depth: usize, errors: &mut Vec<ConfigError>) {
    let mut out = Vec::with_capacity(nodes.len());
    for mut n in nodes.drain(..) {
        if let Some(children) = n.children.as_mut() {
            expand(children, depth, errors);
        }
        let optional = n.is("IncludeOptional");
        if !(optional || n.is("Include")) {
            out.push(n);
            continue;
        }
        let here = Origin {
            file: n.file.clone(),
            line: n.line,
        };
        if n.args.len() != 1 {
            errors.push(ConfigError {
                origin: here,
                message: format!("{} takes 1 argument", n.name),
            });
            continue;
        }
        if depth >= MAX_INCLUDE_DEPTH {
            errors.push(ConfigError {
                origin: here,
                message: "Include nested too deeply (a loop?)".into(),
            });
            continue;
        }
        let base = n.file.parent().unwrap_or(Path::new("/"));
        let pattern = base.join(&n.args[0]);
        match matching_files(&pattern) {
            Ok(files) if files.is_empty() && !optional && !n.args[0].contains('*') => {
                errors.push(ConfigError {
                    origin: here,
                    message: format!("Include: {} does not exist", pattern.display()),
                })
            }
            Ok(files) => {
                for f in files {
                    out.extend(read_file(&f, here.clone(), depth + 1, errors));
                }
            }
            Err(m) if optional => log::debug!("{here}: {m}"),
            Err(m) => errors.push(ConfigError {
                origin: here,
                message: m,
            }),
        }
    }
    *nodes = out;
}

/// Apache's Include takes a file, a directory (every file in it) or a wildcard in the last
/// component; matches are read in sorted order so the result never depends on readdir.
fn matching_files(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let name = pattern
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = pattern.parent().unwrap_or(Path::new("/"));
    let mut files = Vec::new();
    if name.contains('*') || name.contains('?') {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| format!("Include: cannot list {}: {e}", dir.display()))?;
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if wildcard(&name, &n) && e.path().is_file() {
                files.push(e.path());
            }
        }
    } else if pattern.is_dir() {
        let entries = std::fs::read_dir(pattern)
            .map_err(|e| format!("Include: cannot list {}: {e}", pattern.display()))?;
        files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_file()));
    } else if pattern.exists() {
        files.push(pattern.to_path_buf());
    } else {
        return Ok(Vec::new());
    }
    files.sort();
    Ok(files)
}

/// `*` and `?` matching for one file name component.
fn wildcard(pat: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    !name.starts_with('.') && go(pat.as_bytes(), name.as_bytes())
}

fn check_filesystem(cfg: &Config, errors: &mut Vec<ConfigError>) {
    for v in &cfg.vhosts {
        if !v.document_root.is_dir() {
            errors.push(ConfigError {
                origin: v.origin.clone(),
                message: format!(
                    "DocumentRoot {} is not a directory",
                    v.document_root.display()
                ),
            });
        }
        for a in &v.script_aliases {
            if !a.dir.is_dir() {
                errors.push(ConfigError {
                    origin: a.origin.clone(),
                    message: format!("ScriptAlias: {} is not a directory", a.dir.display()),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn wildcard_table() {
        for (p, n, want) in [
            ("*.conf", "a.conf", true),
            ("*.conf", "a.conf~", false),
            ("a?c", "abc", true),
            ("*", ".hidden", false),
            ("x*y*z", "xaybz", true),
        ] {
            assert_eq!(wildcard(p, n), want, "{p} {n}");
        }
    }
}
