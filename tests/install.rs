//! The client's happy paths: what gets installed, where, how cargo sees it, and what it prints.

use crate::support::env::run_binary;
use crate::support::index::{self, HELLO_BINS, Scenario, world};

/// Lines of `cargo install --list` for one crate: its header and its indented binaries.
fn cargo_list_entry(s: &Scenario, name: &str) -> Option<(String, Vec<String>)> {
    let run = s.cargo().args(["install", "--list"]).run();
    run.assert_success();
    let mut lines = run.stdout.lines();
    let header = lines
        .by_ref()
        .find(|l| l.starts_with(&format!("{name} v")))?
        .to_owned();
    let bins = lines
        .take_while(|l| l.starts_with(' '))
        .map(|l| l.trim().to_owned())
        .collect();
    Some((header, bins))
}

#[test]
fn installs_prebuilt_binaries_that_run() {
    let s = Scenario::new();
    let run = s.quickinstall().arg("qi-hello").run();
    run.assert_exit(0);
    run.stderr_line_with(&["Installed `qi-hello 0.2.0`"]);
    run.stderr_has(&["qi-hello-admin"]);
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.2.0");
    assert_eq!(s.run_installed("qi-hello-admin"), "qi-hello-admin 0.2.0");
    // Prebuilt, not compiled: the fallback's target dir was never created.
    assert!(!s.target_dir().exists(), "something was compiled:\n{run}");
}

#[test]
fn says_when_the_bin_dir_is_not_on_path_as_cargo_install_does() {
    let mut s = Scenario::new();
    let warning = format!(
        "warning: be sure to add `{}` to your PATH to be able to run the installed binaries",
        s.bin_dir().display()
    );
    let said =
        |run: &crate::support::env::Run| run.stderr.lines().filter(|l| *l == warning).count();
    // The scenario's PATH has the bin dir, as a machine set up for cargo does: nothing said.
    let run = s.quickinstall().arg("qi-tool").run();
    run.assert_success();
    assert_eq!(said(&run), 0, "{run}");
    let without: Vec<_> = std::env::split_paths(&crate::support::env::parent_var("PATH").unwrap())
        .filter(|d| *d != s.bin_dir())
        .collect();
    s.env.set("PATH", std::env::join_paths(without).unwrap());
    // Once per run, after two installs; not when nothing was installed, nor with --quiet.
    let run = s.quickinstall().args(["qi-hello", "qi-tool"]).run();
    run.assert_success();
    assert_eq!(said(&run), 1, "{run}");
    let run = s.quickinstall().arg("qi-hello").run();
    run.stderr_has(&["already installed"]);
    assert_eq!(said(&run), 0, "{run}");
    let run = s
        .quickinstall()
        .args(["--quiet", "--force", "qi-hello"])
        .run();
    run.assert_success();
    assert_eq!(said(&run), 0, "{run}");
}

#[test]
fn works_when_cargo_runs_it_as_a_subcommand() {
    let s = Scenario::new();
    s.quickinstall()
        .args(["quickinstall", "qi-hello"])
        .run()
        .assert_exit(0);
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.2.0");
}

#[test]
fn cargo_install_list_shows_the_install() {
    let s = Scenario::new();
    s.quickinstall().arg("qi-hello").run().assert_success();
    let (header, bins) = cargo_list_entry(&s, "qi-hello").expect("qi-hello is not listed");
    assert!(
        header.starts_with("qi-hello v0.2.0") && header.ends_with(':'),
        "{header}"
    );
    assert_eq!(bins, HELLO_BINS);
}

#[test]
fn list_shows_what_cargo_install_list_shows() {
    let s = Scenario::new();
    s.quickinstall().arg("qi-hello").run().assert_success();
    let ours = s.quickinstall().arg("--list").run();
    ours.assert_success();
    let cargo = s.cargo().args(["install", "--list"]).run();
    assert_eq!(ours.stdout, cargo.stdout, "{ours}");
    assert!(ours.stdout.contains("qi-hello v0.2.0"), "{ours}");
    assert!(ours.stdout.contains("    qi-hello-admin"), "{ours}");
}

#[test]
fn cargo_uninstall_removes_the_install() {
    let s = Scenario::new();
    s.quickinstall().arg("qi-hello").run().assert_success();
    s.cargo()
        .args(["uninstall", "qi-hello"])
        .run()
        .assert_success();
    for bin in HELLO_BINS {
        assert!(!s.bin_dir().join(bin).exists(), "{bin} is still installed");
    }
    assert_eq!(cargo_list_entry(&s, "qi-hello"), None);
}

