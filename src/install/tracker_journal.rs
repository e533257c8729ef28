//! Crash safety for cargo's install tracker, which must be rewritten in place.
//!
//! cargo locks `.crates.toml` and `.crates2.json` themselves and rewrites them in place, so a
//! temp file and rename is not an option (a waiting cargo would keep the old inode). In place is
//! not crash-safe by itself: a SIGKILL or a full disk between the truncate and the end of the
//! write leaves half a file. So, as a database protects an in-place page write:
//!
//! 1. the previous bytes go to a journal beside the file (`<file>.quickinstall-journal`,
//!    written to a temp name, synced, renamed, directory synced): it exists only complete;
//! 2. the new size is reserved before anything is overwritten, by appending spaces (trailing
//!    whitespace is valid TOML and JSON, so the file still parses) and syncing: a full disk
//!    fails here, with the old content intact;
//! 3. the new bytes are written from offset 0, the file cut to their length and synced;
//! 4. the journal is removed.
//!
//! The next run, once it holds the locks, calls [`recover`]: a journal next to a file that does
//! not parse is copied back (the crash hit step 3); next to a file that parses it is dropped
//! (the rewrite finished, or cargo has rewritten the file since).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Where the journal of `path` lives.
pub fn journal_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".quickinstall-journal");
    path.with_file_name(name)
}

/// The file's current bytes, read from offset 0.
pub fn read_all(file: &mut File) -> io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(0))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Step 1: the previous bytes of `path`, durably beside it.
pub fn write_journal(path: &Path, previous: &[u8]) -> io::Result<()> {
    let journal = journal_path(path);
    let mut tmp_name = journal.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = journal.with_file_name(tmp_name);
    let mut out = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    let written = out.write_all(previous).and_then(|()| out.sync_all());
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, &journal)?;
    sync_parent(path);
    Ok(())
}

/// Step 2: grows `file` (now `current` bytes long) to at least `len` with trailing spaces, and
/// syncs. On failure the file is cut back to `current`: still the old content.
pub fn reserve(file: &mut File, current: u64, len: u64) -> io::Result<()> {
    if len <= current {
        return Ok(());
    }
    let grown = (|| {
        file.seek(SeekFrom::Start(current))?;
        let pad = vec![b' '; usize::try_from(len - current).unwrap_or(usize::MAX)];
        file.write_all(&pad)?;
        file.sync_data()
    })();
    if grown.is_err() {
        let _ = file.set_len(current);
        let _ = file.sync_data();
    }
    grown
}

/// Step 3: `bytes` over the reserved file, cut to length and synced.
pub fn overwrite(file: &mut File, bytes: &[u8]) -> io::Result<()> {
    file.seek(SeekFrom::Start(0))?;
    file.write_all(bytes)?;
    file.set_len(bytes.len() as u64)?;
    // cargo does not sync; a tracker found full of NUL bytes after a crash
    // (rust-lang/cargo#2836) is why we do.
    file.sync_all()
}

/// Step 4: the rewrite is durable, the journal no longer needed.
pub fn remove_journal(path: &Path) {
    let _ = fs::remove_file(journal_path(path));
    sync_parent(path);
}

/// Replays the journal of `path` (whose locked handle is `file`) if a crash left one: when the
/// current content does not `parse`, the journal's bytes are written back. Returns whether it
/// restored anything. Called with the lock held.
pub fn recover(file: &mut File, path: &Path, parses: &dyn Fn(&[u8]) -> bool) -> io::Result<bool> {
    let journal = journal_path(path);
    let previous = match fs::read(&journal) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let current = read_all(file)?;
    let restore = !parses(&current) && parses(&previous);
    if restore {
        reserve(file, current.len() as u64, previous.len() as u64)?;
        overwrite(file, &previous)?;
    }
    remove_journal(path);
    Ok(restore)
}

/// Makes a rename or removal in `path`'s directory durable. Best effort; Unix only (Windows
/// cannot open a directory as a file, and its renames are journaled by NTFS).
#[cfg(unix)]
fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent() {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
}

#[cfg(not(unix))]
fn sync_parent(_path: &Path) {}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md)
mod tests {
    use super::*;

    fn open(path: &Path) -> File {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .unwrap()
    }

    fn is_json(bytes: &[u8]) -> bool {
        serde_json::from_slice::<serde_json::Value>(bytes).is_ok()
    }

    #[test]
    fn a_journal_beside_a_torn_file_restores_the_previous_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".crates2.json");
        let old = br#"{"installs":{"a":1}}"#;
        fs::write(&path, &old[..7]).unwrap();
        write_journal(&path, old).unwrap();
        assert!(recover(&mut open(&path), &path, &is_json).unwrap());
        assert_eq!(fs::read(&path).unwrap(), old);
        assert!(!journal_path(&path).exists());
    }

    #[test]
    fn a_journal_beside_a_whole_file_is_dropped_not_replayed() {
        // The rewrite finished (or cargo rewrote the file since): keep what is there.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".crates2.json");
        fs::write(&path, br#"{"installs":{"new":1}}"#).unwrap();
        write_journal(&path, br#"{"installs":{}}"#).unwrap();
        assert!(!recover(&mut open(&path), &path, &is_json).unwrap());
        assert_eq!(fs::read(&path).unwrap(), br#"{"installs":{"new":1}}"#);
        assert!(!journal_path(&path).exists());
    }

    #[test]
    fn reserving_keeps_the_old_content_parseable_and_a_rewrite_ends_exact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        fs::write(&path, b"{}").unwrap();
        let mut file = open(&path);
        reserve(&mut file, 2, 40).unwrap();
        let grown = fs::read(&path).unwrap();
        assert_eq!(grown.len(), 40);
        assert!(is_json(&grown));
        overwrite(&mut file, br#"{"a":[1,2,3]}"#).unwrap();
        assert_eq!(fs::read(&path).unwrap(), br#"{"a":[1,2,3]}"#);
    }
}
