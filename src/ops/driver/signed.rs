//! The driver's half for candidates checked by signature rather than by a signed sha256: the
//! archive is streamed (at most the candidate's cap) to a `.partial` file in a temporary
//! directory inside the install root, the minisign signature is checked over the streamed bytes
//! (a prehashed one, minisign's default, is the BLAKE2b-512 of the file: hashed chunk by chunk)
//! before the file is renamed or any parser touches it, and only then is the archive listed and
//! unpacked by allow-list: plain files at the top level, no links, no paths.

use std::path::Path;

use flate2::read::GzDecoder;
use minisign_verify::{PublicKey, Signature, StreamVerifier};
use tempfile::TempDir;

use super::Context;
use crate::download::{DownloadError, StreamCheck};
use crate::error::{PackageError, Subject};
use crate::source::{Binaries, Candidate, Check};
use crate::unpack::{StagedBinary, UnpackError, unpack_selected};

/// The downloaded archive's name in the temp dir: a leading dot, so no binary can share it.
pub(super) const ARCHIVE_NAME: &str = ".archive";

impl<'a> Context<'a> {
    /// Fetches, verifies and unpacks a signature-checked (or, when allowed, unsigned)
    /// candidate. `Ok(None)`: the archive is not there (the next source may be tried).
    pub(crate) fn stage_signed(
        &self,
        subject: &Subject,
        candidate: &Candidate,
        wanted: Option<&[String]>,
    ) -> Result<Option<(TempDir, Vec<StagedBinary>)>, PackageError> {
        let origin = candidate.origin.as_str();
        let wrap = |error: PackageError| PackageError::FromSource {
            origin,
            error: Box::new(error),
        };
        let unverified = |detail: String| PackageError::Unverified {
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
                    // Unreachable, rate limited, a refused redirect: nothing was verified, so
                    // the next source may be tried.
                    Err(source) => {
                        return Err(wrap(PackageError::Download {
                            subject: Box::new(subject.clone()),
                            source,
                        }));
                    }
                }
            }
            _ => None,
        };
        let to_check = match &candidate.check {
            Check::Minisign {
                signature,
                public_key,
                ..
            } => Some((signature.clone(), public_key.clone())),
            _ => fetched_signature,
        };
        // Key and signature are decoded, and the key id matched, before a byte is downloaded.
        let decoded = match &to_check {
            Some((signature, public_key)) => {
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
                Some((key, signature, public_key.as_str()))
            }
            None => None,
        };
        let mut check: Box<dyn StreamCheck + '_> = match &decoded {
            Some((key, signature, public_key)) => {
                let mismatch = format!(
                    "the signature `{}.sig` does not match the archive under the key {public_key}",
                    candidate.location
                );
                match key.verify_stream(signature) {
                    Err(e @ minisign_verify::Error::UnexpectedKeyId) => {
                        return Err(unverified(format!("{mismatch} ({e})")));
                    }
                    _ => Box::new(MinisignCheck {
                        key,
                        signature,
                        stream: None,
                        mismatch,
                    }),
                }
            }
            None => Box::new(Unchecked),
        };
        let dir = crate::ops::stage::temp_dir_in(&self.request.root)?;
        let progress = self
            .reporter
            .download(&format!("`{} {}`", subject.name, subject.version), None);
        let downloaded = self.fetcher.download_checked(
            &candidate.location,
            dir.path(),
            ARCHIVE_NAME,
            cap,
            check.as_mut(),
            &|n| progress.set(n),
        );
        progress.finish();
        drop(check);
        let archive = match downloaded {
            Ok(path) => path,
            Err(DownloadError::NotFound { .. }) => return Ok(None),
            Err(DownloadError::Refused { reason, .. }) => return Err(unverified(reason)),
            Err(source) => {
                let verification = matches!(source, DownloadError::TooLarge { .. });
                let error = wrap(PackageError::Download {
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
        let unpack_error = |source| {
            wrap(PackageError::Unpack {
                subject: Box::new(subject.clone()),
                source,
            })
        };
        // Written beside the archive (see `temp_dir_in`).
        let staging = dir.path();
        if let Binaries::Paths { format, paths } = &candidate.binaries {
            let chosen: Vec<(String, String)> = paths
                .iter()
                .filter(|(name, _)| wanted.is_none_or(|w| w.contains(name)))
                .cloned()
                .collect();
            let binaries = super::extract::extract(&archive, *format, &chosen, staging)
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
            return Err(wrap(PackageError::Unpack {
                subject: Box::new(subject.clone()),
                source: UnpackError::MissingBinary {
                    archive,
                    name: missing.clone(),
                },
            }));
        }
        let binaries =
            unpack_selected(&archive, staging, &listed, &wanted).map_err(unpack_error)?;
        Ok(Some((dir, binaries)))
    }
}

/// A minisign signature checked over the streamed bytes. A legacy (not prehashed) signature
/// signs the raw bytes, which minisign-verify checks only over a slice: it is read back from the
/// finished `.partial` (at most the cap), the one case that holds an archive in memory.
struct MinisignCheck<'a> {
    key: &'a PublicKey,
    signature: &'a Signature,
    /// The running BLAKE2b-512 of a prehashed signature; `None` for a legacy one.
    stream: Option<StreamVerifier<'a>>,
    /// "the signature … does not match the archive under the key …", completed by the reason.
    mismatch: String,
}

impl StreamCheck for MinisignCheck<'_> {
    fn restart(&mut self) {
        self.stream = self.key.verify_stream(self.signature).ok();
    }

    fn update(&mut self, chunk: &[u8]) {
        if let Some(stream) = &mut self.stream {
            stream.update(chunk);
        }
    }

    fn finish(&mut self, written: &Path) -> Result<(), String> {
        match &mut self.stream {
            Some(stream) => stream
                .finalize()
                .map_err(|e| format!("{} ({e})", self.mismatch)),
            None => {
                let bytes = std::fs::read(written)
                    .map_err(|e| format!("`{}` could not be read back ({e})", written.display()))?;
                self.key
                    .verify(&bytes, self.signature, true)
                    .map_err(|e| format!("{} ({e})", self.mismatch))
            }
        }
    }
}

/// No signature to check (an unsigned candidate the user allowed): only the cap applies.
struct Unchecked;

impl StreamCheck for Unchecked {
    fn restart(&mut self) {}
    fn update(&mut self, _chunk: &[u8]) {}
    fn finish(&mut self, _written: &Path) -> Result<(), String> {
        Ok(())
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
