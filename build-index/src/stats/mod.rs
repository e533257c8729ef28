//! `build-index stats serve`: the anonymous install-count service.
//!
//! `POST /record-install` takes one ping, or a run's pings as a list ([`validate`]), hands them
//! to the single SQLite writer ([`db`]) and answers 204 only once their transaction is committed. `GET /counts?since=DAY`
//! sums the counters per name and outcome; `GET /healthz` answers 200. HTTP/1.1 on hyper and
//! tokio ([`http`]); connections, their caps and deadlines, and the graceful stop in [`conn`];
//! per-client rate limiting in memory ([`ratelimit`]), by `X-Forwarded-For` only behind the
//! trusted proxy. SIGTERM (or SIGINT) stops accepting, lets the open requests finish, commits
//! what is queued and returns. No IP address is ever stored. This module is the routing.

pub mod conn;
pub mod db;
pub mod http;
pub mod ratelimit;
pub mod validate;

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::{Method, Request};
use socket2::{Domain, Protocol, Socket, Type};

use self::conn::ConnLimits;
use self::db::{DbError, WriterHandle};
use self::http::Response;
use self::ratelimit::RateLimiter;

/// File descriptors kept back from the global connection cap for the database, the listener
/// and shed answers (Unix: elsewhere there is no descriptor limit to read).
#[cfg(unix)]
const FD_RESERVE: u64 = 64;
/// Connections the kernel holds for the accept loop (std's default is 128; the kernel caps it
/// at `net.core.somaxconn`).
const BACKLOG: i32 = 4096;

#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("could not listen on `{addr}`: {source}")]
    Bind { addr: String, source: io::Error },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("could not start the stats service's runtime: {0}")]
    Runtime(io::Error),
}

/// How the service limits its clients (the `stats serve` flags).
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Requests per second per client address (bursts of twice that); 0 turns it off.
    pub rate_limit: u32,
    /// The reverse proxy whose `X-Forwarded-For` names the client.
    pub trusted_proxy: Option<IpAddr>,
    /// A request head (and an idle keep-alive connection's next one) must arrive within this.
    pub header_timeout: Duration,
    /// A request's body must arrive within this of its head.
    pub request_timeout: Duration,
    /// Most connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Most connections open at once from one address (the trusted proxy is exempt); more are
    /// answered 429 and closed.
    pub max_connections_per_addr: usize,
}

/// `build-index stats serve`'s flags.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The SQLite database (created when missing).
    #[arg(long, value_name = "FILE")]
    pub db: PathBuf,
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: String,
    /// Requests per second per client address (bursts of twice that); 0 turns it off.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub rate_limit: u32,
    /// The reverse proxy (TLS terminator) in front: only for connections from this address is
    /// the rightmost `X-Forwarded-For` entry taken as the client's address for the rate limit,
    /// and this address is exempt from --max-connections-per-addr.
    #[arg(long, value_name = "ADDR")]
    pub trusted_proxy: Option<IpAddr>,
    /// Seconds a client has to send a whole request head (and an idle keep-alive connection
    /// its next one) before it is disconnected.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds a client has, once its head is in, to send the request body (else 408).
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub request_timeout: u64,
    /// Most connections open at once (also kept under the file-descriptor limit); more are
    /// answered 503 and closed.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Most connections open at once from one address; more are answered 429 and closed.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_connections_per_addr: usize,
}

impl ServeArgs {
    pub fn settings(&self) -> Settings {
        Settings {
            rate_limit: self.rate_limit,
            trusted_proxy: self.trusted_proxy,
            header_timeout: Duration::from_secs(self.header_timeout.max(1)),
            request_timeout: Duration::from_secs(self.request_timeout.max(1)),
            max_connections: self.max_connections.max(1),
            max_connections_per_addr: self.max_connections_per_addr.max(1),
        }
    }
}

/// A bound, not yet serving, stats service.
pub struct StatsServer {
    listener: TcpListener,
    db_path: PathBuf,
    settings: Settings,
}

/// What every request handler shares.
pub struct App {
    db_path: PathBuf,
    limiter: Option<RateLimiter>,
    writer: WriterHandle,
    trusted_proxy: Option<IpAddr>,
    request_timeout: Duration,
}

