//! `TestServer`: the one loopback HTTP/1.1 server of the test suites, told how to answer and
//! how to misbehave.
//!
//! It answers from a directory (read from disk on every request, so a test may tamper with the
//! files while it runs) or from a script (a closure from the request to the answer), one thread
//! per connection, keep-alive, and logs every request with its body. Per-path overrides answer
//! with a status, a fixed body, a truncated body, a drip or nothing at all (a stall); a latency
//! delays every answer. It knows nothing about indexes, registries or proxies.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How the server answers a request for a path instead of serving the file.
#[derive(Clone, Debug)]
pub enum Respond {
    /// This status with a short text body.
    Status(u16),
    /// This status with these bytes as the body.
    Reply(u16, Vec<u8>),
    /// Read the request, send nothing, hold the connection open until the server is dropped.
    Stall,
    /// Announce the file's full `Content-Length`, send only the first `n` bytes, then close.
    Truncate(usize),
    /// 200 with these bytes instead of the file's.
    Body(Vec<u8>),
    /// Announce the file's full `Content-Length`, then send it one byte every `Duration`: alive
    /// (never silent long enough for a per-read timeout) but too slow to ever finish.
    Drip(Duration),
    /// This status with these extra headers and a short text body (a redirect's `Location`, a
    /// rate limit's `Retry-After`).
    Headed(u16, Vec<(String, String)>),
    /// 200 with these bytes and no `Content-Length`: the body ends when the connection closes
    /// (HTTP/1.1 close-delimited), so nothing announced tells the client how much is coming.
    Unsized(Vec<u8>),
}

/// One request as a script sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// 0 for the first request the server received, 1 for the next, and so on.
    pub index: usize,
    pub method: String,
    /// The request target exactly as sent (`/a/b?x=1`).
    pub target: String,
    /// The URL path, percent-decoded, without the leading `/` and without the query string.
    pub path: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// One request as the server saw it, with the status it answered (0 for a stall).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    /// The URL path, percent-decoded, without the leading `/` and without the query string.
    pub path: String,
    /// The request target exactly as sent (`/a/b?x=1`).
    pub target: String,
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// A script: the answer to each request that no per-path override answers.
type Script = dyn Fn(&Request) -> Respond + Send + Sync;

struct State {
    root: Option<PathBuf>,
    script: Option<Box<Script>>,
    overrides: Mutex<HashMap<String, Respond>>,
    latency: Mutex<Duration>,
    log: Mutex<Vec<LoggedRequest>>,
    seen: AtomicUsize,
    connections: AtomicUsize,
    shutdown: AtomicBool,
    /// Clones of every accepted stream, so dropping the server can unblock their threads.
    streams: Mutex<Vec<TcpStream>>,
}

/// A running server; dropping it stops it (and releases stalled connections).
pub struct TestServer {
    addr: SocketAddr,
    state: Arc<State>,
    acceptor: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Serves the files under `root` on a fresh loopback port.
    pub fn serve(root: &Path) -> Self {
        Self::start(Some(root.to_path_buf()), None)
    }

    /// Answers every request with `script(request)` on a fresh loopback port (per-path
    /// overrides still come first). A `Truncate` or `Drip` answer finds no file and sends 404.
    pub fn scripted(script: impl Fn(&Request) -> Respond + Send + Sync + 'static) -> Self {
        Self::start(None, Some(Box::new(script)))
    }

