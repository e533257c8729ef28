//! `build-index select go --module-index` against a loopback module index: the pages it asks
//! for (`since` values, request count), the boundary record the index repeats, and that a
//! server making no progress or never running out still ends.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

/// Answers a request: its index (0-based) and target (`/index?since=…`) → the page body.
type Pages = dyn Fn(usize, &str) -> String + Send + Sync;

/// A loopback HTTP/1.1 module index that logs each request target.
struct Index {
    base: String,
    targets: Arc<Mutex<Vec<String>>>,
}

impl Index {
    fn start(pages: Box<Pages>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/index", listener.local_addr().unwrap());
        let targets = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&targets);
        let pages: Arc<Pages> = Arc::from(pages);
        // The accept loop ends with the test process; each connection thread ends when the
        // client closes its side.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (log, pages) = (Arc::clone(&log), Arc::clone(&pages));
                std::thread::spawn(move || serve(stream, &log, &*pages));
            }
        });
        Self { base, targets }
    }

    fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, log: &Mutex<Vec<String>>, pages: &Pages) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        // Skip the headers (GET has no body).
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => {}
            }
        }
        let target = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let n = {
            let mut log = log.lock().unwrap();
            log.push(target.clone());
            log.len() - 1
        };
        let body = pages(n, &target);
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
        if out.write_all(head.as_bytes()).is_err() || out.write_all(body.as_bytes()).is_err() {
            return;
        }
    }
}

/// The `n`th second after 2024-01-02T00:00:00Z.
fn ts(n: usize) -> String {
    format!(
        "2024-01-02T{:02}:{:02}:{:02}Z",
        n / 3600,
        n / 60 % 60,
        n % 60
    )
}

fn rec(path: &str, version: &str, n: usize) -> String {
    format!(
        "{{\"Path\":\"{path}\",\"Version\":\"{version}\",\"Timestamp\":\"{}\"}}\n",
        ts(n)
    )
}

fn select(index: &Index, args: &[&str], out: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_build-index"));
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.args(["select", "go", "--module-index", &index.base])
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn since_query(since: &str) -> String {
    format!("/index?since={since}&limit=2000")
}

#[test]
fn pages_by_since_and_skips_the_repeated_boundary_record() {
    // Page 1: a v1.0.0..v1.0.1998, then b v1.0.0 at the boundary. Page 2 starts with that
    // boundary record again, then a v1.1.x, then b v1.1.0. Page 3 repeats b v1.1.0 and is short.
    let mut page1: String = (0..1999)
        .map(|i| rec("example.com/a", &format!("v1.0.{i}"), i))
        .collect();
    page1.push_str(&rec("example.com/b", "v1.0.0", 1999));
    let mut page2 = rec("example.com/b", "v1.0.0", 1999);
    page2.extend((0..1998).map(|i| rec("example.com/a", &format!("v1.1.{i}"), 2000 + i)));
    page2.push_str(&rec("example.com/b", "v1.1.0", 3998));
    let page3 = [
        rec("example.com/b", "v1.1.0", 3998),
        rec("example.com/d", "v2.0.0-rc.1", 3999),
        rec("example.com/e", "v0.3.0", 4000),
    ]
    .concat();
    let pages = [page1, page2, page3];
    let index = Index::start(Box::new(move |n, _| {
        pages.get(n).cloned().unwrap_or_default()
    }));
    let tmp = tempfile::tempdir().unwrap();
    let queue = tmp.path().join("queue.jsonl");
    let output = select(&index, &["--since", "2024-01-01T00:00:00Z"], &queue);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        index.targets(),
        [
            since_query("2024-01-01T00:00:00Z"),
            since_query("2024-01-02T00:33:19Z"),
            since_query("2024-01-02T01:06:38Z"),
        ]
    );
    assert_eq!(
        std::fs::read_to_string(&queue).unwrap(),
        "{\"module\":\"example.com/a\",\"version\":\"v1.1.1997\",\"packages\":[],\"reason\":\"new\",\"score\":0.0}\n\
         {\"module\":\"example.com/b\",\"version\":\"v1.1.0\",\"packages\":[],\"reason\":\"new\",\"score\":0.0}\n\
         {\"module\":\"example.com/e\",\"version\":\"v0.3.0\",\"packages\":[],\"reason\":\"new\",\"score\":0.0}\n"
    );
    // 4003 records were served; the two repeated boundary records are counted once.
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!(
            "3 pages from `{}`\n4001 records, 3 modules with a release since \
             2024-01-01T00:00:00Z, 1 prerelease or pseudo-version records skipped, 3 queued\n",
            index.base
        )
    );
}

#[test]
fn a_module_index_repeating_the_same_page_ends() {
    let page: String = (0..2000)
        .map(|i| rec("example.com/a", &format!("v1.0.{i}"), i))
        .collect();
    let index = Index::start(Box::new(move |_, _| page.clone()));
    let tmp = tempfile::tempdir().unwrap();
    let queue = tmp.path().join("queue.jsonl");
    let output = select(&index, &["--since", "2024-01-01T00:00:00Z"], &queue);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        index.targets(),
        [
            since_query("2024-01-01T00:00:00Z"),
            since_query("2024-01-02T00:33:19Z"),
        ]
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("stopped: the module index made no progress past 2024-01-02T00:33:19Z"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(&queue).unwrap(),
        "{\"module\":\"example.com/a\",\"version\":\"v1.0.1999\",\"packages\":[],\"reason\":\"new\",\"score\":0.0}\n"
    );
}

#[test]
fn a_module_index_that_never_runs_out_stops_at_max_pages() {
    // Every page is full and later than the last: only the page cap ends the run.
    let index = Index::start(Box::new(|n, _| {
        (0..2000)
            .map(|i| rec("example.com/a", &format!("v1.{n}.{i}"), n * 2000 + i))
            .collect()
    }));
    let tmp = tempfile::tempdir().unwrap();
    let queue = tmp.path().join("queue.jsonl");
    let output = select(&index, &["--max-pages", "2"], &queue);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        index.targets(),
        [
            "/index?limit=2000".to_owned(),
            since_query("2024-01-02T00:33:19Z")
        ]
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("stopped after --max-pages 2; continue with --since 2024-01-02T01:06:39Z"),
        "{stdout}"
    );
}

#[test]
fn needs_a_records_file_or_a_module_index() {
    let tmp = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_build-index"))
        .args(["select", "go", "--out"])
        .arg(tmp.path().join("queue.jsonl"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("--index-records") && stderr.contains("--module-index"),
        "{stderr}"
    );
}
