//! The package file of the release index: its types, validation and canonical serialisation.
//!
//! Pure: bytes in, typed values or a [`FormatError`] out. Unknown fields are kept (`extra`) so a
//! file written by a newer `build-index` survives a rewrite by an older one, and ignored by
//! readers. The format is specified in `docs/index-format.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The format version this code reads and writes (`"v": 1`).
pub const FORMAT_VERSION: u32 = 1;

/// The version of the build recipe (flags, packaging) that `build-index build` follows; bumped
/// when a rebuild of the same source would give a different binary.
pub const RECIPE_VERSION: u32 = 1;

/// Which ecosystem a package comes from; decides the index path and how versions compare.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum PackageKind {
    Crate,
    /// A Go module; its name is the module path, its versions carry Go's `v` prefix.
    Go,
}

impl PackageKind {
    /// The folder name used for this kind inside the index.
    pub fn dir(self) -> &'static str {
        match self {
            Self::Crate => "crates",
            Self::Go => "go",
        }
    }
}

/// One package's file: every prebuilt release of one crate.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PackageFile {
    pub v: u32,
    pub kind: PackageKind,
    pub name: String,
    pub releases: Vec<Release>,
    /// Releases whose file is one raw executable (`"format": "bin"`, imported from pools that
    /// publish bare binaries). Kept apart from `releases` so that readers predating them skip
    /// them instead of trying to unpack an executable as a `.tar.gz`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bin_releases: Vec<Release>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The `format` of a release whose file is one raw executable rather than a `.tar.gz`.
pub const FORMAT_BIN: &str = "bin";

/// One archive: a version of a package built for one target.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Release {
    pub version: String,
    pub target: String,
    /// Relative to the index root (`archives/…`), or an absolute `https://`/`http://` URL.
    pub archive: String,
    /// Lower-case hex SHA-256 of the archive bytes.
    pub sha256: String,
    pub size: u64,
    /// File names of the executables at the top of the archive.
    pub binaries: Vec<String>,
    /// Go modules: the package import path each binary was built from (`binary → path`), so a
    /// client asked for one command installs just that one. Empty for crates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub packages: BTreeMap<String, String>,
    /// For `*-gnu` targets, the oldest glibc the binaries run on (`"2.17"`); absent when the
    /// binaries are statically linked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_glibc: Option<String>,
    pub recipe: u32,
    pub provenance: Provenance,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Where a build came from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Provenance {
    /// SHA-256 of the source the binaries were built from: for crates, the `.crate` file whose
    /// checksum the registry lists (`cksum` in the sparse index).
    pub source_checksum: Option<String>,
    /// RFC 3339 UTC time of the build.
    pub built_at: String,
    /// `rustc -V` of the toolchain that built it.
    pub toolchain: String,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Why a package file was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("the index file is not valid JSON for format v{FORMAT_VERSION}: {0}")]
    Json(String),
    #[error(
        "the index file uses format v{0}, newer than this client reads (v{FORMAT_VERSION}); upgrade quickinstall"
    )]
    NewerFormat(u32),
    #[error("the index file describes `{found}`, not `{expected}`")]
    WrongPackage { expected: String, found: String },
    #[error("release `{version}` for `{target}` in the index file is invalid: {reason}")]
    InvalidRelease {
        version: String,
        target: String,
        reason: String,
    },
}

impl PackageFile {
    /// An empty file for a package, to which `publish` adds releases.
    pub fn new(kind: PackageKind, name: &str) -> Self {
        Self {
            v: FORMAT_VERSION,
            kind,
            name: name.to_owned(),
            releases: Vec::new(),
            bin_releases: Vec::new(),
            extra: BTreeMap::new(),
        }
    }

    /// Parses and validates a package file that should describe `name` of `kind`.
    pub fn parse(bytes: &[u8], kind: PackageKind, name: &str) -> Result<Self, FormatError> {
        let file: Self =
            serde_json::from_slice(bytes).map_err(|e| FormatError::Json(e.to_string()))?;
        if file.v > FORMAT_VERSION {
            return Err(FormatError::NewerFormat(file.v));
        }
        let same_name = match kind {
            // crates.io names are case-insensitive; Go module paths are not.
            PackageKind::Crate => file.name.eq_ignore_ascii_case(name),
            PackageKind::Go => file.name == name,
        };
        if file.kind != kind || !same_name {
            return Err(FormatError::WrongPackage {
                expected: name.to_owned(),
                found: file.name,
            });
        }
        for release in &file.releases {
            release.validate()?;
        }
        for release in &file.bin_releases {
            release.validate_bin()?;
        }
        Ok(file)
    }

