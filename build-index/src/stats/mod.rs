//! `build-index stats serve`: the anonymous install-count service.
//!
//! `POST /record-install` takes one ping ([`validate`]), hands it to the single SQLite writer
//! ([`db`]) and answers 204 only once its transaction is committed. `GET /counts?since=DAY`
//! sums the counters per name and outcome; `GET /healthz` answers 200. One thread per
//! connection with keep-alive ([`http`]), per-IP rate limiting in memory ([`ratelimit`]).
//! SIGTERM (or SIGINT) stops accepting, lets the open requests finish, commits what is queued
//! and returns. No IP address is ever stored. This module is the I/O shell and the routing.

pub mod db;
pub mod http;
pub mod ratelimit;
pub mod validate;

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufReader};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use self::db::{DbError, WriterHandle};
use self::http::{Request, Response};
use self::ratelimit::RateLimiter;

/// An idle keep-alive connection is closed after this long, so threads do not pile up.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A client that does not read its answer for this long is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections served at once; more are answered 503 and closed.
const MAX_CONNECTIONS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("could not listen on `{addr}`: {source}")]
    Bind { addr: String, source: io::Error },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("could not install the SIGTERM handler: {0}")]
    Signals(io::Error),
}

/// A bound, not yet serving, stats service.
pub struct StatsServer {
    listener: TcpListener,
    db_path: PathBuf,
    rate_limit: u32,
}

/// What every connection thread shares.
struct Shared {
    db_path: PathBuf,
    limiter: Option<RateLimiter>,
    stopping: AtomicBool,
    /// Open connections, so that a shutdown can end their pending reads.
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
}

impl StatsServer {
    /// Opens (or creates) the database at `db_path` and binds `addr`. `rate_limit` is requests
    /// per second per client address, 0 for no limit.
    pub fn bind(addr: &str, db_path: &Path, rate_limit: u32) -> Result<Self, StatsError> {
        // Open now so that a bad path fails before the URL is printed.
        drop(db::open_writer(db_path)?);
        let listener = TcpListener::bind(addr).map_err(|source| StatsError::Bind {
            addr: addr.to_owned(),
            source,
        })?;
        Ok(Self {
            listener,
            db_path: db_path.to_owned(),
            rate_limit,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until SIGTERM or SIGINT, then drains: every ping read before the signal is
    /// committed and answered before this returns.
    pub fn run(self) -> Result<(), StatsError> {
        let local = self.local_addr().map_err(StatsError::Signals)?;
        let (writer, writer_join) = db::spawn_writer(db::open_writer(&self.db_path)?)?;
        let shared = Arc::new(Shared {
            db_path: self.db_path,
            limiter: RateLimiter::new(self.rate_limit, Instant::now()),
            stopping: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        });
        let mut signals = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGINT,
        ])
        .map_err(StatsError::Signals)?;
        let on_signal = Arc::clone(&shared);
        thread::spawn(move || {
            if signals.forever().next().is_some() {
                on_signal.stopping.store(true, Ordering::SeqCst);
                // accept() does not see the flag; one connection wakes it.
                let _ = TcpStream::connect(wake_addr(local));
            }
        });
        for stream in self.listener.incoming() {
            if shared.stopping.load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = stream else { continue };
            let shared = Arc::clone(&shared);
            let writer = writer.clone();
            // A failed spawn drops the connection, which is all that can be done.
            let _ =
                thread::Builder::new().spawn(move || serve_connection(stream, &shared, &writer));
        }
        drop(self.listener);
        // End every pending read: idle connections close, busy ones finish their request.
        for conn in shared
            .conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            let _ = conn.shutdown(Shutdown::Read);
        }
        drop(writer);
        // The writer ends once every connection thread has dropped its handle.
        let _ = writer_join.join();
        Ok(())
    }
}

/// The address to connect to for waking accept(): loopback when bound to "any".
fn wake_addr(local: SocketAddr) -> SocketAddr {
    let ip = match local.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, local.port())
}

