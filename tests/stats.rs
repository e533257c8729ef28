//! The anonymous install ping, end to end: the real `cargo-quickinstall` and `gquick` against a
//! fixture stats server (`support::stats_server`) that records what arrives. What is sent, that
//! nothing is sent when opted out, in a dry run or for private packages, that a dead stats
//! server barely delays the exit, and that the notice is shown once; and, against the real
//! `build-index stats serve` (`support::stats_server::StatsService`), that what each client
//! sends is stored.
//!
//! `TestEnv` sets `DO_NOT_TRACK=1` for every other test; these remove it. The fixture registry is
//! on loopback, so a non-default one: `QUICKINSTALL_PUBLIC_REGISTRY` declares it a mirror of
//! crates.io where a test wants pings.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::env::{Run, TestCommand};
use crate::support::goproxy::GoScenario;
use crate::support::index::Scenario;
use crate::support::stats_server::{StatsServer, StatsService};

const NOTICE: &str = "note: quickinstall sends an anonymous install count";

/// `cargo quickinstall` with pings on, pointed at `stats`, the fixture registry declared public.
fn quickinstall(s: &Scenario, stats: &StatsServer) -> TestCommand {
    quickinstall_to(s, stats.url())
}

/// `cargo quickinstall` with pings on towards the service at `url`.
fn quickinstall_to(s: &Scenario, url: &str) -> TestCommand {
    s.quickinstall()
        .env_remove("DO_NOT_TRACK")
        .env("QUICKINSTALL_STATS_URL", url)
        .env("QUICKINSTALL_PUBLIC_REGISTRY", s.registry.sparse_url())
}

/// The pings received, checking each request was the connection's opening `GET /healthz` or a
/// JSON POST to `/record-install` (one ping, or a list of them).
fn pings(stats: &StatsServer) -> Vec<Value> {
    let mut pings = Vec::new();
    for r in stats.received() {
        if r.method == "GET" {
            assert_eq!(r.path, "/healthz");
            assert!(r.body.is_empty());
            continue;
        }
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/record-install");
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        match r.json() {
            Value::Array(list) => pings.extend(list),
            one => pings.push(one),
        }
    }
    pings
}

/// The target of the one `--json` result line.
fn installed_target(run: &Run) -> String {
    let lines = run.json_lines();
    lines[0]["target"].as_str().unwrap().to_owned()
}

#[test]
fn a_prebuilt_crate_install_sends_exactly_the_contract_fields() {
    let s = Scenario::new();
    let stats = StatsServer::record();
    let run = quickinstall(&s, &stats).args(["qi-hello", "--json"]).run();
    run.assert_exit(0);
    assert_eq!(
        pings(&stats),
        [json!({
            "kind": "crate",
            "name": "qi-hello",
            "version": "0.2.0",
            "target": installed_target(&run),
            "outcome": "prebuilt",
            "client": "cargo-quickinstall",
            "client_version": env!("CARGO_PKG_VERSION"),
        })],
        "{run}"
    );
}

/// Issue 11, "contracts compiled once": the real client's ping is accepted and stored by the
/// real service (no fixture between them that could agree with a stale contract).
#[test]
fn a_real_client_ping_is_stored_by_the_real_service() {
    let s = Scenario::new();
    let service = StatsService::start();
    let run = quickinstall_to(&s, service.url()).arg("qi-hello").run();
    run.assert_exit(0);
    assert_eq!(
        service.counts_once_stored(Duration::from_secs(10)),
        json!({"qi-hello": {"total": 1, "prebuilt": 1}}),
        "{run}"
    );
    // Two crates: their pings go together, as a list, which the service takes whole.
    let run = quickinstall_to(&s, service.url())
        .args(["qi-hello", "qi-tool", "--force"])
        .run();
    run.assert_exit(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    let want = json!({
        "qi-hello": {"total": 2, "prebuilt": 2},
        "qi-tool": {"total": 1, "prebuilt": 1},
    });
    let mut counts = service.counts();
    while counts != want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        counts = service.counts();
    }
    assert_eq!(counts, want, "{run}");
}

