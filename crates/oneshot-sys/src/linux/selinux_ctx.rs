//! libselinux calls outside the `Sys` trait: context validity, mcstrans translation and the
//! socket-creation context, used by the configuration check and the key holder's relay.

use std::ffi::CString;
use std::io;

pub(super) fn selinux_io(e: selinux::errors::Error) -> io::Error {
    match e {
        selinux::errors::Error::IO { source, .. } => source,
        other => io::Error::other(other.to_string()),
    }
}

/// `security_check_context_raw`: `None` when SELinux is not enabled, so it cannot tell.
pub fn selinux_check_context(context: &str) -> Option<bool> {
    let c = CString::new(context).ok()?;
    let valid = selinux::SecurityContext::from_c_str(&c, true).check();
    valid
}

/// `selinux_trans_to_raw_context`: `context` with its mcstrans names (`SystemLow`, names from
/// setrans.conf) in raw form. libselinux returns it unchanged when mcstransd does not answer,
/// so the caller checks the result.
pub fn selinux_trans_to_raw(context: &str) -> io::Result<String> {
    let c = CString::new(context)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "context contains NUL"))?;
    let raw = selinux::SecurityContext::from_c_str(&c, false)
        .to_raw_format()
        .map_err(selinux_io)?;
    let text = raw
        .to_c_string()
        .map_err(selinux_io)?
        .map(|c| c.to_string_lossy().into_owned());
    text.ok_or_else(|| io::Error::other("libselinux returned an empty context"))
}

/// `setsockcreatecon_raw`: the context of the sockets this thread creates next; `None` goes
/// back to the policy's default (the creator's own context).
pub fn selinux_set_sockcreate(context: Option<&str>) -> io::Result<()> {
    match context {
        Some(ctx) => {
            let c = CString::new(ctx)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "context contains NUL"))?;
            let set = selinux::SecurityContext::from_c_str(&c, true)
                .set_for_new_labeled_sockets(true)
                .map_err(selinux_io);
            set
        }
        None => selinux::SecurityContext::set_default_context_for_new_labeled_sockets()
            .map_err(selinux_io),
    }
}

/// `getsockcreatecon_raw`: `None` when new sockets get the policy's default context.
pub fn selinux_get_sockcreate() -> io::Result<Option<String>> {
    let ctx = selinux::SecurityContext::of_new_labeled_sockets(true).map_err(selinux_io)?;
    match ctx {
        None => Ok(None),
        Some(c) => Ok(c
            .to_c_string()
            .map_err(selinux_io)?
            .map(|c| c.to_string_lossy().into_owned())),
    }
}
