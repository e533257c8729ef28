//! The `upstream` source: releases a crate declares in `[package.metadata.binstall]`, read from
//! the real `.crate` (packed by `cargo package` into a loopback sparse registry) and fetched
//! from a loopback "release" server, in every declared format, signed with a minisign key made
//! here or unsigned. Each bad input names the source, exits 3 when something did not verify
//! (and then nothing else is tried), and installs nothing.

use std::io::Read;

use crate::support::crates::CrateSpec;
use crate::support::env::{Run, TestEnv, empty_pool_url};
use crate::support::goproxy::zip_stored;
use crate::support::index::{Entry, tar_gz};
use crate::support::registry::{Registry, ServedRegistry};
use crate::support::server::{Respond, TestServer};

const VERIFY: i32 = 3;
const TARGET: &str = "x86_64-unknown-linux-musl";

/// A registry, a release server and a key, with the environment pointing at them.
struct Upstream {
    env: TestEnv,
    registry: Registry,
    served: ServedRegistry,
    releases_dir: tempfile::TempDir,
    releases: TestServer,
    key: minisign::KeyPair,
}

impl Upstream {
    fn new() -> Self {
        let mut env = TestEnv::new();
        let registry = Registry::new(&env.path().join("registry"));
        let served = registry.serve();
        let releases_dir = tempfile::tempdir().unwrap();
        let releases = TestServer::serve(releases_dir.path());
        env.set("QUICKINSTALL_REGISTRY", served.sparse_url());
        // An index that has nothing, so only the crate's own releases can serve it.
        env.set("QUICKINSTALL_INDEX", empty_pool_url());
        // The client's own temp dir, so a test can see what it leaves there.
        let tmp = env.path().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        env.set("TMPDIR", &tmp);
        let key = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        Self {
            env,
            registry,
            served,
            releases_dir,
            releases,
            key,
        }
    }

    fn base(&self) -> String {
        self.releases.url().trim_end_matches('/').to_owned()
    }

    /// Publishes `name 1.0.0` (one binary of the same name) with this metadata.
    fn publish(&self, name: &str, binstall: &str) {
        let mut spec = CrateSpec::new(name, "1.0.0", &[name]);
        spec.extra_manifest = format!("\n{binstall}\n");
        self.registry.publish(&spec, false);
    }

    /// Puts `bytes` at `path` on the release server, signed by `signer` when given.
    fn release(&self, path: &str, bytes: &[u8], signer: Option<&minisign::SecretKey>) {
        let file = self.releases_dir.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, bytes).unwrap();
        if let Some(sk) = signer {
            let sig = minisign::sign(None, sk, bytes, None, None).unwrap();
            std::fs::write(format!("{}.sig", file.display()), sig.to_string()).unwrap();
        }
    }

    fn signing(&self) -> String {
        format!(
            "[package.metadata.binstall.signing]\nalgorithm = \"minisign\"\npubkey = \"{}\"\n",
            self.key.pk.to_base64()
        )
    }

    fn install(&self, name: &str, extra: &[&str]) -> Run {
        self.env
            .quickinstall()
            .args([name, "--no-fallback", "--json", "--target", TARGET])
            .args(extra)
            .run()
    }

    fn assert_nothing_installed(&self, name: &str, run: &Run) {
        assert!(!self.env.bin_dir().join(name).exists(), "installed:\n{run}");
        let leftovers: Vec<_> = self
            .env
            .disk_state()
            .into_iter()
            .filter(|(p, _)| p.contains(".quickinstall-tmp-") && !p.starts_with("registry/"))
            .collect();
        assert!(leftovers.is_empty(), "left behind {leftovers:?}:\n{run}");
        let temp = self.temp_files();
        assert!(temp.is_empty(), "left in TMPDIR {temp:?}:\n{run}");
    }

    /// What is in the client's TMPDIR (where the `.crate` is streamed to), directories too, two
    /// levels deep; read while the client may be writing, so entries may vanish under it.
    fn temp_files(&self) -> Vec<String> {
        let names = |dir: &std::path::Path| -> Vec<String> {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        };
        let tmp = self.env.path().join("tmp");
        let mut out = Vec::new();
        for name in names(&tmp) {
            out.extend(
                names(&tmp.join(&name))
                    .into_iter()
                    .map(|n| format!("{name}/{n}")),
            );
            out.push(name);
        }
        out
    }

    /// The registry's URL path of `name 1.0.0`'s `.crate`.
    fn crate_path(name: &str) -> String {
        format!("dl/{name}/1.0.0/download")
    }
}

