//! The build info Go embeds in every binary (Go version, main package, module, version, build
//! settings), read in Rust so `gquick list` needs no `go` on the machine.
//!
//! This module only reads and parses; it does not decide what to list, upgrade or install. It
//! follows Go's `debug/buildinfo` (Go >= 1.18 layout): find the data region of the ELF, Mach-O or
//! PE container, find the 16-byte-aligned `\xff Go buildinf:` header in its first 64 KiB, read
//! the two varint-prefixed strings after the 32-byte header. Unknown containers are stream-scanned
//! for the header. Reads are bounded: no file is read whole.
//!
//! `container.rs` finds the data region (with the `object` crate's readers), `decode.rs` reads the
//! header, the strings and the module info; this file holds the public API and the reading of
//! files and slices.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use object::read::ReadCache;

use container::Region;
use decode::{HEADER_SIZE, SEARCH_WINDOW, decode, find_aligned_magic};

mod container;
mod decode;
#[cfg(test)]
mod tests;

/// What Go recorded about how a binary was built (`go version -m` shows the same).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildInfo {
    /// `go1.19.8`.
    pub go_version: String,
    /// The main package's import path (`example.com/tool/cmd/tool`).
    pub path: String,
    /// The module holding the main package (`example.com/tool`).
    pub module: String,
    /// That module's version; `(devel)` when it was built from its own source tree.
    pub version: String,
    /// The `build` lines, in order: (`-trimpath`, `true`), (`CGO_ENABLED`, `0`), …
    pub settings: Vec<(String, String)>,
}

impl BuildInfo {
    /// The value of the first build setting named `key`.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the binary was built with the release index's recipe: `-trimpath`, `CGO_ENABLED`
    /// recorded (`0`, or `1` for the modules the index builds with cgo through zig),
    /// `-tags=netgo,osusergo` and `-ldflags="-s -w -buildid="`.
    ///
    /// Go >= 1.19 leaves `-ldflags` out of the build info when `-trimpath` is set, because linker
    /// flags can hold local paths (go.dev/issue/52372). So `-ldflags` is checked only when it is
    /// recorded; `-trimpath=true` is always required.
    pub fn from_index_recipe(&self) -> bool {
        self.setting("-trimpath") == Some("true")
            && matches!(self.setting("CGO_ENABLED"), Some("0" | "1"))
            && self.setting("-tags") == Some("netgo,osusergo")
            && self
                .setting("-ldflags")
                .is_none_or(|flags| flags == "-s -w -buildid=")
    }
}

/// Why the build info of a binary could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BuildInfoError {
    #[error("could not read `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "{} was built by Go older than 1.18, whose build info cannot be read; rebuild it with a newer Go",
        Subject(path)
    )]
    TooOld { path: Option<PathBuf> },
    #[error("the Go build info in {} is malformed: {reason}", Subject(path))]
    Malformed {
        path: Option<PathBuf>,
        reason: String,
    },
}

impl BuildInfoError {
    fn with_path(self, file: &Path) -> Self {
        match self {
            Self::TooOld { .. } => Self::TooOld {
                path: Some(file.to_owned()),
            },
            Self::Malformed { reason, .. } => Self::Malformed {
                path: Some(file.to_owned()),
                reason,
            },
            read @ Self::Read { .. } => read,
        }
    }
}

/// Names the binary in messages: its path when known.
struct Subject<'a>(&'a Option<PathBuf>);

impl fmt::Display for Subject<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(path) => write!(f, "`{}`", path.display()),
            None => f.write_str("the binary"),
        }
    }
}