#[test]
fn picks_the_newest_version_that_is_neither_yanked_nor_a_prerelease() {
    let s = Scenario::new();
    s.quickinstall().arg("qi-hello").run().assert_success();
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.2.0");
    for skipped in ["0.2.1", "0.3.0-beta.1"] {
        assert_eq!(
            s.index.requests_for(&s.archive_path("qi-hello", skipped)),
            0,
            "the archive of {skipped} was fetched"
        );
    }
}

#[test]
fn a_requirement_after_the_at_sign_picks_the_matching_version() {
    let s = Scenario::new();
    s.quickinstall()
        .arg("qi-hello@^0.1")
        .run()
        .assert_success()
        .stderr_has(&["Installed `qi-hello 0.1.0`"]);
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.1.0");
}

#[test]
fn the_version_flag_picks_an_exact_version() {
    let s = Scenario::new();
    s.quickinstall()
        .args(["qi-hello", "--version", "=0.1.0"])
        .run()
        .assert_success();
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.1.0");
}

#[test]
fn an_exact_pin_asks_the_registry_only_beside_the_archive() {
    let s = Scenario::new();
    s.quickinstall()
        .args(["qi-hello", "--version", "=0.2.0"])
        .run()
        .assert_success();
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.2.0");
    // No lookup before the archive: the signed bundle names it. The registry is asked once,
    // whether the version is yanked, while the archive comes.
    let asked = s.registry.server.paths();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0].ends_with(&crate::support::registry::sparse_path("qi-hello")),
        "{asked:?}"
    );
    // One request for the signed bundle, one for the archive.
    let mut expected = vec![
        index::bundle_path("qi-hello"),
        s.archive_path("qi-hello", "0.2.0"),
    ];
    expected.sort();
    assert_eq!(s.index.paths(), expected);
}

#[test]
fn an_exact_pin_of_a_yanked_version_is_refused_as_cargo_install_refuses_it() {
    let s = Scenario::new();
    let before = s.disk_state();
    for pin in ["qi-yanked@0.1.0", "qi-yanked@=0.1.0"] {
        let run = s.quickinstall().arg(pin).run();
        run.assert_exit(1);
        run.stderr_line_with(&["`qi-yanked 0.1.0` has been yanked from the registry"]);
        run.stderr_line_with(&["help:", "yanked version is not installed"]);
        assert_eq!(s.disk_state(), before, "{run}");
    }
    // A registry that cannot be asked does not stop a signed install: it is said aloud.
    let mut s = Scenario::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("sparse+http://{}/", closed.local_addr().unwrap());
    drop(closed);
    s.env.set("QUICKINSTALL_REGISTRY", url);
    let run = s.quickinstall().arg("qi-tool@1.0.0").run();
    run.assert_success();
    run.stderr_line_with(&[
        "warning:",
        "whether the versions asked for exactly are yanked (`qi-tool 1.0.0`",
        "installing them anyway",
    ]);
    assert_eq!(s.run_installed("qi-tool"), "qi-tool 1.0.0");
}

#[test]
fn an_installed_version_is_left_alone() {
    let s = Scenario::new();
    s.quickinstall().arg("qi-hello").run().assert_success();
    let before = s.disk_state();
    let archive_requests = s.index.requests_for(&s.archive_path("qi-hello", "0.2.0"));
    s.quickinstall()
        .arg("qi-hello")
        .run()
        .assert_exit(0)
        .stderr_has(&["`qi-hello 0.2.0` is already installed"]);
    assert_eq!(s.disk_state(), before);
    assert_eq!(
        s.index.requests_for(&s.archive_path("qi-hello", "0.2.0")),
        archive_requests,
        "the archive was downloaded again"
    );
}

#[test]
fn upgrades_an_older_install() {
    let s = Scenario::new();
    s.quickinstall()
        .arg("qi-hello@0.1.0")
        .run()
        .assert_success();
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.1.0");
    s.quickinstall()
        .arg("qi-hello")
        .run()
        .assert_success()
        .stderr_has(&["Installed `qi-hello 0.2.0`"]);
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.2.0");
    assert_eq!(s.run_installed("qi-hello-admin"), "qi-hello-admin 0.2.0");
    let (header, _) = cargo_list_entry(&s, "qi-hello").unwrap();
    assert!(header.starts_with("qi-hello v0.2.0"), "{header}");
}

