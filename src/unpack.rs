//! A verified `.tar.gz` archive into a staging directory, by allow-list.
//!
//! Runs after the archive's size and sha256 matched a signed index entry, and still trusts none
//! of its structure: only top-level regular files whose names the index lists are written (with
//! std, mode 0755, nothing else from the header applied); license files are skipped; anything
//! else refuses the whole archive and removes what was written. It never touches the install
//! directory; [`crate::install`] moves the staged files there.

use std::cell::Cell;
use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use flate2::read::GzDecoder;
use tar::EntryType;

use crate::index::format::is_valid_binary_name;
use crate::install::set_executable;

/// The most bytes an archive's gzip stream may inflate to: every entry (written or skipped),
/// headers, padding and whatever follows the end of the tar.
/// Far above any real tool, low enough that a crafted archive cannot fill the disk.
pub const MAX_UNPACKED_BYTES: u64 = 2 << 30;

/// A binary written into the staging directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedBinary {
    /// The file name, as the index lists it.
    pub name: String,
    /// Where it was written (inside the staging directory).
    pub path: PathBuf,
}

/// Why an archive was refused. Each message names the archive and, where there is one, the entry.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The reader's text can quote a header's raw name, so it is escaped like entry names.
    #[error("the archive `{archive}` is corrupt or truncated: {}", display_entry_name(source.to_string().as_bytes()))]
    Corrupt { archive: PathBuf, source: io::Error },
    #[error("the archive `{archive}` holds `{entry}`, {problem}; refusing to unpack it")]
    Entry {
        archive: PathBuf,
        entry: String,
        problem: EntryProblem,
    },
    #[error("the archive `{archive}` does not hold the binary `{name}` that the index lists")]
    MissingBinary { archive: PathBuf, name: String },
    #[error("the archive `{archive}` unpacks to more than {limit} bytes; refusing to unpack it")]
    TooLarge { archive: PathBuf, limit: u64 },
    #[error("could not write `{path}` while unpacking: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// What is wrong with one entry; reads as the end of a sentence about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EntryProblem {
    #[error("an absolute path")]
    Absolute,
    #[error("a path that climbs out with `..`")]
    ParentDir,
    #[error("a path that is not a plain name at the top level")]
    NotTopLevel,
    #[error("a name that is not a plain file name")]
    InvalidName,
    #[error("a symbolic link")]
    Symlink,
    #[error("a hard link")]
    HardLink,
    #[error("a device file")]
    Device,
    #[error("a named pipe")]
    Fifo,
    #[error("a directory")]
    Directory,
    #[error("an entry of a kind this installer does not accept")]
    UnsupportedKind,
    #[error("an entry that appears twice")]
    Duplicate,
    #[error("an unexpected file that the index does not list")]
    Unexpected,
}

/// What to do with an entry that passed the checks.
#[derive(Debug, PartialEq, Eq)]
enum Disposition {
    /// A binary the index lists: write it.
    Binary(String),
    /// A license or notice file, or a listed binary not asked for: skip it.
    Skip,
}

/// Unpacks `archive` (a `.tar.gz`) into `staging`, an existing empty directory, returning the
/// binaries of `expected_binaries` in that order. On any error, nothing written stays behind.
pub fn unpack_archive(
    archive: &Path,
    staging: &Path,
    expected_binaries: &[String],
) -> Result<Vec<StagedBinary>, UnpackError> {
    unpack_with_limit(
        archive,
        staging,
        expected_binaries,
        expected_binaries,
        MAX_UNPACKED_BYTES,
    )
}

/// Like [`unpack_archive`] for an archive holding several commands (a Go module's) of which
/// only `wanted` are to be installed: the other `listed` binaries are accepted and skipped.
pub fn unpack_selected(
    archive: &Path,
    staging: &Path,
    listed: &[String],
    wanted: &[String],
) -> Result<Vec<StagedBinary>, UnpackError> {
    unpack_with_limit(archive, staging, listed, wanted, MAX_UNPACKED_BYTES)
}

