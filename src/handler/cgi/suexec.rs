//! suEXEC's checks on a found program, run in the confined child before it starts the program
//! (the target identity is this process's: the one the confinement switched to). The facts
//! come from the program's and its directory's fstat and one faccessat(X_OK); [`check`]
//! decides, pure, in the order of the "Security Model" list of Apache's suexec documentation.
//! Where suEXEC wants the directory owned by the target user, a directory owned by root passes
//! as well, and groups are not compared (docs/cgi.md).
#![forbid(unsafe_code)]

use super::{Lookup, Script};
use crate::config::{Config, VHost};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What suEXEC looks at, for one program.
#[derive(Debug, Clone, Copy)]
pub(super) struct Facts {
    /// The target user (this process's uid after confinement).
    pub uid: u32,
    /// Mode and owner of the directory holding the program.
    pub dir_mode: u32,
    pub dir_uid: u32,
    /// Mode and owner of the program.
    pub mode: u32,
    pub owner: u32,
    /// `CGIOwnerCheck`: the owner checks apply.
    pub owner_check: bool,
}

/// The name of the first failed check, or `Ok`. `executable` is asked last, only when every
/// other check passed (it costs a system call).
pub(super) fn check(f: &Facts, executable: impl FnOnce() -> bool) -> Result<(), &'static str> {
    if f.dir_mode & 0o022 != 0 {
        return Err("directory writable by group or others");
    }
    if f.mode & 0o022 != 0 {
        return Err("program writable by group or others");
    }
    if f.mode & (libc::S_ISUID | libc::S_ISGID) != 0 {
        return Err("setuid or setgid bit");
    }
    if f.owner_check {
        if f.owner != f.uid {
            return Err("program owner is not the target user");
        }
        // A directory owned by someone else (root excepted) would let them swap the program.
        if f.dir_uid != f.uid && f.dir_uid != 0 {
            return Err("directory owner is neither the target user nor root");
        }
    }
    if !executable() {
        return Err("program not executable by the target user");
    }
    Ok(())
}

/// suEXEC's checks on a found program; the name of the failed check on refusal. The target
/// identity is this process's, i.e. the one the confinement switched to.
pub(super) fn suexec(
    cfg: &Config,
    script: &Script,
    meta: &std::fs::Metadata,
    dir: &std::fs::Metadata,
) -> Result<(), &'static str> {
    let facts = Facts {
        uid: nix::unistd::getuid().as_raw(),
        dir_mode: dir.mode(),
        dir_uid: dir.uid(),
        mode: meta.mode(),
        owner: meta.uid(),
        owner_check: cfg.cgi_owner_check,
    };
    check(&facts, || {
        nix::unistd::faccessat(
            Some(script.dir.as_raw_fd()),
            Path::new(&script.name),
            nix::unistd::AccessFlags::X_OK,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .is_ok()
    })
}

pub(super) fn suexec_refusal(
    vhost: &VHost,
    check: &str,
    path: &Path,
    meta: &std::fs::Metadata,
    dir: Option<&std::fs::Metadata>,
) -> Lookup {
    let dir = dir
        .map(|d| {
            format!(
                " dir uid={} gid={} mode={:04o}",
                d.uid(),
                d.gid(),
                d.mode() & 0o7777
            )
        })
        .unwrap_or_default();
    log::warn!(
        "[{}] cgi: suexec check '{check}' failed for {}: file uid={} gid={} mode={:04o}{dir}; target uid={} gid={}",
        vhost.server_name(),
        path.display(),
        meta.uid(),
        meta.gid(),
        meta.mode() & 0o7777,
        nix::unistd::getuid(),
        nix::unistd::getgid(),
    );
    Lookup::Refused(403)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// suEXEC's documented checks ("Is the target directory writable by anyone else?", "Is
    /// the target program writable by anyone else?", "Is the target program setuid or
    /// setgid?", "Is the target user/group the same as the program's user/group?"), written
    /// out by hand as (directory mode, directory owner, program mode, program owner, owner
    /// check on, executable) -> the check that refuses, in that order.
    #[test]
    fn suexec_checks_table() {
        const ME: u32 = 1000;
        const OTHER: u32 = 1001;
        /// (dir mode, dir owner, mode, owner, owner check, executable, refusing check)
        type Row = (u32, u32, u32, u32, bool, bool, Option<&'static str>);
        let table: &[Row] = &[
            (0o755, ME, 0o755, ME, true, true, None),
            (0o755, 0, 0o755, ME, true, true, None),
            (0o700, ME, 0o700, ME, true, true, None),
            (
                0o775,
                ME,
                0o755,
                ME,
                true,
                true,
                Some("directory writable by group or others"),
            ),
            (
                0o757,
                ME,
                0o755,
                ME,
                true,
                true,
                Some("directory writable by group or others"),
            ),
            (
                0o1777,
                0,
                0o755,
                ME,
                true,
                true,
                Some("directory writable by group or others"),
            ),
            (
                0o755,
                ME,
                0o775,
                ME,
                true,
                true,
                Some("program writable by group or others"),
            ),
            (
                0o755,
                ME,
                0o757,
                ME,
                true,
                true,
                Some("program writable by group or others"),
            ),
            (
                0o755,
                ME,
                0o4755,
                ME,
                true,
                true,
                Some("setuid or setgid bit"),
            ),
            (
                0o755,
                ME,
                0o2755,
                ME,
                true,
                true,
                Some("setuid or setgid bit"),
            ),
            (
                0o755,
                ME,
                0o755,
                OTHER,
                true,
                true,
                Some("program owner is not the target user"),
            ),
            (
                0o755,
                ME,
                0o755,
                0,
                true,
                true,
                Some("program owner is not the target user"),
            ),
            (
                0o755,
                OTHER,
                0o755,
                ME,
                true,
                true,
                Some("directory owner is neither the target user nor root"),
            ),
            // CGIOwnerCheck Off: ownership is not looked at, the modes still are.
            (0o755, OTHER, 0o755, OTHER, false, true, None),
            (
                0o775,
                OTHER,
                0o755,
                OTHER,
                false,
                true,
                Some("directory writable by group or others"),
            ),
            (
                0o755,
                ME,
                0o755,
                ME,
                true,
                false,
                Some("program not executable by the target user"),
            ),
            (
                0o755,
                ME,
                0o644,
                ME,
                true,
                false,
                Some("program not executable by the target user"),
            ),
            // The first failed check is the one named.
            (
                0o777,
                OTHER,
                0o6777,
                OTHER,
                true,
                false,
                Some("directory writable by group or others"),
            ),
            (
                0o755,
                OTHER,
                0o6755,
                OTHER,
                true,
                false,
                Some("setuid or setgid bit"),
            ),
        ];
        for &(dir_mode, dir_uid, mode, owner, owner_check, exec, want) in table {
            let f = Facts {
                uid: ME,
                dir_mode: dir_mode | libc::S_IFDIR,
                dir_uid,
                mode: mode | libc::S_IFREG,
                owner,
                owner_check,
            };
            assert_eq!(check(&f, || exec).err(), want, "{f:?} executable={exec}");
        }
    }

    #[test]
    fn executable_is_asked_only_after_the_other_checks_pass() {
        let f = Facts {
            uid: 1,
            dir_mode: 0o777,
            dir_uid: 1,
            mode: 0o755,
            owner: 1,
            owner_check: true,
        };
        assert!(check(&f, || panic!("asked")).is_err());
    }
}
