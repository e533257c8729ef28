//! `build-index import`: mirrors releases that existing prebuilt pools already hold into our
//! signed index, verified once here, so a client finds them in one signed lookup.
//!
//! Two sources: [`quickinstall`] (cargo-quickinstall's GitHub release assets, `.tar.gz` + a
//! minisign `.sig` checked against the pool's key) and [`pkgforge`] (pkgforge's cargo and Go
//! builders' metadata, one raw static executable per entry, recorded as format `bin`). Each
//! entry is checked on its own; what fails a check or does not apply is counted in the
//! [`Report`] by reason and nothing is written for it. [`write`](mod@write) upserts the rest under the
//! index lock, never over a release our own farm built, and changes nothing on a re-run.

pub mod pkgforge;
pub mod quickinstall;
mod report;
mod write;

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use ::quickinstall::download::{DownloadError, Fetcher, Location, NetConfig};
use ::quickinstall::index::format::{Provenance, Release};
use ::quickinstall::registry::crates::Registry;
use serde_json::Value;

pub use self::report::{Reason, Report};

/// Why an import as a whole stopped (a bad entry is a line of the [`Report`] instead).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("could not read `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("could not write `{}`: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("index file `{}` is invalid, so it was not rewritten: {reason}", path.display())]
    ExistingFile { path: PathBuf, reason: String },
    #[error(transparent)]
    SignedFile(#[from] crate::signed_file::SignedFileError),
    #[error(transparent)]
    Key(#[from] crate::sign::SignError),
    #[error(
        "`{key}` is not a minisign public key: {reason}\nhelp: pass the pool's key as the base64 line of its `.pub` file"
    )]
    BadPoolKey { key: String, reason: String },
    #[error("`{url}` is not a usable URL: {reason}")]
    BadUrl { url: String, reason: String },
}

/// A fetcher with the default network settings.
pub fn fetcher() -> Fetcher {
    Fetcher::new(&NetConfig::default())
}

/// Parses an http(s) URL or a directory into a location.
pub fn location(url: &str) -> Result<Location, ImportError> {
    Location::parse(url).map_err(|e| ImportError::BadUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })
}

/// The registry for `--registry` (crates.io without it).
pub fn registry(url: Option<&str>) -> Result<Registry, ImportError> {
    match url {
        None => Ok(Registry::crates_io()),
        Some(u) => Registry::from_url(u).map_err(|e| ImportError::BadUrl {
            url: u.to_owned(),
            reason: e.to_string(),
        }),
    }
}

/// Looks up the registry's `cksum` of each crate version once per crate.
pub struct Checksums<'a> {
    registry: &'a Registry,
    fetcher: &'a Fetcher,
    known: BTreeMap<String, BTreeMap<String, String>>,
}

impl<'a> Checksums<'a> {
    pub fn new(registry: &'a Registry, fetcher: &'a Fetcher) -> Self {
        Self {
            registry,
            fetcher,
            known: BTreeMap::new(),
        }
    }

    /// The `.crate` checksum of `name` `version`, or why there is none.
    pub fn cksum(&mut self, name: &str, version: &str) -> Result<String, String> {
        if !self.known.contains_key(name) {
            let versions = self
                .registry
                .versions(self.fetcher, name)
                .map_err(|e| e.to_string())?;
            let map = versions
                .into_iter()
                .map(|v| (v.version.to_string(), v.cksum))
                .collect();
            self.known.insert(name.to_owned(), map);
        }
        self.known
            .get(name)
            .and_then(|m| m.get(version))
            .cloned()
            .ok_or_else(|| format!("the registry lists no version {version} of `{name}`"))
    }
}

/// The release recorded for an import: never our recipe (`recipe` 0), provenance naming the
/// source, the original URL and anything else the source proves (`extra`).
#[allow(clippy::too_many_arguments)] // the fields of one release, each from a different check
pub fn imported_release(
    version: &str,
    target: &str,
    url: &str,
    sha256: &str,
    size: u64,
    binaries: Vec<String>,
    built_at: &str,
    source_checksum: Option<String>,
    provenance: &[(&str, &str)],
) -> Release {
    let mut extra: BTreeMap<String, Value> = provenance
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect();
    extra.insert("original_url".into(), Value::from(url));
    Release {
        version: version.to_owned(),
        target: target.to_owned(),
        archive: url.to_owned(),
        sha256: sha256.to_owned(),
        size,
        binaries,
        packages: BTreeMap::new(),
        min_glibc: None,
        recipe: 0,
        provenance: Provenance {
            source_checksum,
            built_at: built_at.to_owned(),
            toolchain: "unknown (imported)".to_owned(),
            extra,
        },
        extra: BTreeMap::new(),
    }
}

/// Reads a local file of at most `cap` bytes without ever holding more than `cap + 1`.
pub fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > cap {
        return Err(format!(
            "it is larger than {cap} bytes (raise the cap with `--max-metadata-bytes`)"
        ));
    }
    Ok(bytes)
}

/// The report reason for a failed download.
pub fn download_reason(e: &DownloadError) -> Reason {
    match e {
        DownloadError::ChecksumMismatch { .. } => Reason::ChecksumMismatch,
        DownloadError::SizeMismatch { .. } | DownloadError::TooLarge { .. } => Reason::SizeMismatch,
        _ => Reason::Download,
    }
}

/// Writes the report as JSON (`--report FILE`).
pub fn write_report(report: &Report, path: &Path) -> Result<(), ImportError> {
    let mut bytes = serde_json::to_vec_pretty(report).unwrap_or_default();
    bytes.push(b'\n');
    crate::atomic::write(path, &bytes).map_err(|source| ImportError::Write {
        path: path.to_owned(),
        source,
    })
}
