//! Stage: authentication and authorization (pure, no I/O).
//!
//! * `basic` turns an `Authorization` header value into credentials whose password is
//!   wiped on drop;
//! * `htpasswd` parses Apache password files and verifies passwords with vetted
//!   crates, spending comparable time for unknown users;
//! * `require` parses Apache 2.4 `Require` lines and answers each provider;
//! * `authz` combines them as mod_authz_core does (`not`, `<RequireAll>`/`<RequireAny>`/
//!   `<RequireNone>`, `<Limit>`, `AuthMerging`);
//! * `groupfile` parses `AuthGroupFile` files.
//!
//! Invariants: every parser rejects what it does not fully understand (no silent
//! never-match, no silent always-match); secrets never appear in errors or `Debug`.
#![forbid(unsafe_code)]

pub mod authz;
pub mod basic;
pub mod groupfile;
pub mod htpasswd;
pub mod require;

pub use authz::{evaluate, AuthzConf};
pub use basic::{parse_authorization, BasicError, Credentials};
pub use htpasswd::Htpasswd;
pub use require::{parse_require, Access, Require};
