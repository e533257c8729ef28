//! The trust chain (issue 15): an offline root delegates to a signing key for a limited time,
//! each bundle carries that delegation, and file signatures expire. Every key, delegation and
//! signature here is made in the test by the real `build-index` (`keygen --root`, `delegate`,
//! `resign`), and the client trusts only the test's root (`QUICKINSTALL_TRUSTED_ROOTS`, no
//! `--trusted-key`). Bad inputs must exit 3, say what failed, and install nothing. A test cannot
//! move the clock, so "now" is moved for the client with the hidden `QUICKINSTALL_TEST_NOW`.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use quickinstall::index::signature::{BUNDLE_V2_HEADER, TrustedComment, bundle_v2};

use crate::support::env::Run;
use crate::support::index::{self, Scenario, TestKey};

/// Exit code for a verification failure.
const VERIFY: i32 = 3;
const DAY: u64 = 86_400;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A scenario whose client trusts the root `root` only.
struct Chain {
    s: Scenario,
    root: TestKey,
}

impl Chain {
    fn new() -> Self {
        let mut s = Scenario::new();
        let root = keygen_root(&s, "root");
        s.env.set("QUICKINSTALL_TRUSTED_KEYS", "");
        s.env.set("QUICKINSTALL_TRUSTED_ROOTS", &root.public_b64);
        Self { s, root }
    }

    /// A signing key made by `build-index keygen`.
    fn signing_key(&self, name: &str) -> TestKey {
        index::keygen(&self.s.env, &self.s.path().join("keys").join(name))
    }

    /// `build-index delegate` with `root` for `signing`, written to `keys/<name>.delegation`.
    fn delegate(
        &self,
        root: &TestKey,
        signing: &TestKey,
        valid_for: &str,
        index_id: &str,
    ) -> PathBuf {
        let out = self.s.path().join("keys").join(format!(
            "{}.delegation",
            signing.public_b64.get(..8).unwrap().replace('/', "_")
        ));
        self.s
            .build_index()
            .arg("delegate")
            .arg("--root-key")
            .arg(&root.secret_path)
            .arg("--signing-key-pub")
            .arg(&signing.public_path)
            .args(["--valid-for", valid_for, "--index-id", index_id])
            .arg("--out")
            .arg(&out)
            .run()
            .assert_success();
        out
    }

    /// `build-index resign` of this scenario's index copy.
    fn resign(&self, signing: &TestKey, delegation: Option<&PathBuf>, validity: &str) {
        let mut cmd = self
            .s
            .build_index()
            .arg("resign")
            .arg("--index")
            .arg(self.s.index_dir())
            .arg("--secret-key")
            .arg(&signing.secret_path)
            .args(["--signature-validity", validity]);
        if let Some(d) = delegation {
            cmd = cmd.arg("--delegation").arg(d);
        }
        cmd.run().assert_success();
    }

    /// Signs the whole index with a fresh signing key under a fresh delegation from the root.
    fn sign_under_root(&self, name: &str) -> TestKey {
        let key = self.signing_key(name);
        let delegation = self.delegate(&self.root, &key, "60d", "quickinstall");
        self.resign(&key, Some(&delegation), "30d");
        key
    }

    fn bundle(&self) -> Vec<u8> {
        std::fs::read(self.s.index_dir().join(index::bundle_path("qi-hello"))).unwrap()
    }

    fn write_bundle(&self, bytes: &[u8]) {
        std::fs::write(
            self.s.index_dir().join(index::bundle_path("qi-hello")),
            bytes,
        )
        .unwrap();
    }

    fn install(&self) -> Run {
        self.s.quickinstall().arg("qi-hello").run()
    }

    fn install_at(&self, now: u64) -> Run {
        self.s
            .quickinstall()
            .arg("qi-hello")
            .env("QUICKINSTALL_TEST_NOW", now.to_string())
            .run()
    }
}

