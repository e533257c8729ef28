//! `resolve` against loopback module proxies (and a `file://` one) serving canned files.

#![allow(clippy::unwrap_used)] // tests fail loudly by unwrapping

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use testsupport::server::{Respond, TestServer};

use super::*;
use crate::download::NetConfig;
use crate::env::Env;

/// A loopback module proxy on the shared test server: answers each GET from `handler(path)`
/// (the request target without its leading `/`) and logs every path asked.
struct Server {
    url: String,
    server: TestServer,
}

impl Server {
    fn start(handler: impl Fn(&str) -> (u16, Vec<u8>) + Send + Sync + 'static) -> Self {
        let server = TestServer::scripted(move |r| {
            let (status, body) = handler(r.target.trim_start_matches('/'));
            Respond::Reply(status, body)
        });
        let url = format!("http://{}", server.addr());
        Self { url, server }
    }

    /// Serves `files` (path → body) and 404 for everything else.
    fn files(files: &[(&str, &str)]) -> Self {
        let files: BTreeMap<String, Vec<u8>> = files
            .iter()
            .map(|(p, b)| ((*p).to_owned(), b.as_bytes().to_vec()))
            .collect();
        Self::start(move |path| match files.get(path) {
            Some(body) => (200, body.clone()),
            None => (404, b"not found".to_vec()),
        })
    }

    fn requests(&self) -> Vec<String> {
        self.server
            .log()
            .into_iter()
            .map(|r| r.target.trim_start_matches('/').to_owned())
            .collect()
    }
}

fn fetcher() -> Fetcher {
    Fetcher::new(&NetConfig {
        timeout: Duration::from_secs(30),
        retries: 0,
        ..NetConfig::default()
    })
}

fn go_env(pairs: &[(&str, &str)]) -> GoEnv {
    GoEnv::from_env(&Env::from_pairs(Path::new("/"), pairs.iter().copied())).unwrap()
}

fn resolve_with(goproxy: &str, package: &str, query: &str) -> Result<Resolved, GoResolveError> {
    resolve(&fetcher(), &go_env(&[("GOPROXY", goproxy)]), package, query)
}

