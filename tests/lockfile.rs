//! `quickinstall.toml` and `quickinstall.lock` (issue 18): `--sync` resolves and pins each tool
//! down to its archive's sha256, `--locked-tools` installs exactly that with one request per
//! tool (none on a second run, thanks to the archive cache), `--update` re-resolves and says
//! what changed, and every bad input is an error naming the file and line with nothing
//! installed. Real binaries against the loopback fixture index, registry and Go proxy.

use std::path::{Path, PathBuf};

use crate::support::env::{Run, TestCommand, TestEnv, copy_dir, quickinstall_exe, sha256_hex};
use crate::support::goproxy::{go_env, go_world};
use crate::support::index::{HELLO_BINS, Scenario, world};
use crate::support::registry::{Package, Registry};
use crate::support::server::TestServer;

/// Exit code for a verification failure.
const VERIFY: i32 = 3;

const TWO_TOOLS: &str = "[crates]\nqi-hello = \"0.2\"\nqi-tool = \"1\"\n";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn manifest(s: &TestEnv, text: &str) -> PathBuf {
    write(s.path(), "quickinstall.toml", text)
}

fn lock_text(s: &TestEnv) -> String {
    std::fs::read_to_string(s.path().join("quickinstall.lock")).unwrap()
}

fn lock(s: &TestEnv) -> toml::Value {
    toml::from_str(&lock_text(s)).unwrap()
}

fn locked_tool<'a>(lock: &'a toml::Value, name: &str) -> &'a toml::Value {
    lock["tool"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("`{name}` is not in the lock: {lock}"))
}

/// `cargo quickinstall --locked-tools` into a fresh root (a CI runner), with extra args.
fn locked_into(s: &Scenario, root: &str, extra: &[&str]) -> Run {
    s.quickinstall()
        .args(["--locked-tools", "--root"])
        .arg(s.path().join(root))
        .args(extra)
        .run()
}

/// Syncs `TWO_TOOLS`, asserting success.
fn synced() -> Scenario {
    let s = Scenario::new();
    manifest(&s, TWO_TOOLS);
    s.quickinstall().arg("--sync").run().assert_success();
    s
}

// --- what works ---

#[test]
fn sync_pins_each_tool_to_its_archive_and_installs_it() {
    let s = Scenario::new();
    manifest(&s, TWO_TOOLS);
    let run = s.quickinstall().arg("--sync").run();
    run.assert_exit(0);
    run.stderr_has(&["Adding", "qi-hello v0.2.0", "qi-tool v1.0.0"]);
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.2.0");
    assert_eq!(s.run_installed("qi-tool"), "qi-tool 1.0.0");
    let lock = lock(&s);
    let hello = locked_tool(&lock, "qi-hello");
    assert_eq!(hello["version"].as_str(), Some("0.2.0"));
    assert_eq!(
        hello["source-checksum"].as_str(),
        world().registry.cksum("qi-hello", "0.2.0").as_deref()
    );
    let artifact = &hello["artifact"][0];
    assert_eq!(artifact["target"].as_str(), Some(world().target.as_str()));
    assert_eq!(artifact["origin"].as_str(), Some("index"));
    let bytes = s.archive_bytes("qi-hello", "0.2.0");
    assert_eq!(
        artifact["sha256"].as_str(),
        Some(sha256_hex(&bytes).as_str())
    );
    assert_eq!(artifact["size"].as_integer(), Some(bytes.len() as i64));
    // The index key that signed the entry the sha256 comes from, as minisign names it.
    let index_key = minisign::PublicKey::from_base64(&world().key.public_b64).unwrap();
    let index_key_id = format!(
        "{:016X}",
        u64::from_le_bytes(index_key.keynum().try_into().unwrap())
    );
    assert_eq!(artifact["key-id"].as_str(), Some(index_key_id.as_str()));
    assert_eq!(
        artifact["url"].as_str().unwrap(),
        format!("{}{}", s.index.url(), s.archive_path("qi-hello", "0.2.0"))
    );
    let bins: Vec<_> = artifact["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    assert_eq!(bins, HELLO_BINS);
}

#[test]
fn the_lock_is_canonical_and_a_second_sync_leaves_it_byte_for_byte() {
    let s = synced();
    let first = lock_text(&s);
    assert!(first.starts_with("# quickinstall.lock"), "{first}");
    assert!(
        first.find("name = \"qi-hello\"").unwrap() < first.find("name = \"qi-tool\"").unwrap(),
        "tools are not sorted:\n{first}"
    );
    // Reordering and commenting the manifest changes nothing, and nothing is re-resolved.
    manifest(
        &s,
        "# our tools\n[crates]\nqi-tool = \"1\"\n\nqi-hello = \"0.2\"\n",
    );
    let registry_before = s.registry.server.requests();
    s.quickinstall().arg("--sync").run().assert_success();
    assert_eq!(lock_text(&s), first);
    assert_eq!(s.registry.server.requests(), registry_before, "re-resolved");
}

#[test]
fn locked_tools_makes_one_request_per_tool_and_no_lookup() {
    let s = synced();
    let (index_before, registry_before) = (s.index.log().len(), s.registry.server.requests());
    let run = locked_into(&s, "ci", &["--no-cache"]);
    run.assert_exit(0);
    assert_eq!(
        s.registry.server.requests(),
        registry_before,
        "the registry was asked"
    );
    let mut sorted: Vec<String> = s.index.log()[index_before..]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    let mut expected = vec![
        s.archive_path("qi-hello", "0.2.0"),
        s.archive_path("qi-tool", "1.0.0"),
    ];
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected, "requests beyond the archives:\n{run}");
    let bin = s.path().join("ci/bin");
    assert!(bin.join("qi-hello").is_file() && bin.join("qi-tool").is_file());
}

