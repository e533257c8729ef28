//! Re-validation of a build's archive by `publish`, trusting nothing the build wrote.
//!
//! [`inspect`] reads the archive itself: its sha256 and size, and that it is a gzip'd tar of
//! regular files with plain top-level names (no links, devices, directories, `..`, absolute
//! paths or duplicates). [`check_against`] then compares those facts with the record: sha256
//! and size equal, every listed binary present and executable, nothing else but license files.
//! A macOS (Mach-O) binary must load libraries only from `/usr/lib` and `/System` ([`macho`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use quickinstall::index::format::is_valid_binary_name;
use sha2::{Digest, Sha256};

use crate::macho;
use crate::package::is_license_name;
use crate::record::BuildResult;

/// What the archive actually holds, computed from its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFacts {
    pub sha256: String,
    pub size: u64,
    /// Top-level file name → mode.
    pub files: BTreeMap<String, u32>,
}

/// Why an archive was refused.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error("could not read archive `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("archive `{}` is not a readable tar.gz: {source}", path.display())]
    Corrupt { path: PathBuf, source: io::Error },
    #[error("archive `{}` holds `{entry}`, which is {reason}", path.display())]
    BadEntry {
        path: PathBuf,
        entry: String,
        reason: &'static str,
    },
    #[error("archive `{}` does not match its record: {reason}", path.display())]
    Mismatch { path: PathBuf, reason: String },
    #[error(
        "archive `{}` holds `{entry}`, a macOS binary that loads `{library}`, which only the build machine has (allowed: /usr/lib and /System)",
        path.display()
    )]
    ForeignLibrary {
        path: PathBuf,
        entry: String,
        library: String,
    },
    #[error("archive `{}` holds `{entry}`, an unreadable Mach-O file: {reason}", path.display())]
    BadMachO {
        path: PathBuf,
        entry: String,
        reason: String,
    },
}

/// Hashes the file and walks its tar entries, refusing anything but plain top-level files.
pub fn inspect(path: &Path) -> Result<ArchiveFacts, ValidateError> {
    let read_err = |source| ValidateError::Read {
        path: path.to_owned(),
        source,
    };
    let (sha256, size) = hash_file(path).map_err(read_err)?;
    let corrupt = |source| ValidateError::Corrupt {
        path: path.to_owned(),
        source,
    };
    let bad = |entry: &str, reason| ValidateError::BadEntry {
        path: path.to_owned(),
        entry: entry.to_owned(),
        reason,
    };
    let file = File::open(path).map_err(read_err)?;
    let mut archive = tar::Archive::new(GzDecoder::new(file));
    let mut files = BTreeMap::new();
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let raw_name = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw_name).into_owned();
        if !entry.header().entry_type().is_file() {
            return Err(bad(&name, "not a regular file"));
        }
        if raw_name.starts_with(b"/") {
            return Err(bad(&name, "an absolute path"));
        }
        if raw_name.split(|&b| b == b'/').any(|part| part == b"..") {
            return Err(bad(&name, "a path leaving the archive"));
        }
        if raw_name.contains(&b'/') {
            return Err(bad(&name, "not at the top level of the archive"));
        }
        if std::str::from_utf8(&raw_name).is_err() || !is_valid_binary_name(&name) {
            return Err(bad(&name, "not a plain file name"));
        }
        let mode = entry.header().mode().map_err(corrupt)?;
        if files.insert(name.clone(), mode).is_some() {
            return Err(bad(&name, "present twice"));
        }
        // Read the data through so a truncated archive is caught here, not by a client; a
        // Mach-O file is read whole and must load only system libraries.
        let mut head = Vec::with_capacity(4);
        (&mut entry)
            .take(4)
            .read_to_end(&mut head)
            .map_err(corrupt)?;
        if macho::is_macho(&head) {
            entry.read_to_end(&mut head).map_err(corrupt)?;
            let foreign =
                macho::foreign_libraries(&head).map_err(|reason| ValidateError::BadMachO {
                    path: path.to_owned(),
                    entry: name.clone(),
                    reason,
                })?;
            if let Some(library) = foreign.into_iter().next() {
                return Err(ValidateError::ForeignLibrary {
                    path: path.to_owned(),
                    entry: name,
                    library,
                });
            }
        } else {
            io::copy(&mut entry, &mut io::sink()).map_err(corrupt)?;
        }
    }
    Ok(ArchiveFacts {
        sha256,
        size,
        files,
    })
}

