//! The walk over a `.tar.gz`: each entry classified, listed binaries written into staging,
//! every inflated byte charged against the cap, the gzip trailer checked (at the end when
//! streamed, before the walk when inflated whole).

use std::cell::Cell;
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use flate2::bufread::GzDecoder;

use super::entry::{Disposition, classify, display_entry_name};
use super::guards::{Capped, WrittenFiles};
use super::whole;
use super::{EntryProblem, StagedBinary, UnpackError};
use crate::install::set_executable;

/// One unpack: the archive (named in errors), the staging directory, the binaries the index
/// lists and those of them wanted, and the most bytes its stream may inflate to.
pub(super) struct Unpack<'a> {
    pub(super) archive: &'a Path,
    pub(super) staging: &'a Path,
    pub(super) listed: &'a [String],
    pub(super) wanted: &'a [String],
    pub(super) limit: u64,
}

impl Unpack<'_> {
    /// The archive read from its file.
    pub(super) fn file(self) -> Result<Vec<StagedBinary>, UnpackError> {
        let file = File::open(self.archive).map_err(|source| UnpackError::Corrupt {
            archive: self.archive.to_owned(),
            source,
        })?;
        self.gzip(BufReader::with_capacity(64 * 1024, file))
    }

    /// The archive held in memory (already verified): inflated whole where
    /// [`whole::inflate`] takes it, else streamed.
    pub(super) fn bytes(self, bytes: &[u8]) -> Result<Vec<StagedBinary>, UnpackError> {
        match whole::inflate(bytes, self.limit) {
            Some(tar) => self.tar(tar),
            None => self.gzip(bytes),
        }
    }

    /// The archive's gzip stream, inflated as it is read.
    fn gzip(self, source: impl BufRead) -> Result<Vec<StagedBinary>, UnpackError> {
        self.tar(GzDecoder::new(source))
    }

    /// The walk over `tar_stream`, the archive's inflated bytes; on any error, nothing it
    /// wrote stays.
    fn tar(self, tar_stream: impl Read) -> Result<Vec<StagedBinary>, UnpackError> {
        let mut written = WrittenFiles::default();
        let staged = self.walk(tar_stream, &mut written)?;
        written.keep();
        Ok(staged)
    }

    fn walk(
        self,
        tar_stream: impl Read,
        written: &mut WrittenFiles,
    ) -> Result<Vec<StagedBinary>, UnpackError> {
        let Unpack {
            archive,
            staging,
            listed,
            wanted: expected_binaries,
            limit,
        } = self;
        // Every byte the gzip stream yields is charged here, whether tar writes it, skips it (a
        // license, a listed binary not asked for, padding) or it follows the end of the tar: a
        // skipped entry must not inflate without bound.
        let inflated = Rc::new(Cell::new(0u64));
        let stream = Capped {
            inner: tar_stream,
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
        let mut to_sync = Vec::new();

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
            to_sync.push((out, path));
        }

        // Read the stream to its end: a gzip stream's CRC and length are checked there (a whole
        // inflate checked them before the walk), so a stream cut after the tar's last entry does
        // not pass unnoticed, and what follows the tar is charged to the cap. Dropping the stream
        // then gives a leased buffer back before the waits for the disk.
        io::copy(&mut tar.into_inner(), &mut io::sink()).map_err(corrupt)?;
        // Flushed here, while other crates are still downloading: the install step then only
        // links and renames (and a full disk shows up now, before anything is replaced).
        for (out, path) in to_sync {
            out.sync_all()
                .map_err(|source| UnpackError::Write { path, source })?;
        }

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
