//! Flags that mean what cargo users expect (issue 12 §2), through the real binary against the
//! loopback index and registry.

use crate::support::index::Scenario;

#[test]
fn release_index_is_ours_and_index_is_a_cargo_registry() {
    let s = Scenario::new();
    // --index names the registry (as for `cargo install`); --release-index the prebuilt index.
    let run = s
        .quickinstall()
        .env_remove("QUICKINSTALL_INDEX")
        .env_remove("QUICKINSTALL_REGISTRY")
        .args(["--json", "qi-tool", "--index"])
        .arg(s.registry.sparse_url())
        .arg("--release-index")
        .arg(s.index.url())
        .run();
    run.assert_exit(0);
    assert_eq!(run.json_lines()[0]["source"], "prebuilt", "{run}");
    assert!(
        s.registry.server.requests_for("index/qi/-t/qi-tool") >= 1,
        "{run}"
    );
    assert!(s.index.requests() >= 1, "{run}");
    let tracker = std::fs::read_to_string(s.cargo_home().join(".crates.toml")).unwrap();
    assert!(
        tracker.contains(&format!("qi-tool 1.0.0 ({})", s.registry.sparse_url())),
        "{tracker}"
    );
    // The old spelling of --registry (a URL) is refused with the way out.
    let run = s
        .quickinstall()
        .args(["qi-tool", "--registry", "http://127.0.0.1:9/index/"])
        .run();
    run.assert_exit(2).stderr_has(&["not the URL", "--index"]);
}

#[test]
fn print_version_and_accepted_flags() {
    let s = Scenario::new();
    for flag in ["-V", "--print-version"] {
        let run = s.quickinstall().arg(flag).run();
        run.assert_exit(0);
        assert_eq!(
            run.stdout.trim(),
            format!("cargo-quickinstall {}", env!("CARGO_PKG_VERSION"))
        );
    }
    let run = s
        .quickinstall()
        .args([
            "--locked",
            "-y",
            "--disable-telemetry",
            "--no-binstall",
            "--try-upstream",
            "--json",
            "qi-tool",
        ])
        .run();
    run.assert_exit(0);
    assert_eq!(run.json_lines()[0]["source"], "prebuilt", "{run}");
    let help = s.quickinstall().arg("--help").run();
    help.assert_exit(0).stdout_has(&[
        "--release-index",
        "Accepted for compatibility",
        "--try-upstream",
    ]);
}

#[test]
fn bin_installs_only_that_binary() {
    let s = Scenario::new();
    // A binary the prebuilt lacks: cargo install, with --bin passed on.
    let run = s
        .quickinstall()
        .args(["--dry-run", "--bin", "nope", "qi-hello"])
        .run();
    run.assert_exit(0)
        .stdout_has(&["no binary `nope`", "--bin nope"]);
    let run = s
        .quickinstall()
        .args(["--bin", "qi-hello", "qi-hello"])
        .run();
    run.assert_exit(0);
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.2.0");
    assert!(!s.bin_dir().join("qi-hello-admin").exists(), "{run}");
}

#[test]
fn source_only_options_go_straight_to_cargo_install() {
    let s = Scenario::new();
    let run = s
        .quickinstall()
        .args([
            "--dry-run",
            "--features",
            "x",
            "--no-default-features",
            "qi-hello",
        ])
        .run();
    run.assert_exit(0).stdout_has(&[
        "--features needs `cargo install`",
        "install qi-hello ",
        " --features x --no-default-features --locked",
    ]);
    assert_eq!(s.registry.server.requests(), 0, "{run}");
    assert_eq!(s.index.requests(), 0, "{run}");
    // For real: cargo builds it from the fixture registry.
    let run = s.quickinstall().args(["--debug", "qi-fallback"]).run();
    run.assert_exit(0)
        .stderr_has(&["nothing prebuilt can honour --debug"]);
    assert_eq!(s.run_installed("qi-fallback"), "qi-fallback 0.1.0");
    assert_eq!(s.index.requests(), 0, "{run}");
    let run = s
        .quickinstall()
        .args(["--no-fallback", "--path", "."])
        .run();
    run.assert_exit(1).stderr_has(&["--no-fallback", "--path"]);
}

#[test]
fn verbose_shows_what_was_tried() {
    let s = Scenario::new();
    let run = s
        .quickinstall()
        .args(["-v", "--dry-run", "qi-fallback"])
        .run();
    run.assert_exit(0);
    run.stderr_line_with(&["targets considered"]);
    run.stderr_line_with(&["asking", &s.registry.index_url(), "qi-fallback"]);
    run.stderr_line_with(&["asking the release index", &s.index.url()]);
    run.stderr_line_with(&["`qi-fallback 0.1.0`: index:", "not in the release index"]);
    run.stderr_line_with(&["no prebuilt of `qi-fallback`"]);
    assert!(!run.stderr.contains("HTTP requests sent"), "{run}");
    let run = s
        .quickinstall()
        .args(["-vv", "--dry-run", "qi-fallback"])
        .run();
    run.stderr_line_with(&["HTTP requests sent"]);
    let quiet = s.quickinstall().args(["--dry-run", "qi-fallback"]).run();
    assert!(!quiet.stderr.contains("verbose:"), "{quiet}");
}

