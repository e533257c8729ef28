//! cargo's install tracker (`.crates.toml` v1 and `.crates2.json` v2), read and written exactly
//! as cargo's `InstallTracker` does, so `cargo install --list` and `cargo uninstall` see what
//! quickinstall installed.
//!
//! Both files are locked (`.crates.toml` first, cargo's order) before they are read, and rewritten
//! in place while the lock is held: a temp file and rename would leave a cargo waiting on the
//! lock holding the old inode, and one writer's entry would be lost. Unknown keys survive a
//! rewrite. This module does not decide what to install; it only records it.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::describe;
use super::tracker_journal;

/// The source id cargo records for crates.io, whichever protocol fetched the index.
pub const CRATES_IO_SOURCE: &str = "registry+https://github.com/rust-lang/crates.io-index";

/// cargo's package id as it appears in the tracker: `"<name> <version> (<source id>)"`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PackageId {
    name: String,
    version: semver::Version,
    source: String,
}

/// Why a string is not a package id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a cargo package id (`<name> <version> (<source>)`)")]
pub struct PackageIdError(String);

impl PackageId {
    /// A package from the source `source` (e.g. [`CRATES_IO_SOURCE`], `sparse+https://…/`).
    pub fn new(name: &str, version: semver::Version, source: &str) -> Self {
        Self {
            name: name.to_owned(),
            version,
            source: source.to_owned(),
        }
    }

    /// A package from crates.io.
    pub fn crates_io(name: &str, version: semver::Version) -> Self {
        Self::new(name, version, CRATES_IO_SOURCE)
    }

    /// A package from an alternative registry reached over the sparse protocol; `index_url` is
    /// the registry's index URL without the `sparse+` prefix.
    pub fn sparse_registry(name: &str, version: semver::Version, index_url: &str) -> Self {
        Self::new(name, version, &format!("sparse+{index_url}"))
    }

    /// Parses the tracker's form, as cargo's `Deserialize for PackageId` does.
    pub fn parse(s: &str) -> Result<Self, PackageIdError> {
        let fail = || PackageIdError(s.to_owned());
        let (name, rest) = s.split_once(' ').ok_or_else(fail)?;
        let (version, rest) = rest.split_once(' ').ok_or_else(fail)?;
        let source = rest
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(fail)?;
        let version = semver::Version::parse(version).map_err(|_| fail())?;
        if name.is_empty() || !source.contains('+') {
            return Err(fail());
        }
        Ok(Self::new(name, version, source))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn version(&self) -> &semver::Version {
        &self.version
    }

    /// The source id, e.g. [`CRATES_IO_SOURCE`].
    pub fn source(&self) -> &str {
        &self.source
    }

    /// cargo's `SourceKind` order (path, registry, sparse, local registry, directory, git),
    /// which decides where an entry lands in the file.
    fn source_rank(&self) -> u8 {
        let kinds = [
            "path+",
            "registry+",
            "sparse+",
            "local-registry+",
            "directory+",
            "git+",
        ];
        kinds
            .iter()
            .position(|k| self.source.starts_with(k))
            .and_then(|i| u8::try_from(i).ok())
            .unwrap_or(u8::MAX)
    }
}

impl fmt::Display for PackageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.name, self.version, self.source)
    }
}

impl FromStr for PackageId {
    type Err = PackageIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// cargo's order: name, then version (semver, not text), then source kind and URL. cargo
/// compares canonical URLs after the kind; the recorded URL stands in for it, which only
/// matters when one name and version is installed from two sources of the same kind.
impl Ord for PackageId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.name
            .cmp(&other.name)
            .then_with(|| self.version.cmp(&other.version))
            .then_with(|| self.source_rank().cmp(&other.source_rank()))
            .then_with(|| self.source.cmp(&other.source))
    }
}

impl PartialOrd for PackageId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for PackageId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PackageId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// `.crates.toml`: package id → binary names. cargo keeps no other key here; unknown ones are
/// kept anyway, in case a later cargo adds some.
#[derive(Default, Debug, Deserialize, Serialize)]
struct ListingV1 {
    v1: BTreeMap<PackageId, BTreeSet<String>>,
    #[serde(flatten)]
    other: BTreeMap<String, toml::Value>,
}