/// A proxy with `example.com/tool` at v1.0.0 and v1.1.0 (no retractions).
fn tool_proxy() -> Server {
    Server::files(&[
        ("example.com/tool/@v/list", "v1.0.0\nv1.1.0\n"),
        (
            "example.com/tool/@v/v1.1.0.mod",
            "module example.com/tool\n",
        ),
        ("example.com/tool/@v/v1.0.0.info", r#"{"Version":"v1.0.0"}"#),
    ])
}

#[test]
fn module_is_the_longest_known_prefix_and_every_prefix_is_probed() {
    let server = tool_proxy();
    let resolved = resolve_with(&server.url, "example.com/tool/cmd/hello", "latest").unwrap();
    assert_eq!(
        resolved,
        Resolved {
            module: "example.com/tool".into(),
            version: "v1.1.0".into(),
            package: "example.com/tool/cmd/hello".into(),
            proxy: server.url.clone(),
        }
    );
    let requests = server.requests();
    for probed in [
        "example.com/tool/cmd/hello/@v/list",
        "example.com/tool/cmd/@v/list",
        "example.com/tool/@v/list",
        "example.com/@v/list",
    ] {
        assert!(
            requests.iter().any(|r| r == probed),
            "{probed} not in {requests:?}"
        );
    }
}

#[test]
fn prefixes_are_probed_concurrently() {
    // Each list request waits until all three candidates' requests have arrived: probed one by
    // one, the first would wait out the 10 s guard and the module would not be found.
    let arrived = Arc::new((Mutex::new(0usize), Condvar::new()));
    let server = Server::start(move |path| {
        if path.ends_with("/@v/list") {
            let (count, cvar) = &*arrived;
            let mut count = count.lock().unwrap();
            *count += 1;
            cvar.notify_all();
            let (count, timeout) = cvar
                .wait_timeout_while(count, Duration::from_secs(10), |c| *c < 3)
                .unwrap();
            if timeout.timed_out() {
                return (500, b"probes were sequential".to_vec());
            }
            drop(count);
            if path == "a.example/m/@v/list" {
                return (200, b"v1.0.0\n".to_vec());
            }
        }
        (404, Vec::new())
    });
    let resolved = resolve_with(&server.url, "a.example/m/cmd", "latest").unwrap();
    assert_eq!(resolved.module, "a.example/m");
}

#[test]
fn latest_skips_versions_the_latest_go_mod_retracts() {
    let server = Server::files(&[
        ("example.com/r/@v/list", "v1.0.0\nv1.0.1\nv1.0.2\n"),
        (
            "example.com/r/@v/v1.0.2.mod",
            "module example.com/r\n\nretract (\n\tv1.0.2 // self\n\tv1.0.1 // broken\n)\n",
        ),
    ]);
    let resolved = resolve_with(&server.url, "example.com/r", "latest").unwrap();
    assert_eq!(resolved.version, "v1.0.0");
}

#[test]
fn every_version_retracted_is_its_own_error() {
    let server = Server::files(&[
        ("example.com/r/@v/list", "v1.0.0\n"),
        ("example.com/r/@v/v1.0.0.mod", "retract v1.0.0\n"),
    ]);
    let err = resolve_with(&server.url, "example.com/r", "latest").unwrap_err();
    assert_eq!(
        err.to_string(),
        "every version of module `example.com/r` matching `latest` is retracted"
    );
}

#[test]
fn exact_version_is_checked_with_its_info_file() {
    let server = tool_proxy();
    let resolved = resolve_with(&server.url, "example.com/tool", "v1.0.0").unwrap();
    assert_eq!(resolved.version, "v1.0.0");
    let err = resolve_with(&server.url, "example.com/tool", "v1.0.9").unwrap_err();
    assert_eq!(
        err.to_string(),
        "module `example.com/tool` has no version matching `v1.0.9`; the newest is v1.1.0"
    );
}

#[test]
fn prefix_and_comparison_queries_choose_from_the_list() {
    let server = Server::files(&[
        (
            "example.com/q/@v/list",
            "v1.1.0\nv1.2.0\nv1.2.3\nv2.0.0+incompatible\n",
        ),
        (
            "example.com/q/@v/v2.0.0+incompatible.mod",
            "module example.com/q\n",
        ),
    ]);
    let version = |query| {
        resolve_with(&server.url, "example.com/q", query)
            .unwrap()
            .version
    };
    assert_eq!(version("v1"), "v1.2.3");
    assert_eq!(version("v1.1"), "v1.1.0");
    assert_eq!(version(">=v1.2"), "v1.2.0");
    assert_eq!(version("<v1.2.3"), "v1.2.0");
    assert_eq!(version("latest"), "v2.0.0+incompatible");
}

#[test]
fn incompatible_tags_are_ignored_once_the_module_has_a_go_mod() {
    // cmd/go (golang.org/issue/34165): a module-aware v1 hides stray v2+ tags without go.mod.
    let server = Server::files(&[
        ("example.com/m/@v/list", "v1.4.0\nv2.0.0+incompatible\n"),
        (
            "example.com/m/@v/v1.4.0.mod",
            "module example.com/m\n\ngo 1.21\n",
        ),
        (
            "example.com/legacy/@v/list",
            "v1.4.0\nv2.0.0+incompatible\n",
        ),
        // What a proxy serves for a version without go.mod.
        (
            "example.com/legacy/@v/v1.4.0.mod",
            "module example.com/legacy\n",
        ),
    ]);
    let version = |module| resolve_with(&server.url, module, "latest").unwrap().version;
    assert_eq!(version("example.com/m"), "v1.4.0");
    assert_eq!(version("example.com/legacy"), "v2.0.0+incompatible");
}

#[test]
fn untagged_module_resolves_to_the_pseudo_version_of_latest() {
    let server = Server::files(&[
        ("example.com/untagged/@v/list", ""),
        (
            "example.com/untagged/@latest",
            r#"{"Version":"v0.0.0-20240101120000-abcdef123456","Time":"2024-01-01T12:00:00Z"}"#,
        ),
    ]);
    let resolved = resolve_with(&server.url, "example.com/untagged/cmd/x", "latest").unwrap();
    assert_eq!(resolved.module, "example.com/untagged");
    assert_eq!(resolved.version, "v0.0.0-20240101120000-abcdef123456");
}

#[test]
fn major_version_suffix_module_serves_its_major() {
    let server = Server::files(&[
        ("example.com/tool/@v/list", "v1.5.0\n"),
        ("example.com/tool/v2/@v/list", "v2.0.0\nv2.1.0\nv1.9.0\n"),
        (
            "example.com/tool/v2/@v/v2.1.0.mod",
            "module example.com/tool/v2\n",
        ),
    ]);
    let resolved = resolve_with(&server.url, "example.com/tool/v2/cmd/tool", "latest").unwrap();
    assert_eq!(
        (resolved.module.as_str(), resolved.version.as_str()),
        ("example.com/tool/v2", "v2.1.0")
    );
}

#[test]
fn upper_case_paths_and_versions_are_escaped() {
    let server = Server::files(&[
        ("github.com/!burnt!sushi/toml/@v/list", "v1.3.0\n"),
        (
            "github.com/!burnt!sushi/toml/@v/v1.3.0.mod",
            "module github.com/BurntSushi/toml\n",
        ),
        (
            "github.com/!burnt!sushi/toml/@v/!feature.info",
            r#"{"Version":"v1.3.1-0.20240101120000-abcdef123456"}"#,
        ),
    ]);
    let package = "github.com/BurntSushi/toml/cmd/tomlv";
    let resolved = resolve_with(&server.url, package, "latest").unwrap();
    assert_eq!(resolved.module, "github.com/BurntSushi/toml");
    let resolved = resolve_with(&server.url, package, "Feature").unwrap();
    assert_eq!(resolved.version, "v1.3.1-0.20240101120000-abcdef123456");
}

#[test]
fn unknown_module_names_the_package_and_the_proxy() {
    let server = Server::files(&[]);
    let err = resolve_with(&server.url, "example.com/nothing/here", "latest").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "no module provides package `example.com/nothing/here`: not found on `{}`",
            server.url
        )
    );
}