/// Compares the archive's facts with what the record claims; the reason names the first
/// difference.
pub fn check_against(
    facts: &ArchiveFacts,
    record: &BuildResult,
    path: &Path,
) -> Result<(), ValidateError> {
    let mismatch = |reason: String| ValidateError::Mismatch {
        path: path.to_owned(),
        reason,
    };
    if facts.sha256 != record.sha256 {
        return Err(mismatch(format!(
            "its sha256 is {}, the record says {}",
            facts.sha256, record.sha256
        )));
    }
    if facts.size != record.size {
        return Err(mismatch(format!(
            "its size is {} bytes, the record says {}",
            facts.size, record.size
        )));
    }
    for binary in &record.binaries {
        match facts.files.get(binary) {
            None => return Err(mismatch(format!("binary `{binary}` is missing"))),
            Some(mode) if mode & 0o111 == 0 => {
                return Err(mismatch(format!("binary `{binary}` is not executable")));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = facts
        .files
        .keys()
        .find(|name| !record.binaries.contains(name) && !is_license_name(name))
    {
        return Err(mismatch(format!(
            "`{extra}` is neither a listed binary nor a license file"
        )));
    }
    Ok(())
}

/// Lower-case hex sha256 and size of a file, streamed.
pub fn hash_file(path: &Path) -> io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        size += n as u64;
    }
    Ok((hex(&hasher.finalize()), size))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;
    use tar::{EntryType, Header};

    use super::*;
    use crate::record::tests::result;

    /// A hand-made archive: (name, type, mode, data). Bypasses the tar builder's own path
    /// checks so hostile entries can be written.
    pub(crate) fn hostile_archive(path: &Path, entries: &[(&str, EntryType, u32, &[u8])]) {
        let mut raw = Vec::new();
        for (name, kind, mode, data) in entries {
            let mut h = Header::new_gnu();
            {
                let gnu = h.as_gnu_mut().unwrap();
                gnu.name[..name.len()].copy_from_slice(name.as_bytes());
            }
            h.set_entry_type(*kind);
            h.set_mode(*mode);
            h.set_size(data.len() as u64);
            if *kind == EntryType::Symlink || *kind == EntryType::Link {
                h.set_link_name("target").unwrap();
            }
            h.set_cksum();
            raw.extend_from_slice(h.as_bytes());
            raw.extend_from_slice(data);
            raw.resize(raw.len().div_ceil(512) * 512, 0);
        }
        raw.extend_from_slice(&[0; 1024]);
        let mut gz = GzEncoder::new(File::create(path).unwrap(), Compression::default());
        gz.write_all(&raw).unwrap();
        gz.finish().unwrap();
    }

    fn refusal(entries: &[(&str, EntryType, u32, &[u8])]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar.gz");
        hostile_archive(&path, entries);
        match inspect(&path) {
            Err(e @ ValidateError::BadEntry { .. }) => e.to_string(),
            other => panic!("accepted or wrong error: {other:?}"),
        }
    }

    #[test]
    fn refuses_a_macos_binary_linking_outside_the_system_libraries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar.gz");
        let r = EntryType::Regular;
        let brew = crate::macho::tests::macho_loading(&[
            "/usr/lib/libSystem.B.dylib",
            "/opt/homebrew/opt/openssl@3/lib/libssl.3.dylib",
        ]);
        hostile_archive(&path, &[("tool", r, 0o755, &brew)]);
        let err = inspect(&path).unwrap_err();
        assert!(matches!(err, ValidateError::ForeignLibrary { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("/opt/homebrew/opt/openssl@3/lib/libssl.3.dylib"),
            "{err}"
        );
        let system = crate::macho::tests::macho_loading(&["/usr/lib/libSystem.B.dylib"]);
        hostile_archive(&path, &[("tool", r, 0o755, &system)]);
        assert!(inspect(&path).unwrap().files.contains_key("tool"));
        hostile_archive(&path, &[("tool", r, 0o755, &system[..40])]);
        assert!(matches!(
            inspect(&path),
            Err(ValidateError::BadMachO { .. })
        ));
    }

    #[test]
    fn refuses_links_special_files_and_escaping_paths() {
        let r = EntryType::Regular;
        assert!(refusal(&[("hello", EntryType::Symlink, 0o755, b"")]).contains("regular"));
        assert!(refusal(&[("hello", EntryType::Link, 0o755, b"")]).contains("regular"));
        assert!(refusal(&[("dev", EntryType::Char, 0o755, b"")]).contains("regular"));
        assert!(refusal(&[("fifo", EntryType::Fifo, 0o755, b"")]).contains("regular"));
        assert!(refusal(&[("dir/", EntryType::Directory, 0o755, b"")]).contains("regular"));
        assert!(refusal(&[("../x", r, 0o755, b"x")]).contains("leaving"));
        assert!(refusal(&[("/etc/x", r, 0o755, b"x")]).contains("absolute"));
        assert!(refusal(&[("bin/x", r, 0o755, b"x")]).contains("top level"));
        assert!(refusal(&[("x", r, 0o755, b"x"), ("x", r, 0o755, b"y")]).contains("twice"));
        assert!(refusal(&[(".hidden", r, 0o755, b"x")]).contains("plain"));
    }

    #[test]
    fn checks_binaries_extra_files_sha_and_size_against_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar.gz");
        let r = EntryType::Regular;
        hostile_archive(
            &path,
            &[("hello", r, 0o755, b"bin"), ("LICENSE", r, 0o644, b"MIT")],
        );
        let facts = inspect(&path).unwrap();
        let mut record = result();
        record.sha256 = facts.sha256.clone();
        record.size = facts.size;
        check_against(&facts, &record, &path).unwrap();

        let mut wrong_sha = record.clone();
        wrong_sha.sha256 = "00".repeat(32);
        assert!(check_against(&facts, &wrong_sha, &path).is_err());
        let mut wrong_size = record.clone();
        wrong_size.size += 1;
        assert!(check_against(&facts, &wrong_size, &path).is_err());
        let mut missing = record.clone();
        missing.binaries.push("other".into());
        let err = check_against(&facts, &missing, &path).unwrap_err();
        assert!(err.to_string().contains("`other` is missing"), "{err}");

        hostile_archive(&path, &[("hello", r, 0o644, b"bin")]);
        let facts = inspect(&path).unwrap();
        record.sha256 = facts.sha256.clone();
        record.size = facts.size;
        let err = check_against(&facts, &record, &path).unwrap_err();
        assert!(err.to_string().contains("not executable"), "{err}");

        hostile_archive(
            &path,
            &[("hello", r, 0o755, b"bin"), ("README.md", r, 0o644, b"x")],
        );
        let facts = inspect(&path).unwrap();
        record.sha256 = facts.sha256.clone();
        record.size = facts.size;
        let err = check_against(&facts, &record, &path).unwrap_err();
        assert!(err.to_string().contains("README.md"), "{err}");
    }

    #[test]
    fn refuses_a_file_that_is_not_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar.gz");
        std::fs::write(&path, b"plain text").unwrap();
        assert!(matches!(inspect(&path), Err(ValidateError::Corrupt { .. })));
    }
}
