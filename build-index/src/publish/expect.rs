//! `publish --expect PLAN --artifacts DIR`: binds every build output to the plan item it was
//! built for.
//!
//! A build job runs untrusted code (build scripts, proc macros) that can write any file into its
//! output directory, including a record and archive named for another crate. So the farm
//! downloads each job's artifact into its own directory (`DIR/<item.artifact>/`), and this module
//! takes from each only the record named for that item's (kind, name, version, target); the
//! record must then say the same ([`super::check`]). Everything else (other files in an item's
//! directory, directories of no planned item) is refused and reported, never published. An item
//! whose directory holds no record becomes a `missing-result` failure, so it is not replanned
//! forever.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::history::{Failure, Reason};
use crate::plan::{Matrix, MatrixItem};
use crate::time;

use super::{PublishError, Refused};

/// The record to check for one plan item.
pub(super) struct Candidate {
    pub record: PathBuf,
    pub item: MatrixItem,
}

/// What the artifacts hold, sorted into what to check and what was refused or missing.
#[derive(Default)]
pub(super) struct Collected {
    pub candidates: Vec<Candidate>,
    pub refused: Vec<Refused>,
    pub missing: Vec<Failure>,
}

/// Reads the plan and walks the artifacts directory. Only an unreadable plan or directory is an
/// error: without the plan nothing can be trusted.
pub(super) fn collect(plan: &Path, artifacts: &Path) -> Result<Collected, PublishError> {
    let text = fs::read(plan).map_err(|source| PublishError::ReadPlan {
        path: plan.to_owned(),
        source,
    })?;
    let matrix: Matrix = serde_json::from_slice(&text).map_err(|e| PublishError::BadPlan {
        path: plan.to_owned(),
        reason: e.to_string(),
    })?;
    let mut items: Vec<MatrixItem> = Vec::new();
    for mut item in matrix.include {
        // The directory name is derived here, never taken from the file.
        item.artifact =
            MatrixItem::new(item.kind, &item.krate, &item.version, &item.target).artifact;
        if !items.contains(&item) {
            items.push(item);
        }
    }
    let mut out = Collected::default();
    for entry in read_dir(artifacts)? {
        if !items
            .iter()
            .any(|i| entry.file_name() == Some(i.artifact.as_ref()))
        {
            out.refused.push(Refused {
                path: entry,
                reason: "no item of the plan has this artifact".into(),
            });
        }
    }
    for item in items {
        let dir = artifacts.join(&item.artifact);
        let stem = item.stem();
        let record = dir.join(format!("{stem}.json"));
        let own = [
            format!("{stem}.json"),
            format!("{stem}.tar.gz"),
            format!("{stem}.log"),
        ];
        let files = match read_dir(&dir) {
            Ok(files) => files,
            Err(PublishError::ReadArtifacts { source, .. })
                if source.kind() == io::ErrorKind::NotFound =>
            {
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        for file in &files {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if !own.iter().any(|o| o == name) {
                out.refused.push(Refused {
                    path: file.clone(),
                    reason: format!(
                        "the job for `{} {}` ({}) may only write files named `{stem}.*`",
                        item.krate, item.version, item.target
                    ),
                });
            }
        }
        if files.contains(&record) {
            out.candidates.push(Candidate { record, item });
        } else {
            out.missing.push(Failure {
                krate: item.krate.clone(),
                version: item.version.clone(),
                target: item.target.clone(),
                time: time::rfc3339_utc(time::now()),
                reason: Reason::MissingResult,
                log_tail: format!(
                    "the job left no record `{stem}.json` in its artifact `{}`",
                    item.artifact
                ),
                run: None,
            });
        }
    }
    Ok(out)
}

/// The entries of `dir`, sorted (so reports are stable).
fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, PublishError> {
    let err = |source| PublishError::ReadArtifacts {
        path: dir.to_owned(),
        source,
    };
    let mut entries = fs::read_dir(dir)
        .map_err(err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    entries.sort();
    Ok(entries)
}
