//! `build-index serve`: a small HTTP/1.1 static file server for an index directory.
//!
//! Std only, one thread per connection, keep-alive, GET and HEAD, files streamed with
//! `io::copy`. Meant for tests and local use, not as an internet-facing server: it has no TLS,
//! no range requests and no caching headers. Request parsing is pure ([`parse_request_path`]).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest request line or header line accepted.
const MAX_LINE: u64 = 8 * 1024;
/// Most header lines accepted in one request.
const MAX_HEADERS: usize = 100;
/// An idle keep-alive connection is closed after this long, so threads do not pile up.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A bound, not yet serving, server.
pub struct Server {
    listener: TcpListener,
    root: Arc<PathBuf>,
    log: bool,
    latency: Duration,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("could not listen on `{addr}`: {source}")]
    Bind { addr: String, source: io::Error },
    #[error("`{}` is not a directory to serve", path.display())]
    NotADirectory { path: PathBuf },
}

impl Server {
    /// Binds `addr` to serve the directory `root`; with `log`, one line per request on stderr.
    pub fn bind(addr: &str, root: &Path, log: bool) -> Result<Self, ServeError> {
        let root = root
            .canonicalize()
            .ok()
            .filter(|p| p.is_dir())
            .ok_or_else(|| ServeError::NotADirectory {
                path: root.to_owned(),
            })?;
        let listener = TcpListener::bind(addr).map_err(|source| ServeError::Bind {
            addr: addr.to_owned(),
            source,
        })?;
        Ok(Self {
            listener,
            root: Arc::new(root),
            log,
            latency: Duration::ZERO,
        })
    }

    /// Waits `latency` before answering each request, to stand in for a distant host's round
    /// trip in benchmarks run on loopback.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// The address actually bound (the port when `:0` was asked for).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until the process ends.
    pub fn run(self) {
        for stream in self.listener.incoming() {
            let Ok(stream) = stream else { continue };
            let root = Arc::clone(&self.root);
            let log = self.log;
            let latency = self.latency;
            thread::spawn(move || {
                // A failed connection concerns only its client.
                let _ = handle(stream, &root, log, latency);
            });
        }
    }
}

/// A parsed request line and the headers that matter here.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    method: String,
    target: String,
    keep_alive: bool,
    has_body: bool,
}

/// Serves requests on one connection until the client closes it or asks to.
fn handle(stream: TcpStream, root: &Path, log: bool, latency: Duration) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    // Responses go out as a head then a body; with Nagle's algorithm on, a client's delayed
    // ACK would hold every reused connection ~40 ms between the two.
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let request = match read_request(&mut reader)? {
            None => return Ok(()),
            Some(Ok(request)) => request,
            Some(Err(())) => {
                respond_status(&mut writer, 400, "Bad Request", false)?;
                log_line(log, SystemTime::now(), "-", "-", 400, 0);
                return Ok(());
            }
        };
        // A body on GET/HEAD is not expected; refusing it keeps the framing simple and safe.
        if request.has_body {
            respond_status(&mut writer, 400, "Bad Request", false)?;
            log_line(
                log,
                SystemTime::now(),
                &request.method,
                &request.target,
                400,
                0,
            );
            return Ok(());
        }
        let keep = request.keep_alive;
        let arrived = SystemTime::now();
        if !latency.is_zero() {
            thread::sleep(latency);
        }
        let (status, bytes) = respond(&mut writer, &request, root)?;
        log_line(
            log,
            arrived,
            &request.method,
            &request.target,
            status,
            bytes,
        );
        writer.flush()?;
        if !keep {
            return Ok(());
        }
    }
}

/// One request's line: when it arrived (seconds since the Unix epoch, to the microsecond, so
/// the logs of two servers on one machine can be merged in order), then what was asked and
/// answered.
#[allow(clippy::print_stderr)] // request logging to stderr is what --log asks for
fn log_line(log: bool, arrived: SystemTime, method: &str, target: &str, status: u16, bytes: u64) {
    if log {
        let at = arrived.duration_since(UNIX_EPOCH).unwrap_or_default();
        eprintln!(
            "{}.{:06} {method} {target} {status} {bytes}",
            at.as_secs(),
            at.subsec_micros()
        );
    }
}

