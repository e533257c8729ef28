//! Stopping `build-index build` from outside (issue 16): SIGTERM, SIGINT or SIGHUP to
//! build-index while cargo builds in its own process group must take that group down with it,
//! and leave no archive or record in `--out`. The fixture crate's build script writes its pid
//! and then sleeps, so the test knows the build is under way and which group it runs in.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A crate whose build script records its pid in `$CANCEL_MARKER`, then sleeps for minutes.
fn sleepy_crate(dir: &Path) -> PathBuf {
    let src = dir.join("sleepy");
    fs::create_dir_all(src.join("src")).unwrap();
    fs::write(
        src.join("Cargo.toml"),
        "[package]\nname = \"sleepy\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    fs::write(
        src.join("build.rs"),
        "fn main() {\n\
         let marker = std::env::var(\"CANCEL_MARKER\").unwrap();\n\
         std::fs::write(marker, std::process::id().to_string()).unwrap();\n\
         std::thread::sleep(std::time::Duration::from_secs(300));\n\
         }\n",
    )
    .unwrap();
    fs::write(src.join("src/main.rs"), "fn main() {}\n").unwrap();
    src
}

/// The process group of `pid` (field 5 of `/proc/<pid>/stat`), if it still exists.
fn pgid_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(2)?.parse().ok()
}

/// Every live process (not a zombie) in process group `pgid`.
fn members_of(pgid: u32) -> Vec<u32> {
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pgid_of(pid) == Some(pgid))
        .filter(|&pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rfind(')').and_then(|i| stat.get(i + 2..i + 3));
            !matches!(state, Some("Z" | "X") | None)
        })
        .collect()
}

/// Kills what is left of the group when the test ends, passing or not (the old code leaves
/// the build script sleeping).
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn stops_the_build_on(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let src = sleepy_crate(dir.path());
    let out = dir.path().join("out");
    let marker = dir.path().join("build-script.pid");
    let mut build_index = Command::new(env!("CARGO_BIN_EXE_build-index"))
        .args(["build", "--path"])
        .arg(&src)
        .arg("--out")
        .arg(&out)
        .env("CARGO_NET_OFFLINE", "true")
        .env("CANCEL_MARKER", &marker)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Wait for the build script to run (cargo first compiles it).
    let started = Instant::now();
    let script_pid = loop {
        if let Some(pid) = fs::read_to_string(&marker)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
        {
            break pid;
        }
        if let Some(status) = build_index.try_wait().unwrap() {
            let output = build_index.wait_with_output().unwrap();
            panic!(
                "build-index ended ({status}) before the build script ran: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the build script did not start within 120 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let pgid = pgid_of(script_pid).expect("the build script is running");
    let _guard = GroupGuard(Some(pgid));
    assert_ne!(
        pgid,
        pgid_of(std::process::id()).unwrap(),
        "the build runs in a process group of its own"
    );

    let status = Command::new("kill")
        .args([&format!("-{signal}"), &build_index.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    // build-index ends promptly, with an error naming the signal.
    let waited = Instant::now();
    while build_index.try_wait().unwrap().is_none() {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "build-index did not end within 30 s of {signal}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = build_index.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains(&format!("build-index received SIG{signal}"))
            && stderr.contains("nothing was recorded"),
        "stderr: {stderr}"
    );

    // Nothing of the build's process group survives it.
    let gone = Instant::now();
    loop {
        let left = members_of(pgid);
        if left.is_empty() {
            break;
        }
        assert!(
            gone.elapsed() < Duration::from_secs(5),
            "processes of the build's group {pgid} outlived build-index: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // No archive and no record: the plan counts the item as missing, not as a failure.
    let left: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        left.iter()
            .all(|n| n.ends_with(".log") && !n.ends_with(".tar.gz") && !n.ends_with(".json")),
        "left in --out: {left:?}"
    );
    let log = fs::read_to_string(out.join(&left[0])).unwrap();
    assert!(
        log.ends_with(&format!(
            "build-index: the build was stopped because build-index received SIG{signal}\n"
        )),
        "log: {log}"
    );
}

#[test]
fn sigterm_kills_the_build_process_group_and_leaves_no_record() {
    stops_the_build_on("TERM");
}

#[test]
fn sigint_kills_the_build_process_group_and_leaves_no_record() {
    stops_the_build_on("INT");
}

#[test]
fn sighup_kills_the_build_process_group_and_leaves_no_record() {
    stops_the_build_on("HUP");
}
