//! A Go module zip (`<proxy>/<module>/@v/<version>.zip`), opened with every entry name checked
//! before any byte is extracted or parsed.
//!
//! The checks follow `golang.org/x/mod/zip`: every entry lies under `<module>@<version>/`, its
//! path has only plain elements (no `..`, `.`, empty elements, absolute paths or backslashes),
//! it is a regular file or directory (no symlinks) and the sizes stay under Go's own limits.
//! This module reads zips; it does not download them nor decide what to build.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use zip::ZipArchive;

/// Go's limit on a module zip's uncompressed size (`zip.MaxZipFile`).
pub const MAX_UNPACKED: u64 = 500 << 20;
/// Go's limit on a `.go` file's size when it reads build constraints; larger sources are not
/// read for command detection.
pub const MAX_SOURCE: u64 = 16 << 20;

/// Why a module zip was refused or could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ModZipError {
    #[error("could not read the module zip `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("`{}` is not a readable zip of `{module}@{version}`: {reason}", path.display())]
    Corrupt {
        path: PathBuf,
        module: String,
        version: String,
        reason: String,
    },
    #[error(
        "the zip of `{module}@{version}` holds `{entry}`, which {reason}; nothing was extracted"
    )]
    BadEntry {
        module: String,
        version: String,
        entry: String,
        reason: &'static str,
    },
    #[error("the zip of `{module}@{version}` unpacks to more than {} MiB; nothing was extracted", MAX_UNPACKED >> 20)]
    TooLarge { module: String, version: String },
    #[error("could not extract `{entry}` to `{}`: {source}", dest.display())]
    Extract {
        entry: String,
        dest: PathBuf,
        source: io::Error,
    },
}

/// One checked entry: its path relative to the module root, and whether it is a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Checked {
    index: usize,
    relative: String,
    is_dir: bool,
}

/// An opened module zip whose entry names all passed [`check_entry_name`].
pub struct ModuleZip {
    archive: ZipArchive<File>,
    entries: Vec<Checked>,
    module: String,
    version: String,
}

/// The part of an entry name below `<module>@<version>/`, if the name is safe: every element a
/// plain name (no empty, `.` or `..` element), no backslash, NUL or drive colon. `Err` holds
/// the reason as a sentence fragment.
pub fn check_entry_name<'a>(
    name: &'a str,
    module: &str,
    version: &str,
) -> Result<&'a str, &'static str> {
    let prefix = format!("{module}@{version}/");
    let relative = name
        .strip_prefix(prefix.as_str())
        .ok_or("is not under the module's `<module>@<version>/` directory")?;
    if relative.contains('\\') || relative.contains('\0') || relative.contains(':') {
        return Err("has a backslash, colon or NUL byte in its path");
    }
    let trimmed = relative.strip_suffix('/').unwrap_or(relative);
    if trimmed.is_empty() {
        // The root directory entry itself.
        return Ok("");
    }
    if trimmed
        .split('/')
        .any(|e| e.is_empty() || e == "." || e == "..")
    {
        return Err("has an empty, `.` or `..` path element");
    }
    Ok(trimmed)
}

