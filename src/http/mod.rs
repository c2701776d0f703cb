//! HTTP/1.1 wire parsing: the request head and the chunked body coding.
//!
//! Both parsers are pure (no I/O, no `unsafe`) and incremental: the child's read loop feeds them
//! whatever has arrived and they answer "need more", "done" or a typed error carrying the status
//! code to send before closing the connection.
pub mod chunked;
pub mod request;