/// Stages a release of format `bin` (one raw executable, size and sha256 already checked) under
/// its one binary name: a copy of `file` in `staging`, mode 0755. Nothing is unpacked.
pub fn stage_raw_binary(
    file: &Path,
    staging: &Path,
    name: &str,
) -> Result<Vec<StagedBinary>, UnpackError> {
    if !is_valid_binary_name(name) {
        return Err(UnpackError::Entry {
            archive: file.to_owned(),
            entry: name.to_owned(),
            problem: EntryProblem::InvalidName,
        });
    }
    let path = staging.join(name);
    let write = |source| UnpackError::Write {
        path: path.clone(),
        source,
    };
    fs::copy(file, &path).map_err(write)?;
    let staged = File::options().write(true).open(&path).map_err(write)?;
    set_executable(&staged).map_err(write)?;
    staged.sync_all().map_err(write)?;
    Ok(vec![StagedBinary {
        name: name.to_owned(),
        path,
    }])
}

fn unpack_with_limit(
    archive: &Path,
    staging: &Path,
    listed: &[String],
    expected_binaries: &[String],
    limit: u64,
) -> Result<Vec<StagedBinary>, UnpackError> {
    let mut written = WrittenFiles::default();
    let staged = unpack_into(
        archive,
        staging,
        listed,
        expected_binaries,
        limit,
        &mut written,
    )?;
    written.keep();
    Ok(staged)
}

fn unpack_into(
    archive: &Path,
    staging: &Path,
    listed: &[String],
    expected_binaries: &[String],
    limit: u64,
    written: &mut WrittenFiles,
) -> Result<Vec<StagedBinary>, UnpackError> {
    let file = File::open(archive).map_err(|source| UnpackError::Corrupt {
        archive: archive.to_owned(),
        source,
    })?;
    // Every byte the gzip stream yields is charged here, whether tar writes it, skips it (a
    // license, a listed binary not asked for, padding) or it follows the end of the tar: a
    // skipped entry must not inflate without bound.
    let inflated = Rc::new(Cell::new(0u64));
    let stream = Capped {
        inner: GzDecoder::new(file),
        inflated: Rc::clone(&inflated),
        limit,
    };
    let too_large = || UnpackError::TooLarge {
        archive: archive.to_owned(),
        limit,
    };
    // A read error is the cap if the cap was crossed (tar wraps the error, so ask the counter
    // rather than the error), else a corrupt archive.
    let corrupt = |source| {
        if inflated.get() > limit {
            too_large()
        } else {
            UnpackError::Corrupt {
                archive: archive.to_owned(),
                source,
            }
        }
    };
    let mut tar = tar::Archive::new(stream);
    let mut seen = HashSet::new();

    for entry in tar.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let raw_name = entry.path_bytes().into_owned();
        let refuse = |problem| UnpackError::Entry {
            archive: archive.to_owned(),
            entry: display_entry_name(&raw_name),
            problem,
        };
        let disposition = classify(
            &raw_name,
            entry.header().entry_type(),
            listed,
            expected_binaries,
        )
        .map_err(refuse)?;
        // `classify` accepted the name, so it is UTF-8; compare case-insensitively so that two
        // entries cannot collide on a case-insensitive file system.
        let key = String::from_utf8_lossy(&raw_name).to_lowercase();
        if !seen.insert(key) {
            return Err(refuse(EntryProblem::Duplicate));
        }
        let Disposition::Binary(name) = disposition else {
            continue;
        };
        // The header's size is a claim, checked up front; the counter checks what is inflated.
        if entry.size() > limit.saturating_sub(inflated.get()) {
            return Err(too_large());
        }
        let path = staging.join(&name);
        let mut out = match File::create_new(&path) {
            Ok(out) => out,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(refuse(EntryProblem::Duplicate));
            }
            Err(source) => return Err(UnpackError::Write { path, source }),
        };
        written.push(path.clone());
        copy_entry(&mut entry, &mut out, &path, &corrupt)?;
        set_executable(&out).map_err(|source| UnpackError::Write {
            path: path.clone(),
            source,
        })?;
        // Flushed here, while other crates are still downloading: the install step then only
        // links and renames (and a full disk shows up now, before anything is replaced).
        out.sync_all().map_err(|source| UnpackError::Write {
            path: path.clone(),
            source,
        })?;
    }

    // Read the gzip stream to its end so its CRC and length are checked: a stream cut after the
    // tar's last entry would otherwise pass unnoticed.
    io::copy(&mut tar.into_inner(), &mut io::sink()).map_err(corrupt)?;

    expected_binaries
        .iter()
        .map(|name| {
            let path = staging.join(name);
            if written.contains(&path) {
                Ok(StagedBinary {
                    name: name.clone(),
                    path,
                })
            } else {
                Err(UnpackError::MissingBinary {
                    archive: archive.to_owned(),
                    name: name.clone(),
                })
            }
        })
        .collect()
}

