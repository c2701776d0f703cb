//! The loader: the only part of configuration handling that touches the filesystem.
//! It reads the main file and every `Include`, appends the `-c` directives, hands the tree
//! to the pure builder and then checks what only the filesystem can tell.
#![forbid(unsafe_code)]

use super::parse::{self, Node};
use super::{build, Config, ConfigError, Origin};
use std::path::{Path, PathBuf};

/// Include nesting deeper than this is refused even without a loop.
const MAX_INCLUDE_DEPTH: usize = 16;
/// Files read in all (the same file included twice counts twice): bounds the work a
/// configuration whose includes fan out can cause.
const MAX_FILES_READ: usize = 10_000;

/// What the reader carries down the `Include` tree.
struct Reader {
    errors: Vec<ConfigError>,
    /// The files being read, outermost first: a file that includes one of them is a loop.
    chain: Vec<PathBuf>,
    files_read: usize,
}

pub fn load(file: &Path, extra: &[String]) -> Result<Config, Vec<ConfigError>> {
    let file = absolute(file);
    let mut reader = Reader {
        errors: Vec::new(),
        chain: Vec::new(),
        files_read: 0,
    };
    let mut nodes = reader.read_file(
        &file,
        Origin {
            file: file.clone(),
            line: 0,
        },
        0,
    );
    // `-c` directives behave as if written after the main file, in its directory.
    for (i, d) in extra.iter().enumerate() {
        let origin_name = file.with_file_name(format!("-c#{}", i + 1));
        match parse::parse(d, &origin_name) {
            Ok(mut more) => {
                for n in &mut more {
                    n.line = i + 1;
                }
                reader.expand(&mut more, 0);
                nodes.extend(more)
            }
            Err(es) => reader.errors.extend(es.into_iter().map(|e| ConfigError {
                origin: Origin {
                    file: PathBuf::from("-c"),
                    line: i + 1,
                },
                message: e.message,
            })),
        }
    }
    let mut errors = reader.errors;
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
    super::tls::load_certificates(&mut cfg, &mut errors);
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

impl Reader {
    fn error(&mut self, origin: Origin, message: String) {
        self.errors.push(ConfigError { origin, message });
    }

    fn read_file(&mut self, file: &Path, from: Origin, depth: usize) -> Vec<Node> {
        let key = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        if self.chain.contains(&key) {
            self.error(
                from,
                format!("Include loop: {} is already being read", file.display()),
            );
            return Vec::new();
        }
        self.files_read += 1;
        if self.files_read > MAX_FILES_READ {
            if self.files_read == MAX_FILES_READ + 1 {
                self.error(
                    from,
                    format!("Include: more than {MAX_FILES_READ} files to read"),
                );
            }
            return Vec::new();
        }
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                self.error(from, format!("cannot read {}: {e}", file.display()));
                return Vec::new();
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let valid = e.as_bytes().get(..e.utf8_error().valid_up_to());
                let line = 1 + valid
                    .unwrap_or_default()
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                self.error(
                    Origin {
                        file: file.to_path_buf(),
                        line,
                    },
                    "not valid UTF-8 (configuration files must be UTF-8)".into(),
                );
                return Vec::new();
            }
        };
        match parse::parse(&text, file) {
            Ok(mut nodes) => {
                self.chain.push(key);
                self.expand(&mut nodes, depth);
                self.chain.pop();
                nodes
            }
            Err(es) => {
                self.errors.extend(es.into_iter().map(|e| ConfigError {
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

    /// Replaces every `Include`/`IncludeOptional` (at any depth) by the nodes of the files it
    /// names.
    fn expand(&mut self, nodes: &mut Vec<Node>, depth: usize) {
        let mut out = Vec::with_capacity(nodes.len());
        for mut n in nodes.drain(..) {
            if let Some(children) = n.children.as_mut() {
                self.expand(children, depth);
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
            let [arg] = n.args.as_slice() else {
                self.error(here, format!("{} takes 1 argument", n.name));
                continue;
            };
            if arg.is_empty() {
                self.error(here, format!("{}: the file name is empty", n.name));
                continue;
            }
            if depth >= MAX_INCLUDE_DEPTH {
                self.error(here, "Include nested too deeply".into());
                continue;
            }
            let base = n.file.parent().unwrap_or(Path::new("/"));
            let pattern = base.join(arg);
            match matching_files(&pattern) {
                Ok(files) if files.is_empty() && !optional && !arg.contains('*') => self.error(
                    here,
                    format!("Include: {} does not exist", pattern.display()),
                ),
                Ok(files) => {
                    for f in files {
                        out.extend(self.read_file(&f, here.clone(), depth + 1));
                    }
                }
                Err(m) if optional => log::debug!("{here}: {m}"),
                Err(m) => self.error(here, m),
            }
        }
        *nodes = out;
    }
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

/// Wildcard matching for one file name component; hidden files never match.
fn wildcard(pat: &str, name: &str) -> bool {
    !name.starts_with('.') && super::glob::matches(pat, name)
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
