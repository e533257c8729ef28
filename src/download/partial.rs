//! One archive download's destination: `<dir>/<name>.partial`, written while every byte is fed
//! to its check — an exact size and sha256 (from a signed index entry), or a cap and a caller's
//! [`StreamCheck`] (a minisign signature) — and renamed to `<dir>/<name>` only when the check
//! passes. Every other path (an error, a retry, a panic) removes it. A small archive of known
//! size may instead be kept in memory, handed over only when its check passes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::Failure;
use super::{CHUNK, DownloadError, to_hex, write_failure};

/// A check over an archive's bytes as they stream to disk, decided once the last byte is in and
/// before the file is renamed into place (so a refused archive never leaves the `.partial`).
pub trait StreamCheck {
    /// Forgets what was fed: a retried download streams again from the first byte.
    fn restart(&mut self);
    /// Feeds the next chunk, in order.
    fn update(&mut self, chunk: &[u8]);
    /// After the last byte; `written` is the complete `.partial` (for a check that cannot
    /// stream). `Err` is the reason, one clause naming what did not match.
    fn finish(&mut self, written: &Path) -> Result<(), String>;
}

/// What the bytes must satisfy.
pub(super) enum Expect<'a> {
    /// Exactly `size` bytes with this sha256 (lowercase hex).
    Exact { size: u64, sha256: String },
    /// At most `cap` bytes, then `check` decides.
    Capped {
        cap: u64,
        check: &'a mut dyn StreamCheck,
    },
}

/// Where the bytes go while they stream.
pub(super) enum Sink {
    /// `partial`, renamed to `dest` once checked.
    File { partial: PathBuf, dest: PathBuf },
    /// A buffer, for a small archive whose exact size is known (no file to create, write, read
    /// back and delete).
    Memory,
}

/// A checked download: where it went.
#[derive(Debug)]
pub(super) enum Downloaded {
    File(PathBuf),
    Memory(Vec<u8>),
}

impl Downloaded {
    /// The file a [`Sink::File`] produced. (A [`Sink::Memory`] never produces one: its
    /// callers take the bytes instead, so the empty path is never seen.)
    pub(super) fn into_path(self) -> PathBuf {
        match self {
            Self::File(path) => path,
            Self::Memory(_) => PathBuf::new(),
        }
    }
}

/// Where and what one archive download must produce.
pub(super) struct Target<'a> {
    pub(super) sink: Sink,
    pub(super) url: String,
    pub(super) expect: Expect<'a>,
}