impl ModuleZip {
    /// Opens the zip at `path` and checks every entry; refuses the whole zip on the first bad one.
    pub fn open(path: &Path, module: &str, version: &str) -> Result<Self, ModZipError> {
        let file = File::open(path).map_err(|source| ModZipError::Read {
            path: path.to_owned(),
            source,
        })?;
        let corrupt = |reason: String| ModZipError::Corrupt {
            path: path.to_owned(),
            module: module.to_owned(),
            version: version.to_owned(),
            reason,
        };
        let bad = |entry: &str, reason| ModZipError::BadEntry {
            module: module.to_owned(),
            version: version.to_owned(),
            entry: entry.to_owned(),
            reason,
        };
        let mut archive = ZipArchive::new(file).map_err(|e| corrupt(e.to_string()))?;
        let mut entries = Vec::with_capacity(archive.len());
        let mut seen = BTreeSet::new();
        let mut total: u64 = 0;
        for index in 0..archive.len() {
            let entry = archive
                .by_index_raw(index)
                .map_err(|e| corrupt(e.to_string()))?;
            let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
            let relative = check_entry_name(&name, module, version).map_err(|r| bad(&name, r))?;
            if entry.is_symlink() {
                return Err(bad(&name, "is a symbolic link"));
            }
            let is_dir = entry.is_dir();
            if !is_dir && relative.is_empty() {
                return Err(bad(&name, "is not a file name"));
            }
            // Two entries for one path (or differing only in case) would make the result
            // depend on extraction order; Go refuses those too.
            if !is_dir && !seen.insert(relative.to_lowercase()) {
                return Err(bad(&name, "appears twice (ignoring case)"));
            }
            total = total.saturating_add(entry.size());
            if total > MAX_UNPACKED {
                return Err(ModZipError::TooLarge {
                    module: module.to_owned(),
                    version: version.to_owned(),
                });
            }
            entries.push(Checked {
                index,
                relative: relative.to_owned(),
                is_dir,
            });
        }
        Ok(Self {
            archive,
            entries,
            module: module.to_owned(),
            version: version.to_owned(),
        })
    }

    /// Every regular file's path relative to the module root, sorted.
    pub fn files(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .entries
            .iter()
            .filter(|e| !e.is_dir)
            .map(|e| e.relative.as_str())
            .collect();
        out.sort_unstable();
        out
    }

    /// The `.go` files (path relative to the module root → contents), for command detection;
    /// files over [`MAX_SOURCE`] are skipped.
    pub fn go_sources(&mut self) -> Result<BTreeMap<String, Vec<u8>>, ModZipError> {
        let mut out = BTreeMap::new();
        for e in self.entries.iter().filter(|e| !e.is_dir) {
            if !e.relative.ends_with(".go") {
                continue;
            }
            let mut file = self
                .archive
                .by_index(e.index)
                .map_err(|err| corrupt_entry(&self.module, &self.version, &e.relative, &err))?;
            if file.size() > MAX_SOURCE {
                continue;
            }
            let mut bytes = Vec::new();
            file.by_ref()
                .take(MAX_SOURCE + 1)
                .read_to_end(&mut bytes)
                .map_err(|err| corrupt_entry(&self.module, &self.version, &e.relative, &err))?;
            out.insert(e.relative.clone(), bytes);
        }
        Ok(out)
    }

    /// Extracts every entry below `dest` (which must exist), files with mode 0644; an existing
    /// file is never overwritten. Returns `dest`.
    pub fn extract(&mut self, dest: &Path) -> Result<PathBuf, ModZipError> {
        for e in &self.entries {
            let target = e
                .relative
                .split('/')
                .fold(dest.to_owned(), |p, el| p.join(el));
            let err = |source| ModZipError::Extract {
                entry: e.relative.clone(),
                dest: dest.to_owned(),
                source,
            };
            if e.is_dir {
                fs::create_dir_all(&target).map_err(err)?;
                continue;
            }
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).map_err(err)?;
            }
            let mut file = self
                .archive
                .by_index(e.index)
                .map_err(|zerr| corrupt_entry(&self.module, &self.version, &e.relative, &zerr))?;
            let mut out = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&target)
                .map_err(err)?;
            // The declared size was summed in `open`; never read past it (a lying header).
            let declared = file.size();
            io::copy(&mut file.by_ref().take(declared), &mut out).map_err(err)?;
        }
        Ok(dest.to_owned())
    }
}