/// Reads one request head. `None` at a clean end of stream; `Some(Err(()))` when malformed.
fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Result<Request, ()>>> {
    let Some(line) = read_line(reader)? else {
        return Ok(None);
    };
    let Some(line) = line else {
        return Ok(Some(Err(())));
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(Some(Err(())));
    };
    let mut keep_alive = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Ok(Some(Err(()))),
    };
    let mut has_body = false;
    for _ in 0..=MAX_HEADERS {
        let Some(Some(header)) = read_line(reader)? else {
            return Ok(Some(Err(())));
        };
        if header.is_empty() {
            return Ok(Some(Ok(Request {
                method: method.to_owned(),
                target: target.to_owned(),
                keep_alive,
                has_body,
            })));
        }
        let Some((name, value)) = header.split_once(':') else {
            return Ok(Some(Err(())));
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "connection" if value.eq_ignore_ascii_case("close") => keep_alive = false,
            "connection" if value.eq_ignore_ascii_case("keep-alive") => keep_alive = true,
            "content-length" => has_body = value != "0",
            "transfer-encoding" => has_body = true,
            _ => {}
        }
    }
    Ok(Some(Err(())))
}

/// One CRLF- (or LF-) terminated line. `None` at end of stream before any byte;
/// `Some(None)` for an over-long, non-UTF-8 or unterminated line.
fn read_line<R: BufRead>(reader: &mut R) -> io::Result<Option<Option<String>>> {
    let mut buf = Vec::new();
    let n = io::Read::take(&mut *reader, MAX_LINE).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Ok(Some(None));
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8(buf).ok()))
}

/// Writes the response; returns the status and the body bytes sent.
fn respond(w: &mut TcpStream, request: &Request, root: &Path) -> io::Result<(u16, u64)> {
    let head_only = match request.method.as_str() {
        "GET" => false,
        "HEAD" => true,
        _ => {
            let head = format!(
                "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\n{}\r\n",
                connection_header(request.keep_alive)
            );
            w.write_all(head.as_bytes())?;
            return Ok((405, 0));
        }
    };
    let Some(relative) = parse_request_path(&request.target) else {
        respond_status(w, 400, "Bad Request", request.keep_alive)?;
        return Ok((400, 0));
    };
    let Some((mut file, len)) = open_inside(root, &relative) else {
        respond_status(w, 404, "Not Found", request.keep_alive)?;
        return Ok((404, 0));
    };
    // One write for the whole head (write! on a socket would send each piece on its own).
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {len}\r\n{}\r\n",
        content_type(&relative),
        connection_header(request.keep_alive)
    );
    w.write_all(head.as_bytes())?;
    if head_only {
        return Ok((200, 0));
    }
    let sent = io::copy(&mut file, w)?;
    Ok((200, sent))
}

/// Opens `relative` under `root` if it is a regular file, not a dot file, that (after
/// resolving symlinks) is still inside `root`.
fn open_inside(root: &Path, relative: &str) -> Option<(File, u64)> {
    // Dot files are the publisher's lock and temp files, never part of the index.
    if relative.split('/').any(|seg| seg.starts_with('.')) {
        return None;
    }
    let path = root.join(relative).canonicalize().ok()?;
    if !path.starts_with(root) {
        return None;
    }
    let file = File::open(&path).ok()?;
    let meta = file.metadata().ok()?;
    meta.is_file().then_some((file, meta.len()))
}

fn respond_status(w: &mut impl Write, code: u16, reason: &str, keep: bool) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\n{}\r\n",
        connection_header(keep)
    );
    w.write_all(head.as_bytes())?;
    w.flush()
}

fn connection_header(keep: bool) -> &'static str {
    if keep { "" } else { "Connection: close\r\n" }
}

fn content_type(path: &str) -> &'static str {
    if path.ends_with(".json") {
        "application/json"
    } else if path.ends_with(".gz") {
        "application/gzip"
    } else {
        "application/octet-stream"
    }
}

