//! The two guards around an unpack: a reader that fails once the inflated stream passes the
//! cap, and the list of written files that removes them unless the unpack succeeded.

use std::cell::Cell;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The decompressed stream, failing once it has yielded more than `limit` bytes in all.
pub(super) struct Capped<R> {
    pub(super) inner: R,
    pub(super) inflated: Rc<Cell<u64>>,
    pub(super) limit: u64,
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
pub(super) struct WrittenFiles {
    paths: Vec<PathBuf>,
    keep: bool,
}

impl WrittenFiles {
    pub(super) fn push(&mut self, path: PathBuf) {
        self.paths.push(path);
    }

    pub(super) fn contains(&self, path: &Path) -> bool {
        self.paths.iter().any(|p| p == path)
    }

    pub(super) fn keep(mut self) {
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
