//! `build-index package`: binaries built elsewhere, packed into the archive and result record
//! `build` writes.

use std::path::PathBuf;

use super::{Error, say};
use crate::package_cmd::{PackageEnv, PackageRequest, package};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[arg(long, value_name = "CRATE")]
    name: String,
    #[arg(long, value_name = "VER")]
    version: String,
    #[arg(long, value_name = "TRIPLE")]
    target: String,
    /// Directory for the archive and record.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The executables to pack, each under its file name.
    #[arg(required = true, value_name = "BINARY")]
    binaries: Vec<PathBuf>,
}

/// Packs and prints the record's path.
pub(crate) fn run(args: Args) -> Result<(), Error> {
    let request = PackageRequest {
        name: args.name,
        version: args.version,
        target: args.target,
        out: args.out,
        binaries: args.binaries,
    };
    let record = package(&request, &PackageEnv::from_process())?;
    say(&record.display().to_string())
}
