//! oneshot-httpd: an HTTP/1.1 server whose process model is the security boundary.
//!
//! A single-threaded master binds the listeners and keeps a pool of pristine children;
//! each child accepts exactly one connection, authenticates it, enters the security
//! context chosen for it, serves it and exits.
//!
//! This crate has no `unsafe`: every system call that needs it lives in the workspace crate
//! `oneshot-sys` (crates/oneshot-sys), re-exported here as [`sys`] so that the paths
//! `crate::sys::...` name it as they did when it was a module.
#![forbid(unsafe_code)]

pub mod auth;
pub mod child;
pub mod cli;
pub mod config;
pub mod dav;
pub mod handler;
pub mod handoff;
pub mod http;
pub mod keyholder;
pub mod logformat;
pub mod logging;
pub mod master;
pub mod policy;
pub mod proxy;
pub mod reach;
pub mod sandbox;
pub use oneshot_sys as sys;
pub mod systemd;
pub mod verifier;
