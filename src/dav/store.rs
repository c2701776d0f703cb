//! The WebDAV tree on disk, beneath one `Dav On` directory: resources addressed by their
//! decoded segments relative to it, every call through `sys::beneath` (no symlink is ever
//! followed, nothing outside the tree is reachable by a name). Dead properties are `user.dav:`
//! extended attributes of the resource; locks are a JSON list in its `user.oneshot.locks`
//! attribute, so the user's own identity keeps both (docs/webdav.md).
#![forbid(unsafe_code)]

use crate::sys::beneath::{self, FileType, Stat};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

/// Prefix of the extended attributes that hold dead properties.
pub const PROP_PREFIX: &str = "user.dav:";
/// The extended attribute that holds a resource's locks.
pub const LOCKS_XATTR: &str = "user.oneshot.locks";
/// Prefix of the temporary names PUT and COPY write to before the rename.
pub const TMP_MARK: &str = ".oneshot-tmp-";
/// Deepest directory nesting walked by DELETE, COPY and PROPFIND.
pub const MAX_TREE_DEPTH: usize = 64;

pub struct Tree {
    pub root: OwnedFd,
}

pub type Rel = [String];

pub fn rel_path(rel: &Rel) -> PathBuf {
    rel.iter().collect()
}

/// Which objects WebDAV shows: regular files and directories (never symlinks, devices,
/// FIFOs or sockets).
pub struct FileTypeOf(FileType);

impl FileTypeOf {
    pub fn of(st: &Stat) -> FileTypeOf {
        FileTypeOf(FileType::from_raw_mode(st.st_mode))
    }
    pub fn served(&self) -> bool {
        matches!(self.0, FileType::Directory | FileType::RegularFile)
    }
}

pub fn is_dir(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::Directory
}

/// Entity tag, the same as the static handler's (size and mtime in microseconds).
pub fn etag(st: &Stat) -> String {
    format!(
        "\"{:x}-{:x}\"",
        st.st_size as u64,
        (st.st_mtime as u64)
            .wrapping_mul(1_000_000)
            .wrapping_add(st.st_mtime_nsec / 1000)
    )
}

fn missing(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
}

impl Tree {
    pub fn open(dir: &std::path::Path) -> io::Result<Tree> {
        let fd = std::fs::File::open(dir)?;
        Ok(Tree {
            root: beneath::open_dir(fd.as_fd(), std::path::Path::new(""))?,
        })
    }

