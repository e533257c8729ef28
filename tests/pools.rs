//! The prebuilt sources besides the release index: cargo-quickinstall's pool (GitHub-release
//! URL paths on a loopback server, signed with a key made here and passed through
//! `QUICKINSTALL_QUICKINSTALL_POOL` / `QUICKINSTALL_QUICKINSTALL_KEY`), and `--sources` ordering.
//! Each bad input asserts the message names the source, the exit status (3 for a verification
//! failure, and then no other source is tried) and that nothing was installed.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::support::env::Run;
use crate::support::index::{Entry, Scenario, tar_gz, world};
use crate::support::server::{Respond, TestServer};

const VERIFY: i32 = 3;

/// A quickinstall pool: `{crate}-{version}/{crate}-{version}-{target}.tar.gz` and `.sig`.
struct Pool {
    dir: tempfile::TempDir,
    server: TestServer,
    key: minisign::KeyPair,
}

impl Pool {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::serve(dir.path());
        let key = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        Self { dir, server, key }
    }

    fn base(&self) -> String {
        self.server.url().trim_end_matches('/').to_owned()
    }

    fn public_b64(&self) -> String {
        self.key.pk.to_base64()
    }

    fn archive_path(name: &str, version: &str) -> String {
        let target = &world().target;
        format!("{name}-{version}/{name}-{version}-{target}.tar.gz")
    }

    fn file(&self, path: &str) -> PathBuf {
        self.dir.path().join(path)
    }

    /// Publishes `archive`, signed by `signer` (`None`: no `.sig`).
    fn publish(
        &self,
        name: &str,
        version: &str,
        archive: &[u8],
        signer: Option<&minisign::SecretKey>,
    ) {
        let path = Self::archive_path(name, version);
        std::fs::create_dir_all(self.file(&path).parent().unwrap()).unwrap();
        std::fs::write(self.file(&path), archive).unwrap();
        if let Some(sk) = signer {
            let sig = minisign::sign(None, sk, archive, None, None).unwrap();
            std::fs::write(self.file(&format!("{path}.sig")), sig.to_string()).unwrap();
        }
    }

    /// Publishes a one-binary archive of `name` that prints `says`, signed with the pool's key.
    fn publish_signed(&self, name: &str, version: &str, says: &str) {
        let archive = script_archive(name, says);
        self.publish(name, version, &archive, Some(&self.key.sk));
    }
}

/// A one-binary archive as cargo-quickinstall makes them: the binary flat at the top.
fn script_archive(bin: &str, says: &str) -> Vec<u8> {
    let script = format!("#!/bin/sh\necho '{says}'\n");
    tar_gz(&[Entry::File {
        name: bin,
        mode: 0o755,
        data: script.as_bytes(),
    }])
}

fn setup() -> (Scenario, Pool) {
    let mut s = Scenario::new();
    let pool = Pool::new();
    s.env.set("QUICKINSTALL_QUICKINSTALL_POOL", pool.base());
    s.env
        .set("QUICKINSTALL_QUICKINSTALL_KEY", pool.public_b64());
    // The fixture registry stands for crates.io here: the pool serves crates.io's crates only.
    let registry = s.registry.sparse_url();
    s.env.set("QUICKINSTALL_PUBLIC_REGISTRY", registry);
    (s, pool)
}

/// `qi-fallback` is in the registry but not in the index: only the pool can serve it.
fn install_fallback_crate(s: &Scenario, extra: &[&str]) -> Run {
    s.quickinstall()
        .args([
            "qi-fallback",
            "--no-fallback",
            "--json",
            "--target",
            &world().target,
        ])
        .args(extra)
        .run()
}

fn assert_nothing_installed(s: &Scenario, run: &Run) {
    assert!(
        !s.bin_dir().join("qi-fallback").exists(),
        "a binary was installed:\n{run}"
    );
    assert_no_leftovers(s, run);
}

