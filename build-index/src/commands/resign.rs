//! `build-index resign`: new signatures on every package file, archives untouched.

use std::path::PathBuf;

use super::{Error, say};
use crate::resign::{ResignRequest, resign};
use crate::sign;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[arg(long, value_name = "DIR")]
    index: PathBuf,
    #[arg(long, value_name = "FILE")]
    secret_key: PathBuf,
    /// Sign under this delegation (from `build-index delegate`); bundles carry it.
    #[arg(long, value_name = "FILE")]
    delegation: Option<PathBuf>,
    /// How long each signature stays valid.
    #[arg(long, value_name = "DURATION", value_parser = sign::parse_duration, default_value = sign::DEFAULT_SIGNATURE_VALIDITY)]
    signature_validity: u64,
}

/// Re-signs and prints one line per file.
pub(crate) fn run(args: Args) -> Result<(), Error> {
    let files = resign(&ResignRequest {
        index: args.index,
        secret_key: args.secret_key,
        delegation: args.delegation,
        signature_validity: args.signature_validity,
    })?;
    for file in files {
        say(&format!("resigned {file}"))?;
    }
    Ok(())
}
