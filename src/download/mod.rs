//! Bytes over HTTP(S) or from local files: small documents into memory with a size cap, archives
//! streamed to `<dir>/<name>.partial` while hashing, then size- and sha256-checked and renamed.
//! An archive of at most [`IN_MEMORY_MAX`] bytes may stream into memory instead, handed over
//! only once checked.
//!
//! Archives checked by a caller's [`StreamCheck`] (a minisign signature) stream to a
//! `.partial` the same way, under a size cap. Where the bytes go is a `sink`, and its type fixes
//! what a download returns (a path, or the bytes); what they must satisfy is a `stream` check.
//!
//! This layer moves bytes only: it never parses index files and never touches install dirs.
//! Transient failures (connect/reset errors, timeouts, 5xx) are retried from scratch, a bounded
//! number of times; a rate limit is reported at once. Redirects are followed here, not by ureq,
//! so every hop is held to [`redirect`]'s rules.

mod dns;
mod error;
mod location;
mod pace;
pub mod redirect;
pub mod roots;
mod sink;
mod stream;

#[cfg(test)]
mod tests;

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use self::error::DownloadError;
use self::error::{Failure, body_failure, status_failure, transport_failure};
pub use self::location::Location;
use self::pace::{LOW_SPEED_LIMIT, Paced, deadline_for};
use self::redirect::MAX_REDIRECTS;
use self::sink::{FileSink, MemorySink, Sink};
pub use self::stream::StreamCheck;
use self::stream::{Capped, Check, Exact, Target};

/// Streaming buffer size: large enough for few syscalls, small enough to never matter in memory.
const CHUNK: usize = 64 * 1024;

/// The largest archive [`Fetcher::download_verified_to_memory`] takes: with `--jobs 16`, at
/// most 16 MiB held at once.
pub const IN_MEMORY_MAX: u64 = 1 << 20;

/// Error bodies up to this size are read and dropped so the connection goes back to the pool.
const DRAIN_LIMIT: u64 = 64 * 1024;

/// Network settings for a [`Fetcher`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetConfig {
    /// Connect timeout, and the longest a server may go without sending anything (per read).
    /// It is also the window of the low-speed limit (see [`Fetcher::with_low_speed_limit`]);
    /// the whole-body deadline grows with the expected size, so a big archive on a slow but
    /// live link is not cut off.
    pub timeout: Duration,
    /// Extra attempts after a transient failure.
    pub retries: u32,
    /// The `User-Agent` header sent with every request.
    pub user_agent: String,
    /// How many packages the run works on at once (`--jobs`): each host keeps that many
    /// connections alive between requests.
    pub parallel: usize,
}

/// Packages worked on at once unless `--jobs` says otherwise: an install mostly waits on the
/// network, so more than the cores.
pub const DEFAULT_PARALLEL: usize = 16;

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15),
            retries: 2,
            user_agent: concat!("quickinstall/", env!("CARGO_PKG_VERSION")).to_owned(),
            parallel: DEFAULT_PARALLEL,
        }
    }
}

/// Fetches from [`Location`]s. Cheap to clone; clones share one connection pool and one request
/// counter, so the archive download reuses the index request's connection. One is made per run
/// and shared by every source, so each host's connections are kept alive across lookups.
#[derive(Clone, Debug)]
pub struct Fetcher {
    agents: Arc<Agents>,
    timeout: Duration,
    retries: u32,
    /// Bytes per second a body must average over each `timeout` period; 0 = no limit.
    low_speed_limit: u64,
    requests: Arc<AtomicU64>,
}

/// A fetcher's two ureq agents, each made on first use: one for `http://` URLs, one for
/// `https://` ones. Only the second needs the system's certificates ([`roots`]), so a run that
/// fetches only from plain-HTTP loopback servers never reads them, and one that fetches over
/// HTTPS reads them once however many connections it opens at once.
#[derive(Debug)]
struct Agents {
    config: NetConfig,
    proxy: Option<ureq::Proxy>,
    /// Trusted instead of the system's certificates (cargo's `http.cainfo`).
    roots: Option<ureq::tls::RootCerts>,
    plain: OnceLock<ureq::Agent>,
    tls: OnceLock<ureq::Agent>,
}

