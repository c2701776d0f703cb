//! Finding the program: [`lookup`] walks the URL's segments beneath the ScriptAlias target
//! (or the DocumentRoot, for `AddHandler cgi-script` + `Options ExecCGI`) with
//! openat(O_NOFOLLOW), so the first regular file is the program and the rest is PATH_INFO, and
//! no symlink is ever followed; then suEXEC's checks ([`super::suexec`]). Refusals are logged
//! here, naming the path.

use super::index_url;
use super::suexec::{suexec, suexec_refusal};
use crate::config::{Config, VHost};
use crate::http::route::Route;
use crate::sys::fs::open_beneath;
use nix::fcntl::OFlag;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A program found beneath a ScriptAlias target or the DocumentRoot, checked and ready to run.
#[derive(Debug)]
pub struct Script {
    pub(super) dir: OwnedFd,
    pub(super) dir_path: PathBuf,
    pub(super) name: String,
    pub(super) dev_ino: (u64, u64),
    /// URL path of the program (decoded), for SCRIPT_NAME.
    pub(super) script_name: String,
    /// Decoded rest of the URL after the program, `""` or starting with `/`.
    pub(super) path_info: String,
    /// `SSLOptions +StdEnvVars` applies to the program (its `<Directory>`, `<Files>`...).
    pub(super) ssl_std_env_vars: bool,
}

impl Script {
    pub fn filename(&self) -> PathBuf {
        self.dir_path.join(&self.name)
    }
}

#[derive(Debug)]
pub enum Lookup {
    /// Not a CGI request: the static handler serves it.
    NotCgi,
    Script(Script),
    /// Refused (already logged).
    Refused(u16),
    /// A DirectoryIndex entry whose own sections differ from its directory's: served by an
    /// internal redirect to this URL, admitted again (see `VHost::index_needs_admission`).
    Index(String),
}

/// Which tree the URL maps into.
struct Tree<'a> {
    base: &'a Path,
    /// Segments of the URL prefix that map to `base`.
    prefix: &'a [String],
    /// True for a ScriptAlias target: everything beneath is a program.
    alias: bool,
}

pub fn lookup(cfg: &Config, vhost: &VHost, route: &Route, url_path: &str) -> Lookup {
    for a in &vhost.script_aliases {
        if route.segments.starts_with(&a.prefix) {
            let tree = Tree {
                base: &a.dir,
                prefix: &a.prefix,
                alias: true,
            };
            return walk(
                cfg,
                vhost,
                &tree,
                &route.segments[a.prefix.len()..],
                url_path,
                route.trailing_slash,
            );
        }
    }
    if !vhost.uses_cgi_extensions() {
        return Lookup::NotCgi;
    }
    // An Alias's target is not the DocumentRoot: the static handler serves it (and refuses a
    // file with a CGI suffix there: programs run only beneath ScriptAlias or DocumentRoot).
    if matches!(
        crate::config::request::map(vhost, route),
        crate::config::request::Mapped::Alias(..)
    ) {
        return Lookup::NotCgi;
    }
    let tree = Tree {
        base: &vhost.document_root,
        prefix: &[],
        alias: false,
    };
    walk(
        cfg,
        vhost,
        &tree,
        &route.segments,
        url_path,
        route.trailing_slash,
    )
}

/// Every extension any scope of the vhost runs as CGI.
pub(crate) fn any_cgi_extension(vhost: &VHost, name: &str) -> bool {
    vhost
        .scopes()
        .filter_map(|(c, _)| c.cgi_extensions.as_ref())
        .any(|exts| has_extension(exts, name))
}

fn has_extension(exts: &[String], name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, e)| exts.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

