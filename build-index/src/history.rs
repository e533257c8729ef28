//! The failure history: one JSON line per failed build, why it failed, and which (crate,
//! version, target) the planner should stop trying.
//!
//! Holds the [`Failure`] line type, the classification of a log tail into a [`Reason`], the
//! locked, lossless [`merge`] that `publish --history` uses, and the [`Exclusions`] that `plan`
//! reads. It does not run builds nor decide what to build.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic;

/// How many failures of one crate version on one target exclude it, unless told otherwise.
pub const DEFAULT_MAX_FAILURES: usize = 3;

/// The most bytes of log tail one history line keeps: the history is a branch read on every
/// run, and GitHub refuses files over 100 MB.
pub const MAX_TAIL_BYTES: usize = 2048;

/// Why a build failed, as classified from the end of its log.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// No C compiler or linker for the target (`musl-gcc`, a cross `cc`): the build machine's
    /// fault, not the crate's, so worth retrying once the toolchain is there.
    MissingCToolchain,
    /// The crate needs a newer rustc than the build machine's (`rust-version`): the build
    /// machine's fault too, worth retrying once its toolchain is updated.
    ToolchainTooOld,
    /// A C library or its headers is not installed (pkg-config, `-l` link errors).
    MissingSystemLibrary,
    /// A build script exited with an error.
    BuildScript,
    /// rustc rejected the code.
    CompileError,
    /// `build-index build --timeout-secs` killed the build.
    Timeout,
    /// The build's record or archive was refused by `publish` (truncated, malformed, naming
    /// another package, or not matching its archive).
    InvalidResult,
    /// The plan listed the item but its job left no record (it failed or timed out before
    /// `build-index` wrote one).
    MissingResult,
    /// Anything else; also what a reason written by a newer version reads as.
    #[default]
    #[serde(other)]
    Other,
}

impl Reason {
    /// The name used in the history file and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingCToolchain => "missing-c-toolchain",
            Self::ToolchainTooOld => "toolchain-too-old",
            Self::MissingSystemLibrary => "missing-system-library",
            Self::BuildScript => "build-script",
            Self::CompileError => "compile-error",
            Self::Timeout => "timeout",
            Self::InvalidResult => "invalid-result",
            Self::MissingResult => "missing-result",
            Self::Other => "other",
        }
    }
}

