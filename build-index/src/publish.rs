//! `build-index publish`: validated build results into the signed release index.
//!
//! Everything the build produced is re-checked first ([`crate::record`], [`crate::validate`]),
//! before the index is locked. Then, under an exclusive lock on `<index>/.lock`, each archive is
//! copied in, the package file updated and re-signed, each file by temp + rename. Publishing the
//! same result twice changes nothing, not even an mtime. With `--history`, failure records
//! are accepted too and merged into the failure history ([`crate::history::merge`]).

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use quickinstall::index::format::{FormatError, PackageFile, Release};
use quickinstall::index::path;

use crate::history::{self, Failure, HistoryError};
use crate::record::{self, BuildResult, Record, RecordError};
use crate::sign::{self, SignError, Signer};
use crate::validate::{self, ValidateError};
use crate::{atomic, time};

/// Largest record file read; real ones are under 2 KiB.
const MAX_RECORD_BYTES: u64 = 1 << 20;

/// What to publish and where.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    pub index: PathBuf,
    pub secret_key: PathBuf,
    /// When set, releases point at `<base>/<relative archive path>` instead of the relative path.
    pub archive_base: Option<String>,
    /// When set, failure records are merged into this failure history instead of refused.
    pub history: Option<PathBuf>,
    pub results: Vec<PathBuf>,
    /// Sign under this delegation (bundles then carry it).
    pub delegation: Option<PathBuf>,
    /// Seconds each new signature stays valid.
    pub signature_validity: u64,
}

/// What one publish did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublishReport {
    /// One per successful result, in the order given.
    pub published: Vec<Published>,
    /// One per failure record, in the order given (already in the history or not).
    pub failures: Vec<Failure>,
    /// How many of `failures` were new to the history.
    pub failures_added: usize,
}

/// What happened to one result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub name: String,
    pub version: String,
    pub target: String,
    /// The package file, relative to the index root.
    pub package_file: String,
    /// False when the index already held exactly this release (nothing was written).
    pub changed: bool,
}

