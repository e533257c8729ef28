//! Downloading a verified release and unpacking it into a staging directory: the part of an
//! install that `cargo quickinstall` and `gquick` share, and that may run for many packages at
//! once because it touches nothing a user sees.
//!
//! With a cache directory, verified archives are kept as `<sha256>.tar.gz`; a cached copy is
//! re-hashed (size and sha256 against the signed entry) as it is copied in before it is used,
//! and replaced by a fresh download when it does not match. Cache entries that are not regular
//! files (a FIFO, a device) are skipped without being waited on.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::download::{Fetcher, IN_MEMORY_MAX, Location};
use crate::error::{PackageError, Subject};
use crate::index::format::Release;
use crate::report::Reporter;
use crate::unpack::{StagedBinary, stage_raw_binary, unpack_selected, unpack_selected_bytes};

/// Temp dirs in the install root are named `<TEMP_PREFIX><pid>-<random>` ([`crate::temp_dir`]), so
/// a later run can tell whose they are.
const TEMP_PREFIX: &str = ".quickinstall-tmp-";

/// A new temp dir for one package's download and staged binaries, inside `root` (created if
/// missing): the same file system as `root/bin`, so installing is a rename, and a full disk
/// shows up here, before any installed binary is touched. Named `<TEMP_PREFIX><pid>-<random>`;
/// stale ones an interrupted run left are swept first (once per root in a process).
///
/// Binaries are written straight into it, beside the archive when it is a file: archive names
/// start with a dot, which no binary name may (`is_valid_binary_name`), so the two cannot meet.
pub(crate) fn temp_dir_in(root: &Path) -> Result<TempDir, PackageError> {
    let prepare = |source| PackageError::Prepare {
        path: root.to_owned(),
        source,
    };
    // Asked first: `mkdir` on a root that exists still locks its parent, which ten packages
    // staging at once would each wait on.
    if !root.is_dir() {
        std::fs::create_dir_all(root).map_err(prepare)?;
    }
    crate::temp_dir::owned_in(root, TEMP_PREFIX).map_err(prepare)
}

/// Downloads `release` from `location` (size and sha256 checked while streaming) into a
/// temporary directory inside `root` (`temp_dir_in`), then unpacks the `wanted` binaries (a
/// subset of the release's) into that directory. It lives as long as the returned [`TempDir`].
#[allow(clippy::too_many_arguments)] // each is a distinct input of one step; a struct would only rename them
pub fn stage_release(
    fetcher: &Fetcher,
    reporter: &Reporter,
    root: &Path,
    cache: Option<&Path>,
    subject: &Subject,
    release: &Release,
    location: &Location,
    wanted: &[String],
) -> Result<(TempDir, Vec<StagedBinary>), PackageError> {
    let dir = temp_dir_in(root)?;
    let cached = cache.and_then(|c| cached_archive(c, release, dir.path(), fetcher.timeout()));
    let from_cache = cached.is_some();
    let archive = match cached {
        Some(path) => Fetched::File(path),
        None => {
            let progress = reporter.download(
                &format!("`{} {}`", subject.name, subject.version),
                Some(release.size),
            );
            let set = |n| progress.set(n);
            // A small archive stays in memory: no file to create, write, read back and delete.
            let archive = if release.size <= IN_MEMORY_MAX && !release.is_bin() {
                fetcher
                    .download_verified_to_memory(location, release.size, &release.sha256, &set)
                    .map(Fetched::Memory)
            } else {
                let name = ".archive.tar.gz";
                fetcher
                    .download_verified(
                        location,
                        dir.path(),
                        name,
                        release.size,
                        &release.sha256,
                        &set,
                    )
                    .map(Fetched::File)
            };
            progress.finish();
            archive.map_err(|source| PackageError::Download {
                subject: Box::new(subject.clone()),
                source,
            })?
        }
    };
    let staging = dir.path();
    let staged = match (&archive, release.binaries.first()) {
        // Format `bin`: the verified file is the one executable, copied in, never unpacked
        // (never held in memory, see above).
        (Fetched::File(path), Some(name)) if release.is_bin() => {
            stage_raw_binary(path, staging, name)
        }
        (Fetched::File(path), _) => unpack_selected(path, staging, &release.binaries, wanted),
        (Fetched::Memory(bytes), _) => {
            let label = dir.path().join("archive.tar.gz");
            unpack_selected_bytes(bytes, &label, staging, &release.binaries, wanted)
        }
    };
    let binaries = staged.map_err(|source| PackageError::Unpack {
        subject: Box::new(subject.clone()),
        source,
    })?;
    // Cached only once it verified and unpacked: a signed but refused archive is not kept.
    if let Some(cache) = cache.filter(|_| !from_cache) {
        match &archive {
            Fetched::File(path) => keep_in_cache(cache, path, &release.sha256),
            Fetched::Memory(bytes) => keep_bytes_in_cache(cache, bytes, &release.sha256),
        }
    }
    // Not needed past here: removed now, beside the other downloads, rather than with the
    // staging directory in the install step, one package after another.
    if let Fetched::File(path) = &archive {
        let _ = std::fs::remove_file(path);
    }
    Ok((dir, binaries))
}

