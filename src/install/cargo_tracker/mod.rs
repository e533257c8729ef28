//! cargo's install tracker (`.crates.toml` v1 and `.crates2.json` v2), read and written exactly
//! as cargo's `InstallTracker` does, so `cargo install --list` and `cargo uninstall` see what
//! quickinstall installed.
//!
//! Both files are locked (`.crates.toml` first, cargo's order) before they are read, and rewritten
//! in place while the lock is held: a temp file and rename would leave a cargo waiting on the
//! lock holding the old inode, and one writer's entry would be lost. Unknown keys survive a
//! rewrite. This module does not decide what to install; it only records it.

mod listing;
mod locked_file;
mod package_id;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::describe;
use super::tracker_journal;
use listing::{ListingV1, ListingV2};
use locked_file::LockedFile;
pub use package_id::{CRATES_IO_SOURCE, PackageId, PackageIdError};

/// Why the tracker could not be read or written. Each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TrackerError {
    #[error("could not create the install root `{path}`: {}", describe(source))]
    CreateRoot { path: PathBuf, source: io::Error },
    #[error(
        "could not open cargo's install tracker `{path}`: {}",
        describe(source)
    )]
    Open { path: PathBuf, source: io::Error },
    #[error(
        "could not lock cargo's install tracker `{path}`: {}",
        describe(source)
    )]
    Lock { path: PathBuf, source: io::Error },
    #[error(
        "could not read cargo's install tracker `{path}`: {}",
        describe(source)
    )]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "cargo's install tracker `{path}` is corrupt ({reason}); move it aside (for example to `{path}.broken`) and run the command again"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "could not write cargo's install tracker `{path}`: {}",
        describe(source)
    )]
    Write { path: PathBuf, source: io::Error },
}

/// cargo's install tracker for one install root. Both files stay open and exclusively locked
/// while this value lives, so no cargo or quickinstall can change them in between.
#[derive(Debug)]
pub struct CargoTracker {
    v1: ListingV1,
    v2: ListingV2,
    v1_file: LockedFile,
    v2_file: LockedFile,
}

impl CargoTracker {
    /// Opens (creating if needed) and locks `<root>/.crates.toml` then `<root>/.crates2.json`,
    /// blocking while another process holds them, then reads both. An empty file is an empty
    /// listing.
    pub fn load(root: &Path) -> Result<Self, TrackerError> {
        Self::load_with(root, &|_| {})
    }

    /// [`Self::load`], calling `on_wait` (once per file) when another process holds the lock,
    /// so the caller can say why it is waiting, as cargo does ("Blocking waiting for file lock").
    pub fn load_with(root: &Path, on_wait: &dyn Fn(&Path)) -> Result<Self, TrackerError> {
        fs::create_dir_all(root).map_err(|source| TrackerError::CreateRoot {
            path: root.to_owned(),
            source,
        })?;
        let mut v1_file = LockedFile::open(root.join(".crates.toml"), on_wait)?;
        let mut v2_file = LockedFile::open(root.join(".crates2.json"), on_wait)?;
        // Under both locks: undo a rewrite a crash or a full disk cut short.
        v1_file.recover(&|b| {
            std::str::from_utf8(b).is_ok_and(|t| toml::from_str::<ListingV1>(t).is_ok())
        })?;
        v2_file.recover(&|b| serde_json::from_slice::<ListingV2>(b).is_ok())?;

        let v1_text = v1_file.read_all()?;
        let v1: ListingV1 = if v1_text.is_empty() {
            ListingV1::default()
        } else {
            toml::from_str(&v1_text).map_err(|e| v1_file.corrupt(e.message()))?
        };
        let v2_text = v2_file.read_all()?;
        let mut v2: ListingV2 = if v2_text.is_empty() {
            ListingV2::default()
        } else {
            serde_json::from_str(&v2_text).map_err(|e| v2_file.corrupt(&e.to_string()))?
        };
        v2.sync_v1(&v1);
        Ok(Self {
            v1,
            v2,
            v1_file,
            v2_file,
        })
    }

    /// Every installed version of the package `name`, from any source, in cargo's order.
    pub fn installed_versions(&self, name: &str) -> Vec<PackageId> {
        self.v2
            .installs
            .keys()
            .filter(|id| id.name() == name)
            .cloned()
            .collect()
    }

    /// The package that installed the binary `bin`, like cargo's `package_for_bin`.
    pub fn owner_of(&self, bin: &str) -> Option<PackageId> {
        self.v2
            .installs
            .iter()
            .find(|(_, info)| info.bins.contains(bin))
            .map(|(id, _)| id.clone())
    }

    /// The binaries recorded for `id` (empty when it is not installed).
    pub fn bins_of(&self, id: &PackageId) -> BTreeSet<String> {
        self.v1.v1.get(id).cloned().unwrap_or_default()
    }

    /// Records that `id` installed `bins`, as `cargo install --release` would: the binaries are
    /// taken from any package that had them, packages left with none are dropped.
    pub fn mark_installed(
        &mut self,
        id: &PackageId,
        bins: &BTreeSet<String>,
        version_req: Option<String>,
        target: &str,
        rustc: Option<String>,
    ) {
        self.v2.mark_installed(id, bins, version_req, target, rustc);
        self.v1.mark_installed(id, bins);
    }

    /// Forgets `id` entirely (an older version's entry, after an upgrade replaced its binaries).
    pub fn remove_package(&mut self, id: &PackageId) {
        self.v1.v1.remove(id);
        self.v2.installs.remove(id);
    }

    /// Rewrites both files in place (still locked): `.crates.toml` as `toml::to_string_pretty`,
    /// `.crates2.json` as compact JSON, each synced to disk.
    pub fn save(&mut self) -> Result<(), TrackerError> {
        let v1_text = toml::to_string_pretty(&self.v1).map_err(|e| TrackerError::Write {
            path: self.v1_file.path.clone(),
            source: io::Error::other(e),
        })?;
        let v2_text = serde_json::to_string(&self.v2).map_err(|e| TrackerError::Write {
            path: self.v2_file.path.clone(),
            source: io::Error::other(e),
        })?;
        // Both journalled and both sizes reserved before either is overwritten: a full disk
        // then fails before anything changed, and a crash leaves journals to restore from.
        let v1_old = self.v1_file.prepare(v1_text.as_bytes())?;
        if let Err(e) = self.v2_file.prepare(v2_text.as_bytes()) {
            self.v1_file.abandon(&v1_old);
            return Err(e);
        }
        self.v1_file.commit(v1_text.as_bytes())?;
        self.v2_file.commit(v2_text.as_bytes())?;
        tracker_journal::remove_journal(&self.v1_file.path);
        tracker_journal::remove_journal(&self.v2_file.path);
        Ok(())
    }
}

/// What is installed under `root` according to `.crates.toml`, read without creating or
/// locking anything: a hint for skipping needless downloads (and for `--dry-run`), always
/// re-checked under the lock before anything changes. Unreadable means empty.
pub fn installed_snapshot(root: &Path) -> Vec<(PackageId, BTreeSet<String>)> {
    fs::read_to_string(root.join(".crates.toml"))
        .ok()
        .and_then(|text| toml::from_str::<ListingV1>(&text).ok())
        .map(|listing| listing.v1.into_iter().collect())
        .unwrap_or_default()
}
