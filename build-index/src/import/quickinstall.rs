//! `build-index import quickinstall`: cargo-quickinstall's release assets into the index.
//!
//! For each `{crate}-{version}` tag and target, the pool holds
//! `{pool}/{tag}/{crate}-{version}-{target}.tar.gz` and its minisign `.sig`. An asset is
//! imported only when the signature verifies with the pool's key (prehashed or legacy), the
//! tar holds plain files at the top level, and the registry lists the version (its `cksum` is
//! the source checksum). The release points at the pool's own URL; nothing is copied.

use std::io::Cursor;
use std::path::PathBuf;

use minisign::{PublicKey, SignatureBox};
use quickinstall::index::path::is_valid_crate_name;

use super::write::{self, Checked};
use super::{Checksums, ImportError, Reason, Report};
use crate::sign::Signer;
use crate::{time, validate};

/// Where cargo-quickinstall's releases are downloaded from.
pub const DEFAULT_POOL_URL: &str =
    "https://github.com/cargo-bins/cargo-quickinstall/releases/download";
/// cargo-quickinstall's minisign public key (its README and `cargo-binstall`'s metadata).
pub const DEFAULT_POOL_KEY: &str = "RWTdnnab2pAka9OdwgCMYyOE66M/BlQoFWaJ/JjwcPV+f3n24IRTj97t";
/// The targets cargo-quickinstall builds.
pub const DEFAULT_TARGETS: &[&str] = &[
    "x86_64-unknown-linux-gnu",
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-gnu",
    "aarch64-unknown-linux-musl",
    "armv7-unknown-linux-musleabihf",
    "armv7-unknown-linux-gnueabihf",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
    "x86_64-pc-windows-msvc",
    "aarch64-pc-windows-msvc",
];
/// The largest asset downloaded (it is held in memory once to verify its signature).
const MAX_ASSET: u64 = 512 << 20;

/// `build-index import quickinstall`'s inputs.
pub struct Request {
    pub tags: PathBuf,
    pub index: PathBuf,
    pub signer: Signer,
    pub registry: Option<String>,
    pub pool_url: String,
    pub pool_key: String,
    pub targets: Vec<String>,
    /// At most this many tags (the first of the file).
    pub max: Option<usize>,
}

/// Splits `{crate}-{version}`: the first `-` after which a semver version starts and before
/// which a valid crate name ends (crate names contain `-`, versions may too).
pub fn split_tag(tag: &str) -> Option<(&str, &str)> {
    tag.match_indices('-').find_map(|(i, _)| {
        let (name, version) = (&tag[..i], &tag[i + 1..]);
        let starts_with_digit = version.bytes().next().is_some_and(|b| b.is_ascii_digit());
        (starts_with_digit && is_valid_crate_name(name) && semver::Version::parse(version).is_ok())
            .then_some((name, version))
    })
}

