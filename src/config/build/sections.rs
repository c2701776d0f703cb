//! Virtual hosts and sections: `ServerName`, `ServerAlias`, `DocumentRoot`, the address of a
//! `<VirtualHost>`, `<Directory>`, `<Location>`, `<Files>` in their plain, `~` and `Match`
//! forms, and `AllowOverride`. Separate because these decide which settings a request gets.

#![forbid(unsafe_code)]

use super::*;

pub(super) fn parse_vhost_addr(s: &str) -> Result<(), String> {
    let ok = match s.rsplit_once(':') {
        Some((host, port)) => {
            (host == "*"
                || host == "_default_"
                || host.parse::<IpAddr>().is_ok()
                || host.starts_with('[')
                || !host.is_empty())
                && (port == "*" || port.parse::<u16>().is_ok())
        }
        None => !s.is_empty(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("<VirtualHost {s}>: not an address[:port]"))
    }
}

/// An address other than `*` or `_default_`, which Apache would match connections against.
pub(super) fn vhost_addr_is_specific(s: &str) -> bool {
    let host = s.rsplit_once(':').map_or(s, |(h, _)| h);
    !(host == "*" || host == "_default_")
}

fn parse_host_name(s: &str) -> Result<String, String> {
    let host = s.split_once("://").map(|(_, h)| h).unwrap_or(s);
    let host = match host.rsplit_once(':') {
        Some((h, p))
            if p.parse::<u16>().is_ok() && !h.ends_with(']')
                || p.parse::<u16>().is_ok() && h.starts_with('[') =>
        {
            h
        }
        _ => host,
    };
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.*?[]:_".contains(&b));
    if ok {
        Ok(host.to_ascii_lowercase())
    } else {
        Err(format!("'{s}' is not a valid host name"))
    }
}

pub fn server_name(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
    if let Some([a0]) = b.args(n, 1, 1) {
        match parse_host_name(a0) {
            Ok(h) => v.names.insert(0, h),
            Err(m) => b.error(n, m),
        }
    }
}

pub fn server_alias(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
    for a in &n.args {
        match parse_host_name(a) {
            Ok(h) => v.names.push(h),
            Err(m) => b.error(n, m),
        }
    }
}

pub fn document_root(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
    if let Some([a0]) = b.args(n, 1, 1) {
        v.document_root = Some(b.path(a0));
        v.root_origin = Some(origin(n));
    }
}

pub fn directory(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
    if let Some(s) = section_of(b, n, Kind::Directory) {
        if s.regex.is_some() {
            v.directory_matches.push(s);
        } else {
            v.directories.push(s);
        }
    }
}

pub fn location(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
    if let Some(s) = section_of(b, n, Kind::Location) {
        v.locations.push(s);
    }
}

/// `<Files NAME>`, `<Files ~ RE>`, `<FilesMatch RE>`: at the server or vhost level, or in a
/// `<Directory>`; tested against the requested file's name after the directory sections.
pub fn files(b: &mut Builder, n: &Node, d: &mut DirConf) {
    if let Some(s) = section_of(b, n, Kind::Files) {
        d.files.push(s);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Directory,
    Location,
    Files,
}

/// One section of any of the three kinds, in any of its spellings: `<Kind PATH>`,
/// `<Kind ~ RE>`, `<KindMatch RE>`. Its body is read in the kind's context.
fn section_of(b: &mut Builder, n: &Node, kind: Kind) -> Option<Section> {
    let is_match = n.name.to_ascii_lowercase().ends_with("match");
    let (pattern, regex) = match n.args.as_slice() {
        [re] if is_match => (re.clone(), true),
        [tilde, re] if !is_match && tilde == "~" => (re.clone(), true),
        [p] if !is_match => (p.clone(), false),
        _ => {
            let form = if is_match { "RE" } else { "PATH or ~ RE" };
            b.error(
                n,
                format!("<{} {}>: takes {form}", n.name, n.args.join(" ")),
            );
            return None;
        }
    };
    let (ctx, path) = match kind {
        Kind::Directory => (directives::DIRECTORY, pattern.clone()),
        Kind::Location => (directives::LOCATION, pattern.clone()),
        Kind::Files => (directives::FILES, pattern.clone()),
    };
    let mut compiled = None;
    if regex {
        match SectionRegex::new(&pattern) {
            Ok(r) => compiled = Some(r),
            Err(m) => b.error(n, format!("<{} {}>: {m}", n.name, n.args.join(" "))),
        }
    } else {
        check_plain_section(b, n, kind, &path);
    }
    let path = match kind {
        Kind::Directory if !regex => normalize_dir(&b.path(&path)),
        _ => path,
    };
    let conf = b.dir_section(n, ctx);
    Some(Section {
        path,
        regex: compiled,
        conf,
        origin: origin(n),
    })
}

fn check_plain_section(b: &mut Builder, n: &Node, kind: Kind, path: &str) {
    if kind == Kind::Location && !path.starts_with('/') {
        b.error(
            n,
            format!("<Location {path}>: the URL path must start with '/'"),
        );
    }
    if kind == Kind::Files && path.contains('/') {
        b.error(
            n,
            format!("<Files {path}>: a file name cannot contain '/' (it is matched against the last path component only), so this section would never apply"),
        );
    }
    if let Err(m) = super::super::glob::check(path) {
        b.error(n, format!("<{} {path}>: {m}", n.name));
    }
}

/// I7: nothing under a DocumentRoot chooses anything, so per-directory files are never read.
pub fn allow_override(b: &mut Builder, n: &Node) {
    if !matches!(n.args.as_slice(), [none] if none.eq_ignore_ascii_case("none")) {
        b.error(n, format!("{} {}: .htaccess files are never read: what is under a DocumentRoot must not decide how requests are served or as whom (the administrator's files alone do); put these directives in the server configuration and write {} None", n.name, n.args.join(" "), n.name));
    }
}