    /// The directory holding `rel` (the parent), `None` when it does not exist.
    pub fn parent(&self, rel: &Rel) -> io::Result<Option<OwnedFd>> {
        let p = rel.get(..rel.len().saturating_sub(1)).unwrap_or_default();
        match beneath::open_dir(self.root.as_fd(), &rel_path(p)) {
            Ok(fd) => Ok(Some(fd)),
            Err(e) if missing(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// lstat of `rel`; `None` when it does not exist.
    pub fn stat(&self, rel: &Rel) -> io::Result<Option<Stat>> {
        let Some(name) = rel.last() else {
            return beneath::fstat(self.root.as_fd()).map(Some);
        };
        let Some(parent) = self.parent(rel)? else {
            return Ok(None);
        };
        match beneath::stat(parent.as_fd(), name) {
            Ok(st) => Ok(Some(st)),
            Err(e) if missing(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The object itself, for extended attributes.
    pub fn open_any(&self, rel: &Rel) -> io::Result<OwnedFd> {
        beneath::open_any(self.root.as_fd(), &rel_path(rel))
    }

    /// The names in collection `rel`, without this server's temporary files.
    pub fn members(&self, rel: &Rel) -> io::Result<Vec<(String, FileType)>> {
        let fd = beneath::open_dir(self.root.as_fd(), &rel_path(rel))?;
        let mut v = beneath::list(fd.as_fd())?;
        // Apache's stock `<Files ".ht*"> Require all denied`: never listed either.
        v.retain(|(n, _)| !n.contains(TMP_MARK) && !n.starts_with(".ht"));
        v.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(v)
    }

    // ---- locks ----

    /// The live (unexpired) locks kept on `rel` itself.
    pub fn locks_on(&self, rel: &Rel, now: u64) -> Vec<Lock> {
        let Ok(fd) = self.open_any(rel) else {
            return Vec::new();
        };
        match beneath::xattr_get(&fd, LOCKS_XATTR) {
            Ok(Some(v)) => serde_json::from_slice::<Vec<Lock>>(&v)
                .unwrap_or_default()
                .into_iter()
                .filter(|l| l.expires > now)
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn store_locks(&self, rel: &Rel, locks: &[Lock]) -> io::Result<()> {
        let fd = self.open_any(rel)?;
        if locks.is_empty() {
            return beneath::xattr_remove(&fd, LOCKS_XATTR);
        }
        let v = serde_json::to_vec(locks).map_err(io::Error::other)?;
        beneath::xattr_set(&fd, LOCKS_XATTR, &v)
    }

    /// Every lock that covers `rel`: its own, and the depth-infinity locks of its ancestors
    /// (within the tree), with the segments of the resource that holds each.
    pub fn covering(&self, rel: &Rel, now: u64) -> Vec<(Vec<String>, Lock)> {
        let mut out = Vec::new();
        for i in 0..=rel.len() {
            let holder = rel.get(..i).unwrap_or_default();
            for l in self.locks_on(holder, now) {
                if i == rel.len() || l.infinite {
                    out.push((holder.to_vec(), l));
                }
            }
        }
        out
    }

    /// Locks held on resources strictly beneath collection `rel` (bounded walk).
    pub fn locks_beneath(&self, rel: &Rel, now: u64) -> Vec<Lock> {
        let mut out = Vec::new();
        let mut stack = vec![rel.to_vec()];
        let mut seen = 0usize;
        while let Some(dir) = stack.pop() {
            let Ok(members) = self.members(&dir) else {
                continue;
            };
            for (name, ty) in members {
                seen += 1;
                if seen > 100_000 {
                    return out;
                }
                let mut r = dir.clone();
                r.push(name);
                out.extend(self.locks_on(&r, now));
                if ty == FileType::Directory && r.len() - rel.len() < MAX_TREE_DEPTH {
                    stack.push(r);
                }
            }
        }
        out
    }

    // ---- dead properties ----

    pub fn dead_props(&self, fd: &OwnedFd) -> Vec<(super::xml::Name, String)> {
        let names = beneath::xattr_list(fd).unwrap_or_default();
        let mut out = Vec::new();
        for n in names {
            let Some(name) = prop_from_xattr(&n) else {
                continue;
            };
            if let Ok(Some(v)) = beneath::xattr_get(fd, &n) {
                out.push((name, String::from_utf8_lossy(&v).into_owned()));
            }
        }
        out.sort();
        out
    }

    // ---- changes ----

    /// Removes `rel` and, for a collection, everything beneath it that can be removed (RFC
    /// 4918 §9.6.1: a DELETE of a collection goes on past a member it cannot delete). The
    /// answer lists what could not be removed, each with why; the collections that still hold
    /// such a member are not attempted and not listed (their failure follows from it). An
    /// empty list: everything is gone.
    pub fn remove(&self, rel: &Rel) -> io::Result<Vec<Failed>> {
        let (Some(parent), Some(name)) = (self.parent(rel)?, rel.last()) else {
            return Err(io::Error::from_raw_os_error(libc::EPERM));
        };
        let mut failed = Vec::new();
        let mut at = rel.to_vec();
        remove_entry(parent.as_fd(), name, &mut at, 0, &mut failed);
        Ok(failed)
    }

    /// Copies `from` to `to` (which must not exist): a file with its dead properties, a
    /// collection with its dead properties and, when `deep`, its members. Locks are not copied.
    /// Symlinks inside a copied collection are skipped. Errors on `from` itself are returned;
    /// a member that cannot be copied is listed (with the source or destination path, whichever
    /// failed) and its subtree skipped, while its siblings are still copied (RFC 4918 §9.8.3).
    pub fn copy(&self, from: &Rel, to: &Rel, deep: bool) -> io::Result<Vec<Failed>> {
        let mut failed = Vec::new();
        match self.copy_one(from, to, deep, &mut failed) {
            Ok(()) => Ok(failed),
            Err(Side::Source(e) | Side::Dest(e)) => Err(e),
        }
    }

    fn copy_one(
        &self,
        from: &Rel,
        to: &Rel,
        deep: bool,
        failed: &mut Vec<Failed>,
    ) -> Result<(), Side> {
        let src_err = |e| Side::Source(e);
        let st = self
            .stat(from)
            .map_err(src_err)?
            .ok_or_else(|| Side::Source(io::Error::from_raw_os_error(libc::ENOENT)))?;
        let (Some(dparent), Some(dname)) = (self.parent(to).map_err(Side::Dest)?, to.last()) else {
            return Err(Side::Dest(io::Error::from_raw_os_error(libc::ENOENT)));
        };
        let src = self.open_any(from).map_err(src_err)?;
        if is_dir(&st) {
            beneath::mkdir(dparent.as_fd(), dname, 0o755).map_err(Side::Dest)?;
            let dst = self.open_any(to).map_err(Side::Dest)?;
            copy_props(&src, &dst).map_err(Side::Dest)?;
            if deep && to.len() < MAX_TREE_DEPTH {
                for (name, ty) in self.members(from).map_err(src_err)? {
                    if ty != FileType::Directory && ty != FileType::RegularFile {
                        continue;
                    }
                    let (mut f, mut t) = (from.to_vec(), to.to_vec());
                    f.push(name.clone());
                    t.push(name);
                    if let Err(side) = self.copy_one(&f, &t, true, failed) {
                        failed.push(side.failed(f, t, ty == FileType::Directory));
                    }
                }
            }
            return Ok(());
        }
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(Side::Source(io::Error::from_raw_os_error(libc::EPERM)));
        }
        let mut input = std::fs::File::from(src.try_clone().map_err(src_err)?);
        let tmp = tmp_name(dname);
        let mut out = beneath::create(dparent.as_fd(), &tmp, 0o644).map_err(Side::Dest)?;
        let done = copy_data(&mut input, &mut out)
            .and_then(|_| copy_props(&src, &out).map_err(Side::Dest))
            .and_then(|_| {
                beneath::rename(dparent.as_fd(), &tmp, dparent.as_fd(), dname, false)
                    .map_err(Side::Dest)
            });
        if done.is_err() {
            let _ = beneath::unlink(dparent.as_fd(), &tmp, false);
        }
        done
    }
}

/// A member a DELETE, COPY or MOVE could not act on: its path (relative to the tree) and why.
#[derive(Debug)]
pub struct Failed {
    pub rel: Vec<String>,
    pub dir: bool,
    pub error: io::Error,
}

/// Which end of a copy failed: the source (reading) or the destination (writing).
enum Side {
    Source(io::Error),
    Dest(io::Error),
}

impl Side {
    fn failed(self, from: Vec<String>, to: Vec<String>, dir: bool) -> Failed {
        match self {
            Side::Source(error) => Failed {
                rel: from,
                dir,
                error,
            },
            Side::Dest(error) => Failed {
                rel: to,
                dir,
                error,
            },
        }
    }
}

/// io::copy, telling a read error (the source) from a write error (the destination).
fn copy_data(input: &mut std::fs::File, out: &mut std::fs::File) -> Result<(), Side> {
    use std::io::{Read, Write};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Side::Source(e)),
        };
        out.write_all(&buf[..n]).map_err(Side::Dest)?;
    }
}

/// Removes `name` in `dir` (at `at`) and what is beneath it; false (and `failed` says why)
/// when something stays.
fn remove_entry(
    dir: std::os::fd::BorrowedFd<'_>,
    name: &str,
    at: &mut Vec<String>,
    depth: usize,
    failed: &mut Vec<Failed>,
) -> bool {
    let mut fail = |at: &Vec<String>, dir: bool, error: io::Error| {
        failed.push(Failed {
            rel: at.clone(),
            dir,
            error,
        });
        false
    };
    let st = match beneath::stat(dir, name) {
        Ok(st) => st,
        Err(e) => return fail(at, false, e),
    };
    if !is_dir(&st) {
        return match beneath::unlink(dir, name, false) {
            Ok(()) => true,
            Err(e) => fail(at, false, e),
        };
    }
    if depth >= MAX_TREE_DEPTH {
        return fail(at, true, io::Error::from_raw_os_error(libc::ELOOP));
    }
    let sub = match beneath::open_dir(dir, std::path::Path::new(name)) {
        Ok(fd) => fd,
        Err(e) => return fail(at, true, e),
    };
    let list = match beneath::list(sub.as_fd()) {
        Ok(l) => l,
        Err(e) => return fail(at, true, e),
    };
    let mut all = true;
    for (n, _) in list {
        at.push(n);
        let name = at.last().cloned().unwrap_or_default();
        all &= remove_entry(sub.as_fd(), &name, at, depth + 1, failed);
        at.pop();
    }
    if !all {
        return false;
    }
    match beneath::unlink(dir, name, true) {
        Ok(()) => true,
        Err(e) => {
            failed.push(Failed {
                rel: at.clone(),
                dir: true,
                error: e,
            });
            false
        }
    }
}

/// `.NAME.oneshot-tmp-RANDOM`: where PUT and COPY write before renaming onto NAME.
pub fn tmp_name(name: &str) -> String {
    let mut r = [0u8; 8];
    let _ = getrandom::getrandom(&mut r);
    let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
    let short: String = name.chars().take(40).collect();
    format!(".{short}{TMP_MARK}{hex}")
}

/// Copies the dead properties (never the locks) of `from` to `to`.
pub fn copy_props(from: &impl AsFd, to: &impl AsFd) -> io::Result<()> {
    copy_xattrs(from, to, |n| n.starts_with(PROP_PREFIX))
}

/// Copies dead properties and locks: a PUT replaces the file, not the resource.
pub fn copy_resource_state(from: &impl AsFd, to: &impl AsFd) -> io::Result<()> {
    copy_xattrs(from, to, |n| n.starts_with(PROP_PREFIX) || n == LOCKS_XATTR)
}

fn copy_xattrs(from: &impl AsFd, to: &impl AsFd, keep: impl Fn(&str) -> bool) -> io::Result<()> {
    for n in beneath::xattr_list(from)? {
        if keep(&n) {
            if let Some(v) = beneath::xattr_get(from, &n)? {
                beneath::xattr_set(to, &n, &v)?;
            }
        }
    }
    Ok(())
}

/// The extended attribute that stores dead property `n`: `user.dav:NAMESPACE LOCALNAME`.
pub fn prop_xattr(n: &super::xml::Name) -> String {
    format!("{PROP_PREFIX}{} {}", n.ns, n.local)
}

fn prop_from_xattr(x: &str) -> Option<super::xml::Name> {
    let rest = x.strip_prefix(PROP_PREFIX)?;
    let (ns, local) = rest.rsplit_once(' ')?;
    Some(super::xml::Name::new(ns, local))
}

/// One write lock (RFC 4918 §6), as kept in `user.oneshot.locks`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Lock {
    pub token: String,
    pub exclusive: bool,
    /// Depth infinity (covers the members of a collection).
    pub infinite: bool,
    /// The client's `<owner>` content, as a fragment.
    pub owner: Option<String>,
    /// The authenticated user who took it: only that user's requests submit its token.
    pub user: Option<String>,
    /// Seconds asked for (Timeout), and when it ends (seconds since the epoch).
    pub timeout: u64,
    pub expires: u64,
    /// The URL of the lock root (for `lockroot`).
    pub root: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prop_xattr_names_round_trip() {
        for (ns, local) in [
            ("DAV:", "x"),
            ("", "n"),
            ("http://a b/", "c"),
            ("urn:x", "y-z"),
        ] {
            let n = crate::dav::xml::Name::new(ns, local);
            assert_eq!(prop_from_xattr(&prop_xattr(&n)), Some(n));
        }
        assert_eq!(prop_from_xattr("user.other"), None);
        assert_eq!(prop_from_xattr(LOCKS_XATTR), None);
    }
}
