//! Unit tests of `publish`: signing, idempotence, refusals, failures and `--expect`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use quickinstall::index::format::PackageKind;
use quickinstall::index::signature::TrustedKeys;
use tar::EntryType;

use super::*;
use crate::package::{self, Entry};
use crate::plan::{Matrix, MatrixItem};
use crate::record::{self, Record};
use crate::validate::tests::hostile_archive;

struct Setup {
    dir: tempfile::TempDir,
    key: PathBuf,
    public: String,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.key");
    let public = crate::keygen::keygen(&key, &dir.path().join("k.pub"), false).unwrap();
    Setup { dir, key, public }
}

impl Setup {
    fn index(&self) -> PathBuf {
        self.dir.path().join("index")
    }

    fn request(&self, results: Vec<PathBuf>) -> PublishRequest {
        PublishRequest {
            index: self.index(),
            secret_key: self.key.clone(),
            archive_base: None,
            history: None,
            results,
            expect: None,
            run_id: None,
            delegation: None,
            signature_validity: 30 * 86_400,
        }
    }

    /// A real build output: archive made by `package`, record beside it.
    fn result(&self, version: &str, target: &str) -> PathBuf {
        let out = self.dir.path().join(format!("out-{version}-{target}"));
        fs::create_dir_all(&out).unwrap();
        fs::write(out.join("hello"), format!("binary {version} {target}")).unwrap();
        let archive = out.join(record::stem("hello", version, target) + ".tar.gz");
        let entry = Entry {
            name: "hello".into(),
            source: out.join("hello"),
            mode: package::BINARY_MODE,
        };
        package::write_archive(&archive, vec![entry], 0).unwrap();
        self.record_for(&archive, version, target)
    }

    fn record_for(&self, archive: &Path, version: &str, target: &str) -> PathBuf {
        let (sha256, size) = validate::hash_file(archive).unwrap();
        let mut result = crate::record::tests::result();
        result.version = version.into();
        result.target = target.into();
        result.archive = archive.file_name().unwrap().to_str().unwrap().into();
        result.sha256 = sha256;
        result.size = size;
        let path = archive.with_extension("").with_extension("json");
        fs::write(&path, Record::Ok(result).to_bytes()).unwrap();
        path
    }

    fn snapshot(&self) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime)> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.index()];
        while let Some(dir) = stack.pop() {
            for e in fs::read_dir(dir).unwrap() {
                let e = e.unwrap();
                let meta = e.metadata().unwrap();
                if meta.is_dir() {
                    stack.push(e.path());
                } else {
                    out.insert(
                        e.path(),
                        (fs::read(e.path()).unwrap(), meta.modified().unwrap()),
                    );
                }
            }
        }
        out
    }
}

const GNU: &str = "x86_64-unknown-linux-gnu";
const MUSL: &str = "x86_64-unknown-linux-musl";

#[test]
fn publishes_a_signed_package_file_and_the_archive() {
    let s = setup();
    let record = s.result("1.0.0", GNU);
    let done = publish(&s.request(vec![record])).unwrap().published;
    assert!(done[0].changed);
    let rel = "crates/he/ll/hello.json";
    let bytes = fs::read(s.index().join(rel)).unwrap();
    let sig = fs::read_to_string(s.index().join(format!("{rel}.minisig"))).unwrap();
    let mut keys = TrustedKeys::empty();
    keys.add_text(&s.public).unwrap();
    keys.verify(&bytes, &sig, rel).unwrap();
    let file = PackageFile::parse(&bytes, PackageKind::Crate, "hello").unwrap();
    let release = &file.releases[0];
    // Content-addressed: the name carries the first 16 hex digits of the sha256.
    assert_eq!(
        release.archive,
        format!(
            "archives/crates/hello/1.0.0/hello-1.0.0-x86_64-unknown-linux-gnu-{}.tar.gz",
            &release.sha256[..16]
        )
    );
    let (sha, _) = validate::hash_file(&s.index().join(&release.archive)).unwrap();
    assert_eq!(sha, release.sha256);
}

