//! `build-index resign`: refresh every package file's signature (and the delegation its bundle
//! carries) without touching archives or package contents.
//!
//! The farm's scheduled job runs it before signatures expire, and maintainers run it after a
//! key rotation. Under the same `<index>/.lock` as `publish`, each `crates/**.json` and
//! `go/**.json` is checked to be a valid package file at the path its name maps to, then signed
//! anew with a strictly later timestamp and written (`.minisig` and `.signed`, temp + rename).

use std::io;
use std::path::{Path, PathBuf};

use quickinstall::index::format::{PackageFile, PackageKind};
use quickinstall::index::path;

use crate::sign::{self, SignError};
use crate::{atomic, time};

/// What to re-sign.
#[derive(Debug, Clone)]
pub struct ResignRequest {
    pub index: PathBuf,
    pub secret_key: PathBuf,
    pub delegation: Option<PathBuf>,
    /// Seconds each new signature stays valid.
    pub signature_validity: u64,
}

/// Why re-signing stopped.
#[derive(Debug, thiserror::Error)]
pub enum ResignError {
    #[error(transparent)]
    Key(#[from] SignError),
    #[error("could not lock the index at `{}`: {source}", path.display())]
    Lock { path: PathBuf, source: io::Error },
    #[error("could not read `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("could not write `{}`: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("`{}` is not a valid package file, so nothing was re-signed: {reason}", path.display())]
    NotAPackageFile { path: PathBuf, reason: String },
    #[error("`{}` holds no package files (`crates/` or `go/`); is it an index?", path.display())]
    Empty { path: PathBuf },
}

/// Re-signs every package file of the index; returns their paths relative to the index root.
/// Every file is checked before the first one is rewritten.
pub fn resign(request: &ResignRequest) -> Result<Vec<String>, ResignError> {
    let signer = sign::load(
        &request.secret_key,
        request.delegation.as_deref(),
        request.signature_validity,
    )?;
    let lock_path = request.index.join(".lock");
    let lock_err = |source| ResignError::Lock {
        path: lock_path.clone(),
        source,
    };
    // Held until the end of this function, so a concurrent publish neither loses a release
    // nor has its fresh signature replaced by one over older bytes.
    let _lock = atomic::lock_file(&lock_path).map_err(lock_err)?;

    let mut files = Vec::new();
    for (dir, kind) in [("crates", PackageKind::Crate), ("go", PackageKind::Go)] {
        collect(&request.index, dir, kind, &mut files)?;
    }
    if files.is_empty() {
        return Err(ResignError::Empty {
            path: request.index.clone(),
        });
    }
    let mut checked = Vec::new();
    for (rel, kind) in files {
        let full = request.index.join(&rel);
        let bytes = std::fs::read(&full).map_err(|source| ResignError::Read {
            path: full.clone(),
            source,
        })?;
        check(&bytes, kind, &rel)
            .map_err(|reason| ResignError::NotAPackageFile { path: full, reason })?;
        checked.push((rel, bytes));
    }
    let now = time::now();
    for (rel, bytes) in &checked {
        let sig_path = request.index.join(path::signature_file(rel));
        let previous = std::fs::read_to_string(&sig_path)
            .ok()
            .and_then(|s| sign::previous_timestamp(&s));
        let comment = signer.comment(rel, sign::next_timestamp(now, previous));
        let signature = signer.sign(bytes, &comment)?;
        let bundle_path = request.index.join(path::signed_file(rel));
        for (path, data) in [
            (&sig_path, signature.as_bytes().to_vec()),
            (&bundle_path, signer.bundle(&signature, bytes)),
        ] {
            atomic::write(path, &data).map_err(|source| ResignError::Write {
                path: path.clone(),
                source,
            })?;
        }
    }
    Ok(checked.into_iter().map(|(rel, _)| rel).collect())
}

/// The `.json` files under `<index>/<dir>`, as paths relative to the index root, sorted.
fn collect(
    index: &Path,
    dir: &str,
    kind: PackageKind,
    out: &mut Vec<(String, PackageKind)>,
) -> Result<(), ResignError> {
    let mut pending = vec![dir.to_owned()];
    let mut found = Vec::new();
    while let Some(rel) = pending.pop() {
        let full = index.join(&rel);
        let entries = match std::fs::read_dir(&full) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound && rel == dir => return Ok(()),
            Err(source) => return Err(ResignError::Read { path: full, source }),
        };
        for entry in entries {
            let entry = entry.map_err(|source| ResignError::Read {
                path: full.clone(),
                source,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let child = format!("{rel}/{name}");
            let file_type = entry.file_type().map_err(|source| ResignError::Read {
                path: entry.path(),
                source,
            })?;
            if file_type.is_dir() {
                pending.push(child);
            } else if file_type.is_file() && name.ends_with(".json") {
                found.push((child, kind));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    out.extend(found);
    Ok(())
}

/// A valid package file whose name maps to exactly the path it was found at.
fn check(bytes: &[u8], kind: PackageKind, rel: &str) -> Result<(), String> {
    #[derive(serde::Deserialize)]
    struct Named {
        name: String,
    }
    let named: Named = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let expected = path::package_file(kind, &named.name)
        .ok_or_else(|| format!("`{}` is not a valid package name", named.name))?;
    if expected != rel {
        return Err(format!(
            "it names `{}`, whose file is `{expected}`",
            named.name
        ));
    }
    PackageFile::parse(bytes, kind, &named.name)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use quickinstall::index::signature::TrustedKeys;

    use super::*;
    use crate::keygen::keygen;

    #[test]
    fn refreshes_signatures_with_later_timestamps_and_leaves_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path().join("index");
        let rel = path::package_file(PackageKind::Crate, "hello").unwrap();
        let file = PackageFile::new(PackageKind::Crate, "hello").to_bytes();
        std::fs::create_dir_all(index.join(&rel).parent().unwrap()).unwrap();
        std::fs::write(index.join(&rel), &file).unwrap();
        let b64 = keygen(&dir.path().join("k.key"), &dir.path().join("k.pub"), false).unwrap();
        let request = ResignRequest {
            index: index.clone(),
            secret_key: dir.path().join("k.key"),
            delegation: None,
            signature_validity: 86_400,
        };
        assert_eq!(resign(&request).unwrap(), std::slice::from_ref(&rel));
        let sig_path = index.join(path::signature_file(&rel));
        let first = sign::previous_timestamp(&std::fs::read_to_string(&sig_path).unwrap());
        resign(&request).unwrap();
        let second = sign::previous_timestamp(&std::fs::read_to_string(&sig_path).unwrap());
        assert!(second > first, "{second:?} > {first:?}");
        assert_eq!(std::fs::read(index.join(&rel)).unwrap(), file);
        let mut keys = TrustedKeys::empty();
        keys.add_text(&b64).unwrap();
        let bundle = std::fs::read(index.join(path::signed_file(&rel))).unwrap();
        let (comment, data) = keys.verify_bundle(&bundle, &rel).unwrap();
        assert_eq!(data, file);
        assert_eq!(comment.expires, Some(comment.timestamp + 86_400));
    }

    #[test]
    fn refuses_a_file_at_the_wrong_path_before_writing_anything() {
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path().join("index");
        let rel = path::package_file(PackageKind::Crate, "hello").unwrap();
        std::fs::create_dir_all(index.join(&rel).parent().unwrap()).unwrap();
        let other = PackageFile::new(PackageKind::Crate, "other").to_bytes();
        std::fs::write(index.join(&rel), other).unwrap();
        keygen(&dir.path().join("k.key"), &dir.path().join("k.pub"), false).unwrap();
        let request = ResignRequest {
            index: index.clone(),
            secret_key: dir.path().join("k.key"),
            delegation: None,
            signature_validity: 86_400,
        };
        assert!(matches!(
            resign(&request),
            Err(ResignError::NotAPackageFile { .. })
        ));
        assert!(!index.join(path::signed_file(&rel)).exists());
    }
}
