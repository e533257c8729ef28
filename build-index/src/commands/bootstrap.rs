//! `build-index bootstrap-script`: prints `install.sh` (or `install.ps1`) for crates of the
//! index.

use std::path::PathBuf;

use super::{Error, say};
use crate::bootstrap::{BootstrapRequest, Flavor, bootstrap_script};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[arg(long, value_name = "DIR")]
    index: PathBuf,
    /// The URL the index is served at.
    #[arg(long, value_name = "URL")]
    base_url: String,
    /// A package to install (repeatable); default: `quickinstall`, the package our clients
    /// (`cargo-quickinstall`, `gquick`) are published under.
    #[arg(long = "crate", value_name = "NAME", default_value = "quickinstall")]
    crates: Vec<String>,
    /// A signing key (`.pub` file) the installer trusts directly (a self-hosted index).
    #[arg(long, value_name = "FILE")]
    public_key: Option<PathBuf>,
    /// A root key (`.pub` file, repeatable) whose delegations the installer accepts.
    /// Without this and without --public-key: the roots built into the clients.
    #[arg(long = "root", value_name = "FILE")]
    roots: Vec<PathBuf>,
    /// The index identity the delegations must name.
    #[arg(long, value_name = "ID", default_value = quickinstall::index::delegation::DEFAULT_INDEX_ID)]
    index_id: String,
    /// Render the Windows PowerShell installer (`install.ps1`) instead of `install.sh`.
    #[arg(long)]
    powershell: bool,
}

/// Renders the script and prints it.
pub(crate) fn run(args: Args) -> Result<(), Error> {
    let flavor = if args.powershell {
        Flavor::PowerShell
    } else {
        Flavor::Sh
    };
    let request = BootstrapRequest {
        index: args.index,
        base_url: args.base_url,
        crates: args.crates,
        public_key: args.public_key,
        roots: args.roots,
        index_id: args.index_id,
    };
    let script = bootstrap_script(&request, flavor)?;
    say(script.trim_end())
}