    /// Canonical bytes: releases sorted by version then target, pretty JSON, trailing newline.
    /// The same content always gives the same bytes, which keeps publishing idempotent.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut sorted = self.clone();
        sorted.releases.sort_by(|a, b| {
            compare_versions(&a.version, &b.version).then_with(|| a.target.cmp(&b.target))
        });
        sorted.bin_releases.sort_by(|a, b| {
            compare_versions(&a.version, &b.version).then_with(|| a.target.cmp(&b.target))
        });
        let mut bytes = serde_json::to_vec_pretty(&sorted).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Adds a release, replacing one for the same version and target. Returns whether the file
    /// changed.
    /// A raw executable (`"format": "bin"`) goes to `bin_releases`, anything else to `releases`.
    pub fn upsert(&mut self, release: Release) -> bool {
        let list = if release.is_bin() {
            &mut self.bin_releases
        } else {
            &mut self.releases
        };
        match list
            .iter_mut()
            .find(|r| r.version == release.version && r.target == release.target)
        {
            Some(existing) if *existing == release => false,
            Some(existing) => {
                *existing = release;
                true
            }
            None => {
                list.push(release);
                true
            }
        }
    }

    /// The releases of `version`, in the order of `targets` (the client's preference). For one
    /// target, an archive from `releases` is preferred over a raw executable of `bin_releases`.
    pub fn releases_for(&self, version: &str, targets: &[String]) -> Vec<&Release> {
        targets
            .iter()
            .filter_map(|t| {
                let matches = |r: &&Release| &r.target == t && versions_equal(&r.version, version);
                self.releases
                    .iter()
                    .find(matches)
                    .or_else(|| self.bin_releases.iter().find(matches))
            })
            .collect()
    }
}

impl Release {
    /// Whether the release's file is one raw executable (`"format": "bin"`), installed as is
    /// under its one binary name, rather than a `.tar.gz` to unpack.
    pub fn is_bin(&self) -> bool {
        self.extra.get("format").and_then(Value::as_str) == Some(FORMAT_BIN)
    }

    /// [`Release::validate`] for an entry of `bin_releases`: also of format `bin`, with exactly
    /// one binary (the file's install name).
    pub fn validate_bin(&self) -> Result<(), FormatError> {
        self.validate()?;
        let fail = |reason: &str| FormatError::InvalidRelease {
            version: self.version.clone(),
            target: self.target.clone(),
            reason: reason.to_owned(),
        };
        if !self.is_bin() {
            return Err(fail(
                "it is listed under `bin_releases` but its format is not `bin`",
            ));
        }
        if self.binaries.len() != 1 {
            return Err(fail("a raw executable must list exactly one binary"));
        }
        Ok(())
    }

    /// Checks every field a client relies on before it touches the archive.
    pub fn validate(&self) -> Result<(), FormatError> {
        let fail = |reason: &str| FormatError::InvalidRelease {
            version: self.version.clone(),
            target: self.target.clone(),
            reason: reason.to_owned(),
        };
        if parse_version(&self.version).is_none() {
            return Err(fail("the version is not a semantic version"));
        }
        if !is_valid_target(&self.target) {
            return Err(fail("the target is not a target triple"));
        }
        if !is_sha256_hex(&self.sha256) {
            return Err(fail("sha256 is not 64 lower-case hex digits"));
        }
        if !is_valid_archive_location(&self.archive) {
            return Err(fail(
                "the archive location is neither a relative path inside the index nor an http(s) URL",
            ));
        }
        if self.binaries.is_empty() {
            return Err(fail("it lists no binaries"));
        }
        if let Some(bad) = self.binaries.iter().find(|b| !is_valid_binary_name(b)) {
            return Err(fail(&format!("`{bad}` is not a plain file name")));
        }
        if let Some(bad) = self.packages.keys().find(|b| !self.binaries.contains(b)) {
            return Err(fail(&format!(
                "`{bad}` has a package path but is not one of the binaries"
            )));
        }
        Ok(())
    }
}

/// Whether `s` is 64 lower-case hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A plain file name an installer may create: no separators, no `.`/`..`, no control bytes.
pub fn is_valid_binary_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.starts_with('.')
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c == ':' || c.is_control())
}