/// No staging directory and no `.partial` download is left anywhere under the scenario.
fn assert_no_leftovers(s: &Scenario, run: &Run) {
    let leftovers: Vec<_> = s
        .disk_state()
        .into_iter()
        .filter(|(p, _)| p.contains(".quickinstall-tmp-") || p.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "left behind {leftovers:?}:\n{run}");
}

#[test]
fn index_miss_installs_the_signed_pool_archive() {
    let (s, pool) = setup();
    pool.publish_signed("qi-fallback", "0.1.0", "from the pool");
    let run = install_fallback_crate(&s, &[]);
    run.assert_success();
    run.stderr_line_with(&[
        "Installed",
        "qi-fallback 0.1.0",
        "prebuilt from quickinstall",
    ]);
    // The pool gives no size in advance: the line says none rather than "0 B".
    let downloading = run.stderr_line_with(&["Downloading", "`qi-fallback 0.1.0`"]);
    assert!(!downloading.contains("B)"), "{downloading}\n{run}");
    let json = &run.json_lines()[0];
    assert_eq!(json["source"], "prebuilt", "{run}");
    assert_eq!(json["origin"], "quickinstall", "{run}");
    assert_eq!(json["signed"], true, "{run}");
    assert_eq!(s.run_installed("qi-fallback"), "from the pool");
    // The index was asked first and the archive fetched once, after its signature.
    assert_eq!(
        pool.server.requests_for(&format!(
            "{}.sig",
            Pool::archive_path("qi-fallback", "0.1.0")
        )),
        1
    );
    assert_eq!(
        pool.server
            .requests_for(&Pool::archive_path("qi-fallback", "0.1.0")),
        1
    );
    // cargo's tracker knows it.
    let tracker = std::fs::read_to_string(s.cargo_home().join(".crates2.json")).unwrap();
    assert!(tracker.contains("qi-fallback 0.1.0"), "{tracker}");
}

/// A pool hit does not wait at all for the `.crate` download begun beside it: here the
/// registry's download server never answers (a stalled static.crates.io) and the client's
/// timeout is two minutes, yet the install ends as soon as the pool's archive is in. The pool's
/// signature is answered only once the `.crate` has been asked for, so that download is surely
/// under way. Its temp dir, left in TMPDIR when the process ended, is swept by a later run once
/// stale (its owner gone).
#[test]
fn a_pool_hit_does_not_wait_for_a_stalled_crate_download() {
    let (mut s, pool) = setup();
    pool.publish_signed("qi-fallback", "0.1.0", "from the pool");
    let tmp = s.env.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    s.env.set("TMPDIR", &tmp);
    // Stalls every `.crate` request while `stall` holds; notes that one came.
    let stall = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let crate_asked = Arc::new((Mutex::new(false), Condvar::new()));
    let (stalling, note) = (Arc::clone(&stall), Arc::clone(&crate_asked));
    let downloads = TestServer::scripted(move |_| {
        *note.0.lock().unwrap() = true;
        note.1.notify_all();
        if stalling.load(std::sync::atomic::Ordering::SeqCst) {
            Respond::Stall
        } else {
            Respond::Status(404)
        }
    });
    let config = serde_json::json!({ "dl": format!("{}dl", downloads.url()) });
    s.registry.server.set(
        "index/config.json",
        Respond::Body(config.to_string().into_bytes()),
    );
    let (dir, gate) = (pool.dir.path().to_owned(), Arc::clone(&crate_asked));
    let gated_pool = TestServer::scripted(move |r| {
        if r.path.ends_with(".sig") {
            let (lock, cvar) = &*gate;
            let _ = cvar
                .wait_timeout_while(lock.lock().unwrap(), Duration::from_secs(10), |a| !*a)
                .unwrap();
        }
        match std::fs::read(dir.join(&r.path)) {
            Ok(bytes) => Respond::Reply(200, bytes),
            Err(_) => Respond::Status(404),
        }
    });
    s.env.set(
        "QUICKINSTALL_QUICKINSTALL_POOL",
        gated_pool.url().trim_end_matches('/'),
    );
    let run = s
        .quickinstall()
        .args(["qi-fallback", "--no-fallback", "--json", "--timeout", "120"])
        .args(["--target", &world().target])
        .run_within(Duration::from_secs(30));
    run.assert_success();
    assert_eq!(run.json_lines()[0]["origin"], "quickinstall", "{run}");
    assert_eq!(s.run_installed("qi-fallback"), "from the pool");
    assert!(
        *crate_asked.0.lock().unwrap(),
        "the .crate was never asked for:\n{run}"
    );
    let left: Vec<PathBuf> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        left.len(),
        1,
        "expected the stalled download's temp dir: {left:?}\n{run}"
    );
    let name = left[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("quickinstall-crate-"), "{name}");

    // An hour later, another run that reads a `.crate` sweeps it: its owner is gone.
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::open(&left[0])
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    stall.store(false, std::sync::atomic::Ordering::SeqCst);
    let run = install_fallback_crate(&s, &["--force", "--sources", "upstream,quickinstall"]);
    run.assert_success();
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "left in TMPDIR {left:?}:\n{run}");
}

