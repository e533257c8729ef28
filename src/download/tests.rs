//! Behaviour of the fetcher against canned loopback servers and local files.

#![allow(clippy::unwrap_used)] // tests fail loudly by unwrapping

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{DownloadError, Fetcher, Location, NetConfig, to_hex};

/// What the test server does with one request.
enum Reply {
    /// A complete response with `Content-Length`; the connection stays open.
    Full(u16, &'static [u8]),
    /// Announces `Content-Length: announced`, sends `body`, closes: a truncated body.
    Truncated(usize, &'static [u8]),
    /// No `Content-Length`: the body runs until the connection closes.
    UntilClose(&'static [u8]),
    /// Reads the request, answers nothing, and waits for the client to give up.
    Silent,
    /// Sends `body` with `Content-Length`, one byte-chunk of it every `gap`: slow but alive.
    Drip(&'static [u8], Duration),
    /// This status with these headers and an empty body (a redirect, a rate limit).
    Headed(u16, &'static [(&'static str, &'static str)]),
}

/// A loopback HTTP/1.1 server answering requests, in arrival order, from a script.
struct Server {
    base: String,
    connections: Arc<AtomicUsize>,
}

impl Server {
    fn start(replies: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let script = Arc::new(Mutex::new(VecDeque::from(replies)));
        let counter = Arc::clone(&connections);
        // The accept loop ends with the test process; each connection thread ends when the
        // client closes its side.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                let script = Arc::clone(&script);
                std::thread::spawn(move || serve_connection(stream, &script));
            }
        });
        Self { base, connections }
    }

    fn location(&self, path: &str) -> Location {
        Location::parse(&self.base).unwrap().join(path)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn serve_connection(stream: TcpStream, script: &Mutex<VecDeque<Reply>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        // Read one request head (GET requests have no body).
        let mut saw_request = false;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" && saw_request => break,
                Ok(_) => saw_request = true,
            }
        }
        let Some(reply) = script.lock().unwrap().pop_front() else {
            return;
        };
        match reply {
            Reply::Full(status, body) => {
                let head = format!(
                    "HTTP/1.1 {status} Canned\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                out.write_all(head.as_bytes()).unwrap();
                out.write_all(body).unwrap();
            }
            Reply::Truncated(announced, body) => {
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {announced}\r\n\r\n");
                out.write_all(head.as_bytes()).unwrap();
                out.write_all(body).unwrap();
                return;
            }
            Reply::UntilClose(body) => {
                out.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                    .unwrap();
                out.write_all(body).unwrap();
                return;
            }
            Reply::Drip(body, gap) => {
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                out.write_all(head.as_bytes()).unwrap();
                for chunk in body.chunks(body.len().div_ceil(6)) {
                    std::thread::sleep(gap);
                    out.write_all(chunk).unwrap();
                }
            }
            Reply::Headed(status, headers) => {
                let mut head = format!("HTTP/1.1 {status} Canned\r\nContent-Length: 0\r\n");
                for (name, value) in headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str("\r\n");
                out.write_all(head.as_bytes()).unwrap();
            }
            Reply::Silent => {
                // Blocks until the client closes the connection after its timeout.
                let _ = reader.read_to_end(&mut Vec::new());
                return;
            }
        }
    }
}

/// A fetcher that ignores proxy variables, so loopback requests stay on loopback.
fn fetcher(retries: u32, timeout: Duration) -> Fetcher {
    let config = NetConfig {
        timeout,
        retries,
        ..NetConfig::default()
    };
    Fetcher::with_proxy(&config, None)
}

fn quick_fetcher(retries: u32) -> Fetcher {
    fetcher(retries, Duration::from_secs(5))
}

fn sha256(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

const ARCHIVE: &[u8] = b"pretend this is a tar.gz archive";

fn download(
    fetcher: &Fetcher,
    loc: &Location,
    dir: &Path,
    size: u64,
    sha: &str,
) -> Result<std::path::PathBuf, DownloadError> {
    fetcher.download_verified(loc, dir, "a.tar.gz", size, sha, &|_| {})
}

#[test]
fn get_small_returns_body_of_200() {
    let server = Server::start(vec![Reply::Full(200, b"{\"v\":1}")]);
    let bytes = quick_fetcher(0)
        .get_small(&server.location("crates/ri/pg/ripgrep.json"), 1024)
        .unwrap();
    assert_eq!(bytes.as_deref(), Some(&b"{\"v\":1}"[..]));
}

#[test]
fn get_small_returns_none_for_404_and_410() {
    let server = Server::start(vec![Reply::Full(404, b"nope"), Reply::Full(410, b"")]);
    let fetcher = quick_fetcher(0);
    assert_eq!(
        fetcher.get_small(&server.location("a"), 1024).unwrap(),
        None
    );
    assert_eq!(
        fetcher.get_small(&server.location("b"), 1024).unwrap(),
        None
    );
}

#[test]
fn retries_after_500_and_counts_both_requests() {
    let server = Server::start(vec![Reply::Full(500, b"oops"), Reply::Full(200, b"ok")]);
    let fetcher = quick_fetcher(2);
    let bytes = fetcher.get_small(&server.location("a"), 1024).unwrap();
    assert_eq!(bytes.as_deref(), Some(&b"ok"[..]));
    assert_eq!(fetcher.requests_sent(), 2);
}

#[test]
fn gives_up_after_the_configured_retries() {
    let server = Server::start(vec![
        Reply::Full(503, b""),
        Reply::Full(503, b""),
        Reply::Full(200, b"too late"),
    ]);
    let fetcher = quick_fetcher(1);
    let err = fetcher.get_small(&server.location("a"), 1024).unwrap_err();
    assert!(
        matches!(err, DownloadError::Status { status: 503, .. }),
        "{err}"
    );
    assert!(err.is_unreachable());
    assert_eq!(fetcher.requests_sent(), 2);
}

#[test]
fn does_not_retry_other_client_errors() {
    let server = Server::start(vec![Reply::Full(403, b""), Reply::Full(200, b"ok")]);
    let fetcher = quick_fetcher(2);
    let err = fetcher.get_small(&server.location("a"), 1024).unwrap_err();
    assert!(
        matches!(err, DownloadError::Status { status: 403, .. }),
        "{err}"
    );
    assert_eq!(fetcher.requests_sent(), 1);
}

#[test]
fn get_small_refuses_a_body_over_the_limit() {
    // One with an honest Content-Length, one without: both are refused.
    let server = Server::start(vec![
        Reply::Full(200, b"0123456789"),
        Reply::UntilClose(b"0123456789"),
    ]);
    let fetcher = quick_fetcher(0);
    for path in ["a", "b"] {
        let err = fetcher.get_small(&server.location(path), 9).unwrap_err();
        assert!(
            matches!(err, DownloadError::TooLarge { limit: 9, .. }),
            "{err}"
        );
    }
}

#[test]
fn get_small_accepts_a_body_exactly_at_the_limit() {
    let server = Server::start(vec![Reply::Full(200, b"0123456789")]);
    let bytes = quick_fetcher(0)
        .get_small(&server.location("a"), 10)
        .unwrap();
    assert_eq!(bytes.map(|b| b.len()), Some(10));
}

#[test]
fn two_requests_reuse_one_connection() {
    let server = Server::start(vec![Reply::Full(200, b"index"), Reply::Full(200, ARCHIVE)]);
    let fetcher = quick_fetcher(0);
    fetcher.get_small(&server.location("i.json"), 1024).unwrap();
    let dir = tempfile::tempdir().unwrap();
    download(
        &fetcher,
        &server.location("a.tar.gz"),
        dir.path(),
        ARCHIVE.len() as u64,
        &sha256(ARCHIVE),
    )
    .unwrap();
    assert_eq!(fetcher.requests_sent(), 2);
    assert_eq!(server.connections(), 1);
}

#[test]
fn every_package_looked_up_at_once_finds_its_connection_kept_for_the_archive() {
    // `--jobs` packages look up on one host at once, then each asks for its archive there:
    // all their connections must still be open, not only ureq's default three.
    const JOBS: usize = 20;
    let slow = || Reply::Drip(b"ok", Duration::from_millis(40));
    let server = Server::start((0..2 * JOBS).map(|_| slow()).collect());
    let config = NetConfig {
        parallel: JOBS,
        ..NetConfig::default()
    };
    let fetcher = Fetcher::with_proxy(&config, None);
    let looked_up = std::sync::Barrier::new(JOBS);
    std::thread::scope(|scope| {
        for i in 0..JOBS {
            let (fetcher, server, looked_up) = (&fetcher, &server, &looked_up);
            scope.spawn(move || {
                let lookup = server.location(&format!("lookup/{i}"));
                assert!(fetcher.get_small(&lookup, 1024).unwrap().is_some());
                looked_up.wait();
                let archive = server.location(&format!("archive/{i}"));
                assert!(fetcher.get_small(&archive, 1024).unwrap().is_some());
            });
        }
    });
    assert_eq!(fetcher.requests_sent(), 2 * JOBS as u64);
    assert!(
        server.connections() <= JOBS,
        "{} connections for {JOBS} lookups and their archives",
        server.connections()
    );
}

#[test]
fn silent_server_ends_in_timeout() {
    let server = Server::start(vec![Reply::Silent]);
    let err = fetcher(0, Duration::from_secs(1))
        .get_small(&server.location("a"), 1024)
        .unwrap_err();
    assert!(matches!(err, DownloadError::Timeout { .. }), "{err}");
    assert!(err.is_unreachable());
}

#[test]
fn slow_but_alive_body_outlasts_the_timeout() {
    // Six chunks half a second apart: three seconds in all, against a two-second timeout that
    // must apply to silence between reads, not to the whole body.
    let server = Server::start(vec![Reply::Drip(ARCHIVE, Duration::from_millis(500))]);
    let dir = tempfile::tempdir().unwrap();
    let path = download(
        &fetcher(0, Duration::from_secs(2)),
        &server.location("a.tar.gz"),
        dir.path(),
        ARCHIVE.len() as u64,
        &sha256(ARCHIVE),
    )
    .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), ARCHIVE);
}

#[test]
fn refused_connection_is_a_network_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = quick_fetcher(0)
        .get_small(&Location::parse(&base).unwrap().join("a"), 1024)
        .unwrap_err();
    assert!(matches!(err, DownloadError::Network { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("could not reach `{base}/a`: "))
    );
}

#[test]
fn downloads_verified_archive_and_reports_progress() {
    let server = Server::start(vec![Reply::Full(200, ARCHIVE)]);
    let dir = tempfile::tempdir().unwrap();
    let seen = Mutex::new(Vec::new());
    let path = quick_fetcher(0)
        .download_verified(
            &server.location("a.tar.gz"),
            dir.path(),
            "a.tar.gz",
            ARCHIVE.len() as u64,
            &sha256(ARCHIVE).to_uppercase(),
            &|n| seen.lock().unwrap().push(n),
        )
        .unwrap();
    assert_eq!(path, dir.path().join("a.tar.gz"));
    assert_eq!(std::fs::read(&path).unwrap(), ARCHIVE);
    assert_eq!(entries(dir.path()), ["a.tar.gz"]);
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.last(), Some(&(ARCHIVE.len() as u64)));
    assert!(seen.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn a_small_archive_downloads_into_memory_only_when_it_verifies() {
    let server = Server::start(vec![
        Reply::Full(200, ARCHIVE),
        Reply::Full(200, b"pretend this is a tar.gz archivX"),
    ]);
    let fetcher = quick_fetcher(0);
    let sha = sha256(ARCHIVE);
    let size = ARCHIVE.len() as u64;
    let loc = server.location("a.tar.gz");
    let bytes = fetcher
        .download_verified_to_memory(&loc, size, &sha, &|_| {})
        .unwrap();
    assert_eq!(bytes, ARCHIVE);
    // Same length, one byte changed: refused, no bytes handed over.
    let err = fetcher
        .download_verified_to_memory(&loc, size, &sha, &|_| {})
        .unwrap_err();
    assert!(
        matches!(err, DownloadError::ChecksumMismatch { .. }),
        "{err}"
    );
    // Too large to hold: refused before any request.
    let sent = fetcher.requests_sent();
    let err = fetcher
        .download_verified_to_memory(&loc, super::IN_MEMORY_MAX + 1, &sha, &|_| {})
        .unwrap_err();
    assert!(matches!(err, DownloadError::TooLarge { .. }), "{err}");
    assert_eq!(fetcher.requests_sent(), sent);
}

#[test]
fn a_size_lie_into_memory_is_a_size_mismatch_and_is_not_retried() {
    let server = Server::start(vec![
        Reply::Full(200, ARCHIVE),
        Reply::UntilClose(ARCHIVE),
        Reply::UntilClose(&ARCHIVE[..10]),
    ]);
    let fetcher = quick_fetcher(2);
    let loc = server.location("a.tar.gz");
    let len = ARCHIVE.len() as u64;
    let to_memory = |size: u64, sha: &str| {
        fetcher
            .download_verified_to_memory(&loc, size, sha, &|_| {})
            .unwrap_err()
    };
    // Content-Length says more than the index: refused before the body is read.
    let err = to_memory(10, &sha256(&ARCHIVE[..10]));
    assert!(
        matches!(err, DownloadError::SizeMismatch { expected: 10, actual: Some(n), .. } if n == len),
        "{err}"
    );
    // No Content-Length, and the body runs on: stopped one byte past the expected size.
    let err = to_memory(10, &sha256(&ARCHIVE[..10]));
    assert!(
        matches!(
            err,
            DownloadError::SizeMismatch {
                expected: 10,
                actual: None,
                ..
            }
        ),
        "{err}"
    );
    // No Content-Length, and the body ends early.
    let err = to_memory(len, &sha256(ARCHIVE));
    assert!(
        matches!(err, DownloadError::SizeMismatch { expected, actual: Some(10), .. } if expected == len),
        "{err}"
    );
    assert!(err.is_verification_failure());
    assert_eq!(fetcher.requests_sent(), 3);
}

#[test]
fn a_local_archive_reads_into_memory_only_when_it_verifies() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("a.tar.gz"), ARCHIVE).unwrap();
    let base = Location::File(src.path().to_owned());
    let fetcher = quick_fetcher(0);
    let size = ARCHIVE.len() as u64;
    let to_memory = |name: &str, sha: &str| {
        fetcher.download_verified_to_memory(&base.join(name), size, sha, &|_| {})
    };
    assert_eq!(to_memory("a.tar.gz", &sha256(ARCHIVE)).unwrap(), ARCHIVE);
    let err = to_memory("a.tar.gz", &sha256(b"x")).unwrap_err();
    assert!(
        matches!(err, DownloadError::ChecksumMismatch { .. }),
        "{err}"
    );
    let err = to_memory("gone.tar.gz", &sha256(ARCHIVE)).unwrap_err();
    assert!(matches!(err, DownloadError::NotFound { .. }), "{err}");
    assert_eq!(entries(src.path()), ["a.tar.gz"]);
}