#[test]
fn color_follows_the_flag_cargo_and_clicolor_force() {
    let s = Scenario::new();
    let plain = s.quickinstall().args(["--dry-run", "qi-fallback"]).run();
    assert!(!plain.stderr.contains('\x1b'), "{plain}");
    let run = s
        .quickinstall()
        .args(["--no-fallback", "--color", "always", "qi-fallback"])
        .run();
    assert!(run.stderr.contains("\x1b[1;31merror"), "{run}");
    for (key, value) in [("CARGO_TERM_COLOR", "always"), ("CLICOLOR_FORCE", "1")] {
        let run = s
            .quickinstall()
            .args(["--no-fallback", "qi-fallback"])
            .env(key, value)
            .run();
        assert!(run.stderr.contains("\x1b[1;31merror"), "{key}: {run}");
    }
    let run = s
        .quickinstall()
        .args(["--no-fallback", "--color", "never", "qi-fallback"])
        .env("CARGO_TERM_COLOR", "always")
        .run();
    assert!(!run.stderr.contains('\x1b'), "{run}");
}

#[test]
fn upgrade_all_upgrades_what_has_a_newer_version() {
    let s = Scenario::new();
    s.quickinstall()
        .args(["qi-hello@0.1.0", "qi-tool"])
        .run()
        .assert_exit(0);
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.1.0");
    let dry = s
        .quickinstall()
        .args(["--upgrade-all", "--dry-run", "--json"])
        .run();
    dry.assert_exit(0);
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.1.0");
    let run = s.quickinstall().args(["--upgrade-all", "--json"]).run();
    run.assert_exit(0);
    let lines = run.json_lines();
    let by_name = |name: &str| {
        lines
            .iter()
            .find(|l| l["name"] == name)
            .unwrap_or_else(|| panic!("no {name}:\n{run}"))
            .clone()
    };
    assert_eq!(by_name("qi-hello")["version"], "0.2.0", "{run}");
    assert_eq!(by_name("qi-tool")["source"], "already-installed", "{run}");
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.2.0");
    // The dry run had said so.
    let planned = dry.json_lines();
    assert!(
        planned
            .iter()
            .any(|l| l["name"] == "qi-hello" && l["version"] == "0.2.0"),
        "{dry}"
    );
}

#[test]
fn completions_for_each_shell() {
    let s = Scenario::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let run = s.quickinstall().args(["--completions", shell]).run();
        run.assert_exit(0).stdout_has(&["release-index"]);
    }
    s.quickinstall()
        .args(["--completions", "tcsh"])
        .run()
        .assert_exit(2);
    let run = s
        .command(env!("CARGO_BIN_EXE_gquick"))
        .args(["--completions", "bash"])
        .run();
    run.assert_exit(0)
        .stdout_has(&["gquick", "install", "upgrade"]);
    // gquick with nothing at all still prints its help and fails as before.
    s.command(env!("CARGO_BIN_EXE_gquick")).run().assert_exit(2);
}

#[test]
fn binstall_strategies_name_the_sources_with_the_index_first() {
    let s = Scenario::new();
    // A prebuilt strategy: the release index is tried first, and has it.
    let run = s
        .quickinstall()
        .args(["--strategies", "quick-install,compile", "--json", "qi-tool"])
        .run();
    run.assert_success();
    assert_eq!(run.json_lines()[0]["origin"], "index", "{run}");
    // `compile` alone: a build, whatever the index has.
    let run = s
        .quickinstall()
        .args(["--strategies", "compile", "--dry-run", "--force", "qi-tool"])
        .run();
    run.assert_success()
        .stdout_has(&["would build `qi-tool 1.0.0` from source"]);
    // An unknown strategy, or both spellings at once: usage errors.
    let run = s
        .quickinstall()
        .args(["--strategies", "guess", "qi-tool"])
        .run();
    run.assert_exit(2).stderr_has(&[
        "unknown strategy `guess`",
        "crate-meta-data, quick-install and compile",
    ]);
    let run = s
        .quickinstall()
        .args(["--strategies", "compile", "--sources", "index", "qi-tool"])
        .run();
    run.assert_exit(2)
        .stderr_has(&["--strategies", "--sources"]);
}

#[test]
fn cargo_term_quiet_silences_the_status_lines_unless_verbose_is_asked_for() {
    let s = Scenario::new();
    let run = s
        .quickinstall()
        .arg("qi-tool")
        .env("CARGO_TERM_QUIET", "true")
        .run();
    run.assert_success();
    assert_eq!(run.stderr, "", "{run}");
    let run = s
        .quickinstall()
        .args(["-v", "--force", "qi-tool"])
        .env("CARGO_TERM_QUIET", "true")
        .run();
    run.assert_success()
        .stderr_has(&["Installed `qi-tool 1.0.0`", "verbose:"]);
}
