//! A verified `.tar.gz` archive into a staging directory, by allow-list.
//!
//! Runs after the archive's size and sha256 matched a signed index entry, and still trusts none
//! of its structure: only top-level regular files whose names the index lists are written (with
//! std, mode 0755, nothing else from the header applied); license files are skipped; anything
//! else refuses the whole archive and removes what was written. It never touches the install
//! directory; [`crate::install`] moves the staged files there.

mod entry;
mod guards;
mod tar_gz;
#[cfg(test)]
mod tests;
mod whole;

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use crate::index::format::is_valid_binary_name;
use crate::install::set_executable;

use entry::display_entry_name;
use tar_gz::Unpack;

/// The most bytes an archive's gzip stream may inflate to: every entry (written or skipped),
/// headers, padding and whatever follows the end of the tar.
/// Far above any real tool, low enough that a crafted archive cannot fill the disk.
pub const MAX_UNPACKED_BYTES: u64 = 2 << 30;

/// A binary written into the staging directory, with mode 0755 and synced to disk (the install
/// step links it into place without flushing it again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedBinary {
    /// The file name, as the index lists it.
    pub name: String,
    /// Where it was written (inside the staging directory).
    pub path: PathBuf,
}

/// Why an archive was refused. Each message names the archive and, where there is one, the entry.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The reader's text can quote a header's raw name, so it is escaped like entry names.
    #[error("the archive `{archive}` is corrupt or truncated: {}", display_entry_name(source.to_string().as_bytes()))]
    Corrupt { archive: PathBuf, source: io::Error },
    #[error("the archive `{archive}` holds `{entry}`, {problem}; refusing to unpack it")]
    Entry {
        archive: PathBuf,
        entry: String,
        problem: EntryProblem,
    },
    #[error("the archive `{archive}` does not hold the binary `{name}` that the index lists")]
    MissingBinary { archive: PathBuf, name: String },
    #[error("the archive `{archive}` unpacks to more than {limit} bytes; refusing to unpack it")]
    TooLarge { archive: PathBuf, limit: u64 },
    #[error("could not write `{path}` while unpacking: {source}")]
    Write { path: PathBuf, source: io::Error },
}

impl UnpackError {
    /// What is wrong with the archive, as the end of a sentence whose subject is the archive
    /// (`holds `../x`, a path that climbs out with `..``), for a message that names the archive
    /// by where it came from rather than by the staging file, gone by the time it is read.
    /// `None` for [`Self::Write`]: a local write failure, not the archive's fault.
    pub fn archive_problem(&self) -> Option<String> {
        Some(match self {
            Self::Corrupt { source, .. } => format!(
                "is corrupt or truncated ({})",
                display_entry_name(source.to_string().as_bytes())
            ),
            Self::Entry { entry, problem, .. } => format!("holds `{entry}`, {problem}"),
            Self::MissingBinary { name, .. } => {
                format!("does not hold the binary `{name}` that the index lists")
            }
            Self::TooLarge { limit, .. } => format!("unpacks to more than {limit} bytes"),
            Self::Write { .. } => return None,
        })
    }
}

/// What is wrong with one entry; reads as the end of a sentence about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EntryProblem {
    #[error("an absolute path")]
    Absolute,
    #[error("a path that climbs out with `..`")]
    ParentDir,
    #[error("a path that is not a plain name at the top level")]
    NotTopLevel,
    #[error("a name that is not a plain file name")]
    InvalidName,
    #[error("a symbolic link")]
    Symlink,
    #[error("a hard link")]
    HardLink,
    #[error("a device file")]
    Device,
    #[error("a named pipe")]
    Fifo,
    #[error("a directory")]
    Directory,
    #[error("an entry of a kind this installer does not accept")]
    UnsupportedKind,
    #[error("an entry that appears twice")]
    Duplicate,
    #[error("an unexpected file that the index does not list")]
    Unexpected,
}

/// Unpacks `archive` (a `.tar.gz`) into `staging`, an existing directory that holds no file
/// named like a binary (the archive itself may be there: its name starts with a dot),
/// returning the binaries of `expected_binaries` in that order. On any error, nothing written
/// stays behind.
pub fn unpack_archive(
    archive: &Path,
    staging: &Path,
    expected_binaries: &[String],
) -> Result<Vec<StagedBinary>, UnpackError> {
    unpack_selected(archive, staging, expected_binaries, expected_binaries)
}

/// Like [`unpack_archive`] for an archive holding several commands (a Go module's) of which
/// only `wanted` are to be installed: the other `listed` binaries are accepted and skipped.
pub fn unpack_selected(
    archive: &Path,
    staging: &Path,
    listed: &[String],
    wanted: &[String],
) -> Result<Vec<StagedBinary>, UnpackError> {
    capped(archive, staging, listed, wanted).file()
}

/// [`unpack_selected`] over an archive held in memory (a small one, already verified);
/// `archive` only names it in errors.
pub fn unpack_selected_bytes(
    bytes: &[u8],
    archive: &Path,
    staging: &Path,
    listed: &[String],
    wanted: &[String],
) -> Result<Vec<StagedBinary>, UnpackError> {
    capped(archive, staging, listed, wanted).bytes(bytes)
}

/// An unpack under [`MAX_UNPACKED_BYTES`].
fn capped<'a>(
    archive: &'a Path,
    staging: &'a Path,
    listed: &'a [String],
    wanted: &'a [String],
) -> Unpack<'a> {
    Unpack {
        archive,
        staging,
        listed,
        wanted,
        limit: MAX_UNPACKED_BYTES,
    }
}

/// Stages a release of format `bin` (one raw executable, size and sha256 already checked) under
/// its one binary name: a copy of `file` in `staging`, mode 0755. Nothing is unpacked.
pub fn stage_raw_binary(
    file: &Path,
    staging: &Path,
    name: &str,
) -> Result<Vec<StagedBinary>, UnpackError> {
    if !is_valid_binary_name(name) {
        return Err(UnpackError::Entry {
            archive: file.to_owned(),
            entry: name.to_owned(),
            problem: EntryProblem::InvalidName,
        });
    }
    let path = staging.join(name);
    let write = |source| UnpackError::Write {
        path: path.clone(),
        source,
    };
    fs::copy(file, &path).map_err(write)?;
    let staged = File::options().write(true).open(&path).map_err(write)?;
    set_executable(&staged).map_err(write)?;
    staged.sync_all().map_err(write)?;
    Ok(vec![StagedBinary {
        name: name.to_owned(),
        path,
    }])
}
