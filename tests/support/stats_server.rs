//! `StatsServer`: a fixture stats service on 127.0.0.1 that records every request with its body,
//! or (stalling) accepts connections and never answers. `StatsService`: the real
//! `build-index stats serve` on 127.0.0.1 with a database of its own, for the end-to-end test
//! that what the client sends is what the service stores.
//!
//! Both stand on `testsupport` (the one loopback server and the child-server runner);
//! `StatsServer` knows nothing of the service's validation or storage.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use testsupport::child::ChildServer;
use testsupport::client;
use testsupport::server::{Respond, TestServer};

use super::env::build_index_exe;

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// The request target as sent (`/record-install`).
    pub path: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A running fixture; dropping it stops it and closes stalled connections.
pub struct StatsServer {
    url: String,
    server: TestServer,
}

impl StatsServer {
    /// Answers every request with 204 after recording it.
    pub fn record() -> Self {
        Self::start(Respond::Status(204))
    }

    /// Accepts connections and never answers (a dead or overloaded service).
    pub fn stall() -> Self {
        Self::start(Respond::Stall)
    }

    fn start(respond: Respond) -> Self {
        let server = TestServer::scripted(move |_| respond.clone());
        let url = format!("http://{}", server.addr());
        Self { url, server }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every request received so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.server
            .log()
            .into_iter()
            .map(|r| Received {
                method: r.method,
                path: r.target,
                content_type: r.content_type,
                body: r.body,
            })
            .collect()
    }

    /// How many connections were accepted (a stalling server answers no request).
    pub fn connections(&self) -> usize {
        self.server.connections()
    }
}

/// The real stats service, `build-index stats serve --rate-limit 0`, on a fresh database;
/// dropping it kills it.
pub struct StatsService {
    server: ChildServer,
    _dir: tempfile::TempDir,
}

impl StatsService {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db: PathBuf = dir.path().join("stats.db");
        let mut command = Command::new(build_index_exe());
        command
            .args(["stats", "serve", "--rate-limit", "0", "--db"])
            .arg(&db);
        Self {
            server: ChildServer::start(command),
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> &str {
        self.server.url()
    }

    /// `GET /counts?since=1970-01-01`: every count stored.
    pub fn counts(&self) -> serde_json::Value {
        let (status, body) = client::get(self.server.addr(), "/counts?since=1970-01-01");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// The counts once they are not empty, waiting at most `limit`: a client gives its ping
    /// 200 ms at exit, and the service commits what it read even when the client has gone.
    pub fn counts_once_stored(&self, limit: Duration) -> serde_json::Value {
        let deadline = Instant::now() + limit;
        loop {
            let counts = self.counts();
            if counts.as_object().is_some_and(|o| !o.is_empty()) || Instant::now() > deadline {
                return counts;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