/// `.crates2.json`: package id → how it was installed.
#[derive(Default, Debug, Deserialize, Serialize)]
struct ListingV2 {
    installs: BTreeMap<PackageId, InstallInfo>,
    #[serde(flatten)]
    other: BTreeMap<String, serde_json::Value>,
}

/// cargo's `InstallInfo`, field for field and in the same order (the JSON follows it).
#[derive(Debug, Clone, Deserialize, Serialize)]
struct InstallInfo {
    version_req: Option<String>,
    bins: BTreeSet<String>,
    features: BTreeSet<String>,
    all_features: bool,
    no_default_features: bool,
    profile: String,
    target: Option<String>,
    rustc: Option<String>,
    #[serde(flatten)]
    other: BTreeMap<String, serde_json::Value>,
}

impl InstallInfo {
    /// What cargo assumes for an entry only v1 knows about.
    fn from_v1(bins: &BTreeSet<String>) -> Self {
        Self {
            version_req: None,
            bins: bins.clone(),
            features: BTreeSet::new(),
            all_features: false,
            no_default_features: false,
            profile: "release".to_owned(),
            target: None,
            rustc: None,
            other: BTreeMap::new(),
        }
    }
}

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

#[derive(Debug)]
struct LockedFile {
    path: PathBuf,
    file: File,
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
            .filter(|id| id.name == name)
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

impl ListingV1 {
    /// cargo's `CrateListingV1::mark_installed`.
    fn mark_installed(&mut self, id: &PackageId, bins: &BTreeSet<String>) {
        for other_bins in self.v1.values_mut() {
            for bin in bins {
                other_bins.remove(bin);
            }
        }
        self.v1.retain(|_, set| !set.is_empty());
        self.v1
            .entry(id.clone())
            .or_default()
            .extend(bins.iter().cloned());
    }
}

impl ListingV2 {
    /// cargo's `sync_v1`: v1 is the source of truth, since an older cargo may have changed it
    /// alone.
    fn sync_v1(&mut self, v1: &ListingV1) {
        for (id, bins) in &v1.v1 {
            self.installs
                .entry(id.clone())
                .and_modify(|info| info.bins = bins.clone())
                .or_insert_with(|| InstallInfo::from_v1(bins));
        }
        self.installs.retain(|id, _| v1.v1.contains_key(id));
    }

