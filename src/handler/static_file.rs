//! Static files as Apache serves them: GET and HEAD (and POST, answered as GET), Content-Type, Last-Modified, ETag,
//! conditional requests (RFC 9110 §13.2.2: 412, 304), one byte range (206/416), DirectoryIndex, listings only with
//! `Options Indexes`, and 301 to add a directory's trailing slash.
//!
//! The path is resolved one component at a time with openat(O_NOFOLLOW) from the DocumentRoot,
//! so a symlink is only followed where Options allow it, and `..` never reaches the
//! filesystem (the route stage removed it).
#![forbid(unsafe_code)]

use crate::config::{DirConf, Options, VHost};
use crate::http::range::{parse_range, RangeSpec};
use crate::http::request::Request;
use crate::http::response::{Body, Response};
use crate::http::route::{encode_path, Route};
use crate::http::{conditional, date, mime};
use crate::sandbox::Confined;
use crate::sys::fs::{open_beneath, open_follow};
use nix::fcntl::OFlag;
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

/// What the static handler does with a request.
pub enum Served {
    Response(Response),
    /// A DirectoryIndex entry to be served by an internal redirect to this URL (admitted
    /// again), because its own sections differ from the directory's.
    Index(String),
}

pub fn serve(
    _proof: &Confined,
    types: &mime::Types,
    vhost: &VHost,
    route: &Route,
    req: &Request,
) -> Served {
    use crate::config::request::{map, Mapped};
    let (root, segments, aliased) = match map(vhost, route) {
        Mapped::Alias(_, Ok(landing)) => (landing.root, landing.rest, true),
        Mapped::Alias(a, Err(why)) => {
            log::warn!(
                "[{}] Alias at {}: refused {}: {why}",
                vhost.server_name(),
                a.origin,
                req.path
            );
            return Served::Response(Response::error(403));
        }
        Mapped::Script | Mapped::DocumentRoot => {
            (vhost.document_root.clone(), route.segments.clone(), false)
        }
    };
    match resolve(vhost, &root, &segments, &req.path) {
        Ok(Found::File { name, .. }) if aliased && program_name(vhost, &name) => {
            Served::Response(Response::error(403))
        }
        Ok(Found::File {
            file,
            meta,
            name,
            dir,
        }) => {
            let (ty, conf) = file_type(types, vhost, &dir, &name, req);
            Served::Response(file_response(file, &meta, ty, req, &conf, &name))
        }
        Ok(Found::Dir { fd, dir }) => directory(types, vhost, route, req, fd, &dir, aliased),
        Err(status) => Served::Response(Response::error(status)),
    }
}

/// A file some scope runs as CGI is never sent as text; in an Alias target programs do not
/// run (only ScriptAlias and the DocumentRoot's AddHandler run them), so it is refused.
fn program_name(vhost: &VHost, name: &str) -> bool {
    let program = super::cgi::any_cgi_extension(vhost, name);
    if program {
        log::warn!(
            "[{}] refused {name} in an Alias target: its suffix runs as CGI elsewhere and programs do not run from an Alias (use ScriptAlias)",
            vhost.server_name()
        );
    }
    program
}

enum Found {
    File {
        file: File,
        meta: Metadata,
        name: String,
        /// The directory holding it, for its sections.
        dir: PathBuf,
    },
    Dir {
        fd: OwnedFd,
        dir: PathBuf,
    },
}

/// The DocumentRoot and Alias directories this process has opened, by path. A connection's
/// later requests start from a duplicate of the same descriptor instead of walking the path
/// (and Landlock's rules for each component) again. A process serves one connection, so a
/// root replaced on disk meanwhile (a release directory swapped by `mv` or a symlink flip)
/// is served from the next connection on; Apache, which walks the path for every request,
/// switches at the next request of a kept connection instead.
static ROOTS: Mutex<Vec<(PathBuf, OwnedFd)>> = Mutex::new(Vec::new());

fn open_root_dir(root: &Path) -> io::Result<OwnedFd> {
    let mut roots = ROOTS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, fd)) = roots.iter().find(|(p, _)| p == root) {
        return fd.try_clone();
    }
    let fd = OwnedFd::from(File::open(root)?);
    roots.push((root.to_path_buf(), fd.try_clone()?));
    Ok(fd)
}

