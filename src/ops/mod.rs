//! The operations the binaries run: each wires the layers together for one command.
//! Binaries parse arguments and call one of these; these never parse arguments themselves.

pub mod install_crates;
pub mod install_go;
pub mod list_go;
pub mod parallel;
pub mod stage;
pub mod summary;
