//! One tracker file held open under cargo's exclusive lock, rewritten in place through the
//! crash journal of [`crate::install::tracker_journal`].

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use super::TrackerError;
use crate::install::tracker_journal;

#[derive(Debug)]
pub(super) struct LockedFile {
    pub(super) path: PathBuf,
    file: File,
}

impl LockedFile {
    /// Opens or creates the file, then takes cargo's exclusive lock on it, blocking (after
    /// calling `on_wait` once) while another process holds it.
    pub(super) fn open(path: PathBuf, on_wait: &dyn Fn(&Path)) -> Result<Self, TrackerError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path);
        let file = match file {
            Ok(file) => file,
            Err(source) => return Err(TrackerError::Open { path, source }),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                on_wait(&path);
                if let Err(source) = file.lock() {
                    return Err(TrackerError::Lock { path, source });
                }
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(TrackerError::Lock { path, source });
            }
        }
        Ok(Self { path, file })
    }

    pub(super) fn read_all(&mut self) -> Result<String, TrackerError> {
        // From offset 0: a journal replay may have moved the position.
        let bytes =
            tracker_journal::read_all(&mut self.file).map_err(|source| TrackerError::Read {
                path: self.path.clone(),
                source,
            })?;
        // Neither TOML nor JSON allows a raw NUL, so this only names the likely cause.
        if bytes.contains(&0) {
            return Err(self.corrupt("it holds NUL bytes, as a crash during a write can leave"));
        }
        String::from_utf8(bytes).map_err(|_| self.corrupt("it is not UTF-8 text"))
    }

    pub(super) fn corrupt(&self, reason: &str) -> TrackerError {
        TrackerError::Corrupt {
            path: self.path.clone(),
            reason: reason.trim().to_owned(),
        }
    }

    fn write_error(&self, source: io::Error) -> TrackerError {
        TrackerError::Write {
            path: self.path.clone(),
            source,
        }
    }

    /// Replays a journal left by a crash (see [`tracker_journal`]).
    pub(super) fn recover(&mut self, parses: &dyn Fn(&[u8]) -> bool) -> Result<(), TrackerError> {
        tracker_journal::recover(&mut self.file, &self.path, parses)
            .map(|_| ())
            .map_err(|e| self.write_error(e))
    }

    /// Journals the current bytes and reserves room for `bytes`; returns the current bytes.
    /// On failure the file is as it was and no journal is left.
    pub(super) fn prepare(&mut self, bytes: &[u8]) -> Result<Vec<u8>, TrackerError> {
        let old =
            tracker_journal::read_all(&mut self.file).map_err(|source| TrackerError::Read {
                path: self.path.clone(),
                source,
            })?;
        tracker_journal::write_journal(&self.path, &old).map_err(|e| self.write_error(e))?;
        if let Err(e) =
            tracker_journal::reserve(&mut self.file, old.len() as u64, bytes.len() as u64)
        {
            tracker_journal::remove_journal(&self.path);
            return Err(self.write_error(e));
        }
        Ok(old)
    }

    /// Undoes [`Self::prepare`]: the old length back, the journal gone.
    pub(super) fn abandon(&mut self, old: &[u8]) {
        let _ = self.file.set_len(old.len() as u64);
        let _ = self.file.sync_all();
        tracker_journal::remove_journal(&self.path);
    }

    /// Overwrites the prepared file in place; the lock is held, so no reader sees it half
    /// written, and the journal covers a crash.
    pub(super) fn commit(&mut self, bytes: &[u8]) -> Result<(), TrackerError> {
        tracker_journal::overwrite(&mut self.file, bytes).map_err(|e| self.write_error(e))
    }
}