/// One failed build, one line of the history file.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Hash)]
pub struct Failure {
    #[serde(rename = "crate")]
    pub krate: String,
    pub version: String,
    pub target: String,
    /// RFC 3339 UTC time of the failure.
    pub time: String,
    pub reason: Reason,
    pub log_tail: String,
    /// The CI run that recorded the failure (`GITHUB_RUN_ID`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// Why the history could not be read or merged.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("could not read the failure history `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("line {line} of the failure history `{}` is not a failure record: {reason}", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("could not lock the failure history at `{}`: {source}", path.display())]
    Lock { path: PathBuf, source: io::Error },
    #[error("could not write the failure history `{}`: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Lines of cargo's progress output: they name crates (`Compiling pkg-config v0.3.30`), not
/// errors, so they must not count as evidence.
const PROGRESS_WORDS: &[&str] = &[
    "Compiling",
    "Checking",
    "Downloaded",
    "Downloading",
    "Fresh",
    "Updating",
    "Locking",
    "Adding",
    "Installing",
    "Building",
    "Running",
];

/// Text that shows a system library is missing: the messages of the `pkg-config` crate,
/// `system-deps` and of the linkers (GNU ld, lld, Apple ld, MSVC's `link.exe`).
const MISSING_LIBRARY: &[&str] = &[
    "could not find system library",
    "pkg-config",
    "PKG_CONFIG",
    "unable to find library -l",
    "cannot find -l",
    "library not found for -l",
    "No package '",
    "LNK1181",
];

/// Text that shows the C toolchain itself is missing: autoconf's verdict (jemalloc-sys runs
/// `configure` with `musl-gcc`), the `cc` crate's, and rustc's when the linker is absent.
const MISSING_C_TOOLCHAIN: &[&str] = &[
    "C compiler cannot create executables",
    "failed to find tool",
    "error: linker `",
];

/// cargo's refusal when a package's `rust-version` is newer than the toolchain, and rustc's
/// when a dependency uses a feature the toolchain does not have yet.
const TOOLCHAIN_TOO_OLD: &[&str] = &[
    "or newer, while the currently active rustc version is",
    "is not supported by the following package",
];

const BUILD_SCRIPT: &[&str] = &["failed to run custom build command"];

const COMPILE_ERROR: &[&str] = &["error[E", "could not compile"];

/// The reason a log tail shows, most specific first: a missing library usually surfaces as a
/// build-script or link failure too, and a build-script failure may end in "could not compile".
/// A timeout is not visible in the log; the caller that killed the build knows it.
pub fn classify(log_tail: &str) -> Reason {
    let evidence: Vec<&str> = log_tail
        .lines()
        .filter(|line| {
            let first = line.split_whitespace().next().unwrap_or_default();
            !PROGRESS_WORDS.contains(&first)
        })
        .collect();
    let shows = |patterns: &[&str]| {
        evidence
            .iter()
            .any(|line| patterns.iter().any(|p| line.contains(p)))
    };
    if shows(MISSING_C_TOOLCHAIN) {
        Reason::MissingCToolchain
    } else if shows(TOOLCHAIN_TOO_OLD) {
        Reason::ToolchainTooOld
    } else if shows(MISSING_LIBRARY) {
        Reason::MissingSystemLibrary
    } else if shows(BUILD_SCRIPT) {
        Reason::BuildScript
    } else if shows(COMPILE_ERROR) {
        Reason::CompileError
    } else {
        Reason::Other
    }
}

impl Failure {
    /// The canonical line (no trailing newline): identical failures give identical lines.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Parses history text; blank lines are skipped, any other bad line is an error naming it
/// (`path` is used only in messages).
pub fn parse(text: &str, path: &Path) -> Result<Vec<Failure>, HistoryError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| HistoryError::Malformed {
                path: path.to_owned(),
                line: i + 1,
                reason: e.to_string(),
            })
        })
        .collect()
}

