//! `build-index import pkgforge`: pkgforge's cargo and Go builders' metadata into the index.
//!
//! Each metadata entry (`x86_64-Linux.json`, `aarch64-Linux.json`) names one raw executable
//! (`download_url`, `shasum` = sha256, `size_raw`, `provides`). It is downloaded with size and
//! sha256 checked against the metadata, must be a static ELF for the entry's architecture, and
//! is recorded as format `bin` under `*-unknown-linux-musl`. Cargo entries map to (crate,
//! version) by their crates.io source URL; Go entries are built from a commit
//! (`HEAD-<commit>-<date>`) and are imported only when the module proxy names that exact
//! commit (`Origin.Hash`) for a tagged version, the binary mapped to its command package found
//! in that version's module zip.

use std::collections::BTreeMap;
use std::path::PathBuf;

use quickinstall::download::{Fetcher, Location};
use quickinstall::index::format::{FORMAT_BIN, PackageKind, Release, is_valid_binary_name};
use quickinstall::index::path::{
    escape_module_path, go_command_name, is_valid_crate_name, is_valid_module_path,
};
use quickinstall::registry::goproxy::module_file;
use serde::Deserialize;
use serde_json::Value;

use super::write::{self, Checked};
use super::{Checksums, ImportError, Reason, Report};
use crate::elf;
use crate::go::{detect, modzip::ModuleZip};
use crate::sign::Signer;

/// The largest metadata file read by default (pkgforge's real ones are a few MB).
pub const DEFAULT_MAX_METADATA: u64 = 64 << 20;
/// How many of a module's newest tags are checked for the commit.
const MAX_TAGS: usize = 10;
/// The largest module zip read (Go's own limit).
const MAX_ZIP: u64 = 500 << 20;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

/// `build-index import pkgforge`'s inputs.
pub struct Request {
    pub metadata: Vec<PathBuf>,
    pub index: PathBuf,
    pub signer: Signer,
    pub registry: Option<String>,
    /// The Go module proxy (default `https://proxy.golang.org`).
    pub proxy: String,
    pub max_metadata_bytes: u64,
}

/// The fields of a metadata entry this import reads (the rest is ignored).
#[derive(Deserialize, Debug, Clone)]
struct Entry {
    #[serde(default)]
    pkg_name: String,
    #[serde(default)]
    pkg_id: String,
    #[serde(default)]
    ghcr_pkg: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    download_url: String,
    #[serde(default)]
    shasum: String,
    #[serde(default)]
    size_raw: String,
    #[serde(default)]
    provides: Vec<String>,
    #[serde(default)]
    src_url: Vec<String>,
    #[serde(default)]
    host: String,
    #[serde(default)]
    build_date: String,
}

enum Builder {
    Cargo,
    Go,
}

/// An entry mapped to what the index would hold, before downloading.
struct Mapped {
    kind: PackageKind,
    name: String,
    version: String,
    target: String,
    binary: String,
    package: Option<String>,
    source_checksum: Option<String>,
    builder: &'static str,
}

