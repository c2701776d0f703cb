//! The thin system layer: the only place in the crate allowed to contain `unsafe`.
//! Every unsafe block carries a `// SAFETY:` note saying why it cannot cause undefined behaviour.
#![allow(unsafe_code)]

pub mod fd;
pub mod fs;
pub mod process;
