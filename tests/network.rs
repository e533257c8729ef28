//! Opt-in checks against the real internet (`QUICKINSTALL_TEST_NETWORK=1`); every other test is
//! hermetic. They return early, saying why, when not enabled.

use crate::support::env::TestEnv;

fn enabled(test: &str) -> bool {
    let on = crate::support::env::parent_var("QUICKINSTALL_TEST_NETWORK").is_some_and(|v| v == "1");
    if !on {
        println!("{test}: skipped; set QUICKINSTALL_TEST_NETWORK=1 to reach crates.io");
    }
    on
}

#[test]
fn resolves_ripgrep_against_the_real_crates_io_index() {
    if !enabled("resolves_ripgrep_against_the_real_crates_io_index") {
        return;
    }
    let env = TestEnv::new();
    // An empty local index: the version must come from crates.io, and nothing is installed.
    let empty_index = env.path().join("empty-index");
    std::fs::create_dir_all(&empty_index).unwrap();
    let run = env
        .quickinstall()
        .args(["--dry-run", "--no-fallback", "--release-index"])
        .arg(&empty_index)
        .arg("ripgrep")
        .env_remove("QUICKINSTALL_REGISTRY")
        .run();
    let line = run
        .stdout
        .lines()
        .chain(run.stderr.lines())
        .find(|l| l.contains("ripgrep"))
        .unwrap_or_else(|| panic!("ripgrep is not mentioned:\n{run}"))
        .to_owned();
    let has_version = line
        .split(|c: char| c.is_whitespace() || c == '`')
        .any(|word| semver::Version::parse(word.trim_start_matches('v')).is_ok());
    assert!(has_version, "no version in {line:?}:\n{run}");
    assert!(!env.bin_dir().join("rg").exists());
}

/// The real pool: GitHub answers the release download with a redirect to its object store
/// (https → https, one hop), which must be followed; the signature is cargo-quickinstall's real
/// key (the built-in default). `ripgrep 14.1.1` was published in 2024, after the pool began
/// signing.
#[test]
fn installs_a_signed_archive_from_the_real_quickinstall_pool_through_githubs_redirect() {
    if !enabled(
        "installs_a_signed_archive_from_the_real_quickinstall_pool_through_githubs_redirect",
    ) {
        return;
    }
    let env = TestEnv::new();
    let run = env
        .quickinstall()
        .args([
            "ripgrep@=14.1.1",
            "--sources",
            "quickinstall",
            "--target",
            "x86_64-unknown-linux-gnu",
            "--json",
            "--timeout",
            "30",
        ])
        .env_remove("QUICKINSTALL_QUICKINSTALL_POOL")
        .env_remove("QUICKINSTALL_REGISTRY")
        .run();
    run.assert_success();
    let json = &run.json_lines()[0];
    assert_eq!(json["origin"], "quickinstall", "{run}");
    assert_eq!(json["signed"], true, "{run}");
    assert!(env.bin_dir().join("rg").is_file(), "{run}");
}
