//! The operations the binaries run: each wires the layers together for one command.
//! Binaries parse arguments and call one of these; these never parse arguments themselves.
//!
//! `cargo quickinstall` is [`ecosystem::crates::run`], `gquick install`/`upgrade` is
//! [`ecosystem::go::run`]; both are the one [`driver`] over their [`ecosystem`].

pub mod driver;
pub mod ecosystem;
pub mod list_go;
pub mod parallel;
pub mod stage;
pub mod summary;