/// A copy, in `dir`, of the cached archive for `release`, if the cache holds one whose size and
/// sha256 still match the signed entry. The cache is untrusted (CI restores it from elsewhere):
/// the entry is opened without blocking (a FIFO would otherwise hang `open`), must be a regular
/// file by the opened handle's own metadata, and is read within `timeout`; anything else is
/// skipped and the archive downloaded instead. Hashing while copying means the bytes unpacked
/// are the bytes checked, however the cache entry changes afterwards. A regular file that does
/// not match is removed.
fn cached_archive(
    cache: &Path,
    release: &Release,
    dir: &Path,
    timeout: Duration,
) -> Option<PathBuf> {
    let path = cache.join(format!("{}.tar.gz", release.sha256));
    let mut file = open_nonblocking(&path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    let copy = dir.join(".cached.tar.gz");
    match copy_hashed(&mut file, &copy, timeout) {
        Some((len, sum)) if len == release.size && sum == release.sha256 => Some(copy),
        Some(_) => {
            let _ = std::fs::remove_file(&copy);
            let _ = std::fs::remove_file(&path);
            None
        }
        None => {
            let _ = std::fs::remove_file(&copy);
            None
        }
    }
}

/// Opens `path` for reading without blocking on a FIFO or a device that waits for a peer.
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Copies `file` to `dest`, returning the length and sha256 of what was copied; `None` on any
/// error or when reading takes longer than `timeout` in all.
fn copy_hashed(file: &mut File, dest: &Path, timeout: Duration) -> Option<(u64, String)> {
    use sha2::{Digest, Sha256};
    let start = Instant::now();
    let mut out = File::create_new(dest).ok()?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0u64;
    loop {
        if start.elapsed() > timeout {
            return None;
        }
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        let chunk = buf.get(..n)?;
        hasher.update(chunk);
        out.write_all(chunk).ok()?;
        len += n as u64;
    }
    Some((len, crate::download::to_hex(&hasher.finalize())))
}

/// A verified archive: a file in the staging directory, or (small enough) in memory.
enum Fetched {
    File(PathBuf),
    Memory(Vec<u8>),
}

/// Copies a verified archive into the cache (temp file + rename, so a reader never sees half
/// of one). Best effort: a cache that cannot be written only costs a later download.
pub(crate) fn keep_in_cache(cache: &Path, archive: &Path, sha256: &str) {
    if let Ok(mut file) = File::open(archive) {
        let _ = write_to_cache(cache, &mut file, sha256);
    }
}

/// [`keep_in_cache`] for an archive held in memory.
fn keep_bytes_in_cache(cache: &Path, mut bytes: &[u8], sha256: &str) {
    let _ = write_to_cache(cache, &mut bytes, sha256);
}

fn write_to_cache(cache: &Path, archive: &mut dyn Read, sha256: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(cache)?;
    let mut tmp = tempfile::NamedTempFile::new_in(cache)?;
    std::io::copy(archive, tmp.as_file_mut())?;
    tmp.persist(cache.join(format!("{sha256}.tar.gz")))
        .map_err(|e| e.error)?;
    Ok(())
}
