//! Downloading a verified release and unpacking it into a staging directory: the part of an
//! install that `cargo quickinstall` and `gquick` share, and that may run for many packages at
//! once because it touches nothing a user sees.
//!
//! With a cache directory, verified archives are kept as `<sha256>.tar.gz`; a cached copy is
//! re-hashed (size and sha256 against the signed entry) before it is used, and replaced by a
//! fresh download when it does not match.

use std::path::Path;

use tempfile::TempDir;

use crate::download::{Fetcher, Location};
use crate::error::{CrateError, Subject};
use crate::index::format::Release;
use crate::report::Reporter;
use crate::unpack::{StagedBinary, stage_raw_binary, unpack_selected};

/// Downloads `release` from `location` (size and sha256 checked while streaming) into a
/// temporary directory inside `root`, then unpacks the `wanted` binaries (a subset of the
/// release's) into a staging directory there. The directory lives as long as the returned
/// [`TempDir`]; inside `root` means the same file system as `root/bin`, so installing is a
/// rename, and a full disk shows up here, before any installed binary is touched.
#[allow(clippy::too_many_arguments)] // each is a distinct input of one step; a struct would only rename them
pub fn stage_release(
    fetcher: &Fetcher,
    reporter: &Reporter,
    root: &Path,
    cache: Option<&Path>,
    subject: &Subject,
    release: &Release,
    location: &Location,
    wanted: &[String],
) -> Result<(TempDir, Vec<StagedBinary>), CrateError> {
    let prepare = |source| CrateError::Prepare {
        path: root.to_owned(),
        source,
    };
    std::fs::create_dir_all(root).map_err(prepare)?;
    let dir = tempfile::Builder::new()
        .prefix(".quickinstall-tmp-")
        .tempdir_in(root)
        .map_err(prepare)?;
    let cached = cache.and_then(|c| cached_archive(c, release));
    let archive = match cached {
        Some(path) => path,
        None => {
            let progress = reporter.download(
                &format!("`{} {}`", subject.name, subject.version),
                release.size,
            );
            let archive = fetcher
                .download_verified(
                    location,
                    dir.path(),
                    "archive.tar.gz",
                    release.size,
                    &release.sha256,
                    &|n| progress.set(n),
                )
                .map_err(|source| CrateError::Download {
                    subject: Box::new(subject.clone()),
                    source,
                });
            progress.finish();
            archive?
        }
    };
    let staging = dir.path().join("staging");
    std::fs::create_dir(&staging).map_err(prepare)?;
    // Format `bin`: the verified file is the one executable, copied in, never unpacked.
    let staged = match release.binaries.first() {
        Some(name) if release.is_bin() => stage_raw_binary(&archive, &staging, name),
        _ => unpack_selected(&archive, &staging, &release.binaries, wanted),
    };
    let binaries = staged.map_err(|source| CrateError::Unpack {
        subject: Box::new(subject.clone()),
        source,
    })?;
    // Cached only once it verified and unpacked: a signed but refused archive is not kept.
    if let Some(cache) = cache.filter(|c| !archive.starts_with(c)) {
        keep_in_cache(cache, &archive, &release.sha256);
    }
    Ok((dir, binaries))
}

/// The cached archive for `release`, if there is one whose size and sha256 still match the
/// signed entry. A copy that does not match is removed.
fn cached_archive(cache: &Path, release: &Release) -> Option<std::path::PathBuf> {
    let path = cache.join(format!("{}.tar.gz", release.sha256));
    let file = std::fs::File::open(&path).ok()?;
    let matches = file.metadata().is_ok_and(|m| m.len() == release.size)
        && sha256_of(file).is_some_and(|sum| sum == release.sha256);
    if matches {
        Some(path)
    } else {
        let _ = std::fs::remove_file(&path);
        None
    }
}

fn sha256_of(mut file: std::fs::File) -> Option<String> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = std::io::Read::read(&mut file, &mut buf).ok()?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Some(
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// Copies a verified archive into the cache (temp file + rename, so a reader never sees half
/// of one). Best effort: a cache that cannot be written only costs a later download.
fn keep_in_cache(cache: &Path, archive: &Path, sha256: &str) {
    let keep = || -> std::io::Result<()> {
        std::fs::create_dir_all(cache)?;
        let mut tmp = tempfile::NamedTempFile::new_in(cache)?;
        std::io::copy(&mut std::fs::File::open(archive)?, tmp.as_file_mut())?;
        tmp.persist(cache.join(format!("{sha256}.tar.gz")))
            .map_err(|e| e.error)?;
        Ok(())
    };
    let _ = keep();
}
