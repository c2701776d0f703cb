//! Handlers: they run only after confinement, which their `&Confined` parameter proves.

pub mod cgi;
pub mod fcgi;
pub mod listing;
pub mod static_file;