#[test]
fn a_runs_pings_go_out_together_on_the_connection_opened_at_its_start() {
    let s = Scenario::new();
    let stats = StatsServer::record();
    let run = quickinstall(&s, &stats).args(["qi-hello", "qi-tool"]).run();
    run.assert_exit(0);
    let requests: Vec<(String, String)> = stats
        .received()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect();
    assert_eq!(
        requests,
        [
            ("GET".to_owned(), "/healthz".to_owned()),
            ("POST".to_owned(), "/record-install".to_owned()),
        ],
        "{run}"
    );
    assert_eq!(
        stats.received()[1].json().as_array().map(Vec::len),
        Some(2),
        "{run}"
    );
    // The POST went on the connection the GET opened.
    assert_eq!(stats.connections(), 1, "{run}");
}

#[test]
fn each_attempt_sends_its_own_outcome_and_already_installed_sends_none() {
    let s = Scenario::new();
    s.quickinstall().arg("qi-tool").run().assert_exit(0);
    let stats = StatsServer::record();
    // qi-fallback has no prebuilt; with --no-fallback that is `not-in-index`.
    let run = quickinstall(&s, &stats)
        .args(["qi-hello", "qi-fallback", "qi-tool", "--no-fallback"])
        .run();
    run.assert_exit(1);
    let mut got: Vec<(String, String)> = pings(&stats)
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("qi-fallback".to_owned(), "not-in-index".to_owned()),
            ("qi-hello".to_owned(), "prebuilt".to_owned()),
        ],
        "{run}"
    );
}

#[test]
fn a_verification_failure_sends_verify_failed() {
    let s = Scenario::new();
    s.replace_archive_bytes("qi-tool", "1.0.0", b"not the signed archive");
    let stats = StatsServer::record();
    let run = quickinstall(&s, &stats).arg("qi-tool").run();
    run.assert_exit(3);
    let got = pings(&stats);
    assert_eq!(got.len(), 1, "{run}");
    assert_eq!(got[0]["outcome"], "verify-failed");
    assert_eq!(got[0]["version"], "1.0.0");
}

/// A reason, extra arguments and extra variables that must keep pings back.
type OptOut = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

#[test]
fn nothing_is_sent_when_opted_out_in_a_dry_run_or_for_a_private_registry() {
    let cases: [OptOut; 5] = [
        ("--no-telemetry", &["--no-telemetry"], &[]),
        (
            "QUICKINSTALL_NO_TELEMETRY",
            &[],
            &[("QUICKINSTALL_NO_TELEMETRY", "1")],
        ),
        ("DO_NOT_TRACK", &[], &[("DO_NOT_TRACK", "1")]),
        ("--dry-run", &["--dry-run"], &[]),
        // A registry other than crates.io, not declared a public mirror.
        (
            "private registry",
            &[],
            &[("QUICKINSTALL_PUBLIC_REGISTRY", "http://127.0.0.1:9/other/")],
        ),
    ];
    for (why, args, vars) in cases {
        let s = Scenario::new();
        let stats = StatsServer::record();
        let mut cmd = quickinstall(&s, &stats).arg("qi-hello").args(args);
        for (k, v) in vars {
            cmd = cmd.env(k, v);
        }
        let run = cmd.run();
        run.assert_exit(0);
        assert_eq!(stats.connections(), 0, "{why}: a ping was sent:\n{run}");
        assert!(!run.stderr.contains(NOTICE), "{why}: notice shown:\n{run}");
    }
}