/// Decides, from the entry's raw path and type alone, whether it is a binary to write, a
/// license to skip, or a reason to refuse the archive.
fn classify(
    raw_name: &[u8],
    kind: EntryType,
    listed: &[String],
    expected_binaries: &[String],
) -> Result<Disposition, EntryProblem> {
    let name = top_level_name(raw_name)?;
    match kind {
        EntryType::Regular => {}
        EntryType::Symlink => return Err(EntryProblem::Symlink),
        EntryType::Link => return Err(EntryProblem::HardLink),
        EntryType::Char | EntryType::Block => return Err(EntryProblem::Device),
        EntryType::Fifo => return Err(EntryProblem::Fifo),
        EntryType::Directory => return Err(EntryProblem::Directory),
        _ => return Err(EntryProblem::UnsupportedKind),
    }
    if expected_binaries.iter().any(|b| b == name) {
        Ok(Disposition::Binary(name.to_owned()))
    } else if is_license_file(name) || listed.iter().any(|b| b == name) {
        Ok(Disposition::Skip)
    } else {
        Err(EntryProblem::Unexpected)
    }
}

/// The entry's name if its path is exactly one plain component, written as such (no `./`, no
/// trailing `/`).
fn top_level_name(raw_name: &[u8]) -> Result<&str, EntryProblem> {
    let name = std::str::from_utf8(raw_name).map_err(|_| EntryProblem::InvalidName)?;
    let mut components = Path::new(name).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(first)), None) if first == name => {}
        _ if name.starts_with('/') || name.starts_with('\\') || Path::new(name).has_root() => {
            return Err(EntryProblem::Absolute);
        }
        _ if Path::new(name)
            .components()
            .any(|c| c == Component::ParentDir) =>
        {
            return Err(EntryProblem::ParentDir);
        }
        _ => return Err(EntryProblem::NotTopLevel),
    }
    if is_valid_binary_name(name) {
        Ok(name)
    } else {
        Err(EntryProblem::InvalidName)
    }
}

/// License and notice files that archives may carry next to the binaries.
fn is_license_file(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["LICENSE", "LICENCE", "COPYING", "NOTICE"]
        .iter()
        .any(|prefix| upper.starts_with(prefix))
}

/// An entry name fit for a message: lossy UTF-8 with control characters escaped, so a crafted
/// name cannot write terminal escape sequences.
fn display_entry_name(raw_name: &[u8]) -> String {
    String::from_utf8_lossy(raw_name)
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

fn copy_entry(
    entry: &mut impl Read,
    out: &mut File,
    path: &Path,
    read_failed: &dyn Fn(io::Error) -> UnpackError,
) -> Result<(), UnpackError> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // Reading fails on a corrupt archive (or the cap), writing on a full disk: tell them
        // apart.
        let n = match entry.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(read_failed(source)),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        io::Write::write_all(out, chunk).map_err(|source| UnpackError::Write {
            path: path.to_owned(),
            source,
        })?;
    }
}

/// The decompressed stream, failing once it has yielded more than `limit` bytes in all.
struct Capped<R> {
    inner: R,
    inflated: Rc<Cell<u64>>,
    limit: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let total = self.inflated.get();
        if total > self.limit {
            return Err(io::Error::other("the unpack limit was crossed"));
        }
        // Never ask for more than one byte past the limit: crossing it is then seen at once.
        let room = usize::try_from(self.limit - total + 1).unwrap_or(usize::MAX);
        let end = buf.len().min(room);
        let n = self.inner.read(buf.get_mut(..end).unwrap_or_default())?;
        self.inflated.set(total.saturating_add(n as u64));
        if self.inflated.get() > self.limit {
            return Err(io::Error::other("the unpack limit was crossed"));
        }
        Ok(n)
    }
}

/// The files written so far; removed on drop unless [`WrittenFiles::keep`] was called, so an
/// error anywhere leaves the staging directory as it was.
#[derive(Default)]
struct WrittenFiles {
    paths: Vec<PathBuf>,
    keep: bool,
}

impl WrittenFiles {
    fn push(&mut self, path: PathBuf) {
        self.paths.push(path);
    }

