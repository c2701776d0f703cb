//! The operating system's paths a CGI program and its interpreter need besides the program
//! itself, as Landlock trees: executables and shared libraries (read+execute), the loader cache
//! and randomness (read), /dev/null (read+write). Granted only to vhosts that can run CGI
//! (`child::confine::landlock_rules`); missing paths are skipped.
//!
//! Which of them exist is the operating system's fact, not the configuration's, so the master
//! looks them up once before it forks ([`warm_up`]) and every child inherits the answer instead
//! of making seven `stat` calls per connection.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

const CGI_SYSTEM_EXEC: &[&str] = &["/usr", "/bin", "/lib", "/lib64"];
const CGI_SYSTEM_READ: &[&str] = &["/etc/ld.so.cache", "/dev/urandom"];
const CGI_SYSTEM_WRITE: &[&str] = &["/dev/null"];

static SYSTEM_PATHS: OnceLock<[Vec<PathBuf>; 3]> = OnceLock::new();

/// Which of the CGI system paths exist (exec, read, write).
pub fn system_paths() -> &'static [Vec<PathBuf>; 3] {
    SYSTEM_PATHS.get_or_init(|| {
        let existing = |paths: &[&str]| -> Vec<PathBuf> {
            paths
                .iter()
                .map(PathBuf::from)
                .filter(|p| p.exists())
                .collect()
        };
        [
            existing(CGI_SYSTEM_EXEC),
            existing(CGI_SYSTEM_READ),
            existing(CGI_SYSTEM_WRITE),
        ]
    })
}

/// For the master before it forks: see [`system_paths`].
pub fn warm_up() {
    system_paths();
}
