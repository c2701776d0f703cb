//! Configuration: Apache's language, read and validated by the master before any fork.
//!
//! `parse` (pure) turns text into a tree, `load` reads files and expands `Include`,
//! `build` (pure) validates the tree into a [`Config`]. Every error names `FILE:LINE`.
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod alias;
pub mod authcheck;
pub mod authz;
pub mod build;
pub mod cache;
pub mod cgiread;
pub mod cgroup;
pub mod dav;
pub mod deflate;
pub mod directives;
pub mod errordoc;
pub mod fcgi;
pub mod file;
pub mod glob;
pub mod harden;
pub mod header;
mod identity;
pub mod itk;
pub mod lang;
pub mod load;
pub mod mime;
pub mod model;
pub mod modules;
pub mod parse;
pub mod proxy;
pub mod request;
pub mod setenv;
pub mod tls;
pub mod verifier;

pub use identity::{
    compose as compose_context, resolve_same_name, resolve_target, user_key as identity_key,
    SAME_NAME_MIN_UID,
};
pub use load::{load, load_with};
pub use model::*;
pub use tls::{TlsConfig, VHostTls};

/// A configuration problem, printed as `FILE:LINE: message` (line 0 when the whole file is meant).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    pub origin: Origin,
    pub message: String,
}