#[test]
fn default_order_prefers_the_index_and_sources_flag_reorders() {
    let (s, pool) = setup();
    pool.publish_signed("qi-tool", "1.0.0", "pool qi-tool");
    let run = s
        .quickinstall()
        .args(["qi-tool", "--json", "--target", &world().target])
        .run();
    run.assert_success();
    assert_eq!(run.json_lines()[0]["origin"], "index", "{run}");
    assert_eq!(run.json_lines()[0]["signed"], true, "{run}");
    assert_eq!(
        pool.server.requests(),
        0,
        "the pool was asked though the index had it"
    );

    let run = s
        .quickinstall()
        .args(["qi-tool", "--force", "--json", "--target", &world().target])
        .args(["--sources", "quickinstall,index"])
        .run();
    run.assert_success();
    assert_eq!(run.json_lines()[0]["origin"], "quickinstall", "{run}");
    assert_eq!(s.run_installed("qi-tool"), "pool qi-tool");
}

#[test]
fn sources_without_build_means_no_fallback_and_unknown_names_are_usage_errors() {
    let (s, _pool) = setup();
    let run = s
        .quickinstall()
        .args(["qi-fallback", "--sources", "index,quickinstall"])
        .run();
    run.assert_exit(1);
    run.stderr_has(&["no prebuilt of `qi-fallback 0.1.0`", "help:"]);
    assert!(!run.stderr.contains("Building"), "{run}");

    let run = s
        .quickinstall()
        .args(["qi-tool", "--sources", "index,pypi"])
        .run();
    run.assert_exit(2);
    run.stderr_has(&["unknown source `pypi`", "help:"]);
}

#[test]
fn missing_signature_is_skipped_as_unsigned_unless_allowed() {
    let (s, pool) = setup();
    pool.publish(
        "qi-fallback",
        "0.1.0",
        &script_archive("qi-fallback", "unsigned"),
        None,
    );
    let run = install_fallback_crate(&s, &[]);
    run.assert_exit(1);
    run.stderr_has(&["unsigned archives are skipped", "--allow-unsigned"]);
    assert_eq!(
        pool.server
            .requests_for(&Pool::archive_path("qi-fallback", "0.1.0")),
        0
    );
    assert_nothing_installed(&s, &run);

    let run = install_fallback_crate(&s, &["--allow-unsigned"]);
    run.assert_success();
    run.stderr_has(&["--allow-unsigned", "only TLS protects it"]);
    run.stderr_line_with(&["Installed", "prebuilt from quickinstall (unsigned)"]);
    assert_eq!(run.json_lines()[0]["signed"], false, "{run}");
    assert_eq!(s.run_installed("qi-fallback"), "unsigned");
}

