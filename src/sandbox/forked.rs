//! Facts a child of the master needs for its isolation that are the same for every child and
//! belong to the operating system or to the master process, not to the configuration: looked
//! up once by the master before it forks ([`warm_up`]), inherited by every child instead of
//! being read again per connection.
//!
//! - The namespaces the master is in: a forked child is in exactly these until it unshares, so
//!   `isolate` compares each new id with the master's instead of reading the old ones itself.
//!   The master never changes its own namespaces.
//! - Which of the private-tmp mount points exist.
//!
//! A process that was not forked from a warmed-up master (a re-executed child, the start-up
//! check's throwaway child) looks them up itself, which gives the same answer.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::sys::{Linux, Namespace, Sys};

/// Directories that get a private tmpfs where programs run (those that exist).
pub const PRIVATE_TMP: &[&str] = &["/tmp", "/var/tmp", "/dev/shm"];

static EXISTING_TMP: OnceLock<Vec<PathBuf>> = OnceLock::new();
static MASTER_NS: OnceLock<Vec<(Namespace, u64)>> = OnceLock::new();

/// Which of [`PRIVATE_TMP`] are directories.
pub fn existing_tmp() -> &'static [PathBuf] {
    EXISTING_TMP.get_or_init(|| {
        PRIVATE_TMP
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.is_dir())
            .collect()
    })
}

/// The ids of the namespaces this process (the master) is in, for `IsolationPlan::ns_before`.
/// A namespace whose id cannot be read is left out, and `isolate` reads it itself (and fails
/// there if it still cannot).
pub fn master_namespaces() -> &'static [(Namespace, u64)] {
    MASTER_NS.get_or_init(|| {
        [
            Namespace::User,
            Namespace::Ipc,
            Namespace::Mount,
            Namespace::PidForChildren,
        ]
        .into_iter()
        .filter_map(|n| Linux.namespace_id(n).ok().map(|id| (n, id)))
        .collect()
    })
}

/// For the master before it forks.
pub fn warm_up() {
    existing_tmp();
    master_namespaces();
}
