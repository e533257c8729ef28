//! `StatsServer`: a fixture stats service on 127.0.0.1 that records every request with its body,
//! or (stalling) accepts connections and never answers. `StatsService`: the real
//! `build-index stats serve` on 127.0.0.1 with a database of its own, for the end-to-end test
//! that what the client sends is what the service stores.
//!
//! `TestServer` serves files and does not keep request bodies; `StatsServer` exists for the
//! ping's tests and knows nothing of the service's validation or storage.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::env::build_index_exe;

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Record,
    Stall,
}

#[derive(Default)]
struct State {
    received: Mutex<Vec<Received>>,
    connections: Mutex<Vec<TcpStream>>,
    shutdown: AtomicBool,
}

/// A running fixture; dropping it stops it and closes stalled connections.
pub struct StatsServer {
    url: String,
    state: Arc<State>,
    acceptor: Option<JoinHandle<()>>,
}

impl StatsServer {
    /// Answers every request with 204 after recording it.
    pub fn record() -> Self {
        Self::start(Mode::Record)
    }

    /// Accepts connections and never reads or answers (a dead or overloaded service).
    pub fn stall() -> Self {
        Self::start(Mode::Stall)
    }

    fn start(mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State::default());
        let acceptor = {
            let state = Arc::clone(&state);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if state.shutdown.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    if let Ok(clone) = stream.try_clone() {
                        state
                            .connections
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(clone);
                    }
                    if mode == Mode::Record {
                        let state = Arc::clone(&state);
                        std::thread::spawn(move || serve(stream, &state));
                    }
                }
            })
        };
        Self {
            url,
            state,
            acceptor: Some(acceptor),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every request received so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.state
            .received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many connections were accepted (a stalling server records no request).
    pub fn connections(&self) -> usize {
        self.state
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for StatsServer {
    fn drop(&mut self) {
        self.state.shutdown.store(true, Ordering::SeqCst);
        for stream in self
            .state
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = stream.shutdown(Shutdown::Both);
        }
        // Wake the acceptor so it sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Reads requests off one connection (keep-alive) and answers each with 204.
fn serve(stream: TcpStream, state: &State) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut length = 0;
        let mut content_type = None;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.parse().unwrap_or(0),
                    "content-type" => content_type = Some(value.to_owned()),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        state
            .received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Received {
                method,
                path,
                content_type,
                body,
            });
        if writer
            .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

/// The real stats service, `build-index stats serve --rate-limit 0`, on a fresh database;
/// dropping it kills it.
pub struct StatsService {
    child: Child,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    url: String,
    _dir: tempfile::TempDir,
}

impl StatsService {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db: PathBuf = dir.path().join("stats.db");
        let mut child = Command::new(build_index_exe())
            .args(["stats", "serve", "--rate-limit", "0", "--db"])
            .arg(&db)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().trim_end_matches('/').to_owned();
        assert!(url.starts_with("http://"), "stats serve printed {line:?}");
        Self {
            child,
            url,
            _dir: dir,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// `GET /counts?since=1970-01-01`: every count stored.
    pub fn counts(&self) -> serde_json::Value {
        let mut stream = TcpStream::connect(self.url.trim_start_matches("http://")).unwrap();
        stream
            .write_all(
                b"GET /counts?since=1970-01-01 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            .unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        let body = out.split_once("\r\n\r\n").unwrap().1;
        serde_json::from_str(body).unwrap()
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

impl Drop for StatsService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