#[test]
fn require_signed_refuses_an_unsigned_archive() {
    let (s, pool) = setup();
    pool.publish(
        "qi-fallback",
        "0.1.0",
        &script_archive("qi-fallback", "unsigned"),
        None,
    );
    let run = s
        .quickinstall()
        .args([
            "qi-fallback",
            "--no-fallback",
            "--allow-unsigned",
            "--require-signed",
        ])
        .run();
    run.assert_exit(2);
    let run = install_fallback_crate(&s, &["--require-signed"]);
    run.assert_exit(1);
    assert_nothing_installed(&s, &run);
}

/// Verification failures: exit 3, the source named, no other source tried (no build), nothing
/// installed.
fn assert_pool_verification_failure(s: &Scenario, fragments: &[&str]) -> Run {
    let run = s
        .quickinstall()
        .args([
            "qi-fallback",
            "--target",
            &world().target,
            "--sources",
            "quickinstall,build",
        ])
        .run();
    run.assert_exit(VERIFY);
    let line = run.stderr_line_with(fragments);
    assert!(
        line.contains("quickinstall source"),
        "{line:?} does not name the source:\n{run}"
    );
    assert!(
        line.trim_end().ends_with("nothing was installed"),
        "{line:?}\n{run}"
    );
    run.stderr_has(&["help:"]);
    assert!(
        !run.stderr.contains("Building"),
        "built after a verification failure:\n{run}"
    );
    assert_nothing_installed(s, &run);
    run
}

#[test]
fn bad_signature_is_a_verification_failure() {
    let (s, pool) = setup();
    let archive = script_archive("qi-fallback", "tampered");
    pool.publish_signed("qi-fallback", "0.1.0", "genuine");
    // The signature of the genuine archive stays; the archive is swapped.
    std::fs::write(
        pool.file(&Pool::archive_path("qi-fallback", "0.1.0")),
        archive,
    )
    .unwrap();
    assert_pool_verification_failure(&s, &["signature", "does not match the archive"]);
}

#[test]
fn signature_by_another_key_is_a_verification_failure() {
    let (s, pool) = setup();
    let stranger = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    pool.publish(
        "qi-fallback",
        "0.1.0",
        &script_archive("qi-fallback", "x"),
        Some(&stranger.sk),
    );
    assert_pool_verification_failure(&s, &["does not match the archive under the key"]);
}

#[test]
fn garbage_signature_file_is_a_verification_failure() {
    let (s, pool) = setup();
    pool.publish_signed("qi-fallback", "0.1.0", "x");
    let sig = format!("{}.sig", Pool::archive_path("qi-fallback", "0.1.0"));
    pool.server
        .set(&sig, Respond::Body(b"not a signature\n".to_vec()));
    assert_pool_verification_failure(&s, &["is not a minisign signature"]);
}

#[test]
fn signed_archive_climbing_out_is_refused() {
    let (s, pool) = setup();
    let hostile = tar_gz(&[
        Entry::File {
            name: "qi-fallback",
            mode: 0o755,
            data: b"#!/bin/sh\n",
        },
        Entry::File {
            name: "../escaped",
            mode: 0o755,
            data: b"#!/bin/sh\n",
        },
    ]);
    pool.publish("qi-fallback", "0.1.0", &hostile, Some(&pool.key.sk));
    let run = assert_pool_verification_failure(&s, &["climbs out", &pool.base()]);
    run.stderr_has(&[
        "help: the archive's signature verified",
        "cargo-quickinstall's maintainers",
    ]);
    assert!(!s.path().join("escaped").exists());
}

#[test]
fn signed_archive_with_a_symlink_is_refused() {
    let (s, pool) = setup();
    let hostile = tar_gz(&[
        Entry::File {
            name: "qi-fallback",
            mode: 0o755,
            data: b"#!/bin/sh\n",
        },
        Entry::Symlink {
            name: "qi-link",
            target: "/etc/passwd",
        },
    ]);
    pool.publish("qi-fallback", "0.1.0", &hostile, Some(&pool.key.sk));
    assert_pool_verification_failure(&s, &["symbolic link"]);
}

