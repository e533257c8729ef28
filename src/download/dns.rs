//! Host names resolved once per run, not once per connection.
//!
//! ureq resolves the host of every new connection itself, and a run of ten crates opens ten
//! connections to the same registry host at once: ten lookups in the same instant. Resolvers
//! that drop queries under such a burst exist (this project's own build machine drops one now
//! and then: ten parallel `getent hosts` took 5 s, glibc's retry timeout, in two bursts out of
//! six), and each dropped query holds its crate for those 5 s. [`SharedResolver`] makes the
//! first connection to a host look it up and the others wait for that answer, which is kept for
//! [`KEEP_ANSWER`]. A failed lookup is not kept: the next connection asks again.
//!
//! This plugs into ureq's `unversioned` API (its resolver trait may change in a minor release),
//! which is why `Cargo.toml` holds ureq to 3.5.x.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long an answer is reused: a run is seconds long, but one that builds from source can
/// last minutes before its last requests, and a host may move meanwhile.
pub const KEEP_ANSWER: Duration = Duration::from_secs(60);

/// The resolver every agent of the process uses ([`SharedResolver`] over ureq's own), so the
/// fetcher's and the pings' connections share answers too.
#[derive(Debug, Default, Clone, Copy)]
pub struct RunResolver;

impl Resolver for RunResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        static SHARED: OnceLock<SharedResolver> = OnceLock::new();
        SHARED
            .get_or_init(SharedResolver::default)
            .resolve(uri, config, timeout)
    }
}

/// One lookup of a host, shared by the connections that start while it runs.
struct Lookup {
    started: Instant,
    /// `None` when the lookup failed: callers then look up for themselves.
    answer: OnceLock<Option<ResolvedSocketAddrs>>,
}

/// A resolver that asks `R` once per scheme, host and port, and shares the answer.
pub struct SharedResolver<R = DefaultResolver> {
    inner: R,
    lookups: Mutex<HashMap<String, Arc<Lookup>>>,
}

impl Default for SharedResolver {
    fn default() -> Self {
        Self::new(DefaultResolver::default())
    }
}

impl<R> SharedResolver<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            lookups: Mutex::new(HashMap::new()),
        }
    }
}

impl<R> fmt::Debug for SharedResolver<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedResolver")
    }
}

impl<R: Resolver> Resolver for SharedResolver<R> {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            // Not ours to judge: the inner resolver names what is wrong.
            return self.inner.resolve(uri, config, timeout);
        };
        let key = format!("{scheme}://{authority}");
        let lookup = {
            let Ok(mut lookups) = self.lookups.lock() else {
                return self.inner.resolve(uri, config, timeout);
            };
            let fresh = |l: &Arc<Lookup>| {
                l.started.elapsed() < KEEP_ANSWER && l.answer.get() != Some(&None)
            };
            match lookups.get(&key).filter(|l| fresh(l)) {
                Some(lookup) => Arc::clone(lookup),
                None => {
                    let lookup = Arc::new(Lookup {
                        started: Instant::now(),
                        answer: OnceLock::new(),
                    });
                    lookups.insert(key, Arc::clone(&lookup));
                    lookup
                }
            }
        };
        let mut failure = None;
        // The first caller looks up; callers that come meanwhile wait for its answer.
        let answer = lookup
            .answer
            .get_or_init(|| match self.inner.resolve(uri, config, timeout) {
                Ok(addrs) => Some(addrs),
                Err(e) => {
                    failure = Some(e);
                    None
                }
            });
        match (answer, failure) {
            (Some(addrs), _) => Ok(addrs.clone()),
            (None, Some(e)) => Err(e),
            // Another caller's lookup failed: try once more for this one.
            (None, None) => self.inner.resolve(uri, config, timeout),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Answers 10.0.0.1 after `delay`, or fails while `fail` is set; counts its lookups.
    #[derive(Debug, Default)]
    struct Counting {
        lookups: AtomicUsize,
        fail: std::sync::atomic::AtomicBool,
        delay: Duration,
    }

    impl Resolver for Counting {
        fn resolve(
            &self,
            uri: &Uri,
            _: &Config,
            _: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, ureq::Error> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(self.delay);
            if self.fail.load(Ordering::SeqCst) {
                return Err(ureq::Error::HostNotFound);
            }
            let mut addrs = self.empty();
            let port = uri.port_u16().unwrap_or(443);
            addrs.push(SocketAddr::from(([10, 0, 0, 1], port)));
            Ok(addrs)
        }
    }

    fn resolve(r: &SharedResolver<Counting>, url: &str) -> Result<Vec<SocketAddr>, ureq::Error> {
        let uri: Uri = url.parse().unwrap();
        r.resolve(&uri, &Config::default(), NextTimeout::default())
            .map(|addrs| addrs.iter().copied().collect())
    }

    #[test]
    fn connections_that_start_together_share_one_lookup() {
        let shared = SharedResolver::new(Counting {
            delay: Duration::from_millis(50),
            ..Counting::default()
        });
        let answers: Vec<_> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..10)
                .map(|_| s.spawn(|| resolve(&shared, "https://index.crates.io/ri/pg/ripgrep")))
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert_eq!(shared.inner.lookups.load(Ordering::SeqCst), 1);
        for answer in answers {
            assert_eq!(answer.unwrap(), [SocketAddr::from(([10, 0, 0, 1], 443))]);
        }
        // Another host, or another port of the same host, is looked up on its own.
        resolve(&shared, "https://static.crates.io/").unwrap();
        resolve(&shared, "https://index.crates.io:8443/").unwrap();
        assert_eq!(shared.inner.lookups.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_failed_lookup_is_not_kept() {
        let shared = SharedResolver::new(Counting::default());
        shared.inner.fail.store(true, Ordering::SeqCst);
        assert!(matches!(
            resolve(&shared, "https://index.crates.io/"),
            Err(ureq::Error::HostNotFound)
        ));
        shared.inner.fail.store(false, Ordering::SeqCst);
        assert!(resolve(&shared, "https://index.crates.io/").is_ok());
        assert!(resolve(&shared, "https://index.crates.io/").is_ok());
        assert_eq!(shared.inner.lookups.load(Ordering::SeqCst), 2);
    }
}