impl Agents {
    /// The agent for `url`, by its scheme.
    fn for_url(&self, url: &str) -> &ureq::Agent {
        let slot = if redirect::has_scheme(url, "https") {
            &self.tls
        } else {
            &self.plain
        };
        slot.get_or_init(|| {
            let roots = self.roots.clone();
            self.build(roots.unwrap_or_else(|| roots::for_url(url)))
        })
    }

    fn build(&self, roots: ureq::tls::RootCerts) -> ureq::Agent {
        let timeout = Some(self.config.timeout);
        // ureq's own default, or one idle connection per package worked on, if more.
        let per_host = self.config.parallel.max(3);
        let config = ureq::Agent::config_builder()
            // Statuses are classified here (404 → None, 5xx → retry), not by ureq.
            .http_status_as_error(false)
            // Redirects are followed by `send`, which checks every hop (https only, plain
            // http only to loopback, no downgrade, bounded); ureq would follow any.
            .max_redirects(0)
            .proxy(self.proxy.clone())
            .user_agent(self.config.user_agent.as_str())
            .timeout_connect(timeout)
            // Headers must be complete within `timeout` of sending the request: a server
            // dripping header bytes cannot hold us forever.
            .timeout_recv_response(timeout)
            // Inactivity, not a deadline: each read may wait `timeout`, however long the body.
            .timeout_per_read(timeout)
            .timeout_per_write(timeout)
            // Per connection, zeroed when first used: ureq's 128 KiB each way cost a run of ten
            // packages (twenty connections) ~5 MiB of page faults. Requests are a few hundred
            // bytes; the input buffer must still hold the largest response head (64 KiB).
            .output_buffer_size(16 * 1024)
            .input_buffer_size(64 * 1024)
            .max_response_header_size(64 * 1024)
            // Every package's lookup leaves a connection to the index idle just before its
            // archive is asked for on the same host: ureq keeps 3 per host, so with more
            // packages at once some archives waited for a new connection (and, over TLS, two
            // more round trips). One per package on each host (index, registry, pool, ...).
            .max_idle_connections_per_host(per_host)
            .max_idle_connections(4 * per_host)
            // The system's certificate store (or cargo's `http.cainfo`), as cargo trusts:
            // behind a corporate proxy with its own CA, a fixed root list would refuse every
            // registry.
            .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
            .build();
        new_agent(config)
    }
}

/// An agent on `config` whose connections look each host up once per run ([`dns`]).
pub(crate) fn new_agent(config: ureq::config::Config) -> ureq::Agent {
    ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::default(),
        dns::RunResolver,
    )
}

impl Fetcher {
    /// A fetcher with proxies taken from `ALL_PROXY`/`HTTPS_PROXY`/`HTTP_PROXY` and `NO_PROXY`
    /// (ureq's default `Proxy::try_from_env()`).
    pub fn new(config: &NetConfig) -> Self {
        Self::with_proxy(config, ureq::Proxy::try_from_env())
    }