#[test]
fn force_reinstalls_an_installed_version() {
    let s = Scenario::new();
    s.quickinstall().arg("qi-hello").run().assert_success();
    // Damage the installed binary: only a real reinstall repairs it.
    std::fs::write(s.bin_dir().join("qi-hello"), b"#!/bin/sh\necho damaged\n").unwrap();
    s.quickinstall()
        .args(["qi-hello", "--force"])
        .run()
        .assert_success()
        .stderr_has(&["Installed `qi-hello 0.2.0`"]);
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.2.0");
}

#[test]
fn installs_into_the_root_given_by_the_flag() {
    let s = Scenario::new();
    let root = s.path().join("root");
    s.quickinstall()
        .arg("qi-hello")
        .arg("--root")
        .arg(&root)
        .run()
        .assert_success();
    assert_eq!(run_binary(&root.join("bin/qi-hello")), "qi-hello 0.2.0");
    let tracker = std::fs::read_to_string(root.join(".crates.toml")).unwrap();
    assert!(tracker.contains("qi-hello 0.2.0"), "{tracker}");
    assert!(root.join(".crates2.json").is_file());
    assert!(!s.bin_dir().exists(), "CARGO_HOME/bin was used too");
}

#[test]
fn installs_into_cargo_install_root() {
    let s = Scenario::new();
    let root = s.path().join("install-root");
    s.quickinstall()
        .arg("qi-hello")
        .env("CARGO_INSTALL_ROOT", &root)
        .run()
        .assert_success();
    assert_eq!(run_binary(&root.join("bin/qi-hello")), "qi-hello 0.2.0");
    assert!(!s.bin_dir().exists(), "CARGO_HOME/bin was used instead");
    // cargo finds it there too.
    let list = s
        .cargo()
        .args(["install", "--list"])
        .env("CARGO_INSTALL_ROOT", &root)
        .run();
    list.assert_success().stdout_has(&["qi-hello v0.2.0"]);
}

#[test]
fn installs_several_crates_in_one_call() {
    let s = Scenario::new();
    let run = s.quickinstall().args(["qi-hello", "qi-tool"]).run();
    run.assert_exit(0)
        .stderr_has(&["Installed `qi-hello 0.2.0`", "Installed `qi-tool 1.0.0`"]);
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.2.0");
    assert_eq!(s.run_installed("qi-tool"), "qi-tool 1.0.0");
}

