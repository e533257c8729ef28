//! The build farm's sequence, run locally and serially the way `.github/workflows/build-index.yml`
//! runs it on GitHub Actions: `plan` → one `build` per matrix item → `publish` with the failure
//! history → `plan` again. Two fixture crates build and one does not compile; the test checks the
//! matrix, the resulting index (by installing from it) and the failure history. Selection from
//! the crates.io dump is not part of it (the queue is written by hand, per the queue contract).
//!
//! Each build writes into its own artifact directory, as the workflow downloads them, and one
//! build also forges records for another planned crate and for an unplanned one: `publish
//! --expect` must refuse both and publish the honest builds.

use std::path::{Path, PathBuf};

use crate::support::crates::CrateSpec;
use crate::support::env::{TestEnv, host_triple};
use crate::support::index;
use crate::support::registry::Registry;
use crate::support::server::TestServer;

/// The queue, in the order `select` would write it (score descending): the two crates that build,
/// then the one whose first binary does not compile.
const QUEUE: &[(&str, &str, bool, f64)] = &[
    ("qi-pipe-alpha", "1.0.0", false, 300.0),
    ("qi-pipe-broken", "0.1.0", true, 200.0),
    ("qi-pipe-beta", "0.3.0", false, 100.0),
];

#[test]
fn plan_build_publish_fills_the_index_and_remembers_the_failure() {
    let env = TestEnv::new();
    let root = env.path();
    let target = host_triple();

    // The registry the builds fetch sources from.
    let registry = Registry::new(&root.join("registry"));
    for (name, version, broken, _) in QUEUE {
        let mut spec = CrateSpec::new(name, version, &[name]);
        spec.broken = *broken;
        registry.publish(&spec, false);
    }
    let served = registry.serve();

    let queue = root.join("queue.jsonl");
    std::fs::write(&queue, queue_lines()).unwrap();
    let index_dir = root.join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    let history = root.join("history.jsonl");
    let key = index::keygen(&env, &root.join("keys"));

    // plan: everything in the queue, in queue order, for the one target asked for.
    let (matrix, plan_json) = plan(&env, &queue, &index_dir, &history, &target, None);
    let plan_file = root.join("plan.json");
    std::fs::write(&plan_file, &plan_json).unwrap();
    let planned: Vec<(String, String, String)> = matrix
        .iter()
        .map(|item| {
            let runner = item["runner"].as_str().unwrap_or_default();
            assert!(!runner.is_empty(), "no runner in {item}");
            (
                item["crate"].as_str().unwrap().to_owned(),
                item["version"].as_str().unwrap().to_owned(),
                item["target"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<_> = QUEUE
        .iter()
        .map(|(name, version, ..)| ((*name).to_owned(), (*version).to_owned(), target.clone()))
        .collect();
    assert_eq!(planned, expected);

    // build: one job per item, as the matrix runs them, each into its own artifact directory;
    // the broken crate fails.
    let out = root.join("out");
    for (item, (name, version, item_target)) in matrix.iter().zip(&planned) {
        let artifact = out.join(item["artifact"].as_str().unwrap());
        let run = env
            .build_index()
            .arg("build")
            .arg("--crate")
            .arg(format!("{name}@{version}"))
            .arg("--registry")
            .arg(served.index_url())
            .arg("--target")
            .arg(item_target)
            .arg("--out")
            .arg(&artifact)
            .run();
        if name == "qi-pipe-broken" {
            run.assert_failure();
        } else {
            run.assert_success();
        }
    }

    // A hostile build script in alpha's job writes a record and archive for beta (planned, built
    // by its own job) and for a crate never planned, with `build-index package`.
    let alpha_dir = out.join(matrix[0]["artifact"].as_str().unwrap());
    let fake = root.join("fake");
    std::fs::write(&fake, "#!/bin/sh\necho forged\n").unwrap();
    for (name, version) in [("qi-pipe-beta", "0.3.0"), ("ripgrep", "14.1.1")] {
        env.build_index()
            .args(["package", "--name", name, "--version", version, "--target"])
            .arg(&target)
            .arg("--out")
            .arg(&alpha_dir)
            .arg(&fake)
            .run()
            .assert_success();
    }
    assert!(
        json_files(&alpha_dir).len() == 3,
        "the forgeries were not written"
    );

    // publish: only each item's own record, ok ones into the index, the failure into the
    // history; the forgeries are refused and reported, and the run still succeeds.
    let published = env
        .build_index()
        .arg("publish")
        .arg("--index")
        .arg(&index_dir)
        .arg("--secret-key")
        .arg(&key.secret_path)
        .arg("--history")
        .arg(&history)
        .arg("--expect")
        .arg(&plan_file)
        .arg("--artifacts")
        .arg(&out)
        .run();
    published.assert_success();
    for forged in [
        format!("qi-pipe-beta-0.3.0-{target}.json"),
        format!("ripgrep-14.1.1-{target}.json"),
    ] {
        assert!(
            published
                .stdout
                .lines()
                .any(|l| l.starts_with("refused ") && l.contains(&forged)),
            "{forged} was not refused:\n{published}"
        );
    }
    assert!(
        !index_dir.join(index::package_path("ripgrep")).exists(),
        "a forged record was published:\n{published}"
    );

    // The index serves the two crates that built: the client installs them and they run.
    let server = TestServer::serve(&index_dir);
    for name in ["qi-pipe-alpha", "qi-pipe-beta"] {
        let version = QUEUE.iter().find(|q| q.0 == name).unwrap().1;
        let run = env
            .quickinstall()
            .arg(name)
            .env("QUICKINSTALL_INDEX", server.url())
            .env("QUICKINSTALL_REGISTRY", served.sparse_url())
            .env("QUICKINSTALL_TRUSTED_KEYS", &key.public_b64)
            .run();
        run.assert_success();
        // Prebuilt, not compiled: the fallback would have created the target dir.
        assert!(!env.target_dir().exists(), "{name} was compiled:\n{run}");
        assert_eq!(env.run_installed(name), format!("{name} {version}"));
    }
    assert!(
        !index_dir
            .join(index::package_path("qi-pipe-broken"))
            .exists(),
        "the crate that failed to build has a package file"
    );

    // The history holds one record: the broken crate, classified as a compile error.
    let text = std::fs::read_to_string(&history).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "history:\n{text}");
    let failure = &lines[0];
    assert_eq!(failure["crate"], "qi-pipe-broken", "{failure}");
    assert_eq!(failure["version"], "0.1.0", "{failure}");
    assert_eq!(failure["target"], target.as_str(), "{failure}");
    assert_eq!(failure["reason"], "compile-error", "{failure}");
    assert!(failure["time"].as_str().is_some(), "{failure}");
    assert!(
        failure["log_tail"]
            .as_str()
            .unwrap()
            .contains("mismatched types"),
        "{failure}"
    );

    // plan again: what is published is skipped; one failure is below the default threshold of
    // three, so the broken crate is planned once more…
    let (again, _) = plan(&env, &queue, &index_dir, &history, &target, None);
    let names: Vec<&str> = again.iter().map(|i| i["crate"].as_str().unwrap()).collect();
    assert_eq!(names, ["qi-pipe-broken"]);
    // …and with a threshold of one it is excluded, leaving nothing to do.
    let (excluded, _) = plan(&env, &queue, &index_dir, &history, &target, Some(1));
    assert!(excluded.is_empty(), "{excluded:?}");
}

/// The queue file, one JSON line per crate as `build-index select crates` writes it.
fn queue_lines() -> String {
    QUEUE
        .iter()
        .map(|(name, version, _, score)| {
            let line = serde_json::json!({
                "crate": name,
                "version": version,
                "bins": [name],
                "reason": "downloads",
                "score": score,
            });
            format!("{line}\n")
        })
        .collect()
}

/// Runs `build-index plan` and returns the matrix's `include` items and the printed JSON.
fn plan(
    env: &TestEnv,
    queue: &Path,
    index: &Path,
    history: &Path,
    target: &str,
    max_failures: Option<u32>,
) -> (Vec<serde_json::Value>, String) {
    let mut command = env
        .build_index()
        .arg("plan")
        .arg("--queue")
        .arg(queue)
        .arg("--index")
        .arg(index)
        .arg("--history")
        .arg(history)
        .arg("--targets")
        .arg(target)
        .args(["--max", "10"]);
    if let Some(n) = max_failures {
        command = command.arg("--max-failures").arg(n.to_string());
    }
    let run = command.run();
    run.assert_success();
    let matrix: serde_json::Value = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("plan did not print a JSON matrix ({e}):\n{run}"));
    let items = matrix["include"]
        .as_array()
        .unwrap_or_else(|| panic!("the matrix has no `include` list:\n{run}"))
        .clone();
    (items, run.stdout.trim().to_owned())
}

/// The `.json` records `build-index build` left in `dir`, sorted.
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}
