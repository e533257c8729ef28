//! Writing one package file of the index together with its detached signature and its signed
//! bundle (what clients read), the one way `publish` and `import` both do it.
//!
//! Idempotent: when the file, a valid signature by this key and the matching bundle are already
//! there, nothing is written (no byte, no mtime). Otherwise the file is written if it changed and
//! re-signed with a timestamp strictly after the previous signature's, so a client's rollback
//! check accepts it. The caller holds the index lock ([`crate::atomic::lock_file`]).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use quickinstall::index::path;

use crate::sign::{self, SignError, Signer};
use crate::{atomic, time};

/// Why a package file could not be read, written or signed.
#[derive(Debug, thiserror::Error)]
pub enum SignedFileError {
    #[error("could not read `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("could not write `{}`: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// The bytes of the package file `package_file` (relative to `index`), if it exists.
pub fn read_existing(index: &Path, package_file: &str) -> Result<Option<Vec<u8>>, SignedFileError> {
    read_optional(&index.join(package_file))
}

/// Makes `index/package_file` hold `bytes`, signed by `signer`, with its `.minisig` and signed
/// bundle beside it. `changed` says whether the caller changed the file's content (a changed
/// file is always re-signed). Returns whether anything was written.
pub fn write(
    index: &Path,
    package_file: &str,
    bytes: &[u8],
    changed: bool,
    signer: &Signer,
) -> Result<bool, SignedFileError> {
    let file_path = index.join(package_file);
    let sig_path = index.join(path::signature_file(package_file));
    let bundle_path = index.join(path::signed_file(package_file));
    let existing = read_optional(&file_path)?;
    let old_sig = read_optional(&sig_path)?.map(|b| String::from_utf8_lossy(&b).into_owned());
    let sig_ok = old_sig
        .as_deref()
        .is_some_and(|s| signer.verifies(bytes, s, package_file));
    let file_ok = existing.as_deref() == Some(bytes);
    // The bundle (signature + file in one, what clients read) must match the pair too.
    let bundle_ok = match (&old_sig, read_optional(&bundle_path)?) {
        (Some(sig), Some(found)) => found == signer.bundle(sig, bytes),
        _ => false,
    };
    if !changed && file_ok && sig_ok && bundle_ok {
        return Ok(false);
    }
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| SignedFileError::Write { path, source }
    };
    if !file_ok {
        atomic::write(&file_path, bytes).map_err(write_err(&file_path))?;
    }
    let timestamp = sign::next_timestamp(
        time::now(),
        old_sig.as_deref().and_then(sign::previous_timestamp),
    );
    let comment = signer.comment(package_file, timestamp);
    let signature = signer.sign(bytes, &comment)?;
    atomic::write(&sig_path, signature.as_bytes()).map_err(write_err(&sig_path))?;
    atomic::write(&bundle_path, &signer.bundle(&signature, bytes))
        .map_err(write_err(&bundle_path))?;
    Ok(true)
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, SignedFileError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SignedFileError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}
