//! `build-index keygen`: a minisign key pair for signing the index, or the offline root key.

use std::path::PathBuf;

use super::{Error, say};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[arg(long, value_name = "FILE")]
    secret_key: PathBuf,
    #[arg(long, value_name = "FILE")]
    public_key: PathBuf,
    /// Replace existing key files.
    #[arg(long)]
    force: bool,
    /// Make the offline root key (it signs only delegations; see docs/releasing.md).
    #[arg(long)]
    root: bool,
}

/// Writes the pair and prints the public key line.
pub(crate) fn run(args: Args) -> Result<(), Error> {
    let line = if args.root {
        crate::keygen::keygen_root(&args.secret_key, &args.public_key, args.force)?
    } else {
        crate::keygen::keygen(&args.secret_key, &args.public_key, args.force)?
    };
    say(&line)
}
