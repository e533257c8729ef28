//! The one integration test binary (one link, shared fixtures): each module tests one area of
//! behaviour by running the real `cargo-quickinstall`, `gquick`, `build-index` and `go` binaries
//! against loopback servers in temp dirs. Nothing reaches the internet unless `QUICKINSTALL_TEST_NETWORK=1`.
// Tests may unwrap and print; the workspace lints warn on both for production code.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

mod support;

mod action;
mod bad_input;
mod bootstrap;
mod cargo_config;
mod cli_flags;
mod fallback;
mod faults;
mod go;
mod import;
mod install;
mod lockfile;
mod network;
mod pipeline;
mod pools;
mod producer;
mod snapshots;
mod stats;
mod targets;
mod tls;
mod trust;
mod upstream;
