//! `build-index select crates` on the fixture dump (`fixtures/dump/`): the exact queue, the
//! funnel summary, the index and stats boosts, and that the packed fixture matches its sources.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use quickinstall::index::format::{PackageFile, PackageKind, Provenance, RECIPE_VERSION, Release};
use quickinstall::index::path::package_file;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/dump")
}

fn select(args: &[&str], out: &Path) -> Output {
    let dump = fixture_dir().join("db-dump.tar.gz");
    Command::new(env!("CARGO_BIN_EXE_build-index"))
        .args(["select", "crates", "--dump"])
        .arg(dump)
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

/// Adds `name` at `version` (one target) to the index directory.
fn add_to_index(index: &Path, name: &str, version: &str) {
    let mut file = PackageFile::new(PackageKind::Crate, name);
    file.upsert(Release {
        version: version.to_owned(),
        target: "x86_64-unknown-linux-musl".to_owned(),
        archive: format!(
            "archives/crates/{name}/{version}/{name}-{version}-x86_64-unknown-linux-musl.tar.gz"
        ),
        sha256: "0".repeat(64),
        size: 1,
        binaries: vec!["tool".to_owned()],
        packages: Default::default(),
        min_glibc: None,
        recipe: RECIPE_VERSION,
        provenance: Provenance {
            source_checksum: None,
            built_at: "2026-01-01T00:00:00Z".to_owned(),
            toolchain: "rustc 1.95.0".to_owned(),
            extra: BTreeMap::new(),
        },
        extra: BTreeMap::new(),
    });
    let path = index.join(package_file(PackageKind::Crate, name).unwrap());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, file.to_bytes()).unwrap();
}

#[test]
fn selects_the_exact_queue_from_the_fixture_dump() {
    let tmp = tempfile::tempdir().unwrap();
    let stats = tmp.path().join("stats.json");
    std::fs::write(
        &stats,
        r#"{"requested-tool": 50, "ripgrep": 3, "plain-lib": 1000}"#,
    )
    .unwrap();
    let index = tmp.path().join("index");
    add_to_index(&index, "in-index-current", "1.0.0");
    add_to_index(&index, "in-index-older", "0.9.0");
    let queue = tmp.path().join("queue.jsonl");
    let output = select(
        &[
            "--since",
            "2024-01-01",
            "--stats",
            stats.to_str().unwrap(),
            "--index",
            index.to_str().unwrap(),
        ],
        &queue,
    );
    assert!(output.status.success(), "{output:?}");
    // Absent, one per filter edge: yanked-only-tool (every version yanked),
    // prerelease-only-tool and yanked-and-prerelease (nothing stable), plain-lib (requested,
    // but no binaries and not CLI), bins-dropped (an older version had bins, the newest has
    // none), null-bins (NULL bin_names), old-tool, cli-and-old, since-boundary-out (updated
    // before --since), no-versions, in-index-current (the index has that version), and the
    // filler crates (libraries, or tools last updated in 2021).
    let expected = r#"{"crate":"ripgrep","version":"14.1.1","bins":["rg"],"reason":"requested","score":8.903}
{"crate":"bat","version":"0.24.0","bins":["bat"],"reason":"downloads","score":6.699}
{"crate":"bins-only","version":"2.1.0","bins":["bo"],"reason":"downloads","score":5.0}
{"crate":"category-only","version":"0.5.0","bins":[],"reason":"downloads","score":4.0}
{"crate":"requested-tool","version":"0.2.0","bins":["rt"],"reason":"requested","score":3.415}
{"crate":"newest-yanked","version":"1.0.0","bins":["nyt"],"reason":"downloads","score":3.0}
{"crate":"bins-added","version":"1.1.0","bins":["nb"],"reason":"downloads","score":2.0}
{"crate":"in-index-older","version":"1.0.0","bins":["iio"],"reason":"new-version","score":2.0}
{"crate":"prerelease-newer","version":"1.2.0","bins":["pn"],"reason":"downloads","score":2.0}
{"crate":"tie-a","version":"1.0.0","bins":["ta"],"reason":"downloads","score":2.0}
{"crate":"tie-b","version":"1.0.0","bins":["tb"],"reason":"downloads","score":2.0}
{"crate":"build-metadata","version":"1.0.0+build.5","bins":["bm"],"reason":"downloads","score":1.0}
{"crate":"quoted-bins","version":"0.1.0","bins":["qb","qb helper","qb\"x"],"reason":"downloads","score":1.0}
{"crate":"semver-order","version":"1.10.0","bins":["so"],"reason":"downloads","score":1.0}
{"crate":"since-boundary-in","version":"1.0.0","bins":[],"reason":"downloads","score":1.0}
{"crate":"no-download-row","version":"0.0.1","bins":["ndr"],"reason":"downloads","score":0.0}
"#;
    assert_eq!(std::fs::read_to_string(&queue).unwrap(), expected);
    let summary = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        summary,
        "crates in the dump                      98
  with a stable version                 92   (dropped 3 yanked-only, 2 prerelease-only, 1 without versions)
  with binaries                         27
  in command-line-utilities              7   (3 of them without binaries)
  binaries or CLI category              30
  updated since 2024-01-01              17
  selected                              16   (2 requested, 1 new versions; already in the index: 1)
note: skipped 1 versions whose number is not semver
"
    );
}

