//! Why an install failed, as sentences, and the exit-status table.
//!
//! Each variant carries its subject (crate, version, target) and wraps the lower layer's error,
//! whose own message names the URL or path. [`PackageError::is_verification`] classifies by type,
//! never by message text; [`PackageError::hint`] is the follow-up advice printed on a `help:`
//! line.

use std::path::PathBuf;

use crate::download::DownloadError;
use crate::fallback::FallbackError;
use crate::index::fetch::IndexError;
use crate::install::InstallError;
use crate::install::cargo_tracker::TrackerError;
use crate::registry::crates::RegistryError;
use crate::resolve::SourceMismatch;
use crate::unpack::UnpackError;

/// Exit statuses; the README documents this table and tests check each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every crate is installed (or already was).
    Success = 0,
    /// At least one crate failed.
    Failure = 1,
    /// The command line was wrong; nothing was attempted.
    Usage = 2,
    /// At least one crate failed verification (signature, size, checksum, archive content).
    Verification = 3,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// `name version` with the target, as messages name a build.
#[derive(Debug, Clone)]
pub struct Subject {
    pub name: String,
    pub version: String,
    pub target: String,
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{} {}` ({})", self.name, self.version, self.target)
    }
}

/// Why one crate was not installed.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{0}")]
    Registry(#[from] RegistryError),
    #[error("{0}; nothing was installed")]
    Index(#[from] IndexError),
    #[error("{subject}: {source}; nothing was installed")]
    Source {
        subject: Box<Subject>,
        #[source]
        source: SourceMismatch,
    },
    /// `targets` also says where was looked ("… in the release index", or each source's why).
    #[error("no prebuilt of `{name} {version}` for {targets}{}{details}", if details.is_empty() { "" } else { ":" })]
    NoPrebuilt {
        name: String,
        version: String,
        targets: String,
        /// What each source answered, one indented line each ([`crate::source::Why::details`]),
        /// after the sentence; empty when `targets` says it all.
        details: String,
        /// What the fallback would have run: `cargo install` or `go install`.
        fallback: &'static str,
    },
    #[error("{subject}: {source}; nothing was installed")]
    Download {
        subject: Box<Subject>,
        #[source]
        source: DownloadError,
    },
    #[error("the archive of {subject} was refused: {source}; nothing was installed")]
    Unpack {
        subject: Box<Subject>,
        #[source]
        source: UnpackError,
    },
    /// A verified archive whose contents were refused, named by where it came from (the staging
    /// file it was read from is gone by the time the message is read).
    #[error(
        "the archive of {subject} from the {} source, `{location}`, was refused: it {}; nothing was installed",
        origin.as_str(),
        source.archive_problem().unwrap_or_else(|| source.to_string())
    )]
    ArchiveRefused {
        subject: Box<Subject>,
        origin: crate::source::Origin,
        location: String,
        /// A signature (or a signed checksum) vouched for the bytes.
        signed: bool,
        #[source]
        source: UnpackError,
    },
    #[error("installing {subject} failed: {source}; nothing was installed")]
    Install {
        subject: Box<Subject>,
        #[source]
        source: InstallError,
    },
    /// Shared: one tracker failure fails every crate of the batch.
    #[error("{0}")]
    Tracker(std::sync::Arc<TrackerError>),
    #[error(
        "binary `{bin}` already exists in `{}`{}; nothing was installed",
        dir.display(),
        owner.as_ref().map(|o| format!(" as part of `{o}`")).unwrap_or_default()
    )]
    Conflict {
        bin: String,
        dir: PathBuf,
        owner: Option<String>,
    },
    #[error("could not prepare `{}`: {source}; nothing was installed", path.display())]
    Prepare {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Fallback(#[from] FallbackError),
    #[error("{0}")]
    GoResolve(#[from] crate::registry::goproxy::GoResolveError),
    /// A prebuilt from a source other than the index did not verify (signature, key).
    #[error("{subject} from the {origin} source did not verify: {detail}; nothing was installed")]
    Unverified {
        subject: Box<Subject>,
        origin: &'static str,
        detail: String,
    },
    /// Any failure while fetching or unpacking from a named source (other than the index).
    #[error("{origin} source: {error}")]
    FromSource {
        origin: &'static str,
        error: Box<Self>,
    },
}

impl PackageError {
    /// Whether the failure means something did not verify: the exit status is then 3.
    pub fn is_verification(&self) -> bool {
        match self {
            Self::Index(e) => !e.is_unreachable(),
            Self::Source { .. } | Self::Unverified { .. } | Self::ArchiveRefused { .. } => true,
            Self::FromSource { error, .. } => error.is_verification(),
            // A local write failing (a full disk) is not the archive's fault.
            Self::Unpack { source, .. } => !matches!(source, UnpackError::Write { .. }),
            Self::Download { source, .. } => source.is_verification_failure(),
            _ => false,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NoPrebuilt { fallback, .. } => Some(format!(
                "run without --no-fallback to build it with `{fallback}`"
            )),
            Self::Conflict { .. } => Some("add --force to overwrite it".into()),
            Self::Install { source, .. } => source.hint(),
            Self::Prepare { .. } => Some(
                "choose another directory with --root, or fix the directory's permissions".into(),
            ),
            Self::Fallback(e) => e.hint(),
            Self::Unverified { origin, .. } => Some(format!(
                "after a failed check nothing else from the {origin} source is trusted and no other source was tried; run with --sources to skip it, and report it if it persists"
            )),
            Self::FromSource { origin, error } if error.is_verification() => Some(format!(
                "the {origin} source served an archive that was refused; no other source was tried (run with --sources to skip it)"
            )),
            Self::FromSource { error, .. } => error.hint(),
            Self::Index(e) if e.hint().is_some() => e.hint(),
            Self::Registry(e) => e.hint(),
            Self::GoResolve(e) => e.hint(),
            Self::Download { source, .. } if source.is_unreachable() => Some(
                "the server is down, overloaded or unreachable: retry later"
                    .into(),
            ),
            Self::Unpack {
                source: UnpackError::Write { source, .. },
                ..
            } => Some(local_write_hint(source)),
            Self::Download {
                source: DownloadError::Io { source, .. },
                ..
            } => Some(local_write_hint(source)),
            Self::Tracker(e) => match e.as_ref() {
                TrackerError::Write { source, .. } => Some(local_write_hint(source)),
                _ => None,
            },
            Self::ArchiveRefused { origin, signed, .. } => Some(refused_archive_hint(*origin, *signed)),
            // The bytes matched the signed size and sha256: what was signed is itself bad.
            Self::Unpack { .. } => Some(refused_archive_hint(crate::source::Origin::Index, true)),
            e if e.is_verification() => Some(
                "the index or its mirror served bytes that do not match what was signed; retry later, and report it if it persists"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// Advice after a verified archive was refused: whoever published it should hear of it; until
/// then, another source may serve the package.
fn refused_archive_hint(origin: crate::source::Origin, signed: bool) -> String {
    use crate::source::Origin;
    let who = match origin {
        Origin::Index | Origin::Build => "the release index's maintainers",
        Origin::Quickinstall => "cargo-quickinstall's maintainers",
        Origin::Upstream => "the crate's authors",
    };
    let why = match (origin, signed) {
        (Origin::Index, _) => {
            "the archive matched its signed checksum, so it was published this way; "
        }
        (_, true) => "the archive's signature verified, so it was published this way; ",
        (_, false) => "",
    };
    let skip = match origin {
        Origin::Index | Origin::Build => String::new(),
        other => format!(
            ", and leave `{}` out of --sources meanwhile",
            other.as_str()
        ),
    };
    format!("{why}report it to {who}{skip}")
}

/// Advice after a local write failed: disk space for a full disk (or a file-size limit), else
/// the directory's permissions.
fn local_write_hint(error: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match error.kind() {
        K::StorageFull | K::QuotaExceeded | K::FileTooLarge => {
            "free some disk space (the install root's file system is full), or choose another directory with --root".into()
        }
        _ => "check that the install root is writable, or choose another directory with --root".into(),
    }
}