fn walk(
    cfg: &Config,
    vhost: &VHost,
    tree: &Tree,
    segs: &[String],
    url_path: &str,
    dir_request: bool,
) -> Lookup {
    let refuse = |status: u16, why: &str, path: &Path| {
        // A missing program is the client's mistake; anything else is the site's.
        let level = if status == 404 {
            log::Level::Info
        } else {
            log::Level::Warn
        };
        log::log!(
            level,
            "[{}] cgi: refused {}: {why}",
            vhost.server_name(),
            path.display()
        );
        Lookup::Refused(status)
    };
    if segs.is_empty() && tree.alias {
        return refuse(403, "a ScriptAlias directory is not a program", tree.base);
    }
    let mut cur: OwnedFd = match File::open(tree.base) {
        Ok(f) => f.into(),
        Err(e) if tree.alias => return refuse(io_status(&e), &e.to_string(), tree.base),
        Err(_) => return Lookup::NotCgi,
    };
    let mut path = tree.base.to_path_buf();
    for (i, seg) in segs.iter().enumerate() {
        let next = match open_beneath(cur.as_fd(), Path::new(seg), OFlag::O_PATH) {
            Ok(fd) => fd,
            Err(e) if tree.alias => return refuse(io_status(&e), &e.to_string(), &path.join(seg)),
            Err(_) => return Lookup::NotCgi,
        };
        let meta = match fstat(&next) {
            Ok(m) => m,
            Err(e) => return refuse(500, &format!("fstat: {e}"), &path.join(seg)),
        };
        let kind = meta.mode() & libc::S_IFMT;
        if kind == libc::S_IFLNK {
            // A symlink is never followed on the way to a program ("no symlink out of the
            // tree"); in the DocumentRoot it only matters if a program could lie behind it.
            if tree.alias || segs[i..].iter().any(|s| any_cgi_extension(vhost, s)) {
                return suexec_refusal(vhost, "symlink", &path.join(seg), &meta, None);
            }
            return Lookup::NotCgi;
        }
        if kind == libc::S_IFDIR {
            path.push(seg);
            cur = next;
            continue;
        }
        if kind != libc::S_IFREG {
            return refuse(403, "not a regular file", &path.join(seg));
        }
        let mut script_name = String::new();
        for s in tree.prefix.iter().chain(&segs[..=i]) {
            script_name.push('/');
            script_name.push_str(s);
        }
        let found = Found {
            dir: cur,
            dir_path: path,
            name: seg.clone(),
            meta,
            script_name,
            path_info: segs[i + 1..].iter().map(|s| format!("/{s}")).collect(),
        };
        return program(cfg, vhost, tree.alias, found, url_path);
    }
    if tree.alias {
        return refuse(403, "a directory is not a program", &path);
    }
    if dir_request {
        return directory_index(cfg, vhost, cur, path, url_path);
    }
    Lookup::NotCgi
}

/// A directory request in the DocumentRoot: the DirectoryIndex entry the static handler would
/// pick runs as a program if its suffix is a CGI one (never served as text).
fn directory_index(
    cfg: &Config,
    vhost: &VHost,
    dir: OwnedFd,
    path: PathBuf,
    url_path: &str,
) -> Lookup {
    let conf = vhost.dir_conf(&path, url_path);
    for name in conf.directory_index.unwrap_or_default() {
        let Ok(fd) = open_beneath(dir.as_fd(), Path::new(&name), OFlag::O_PATH) else {
            continue;
        };
        let Ok(meta) = fstat(&fd) else { continue };
        let kind = meta.mode() & libc::S_IFMT;
        if kind == libc::S_IFLNK && any_cgi_extension(vhost, &name) {
            return suexec_refusal(vhost, "symlink", &path.join(&name), &meta, None);
        }
        if kind != libc::S_IFREG {
            continue;
        }
        if any_cgi_extension(vhost, &name) && vhost.index_needs_admission(&path, url_path, &name) {
            return Lookup::Index(index_url(url_path, &name));
        }
        let mut script_name = url_path.to_string();
        if !script_name.ends_with('/') {
            script_name.push('/');
        }
        script_name.push_str(&name);
        let found = Found {
            dir,
            dir_path: path,
            name,
            meta,
            script_name,
            path_info: String::new(),
        };
        return program(cfg, vhost, false, found, url_path);
    }
    Lookup::NotCgi
}

/// A regular file reached by the walk, before the CGI decision.
struct Found {
    dir: OwnedFd,
    dir_path: PathBuf,
    name: String,
    meta: std::fs::Metadata,
    script_name: String,
    path_info: String,
}

/// Beneath a ScriptAlias every file is a program; in the DocumentRoot only one with a CGI
/// suffix, and only where ExecCGI is on. Then suEXEC's checks.
fn program(cfg: &Config, vhost: &VHost, alias: bool, f: Found, url_path: &str) -> Lookup {
    let file = f.dir_path.join(&f.name);
    let conf = vhost.file_conf(&f.dir_path, &file.to_string_lossy(), &f.name, url_path);
    let ssl_std_env_vars = conf.ssl_std_env_vars.unwrap_or(false);
    if !alias {
        if !has_extension(&conf.cgi_extensions.unwrap_or_default(), &f.name) {
            return Lookup::NotCgi;
        }
        if !conf.options.unwrap_or_default().exec_cgi {
            log::warn!(
                "[{}] cgi: refused {}: Options ExecCGI is off in this directory",
                vhost.server_name(),
                file.display()
            );
            return Lookup::Refused(403);
        }
    }
    let dir_meta = match fstat(&f.dir) {
        Ok(m) => m,
        Err(e) => {
            log::error!(
                "[{}] cgi: refused {}: fstat of its directory: {e}",
                vhost.server_name(),
                file.display()
            );
            return Lookup::Refused(500);
        }
    };
    let script = Script {
        dir: f.dir,
        dir_path: f.dir_path,
        name: f.name,
        dev_ino: (f.meta.dev(), f.meta.ino()),
        ssl_std_env_vars,
        script_name: f.script_name,
        path_info: f.path_info,
    };
    match suexec(cfg, &script, &f.meta, &dir_meta) {
        Ok(()) => Lookup::Script(script),
        Err(check) => suexec_refusal(vhost, check, &file, &f.meta, Some(&dir_meta)),
    }
}

