//! `build-index plan`: the work for one CI run, as a GitHub Actions matrix.
//!
//! Reads the queue written by `select`, the release index and the failure history, and lists
//! at most `--max` (crate, version, target, runner) items in queue order, skipping what the
//! index already has and what the history excludes. [`plan_items`] is the pure decision;
//! [`plan`] is the I/O around it. It builds nothing and writes nothing.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use quickinstall::index::format::{self, FormatError, PackageFile, PackageKind};
use quickinstall::index::path::{self, is_valid_crate_name, is_valid_module_path};
use serde::{Deserialize, Serialize};

use crate::history::{self, Exclusions, HistoryError};

/// The targets built when `--targets` is not given, in the order each crate's items are listed.
pub const DEFAULT_TARGETS: &[&str] = &[
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-musl",
    "riscv64gc-unknown-linux-musl",
    "loongarch64-unknown-linux-musl",
    "aarch64-apple-darwin",
    "x86_64-apple-darwin",
    "x86_64-pc-windows-msvc",
];

/// GitHub Actions refuses a matrix of more than 256 jobs, so that is the default cap.
pub const DEFAULT_MAX: usize = 256;

/// Package names the farm never builds: `quickinstall` is the package our own clients are
/// published under by the release workflow, and `cargo-quickinstall` and `gquick` are the names
/// of our client binaries (the crates.io crate `cargo-quickinstall` belongs to another project;
/// built into the index, its install would replace our client). `select` leaves them out of
/// the queue and `plan` out of the matrix, so a farm run can never write their package files.
pub const RESERVED_NAMES: &[&str] = &["quickinstall", "cargo-quickinstall", "gquick"];

/// Whether `name` is one of [`RESERVED_NAMES`] (crate names compare with `-` and `_` alike, as
/// crates.io does).
pub fn is_reserved(name: &str) -> bool {
    let norm = |s: &str| s.to_ascii_lowercase().replace('_', "-");
    RESERVED_NAMES.iter().any(|r| norm(r) == norm(name))
}

/// What to plan from.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    pub queue: PathBuf,
    /// The Go lane: the queue written by `select go`, planned alongside the crates.
    pub go_queue: Option<PathBuf>,
    pub index: PathBuf,
    /// The failure history; a missing file is an empty history.
    pub history: Option<PathBuf>,
    pub targets: Vec<String>,
    pub max: usize,
    pub max_failures: usize,
}

/// One queue line, as far as planning needs it (`bins`, `reason` and `score` are `select`'s).
/// A Go queue line (`module`, `version`) reads into the same shape with `kind: go`.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct QueueItem {
    #[serde(skip, default = "crate_kind")]
    pub kind: PackageKind,
    #[serde(rename = "crate", alias = "module")]
    pub krate: String,
    pub version: String,
}

/// One job of the matrix. `publish --expect` reads the same JSON back to know which results
/// to accept and from which artifact.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct MatrixItem {
    /// `crate` or `go`; `crate` holds the crate name or the Go module path.
    #[serde(default = "crate_kind")]
    pub kind: PackageKind,
    #[serde(rename = "crate")]
    pub krate: String,
    pub version: String,
    pub target: String,
    pub runner: String,
    /// The name of the artifact the build job uploads and `publish` reads it from.
    #[serde(default)]
    pub artifact: String,
}

fn crate_kind() -> PackageKind {
    PackageKind::Crate
}

impl MatrixItem {
    /// An item with its runner and artifact name filled in.
    pub fn new(kind: PackageKind, name: &str, version: &str, target: &str) -> Self {
        let stem = output_stem(kind, name, version, target);
        Self {
            kind,
            krate: name.to_owned(),
            version: version.to_owned(),
            target: target.to_owned(),
            runner: runner_for(target).to_owned(),
            artifact: format!("build-{stem}"),
        }
    }

    /// The stem every output of this item's build shares (`<stem>.json`, `.tar.gz`, `.log`).
    pub fn stem(&self) -> String {
        output_stem(self.kind, &self.krate, &self.version, &self.target)
    }
}

/// The stem `build` gives its outputs: `<name>-<version>-<target>` for crates, the escaped
/// module path with `/` as `+` for Go modules (so it is also a valid artifact name).
pub fn output_stem(kind: PackageKind, name: &str, version: &str, target: &str) -> String {
    match kind {
        PackageKind::Crate => crate::record::stem(name, version, target),
        PackageKind::Go => crate::go::stem(name, version, target),
    }
}

/// The matrix, in the shape `fromJSON` expects for `strategy.matrix`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Matrix {
    pub include: Vec<MatrixItem>,
}

/// Why no plan was made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("could not read the queue `{}`: {source}", path.display())]
    ReadQueue { path: PathBuf, source: io::Error },
    #[error("line {line} of the queue `{}` is not a queue entry: {reason}", path.display())]
    BadQueueLine {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("`{target}` is not a target triple")]
    BadTarget { target: String },
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error("could not read index file `{}`: {source}", path.display())]
    ReadIndex { path: PathBuf, source: io::Error },
    #[error("index file `{}` is invalid: {source}", path.display())]
    BadIndexFile {
        path: PathBuf,
        source: Box<FormatError>,
    },
}

impl Matrix {
    /// One line of compact JSON, ready for `$GITHUB_OUTPUT`.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The runner label a target builds on: Apple targets need macOS, MSVC needs Windows, and
/// every Linux target is cross-built from Ubuntu.
pub fn runner_for(target: &str) -> &'static str {
    if target.contains("-apple-") {
        "macos-latest"
    } else if target.contains("-windows-") {
        "windows-latest"
    } else {
        "ubuntu-latest"
    }
}