/// A target triple's characters: letters, digits, `_`, `-`, `.`, at least one `-`.
pub fn is_valid_target(target: &str) -> bool {
    !target.is_empty()
        && target.len() <= 100
        && target.contains('-')
        && target
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn is_valid_archive_location(archive: &str) -> bool {
    if archive.starts_with("https://") || archive.starts_with("http://") {
        return true;
    }
    !archive.is_empty()
        && !archive.starts_with('/')
        && !archive.contains('\\')
        && archive
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// A crate version (`1.2.3`) or a Go module version (`v1.2.3`, pseudo-versions included) as
/// semver.
pub fn parse_version(version: &str) -> Option<semver::Version> {
    semver::Version::parse(version.strip_prefix('v').unwrap_or(version)).ok()
}

fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    match (parse_version(a), parse_version(b)) {
        (Some(a), Some(b)) => a.cmp(&b),
        _ => a.cmp(b),
    }
}

fn versions_equal(a: &str, b: &str) -> bool {
    compare_versions(a, b).is_eq()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn release(version: &str, target: &str) -> Release {
        Release {
            version: version.into(),
            target: target.into(),
            archive: format!("archives/crates/x/{version}/x-{version}-{target}.tar.gz"),
            sha256: "ab".repeat(32),
            size: 10,
            binaries: vec!["x".into()],
            packages: BTreeMap::new(),
            min_glibc: None,
            recipe: RECIPE_VERSION,
            provenance: Provenance {
                source_checksum: Some("cd".repeat(32)),
                built_at: "2026-11-25T00:00:00Z".into(),
                toolchain: "rustc 1.95.0".into(),
                extra: BTreeMap::new(),
            },
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn round_trips_and_keeps_unknown_fields() {
        let mut file = PackageFile::new(PackageKind::Crate, "x");
        file.upsert(release("1.0.0", "x86_64-unknown-linux-musl"));
        let mut json: Value = serde_json::from_slice(&file.to_bytes()).unwrap();
        json["future"] = Value::from(1);
        json["releases"][0]["signed_by_ci"] = Value::from(true);
        let bytes = serde_json::to_vec(&json).unwrap();
        let parsed = PackageFile::parse(&bytes, PackageKind::Crate, "x").unwrap();
        assert_eq!(parsed.extra["future"], Value::from(1));
        let again: Value = serde_json::from_slice(&parsed.to_bytes()).unwrap();
        assert_eq!(again["releases"][0]["signed_by_ci"], Value::from(true));
    }

    #[test]
    fn upsert_is_idempotent_and_replaces_same_version_and_target() {
        let mut file = PackageFile::new(PackageKind::Crate, "x");
        assert!(file.upsert(release("1.0.0", "t-a")));
        assert!(!file.upsert(release("1.0.0", "t-a")));
        let mut newer = release("1.0.0", "t-a");
        newer.size = 11;
        assert!(file.upsert(newer));
        assert_eq!(file.releases.len(), 1);
        assert_eq!(file.releases[0].size, 11);
    }

    #[test]
    fn serialisation_is_canonical_whatever_the_insertion_order() {
        let mut a = PackageFile::new(PackageKind::Crate, "x");
        let mut b = PackageFile::new(PackageKind::Crate, "x");
        for r in [
            release("1.10.0", "t-a"),
            release("1.9.0", "t-b"),
            release("1.9.0", "t-a"),
        ] {
            a.upsert(r);
        }
        for r in [
            release("1.9.0", "t-a"),
            release("1.10.0", "t-a"),
            release("1.9.0", "t-b"),
        ] {
            b.upsert(r);
        }
        assert_eq!(a.to_bytes(), b.to_bytes());
        let text = String::from_utf8(a.to_bytes()).unwrap();
        assert!(text.find("1.9.0").unwrap() < text.find("1.10.0").unwrap());
    }

    #[test]
    fn refuses_a_newer_format_and_a_file_for_another_package() {
        let mut file = PackageFile::new(PackageKind::Crate, "x");
        file.v = 2;
        let err = PackageFile::parse(&file.to_bytes(), PackageKind::Crate, "x").unwrap_err();
        assert_eq!(err, FormatError::NewerFormat(2));
        let other = PackageFile::new(PackageKind::Crate, "y").to_bytes();
        assert!(matches!(
            PackageFile::parse(&other, PackageKind::Crate, "x"),
            Err(FormatError::WrongPackage { .. })
        ));
    }

    #[test]
    fn refuses_releases_a_client_could_be_tricked_by() {
        type Mutation = Box<dyn Fn(&mut Release)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("sha256", Box::new(|r| r.sha256 = "AB".repeat(32))),
            (
                "escaping archive",
                Box::new(|r| r.archive = "../../etc/passwd".into()),
            ),
            (
                "absolute archive",
                Box::new(|r| r.archive = "/etc/passwd".into()),
            ),
            (
                "binary with slash",
                Box::new(|r| r.binaries = vec!["../x".into()]),
            ),
            ("no binaries", Box::new(|r| r.binaries.clear())),
            ("bad version", Box::new(|r| r.version = "latest".into())),
            ("bad target", Box::new(|r| r.target = "x/../y".into())),
        ];
        for (what, mutate) in cases {
            let mut r = release("1.0.0", "x86_64-unknown-linux-musl");
            mutate(&mut r);
            assert!(r.validate().is_err(), "{what} was accepted");
        }
        let mut ok = release("1.0.0", "x86_64-unknown-linux-musl");
        ok.archive = "https://example.com/a.tar.gz".into();
        assert!(ok.validate().is_ok());
    }

    #[test]
    fn go_modules_keep_their_case_and_v_prefixed_versions() {
        let mut file = PackageFile::new(PackageKind::Go, "github.com/BurntSushi/toml");
        let mut r = release("1.0.0", "x86_64-unknown-linux-musl");
        r.version = "v1.4.1-0.20240101000000-abcdefabcdef".into();
        r.packages
            .insert("x".into(), "github.com/BurntSushi/toml/cmd/x".into());
        r.validate().unwrap();
        file.upsert(r);
        let bytes = file.to_bytes();
        assert!(PackageFile::parse(&bytes, PackageKind::Go, "github.com/BurntSushi/toml").is_ok());
        assert!(PackageFile::parse(&bytes, PackageKind::Go, "github.com/burntsushi/toml").is_err());
        let mut stray = release("1.0.0", "t-x");
        stray.packages.insert("y".into(), "p/y".into());
        assert!(stray.validate().is_err());
    }

    #[test]
    fn releases_for_follows_target_preference() {
        let mut file = PackageFile::new(PackageKind::Crate, "x");
        file.upsert(release("1.0.0", "t-gnu"));
        file.upsert(release("1.0.0", "t-musl"));
        file.upsert(release("2.0.0", "t-musl"));
        let prefs = vec!["t-musl".to_owned(), "t-gnu".to_owned()];
        let found: Vec<_> = file
            .releases_for("1.0.0", &prefs)
            .into_iter()
            .map(|r| r.target.as_str())
            .collect();
        assert_eq!(found, ["t-musl", "t-gnu"]);
    }

    #[test]
    fn raw_executables_live_apart_and_an_archive_of_the_same_target_wins() {
        let mut file = PackageFile::new(PackageKind::Crate, "x");
        let mut bin = release("1.0.0", "x86_64-unknown-linux-musl");
        bin.extra.insert("format".into(), Value::from(FORMAT_BIN));
        assert!(file.upsert(bin.clone()));
        let json: Value = serde_json::from_slice(&file.to_bytes()).unwrap();
        // A reader that predates `bin_releases` sees no release it could try to unpack.
        assert_eq!(json["releases"], Value::Array(vec![]));
        assert_eq!(json["bin_releases"][0]["format"], "bin");
        let parsed = PackageFile::parse(&file.to_bytes(), PackageKind::Crate, "x").unwrap();
        let targets = ["x86_64-unknown-linux-musl".to_owned()];
        assert!(parsed.releases_for("1.0.0", &targets)[0].is_bin());
        file.upsert(release("1.0.0", "x86_64-unknown-linux-musl"));
        assert!(!file.releases_for("1.0.0", &targets)[0].is_bin());
        let mut two = bin;
        two.binaries.push("y".into());
        let mut json: Value = serde_json::from_slice(&file.to_bytes()).unwrap();
        json["bin_releases"][0] = serde_json::to_value(&two).unwrap();
        let bytes = serde_json::to_vec(&json).unwrap();
        assert!(PackageFile::parse(&bytes, PackageKind::Crate, "x").is_err());
    }
}
