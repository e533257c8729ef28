//! Cargo's own configuration decides where a crate comes from (issue 12, dependency confusion).
//!
//! A company registry `corp` serves `corp-tool`. With `registry.default = "corp"` (in the working
//! directory's `.cargo/config.toml`, or in `$CARGO_HOME/config.toml`) or with crates.io replaced
//! by an undeclared mirror, `cargo quickinstall corp-tool` must do what `cargo install corp-tool`
//! does: ask the corp registry, and never the crates.io stand-in (the fixture registry, declared
//! public as crates.io's mirror), the default public release index or the stats service. The
//! default index is `https://…`: an `HTTPS_PROXY` tripwire on loopback counts any attempt to
//! reach it (or crates.io), while `NO_PROXY` keeps the loopback servers direct.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::env::{Run, TestCommand};
use crate::support::index::{Scenario, build_once};
use crate::support::registry::{Package, Registry, ServedRegistry};
use crate::support::stats_server::StatsServer;

/// The corp registry directory with `corp-tool 0.1.0`, built once.
fn corp_registry() -> &'static PathBuf {
    static CORP: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    build_once(&CORP, "the corp registry", || {
        let dir = tempfile::Builder::new()
            .prefix("corp-registry-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .keep();
        let registry = Registry::new(&dir);
        Package::new("corp-tool", "0.1.0").publish(&registry);
        dir
    })
}

/// A loopback port that counts every connection made to it and closes it at once.
struct Tripwire {
    url: String,
    hits: Arc<AtomicUsize>,
}

