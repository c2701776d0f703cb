//! Stage: enter the confinement chosen for this connection, verify it, and hand out the proof
//! that handlers require.

use std::io;

/// Proof that this process has been confined. Only [`enter`] creates it, so a handler that
/// takes `&Confined` cannot run before the transition.
pub struct Confined {
    description: String,
}

impl Confined {
    /// The `ctx=` value for the access log.
    pub fn describe(&self) -> &str {
        &self.description
    }
}

/// Sets no_new_privs and checks it took effect.
pub fn enter() -> io::Result<Confined> {
    nix::sys::prctl::set_no_new_privs()?;
    if !nix::sys::prctl::get_no_new_privs()? {
        return Err(io::Error::other("no_new_privs did not take effect"));
    }
    Ok(Confined {
        description: "-".into(),
    })
}
