//! Temp dirs named after the process that made them, `<prefix><pid>-<random>`, so that one a
//! run left behind is removed by a later run once it is stale. A `TempDir` removes itself when
//! dropped, but a SIGKILL or a power loss skips the drop, and so does the end of the process
//! while a download that is no longer needed is still running on its own thread.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

/// A temp dir younger than this is never removed by another run: its owner may still be starting.
const STALE_AFTER: Duration = Duration::from_secs(5 * 60);

/// Where the owner cannot be checked (no `/proc`), or the name holds no pid (older clients), a
/// temp dir is removed only after this long.
const ABANDONED_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// A new `<prefix><pid>-<random>` directory in `parent` (which must exist), after removing the
/// stale ones earlier runs left there (once per `parent` and `prefix` in a process).
pub(crate) fn owned_in(parent: &Path, prefix: &str) -> io::Result<TempDir> {
    remove_stale(parent, prefix);
    tempfile::Builder::new()
        .prefix(&format!("{prefix}{}-", std::process::id()))
        .tempdir_in(parent)
}

/// Removes the `<prefix>…` directories of `parent` older than [`STALE_AFTER`] whose owner
/// process is gone, and any older than [`ABANDONED_AFTER`] whose owner cannot be told. Once per
/// `parent` and `prefix` in a process (a run staging ten packages reads the directory once).
/// Best effort, never an error.
fn remove_stale(parent: &Path, prefix: &str) {
    static SWEPT: std::sync::Mutex<Vec<(PathBuf, String)>> = std::sync::Mutex::new(Vec::new());
    match SWEPT.lock() {
        Ok(mut swept) if !swept.iter().any(|(p, x)| p == parent && x == prefix) => {
            swept.push((parent.to_owned(), prefix.to_owned()));
        }
        _ => return,
    }
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        // Not followed: a symlink named like ours is not ours.
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
            continue;
        };
        let age = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .unwrap_or_default();
        if !meta.is_dir() || age < STALE_AFTER {
            continue;
        }
        let owner = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        let gone = match owner.map(process_is_alive) {
            Some(Some(alive)) => !alive,
            _ => age >= ABANDONED_AFTER,
        };
        if gone {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether process `pid` exists, where the system can say (Linux's `/proc`).
fn process_is_alive(pid: u32) -> Option<bool> {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return None;
    }
    Some(pid == std::process::id() || proc.join(pid.to_string()).exists())
}
