//! Landlock rules for [`super::Linux`]: a rule per path, with the access a read, exec or write
//! tree gets, reduced to file rights on files. Separate because it is the one place that turns
//! the sandbox's path lists into kernel rules.

use std::io;
use std::path::Path;

use landlock::{Access, AccessFs, BitFlags, PathBeneath, PathFd, RulesetStatus, ABI};

use crate::{LandlockEnforcement, LandlockRules};

pub(super) fn landlock_err(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("landlock: {what}: {e}"))
}

/// Access for one rule, reduced to file rights when `path` is not a directory (the kernel
/// rejects directory rights on files).
/// The path is walked once (the O_PATH open); its type comes from the descriptor, so the rule
/// and the type check are about the same inode.
pub(super) fn rule_for(
    path: &Path,
    access: BitFlags<AccessFs>,
    abi: ABI,
) -> io::Result<PathBeneath<PathFd>> {
    use std::os::fd::{AsFd, AsRawFd};
    let err = |e: &dyn std::fmt::Display| landlock_err(&path.display().to_string(), e);
    let fd = PathFd::new(path).map_err(|e| err(&e))?;
    let stat = nix::sys::stat::fstat(fd.as_fd().as_raw_fd()).map_err(|e| err(&e))?;
    let is_dir = stat.st_mode & libc::S_IFMT == libc::S_IFDIR;
    let access = if is_dir {
        access
    } else {
        access & AccessFs::from_file(abi)
    };
    Ok(PathBeneath::new(fd, access))
}

pub(super) fn landlock_rules(
    rules: &LandlockRules,
    abi: ABI,
) -> io::Result<Vec<PathBeneath<PathFd>>> {
    let read = AccessFs::ReadFile | AccessFs::ReadDir;
    let exec = read | AccessFs::Execute;
    // Writable trees are never executable: a CGI must not be able to drop and run a binary.
    let mut write = AccessFs::from_all(abi);
    write.remove(AccessFs::Execute);
    let sets = [
        (&rules.read, read),
        (&rules.exec, exec),
        (&rules.write, write),
    ];
    let mut out = Vec::new();
    for (paths, access) in sets {
        for p in paths {
            out.push(rule_for(p, access, abi)?);
        }
    }
    Ok(out)
}

pub(super) fn enforcement(status: RulesetStatus) -> LandlockEnforcement {
    match status {
        RulesetStatus::FullyEnforced => LandlockEnforcement::Full,
        RulesetStatus::PartiallyEnforced => LandlockEnforcement::Partial,
        RulesetStatus::NotEnforced => LandlockEnforcement::None,
    }
}
