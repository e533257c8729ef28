//! Allow-list extraction for upstream archives, whose layout the crate declares (`bin-dir`):
//! exactly the declared paths are written, as regular files with mode 0755, under the
//! installed names; every other entry is read past, never written. An entry with an absolute
//! path or a `..` anywhere, a declared path that is a link, or one that appears twice refuses
//! the whole archive. Runs only on bytes whose signature verified (or, said aloud, unsigned
//! ones), in a staging directory; nothing written stays behind on error.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::source::upstream::PkgFmt;
use crate::unpack::{EntryProblem, MAX_UNPACKED_BYTES, StagedBinary, UnpackError};

/// Extracts `paths` (installed name, path in the archive) of `archive` into `staging`.
pub(super) fn extract(
    archive: &Path,
    format: PkgFmt,
    paths: &[(String, String)],
    staging: &Path,
) -> Result<Vec<StagedBinary>, UnpackError> {
    let mut out = Extraction {
        archive,
        staging,
        paths,
        found: vec![None; paths.len()],
        budget: MAX_UNPACKED_BYTES,
    };
    let result = out.run(format);
    if result.is_err() {
        for path in out.found.iter().flatten() {
            let _ = std::fs::remove_file(path);
        }
    }
    result?;
    paths
        .iter()
        .zip(&out.found)
        .map(|((name, inside), found)| match found {
            Some(path) => Ok(StagedBinary {
                name: name.clone(),
                path: path.clone(),
            }),
            None => Err(UnpackError::MissingBinary {
                archive: archive.to_owned(),
                name: format!("{inside} (bin-dir)"),
            }),
        })
        .collect()
}

struct Extraction<'a> {
    archive: &'a Path,
    staging: &'a Path,
    paths: &'a [(String, String)],
    found: Vec<Option<PathBuf>>,
    budget: u64,
}

impl Extraction<'_> {
    fn corrupt(&self, source: io::Error) -> UnpackError {
        UnpackError::Corrupt {
            archive: self.archive.to_owned(),
            source,
        }
    }

    fn refuse(&self, entry: &str, problem: EntryProblem) -> UnpackError {
        UnpackError::Entry {
            archive: self.archive.to_owned(),
            entry: entry.escape_debug().to_string(),
            problem,
        }
    }

    fn run(&mut self, format: PkgFmt) -> Result<(), UnpackError> {
        let file = File::open(self.archive).map_err(|e| self.corrupt(e))?;
        match format {
            PkgFmt::Bin => {
                let name = self
                    .paths
                    .first()
                    .map(|(n, _)| n.clone())
                    .unwrap_or_default();
                self.write(0, &name, file)
            }
            PkgFmt::Tgz => self.tar(flate2::read::GzDecoder::new(file)),
            PkgFmt::Tzst => {
                let decoder = ruzstd::decoding::StreamingDecoder::new(file)
                    .map_err(|e| self.corrupt(io::Error::other(e.to_string())))?;
                self.tar(decoder)
            }
            PkgFmt::Txz => {
                // lzma-rs decodes into a writer: into a file beside the archive, capped.
                let tar_path = self.archive.with_extension("tar");
                let mut capped = Capped {
                    file: File::create(&tar_path).map_err(|e| self.corrupt(e))?,
                    left: MAX_UNPACKED_BYTES,
                };
                lzma_rs::xz_decompress(&mut io::BufReader::new(file), &mut capped)
                    .map_err(|e| self.corrupt(io::Error::other(e.to_string())))?;
                drop(capped);
                let tar = File::open(&tar_path).map_err(|e| self.corrupt(e))?;
                let result = self.tar(tar);
                let _ = std::fs::remove_file(&tar_path);
                result
            }
            PkgFmt::Zip => self.zip(file),
        }
    }

    /// Which declared path `name` is (after one leading `./`), or a refusal for a path that
    /// is absolute or climbs.
    fn classify(&self, raw: &str) -> Result<Option<usize>, UnpackError> {
        let name = raw.strip_prefix("./").unwrap_or(raw);
        if name.starts_with('/') || name.starts_with('\\') || name.contains(":\\") {
            return Err(self.refuse(raw, EntryProblem::Absolute));
        }
        if name.split(['/', '\\']).any(|p| p == "..") {
            return Err(self.refuse(raw, EntryProblem::ParentDir));
        }
        Ok(self
            .paths
            .iter()
            .position(|(_, p)| p == name.trim_end_matches('/')))
    }

    fn tar(&mut self, reader: impl Read) -> Result<(), UnpackError> {
        let mut tar = tar::Archive::new(reader);
        for entry in tar.entries().map_err(|e| self.corrupt(e))? {
            let entry = entry.map_err(|e| self.corrupt(e))?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let Some(i) = self.classify(&raw)? else {
                continue;
            };
            let kind = entry.header().entry_type();
            if kind.is_symlink() {
                return Err(self.refuse(&raw, EntryProblem::Symlink));
            }
            if kind.is_hard_link() {
                return Err(self.refuse(&raw, EntryProblem::HardLink));
            }
            if !kind.is_file() {
                return Err(self.refuse(&raw, EntryProblem::UnsupportedKind));
            }
            let name = self.paths[i].0.clone();
            self.write(i, &name, entry)?;
        }
        Ok(())
    }

    fn zip(&mut self, file: File) -> Result<(), UnpackError> {
        let mut zip = zip::ZipArchive::new(file)
            .map_err(|e| self.corrupt(io::Error::other(e.to_string())))?;
        for n in 0..zip.len() {
            let entry = zip
                .by_index(n)
                .map_err(|e| self.corrupt(io::Error::other(e.to_string())))?;
            let raw = String::from_utf8_lossy(entry.name_raw()).into_owned();
            let Some(i) = self.classify(&raw)? else {
                continue;
            };
            if entry.is_symlink() {
                return Err(self.refuse(&raw, EntryProblem::Symlink));
            }
            if !entry.is_file() {
                return Err(self.refuse(&raw, EntryProblem::Directory));
            }
            let name = self.paths[i].0.clone();
            self.write(i, &name, entry)?;
        }
        Ok(())
    }

    fn write(&mut self, i: usize, name: &str, mut data: impl Read) -> Result<(), UnpackError> {
        if self.found[i].is_some() {
            let inside = self.paths[i].1.clone();
            return Err(self.refuse(&inside, EntryProblem::Duplicate));
        }
        let path = self.staging.join(name);
        let write_error = |source| UnpackError::Write {
            path: path.clone(),
            source,
        };
        let mut out = File::create_new(&path).map_err(write_error)?;
        self.found[i] = Some(path.clone());
        let copied = io::copy(&mut (&mut data).take(self.budget + 1), &mut out)
            .map_err(|e| self.corrupt(e))?;
        if copied > self.budget {
            return Err(UnpackError::TooLarge {
                archive: self.archive.to_owned(),
                limit: MAX_UNPACKED_BYTES,
            });
        }
        self.budget -= copied;
        crate::install::set_executable(&out).map_err(write_error)?;
        out.sync_all().map_err(write_error)?;
        Ok(())
    }
}

/// A writer that fails past `left` bytes (an xz bomb stops there).
struct Capped {
    file: File,
    left: u64,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len() as u64;
        if n > self.left {
            return Err(io::Error::other(format!(
                "it decompresses to more than {MAX_UNPACKED_BYTES} bytes"
            )));
        }
        self.left -= n;
        self.file.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
