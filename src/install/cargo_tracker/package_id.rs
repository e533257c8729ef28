//! cargo's package id as the tracker files spell it (`"<name> <version> (<source id>)"`):
//! parsed, printed, ordered and (de)serialized exactly as cargo does.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

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
