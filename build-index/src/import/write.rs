//! Writing checked imports into the signed index: under the publisher's lock, one package file
//! at a time, never replacing a release our own farm built (one without `imported_from`), and
//! writing nothing when the file already holds exactly these releases (a re-run changes no
//! byte and no mtime). Files are written by temp + rename, as `publish` does.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use quickinstall::index::format::{PackageFile, PackageKind, Release};
use quickinstall::index::path;

use super::ImportError;
use super::report::{Reason, Report};
use crate::sign::Signer;
use crate::{atomic, signed_file};

/// One release that passed every check, for one package.
pub struct Checked {
    pub kind: PackageKind,
    pub name: String,
    pub release: Release,
}

impl Checked {
    /// `<name> <version> <target>`, as the report lists it.
    pub fn describe(&self) -> String {
        format!(
            "{} {} {}",
            self.name, self.release.version, self.release.target
        )
    }
}

/// Whether a release was imported (rather than built by our farm).
pub fn is_imported(release: &Release) -> bool {
    release.provenance.extra.contains_key("imported_from")
}

/// Upserts every checked release, grouped by package file, under the index lock.
pub fn write_all(
    index: &Path,
    signer: &Signer,
    checked: Vec<Checked>,
    report: &mut Report,
) -> Result<(), ImportError> {
    let mut by_file: BTreeMap<String, Vec<Checked>> = BTreeMap::new();
    for c in checked {
        match path::package_file(c.kind, &c.name) {
            Some(file) => by_file.entry(file).or_default().push(c),
            None => report.refuse(
                Reason::InvalidName,
                &c.describe(),
                "not a valid package name",
            ),
        }
    }
    if by_file.is_empty() {
        return Ok(());
    }
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| ImportError::Write { path, source }
    };
    fs::create_dir_all(index).map_err(write_err(index))?;
    let lock_path = index.join(".lock");
    // Held to the end of this function: `publish` and `import` never interleave on one file.
    let _lock = atomic::lock_file(&lock_path).map_err(write_err(&lock_path))?;
    for (package_file, items) in by_file {
        write_one(index, signer, &package_file, items, report)?;
    }
    Ok(())
}

fn write_one(
    index: &Path,
    signer: &Signer,
    package_file: &str,
    items: Vec<Checked>,
    report: &mut Report,
) -> Result<(), ImportError> {
    let file_path = index.join(package_file);
    let Some(first) = items.first() else {
        return Ok(());
    };
    let (kind, name) = (first.kind, first.name.clone());
    let existing = read_optional(&file_path)?;
    let mut file = match &existing {
        Some(bytes) => {
            PackageFile::parse(bytes, kind, &name).map_err(|e| ImportError::ExistingFile {
                path: file_path.clone(),
                reason: e.to_string(),
            })?
        }
        None => PackageFile::new(kind, &name),
    };
    let mut any_changed = false;
    for c in items {
        let ours = file.releases.iter().chain(&file.bin_releases).any(|r| {
            r.version == c.release.version && r.target == c.release.target && !is_imported(r)
        });
        if ours {
            report.refuse(
                Reason::OursWins,
                &c.describe(),
                "our own build is in the index",
            );
            continue;
        }
        if file.upsert(c.release.clone()) {
            any_changed = true;
            report.imported.push(c.describe());
        } else {
            report.unchanged.push(c.describe());
        }
    }
    if existing.is_none() && file.releases.is_empty() && file.bin_releases.is_empty() {
        return Ok(());
    }
    signed_file::write(index, package_file, &file.to_bytes(), any_changed, signer)?;
    Ok(())
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, ImportError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ImportError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}