/// `build-index keygen --root` into `keys/<name>/`.
fn keygen_root(s: &Scenario, name: &str) -> TestKey {
    let dir = s.path().join("keys").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let (secret_path, public_path) = (dir.join("root.key"), dir.join("root.pub"));
    let run = s
        .build_index()
        .args(["keygen", "--root", "--secret-key"])
        .arg(&secret_path)
        .arg("--public-key")
        .arg(&public_path)
        .run();
    run.assert_success();
    TestKey {
        secret_path,
        public_path,
        public_b64: run.stdout.trim().to_owned(),
    }
}

/// Exit 3, a line naming the problem that ends with "nothing was installed", and no binary.
fn assert_refused(chain: &Chain, run: &Run, fragments: &[&str]) {
    run.assert_exit(VERIFY);
    let line = run.stderr_line_with(fragments);
    assert!(
        line.trim_end().ends_with("nothing was installed"),
        "{line:?} does not end with `nothing was installed`:\n{run}"
    );
    assert!(
        !chain.s.bin_dir().join("qi-hello").exists(),
        "a binary was installed:\n{run}"
    );
}

/// The delegation block of a version 2 bundle (the four lines after the header).
fn delegation_block(bundle: &[u8]) -> String {
    let text = String::from_utf8_lossy(bundle);
    text.lines()
        .skip(1)
        .take(4)
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn installs_from_a_delegated_index_and_keeps_installing_after_a_rotation() {
    let chain = Chain::new();
    chain.sign_under_root("k1");
    assert!(
        chain.bundle().starts_with(BUNDLE_V2_HEADER.as_bytes()),
        "resign --delegation writes version 2 bundles"
    );
    chain
        .s
        .quickinstall()
        .arg("qi-hello@0.1.0")
        .run()
        .assert_success();
    assert_eq!(chain.s.run_installed("qi-hello"), "qi-hello 0.1.0");
    // Rotation: a new signing key, a new delegation from the same root, the index re-signed.
    // The client is unchanged and keeps installing.
    chain.sign_under_root("k2");
    chain.install().assert_success();
    assert_eq!(chain.s.run_installed("qi-hello"), "qi-hello 0.2.0");
}

#[test]
fn refuses_a_delegation_signed_by_a_key_that_is_not_a_trusted_root() {
    let chain = Chain::new();
    let impostor = keygen_root(&chain.s, "impostor");
    let key = chain.signing_key("k");
    let delegation = chain.delegate(&impostor, &key, "60d", "quickinstall");
    chain.resign(&key, Some(&delegation), "30d");
    let run = chain.install();
    assert_refused(&chain, &run, &["delegation", "not a trusted root"]);
}

#[test]
fn refuses_an_expired_delegation() {
    let chain = Chain::new();
    let key = chain.signing_key("k");
    let delegation = chain.delegate(&chain.root, &key, "1d", "quickinstall");
    // File signatures still valid for 30 days: only the delegation has run out.
    chain.resign(&key, Some(&delegation), "30d");
    let run = chain.install_at(now() + 2 * DAY);
    assert_refused(&chain, &run, &["delegation", "expired"]);
    run.stderr_has(&["--allow-expired-index"]);
}

#[test]
fn refuses_a_delegation_for_another_index() {
    let chain = Chain::new();
    let key = chain.signing_key("k");
    let delegation = chain.delegate(&chain.root, &key, "60d", "staging");
    chain.resign(&key, Some(&delegation), "30d");
    let run = chain.install();
    assert_refused(&chain, &run, &["`staging`", "not `quickinstall`"]);
}

#[test]
fn refuses_a_file_whose_delegation_is_absent() {
    let chain = Chain::new();
    let key = chain.signing_key("k");
    // Signed by a key the root never delegated to, in a bundle without a delegation.
    chain.resign(&key, None, "30d");
    let run = chain.install();
    assert_refused(&chain, &run, &["not trusted", "no delegation"]);
}

#[test]
fn refuses_a_file_whose_delegation_was_tampered_with() {
    let chain = Chain::new();
    chain.sign_under_root("k");
    // Stretch the delegation's validity by ten years without the root.
    let bundle = String::from_utf8(chain.bundle()).unwrap();
    let block = delegation_block(bundle.as_bytes());
    let not_after: u64 = block
        .split("not_after=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    let stretched = block.replace(
        &format!("not_after={not_after}"),
        &format!("not_after={}", not_after + 3650 * DAY),
    );
    assert_ne!(stretched, block);
    chain.write_bundle(bundle.replace(&block, &stretched).as_bytes());
    let run = chain.install();
    assert_refused(&chain, &run, &["delegation", "tampered"]);
}

#[test]
fn refuses_an_expired_file_signature_unless_told_to_accept_it() {
    let chain = Chain::new();
    let key = chain.signing_key("k");
    let delegation = chain.delegate(&chain.root, &key, "60d", "quickinstall");
    chain.resign(&key, Some(&delegation), "1d");
    let later = now() + 2 * DAY;
    let run = chain.install_at(later);
    assert_refused(&chain, &run, &["signature of", "expired"]);
    run.stderr_has(&["--allow-expired-index"]);
    // The override named in the error works (an air-gapped mirror).
    chain
        .s
        .quickinstall()
        .args(["qi-hello", "--allow-expired-index"])
        .env("QUICKINSTALL_TEST_NOW", later.to_string())
        .run()
        .assert_success();
    assert_eq!(chain.s.run_installed("qi-hello"), "qi-hello 0.2.0");
}

#[test]
fn refuses_a_rollback_across_a_key_rotation() {
    let chain = Chain::new();
    chain.sign_under_root("old");
    let old_bundle = chain.bundle();
    chain
        .s
        .quickinstall()
        .arg("qi-hello@0.1.0")
        .run()
        .assert_success();
    chain.sign_under_root("new");
    chain.install().assert_success();
    assert_eq!(chain.s.run_installed("qi-hello"), "qi-hello 0.2.0");
    // The predecessor key's file is still validly signed under a still-valid delegation, but
    // older than what this client has seen.
    chain.write_bundle(&old_bundle);
    let run = chain
        .s
        .quickinstall()
        .args(["qi-hello@0.1.0", "--force"])
        .run();
    run.assert_exit(VERIFY);
    run.stderr_line_with(&["signed at", "before the copy this machine already saw"]);
    assert_eq!(chain.s.run_installed("qi-hello"), "qi-hello 0.2.0");
}

/// The delegation's window from its statement: (`not_before`, `not_after`).
fn window(block: &str) -> (u64, u64) {
    let field = |name: &str| -> u64 {
        block
            .split(&format!("{name}="))
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap()
            .parse()
            .unwrap()
    };
    (field("not_before"), field("not_after"))
}

#[test]
fn refuses_a_file_signed_before_or_after_its_delegations_window() {
    let chain = Chain::new();
    let key = chain.signing_key("k");
    let delegation = chain.delegate(&chain.root, &key, "1d", "quickinstall");
    chain.resign(&key, Some(&delegation), "30d");
    let bundle = chain.bundle();
    let block = delegation_block(&bundle);
    let (not_before, not_after) = window(&block);
    let path = index::package_path("qi-hello");
    let data = std::fs::read(chain.s.index_dir().join(&path)).unwrap();
    // The delegated key signs the same file, stamped an hour outside the grant on either side
    // (as a leaked key used once its delegation ran out would); the delegation itself is valid
    // now and the signature has not expired.
    for stamped in [not_before - 3600, not_after + 3600] {
        let comment = TrustedComment {
            path: path.clone(),
            timestamp: stamped,
            expires: Some(not_after + 30 * DAY),
        }
        .render();
        let signature = minisign::sign(None, &key.secret(), &data[..], Some(&comment), None)
            .unwrap()
            .into_string();
        chain.write_bundle(&bundle_v2(&block, &signature, &data));
        let run = chain.install();
        assert_refused(
            &chain,
            &run,
            &["was made at", "outside the window its delegation grants"],
        );
        // Not an expiry: the override for stale mirrors does not let it through.
        let run = chain
            .s
            .quickinstall()
            .args(["qi-hello", "--allow-expired-index"])
            .run();
        assert_refused(&chain, &run, &["outside the window its delegation grants"]);
    }
    // The bundle `resign` wrote, stamped inside the window, installs.
    chain.write_bundle(&bundle);
    chain.install().assert_success();
}

#[test]
fn refuses_a_bundle_with_two_delegations() {
    let chain = Chain::new();
    chain.sign_under_root("k");
    let bundle = chain.bundle();
    let block = delegation_block(&bundle);
    let header = format!("{BUNDLE_V2_HEADER}\n");
    let doubled = [header.as_bytes(), block.as_bytes(), &bundle[header.len()..]].concat();
    chain.write_bundle(&doubled);
    let run = chain.install();
    assert_refused(&chain, &run, &["2 delegations"]);
}

#[test]
fn explains_a_clock_ten_years_ahead() {
    let chain = Chain::new();
    chain.sign_under_root("k");
    let run = chain.install_at(now() + 3652 * DAY);
    assert_refused(&chain, &run, &["expired", "clock is probably wrong"]);
}

#[test]
fn explains_a_clock_ten_years_behind() {
    let chain = Chain::new();
    chain.sign_under_root("k");
    let run = chain.install_at(now() - 3652 * DAY);
    assert_refused(
        &chain,
        &run,
        &["valid only from", "clock is probably wrong"],
    );
    run.stderr_has(&["check this machine's clock"]);
}

#[test]
fn a_key_trusted_directly_reads_delegated_bundles_too() {
    let mut chain = Chain::new();
    let key = chain.sign_under_root("k");
    // A self-hoster trusting the signing key itself needs no root.
    chain.s.env.set("QUICKINSTALL_TRUSTED_ROOTS", "");
    chain
        .s
        .env
        .set("QUICKINSTALL_TRUSTED_KEYS", &key.public_b64);
    chain.install().assert_success();
}

#[test]
fn publish_under_a_delegation_writes_bundles_a_root_trusting_client_reads() {
    let chain = Chain::new();
    let key = chain.signing_key("k");
    let delegation = chain.delegate(&chain.root, &key, "60d", "quickinstall");
    // Publish the fixture builds afresh into the served directory, under the delegation.
    std::fs::remove_dir_all(chain.s.index_dir()).unwrap();
    let mut publish = chain
        .s
        .build_index()
        .arg("publish")
        .arg("--index")
        .arg(chain.s.index_dir())
        .arg("--secret-key")
        .arg(&key.secret_path)
        .arg("--delegation")
        .arg(&delegation)
        .args(["--signature-validity", "7d"]);
    for record in index::world().records.values() {
        publish = publish.arg(record);
    }
    publish.run().assert_success();
    assert!(chain.bundle().starts_with(BUNDLE_V2_HEADER.as_bytes()));
    chain.install().assert_success();
    assert_eq!(chain.s.run_installed("qi-hello"), "qi-hello 0.2.0");
    // The 7-day validity was used: eight days on, the file has expired.
    let run = chain
        .s
        .quickinstall()
        .args(["qi-hello", "--force"])
        .env("QUICKINSTALL_TEST_NOW", (now() + 8 * DAY).to_string())
        .run();
    run.assert_exit(VERIFY);
    run.stderr_line_with(&["signature of", "expired"]);
}

/// An `install.sh` served to the action's bootstrap step: it only leaves `name` in a marker.
fn fake_install_sh(name: &str) -> String {
    format!("echo {name} > \"$QI_MARKER\"\n")
}

/// Runs a copy of `action/bootstrap.sh` whose directory also holds `action_files` (what a
/// release tag's checkout of the action has beside it), against a loopback site holding
/// `site_files` (`QI_BOOTSTRAP_BASE`), with PATH holding system tools but no quickinstall client
/// (so it does not skip). Returns the run and which fake install.sh ran, if any.
fn bootstrap_action(
    action_files: &[(&str, &str)],
    site_files: &[(&str, &str)],
    vars: &[(&str, &str)],
) -> (Run, Option<String>) {
    let env = crate::support::env::TestEnv::new();
    let site = env.path().join("site");
    for (path, text) in site_files {
        let file = site.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    let action = env.path().join("action");
    std::fs::create_dir_all(&action).unwrap();
    let script = action.join("bootstrap.sh");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("action/bootstrap.sh"),
        &script,
    )
    .unwrap();
    for (name, text) in action_files {
        std::fs::write(action.join(name), text).unwrap();
    }
    let marker = env.path().join("ran");
    let server = crate::support::server::TestServer::serve(&site);
    let mut cmd = env
        .command("bash")
        .arg(script)
        .env("PATH", "/usr/bin:/bin")
        .env("RUNNER_TEMP", env.path())
        .env("QI_MARKER", &marker)
        .env("QI_BOOTSTRAP_BASE", server.url());
    for (name, value) in vars {
        let value = value.replace("[SITE]", &server.url());
        cmd = cmd.env(name, value);
    }
    let run = cmd.run();
    let ran = std::fs::read_to_string(&marker)
        .ok()
        .map(|s| s.trim().to_owned());
    (run, ran)
}

fn sha256(text: &str) -> String {
    crate::support::env::sha256_hex(text.as_bytes())
}

#[test]
fn a_pinned_action_runs_only_the_pinned_install_script() {
    let script = fake_install_sh("pinned");
    let site = [("install.sh", script.as_str())];
    let url = ("QI_BOOTSTRAP_URL", "[SITE]install.sh");
    let zeros = "0".repeat(64);
    let (run, ran) = bootstrap_action(&[], &site, &[url, ("QI_BOOTSTRAP_SHA256", &zeros)]);
    run.assert_exit(VERIFY);
    run.stderr_has(&["not the pinned", "not running it"]);
    assert_eq!(
        ran, None,
        "a script whose sha256 differs from the pin ran:\n{run}"
    );
    let pin = sha256(&script);
    let (run, ran) = bootstrap_action(&[], &site, &[url, ("QI_BOOTSTRAP_SHA256", &pin)]);
    run.assert_success();
    assert_eq!(ran.as_deref(), Some("pinned"), "{run}");
}

/// What the release workflow commits at a tag (`client-version`, `install.sh.sha256`) makes
/// the action download that release's install.sh by its versioned URL, not the latest.
#[test]
fn a_tagged_action_installs_its_releases_install_sh_by_version_and_pin() {
    let release = fake_install_sh("1.2.3");
    let latest = fake_install_sh("latest");
    let site = [
        ("install.sh", latest.as_str()),
        ("releases/1.2.3/install.sh", release.as_str()),
    ];
    let pin = format!("{}\n", sha256(&release));
    let action = [
        ("client-version", "1.2.3\n"),
        ("install.sh.sha256", pin.as_str()),
    ];
    let (run, ran) = bootstrap_action(&action, &site, &[]);
    run.assert_success();
    assert_eq!(ran.as_deref(), Some("1.2.3"), "{run}");
}

#[test]
fn a_tagged_action_refuses_a_versioned_install_sh_that_differs_from_its_pin() {
    let release = fake_install_sh("1.2.3");
    let swapped = fake_install_sh("swapped");
    let site = [("releases/1.2.3/install.sh", swapped.as_str())];
    let pin = sha256(&release);
    let action = [
        ("client-version", "1.2.3"),
        ("install.sh.sha256", pin.as_str()),
    ];
    let (run, ran) = bootstrap_action(&action, &site, &[]);
    run.assert_exit(VERIFY);
    run.stderr_has(&[
        "releases/1.2.3/install.sh",
        "not the pinned",
        "not running it",
    ]);
    run.stderr_has(&["help: the action pins install.sh of its release (1.2.3)"]);
    assert_eq!(ran, None, "{run}");
}

#[test]
fn a_development_checkout_of_the_action_runs_the_latest_install_sh_with_a_notice() {
    let latest = fake_install_sh("latest");
    let (run, ran) = bootstrap_action(&[], &[("install.sh", latest.as_str())], &[]);
    run.assert_success();
    run.stderr_has(&["not pinned", "development checkout"]);
    assert_eq!(ran.as_deref(), Some("latest"), "{run}");
    // The repository's own action directory is such a checkout: the pins exist only in the
    // commits the release workflow tags.
    let action = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("action");
    for pin in ["client-version", "install.sh.sha256"] {
        assert!(
            !action.join(pin).exists(),
            "action/{pin} belongs in release tags only"
        );
    }
}