#[test]
fn a_second_locked_run_downloads_nothing() {
    let s = synced();
    locked_into(&s, "ci-1", &[]).assert_success();
    let before = (s.index.requests(), s.registry.server.requests());
    // A fresh root (another CI job), the same archive cache: zero requests.
    let run = locked_into(&s, "ci-2", &[]);
    run.assert_success();
    assert_eq!(
        (s.index.requests(), s.registry.server.requests()),
        before,
        "{run}"
    );
    assert!(s.path().join("ci-2/bin/qi-hello").is_file());
}

#[test]
fn finds_the_manifest_from_a_subdirectory() {
    let s = Scenario::new();
    manifest(&s, TWO_TOOLS);
    std::fs::create_dir_all(s.path().join("src/deep")).unwrap();
    let run = in_dir(&s, s.quickinstall(), "src/deep").arg("--sync").run();
    run.assert_success();
    assert!(s.path().join("quickinstall.lock").is_file(), "{run}");
    assert!(!s.path().join("src/deep/quickinstall.lock").exists());
    assert_eq!(s.run_installed("qi-tool"), "qi-tool 1.0.0");
}

/// `cmd` run from `sub` (a directory inside the env), through `sh -c 'cd … && exec …'`.
fn in_dir(s: &TestEnv, cmd: TestCommand, sub: &str) -> TestCommand {
    drop(cmd);
    s.command("sh").args([
        "-c",
        &format!(
            "cd '{}' && exec '{}' \"$@\"",
            s.path().join(sub).display(),
            quickinstall_exe().display()
        ),
        "cargo-quickinstall",
    ])
}

#[test]
fn the_manifest_flag_names_another_manifest_and_the_lock_goes_beside_it() {
    let s = Scenario::new();
    write(s.path(), "tools/quickinstall.toml", TWO_TOOLS);
    s.quickinstall()
        .args(["--sync", "--manifest", "tools/quickinstall.toml"])
        .run()
        .assert_success();
    assert!(s.path().join("tools/quickinstall.lock").is_file());
    let run = s
        .quickinstall()
        .args(["--locked-tools", "--manifest", "missing.toml"])
        .run();
    run.assert_exit(1)
        .stderr_has(&["missing.toml", "does not exist"]);
}