#[test]
fn truncated_archive_moves_on_to_the_next_source() {
    let (s, pool) = setup();
    let archive = script_archive("qi-fallback", "x");
    pool.publish("qi-fallback", "0.1.0", &archive, Some(&pool.key.sk));
    pool.server.set(
        &Pool::archive_path("qi-fallback", "0.1.0"),
        Respond::Truncate(archive.len() / 2),
    );
    let run = install_fallback_crate(&s, &[]);
    // Not a verification failure: nothing was verified yet. With no build source, exit 1.
    run.assert_exit(1);
    run.stderr_has(&["quickinstall source", "no prebuilt of `qi-fallback 0.1.0`"]);
    assert_nothing_installed(&s, &run);
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// `qi-tool` from `--sources quickinstall,index`: what the pool does decides whether the index
/// is reached.
fn install_tool_pool_first(s: &Scenario) -> Run {
    s.quickinstall()
        .args([
            "qi-tool",
            "--json",
            "--target",
            &world().target,
            "--sources",
            "quickinstall,index",
        ])
        .run()
}

#[test]
fn rate_limit_is_named_and_the_next_source_is_tried_without_waiting() {
    let (s, pool) = setup();
    pool.publish_signed("qi-tool", "1.0.0", "x");
    let sig = format!("{}.sig", Pool::archive_path("qi-tool", "1.0.0"));
    pool.server.set(
        &sig,
        Respond::Headed(429, headers(&[("Retry-After", "60")])),
    );
    let started = std::time::Instant::now();
    let run = install_tool_pool_first(&s);
    let took = started.elapsed();
    run.assert_success();
    run.stderr_line_with(&[
        "quickinstall pool is rate limiting",
        "HTTP 429",
        "retry after 60 s",
    ]);
    assert_eq!(run.json_lines()[0]["origin"], "index", "{run}");
    // Asked once, not retried, and nowhere near the minute the server asked for.
    assert_eq!(pool.server.requests_for(&sig), 1, "{run}");
    assert!(took < std::time::Duration::from_secs(5), "{took:?}\n{run}");
}

#[test]
fn an_unreachable_pool_is_warned_about_once_whatever_the_number_of_crates() {
    let (mut s, _pool) = setup();
    // A loopback port nobody listens on: every connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    s.env.set("QUICKINSTALL_QUICKINSTALL_POOL", base);
    let run = s
        .quickinstall()
        .args(["qi-tool", "qi-hello", "--json", "--target", &world().target])
        .args(["--sources", "quickinstall,index"])
        .run();
    run.assert_success();
    let warnings: Vec<_> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:") && l.contains("quickinstall pool could not be asked"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}\n{run}");
    // Both came from the next source.
    let origins: Vec<_> = run
        .json_lines()
        .iter()
        .map(|j| j["origin"].clone())
        .collect();
    assert_eq!(origins, ["index", "index"], "{run}");
}

#[test]
fn github_primary_rate_limit_403_is_named_from_its_headers() {
    let (s, pool) = setup();
    let sig = format!("{}.sig", Pool::archive_path("qi-tool", "1.0.0"));
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3000;
    pool.server.set(
        &sig,
        Respond::Headed(
            403,
            headers(&[
                ("x-ratelimit-limit", "60"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &reset.to_string()),
                ("x-ratelimit-resource", "core"),
            ]),
        ),
    );
    let run = install_tool_pool_first(&s);
    run.assert_success();
    run.stderr_line_with(&[
        "HTTP 403",
        "a rate limit (0 of 60 requests left (core), resets in",
    ]);
    assert_eq!(run.json_lines()[0]["origin"], "index", "{run}");
    assert_eq!(pool.server.requests_for(&sig), 1, "{run}");
}

