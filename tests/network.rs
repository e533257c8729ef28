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
