//! Process creation for the master's single-threaded prefork loop.

use std::io;

pub enum Fork {
    Parent(nix::unistd::Pid),
    Child,
}

/// fork(2).
///
/// Callers must be single-threaded: the master is, by design (it never spawns threads),
/// and tests call it only from `harness = false` binaries or forked children.
pub fn fork() -> io::Result<Fork> {
    // SAFETY: the master process is single-threaded, so the child cannot inherit a lock held
    // by another thread; the child only runs ordinary Rust code of this program afterwards.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { child }) => Ok(Fork::Parent(child)),
        Ok(nix::unistd::ForkResult::Child) => Ok(Fork::Child),
        Err(e) => Err(io::Error::from(e)),
    }
}