/// Runs the import and returns its report.
pub fn run(request: &Request) -> Result<Report, ImportError> {
    let signer = &request.signer;
    let fetcher = super::fetcher();
    let registry = super::registry(request.registry.as_deref())?;
    let mut checksums = Checksums::new(&registry, &fetcher);
    let proxy = super::location(&request.proxy)?;
    let work = tempfile::tempdir().map_err(|source| ImportError::Write {
        path: std::env::temp_dir(),
        source,
    })?;
    let mut report = Report::default();
    let mut entries = Vec::new();
    for path in &request.metadata {
        let shown = path.display().to_string();
        let bytes = match super::read_capped(path, request.max_metadata_bytes) {
            Ok(b) => b,
            Err(reason) => {
                report.refuse(Reason::BadMetadata, &shown, &reason);
                continue;
            }
        };
        match serde_json::from_slice::<Vec<Value>>(&bytes) {
            Ok(list) => entries.extend(list),
            Err(e) => report.refuse(
                Reason::BadMetadata,
                &shown,
                &format!("not a JSON list: {e}"),
            ),
        }
    }
    let mut mapped = Vec::new();
    for value in entries {
        let entry: Entry = match serde_json::from_value(value) {
            Ok(e) => e,
            Err(e) => {
                report.refuse(Reason::InvalidEntry, "an entry", &e.to_string());
                continue;
            }
        };
        let shown = format!("{} {} {}", entry.pkg_name, entry.version, entry.host);
        match map(&entry, &fetcher, &proxy, &mut checksums, work.path()) {
            Ok(m) => mapped.push((entry, m)),
            Err((reason, detail)) => report.refuse(reason, &shown, &detail),
        }
    }
    // Two entries for one release: neither can be told right, so both are refused.
    let mut seen: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for (_, m) in &mapped {
        *seen
            .entry((m.name.clone(), m.version.clone(), m.target.clone()))
            .or_default() += 1;
    }
    let mut checked = Vec::new();
    for (entry, m) in mapped {
        let shown = format!("{} {} {}", m.name, m.version, m.target);
        if seen[&(m.name.clone(), m.version.clone(), m.target.clone())] > 1 {
            report.refuse(
                Reason::Duplicate,
                &shown,
                "the metadata lists this release more than once",
            );
            continue;
        }
        match fetch_and_check(&entry, &m, &fetcher, work.path()) {
            Ok(release) => checked.push(Checked {
                kind: m.kind,
                name: m.name,
                release,
            }),
            Err((reason, detail)) => report.refuse(reason, &shown, &detail),
        }
    }
    write::write_all(&request.index, signer, checked, &mut report)?;
    report.finish();
    Ok(report)
}

type Refusal = (Reason, String);

/// Maps an entry to (package, version, target, binary) without downloading it.
fn map(
    entry: &Entry,
    fetcher: &Fetcher,
    proxy: &Location,
    checksums: &mut Checksums<'_>,
    work: &std::path::Path,
) -> Result<Mapped, Refusal> {
    let builder = if entry.pkg_id.starts_with("pkgforge-cargo.") {
        Builder::Cargo
    } else if entry.ghcr_pkg.starts_with("ghcr.io/pkgforge-go/") {
        Builder::Go
    } else {
        return Err((
            Reason::UnknownBuilder,
            format!(
                "`{}` is neither from pkgforge-cargo nor pkgforge-go",
                entry.pkg_id
            ),
        ));
    };
    if let Some(bad) = entry.provides.iter().find(|p| !is_valid_binary_name(p)) {
        return Err((
            Reason::InvalidName,
            format!("`provides` names `{bad}`, not a plain file name"),
        ));
    }
    if !is_valid_binary_name(&entry.pkg_name) {
        return Err((
            Reason::InvalidName,
            format!("`{}` is not a plain file name", entry.pkg_name),
        ));
    }
    if entry.provides.len() > 1 {
        return Err((
            Reason::SeveralBinaries,
            format!(
                "it provides {} binaries; a `bin` release holds one",
                entry.provides.len()
            ),
        ));
    }
    let target = match entry.host.as_str() {
        "x86_64-Linux" => "x86_64-unknown-linux-musl",
        "aarch64-Linux" => "aarch64-unknown-linux-musl",
        other => {
            return Err((
                Reason::UnsupportedTarget,
                format!("`{other}` has no musl target here"),
            ));
        }
    };
    let binary = entry.pkg_name.clone();
    match builder {
        Builder::Cargo => {
            let name = entry
                .src_url
                .iter()
                .find_map(|u| crate_of(u, &entry.version))
                .ok_or_else(|| {
                    (
                        Reason::InvalidName,
                        "its `src_url` names no crates.io crate at this version".to_owned(),
                    )
                })?;
            if !is_valid_crate_name(&name) || semver::Version::parse(&entry.version).is_err() {
                return Err((
                    Reason::InvalidName,
                    format!("`{name} {}` is not a crate name and version", entry.version),
                ));
            }
            let cksum = checksums
                .cksum(&name, &entry.version)
                .map_err(|r| (Reason::NotInRegistry, r))?;
            Ok(Mapped {
                kind: PackageKind::Crate,
                name,
                version: entry.version.clone(),
                target: target.to_owned(),
                binary,
                package: None,
                source_checksum: Some(cksum),
                builder: "pkgforge-cargo",
            })
        }
        Builder::Go => {
            let (module, commit) =
                entry
                    .src_url
                    .iter()
                    .find_map(|u| module_of(u))
                    .ok_or_else(|| {
                        (
                            Reason::InvalidName,
                            "its `src_url` is not a GitHub archive of a commit".to_owned(),
                        )
                    })?;
            if !is_valid_module_path(&module) {
                return Err((
                    Reason::InvalidName,
                    format!("`{module}` is not a module path"),
                ));
            }
            let version = tag_of_commit(fetcher, proxy, &module, &commit)?;
            let (package, zip_sha) =
                command_package(fetcher, proxy, &module, &version, &binary, work)?;
            Ok(Mapped {
                kind: PackageKind::Go,
                name: module,
                version,
                target: target.to_owned(),
                binary,
                package: Some(package),
                source_checksum: Some(zip_sha),
                builder: "pkgforge-go",
            })
        }
    }
}

