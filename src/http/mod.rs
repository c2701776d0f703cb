//! HTTP building blocks shared by the stages.

pub mod chunked;
pub mod date;
pub mod mime;
pub mod request;
pub mod status;