#[test]
fn update_re_resolves_and_prints_old_and_new_versions_installing_nothing() {
    let mut s = Scenario::new();
    // A registry of our own, so a newer version can appear after the lock was written.
    let root = s.path().join("registry");
    let world_root = world().sources["qi-tool@1.0.0"]
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    copy_dir(&world_root, &root);
    let registry = Registry::new(&root);
    let served = registry.serve();
    s.env.set("QUICKINSTALL_REGISTRY", served.sparse_url());
    manifest(&s, TWO_TOOLS);
    s.quickinstall().arg("--sync").run().assert_success();
    Package::new("qi-tool", "1.1.0").publish(&registry);
    let bin_before = crate::support::env::snapshot(&s.bin_dir());
    let run = s.quickinstall().args(["--update", "qi-tool"]).run();
    run.assert_exit(0);
    run.stderr_line_with(&["Updating", "qi-tool v1.0.0 -> v1.1.0"]);
    let lock = lock(&s);
    assert_eq!(
        locked_tool(&lock, "qi-tool")["version"].as_str(),
        Some("1.1.0")
    );
    // Not in the index: locked as a build from source.
    assert_eq!(
        locked_tool(&lock, "qi-tool")["artifact"][0]["origin"].as_str(),
        Some("build")
    );
    assert_eq!(
        locked_tool(&lock, "qi-hello")["version"].as_str(),
        Some("0.2.0")
    );
    assert_eq!(crate::support::env::snapshot(&s.bin_dir()), bin_before);
    // An unknown name is refused.
    s.quickinstall()
        .args(["--update", "nope"])
        .run()
        .assert_exit(1)
        .stderr_has(&["`nope` is not a tool of"]);
}

#[test]
fn a_tool_locked_as_a_build_is_built_at_the_locked_version() {
    let s = Scenario::new();
    manifest(&s, "[crates]\nqi-fallback = \"0.1\"\n");
    s.quickinstall().args(["--update"]).run().assert_success();
    let lock = lock(&s);
    let tool = locked_tool(&lock, "qi-fallback");
    assert_eq!(tool["artifact"][0]["origin"].as_str(), Some("build"));
    let run = s.quickinstall().arg("--locked-tools").run();
    run.assert_exit(0);
    run.stderr_has(&["locks it as a build from source"]);
    assert_eq!(s.run_installed("qi-fallback"), "qi-fallback 0.1.0");
}

#[test]
fn gquick_sync_locks_and_installs_go_packages_sharing_the_code() {
    let world = go_world();
    let mut env = go_env(TestEnv::new());
    env.set("GOBIN", env.path().join("gobin"));
    let index_dir = env.path().join("index");
    copy_dir(&world.index, &index_dir);
    let index = TestServer::serve(&index_dir);
    let proxy = world.proxy.serve();
    env.set("QUICKINSTALL_INDEX", index.url());
    env.set("QUICKINSTALL_TRUSTED_KEYS", &world.key.public_b64);
    env.set("GOPROXY", proxy.url());
    manifest(
        &env,
        "[go]\n\"example.com/qitool/cmd/qi-alpha\" = \"v1.1\"\n",
    );
    let gquick = || env.command(env!("CARGO_BIN_EXE_gquick"));
    let run = gquick().arg("sync").run();
    run.assert_exit(0);
    let lock = lock(&env);
    let tool = locked_tool(&lock, "example.com/qitool/cmd/qi-alpha");
    assert_eq!(tool["kind"].as_str(), Some("go"));
    assert_eq!(tool["version"].as_str(), Some("v1.1.0"));
    assert_eq!(tool["artifact"][0]["origin"].as_str(), Some("index"));
    assert!(env.path().join("gobin/qi-alpha").is_file(), "{run}");
    // The CI mode: no proxy, no index file; the archive from the cache (zero requests).
    let before = (index.requests(), proxy.requests());
    let run = gquick()
        .args(["sync", "--locked"])
        .env("GOBIN", env.path().join("gobin-2"))
        .run();
    run.assert_exit(0);
    assert_eq!((index.requests(), proxy.requests()), before, "{run}");
    assert!(env.path().join("gobin-2/qi-alpha").is_file(), "{run}");
    // And `cargo quickinstall --locked-tools` reads the same lock.
    env.command(quickinstall_exe())
        .args(["--locked-tools", "--no-cache"])
        .env("GOBIN", env.path().join("gobin-3"))
        .run()
        .assert_exit(0);
    assert!(env.path().join("gobin-3/qi-alpha").is_file());
    assert_eq!(proxy.requests(), before.1);
}

