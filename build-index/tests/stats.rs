//! `build-index stats serve`, the real binary on 127.0.0.1: valid pings are counted, every
//! kind of invalid input is refused with a 4xx and not stored, `/counts` has the contract's
//! shape and `kind` filter, a killed server keeps its data, SIGTERM drains and exits 0; slow
//! and excess connections are cut or shed, `X-Forwarded-For` counts only from the trusted proxy.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use testsupport::child::ChildServer;
use testsupport::client::{self, exchange, get};

/// `build-index stats serve` on a database of the test's; killed when dropped.
struct Server {
    server: ChildServer,
    addr: String,
}

impl Server {
    fn child(&mut self) -> &mut Child {
        self.server.child_mut()
    }
}

fn start(db: &Path, extra: &[&str]) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_build-index"));
    command.args(["stats", "serve", "--db"]).arg(db).args(extra);
    let server = ChildServer::start(command);
    let addr = server.addr().to_owned();
    Server { server, addr }
}

fn post(addr: &str, body: &str) -> (u16, String) {
    client::post_json(addr, "/record-install", body)
}

fn counts(addr: &str, query: &str) -> serde_json::Value {
    let (status, body) = get(addr, &format!("/counts?{query}"));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn ping(kind: &str, name: &str, outcome: &str) -> String {
    let (version, client) = if kind == "go" {
        ("v1.2.3", "gquick")
    } else {
        ("1.2.3", "cargo-quickinstall")
    };
    format!(
        r#"{{"kind":"{kind}","name":"{name}","version":"{version}","target":"x86_64-unknown-linux-musl","outcome":"{outcome}","client":"{client}","client_version":"0.1.0"}}"#
    )
}

const SINCE: &str = "since=1970-01-01";

#[test]
fn valid_pings_are_counted_with_totals_and_kind_filter() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("stats.db"), &["--rate-limit", "0"]);
    for body in [
        ping("crate", "ripgrep", "prebuilt"),
        ping("crate", "ripgrep", "prebuilt"),
        ping("crate", "ripgrep", "fallback-built"),
        ping("go", "github.com/junegunn/fzf", "not-in-index"),
    ] {
        assert_eq!(post(&server.addr, &body).0, 204);
    }
    let all = counts(&server.addr, SINCE);
    assert_eq!(
        all,
        serde_json::json!({
            "ripgrep": {"total": 3, "prebuilt": 2, "fallback-built": 1},
            "github.com/junegunn/fzf": {"total": 1, "not-in-index": 1},
        })
    );
    let go = counts(&server.addr, &format!("{SINCE}&kind=go"));
    assert_eq!(
        go,
        serde_json::json!({"github.com/junegunn/fzf": {"total": 1, "not-in-index": 1}})
    );
    let future = counts(&server.addr, "since=9999-12-31");
    assert_eq!(future, serde_json::json!({}));
    assert_eq!(get(&server.addr, "/healthz").0, 200);
    assert_eq!(get(&server.addr, "/counts").0, 400);
    assert_eq!(get(&server.addr, "/counts?since=yesterday").0, 400);
}

#[test]
fn a_list_of_pings_is_stored_whole_or_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("stats.db"), &["--rate-limit", "0"]);
    let list = |pings: &[String]| format!("[{}]", pings.join(","));
    let good = list(&[
        ping("crate", "bat", "prebuilt"),
        ping("crate", "sd", "not-in-index"),
    ]);
    assert_eq!(post(&server.addr, &good).0, 204);
    // One bad ping refuses the list, and nothing of it is stored.
    let bad = list(&[
        ping("crate", "bat", "prebuilt"),
        ping("crate", "bad name", "prebuilt"),
    ]);
    let (status, reason) = post(&server.addr, &bad);
    assert_eq!(status, 400, "{reason}");
    assert!(reason.contains("ping 2"), "{reason}");
    assert_eq!(post(&server.addr, "[]").0, 400);
    assert_eq!(
        counts(&server.addr, SINCE),
        serde_json::json!({
            "bat": {"total": 1, "prebuilt": 1},
            "sd": {"total": 1, "not-in-index": 1},
        })
    );
}

