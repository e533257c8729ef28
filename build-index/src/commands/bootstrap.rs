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
    /// The minisign public key (`.pub` file) the package files are signed with.
    #[arg(long, value_name = "FILE")]
    public_key: PathBuf,
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
    };
    let script = bootstrap_script(&request, flavor)?;
    say(script.trim_end())
}