    /// A fetcher with cargo's `http.proxy` (which, as in cargo, wins over `HTTPS_PROXY` and the
    /// other proxy variables) and `http.cainfo` (a PEM bundle trusted instead of the system's store).
    /// The error is a sentence naming the bad setting.
    pub fn with_cargo_http(
        config: &NetConfig,
        proxy: Option<&str>,
        cainfo: Option<&Path>,
    ) -> Result<Self, String> {
        let proxy = match proxy {
            None => ureq::Proxy::try_from_env(),
            Some(url) => Some(
                ureq::Proxy::new(url)
                    .map_err(|e| format!("cargo's http.proxy `{url}` is not a proxy URL: {e}"))?,
            ),
        };
        let mut roots = None;
        if let Some(path) = cainfo {
            let pem = fs::read(path).map_err(|e| {
                format!(
                    "could not read cargo's http.cainfo `{}`: {e}",
                    path.display()
                )
            })?;
            let certs: Vec<_> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(format!(
                    "cargo's http.cainfo `{}` holds no PEM certificate",
                    path.display()
                ));
            }
            roots = Some(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        Ok(Self::with_proxy_and_roots(config, proxy, roots))
    }

    fn with_proxy(config: &NetConfig, proxy: Option<ureq::Proxy>) -> Self {
        Self::with_proxy_and_roots(config, proxy, None)
    }

    /// `roots`: the certificates to trust instead of the system's (cargo's `http.cainfo`).
    fn with_proxy_and_roots(
        config: &NetConfig,
        proxy: Option<ureq::Proxy>,
        roots: Option<ureq::tls::RootCerts>,
    ) -> Self {
        Self {
            agents: Arc::new(Agents {
                config: config.clone(),
                proxy,
                roots,
                plain: OnceLock::new(),
                tls: OnceLock::new(),
            }),
            timeout: config.timeout,
            retries: config.retries,
            low_speed_limit: LOW_SPEED_LIMIT,
            requests: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Sets the low-speed limit (cargo's `http.low-speed-limit`, bytes/s; 0 turns it off): a
    /// body averaging less over a whole `timeout` period is abandoned, and retried.
    #[must_use]
    pub fn with_low_speed_limit(mut self, bytes_per_second: u64) -> Self {
        self.low_speed_limit = bytes_per_second;
        self
    }

    /// A body reader held to the low-speed limit and to a deadline for `expected` bytes.
    fn paced<R: Read>(&self, body: R, expected: u64) -> Paced<R> {
        Paced::new(
            body,
            self.low_speed_limit,
            self.timeout,
            deadline_for(expected, self.timeout),
        )
    }

    /// The configured `--timeout`: also the longest a local read (the archive cache) may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How many HTTP requests this fetcher (and its clones) has sent, retries and redirect
    /// hops included.
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// A small document, at most `limit` bytes (more → [`DownloadError::TooLarge`]).
    /// `Ok(None)` for HTTP 404/410 or a missing file.
    pub fn get_small(&self, loc: &Location, limit: u64) -> Result<Option<Vec<u8>>, DownloadError> {
        match loc {
            Location::File(path) => read_small_file(path, limit),
            Location::Http(url) => self.retrying(|| self.get_small_http(url, limit)),
        }
    }

    /// Streams an archive into `<dir>/<file_name>.partial`, hashing it and reporting
    /// `progress(bytes_so_far)` (which restarts from 0 if a transient failure is retried), then
    /// checks size and sha256, renames to `<dir>/<file_name>` and returns that path.
    /// At most `expected_size + 1` bytes are read. On any failure nothing is left in `dir`.
    /// A 404/410 or a missing file is [`DownloadError::NotFound`].
    pub fn download_verified(
        &self,
        loc: &Location,
        dir: &Path,
        file_name: &str,
        expected_size: u64,
        expected_sha256: &str,
        progress: &dyn Fn(u64),
    ) -> Result<PathBuf, DownloadError> {
        let target = Target {
            sink: file_sink(dir, file_name)?,
            check: Exact::new(expected_size, expected_sha256),
            url: loc.to_string(),
        };
        self.stream_to(loc, target, progress)
    }

    /// [`Fetcher::download_verified`] into memory, for an archive of at most
    /// [`IN_MEMORY_MAX`] bytes: the bytes are handed over only once size and sha256 match, and
    /// no file is created, written, read back and deleted (a run of many small packages spends
    /// its time there). A larger `expected_size` is refused before anything is fetched.
    pub fn download_verified_to_memory(
        &self,
        loc: &Location,
        expected_size: u64,
        expected_sha256: &str,
        progress: &dyn Fn(u64),
    ) -> Result<Vec<u8>, DownloadError> {
        if expected_size > IN_MEMORY_MAX {
            return Err(DownloadError::TooLarge {
                url: loc.to_string(),
                limit: IN_MEMORY_MAX,
            });
        }
        let target = Target {
            sink: MemorySink,
            check: Exact::new(expected_size, expected_sha256),
            url: loc.to_string(),
        };
        self.stream_to(loc, target, progress)
    }

    /// Streams an archive of at most `cap` bytes into `<dir>/<file_name>.partial`, feeding
    /// every byte to `check`, and renames it to `<dir>/<file_name>` only when `check` passes
    /// (its reason is then [`DownloadError::Refused`]). More than `cap` bytes is
    /// [`DownloadError::TooLarge`]; a 404/410 or a missing file is [`DownloadError::NotFound`].
    /// On any failure nothing is left in `dir`.
    pub fn download_checked(
        &self,
        loc: &Location,
        dir: &Path,
        file_name: &str,
        cap: u64,
        check: &mut dyn StreamCheck,
        progress: &dyn Fn(u64),
    ) -> Result<PathBuf, DownloadError> {
        let target = Target {
            sink: file_sink(dir, file_name)?,
            check: Capped { cap, check },
            url: loc.to_string(),
        };
        self.stream_to(loc, target, progress)
    }

    /// Streams `loc` into `target` (retrying transient failures from scratch); the check's
    /// limit sizes the whole-body deadline.
    fn stream_to<S: Sink, C: Check<S::Written>>(
        &self,
        loc: &Location,
        mut target: Target<S, C>,
        progress: &dyn Fn(u64),
    ) -> Result<S::Output, DownloadError> {
        match loc {
            Location::File(path) => {
                let source = File::open(path).map_err(|e| {
                    if e.kind() == io::ErrorKind::NotFound {
                        DownloadError::NotFound {
                            url: target.url.clone(),
                        }
                    } else {
                        DownloadError::Read {
                            path: path.clone(),
                            source: e,
                        }
                    }
                })?;
                let read_error = |e: io::Error| {
                    Failure::fatal(DownloadError::Read {
                        path: path.clone(),
                        source: e,
                    })
                };
                target
                    .stream(source, None, progress, read_error)
                    .map_err(|f| f.error)
            }
            Location::Http(url) => self.retrying(|| {
                let response = self.send(url)?;
                let status = response.status().as_u16();
                if is_gone(status) {
                    drain(response);
                    return Err(Failure::fatal(DownloadError::NotFound { url: url.clone() }));
                }
                if !response.status().is_success() {
                    let failure = status_failure(url, status, response.headers());
                    drain(response);
                    return Err(failure);
                }
                let body = response.into_body();
                let announced = body.content_length();
                let timeout = self.timeout;
                let reader = self.paced(body.into_reader(), target.limit());
                target.stream(reader, announced, progress, |e| {
                    body_failure(url, e, timeout)
                })
            }),
        }
    }

    fn get_small_http(&self, url: &str, limit: u64) -> Result<Option<Vec<u8>>, Failure> {
        let response = self.send(url)?;
        let status = response.status().as_u16();
        if is_gone(status) {
            drain(response);
            return Ok(None);
        }
        if !response.status().is_success() {
            let failure = status_failure(url, status, response.headers());
            drain(response);
            return Err(failure);
        }
        let body = response.into_body();
        let announced = body.content_length();
        if announced.is_some_and(|len| len > limit) {
            return Err(too_large(url, limit));
        }
        // The deadline follows the announced size, else the most the caller accepts.
        let expected = announced.unwrap_or(limit);
        let mut reader = self
            .paced(body.into_reader(), expected)
            .take(limit.saturating_add(1));
        // Sized from the announcement (at most `limit`, checked above): a sparse-index file of
        // a few hundred KiB would otherwise grow by doubling, and each growth past the
        // allocator's mmap threshold moves pages, which stops every thread of the run.
        let mut bytes =
            Vec::with_capacity(announced.map_or(0, |n| usize::try_from(n).unwrap_or(0)));
        match reader.read_to_end(&mut bytes) {
            Ok(read) if read as u64 > limit => Err(too_large(url, limit)),
            Ok(_) => Ok(Some(bytes)),
            Err(e) => Err(body_failure(url, e, self.timeout)),
        }
    }

    /// Sends a GET for `url`, following redirects that pass [`redirect::allowed_hop`], at most
    /// [`MAX_REDIRECTS`] of them; errors name `url` (the one the caller asked for) and the hop.
    fn send(&self, url: &str) -> Result<ureq::http::Response<ureq::Body>, Failure> {
        let mut current = url.to_owned();
        let mut visited = vec![url.to_owned()];
        loop {
            self.requests.fetch_add(1, Ordering::Relaxed);
            let response = self
                .agents
                .for_url(&current)
                .get(&current)
                .call()
                .map_err(|e| transport_failure(&current, e, self.timeout))?;
            if !is_redirect(response.status().as_u16()) {
                return Ok(response);
            }
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            drain(response);
            let refused = |to: String, why: String| {
                Failure::fatal(DownloadError::Redirect {
                    url: url.to_owned(),
                    to,
                    why: why.into(),
                })
            };
            let Some(next) = location
                .as_deref()
                .and_then(|l| redirect::resolve(&current, l))
            else {
                return Err(refused(
                    location.unwrap_or_default(),
                    "the answer has no usable Location header".into(),
                ));
            };
            redirect::allowed_hop(&current, &next).map_err(|why| refused(next.clone(), why))?;
            let too_many = |hops| {
                Failure::fatal(DownloadError::TooManyRedirects {
                    url: url.to_owned(),
                    hops,
                    last: next.clone(),
                })
            };
            if visited.contains(&next) {
                return Err(too_many(0));
            }
            if visited.len() > MAX_REDIRECTS as usize {
                return Err(too_many(MAX_REDIRECTS));
            }
            visited.push(next.clone());
            current = next;
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries are spent.
    fn retrying<T>(
        &self,
        mut attempt: impl FnMut() -> Result<T, Failure>,
    ) -> Result<T, DownloadError> {
        let mut failures = 0;
        loop {
            match attempt() {
                Ok(value) => return Ok(value),
                Err(failure) if failure.transient && failures < self.retries => {
                    std::thread::sleep(backoff(failures));
                    failures += 1;
                }
                Err(failure) => return Err(failure.error),
            }
        }
    }
}

/// 200 ms, 800 ms, 3.2 s, then 5 s: long enough for a restarting server, short for a person.
fn backoff(failures: u32) -> Duration {
    let millis = 200u64.saturating_mul(4u64.saturating_pow(failures));
    Duration::from_millis(millis.min(5_000))
}

/// Redirect statuses that carry a `Location` to follow (304 is not one: it answers a
/// conditional request, which this client never sends).
fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// HTTP statuses that mean "this file does not exist".
fn is_gone(status: u16) -> bool {
    status == 404 || status == 410
}

fn too_large(url: &str, limit: u64) -> Failure {
    Failure::fatal(DownloadError::TooLarge {
        url: url.to_owned(),
        limit,
    })
}

/// Reads a small error body when its length is known and small, so keep-alive can reuse the
/// connection; otherwise drops it (closing the connection) rather than wait on it.
fn drain(response: ureq::http::Response<ureq::Body>) {
    let mut body = response.into_body();
    if body.content_length().is_some_and(|len| len <= DRAIN_LIMIT) {
        // Best effort: a failure here only costs the pooled connection.
        let _ = body.with_config().limit(DRAIN_LIMIT).read_to_vec();
    }
}

fn read_small_file(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, DownloadError> {
    let read_error = |source| DownloadError::Read {
        path: path.to_owned(),
        source,
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_error(e)),
    };
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if u64::try_from(bytes.len()).map_or(true, |len| len > limit) {
        return Err(DownloadError::TooLarge {
            url: path.display().to_string(),
            limit,
        });
    }
    Ok(Some(bytes))
}

/// `<dir>/<file_name>.partial`, renamed to `<dir>/<file_name>`; `file_name` must be one plain
/// path component, so the file lands in `dir` itself.
fn file_sink(dir: &Path, file_name: &str) -> Result<FileSink, DownloadError> {
    if !is_plain_file_name(file_name) {
        return Err(DownloadError::BadFileName {
            name: file_name.to_owned(),
        });
    }
    Ok(FileSink {
        partial: dir.join(format!("{file_name}.partial")),
        dest: dir.join(file_name),
    })
}

/// A single path component: no separators, not `.`/`..`.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

fn write_failure(path: &Path, source: io::Error) -> Failure {
    Failure::fatal(DownloadError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Lower-case hex of `bytes` (a sha256 as the index, registries and lock files write it).
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