// --- bad input: an error naming the file and line, nothing installed ---

/// Runs `args` in `s` and asserts exit `code`, that stderr has `fragments`, and that nothing on
/// disk changed (no binary, no lock).
fn refused(s: &Scenario, args: &[&str], code: i32, fragments: &[&str]) -> Run {
    let before = s.disk_state();
    let run = s.quickinstall().args(args).run();
    run.assert_exit(code).stderr_has(fragments);
    run.stderr_has(&["help:"]);
    assert_eq!(s.disk_state(), before, "something changed on disk:\n{run}");
    run
}

#[test]
fn a_manifest_that_is_not_toml_is_refused_with_its_line() {
    let s = Scenario::new();
    manifest(&s, "[crates]\nqi-hello = \"0.2\"\nqi-tool = 1.0.0\n");
    refused(&s, &["--sync"], 1, &["quickinstall.toml:3:"]);
}

#[test]
fn an_unknown_key_is_refused_with_its_line() {
    let s = Scenario::new();
    manifest(
        &s,
        "[crates]\nqi-hello = \"0.2\"\n\n[tools]\nqi-tool = \"1\"\n",
    );
    refused(&s, &["--sync"], 1, &["quickinstall.toml:4:", "tools"]);
    manifest(
        &s,
        "[crates]\nqi-hello = { version = \"0.2\", bins = [\"qi-hello\"] }\n",
    );
    refused(
        &s,
        &["--sync"],
        1,
        &["quickinstall.toml:2:", "unknown key `bins`"],
    );
}

#[test]
fn a_bad_requirement_is_refused_with_its_line() {
    let s = Scenario::new();
    manifest(
        &s,
        "[crates]\nqi-tool = \"1\"\nqi-hello = \"zero point two\"\n",
    );
    refused(
        &s,
        &["--sync"],
        1,
        &[
            "quickinstall.toml:3:",
            "`qi-hello`",
            "not a version requirement",
        ],
    );
}

#[test]
fn a_go_query_that_is_not_one_is_refused_with_its_line() {
    let s = Scenario::new();
    manifest(
        &s,
        "[crates]\nqi-tool = \"1\"\n[go]\n\"example.com/qitool\" = \"<=v1.2\"\n",
    );
    refused(
        &s,
        &["--sync"],
        1,
        &[
            "quickinstall.toml:4:",
            "example.com/qitool",
            "not a Go version query",
        ],
    );
}

#[test]
fn a_lock_edited_by_hand_fails_verification_and_installs_nothing() {
    let s = synced();
    let real = sha256_hex(&s.archive_bytes("qi-tool", "1.0.0"));
    let forged = sha256_hex(b"something else");
    std::fs::write(
        s.path().join("quickinstall.lock"),
        lock_text(&s).replace(&real, &forged),
    )
    .unwrap();
    let run = locked_into(&s, "ci", &["--no-cache"]);
    run.assert_exit(VERIFY);
    run.stderr_has(&["qi-tool", "quickinstall.lock", "edited by hand"]);
    assert!(
        !s.path().join("ci/bin/qi-tool").exists(),
        "the forged tool was installed:\n{run}"
    );
}

#[test]
fn a_lock_older_than_the_manifest_says_run_sync() {
    let s = Scenario::new();
    manifest(&s, "[crates]\nqi-hello = \"0.2\"\n");
    s.quickinstall().arg("--sync").run().assert_success();
    manifest(&s, TWO_TOOLS);
    let before = s.disk_state();
    let run = locked_into(&s, "ci", &[]);
    run.assert_exit(1).stderr_has(&[
        "quickinstall.toml:3:",
        "`qi-tool` is in the manifest but not in",
        "--sync",
    ]);
    assert_eq!(s.disk_state(), before, "{run}");
}

