//! cargo's install tracker (`src/install/cargo_tracker/`): the bytes before the first NUL are
//! `.crates.toml`, the rest `.crates2.json` (neither format allows a raw NUL), written into a
//! fresh install root. A tracker that loads must answer queries consistently, take an install
//! and save, and what it saved must load again with that install recorded as it was in memory.

#![no_main]

#[path = "scratch.rs"]
mod scratch;

use std::collections::BTreeSet;
use std::fs;

use libfuzzer_sys::fuzz_target;
use quickinstall::install::cargo_tracker::{CargoTracker, PackageId, installed_snapshot};

fuzz_target!(|data: &[u8]| {
    let (v1, v2) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let root = scratch::dir("qi-fuzz-tracker-");
    fs::write(root.path().join(".crates.toml"), v1).expect("write .crates.toml");
    fs::write(root.path().join(".crates2.json"), v2).expect("write .crates2.json");

    let snapshot = installed_snapshot(root.path());
    let Ok(mut tracker) = CargoTracker::load(root.path()) else {
        return;
    };
    // `.crates.toml` is the source of truth: the lock-free snapshot and the tracker agree.
    for (id, bins) in &snapshot {
        assert_eq!(&tracker.bins_of(id), bins);
        assert!(tracker.installed_versions(id.name()).contains(id));
        for bin in bins {
            assert!(tracker.owner_of(bin).is_some(), "`{bin}` has an owner");
        }
    }
    let id = PackageId::crates_io("qi-hello", semver::Version::new(0, 2, 0));
    let bins: BTreeSet<String> = ["qi-hello".to_owned()].into();
    let before = tracker.bins_of(&id);
    tracker.mark_installed(&id, &bins, None, "x86_64-unknown-linux-musl", None);
    assert_eq!(tracker.owner_of("qi-hello"), Some(id.clone()));
    // As in cargo, the new binaries join those already recorded for the same package id (a
    // reinstall with fewer `--bin`s leaves the others on disk, and recorded).
    let recorded = tracker.bins_of(&id);
    assert_eq!(recorded, &before | &bins);
    tracker.save().expect("a tracker that loaded can be saved");
    drop(tracker);

    let reloaded = CargoTracker::load(root.path()).expect("what was saved loads again");
    assert_eq!(reloaded.bins_of(&id), recorded);
    let again = installed_snapshot(root.path());
    assert!(
        again.iter().any(|(i, b)| *i == id && *b == recorded),
        "{again:?}"
    );
});
