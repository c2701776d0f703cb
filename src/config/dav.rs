//! mod_dav's directives (`Dav`, `DavDepthInfinity`, `LimitXMLRequestBody`, `DavLockDB`) and
//! where a vhost's WebDAV trees lie on disk (the Landlock write rules and the handler's roots).
//! See docs/webdav.md.
#![forbid(unsafe_code)]

use super::build::Builder;
use super::model::{Config, DirConf, Origin, VHost};
use super::parse::Node;
use super::ConfigError;
use std::path::PathBuf;

/// Apache's default `LimitXMLRequestBody`: 1 000 000 bytes.
pub const DEFAULT_XML_LIMIT: u64 = 1_000_000;

fn on_off(b: &mut Builder, n: &Node) -> Option<bool> {
    match n.args.first().map(|a| a.to_ascii_lowercase()).as_deref() {
        Some("on") => Some(true),
        Some("off") => Some(false),
        // mod_dav also accepts a provider name; `filesystem` is the only one here.
        Some("filesystem") if n.name.eq_ignore_ascii_case("Dav") => Some(true),
        _ => {
            b.error(n, format!("{} must be On or Off", n.name));
            None
        }
    }
}

pub fn dav(b: &mut Builder, n: &Node, d: &mut DirConf) {
    if let Some(on) = on_off(b, n) {
        d.dav = Some(on);
    }
}

pub fn depth_infinity(b: &mut Builder, n: &Node, d: &mut DirConf) {
    if let Some(on) = on_off(b, n) {
        d.dav_depth_infinity = Some(on);
    }
}

pub fn limit_xml_body(b: &mut Builder, n: &Node, d: &mut DirConf) {
    match n.args.first().map(|a| a.parse::<u64>()) {
        Some(Ok(v)) => d.limit_xml_body = Some(v),
        _ => b.error(n, "LimitXMLRequestBody: not a number of bytes"),
    }
}

/// One `Dav On` tree: the URL prefix (decoded segments) and the directory it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavRoot {
    pub url: Vec<String>,
    pub dir: PathBuf,
    /// The `Dav On` line's section (the vhost for a vhost-wide `Dav On`).
    pub origin: Origin,
}

/// The `Dav On` trees of a vhost: each `<Location>` beneath the DocumentRoot, each
/// `<Directory>` inside it (wildcard sections are refused by [`check`]).
pub fn roots(v: &VHost) -> Vec<DavRoot> {
    let mut out = Vec::new();
    let on = |c: &DirConf| c.dav == Some(true);
    if on(&v.conf) {
        out.push(DavRoot {
            url: Vec::new(),
            dir: v.document_root.clone(),
            origin: v.origin.clone(),
        });
    }
    let plain = |s: &&super::model::Section| on(&s.conf) && s.regex.is_none();
    for s in v.locations.iter().filter(plain) {
        let url: Vec<String> = segments(&s.path);
        out.push(DavRoot {
            dir: url.iter().fold(v.document_root.clone(), |p, s| p.join(s)),
            url,
            origin: s.origin.clone(),
        });
    }
    for s in v.directories.iter().filter(plain) {
        let dir = PathBuf::from(&s.path);
        if let Ok(rest) = dir.strip_prefix(&v.document_root) {
            out.push(DavRoot {
                url: rest
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect(),
                dir,
                origin: s.origin.clone(),
            });
        }
    }
    out
}

fn segments(url: &str) -> Vec<String> {
    url.split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .map(str::to_string)
        .collect()
}