#[test]
fn json_output_has_one_object_per_crate() {
    let s = Scenario::new();
    let run = s
        .quickinstall()
        .args(["--json", "qi-hello", "qi-tool"])
        .run();
    run.assert_success();
    let mut objects = run.json_lines();
    objects.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    assert_eq!(objects.len(), 2, "{run}");
    let hello = &objects[0];
    assert_eq!(hello["name"], "qi-hello", "{hello}");
    assert_eq!(hello["version"], "0.2.0", "{hello}");
    assert_eq!(hello["target"], world().target.as_str(), "{hello}");
    assert_eq!(hello["source"], "prebuilt", "{hello}");
    assert_eq!(hello["binaries"], serde_json::json!(HELLO_BINS), "{hello}");
    assert_eq!(hello["ok"], true, "{hello}");
    assert!(hello["error"].is_null(), "{hello}");
    let seconds = hello["seconds"].as_f64().expect("seconds is a number");
    assert!(seconds > 0.0 && seconds < 60.0, "{hello}");
    let paths: Vec<&str> = hello["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let expected: Vec<String> = HELLO_BINS
        .iter()
        .map(|b| s.bin_dir().join(b).to_string_lossy().into_owned())
        .collect();
    assert_eq!(paths, expected, "{hello}");
    assert_eq!(objects[1]["name"], "qi-tool");
    assert_eq!(objects[1]["ok"], true);
}

#[test]
fn json_reports_an_already_installed_crate() {
    let s = Scenario::new();
    s.quickinstall().arg("qi-hello").run().assert_success();
    let run = s.quickinstall().args(["--json", "qi-hello"]).run();
    run.assert_success();
    let objects = run.json_lines();
    assert_eq!(objects.len(), 1, "{run}");
    assert_eq!(objects[0]["source"], "already-installed", "{run}");
    assert_eq!(objects[0]["ok"], true, "{run}");
}

#[test]
fn dry_run_changes_nothing() {
    let s = Scenario::new();
    let before = s.disk_state();
    let run = s.quickinstall().args(["--dry-run", "qi-hello"]).run();
    run.assert_success();
    run.stdout
        .lines()
        .find(|l| l.contains("would install") && l.contains("qi-hello"))
        .unwrap_or_else(|| panic!("no `would install` line for qi-hello:\n{run}"));
    assert_eq!(s.disk_state(), before);
    assert_eq!(
        s.index.requests_for(&s.archive_path("qi-hello", "0.2.0")),
        0,
        "a dry run downloaded the archive"
    );
}

#[test]
fn a_file_url_index_works() {
    let s = Scenario::new();
    let url = format!("file://{}", s.index_dir().display());
    s.quickinstall()
        .arg("qi-hello")
        .env("QUICKINSTALL_INDEX", &url)
        .run()
        .assert_success();
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.2.0");
    assert_eq!(s.index.requests(), 0);
}

#[test]
fn a_plain_directory_index_works() {
    let s = Scenario::new();
    s.quickinstall()
        .arg("qi-hello")
        .arg("--release-index")
        .arg(s.index_dir())
        .run()
        .assert_success();
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.2.0");
    assert_eq!(s.index.requests(), 0);
}

#[test]
fn the_trusted_key_flag_accepts_a_pub_file() {
    let s = Scenario::new();
    s.quickinstall()
        .arg("qi-hello")
        .arg("--trusted-key")
        .arg(&world().key.public_path)
        .env_remove("QUICKINSTALL_TRUSTED_KEYS")
        .run()
        .assert_success();
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.2.0");
}

#[test]
fn installs_from_an_index_served_by_build_index_serve() {
    let s = Scenario::new();
    let (_server, url) = crate::producer::serve(&s, &s.index_dir());
    s.quickinstall()
        .arg("qi-hello")
        .env("QUICKINSTALL_INDEX", &url)
        .run()
        .assert_success();
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.2.0");
    assert_eq!(s.index.requests(), 0, "the TestServer was used instead");
}

#[test]
fn concurrent_installs_and_a_real_cargo_install_all_stay_recorded() {
    let s = Scenario::new();
    // Two quickinstall processes and one `cargo install` (through quickinstall's fallback,
    // which runs the real cargo) write the same tracker at once; cargo's file locks must keep
    // every entry.
    let children = vec![
        s.quickinstall().arg("qi-hello").spawn(),
        s.quickinstall().arg("qi-tool").spawn(),
        s.quickinstall().arg("qi-fallback").spawn(),
    ];
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for name in ["qi-hello", "qi-tool", "qi-fallback"] {
        assert!(
            cargo_list_entry(&s, name).is_some(),
            "`{name}` is missing from cargo install --list"
        );
    }
    assert_eq!(s.run_installed("qi-tool"), "qi-tool 1.0.0");
    assert_eq!(s.run_installed("qi-fallback"), "qi-fallback 0.1.0");
}

#[test]
fn a_second_install_takes_the_verified_archive_from_the_cache() {
    let s = Scenario::new();
    let cache = s.path().join("archive-cache");
    let archive = index::find_release(&s.package("qi-hello"), "0.2.0", &world().target)["archive"]
        .as_str()
        .unwrap()
        .to_owned();
    let install = |root: &str| {
        s.quickinstall()
            .args(["qi-hello", "--root", root, "--cache-dir"])
            .arg(cache.display().to_string())
            .run()
    };
    install(&s.path().join("root-a").display().to_string()).assert_success();
    assert_eq!(s.index.requests_for(&archive), 1);
    // Another root, same archive: served from the cache, and the binary works.
    install(&s.path().join("root-b").display().to_string()).assert_success();
    assert_eq!(
        s.index.requests_for(&archive),
        1,
        "the archive was downloaded again"
    );
    assert_eq!(
        run_binary(&s.path().join("root-b/bin/qi-hello")),
        "qi-hello 0.2.0"
    );
    // A cached copy that no longer matches the signed sha256 is re-verified, dropped and
    // downloaded again.
    let cached = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "gz"))
        .expect("nothing was cached");
    let mut bytes = std::fs::read(&cached).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&cached, bytes).unwrap();
    install(&s.path().join("root-c").display().to_string()).assert_success();
    assert_eq!(s.index.requests_for(&archive), 2);
    assert_eq!(
        run_binary(&s.path().join("root-c/bin/qi-hello")),
        "qi-hello 0.2.0"
    );
}