/// Registers the connection for shutdown, serves it, unregisters it.
fn serve_connection(stream: TcpStream, shared: &Shared, writer: &WriterHandle) {
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    {
        let mut conns = shared.conns.lock().unwrap_or_else(PoisonError::into_inner);
        // Checked under the lock so that a shutdown sweep cannot miss this connection.
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        if conns.len() >= MAX_CONNECTIONS {
            drop(conns);
            let mut s = stream;
            let _ =
                http::write_response(&mut s, &Response::text(503, "too many connections"), false);
            return;
        }
        let Ok(clone) = stream.try_clone() else {
            return;
        };
        conns.insert(id, clone);
    }
    // A failed connection concerns only its client.
    let _ = handle(stream, shared, writer);
    shared
        .conns
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&id);
}

fn handle(stream: TcpStream, shared: &Shared, writer: &WriterHandle) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    stream.set_nodelay(true)?;
    let peer = stream.peer_addr()?.ip();
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer_side = stream;
    loop {
        let request = match http::read_request(&mut reader)? {
            None => return Ok(()),
            Some(Ok(request)) => request,
            Some(Err(refusal)) => {
                let response = Response::text(refusal.status, refusal.reason);
                return http::write_response(&mut writer_side, &response, false);
            }
        };
        let response = route(&request, peer, shared, writer);
        let keep = request.keep_alive && !shared.stopping.load(Ordering::SeqCst);
        http::write_response(&mut writer_side, &response, keep)?;
        if !keep {
            return Ok(());
        }
    }
}

/// Answers one request.
fn route(request: &Request, peer: IpAddr, shared: &Shared, writer: &WriterHandle) -> Response {
    let allowed = |method: &str, extra: &'static str| {
        (request.method != method).then(|| Response {
            extra,
            ..Response::text(405, &format!("`{}` expects {method}", request.path))
        })
    };
    match request.path.as_str() {
        "/healthz" => allowed("GET", "Allow: GET\r\n").unwrap_or_else(|| Response::text(200, "ok")),
        "/record-install" => {
            if let Some(refused) = allowed("POST", "Allow: POST\r\n") {
                return refused;
            }
            if limited(shared, peer) {
                return Response::text(429, "too many requests from this address");
            }
            record(request, writer)
        }
        "/counts" => {
            if let Some(refused) = allowed("GET", "Allow: GET\r\n") {
                return refused;
            }
            if limited(shared, peer) {
                return Response::text(429, "too many requests from this address");
            }
            counts(&request.query, &shared.db_path)
        }
        _ => Response::text(
            404,
            &format!("no such endpoint `{}`", printable_path(&request.path)),
        ),
    }
}

/// True when `peer` has used up its requests (never when limiting is off).
fn limited(shared: &Shared, peer: IpAddr) -> bool {
    shared
        .limiter
        .as_ref()
        .is_some_and(|l| !l.allow(peer, Instant::now()))
}

fn record(request: &Request, writer: &WriterHandle) -> Response {
    if request.content_type.as_deref() != Some("application/json") {
        return Response::text(415, "the body must be sent as application/json");
    }
    match validate::parse_ping(&request.body) {
        Err(reason) => Response::text(400, &reason),
        Ok(ping) => {
            if writer.record(ping) {
                Response::empty(204)
            } else {
                Response::text(500, "the ping could not be stored")
            }
        }
    }
}

fn counts(query: &str, db_path: &Path) -> Response {
    let query = match validate::parse_counts_query(query) {
        Ok(query) => query,
        Err(reason) => return Response::text(400, &reason),
    };
    match db::counts(db_path, &query) {
        Ok(counts) => match serde_json::to_vec(&with_totals(counts)) {
            Ok(body) => Response::json(body),
            Err(_) => Response::text(500, "the counts could not be rendered"),
        },
        Err(_) => Response::text(500, "the counts could not be read"),
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

    #[test]
    fn wakes_loopback_when_bound_to_any() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(wake_addr(any), "127.0.0.1:8080".parse().unwrap());
    }
}