#[test]
fn limit_keeps_the_top_of_the_queue() {
    let tmp = tempfile::tempdir().unwrap();
    let queue = tmp.path().join("queue.jsonl");
    let output = select(&["--since", "2024-01-01", "--limit", "2"], &queue);
    assert!(output.status.success(), "{output:?}");
    let text = std::fs::read_to_string(&queue).unwrap();
    let names: Vec<&str> = text.lines().map(|l| l.split('"').nth(3).unwrap()).collect();
    assert_eq!(names, ["ripgrep", "bat"]);
}

#[test]
fn same_inputs_give_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    assert!(select(&[], &a).status.success());
    assert!(select(&[], &b).status.success());
    let a = std::fs::read(a).unwrap();
    assert!(!a.is_empty());
    assert_eq!(a, std::fs::read(b).unwrap());
}

#[test]
fn refuses_a_bad_since_date_and_writes_no_queue() {
    let tmp = tempfile::tempdir().unwrap();
    let queue = tmp.path().join("queue.jsonl");
    let output = select(&["--since", "2024-1-1"], &queue);
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "error: `--since 2024-1-1` is not a date of the form YYYY-MM-DD\n"
    );
    assert!(!queue.exists());
}

#[test]
fn fixture_archive_holds_exactly_its_source_tables() {
    let dir = fixture_dir();
    let file = std::fs::File::open(dir.join("db-dump.tar.gz")).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut seen = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().into_owned();
        let Ok(name) = path.strip_prefix("2026-11-20-020000/data") else {
            continue;
        };
        let mut body = String::new();
        entry.read_to_string(&mut body).unwrap();
        let source = std::fs::read_to_string(dir.join("src").join(name)).unwrap();
        assert_eq!(
            body,
            source,
            "{} differs from src/; rerun gen-dump pack",
            name.display()
        );
        seen.push(name.to_str().unwrap().to_owned());
    }
    seen.sort();
    let mut sources: Vec<String> = std::fs::read_dir(dir.join("src"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".csv"))
        .collect();
    sources.sort();
    assert_eq!(seen, sources);
}

/// Kills the server child when the test ends, pass or fail.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn reads_stats_from_an_http_url() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    std::fs::write(served.join("stats.json"), r#"{"tie-b": 1}"#).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_build-index"))
        .args(["serve", "--addr", "127.0.0.1:0", "--index"])
        .arg(&served)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut base = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut base)
        .unwrap();
    let url = format!("{}stats.json", base.trim());
    let queue = tmp.path().join("queue.jsonl");
    let output = select(&["--since", "2024-01-01", "--stats", &url], &queue);
    drop(server);
    assert!(output.status.success(), "{output:?}");
    let text = std::fs::read_to_string(&queue).unwrap();
    // One request lifts tie-b (2.0 + 2·log10 2) above bins-added, tie-a and the rest at 2.0.
    let line = text.lines().find(|l| l.contains("\"tie-b\"")).unwrap();
    assert_eq!(
        line,
        r#"{"crate":"tie-b","version":"1.0.0","bins":["tb"],"reason":"requested","score":2.602}"#
    );
    let position = text.lines().position(|l| l == line).unwrap();
    let bins_added = text
        .lines()
        .position(|l| l.contains("\"bins-added\""))
        .unwrap();
    assert!(position < bins_added, "{text}");
}

#[test]
fn a_missing_stats_source_is_named_and_skipped() {
    // The stats are best effort: an outage of the stats service must not stop the farm.
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope.json");
    let queue = tmp.path().join("queue.jsonl");
    let output = select(&["--stats", missing.to_str().unwrap()], &queue);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.starts_with(&format!(
            "warning: the stats `{}` were not found; ranked without install requests\n",
            missing.display()
        )),
        "{stdout}"
    );
    assert!(queue.exists());
}