/// Walks `segments` beneath `root` (the DocumentRoot or an Alias's landing root, which may be
/// a file itself: `Alias /favicon.ico /srv/f.ico`).
fn resolve(vhost: &VHost, root: &Path, segments: &[String], url: &str) -> Result<Found, u16> {
    let mut cur: OwnedFd = if segments.is_empty() {
        File::open(root).map(OwnedFd::from)
    } else {
        open_root_dir(root)
    }
    .map_err(|e| io_status(&e))?;
    let mut path = root.to_path_buf();
    if segments.is_empty() {
        let (fd, meta) = with_meta(cur)?;
        cur = fd;
        if meta.is_file() {
            let name = root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            return Ok(Found::File {
                file: File::from(cur),
                meta,
                name,
                dir: root.parent().unwrap_or(root).to_path_buf(),
            });
        }
    }
    for (i, seg) in segments.iter().enumerate() {
        let opts = vhost.dir_conf(&path, url).options.unwrap_or_default();
        let next = open_component(&cur, &path, seg, opts)?;
        path.push(seg);
        let (next, meta) = with_meta(next)?;
        let last = i + 1 == segments.len();
        if meta.is_file() {
            if !last {
                return Err(404); // "a/file/more": there is no such directory
            }
            return Ok(Found::File {
                file: File::from(next),
                meta,
                name: seg.clone(),
                dir: path.parent().unwrap_or(&path).to_path_buf(),
            });
        }
        if !meta.is_dir() {
            return Err(403); // FIFOs, devices and sockets are never served
        }
        cur = next;
    }
    Ok(Found::Dir { fd: cur, dir: path })
}

/// fstat of an open descriptor, handing it back (no duplicate descriptor for the call).
fn with_meta(fd: OwnedFd) -> Result<(OwnedFd, Metadata), u16> {
    let file = File::from(fd);
    let meta = file.metadata().map_err(|e| io_status(&e))?;
    Ok((file.into(), meta))
}

/// Opens one path component. A symlink is followed only with FollowSymLinks, or with
/// SymLinksIfOwnerMatch when the link and its target have the same owner.
fn open_component(
    dir: &OwnedFd,
    dir_path: &Path,
    name: &str,
    opts: Options,
) -> Result<OwnedFd, u16> {
    let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK;
    match open_beneath(dir.as_fd(), Path::new(name), flags) {
        Ok(fd) => Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            if opts.follow_symlinks {
                return open_follow(dir.as_fd(), Path::new(name), flags).map_err(|e| io_status(&e));
            }
            if opts.symlinks_if_owner_match {
                let link = dir_path.join(name);
                let lmeta = std::fs::symlink_metadata(&link).map_err(|e| io_status(&e))?;
                let target =
                    open_follow(dir.as_fd(), Path::new(name), flags).map_err(|e| io_status(&e))?;
                let (target, tmeta) = with_meta(target)?;
                if lmeta.uid() == tmeta.uid() {
                    return Ok(target);
                }
                log::info!(
                    "symlink {} refused: owner differs from its target's (SymLinksIfOwnerMatch)",
                    link.display()
                );
                return Err(403);
            }
            log::info!(
                "symlink {} refused: Options do not allow following it",
                dir_path.join(name).display()
            );
            Err(403)
        }
        Err(e) => Err(io_status(&e)),
    }
}

/// Maps a filesystem error to a status; the kernel's EACCES (DAC, Landlock, SELinux) is a 403.
fn io_status(e: &io::Error) -> u16 {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) | Some(libc::ENAMETOOLONG) => 404,
        Some(libc::EACCES) | Some(libc::EPERM) => 403,
        _ => {
            log::error!("static file: {e}");
            500
        }
    }
}

fn directory(
    types: &mime::Types,
    vhost: &VHost,
    route: &Route,
    req: &Request,
    fd: OwnedFd,
    dir: &Path,
    aliased: bool,
) -> Served {
    if !route.trailing_slash {
        let mut loc = encode_path(&format!("/{}/", route.segments.join("/")).replace("//", "/"));
        if let Some(q) = &req.query {
            loc.push('?');
            loc.push_str(q);
        }
        return Served::Response(Response::error(301).header("Location", loc));
    }
    let conf = vhost.dir_conf(dir, &req.path);
    let opts = conf.options.unwrap_or_default();
    for index in conf.directory_index.unwrap_or_default() {
        match open_component(&fd, dir, &index, opts) {
            Ok(f) => {
                let file = File::from(f);
                match file.metadata() {
                    Ok(meta) if meta.is_file() => {
                        if aliased && program_name(vhost, &index) {
                            return Served::Response(Response::error(403));
                        }
                        if vhost.index_needs_admission(dir, &req.path, &index) {
                            return Served::Index(super::cgi::index_url(&req.path, &index));
                        }
                        let (ty, conf) = file_type(types, vhost, dir, &index, req);
                        return Served::Response(file_response(
                            file, &meta, ty, req, &conf, &index,
                        ));
                    }
                    _ => continue,
                }
            }
            Err(404) => continue,
            Err(status) => return Served::Response(Response::error(status)),
        }
    }
    // mod_autoindex lists for GET only; Apache's default handler then answers 404.
    if opts.indexes && req.method == crate::http::request::Method::Post {
        return Served::Response(Response::error(404));
    }
    if opts.indexes {
        let url = format!("/{}", route.segments.join("/"));
        return Served::Response(super::listing::render(fd, &url));
    }
    Served::Response(Response::error(403))
}