    /// cargo's `CrateListingV2::mark_installed`, for a release build with default features.
    fn mark_installed(
        &mut self,
        id: &PackageId,
        bins: &BTreeSet<String>,
        version_req: Option<String>,
        target: &str,
        rustc: Option<String>,
    ) {
        for info in self.installs.values_mut() {
            for bin in bins {
                info.bins.remove(bin);
            }
        }
        self.installs.retain(|_, info| !info.bins.is_empty());
        let info = self
            .installs
            .entry(id.clone())
            .or_insert_with(|| InstallInfo::from_v1(&BTreeSet::new()));
        info.bins.extend(bins.iter().cloned());
        info.version_req = version_req;
        info.features = BTreeSet::new();
        info.all_features = false;
        info.no_default_features = false;
        info.profile = "release".to_owned();
        info.target = Some(target.to_owned());
        info.rustc = rustc;
    }
}

impl LockedFile {
    /// Opens or creates the file, then takes cargo's exclusive lock on it, blocking (after
    /// calling `on_wait` once) while another process holds it.
    fn open(path: PathBuf, on_wait: &dyn Fn(&Path)) -> Result<Self, TrackerError> {
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

    fn read_all(&mut self) -> Result<String, TrackerError> {
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

    fn corrupt(&self, reason: &str) -> TrackerError {
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
    fn recover(&mut self, parses: &dyn Fn(&[u8]) -> bool) -> Result<(), TrackerError> {
        tracker_journal::recover(&mut self.file, &self.path, parses)
            .map(|_| ())
            .map_err(|e| self.write_error(e))
    }

    /// Journals the current bytes and reserves room for `bytes`; returns the current bytes.
    /// On failure the file is as it was and no journal is left.
    fn prepare(&mut self, bytes: &[u8]) -> Result<Vec<u8>, TrackerError> {
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
    fn abandon(&mut self, old: &[u8]) {
        let _ = self.file.set_len(old.len() as u64);
        let _ = self.file.sync_all();
        tracker_journal::remove_journal(&self.path);
    }

    /// Overwrites the prepared file in place; the lock is held, so no reader sees it half
    /// written, and the journal covers a crash.
    fn commit(&mut self, bytes: &[u8]) -> Result<(), TrackerError> {
        tracker_journal::overwrite(&mut self.file, bytes).map_err(|e| self.write_error(e))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md)
mod tests {
    use std::process::Command;
    use std::sync::{Arc, Barrier};

    use super::*;

    const RUSTC: &str =
        "rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\n";
    const TARGET: &str = "x86_64-unknown-linux-musl";

    fn v(s: &str) -> semver::Version {
        semver::Version::parse(s).unwrap()
    }

    fn bins(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn read(root: &Path, file: &str) -> String {
        fs::read_to_string(root.join(file)).unwrap()
    }

    #[test]
    fn says_when_it_waits_for_another_holder_of_the_lock() {
        let root = tempfile::tempdir().unwrap();
        let holder = CargoTracker::load(root.path()).unwrap();
        let (told, waited) = std::sync::mpsc::channel();
        let root_path = root.path().to_owned();
        let waiter = std::thread::spawn(move || {
            CargoTracker::load_with(&root_path, &|path| {
                told.send(path.to_owned()).unwrap();
            })
            .map(|_| ())
        });
        // The waiter reports the held file before it blocks; only then is the lock released.
        let path = waited.recv().unwrap();
        assert!(path.ends_with(".crates.toml"), "{}", path.display());
        drop(holder);
        waiter.join().unwrap().unwrap();
    }

    #[test]
    fn writes_both_files_byte_for_byte_as_cargo_does() {
        let root = tempfile::tempdir().unwrap();
        let mut tracker = CargoTracker::load(root.path()).unwrap();
        let id = PackageId::crates_io("hello-tool", v("0.1.0"));
        tracker.mark_installed(
            &id,
            &bins(&["hello"]),
            Some("^0.1".into()),
            TARGET,
            Some(RUSTC.into()),
        );
        tracker.save().unwrap();
        assert_eq!(
            read(root.path(), ".crates.toml"),
            "[v1]\n\"hello-tool 0.1.0 (registry+https://github.com/rust-lang/crates.io-index)\" = [\"hello\"]\n"
        );
        assert_eq!(
            read(root.path(), ".crates2.json"),
            concat!(
                r#"{"installs":{"hello-tool 0.1.0 (registry+https://github.com/rust-lang/crates.io-index)":"#,
                r#"{"version_req":"^0.1","bins":["hello"],"features":[],"all_features":false,"#,
                r#""no_default_features":false,"profile":"release","target":"x86_64-unknown-linux-musl","#,
                r#""rustc":"rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\n"}}}"#
            )
        );
    }

    /// Exactly what cargo 1.95 wrote for two `cargo install --path` runs (one crate with two
    /// binaries): reading and saving it unchanged must give the same bytes.
    #[test]
    fn rewrites_a_file_cargo_wrote_unchanged() {
        let v1 = "[v1]\n\"hello-tool 0.1.0 (path+file:///tmp/qi-exp/hello-tool)\" = [\n    \"hello\",\n    \"hello2\",\n]\n\"solo 0.1.0 (path+file:///tmp/qi-exp/solo)\" = [\"solo\"]\n";
        let info = r#"{"version_req":null,"bins":BINS,"features":[],"all_features":false,"no_default_features":false,"profile":"release","target":"x86_64-unknown-linux-gnu","rustc":"rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\ncommit-hash: 59807616e1fa2540724bfbac14d7976d7e4a3860\ncommit-date: 2026-04-14\nhost: x86_64-unknown-linux-gnu\nrelease: 1.95.0\nLLVM version: 22.1.2\n"}"#;
        let v2 = format!(
            r#"{{"installs":{{"hello-tool 0.1.0 (path+file:///tmp/qi-exp/hello-tool)":{},"solo 0.1.0 (path+file:///tmp/qi-exp/solo)":{}}}}}"#,
            info.replace("BINS", r#"["hello","hello2"]"#),
            info.replace("BINS", r#"["solo"]"#)
        );
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join(".crates.toml"), v1).unwrap();
        fs::write(root.path().join(".crates2.json"), &v2).unwrap();
        CargoTracker::load(root.path()).unwrap().save().unwrap();
        assert_eq!(read(root.path(), ".crates.toml"), v1);
        assert_eq!(read(root.path(), ".crates2.json"), v2);
    }

    #[test]
    fn keeps_unknown_keys_across_a_rewrite() {
        let root = tempfile::tempdir().unwrap();
        let id = "a 1.0.0 (registry+https://github.com/rust-lang/crates.io-index)";
        fs::write(
            root.path().join(".crates.toml"),
            format!("future = 1\n\n[v1]\n\"{id}\" = [\"a\"]\n"),
        )
        .unwrap();
        fs::write(
            root.path().join(".crates2.json"),
            format!(
                r#"{{"installs":{{"{id}":{{"version_req":null,"bins":["a"],"features":[],"all_features":false,"no_default_features":false,"profile":"release","target":null,"rustc":null,"pinned":{{"x":[1]}}}}}},"v3_hint":"yes"}}"#
            ),
        )
        .unwrap();
        let mut tracker = CargoTracker::load(root.path()).unwrap();
        tracker.mark_installed(
            &PackageId::crates_io("b", v("2.0.0")),
            &bins(&["b"]),
            None,
            TARGET,
            None,
        );
        tracker.save().unwrap();
        let v1 = read(root.path(), ".crates.toml");
        assert!(v1.contains("future = 1"), "{v1}");
        let v2: serde_json::Value =
            serde_json::from_str(&read(root.path(), ".crates2.json")).unwrap();
        assert_eq!(v2["v3_hint"], "yes");
        assert_eq!(v2["installs"][id]["pinned"]["x"][0], 1);
        assert_eq!(
            v2["installs"]["b 2.0.0 (registry+https://github.com/rust-lang/crates.io-index)"]["target"],
            TARGET
        );
    }

    #[test]
    fn mark_installed_takes_binaries_from_other_packages_like_cargo() {
        let root = tempfile::tempdir().unwrap();
        let mut t = CargoTracker::load(root.path()).unwrap();
        let a = PackageId::crates_io("a", v("1.0.0"));
        let b = PackageId::crates_io("b", v("1.0.0"));
        let c = PackageId::crates_io("c", v("1.0.0"));
        t.mark_installed(&a, &bins(&["x", "y"]), None, TARGET, None);
        t.mark_installed(&b, &bins(&["y"]), None, TARGET, None);
        assert_eq!(t.bins_of(&a), bins(&["x"]));
        assert_eq!(t.owner_of("y"), Some(b.clone()));
        t.mark_installed(&c, &bins(&["x"]), None, TARGET, None);
        assert_eq!(t.bins_of(&a), bins(&[]));
        assert_eq!(t.installed_versions("a"), vec![]);
        assert_eq!(t.owner_of("x"), Some(c));
        // Marking the same package again adds to its binaries and updates its settings.
        t.mark_installed(&b, &bins(&["z"]), Some("=1.0.0".into()), "t-2", None);
        assert_eq!(t.bins_of(&b), bins(&["y", "z"]));
        let info = &t.v2.installs[&b];
        assert_eq!(info.version_req.as_deref(), Some("=1.0.0"));
        assert_eq!(info.target.as_deref(), Some("t-2"));
    }

    #[test]
    fn remove_package_drops_an_older_version_on_upgrade() {
        let root = tempfile::tempdir().unwrap();
        let mut t = CargoTracker::load(root.path()).unwrap();
        let old = PackageId::crates_io("rg", v("13.0.0"));
        let new = PackageId::crates_io("rg", v("14.1.0"));
        t.mark_installed(&old, &bins(&["rg", "rg-old-helper"]), None, TARGET, None);
        t.mark_installed(&new, &bins(&["rg"]), None, TARGET, None);
        assert_eq!(t.installed_versions("rg"), vec![old.clone(), new.clone()]);
        t.remove_package(&old);
        t.save().unwrap();
        drop(t);
        let t = CargoTracker::load(root.path()).unwrap();
        assert_eq!(t.installed_versions("rg"), vec![new]);
        assert_eq!(t.owner_of("rg-old-helper"), None);
    }

    #[test]
    fn save_truncates_a_longer_previous_content() {
        let root = tempfile::tempdir().unwrap();
        let mut t = CargoTracker::load(root.path()).unwrap();
        for name in ["alpha", "beta", "gamma"] {
            t.mark_installed(
                &PackageId::crates_io(name, v("1.0.0")),
                &bins(&[name]),
                None,
                TARGET,
                Some(RUSTC.into()),
            );
        }
        t.save().unwrap();
        t.remove_package(&PackageId::crates_io("alpha", v("1.0.0")));
        t.remove_package(&PackageId::crates_io("beta", v("1.0.0")));
        t.save().unwrap();
        drop(t);
        assert_eq!(
            read(root.path(), ".crates.toml"),
            "[v1]\n\"gamma 1.0.0 (registry+https://github.com/rust-lang/crates.io-index)\" = [\"gamma\"]\n"
        );
        let v2 = read(root.path(), ".crates2.json");
        assert!(v2.ends_with("}}}") && !v2.contains("alpha"), "{v2}");
    }

    #[test]
    fn load_syncs_v2_from_v1_as_cargo_does() {
        let root = tempfile::tempdir().unwrap();
        fs::write(
            root.path().join(".crates.toml"),
            "[v1]\n\"old-cargo 1.0.0 (registry+https://github.com/rust-lang/crates.io-index)\" = [\"oc\"]\n",
        )
        .unwrap();
        fs::write(
            root.path().join(".crates2.json"),
            r#"{"installs":{"gone 1.0.0 (registry+https://github.com/rust-lang/crates.io-index)":{"version_req":null,"bins":["g"],"features":[],"all_features":false,"no_default_features":false,"profile":"release","target":null,"rustc":null}}}"#,
        )
        .unwrap();
        let t = CargoTracker::load(root.path()).unwrap();
        assert_eq!(t.owner_of("g"), None);
        let id = PackageId::crates_io("old-cargo", v("1.0.0"));
        assert_eq!(t.owner_of("oc"), Some(id.clone()));
        assert_eq!(t.v2.installs[&id].profile, "release");
        assert_eq!(t.v2.installs[&id].target, None);
    }

    #[test]
    fn a_corrupt_tracker_is_a_clear_error_naming_the_file() {
        // rust-lang/cargo#2836: a tracker found full of NUL bytes after a crash.
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join(".crates.toml"), [0u8; 64]).unwrap();
        let err = CargoTracker::load(root.path()).unwrap_err();
        let path = root.path().join(".crates.toml");
        assert!(matches!(&err, TrackerError::Corrupt { path: p, .. } if *p == path));
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "cargo's install tracker `{}` is corrupt (",
                path.display()
            )),
            "{msg}"
        );
        assert!(msg.contains("(it holds NUL bytes"), "{msg}");
        assert!(msg.contains("move it aside"), "{msg}");

        fs::write(root.path().join(".crates.toml"), "").unwrap();
        fs::write(root.path().join(".crates2.json"), "{\"installs\":").unwrap();
        let err = CargoTracker::load(root.path()).unwrap_err();
        assert!(
            matches!(&err, TrackerError::Corrupt { path, .. } if path.ends_with(".crates2.json")),
            "{err}"
        );
    }

    #[test]
    fn holds_an_exclusive_lock_on_both_files_while_alive() {
        let root = tempfile::tempdir().unwrap();
        let tracker = CargoTracker::load(root.path()).unwrap();
        for name in [".crates.toml", ".crates2.json"] {
            let other = File::open(root.path().join(name)).unwrap();
            assert!(
                matches!(other.try_lock(), Err(fs::TryLockError::WouldBlock)),
                "{name} is not locked"
            );
        }
        drop(tracker);
        let other = File::open(root.path().join(".crates.toml")).unwrap();
        assert!(other.try_lock().is_ok());
    }

    #[test]
    fn concurrent_installs_both_end_up_recorded() {
        let root = tempfile::tempdir().unwrap();
        for round in 0..10 {
            let barrier = Arc::new(Barrier::new(2));
            let handles: Vec<_> = ["left", "right"]
                .into_iter()
                .map(|side| {
                    let barrier = Arc::clone(&barrier);
                    let root = root.path().to_owned();
                    std::thread::spawn(move || {
                        barrier.wait();
                        let name = format!("{side}-{round}");
                        let mut t = CargoTracker::load(&root).unwrap();
                        t.mark_installed(
                            &PackageId::crates_io(&name, v("1.0.0")),
                            &bins(&[&name]),
                            None,
                            TARGET,
                            None,
                        );
                        t.save().unwrap();
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
        }
        let t = CargoTracker::load(root.path()).unwrap();
        for round in 0..10 {
            for side in ["left", "right"] {
                let name = format!("{side}-{round}");
                assert_eq!(t.installed_versions(&name).len(), 1, "{name} lost");
            }
        }
    }

    #[test]
    fn package_ids_parse_print_and_order_like_cargo() {
        let s = "ripgrep 14.1.0 (registry+https://github.com/rust-lang/crates.io-index)";
        let id = PackageId::parse(s).unwrap();
        assert_eq!(id, PackageId::crates_io("ripgrep", v("14.1.0")));
        assert_eq!(id.to_string(), s);
        assert_eq!(
            PackageId::sparse_registry("x", v("1.0.0"), "https://r.example/index/").to_string(),
            "x 1.0.0 (sparse+https://r.example/index/)"
        );
        for bad in [
            "ripgrep",
            "ripgrep 14.1 (registry+x)",
            "ripgrep 14.1.0 registry+x",
            "ripgrep 14.1.0 (nourl)",
        ] {
            assert!(PackageId::parse(bad).is_err(), "{bad}");
        }
        let mut ids = [
            PackageId::crates_io("a", v("1.10.0")),
            PackageId::parse("a 1.9.0 (git+https://g.example/a#abc)").unwrap(),
            PackageId::crates_io("a", v("1.9.0")),
            PackageId::parse("a 1.9.0 (path+file:///src/a)").unwrap(),
        ];
        ids.sort();
        let sources: Vec<_> = ids
            .iter()
            .map(|i| format!("{} {}", i.version(), &i.source()[..4]))
            .collect();
        assert_eq!(
            sources,
            ["1.9.0 path", "1.9.0 regi", "1.9.0 git+", "1.10.0 regi"]
        );
    }

    /// The real proof: a tracker cargo wrote, extended by us, read back by `cargo install
    /// --list` and edited by `cargo uninstall`. Offline; builds one tiny crate.
    #[test]
    fn cargo_accepts_what_we_write() {
        let tmp = tempfile::tempdir().unwrap();
        let krate = tmp.path().join("hello-tool");
        fs::create_dir_all(krate.join("src")).unwrap();
        fs::write(
            krate.join("Cargo.toml"),
            "[package]\nname = \"hello-tool\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[[bin]]\nname = \"hello\"\npath = \"src/main.rs\"\n",
        )
        .unwrap();
        fs::write(krate.join("src/main.rs"), "fn main() {}\n").unwrap();
        let root = tmp.path().join("root");
        let cargo = |args: &[&str]| {
            let out = Command::new(env!("CARGO"))
                .args(args)
                .arg("--root")
                .arg(&root)
                .env("CARGO_TARGET_DIR", tmp.path().join("target"))
                .env_remove("CARGO_INSTALL_ROOT")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "cargo {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        };
        cargo(&[
            "install",
            "--quiet",
            "--offline",
            "--path",
            krate.to_str().unwrap(),
        ]);

        let mut t = CargoTracker::load(&root).unwrap();
        let path_id = t.owner_of("hello").unwrap();
        assert_eq!(path_id.name(), "hello-tool");
        let ours = PackageId::crates_io("fake-tool", v("1.2.3"));
        fs::write(root.join("bin").join("fake-tool"), b"binary").unwrap();
        t.mark_installed(
            &ours,
            &bins(&["fake-tool"]),
            None,
            TARGET,
            Some(RUSTC.into()),
        );
        t.save().unwrap();
        drop(t);

        let list = cargo(&["install", "--list"]);
        assert!(
            list.contains("fake-tool v1.2.3:\n    fake-tool\n"),
            "{list}"
        );
        assert!(list.contains("hello-tool v0.1.0 ("), "{list}");

        cargo(&["uninstall", "fake-tool"]);
        assert!(!root.join("bin").join("fake-tool").exists());
        let t = CargoTracker::load(&root).unwrap();
        assert_eq!(t.installed_versions("fake-tool"), vec![]);
        assert_eq!(t.owner_of("hello"), Some(path_id));
    }
}
