//! The driver's half for candidates checked by signature rather than by a signed sha256: the
//! archive is downloaded whole (at most the candidate's cap) into a temporary directory inside
//! the install root, the minisign signature (prehashed or legacy) is verified over those exact
//! bytes before any parser touches them, and only then is the archive listed and unpacked by
//! allow-list: plain files at the top level, no links, no paths.

use std::path::Path;

use flate2::read::GzDecoder;
use minisign_verify::{PublicKey, Signature};
use tempfile::TempDir;

use super::Context;
use crate::download::DownloadError;
use crate::error::{CrateError, Subject};
use crate::source::{Binaries, Candidate, Check};
use crate::unpack::{StagedBinary, UnpackError, unpack_selected};

impl<'a> Context<'a> {
    /// Fetches, verifies and unpacks a signature-checked (or, when allowed, unsigned)
    /// candidate. `Ok(None)`: the archive is not there (the next source may be tried).
    pub(super) fn stage_signed(
        &self,
        subject: &Subject,
        candidate: &Candidate,
        wanted: Option<&[String]>,
    ) -> Result<Option<(TempDir, Vec<StagedBinary>)>, CrateError> {
        let origin = candidate.origin.as_str();
        let wrap = |error: CrateError| CrateError::FromSource {
            origin,
            error: Box::new(error),
        };
        let unverified = |detail: String| CrateError::Unverified {
            subject: Box::new(subject.clone()),
            origin,
            detail,
        };
        let cap = match &candidate.check {
            Check::Minisign { cap, .. }
            | Check::MinisignAt { cap, .. }
            | Check::Unsigned { cap } => *cap,
            Check::Sha256 { size, .. } => *size,
        };
        // A signature the crate declares: fetched first; its absence fails verification.
        let fetched_signature = match &candidate.check {
            Check::MinisignAt {
                signature_url,
                public_key,
                ..
            } => {
                let location = crate::download::Location::parse(signature_url)
                    .map_err(|e| unverified(e.to_string()))?;
                match self.fetcher.get_small(&location, 4096) {
                    Ok(Some(bytes)) => Some((
                        String::from_utf8_lossy(&bytes).into_owned(),
                        public_key.clone(),
                    )),
                    Ok(None) => {
                        return Err(unverified(format!(
                            "the crate declares a minisign signature, but `{signature_url}` was not found"
                        )));
                    }
                    Err(e) => {
                        return Err(unverified(format!(
                            "the crate declares a minisign signature, but it could not be fetched ({e})"
                        )));
                    }
                }
            }
            _ => None,
        };
        let root = &self.request.root;
        let prepare = |source| CrateError::Prepare {
            path: root.to_owned(),
            source,
        };
        std::fs::create_dir_all(root).map_err(prepare)?;
        let dir = tempfile::Builder::new()
            .prefix(".quickinstall-tmp-")
            .tempdir_in(root)
            .map_err(prepare)?;
        let progress = self
            .reporter
            .download(&format!("`{} {}`", subject.name, subject.version), 0);
        let bytes = self.fetcher.get_small(&candidate.location, cap);
        progress.finish();
        let bytes = match bytes {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(None),
            Err(source) => {
                let verification = matches!(source, DownloadError::TooLarge { .. });
                let error = wrap(CrateError::Download {
                    subject: Box::new(subject.clone()),
                    source,
                });
                return Err(if verification {
                    unverified(error.to_string())
                } else {
                    error
                });
            }
        };
        let to_check = match &candidate.check {
            Check::Minisign {
                signature,
                public_key,
                ..
            } => Some((signature.clone(), public_key.clone())),
            _ => fetched_signature,
        };
        if let Some((signature, public_key)) = &to_check {
            let key = PublicKey::from_base64(public_key).map_err(|e| {
                unverified(format!(
                    "its public key `{public_key}` is not a minisign key ({e})"
                ))
            })?;
            let signature = Signature::decode(signature).map_err(|e| {
                unverified(format!(
                    "its signature `{}.sig` is not a minisign signature ({e})",
                    candidate.location
                ))
            })?;
            key.verify(&bytes, &signature, true).map_err(|e| {
                unverified(format!(
                    "the signature `{}.sig` does not match the archive under the key {public_key} ({e})",
                    candidate.location
                ))
            })?;
        }
        let archive = dir.path().join("archive");
        std::fs::write(&archive, &bytes).map_err(prepare)?;
        drop(bytes);
        let unpack_error = |source| {
            wrap(CrateError::Unpack {
                subject: Box::new(subject.clone()),
                source,
            })
        };
        let staging = dir.path().join("staging");
        if let Binaries::Paths { format, paths } = &candidate.binaries {
            std::fs::create_dir(&staging).map_err(prepare)?;
            let chosen: Vec<(String, String)> = paths
                .iter()
                .filter(|(name, _)| wanted.is_none_or(|w| w.contains(name)))
                .cloned()
                .collect();
            let binaries = super::extract::extract(&archive, *format, &chosen, &staging)
                .map_err(unpack_error)?;
            return Ok(Some((dir, binaries)));
        }
        let listed = match &candidate.binaries {
            Binaries::Listed(names) => names.clone(),
            Binaries::Paths { .. } => Vec::new(),
            Binaries::FromArchive => top_level_files(&archive).map_err(unpack_error)?,
        };
        if listed.is_empty() {
            return Err(unverified(
                "the archive holds no binary at its top level".into(),
            ));
        }
        let wanted = wanted.map_or_else(|| listed.clone(), <[String]>::to_vec);
        if let Some(missing) = wanted.iter().find(|w| !listed.contains(w)) {
            return Err(wrap(CrateError::Unpack {
                subject: Box::new(subject.clone()),
                source: UnpackError::MissingBinary {
                    archive,
                    name: missing.clone(),
                },
            }));
        }
        let staging = dir.path().join("staging");
        std::fs::create_dir(&staging).map_err(prepare)?;
        let binaries =
            unpack_selected(&archive, &staging, &listed, &wanted).map_err(unpack_error)?;
        Ok(Some((dir, binaries)))
    }
}

/// The names of the regular files at the top level of a verified `.tar.gz`, license and
/// notice files left out. Anything else in it is refused later by the allow-list unpack.
fn top_level_files(archive: &Path) -> Result<Vec<String>, UnpackError> {
    let corrupt = |source| UnpackError::Corrupt {
        archive: archive.to_owned(),
        source,
    };
    let file = std::fs::File::open(archive).map_err(corrupt)?;
    let mut tar = tar::Archive::new(GzDecoder::new(file));
    let mut names = Vec::new();
    for entry in tar.entries().map_err(corrupt)? {
        let entry = entry.map_err(corrupt)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let raw = entry.path_bytes();
        let Ok(name) = std::str::from_utf8(&raw) else {
            continue;
        };
        let name = name.strip_prefix("./").unwrap_or(name);
        if crate::index::format::is_valid_binary_name(name) && !is_notice(name) {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// License, notice and readme files, which are not binaries.
fn is_notice(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "LICENSE",
        "LICENCE",
        "COPYING",
        "NOTICE",
        "README",
        "UNLICENSE",
        "COPYRIGHT",
    ]
    .iter()
    .any(|p| upper.starts_with(p))
}
