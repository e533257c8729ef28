//! HTTPS with real TLS handshakes: the fixture index and registry behind TLS fronts whose
//! certificates a certificate authority made for the test signed, and the client's trust store
//! narrowed to that CA (`SSL_CERT_FILE`, and an empty `SSL_CERT_DIR`), the way the system's
//! store is read on Linux.

use std::path::Path;

use testsupport::tls::{TestCa, TlsFront};

use crate::support::env::TestCommand;
use crate::support::index::Scenario;

/// The index and the registry each behind a TLS front signed by `ca`.
struct Https {
    s: Scenario,
    index: TlsFront,
    registry: TlsFront,
}

impl Https {
    fn new(ca: &TestCa) -> Self {
        let s = Scenario::new();
        let index = TlsFront::start(ca, s.index.addr());
        let registry = TlsFront::start(ca, s.registry.server.addr());
        Self { s, index, registry }
    }

    /// `cargo quickinstall` over HTTPS, trusting only the CA whose PEM is at `store`.
    fn quickinstall(&self, store: &Path) -> TestCommand {
        let empty_dir = self.s.path().join("no-more-certs");
        std::fs::create_dir_all(&empty_dir).unwrap();
        self.s
            .quickinstall()
            .env("QUICKINSTALL_INDEX", self.index.url())
            .env(
                "QUICKINSTALL_REGISTRY",
                format!("sparse+{}index/", self.registry.url()),
            )
            .env("SSL_CERT_FILE", store)
            .env("SSL_CERT_DIR", &empty_dir)
            .args(["--no-fallback", "--json", "--timeout", "20"])
    }
}

fn write_store(dir: &Path, name: &str, ca: &TestCa) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, ca.pem()).unwrap();
    path
}

#[test]
fn installs_over_https_trusting_the_system_store() {
    let ca = TestCa::new("quickinstall test CA");
    let w = Https::new(&ca);
    let store = write_store(w.s.path(), "ca.pem", &ca);
    // Two crates at once: their lookups open four connections together, the first HTTPS
    // connections of the run, which all need the store.
    let run = w.quickinstall(&store).args(["qi-hello", "qi-tool"]).run();
    run.assert_success();
    for json in run.json_lines() {
        assert_eq!(json["origin"], "index", "{run}");
    }
    assert!(w.s.bin_dir().join("qi-hello").is_file(), "{run}");
    assert!(w.s.bin_dir().join("qi-tool").is_file(), "{run}");
    // Everything went through the fronts: lookups, package files and archives.
    assert!(w.registry.handshakes() >= 2, "{run}");
    assert!(w.index.handshakes() >= 2, "{run}");
}

#[test]
fn refuses_a_server_whose_certificate_the_store_does_not_vouch_for() {
    let ca = TestCa::new("quickinstall test CA");
    let w = Https::new(&ca);
    let stranger = TestCa::new("some other CA");
    let store = write_store(w.s.path(), "other-ca.pem", &stranger);
    let run = w.quickinstall(&store).arg("qi-hello").run();
    run.assert_failure();
    assert_ne!(
        run.code(),
        Some(3),
        "a TLS failure is not a verification failure:\n{run}"
    );
    run.stderr_has(&[
        "qi-hello",
        "TLS certificate was refused",
        "SSL_CERT_FILE",
        "http.cainfo",
    ]);
    assert!(!w.s.bin_dir().join("qi-hello").exists(), "{run}");
    assert_eq!(w.s.index.requests(), 0, "{run}");
    assert_eq!(w.s.registry.server.requests(), 0, "{run}");
}

#[test]
fn cargos_http_cainfo_is_trusted_instead_of_the_system_store() {
    let ca = TestCa::new("quickinstall test CA");
    let w = Https::new(&ca);
    let stranger = TestCa::new("some other CA");
    let store = write_store(w.s.path(), "other-ca.pem", &stranger);
    let bundle = write_store(w.s.path(), "corp-ca.pem", &ca);
    let run = w
        .quickinstall(&store)
        .env("CARGO_HTTP_CAINFO", &bundle)
        .arg("qi-tool")
        .run();
    run.assert_success();
    assert!(w.s.bin_dir().join("qi-tool").is_file(), "{run}");
}