pub(crate) fn fstat(fd: &OwnedFd) -> io::Result<std::fs::Metadata> {
    File::from(fd.try_clone()?).metadata()
}

fn io_status(e: &io::Error) -> u16 {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) | Some(libc::ENAMETOOLONG) => 404,
        Some(libc::EACCES) | Some(libc::EPERM) => 403,
        _ => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::route::route;
    use std::os::unix::fs::PermissionsExt;

    /// A site in a fresh directory: `docs/` (DocumentRoot) with a page and a `.cgi` file,
    /// `cgi/` (ScriptAlias /cgi-bin/) with a program `prog`, a symlink `link` to it and a
    /// sub-directory `sub/`.
    fn site(tag: &str, extra: &str) -> (PathBuf, Config) {
        let dir = std::env::temp_dir().join(format!("oneshot-locate-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mode = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod")
        };
        for d in ["", "docs", "cgi", "cgi/sub"] {
            std::fs::create_dir_all(dir.join(d)).expect("mkdir");
            mode(&dir.join(d), 0o755);
        }
        for (f, m) in [
            ("cgi/prog", 0o755),
            ("docs/page.html", 0o644),
            ("docs/run.cgi", 0o755),
        ] {
            std::fs::write(dir.join(f), "#!/bin/sh\necho\n").expect("write");
            mode(&dir.join(f), m);
        }
        std::os::unix::fs::symlink("prog", dir.join("cgi/link")).expect("symlink");
        let text = format!(
            "Listen 8080\nDocumentRoot {}\nScriptAlias /cgi-bin/ {}/\n{extra}",
            dir.join("docs").display(),
            dir.join("cgi").display()
        );
        let conf = dir.join("t.conf");
        let nodes = crate::config::parse::parse(&text, &conf).expect("parse");
        (
            dir,
            crate::config::build::build(&nodes, &conf).expect("build"),
        )
    }

    fn look(cfg: &Config, url: &str) -> Lookup {
        lookup(cfg, &cfg.vhosts[0], &route(url).expect("route"), url)
    }

    /// RFC 3875 and docs/cgi.md: beneath a ScriptAlias the first regular file is the program
    /// and the rest of the URL its PATH_INFO; a missing program is 404; a directory or a
    /// symlink on the way is refused (403); outside it, only a CGI suffix where ExecCGI is on
    /// makes a program.
    #[test]
    fn lookup_table() {
        let (dir, cfg) = site("table", "");
        for (url, want) in [
            ("/cgi-bin/prog", Some(("/cgi-bin/prog", ""))),
            ("/cgi-bin/prog/a/b", Some(("/cgi-bin/prog", "/a/b"))),
        ] {
            match look(&cfg, url) {
                Lookup::Script(s) => {
                    let want = want.expect("a program");
                    assert_eq!(
                        (s.script_name.as_str(), s.path_info.as_str()),
                        want,
                        "{url}"
                    );
                    assert_eq!(s.filename(), dir.join("cgi/prog"), "{url}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        for (url, status) in [
            ("/cgi-bin/missing", 404),
            ("/cgi-bin/link", 403),
            ("/cgi-bin/link/x", 403),
            ("/cgi-bin/", 403),
            ("/cgi-bin/sub/", 403),
        ] {
            match look(&cfg, url) {
                Lookup::Refused(s) => assert_eq!(s, status, "{url}"),
                other => panic!("{url}: {other:?}"),
            }
        }
        for url in ["/page.html", "/run.cgi", "/", "/missing"] {
            assert!(matches!(look(&cfg, url), Lookup::NotCgi), "{url}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_cgi_suffix_needs_exec_cgi() {
        let (dir, cfg) = site("suffix", "AddHandler cgi-script .cgi\n");
        assert!(matches!(look(&cfg, "/run.cgi"), Lookup::Refused(403)));
        assert!(matches!(look(&cfg, "/page.html"), Lookup::NotCgi));
        let on = format!(
            "AddHandler cgi-script .cgi\n<Directory {}>\nOptions +ExecCGI\n</Directory>\n",
            std::env::temp_dir()
                .join(format!(
                    "oneshot-locate-{}-suffix2/docs",
                    std::process::id()
                ))
                .display()
        );
        let (dir2, cfg2) = site("suffix2", &on);
        match look(&cfg2, "/run.cgi/x") {
            Lookup::Script(s) => assert_eq!(
                (s.script_name.as_str(), s.path_info.as_str()),
                ("/run.cgi", "/x")
            ),
            other => panic!("{other:?}"),
        }
        for d in [dir, dir2] {
            let _ = std::fs::remove_dir_all(&d);
        }
    }
}
