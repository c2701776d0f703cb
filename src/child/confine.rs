//! Stage: enter the confinement chosen for this connection through the sandbox, which
//! verifies every step and hands out the proof (`Confined`) that handlers require.

use super::decide::Identity;
use crate::config::{Config, VHost};
use crate::sandbox::{self, Backend, LandlockRules, Plan, SandboxError, UnixIdentity};
use crate::sys::Linux;
use std::os::fd::RawFd;

pub use crate::sandbox::Confined;

/// The plan for a request on `vhost`: the backends the configuration requires, with the
/// filesystem narrowed to what the vhost serves (read-only).
/// With a root master that dropped early to `User`, a connection without a mapped unix
/// identity still ends in `User`, with every capability gone.
pub fn plan(
    cfg: &Config,
    vhost: &VHost,
    id: &Identity,
    worker: Option<&UnixIdentity>,
    keep_fds: Vec<RawFd>,
) -> Plan {
    let landlock = cfg
        .confinement
        .contains(&Backend::Landlock)
        .then(|| LandlockRules {
            read: vec![vhost.document_root.clone()],
            exec: Vec::new(),
            write: Vec::new(),
        });
    Plan {
        selinux: id.selinux.clone(),
        unix: id.unix.clone().or_else(|| worker.cloned()),
        landlock,
        keep_fds,
        ..Plan::default()
    }
}

pub fn enter(plan: &Plan) -> Result<Confined, SandboxError> {
    sandbox::enter(&Linux, plan)
}
