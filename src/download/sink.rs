//! Where one archive download's bytes go: a [`FileSink`] writes `<dir>/<name>.partial` and
//! renames it to `<dir>/<name>` once the bytes pass their check (every other way out — an error,
//! a retry, a panic — removes it); a [`MemorySink`] keeps a small archive in a buffer instead.
//! The sink's type fixes what a download hands back: a path, or the bytes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::error::Failure;
use super::write_failure;

/// A destination for one download, written afresh by each attempt (a retry starts over).
pub(super) trait Sink {
    /// What a download hands back once its bytes pass their check.
    type Output;
    /// What a check that cannot stream reads back once the last byte is in.
    type Written: ?Sized;
    /// One attempt's bytes as they arrive.
    type Attempt;

    /// Starts an attempt of at most `limit` bytes.
    fn start(&self, limit: u64) -> Result<Self::Attempt, Failure>;
    /// Appends the next chunk.
    fn write(attempt: &mut Self::Attempt, chunk: &[u8]) -> Result<(), Failure>;
    /// Everything the attempt has written so far.
    fn written(attempt: &Self::Attempt) -> &Self::Written;
    /// Hands the attempt's bytes over; called only once they have passed their check.
    fn finish(&self, attempt: Self::Attempt) -> Result<Self::Output, Failure>;
}

/// `partial`, renamed to `dest` once checked.
pub(super) struct FileSink {
    pub(super) partial: PathBuf,
    pub(super) dest: PathBuf,
}

impl Sink for FileSink {
    type Output = PathBuf;
    type Written = Path;
    type Attempt = Partial;

    fn start(&self, _limit: u64) -> Result<Partial, Failure> {
        Partial::create(&self.partial)
    }

    fn write(attempt: &mut Partial, chunk: &[u8]) -> Result<(), Failure> {
        attempt.write(chunk)
    }

    fn written(attempt: &Partial) -> &Path {
        &attempt.path
    }

    fn finish(&self, attempt: Partial) -> Result<PathBuf, Failure> {
        attempt.persist(&self.dest)?;
        Ok(self.dest.clone())
    }
}

/// A buffer, for a small archive whose exact size is known: no file to create, write, read
/// back and delete.
pub(super) struct MemorySink;

impl Sink for MemorySink {
    type Output = Vec<u8>;
    type Written = [u8];
    type Attempt = Vec<u8>;

    fn start(&self, limit: u64) -> Result<Vec<u8>, Failure> {
        // The limit is the exact size, at most `IN_MEMORY_MAX`: one allocation, no regrowth.
        Ok(Vec::with_capacity(usize::try_from(limit).unwrap_or(0)))
    }

    fn write(attempt: &mut Vec<u8>, chunk: &[u8]) -> Result<(), Failure> {
        attempt.extend_from_slice(chunk);
        Ok(())
    }

    fn written(attempt: &Vec<u8>) -> &[u8] {
        attempt
    }

    fn finish(&self, attempt: Vec<u8>) -> Result<Vec<u8>, Failure> {
        Ok(attempt)
    }
}

/// The `.partial` file being written; removed on drop unless persisted, so no failure path
/// (error, retry or panic) leaves it behind.
pub(super) struct Partial {
    /// `None` once closed: Windows cannot rename or remove a file that is still open.
    file: Option<File>,
    path: PathBuf,
    persisted: bool,
}

impl Partial {
    fn create(path: &Path) -> Result<Self, Failure> {
        let io_error = |e| write_failure(path, e);
        // A `.partial` from an interrupted earlier run is ours to replace.
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(e)),
        }
        // `create_new`: if someone else creates it between the remove and here, fail rather
        // than interleave writes with them.
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io_error)?;
        Ok(Self {
            file: Some(file),
            path: path.to_owned(),
            persisted: false,
        })
    }

    fn write(&mut self, chunk: &[u8]) -> Result<(), Failure> {
        match &mut self.file {
            Some(file) => file
                .write_all(chunk)
                .map_err(|e| write_failure(&self.path, e)),
            None => Ok(()),
        }
    }

    fn persist(mut self, dest: &Path) -> Result<(), Failure> {
        // No fsync: a downloaded archive is read back (from the page cache) and deleted within
        // the same run, and any archive kept for later is re-verified before use, so a copy
        // torn by a crash is caught rather than trusted. Skipping it saves a disk flush per
        // crate; the binaries themselves are synced before they are renamed into place.
        drop(self.file.take());
        fs::rename(&self.path, dest).map_err(|e| write_failure(dest, e))?;
        self.persisted = true;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        drop(self.file.take());
        if !self.persisted {
            // Best effort: the error being returned matters more than a failed cleanup.
            let _ = fs::remove_file(&self.path);
        }
    }
}
