//! Package registries that say which versions exist.

pub mod crates;
pub mod goproxy;
