//! Faults an unlucky user meets and hostile local state: interrupted runs, full disks, slow
//! servers, odd files in the archive cache. Each test drives the real binary and checks the
//! message, the exit code, and what is left on disk.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::index::{self, Scenario, world};
use crate::support::server::Respond;

/// The signed sha256 of `qi-hello 0.2.0`'s archive, which names its cache entry.
fn hello_sha256(s: &Scenario) -> String {
    index::find_release(&s.package("qi-hello"), "0.2.0", &world().target)["sha256"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn a_fifo_in_the_archive_cache_is_skipped_not_opened_for_ever() {
    let s = Scenario::new();
    let cache = s.path().join("archive-cache");
    std::fs::create_dir_all(&cache).unwrap();
    let entry = cache.join(format!("{}.tar.gz", hello_sha256(&s)));
    mkfifo(&entry);
    let run = s
        .quickinstall()
        .arg("qi-hello")
        .arg("--cache-dir")
        .arg(&cache)
        .run_within(Duration::from_secs(20));
    run.assert_success();
    assert_eq!(s.run_installed("qi-hello"), "qi-hello 0.2.0");
    // Downloaded instead, and the verified archive took the FIFO's place in the cache.
    let archive = s.archive_path("qi-hello", "0.2.0");
    assert_eq!(s.index.requests_for(&archive), 1);
    assert!(std::fs::symlink_metadata(&entry).unwrap().is_file());
    assert_eq!(
        std::fs::read(&entry).unwrap(),
        s.archive_bytes("qi-hello", "0.2.0")
    );
}

/// Makes `path`'s modification time `age` ago.
fn age(path: &Path, age: Duration) {
    let when = std::time::SystemTime::now() - age;
    std::fs::File::open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

#[test]
fn temp_dirs_left_by_a_killed_run_are_cleaned_up_by_the_next() {
    let s = Scenario::new();
    let home = s.cargo_home();
    // A pid above Linux's maximum (2^22) belongs to no process.
    let dead = home.join(".quickinstall-tmp-4999999-AbCdEf");
    let fresh = home.join(".quickinstall-tmp-4999998-GhIjKl");
    let alive = home.join(format!(".quickinstall-tmp-{}-MnOpQr", std::process::id()));
    for dir in [&dead, &fresh, &alive] {
        std::fs::create_dir_all(dir.join("staging")).unwrap();
        std::fs::write(dir.join("archive.tar.gz.partial"), vec![0u8; 4096]).unwrap();
        std::fs::write(dir.join("staging/qi-hello"), b"half").unwrap();
    }
    age(&dead, Duration::from_secs(3600));
    age(&alive, Duration::from_secs(3600));
    s.quickinstall().arg("qi-hello").run().assert_success();
    assert!(!dead.exists(), "an hour-old dir of a dead process was left");
    // Recent, or its owner still running: maybe in use, kept.
    assert!(fresh.exists(), "a recent dir was removed");
    assert!(alive.exists(), "the dir of a live process was removed");
    // And the run's own temp dir is gone.
    let left: Vec<_> = std::fs::read_dir(&home)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".quickinstall-tmp-"))
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn a_server_that_drips_is_abandoned_and_the_error_says_so() {
    // One byte every 200 ms is 5 bytes/s, under the 10 bytes/s low-speed limit; each read
    // returns long before the 2 s timeout, so only the low-speed limit can end it. Before it,
    // the ~1 KB package file alone took minutes and the archive days.
    let s = Scenario::new();
    let drip = Respond::Drip(Duration::from_millis(200));
    let bundle = index::bundle_path("qi-hello");
    s.index.set(&bundle, drip.clone());
    let run = s
        .quickinstall()
        .args(["qi-hello", "--no-fallback"])
        .run_within(Duration::from_secs(60));
    run.assert_exit(1);
    run.stderr_line_with(&[&bundle, "too slow", "under 10 bytes/s for 2 s"]);
    // Retried like other transient failures: three attempts.
    assert_eq!(s.index.requests_for(&bundle), 3, "{run}");
    assert!(!s.bin_dir().join("qi-hello").exists());

    // The archive, after a good package file: the same.
    s.index.clear(&bundle);
    let archive = s.archive_path("qi-hello", "0.2.0");
    s.index.set(&archive, drip);
    let run = s
        .quickinstall()
        .args(["qi-hello", "--no-fallback"])
        .run_within(Duration::from_secs(60));
    run.assert_exit(1);
    run.stderr_line_with(&["qi-hello", "too slow"]);
    assert_eq!(s.index.requests_for(&archive), 3, "{run}");
    assert!(!s.bin_dir().join("qi-hello").exists());
}

/// The client under a file-size limit of `bytes` (`RLIMIT_FSIZE`, set by util-linux `prlimit`,
/// stops writes as a full disk would), with SIGXFSZ ignored so a write past it fails with EFBIG
/// instead of killing the process. `None` (said aloud, and a failure under `CI=true`) when
/// `bash` or `prlimit` is missing.
fn quickinstall_with_file_size_limit(
    s: &Scenario,
    bytes: u64,
) -> Option<crate::support::env::TestCommand> {
    let usable = Command::new("bash")
        .args(["-c", "prlimit --fsize=4096 -- true"])
        .status()
        .is_ok_and(|st| st.success());
    if !usable {
        let ci = crate::support::env::parent_var("CI").is_some_and(|v| v == "true");
        assert!(
            !ci,
            "bash and prlimit (util-linux) are needed for this test"
        );
        println!("skipped: bash and prlimit (util-linux) are needed for this test");
        return None;
    }
    Some(
        s.command("bash")
            .args([
                "-c",
                &format!("trap '' XFSZ; exec prlimit --fsize={bytes} -- \"$0\" \"$@\""),
            ])
            .arg(crate::support::env::quickinstall_exe()),
    )
}

#[test]
fn a_full_disk_while_unpacking_exits_1_with_a_disk_space_hint() {
    let s = Scenario::new();
    let archive = s.archive_bytes("qi-hello", "0.2.0");
    let largest = index::read_tar_gz(&archive)
        .iter()
        .map(|(_, data)| data.len())
        .max()
        .unwrap();
    // Room for the download, not for the biggest unpacked binary.
    let limit = archive.len() as u64 + 1024;
    assert!(
        largest as u64 > limit,
        "the fixture binary ({largest} bytes) must be larger than the archive"
    );
    let Some(cmd) = quickinstall_with_file_size_limit(&s, limit) else {
        return;
    };
    let run = cmd
        .args(["qi-hello", "--no-fallback"])
        .run_within(Duration::from_secs(60));
    // Not exit 3: the archive verified; the local disk failed.
    run.assert_exit(1);
    run.stderr_line_with(&["could not write", "qi-hello"]);
    run.stderr_line_with(&["help:", "free some disk space"]);
    assert!(
        !run.stderr.contains("do not match what was signed"),
        "a verification hint for a local failure:\n{run}"
    );
    assert!(!s.bin_dir().join("qi-hello").exists());
}

#[test]
fn a_refused_archive_that_matched_its_signature_gets_its_own_hint() {
    let s = Scenario::new();
    let mut entries = index::read_tar_gz(&s.archive_bytes("qi-hello", "0.2.0"));
    entries.push(("../evil".into(), b"#!/bin/sh\n".to_vec()));
    let files: Vec<_> = entries
        .iter()
        .map(|(name, data)| index::Entry::File {
            name,
            mode: 0o755,
            data,
        })
        .collect();
    // Signed as it is: the bytes match, the content is refused.
    s.plant_archive("qi-hello", "0.2.0", &index::tar_gz(&files));
    let run = s.quickinstall().args(["qi-hello", "--no-fallback"]).run();
    run.assert_exit(3);
    run.stderr_line_with(&["help:", "matched its signed checksum"]);
    assert!(
        !run.stderr.contains("do not match what was signed"),
        "the hint blames the mirror for what was signed:\n{run}"
    );
}

const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";

/// Writes a `.crates.toml` and `.crates2.json` listing `count` made-up packages, each with one
/// binary, in the formats cargo writes; returns their bytes.
fn big_tracker(home: &Path, count: usize) -> (Vec<u8>, Vec<u8>) {
    let mut v1 = String::from("[v1]\n");
    let mut installs = serde_json::Map::new();
    for i in 0..count {
        let id = format!("fake-{i:06} 1.0.0 ({CRATES_IO})");
        v1.push_str(&format!("\"{id}\" = [\"fake-{i:06}\"]\n"));
        installs.insert(
            id,
            serde_json::json!({
                "version_req": null, "bins": [format!("fake-{i:06}")], "features": [],
                "all_features": false, "no_default_features": false, "profile": "release",
                "target": null, "rustc": null
            }),
        );
    }
    let v2 = serde_json::to_vec(&serde_json::json!({ "installs": installs })).unwrap();
    std::fs::write(home.join(".crates.toml"), &v1).unwrap();
    std::fs::write(home.join(".crates2.json"), &v2).unwrap();
    (v1.into_bytes(), v2)
}

fn journals(home: &Path) -> Vec<String> {
    std::fs::read_dir(home)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("journal"))
        .collect()
}

#[test]
fn a_tracker_cut_short_by_a_crash_is_restored_from_its_journal() {
    // The state a SIGKILL in the middle of the in-place rewrite leaves: the journal of the
    // previous bytes, complete, beside a `.crates2.json` cut in half.
    let s = Scenario::new();
    s.quickinstall().arg("qi-tool").run().assert_success();
    let home = s.cargo_home();
    let v2 = std::fs::read(home.join(".crates2.json")).unwrap();
    std::fs::write(home.join(".crates2.json.quickinstall-journal"), &v2).unwrap();
    std::fs::write(home.join(".crates2.json"), &v2[..v2.len() / 2]).unwrap();

    let run = s.quickinstall().arg("qi-hello").run();
    run.assert_success();
    assert_eq!(journals(&home), Vec::<String>::new());
    // Real cargo reads both entries back.
    let list = s.cargo().args(["install", "--list"]).run();
    list.assert_success()
        .stdout_has(&["qi-tool v1.0.0", "qi-hello v0.2.0"]);
    let v2: serde_json::Value =
        serde_json::from_slice(&std::fs::read(home.join(".crates2.json")).unwrap()).unwrap();
    assert_eq!(v2["installs"].as_object().unwrap().len(), 2, "{v2}");
}

#[test]
fn a_full_disk_during_the_tracker_rewrite_leaves_it_and_the_bin_dir_as_they_were() {
    let s = Scenario::new();
    let home = s.cargo_home();
    let largest = index::read_tar_gz(&s.archive_bytes("qi-hello", "0.2.0"))
        .iter()
        .map(|(_, data)| data.len())
        .max()
        .unwrap();
    // A tracker larger than any file the install writes before it, so a limit just above its
    // size lets the binaries through and stops only the tracker's growth.
    let (v1, v2) = big_tracker(&home, largest / 200 + 2000);
    let limit = v1.len().max(v2.len()) as u64 + 64;
    assert!(limit > largest as u64 + 4096);
    let Some(cmd) = quickinstall_with_file_size_limit(&s, limit) else {
        return;
    };
    let run = cmd
        .args(["qi-hello", "--no-fallback"])
        .run_within(Duration::from_secs(120));
    // Both files byte for byte as they were (before: `.crates2.json` cut at the limit).
    assert_eq!(
        std::fs::read(home.join(".crates.toml")).unwrap(),
        v1,
        "{run}"
    );
    assert_eq!(
        std::fs::read(home.join(".crates2.json")).unwrap(),
        v2,
        "{run}"
    );
    run.assert_exit(1);
    run.stderr_line_with(&["could not write cargo's install tracker"]);
    run.stderr_line_with(&["help:", "free some disk space"]);
    assert_eq!(journals(&home), Vec::<String>::new());
    assert!(!s.bin_dir().join("qi-hello").exists(), "{run}");
    // And the tracker still works: without the limit the install goes through.
    s.quickinstall().arg("qi-hello").run().assert_success();
}

#[test]
fn an_untracked_binary_identical_to_the_verified_one_is_adopted_not_refused() {
    // A SIGKILL after the binaries were renamed in but before the tracker was written leaves
    // them in bin/ unrecorded. The next run must not demand --force for its own bytes.
    let s = Scenario::new();
    let elsewhere = s.path().join("elsewhere");
    s.quickinstall()
        .arg("qi-hello")
        .arg("--root")
        .arg(&elsewhere)
        .run()
        .assert_success();
    std::fs::create_dir_all(s.bin_dir()).unwrap();
    for bin in ["qi-hello", "qi-hello-admin"] {
        std::fs::copy(elsewhere.join("bin").join(bin), s.bin_dir().join(bin)).unwrap();
    }
    let run = s.quickinstall().arg("qi-hello").run();
    run.assert_success();
    let list = s.cargo().args(["install", "--list"]).run();
    list.assert_success().stdout_has(&["qi-hello v0.2.0"]);

    // Other bytes under that name are still someone else's file: refused without --force.
    let s = Scenario::new();
    std::fs::create_dir_all(s.bin_dir()).unwrap();
    std::fs::write(s.bin_dir().join("qi-hello"), b"#!/bin/sh\necho mine\n").unwrap();
    let run = s.quickinstall().args(["qi-hello", "--no-fallback"]).run();
    run.assert_exit(1).stderr_has(&["already exists"]);
    assert_eq!(
        std::fs::read(s.bin_dir().join("qi-hello")).unwrap(),
        b"#!/bin/sh\necho mine\n"
    );
}