/// `https://crates.io/api/v1/crates/<name>/<version>/download` → `<name>`.
fn crate_of(url: &str, version: &str) -> Option<String> {
    let rest = url.strip_prefix("https://crates.io/api/v1/crates/")?;
    let (name, tail) = rest.split_once('/')?;
    (tail == format!("{version}/download")).then(|| name.to_owned())
}

/// `https://github.com/<owner>/<repo>/archive/<40 hex>.tar.gz` → (`github.com/<owner>/<repo>`, commit).
fn module_of(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("https://github.com/")?;
    let mut parts = rest.split('/');
    let (owner, repo, archive, file) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let commit = file.strip_suffix(".tar.gz")?;
    let is_commit = commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit());
    (archive == "archive" && parts.next().is_none() && is_commit).then(|| {
        (
            format!("github.com/{owner}/{repo}"),
            commit.to_ascii_lowercase(),
        )
    })
}

/// The tagged version whose `.info` names `commit` in `Origin.Hash`: the newest
/// [`MAX_TAGS`] release tags of the proxy's `@v/list` are checked.
fn tag_of_commit(
    fetcher: &Fetcher,
    proxy: &Location,
    module: &str,
    commit: &str,
) -> Result<String, Refusal> {
    let list_path = format!("{}/@v/list", escape_module_path(module));
    let list = fetcher
        .get_small(&proxy.join(&list_path), 1 << 20)
        .map_err(|e| (Reason::Download, e.to_string()))?
        .ok_or_else(|| {
            (
                Reason::CommitNotATag,
                format!("the module proxy does not know `{module}`"),
            )
        })?;
    let mut tags: Vec<semver::Version> = String::from_utf8_lossy(&list)
        .lines()
        .filter_map(|l| l.trim().strip_prefix('v'))
        .filter_map(|v| semver::Version::parse(v).ok())
        .collect();
    tags.sort();
    tags.reverse();
    for tag in tags.into_iter().take(MAX_TAGS) {
        let version = format!("v{tag}");
        let info = fetcher
            .get_small(
                &proxy.join(&module_file(module, &version, "info")),
                64 << 10,
            )
            .map_err(|e| (Reason::Download, e.to_string()))?;
        let hash = info
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| {
                v.pointer("/Origin/Hash")
                    .and_then(Value::as_str)
                    .map(str::to_ascii_lowercase)
            });
        if hash.as_deref() == Some(commit) {
            return Ok(version);
        }
    }
    Err((
        Reason::CommitNotATag,
        format!("no tag of `{module}` is commit {commit}"),
    ))
}

