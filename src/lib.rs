//! quickinstall: install prebuilt, signed, statically linked binaries instead of compiling.
//!
//! The crate map, in the order a `cargo quickinstall ripgrep` passes through it:
//!
//! - [`cli`]: clap types turned into typed requests; no I/O.
//! - [`cargo_config`]: cargo's own configuration files and `CARGO_*` variables, and which source a crate comes from.
//! - [`env`](mod@env): the one reader of environment variables (`CARGO_HOME`, `QUICKINSTALL_*`, `CI`…).
//! - [`registry`]: which version to install, from a crates.io-style sparse registry.
//! - [`goenv`]: the Go settings (`GOPROXY`, `GOPRIVATE`, `GOBIN`…) read as `go env` reads them.
//! - [`target`]: which target triples this host can run, in order of preference (pure).
//! - [`index`]: the release index contract: file format, paths, signatures, fetching.
//! - [`resolve`]: request + registry + index + targets → what to install (pure).
//! - [`download`]: bytes over HTTP(S) or from `file://`, streamed to disk, size- and hash-checked.
//! - [`unpack`]: a verified `.tar.gz` into a staging directory, by allow-list.
//! - [`install`]: staged binaries into the bin directory with rollback; cargo's install tracker.
//! - [`fallback`]: `cargo install`, announced, when no prebuilt exists.
//! - [`ops`]: the operations the binaries run, wiring the above together.
//! - [`toolset`]: `quickinstall.toml` and `quickinstall.lock`: a project's tools, pinned (`--sync`, `--locked-tools`).
//! - [`stats`]: the anonymous install ping (what is sent, when, and how to turn it off).
//! - [`report`]: the only writer to stdout and stderr: text, progress, `--json`.
//! - [`error`]: error types, the exit-code table and hints.
//! - [`utc`](mod@utc): calendar dates from Unix seconds (shared with `build-index`).
//!
//! `build-index` (the workspace's second crate) writes the index with the same [`index`] types.

pub mod cargo_config;
pub mod cli;
pub mod download;
pub mod env;
pub mod error;
pub mod fallback;
pub mod gobuildinfo;
pub mod goenv;
pub mod index;
pub mod install;
pub mod ops;
pub mod registry;
pub mod report;
pub mod resolve;
pub mod source;
pub mod stats;
pub mod target;
pub(crate) mod temp_dir;
pub mod toolset;
pub mod unpack;
pub mod utc;