#[test]
fn republishing_the_same_result_touches_nothing() {
    let s = setup();
    let record = s.result("1.0.0", GNU);
    publish(&s.request(vec![record.clone()])).unwrap();
    let before = s.snapshot();
    let done = publish(&s.request(vec![record])).unwrap().published;
    assert!(!done[0].changed);
    assert_eq!(s.snapshot(), before);
}

#[test]
fn a_new_release_gets_a_later_signature_timestamp() {
    let s = setup();
    publish(&s.request(vec![s.result("1.0.0", GNU)])).unwrap();
    let sig_path = s.index().join("crates/he/ll/hello.json.minisig");
    let first = sign::previous_timestamp(&fs::read_to_string(&sig_path).unwrap()).unwrap();
    publish(&s.request(vec![s.result("1.0.0", MUSL)])).unwrap();
    let second = sign::previous_timestamp(&fs::read_to_string(&sig_path).unwrap()).unwrap();
    assert!(second > first);
}

#[test]
fn concurrent_publishers_never_lose_each_others_releases() {
    let s = setup();
    let per_thread = 8;
    let mut records = Vec::new();
    for target in [GNU, MUSL] {
        let list: Vec<_> = (0..per_thread)
            .map(|i| s.result(&format!("1.{i}.0"), target))
            .collect();
        records.push(list);
    }
    std::thread::scope(|scope| {
        for list in &records {
            let s = &s;
            scope.spawn(move || {
                for record in list {
                    publish(&s.request(vec![record.clone()])).unwrap();
                }
            });
        }
    });
    let bytes = fs::read(s.index().join("crates/he/ll/hello.json")).unwrap();
    let file = PackageFile::parse(&bytes, PackageKind::Crate, "hello").unwrap();
    assert_eq!(file.releases.len(), 2 * per_thread);
}

#[test]
fn archive_url_templates_fill_in_the_release() {
    assert_eq!(
        archive_url(
            "https://github.com/o/r/releases/download/{name}-{version}/{file}",
            "archives/crates/rg/1.0.0/rg-1.0.0-t-x.tar.gz",
            "rg",
            "1.0.0",
            "t-x"
        ),
        "https://github.com/o/r/releases/download/rg-1.0.0/rg-1.0.0-t-x.tar.gz"
    );
    assert_eq!(
        archive_url("https://h/files/", "archives/a.tar.gz", "a", "1.0.0", "t-x"),
        "https://h/files/archives/a.tar.gz"
    );
}

#[test]
fn archive_base_makes_absolute_archive_urls() {
    let s = setup();
    let mut request = s.request(vec![s.result("1.0.0", GNU)]);
    request.archive_base = Some("https://example.com/files/".into());
    publish(&request).unwrap();
    let bytes = fs::read(s.index().join("crates/he/ll/hello.json")).unwrap();
    let file = PackageFile::parse(&bytes, PackageKind::Crate, "hello").unwrap();
    assert_eq!(
        file.releases[0].archive,
        format!(
            "https://example.com/files/archives/crates/hello/1.0.0/hello-1.0.0-x86_64-unknown-linux-gnu-{}.tar.gz",
            &file.releases[0].sha256[..16]
        )
    );
}

fn refused(s: &Setup, entries: &[(&str, EntryType, u32, &[u8])]) -> String {
    let archive = s
        .dir
        .path()
        .join(record::stem("hello", "1.0.0", GNU) + ".tar.gz");
    hostile_archive(&archive, entries);
    let record = s.record_for(&archive, "1.0.0", GNU);
    let report = publish(&s.request(vec![record.clone()])).unwrap();
    assert!(report.published.is_empty());
    assert!(
        !s.index().join("crates").exists(),
        "index touched: {report:?}"
    );
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].path, record);
    report.refused[0].reason.clone()
}