/// `-t`: `Dav On` where it cannot be served as written is an error (I3).
pub fn check(cfg: &Config) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let mut push = |o: &Origin, m: String| {
        if !errors.iter().any(|e: &ConfigError| e.origin == *o) {
            errors.push(ConfigError {
                origin: o.clone(),
                message: m,
            })
        }
    };
    for v in &cfg.vhosts {
        let secs = v
            .locations
            .iter()
            .chain(&v.directories)
            .chain(&v.directory_matches);
        for s in secs.filter(|s| s.conf.dav == Some(true)) {
            if s.regex.is_some() || super::glob::is_pattern(&s.path) {
                push(
                    &s.origin,
                    format!(
                        "Dav On in a wildcard or regular-expression section ({}) is not supported: name the tree",
                        s.path
                    ),
                );
            } else if s.path.split('/').any(|c| c == "..") {
                push(&s.origin, format!("Dav On: '{}' contains '..'", s.path));
            }
        }
        // Write xor execute: no Dav tree where programs run from, or above such a place.
        let mut exec: Vec<&std::path::Path> =
            v.script_aliases.iter().map(|a| a.dir.as_path()).collect();
        if v.uses_cgi_extensions() {
            exec.push(&v.document_root);
        }
        for r in roots(v) {
            if let Some(x) = exec
                .iter()
                .find(|x| r.dir.starts_with(x) || x.starts_with(&r.dir))
            {
                push(
                    &r.origin,
                    format!(
                        "Dav On: {} overlaps {}, where programs run from (ScriptAlias or AddHandler cgi-script): an upload could be run",
                        r.dir.display(),
                        x.display()
                    ),
                );
            }
        }
        for s in v.directories.iter().filter(|s| s.conf.dav == Some(true)) {
            if !std::path::Path::new(&s.path).starts_with(&v.document_root) {
                push(
                    &s.origin,
                    format!(
                        "Dav On in <Directory {}>: only directories beneath the DocumentRoot ({}) can be served by WebDAV",
                        s.path,
                        v.document_root.display()
                    ),
                );
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(text: &str) -> Result<Config, Vec<String>> {
        let f = Path::new("/etc/x/h.conf");
        let nodes = super::super::parse::parse(text, f)
            .map_err(|e| e.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
        let (nodes, _, _) = super::super::load::expand_text(nodes, f);
        super::super::build::build(&nodes, f).map_err(|e| e.iter().map(|e| e.to_string()).collect())
    }

    const HEAD: &str = "Listen 8080\nDocumentRoot /srv/www\n";

    #[test]
    fn errors_and_warnings_name_file_and_line() {
        let rows: &[(&str, &str)] = &[
            ("<Location /d*>\nDav On\n</Location>\n", "/etc/x/h.conf:3: Dav On in a wildcard or regular-expression section (/d*) is not supported: name the tree"),
            ("<LocationMatch ^/d>\nDav On\n</LocationMatch>\n", "/etc/x/h.conf:3: Dav On in a wildcard or regular-expression section (^/d) is not supported: name the tree"),
            ("<DirectoryMatch ^/srv/www/d>\nDav On\n</DirectoryMatch>\n", "/etc/x/h.conf:3: Dav On in a wildcard or regular-expression section (^/srv/www/d) is not supported: name the tree"),
            ("<Directory /srv/other>\nDav On\n</Directory>\n", "/etc/x/h.conf:3: Dav On in <Directory /srv/other>: only directories beneath the DocumentRoot (/srv/www) can be served by WebDAV"),
            ("<Location /d>\nDav maybe\n</Location>\n", "/etc/x/h.conf:4: Dav must be On or Off"),
            ("Dav On\n", "/etc/x/h.conf:3: Dav is not allowed in <server>"),
            ("<Location /d>\nLimitXMLRequestBody lots\n</Location>\n", "/etc/x/h.conf:4: LimitXMLRequestBody: not a number of bytes"),
        ];
        for (text, want) in rows {
            let got = load(&format!("{HEAD}{text}")).unwrap_err();
            assert!(got.iter().any(|e| e.starts_with(want)), "{text}: {got:?}");
        }
        for cgi in [
            "ScriptAlias /cgi-bin/ /srv/www/dav/bin/\n",
            "AddHandler cgi-script .cgi\n",
        ] {
            let got = load(&format!(
                "{HEAD}{cgi}<Location /dav>\nDav On\n</Location>\n"
            ))
            .unwrap_err();
            assert!(
                got.iter()
                    .any(|e| e.starts_with("/etc/x/h.conf:4: Dav On: /srv/www/dav overlaps")),
                "{cgi}: {got:?}"
            );
        }
        assert!(load(&format!(
            "{HEAD}ScriptAlias /cgi-bin/ /srv/cgi/\n<Location /dav>\nDav On\n</Location>\n"
        ))
        .is_ok());
        let c = load(&format!("{HEAD}DavLockDB /var/lock/dav\n")).unwrap();
        assert!(
            c.warnings.iter().any(|w| w
                .to_string()
                .starts_with("/etc/x/h.conf:3: DavLockDB: accepted without effect")),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn roots_and_merge() {
        let c = load(&format!(
            "{HEAD}<Location /dav>\nDav On\nDavDepthInfinity On\nLimitXMLRequestBody 10\n</Location>\n<Location /dav/ro>\nDav Off\n</Location>\n<Directory /srv/www/up>\nDav filesystem\n</Directory>\n"
        ))
        .unwrap();
        let v = &c.vhosts[0];
        let o = |line| Origin {
            file: "/etc/x/h.conf".into(),
            line,
        };
        assert_eq!(
            roots(v),
            vec![
                DavRoot {
                    url: vec!["dav".into()],
                    dir: "/srv/www/dav".into(),
                    origin: o(3),
                },
                DavRoot {
                    url: vec!["up".into()],
                    dir: "/srv/www/up".into(),
                    origin: o(11),
                },
            ]
        );
        let on = v.dir_conf(Path::new("/srv/www/dav/x"), "/dav/x");
        assert_eq!(
            (on.dav, on.dav_depth_infinity, on.limit_xml_body),
            (Some(true), Some(true), Some(10))
        );
        assert_eq!(
            v.dir_conf(Path::new("/srv/www/dav/ro"), "/dav/ro/y").dav,
            Some(false)
        );
        assert_eq!(v.dir_conf(Path::new("/srv/www/x"), "/x").dav, None);
    }
}
