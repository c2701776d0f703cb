//! HTTP building blocks shared by the stages. The wire parsers (request head, chunked body)
//! are pure and incremental: the read loop feeds them whatever has arrived and they answer
//! "need more", "done" or a typed error carrying the status to send before closing.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod chunked;
pub mod conditional;
pub mod date;
pub mod mime;
pub mod range;
pub mod request;
pub mod status;
pub mod syntax;
