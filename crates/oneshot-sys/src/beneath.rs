//! Filesystem calls for the WebDAV handler, every one relative to a directory descriptor and
//! never following a symlink: `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS)` for paths (a `..` that climbs out, an absolute path or a symlink
//! anywhere on the way fails with EXDEV/ELOOP), and the `*at` calls on one final name (which
//! act on a symlink itself, never on its target). Through rustix, whose calls are safe Rust;
//! kept here so that every system call of the server lives in `sys`.

use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags, ResolveFlags};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

pub use rustix::fs::{FileType, Stat};

fn resolve() -> ResolveFlags {
    ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS
}

/// Opens `rel` beneath `dir` (`""` is `dir` itself) with `flags` (O_CLOEXEC and O_NOCTTY
/// added); `mode` for O_CREAT.
pub fn open(dir: BorrowedFd<'_>, rel: &Path, flags: OFlags, mode: u32) -> io::Result<OwnedFd> {
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    Ok(rustix::fs::openat2(
        dir,
        rel,
        flags | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::from_raw_mode(mode),
        resolve(),
    )?)
}

/// A directory beneath `dir`, for reading and as the base of further calls.
pub fn open_dir(dir: BorrowedFd<'_>, rel: &Path) -> io::Result<OwnedFd> {
    open(dir, rel, OFlags::RDONLY | OFlags::DIRECTORY, 0)
}

/// Any object beneath `dir` for fstat and extended attributes (O_NONBLOCK: a FIFO does not
/// block the open).
pub fn open_any(dir: BorrowedFd<'_>, rel: &Path) -> io::Result<OwnedFd> {
    open(dir, rel, OFlags::RDONLY | OFlags::NONBLOCK, 0)
}

/// A new file `name` in `dir`, which must not exist (O_EXCL), for writing.
pub fn create(dir: BorrowedFd<'_>, name: &str, mode: u32) -> io::Result<std::fs::File> {
    let fd = open(
        dir,
        Path::new(name),
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
        mode,
    )?;
    Ok(std::fs::File::from(fd))
}

/// lstat of one name in `dir`.
pub fn stat(dir: BorrowedFd<'_>, name: &str) -> io::Result<Stat> {
    Ok(rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?)
}

pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<Stat> {
    Ok(rustix::fs::fstat(fd)?)
}

pub fn mkdir(dir: BorrowedFd<'_>, name: &str, mode: u32) -> io::Result<()> {
    Ok(rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(mode))?)
}

/// Removes the name `name` (a directory when `is_dir`; it must be empty).
pub fn unlink(dir: BorrowedFd<'_>, name: &str, is_dir: bool) -> io::Result<()> {
    let flags = if is_dir {
        AtFlags::REMOVEDIR
    } else {
        AtFlags::empty()
    };
    Ok(rustix::fs::unlinkat(dir, name, flags)?)
}

/// Renames `from` in `from_dir` to `to` in `to_dir`; with `replace` false it fails (EEXIST)
/// rather than replace an existing `to`.
pub fn rename(
    from_dir: BorrowedFd<'_>,
    from: &str,
    to_dir: BorrowedFd<'_>,
    to: &str,
    replace: bool,
) -> io::Result<()> {
    let flags = if replace {
        RenameFlags::empty()
    } else {
        RenameFlags::NOREPLACE
    };
    Ok(rustix::fs::renameat_with(
        from_dir, from, to_dir, to, flags,
    )?)
}

/// The names in directory `dir` (without `.` and `..`), each with its type.
pub fn list(dir: BorrowedFd<'_>) -> io::Result<Vec<(String, FileType)>> {
    let mut out = Vec::new();
    for e in rustix::fs::Dir::read_from(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name != "." && name != ".." {
            out.push((name, e.file_type()));
        }
    }
    Ok(out)
}

/// Largest extended attribute value read or written (the kernel's own limit).
pub const XATTR_MAX: usize = 65536;

/// The value of extended attribute `name`, `None` when the object has none by that name.
pub fn xattr_get(fd: impl AsFd, name: &str) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; XATTR_MAX];
    match rustix::fs::fgetxattr(fd, name, &mut buf[..]) {
        Ok(n) => {
            buf.truncate(n);
            Ok(Some(buf))
        }
        Err(rustix::io::Errno::NODATA) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub fn xattr_set(fd: impl AsFd, name: &str, value: &[u8]) -> io::Result<()> {
    Ok(rustix::fs::fsetxattr(
        fd,
        name,
        value,
        rustix::fs::XattrFlags::empty(),
    )?)
}

/// Removes `name`; absent is not an error.
pub fn xattr_remove(fd: impl AsFd, name: &str) -> io::Result<()> {
    match rustix::fs::fremovexattr(fd, name) {
        Ok(()) | Err(rustix::io::Errno::NODATA) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The names of the object's extended attributes.
pub fn xattr_list(fd: impl AsFd) -> io::Result<Vec<String>> {
    let mut buf = vec![0u8; XATTR_MAX];
    let n = rustix::fs::flistxattr(fd, &mut buf[..])?;
    Ok(buf
        .get(..n)
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect())
}
