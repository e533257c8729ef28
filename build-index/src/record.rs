//! The records `build-index build` leaves beside its archive and `publish` reads back.
//!
//! A [`Record`] is either a [`BuildResult`] (`"status":"ok"`) or a [`BuildFailure`]
//! (`"status":"failed"`). This module holds the types, their JSON form and the checks a record
//! must pass before its archive is even opened; it does not look at the archive itself (that is
//! [`crate::validate`]).

use std::io;
use std::path::{Path, PathBuf};

use quickinstall::index::format::{self, PackageKind, Provenance, Release};
use quickinstall::index::path::{is_valid_crate_name, is_valid_module_path};
use serde::{Deserialize, Serialize};

use crate::history::{Failure, Reason};

/// The record format this code writes and reads.
pub const RECORD_VERSION: u32 = 1;

/// How many lines of the build log a failure record keeps.
pub const LOG_TAIL_LINES: usize = 40;

/// The outcome of one build, as written to `<out>/<name>-<version>-<target>.json`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Record {
    Ok(BuildResult),
    Failed(BuildFailure),
}

/// A successful build: the archive beside the record and what it holds.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct BuildResult {
    pub v: u32,
    pub kind: PackageKind,
    pub name: String,
    pub version: String,
    pub target: String,
    /// File name (no directory) of the `.tar.gz` beside this record.
    pub archive: String,
    pub sha256: String,
    pub size: u64,
    pub binaries: Vec<String>,
    /// Go modules: binary → package import path (empty for crates).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub packages: std::collections::BTreeMap<String, String>,
    /// Written as `null` for static binaries and non-gnu targets, so the field is always there.
    pub min_glibc: Option<String>,
    pub recipe: u32,
    pub provenance: Provenance,
}

/// A failed build: enough to tell what failed and why without the full log.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct BuildFailure {
    pub v: u32,
    pub kind: PackageKind,
    pub name: String,
    /// `unknown` when cargo failed before the version was known.
    pub version: String,
    pub target: String,
    pub log_tail: String,
    pub failed_at: String,
    /// Classified when the build failed; records from before reasons existed read as `other`.
    #[serde(default)]
    pub reason: Reason,
}

/// Why a record was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("`{path}` is not a build record: {reason}")]
    Malformed { path: String, reason: String },
    #[error(
        "`{path}` records a failed build of `{name} {version}` ({target}); there is nothing to publish (pass `--history FILE` to record the failure)"
    )]
    Failed {
        path: String,
        name: String,
        version: String,
        target: String,
    },
}

impl Record {
    /// Canonical JSON bytes (pretty, trailing newline).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Writes the record as `<out>/<stem>.json`, atomically; its path, or the path and why
    /// it could not be written.
    pub fn write(&self, out: &Path, stem: &str) -> Result<PathBuf, (PathBuf, io::Error)> {
        let path = out.join(format!("{stem}.json"));
        match crate::atomic::write(&path, &self.to_bytes()) {
            Ok(()) => Ok(path),
            Err(source) => Err((path, source)),
        }
    }
}

/// The file stem every output of a build shares: `<name>-<version>-<target>`.
pub fn stem(name: &str, version: &str, target: &str) -> String {
    format!("{name}-{version}-{target}")
}

/// Parses the record at `path` (used only in messages) and returns it if it is a successful
/// build whose fields are all valid. Checks only the record, not the archive.
pub fn parse_result(bytes: &[u8], path: &Path) -> Result<BuildResult, RecordError> {
    match parse_record(bytes, path)? {
        Record::Ok(result) => Ok(result),
        Record::Failed(f) => Err(RecordError::Failed {
            path: path.display().to_string(),
            name: f.name,
            version: f.version,
            target: f.target,
        }),
    }
}

/// Parses the record at `path` (used only in messages), successful or failed, and checks its
/// fields. Checks only the record, not the archive.
pub fn parse_record(bytes: &[u8], path: &Path) -> Result<Record, RecordError> {
    let malformed = |reason: String| RecordError::Malformed {
        path: path.display().to_string(),
        reason,
    };
    let record: Record = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    match &record {
        Record::Ok(result) => check_result(result),
        Record::Failed(failure) => check_failure(failure),
    }
    .map_err(malformed)?;
    Ok(record)
}

/// Every check on a failure's fields: it names what failed well enough to plan around it.
fn check_failure(f: &BuildFailure) -> Result<(), String> {
    if f.v != RECORD_VERSION {
        return Err(format!("record format v{} is not v{RECORD_VERSION}", f.v));
    }
    check_name(f.kind, &f.name)?;
    if f.version != "unknown" {
        check_version(f.kind, &f.version)?;
    }
    if !format::is_valid_target(&f.target) {
        return Err(format!("`{}` is not a target triple", f.target));
    }
    Ok(())
}

