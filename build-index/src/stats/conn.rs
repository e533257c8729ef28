//! Connections for the stats service: the accept loop, the connection caps, the deadlines hyper
//! enforces, and the graceful stop on SIGTERM/SIGINT. What a request gets is `mod.rs`'s concern.
//!
//! Slowloris is why this module exists (issue 17): each connection is a small tokio task, not a
//! thread, so a few thousand dripping clients cost little memory; hyper closes any connection
//! whose request head (or, on an idle keep-alive connection, next head) has not fully arrived
//! within the header deadline, however slowly it drips. A per-address cap keeps one host from
//! taking the global slots; past the global cap a connection is answered 503 and closed
//! (shed), never left hanging in the backlog. The trusted proxy is exempt from the per-address
//! cap: every client behind it shares its address.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::App;
use super::http::canonical;

/// How long a shutdown waits for open requests to finish before it drops them.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a shed connection is given to read its 503.
const SHED_TIMEOUT: Duration = Duration::from_secs(1);
/// Most shed connections being answered at once; past it a connection is closed unanswered.
const MAX_SHEDDING: usize = 256;
/// hyper's read buffer ceiling per connection (its minimum): a request head larger than this
/// is refused with 431.
const MAX_BUF: usize = 8 * 1024 + 1;

/// The connection limits (see `--max-connections` and friends).
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub max_per_addr: usize,
    pub trusted_proxy: Option<IpAddr>,
}

/// Open connections, in total and per peer address.
#[derive(Default)]
struct Slots {
    total: AtomicUsize,
    per_addr: Mutex<HashMap<IpAddr, usize>>,
    shedding: AtomicUsize,
}

/// Why a connection was not admitted.
enum Refused {
    Full,
    Address,
}

/// A held slot, given back on drop.
struct Slot {
    slots: Arc<Slots>,
    addr: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.total.fetch_sub(1, Ordering::SeqCst);
        if let Some(addr) = self.addr {
            let mut map = self
                .slots
                .per_addr
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(n) = map.get_mut(&addr) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&addr);
                }
            }
        }
    }
}

impl Slots {
    /// Takes a slot for a connection from `peer` (`capped` unless it is the trusted proxy).
    fn admit(
        self: &Arc<Self>,
        peer: IpAddr,
        capped: bool,
        limits: &ConnLimits,
    ) -> Result<Slot, Refused> {
        if self.total.fetch_add(1, Ordering::SeqCst) >= limits.max_connections {
            self.total.fetch_sub(1, Ordering::SeqCst);
            return Err(Refused::Full);
        }
        let mut slot = Slot {
            slots: Arc::clone(self),
            addr: None,
        };
        if capped {
            let mut map = self.per_addr.lock().unwrap_or_else(PoisonError::into_inner);
            let n = map.entry(peer).or_insert(0);
            if *n >= limits.max_per_addr {
                return Err(Refused::Address); // `slot` gives the total back
            }
            *n += 1;
            slot.addr = Some(peer);
        }
        Ok(slot)
    }
}

/// Serves `listener` until `stop` resolves, then lets open requests finish (at most
/// [`DRAIN_TIMEOUT`]) while idle keep-alive connections are closed.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    limits: ConnLimits,
    stop: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(Slots::default());
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_BUF)
        // A client may shut its write side once its request is sent (`nc -N`, some scripts);
        // it still gets its answer instead of a close.
        .half_close(true)
        .keep_alive(true);
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors or a connection reset before accept: the
                // backlog keeps the rest; wait a moment instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let peer_ip = canonical(peer.ip());
        let capped = limits.trusted_proxy.map(canonical) != Some(peer_ip);
        let slot = match slots.admit(peer_ip, capped, &limits) {
            Ok(slot) => slot,
            Err(why) => {
                shed(stream, why, &slots);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = Arc::clone(&app);
        let service = service_fn(move |request| {
            let app = Arc::clone(&app);
            async move { Ok::<_, Infallible>(app.handle(request, peer).await) }
        });
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A failed connection (reset, header deadline) concerns only its client.
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await;
}

/// Answers a connection that found no slot with one short response and closes it: written
/// before anything is read, then the write side shut and the request drained for a moment, so
/// the client reads a 503 (or 429) rather than a reset.
fn shed(mut stream: TcpStream, why: Refused, slots: &Arc<Slots>) {
    if slots.shedding.fetch_add(1, Ordering::SeqCst) >= MAX_SHEDDING {
        slots.shedding.fetch_sub(1, Ordering::SeqCst);
        return; // dropped: under a flood, closing is the cheap answer
    }
    let slots = Arc::clone(slots);
    tokio::spawn(async move {
        let reply: &[u8] = match why {
            Refused::Full => {
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 21\r\nRetry-After: 1\r\nConnection: close\r\n\r\ntoo many connections\n"
            }
            Refused::Address => {
                b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 39\r\nConnection: close\r\n\r\ntoo many connections from this address\n"
            }
        };
        let _ = tokio::time::timeout(SHED_TIMEOUT, async {
            stream.write_all(reply).await?;
            stream.shutdown().await?;
            let mut sink = [0u8; 1024];
            while stream.read(&mut sink).await? > 0 {}
            Ok::<_, std::io::Error>(())
        })
        .await;
        slots.shedding.fetch_sub(1, Ordering::SeqCst);
    });
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C where there is no SIGTERM). A handler that cannot be
/// installed makes the future never resolve: the service then stops only when killed.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per: usize) -> ConnLimits {
        ConnLimits {
            header_timeout: Duration::from_secs(1),
            max_connections: total,
            max_per_addr: per,
            trusted_proxy: None,
        }
    }

    #[test]
    fn slots_cap_per_address_and_in_total_and_come_back_on_drop() {
        let slots = Arc::new(Slots::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let l = limits(3, 2);
        let a1 = slots.admit(a, true, &l).ok().unwrap();
        let _a2 = slots.admit(a, true, &l).ok().unwrap();
        assert!(matches!(slots.admit(a, true, &l), Err(Refused::Address)));
        let _b1 = slots.admit(b, true, &l).ok().unwrap();
        assert!(matches!(slots.admit(b, false, &l), Err(Refused::Full)));
        drop(a1);
        let _a3 = slots.admit(a, true, &l).ok().unwrap();
        // Refusals gave their slot back: 3 held, 0 leaked.
        assert_eq!(slots.total.load(Ordering::SeqCst), 3);
    }
}