/// Parses queue text (JSON lines); blank lines are skipped, a bad line is an error naming it.
pub fn parse_queue(text: &str, path: &Path) -> Result<Vec<QueueItem>, PlanError> {
    parse_lines(text, path, |item| {
        if !is_valid_crate_name(&item.krate) {
            return Err(format!("`{}` is not a valid crate name", item.krate));
        }
        if semver::Version::parse(&item.version).is_err() {
            return Err(format!(
                "`{}` is not an exact semantic version",
                item.version
            ));
        }
        Ok(())
    })
}

/// Parses the Go queue `select go` writes (`{"module","version",…}` lines).
pub fn parse_go_queue(text: &str, path: &Path) -> Result<Vec<QueueItem>, PlanError> {
    parse_lines(text, path, |item| {
        item.kind = PackageKind::Go;
        if !is_valid_module_path(&item.krate) {
            return Err(format!("`{}` is not a Go module path", item.krate));
        }
        if !item.version.starts_with('v') || format::parse_version(&item.version).is_none() {
            return Err(format!("`{}` is not a Go module version", item.version));
        }
        Ok(())
    })
}

/// The queue lines of `text`, each parsed and then completed and checked by `check` (which
/// says what is wrong with the item); blank lines are skipped, a bad line is an error naming
/// it.
fn parse_lines(
    text: &str,
    path: &Path,
    check: impl Fn(&mut QueueItem) -> Result<(), String>,
) -> Result<Vec<QueueItem>, PlanError> {
    let bad = |line: usize, reason: String| PlanError::BadQueueLine {
        path: path.to_owned(),
        line,
        reason,
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let mut item: QueueItem =
                serde_json::from_str(line).map_err(|e| bad(i + 1, e.to_string()))?;
            check(&mut item).map_err(|reason| bad(i + 1, reason))?;
            Ok(item)
        })
        .collect()
}

/// The crate queue and the Go queue taken in turns, so neither lane starves the other under
/// `--max`.
pub fn interleave(crates: Vec<QueueItem>, go: Vec<QueueItem>) -> Vec<QueueItem> {
    let mut out = Vec::with_capacity(crates.len() + go.len());
    let (mut a, mut b) = (crates.into_iter(), go.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

/// The matrix items, pure: for each queue entry in order, each target in order, skipping
/// (crate, version, target) in `built` or excluded, and stopping at `max` items (never more than
/// GitHub's 256). A crate listed twice in the queue is planned once; reserved names never.
pub fn plan_items(
    queue: &[QueueItem],
    targets: &[String],
    built: &HashSet<(String, String, String)>,
    exclusions: &Exclusions,
    max: usize,
) -> Vec<MatrixItem> {
    let mut seen = HashSet::new();
    queue
        .iter()
        .filter(|q| !is_reserved(&q.krate))
        .filter(|q| {
            seen.insert((
                q.kind == PackageKind::Go,
                q.krate.as_str(),
                q.version.as_str(),
            ))
        })
        .flat_map(|q| targets.iter().map(move |t| (q, t)))
        .filter(|(q, t)| {
            !built.contains(&(q.krate.clone(), q.version.clone(), (*t).clone()))
                && !exclusions.is_excluded(&q.krate, &q.version, t)
        })
        .take(max.min(DEFAULT_MAX))
        .map(|(q, t)| MatrixItem::new(q.kind, &q.krate, &q.version, t))
        .collect()
}

/// Reads the queue, the index files of the queued crates and the history; returns the matrix.
pub fn plan(request: &PlanRequest) -> Result<Matrix, PlanError> {
    if let Some(bad) = request.targets.iter().find(|t| !format::is_valid_target(t)) {
        return Err(PlanError::BadTarget {
            target: bad.clone(),
        });
    }
    let text = fs::read_to_string(&request.queue).map_err(|source| PlanError::ReadQueue {
        path: request.queue.clone(),
        source,
    })?;
    let mut queue = parse_queue(&text, &request.queue)?;
    if let Some(go_path) = &request.go_queue {
        let go_text = fs::read_to_string(go_path).map_err(|source| PlanError::ReadQueue {
            path: go_path.clone(),
            source,
        })?;
        queue = interleave(queue, parse_go_queue(&go_text, go_path)?);
    }
    let failures = match &request.history {
        Some(path) => history::read(path)?,
        None => Vec::new(),
    };
    let exclusions = Exclusions::new(&failures, request.max_failures);
    let mut built = HashSet::new();
    let mut read = HashSet::new();
    for item in &queue {
        if read.insert((item.kind == PackageKind::Go, item.krate.as_str())) {
            built.extend(built_releases(&request.index, item.kind, &item.krate)?);
        }
    }
    Ok(Matrix {
        include: plan_items(&queue, &request.targets, &built, &exclusions, request.max),
    })
}

/// The (crate, version, target) the index holds for `name`; none when it has no file yet.
fn built_releases(
    index: &Path,
    kind: PackageKind,
    name: &str,
) -> Result<Vec<(String, String, String)>, PlanError> {
    let Some(rel) = path::package_file(kind, name) else {
        return Ok(Vec::new());
    };
    let file_path = index.join(rel);
    let bytes = match fs::read(&file_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(PlanError::ReadIndex {
                path: file_path,
                source,
            });
        }
    };
    let file =
        PackageFile::parse(&bytes, kind, name).map_err(|source| PlanError::BadIndexFile {
            path: file_path.clone(),
            source: Box::new(source),
        })?;
    Ok(file
        .releases
        .into_iter()
        .map(|r| (name.to_owned(), r.version, r.target))
        .collect())
}

#[cfg(test)]
mod tests;
