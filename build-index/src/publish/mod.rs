//! `build-index publish`: validated build results into the signed release index.
//!
//! Each record is checked on its own ([`check`]): a bad one is refused and reported (and, for a
//! planned item, recorded in the failure history as `invalid-result`) while the others are
//! published, so one truncated or forged record cannot stop a run. With `--expect PLAN`, results
//! are taken only from each plan item's own artifact directory and must name that item
//! ([`expect`]). Then, under an exclusive lock on `<index>/.lock`, each archive is copied in
//! under a content-addressed name ([`archive_file`]), the package file updated and re-signed,
//! each file by temp + rename. Publishing the same result twice changes nothing, not even an
//! mtime. With `--history`, failure records are merged into the failure history
//! ([`crate::history::merge`]).

mod check;
mod expect;
#[cfg(test)]
mod tests;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use quickinstall::index::format::{FormatError, PackageFile, PackageKind, Release};
use quickinstall::index::path;

use self::check::{Checked, Outcome};
use crate::history::{self, Failure, HistoryError, Reason};
use crate::record::{BuildResult, RecordError};
use crate::sign::{self, SignError, Signer};
use crate::signed_file::{self, SignedFileError};
use crate::validate::{self, ValidateError};
use crate::{atomic, time};

/// How many hex digits of the sha256 go into an archive's file name: 64 bits, so two builds
/// of one (package, version, target) never share a name by chance.
const ADDRESS_HEX: usize = 16;

/// What to publish and where.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    pub index: PathBuf,
    pub secret_key: PathBuf,
    /// When set, releases point at `<base>/<relative archive path>` instead of the relative path.
    pub archive_base: Option<String>,
    /// When set, failure records are merged into this failure history instead of refused.
    pub history: Option<PathBuf>,
    /// Result records given one by one (the release workflow's, local use).
    pub results: Vec<PathBuf>,
    /// The farm's way: only the plan's items, each from its own artifact directory.
    pub expect: Option<Expect>,
    /// The CI run id written into each new failure line.
    pub run_id: Option<String>,
    /// Sign under this delegation (bundles then carry it).
    pub delegation: Option<PathBuf>,
    /// Seconds each new signature stays valid.
    pub signature_validity: u64,
}

/// `--expect PLAN --artifacts DIR`.
#[derive(Debug, Clone)]
pub struct Expect {
    /// The matrix JSON `build-index plan` printed for this run.
    pub plan: PathBuf,
    /// One directory per plan item, named for its `artifact`.
    pub artifacts: PathBuf,
}

/// What one publish did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublishReport {
    /// One per successful result, in the order given.
    pub published: Vec<Published>,
    /// One per failure (records, refused planned results, planned items without a result).
    pub failures: Vec<Failure>,
    /// How many of `failures` were new to the history.
    pub failures_added: usize,
    /// Files that were not published, and why.
    pub refused: Vec<Refused>,
}

/// A file `publish` did not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub path: PathBuf,
    pub reason: String,
}

/// What happened to one result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub name: String,
    pub version: String,
    pub target: String,
    /// The package file, relative to the index root.
    pub package_file: String,
    /// False when the index already held exactly this release (nothing was written).
    pub changed: bool,
}