    fn contains(&self, path: &Path) -> bool {
        self.paths.iter().any(|p| p == path)
    }

    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for WrittenFiles {
    fn drop(&mut self) {
        if !self.keep {
            for path in &self.paths {
                let _ = fs::remove_file(path);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md)
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;
    use tar::{Builder, Header};

    use super::*;

    /// One entry of a test archive: raw name bytes (written into the header as-is), kind, data.
    struct Spec<'a> {
        name: &'a [u8],
        kind: EntryType,
        data: &'a [u8],
        link: Option<&'a str>,
    }

    fn file<'a>(name: &'a str, data: &'a [u8]) -> Spec<'a> {
        Spec {
            name: name.as_bytes(),
            kind: EntryType::Regular,
            data,
            link: None,
        }
    }

    fn of_kind(name: &str, kind: EntryType) -> Spec<'_> {
        Spec {
            name: name.as_bytes(),
            kind,
            data: b"",
            link: None,
        }
    }

    fn tar_bytes(specs: &[Spec]) -> Vec<u8> {
        let mut builder = Builder::new(Vec::new());
        for spec in specs {
            let mut header = Header::new_gnu();
            // Write the name bytes ourselves: `set_path` refuses `..` and absolute paths, which
            // are exactly what these tests need.
            let field = &mut header.as_old_mut().name;
            field.fill(0);
            field[..spec.name.len()].copy_from_slice(spec.name);
            header.set_entry_type(spec.kind);
            header.set_size(spec.data.len() as u64);
            header.set_mode(0o4777);
            if let Some(link) = spec.link {
                header.set_link_name(link).unwrap();
            }
            header.set_cksum();
            builder.append(&header, spec.data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        archive: PathBuf,
        staging: PathBuf,
    }

    fn fixture(gz_bytes: &[u8]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("a.tar.gz");
        fs::write(&archive, gz_bytes).unwrap();
        let staging = dir.path().join("staging");
        fs::create_dir(&staging).unwrap();
        Fixture {
            _dir: dir,
            archive,
            staging,
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn staging_entries(f: &Fixture) -> Vec<String> {
        let mut v: Vec<_> = fs::read_dir(&f.staging)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Unpacks, expects a refusal, and checks that staging was left empty.
    fn refused(specs: &[Spec], expected: &[&str]) -> UnpackError {
        let f = fixture(&gzip(&tar_bytes(specs)));
        let err = unpack_archive(&f.archive, &f.staging, &names(expected)).unwrap_err();
        assert_eq!(
            staging_entries(&f),
            Vec::<String>::new(),
            "staging not empty"
        );
        err
    }

    fn entry_problem(err: &UnpackError) -> (String, EntryProblem) {
        match err {
            UnpackError::Entry { entry, problem, .. } => (entry.clone(), *problem),
            other => panic!("expected an entry error, got {other}"),
        }
    }

    #[test]
    fn extracts_listed_binaries_with_mode_0755_and_skips_licenses() {
        let f = fixture(&gzip(&tar_bytes(&[
            file("LICENSE-MIT", b"mit"),
            file("rg", b"binary rg"),
            file("COPYING", b"gpl"),
            file("rg-helper", b"helper"),
        ])));
        let staged = unpack_archive(&f.archive, &f.staging, &names(&["rg", "rg-helper"])).unwrap();
        assert_eq!(
            staged,
            vec![
                StagedBinary {
                    name: "rg".into(),
                    path: f.staging.join("rg")
                },
                StagedBinary {
                    name: "rg-helper".into(),
                    path: f.staging.join("rg-helper")
                },
            ]
        );
        assert_eq!(fs::read(f.staging.join("rg")).unwrap(), b"binary rg");
        assert_eq!(staging_entries(&f), ["rg", "rg-helper"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // The header said 04777 (setuid); none of it is applied.
            let mode = fs::metadata(f.staging.join("rg"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o7777, 0o755);
        }
    }

    #[test]
    fn refuses_parent_dir_path() {
        let err = refused(&[file("rg", b"ok"), file("../x", b"evil")], &["rg"]);
        assert_eq!(
            entry_problem(&err),
            ("../x".into(), EntryProblem::ParentDir)
        );
        assert!(err.to_string().contains("`../x`"), "{err}");
    }

    #[test]
    fn refuses_absolute_path() {
        let err = refused(&[file("rg", b"ok"), file("/abs", b"evil")], &["rg"]);
        assert_eq!(entry_problem(&err), ("/abs".into(), EntryProblem::Absolute));
    }

    #[test]
    fn refuses_nested_and_dotted_paths() {
        for name in ["bin/rg", "./rg", "rg/", "."] {
            let err = refused(&[file(name, b"x")], &["rg"]);
            assert_eq!(entry_problem(&err).1, EntryProblem::NotTopLevel, "{name}");
        }
    }

    #[test]
    fn refuses_symlink() {
        let mut spec = of_kind("rg", EntryType::Symlink);
        spec.link = Some("/etc/passwd");
        let err = refused(&[spec], &["rg"]);
        assert_eq!(entry_problem(&err), ("rg".into(), EntryProblem::Symlink));
    }

    #[test]
    fn refuses_hardlink() {
        let mut spec = of_kind("rg2", EntryType::Link);
        spec.link = Some("rg");
        let err = refused(&[file("rg", b"ok"), spec], &["rg", "rg2"]);
        assert_eq!(entry_problem(&err), ("rg2".into(), EntryProblem::HardLink));
    }

    #[test]
    fn refuses_devices_fifos_and_directories() {
        let cases = [
            (EntryType::Char, EntryProblem::Device),
            (EntryType::Block, EntryProblem::Device),
            (EntryType::Fifo, EntryProblem::Fifo),
            (EntryType::Directory, EntryProblem::Directory),
            (EntryType::Continuous, EntryProblem::UnsupportedKind),
        ];
        for (kind, problem) in cases {
            let err = refused(&[of_kind("rg", kind)], &["rg"]);
            assert_eq!(entry_problem(&err).1, problem, "{kind:?}");
        }
    }

    #[test]
    fn refuses_duplicate_entries_even_differing_in_case() {
        let err = refused(&[file("rg", b"one"), file("rg", b"two")], &["rg"]);
        assert_eq!(entry_problem(&err), ("rg".into(), EntryProblem::Duplicate));
        let err = refused(
            &[
                file("rg", b"ok"),
                file("LICENSE", b"a"),
                file("license", b"b"),
            ],
            &["rg"],
        );
        assert_eq!(entry_problem(&err).1, EntryProblem::Duplicate);
    }

    #[test]
    fn refuses_unexpected_file() {
        let err = refused(&[file("rg", b"ok"), file("install.sh", b"x")], &["rg"]);
        assert_eq!(
            entry_problem(&err),
            ("install.sh".into(), EntryProblem::Unexpected)
        );
        assert!(err.to_string().contains("unexpected file"), "{err}");
    }

    #[test]
    fn refuses_names_that_are_not_plain_file_names() {
        let err = refused(&[file(".hidden", b"x")], &["rg"]);
        assert_eq!(entry_problem(&err).1, EntryProblem::InvalidName);
        let err = refused(
            &[Spec {
                name: b"r\xffg",
                kind: EntryType::Regular,
                data: b"",
                link: None,
            }],
            &["rg"],
        );
        assert_eq!(entry_problem(&err).1, EntryProblem::InvalidName);
    }

    #[test]
    fn refuses_a_missing_binary() {
        let err = refused(&[file("rg", b"ok")], &["rg", "rga"]);
        assert!(
            matches!(&err, UnpackError::MissingBinary { name, .. } if name == "rga"),
            "{err}"
        );
    }

    #[test]
    fn refuses_a_truncated_archive() {
        let full = gzip(&tar_bytes(&[file("rg", &[7u8; 100_000])]));
        for cut in [full.len() / 2, full.len() - 4] {
            let f = fixture(&full[..cut]);
            let err = unpack_archive(&f.archive, &f.staging, &names(&["rg"])).unwrap_err();
            assert!(
                matches!(err, UnpackError::Corrupt { .. }),
                "cut {cut}: {err}"
            );
            assert!(err.to_string().contains("corrupt or truncated"), "{err}");
            assert_eq!(staging_entries(&f), Vec::<String>::new());
        }
    }

    #[test]
    fn refuses_an_archive_that_unpacks_beyond_the_cap() {
        let specs = [file("rg", &[1u8; 600]), file("rga", &[2u8; 600])];
        let f = fixture(&gzip(&tar_bytes(&specs)));
        let expected = names(&["rg", "rga"]);
        let err =
            unpack_with_limit(&f.archive, &f.staging, &expected, &expected, 1000).unwrap_err();
        assert!(
            matches!(err, UnpackError::TooLarge { limit: 1000, .. }),
            "{err}"
        );
        assert_eq!(staging_entries(&f), Vec::<String>::new());
        // A cap that leaves room for everything the stream inflates to (headers, padded data,
        // end-of-archive blocks) passes.
        let tar = tar_bytes(&specs);
        let f = fixture(&gzip(&tar));
        let whole = tar.len() as u64;
        assert!(unpack_with_limit(&f.archive, &f.staging, &expected, &expected, whole).is_ok());
        let f = fixture(&gzip(&tar));
        assert!(
            unpack_with_limit(&f.archive, &f.staging, &expected, &expected, whole - 1).is_err()
        );
    }

    #[test]
    fn skipped_entries_count_toward_the_cap() {
        // A license file is skipped, not written, but inflating it still costs: a bomb hidden
        // in a skipped entry must be refused, not inflated in full.
        let bomb = vec![0u8; 64 * 1024];
        let specs = [file("rg", b"ok"), file("LICENSE", &bomb)];
        let f = fixture(&gzip(&tar_bytes(&specs)));
        let expected = names(&["rg"]);
        let err =
            unpack_with_limit(&f.archive, &f.staging, &expected, &expected, 16 * 1024).unwrap_err();
        assert!(
            matches!(err, UnpackError::TooLarge { limit: 16384, .. }),
            "{err}"
        );
        assert_eq!(staging_entries(&f), Vec::<String>::new());
    }

    #[test]
    fn refuses_bytes_that_are_not_gzip() {
        let f = fixture(&tar_bytes(&[file("rg", b"ok")]));
        let err = unpack_archive(&f.archive, &f.staging, &names(&["rg"])).unwrap_err();
        assert!(matches!(err, UnpackError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn entry_names_in_messages_cannot_carry_terminal_escapes() {
        let err = refused(
            &[Spec {
                name: b"a\x1b[31m/b",
                kind: EntryType::Regular,
                data: b"",
                link: None,
            }],
            &["rg"],
        );
        assert!(!err.to_string().contains('\x1b'), "{err}");
        assert!(err.to_string().contains("\\u{1b}"), "{err}");
    }

    #[test]
    fn a_corrupt_header_cannot_put_its_name_raw_into_the_message() {
        // Found by `fuzz/run.sh` (target `unpack`): the tar reader's own error quotes the
        // header's name, so a crafted name with a bad checksum field reached the terminal.
        let mut bytes = tar_bytes(&[Spec {
            name: b"LICENSE\n\x1b[31mF",
            kind: EntryType::Regular,
            data: b"",
            link: None,
        }]);
        bytes[148..156].copy_from_slice(b"zzzzzzz\0");
        let f = fixture(&gzip(&bytes));
        let err = unpack_archive(&f.archive, &f.staging, &names(&["rg"])).unwrap_err();
        assert!(matches!(err, UnpackError::Corrupt { .. }), "{err}");
        let text = err.to_string();
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert!(text.contains("LICENSE\\n\\u{1b}[31mF"), "{text:?}");
    }

    #[test]
    fn selected_unpacking_skips_listed_binaries_not_asked_for() {
        let f = fixture(&gzip(&tar_bytes(&[
            file("alpha", b"a"),
            file("beta", b"b"),
        ])));
        let staged = unpack_selected(
            &f.archive,
            &f.staging,
            &names(&["alpha", "beta"]),
            &names(&["beta"]),
        )
        .unwrap();
        assert_eq!(staged.len(), 1);
        assert_eq!(staged[0].name, "beta");
        assert_eq!(staging_entries(&f), vec!["beta".to_owned()]);
        // A binary the signed entry does not list is still refused.
        let f = fixture(&gzip(&tar_bytes(&[
            file("alpha", b"a"),
            file("gamma", b"c"),
        ])));
        let err = unpack_selected(
            &f.archive,
            &f.staging,
            &names(&["alpha"]),
            &names(&["alpha"]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("gamma"), "{err}");
    }

    #[test]
    fn classify_accepts_binaries_and_licenses_only() {
        let expected = names(&["license-checker"]);
        assert_eq!(
            classify(b"license-checker", EntryType::Regular, &expected, &expected),
            Ok(Disposition::Binary("license-checker".into()))
        );
        for license in [
            "LICENSE",
            "LICENSE-APACHE",
            "Licence.txt",
            "COPYING",
            "NOTICE",
        ] {
            assert_eq!(
                classify(license.as_bytes(), EntryType::Regular, &expected, &expected),
                Ok(Disposition::Skip),
                "{license}"
            );
        }
        assert_eq!(
            classify(b"README.md", EntryType::Regular, &expected, &expected),
            Err(EntryProblem::Unexpected)
        );
    }
}
