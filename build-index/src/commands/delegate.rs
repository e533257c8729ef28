//! `build-index delegate`: with the root key, a time-limited grant for a signing key.

use std::path::PathBuf;

use super::{Error, say};
use crate::delegate::{DelegateRequest, delegate};
use crate::sign;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[arg(long, value_name = "FILE")]
    root_key: PathBuf,
    /// The signing key's `.pub` file (or its base64 line).
    #[arg(long, value_name = "FILE")]
    signing_key_pub: String,
    /// How long the grant lasts: `60d`, `12w`, `36h`…
    #[arg(long, value_name = "DURATION", value_parser = sign::parse_duration)]
    valid_for: u64,
    /// The index the grant is for; clients expect `quickinstall` unless QUICKINSTALL_INDEX_ID says otherwise.
    #[arg(long, value_name = "ID", default_value = quickinstall::index::delegation::DEFAULT_INDEX_ID)]
    index_id: String,
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// Writes the grant and prints who may sign what until when.
pub(crate) fn run(args: Args) -> Result<(), Error> {
    let grant = delegate(&DelegateRequest {
        root_key: args.root_key,
        signing_key_pub: args.signing_key_pub,
        valid_for: args.valid_for,
        index_id: args.index_id,
        out: args.out,
    })?;
    say(&format!(
        "delegated {} to sign {} until {}",
        grant.key,
        grant.index,
        quickinstall::index::delegation::utc(grant.not_after)
    ))
}