/// Reads the build info of the file at `path`. `Ok(None)`: not a Go binary (or not an
/// executable at all).
pub fn read_build_info(path: &Path) -> Result<Option<BuildInfo>, BuildInfoError> {
    let read_error = |source| BuildInfoError::Read {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(read_error)?;
    let size = file.metadata().map_err(read_error)?.len();
    let mut source = FileSource { file, size };
    parse_from(&mut source).map_err(|e| match e {
        Failure::Io(source) => read_error(source),
        Failure::Info(e) => e.with_path(path),
    })
}

/// Parses the build info of a binary held in memory. `Ok(None)`: not a Go binary.
pub fn parse_build_info(bytes: &[u8]) -> Result<Option<BuildInfo>, BuildInfoError> {
    parse_from(&mut SliceSource(bytes)).map_err(|e| match e {
        // Reading a slice cannot fail, but keep the mapping total.
        Failure::Io(source) => BuildInfoError::Malformed {
            path: None,
            reason: source.to_string(),
        },
        Failure::Info(e) => e,
    })
}

/// Internal failure: I/O on the source, or a problem with what was read.
enum Failure {
    Io(io::Error),
    Info(BuildInfoError),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

fn malformed(reason: impl Into<String>) -> Failure {
    Failure::Info(BuildInfoError::Malformed {
        path: None,
        reason: reason.into(),
    })
}

/// Chunk size for the stream scan of unknown containers.
const SCAN_CHUNK: usize = 1024 * 1024;

/// Random access to the bytes of a binary, so files are read piecewise and slices directly.
trait Source {
    fn size(&self) -> u64;
    /// Up to `len` bytes at `offset`; fewer at the end of the input.
    fn read_at(&mut self, offset: u64, len: usize) -> io::Result<Vec<u8>>;
    /// Where the container keeps the build info ([`container::locate`]).
    fn locate(&mut self) -> io::Result<Region>;
}

struct SliceSource<'a>(&'a [u8]);

impl Source for SliceSource<'_> {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }
    fn read_at(&mut self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.0.len());
        let end = start.saturating_add(len).min(self.0.len());
        Ok(self.0.get(start..end).unwrap_or_default().to_vec())
    }
    fn locate(&mut self) -> io::Result<Region> {
        Ok(container::locate(self.0))
    }
}

struct FileSource {
    file: File,
    size: u64,
}

impl Source for FileSource {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_at(&mut self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        if offset >= self.size {
            return Ok(Vec::new());
        }
        self.file.seek(SeekFrom::Start(offset))?;
        let mut out = Vec::with_capacity(len.min(SCAN_CHUNK * 2));
        (&mut self.file).take(len as u64).read_to_end(&mut out)?;
        Ok(out)
    }
    fn locate(&mut self) -> io::Result<Region> {
        // `object` reads the headers it needs through a cache of the pieces read, so the file is
        // never read whole; the cache is dropped before the build info itself is read.
        let cache = ReadCache::new(Recorder {
            file: &self.file,
            error: None,
        });
        let region = container::locate(&cache);
        match cache.into_inner().error {
            Some(error) => Err(error),
            None => Ok(region),
        }
    }
}

/// A file for `object`'s `ReadCache`, which turns I/O errors into `()`: keeps the first one, so
/// a failing disk is reported as such rather than as "not a Go binary".
struct Recorder<'f> {
    file: &'f File,
    error: Option<io::Error>,
}

impl Recorder<'_> {
    fn record<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &result
            && self.error.is_none()
        {
            self.error = Some(io::Error::new(e.kind(), e.to_string()));
        }
        result
    }
}

impl Read for Recorder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = self.file.read(buf);
        self.record(result)
    }
}

impl Seek for Recorder<'_> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let result = self.file.seek(pos);
        self.record(result)
    }
}

fn parse_from(source: &mut dyn Source) -> Result<Option<BuildInfo>, Failure> {
    let header_offset = match source.locate()? {
        Region::Nothing => return Ok(None),
        Region::At(offset) => {
            let window = source.read_at(offset, SEARCH_WINDOW)?;
            find_aligned_magic(&window).map(|i| offset + i as u64)
        }
        Region::Scan => scan(source)?,
    };
    match header_offset {
        Some(offset) => decode(source, offset).map(Some),
        None => Ok(None),
    }
}

/// Stream-scans the whole input, one chunk in memory at a time.
fn scan(source: &mut dyn Source) -> io::Result<Option<u64>> {
    let mut offset = 0u64;
    while offset < source.size() {
        // Read a header's worth past the chunk so a header straddling the boundary is seen.
        let chunk = source.read_at(offset, SCAN_CHUNK + HEADER_SIZE)?;
        let checked = chunk.len().min(SCAN_CHUNK);
        if let Some(i) = find_aligned_magic(&chunk).filter(|&i| i < checked) {
            return Ok(Some(offset + i as u64));
        }
        offset += SCAN_CHUNK as u64;
    }
    Ok(None)
}
