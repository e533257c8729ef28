//! `build-index package`: wraps binaries built elsewhere (the project's own
//! `cargo-quickinstall` and `gquick`, built by its CI) into the archive and `ok` result record
//! that `build` writes, so `publish` takes them like any other build.
//!
//! It reuses [`crate::package`] for the reproducible archive and [`crate::record`] for the
//! record; it does not build anything, and it does not look inside the binaries. The source
//! checksum is `null`: these binaries do not come from a registry `.crate` this command saw.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::PathBuf;
use std::process::Command;

use quickinstall::index::format::{self, PackageKind, Provenance, RECIPE_VERSION};
use quickinstall::index::path::is_valid_crate_name;

use crate::package::{self, BINARY_MODE, Entry, PackageError};
use crate::record::{BuildResult, RECORD_VERSION, Record, stem};
use crate::{time, validate};

/// What to package and where to put it.
#[derive(Debug, Clone)]
pub struct PackageRequest {
    pub name: String,
    pub version: String,
    pub target: String,
    pub out: PathBuf,
    pub binaries: Vec<PathBuf>,
}

/// The parts of the environment this command reads.
#[derive(Debug, Clone)]
pub struct PackageEnv {
    /// The compiler whose `-V` names the toolchain (`$RUSTC`, else `rustc`).
    pub rustc: OsString,
    /// `SOURCE_DATE_EPOCH`: the archive mtime and the recorded build time.
    pub source_date_epoch: Option<u64>,
}

impl PackageEnv {
    /// The real process environment.
    #[allow(clippy::disallowed_methods)] // read once, in main's call; tests pass a value
    pub fn from_process() -> Self {
        let rustc = std::env::var_os("RUSTC")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "rustc".into());
        let epoch = std::env::var("SOURCE_DATE_EPOCH").ok();
        Self {
            rustc,
            source_date_epoch: time::parse_source_date_epoch(epoch.as_deref()),
        }
    }
}