/// The command package of `module@version` whose binary is `binary`, and the zip's sha256.
fn command_package(
    fetcher: &Fetcher,
    proxy: &Location,
    module: &str,
    version: &str,
    binary: &str,
    work: &std::path::Path,
) -> Result<(String, String), Refusal> {
    let zip = fetcher
        .get_small(&proxy.join(&module_file(module, version, "zip")), MAX_ZIP)
        .map_err(|e| (Reason::Download, e.to_string()))?
        .ok_or_else(|| {
            (
                Reason::Download,
                format!("the proxy has no zip of `{module}@{version}`"),
            )
        })?;
    let path = work.join("module.zip");
    std::fs::write(&path, &zip).map_err(|e| (Reason::Download, e.to_string()))?;
    let sha = crate::validate::hash_file(&path)
        .map_err(|e| (Reason::Download, e.to_string()))?
        .0;
    let mut opened = ModuleZip::open(&path, module, version)
        .map_err(|e| (Reason::InvalidEntry, e.to_string()))?;
    let sources = opened
        .go_sources()
        .map_err(|e| (Reason::InvalidEntry, e.to_string()))?;
    let files: Vec<String> = opened.files().into_iter().map(str::to_owned).collect();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let _ = std::fs::remove_file(&path);
    detect::commands(module, &sources, &files)
        .into_iter()
        .find(|p| go_command_name(p) == binary)
        .map(|p| (p, sha))
        .ok_or_else(|| {
            (
                Reason::NoCommandPackage,
                format!("no command package of `{module}@{version}` builds `{binary}`"),
            )
        })
}

/// Downloads the executable with its size and sha256 checked, then checks it is a static ELF
/// for the entry's architecture.
fn fetch_and_check(
    entry: &Entry,
    m: &Mapped,
    fetcher: &Fetcher,
    work: &std::path::Path,
) -> Result<Release, Refusal> {
    let size: u64 = entry.size_raw.trim().parse().map_err(|_| {
        (
            Reason::InvalidEntry,
            format!("`size_raw` is `{}`, not a number", entry.size_raw),
        )
    })?;
    let sha = entry.shasum.to_ascii_lowercase();
    if !quickinstall::index::format::is_sha256_hex(&sha) {
        return Err((
            Reason::InvalidEntry,
            format!("`shasum` is `{}`, not a sha256", entry.shasum),
        ));
    }
    let url = &entry.download_url;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err((
            Reason::InvalidEntry,
            format!("`download_url` `{url}` is not an http(s) URL"),
        ));
    }
    let loc = super::location(url).map_err(|e| (Reason::InvalidEntry, e.to_string()))?;
    let path = fetcher
        .download_verified(&loc, work, "binary", size, &sha, &|_| {})
        .map_err(|e| (super::download_reason(&e), e.to_string()))?;
    let bytes = std::fs::read(&path).map_err(|e| (Reason::Download, e.to_string()))?;
    let _ = std::fs::remove_file(&path);
    let (machine, is_static) = elf::machine_and_static(&bytes)
        .map_err(|r| (Reason::NotStatic, format!("not an ELF executable: {r}")))?;
    if !is_static {
        return Err((
            Reason::NotStatic,
            "it is dynamically linked (it has a `PT_INTERP` loader or needs libraries)".to_owned(),
        ));
    }
    let want = if m.target.starts_with("x86_64-") {
        EM_X86_64
    } else {
        EM_AARCH64
    };
    if machine != want {
        return Err((
            Reason::WrongArchitecture,
            format!(
                "its ELF machine is {machine}, not the one `{}` runs",
                m.target
            ),
        ));
    }
    let mut release = super::imported_release(
        &m.version,
        &m.target,
        url,
        &sha,
        size,
        vec![m.binary.clone()],
        &entry.build_date,
        m.source_checksum.clone(),
        &[("imported_from", m.builder)],
    );
    release
        .extra
        .insert("format".into(), Value::from(FORMAT_BIN));
    if let Some(p) = &m.package {
        release.packages.insert(m.binary.clone(), p.clone());
    }
    release
        .validate_bin()
        .map_err(|e| (Reason::InvalidEntry, e.to_string()))?;
    Ok(release)
}
