//! `build-index select go --module-index` against a loopback module index: the pages it asks
//! for (`since` values, request count), the boundary record the index repeats, and that a
//! server making no progress or never running out still ends.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use testsupport::server::{Respond, TestServer};

/// A loopback module index on the shared test server: `pages(n, target)` answers the `n`th
/// request (0-based) for `target` (`/index?since=…`); the log keeps every target asked.
struct Index {
    base: String,
    server: TestServer,
}

impl Index {
    fn start(pages: impl Fn(usize, &str) -> String + Send + Sync + 'static) -> Self {
        let server =
            TestServer::scripted(move |r| Respond::Body(pages(r.index, &r.target).into_bytes()));
        let base = format!("{}index", server.url());
        Self { base, server }
    }

    fn targets(&self) -> Vec<String> {
        self.server.log().into_iter().map(|r| r.target).collect()
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
    let index = Index::start(move |n, _| pages.get(n).cloned().unwrap_or_default());
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
    let index = Index::start(move |_, _| page.clone());
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
    let index = Index::start(|n, _| {
        (0..2000)
            .map(|i| rec("example.com/a", &format!("v1.{n}.{i}"), n * 2000 + i))
            .collect()
    });
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