/// Why publishing stopped.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("could not read build record `{}`: {source}", path.display())]
    ReadRecord { path: PathBuf, source: io::Error },
    #[error("build record `{}` is larger than any real record", path.display())]
    RecordTooLarge { path: PathBuf },
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Archive(#[from] ValidateError),
    #[error(transparent)]
    Key(#[from] SignError),
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error("`{name}` cannot be published: {source}")]
    Release {
        name: String,
        source: Box<FormatError>,
    },
    #[error("`{name}` is not a valid crate name")]
    BadName { name: String },
    #[error("index file `{}` is invalid, so it was not rewritten: {source}", path.display())]
    ExistingFile {
        path: PathBuf,
        source: Box<FormatError>,
    },
    #[error("could not lock the index at `{}`: {source}", path.display())]
    Lock { path: PathBuf, source: io::Error },
    #[error("could not read `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("could not write `{}`: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// A result whose record and archive have passed every check.
struct Checked {
    result: BuildResult,
    archive_path: PathBuf,
}

/// Validates every record, merges the failures into the history (when one is given), then
/// publishes the successful results all under one lock of the index.
pub fn publish(request: &PublishRequest) -> Result<PublishReport, PublishError> {
    let signer = sign::load(
        &request.secret_key,
        request.delegation.as_deref(),
        request.signature_validity,
    )?;
    let mut checked = Vec::new();
    let mut failures = Vec::new();
    for path in &request.results {
        match check(path, request.history.is_some())? {
            Outcome::Ok(c) => checked.push(*c),
            Outcome::Failed(f) => failures.push(f),
        }
    }
    let mut report = PublishReport {
        failures_added: match &request.history {
            Some(history) if !failures.is_empty() => history::merge(history, &failures)?,
            _ => 0,
        },
        failures,
        published: Vec::new(),
    };
    if checked.is_empty() {
        return Ok(report);
    }
    report.published = publish_checked(request, &signer, &checked)?;
    Ok(report)
}

/// Publishes checked results under an exclusive lock of the index.
fn publish_checked(
    request: &PublishRequest,
    signer: &Signer,
    checked: &[Checked],
) -> Result<Vec<Published>, PublishError> {
    fs::create_dir_all(&request.index).map_err(|source| PublishError::Write {
        path: request.index.clone(),
        source,
    })?;
    let lock_path = request.index.join(".lock");
    let lock_err = |source| PublishError::Lock {
        path: lock_path.clone(),
        source,
    };
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(lock_err)?;
    // Held until `lock` is dropped at the end of this function: two publishers read-modify-write
    // the same package file one after the other, never interleaved.
    lock.lock().map_err(lock_err)?;
    checked.iter().map(|c| apply(request, signer, c)).collect()
}

/// A record that passed its checks.
enum Outcome {
    Ok(Box<Checked>),
    Failed(Failure),
}

/// Reads and checks one record and, for a success, its archive; touches nothing. A failure
/// record is refused unless `accept_failures`.
fn check(record_path: &Path, accept_failures: bool) -> Result<Outcome, PublishError> {
    let len = fs::metadata(record_path)
        .map_err(|source| PublishError::ReadRecord {
            path: record_path.to_owned(),
            source,
        })?
        .len();
    if len > MAX_RECORD_BYTES {
        return Err(PublishError::RecordTooLarge {
            path: record_path.to_owned(),
        });
    }
    let bytes = fs::read(record_path).map_err(|source| PublishError::ReadRecord {
        path: record_path.to_owned(),
        source,
    })?;
    let result = match record::parse_record(&bytes, record_path)? {
        Record::Failed(f) if accept_failures => return Ok(Outcome::Failed(f.to_history())),
        // Refused with the same message as before `--history` existed.
        Record::Failed(_) => record::parse_result(&bytes, record_path)?,
        Record::Ok(result) => result,
    };
    let archive_path = record_path
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(&result.archive);
    let facts = validate::inspect(&archive_path)?;
    validate::check_against(&facts, &result, &archive_path)?;
    // The release must also pass the checks every client runs on it.
    result
        .to_release(path::archive_file(
            result.kind,
            &result.name,
            &result.version,
            &result.target,
        ))
        .validate()
        .map_err(|source| PublishError::Release {
            name: result.name.clone(),
            source: Box::new(source),
        })?;
    Ok(Outcome::Ok(Box::new(Checked {
        result,
        archive_path,
    })))
}

/// Copies the archive and updates and signs the package file; the caller holds the lock.
fn apply(
    request: &PublishRequest,
    signer: &Signer,
    c: &Checked,
) -> Result<Published, PublishError> {
    let r = &c.result;
    // The record's kind (validated with the name in `record`) picks `crates/` or `go/`.
    let kind = r.kind;
    let package_file = path::package_file(kind, &r.name).ok_or_else(|| PublishError::BadName {
        name: r.name.clone(),
    })?;
    let archive_rel = path::archive_file(kind, &r.name, &r.version, &r.target);
    copy_archive_if_needed(
        &c.archive_path,
        &request.index.join(&archive_rel),
        &r.sha256,
    )?;

    let location = match &request.archive_base {
        Some(base) => archive_url(base, &archive_rel, &r.name, &r.version, &r.target),
        None => archive_rel,
    };
    let release: Release = r.to_release(location);
    let file_path = request.index.join(&package_file);
    let sig_rel = path::signature_file(&package_file);
    let sig_path = request.index.join(&sig_rel);
    let bundle_path = request.index.join(path::signed_file(&package_file));

    let existing = read_optional(&file_path)?;
    let mut file = match &existing {
        Some(bytes) => PackageFile::parse(bytes, kind, &r.name).map_err(|source| {
            PublishError::ExistingFile {
                path: file_path.clone(),
                source: Box::new(source),
            }
        })?,
        None => PackageFile::new(kind, &r.name),
    };
    let changed = file.upsert(release);
    let bytes = file.to_bytes();
    let old_sig = read_optional(&sig_path)?.map(|b| String::from_utf8_lossy(&b).into_owned());
    let sig_ok = old_sig
        .as_deref()
        .is_some_and(|s| signer.verifies(&bytes, s, &package_file));
    let file_ok = existing.as_deref() == Some(bytes.as_slice());
    // The bundle (signature + file in one, what clients read) must match the pair too.
    let bundle_ok = match (&old_sig, read_optional(&bundle_path)?) {
        (Some(sig), Some(found)) => found == signer.bundle(sig, &bytes),
        _ => false,
    };
    if !changed && file_ok && sig_ok && bundle_ok {
        return Ok(published(r, package_file, false));
    }
    if !file_ok {
        atomic::write(&file_path, &bytes).map_err(|source| PublishError::Write {
            path: file_path.clone(),
            source,
        })?;
    }
    let timestamp = sign::next_timestamp(
        time::now(),
        old_sig.as_deref().and_then(sign::previous_timestamp),
    );
    let comment = signer.comment(&package_file, timestamp);
    let signature = signer.sign(&bytes, &comment)?;
    atomic::write(&sig_path, signature.as_bytes()).map_err(|source| PublishError::Write {
        path: sig_path.clone(),
        source,
    })?;
    atomic::write(&bundle_path, &signer.bundle(&signature, &bytes)).map_err(|source| {
        PublishError::Write {
            path: bundle_path.clone(),
            source,
        }
    })?;
    Ok(published(r, package_file, true))
}

/// Where an archive will be downloaded from: `BASE/<archive path>`, or, when `base` is a
/// template containing `{file}`, the template with `{name}`, `{version}`, `{target}` and
/// `{file}` filled in (GitHub Releases hold assets flat, one release per crate version:
/// `https://github.com/OWNER/REPO/releases/download/{name}-{version}/{file}`).
fn archive_url(base: &str, archive_rel: &str, name: &str, version: &str, target: &str) -> String {
    if base.contains("{file}") {
        let file = archive_rel.rsplit('/').next().unwrap_or(archive_rel);
        base.replace("{name}", name)
            .replace("{version}", version)
            .replace("{target}", target)
            .replace("{file}", file)
    } else {
        format!("{}/{archive_rel}", base.trim_end_matches('/'))
    }
}

fn published(r: &BuildResult, package_file: String, changed: bool) -> Published {
    Published {
        name: r.name.clone(),
        version: r.version.clone(),
        target: r.target.clone(),
        package_file,
        changed,
    }
}

/// Copies the archive unless the destination already holds the same bytes (by sha256), so a
/// re-publish leaves it untouched.
fn copy_archive_if_needed(src: &Path, dst: &Path, sha256: &str) -> Result<(), PublishError> {
    match validate::hash_file(dst) {
        Ok((existing, _)) if existing == sha256 => return Ok(()),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(PublishError::Read {
                path: dst.to_owned(),
                source,
            });
        }
    }
    atomic::copy(src, dst).map_err(|source| PublishError::Write {
        path: dst.to_owned(),
        source,
    })
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, PublishError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PublishError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::SystemTime;

    use quickinstall::index::format::PackageKind;
    use quickinstall::index::signature::TrustedKeys;
    use tar::EntryType;

    use super::*;
    use crate::package::{self, Entry};
    use crate::record::Record;
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
        assert_eq!(
            release.archive,
            "archives/crates/hello/1.0.0/hello-1.0.0-x86_64-unknown-linux-gnu.tar.gz"
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
            "https://example.com/files/archives/crates/hello/1.0.0/hello-1.0.0-x86_64-unknown-linux-gnu.tar.gz"
        );
    }

    fn refused(s: &Setup, entries: &[(&str, EntryType, u32, &[u8])]) -> String {
        let archive = s
            .dir
            .path()
            .join(record::stem("hello", "1.0.0", GNU) + ".tar.gz");
        hostile_archive(&archive, entries);
        let record = s.record_for(&archive, "1.0.0", GNU);
        let err = publish(&s.request(vec![record])).unwrap_err();
        assert!(!s.index().join("crates").exists(), "index touched: {err}");
        err.to_string()
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
        let mut json: serde_json::Value =
            serde_json::from_slice(&fs::read(&record).unwrap()).unwrap();
        json["sha256"] = "00".repeat(32).into();
        fs::write(&record, serde_json::to_vec(&json).unwrap()).unwrap();
        let err = publish(&s.request(vec![record])).unwrap_err();
        assert!(err.to_string().contains("sha256"), "{err}");
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
        let err = publish(&s.request(vec![failure_record(&s, "1.0.0", GNU)])).unwrap_err();
        assert!(err.to_string().contains("nothing to publish"), "{err}");
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
}