#[test]
fn refuses_hostile_or_inconsistent_archives_without_touching_the_index() {
    let s = setup();
    let r = EntryType::Regular;
    let msg = refused(&s, &[("hello", EntryType::Symlink, 0o755, b"")]);
    assert!(msg.contains("not a regular file"), "{msg}");
    let msg = refused(&s, &[("hello", r, 0o755, b"x"), ("../x", r, 0o755, b"x")]);
    assert!(msg.contains("leaving"), "{msg}");
    let msg = refused(&s, &[("hello", r, 0o644, b"x")]);
    assert!(msg.contains("not executable"), "{msg}");
    let msg = refused(&s, &[("hello", r, 0o755, b"x"), ("extra", r, 0o755, b"x")]);
    assert!(msg.contains("`extra`"), "{msg}");
}

#[test]
fn refuses_a_record_whose_sha256_does_not_match_the_archive() {
    let s = setup();
    let record = s.result("1.0.0", GNU);
    let mut json: serde_json::Value = serde_json::from_slice(&fs::read(&record).unwrap()).unwrap();
    json["sha256"] = "00".repeat(32).into();
    fs::write(&record, serde_json::to_vec(&json).unwrap()).unwrap();
    let report = publish(&s.request(vec![record])).unwrap();
    assert!(report.refused[0].reason.contains("sha256"), "{report:?}");
    assert!(!s.index().join("crates").exists());
}

#[test]
fn repairs_a_missing_signature_on_republish() {
    let s = setup();
    let record = s.result("1.0.0", GNU);
    publish(&s.request(vec![record.clone()])).unwrap();
    let sig = s.index().join("crates/he/ll/hello.json.minisig");
    fs::remove_file(&sig).unwrap();
    let done = publish(&s.request(vec![record])).unwrap().published;
    assert!(done[0].changed);
    assert!(sig.exists());
}

fn failure_record(s: &Setup, version: &str, target: &str) -> PathBuf {
    let failure = Record::Failed(record::BuildFailure {
        v: record::RECORD_VERSION,
        kind: PackageKind::Crate,
        name: "hello".into(),
        version: version.into(),
        target: target.into(),
        log_tail: "error[E0425]: cannot find value".into(),
        failed_at: "2026-11-25T00:00:00Z".into(),
        reason: history::Reason::CompileError,
    });
    let path = s
        .dir
        .path()
        .join(record::stem("hello", version, target) + ".failed.json");
    fs::write(&path, failure.to_bytes()).unwrap();
    path
}

#[test]
fn refuses_failure_records_without_a_history() {
    let s = setup();
    let report = publish(&s.request(vec![failure_record(&s, "1.0.0", GNU)])).unwrap();
    assert!(
        report.refused[0].reason.contains("nothing to publish"),
        "{report:?}"
    );
}

#[test]
fn merges_failures_into_the_history_and_publishes_the_rest() {
    let s = setup();
    let history_path = s.dir.path().join("history.jsonl");
    let failed = failure_record(&s, "1.0.0", MUSL);
    let mut request = s.request(vec![failed.clone(), s.result("1.0.0", GNU)]);
    request.history = Some(history_path.clone());
    let report = publish(&request).unwrap();
    assert_eq!(report.published.len(), 1);
    assert_eq!(report.failures_added, 1);
    assert_eq!(report.failures[0].target, MUSL);
    let lines = history::read(&history_path).unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].reason, history::Reason::CompileError);
    assert_eq!(lines[0].time, "2026-11-25T00:00:00Z");
    // The same failure published again is not duplicated.
    let mut again = s.request(vec![failed]);
    again.history = Some(history_path.clone());
    assert_eq!(publish(&again).unwrap().failures_added, 0);
    assert_eq!(history::read(&history_path).unwrap().len(), 1);
}