/// Why a result was refused, or why publishing stopped.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("could not read build record `{}`: {source}", path.display())]
    ReadRecord { path: PathBuf, source: io::Error },
    #[error("build record `{}` is larger than any real record", path.display())]
    RecordTooLarge { path: PathBuf },
    #[error("`{}` was refused: {reason}", path.display())]
    NotTheItem { path: PathBuf, reason: String },
    #[error("could not read the plan `{}`: {source}", path.display())]
    ReadPlan { path: PathBuf, source: io::Error },
    #[error("the plan `{}` is not the matrix `build-index plan` prints: {reason}", path.display())]
    BadPlan { path: PathBuf, reason: String },
    #[error("could not read the artifacts directory `{}`: {source}", path.display())]
    ReadArtifacts { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Archive(#[from] ValidateError),
    #[error(transparent)]
    Key(#[from] SignError),
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error(transparent)]
    SignedFile(#[from] SignedFileError),
    #[error("`{name}` cannot be published: {source}")]
    Release {
        name: String,
        source: Box<FormatError>,
    },
    #[error("`{name}` is not a valid crate name")]
    BadName { name: String },
    #[error("index file `{}` is invalid, so it was not rewritten: {source}", path.display())]
    ExistingFile {
        path: PathBuf,
        source: Box<FormatError>,
    },
    #[error("could not lock the index at `{}`: {source}", path.display())]
    Lock { path: PathBuf, source: io::Error },
    #[error("could not read `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("could not write `{}`: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Checks every record on its own, merges the failures into the history (when one is given),
/// then publishes the results that passed, all under one lock of the index. Only what concerns
/// the run as a whole (the key, the plan, the index, the history) is an error; a bad record is
/// a [`Refused`] entry of the report.
pub fn publish(request: &PublishRequest) -> Result<PublishReport, PublishError> {
    let signer = sign::load(
        &request.secret_key,
        request.delegation.as_deref(),
        request.signature_validity,
    )?;
    let mut report = PublishReport::default();
    let mut failures = Vec::new();
    let candidates: Vec<(PathBuf, Option<crate::plan::MatrixItem>)> = match &request.expect {
        Some(e) => {
            let collected = expect::collect(&e.plan, &e.artifacts)?;
            report.refused = collected.refused;
            failures = collected.missing;
            collected
                .candidates
                .into_iter()
                .map(|c| (c.record, Some(c.item)))
                .chain(request.results.iter().map(|p| (p.clone(), None)))
                .collect()
        }
        None => request.results.iter().map(|p| (p.clone(), None)).collect(),
    };
    let mut checked = Vec::new();
    for (path, item) in candidates {
        match check::check(&path, item.as_ref(), request.history.is_some()) {
            Ok(Outcome::Ok(c)) => checked.push(*c),
            Ok(Outcome::Failed(f)) => failures.push(f),
            Err(e) => {
                if let Some(item) = item {
                    failures.push(Failure {
                        krate: item.krate,
                        version: item.version,
                        target: item.target,
                        time: time::rfc3339_utc(time::now()),
                        reason: Reason::InvalidResult,
                        log_tail: e.to_string(),
                        run: None,
                    });
                }
                report.refused.push(Refused {
                    path,
                    reason: e.to_string(),
                });
            }
        }
    }
    for f in &mut failures {
        if f.run.is_none() {
            f.run.clone_from(&request.run_id);
        }
    }
    report.failures_added = match &request.history {
        Some(history) if !failures.is_empty() => history::merge(history, &failures)?,
        _ => 0,
    };
    report.failures = failures;
    if !checked.is_empty() {
        report.published = publish_checked(request, &signer, &checked)?;
    }
    Ok(report)
}

/// Where an archive lives in the index: the package's archive path with the first
/// [`ADDRESS_HEX`] digits of its sha256 before `.tar.gz`
/// (`archives/crates/rg/1.0.0/rg-1.0.0-<target>-3f2a9b1c4d5e6f70.tar.gz`). An entry can then
/// only ever point at its own bytes: a rebuild with other bytes gets another name, so no upload
/// replaces an archive an older entry still references.
pub fn archive_file(
    kind: PackageKind,
    name: &str,
    version: &str,
    target: &str,
    sha256: &str,
) -> String {
    let plain = path::archive_file(kind, name, version, target);
    let address = sha256.get(..ADDRESS_HEX).unwrap_or(sha256);
    match plain.strip_suffix(".tar.gz") {
        Some(stem) => format!("{stem}-{address}.tar.gz"),
        None => plain,
    }
}

/// The package name as it appears in a release tag (`{name}` of `--archive-base`): the crate
/// name, or for a Go module its case-escaped path with `/` as `+` (tags of different modules
/// then never collide, and `.github/farm/github-releases.sh` derives the same from the
/// archive's path).
pub fn release_name(kind: PackageKind, name: &str) -> String {
    match kind {
        PackageKind::Crate => name.to_owned(),
        PackageKind::Go => path::escape_module_path(name).replace('/', "+"),
    }
}

/// Publishes checked results under an exclusive lock of the index.
fn publish_checked(
    request: &PublishRequest,
    signer: &Signer,
    checked: &[Checked],
) -> Result<Vec<Published>, PublishError> {
    fs::create_dir_all(&request.index).map_err(|source| PublishError::Write {
        path: request.index.clone(),
        source,
    })?;
    let lock_path = request.index.join(".lock");
    let lock_err = |source| PublishError::Lock {
        path: lock_path.clone(),
        source,
    };
    // Held until `lock` is dropped at the end of this function: two publishers read-modify-write
    // the same package file one after the other, never interleaved.
    let _lock = atomic::lock_file(&lock_path).map_err(lock_err)?;
    checked.iter().map(|c| apply(request, signer, c)).collect()
}

/// Copies the archive and updates and signs the package file; the caller holds the lock.
fn apply(
    request: &PublishRequest,
    signer: &Signer,
    c: &Checked,
) -> Result<Published, PublishError> {
    let r = &c.result;
    // The record's kind (validated with the name in `record`) picks `crates/` or `go/`.
    let kind = r.kind;
    let package_file = path::package_file(kind, &r.name).ok_or_else(|| PublishError::BadName {
        name: r.name.clone(),
    })?;
    let archive_rel = archive_file(kind, &r.name, &r.version, &r.target, &r.sha256);
    copy_archive_if_needed(
        &c.archive_path,
        &request.index.join(&archive_rel),
        &r.sha256,
    )?;

    let location = match &request.archive_base {
        Some(base) => archive_url(
            base,
            &archive_rel,
            &release_name(kind, &r.name),
            &r.version,
            &r.target,
        ),
        None => archive_rel,
    };
    let release: Release = r.to_release(location);
    let existing = signed_file::read_existing(&request.index, &package_file)?;
    let mut file = match &existing {
        Some(bytes) => PackageFile::parse(bytes, kind, &r.name).map_err(|source| {
            PublishError::ExistingFile {
                path: request.index.join(&package_file),
                source: Box::new(source),
            }
        })?,
        None => PackageFile::new(kind, &r.name),
    };
    let changed = file.upsert(release);
    let wrote = signed_file::write(
        &request.index,
        &package_file,
        &file.to_bytes(),
        changed,
        signer,
    )?;
    Ok(published(r, package_file, wrote))
}

/// Where an archive will be downloaded from: `BASE/<archive path>`, or, when `base` is a
/// template containing `{file}`, the template with `{name}`, `{version}`, `{target}` and
/// `{file}` filled in (GitHub Releases hold assets flat, one release per crate version:
/// `https://github.com/OWNER/REPO/releases/download/{name}-{version}/{file}`).
fn archive_url(base: &str, archive_rel: &str, name: &str, version: &str, target: &str) -> String {
    if base.contains("{file}") {
        let file = archive_rel.rsplit('/').next().unwrap_or(archive_rel);
        base.replace("{name}", name)
            .replace("{version}", version)
            .replace("{target}", target)
            .replace("{file}", file)
    } else {
        format!("{}/{archive_rel}", base.trim_end_matches('/'))
    }
}

fn published(r: &BuildResult, package_file: String, changed: bool) -> Published {
    Published {
        name: r.name.clone(),
        version: r.version.clone(),
        target: r.target.clone(),
        package_file,
        changed,
    }
}

/// Copies the archive unless the destination already holds the same bytes (by sha256), so a
/// re-publish leaves it untouched.
fn copy_archive_if_needed(src: &Path, dst: &Path, sha256: &str) -> Result<(), PublishError> {
    match validate::hash_file(dst) {
        Ok((existing, _)) if existing == sha256 => return Ok(()),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(PublishError::Read {
                path: dst.to_owned(),
                source,
            });
        }
    }
    atomic::copy(src, dst).map_err(|source| PublishError::Write {
        path: dst.to_owned(),
        source,
    })
}
