//! Stage: security-context choice (pure, no I/O).
//!
//! `map` parses mod_selinux-style map files into ordered rules; `decide` picks the
//! target for one request: the first matching rule, else the vhost default, else
//! refuse. Nothing here touches the process; the transition itself lives elsewhere.
#![forbid(unsafe_code)]

pub mod decide;
pub mod map;
pub mod mcs;

pub use decide::{decide, Decision, RuleRef};
pub use map::{
    numeric_id, parse_map, parse_selinux_target, parse_selinux_target_with, parse_unix_target,
    Ident, Keep, MapError, Rule, SelinuxTarget, UnixTarget,
};
