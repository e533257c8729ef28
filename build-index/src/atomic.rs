//! Atomic file writes: a temp file in the destination directory, written, synced, renamed.
//!
//! A reader of the index (or of `--out`) never sees a half-written file, and an error never
//! leaves a partial one behind: the temp file is removed when it is dropped unpersisted. This
//! module knows nothing about what the bytes mean.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;

use tempfile::NamedTempFile;

/// Opens (creating it if missing) the lock file at `path` and takes an exclusive lock on it,
/// blocking until it is free; the lock is released when the returned file is dropped. A
/// separate lock file rather than the data file itself: data files are replaced by rename, and
/// a lock on a replaced inode would not exclude the next writer.
pub fn lock_file(path: &Path) -> io::Result<File> {
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    lock.lock()?;
    Ok(lock)
}

/// Writes `bytes` to `path` atomically with mode 0644 (index files are public).
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_from(path, &mut &bytes[..], 0o644)
}

/// Copies the file at `src` to `dst` atomically, streaming, with mode 0644.
pub fn copy(src: &Path, dst: &Path) -> io::Result<()> {
    let mut file = File::open(src)?;
    write_from(dst, &mut file, 0o644)
}

/// Streams `reader` into `path` atomically, with `mode`.
pub fn write_from(path: &Path, reader: &mut dyn Read, mode: u32) -> io::Result<()> {
    let mut tmp = temp_beside(path)?;
    io::copy(reader, &mut tmp)?;
    finish(tmp, path, mode)
}

/// A temp file in `path`'s directory (created if missing), named so it is recognisable as
/// one; it is deleted when dropped unless [`finish`] renames it.
pub fn temp_beside(path: &Path) -> io::Result<NamedTempFile> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)
}

/// Syncs, sets `mode` and renames a temp file from [`temp_beside`] onto `path`.
pub fn finish(tmp: NamedTempFile, path: &Path, mode: u32) -> io::Result<()> {
    tmp.as_file().flush()?;
    set_mode(tmp.as_file(), mode)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Unix permission bits; other platforms (Windows build runners) have none to set.
#[cfg(unix)]
fn set_mode(file: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &File, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_the_bytes_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/a.json");
        write(&path, b"one").unwrap();
        write(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.json"]);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("boom"))
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        assert!(write_from(&path, &mut Broken, 0o644).is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