#[test]
fn replaces_a_stale_partial_file() {
    let server = Server::start(vec![Reply::Full(200, ARCHIVE)]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.tar.gz.partial"), b"left by a crash").unwrap();
    let path = download(
        &quick_fetcher(0),
        &server.location("a.tar.gz"),
        dir.path(),
        ARCHIVE.len() as u64,
        &sha256(ARCHIVE),
    )
    .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), ARCHIVE);
    assert_eq!(entries(dir.path()), ["a.tar.gz"]);
}

#[test]
fn missing_archive_is_not_found() {
    let server = Server::start(vec![Reply::Full(404, b"")]);
    let dir = tempfile::tempdir().unwrap();
    let err = download(
        &quick_fetcher(2),
        &server.location("a"),
        dir.path(),
        1,
        "00",
    )
    .unwrap_err();
    assert!(matches!(err, DownloadError::NotFound { .. }), "{err}");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn truncated_body_fails_and_leaves_nothing() {
    // Retried once (a broken connection may be transient), truncated again.
    let server = Server::start(vec![
        Reply::Truncated(ARCHIVE.len(), &ARCHIVE[..10]),
        Reply::Truncated(ARCHIVE.len(), &ARCHIVE[..10]),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let fetcher = quick_fetcher(1);
    let err = download(
        &fetcher,
        &server.location("a.tar.gz"),
        dir.path(),
        ARCHIVE.len() as u64,
        &sha256(ARCHIVE),
    )
    .unwrap_err();
    assert!(matches!(err, DownloadError::Network { .. }), "{err}");
    assert_eq!(fetcher.requests_sent(), 2);
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn wrong_checksum_fails_and_leaves_nothing() {
    let server = Server::start(vec![Reply::Full(200, ARCHIVE)]);
    let dir = tempfile::tempdir().unwrap();
    let fetcher = quick_fetcher(2);
    let err = download(
        &fetcher,
        &server.location("a.tar.gz"),
        dir.path(),
        ARCHIVE.len() as u64,
        &sha256(b"something else"),
    )
    .unwrap_err();
    assert!(
        matches!(err, DownloadError::ChecksumMismatch { .. }),
        "{err}"
    );
    assert!(err.is_verification_failure());
    // A verification failure is not retried: the same URL would send the same bytes.
    assert_eq!(fetcher.requests_sent(), 1);
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn too_long_body_is_a_size_mismatch() {
    // Content-Length announces the wrong size: refused before writing.
    let server = Server::start(vec![Reply::Full(200, ARCHIVE)]);
    let dir = tempfile::tempdir().unwrap();
    let err = download(
        &quick_fetcher(0),
        &server.location("a.tar.gz"),
        dir.path(),
        10,
        &sha256(&ARCHIVE[..10]),
    )
    .unwrap_err();
    assert!(
        matches!(err, DownloadError::SizeMismatch { expected: 10, actual: Some(n), .. } if n == ARCHIVE.len() as u64),
        "{err}"
    );
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn too_long_body_without_length_stops_one_byte_past_expected() {
    let server = Server::start(vec![Reply::UntilClose(ARCHIVE)]);
    let dir = tempfile::tempdir().unwrap();
    let err = download(
        &quick_fetcher(0),
        &server.location("a.tar.gz"),
        dir.path(),
        10,
        &sha256(&ARCHIVE[..10]),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            DownloadError::SizeMismatch {
                expected: 10,
                actual: None,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_verification_failure());
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn refuses_file_names_that_are_not_one_component() {
    let dir = tempfile::tempdir().unwrap();
    let loc = Location::File(dir.path().join("src"));
    for name in ["", "..", "a/b", "../x"] {
        let err = quick_fetcher(0)
            .download_verified(&loc, dir.path(), name, 0, "", &|_| {})
            .unwrap_err();
        assert!(
            matches!(err, DownloadError::BadFileName { .. }),
            "{name}: {err}"
        );
    }
}

#[test]
fn file_get_small_reads_or_reports_missing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.json"), b"{}").unwrap();
    let base = Location::parse(&format!("file://{}", dir.path().display())).unwrap();
    let fetcher = quick_fetcher(0);
    assert_eq!(
        fetcher
            .get_small(&base.join("x.json"), 2)
            .unwrap()
            .as_deref(),
        Some(&b"{}"[..])
    );
    assert_eq!(
        fetcher.get_small(&base.join("missing.json"), 2).unwrap(),
        None
    );
    let err = fetcher.get_small(&base.join("x.json"), 1).unwrap_err();
    assert!(
        matches!(err, DownloadError::TooLarge { limit: 1, .. }),
        "{err}"
    );
    assert_eq!(fetcher.requests_sent(), 0);
}

#[test]
fn file_download_is_verified_and_renamed() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("a.tar.gz"), ARCHIVE).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let loc = Location::File(src.path().to_owned()).join("a.tar.gz");
    let path = download(
        &quick_fetcher(0),
        &loc,
        dest.path(),
        ARCHIVE.len() as u64,
        &sha256(ARCHIVE),
    )
    .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), ARCHIVE);
    assert_eq!(entries(dest.path()), ["a.tar.gz"]);
}

#[test]
fn file_download_failures_leave_nothing() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("a.tar.gz"), ARCHIVE).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let base = Location::File(src.path().to_owned());
    let fetcher = quick_fetcher(0);
    let size = ARCHIVE.len() as u64;

    let err = download(
        &fetcher,
        &base.join("a.tar.gz"),
        dest.path(),
        size,
        &sha256(b"x"),
    )
    .unwrap_err();
    assert!(
        matches!(err, DownloadError::ChecksumMismatch { .. }),
        "{err}"
    );

    let err = download(
        &fetcher,
        &base.join("a.tar.gz"),
        dest.path(),
        size + 5,
        &sha256(ARCHIVE),
    )
    .unwrap_err();
    assert!(
        matches!(err, DownloadError::SizeMismatch { actual: Some(n), .. } if n == size),
        "{err}"
    );

    let err = download(
        &fetcher,
        &base.join("gone.tar.gz"),
        dest.path(),
        size,
        &sha256(ARCHIVE),
    )
    .unwrap_err();
    assert!(matches!(err, DownloadError::NotFound { .. }), "{err}");

    assert!(entries(dest.path()).is_empty());
}

fn redirect(to: &'static str) -> Reply {
    // Leaked once per test: the canned replies hold `'static` data.
    Reply::Headed(302, Box::leak(Box::new([("Location", to)])))
}

#[test]
fn follows_a_relative_redirect_on_the_same_connection_and_counts_the_hop() {
    let server = Server::start(vec![redirect("/b"), Reply::Full(200, b"ok")]);
    let fetcher = quick_fetcher(0);
    let bytes = fetcher.get_small(&server.location("a"), 1024).unwrap();
    assert_eq!(bytes.as_deref(), Some(&b"ok"[..]));
    assert_eq!(fetcher.requests_sent(), 2);
    assert_eq!(server.connections(), 1);
}

#[test]
fn refuses_a_redirect_to_another_scheme_or_to_plain_http_off_loopback() {
    for to in [
        "ftp://127.0.0.1/x",
        "http://example.org/x",
        "file:///etc/passwd",
    ] {
        let server = Server::start(vec![redirect(to), Reply::Full(200, b"never")]);
        let fetcher = quick_fetcher(2);
        let err = fetcher.get_small(&server.location("a"), 1024).unwrap_err();
        let DownloadError::Redirect { url, to: hop, .. } = &err else {
            panic!("{err}");
        };
        assert!(url.ends_with("/a") && hop == to, "{err}");
        assert!(err.to_string().contains("which is refused"), "{err}");
        // Refused, not retried, and the hop itself never requested.
        assert_eq!(fetcher.requests_sent(), 1, "{to}");
    }
}

#[test]
fn stops_a_redirect_loop_and_a_chain_past_the_bound() {
    let server = Server::start(vec![redirect("/b"), redirect("/a")]);
    let err = quick_fetcher(0)
        .get_small(&server.location("a"), 1024)
        .unwrap_err();
    assert!(
        matches!(err, DownloadError::TooManyRedirects { hops: 0, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("in a loop"), "{err}");

    let chain: Vec<Reply> = ["/1", "/2", "/3", "/4", "/5", "/6", "/7"]
        .into_iter()
        .map(redirect)
        .collect();
    let server = Server::start(chain);
    let fetcher = quick_fetcher(0);
    let err = fetcher.get_small(&server.location("0"), 1024).unwrap_err();
    assert!(
        matches!(err, DownloadError::TooManyRedirects { hops: 5, .. }),
        "{err}"
    );
    // The first request and five hops; the sixth is not followed.
    assert_eq!(fetcher.requests_sent(), 6);
}

#[test]
fn archive_download_follows_a_redirect_too() {
    let server = Server::start(vec![
        redirect("objects/a.tar.gz"),
        Reply::Full(200, ARCHIVE),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let fetcher = quick_fetcher(0);
    download(
        &fetcher,
        &server.location("releases/a.tar.gz"),
        dir.path(),
        ARCHIVE.len() as u64,
        &sha256(ARCHIVE),
    )
    .unwrap();
    assert_eq!(entries(dir.path()), ["a.tar.gz"]);
    assert_eq!(fetcher.requests_sent(), 2);
}

#[test]
fn a_rate_limit_is_named_at_once_not_retried() {
    let server = Server::start(vec![
        Reply::Headed(429, &[("Retry-After", "60")]),
        Reply::Full(200, b"after a wait"),
    ]);
    let fetcher = quick_fetcher(2);
    let started = std::time::Instant::now();
    let err = fetcher.get_small(&server.location("a"), 1024).unwrap_err();
    assert!(
        matches!(err, DownloadError::RateLimited { status: 429, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("retry after 60 s"), "{err}");
    assert_eq!(fetcher.requests_sent(), 1);
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// A caller's check: the bytes must equal `want`; counts restarts.
struct Equals {
    want: &'static [u8],
    seen: Vec<u8>,
    restarts: usize,
}

impl super::StreamCheck for Equals {
    fn restart(&mut self) {
        self.seen.clear();
        self.restarts += 1;
    }
    fn update(&mut self, chunk: &[u8]) {
        self.seen.extend_from_slice(chunk);
    }
    fn finish(&mut self, written: &Path) -> Result<(), String> {
        assert_eq!(std::fs::read(written).unwrap(), self.seen);
        if self.seen == self.want {
            Ok(())
        } else {
            Err("not the expected bytes".into())
        }
    }
}

fn checked(
    server: &Server,
    dir: &Path,
    cap: u64,
    want: &'static [u8],
    retries: u32,
) -> (Result<std::path::PathBuf, DownloadError>, usize) {
    let mut check = Equals {
        want,
        seen: Vec::new(),
        restarts: 0,
    };
    let result = quick_fetcher(retries).download_checked(
        &server.location("a.tar.gz"),
        dir,
        "archive",
        cap,
        &mut check,
        &|_| {},
    );
    (result, check.restarts)
}

#[test]
fn checked_download_renames_only_what_the_check_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![Reply::Full(200, ARCHIVE)]);
    let (path, _) = checked(&server, dir.path(), 1024, ARCHIVE, 0);
    assert_eq!(std::fs::read(path.unwrap()).unwrap(), ARCHIVE);

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(vec![Reply::Full(200, b"something else")]);
    let (err, _) = checked(&server, dir.path(), 1024, ARCHIVE, 0);
    let err = err.unwrap_err();
    assert!(matches!(err, DownloadError::Refused { .. }), "{err}");
    assert!(err.is_verification_failure());
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[test]
fn checked_download_over_its_cap_or_truncated_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Announced over the cap: refused before a byte is written.
    let server = Server::start(vec![Reply::Full(200, ARCHIVE)]);
    let (err, _) = checked(&server, dir.path(), 8, ARCHIVE, 0);
    assert!(matches!(err, Err(DownloadError::TooLarge { limit: 8, .. })));
    // Not announced: stopped one byte past the cap.
    let server = Server::start(vec![Reply::UntilClose(ARCHIVE)]);
    let (err, _) = checked(&server, dir.path(), 8, ARCHIVE, 0);
    assert!(matches!(err, Err(DownloadError::TooLarge { limit: 8, .. })));
    // Cut short, retried from scratch (the check restarted), cut short again.
    let server = Server::start(vec![
        Reply::Truncated(ARCHIVE.len(), &ARCHIVE[..5]),
        Reply::Truncated(ARCHIVE.len(), &ARCHIVE[..5]),
    ]);
    let (err, restarts) = checked(&server, dir.path(), 1024, ARCHIVE, 1);
    assert!(matches!(err, Err(DownloadError::Network { .. })), "{err:?}");
    assert_eq!(restarts, 2);
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}
