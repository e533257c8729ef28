//! `build-index check-key`: is this secret key's public half trusted by the clients?

use std::path::PathBuf;

use super::{Error, say};
use crate::sign;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[arg(long, value_name = "FILE")]
    secret_key: PathBuf,
    /// The delegation `publish` will sign under (from `build-index delegate`).
    #[arg(long, value_name = "FILE")]
    delegation: Option<PathBuf>,
    /// A public key to trust besides the clients' built-in ones (base64 line or `.pub`
    /// text; repeatable).
    #[arg(long = "trusted-key", value_name = "KEY")]
    trusted_keys: Vec<String>,
}

/// Checks and prints `trusted <public key>`.
pub(crate) fn run(args: Args) -> Result<(), Error> {
    let mut trusted = quickinstall::index::signature::TrustedKeys::builtin();
    for key in args.trusted_keys {
        trusted
            .add_text(&key)
            .map_err(|_| Error::BadTrustedKey(key.clone()))?;
    }
    let public = sign::check_trusted(&args.secret_key, args.delegation.as_deref(), &trusted)?;
    say(&format!("trusted {public}"))
}
