//! The loader: the only part of configuration handling that touches the filesystem.
//! It reads the main file and every `Include`, appends the `-c` directives, hands the tree
//! to the pure builder and then checks what only the filesystem can tell.
#![forbid(unsafe_code)]

use super::lang::{if_version, substitute, Defines};
use super::modules::{LoadOutcome, Loaded};
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
    warnings: Vec<ConfigError>,
    /// The files being read, outermost first: a file that includes one of them is a loop.
    chain: Vec<PathBuf>,
    files_read: usize,
    /// `Define`/`UnDefine`/`-D`, as far as the files have been read.
    defines: Defines,
    /// `LoadModule`, as far as the files have been read.
    modules: Loaded,
    /// The directory relative paths resolve against: the main file's directory until a
    /// `ServerRoot` line says otherwise (Apache reads `ServerRoot` as it reads the files).
    server_root: PathBuf,
    main_dir: PathBuf,
    /// False for [`expand_text`]: `Include` stays a node, the environment is empty.
    files: bool,
}

pub fn load(file: &Path, extra: &[String]) -> Result<Config, Vec<ConfigError>> {
    load_with(file, &[], extra)
}

/// `defines` are the command line's `-D NAME`s, `extra` its `-c DIRECTIVE`s.
pub fn load_with(
    file: &Path,
    defines: &[String],
    extra: &[String],
) -> Result<Config, Vec<ConfigError>> {
    let file = absolute(file);
    let mut reader = Reader::new(&file, defines, true);
    let mut nodes = reader.read_file(
        &file,
        Origin {
            file: file.clone(),
            line: 0,
        },
        0,
    );
    // `-c` directives behave as if written after the main file.
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
    let mut cfg = match built {
        Ok(c) if errors.is_empty() => c,
        Ok(_) => return Err(errors),
        Err(es) => {
            errors.extend(es);
            return Err(errors);
        }
    };
    let mut warnings = reader.warnings;
    warnings.append(&mut cfg.warnings);
    cfg.warnings = warnings;
    check_filesystem(&cfg, &mut errors);
    super::identity::load(&mut cfg, &mut errors);
    if errors.is_empty() {
        Ok(cfg)
    } else {
        Err(errors)
    }
}

/// The reading stage without files or environment, for table tests and the fuzzer: `Define`,
/// `${VAR}` (from `Define` only), `<IfDefine>`, `<IfModule>`, `<IfVersion>`, `LoadModule`
/// are applied, `Include` stays a node. Returns the nodes, errors and warnings.
pub fn expand_text(
    nodes: Vec<Node>,
    main_file: &Path,
) -> (Vec<Node>, Vec<ConfigError>, Vec<ConfigError>) {
    let mut reader = Reader::new(main_file, &[], false);
    let mut nodes = nodes;
    reader.expand(&mut nodes, 0);
    (nodes, reader.errors, reader.warnings)
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

/// The sections the reader decides on (Apache evaluates them while reading).
const CONDITIONALS: [&str; 4] = ["IfDefine", "IfModule", "IfFile", "IfVersion"];

impl Reader {
    fn new(main_file: &Path, defines: &[String], files: bool) -> Self {
        let main_dir = main_file.parent().unwrap_or(Path::new("/")).to_path_buf();
        Reader {
            errors: Vec::new(),
            warnings: Vec::new(),
            chain: Vec::new(),
            files_read: 0,
            defines: Defines::from_names(defines),
            modules: Loaded::default(),
            server_root: main_dir.clone(),
            main_dir,
            files,
        }
    }

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

    /// Reads `nodes` in order as Apache does: `${VAR}` in every argument, `Define`,
    /// `LoadModule`, the conditional sections (a false one is dropped unread, a true one is
    /// replaced by its content) and `Include`/`IncludeOptional` (replaced by the nodes of the
    /// files it names), at any depth.
    fn expand(&mut self, nodes: &mut Vec<Node>, depth: usize) {
        let mut out = Vec::with_capacity(nodes.len());
        for mut n in nodes.drain(..) {
            let here = Origin {
                file: n.file.clone(),
                line: n.line,
            };
            if let Err(m) = self.substitute(&mut n) {
                self.error(here, m);
                continue;
            }
            if let Some(which) = CONDITIONALS.iter().find(|c| n.is(c)) {
                let Some(mut children) = n.children.take() else {
                    self.error(
                        here,
                        format!("{which} must be a section: <{which} ...> ... </{which}>"),
                    );
                    continue;
                };
                match self.condition(which, &n.args) {
                    Ok(true) => {
                        self.expand(&mut children, depth);
                        out.extend(children);
                    }
                    Ok(false) => {}
                    Err(m) => self.error(here, m),
                }
                continue;
            }
            if n.is("Define") || n.is("UnDefine") || n.is("LoadModule") {
                if n.children.is_some() {
                    self.error(here, format!("unknown section <{}>", n.name));
                    continue;
                }
                let done = if n.is("Define") {
                    self.defines.define(&n.args).map(|_| None)
                } else if n.is("UnDefine") {
                    self.defines.undefine(&n.args).map(|_| None)
                } else {
                    match self.modules.load(&n.args) {
                        LoadOutcome::Accepted => Ok(None),
                        LoadOutcome::Warning(w) => Ok(Some(w)),
                        LoadOutcome::Error(e) => Err(e),
                    }
                };
                match done {
                    Ok(None) => {}
                    Ok(Some(w)) => self.warnings.push(ConfigError {
                        origin: here,
                        message: w,
                    }),
                    Err(m) => self.error(here, m),
                }
                continue;
            }
            if n.is("ServerRoot") && n.children.is_none() {
                if let [root] = n.args.as_slice() {
                    self.server_root = self.main_dir.join(root);
                }
            }
            if let Some(children) = n.children.as_mut() {
                self.expand(children, depth);
            }
            let optional = n.is("IncludeOptional");
            if !(optional || n.is("Include")) || !self.files {
                out.push(n);
                continue;
            }
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
            // Apache: relative to ServerRoot.
            let pattern = self.server_root.join(arg);
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

    /// `${VAR}` in the arguments of `n`.
    fn substitute(&self, n: &mut Node) -> Result<(), String> {
        let files = self.files;
        let env = move |name: &str| {
            if files {
                std::env::var(name).ok()
            } else {
                None
            }
        };
        for a in &mut n.args {
            if a.contains("${") {
                *a = substitute(a, &self.defines, &env).map_err(|m| format!("{}: {m}", n.name))?;
            }
        }
        Ok(())
    }

    fn condition(&self, which: &str, args: &[String]) -> Result<bool, String> {
        match which {
            "IfDefine" => self.defines.if_define(args),
            "IfVersion" => if_version(args),
            "IfModule" => match args {
                [m] => Ok(self.modules.if_module(m)),
                _ => Err(format!(
                    "<IfModule> takes 1 argument ([!]MODULE), got {}",
                    args.len()
                )),
            },
            _ => match args {
                // IfFile: relative to ServerRoot, as Apache.
                [p] => {
                    let (negated, p) = match p.strip_prefix('!') {
                        Some(rest) => (true, rest),
                        None => (false, p.as_str()),
                    };
                    let exists = self.files && self.server_root.join(p).exists();
                    Ok(exists != negated)
                }
                _ => Err(format!(
                    "<IfFile> takes 1 argument ([!]PATH), got {}",
                    args.len()
                )),
            },
        }
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