/// The file's entity-tag as `FileETag` asks (Apache 2.4's default: MTime Size), or None.
fn etag(meta: &Metadata, conf: &DirConf) -> Option<String> {
    crate::config::cache::etag(
        crate::config::cache::FileETag::effective(conf.file_etag),
        meta.ino(),
        meta.size(),
        meta.mtime() as u64 * 1_000_000 + meta.mtime_nsec() as u64 / 1000,
    )
}

/// The file's Content-Type from its own merged sections (`<Files>` included), as mod_mime.
fn file_type(
    types: &mime::Types,
    vhost: &VHost,
    dir: &Path,
    name: &str,
    req: &Request,
) -> (Option<String>, DirConf) {
    let full = dir.join(name);
    let conf = vhost.file_conf(dir, &full.to_string_lossy(), name, &req.path);
    (mime::content_type(name, &conf.mime(types)), conf)
}

fn file_response(
    file: File,
    meta: &Metadata,
    ty: Option<String>,
    req: &Request,
    conf: &DirConf,
    name: &str,
) -> Response {
    let resp = file_response_of(file, meta, ty.clone(), req, etag(meta, conf));
    Response {
        source: Some(Box::new(crate::http::response::Source {
            name: name.to_string(),
            mtime: UNIX_EPOCH + Duration::from_secs(meta.mtime().max(0) as u64),
            content_type: ty,
        })),
        ..resp
    }
}

fn file_response_of(
    file: File,
    meta: &Metadata,
    ty: Option<String>,
    req: &Request,
    tag: Option<String>,
) -> Response {
    let size = meta.size();
    let mtime = UNIX_EPOCH + Duration::from_secs(meta.mtime().max(0) as u64);
    let last_modified = date::http_date(mtime);
    // A value that is not UTF-8 matches no entity-tag and is no date.
    let field = |n: &str| {
        req.header(n)
            .map(|v| std::str::from_utf8(v).unwrap_or("\u{0}"))
    };
    let fields = conditional::Fields {
        if_match: field("If-Match"),
        if_unmodified_since: field("If-Unmodified-Since"),
        if_none_match: field("If-None-Match"),
        if_modified_since: field("If-Modified-Since"),
    };
    let tag_or_none = tag.as_deref().unwrap_or_default();
    let with_tag = |r: Response| match &tag {
        Some(t) => r.header("ETag", t.clone()),
        None => r,
    };
    match conditional::evaluate(&fields, tag_or_none, mtime, std::time::SystemTime::now()) {
        conditional::Outcome::NotModified => {
            return with_tag(Response::new(304)).header("Last-Modified", last_modified);
        }
        conditional::Outcome::PreconditionFailed => return Response::error(412),
        conditional::Outcome::Proceed => {}
    }
    let base = |status| {
        let r = Response::new(status);
        let r = match &ty {
            Some(t) => r.header("Content-Type", t.clone()),
            None => r,
        };
        with_tag(r.header("Last-Modified", last_modified.clone())).header("Accept-Ranges", "bytes")
    };
    let range = req
        .header("Range")
        .and_then(|r| std::str::from_utf8(r).ok());
    let if_range_ok = req.header("If-Range").is_none_or(|v| {
        (tag.is_some() && v == tag_or_none.as_bytes()) || v == last_modified.as_bytes()
    });
    match range.filter(|_| if_range_ok).map(|r| parse_range(r, size)) {
        Some(RangeSpec::Satisfiable(start, end)) => base(206)
            .header("Content-Range", format!("bytes {start}-{end}/{size}"))
            .body(Body::File {
                file,
                offset: start,
                len: end - start + 1,
            }),
        Some(RangeSpec::Unsatisfiable) => {
            Response::error(416).header("Content-Range", format!("bytes */{size}"))
        }
        Some(RangeSpec::Ignore) | None => base(200).body(Body::File {
            file,
            offset: 0,
            len: size,
        }),
    }
}
