//! Per-client rate limiting: one token bucket per remote IP address, in memory only.
//!
//! The addresses live only in this map, only while they have a recent request, and are never
//! written anywhere: the database never sees an IP. Time is passed in, so the bucket arithmetic
//! is pure and testable; the caller reads the clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets idle longer than this are full again, so they are dropped to bound the map.
const FORGET_AFTER: Duration = Duration::from_secs(60);
/// Sweep idle buckets at most this often.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// A token bucket: `rate` tokens a second, up to `burst`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Rate limiter shared by the connection threads.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    buckets: HashMap<IpAddr, Bucket>,
    last_sweep: Instant,
}

impl RateLimiter {
    /// `rate` requests a second per address with bursts of twice that; `None` when `rate` is 0
    /// (limiting off).
    pub fn new(rate: u32, now: Instant) -> Option<Self> {
        (rate > 0).then(|| Self {
            rate: f64::from(rate),
            burst: f64::from(rate) * 2.0,
            state: Mutex::new(State {
                buckets: HashMap::new(),
                last_sweep: now,
            }),
        })
    }

    /// Takes one token for `ip` at time `now`; false when its bucket is empty.
    pub fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        // A poisoned lock only means another thread panicked mid-update of plain numbers.
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if now.saturating_duration_since(state.last_sweep) >= SWEEP_EVERY {
            state
                .buckets
                .retain(|_, b| now.saturating_duration_since(b.last) < FORGET_AFTER);
            state.last_sweep = now;
        }
        let bucket = state.buckets.entry(ip).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn zero_means_off() {
        assert!(RateLimiter::new(0, Instant::now()).is_none());
    }

    #[test]
    fn allows_a_burst_then_refills_at_the_rate_per_address() {
        let t0 = Instant::now();
        let limiter = RateLimiter::new(10, t0).unwrap();
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        let allowed = (0..100).filter(|_| limiter.allow(a, t0)).count();
        assert_eq!(allowed, 20, "burst is twice the rate");
        assert!(limiter.allow(b, t0), "another address has its own bucket");
        assert!(!limiter.allow(a, t0));
        let later = t0 + Duration::from_millis(500);
        let refilled = (0..100).filter(|_| limiter.allow(a, later)).count();
        assert_eq!(refilled, 5, "half a second at 10/s");
    }

    #[test]
    fn idle_buckets_are_forgotten() {
        let t0 = Instant::now();
        let limiter = RateLimiter::new(1, t0).unwrap();
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        assert!(limiter.allow(a, t0));
        let later = t0 + FORGET_AFTER + SWEEP_EVERY;
        assert!(limiter.allow(IpAddr::V4(Ipv4Addr::LOCALHOST), later));
        let state = limiter.state.lock().unwrap();
        assert!(!state.buckets.contains_key(&a));
    }
}