#[test]
fn a_lock_for_another_target_set_is_refused() {
    let s = Scenario::new();
    let host = &world().target;
    manifest(&s, &format!("targets = [\"{host}\"]\n{TWO_TOOLS}"));
    s.quickinstall().arg("--sync").run().assert_success();
    manifest(
        &s,
        &format!("targets = [\"{host}\", \"riscv64gc-unknown-linux-musl\"]\n{TWO_TOOLS}"),
    );
    let before = s.disk_state();
    let run = locked_into(&s, "ci", &[]);
    run.assert_exit(1).stderr_has(&[
        "quickinstall.lock:",
        "was made for targets",
        "riscv64gc-unknown-linux-musl",
        "--sync",
    ]);
    assert_eq!(s.disk_state(), before, "{run}");
}

#[test]
fn a_lock_without_this_hosts_target_is_refused() {
    let s = Scenario::new();
    // Resolved for another machine only: no prebuilt there, so locked as a build for it.
    manifest(
        &s,
        "targets = [\"riscv64gc-unknown-linux-musl\"]\n[crates]\nqi-tool = \"1\"\n",
    );
    s.quickinstall().arg("--update").run().assert_success();
    let before = s.disk_state();
    let run = s.quickinstall().arg("--locked-tools").run();
    run.assert_exit(1).stderr_has(&[
        "quickinstall.lock:",
        "`qi-tool` is locked for riscv64gc-unknown-linux-musl only",
        "help:",
    ]);
    assert_eq!(s.disk_state(), before, "{run}");
}

#[test]
fn two_tools_providing_the_same_binary_are_refused() {
    let s = Scenario::new();
    manifest(
        &s,
        "[crates]\nqi-hello = { version = \"0.2\", bin = [\"qi-tool\"] }\nqi-tool = { version = \"1\", bin = [\"qi-tool\"] }\n",
    );
    refused(
        &s,
        &["--sync"],
        1,
        &["quickinstall.toml:3:", "both provide the binary `qi-tool`"],
    );
}

#[test]
fn two_locked_tools_providing_the_same_binary_are_refused() {
    let s = synced();
    // A hand-edited lock where qi-tool's archive claims a binary of qi-hello.
    let text = lock_text(&s).replace(
        "binaries = [\"qi-tool\"]",
        "binaries = [\"qi-tool\", \"qi-hello\"]",
    );
    std::fs::write(s.path().join("quickinstall.lock"), text).unwrap();
    let run = locked_into(&s, "ci", &[]);
    run.assert_exit(1)
        .stderr_has(&["quickinstall.lock:", "both provide the binary `qi-hello`"]);
    assert!(!s.path().join("ci").exists(), "{run}");
}

#[test]
fn locked_tools_without_a_lock_says_run_sync() {
    let s = Scenario::new();
    manifest(&s, TWO_TOOLS);
    refused(&s, &["--locked-tools"], 1, &["has no lock", "--sync"]);
}

#[test]
fn no_manifest_anywhere_is_an_error_and_flags_are_exclusive() {
    let s = Scenario::new();
    refused(&s, &["--sync"], 1, &["no `quickinstall.toml`"]);
    let run = s.quickinstall().args(["--sync", "qi-tool"]).run();
    run.assert_exit(2);
    let run = s
        .quickinstall()
        .args(["--manifest", "x.toml", "qi-tool"])
        .run();
    run.assert_exit(2);
}

