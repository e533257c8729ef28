//! A resolve-only run, for lock files: resolve each request as an install would, and install
//! nothing.
//!
//! The same phase one as `--dry-run` (for crates: registry, signed index, pool, upstream, in
//! the user's order; for Go: the proxy, then the index) answers which archive each package
//! would come from. An archive vouched for by a
//! signature rather than a signed sha256 (the pool, upstream) is downloaded and verified once
//! here, so its sha256 can be pinned; it is kept in the archive cache, so the install that
//! follows does not download it again.

use std::path::Path;

use super::{Context, Ecosystem, Fallback, Plan};
use crate::error::{PackageError, Subject};
use crate::source::{Binaries, Candidate, Check};

/// Why a package could not be resolved for a lock.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// What an install would have failed with.
    #[error("{0}")]
    Install(#[from] PackageError),
    /// It resolves, but not to something a lock can pin (no exact version, an archive layout
    /// a sha256 pin cannot describe yet), or resolving could not start.
    #[error("{0}")]
    Unlockable(String),
}

impl ResolveError {
    /// Whether something did not verify (exit status 3).
    pub fn is_verification(&self) -> bool {
        matches!(self, Self::Install(e) if e.is_verification())
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Install(e) => e.hint(),
            Self::Unlockable(_) => None,
        }
    }
}

/// A package resolved for one target.
pub enum Resolved {
    /// A prebuilt archive, with the size and sha256 of its exact bytes.
    Prebuilt {
        /// The package's name as resolved (a Go module path, not the package asked for).
        name: String,
        /// The exact version (`1.2.3`, Go's `v1.2.3`).
        version: String,
        candidate: Box<Candidate>,
        size: u64,
        sha256: String,
        /// Every binary in the archive.
        binaries: Vec<String>,
        /// The binaries the request installs from it (empty: all of them).
        wanted: Vec<String>,
        /// `bin` when the download is the executable itself, else `tar.gz`.
        format: &'static str,
        /// The base64 minisign key that verified the archive, for a signature-checked one.
        signing_key: Option<String>,
        /// The id of the key that vouched for it: the archive's signer, or the index key that
        /// signed the entry carrying its sha256.
        key_id: Option<String>,
    },
    /// No prebuilt: built from source at this version.
    Build { version: String },
}

/// Phase one of a resolve-only run (the context built with `dry_run` and `force` set, so
/// nothing is installed and an installed package is resolved all the same): each request's
/// outcome, in order.
pub fn resolve_all<E: Ecosystem>(
    context: &Context,
    ecosystem: &E,
) -> Vec<Result<Resolved, ResolveError>> {
    super::plan_all(context, ecosystem)
        .into_iter()
        .map(|(plan, _)| context.resolved(plan))
        .collect()
}

impl<'a> Context<'a> {
    fn resolved<X>(&self, plan: Plan<X>) -> Result<Resolved, ResolveError> {
        match plan {
            Plan::DryRun {
                subject,
                candidate,
                wanted,
            } => self.pin_bytes(&subject, *candidate, wanted),
            Plan::Fallback(Fallback {
                version: Some(version),
                ..
            }) => Ok(Resolved::Build { version }),
            Plan::Fallback(Fallback { name, why, .. }) => Err(ResolveError::Unlockable(format!(
                "no exact version of `{name}` could be found ({}), and a lock needs one{}",
                why.headline,
                why.details()
            ))),
            Plan::Failed { error, .. } => Err(error.into()),
            // Neither is produced with `force` and `dry_run` set.
            Plan::Already { name, .. } => Err(ResolveError::Unlockable(format!(
                "`{name}` was reported installed instead of resolved"
            ))),
            Plan::Staged(s) => Err(ResolveError::Unlockable(format!(
                "`{}` was staged instead of resolved",
                s.subject.name
            ))),
        }
    }

    /// The size and sha256 of a candidate's bytes: given by a signed index entry, else
    /// measured on the archive downloaded and verified by its signature (then cached).
    /// `wanted`: the binaries the request installs from it (empty: all).
    fn pin_bytes(
        &self,
        subject: &Subject,
        candidate: Candidate,
        wanted: Vec<String>,
    ) -> Result<Resolved, ResolveError> {
        let version = subject.version.clone();
        if let Check::Sha256 {
            size,
            sha256,
            signed_by,
        } = &candidate.check
        {
            let release = candidate.release.as_deref();
            let binaries = match &candidate.binaries {
                Binaries::Listed(b) => b.clone(),
                _ => release.map(|r| r.binaries.clone()).unwrap_or_default(),
            };
            return Ok(Resolved::Prebuilt {
                name: subject.name.clone(),
                wanted,
                size: *size,
                sha256: sha256.clone(),
                binaries,
                format: if release.is_some_and(crate::index::format::Release::is_bin) {
                    "bin"
                } else {
                    "tar.gz"
                },
                signing_key: None,
                key_id: signed_by.clone(),
                version,
                candidate: Box::new(candidate),
            });
        }
        let origin = candidate.origin.as_str();
        let unlockable =
            |detail: &str| ResolveError::Unlockable(format!("{subject} from {origin}: {detail}"));
        if matches!(candidate.binaries, Binaries::Paths { .. }) {
            return Err(unlockable(
                "its upstream archive keeps binaries in subdirectories, which a lock cannot pin yet (set `sources` for it in quickinstall.toml to skip upstream)",
            ));
        }
        let signing_key = match &candidate.check {
            Check::Minisign { public_key, .. } | Check::MinisignAt { public_key, .. } => {
                Some(public_key.clone())
            }
            _ => None,
        };
        let Some((dir, staged)) = self.stage_signed(subject, &candidate, None)? else {
            return Err(unlockable("its archive is not there"));
        };
        let archive = dir.path().join(super::signed::ARCHIVE_NAME);
        let (size, sha256) = file_sha256(&archive).map_err(|e| PackageError::Prepare {
            path: archive.clone(),
            source: e,
        })?;
        if let Some(cache) = &self.request.run.cache_dir {
            crate::ops::stage::keep_in_cache(cache, &archive, &sha256);
        }
        Ok(Resolved::Prebuilt {
            name: subject.name.clone(),
            wanted,
            version,
            size,
            sha256,
            binaries: staged.into_iter().map(|b| b.name).collect(),
            format: "tar.gz",
            key_id: signing_key
                .as_deref()
                .and_then(crate::index::key_id::of_public_key),
            signing_key,
            candidate: Box::new(candidate),
        })
    }
}

fn file_sha256(path: &Path) -> std::io::Result<(u64, String)> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
            break;
        };
        hasher.update(chunk);
        size += n as u64;
    }
    Ok((size, crate::download::to_hex(&hasher.finalize())))
}
