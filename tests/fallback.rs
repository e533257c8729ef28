//! When there is no prebuilt binary (or the index cannot be reached), the client builds from
//! source with a real `cargo install` from the fixture registry, unless told not to.

use std::net::TcpListener;

use crate::support::index::{self, Scenario};

#[test]
fn builds_from_source_when_the_index_has_no_prebuilt() {
    let s = Scenario::new();
    let run = s.quickinstall().arg("qi-fallback").run();
    run.assert_exit(0);
    assert_eq!(s.run_installed("qi-fallback"), "qi-fallback 0.1.0");
    // The index was asked (and said 404), and the crate came from the fixture registry.
    assert!(s.index.requests_for(&index::bundle_path("qi-fallback")) >= 1);
    assert!(
        s.registry
            .server
            .requests_for("dl/qi-fallback/0.1.0/download")
            >= 1,
        "cargo did not download the crate from the fixture registry:\n{run}"
    );
}

#[test]
fn json_reports_a_fallback_install() {
    let s = Scenario::new();
    let run = s.quickinstall().args(["--json", "qi-fallback"]).run();
    run.assert_success();
    let objects = run.json_lines();
    assert_eq!(objects.len(), 1, "{run}");
    assert_eq!(objects[0]["source"], "fallback", "{run}");
    assert_eq!(objects[0]["version"], "0.1.0", "{run}");
    assert_eq!(objects[0]["ok"], true, "{run}");
}

#[test]
fn no_fallback_fails_when_no_prebuilt_exists() {
    let s = Scenario::new();
    let before = s.disk_state();
    let run = s
        .quickinstall()
        .args(["--no-fallback", "qi-fallback"])
        .run();
    run.assert_exit(1).stderr_has(&["no prebuilt"]);
    assert_eq!(s.disk_state(), before);
    assert!(!s.target_dir().exists(), "something was compiled:\n{run}");
}

#[test]
fn an_unreachable_index_warns_and_falls_back() {
    let s = Scenario::new();
    // A port that was just free and is now closed: connecting is refused.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let run = s
        .quickinstall()
        .arg("qi-hello")
        .env("QUICKINSTALL_INDEX", format!("http://{closed}/"))
        .run();
    run.assert_exit(0);
    run.stderr_line_with(&["could not be reached"]);
    // Built from source (the registry's 0.2.0), so the target dir exists now.
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.2.0");
    assert!(s.target_dir().exists(), "nothing was compiled:\n{run}");
}

#[test]
fn an_index_server_that_went_away_warns_and_falls_back() {
    let mut s = Scenario::new();
    let url = s.index.url();
    // Replace the running index server by nothing: its port is closed when it is dropped.
    let gone = std::mem::replace(
        &mut s.index,
        crate::support::server::TestServer::serve(&s.env.path().join("index")),
    );
    drop(gone);
    let run = s
        .quickinstall()
        .args(["--json", "qi-fallback"])
        .env("QUICKINSTALL_INDEX", &url)
        .run();
    run.assert_exit(0);
    run.stderr_line_with(&["could not be reached"]);
    assert_eq!(run.json_lines()[0]["source"], "fallback", "{run}");
}
