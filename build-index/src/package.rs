//! Reproducible `.tar.gz` archives of built binaries and license files.
//!
//! Same files in, same bytes out: entries sorted by name at the top level (no directory
//! entries), GNU headers with fixed mode/owner/mtime and empty user and group names, gzip with
//! mtime 0, no file name and a fixed level and OS byte. This module does not run builds or
//! decide which binaries exist; it packs what it is given.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};
use quickinstall::index::format::is_valid_binary_name;
use tar::{EntryType, Header};

use crate::atomic;

/// Mode of executables in the archive.
pub const BINARY_MODE: u32 = 0o755;
/// Mode of license files in the archive.
pub const LICENSE_MODE: u32 = 0o644;

/// One file to pack: its name at the archive's top level, where to read it, its mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub source: PathBuf,
    pub mode: u32,
}

/// Why an archive could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("could not list `{}`: {source}", path.display())]
    List { path: PathBuf, source: io::Error },
    #[error("`{}` cannot be packaged: its name is not a plain UTF-8 file name", path.display())]
    BadName { path: PathBuf },
    #[error("two files named `{name}` would go into the archive")]
    Duplicate { name: String },
    #[error("there are no binaries in `{}` to package", path.display())]
    NoBinaries { path: PathBuf },
    #[error("could not write archive `{}`: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Top-level file names that are license files: `LICENSE*`, `LICENCE*`, `COPYING*`,
/// `NOTICE*`, in any case. Shared with [`crate::validate`], which allows nothing else.
pub fn is_license_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["LICENSE", "LICENCE", "COPYING", "NOTICE"]
        .iter()
        .any(|p| upper.starts_with(p))
}

/// The regular files in `dir` (cargo's `<root>/bin`), as executables.
pub fn binaries_in(dir: &Path) -> Result<Vec<Entry>, PackageError> {
    let entries = regular_files(dir, |_| true, BINARY_MODE)?;
    if entries.is_empty() {
        return Err(PackageError::NoBinaries {
            path: dir.to_owned(),
        });
    }
    Ok(entries)
}

/// The top-level license files of a source directory; symlinks are ignored so a crate cannot
/// smuggle an arbitrary file of the build machine into its archive.
pub fn license_files_in(dir: &Path) -> Result<Vec<Entry>, PackageError> {
    regular_files(dir, is_license_name, LICENSE_MODE)
}