    fn start(root: Option<PathBuf>, script: Option<Box<Script>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener
            .local_addr()
            .expect("local address of the listener");
        let state = Arc::new(State {
            root,
            script,
            overrides: Mutex::new(HashMap::new()),
            latency: Mutex::new(Duration::ZERO),
            log: Mutex::new(Vec::new()),
            seen: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            streams: Mutex::new(Vec::new()),
        });
        let acceptor_state = Arc::clone(&state);
        let acceptor = std::thread::spawn(move || accept_loop(&listener, &acceptor_state));
        Self {
            addr,
            state,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:PORT/`
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers requests for `path` (relative to the root, with or without a leading `/`) with
    /// `respond` from now on.
    pub fn set(&self, path: &str, respond: Respond) {
        lock(&self.state.overrides).insert(normalize(path), respond);
    }

    /// Serves `path` from disk (or the script) again.
    pub fn clear(&self, path: &str) {
        lock(&self.state.overrides).remove(&normalize(path));
    }

    /// Waits `latency` before each answer from now on (a slow link or a distant server).
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.state.latency) = latency;
    }

    /// Total requests received.
    pub fn requests(&self) -> usize {
        lock(&self.state.log).len()
    }

    /// Requests received for `path` (relative to the root, with or without a leading `/`).
    pub fn requests_for(&self, path: &str) -> usize {
        let path = normalize(path);
        lock(&self.state.log)
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    /// TCP connections accepted.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Every request so far, in arrival order.
    pub fn log(&self) -> Vec<LoggedRequest> {
        lock(&self.state.log).clone()
    }

    /// The distinct paths requested so far, sorted.
    pub fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = lock(&self.state.log)
            .iter()
            .map(|r| r.path.clone())
            .collect();
        paths.sort();
        paths.dedup();
        paths
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.state.shutdown.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so the acceptor sees the flag.
        let _ = TcpStream::connect(self.addr);
        for stream in lock(&self.state.streams).drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking connection thread must not take the whole test down with a poison error.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn normalize(path: &str) -> String {
    path.trim_start_matches('/').to_owned()
}

fn accept_loop(listener: &TcpListener, state: &Arc<State>) {
    for stream in listener.incoming() {
        if state.shutdown.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        state.connections.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            lock(&state.streams).push(clone);
        }
        let conn_state = Arc::clone(state);
        // Connection threads are detached: on drop their sockets are shut down, which ends them.
        std::thread::spawn(move || {
            let _ = serve_connection(stream, &conn_state);
        });
    }
}

/// Reads one request (line, headers, a `Content-Length` body); `None` at the end of the stream.
fn read_request(
    reader: &mut impl BufRead,
    state: &State,
) -> std::io::Result<Option<(Request, bool)>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let version = parts.next().unwrap_or_default();
    let mut close = version == "HTTP/1.0";
    let mut length = 0;
    let mut content_type = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 {
            return Ok(None);
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "connection" => close = value.eq_ignore_ascii_case("close"),
                "content-length" => length = value.parse().unwrap_or(0),
                "content-type" => content_type = Some(value.to_owned()),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let path = target.split('?').next().unwrap_or_default();
    let request = Request {
        index: state.seen.fetch_add(1, Ordering::SeqCst),
        method,
        path: normalize(&percent_decode(path)),
        target,
        content_type,
        body,
    };
    Ok(Some((request, close)))
}

/// Lenient, as servers are: a malformed escape stays as it is.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn serve_connection(stream: TcpStream, state: &State) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    while let Some((request, close)) = read_request(&mut reader, state)? {
        if state.shutdown.load(Ordering::SeqCst) {
            return Ok(());
        }
        // The override lock is released before the script runs: scripts may block (waiting for
        // concurrent requests), and must not hold up other connections.
        let overridden = lock(&state.overrides).get(&request.path).cloned();
        let respond = overridden.or_else(|| state.script.as_ref().map(|script| script(&request)));
        let file = state
            .root
            .as_deref()
            .and_then(|root| resolve(root, &request.path));
        let status = match &respond {
            Some(Respond::Status(code) | Respond::Reply(code, _) | Respond::Headed(code, _)) => {
                *code
            }
            Some(Respond::Stall) => 0,
            Some(Respond::Body(_) | Respond::Unsized(_)) => 200,
            Some(Respond::Truncate(_) | Respond::Drip(_)) | None => match file {
                Some(_) => 200,
                None => 404,
            },
        };
        lock(&state.log).push(LoggedRequest {
            method: request.method.clone(),
            path: request.path.clone(),
            target: request.target.clone(),
            status,
            content_type: request.content_type.clone(),
            body: request.body.clone(),
        });
        let latency = *lock(&state.latency);
        if !latency.is_zero() {
            std::thread::sleep(latency);
        }
        let head_only = request.method == "HEAD";
        let not_found = |stream: &mut TcpStream| {
            let body = b"404 Not Found\n";
            write_response(stream, 404, body, body.len(), head_only, "text/plain")
        };
        match respond {
            Some(Respond::Stall) => {
                // Hold the socket: this read returns when the client gives up or when dropping
                // the server shuts the socket down.
                let mut sink = [0u8; 1024];
                while reader.read(&mut sink)? > 0 {}
                return Ok(());
            }
            Some(Respond::Status(code)) => {
                let body = format!("{code} {}\n", reason(code)).into_bytes();
                write_response(
                    &mut stream,
                    code,
                    &body,
                    body.len(),
                    head_only,
                    "text/plain",
                )?;
            }
            Some(Respond::Headed(code, headers)) => {
                let body = format!("{code} {}\n", reason(code));
                let mut head = format!(
                    "HTTP/1.1 {code} {}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n",
                    reason(code),
                    body.len()
                );
                for (name, value) in headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str("\r\n");
                if !head_only {
                    head.push_str(&body);
                }
                stream.write_all(head.as_bytes())?;
                stream.flush()?;
            }
            Some(Respond::Reply(code, body)) => {
                write_response(
                    &mut stream,
                    code,
                    &body,
                    body.len(),
                    head_only,
                    content_type(&request.path),
                )?;
            }
            Some(Respond::Body(body)) => {
                write_response(
                    &mut stream,
                    200,
                    &body,
                    body.len(),
                    head_only,
                    content_type(&request.path),
                )?;
            }
            Some(Respond::Unsized(body)) => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nConnection: close\r\n\r\n",
                    content_type(&request.path)
                );
                stream.write_all(head.as_bytes())?;
                if !head_only {
                    // A client that stops reading at its own cap closes first: that write
                    // error only ends this connection.
                    stream.write_all(&body)?;
                }
                stream.flush()?;
                stream.shutdown(Shutdown::Both)?;
                return Ok(());
            }
            Some(Respond::Truncate(n)) => {
                if let Some(bytes) = file {
                    let sent = bytes.get(..n.min(bytes.len())).unwrap_or_default();
                    write_response(
                        &mut stream,
                        200,
                        sent,
                        bytes.len(),
                        head_only,
                        content_type(&request.path),
                    )?;
                    stream.flush()?;
                    stream.shutdown(Shutdown::Both)?;
                    return Ok(());
                }
                not_found(&mut stream)?;
            }
            Some(Respond::Drip(gap)) => {
                let Some(bytes) = file else {
                    not_found(&mut stream)?;
                    continue;
                };
                write_response(
                    &mut stream,
                    200,
                    &[],
                    bytes.len(),
                    head_only,
                    content_type(&request.path),
                )?;
                // Ends when the client gives up (the write fails) or the server is dropped.
                for byte in bytes {
                    if state.shutdown.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                    std::thread::sleep(gap);
                    stream.write_all(&[byte])?;
                    stream.flush()?;
                }
            }
            None => match file {
                Some(bytes) => write_response(
                    &mut stream,
                    200,
                    &bytes,
                    bytes.len(),
                    head_only,
                    content_type(&request.path),
                )?,
                None => not_found(&mut stream)?,
            },
        }
        if close {
            // The accept loop keeps a clone of the socket (to release it on drop), so dropping
            // ours would not close it: shut it down for the client to see the end.
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
    Ok(())
}

/// The file's bytes, if `path` names a regular file inside `root` (no `..`, no absolute paths).
fn resolve(root: &Path, path: &str) -> Option<Vec<u8>> {
    if path
        .split('/')
        .any(|part| part == ".." || part.contains('\0'))
    {
        return None;
    }
    let full = root.join(path);
    if !full.is_file() {
        return None;
    }
    std::fs::read(full).ok()
}

fn write_response(
    stream: &mut TcpStream,
    status: u16,
    body: &[u8],
    content_length: usize,
    head_only: bool,
    content_type: &str,
) -> std::io::Result<()> {
    // 204 and 304 carry no body and no Content-Length (RFC 9110 §8.6).
    let length = if matches!(status, 204 | 304) {
        String::new()
    } else {
        format!("Content-Length: {content_length}\r\n")
    };
    let head = format!(
        "HTTP/1.1 {status} {}\r\n{length}Content-Type: {content_type}\r\nConnection: keep-alive\r\n\r\n",
        reason(status)
    );
    let mut out = head.into_bytes();
    if !head_only && !matches!(status, 204 | 304) {
        out.extend_from_slice(body);
    }
    stream.write_all(&out)?;
    stream.flush()
}

fn content_type(path: &str) -> &'static str {
    if path.ends_with(".json") {
        "application/json"
    } else {
        "application/octet-stream"
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by unwrapping
mod tests {
    use super::*;

    /// A minimal client: one GET on an existing connection, returns (status, body).
    fn get(stream: &mut TcpStream, path: &str) -> (u16, Vec<u8>) {
        write!(stream, "GET /{path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let status = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut len = 0;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            if h.trim().is_empty() {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        (status, body)
    }

    fn dir_with_file() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/file.json"), b"{\"x\":1}").unwrap();
        dir
    }

    #[test]
    fn serves_files_with_keep_alive_and_counts_requests() {
        let dir = dir_with_file();
        let server = TestServer::serve(dir.path());
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        assert_eq!(
            get(&mut stream, "a/b/file.json"),
            (200, b"{\"x\":1}".to_vec())
        );
        assert_eq!(get(&mut stream, "missing").0, 404);
        assert_eq!(get(&mut stream, "../etc/passwd").0, 404);
        assert_eq!(server.requests(), 3);
        assert_eq!(server.requests_for("/a/b/file.json"), 1);
        assert_eq!(server.connections(), 1);
        assert_eq!(server.log()[1].status, 404);
        assert!(server.url().starts_with("http://127.0.0.1:"));
    }

    #[test]
    fn overrides_answer_with_status_body_or_truncation() {
        let dir = dir_with_file();
        let server = TestServer::serve(dir.path());
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        server.set("a/b/file.json", Respond::Status(500));
        assert_eq!(get(&mut stream, "a/b/file.json").0, 500);
        server.set("/a/b/file.json", Respond::Body(b"other".to_vec()));
        assert_eq!(get(&mut stream, "a/b/file.json"), (200, b"other".to_vec()));
        server.clear("a/b/file.json");
        assert_eq!(get(&mut stream, "a/b/file.json").1, b"{\"x\":1}");

        server.set("a/b/file.json", Respond::Truncate(3));
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        write!(stream, "GET /a/b/file.json HTTP/1.1\r\n\r\n").unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8(raw).unwrap();
        assert!(text.contains("Content-Length: 7\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\n{\"x"), "{text}");
    }

    #[test]
    fn a_stalled_connection_sends_nothing_and_drop_releases_it() {
        let dir = dir_with_file();
        let server = TestServer::serve(dir.path());
        server.set("a/b/file.json", Respond::Stall);
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        write!(stream, "GET /a/b/file.json HTTP/1.1\r\n\r\n").unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut buf = [0u8; 16];
        let err = stream.read(&mut buf).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{err}"
        );
        // Dropping must return (not hang) and close the stalled socket.
        stream.set_read_timeout(None).unwrap();
        drop(server);
        assert_eq!(stream.read(&mut buf).unwrap_or(0), 0);
    }

    #[test]
    fn a_script_answers_from_the_request_and_the_log_keeps_bodies() {
        let server = TestServer::scripted(|r| {
            Respond::Reply(
                201,
                format!("{} {} {}", r.index, r.method, r.target).into_bytes(),
            )
        });
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        write!(
            stream,
            "POST /p%20q?x=1 HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nConnection: close\r\n\r\nping"
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        assert!(raw.starts_with("HTTP/1.1 201 "), "{raw}");
        assert!(raw.ends_with("\r\n\r\n0 POST /p%20q?x=1"), "{raw}");
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        assert_eq!(get(&mut stream, "second").1, b"1 GET /second");
        let log = server.log();
        assert_eq!(log[0].path, "p q");
        assert_eq!(log[0].target, "/p%20q?x=1");
        assert_eq!(log[0].content_type.as_deref(), Some("text/plain"));
        assert_eq!(log[0].body, b"ping");
        assert_eq!(log[0].status, 201);
    }

    #[test]
    fn latency_delays_every_answer() {
        let dir = dir_with_file();
        let server = TestServer::serve(dir.path());
        server.set_latency(Duration::from_millis(300));
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        let start = std::time::Instant::now();
        assert_eq!(get(&mut stream, "a/b/file.json").0, 200);
        assert!(start.elapsed() >= Duration::from_millis(300));
    }

    #[test]
    fn a_204_has_no_body() {
        let server = TestServer::scripted(|_| Respond::Status(204));
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        write!(stream, "GET /x HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        assert!(raw.starts_with("HTTP/1.1 204 No Content\r\n"), "{raw}");
        assert!(
            raw.ends_with("\r\n\r\n") && !raw.contains("Content-Length"),
            "{raw}"
        );
    }
}