#[test]
fn a_list_takes_one_rate_limit_token_per_ping() {
    let dir = tempfile::tempdir().unwrap();
    // A burst of 2 at 1/s: a list of three is more than a fresh client may send at once.
    let server = start(&dir.path().join("stats.db"), &["--rate-limit", "1"]);
    let three = format!("[{}]", vec![ping("crate", "just", "prebuilt"); 3].join(","));
    assert_eq!(post(&server.addr, &three).0, 429);
    drop(server);
    let server = start(&dir.path().join("stats.db"), &["--rate-limit", "0"]);
    assert_eq!(counts(&server.addr, SINCE), serde_json::json!({}));
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("stats.db"), &[]);
    let body = ping("crate", "bat", "prebuilt");
    let one = format!(
        "POST /record-install HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let raw = format!("{one}{one}GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    let statuses: Vec<&str> = out
        .split("HTTP/1.1 ")
        .skip(1)
        .map(|r| r.get(..3).unwrap())
        .collect();
    assert_eq!(statuses, ["204", "204", "200"], "{out}");
    assert_eq!(counts(&server.addr, SINCE)["bat"]["total"], 2);
}

#[test]
fn every_kind_of_invalid_input_is_refused_and_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("stats.db"), &["--rate-limit", "0"]);
    let good = ping("crate", "ripgrep", "prebuilt");
    let bad_bodies = [
        good.replace("ripgrep", "rip grep"),
        good.replace("ripgrep", "github.com/a/b"),
        ping("go", "not a module", "prebuilt"),
        good.replace("1.2.3", "latest"),
        good.replace("x86_64-unknown-linux-musl", "../../etc"),
        good.replace("prebuilt", "stolen"),
        good.replace("cargo-quickinstall", "curl"),
        good.replace(r#""client_version":"0.1.0""#, r#""client_version":"new""#),
        good.replace(r#""kind":"crate""#, r#""kind":"npm""#),
        good.replace(r#","client_version":"0.1.0""#, ""),
        good.replace('}', r#","ip":"10.0.0.1"}"#),
        good.replace(r#""ripgrep""#, "7"),
        "[]".to_owned(),
        "not json".to_owned(),
        String::new(),
    ];
    for body in &bad_bodies {
        let (status, reason) = post(&server.addr, body);
        assert_eq!(status, 400, "{body}");
        assert_eq!(reason.lines().count(), 1, "one-line reason: {reason:?}");
    }
    // Past the limit (64 KiB: room for a run's 64 pings), refused before it is read.
    let big = format!("{good}{}", " ".repeat(64 * 1024));
    assert_eq!(post(&server.addr, &big).0, 413);
    let wrong_type = format!(
        "POST /record-install HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{good}",
        good.len()
    );
    assert_eq!(exchange(&server.addr, wrong_type.as_bytes()).0, 415);
    let chunked = "POST /record-install HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(exchange(&server.addr, chunked.as_bytes()).0, 411);
    assert_eq!(exchange(&server.addr, b"garbage\r\n\r\n").0, 400);
    assert_eq!(get(&server.addr, "/record-install").0, 405);
    assert_eq!(get(&server.addr, "/nope").0, 404);
    assert_eq!(counts(&server.addr, SINCE), serde_json::json!({}));
    assert_eq!(get(&server.addr, "/healthz").0, 200);
}

#[test]
fn rate_limit_answers_429_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("stats.db"), &["--rate-limit", "1"]);
    let body = ping("crate", "fd-find", "prebuilt");
    let statuses: Vec<u16> = (0..6).map(|_| post(&server.addr, &body).0).collect();
    // A burst of 2 at 1/s: six requests in well under 4 s cannot all pass.
    assert_eq!(&statuses[..2], [204, 204]);
    assert!(statuses.contains(&429), "{statuses:?}");
    let acked = statuses.iter().filter(|s| **s == 204).count() as u64;
    // /counts is limited too, so read the count from a restarted server without a limit.
    drop(server);
    let server = start(&dir.path().join("stats.db"), &["--rate-limit", "0"]);
    let stored = counts(&server.addr, SINCE)["fd-find"]["total"].as_u64();
    assert_eq!(stored, Some(acked), "refused pings are not stored");
}

#[test]
fn a_killed_server_keeps_its_data_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stats.db");
    let mut server = start(&db, &[]);
    for _ in 0..5 {
        assert_eq!(
            post(&server.addr, &ping("crate", "just", "prebuilt")).0,
            204
        );
    }
    server.child().kill().unwrap(); // SIGKILL: no chance to flush anything
    server.child().wait().unwrap();
    let server = start(&db, &[]);
    assert_eq!(counts(&server.addr, SINCE)["just"]["total"], 5);
}

#[test]
fn sigterm_drains_acknowledged_pings_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stats.db");
    let mut server = start(&db, &["--rate-limit", "0"]);
    // An idle keep-alive connection must not hold the shutdown up.
    let _idle = TcpStream::connect(&server.addr).unwrap();
    let acks = Arc::new(AtomicU64::new(0));
    let started = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (addr, acks, started, stop) = (
                server.addr.clone(),
                Arc::clone(&acks),
                Arc::clone(&started),
                Arc::clone(&stop),
            );
            std::thread::spawn(move || {
                let body = ping("crate", "tokei", "prebuilt");
                let one = format!(
                    "POST /record-install HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let Ok(stream) = TcpStream::connect(&addr) else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                started.fetch_add(1, Ordering::SeqCst);
                while !stop.load(Ordering::SeqCst) {
                    if writer.write_all(one.as_bytes()).is_err() {
                        return;
                    }
                    let mut status = String::new();
                    if reader.read_line(&mut status).unwrap_or(0) == 0 {
                        return;
                    }
                    // Read the rest of the head (204 has no body).
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            break;
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    if status.starts_with("HTTP/1.1 204") {
                        acks.fetch_add(1, Ordering::SeqCst);
                    } else {
                        return;
                    }
                }
            })
        })
        .collect();
    // Signal only once every client has had at least a few pings acknowledged.
    while started.load(Ordering::SeqCst) < 4 || acks.load(Ordering::SeqCst) < 100 {
        std::thread::yield_now();
    }
    let status = Command::new("kill")
        .args(["-TERM", &server.child().id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server.child().wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(exit.code(), Some(0), "{exit:?}");
    let server = start(&db, &[]);
    let stored = counts(&server.addr, SINCE)["tokei"]["total"]
        .as_u64()
        .unwrap();
    assert_eq!(
        stored,
        acks.load(Ordering::SeqCst),
        "every acknowledged ping is stored"
    );
}

/// Sends `raw` (no `Connection: close` needed) and returns the status of the first answer, or
/// `None` when the connection closed without one.
fn first_status(stream: &mut TcpStream) -> Option<u16> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// True once the server has closed `stream` (FIN or reset); false while it is still open.
fn is_closed(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(5)))
        .unwrap();
    let mut buf = [0u8; 256];
    match stream.read(&mut buf) {
        Ok(0) => true,
        // Whatever it answered (nothing is expected), the read side is still open.
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// Issue 17, failure 9 (slowloris): hundreds of connections dripping a request head one byte
/// at a time neither keep a fresh `/healthz` from answering promptly nor stay open past the
/// header deadline. The old thread-per-connection server reset its per-read timeout on every
/// byte, so the drippers were never closed.
#[test]
fn slowloris_drippers_are_cut_at_the_header_deadline_while_healthz_answers() {
    const DRIPPERS: usize = 300;
    const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
    let dir = tempfile::tempdir().unwrap();
    // The per-address cap is raised so that the header deadline, not the cap, is what holds:
    // every dripper comes from 127.0.0.1, as a botnet's many addresses would each stay under it.
    let server = start(
        &dir.path().join("stats.db"),
        &[
            "--header-timeout",
            "2",
            "--max-connections-per-addr",
            "1000",
        ],
    );
    let mut drippers: Vec<TcpStream> = (0..DRIPPERS)
        .map(|_| {
            let mut s = TcpStream::connect(&server.addr).unwrap();
            s.write_all(b"POST /record-install HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
            s
        })
        .collect();
    let opened = Instant::now();
    let mut open: Vec<bool> = vec![true; DRIPPERS];
    let mut healthz = Vec::new();
    let mut closed_at = None;
    while opened.elapsed() < HEADER_TIMEOUT + Duration::from_secs(8) {
        // One more byte on every connection still open, then a fresh /healthz.
        for (s, is_open) in drippers.iter_mut().zip(open.iter_mut()) {
            if *is_open && (s.write_all(b"a").is_err() || is_closed(s)) {
                *is_open = false;
            }
        }
        let asked = Instant::now();
        let (status, _) = get(&server.addr, "/healthz");
        healthz.push((status, asked.elapsed()));
        if open.iter().all(|o| !o) {
            closed_at = Some(opened.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let still_open = open.iter().filter(|o| **o).count();
    assert_eq!(
        still_open,
        0,
        "{still_open} of {DRIPPERS} drippers still open {:?} after they began (header deadline {HEADER_TIMEOUT:?})",
        opened.elapsed()
    );
    let closed_at = closed_at.unwrap();
    assert!(
        closed_at >= HEADER_TIMEOUT - Duration::from_millis(500),
        "closed before the deadline: {closed_at:?}"
    );
    assert!(healthz.len() >= 2, "{healthz:?}");
    for (status, took) in &healthz {
        assert_eq!(*status, 200, "{healthz:?}");
        // A bound, not a benchmark: generous for a loaded 2-core machine.
        assert!(*took < Duration::from_secs(2), "{healthz:?}");
    }
}

#[test]
fn connections_past_the_caps_are_answered_and_closed_not_left_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stats.db");
    // Per address: the sixth connection from 127.0.0.1 is answered 429; closing one frees a slot.
    let server = start(&db, &["--max-connections-per-addr", "5"]);
    let mut held: Vec<TcpStream> = (0..5)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    // Each held connection is known to the server once it has answered on it.
    for s in &mut held {
        s.write_all(b"GET /healthz HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(first_status(s), Some(200));
    }
    let mut sixth = TcpStream::connect(&server.addr).unwrap();
    sixth.write_all(b"GET /healthz HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(first_status(&mut sixth), Some(429));
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    while get(&server.addr, "/healthz").0 != 200 {
        assert!(Instant::now() < deadline, "the freed slot never came back");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(server);
    // In total: past --max-connections the answer is 503, readable, not a reset.
    let server = start(
        &db,
        &[
            "--max-connections",
            "3",
            "--max-connections-per-addr",
            "100",
        ],
    );
    let mut held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    for s in &mut held {
        s.write_all(b"GET /healthz HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(first_status(s), Some(200));
    }
    let (status, body) = get(&server.addr, "/healthz");
    assert_eq!((status, body.as_str()), (503, "too many connections\n"));
}

/// POSTs a valid ping with `X-Forwarded-For: xff` and returns the status.
fn post_forwarded(addr: &str, xff: &str) -> u16 {
    let body = ping("crate", "bat", "prebuilt");
    let raw = format!(
        "POST /record-install HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {xff}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    exchange(addr, raw.as_bytes()).0
}

/// Ten pings with the given `X-Forwarded-For` values under `--rate-limit 1` (bursts of 2): how
/// many were refused 429.
fn refused_of_ten(extra: &[&str], xff: impl Fn(usize) -> String) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--rate-limit", "1"];
    args.extend_from_slice(extra);
    let server = start(&dir.path().join("stats.db"), &args);
    (0..10)
        .filter(|i| post_forwarded(&server.addr, &xff(*i)) == 429)
        .count()
}

#[test]
fn forwarded_for_is_the_rate_limit_key_only_from_the_trusted_proxy() {
    let distinct = |i: usize| format!("198.51.100.7, 203.0.113.{i}");
    // From the trusted proxy each rightmost entry is its own client: ten fresh buckets.
    assert_eq!(
        refused_of_ten(&["--trusted-proxy", "127.0.0.1"], distinct),
        0
    );
    // Only the rightmost entry counts: a forged left part does not buy a new bucket.
    let forged = |i: usize| format!("198.51.100.{i}, 203.0.113.1");
    assert!(refused_of_ten(&["--trusted-proxy", "127.0.0.1"], forged) > 0);
    // Not trusted (no proxy, or another one): the header is ignored, all share 127.0.0.1's.
    assert!(refused_of_ten(&[], distinct) > 0);
    assert!(refused_of_ten(&["--trusted-proxy", "127.0.0.2"], distinct) > 0);
}

#[test]
fn a_slow_body_is_answered_408_and_an_idle_connection_is_closed_at_the_deadlines() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        &dir.path().join("stats.db"),
        &["--header-timeout", "1", "--request-timeout", "1"],
    );
    // A keep-alive connection that goes quiet after its answer is closed at the header deadline.
    let mut idle = TcpStream::connect(&server.addr).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(first_status(&mut idle), Some(200));
    let since = Instant::now();
    let mut rest = Vec::new();
    idle.read_to_end(&mut rest).unwrap();
    assert!(
        since.elapsed() < Duration::from_secs(8),
        "{:?}",
        since.elapsed()
    );
    // A body that does not arrive within the request deadline is answered 408, not waited for.
    let mut slow = TcpStream::connect(&server.addr).unwrap();
    slow.write_all(
        b"POST /record-install HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    )
    .unwrap();
    assert_eq!(first_status(&mut slow), Some(408));
    assert_eq!(counts(&server.addr, SINCE), serde_json::json!({}));
}
