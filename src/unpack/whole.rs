//! An archive held in memory, inflated in one libdeflate call into a buffer leased from a
//! process-wide pool, instead of streamed through zlib.
//!
//! Inflating is most of an install's CPU once the archive is here (about 1.7 ms of a 3.5 ms
//! share for a 275 KiB archive of a 514 KiB tar), and with several packages at once the cores
//! are the limit. libdeflate inflates a whole buffer about a third faster than zlib-rs streams
//! it. The output buffers are leased: at most one per core at a time, and returned for the
//! next package rather than freed, because a fresh half-megabyte buffer per package costs as
//! much in page faults as the faster inflate saves.
//!
//! Only a fast path: anything it does not take (a trailer that claims more than
//! [`WHOLE_MAX`] or the caller's limit, a stream that inflates to more than its trailer says,
//! any error) goes to the streaming walk, whose cap and errors are the reference.

use std::io::{self, Read};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};

/// The largest inflated size (the gzip trailer's claim) taken in one piece.
const WHOLE_MAX: u64 = 64 << 20;

/// Buffers larger than this are freed on return rather than kept for the next package.
const KEEP_MAX: usize = 8 << 20;

/// `archive`'s one gzip member, inflated with its CRC and length checked, in a leased buffer
/// that reads as the tar; `None` where the streaming walk must decide.
pub(super) fn inflate(archive: &[u8], limit: u64) -> Option<Inflated> {
    let trailer: [u8; 4] = *archive.last_chunk()?;
    let claimed = u64::from(u32::from_le_bytes(trailer));
    if claimed > limit.min(WHOLE_MAX) {
        return None;
    }
    let len = usize::try_from(claimed).ok()?;
    let mut lease = Inflated::lease();
    if lease.buf.capacity() < len {
        // Allocated zeroed: fresh pages come zeroed from the system, with no memset over them
        // (`resize` on an empty buffer would write every zero).
        lease.buf = vec![0; len];
    } else {
        lease.buf.resize(len, 0);
    }
    let n = libdeflater::Decompressor::new()
        .gzip_decompress(archive, &mut lease.buf)
        .ok()?;
    lease.buf.truncate(n);
    Some(lease)
}

/// An inflated tar, read from the start; its buffer goes back to the pool when dropped.
pub(super) struct Inflated {
    buf: Vec<u8>,
    read: usize,
}

/// Buffers returned and not yet leased again, and how many exist (leased or not).
struct Pool {
    spare: Vec<Vec<u8>>,
    exist: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    spare: Vec::new(),
    exist: 0,
});
static RETURNED: Condvar = Condvar::new();

/// The cores this process may use, asked once: on Linux, `available_parallelism` reads the
/// cgroup's CPU quota from `/proc` and `/sys` on every call, and each inflate leases a buffer.
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

fn pool() -> MutexGuard<'static, Pool> {
    // The pool holds plain buffers: a panic elsewhere while it was locked leaves it usable.
    POOL.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inflated {
    /// A spare buffer, a new one while fewer than one per core exist, or else the next one
    /// returned: inflating is pure CPU, so more at once than cores only costs memory.
    fn lease() -> Self {
        let cores = cores();
        let mut pool = pool();
        loop {
            if let Some(buf) = pool.spare.pop() {
                return Self { buf, read: 0 };
            }
            if pool.exist < cores {
                pool.exist += 1;
                return Self {
                    buf: Vec::new(),
                    read: 0,
                };
            }
            pool = RETURNED.wait(pool).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The inflated bytes.
    #[cfg(test)]
    pub(super) fn as_slice(&self) -> &[u8] {
        &self.buf
    }
}

impl Read for Inflated {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let rest = self.buf.get(self.read..).unwrap_or_default();
        let n = rest.len().min(out.len());
        if let (Some(to), Some(from)) = (out.get_mut(..n), rest.get(..n)) {
            to.copy_from_slice(from);
        }
        self.read += n;
        Ok(n)
    }
}

impl Drop for Inflated {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        let mut pool = pool();
        if buf.capacity() <= KEEP_MAX {
            pool.spare.push(buf);
        } else {
            pool.exist = pool.exist.saturating_sub(1);
        }
        RETURNED.notify_one();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md)

    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn read_all(mut inflated: Inflated) -> Vec<u8> {
        let mut out = Vec::new();
        inflated.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn inflates_a_member_whole_and_reads_it_back_from_the_start() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let inflated = inflate(&gzip(&data), u64::MAX).unwrap();
        assert_eq!(inflated.as_slice(), &data[..]);
        assert_eq!(read_all(inflated), data);
    }

    #[test]
    fn leaves_to_the_streaming_walk_what_it_cannot_take_whole() {
        let data = vec![7u8; 10_000];
        let gz = gzip(&data);
        // Beyond the caller's limit, by the trailer's claim.
        assert!(inflate(&gz, 9_999).is_none());
        // A trailer that claims less than the stream holds: no room, so no answer.
        let mut short = gz.clone();
        let at = short.len() - 4;
        short[at..].copy_from_slice(&5_000u32.to_le_bytes());
        assert!(inflate(&short, u64::MAX).is_none());
        // A claim beyond what is taken whole.
        let mut huge = gz.clone();
        huge[at..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(inflate(&huge, u64::MAX).is_none());
        // A CRC that does not match, a stream cut short, bytes that are not gzip.
        let mut crc = gz.clone();
        crc[at - 1] ^= 1;
        assert!(inflate(&crc, u64::MAX).is_none());
        assert!(inflate(&gz[..gz.len() / 2], u64::MAX).is_none());
        assert!(inflate(&data, u64::MAX).is_none());
        assert!(inflate(b"", u64::MAX).is_none());
    }

    #[test]
    fn many_threads_share_the_leased_buffers_without_waiting_forever() {
        let gz = gzip(&vec![1u8; 300_000]);
        std::thread::scope(|scope| {
            for _ in 0..16 {
                scope.spawn(|| {
                    for _ in 0..4 {
                        let inflated = inflate(&gz, u64::MAX).unwrap();
                        assert_eq!(inflated.as_slice().len(), 300_000);
                    }
                });
            }
        });
        let cores = cores();
        assert!(
            pool().exist <= cores,
            "{} buffers for {cores} cores",
            pool().exist
        );
    }
}