#[test]
fn github_like_redirect_to_an_object_store_installs_over_one_connection() {
    let (s, pool) = setup();
    let archive = script_archive("qi-fallback", "redirected");
    pool.publish("qi-fallback", "0.1.0", &archive, Some(&pool.key.sk));
    // GitHub answers a release download with 302 to its object store; here, the same server.
    let path = Pool::archive_path("qi-fallback", "0.1.0");
    std::fs::create_dir_all(pool.file("objects")).unwrap();
    std::fs::rename(pool.file(&path), pool.file("objects/blob")).unwrap();
    pool.server.set(
        &path,
        Respond::Headed(302, headers(&[("Location", "/objects/blob?token=x")])),
    );
    let run = install_fallback_crate(&s, &[]);
    run.assert_success();
    assert_eq!(s.run_installed("qi-fallback"), "redirected");
    assert_eq!(pool.server.requests_for("objects/blob"), 1);
    // Signature, archive, hop: one kept-alive connection for the three.
    assert_eq!(pool.server.requests(), 3, "{:?}", pool.server.log());
    assert_eq!(pool.server.connections(), 1, "{run}");
}

#[test]
fn refused_redirects_are_named_and_the_next_source_is_tried() {
    let (s, pool) = setup();
    pool.publish_signed("qi-tool", "1.0.0", "from the pool");
    let path = Pool::archive_path("qi-tool", "1.0.0");
    let itself = format!("{}/{path}", pool.base());
    let cases = [
        ("ftp://127.0.0.1/qi-tool.tar.gz", "is not an https:// URL"),
        (
            "http://example.invalid/qi-tool.tar.gz",
            "not a loopback address",
        ),
        (itself.as_str(), "in a loop"),
    ];
    for (to, says) in cases {
        pool.server
            .set(&path, Respond::Headed(302, headers(&[("Location", to)])));
        let run = install_tool_pool_first(&s);
        run.assert_success();
        let line = run.stderr_line_with(&["quickinstall source", "redirected", says]);
        assert!(line.contains(&itself), "{line:?} does not name the URL");
        assert_eq!(run.json_lines()[0]["origin"], "index", "{run}");
        assert_eq!(s.run_installed("qi-tool"), "qi-tool 1.0.0", "{run}");
        std::fs::remove_file(s.bin_dir().join("qi-tool")).unwrap();
        assert_no_leftovers(&s, &run);
    }
}

#[test]
fn a_redirect_chain_past_five_hops_is_not_followed() {
    let (s, pool) = setup();
    pool.publish_signed("qi-fallback", "0.1.0", "x");
    let path = Pool::archive_path("qi-fallback", "0.1.0");
    pool.server.set(
        &path,
        Respond::Headed(302, headers(&[("Location", "/hop/1")])),
    );
    for i in 1..=9 {
        pool.server.set(
            &format!("hop/{i}"),
            Respond::Headed(302, headers(&[("Location", &format!("/hop/{}", i + 1))])),
        );
    }
    let run = install_fallback_crate(&s, &[]);
    run.assert_exit(1);
    run.stderr_line_with(&["quickinstall source", "redirected more than 5 times"]);
    assert_eq!(pool.server.requests_for("hop/6"), 0, "{run}");
    assert_nothing_installed(&s, &run);
}

#[test]
fn a_pool_on_plain_http_to_another_host_is_not_asked() {
    let (mut s, _pool) = setup();
    s.env.set(
        "QUICKINSTALL_QUICKINSTALL_POOL",
        "http://example.invalid/releases",
    );
    let run = install_fallback_crate(&s, &["-v"]);
    run.assert_exit(1);
    run.stderr_has(&["not a loopback address"]);
}

#[test]
fn dry_run_names_the_pool_and_its_key() {
    let (s, pool) = setup();
    pool.publish_signed("qi-fallback", "0.1.0", "x");
    let run = s
        .quickinstall()
        .args([
            "qi-fallback",
            "--dry-run",
            "--no-fallback",
            "--target",
            &world().target,
        ])
        .run();
    run.assert_success();
    run.stdout_has(&[
        "would install",
        "quickinstall",
        "minisign signature by",
        &pool.public_b64(),
    ]);
    assert_eq!(
        pool.server
            .requests_for(&Pool::archive_path("qi-fallback", "0.1.0")),
        0
    );
    assert!(!s.bin_dir().join("qi-fallback").exists());
}