impl StatsServer {
    /// Opens (or creates) the database at `db_path` and binds `addr`.
    pub fn bind(addr: &str, db_path: &Path, settings: Settings) -> Result<Self, StatsError> {
        // Open now so that a bad path fails before the URL is printed.
        drop(db::open_writer(db_path)?);
        let listener = listen(addr).map_err(|source| StatsError::Bind {
            addr: addr.to_owned(),
            source,
        })?;
        Ok(Self {
            listener,
            db_path: db_path.to_owned(),
            settings,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until SIGTERM or SIGINT, then drains: every ping read before the signal is
    /// committed and answered before this returns.
    pub fn run(self) -> Result<(), StatsError> {
        let (writer, writer_join) = db::spawn_writer(db::open_writer(&self.db_path)?)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(StatsError::Runtime)?;
        let s = self.settings;
        let app = Arc::new(App {
            db_path: self.db_path,
            limiter: RateLimiter::new(s.rate_limit, Instant::now()),
            writer,
            trusted_proxy: s.trusted_proxy,
            request_timeout: s.request_timeout,
        });
        let limits = ConnLimits {
            header_timeout: s.header_timeout,
            max_connections: s.max_connections.min(fd_budget()),
            max_per_addr: s.max_connections_per_addr,
            trusted_proxy: s.trusted_proxy,
        };
        self.listener
            .set_nonblocking(true)
            .map_err(StatsError::Runtime)?;
        runtime.block_on(async {
            let listener =
                tokio::net::TcpListener::from_std(self.listener).map_err(StatsError::Runtime)?;
            conn::serve(listener, app, limits, conn::stop_signal()).await;
            Ok::<_, StatsError>(())
        })?;
        // Requests still open after the drain deadline are dropped with their tasks, and with
        // them the last writer handles; the writer then commits what is queued and ends.
        runtime.shutdown_timeout(Duration::from_secs(1));
        let _ = writer_join.join();
        Ok(())
    }
}

/// Binds `addr` with a backlog of [`BACKLOG`] (the first address it resolves to that binds).
fn listen(addr: &str) -> io::Result<TcpListener> {
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to bind");
    for addr in addr.to_socket_addrs()? {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        // What std does on Unix: a restarted service can rebind while old connections linger.
        #[cfg(unix)]
        socket.set_reuse_address(true)?;
        match socket
            .bind(&addr.into())
            .and_then(|()| socket.listen(BACKLOG))
        {
            Ok(()) => return Ok(socket.into()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// How many connections the process's file-descriptor limit leaves room for.
fn fd_budget() -> usize {
    #[cfg(unix)]
    {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        if let Some(current) = limit.current {
            let budget = current.saturating_sub(FD_RESERVE).max(1);
            return usize::try_from(budget).unwrap_or(usize::MAX);
        }
    }
    usize::MAX
}

impl App {
    /// Answers one request from `peer`.
    pub async fn handle(&self, request: Request<Incoming>, peer: SocketAddr) -> Response {
        if let Some(refusal) = http::framing_refusal(request.headers()) {
            return refusal;
        }
        let path = request.uri().path().to_owned();
        let method = request.method().clone();
        let client = http::client_addr(peer.ip(), request.headers(), self.trusted_proxy);
        match path.as_str() {
            "/healthz" if method == Method::GET => http::text(200, "ok"),
            "/healthz" => http::wrong_method(&path, "GET"),
            "/record-install" if method != Method::POST => http::wrong_method(&path, "POST"),
            "/record-install" => {
                if self.limited(client) {
                    return http::text(429, "too many requests from this address");
                }
                self.record(request, client).await
            }
            "/counts" if method != Method::GET => http::wrong_method(&path, "GET"),
            "/counts" => {
                if self.limited(client) {
                    return http::text(429, "too many requests from this address");
                }
                let query = request.uri().query().unwrap_or("").to_owned();
                self.counts(query).await
            }
            _ => http::text(
                404,
                &format!("no such endpoint `{}`", printable_path(&path)),
            ),
        }
    }

    /// True when `client` has used up its requests (never when limiting is off).
    fn limited(&self, client: IpAddr) -> bool {
        self.limiter
            .as_ref()
            .is_some_and(|l| !l.allow(client, Instant::now()))
    }

    async fn record(&self, request: Request<Incoming>, client: IpAddr) -> Response {
        if http::content_type(request.headers()).as_deref() != Some("application/json") {
            return http::text(415, "the body must be sent as application/json");
        }
        let body = match http::read_body(request, self.request_timeout).await {
            Ok(body) => body,
            Err(refusal) => return refusal,
        };
        match validate::parse_pings(&body) {
            Err(reason) => http::text(400, &reason),
            Ok(pings) => {
                // The request took one of the client's tokens; each further ping takes one
                // more, so a list is limited as its pings sent one by one would be.
                if (1..pings.len()).any(|_| self.limited(client)) {
                    return http::text(429, "too many requests from this address");
                }
                if self.writer.record_all(pings).await {
                    http::empty(204)
                } else {
                    http::text(500, "the ping could not be stored")
                }
            }
        }
    }

    async fn counts(&self, query: String) -> Response {
        let query = match validate::parse_counts_query(&query) {
            Ok(query) => query,
            Err(reason) => return http::text(400, &reason),
        };
        let db_path = self.db_path.clone();
        // SQLite reads block; they run beside the async workers, not on them.
        let read = tokio::task::spawn_blocking(move || db::counts(&db_path, &query)).await;
        match read {
            Ok(Ok(counts)) => match serde_json::to_vec(&with_totals(counts)) {
                Ok(body) => http::json(body),
                Err(_) => http::text(500, "the counts could not be rendered"),
            },
            _ => http::text(500, "the counts could not be read"),
        }
    }
}

/// `{name: {outcome: n}}` → sorted `{name: {"total": N, outcome: n, ...}}`.
fn with_totals(
    counts: HashMap<String, HashMap<String, u64>>,
) -> BTreeMap<String, BTreeMap<String, u64>> {
    counts
        .into_iter()
        .map(|(name, outcomes)| {
            let total = outcomes.values().sum();
            let mut row: BTreeMap<String, u64> = outcomes.into_iter().collect();
            row.insert("total".to_owned(), total);
            (name, row)
        })
        .collect()
}

fn printable_path(path: &str) -> String {
    path.chars()
        .take(80)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_the_sum_of_outcomes() {
        let counts = HashMap::from([(
            "rg".to_owned(),
            HashMap::from([("prebuilt".to_owned(), 3), ("not-in-index".to_owned(), 2)]),
        )]);
        let out = with_totals(counts);
        assert_eq!(out["rg"]["total"], 5);
        assert_eq!(out["rg"]["prebuilt"], 3);
    }
}
