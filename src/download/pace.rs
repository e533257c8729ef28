//! A body reader that gives up on a transfer that is alive but too slow to finish.
//!
//! ureq's per-read timeout only catches silence: a server that drips a byte a second never
//! trips it. Like cargo's `http.low-speed-limit`, a transfer that moves fewer than `min_rate`
//! bytes/s over a whole `window` (the `--timeout`) is abandoned; and every transfer has an
//! overall deadline derived from its expected size, so a server sending just above that limit
//! cannot hold a client for days either.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use super::error::Pace;

/// cargo's default `http.low-speed-limit`, in bytes per second.
pub const LOW_SPEED_LIMIT: u64 = 10;

/// The slowest average rate a whole transfer may have before its deadline, in bytes per second:
/// a 50 MB archive may take 50 minutes on top of the fixed allowance.
const DEADLINE_RATE: u64 = 16 * 1024;

/// The overall time a transfer of `expected` bytes may take: three timeout periods (connect,
/// first byte, a stall) plus the size at [`DEADLINE_RATE`].
pub fn deadline_for(expected: u64, timeout: Duration) -> Duration {
    timeout
        .saturating_mul(3)
        .saturating_add(Duration::from_secs(expected / DEADLINE_RATE))
}

/// Wraps a body reader with the low-speed limit and the deadline.
pub struct Paced<R> {
    inner: R,
    min_rate: u64,
    window: Duration,
    window_start: Instant,
    window_bytes: u64,
    started: Instant,
    deadline: Duration,
}

impl<R: Read> Paced<R> {
    /// `min_rate` 0 turns the low-speed limit off (as in cargo); the deadline always applies.
    pub fn new(inner: R, min_rate: u64, window: Duration, deadline: Duration) -> Self {
        let now = Instant::now();
        Self {
            inner,
            min_rate,
            window,
            window_start: now,
            window_bytes: 0,
            started: now,
            deadline,
        }
    }

    fn check(&mut self) -> io::Result<()> {
        let now = Instant::now();
        if now.duration_since(self.started) > self.deadline {
            return Err(give_up(Pace::Deadline {
                after: self.deadline,
            }));
        }
        let elapsed = now.duration_since(self.window_start);
        if self.min_rate > 0 && !self.window.is_zero() && elapsed >= self.window {
            let needed = self.min_rate as f64 * elapsed.as_secs_f64();
            if (self.window_bytes as f64) < needed {
                return Err(give_up(Pace::TooSlow {
                    min_rate: self.min_rate,
                    after: self.window,
                }));
            }
            self.window_start = now;
            self.window_bytes = 0;
        }
        Ok(())
    }
}

impl<R: Read> Read for Paced<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.check()?;
        let n = self.inner.read(buf)?;
        self.window_bytes = self.window_bytes.saturating_add(n as u64);
        // Checked after the read too: a read that waited long is judged at once.
        if n > 0 {
            self.check()?;
        }
        Ok(n)
    }
}

fn give_up(pace: Pace) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, pace)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by unwrapping
mod tests {
    use super::*;

    /// Yields one byte per read, sleeping `gap` before each.
    struct Drip(Duration);

    impl Read for Drip {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            std::thread::sleep(self.0);
            buf[0] = b'x';
            Ok(1)
        }
    }

    fn verdict(e: &io::Error) -> Pace {
        *e.get_ref().unwrap().downcast_ref::<Pace>().unwrap()
    }

    #[test]
    fn a_drip_under_the_low_speed_limit_is_abandoned_after_one_window() {
        let window = Duration::from_millis(300);
        let mut r = Paced::new(Drip(Duration::from_millis(50)), 100, window, Duration::MAX);
        let start = Instant::now();
        let err = io::copy(&mut r, &mut io::sink()).unwrap_err();
        assert!(matches!(verdict(&err), Pace::TooSlow { min_rate: 100, .. }));
        assert!(start.elapsed() < window * 3, "{:?}", start.elapsed());
    }

    #[test]
    fn a_transfer_past_its_deadline_is_abandoned_even_above_the_limit() {
        let deadline = Duration::from_millis(200);
        let mut r = Paced::new(Drip(Duration::from_millis(10)), 0, deadline, deadline);
        let err = io::copy(&mut r, &mut io::sink()).unwrap_err();
        assert!(matches!(verdict(&err), Pace::Deadline { .. }));
    }

    #[test]
    fn a_fast_transfer_passes() {
        let data = vec![7u8; 1 << 20];
        let mut r = Paced::new(
            &data[..],
            10,
            Duration::from_millis(1),
            Duration::from_secs(60),
        );
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn deadlines_grow_with_the_expected_size() {
        let t = Duration::from_secs(15);
        assert_eq!(deadline_for(0, t), Duration::from_secs(45));
        assert_eq!(deadline_for(50 << 20, t), Duration::from_secs(45 + 3200));
    }
}
