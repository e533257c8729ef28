//! `build-index`: builds, packages, signs, publishes and serves the quickinstall release index.
//!
//! The binary (`main.rs`) only calls [`main`]. The crate in layers, like cargo's
//! `commands/` over `ops/`:
//!
//! - `commands/`: one module per subcommand, each with its clap `Args` and a `run` that turns
//!   them into a request for an operation and prints the result; `commands/mod.rs` holds the
//!   top-level parser, the dispatch and the one error type that is printed as
//!   `error: <sentence>` with exit code 1.
//! - The operations, one module each: `keygen`, `delegate` and `resign` (the trust chain),
//!   `build` (with `recipe`, `triple`, `child`, `package`, `elf`, `macho`, `record`) and `go`
//!   (Go modules), `package_cmd` (binaries built elsewhere), `bootstrap` (the `install.sh` and
//!   `install.ps1` installers), `select` (what to build next), `plan`, `publish` (with
//!   `validate`, `sign`, `signed_file`), `import` (existing prebuilt pools), `serve` and
//!   `stats` (the install-count service).
//! - `history` is the failure history that `build` classifies, `publish` merges and `plan`
//!   reads; `atomic` and `time` are shared helpers.

// Tests may unwrap: a panic there is a test failure with its location.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod atomic;
mod bootstrap;
mod build;
mod child;
mod commands;
mod delegate;
mod elf;
mod go;
mod history;
mod import;
mod keygen;
mod macho;
mod package;
mod package_cmd;
mod plan;
mod publish;
mod recipe;
mod record;
mod resign;
mod select;
mod serve;
mod sign;
mod signed_file;
mod stats;
mod time;
mod triple;
mod validate;

/// Parses the command line, runs the subcommand and maps its outcome to an exit status: 0, 1
/// with `error: <sentence>` on stderr, or clap's 2 for a usage error.
pub fn main() -> std::process::ExitCode {
    commands::main()
}