impl Tripwire {
    fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Self { url, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// The scenario, the corp registry served, the tripwire and a recording stats server.
struct World {
    s: Scenario,
    corp: ServedRegistry,
    tripwire: Tripwire,
    stats: StatsServer,
}

impl World {
    fn new() -> Self {
        Self {
            s: Scenario::new(),
            corp: Registry::new(corp_registry()).serve(),
            tripwire: Tripwire::new(),
            stats: StatsServer::record(),
        }
    }

    /// `cargo quickinstall` with the default (public) release index, pings on, the fixture
    /// registry standing in for crates.io and declared its mirror, and every `https://` request
    /// sent to the tripwire.
    fn quickinstall(&self) -> TestCommand {
        self.s
            .quickinstall()
            .env_remove("QUICKINSTALL_INDEX")
            .env_remove("DO_NOT_TRACK")
            .env("QUICKINSTALL_STATS_URL", self.stats.url())
            .env("QUICKINSTALL_PUBLIC_REGISTRY", self.s.registry.sparse_url())
            .env("HTTPS_PROXY", &self.tripwire.url)
            .env("NO_PROXY", "127.0.0.1,localhost")
    }

    /// Nothing public was asked, nothing reported, and the corp registry served the build.
    fn assert_went_to_corp_only(&self, run: &Run) {
        run.assert_exit(0);
        assert_eq!(
            self.s.registry.server.requests(),
            0,
            "the crates.io stand-in was asked about a corp crate:\n{run}"
        );
        assert_eq!(
            self.tripwire.hits(),
            0,
            "something tried to reach an https:// server (the default index or crates.io):\n{run}"
        );
        assert_eq!(self.s.index.requests(), 0, "{run}");
        assert_eq!(
            self.stats.connections(),
            0,
            "a corp crate was reported:\n{run}"
        );
        assert!(
            self.corp.server.requests_for("dl/corp-tool/0.1.0/download") >= 1,
            "cargo did not download the crate from the corp registry:\n{run}"
        );
        assert_eq!(self.s.run_installed("corp-tool"), "corp-tool 0.1.0");
        run.stderr_line_with(&["`corp-tool 0.1.0` from source"]);
        run.stderr_line_with(&["crate: from", "not crates.io"]);
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn corp_default(corp: &ServedRegistry) -> String {
    format!(
        "[registry]\ndefault = \"corp\"\n[registries.corp]\nindex = \"{}\"\n",
        corp.sparse_url()
    )
}

#[test]
fn registry_default_in_the_working_directory_sends_the_crate_to_the_corp_registry() {
    let w = World::new();
    // Commands run in the test's directory: this is "the project the user is in".
    write(
        &w.s.path().join(".cargo/config.toml"),
        &corp_default(&w.corp),
    );
    let run = w.quickinstall().arg("corp-tool").run();
    w.assert_went_to_corp_only(&run);
}

#[test]
fn registry_default_in_cargo_home_sends_the_crate_to_the_corp_registry() {
    let w = World::new();
    write(
        &w.s.cargo_home().join("config.toml"),
        &corp_default(&w.corp),
    );
    let run = w.quickinstall().arg("corp-tool").run();
    w.assert_went_to_corp_only(&run);
}

#[test]
fn an_undeclared_crates_io_replacement_is_not_crates_io() {
    let w = World::new();
    write(
        &w.s.path().join(".cargo/config.toml"),
        &format!(
            "[source.crates-io]\nreplace-with = \"mirror\"\n[source.mirror]\nregistry = \"{}\"\n",
            w.corp.sparse_url()
        ),
    );
    let run = w.quickinstall().arg("corp-tool").run();
    w.assert_went_to_corp_only(&run);
}

#[test]
fn a_replacement_cycle_is_a_clear_error_before_any_request() {
    let w = World::new();
    write(
        &w.s.path().join(".cargo/config.toml"),
        "[source.crates-io]\nreplace-with = \"a\"\n[source.a]\nreplace-with = \"crates-io\"\n",
    );
    let run = w.quickinstall().arg("qi-hello").run();
    run.assert_exit(2)
        .stderr_has(&["circle", "crates-io → a → crates-io", "help:"]);
    assert_eq!(w.s.registry.server.requests(), 0);
    assert_eq!(w.tripwire.hits(), 0);
}

#[test]
fn offline_fetches_nothing_and_says_so() {
    let s = Scenario::new();
    let run = s
        .quickinstall()
        .args(["--dry-run", "qi-hello"])
        .env("CARGO_NET_OFFLINE", "true")
        .run();
    run.assert_exit(0)
        .stdout_has(&["would build `qi-hello` from source", "offline"]);
    assert_eq!(s.registry.server.requests(), 0, "{run}");
    assert_eq!(s.index.requests(), 0, "{run}");
}

#[test]
fn install_root_from_cargo_config_is_where_binaries_go() {
    let s = Scenario::new();
    let root = s.path().join("from-config");
    write(
        &s.path().join(".cargo/config.toml"),
        "[install]\nroot = \"from-config\"\n",
    );
    let run = s.quickinstall().arg("qi-tool").run();
    run.assert_exit(0);
    assert!(root.join("bin/qi-tool").is_file(), "{run}");
    assert!(root.join(".crates.toml").is_file(), "{run}");
    assert!(!s.bin_dir().join("qi-tool").exists(), "{run}");
    // CARGO_INSTALL_ROOT wins over the file, as in cargo.
    let env_root = s.path().join("from-env");
    let run = s
        .quickinstall()
        .arg("qi-tool")
        .env("CARGO_INSTALL_ROOT", &env_root)
        .run();
    run.assert_exit(0);
    assert!(env_root.join("bin/qi-tool").is_file(), "{run}");
}

#[test]
fn http_proxy_and_cainfo_from_cargo_config_are_used() {
    let s = Scenario::new();
    let proxy = Tripwire::new();
    write(
        &s.path().join(".cargo/config.toml"),
        &format!("[http]\nproxy = \"{}\"\n[net]\nretry = 0\n", proxy.url),
    );
    // Every request goes to the proxy, which hangs up: nothing is installed.
    let run = s.quickinstall().args(["--no-fallback", "qi-hello"]).run();
    run.assert_exit(1);
    assert!(proxy.hits() >= 1, "the proxy was not used:\n{run}");
    assert_eq!(s.registry.server.requests(), 0, "{run}");
    // A CA bundle that cannot be read is named before anything is fetched.
    let run = s
        .quickinstall()
        .arg("qi-hello")
        .env("CARGO_HTTP_CAINFO", "no-such-ca.pem")
        .run();
    run.assert_exit(2)
        .stderr_has(&["http.cainfo", "no-such-ca.pem"]);
}
