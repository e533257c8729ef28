//! The tracker against cargo's own bytes, locks and concurrent writers.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md)

use std::fs::File;
use std::process::Command;
use std::sync::{Arc, Barrier};

use super::*;

const RUSTC: &str =
    "rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\n";
const TARGET: &str = "x86_64-unknown-linux-musl";

fn v(s: &str) -> semver::Version {
    semver::Version::parse(s).unwrap()
}

fn bins(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn read(root: &Path, file: &str) -> String {
    fs::read_to_string(root.join(file)).unwrap()
}

#[test]
fn says_when_it_waits_for_another_holder_of_the_lock() {
    let root = tempfile::tempdir().unwrap();
    let holder = CargoTracker::load(root.path()).unwrap();
    let (told, waited) = std::sync::mpsc::channel();
    let root_path = root.path().to_owned();
    let waiter = std::thread::spawn(move || {
        CargoTracker::load_with(&root_path, &|path| {
            told.send(path.to_owned()).unwrap();
        })
        .map(|_| ())
    });
    // The waiter reports the held file before it blocks; only then is the lock released.
    let path = waited.recv().unwrap();
    assert!(path.ends_with(".crates.toml"), "{}", path.display());
    drop(holder);
    waiter.join().unwrap().unwrap();
}

#[test]
fn writes_both_files_byte_for_byte_as_cargo_does() {
    let root = tempfile::tempdir().unwrap();
    let mut tracker = CargoTracker::load(root.path()).unwrap();
    let id = PackageId::crates_io("hello-tool", v("0.1.0"));
    tracker.mark_installed(
        &id,
        &bins(&["hello"]),
        Some("^0.1".into()),
        TARGET,
        Some(RUSTC.into()),
    );
    tracker.save().unwrap();
    assert_eq!(
        read(root.path(), ".crates.toml"),
        "[v1]\n\"hello-tool 0.1.0 (registry+https://github.com/rust-lang/crates.io-index)\" = [\"hello\"]\n"
    );
    assert_eq!(
        read(root.path(), ".crates2.json"),
        concat!(
            r#"{"installs":{"hello-tool 0.1.0 (registry+https://github.com/rust-lang/crates.io-index)":"#,
            r#"{"version_req":"^0.1","bins":["hello"],"features":[],"all_features":false,"#,
            r#""no_default_features":false,"profile":"release","target":"x86_64-unknown-linux-musl","#,
            r#""rustc":"rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\n"}}}"#
        )
    );
}

/// Exactly what cargo 1.95 wrote for two `cargo install --path` runs (one crate with two
/// binaries): reading and saving it unchanged must give the same bytes.
#[test]
fn rewrites_a_file_cargo_wrote_unchanged() {
    let v1 = "[v1]\n\"hello-tool 0.1.0 (path+file:///tmp/qi-exp/hello-tool)\" = [\n    \"hello\",\n    \"hello2\",\n]\n\"solo 0.1.0 (path+file:///tmp/qi-exp/solo)\" = [\"solo\"]\n";
    let info = r#"{"version_req":null,"bins":BINS,"features":[],"all_features":false,"no_default_features":false,"profile":"release","target":"x86_64-unknown-linux-gnu","rustc":"rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\ncommit-hash: 59807616e1fa2540724bfbac14d7976d7e4a3860\ncommit-date: 2026-04-14\nhost: x86_64-unknown-linux-gnu\nrelease: 1.95.0\nLLVM version: 22.1.2\n"}"#;
    let v2 = format!(
        r#"{{"installs":{{"hello-tool 0.1.0 (path+file:///tmp/qi-exp/hello-tool)":{},"solo 0.1.0 (path+file:///tmp/qi-exp/solo)":{}}}}}"#,
        info.replace("BINS", r#"["hello","hello2"]"#),
        info.replace("BINS", r#"["solo"]"#)
    );
    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join(".crates.toml"), v1).unwrap();
    fs::write(root.path().join(".crates2.json"), &v2).unwrap();
    CargoTracker::load(root.path()).unwrap().save().unwrap();
    assert_eq!(read(root.path(), ".crates.toml"), v1);
    assert_eq!(read(root.path(), ".crates2.json"), v2);
}

#[test]
fn keeps_unknown_keys_across_a_rewrite() {
    let root = tempfile::tempdir().unwrap();
    let id = "a 1.0.0 (registry+https://github.com/rust-lang/crates.io-index)";
    fs::write(
        root.path().join(".crates.toml"),
        format!("future = 1\n\n[v1]\n\"{id}\" = [\"a\"]\n"),
    )
    .unwrap();
    fs::write(
        root.path().join(".crates2.json"),
        format!(
            r#"{{"installs":{{"{id}":{{"version_req":null,"bins":["a"],"features":[],"all_features":false,"no_default_features":false,"profile":"release","target":null,"rustc":null,"pinned":{{"x":[1]}}}}}},"v3_hint":"yes"}}"#
        ),
    )
    .unwrap();
    let mut tracker = CargoTracker::load(root.path()).unwrap();
    tracker.mark_installed(
        &PackageId::crates_io("b", v("2.0.0")),
        &bins(&["b"]),
        None,
        TARGET,
        None,
    );
    tracker.save().unwrap();
    let v1 = read(root.path(), ".crates.toml");
    assert!(v1.contains("future = 1"), "{v1}");
    let v2: serde_json::Value = serde_json::from_str(&read(root.path(), ".crates2.json")).unwrap();
    assert_eq!(v2["v3_hint"], "yes");
    assert_eq!(v2["installs"][id]["pinned"]["x"][0], 1);
    assert_eq!(
        v2["installs"]["b 2.0.0 (registry+https://github.com/rust-lang/crates.io-index)"]["target"],
        TARGET
    );
}

#[test]
fn mark_installed_takes_binaries_from_other_packages_like_cargo() {
    let root = tempfile::tempdir().unwrap();
    let mut t = CargoTracker::load(root.path()).unwrap();
    let a = PackageId::crates_io("a", v("1.0.0"));
    let b = PackageId::crates_io("b", v("1.0.0"));
    let c = PackageId::crates_io("c", v("1.0.0"));
    t.mark_installed(&a, &bins(&["x", "y"]), None, TARGET, None);
    t.mark_installed(&b, &bins(&["y"]), None, TARGET, None);
    assert_eq!(t.bins_of(&a), bins(&["x"]));
    assert_eq!(t.owner_of("y"), Some(b.clone()));
    t.mark_installed(&c, &bins(&["x"]), None, TARGET, None);
    assert_eq!(t.bins_of(&a), bins(&[]));
    assert_eq!(t.installed_versions("a"), vec![]);
    assert_eq!(t.owner_of("x"), Some(c));
    // Marking the same package again adds to its binaries and updates its settings.
    t.mark_installed(&b, &bins(&["z"]), Some("=1.0.0".into()), "t-2", None);
    assert_eq!(t.bins_of(&b), bins(&["y", "z"]));
    let info = &t.v2.installs[&b];
    assert_eq!(info.version_req.as_deref(), Some("=1.0.0"));
    assert_eq!(info.target.as_deref(), Some("t-2"));
}

#[test]
fn remove_package_drops_an_older_version_on_upgrade() {
    let root = tempfile::tempdir().unwrap();
    let mut t = CargoTracker::load(root.path()).unwrap();
    let old = PackageId::crates_io("rg", v("13.0.0"));
    let new = PackageId::crates_io("rg", v("14.1.0"));
    t.mark_installed(&old, &bins(&["rg", "rg-old-helper"]), None, TARGET, None);
    t.mark_installed(&new, &bins(&["rg"]), None, TARGET, None);
    assert_eq!(t.installed_versions("rg"), vec![old.clone(), new.clone()]);
    t.remove_package(&old);
    t.save().unwrap();
    drop(t);
    let t = CargoTracker::load(root.path()).unwrap();
    assert_eq!(t.installed_versions("rg"), vec![new]);
    assert_eq!(t.owner_of("rg-old-helper"), None);
}

#[test]
fn save_truncates_a_longer_previous_content() {
    let root = tempfile::tempdir().unwrap();
    let mut t = CargoTracker::load(root.path()).unwrap();
    for name in ["alpha", "beta", "gamma"] {
        t.mark_installed(
            &PackageId::crates_io(name, v("1.0.0")),
            &bins(&[name]),
            None,
            TARGET,
            Some(RUSTC.into()),
        );
    }
    t.save().unwrap();
    t.remove_package(&PackageId::crates_io("alpha", v("1.0.0")));
    t.remove_package(&PackageId::crates_io("beta", v("1.0.0")));
    t.save().unwrap();
    drop(t);
    assert_eq!(
        read(root.path(), ".crates.toml"),
        "[v1]\n\"gamma 1.0.0 (registry+https://github.com/rust-lang/crates.io-index)\" = [\"gamma\"]\n"
    );
    let v2 = read(root.path(), ".crates2.json");
    assert!(v2.ends_with("}}}") && !v2.contains("alpha"), "{v2}");
}

#[test]
fn load_syncs_v2_from_v1_as_cargo_does() {
    let root = tempfile::tempdir().unwrap();
    fs::write(
        root.path().join(".crates.toml"),
        "[v1]\n\"old-cargo 1.0.0 (registry+https://github.com/rust-lang/crates.io-index)\" = [\"oc\"]\n",
    )
    .unwrap();
    fs::write(
        root.path().join(".crates2.json"),
        r#"{"installs":{"gone 1.0.0 (registry+https://github.com/rust-lang/crates.io-index)":{"version_req":null,"bins":["g"],"features":[],"all_features":false,"no_default_features":false,"profile":"release","target":null,"rustc":null}}}"#,
    )
    .unwrap();
    let t = CargoTracker::load(root.path()).unwrap();
    assert_eq!(t.owner_of("g"), None);
    let id = PackageId::crates_io("old-cargo", v("1.0.0"));
    assert_eq!(t.owner_of("oc"), Some(id.clone()));
    assert_eq!(t.v2.installs[&id].profile, "release");
    assert_eq!(t.v2.installs[&id].target, None);
}

#[test]
fn a_corrupt_tracker_is_a_clear_error_naming_the_file() {
    // rust-lang/cargo#2836: a tracker found full of NUL bytes after a crash.
    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join(".crates.toml"), [0u8; 64]).unwrap();
    let err = CargoTracker::load(root.path()).unwrap_err();
    let path = root.path().join(".crates.toml");
    assert!(matches!(&err, TrackerError::Corrupt { path: p, .. } if *p == path));
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "cargo's install tracker `{}` is corrupt (",
            path.display()
        )),
        "{msg}"
    );
    assert!(msg.contains("(it holds NUL bytes"), "{msg}");
    assert!(msg.contains("move it aside"), "{msg}");

    fs::write(root.path().join(".crates.toml"), "").unwrap();
    fs::write(root.path().join(".crates2.json"), "{\"installs\":").unwrap();
    let err = CargoTracker::load(root.path()).unwrap_err();
    assert!(
        matches!(&err, TrackerError::Corrupt { path, .. } if path.ends_with(".crates2.json")),
        "{err}"
    );
}

