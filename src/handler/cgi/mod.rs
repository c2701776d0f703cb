pub mod env;
pub mod header;
