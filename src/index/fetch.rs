//! Reading one package's file from a release index and verifying it before anything else
//! looks at it.
//!
//! One request: the signed bundle (`<file>.signed`: the root's delegation when there is one, the
//! minisign signature, then the package file's bytes). Order: the delegation against the roots,
//! the signature against the delegated or directly trusted key (which also binds the path), the
//! expiry, then refuse a rollback, and only then parse the JSON. A missing bundle means "no
//! prebuilt" (fallback); a bundle without a valid signature is a verification failure.

use crate::download::{DownloadError, Fetcher, Location};
use crate::index::delegation::{DEFAULT_INDEX_ID, DelegationError};
use crate::index::format::{FormatError, PackageFile, PackageKind};
use crate::index::path;
use crate::index::seen::{RollbackError, SeenStore};
use crate::index::signature::{SignatureError, TrustedKeys};

/// Package files are small; this bounds what a hostile server can make us buffer.
const MAX_PACKAGE_FILE: u64 = 8 * 1024 * 1024;

/// A release index: where it is and which keys it must be signed with.
#[derive(Debug, Clone)]
pub struct IndexSource {
    pub base: Location,
    pub keys: TrustedKeys,
}

/// A package file whose signature, path binding and freshness were checked.
#[derive(Debug, Clone)]
pub struct VerifiedPackage {
    pub file: PackageFile,
    /// Path of the file inside the index (`crates/…/name.json`).
    pub path: String,
    /// Signing time from the trusted comment.
    pub signed_at: u64,
    /// The id of the key that signed it (as minisign prints it).
    pub key_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("the release index at `{base}` could not be reached: {source}")]
    Unreachable {
        base: String,
        #[source]
        source: DownloadError,
    },
    #[error(
        "the index file for `{name}` at `{url}` does not start with a signature (the signature is missing)"
    )]
    SignatureMissing { name: String, url: String },
    #[error("the index file for `{name}` failed signature verification: {source}")]
    Signature {
        name: String,
        #[source]
        source: SignatureError,
    },
    #[error("{0}")]
    Rollback(#[from] RollbackError),
    #[error("the index file for `{name}` is invalid: {source}")]
    Format {
        name: String,
        #[source]
        source: FormatError,
    },
    #[error("`{name}` is not a valid package name")]
    BadName { name: String },
}

impl IndexError {
    /// Advice for a failure that has a specific remedy: an expired signature or delegation can
    /// be accepted on purpose with `--allow-expired-index`.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Signature { source, .. } if source.is_expiry() => Some(
                "if this machine's clock is right, the index has not been re-signed in time; to accept it anyway (only for a mirror you trust that cannot be re-signed, e.g. an air-gapped copy), pass --allow-expired-index".into(),
            ),
            Self::Signature {
                source: SignatureError::Delegation(DelegationError::NotYetValid { .. }),
                ..
            } => Some("check this machine's clock and time zone settings, then retry".into()),
            Self::Signature {
                source: SignatureError::SignedOutsideDelegation { .. },
                ..
            } => Some(
                "the index's signing key may have leaked; tell the index's maintainers, who re-sign it under a current delegation (docs/releasing.md)".into(),
            ),
            Self::Signature {
                source:
                    SignatureError::Delegation(_)
                    | SignatureError::UntrustedKey
                    | SignatureError::NotTheDelegatedKey { .. },
                ..
            } => Some(format!(
                "an index's signing key must be trusted directly (--trusted-key) or delegated, for that index (QUICKINSTALL_INDEX_ID, default `{DEFAULT_INDEX_ID}`), by a root this client trusts (built in, --trusted-root)"
            )),
            _ => None,
        }
    }

    /// Whether this means "the index is down" (fall back) rather than "the index is lying"
    /// (refuse).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }
}

impl IndexSource {
    /// Fetches and verifies the file for `name`: one request, for the signed bundle.
    /// `Ok(None)` when the index has no such package. With `seen`, refuses a file signed
    /// before one already seen and records this one.
    pub fn package(
        &self,
        fetcher: &Fetcher,
        kind: PackageKind,
        name: &str,
        seen: Option<&SeenStore>,
    ) -> Result<Option<VerifiedPackage>, IndexError> {
        let file_path = path::package_file(kind, name).ok_or_else(|| IndexError::BadName {
            name: name.to_owned(),
        })?;
        let location = self.base.join(&path::signed_file(&file_path));
        let Some(bundle) = fetcher
            .get_small(&location, MAX_PACKAGE_FILE)
            .map_err(|source| IndexError::Unreachable {
                base: self.base.to_string(),
                source,
            })?
        else {
            return Ok(None);
        };
        let (comment, bytes) = self
            .keys
            .verify_bundle(&bundle, &file_path)
            .map_err(|source| match source {
                SignatureError::NotABundle => IndexError::SignatureMissing {
                    name: name.to_owned(),
                    url: location.to_string(),
                },
                source => IndexError::Signature {
                    name: name.to_owned(),
                    source,
                },
            })?;
        let base = self.base.to_string();
        if let Some(seen) = seen {
            seen.check(&base, &file_path, comment.timestamp)?;
        }
        let file = PackageFile::parse(bytes, kind, name).map_err(|source| IndexError::Format {
            name: name.to_owned(),
            source,
        })?;
        if let Some(seen) = seen {
            seen.record(&base, &file_path, comment.timestamp);
        }
        let key_id = crate::index::bundle::parse_bundle(&bundle)
            .ok()
            .and_then(|parts| crate::index::key_id::of_signature(parts.signature));
        Ok(Some(VerifiedPackage {
            file,
            path: file_path,
            signed_at: comment.timestamp,
            key_id,
        }))
    }

    /// Where an archive named by a release lives: an absolute URL as is, else relative to the
    /// index root.
    pub fn archive_location(&self, archive: &str) -> Location {
        self.base.join(archive)
    }
}