impl BuildFailure {
    /// The failure-history line for this failure.
    pub fn to_history(&self) -> Failure {
        Failure {
            krate: self.name.clone(),
            version: self.version.clone(),
            target: self.target.clone(),
            time: self.failed_at.clone(),
            reason: self.reason,
            log_tail: self.log_tail.clone(),
            run: None,
        }
    }
}

/// A crate name for crates, a module path for Go modules (both keep `/` and `..` out of paths).
fn check_name(kind: PackageKind, name: &str) -> Result<(), String> {
    match kind {
        PackageKind::Crate if !is_valid_crate_name(name) => {
            Err(format!("`{name}` is not a valid crate name"))
        }
        PackageKind::Go if !is_valid_module_path(name) => {
            Err(format!("`{name}` is not a valid Go module path"))
        }
        _ => Ok(()),
    }
}

/// `1.2.3` for crates; `v1.2.3` (pseudo-versions included) for Go modules, as the proxy
/// spells them.
fn check_version(kind: PackageKind, version: &str) -> Result<(), String> {
    let ok = match kind {
        PackageKind::Crate => semver::Version::parse(version).is_ok(),
        PackageKind::Go => version.starts_with('v') && format::parse_version(version).is_some(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("`{version}` is not a semantic version"))
    }
}

/// Every check on a result's fields; the reason is a sentence fragment.
fn check_result(r: &BuildResult) -> Result<(), String> {
    if r.v != RECORD_VERSION {
        return Err(format!("record format v{} is not v{RECORD_VERSION}", r.v));
    }
    check_name(r.kind, &r.name)?;
    check_version(r.kind, &r.version)?;
    if !format::is_valid_target(&r.target) {
        return Err(format!("`{}` is not a target triple", r.target));
    }
    if !format::is_valid_binary_name(&r.archive) {
        return Err(format!("archive `{}` is not a plain file name", r.archive));
    }
    if !format::is_sha256_hex(&r.sha256) {
        return Err("sha256 is not 64 lower-case hex digits".to_owned());
    }
    if r.binaries.is_empty() {
        return Err("it lists no binaries".to_owned());
    }
    if let Some(bad) = r.binaries.iter().find(|b| !format::is_valid_binary_name(b)) {
        return Err(format!("binary `{bad}` is not a plain file name"));
    }
    if let Some(bad) = r.packages.keys().find(|b| !r.binaries.contains(b)) {
        return Err(format!(
            "`{bad}` has a package path but is not one of the binaries"
        ));
    }
    if r.kind == PackageKind::Go {
        let belongs = |p: &str| {
            p == r.name
                || p.strip_prefix(r.name.as_str())
                    .is_some_and(|rest| rest.starts_with('/') && is_valid_module_path(p))
        };
        if let Some(bad) = r.packages.values().find(|p| !belongs(p)) {
            return Err(format!("package `{bad}` is not in module `{}`", r.name));
        }
        if r.packages.len() != r.binaries.len() {
            return Err("not every binary has its package path".to_owned());
        }
    }
    let mut sorted = r.binaries.clone();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != r.binaries.len() {
        return Err("it lists a binary twice".to_owned());
    }
    Ok(())
}

impl BuildResult {
    /// The index entry for this result, with `archive` as its location in the index.
    pub fn to_release(&self, archive: String) -> Release {
        Release {
            version: self.version.clone(),
            target: self.target.clone(),
            archive,
            sha256: self.sha256.clone(),
            size: self.size,
            binaries: self.binaries.clone(),
            packages: self.packages.clone(),
            min_glibc: self.min_glibc.clone(),
            recipe: self.recipe,
            provenance: self.provenance.clone(),
            extra: Default::default(),
        }
    }
}