#[test]
fn concurrent_publishers_merge_all_failures() {
    let s = setup();
    let history_path = s.dir.path().join("history.jsonl");
    let lists: Vec<Vec<PathBuf>> = [GNU, MUSL]
        .iter()
        .map(|t| {
            (0..10)
                .map(|i| failure_record(&s, &format!("1.{i}.0"), t))
                .collect()
        })
        .collect();
    std::thread::scope(|scope| {
        for list in &lists {
            let (s, history_path) = (&s, &history_path);
            scope.spawn(move || {
                for record in list {
                    let mut request = s.request(vec![record.clone()]);
                    request.history = Some(history_path.clone());
                    publish(&request).unwrap();
                }
            });
        }
    });
    assert_eq!(history::read(&history_path).unwrap().len(), 20);
}

/// A record file that is not valid (truncated mid-write) is refused and reported; the valid
/// one beside it is published and the run goes on.
#[test]
fn one_truncated_record_does_not_stop_the_others() {
    let s = setup();
    let good = s.result("1.0.0", GNU);
    let bad = s.result("1.0.0", MUSL);
    let bytes = fs::read(&bad).unwrap();
    fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let report = publish(&s.request(vec![bad.clone(), good])).unwrap();
    assert_eq!(report.published.len(), 1);
    assert_eq!(report.published[0].target, GNU);
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].path, bad);
    assert!(
        report.refused[0].reason.contains("is not a build record"),
        "{report:?}"
    );
}

/// The farm's layout: one artifact directory per plan item, as the workflow downloads them.
struct Farm {
    plan: PathBuf,
    artifacts: PathBuf,
    history: PathBuf,
}

impl Setup {
    fn farm(&self, items: &[MatrixItem]) -> Farm {
        let plan = self.dir.path().join("plan.json");
        let matrix = Matrix {
            include: items.to_vec(),
        };
        fs::write(&plan, matrix.to_line()).unwrap();
        let artifacts = self.dir.path().join("artifacts");
        fs::create_dir_all(&artifacts).unwrap();
        Farm {
            plan,
            artifacts,
            history: self.dir.path().join("history.jsonl"),
        }
    }

    /// A build of `hello` at `version` for `target`, written into `dir` as `build` would.
    fn build_into(&self, dir: &Path, name: &str, version: &str, target: &str) -> PathBuf {
        fs::create_dir_all(dir).unwrap();
        let binary = self
            .dir
            .path()
            .join(format!("bin-{name}-{version}-{target}"));
        fs::write(&binary, format!("binary {name} {version} {target}")).unwrap();
        let stem = record::stem(name, version, target);
        let archive = dir.join(format!("{stem}.tar.gz"));
        let entry = Entry {
            name: "hello".into(),
            source: binary,
            mode: package::BINARY_MODE,
        };
        package::write_archive(&archive, vec![entry], 0).unwrap();
        let (sha256, size) = validate::hash_file(&archive).unwrap();
        let mut result = crate::record::tests::result();
        result.name = name.into();
        result.version = version.into();
        result.target = target.into();
        result.archive = format!("{stem}.tar.gz");
        result.sha256 = sha256;
        result.size = size;
        let path = dir.join(format!("{stem}.json"));
        fs::write(&path, Record::Ok(result).to_bytes()).unwrap();
        path
    }

    fn expect_request(&self, farm: &Farm) -> PublishRequest {
        PublishRequest {
            history: Some(farm.history.clone()),
            expect: Some(Expect {
                plan: farm.plan.clone(),
                artifacts: farm.artifacts.clone(),
            }),
            run_id: Some("42".into()),
            delegation: None,
            signature_validity: 30 * 86_400,
            ..self.request(Vec::new())
        }
    }
}

fn item(name: &str, version: &str, target: &str) -> MatrixItem {
    MatrixItem::new(PackageKind::Crate, name, version, target)
}

