//! Faults an unlucky user meets and hostile local state: interrupted runs, full disks, slow
//! servers, odd files in the archive cache. Each test drives the real binary and checks the
//! message, the exit code, and what is left on disk.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::index::{self, Scenario, world};

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