#[test]
fn comma_falls_through_on_not_found_only() {
    let empty = Server::files(&[]);
    let tool = tool_proxy();
    let resolved = resolve_with(
        &format!("{},{}", empty.url, tool.url),
        "example.com/tool",
        "latest",
    )
    .unwrap();
    assert_eq!(resolved.proxy, tool.url);

    let forbidden = Server::start(|_| (403, b"no".to_vec()));
    let tool = tool_proxy();
    let err = resolve_with(
        &format!("{},{}", forbidden.url, tool.url),
        "example.com/tool",
        "latest",
    )
    .unwrap_err();
    assert!(
        matches!(&err, GoResolveError::Download { source, .. } if !source.is_unreachable()),
        "{err}"
    );
    assert!(tool.requests().is_empty());
}

#[test]
fn pipe_falls_through_on_any_error() {
    let forbidden = Server::start(|_| (403, b"no".to_vec()));
    let tool = tool_proxy();
    let resolved = resolve_with(
        &format!("{}|{}", forbidden.url, tool.url),
        "example.com/tool",
        "latest",
    )
    .unwrap();
    assert_eq!(resolved.proxy, tool.url);
}

#[test]
fn direct_and_off_leave_it_to_go_install() {
    let empty = Server::files(&[]);
    let err = resolve_with(
        &format!("{},direct", empty.url),
        "example.com/tool",
        "latest",
    )
    .unwrap_err();
    assert!(
        matches!(
            &err,
            GoResolveError::NoProxy {
                reason: NoProxyReason::Direct,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        !empty.requests().is_empty(),
        "the proxy before `direct` is asked first"
    );
    let err = resolve_with("off", "example.com/tool", "latest").unwrap_err();
    assert_eq!(
        err.to_string(),
        "`example.com/tool` cannot be resolved through a module proxy: GOPROXY is `off`"
    );
}

#[test]
fn unreachable_proxy_leaves_it_to_go_install() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = resolve_with(
        &format!("http://127.0.0.1:{port}"),
        "example.com/tool",
        "latest",
    )
    .unwrap_err();
    assert!(
        matches!(
            &err,
            GoResolveError::NoProxy {
                reason: NoProxyReason::Unreachable(_),
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn private_paths_are_never_looked_up() {
    let server = tool_proxy();
    let env = go_env(&[("GOPROXY", &server.url), ("GOPRIVATE", "example.com/tool")]);
    let err = resolve(&fetcher(), &env, "example.com/tool/cmd/x", "latest").unwrap_err();
    assert_eq!(
        err.to_string(),
        "`example.com/tool/cmd/x` matches GOPRIVATE, GONOPROXY or GONOSUMDB, so it is never looked up in public services"
    );
    assert!(server.requests().is_empty());
}

#[test]
fn file_url_proxy_works() {
    let dir = tempfile::tempdir().unwrap();
    let v = dir.path().join("example.com/tool/@v");
    std::fs::create_dir_all(&v).unwrap();
    std::fs::write(v.join("list"), "v1.0.0\n").unwrap();
    std::fs::write(v.join("v1.0.0.mod"), "module example.com/tool\n").unwrap();
    let url = format!("file://{}", dir.path().display());
    let resolved = resolve_with(&url, "example.com/tool/cmd/x", "latest").unwrap();
    assert_eq!(
        (resolved.module.as_str(), resolved.version.as_str()),
        ("example.com/tool", "v1.0.0")
    );
}

#[test]
fn oversized_and_malformed_answers_are_refused() {
    let big = format!(
        r#"{{"Version":"v1.0.0","Pad":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let server = Server::start(move |path| match path {
        "example.com/big/@v/list" | "example.com/bad/@v/list" => (200, b"v1.0.0\n".to_vec()),
        "example.com/big/@v/v1.0.0.info" => (200, big.clone().into_bytes()),
        "example.com/bad/@v/v1.0.0.info" => (200, br#"{"Version":"v9.0.0"}"#.to_vec()),
        _ => (404, Vec::new()),
    });
    let err = resolve_with(&server.url, "example.com/big", "v1.0.0").unwrap_err();
    assert!(
        matches!(
            &err,
            GoResolveError::Download {
                source: DownloadError::TooLarge { .. },
                ..
            }
        ),
        "{err}"
    );
    let err = resolve_with(&server.url, "example.com/bad", "v1.0.0").unwrap_err();
    assert!(
        err.to_string()
            .contains("`v9.0.0` is not a version of module `example.com/bad`"),
        "{err}"
    );
}

#[test]
fn bad_paths_and_queries_are_refused_before_any_request() {
    let server = tool_proxy();
    let err = resolve_with(&server.url, "example.com/../etc", "latest").unwrap_err();
    assert_eq!(
        err.to_string(),
        "`example.com/../etc` is not a valid Go package path"
    );
    let err = resolve_with(&server.url, "example.com/tool", "v1/../x").unwrap_err();
    assert!(matches!(err, GoResolveError::InvalidQuery { .. }));
    let err = resolve_with(&server.url, "example.com/tool", "<=v1.2").unwrap_err();
    assert!(matches!(err, GoResolveError::AmbiguousQuery { .. }));
    assert!(server.requests().is_empty());
}

#[test]
fn candidates_are_valid_prefixes_longest_first() {
    assert_eq!(
        module_candidates("example.com/a/b"),
        ["example.com/a/b", "example.com/a", "example.com"]
    );
    assert_eq!(
        module_candidates("example.com/a/v1/cmd"),
        ["example.com/a/v1/cmd", "example.com/a", "example.com"]
    );
    assert!(module_candidates("nodot/a").is_empty());
}