/// The last `lines` lines of a log, lossily decoded.
pub fn log_tail(log: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(log);
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all.get(start..).unwrap_or_default().join("\n")
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;

    pub(crate) fn result() -> BuildResult {
        BuildResult {
            v: RECORD_VERSION,
            kind: PackageKind::Crate,
            name: "hello".into(),
            version: "1.0.0".into(),
            target: "x86_64-unknown-linux-gnu".into(),
            archive: "hello-1.0.0-x86_64-unknown-linux-gnu.tar.gz".into(),
            sha256: "ab".repeat(32),
            size: 1,
            binaries: vec!["hello".into()],
            packages: Default::default(),
            min_glibc: None,
            recipe: format::RECIPE_VERSION,
            provenance: Provenance {
                source_checksum: None,
                built_at: "1970-01-01T00:00:00Z".into(),
                toolchain: "rustc 1.95.0".into(),
                extra: BTreeMap::new(),
            },
        }
    }

    #[test]
    fn result_round_trips_with_status_ok_and_explicit_null_glibc() {
        let bytes = Record::Ok(result()).to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["status"], "ok");
        assert_eq!(json["kind"], "crate");
        assert!(json["min_glibc"].is_null());
        assert_eq!(parse_result(&bytes, Path::new("r.json")).unwrap(), result());
    }

    #[test]
    fn refuses_failure_records() {
        let failure = Record::Failed(BuildFailure {
            v: 1,
            kind: PackageKind::Crate,
            name: "hello".into(),
            version: "unknown".into(),
            target: "x86_64-unknown-linux-gnu".into(),
            log_tail: "error".into(),
            failed_at: "1970-01-01T00:00:00Z".into(),
            reason: Reason::CompileError,
        });
        let err = parse_result(&failure.to_bytes(), Path::new("r.json")).unwrap_err();
        assert!(matches!(err, RecordError::Failed { .. }), "{err}");
        assert_eq!(
            parse_record(&failure.to_bytes(), Path::new("r.json")).unwrap(),
            failure
        );
    }

    #[test]
    fn failure_records_carry_a_reason_and_old_ones_read_as_other() {
        let old = br#"{"status":"failed","v":1,"kind":"crate","name":"hello","version":"1.0.0",
            "target":"x86_64-unknown-linux-musl","log_tail":"boom","failed_at":"t"}"#;
        let Record::Failed(f) = parse_record(old, Path::new("r.json")).unwrap() else {
            panic!("not a failure");
        };
        assert_eq!(f.reason, Reason::Other);
        let line = f.to_history().to_line();
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(json["crate"], "hello");
        assert_eq!(json["reason"], "other");
        assert_eq!(json["time"], "t");
        let bad = String::from_utf8_lossy(old).replace("hello", "../x");
        assert!(parse_record(bad.as_bytes(), Path::new("r.json")).is_err());
    }

    #[test]
    fn refuses_records_with_invalid_fields() {
        type Mutation = Box<dyn Fn(&mut BuildResult)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("name", Box::new(|r| r.name = "../x".into())),
            ("version", Box::new(|r| r.version = "latest".into())),
            ("target", Box::new(|r| r.target = "a/b".into())),
            ("archive", Box::new(|r| r.archive = "../a.tar.gz".into())),
            ("sha", Box::new(|r| r.sha256 = "x".into())),
            ("no binaries", Box::new(|r| r.binaries.clear())),
            (
                "dup",
                Box::new(|r| r.binaries = vec!["a".into(), "a".into()]),
            ),
            ("version", Box::new(|r| r.v = 2)),
        ];
        for (what, mutate) in cases {
            let mut r = result();
            mutate(&mut r);
            let bytes = Record::Ok(r).to_bytes();
            assert!(
                matches!(
                    parse_result(&bytes, Path::new("r.json")),
                    Err(RecordError::Malformed { .. })
                ),
                "{what} was accepted"
            );
        }
        assert!(parse_result(b"{}", Path::new("r.json")).is_err());
    }

    pub(crate) fn go_result() -> BuildResult {
        let mut r = result();
        r.kind = PackageKind::Go;
        r.name = "example.com/Tool/v2".into();
        r.version = "v2.0.0".into();
        r.binaries = vec!["tool".into()];
        r.packages = BTreeMap::from([("tool".into(), "example.com/Tool/v2".into())]);
        r
    }

    #[test]
    fn go_records_take_module_paths_and_v_versions() {
        let bytes = Record::Ok(go_result()).to_bytes();
        assert_eq!(
            parse_result(&bytes, Path::new("r.json")).unwrap(),
            go_result()
        );
        type Mutation = Box<dyn Fn(&mut BuildResult)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("no v", Box::new(|r| r.version = "2.0.0".into())),
            ("path", Box::new(|r| r.name = "example.com/../x".into())),
            ("crate-like name", Box::new(|r| r.name = "tool".into())),
            (
                "foreign package",
                Box::new(|r| {
                    r.packages.insert("tool".into(), "example.org/tool".into());
                }),
            ),
            ("unmapped binary", Box::new(|r| r.packages.clear())),
        ];
        for (what, mutate) in cases {
            let mut r = go_result();
            mutate(&mut r);
            let bytes = Record::Ok(r).to_bytes();
            assert!(
                parse_result(&bytes, Path::new("r.json")).is_err(),
                "{what} was accepted"
            );
        }
        // A crate record keeps crate rules: a `v` version is refused there.
        let mut c = result();
        c.version = "v1.0.0".into();
        assert!(parse_result(&Record::Ok(c).to_bytes(), Path::new("r.json")).is_err());
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        assert_eq!(log_tail(b"a\nb\nc\n", 2), "b\nc");
        assert_eq!(log_tail(b"a", 40), "a");
        assert_eq!(log_tail(b"", 40), "");
    }
}
