//! Rollback protection: the newest signature time seen for each index file.
//!
//! A signed but *old* index file (say, one listing a version with a known hole) is still validly
//! signed. The trusted comment carries the signing time; this store remembers the newest time
//! seen per index and path, and a file signed earlier than that is refused. Kept in
//! `<cargo home>/.quickinstall/seen.json`, updated under a lock with temp + rename.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The store's location and a read of it.
#[derive(Debug, Clone)]
pub struct SeenStore {
    dir: PathBuf,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "the index file `{path}` was signed at {found}, before the copy this machine already saw (signed at {seen}); a mirror or attacker may be serving an old index"
)]
pub struct RollbackError {
    pub path: String,
    pub seen: u64,
    pub found: u64,
}

impl SeenStore {
    pub fn new(state_dir: &Path) -> Self {
        Self {
            dir: state_dir.to_owned(),
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.join("seen.json")
    }

    fn key(index: &str, path: &str) -> String {
        format!("{}|{path}", index.trim_end_matches('/'))
    }

    fn read(&self) -> BTreeMap<String, u64> {
        fs::read(self.file())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Refuses `timestamp` when an index file signed later was already seen.
    pub fn check(&self, index: &str, path: &str, timestamp: u64) -> Result<(), RollbackError> {
        match self.read().get(&Self::key(index, path)) {
            Some(&seen) if timestamp < seen => Err(RollbackError {
                path: path.to_owned(),
                seen,
                found: timestamp,
            }),
            _ => Ok(()),
        }
    }

    /// Records `timestamp` as seen (keeping the newest). Best effort: failing to remember only
    /// weakens a later rollback check, it never blocks an install.
    pub fn record(&self, index: &str, path: &str, timestamp: u64) {
        let _ = self.try_record(index, path, timestamp);
    }

    fn try_record(&self, index: &str, path: &str, timestamp: u64) -> std::io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join("seen.lock"))?;
        lock.lock()?;
        let mut map = self.read();
        let entry = map.entry(Self::key(index, path)).or_insert(0);
        if *entry >= timestamp {
            return Ok(());
        }
        *entry = timestamp;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        // Not synced: losing the newest mark in a crash only weakens one later rollback check,
        // and a flush per install would cost more than the check is worth.
        tmp.write_all(&serde_json::to_vec_pretty(&map).unwrap_or_default())?;
        tmp.persist(self.file()).map_err(|e| e.error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_older_signatures_once_a_newer_one_was_seen() {
        let dir = tempfile::tempdir().unwrap();
        let store = SeenStore::new(&dir.path().join("state"));
        assert!(store.check("http://i/", "crates/1/a.json", 5).is_ok());
        store.record("http://i/", "crates/1/a.json", 10);
        assert!(store.check("http://i", "crates/1/a.json", 10).is_ok());
        assert!(store.check("http://i/", "crates/1/a.json", 11).is_ok());
        let err = store.check("http://i/", "crates/1/a.json", 9).unwrap_err();
        assert_eq!((err.seen, err.found), (10, 9));
        // Another index or path is tracked separately.
        assert!(store.check("http://j/", "crates/1/a.json", 1).is_ok());
        assert!(store.check("http://i/", "crates/1/b.json", 1).is_ok());
        // Recording an older time never lowers the mark.
        store.record("http://i/", "crates/1/a.json", 3);
        assert!(store.check("http://i/", "crates/1/a.json", 9).is_err());
    }
}
