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
    warn_missing_alias_targets(&mut cfg);
    super::identity::load(&mut cfg, &mut errors);
    super::tls::load_certificates(&mut cfg, &mut errors);
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
        let bytes = match super::file::read_regular(file) {
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

/// An Alias whose target does not exist is accepted, as Apache does (its URLs answer 404), but
/// Landlock cannot grant what is not there, so say so at `-t`.
fn warn_missing_alias_targets(cfg: &mut Config) {
    let mut seen = Vec::new();
    for v in &cfg.vhosts {
        for a in &v.aliases {
            if !a.root.exists() && !seen.contains(&a.origin) {
                seen.push(a.origin.clone());
            }
        }
    }
    for origin in seen {
        let root = cfg
            .vhosts
            .iter()
            .flat_map(|v| &v.aliases)
            .find(|a| a.origin == origin)
            .map(|a| a.root.display().to_string())
            .unwrap_or_default();
        cfg.warnings.push(ConfigError {
            origin,
            message: format!("Alias target {root} does not exist: its URLs answer 403 until it does and the server is reloaded"),
        });
    }
}

fn check_filesystem(cfg: &Config, errors: &mut Vec<ConfigError>) {
    if !cfg.server_root.is_dir() {
        errors.push(ConfigError {
            origin: Origin {
                file: cfg.file.clone(),
                line: 0,
            },
            message: format!(
                "ServerRoot {} is not a directory",
                cfg.server_root.display()
            ),
        });
    }
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

#[cfg(test)]
mod language_tests {
    use super::*;

    /// A scratch site: `files` written under a fresh directory, `main.conf` loaded with `-D`s.
    fn site(files: &[(&str, &str)], defines: &[&str]) -> (PathBuf, Result<Config, Vec<String>>) {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("oneshot-lang-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("www")).unwrap();
        for (name, text) in files {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let defines: Vec<String> = defines.iter().map(|s| s.to_string()).collect();
        let r = load_with(&dir.join("main.conf"), &defines, &[])
            .map_err(|e| e.iter().map(|e| e.to_string()).collect());
        (dir, r)
    }

    #[test]
    fn conditionals_defines_and_modules() {
        let base = "Listen 127.0.0.1:1\nDocumentRoot www\n";
        let conf = format!(
            "{base}LoadModule alias_module /x/mod_alias.so\n\
             <IfModule mod_alias.c>\nDefine HAVE_ALIAS\n</IfModule>\n\
             <IfModule !mod_cgi.c>\nDefine NO_CGI\n</IfModule>\n\
             <IfModule mod_rewrite.c>\nRewriteEngine On\n</IfModule>\n\
             <IfDefine HAVE_ALIAS>\n<IfDefine NO_CGI>\n<IfDefine FROM_CLI>\nDefine ALL_THREE yes\n</IfDefine>\n</IfDefine>\n</IfDefine>\n\
             <IfDefine !ALL_THREE>\nFrobnicate\n</IfDefine>\n\
             <IfVersion >= 2.4>\nDefine DIR idx\n</IfVersion>\n\
             <IfVersion < 2.4>\nFrobnicate\n</IfVersion>\n\
             <IfFile www>\nDirectoryIndex ${{DIR}}.html\n</IfFile>\n\
             <IfFile !www>\nFrobnicate\n</IfFile>\n\
             UnDefine DIR\n<IfDefine DIR>\nFrobnicate\n</IfDefine>\n"
        );
        let (_, r) = site(&[("main.conf", &conf)], &["FROM_CLI"]);
        let c = r.unwrap();
        assert_eq!(
            c.vhosts[0].conf.directory_index,
            Some(vec!["idx.html".into()])
        );
        // Without -D FROM_CLI, ALL_THREE stays undefined and the Frobnicate line is read.
        let (dir, r) = site(&[("main.conf", &conf)], &[]);
        assert_eq!(
            r.unwrap_err(),
            vec![format!(
                "{}:21: unknown directive 'Frobnicate'",
                dir.join("main.conf").display()
            )]
        );
    }

    #[test]
    fn reading_errors_name_file_and_line() {
        let base = "Listen 127.0.0.1:1\nDocumentRoot www\n";
        let rows: &[(&str, &str)] = &[
            ("ErrorLog ${ONESHOT_SURELY_UNDEFINED}/e.log\n", "3: ErrorLog: ${ONESHOT_SURELY_UNDEFINED} is not defined (neither by Define nor in the environment)"),
            ("LoadModule rewrite_module x.so\n", "3: LoadModule rewrite_module: remove it: oneshot-httpd has no mod_rewrite (map URLs with ScriptAlias and DocumentRoot, or rewrite in a proxy in front)"),
            ("<IfModule>\n</IfModule>\n", "3: <IfModule> takes 1 argument ([!]MODULE), got 0"),
            ("IfDefine X\n", "3: IfDefine must be a section: <IfDefine ...> ... </IfDefine>"),
            ("<IfVersion ~ ^2>\n</IfVersion>\n", "3: <IfVersion>: regular expressions are not supported; compare with =, >, >=, <, <="),
            ("<Directory www>\nAllowOverride All\n</Directory>\n", "4: AllowOverride All: .htaccess files are never read: what is under a DocumentRoot must not decide how requests are served or as whom (the administrator's files alone do); put these directives in the server configuration and write AllowOverride None"),
            ("Order allow,deny\n", "3: Order: is Apache 2.2 access control (mod_access_compat), refused: write Require instead (Require all granted, Require ip 10.0.0.0/8, Require valid-user...)"),
            ("AllowOverride None\n", "3: AllowOverride is not allowed in <server>"),
            ("LanguagePriority en\nLoadModule negotiation_module x.so\n<IfModule negotiation_module>\nFrobnicate\n</IfModule>\nPassEnvX A\n", "8: unknown directive 'PassEnvX'"),
        ];
        for (text, want) in rows {
            let (dir, r) = site(&[("main.conf", &format!("{base}{text}"))], &[]);
            let got = r.expect_err(text);
            assert_eq!(
                got,
                vec![format!("{}:{want}", dir.join("main.conf").display())],
                "{text:?}"
            );
        }
    }

    #[test]
    fn relative_paths_follow_server_root() {
        // Without ServerRoot: the main file's directory, also for files included from a
        // subdirectory (Apache: ServerRoot, not the including file).
        let (dir, r) = site(
            &[
                ("main.conf", "Listen 127.0.0.1:1\nInclude conf.d/*.conf\n"),
                (
                    "conf.d/site.conf",
                    "DocumentRoot www\nDefine X ${ONESHOT_TEST_HOME_FOR_LANG}\n",
                ),
            ],
            &[],
        );
        assert_eq!(
            r.unwrap_err(),
            vec![format!(
                "{}:2: Define: ${{ONESHOT_TEST_HOME_FOR_LANG}} is not defined (neither by Define nor in the environment)",
                dir.join("conf.d/site.conf").display()
            )]
        );
        let (dir, r) = site(
            &[
                ("main.conf", "Listen 127.0.0.1:1\nInclude conf.d/*.conf\n"),
                ("conf.d/site.conf", "DocumentRoot www\n"),
            ],
            &[],
        );
        assert_eq!(r.unwrap().vhosts[0].document_root, dir.join("www"));
        // With ServerRoot: Include, DocumentRoot and <IfFile> resolve against it.
        let (dir, r) = site(
            &[
                (
                    "main.conf",
                    "ServerRoot root\nListen 127.0.0.1:1\nInclude site.conf\n",
                ),
                (
                    "root/site.conf",
                    "<IfFile www>\nDocumentRoot www\n</IfFile>\n",
                ),
                ("root/www/index.html", "x"),
            ],
            &[],
        );
        assert_eq!(r.unwrap().vhosts[0].document_root, dir.join("root/www"));
    }
}