#[test]
fn the_notice_is_shown_once_across_runs() {
    let s = Scenario::new();
    let stats = StatsServer::record();
    let config = s.path().join("config");
    let first = quickinstall(&s, &stats)
        .env("XDG_CONFIG_HOME", &config)
        .arg("qi-hello")
        .run();
    first.assert_exit(0);
    let line = first.stderr_line_with(&[NOTICE]);
    assert!(
        line.contains(stats.url()) && line.contains("--no-telemetry"),
        "{line}"
    );
    assert!(config.join("quickinstall/telemetry-notice-shown").is_file());
    let second = quickinstall(&s, &stats)
        .env("XDG_CONFIG_HOME", &config)
        .args(["qi-hello", "--force"])
        .run();
    second.assert_exit(0);
    assert!(!second.stderr.contains(NOTICE), "{second}");
    assert_eq!(pings(&stats).len(), 2);
}

#[test]
fn a_stats_server_that_never_answers_barely_delays_the_exit() {
    let s = Scenario::new();
    let time = |cmd: TestCommand| {
        let start = Instant::now();
        let run = cmd.args(["qi-hello", "--force"]).run();
        (start.elapsed(), run)
    };
    // Warm up (first install, file caches), then measure with pings off and with a dead server.
    s.quickinstall().arg("qi-hello").run().assert_exit(0);
    let (off, run) = time(s.quickinstall());
    run.assert_exit(0);
    let dead = StatsServer::stall();
    let (on, run) = time(quickinstall(&s, &dead));
    run.assert_exit(0);
    assert!(dead.connections() >= 1, "no ping was attempted:\n{run}");
    assert!(!run.stderr.contains("warning"), "{run}");
    // The budget is 200 ms; the bound is loose so a loaded machine does not fail it.
    assert!(
        on.saturating_sub(off) < Duration::from_secs(1),
        "off: {off:?}, dead stats server: {on:?}"
    );
}

// --- gquick ---

/// gquick against the fixture Go index and proxy, pings on towards a stats service.
struct GoSetup(GoScenario);

impl GoSetup {
    fn new() -> Self {
        Self(GoScenario::new())
    }

    fn install(&self, stats: &StatsServer, package: &str) -> TestCommand {
        self.install_to(stats.url(), package)
    }

    /// `gquick install package` with pings on towards the service at `url`.
    fn install_to(&self, url: &str, package: &str) -> TestCommand {
        self.0
            .gquick()
            .args(["install", package])
            .env_remove("DO_NOT_TRACK")
            .env("QUICKINSTALL_STATS_URL", url)
    }
}

#[test]
fn a_gquick_install_sends_exactly_the_contract_fields() {
    let g = GoSetup::new();
    let stats = StatsServer::record();
    let run = g
        .install(&stats, "example.com/qitool/cmd/qi-alpha@latest")
        .arg("--json")
        .run();
    run.assert_exit(0);
    assert_eq!(
        pings(&stats),
        [json!({
            "kind": "go",
            "name": "example.com/qitool",
            "version": "v1.1.0",
            "target": installed_target(&run),
            "outcome": "prebuilt",
            "client": "gquick",
            "client_version": env!("CARGO_PKG_VERSION"),
        })],
        "{run}"
    );
}

#[test]
fn a_real_gquick_ping_is_stored_by_the_real_service() {
    let g = GoSetup::new();
    let service = StatsService::start();
    let run = g
        .install_to(service.url(), "example.com/qitool/cmd/qi-alpha@latest")
        .run();
    run.assert_exit(0);
    assert_eq!(
        service.counts_once_stored(Duration::from_secs(10)),
        json!({"example.com/qitool": {"total": 1, "prebuilt": 1}}),
        "{run}"
    );
}

#[test]
fn nothing_is_sent_for_a_goprivate_module() {
    let g = GoSetup::new();
    let stats = StatsServer::record();
    // An exact version, so that only privacy (not an unresolved query) keeps the ping back;
    // GONOPROXY points elsewhere so the fallback `go install` can still use the fixture proxy.
    let run = g
        .install(&stats, "example.com/qitool/cmd/qi-alpha@v1.1.0")
        .env("GOPRIVATE", "example.com/qitool")
        .env("GONOPROXY", "none.invalid")
        .run();
    run.assert_exit(0);
    run.stderr_has(&["go install"]);
    assert_eq!(stats.connections(), 0, "a ping was sent:\n{run}");
}
