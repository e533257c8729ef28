//! The command line: the top-level parser, one module per subcommand (its clap `Args` and a
//! `run` that calls the operation and prints the result), and the one error type every
//! subcommand's failure becomes, printed as `error: <sentence>` with exit code 1.

mod bootstrap;
mod build;
mod check_key;
mod delegate;
mod import;
mod keygen;
mod package;
mod plan;
mod publish;
mod resign;
mod select;
mod serve;
mod stats;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::{
    bootstrap as bootstrap_op, build as build_op, delegate as delegate_op, go, import as import_op,
    keygen as keygen_op, package_cmd, plan as plan_op, publish as publish_op, resign as resign_op,
    select as select_op, serve as serve_op, sign, stats as stats_op,
};

#[derive(Parser, Debug)]
#[command(name = "build-index", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate a minisign key pair for signing the index (secret key unencrypted, mode 0600).
    Keygen(keygen::Args),
    /// With the root key, let a signing key sign one index for a limited time.
    Delegate(delegate::Args),
    /// Re-sign every package file (new timestamps and expiry, optionally a new delegation)
    /// without touching archives.
    Resign(resign::Args),
    /// Build one crate (or the commands of one Go module) statically and package it with a
    /// result (or failure) record.
    #[command(group(clap::ArgGroup::new("source").required(true).args(["krate", "path", "go"])))]
    Build(build::Args),
    /// Package binaries built elsewhere (e.g. this project's own, by its CI) into the archive
    /// and result record `build` writes, for `publish`.
    Package(package::Args),
    /// Print a POSIX `install.sh` that installs the newest prebuilt of each crate from the
    /// index, carrying their sha256 (verifies the package files' signatures first).
    BootstrapScript(bootstrap::Args),
    /// Print the GitHub Actions matrix for one run: queued crates × targets not yet built.
    Plan(plan::Args),
    /// Validate build results, add them to the index and sign the changed package files.
    Publish(publish::Args),
    /// Check that a secret key's public half is one the clients trust, directly or through
    /// `--delegation` from a built-in root (a preflight before publishing); prints the public key.
    CheckKey(check_key::Args),
    /// Choose what to build next: `select crates` reads the crates.io db dump, `select go` the
    /// Go module index.
    #[command(subcommand)]
    Select(select::Command),
    /// The anonymous install-count service.
    #[command(subcommand)]
    Stats(stats::Command),
    /// Mirror an existing prebuilt pool into the signed index, verified once here.
    #[command(subcommand)]
    Import(import::Command),
    /// Serve an index directory over HTTP/1.1 (for tests and local use).
    Serve(serve::Args),
}

/// Any subcommand's failure; each variant's message is already a full sentence.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error(transparent)]
    Import(#[from] import_op::ImportError),
    #[error(transparent)]
    Keygen(#[from] keygen_op::KeygenError),
    #[error(transparent)]
    Delegate(#[from] delegate_op::DelegateError),
    #[error(transparent)]
    Resign(#[from] resign_op::ResignError),
    #[error(transparent)]
    Build(#[from] build_op::BuildError),
    #[error(transparent)]
    GoBuild(#[from] go::GoBuildError),
    #[error(transparent)]
    GoProxy(#[from] go::proxy::ProxyError),
    #[error(transparent)]
    Package(#[from] package_cmd::PackageCmdError),
    #[error(transparent)]
    Bootstrap(#[from] bootstrap_op::BootstrapError),
    #[error(transparent)]
    Plan(#[from] plan_op::PlanError),
    #[error(transparent)]
    Publish(#[from] publish_op::PublishError),
    #[error(transparent)]
    Select(#[from] select_op::SelectError),
    #[error(transparent)]
    Serve(#[from] serve_op::ServeError),
    #[error(transparent)]
    Stats(#[from] stats_op::StatsError),
    #[error(transparent)]
    SelectGo(#[from] select_op::go::GoSelectError),
    #[error("pass --index-records or --module-index")]
    NoRecordSource,
    #[error("pass one of --crate, --path or --go")]
    NoSource,
    #[error("could not find the address the server listens on: {0}")]
    LocalAddr(std::io::Error),
    #[error("could not write to stdout: {0}")]
    Stdout(std::io::Error),
    #[error("{0} result(s) were refused (listed above); the others were published")]
    Refused(usize),
    #[error(transparent)]
    Sign(#[from] sign::SignError),
    #[error("`--trusted-key {0}` is not a minisign public key")]
    BadTrustedKey(String),
}

/// Parses the command line and runs it; see [`crate::main`].
#[allow(clippy::print_stderr)] // reporting the error is this function's job
pub(crate) fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Keygen(args) => keygen::run(args),
        Command::Delegate(args) => delegate::run(args),
        Command::Resign(args) => resign::run(args),
        Command::Build(args) => build::run(args),
        Command::Package(args) => package::run(args),
        Command::BootstrapScript(args) => bootstrap::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Publish(args) => publish::run(args),
        Command::CheckKey(args) => check_key::run(args),
        Command::Select(command) => select::run(command),
        Command::Stats(command) => stats::run(command),
        Command::Import(command) => import::run(command),
        Command::Serve(args) => serve::run(args),
    }
}

/// One line of data on stdout, flushed (callers wait for it, e.g. the `serve` URL).
pub(crate) fn say(line: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(Error::Stdout)
}