/// Reads the history at `path`; a missing file is an empty history (the first run has none).
pub fn read(path: &Path) -> Result<Vec<Failure>, HistoryError> {
    match fs::read_to_string(path) {
        Ok(text) => parse(&text, path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(HistoryError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// `existing` history text with the lines of `new` that it does not already hold appended, in
/// order; existing lines are kept byte for byte. Pure: the I/O is [`merge`].
pub fn union(
    existing: &str,
    path: &Path,
    new: &[Failure],
) -> Result<(String, usize), HistoryError> {
    let mut seen: HashSet<Failure> = parse(existing, path)?.into_iter().collect();
    let mut text = existing.to_owned();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let mut added = 0;
    for failure in new {
        if seen.insert(failure.clone()) {
            text.push_str(&failure.to_line());
            text.push('\n');
            added += 1;
        }
    }
    Ok((text, added))
}

/// Adds `new` to the history file at `path`, never dropping a line already there, and returns
/// how many lines were added. Two merges at once (threads or processes) are serialised by an
/// exclusive lock on `<path>.lock`; the file itself is replaced by temp + rename, so a reader
/// without the lock still sees a whole file.
pub fn merge(path: &Path, new: &[Failure]) -> Result<usize, HistoryError> {
    let lock_path = lock_path(path);
    let lock_err = |source| HistoryError::Lock {
        path: lock_path.clone(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|source| HistoryError::Write {
            path: path.to_owned(),
            source,
        })?;
    }
    // A separate lock file, not the history itself: the history is replaced by rename, and a
    // lock on a replaced inode would not exclude the next writer.
    let lock = atomic::lock_file(&lock_path).map_err(lock_err)?;
    let existing = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(HistoryError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let (text, added) = union(&existing, path, new)?;
    let text = compact(&text, path)?;
    if text != existing {
        atomic::write(path, text.as_bytes()).map_err(|source| HistoryError::Write {
            path: path.to_owned(),
            source,
        })?;
    }
    // `lock` is released when dropped here, after the rename.
    drop(lock);
    Ok(added)
}

/// History text compacted, so the file grows with what is failing now, not with time: lines of
/// a superseded version (one older than the newest version of the same package in the history)
/// shrink to one line per (package, version, target) without its log tail, since the planner
/// only plans newest versions; every other tail is cut to its last [`MAX_TAIL_BYTES`]. Lines
/// that need no change are kept byte for byte. Pure.
pub fn compact(text: &str, path: &Path) -> Result<String, HistoryError> {
    let failures = parse(text, path)?;
    let raw: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut newest: HashMap<&str, semver::Version> = HashMap::new();
    for f in &failures {
        if let Some(v) = version_of(&f.version) {
            let slot = newest.entry(f.krate.as_str()).or_insert_with(|| v.clone());
            if v > *slot {
                *slot = v;
            }
        }
    }
    let superseded = |f: &Failure| {
        version_of(&f.version)
            .zip(newest.get(f.krate.as_str()))
            .is_some_and(|(v, n)| v < *n)
    };
    let key = |f: &Failure| (f.krate.clone(), f.version.clone(), f.target.clone());
    let mut last = HashMap::new();
    for (i, f) in failures.iter().enumerate() {
        last.insert(key(f), i);
    }
    let mut out = String::with_capacity(text.len());
    for (i, (f, line)) in failures.iter().zip(raw).enumerate() {
        if superseded(f) {
            if last.get(&key(f)) != Some(&i) {
                continue;
            }
            if f.log_tail.is_empty() {
                out.push_str(line);
            } else {
                out.push_str(
                    &Failure {
                        log_tail: String::new(),
                        ..f.clone()
                    }
                    .to_line(),
                );
            }
        } else if f.log_tail.len() > MAX_TAIL_BYTES {
            let tail = Failure {
                log_tail: tail_bytes(&f.log_tail, MAX_TAIL_BYTES).to_owned(),
                ..f.clone()
            };
            out.push_str(&tail.to_line());
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    Ok(out)
}

/// The last at most `max` bytes of `text`, starting on a character boundary.
pub fn tail_bytes(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text.get(start..).unwrap_or_default()
}

/// A crate version (`1.2.3`) or Go version (`v1.2.3`) as semver; `unknown` is none.
fn version_of(version: &str) -> Option<semver::Version> {
    semver::Version::parse(version.strip_prefix('v').unwrap_or(version)).ok()
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Which (crate, version, target) have failed too often to be planned again.
#[derive(Debug, Clone, Default)]
pub struct Exclusions {
    counts: HashMap<(String, String, String), usize>,
    max_failures: usize,
}

impl Exclusions {
    /// Counts the failures per (crate, version, target); a version is excluded for a target
    /// once it has `max_failures` of them. Counting per version is what lets a new release of
    /// the crate be tried again.
    pub fn new(history: &[Failure], max_failures: usize) -> Self {
        let mut counts = HashMap::new();
        for f in history {
            *counts
                .entry((f.krate.clone(), f.version.clone(), f.target.clone()))
                .or_insert(0) += 1;
        }
        Self {
            counts,
            max_failures,
        }
    }

    pub fn is_excluded(&self, krate: &str, version: &str, target: &str) -> bool {
        let key = (krate.to_owned(), version.to_owned(), target.to_owned());
        self.counts.get(&key).copied().unwrap_or(0) >= self.max_failures.max(1)
    }
}

#[cfg(test)]
pub(crate) mod tests;