#[test]
fn expect_refuses_records_a_build_forged_for_other_items() {
    let s = setup();
    let hello = item("hello", "1.0.0", GNU);
    let other = item("other", "2.0.0", GNU);
    let farm = s.farm(&[hello.clone(), other.clone()]);
    let hello_dir = farm.artifacts.join(&hello.artifact);
    s.build_into(&hello_dir, "hello", "1.0.0", GNU);
    // The hello build's script also writes a record for another planned item, one for a
    // crate that was never planned, and a stray file.
    let forged_other = s.build_into(&hello_dir, "other", "2.0.0", GNU);
    let forged_rg = s.build_into(&hello_dir, "ripgrep", "14.1.1", GNU);
    // A directory no plan item has.
    let stray_dir = farm
        .artifacts
        .join("build-ripgrep-14.1.1-x86_64-unknown-linux-gnu");
    s.build_into(&stray_dir, "ripgrep", "14.1.1", GNU);
    // The other item's own job: a record whose content names hello (a forged file name).
    let other_dir = farm.artifacts.join(&other.artifact);
    let renamed = s.build_into(&other_dir, "hello", "1.0.0", MUSL);
    let as_other = other_dir.join(format!("{}.json", other.stem()));
    fs::rename(&renamed, &as_other).unwrap();

    let report = publish(&s.expect_request(&farm)).unwrap();
    let published: Vec<_> = report
        .published
        .iter()
        .map(|p| (p.name.as_str(), p.target.as_str()))
        .collect();
    assert_eq!(published, [("hello", GNU)]);
    let refused: Vec<&Path> = report.refused.iter().map(|r| r.path.as_path()).collect();
    for path in [
        forged_other.as_path(),
        forged_rg.as_path(),
        stray_dir.as_path(),
        as_other.as_path(),
    ] {
        assert!(
            refused.contains(&path),
            "{} not refused: {report:#?}",
            path.display()
        );
    }
    let reason = &report
        .refused
        .iter()
        .find(|r| r.path == as_other)
        .unwrap()
        .reason;
    assert!(reason.contains("planned for `other 2.0.0`"), "{reason}");
    // Only hello has a package file; the refused result of a planned item is a failure.
    assert!(!s.index().join("crates/ot").exists());
    assert!(!s.index().join("crates/ri").exists());
    let lines = history::read(&farm.history).unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        (lines[0].krate.as_str(), lines[0].reason),
        ("other", Reason::InvalidResult)
    );
    assert_eq!(lines[0].run.as_deref(), Some("42"));
}

#[test]
fn expect_records_invalid_and_missing_results_as_failures() {
    let s = setup();
    let good = item("hello", "1.0.0", GNU);
    let truncated = item("hello", "1.0.0", MUSL);
    let missing = item("gone", "1.0.0", GNU);
    let farm = s.farm(&[good.clone(), truncated.clone(), missing]);
    s.build_into(&farm.artifacts.join(&good.artifact), "hello", "1.0.0", GNU);
    let bad = s.build_into(
        &farm.artifacts.join(&truncated.artifact),
        "hello",
        "1.0.0",
        MUSL,
    );
    fs::write(&bad, b"{\"status\":\"ok\",\"v\":1,").unwrap();
    let report = publish(&s.expect_request(&farm)).unwrap();
    assert_eq!(report.published.len(), 1);
    assert_eq!(report.refused.len(), 1);
    let lines = history::read(&farm.history).unwrap();
    let reasons: Vec<_> = lines
        .iter()
        .map(|f| (f.krate.as_str(), f.target.as_str(), f.reason))
        .collect();
    assert!(
        reasons.contains(&("hello", MUSL, Reason::InvalidResult)),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("gone", GNU, Reason::MissingResult)),
        "{reasons:?}"
    );
    assert_eq!(lines.len(), 2);
}

#[test]
fn expect_without_a_readable_plan_publishes_nothing() {
    let s = setup();
    let farm = s.farm(&[]);
    fs::write(&farm.plan, "not json").unwrap();
    let err = publish(&s.expect_request(&farm)).unwrap_err();
    assert!(matches!(err, PublishError::BadPlan { .. }), "{err}");
}

#[test]
fn go_modules_get_release_names_without_slashes() {
    assert_eq!(release_name(PackageKind::Crate, "ripgrep"), "ripgrep");
    assert_eq!(
        release_name(PackageKind::Go, "github.com/BurntSushi/toml"),
        "github.com+!burnt!sushi+toml"
    );
}