/// The request target as a relative path inside the served directory: query dropped,
/// percent-decoded, refused when not absolute-path form, not UTF-8, or when it contains NUL,
/// a backslash or a `..` segment (after decoding, so `%2e%2e` is caught).
fn parse_request_path(target: &str) -> Option<String> {
    let path = target.split(['?', '#']).next()?;
    let rest = path.strip_prefix('/')?;
    let decoded = String::from_utf8(percent_decode(rest)?).ok()?;
    if decoded.contains('\0') || decoded.contains('\\') {
        return None;
    }
    if decoded.split('/').any(|seg| seg == "..") {
        return None;
    }
    let clean: Vec<&str> = decoded
        .split('/')
        .filter(|seg| !seg.is_empty() && *seg != ".")
        .collect();
    Some(clean.join("/"))
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi * 16 + lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn request_paths_are_decoded_and_escapes_refused() {
        assert_eq!(
            parse_request_path("/crates/1/a.json").as_deref(),
            Some("crates/1/a.json")
        );
        assert_eq!(
            parse_request_path("/a%20b.json?x=1").as_deref(),
            Some("a b.json")
        );
        assert_eq!(parse_request_path("//a/./b").as_deref(), Some("a/b"));
        for bad in [
            "/../etc/passwd",
            "/a/%2e%2e/b",
            "/a%00b",
            "/%zz",
            "a",
            "/a%5c..%5cb",
        ] {
            assert_eq!(parse_request_path(bad), None, "{bad}");
        }
    }

    struct Running {
        addr: SocketAddr,
        _dir: tempfile::TempDir,
    }

    fn start() -> Running {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("index/crates/1")).unwrap();
        std::fs::write(dir.path().join("index/crates/1/a.json"), b"{\"v\":1}\n").unwrap();
        std::fs::write(dir.path().join("secret"), b"outside").unwrap();
        std::fs::write(dir.path().join("index/.lock"), b"").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), dir.path().join("index/link"))
            .unwrap();
        let server = Server::bind("127.0.0.1:0", &dir.path().join("index"), false).unwrap();
        let addr = server.local_addr().unwrap();
        thread::spawn(move || server.run());
        Running { addr, _dir: dir }
    }

    /// Sends raw requests on one connection and reads until the server closes it.
    fn exchange(addr: SocketAddr, raw: &str) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(raw.as_bytes()).unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_files_with_length_and_json_type_over_keep_alive() {
        let r = start();
        let out = exchange(
            r.addr,
            "GET /crates/1/a.json HTTP/1.1\r\nHost: x\r\n\r\n\
             HEAD /crates/1/a.json HTTP/1.1\r\nHost: x\r\n\r\n\
             GET /missing.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        let responses: Vec<&str> = out.split("HTTP/1.1 ").skip(1).collect();
        assert_eq!(responses.len(), 3, "{out}");
        assert!(responses[0].starts_with("200 OK"));
        assert!(responses[0].contains("Content-Type: application/json"));
        assert!(responses[0].contains("Content-Length: 8"));
        assert!(responses[0].ends_with("\r\n\r\n{\"v\":1}\n"));
        assert!(responses[1].starts_with("200 OK"));
        assert!(responses[1].ends_with("Content-Length: 8\r\n\r\n"));
        assert!(responses[2].starts_with("404 Not Found"));
    }

    #[test]
    fn refuses_traversal_bad_requests_and_symlinks_out_of_the_root() {
        let r = start();
        let out = exchange(
            r.addr,
            "GET /%2e%2e/secret HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
        let out = exchange(r.addr, "GET /link HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 404 "), "{out}");
        let out = exchange(r.addr, "GET /.lock HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 404 "), "{out}");
        let out = exchange(r.addr, "garbage\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
        let out = exchange(
            r.addr,
            "DELETE /crates/1/a.json HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        assert!(out.starts_with("HTTP/1.1 405 "), "{out}");
        let out = exchange(r.addr, "GET /crates/1/a.json HTTP/1.0\r\n\r\n");
        assert!(
            out.starts_with("HTTP/1.1 200 ") && out.contains("Connection: close"),
            "{out}"
        );
    }
}
