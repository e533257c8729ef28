//! One archive download's check and its streaming loop: every byte goes to a [`Sink`] and to
//! the check — an [`Exact`] size and sha256 (from a signed index entry), or a [`Capped`] size
//! and a caller's [`StreamCheck`] (a minisign signature) — and the sink hands the result over
//! only when the check passes. A capped check may read the finished `.partial` back, so it only
//! pairs with a [`FileSink`](super::sink::FileSink); an exact one pairs with any sink.

use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::error::Failure;
use super::sink::Sink;
use super::{CHUNK, DownloadError, to_hex};

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

/// What one download's bytes must satisfy; `W` is what its sink has written (see
/// [`Sink::Written`]), for a check that reads it back.
pub(super) trait Check<W: ?Sized> {
    /// The most bytes that can be right.
    fn limit(&self) -> u64;
    /// Whether a body of `size` bytes can be right.
    fn fits(&self, size: u64) -> bool;
    /// The error for a body of the wrong size: `actual` is `None` when it went on past
    /// [`Check::limit`].
    fn wrong_size(&self, url: &str, actual: Option<u64>) -> DownloadError;
    /// Forgets what was fed: an attempt streams from the first byte.
    fn restart(&mut self);
    /// Feeds the next chunk, in order.
    fn update(&mut self, chunk: &[u8]);
    /// After the last byte, `written` complete and of a size that fits.
    fn finish(&mut self, url: &str, written: &W) -> Result<(), DownloadError>;
}

/// Exactly `size` bytes with this sha256: checked as it streams, so any sink will do.
pub(super) struct Exact {
    size: u64,
    /// Lowercase hex.
    sha256: String,
    hasher: Sha256,
}

impl Exact {
    pub(super) fn new(size: u64, sha256: &str) -> Self {
        Self {
            size,
            sha256: sha256.to_ascii_lowercase(),
            hasher: Sha256::new(),
        }
    }
}

impl<W: ?Sized> Check<W> for Exact {
    fn limit(&self) -> u64 {
        self.size
    }

    fn fits(&self, size: u64) -> bool {
        size == self.size
    }

    fn wrong_size(&self, url: &str, actual: Option<u64>) -> DownloadError {
        DownloadError::SizeMismatch {
            url: url.to_owned(),
            expected: self.size,
            actual,
        }
    }

    fn restart(&mut self) {
        self.hasher = Sha256::new();
    }

    fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
    }

    fn finish(&mut self, url: &str, _written: &W) -> Result<(), DownloadError> {
        let actual = to_hex(&self.hasher.finalize_reset());
        if actual == self.sha256 {
            Ok(())
        } else {
            Err(DownloadError::ChecksumMismatch {
                url: url.to_owned(),
                expected: self.sha256.clone(),
                actual,
            })
        }
    }
}

/// At most `cap` bytes, then `check` decides, given the finished `.partial`.
pub(super) struct Capped<'a> {
    pub(super) cap: u64,
    pub(super) check: &'a mut dyn StreamCheck,
}

impl Check<Path> for Capped<'_> {
    fn limit(&self) -> u64 {
        self.cap
    }

    fn fits(&self, size: u64) -> bool {
        size <= self.cap
    }

    fn wrong_size(&self, url: &str, _actual: Option<u64>) -> DownloadError {
        DownloadError::TooLarge {
            url: url.to_owned(),
            limit: self.cap,
        }
    }

    fn restart(&mut self) {
        self.check.restart();
    }

    fn update(&mut self, chunk: &[u8]) {
        self.check.update(chunk);
    }

    fn finish(&mut self, url: &str, written: &Path) -> Result<(), DownloadError> {
        // A body shorter than its Content-Length ends in a read error, so what reaches here is
        // the whole body the server meant to send.
        self.check
            .finish(written)
            .map_err(|reason| DownloadError::Refused {
                url: url.to_owned(),
                reason,
            })
    }
}

/// Where one archive download goes and what it must satisfy.
pub(super) struct Target<S, C> {
    pub(super) sink: S,
    pub(super) check: C,
    pub(super) url: String,
}

impl<S: Sink, C: Check<S::Written>> Target<S, C> {
    /// The most bytes that can be right: the exact size, or the cap.
    pub(super) fn limit(&self) -> u64 {
        self.check.limit()
    }

    /// One attempt: source → sink (checking) → the check's verdict → the sink's output.
    /// `read_error` maps a source read failure (and says whether it is worth retrying).
    pub(super) fn stream(
        &mut self,
        source: impl Read,
        announced_size: Option<u64>,
        progress: &dyn Fn(u64),
        read_error: impl Fn(io::Error) -> Failure,
    ) -> Result<S::Output, Failure> {
        let limit = self.limit();
        // The size (or its bound) is known up front: refuse a wrong Content-Length before
        // writing anything.
        if let Some(announced) = announced_size.filter(|&size| !self.check.fits(size)) {
            return Err(self.wrong_size(Some(announced)));
        }
        let mut attempt = self.sink.start(limit)?;
        self.check.restart();
        // One byte more than the limit tells "too long" from "exact" without reading further.
        let mut source = source.take(limit.saturating_add(1));
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
                return Err(self.wrong_size(None));
            }
            S::write(&mut attempt, chunk)?;
            self.check.update(chunk);
            progress(total);
        }
        if !self.check.fits(total) {
            return Err(self.wrong_size(Some(total)));
        }
        self.check.finish(&self.url, S::written(&attempt))?;
        self.sink.finish(attempt)
    }

    fn wrong_size(&self, actual: Option<u64>) -> Failure {
        Failure::fatal(self.check.wrong_size(&self.url, actual))
    }
}