#[test]
fn holds_an_exclusive_lock_on_both_files_while_alive() {
    let root = tempfile::tempdir().unwrap();
    let tracker = CargoTracker::load(root.path()).unwrap();
    for name in [".crates.toml", ".crates2.json"] {
        let other = File::open(root.path().join(name)).unwrap();
        assert!(
            matches!(other.try_lock(), Err(fs::TryLockError::WouldBlock)),
            "{name} is not locked"
        );
    }
    drop(tracker);
    let other = File::open(root.path().join(".crates.toml")).unwrap();
    assert!(other.try_lock().is_ok());
}

#[test]
fn concurrent_installs_both_end_up_recorded() {
    let root = tempfile::tempdir().unwrap();
    for round in 0..10 {
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = ["left", "right"]
            .into_iter()
            .map(|side| {
                let barrier = Arc::clone(&barrier);
                let root = root.path().to_owned();
                std::thread::spawn(move || {
                    barrier.wait();
                    let name = format!("{side}-{round}");
                    let mut t = CargoTracker::load(&root).unwrap();
                    t.mark_installed(
                        &PackageId::crates_io(&name, v("1.0.0")),
                        &bins(&[&name]),
                        None,
                        TARGET,
                        None,
                    );
                    t.save().unwrap();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
    let t = CargoTracker::load(root.path()).unwrap();
    for round in 0..10 {
        for side in ["left", "right"] {
            let name = format!("{side}-{round}");
            assert_eq!(t.installed_versions(&name).len(), 1, "{name} lost");
        }
    }
}

#[test]
fn package_ids_parse_print_and_order_like_cargo() {
    let s = "ripgrep 14.1.0 (registry+https://github.com/rust-lang/crates.io-index)";
    let id = PackageId::parse(s).unwrap();
    assert_eq!(id, PackageId::crates_io("ripgrep", v("14.1.0")));
    assert_eq!(id.to_string(), s);
    assert_eq!(
        PackageId::sparse_registry("x", v("1.0.0"), "https://r.example/index/").to_string(),
        "x 1.0.0 (sparse+https://r.example/index/)"
    );
    for bad in [
        "ripgrep",
        "ripgrep 14.1 (registry+x)",
        "ripgrep 14.1.0 registry+x",
        "ripgrep 14.1.0 (nourl)",
    ] {
        assert!(PackageId::parse(bad).is_err(), "{bad}");
    }
    let mut ids = [
        PackageId::crates_io("a", v("1.10.0")),
        PackageId::parse("a 1.9.0 (git+https://g.example/a#abc)").unwrap(),
        PackageId::crates_io("a", v("1.9.0")),
        PackageId::parse("a 1.9.0 (path+file:///src/a)").unwrap(),
    ];
    ids.sort();
    let sources: Vec<_> = ids
        .iter()
        .map(|i| format!("{} {}", i.version(), &i.source()[..4]))
        .collect();
    assert_eq!(
        sources,
        ["1.9.0 path", "1.9.0 regi", "1.9.0 git+", "1.10.0 regi"]
    );
}

/// The real proof: a tracker cargo wrote, extended by us, read back by `cargo install
/// --list` and edited by `cargo uninstall`. Offline; builds one tiny crate.
#[test]
fn cargo_accepts_what_we_write() {
    let tmp = tempfile::tempdir().unwrap();
    let krate = tmp.path().join("hello-tool");
    fs::create_dir_all(krate.join("src")).unwrap();
    fs::write(
        krate.join("Cargo.toml"),
        "[package]\nname = \"hello-tool\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[[bin]]\nname = \"hello\"\npath = \"src/main.rs\"\n",
    )
    .unwrap();
    fs::write(krate.join("src/main.rs"), "fn main() {}\n").unwrap();
    let root = tmp.path().join("root");
    let cargo = |args: &[&str]| {
        let out = Command::new(env!("CARGO"))
            .args(args)
            .arg("--root")
            .arg(&root)
            .env("CARGO_TARGET_DIR", tmp.path().join("target"))
            .env_remove("CARGO_INSTALL_ROOT")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cargo {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    cargo(&[
        "install",
        "--quiet",
        "--offline",
        "--path",
        krate.to_str().unwrap(),
    ]);

    let mut t = CargoTracker::load(&root).unwrap();
    let path_id = t.owner_of("hello").unwrap();
    assert_eq!(path_id.name(), "hello-tool");
    let ours = PackageId::crates_io("fake-tool", v("1.2.3"));
    fs::write(root.join("bin").join("fake-tool"), b"binary").unwrap();
    t.mark_installed(
        &ours,
        &bins(&["fake-tool"]),
        None,
        TARGET,
        Some(RUSTC.into()),
    );
    t.save().unwrap();
    drop(t);

    let list = cargo(&["install", "--list"]);
    assert!(
        list.contains("fake-tool v1.2.3:\n    fake-tool\n"),
        "{list}"
    );
    assert!(list.contains("hello-tool v0.1.0 ("), "{list}");

    cargo(&["uninstall", "fake-tool"]);
    assert!(!root.join("bin").join("fake-tool").exists());
    let t = CargoTracker::load(&root).unwrap();
    assert_eq!(t.installed_versions("fake-tool"), vec![]);
    assert_eq!(t.owner_of("hello"), Some(path_id));
}