#[test]
fn the_actions_manifest_input_installs_the_locked_tools() {
    let s = synced();
    let before = (s.index.log().len(), s.registry.server.requests());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("action/install-locked.sh");
    let github_path = s.path().join("github_path");
    std::fs::write(&github_path, "").unwrap();
    let mut path = std::ffi::OsString::from(quickinstall_exe().parent().unwrap());
    if let Some(parent) = crate::support::env::parent_var("PATH") {
        path.push(":");
        path.push(parent);
    }
    let run = s
        .command("bash")
        .arg(&script)
        .env("PATH", &path)
        .env("QI_MANIFEST", "quickinstall.toml")
        .env("QI_TELEMETRY", "false")
        .env("QI_CACHE_DIR", s.path().join("action-cache"))
        .env("CARGO_HOME", s.path().join("runner-home"))
        .env("GITHUB_PATH", &github_path)
        .run();
    run.assert_exit(0);
    assert!(s.path().join("runner-home/bin/qi-hello").is_file(), "{run}");
    assert_eq!(
        s.registry.server.requests(),
        before.1,
        "the registry was asked"
    );
    assert_eq!(
        s.index.log().len() - before.0,
        2,
        "one request per tool:\n{run}"
    );
    let written = std::fs::read_to_string(&github_path).unwrap();
    assert!(written.contains("runner-home/bin"), "{written}");
    // A stale lock fails the step, naming the manifest's line.
    manifest(&s, &format!("{TWO_TOOLS}qi-fallback = \"0.1\"\n"));
    let run = s
        .command("bash")
        .arg(&script)
        .env("PATH", &path)
        .env("QI_MANIFEST", "quickinstall.toml")
        .env("CARGO_HOME", s.path().join("runner-home-2"))
        .run();
    run.assert_exit(1)
        .stderr_has(&["quickinstall.toml:4:", "--sync"]);
    assert!(!s.path().join("runner-home-2/bin").exists(), "{run}");
}

#[test]
fn a_signed_pool_archive_is_locked_by_its_sha256_and_key_id() {
    use crate::support::index::{Entry, tar_gz};
    let mut s = Scenario::new();
    let pool_dir = tempfile::tempdir().unwrap();
    let pool = TestServer::serve(pool_dir.path());
    let key = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    s.env.set(
        "QUICKINSTALL_QUICKINSTALL_POOL",
        pool.url().trim_end_matches('/'),
    );
    s.env
        .set("QUICKINSTALL_QUICKINSTALL_KEY", key.pk.to_base64());
    let registry = s.registry.sparse_url();
    s.env.set("QUICKINSTALL_PUBLIC_REGISTRY", registry);
    let target = &world().target;
    let archive = tar_gz(&[Entry::File {
        name: "qi-fallback",
        mode: 0o755,
        data: b"#!/bin/sh\necho 'from the pool'\n",
    }]);
    let path = format!("qi-fallback-0.1.0/qi-fallback-0.1.0-{target}.tar.gz");
    write(pool_dir.path(), &path, "");
    std::fs::write(pool_dir.path().join(&path), &archive).unwrap();
    let sig = minisign::sign(None, &key.sk, &archive[..], None, None).unwrap();
    write(pool_dir.path(), &format!("{path}.sig"), &sig.to_string());
    manifest(
        &s,
        &format!(
            "targets = [\"{target}\"]\n[crates]\nqi-fallback = {{ version = \"0.1\", sources = [\"quickinstall\"] }}\n"
        ),
    );
    let run = s.quickinstall().arg("--sync").run();
    run.assert_exit(0);
    assert_eq!(s.run_installed("qi-fallback"), "from the pool");
    let lock = lock(&s);
    let artifact = &locked_tool(&lock, "qi-fallback")["artifact"][0];
    assert_eq!(artifact["origin"].as_str(), Some("quickinstall"));
    assert_eq!(
        artifact["sha256"].as_str(),
        Some(sha256_hex(&archive).as_str())
    );
    let key_id = format!(
        "{:016X}",
        u64::from_le_bytes(key.pk.keynum().try_into().unwrap())
    );
    assert_eq!(artifact["key-id"].as_str(), Some(key_id.as_str()), "{run}");
    // CI: the archive alone, no signature probe, sha256 checked.
    let before = pool.requests();
    let run = locked_into(&s, "ci", &["--no-cache"]);
    run.assert_exit(0);
    assert_eq!(pool.requests() - before, 1, "{:?}", pool.paths());
    assert!(s.path().join("ci/bin/qi-fallback").is_file(), "{run}");
}
