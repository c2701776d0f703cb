//! HTTP building blocks shared by the stages. The wire parsers (request head, chunked body)
//! are pure and incremental: the read loop feeds them whatever has arrived and they answer
//! "need more", "done" or a typed error carrying the status to send before closing.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod body;
pub mod chunked;
pub mod conditional;
pub mod date;
pub mod mime;
pub mod range;
pub mod read;
pub mod request;
pub mod response;
pub mod route;
pub mod status;
pub mod syntax;
pub mod tls_session;