fn corrupt_entry(
    module: &str,
    version: &str,
    entry: &str,
    err: &dyn std::fmt::Display,
) -> ModZipError {
    ModZipError::Corrupt {
        path: PathBuf::from(entry),
        module: module.to_owned(),
        version: version.to_owned(),
        reason: err.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use zip::write::SimpleFileOptions;

    use super::*;

    /// A zip at `path` holding `files` (name → contents) and, for each name in `links`, a
    /// symbolic link.
    pub(crate) fn write_zip(path: &Path, files: &[(&str, &str)], links: &[&str]) {
        let mut w = zip::ZipWriter::new(File::create(path).unwrap());
        for (name, body) in files {
            w.start_file(*name, SimpleFileOptions::default()).unwrap();
            w.write_all(body.as_bytes()).unwrap();
        }
        for name in links {
            w.add_symlink(*name, "/etc/passwd", SimpleFileOptions::default())
                .unwrap();
        }
        w.finish().unwrap();
    }

    const M: &str = "example.com/tool";
    const V: &str = "v1.0.0";

    #[test]
    fn entry_names_must_be_plain_paths_under_the_module_root() {
        assert_eq!(
            check_entry_name("example.com/tool@v1.0.0/a/b.go", M, V),
            Ok("a/b.go")
        );
        assert_eq!(
            check_entry_name("example.com/tool@v1.0.0/a/", M, V),
            Ok("a")
        );
        for bad in [
            "example.com/other@v1.0.0/a.go",
            "example.com/tool@v1.0.1/a.go",
            "/etc/passwd",
            "example.com/tool@v1.0.0/../../x",
            "example.com/tool@v1.0.0/a//b",
            "example.com/tool@v1.0.0/./a",
            "example.com/tool@v1.0.0/a\\..\\b",
            "example.com/tool@v1.0.0/C:/x",
        ] {
            assert!(check_entry_name(bad, M, V).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn extracts_a_clean_module_zip() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("m.zip");
        write_zip(
            &zip,
            &[
                (
                    "example.com/tool@v1.0.0/go.mod",
                    "module example.com/tool\n",
                ),
                ("example.com/tool@v1.0.0/cmd/a/main.go", "package main\n"),
            ],
            &[],
        );
        let dest = dir.path().join("src");
        fs::create_dir(&dest).unwrap();
        let mut z = ModuleZip::open(&zip, M, V).unwrap();
        assert_eq!(z.files(), ["cmd/a/main.go", "go.mod"]);
        assert_eq!(z.go_sources().unwrap().len(), 1);
        z.extract(&dest).unwrap();
        assert_eq!(
            fs::read_to_string(dest.join("cmd/a/main.go")).unwrap(),
            "package main\n"
        );
    }

    #[test]
    fn refuses_a_zip_with_path_traversal_naming_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("m.zip");
        write_zip(
            &zip,
            &[
                (
                    "example.com/tool@v1.0.0/go.mod",
                    "module example.com/tool\n",
                ),
                ("example.com/tool@v1.0.0/../../evil", "x"),
            ],
            &[],
        );
        let err = ModuleZip::open(&zip, M, V).err().unwrap();
        assert!(matches!(err, ModZipError::BadEntry { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("`example.com/tool@v1.0.0/../../evil`"),
            "{err}"
        );
        assert!(!dir.path().join("evil").exists());
    }

    #[test]
    fn refuses_symlinks_and_entries_outside_the_module_root() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("link.zip");
        write_zip(&zip, &[], &["example.com/tool@v1.0.0/passwd"]);
        let err = ModuleZip::open(&zip, M, V).err().unwrap();
        assert!(err.to_string().contains("symbolic link"), "{err}");

        let zip = dir.path().join("outside.zip");
        write_zip(&zip, &[("other/go.mod", "module other\n")], &[]);
        let err = ModuleZip::open(&zip, M, V).err().unwrap();
        assert!(err.to_string().contains("`other/go.mod`"), "{err}");
    }

    #[test]
    fn refuses_duplicate_paths_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("dup.zip");
        write_zip(
            &zip,
            &[
                ("example.com/tool@v1.0.0/A.go", "package a\n"),
                ("example.com/tool@v1.0.0/a.go", "package a\n"),
            ],
            &[],
        );
        assert!(
            ModuleZip::open(&zip, M, V)
                .err()
                .unwrap()
                .to_string()
                .contains("twice")
        );
        let junk = dir.path().join("junk.zip");
        fs::write(&junk, b"not a zip").unwrap();
        assert!(matches!(
            ModuleZip::open(&junk, M, V),
            Err(ModZipError::Corrupt { .. })
        ));
    }
}