fn regular_files(
    dir: &Path,
    wanted: impl Fn(&str) -> bool,
    mode: u32,
) -> Result<Vec<Entry>, PackageError> {
    let list_err = |source| PackageError::List {
        path: dir.to_owned(),
        source,
    };
    let mut out = Vec::new();
    for item in fs::read_dir(dir).map_err(list_err)? {
        let item = item.map_err(list_err)?;
        if !item.file_type().map_err(list_err)?.is_file() {
            continue;
        }
        let Some(name) = item.file_name().to_str().map(str::to_owned) else {
            return Err(PackageError::BadName { path: item.path() });
        };
        if !wanted(&name) {
            continue;
        }
        if !is_valid_binary_name(&name) {
            return Err(PackageError::BadName { path: item.path() });
        }
        out.push(Entry {
            name,
            source: item.path(),
            mode,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Writes the archive of `entries` to `out` atomically, with every mtime set to `mtime`.
pub fn write_archive(out: &Path, mut entries: Vec<Entry>, mtime: u64) -> Result<(), PackageError> {
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(pair) = entries.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(PackageError::Duplicate {
            name: pair[0].name.clone(),
        });
    }
    let write_err = |source| PackageError::Write {
        path: out.to_owned(),
        source,
    };
    let tmp = atomic::temp_beside(out).map_err(write_err)?;
    let tmp = pack(tmp, &entries, mtime).map_err(write_err)?;
    atomic::finish(tmp, out, 0o644).map_err(write_err)
}

/// The tar.gz stream of sorted `entries` into `sink`; returns the sink when done.
fn pack<W: Write>(sink: W, entries: &[Entry], mtime: u64) -> io::Result<W> {
    // OS byte 255 ("unknown") so the bytes do not depend on the packing machine.
    let gz = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(sink, Compression::new(9));
    let mut tar = tar::Builder::new(gz);
    for entry in entries {
        let file = File::open(&entry.source)?;
        let mut header = Header::new_gnu();
        header.set_entry_type(EntryType::Regular);
        header.set_size(file.metadata()?.len());
        header.set_mode(entry.mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_username("")?;
        header.set_groupname("")?;
        header.set_mtime(mtime);
        tar.append_data(&mut header, &entry.name, file)?;
    }
    tar.into_inner()?.finish()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use flate2::read::GzDecoder;

    use super::*;

    fn fixture(dir: &Path) -> Vec<Entry> {
        fs::create_dir_all(dir.join("bin")).unwrap();
        fs::write(dir.join("bin/zeta"), b"\x7fELF zeta").unwrap();
        fs::write(dir.join("bin/alpha"), b"\x7fELF alpha").unwrap();
        fs::write(dir.join("LICENSE-MIT"), b"MIT").unwrap();
        fs::write(dir.join("README.md"), b"not a license").unwrap();
        let mut entries = binaries_in(&dir.join("bin")).unwrap();
        entries.extend(license_files_in(dir).unwrap());
        entries
    }

    #[test]
    fn same_input_gives_same_bytes_whatever_the_order_and_file_times() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let mut first = fixture(a.path());
        let second = fixture(b.path());
        first.reverse();
        // Different on-disk mtimes and permissions must not leak into the archive.
        fs::File::options()
            .write(true)
            .open(a.path().join("bin/alpha"))
            .unwrap()
            .set_modified(std::time::UNIX_EPOCH)
            .unwrap();
        write_archive(&a.path().join("x.tar.gz"), first, 7).unwrap();
        write_archive(&b.path().join("x.tar.gz"), second, 7).unwrap();
        let bytes_a = fs::read(a.path().join("x.tar.gz")).unwrap();
        let bytes_b = fs::read(b.path().join("x.tar.gz")).unwrap();
        assert_eq!(bytes_a, bytes_b);
    }

    #[test]
    fn entries_are_sorted_top_level_files_with_fixed_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.tar.gz");
        write_archive(&out, fixture(dir.path()), 42).unwrap();
        let mut raw = Vec::new();
        let gz = GzDecoder::new(File::open(&out).unwrap());
        assert_eq!(gz.header().unwrap().mtime(), 0);
        assert_eq!(gz.header().unwrap().filename(), None);
        let mut archive = tar::Archive::new(gz);
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let h = entry.header().clone();
            raw.push((
                entry.path().unwrap().to_string_lossy().into_owned(),
                h.mode().unwrap(),
                h.mtime().unwrap(),
                h.uid().unwrap(),
                h.username().unwrap().unwrap().to_owned(),
            ));
            entry.read_to_end(&mut Vec::new()).unwrap();
        }
        assert_eq!(
            raw,
            [
                ("LICENSE-MIT".to_owned(), 0o644, 42, 0, String::new()),
                ("alpha".to_owned(), 0o755, 42, 0, String::new()),
                ("zeta".to_owned(), 0o755, 42, 0, String::new()),
            ]
        );
    }

    #[test]
    fn license_names_are_recognised() {
        for yes in [
            "LICENSE",
            "LICENSE-APACHE",
            "licence.txt",
            "COPYING",
            "NOTICE",
        ] {
            assert!(is_license_name(yes), "{yes}");
        }
        for no in ["README.md", "Cargo.toml", "MY-LICENSE"] {
            assert!(!is_license_name(no), "{no}");
        }
    }

    #[test]
    fn refuses_duplicates_and_empty_bin_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let entry = Entry {
            name: "a".into(),
            source: dir.path().join("a"),
            mode: BINARY_MODE,
        };
        let err = write_archive(&dir.path().join("x.tar.gz"), vec![entry.clone(), entry], 0);
        assert!(matches!(err, Err(PackageError::Duplicate { .. })));
        assert!(!dir.path().join("x.tar.gz").exists());
        fs::create_dir(dir.path().join("bin")).unwrap();
        assert!(matches!(
            binaries_in(&dir.path().join("bin")),
            Err(PackageError::NoBinaries { .. })
        ));
    }
}