/// Why the binaries could not be packaged.
#[derive(Debug, thiserror::Error)]
pub enum PackageCmdError {
    #[error("`{0}` is not a valid crate name")]
    BadName(String),
    #[error("`{0}` is not a semantic version")]
    BadVersion(String),
    #[error("`{0}` is not a target triple")]
    BadTarget(String),
    #[error("`{}` is not a regular file that can be packaged as a binary", path.display())]
    NotABinary { path: PathBuf },
    #[error("could not run `{} -V` to name the toolchain: {source}", program.to_string_lossy())]
    Rustc {
        program: OsString,
        source: io::Error,
    },
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error("could not read `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("could not write `{}`: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Packages `request.binaries` and writes the `ok` record; returns the record's path.
pub fn package(request: &PackageRequest, env: &PackageEnv) -> Result<PathBuf, PackageCmdError> {
    check_request(request)?;
    let entries = binary_entries(&request.binaries)?;
    let binary_names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
    let toolchain = toolchain(&env.rustc)?;

    let stem = stem(&request.name, &request.version, &request.target);
    let archive_name = format!("{stem}.tar.gz");
    let archive = request.out.join(&archive_name);
    let mtime = env.source_date_epoch.unwrap_or(0);
    package::write_archive(&archive, entries, mtime)?;
    let (sha256, size) = validate::hash_file(&archive).map_err(|source| PackageCmdError::Read {
        path: archive.clone(),
        source,
    })?;

    let result = BuildResult {
        v: RECORD_VERSION,
        kind: PackageKind::Crate,
        name: request.name.clone(),
        version: request.version.clone(),
        target: request.target.clone(),
        archive: archive_name,
        sha256,
        size,
        binaries: binary_names,
        packages: Default::default(),
        // Prebuilt by the project's CI as static binaries; nothing here can tell otherwise.
        min_glibc: None,
        recipe: RECIPE_VERSION,
        provenance: Provenance {
            source_checksum: None,
            built_at: time::rfc3339_utc(env.source_date_epoch.unwrap_or_else(time::now)),
            toolchain,
            extra: Default::default(),
        },
    };
    Record::Ok(result)
        .write(&request.out, &stem)
        .map_err(|(path, source)| PackageCmdError::Write { path, source })
}

/// The name, version and target checks `publish` would make, made before any file is written.
fn check_request(request: &PackageRequest) -> Result<(), PackageCmdError> {
    if !is_valid_crate_name(&request.name) {
        return Err(PackageCmdError::BadName(request.name.clone()));
    }
    if semver::Version::parse(&request.version).is_err() {
        return Err(PackageCmdError::BadVersion(request.version.clone()));
    }
    if !format::is_valid_target(&request.target) {
        return Err(PackageCmdError::BadTarget(request.target.clone()));
    }
    Ok(())
}

/// Each path as an executable entry named after its file name; only regular files.
fn binary_entries(paths: &[PathBuf]) -> Result<Vec<Entry>, PackageCmdError> {
    paths
        .iter()
        .map(|path| {
            let not_binary = || PackageCmdError::NotABinary { path: path.clone() };
            let name = path
                .file_name()
                .and_then(OsStr::to_str)
                .filter(|n| format::is_valid_binary_name(n))
                .ok_or_else(not_binary)?;
            if !path.is_file() {
                return Err(not_binary());
            }
            Ok(Entry {
                name: name.to_owned(),
                source: path.clone(),
                mode: BINARY_MODE,
            })
        })
        .collect()
}

/// The first line of `rustc -V`, as `build` records it.
fn toolchain(rustc: &OsStr) -> Result<String, PackageCmdError> {
    let rustc_err = |source| PackageCmdError::Rustc {
        program: rustc.to_owned(),
        source,
    };
    let out = Command::new(rustc).arg("-V").output().map_err(rustc_err)?;
    if !out.status.success() {
        return Err(rustc_err(io::Error::other(format!(
            "it exited with {}",
            out.status
        ))));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::parse_result;
    use std::path::Path;

    fn write_fake_binary(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, b"\x7fELF not really").unwrap();
        path
    }

    fn env() -> PackageEnv {
        PackageEnv {
            rustc: "rustc".into(),
            source_date_epoch: Some(1_700_000_000),
        }
    }

    fn request(dir: &Path) -> PackageRequest {
        PackageRequest {
            name: "cargo-quickinstall".into(),
            version: "0.3.0".into(),
            target: "x86_64-unknown-linux-musl".into(),
            out: dir.join("out"),
            binaries: vec![write_fake_binary(dir, "cargo-quickinstall")],
        }
    }

    #[test]
    fn packages_binaries_into_a_record_publish_accepts() {
        let dir = tempfile::tempdir().unwrap();
        let request = request(dir.path());
        let record_path = package(&request, &env()).unwrap();
        let bytes = std::fs::read(&record_path).unwrap();
        let result = parse_result(&bytes, &record_path).unwrap();
        assert_eq!(result.binaries, ["cargo-quickinstall"]);
        assert_eq!(result.provenance.source_checksum, None);
        assert!(result.provenance.toolchain.starts_with("rustc "));
        let archive = request.out.join(&result.archive);
        let (sha, size) = validate::hash_file(&archive).unwrap();
        assert_eq!((sha, size), (result.sha256.clone(), result.size));
    }

    #[test]
    fn packaging_is_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        let request = request(dir.path());
        let first = std::fs::read(package(&request, &env()).unwrap()).unwrap();
        let second = std::fs::read(package(&request, &env()).unwrap()).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn refuses_bad_names_and_missing_binaries_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let mut bad = request(dir.path());
        bad.version = "latest".into();
        assert!(matches!(
            package(&bad, &env()),
            Err(PackageCmdError::BadVersion(_))
        ));
        let mut missing = request(dir.path());
        missing.binaries = vec![dir.path().join("nope")];
        assert!(matches!(
            package(&missing, &env()),
            Err(PackageCmdError::NotABinary { .. })
        ));
        assert!(!dir.path().join("out").exists());
    }
}
