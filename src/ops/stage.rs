//! Downloading a verified release and unpacking it into a staging directory: the part of an
//! install that `cargo quickinstall` and `gquick` share, and that may run for many packages at
//! once because it touches nothing a user sees.

use std::path::Path;

use tempfile::TempDir;

use crate::download::{Fetcher, Location};
use crate::error::{CrateError, Subject};
use crate::index::format::Release;
use crate::report::Reporter;
use crate::unpack::{StagedBinary, unpack_selected};

/// Downloads `release` from `location` (size and sha256 checked while streaming) into a
/// temporary directory inside `root`, then unpacks the `wanted` binaries (a subset of the
/// release's) into a staging directory there. The directory lives as long as the returned
/// [`TempDir`]; inside `root` means the same file system as `root/bin`, so installing is a
/// rename, and a full disk shows up here, before any installed binary is touched.
pub fn stage_release(
    fetcher: &Fetcher,
    reporter: &Reporter,
    root: &Path,
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
    let archive = archive?;
    let staging = dir.path().join("staging");
    std::fs::create_dir(&staging).map_err(prepare)?;
    let binaries =
        unpack_selected(&archive, &staging, &release.binaries, wanted).map_err(|source| {
            CrateError::Unpack {
                subject: Box::new(subject.clone()),
                source,
            }
        })?;
    Ok((dir, binaries))
}
