//! Tests of `build-index build` for crates: the scrubbed environment, the target choice and
//! real builds of small local crates.

use super::*;

fn os(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

/// A build of the local crate `src` into `out`, default target, no timeout.
fn local_request(src: PathBuf, out: &Path) -> BuildRequest {
    BuildRequest {
        source: Source::Path(src),
        target: None,
        registry: None,
        out: out.to_owned(),
        timeout: None,
    }
}

#[test]
fn the_child_environment_carries_no_secrets() {
    let vars = os(&[
        ("PATH", "/usr/bin"),
        ("HOME", "/home/u"),
        ("CARGO_REGISTRY_TOKEN", "t"),
        ("aws_secret_access_key", "s"),
        ("DB_PASSWORD", "p"),
        ("SSH_PRIVATE_KEY", "k"),
        ("QUICKINSTALL_SIGNING", "k"),
        ("ACTIONS_RUNTIME_TOKEN", "t"),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", "u"),
        ("GITHUB_TOKEN", "t"),
        ("CARGO_ENCODED_RUSTFLAGS", "-Cfoo"),
        ("RUSTFLAGS", "-Cbar"),
        ("CARGO_HOME", "/home/u/.cargo"),
    ]);
    let kept: Vec<_> = scrub_env(&vars)
        .into_iter()
        .map(|(k, _)| k.into_string().unwrap())
        .collect();
    assert_eq!(kept, ["PATH", "HOME", "CARGO_HOME"]);
}

fn test_crate(dir: &Path, main: &str) -> PathBuf {
    let src = dir.join("hello");
    fs::create_dir_all(src.join("src")).unwrap();
    fs::write(
        src.join("Cargo.toml"),
        "[package]\nname = \"hello\"\nversion = \"0.3.1\"\nedition = \"2021\"\n\
         license = \"MIT\"\ndescription = \"test\"\n\n[workspace]\n",
    )
    .unwrap();
    // The build script fails the build if a secret reached it.
    fs::write(
        src.join("build.rs"),
        "fn main() { if std::env::var_os(\"QUICKINSTALL_SIGN_KEY\").is_some() \
         || std::env::var_os(\"MY_API_TOKEN\").is_some() { panic!(\"secret leaked\"); } }\n",
    )
    .unwrap();
    fs::write(src.join("src/main.rs"), main).unwrap();
    fs::write(src.join("LICENSE"), "MIT\n").unwrap();
    src
}

fn test_env() -> BuildEnv {
    let mut env = BuildEnv::from_process();
    env.vars.extend(os(&[
        ("CARGO_NET_OFFLINE", "true"),
        ("QUICKINSTALL_SIGN_KEY", "secret"),
        ("MY_API_TOKEN", "secret"),
        ("SOURCE_DATE_EPOCH", "1700000000"),
    ]));
    env
}

#[test]
fn builds_a_local_crate_into_a_static_archive_and_record() {
    let dir = tempfile::tempdir().unwrap();
    let src = test_crate(dir.path(), "fn main() { println!(\"hi\"); }\n");
    let out = dir.path().join("out");
    let request = local_request(src, &out);
    let record_path = build(&request, &test_env()).unwrap();
    let bytes = fs::read(&record_path).unwrap();
    let result = record::parse_result(&bytes, &record_path).unwrap();
    assert_eq!(
        (result.name.as_str(), result.version.as_str()),
        ("hello", "0.3.1")
    );
    assert_eq!(result.binaries, ["hello"]);
    assert_eq!(result.provenance.built_at, "2023-11-14T22:13:20Z");
    assert!(result.provenance.toolchain.starts_with("rustc "));
    assert_eq!(
        result.provenance.source_checksum.as_ref().map(String::len),
        Some(64)
    );
    if result.target.contains("linux-gnu") {
        assert_eq!(result.min_glibc, None, "crt-static binaries need no glibc");
    }
    let archive = out.join(&result.archive);
    let facts = validate::inspect(&archive).unwrap();
    validate::check_against(&facts, &result, &archive).unwrap();
    assert!(facts.files.contains_key("LICENSE"));
    assert!(
        out.join(format!("hello-0.3.1-{}.log", result.target))
            .exists()
    );
}

#[test]
fn a_crate_that_fails_for_musl_is_built_for_gnu_and_the_musl_failure_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let src = test_crate(dir.path(), "fn main() { println!(\"hi\"); }\n");
    // A build script that refuses musl, as crates that need glibc-only C code do.
    fs::write(
        src.join("build.rs"),
        "fn main() { if std::env::var(\"TARGET\").unwrap().contains(\"musl\") \
         { panic!(\"this crate needs glibc\"); } }\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let request = local_request(src, &out);
    let env = test_env();
    let plan = plan(&request, &env).unwrap();
    let Some(gnu) = plan.fallback.clone() else {
        // Not a Linux host with musl's std: nothing to fall back from.
        assert!(!plan.target.contains("musl"), "{}", plan.target);
        return;
    };
    let record_path = build(&request, &env).unwrap();
    let bytes = fs::read(&record_path).unwrap();
    let result = record::parse_result(&bytes, &record_path).unwrap();
    assert_eq!(result.target, gnu);
    let musl_record: serde_json::Value = serde_json::from_slice(
        &fs::read(out.join(format!("hello-0.3.1-{}.json", plan.target))).unwrap(),
    )
    .unwrap();
    assert_eq!(musl_record["status"], "failed");
    assert_eq!(musl_record["reason"], "build-script");
    assert!(
        musl_record["log_tail"]
            .as_str()
            .unwrap()
            .contains("this crate needs glibc")
    );
}

#[test]
fn an_explicit_musl_target_has_no_gnu_fallback() {
    let request = BuildRequest {
        target: Some("x86_64-unknown-linux-musl".into()),
        ..local_request("/nonexistent".into(), Path::new("/nonexistent"))
    };
    let plan = plan(&request, &test_env()).unwrap();
    assert_eq!(plan.target, "x86_64-unknown-linux-musl");
    assert_eq!(plan.fallback, None);
}

#[test]
fn a_failed_build_leaves_a_failure_record_and_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let src = test_crate(dir.path(), "fn main() { this is not rust }\n");
    let out = dir.path().join("out");
    let request = local_request(src, &out);
    let err = build(&request, &test_env()).unwrap_err();
    let BuildError::Failed { log, target, .. } = &err else {
        panic!("{err}");
    };
    assert!(err.to_string().contains("`hello 0.3.1`"), "{err}");
    assert!(log.exists());
    let record: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join(format!("hello-0.3.1-{target}.json"))).unwrap())
            .unwrap();
    assert_eq!(record["status"], "failed");
    assert_eq!(record["reason"], "compile-error");
    assert!(record["log_tail"].as_str().unwrap().contains("error"));
}

#[test]
fn a_build_that_outlives_its_timeout_is_killed_and_recorded_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let src = test_crate(dir.path(), "fn main() {}\n");
    // A build script that never ends: only the timeout can stop this build.
    fs::write(
        src.join("build.rs"),
        "fn main() { loop { std::thread::sleep(std::time::Duration::from_secs(1)); } }\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let request = BuildRequest {
        timeout: Some(Duration::from_secs(2)),
        ..local_request(src, &out)
    };
    let err = build(&request, &test_env()).unwrap_err();
    let BuildError::TimedOut { target, log, .. } = &err else {
        panic!("{err}");
    };
    assert!(err.to_string().contains("longer than 2 s"), "{err}");
    assert!(
        fs::read_to_string(log)
            .unwrap()
            .contains("stopped after 2 s")
    );
    let record: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join(format!("hello-0.3.1-{target}.json"))).unwrap())
            .unwrap();
    assert_eq!(record["status"], "failed");
    assert_eq!(record["reason"], "timeout");
}