fn script(says: &str) -> Vec<u8> {
    format!("#!/bin/sh\necho '{says}'\n").into_bytes()
}

/// A `.tar.gz` with `path` holding a script.
fn tgz_with(path: &str, says: &str) -> Vec<u8> {
    let data = script(says);
    tar_gz(&[
        Entry::File {
            name: path,
            mode: 0o755,
            data: &data,
        },
        Entry::File {
            name: "README.md",
            mode: 0o644,
            data: b"docs, not installed",
        },
    ])
}

fn plain_tar(tgz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(tgz)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn signed_tgz_with_the_default_bin_dir_installs() {
    let up = Upstream::new();
    up.publish(
        "qi-up",
        &format!(
            "[package.metadata.binstall]\npkg-url = \"{}/v{{ version }}/{{ name }}-{{ target }}-v{{ version }}{{ archive-suffix }}\"\n{}",
            up.base(),
            up.signing()
        ),
    );
    let dir = format!("qi-up-{TARGET}-v1.0.0");
    up.release(
        &format!("v1.0.0/{dir}.tgz"),
        &tgz_with(&format!("{dir}/qi-up"), "upstream tgz"),
        Some(&up.key.sk),
    );
    let run = up.install("qi-up", &["--sources", "upstream"]);
    run.assert_success();
    run.stderr_line_with(&["Installed", "qi-up 1.0.0", "prebuilt from upstream"]);
    let json = &run.json_lines()[0];
    assert_eq!(json["origin"], "upstream", "{run}");
    assert_eq!(json["signed"], true, "{run}");
    assert_eq!(up.env.run_installed("qi-up"), "upstream tgz");
    assert!(!up.env.bin_dir().join("README.md").exists());
}

#[test]
fn default_order_reaches_upstream_after_the_index_and_pool_miss() {
    let up = Upstream::new();
    up.publish(
        "qi-up-order",
        &format!(
            "[package.metadata.binstall]\npkg-url = \"{}/{{ name }}{{ archive-suffix }}\"\npkg-fmt = \"bin\"\n{}",
            up.base(),
            up.signing()
        ),
    );
    up.release("qi-up-order", &script("bin format"), Some(&up.key.sk));
    let run = up.install("qi-up-order", &[]);
    run.assert_success();
    assert_eq!(run.json_lines()[0]["origin"], "upstream", "{run}");
    assert_eq!(up.env.run_installed("qi-up-order"), "bin format");
}

#[test]
fn zip_txz_and_tzst_install() {
    let up = Upstream::new();
    let tar = plain_tar(&tgz_with("bin/qi-up-x", "x"));
    let formats: [(&str, &str, Vec<u8>); 3] = [
        (
            "qi-up-zip",
            "zip",
            zip_stored(&[("bin/qi-up-zip".into(), script("zip"))]),
        ),
        ("qi-up-txz", "txz", {
            let tar = plain_tar(&tgz_with("bin/qi-up-txz", "txz"));
            let mut out = Vec::new();
            lzma_rs::xz_compress(&mut &tar[..], &mut out).unwrap();
            out
        }),
        ("qi-up-tzst", "tzstd", {
            let tar = plain_tar(&tgz_with("bin/qi-up-tzst", "tzst"));
            ruzstd::encoding::compress_to_vec(&tar[..], ruzstd::encoding::CompressionLevel::Fastest)
        }),
    ];
    drop(tar);
    for (name, fmt, bytes) in &formats {
        up.publish(
            name,
            &format!(
                "[package.metadata.binstall]\npkg-url = \"{}/{{ name }}.{{ archive-format }}\"\nbin-dir = \"bin/{{ bin }}{{ binary-ext }}\"\npkg-fmt = \"{fmt}\"\n{}",
                up.base(),
                up.signing()
            ),
        );
        up.release(&format!("{name}.{fmt}"), bytes, Some(&up.key.sk));
    }
    for (name, fmt, _) in &formats {
        let run = up.install(name, &["--sources", "upstream"]);
        run.assert_success();
        let says = if *fmt == "tzstd" { "tzst" } else { fmt };
        assert_eq!(up.env.run_installed(name), *says, "{run}");
    }
}

#[test]
fn unsigned_release_is_labelled_and_refused_with_require_signed() {
    let up = Upstream::new();
    up.publish(
        "qi-up-plain",
        &format!(
            "[package.metadata.binstall]\npkg-url = \"{}/{{ name }}.tgz\"\nbin-dir = \"{{ bin }}\"\n",
            up.base()
        ),
    );
    up.release("qi-up-plain.tgz", &tgz_with("qi-up-plain", "plain"), None);
    let run = up.install("qi-up-plain", &["--require-signed"]);
    run.assert_exit(1);
    run.stderr_has(&["unsigned", "--require-signed"]);
    up.assert_nothing_installed("qi-up-plain", &run);

    let run = up.install("qi-up-plain", &[]);
    run.assert_success();
    run.stderr_line_with(&["Installed", "prebuilt from upstream (unsigned)"]);
    assert_eq!(run.json_lines()[0]["signed"], false, "{run}");
}

#[test]
fn a_crate_that_declares_nothing_is_not_probed() {
    let up = Upstream::new();
    up.publish("qi-up-none", "");
    let run = up.install("qi-up-none", &["--sources", "upstream", "-v"]);
    run.assert_exit(1);
    run.stderr_has(&["declares no prebuilt releases", "nothing is guessed"]);
    assert_eq!(up.releases.requests(), 0);
}

/// A verification failure of the upstream source: exit 3, named, nothing built or installed.
fn assert_upstream_verification_failure(up: &Upstream, name: &str, fragments: &[&str]) {
    let run = up
        .env
        .quickinstall()
        .args([name, "--target", TARGET, "--sources", "upstream,build"])
        .run();
    run.assert_exit(VERIFY);
    let line = run.stderr_line_with(fragments);
    assert!(line.contains("upstream source"), "{line:?}\n{run}");
    assert!(
        line.trim_end().ends_with("nothing was installed"),
        "{line:?}\n{run}"
    );
    assert!(
        !run.stderr.contains("Building"),
        "built after a verification failure:\n{run}"
    );
    up.assert_nothing_installed(name, &run);
}

#[test]
fn declared_signature_missing_or_by_another_key_or_not_matching_fails_verification() {
    let up = Upstream::new();
    let meta = |name: &str| {
        format!(
            "[package.metadata.binstall]\npkg-url = \"{}/{name}.tgz\"\nbin-dir = \"{{ bin }}\"\n{}",
            up.base(),
            up.signing()
        )
    };
    for name in ["qi-up-nosig", "qi-up-stranger", "qi-up-swapped"] {
        up.publish(name, &meta(name));
    }
    up.release("qi-up-nosig.tgz", &tgz_with("qi-up-nosig", "x"), None);
    let stranger = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    up.release(
        "qi-up-stranger.tgz",
        &tgz_with("qi-up-stranger", "x"),
        Some(&stranger.sk),
    );
    up.release(
        "qi-up-swapped.tgz",
        &tgz_with("qi-up-swapped", "genuine"),
        Some(&up.key.sk),
    );
    std::fs::write(
        up.releases_dir.path().join("qi-up-swapped.tgz"),
        tgz_with("qi-up-swapped", "evil"),
    )
    .unwrap();
    assert_upstream_verification_failure(
        &up,
        "qi-up-nosig",
        &["declares a minisign signature", "was not found"],
    );
    assert_upstream_verification_failure(
        &up,
        "qi-up-stranger",
        &["does not match the archive under the key"],
    );
    assert_upstream_verification_failure(&up, "qi-up-swapped", &["does not match the archive"]);
}

#[test]
fn zip_with_an_absolute_path_is_refused() {
    let up = Upstream::new();
    up.publish(
        "qi-up-abs",
        &format!(
            "[package.metadata.binstall]\npkg-url = \"{}/a.zip\"\nbin-dir = \"{{ bin }}\"\npkg-fmt = \"zip\"\n{}",
            up.base(),
            up.signing()
        ),
    );
    let zip = zip_stored(&[
        ("qi-up-abs".into(), script("x")),
        ("/tmp/qi-up-planted".into(), script("planted")),
    ]);
    up.release("a.zip", &zip, Some(&up.key.sk));
    assert_upstream_verification_failure(&up, "qi-up-abs", &["an absolute path"]);
    assert!(!std::path::Path::new("/tmp/qi-up-planted").exists());
}

#[test]
fn the_crate_cksum_is_checked_before_the_manifest_is_read() {
    let up = Upstream::new();
    up.publish(
        "qi-up-cksum",
        &format!(
            "[package.metadata.binstall]\npkg-url = \"{}/x.tgz\"\n",
            up.base()
        ),
    );
    let dl = up.env.path().join("registry/dl/qi-up-cksum/1.0.0/download");
    let mut bytes = std::fs::read(&dl).unwrap();
    bytes.push(0);
    std::fs::write(&dl, bytes).unwrap();
    assert_upstream_verification_failure(&up, "qi-up-cksum", &["but the registry lists"]);
    assert_eq!(up.releases.requests(), 0);
}

#[test]
fn bad_declarations_are_named_and_the_next_source_is_tried() {
    let up = Upstream::new();
    let cases = [
        (
            "qi-up-climb",
            format!("pkg-url = \"{}/{{ name }}/../../etc/x.tgz\"", up.base()),
            "climbs",
        ),
        (
            "qi-up-outside",
            format!(
                "pkg-url = \"{}/x.tgz\"\nbin-dir = \"../../{{ bin }}\"",
                up.base()
            ),
            "not a plain relative path",
        ),
        (
            "qi-up-types",
            "pkg-url = [\"https://x\"]".to_owned(),
            "is a array, not a string",
        ),
        (
            "qi-up-scheme",
            "pkg-url = \"http://example.org/{ name }.tgz\"".to_owned(),
            "not a loopback address",
        ),
        (
            "qi-up-var",
            format!("pkg-url = \"{}/{{ secret }}.tgz\"", up.base()),
            "unknown variable",
        ),
    ];
    for (name, meta, _) in &cases {
        up.publish(name, &format!("[package.metadata.binstall]\n{meta}\n"));
    }
    for (name, _, says) in &cases {
        let run = up.install(name, &["--sources", "upstream,index"]);
        // Not a verification failure: the next source (the index) was asked, then no prebuilt.
        run.assert_exit(1);
        run.stderr_has(&[says, "no prebuilt of"]);
        up.assert_nothing_installed(name, &run);
    }
    assert_eq!(up.releases.requests(), 0, "a refused template was fetched");
    let _ = &up.served;
}

fn headed(status: u16, pairs: &[(&str, &str)]) -> Respond {
    Respond::Headed(
        status,
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

/// `name` declared at `{base}/{name}.tgz`, signed, one binary at the top.
fn publish_signed_tgz(up: &Upstream, name: &str, says: &str) {
    up.publish(
        name,
        &format!(
            "[package.metadata.binstall]\npkg-url = \"{}/{name}.tgz\"\nbin-dir = \"{{ bin }}\"\n{}",
            up.base(),
            up.signing()
        ),
    );
    up.release(
        &format!("{name}.tgz"),
        &tgz_with(name, says),
        Some(&up.key.sk),
    );
}

#[test]
fn a_release_redirected_on_loopback_installs() {
    let up = Upstream::new();
    publish_signed_tgz(&up, "qi-up-moved", "moved");
    let dir = up.releases_dir.path();
    std::fs::create_dir_all(dir.join("cdn")).unwrap();
    std::fs::rename(dir.join("qi-up-moved.tgz"), dir.join("cdn/qi-up-moved.tgz")).unwrap();
    up.releases.set(
        "qi-up-moved.tgz",
        headed(301, &[("Location", "cdn/qi-up-moved.tgz")]),
    );
    let run = up.install("qi-up-moved", &["--sources", "upstream"]);
    run.assert_success();
    assert_eq!(up.env.run_installed("qi-up-moved"), "moved");
    assert_eq!(up.releases.requests_for("cdn/qi-up-moved.tgz"), 1);
}

#[test]
fn a_release_redirected_to_another_scheme_is_named_and_not_a_verification_failure() {
    let up = Upstream::new();
    publish_signed_tgz(&up, "qi-up-ftp", "x");
    up.releases.set(
        "qi-up-ftp.tgz",
        headed(302, &[("Location", "ftp://127.0.0.1/qi-up-ftp.tgz")]),
    );
    let run = up.install("qi-up-ftp", &["--sources", "upstream,index"]);
    // Nothing was verified: the next source (the empty index) was asked, then no prebuilt.
    run.assert_exit(1);
    let line = run.stderr_line_with(&["upstream source", "redirected to `ftp://127.0.0.1/"]);
    assert!(
        line.contains(&format!("{}/qi-up-ftp.tgz", up.base())),
        "{line:?}"
    );
    run.stderr_has(&["no prebuilt of"]);
    up.assert_nothing_installed("qi-up-ftp", &run);
}

#[test]
fn a_rate_limited_declared_signature_moves_on_rather_than_failing_verification() {
    let up = Upstream::new();
    publish_signed_tgz(&up, "qi-up-limited", "x");
    up.releases.set(
        "qi-up-limited.tgz.sig",
        headed(429, &[("Retry-After", "60")]),
    );
    let started = std::time::Instant::now();
    let run = up.install("qi-up-limited", &["--sources", "upstream,index"]);
    run.assert_exit(1);
    run.stderr_line_with(&["upstream source", "HTTP 429", "retry after 60 s"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{run}"
    );
    assert_eq!(up.releases.requests_for("qi-up-limited.tgz"), 0, "{run}");
    up.assert_nothing_installed("qi-up-limited", &run);
}

#[test]
fn a_truncated_signed_release_leaves_no_partial_file() {
    let up = Upstream::new();
    publish_signed_tgz(&up, "qi-up-cut", "x");
    let len = std::fs::metadata(up.releases_dir.path().join("qi-up-cut.tgz"))
        .unwrap()
        .len() as usize;
    up.releases.set("qi-up-cut.tgz", Respond::Truncate(len / 2));
    let run = up.install("qi-up-cut", &["--sources", "upstream"]);
    run.assert_exit(1);
    run.stderr_has(&["upstream source", "qi-up-cut.tgz"]);
    up.assert_nothing_installed("qi-up-cut", &run);
    let partials: Vec<_> = up
        .env
        .disk_state()
        .into_iter()
        .filter(|(p, _)| p.ends_with(".partial"))
        .collect();
    assert!(partials.is_empty(), "{partials:?}\n{run}");
}

/// Issue 13: the `.crate` is streamed to a file in TMPDIR (hashed on the way) rather than held
/// in memory, and that file is gone once the install is done.
#[test]
fn the_crate_streams_to_a_temp_file_that_is_removed_after_install() {
    let up = Upstream::new();
    publish_signed_tgz(&up, "qi-up-drip", "drip");
    // Slow enough to be seen mid-download (a ~1 KiB `.crate` takes a second or two).
    up.served.server.set(
        &Upstream::crate_path("qi-up-drip"),
        Respond::Drip(std::time::Duration::from_millis(2)),
    );
    let (run, seen) = std::thread::scope(|scope| {
        let install = scope.spawn(|| up.install("qi-up-drip", &["--sources", "upstream"]));
        let mut seen = Vec::new();
        while !install.is_finished() {
            for file in up.temp_files() {
                if !seen.contains(&file) {
                    seen.push(file);
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        (install.join().unwrap(), seen)
    });
    run.assert_success();
    assert_eq!(up.env.run_installed("qi-up-drip"), "drip");
    assert!(
        seen.iter()
            .any(|f| f.starts_with("quickinstall-crate-") && f.ends_with("/crate.partial")),
        "the .crate was not streamed to TMPDIR (saw {seen:?}):\n{run}"
    );
    let left = up.temp_files();
    assert!(left.is_empty(), "left in TMPDIR {left:?}:\n{run}");
}

/// The 16 MiB cap holds while streaming: a body with no `Content-Length` to refuse up front is
/// cut off at the cap, named, and its temp file removed.
#[test]
fn a_crate_over_the_cap_is_refused_while_streaming_and_leaves_no_temp_file() {
    let up = Upstream::new();
    publish_signed_tgz(&up, "qi-up-huge", "x");
    let path = Upstream::crate_path("qi-up-huge");
    up.served
        .server
        .set(&path, Respond::Unsized(vec![0; (16 << 20) + 1]));
    let run = up.install("qi-up-huge", &["--sources", "upstream"]);
    run.assert_exit(1);
    let line = run.stderr_line_with(&["is larger than the 16777216 bytes allowed for it"]);
    assert!(line.contains(&path), "{line:?}\n{run}");
    assert_eq!(up.releases.requests(), 0, "{run}");
    up.assert_nothing_installed("qi-up-huge", &run);
}

/// A `.crate` that is a well-formed crate of the same name and version, but not the one the
/// registry lists: refused on its sha256 (exit 3) before its manifest is read, so the release it
/// declares is never fetched; no temp file is left.
#[test]
fn a_crate_not_matching_the_registry_cksum_fails_verification_and_leaves_no_temp_file() {
    let up = Upstream::new();
    publish_signed_tgz(&up, "qi-up-swap", "genuine");
    let other = Registry::new(&up.env.path().join("other-registry"));
    let mut evil = CrateSpec::new("qi-up-swap", "1.0.0", &["qi-up-swap"]);
    evil.extra_manifest = format!(
        "\n[package.metadata.binstall]\npkg-url = \"{}/evil.tgz\"\nbin-dir = \"{{ bin }}\"\n",
        up.base()
    );
    other.publish(&evil, false);
    up.release("evil.tgz", &tgz_with("qi-up-swap", "evil"), None);
    let dl = Upstream::crate_path("qi-up-swap");
    std::fs::copy(
        up.env.path().join("other-registry").join(&dl),
        up.env.path().join("registry").join(&dl),
    )
    .unwrap();
    assert_upstream_verification_failure(&up, "qi-up-swap", &["but the registry lists"]);
    assert_eq!(
        up.releases.requests(),
        0,
        "a release of the swapped .crate was fetched"
    );
}

/// An exact pin resolves without the registry, but upstream still needs the registry's
/// checksum of the `.crate` (asked for at the same time as its download URL): with it the
/// pinned crate installs, and a `.crate` that does not match it is refused.
#[test]
fn a_pinned_crate_is_checked_against_the_registry_cksum_too() {
    let up = Upstream::new();
    publish_signed_tgz(&up, "qi-up-pin", "pinned");
    let run = up.install("qi-up-pin@=1.0.0", &["--sources", "upstream"]);
    run.assert_success();
    run.stderr_line_with(&["Installed", "qi-up-pin 1.0.0", "prebuilt from upstream"]);
    assert_eq!(up.env.run_installed("qi-up-pin"), "pinned");
    // The pin needed no version lookup; upstream asked for the checksum and the download URL.
    let registry = &up.served.server;
    assert_eq!(registry.requests_for("index/qi/-u/qi-up-pin"), 1, "{run}");
    assert_eq!(registry.requests_for("index/config.json"), 1, "{run}");

    publish_signed_tgz(&up, "qi-up-pin-swap", "genuine");
    let dl = Upstream::crate_path("qi-up-pin-swap");
    let genuine = up.env.path().join("registry").join(&dl);
    let mut bytes = std::fs::read(&genuine).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&genuine, bytes).unwrap();
    assert_upstream_verification_failure(&up, "qi-up-pin-swap@=1.0.0", &["registry lists"]);
    assert!(!up.env.bin_dir().join("qi-up-pin-swap").exists());
}

/// A `.crate` body cut short (the connection closes before its `Content-Length`): named, the
/// next source tried (nothing was verified, so it is not exit 3), no temp file left.
#[test]
fn a_truncated_crate_is_named_and_leaves_no_temp_file() {
    let up = Upstream::new();
    publish_signed_tgz(&up, "qi-up-crate-cut", "x");
    let path = Upstream::crate_path("qi-up-crate-cut");
    let len = std::fs::metadata(up.env.path().join("registry").join(&path))
        .unwrap()
        .len() as usize;
    up.served.server.set(&path, Respond::Truncate(len / 2));
    let run = up.install("qi-up-crate-cut", &["--sources", "upstream,index"]);
    run.assert_exit(1);
    let line = run.stderr_line_with(&["the .crate could not be downloaded"]);
    assert!(line.contains(&path), "{line:?}\n{run}");
    run.stderr_has(&["no prebuilt of"]);
    assert_eq!(up.releases.requests(), 0, "{run}");
    up.assert_nothing_installed("qi-up-crate-cut", &run);
}

/// A server error on the `.crate` (after the retries): named, the next source tried, no temp
/// directory left.
#[test]
fn a_crate_answered_with_a_server_error_leaves_no_temp_file() {
    let up = Upstream::new();
    publish_signed_tgz(&up, "qi-up-crate-500", "x");
    let path = Upstream::crate_path("qi-up-crate-500");
    up.served.server.set(&path, Respond::Status(500));
    let run = up.install("qi-up-crate-500", &["--sources", "upstream,index"]);
    run.assert_exit(1);
    let line = run.stderr_line_with(&["the .crate could not be downloaded", "HTTP 500"]);
    assert!(line.contains(&path), "{line:?}\n{run}");
    up.assert_nothing_installed("qi-up-crate-500", &run);
}