/// The key id as minisign prints it (16 upper-case hex digits).
fn key_id(key: &PublicKey) -> String {
    key.keynum()
        .iter()
        .rev()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// Runs the import and returns its report.
pub fn run(request: &Request) -> Result<Report, ImportError> {
    let signer = &request.signer;
    let key =
        PublicKey::from_base64(request.pool_key.trim()).map_err(|e| ImportError::BadPoolKey {
            key: request.pool_key.clone(),
            reason: e.to_string(),
        })?;
    let key_id = key_id(&key);
    let text = super::read_capped(&request.tags, 64 << 20).map_err(|reason| ImportError::Read {
        path: request.tags.clone(),
        source: std::io::Error::other(reason),
    })?;
    let fetcher = super::fetcher();
    let registry = super::registry(request.registry.as_deref())?;
    let mut checksums = Checksums::new(&registry, &fetcher);
    let pool = super::location(&request.pool_url)?;
    let work = tempfile::tempdir().map_err(|source| ImportError::Write {
        path: std::env::temp_dir(),
        source,
    })?;
    let mut report = Report::default();
    let mut checked = Vec::new();
    let tags = String::from_utf8_lossy(&text);
    let tags = tags.lines().map(str::trim).filter(|l| !l.is_empty());
    for tag in tags.take(request.max.unwrap_or(usize::MAX)) {
        let Some((name, version)) = split_tag(tag) else {
            report.refuse(Reason::InvalidName, tag, "not a `{crate}-{version}` tag");
            continue;
        };
        let cksum = match checksums.cksum(name, version) {
            Ok(c) => c,
            Err(reason) => {
                report.refuse(Reason::NotInRegistry, tag, &reason);
                continue;
            }
        };
        for target in &request.targets {
            let entry = format!("{name} {version} {target}");
            let file = format!("{name}-{version}-{target}.tar.gz");
            let loc = pool.join(&format!("{tag}/{file}"));
            let url = loc.to_string();
            let archive = match fetcher.get_small(&loc, MAX_ASSET) {
                Ok(Some(bytes)) => bytes,
                Ok(None) => continue, // the pool has no build for this target
                Err(e) => {
                    report.refuse(super::download_reason(&e), &entry, &e.to_string());
                    continue;
                }
            };
            let sig_loc = pool.join(&format!("{tag}/{file}.sig"));
            let sig = match fetcher.get_small(&sig_loc, 64 << 10) {
                Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
                Ok(None) => {
                    report.refuse(Reason::Unsigned, &entry, "the pool has no `.sig` for it");
                    continue;
                }
                Err(e) => {
                    report.refuse(Reason::Download, &entry, &e.to_string());
                    continue;
                }
            };
            let built_at = match verify(&key, &archive, &sig) {
                Ok(at) => at,
                Err(reason) => {
                    report.refuse(Reason::BadSignature, &entry, &reason);
                    continue;
                }
            };
            let path = work.path().join(&file);
            if let Err(source) = std::fs::write(&path, &archive) {
                return Err(ImportError::Write { path, source });
            }
            let facts = match validate::inspect(&path) {
                Ok(f) => f,
                Err(e) => {
                    // Name the asset by its URL, not by the temporary copy.
                    let shown = e.to_string().replace(&path.display().to_string(), &url);
                    let _ = std::fs::remove_file(&path);
                    report.refuse(Reason::BadArchive, &entry, &shown);
                    continue;
                }
            };
            let _ = std::fs::remove_file(&path);
            let binaries: Vec<String> = facts
                .files
                .iter()
                .filter(|(_, mode)| *mode & 0o111 != 0)
                .map(|(n, _)| n.clone())
                .collect();
            if binaries.is_empty() {
                report.refuse(Reason::BadArchive, &entry, "it holds no executable");
                continue;
            }
            // A gnu build's glibc floor, so old hosts are not offered it (as for our builds).
            let min_glibc = if target.contains("-linux-gnu") {
                match glibc_floor(&archive, &binaries) {
                    Ok(v) => v,
                    Err(reason) => {
                        report.refuse(Reason::BadArchive, &entry, &reason);
                        continue;
                    }
                }
            } else {
                None
            };
            let mut release = super::imported_release(
                version,
                target,
                &url,
                &facts.sha256,
                facts.size,
                binaries,
                &built_at,
                Some(cksum.clone()),
                &[("imported_from", "cargo-quickinstall"), ("key_id", &key_id)],
            );
            release.min_glibc = min_glibc;
            if let Err(e) = release.validate() {
                report.refuse(Reason::InvalidEntry, &entry, &e.to_string());
                continue;
            }
            checked.push(Checked {
                kind: quickinstall::index::format::PackageKind::Crate,
                name: name.to_owned(),
                release,
            });
        }
    }
    write::write_all(&request.index, signer, checked, &mut report)?;
    report.finish();
    Ok(report)
}

/// The highest glibc any of `binaries` in the `.tar.gz` needs (`None`: static).
fn glibc_floor(archive: &[u8], binaries: &[String]) -> Result<Option<String>, String> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut floors = Vec::new();
    for entry in tar.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if !binaries.contains(&name) {
            continue;
        }
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).map_err(|e| e.to_string())?;
        let floor = crate::elf::min_glibc(&bytes)
            .map_err(|r| format!("`{name}` is not a well-formed ELF file: {r}"))?;
        floors.push(floor);
    }
    Ok(crate::elf::highest(floors))
}

/// Verifies a minisign signature over `data` (prehashed or legacy) and returns the signing
/// time from its trusted comment (`timestamp:<secs>`), or the epoch when it names none.
fn verify(key: &PublicKey, data: &[u8], sig: &str) -> Result<String, String> {
    let boxed = SignatureBox::from_string(sig).map_err(|e| format!("unreadable signature: {e}"))?;
    minisign::verify(key, &boxed, Cursor::new(data), true, false, true)
        .map_err(|e| format!("the signature does not verify with the pool key: {e}"))?;
    let comment = boxed.trusted_comment().unwrap_or_default();
    let secs = comment
        .split(|c: char| c.is_whitespace() || c == '\t')
        .find_map(|w| w.strip_prefix("timestamp:"))
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0);
    Ok(time::rfc3339_utc(secs))
}

#[cfg(test)]
mod tests {
    use super::split_tag;

    #[test]
    fn a_gnu_archive_gets_the_glibc_floor_of_its_binaries() {
        let exe = std::fs::read("/bin/true").unwrap();
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(exe.len() as u64);
        header.set_mode(0o755);
        header.set_cksum();
        tar.append_data(&mut header, "true", exe.as_slice())
            .unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar.into_inner().unwrap()).unwrap();
        let archive = gz.finish().unwrap();
        let floor = super::glibc_floor(&archive, &["true".to_owned()]).unwrap();
        assert!(floor.is_some_and(|v| v.starts_with("2.")));
        assert_eq!(super::glibc_floor(&archive, &[]).unwrap(), None);
    }

    #[test]
    fn tags_split_at_the_version_whatever_dashes_the_name_holds() {
        assert_eq!(split_tag("ripgrep-14.1.0"), Some(("ripgrep", "14.1.0")));
        assert_eq!(
            split_tag("cargo-foo-1.0.0-beta-1"),
            Some(("cargo-foo", "1.0.0-beta-1"))
        );
        assert_eq!(split_tag("foo-2d-1.0.0"), Some(("foo-2d", "1.0.0")));
        assert_eq!(split_tag("nothing"), None);
        assert_eq!(split_tag("-1.0.0"), None);
    }
}
