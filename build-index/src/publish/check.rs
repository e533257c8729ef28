//! The checks on one build result before anything is written: the record parses and its fields
//! are valid, it names the plan item it was built for (with `--expect`), and its archive is a
//! tar of plain executables whose bytes match the record. Touches nothing; each refusal is one
//! [`PublishError`] naming the file and what was wrong, so `publish` can refuse that record and
//! go on with the others.

use std::fs;
use std::path::{Path, PathBuf};

use super::{PublishError, archive_file};
use crate::history::Failure;
use crate::plan::MatrixItem;
use crate::record::{self, BuildResult, Record};
use crate::validate;

/// Largest record file read; real ones are under 2 KiB.
const MAX_RECORD_BYTES: u64 = 1 << 20;

/// A result whose record and archive have passed every check.
pub(super) struct Checked {
    pub result: BuildResult,
    pub archive_path: PathBuf,
}

/// A record that passed its checks.
pub(super) enum Outcome {
    Ok(Box<Checked>),
    Failed(Failure),
}

/// Reads and checks one record and, for a success, its archive; touches nothing. A failure
/// record is refused unless `accept_failures`. With `expected`, the record must name exactly
/// that item, and its archive must be the file named for it beside the record.
pub(super) fn check(
    record_path: &Path,
    expected: Option<&MatrixItem>,
    accept_failures: bool,
) -> Result<Outcome, PublishError> {
    let read_err = |source| PublishError::ReadRecord {
        path: record_path.to_owned(),
        source,
    };
    // Not followed: a build must not make publish read files outside its own output.
    let meta = fs::symlink_metadata(record_path).map_err(read_err)?;
    if !meta.is_file() {
        return Err(not_the_item(record_path, "it is not a regular file".into()));
    }
    if meta.len() > MAX_RECORD_BYTES {
        return Err(PublishError::RecordTooLarge {
            path: record_path.to_owned(),
        });
    }
    let bytes = fs::read(record_path).map_err(read_err)?;
    let record = record::parse_record(&bytes, record_path)?;
    if let Some(item) = expected {
        let (kind, name, version, target) = match &record {
            Record::Ok(r) => (r.kind, &r.name, &r.version, &r.target),
            Record::Failed(f) => (f.kind, &f.name, &f.version, &f.target),
        };
        // A failure before cargo knew the version records `unknown`; the plan knows it.
        let version_ok = version == &item.version
            || (version == "unknown" && matches!(record, Record::Failed(_)));
        if kind != item.kind || name != &item.krate || !version_ok || target != &item.target {
            return Err(not_the_item(
                record_path,
                format!(
                    "it records `{name} {version}` ({target}) but the job was planned for `{} {}` ({})",
                    item.krate, item.version, item.target
                ),
            ));
        }
    }
    let result = match record {
        Record::Failed(f) if accept_failures => {
            let mut failure = f.to_history();
            if let Some(item) = expected {
                failure.version.clone_from(&item.version);
            }
            return Ok(Outcome::Failed(failure));
        }
        // Refused with the same message as before `--history` existed.
        Record::Failed(_) => record::parse_result(&bytes, record_path)?,
        Record::Ok(result) => result,
    };
    if let Some(item) = expected {
        let named = format!("{}.tar.gz", item.stem());
        if result.archive != named {
            return Err(not_the_item(
                record_path,
                format!(
                    "its archive is `{}`, not `{named}`, the file named for its item",
                    result.archive
                ),
            ));
        }
    }
    let archive_path = record_path
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(&result.archive);
    let archive_meta = fs::symlink_metadata(&archive_path).map_err(|source| {
        PublishError::Archive(validate::ValidateError::Read {
            path: archive_path.clone(),
            source,
        })
    })?;
    if !archive_meta.is_file() {
        return Err(not_the_item(
            &archive_path,
            "it is not a regular file".into(),
        ));
    }
    let facts = validate::inspect(&archive_path)?;
    validate::check_against(&facts, &result, &archive_path)?;
    // The release must also pass the checks every client runs on it.
    result
        .to_release(archive_file(
            result.kind,
            &result.name,
            &result.version,
            &result.target,
            &result.sha256,
        ))
        .validate()
        .map_err(|source| PublishError::Release {
            name: result.name.clone(),
            source: Box::new(source),
        })?;
    Ok(Outcome::Ok(Box::new(Checked {
        result,
        archive_path,
    })))
}

fn not_the_item(path: &Path, reason: String) -> PublishError {
    PublishError::NotTheItem {
        path: path.to_owned(),
        reason,
    }
}