impl Target<'_> {
    /// The most bytes that can be right: the exact size, or the cap.
    fn limit(&self) -> u64 {
        match &self.expect {
            Expect::Exact { size, .. } => *size,
            Expect::Capped { cap, .. } => *cap,
        }
    }

    /// One attempt: source → `.partial` or buffer (hashing) → checks → rename.
    /// `read_error` maps a source read failure (and says whether it is worth retrying).
    pub(super) fn stream(
        &mut self,
        source: impl Read,
        announced_size: Option<u64>,
        progress: &dyn Fn(u64),
        read_error: impl Fn(io::Error) -> Failure,
    ) -> Result<Downloaded, Failure> {
        let limit = self.limit();
        // The size (or its bound) is known up front: refuse a mismatching Content-Length before
        // writing anything.
        if let Some(announced) = announced_size {
            match &self.expect {
                Expect::Exact { size, .. } if announced != *size => {
                    return Err(self.too_long_or_short(Some(announced)));
                }
                Expect::Capped { .. } if announced > limit => {
                    return Err(self.too_long_or_short(Some(announced)));
                }
                _ => {}
            }
        }
        let mut out = match &self.sink {
            Sink::File { partial, dest } => Out::File(Partial::create(partial)?, dest.clone()),
            // Only an exact, small size is kept in memory (see `Fetcher::download_verified`).
            Sink::Memory => Out::Memory(Vec::with_capacity(usize::try_from(limit).unwrap_or(0))),
        };
        if let Expect::Capped { check, .. } = &mut self.expect {
            check.restart();
        }
        // One byte more than the limit tells "too long" from "exact" without reading further.
        let mut source = source.take(limit.saturating_add(1));
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        let mut total: u64 = 0;
        loop {
            let n = match source.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(e)),
            };
            let chunk = buf.get(..n).unwrap_or_default();
            total = total.saturating_add(n as u64);
            if total > limit {
                return Err(self.too_long_or_short(None));
            }
            out.write(chunk)?;
            match &mut self.expect {
                Expect::Exact { .. } => hasher.update(chunk),
                Expect::Capped { check, .. } => check.update(chunk),
            }
            progress(total);
        }
        match &mut self.expect {
            Expect::Exact { size, sha256 } => {
                if total != *size {
                    return Err(self.too_long_or_short(Some(total)));
                }
                let actual = to_hex(&hasher.finalize());
                if actual != *sha256 {
                    return Err(Failure::fatal(DownloadError::ChecksumMismatch {
                        url: self.url.clone(),
                        expected: sha256.clone(),
                        actual,
                    }));
                }
            }
            Expect::Capped { check, .. } => {
                // A body shorter than its Content-Length ends in a read error above, so what
                // reaches here is the whole body the server meant to send.
                let written = match &self.sink {
                    Sink::File { partial, .. } => partial.as_path(),
                    Sink::Memory => Path::new(""),
                };
                if let Err(reason) = check.finish(written) {
                    return Err(Failure::fatal(DownloadError::Refused {
                        url: self.url.clone(),
                        reason,
                    }));
                }
            }
        }
        match out {
            Out::File(partial, dest) => {
                partial.persist(&dest)?;
                Ok(Downloaded::File(dest))
            }
            Out::Memory(bytes) => Ok(Downloaded::Memory(bytes)),
        }
    }

    /// A size mismatch (exact) or an over-cap body (capped); `actual` is `None` when the body
    /// went on past the limit.
    fn too_long_or_short(&self, actual: Option<u64>) -> Failure {
        Failure::fatal(match &self.expect {
            Expect::Exact { size, .. } => DownloadError::SizeMismatch {
                url: self.url.clone(),
                expected: *size,
                actual,
            },
            Expect::Capped { cap, .. } => DownloadError::TooLarge {
                url: self.url.clone(),
                limit: *cap,
            },
        })
    }
}

/// The bytes of one attempt as they arrive.
enum Out {
    /// The `.partial` and the name it takes once checked.
    File(Partial, PathBuf),
    Memory(Vec<u8>),
}

impl Out {
    fn write(&mut self, chunk: &[u8]) -> Result<(), Failure> {
        match self {
            Self::File(partial, _) => partial.write(chunk),
            Self::Memory(bytes) => {
                bytes.extend_from_slice(chunk);
                Ok(())
            }
        }
    }
}

/// The `.partial` file being written; removed on drop unless persisted, so no failure path
/// (error, retry or panic) leaves it behind.
struct Partial {
    /// `None` once closed: Windows cannot rename or remove a file that is still open.
    file: Option<File>,
    path: PathBuf,
    persisted: bool,
}

impl Partial {
    fn create(path: &Path) -> Result<Self, Failure> {
        let io_error = |e| write_failure(path, e);
        // A `.partial` from an interrupted earlier run is ours to replace.
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(e)),
        }
        // `create_new`: if someone else creates it between the remove and here, fail rather
        // than interleave writes with them.
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io_error)?;
        Ok(Self {
            file: Some(file),
            path: path.to_owned(),
            persisted: false,
        })
    }

    fn write(&mut self, chunk: &[u8]) -> Result<(), Failure> {
        match &mut self.file {
            Some(file) => file
                .write_all(chunk)
                .map_err(|e| write_failure(&self.path, e)),
            None => Ok(()),
        }
    }

    fn persist(mut self, dest: &Path) -> Result<(), Failure> {
        // No fsync: a downloaded archive is read back (from the page cache) and deleted within
        // the same run, and any archive kept for later is re-verified before use, so a copy
        // torn by a crash is caught rather than trusted. Skipping it saves a disk flush per
        // crate; the binaries themselves are synced before they are renamed into place.
        drop(self.file.take());
        fs::rename(&self.path, dest).map_err(|e| write_failure(dest, e))?;
        self.persisted = true;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        drop(self.file.take());
        if !self.persisted {
            // Best effort: the error being returned matters more than a failed cleanup.
            let _ = fs::remove_file(&self.path);
        }
    }
}
