//! Rollback protection: the newest signature time seen for each index file.
//!
//! A signed but *old* index file (say, one listing a version with a known hole) is still validly
//! signed. The trusted comment carries the signing time; this store remembers the newest time
//! seen per index and path, and a file signed earlier than that is refused. Kept in
//! `<cargo home>/.quickinstall/seen.json`: read once per run, and the marks a run makes are
//! written together ([`SeenStore::flush`], or when the store is dropped) under a lock with
//! temp + rename, merged with what other runs wrote meanwhile.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The store's location, its content as this run first read it, and the marks this run made
/// that are not written yet.
#[derive(Debug)]
pub struct SeenStore {
    dir: PathBuf,
    on_disk: OnceLock<BTreeMap<String, u64>>,
    pending: Mutex<BTreeMap<String, u64>>,
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
            on_disk: OnceLock::new(),
            pending: Mutex::new(BTreeMap::new()),
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

    /// The newest time known for `key`: on disk when this run started, or marked since.
    fn newest(&self, key: &str) -> Option<u64> {
        let on_disk = self.on_disk.get_or_init(|| self.read()).get(key).copied();
        let pending = self.pending.lock().ok()?.get(key).copied();
        on_disk.max(pending)
    }

    /// Refuses `timestamp` when an index file signed later was already seen.
    pub fn check(&self, index: &str, path: &str, timestamp: u64) -> Result<(), RollbackError> {
        match self.newest(&Self::key(index, path)) {
            Some(seen) if timestamp < seen => Err(RollbackError {
                path: path.to_owned(),
                seen,
                found: timestamp,
            }),
            _ => Ok(()),
        }
    }

    /// Marks `timestamp` as seen (keeping the newest); written by [`SeenStore::flush`].
    pub fn record(&self, index: &str, path: &str, timestamp: u64) {
        let key = Self::key(index, path);
        if self.newest(&key).is_some_and(|seen| seen >= timestamp) {
            return;
        }
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(key, timestamp);
        }
    }

    /// Writes the marks made so far, once for all of them. Best effort: failing to remember
    /// only weakens a later rollback check, it never blocks an install.
    pub fn flush(&self) {
        let marks = match self.pending.lock() {
            Ok(mut pending) if !pending.is_empty() => std::mem::take(&mut *pending),
            _ => return,
        };
        let _ = self.write(&marks);
    }

    fn write(&self, marks: &BTreeMap<String, u64>) -> std::io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join("seen.lock"))?;
        lock.lock()?;
        // Merged with what is on disk now: another run may have written since this one read.
        let mut map = self.read();
        let mut changed = false;
        for (key, &timestamp) in marks {
            let entry = map.entry(key.clone()).or_insert(0);
            if *entry < timestamp {
                *entry = timestamp;
                changed = true;
            }
        }
        if !changed {
            return Ok(());
        }
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        // Not synced: losing the newest mark in a crash only weakens one later rollback check,
        // and a flush per install would cost more than the check is worth.
        tmp.write_all(&serde_json::to_vec_pretty(&map).unwrap_or_default())?;
        tmp.persist(self.file()).map_err(|e| e.error)?;
        Ok(())
    }
}

impl Drop for SeenStore {
    fn drop(&mut self) {
        self.flush();
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

    #[test]
    fn marks_are_written_once_at_flush_and_read_by_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let store = SeenStore::new(&state);
        store.record("http://i/", "crates/1/a.json", 10);
        store.record("http://i/", "crates/1/b.json", 20);
        // Nothing written per mark: one write for the run.
        assert!(!state.join("seen.json").exists());
        store.flush();
        let next = SeenStore::new(&state);
        assert!(next.check("http://i/", "crates/1/a.json", 9).is_err());
        assert!(next.check("http://i/", "crates/1/b.json", 19).is_err());
        // Dropping a store writes what it still holds.
        next.record("http://i/", "crates/1/c.json", 30);
        drop(next);
        assert!(
            SeenStore::new(&state)
                .check("http://i/", "crates/1/c.json", 29)
                .is_err()
        );
    }

    #[test]
    fn a_flush_keeps_newer_marks_another_run_wrote_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let first = SeenStore::new(&state);
        let second = SeenStore::new(&state);
        // Both read the (empty) file before either writes.
        assert!(first.check("http://i/", "crates/1/a.json", 1).is_ok());
        assert!(second.check("http://i/", "crates/1/a.json", 1).is_ok());
        second.record("http://i/", "crates/1/a.json", 50);
        second.flush();
        first.record("http://i/", "crates/1/a.json", 40);
        first.record("http://i/", "crates/1/b.json", 5);
        first.flush();
        let after = SeenStore::new(&state);
        assert_eq!(
            after.newest(&SeenStore::key("http://i/", "crates/1/a.json")),
            Some(50)
        );
        assert_eq!(
            after.newest(&SeenStore::key("http://i/", "crates/1/b.json")),
            Some(5)
        );
    }
}
