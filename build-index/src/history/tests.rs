//! Tests of the failure history: classification, parsing, merging and compaction.

use super::*;

pub(crate) fn failure(krate: &str, version: &str, target: &str, time: &str) -> Failure {
    Failure {
        krate: krate.into(),
        version: version.into(),
        target: target.into(),
        time: time.into(),
        reason: Reason::CompileError,
        log_tail: "error[E0425]: cannot find value `x`\nline two".into(),
        run: None,
    }
}

#[test]
fn classifies_log_tails() {
    let cases = [
        (
            "error: failed to run custom build command for `openssl-sys v0.9.1`\n\
             Could not find directory of OpenSSL installation\n\
             The pkg-config command could not be found.",
            Reason::MissingSystemLibrary,
        ),
        (
            "  --- stderr\n  thread 'main' panicked at build.rs:3:5:\n  \
             could not find system library 'gtk+-3.0' required by the 'gtk-sys' crate",
            Reason::MissingSystemLibrary,
        ),
        (
            "  = note: /usr/bin/ld: unable to find library -lssl",
            Reason::MissingSystemLibrary,
        ),
        (
            "  Package dbus-1 was not found\n  No package 'dbus-1' found",
            Reason::MissingSystemLibrary,
        ),
        (
            "error: failed to run custom build command for `foo v1.0.0`\n\
             Caused by:\n  process didn't exit successfully",
            Reason::BuildScript,
        ),
        (
            "error[E0425]: cannot find value `x` in this scope\n\
             error: could not compile `foo` (bin \"foo\") due to 1 previous error",
            Reason::CompileError,
        ),
        ("error: could not compile `foo`", Reason::CompileError),
        (
            "error: failed to download `foo v1.0.0`\nnetwork down",
            Reason::Other,
        ),
        ("", Reason::Other),
        (
            "  checking whether the C compiler works... no\n  \
             configure: error: C compiler cannot create executables\n\
             error: failed to run custom build command for `tikv-jemalloc-sys v0.5.4`",
            Reason::MissingCToolchain,
        ),
        (
            "  error occurred in cc-rs: failed to find tool \"musl-gcc\": No such file or directory",
            Reason::MissingCToolchain,
        ),
        ("error: linker `cc` not found", Reason::MissingCToolchain),
        (
            // What `cargo install hyperfine` (2.0.0) said with rustc 1.95 in the 20-crate sample.
            "    Updating crates.io index
             error: cannot install package `hyperfine 2.0.0`, it requires rustc 1.97.0 or newer, \
             while the currently active rustc version is 1.95.0
             `hyperfine 1.20.0` supports rustc 1.88.0",
            Reason::ToolchainTooOld,
        ),
    ];
    for (tail, reason) in cases {
        assert_eq!(classify(tail), reason, "{tail}");
    }
}

#[test]
fn cargo_progress_lines_naming_pkg_config_are_not_evidence() {
    let tail = "   Compiling pkg-config v0.3.30\n\
                error[E0308]: mismatched types\n\
                error: could not compile `foo`";
    assert_eq!(classify(tail), Reason::CompileError);
}

#[test]
fn failure_lines_use_the_contract_field_names() {
    let mut f = failure("rg", "1.0.0", "x86_64-unknown-linux-musl", "t");
    f.reason = Reason::MissingSystemLibrary;
    let json: serde_json::Value = serde_json::from_str(&f.to_line()).unwrap();
    assert_eq!(json["crate"], "rg");
    assert_eq!(json["reason"], "missing-system-library");
    assert_eq!(json["time"], "t");
    assert!(!f.to_line().contains('\n'));
    let unknown = f.to_line().replace("missing-system-library", "cosmic-ray");
    let parsed = parse(&unknown, Path::new("h")).unwrap();
    assert_eq!(parsed[0].reason, Reason::Other);
    for reason in [
        Reason::MissingSystemLibrary,
        Reason::BuildScript,
        Reason::CompileError,
        Reason::Timeout,
        Reason::InvalidResult,
        Reason::MissingResult,
        Reason::Other,
    ] {
        let json = serde_json::to_value(reason).unwrap();
        assert_eq!(json, reason.as_str(), "as_str and serde disagree");
    }
}

#[test]
fn malformed_lines_are_reported_with_their_number() {
    let good = failure("a", "1.0.0", "t", "x").to_line();
    let text = format!("{good}\n\n{{\"crate\":1}}\n");
    let err = parse(&text, Path::new("h.jsonl")).unwrap_err();
    assert!(
        matches!(err, HistoryError::Malformed { line: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("`h.jsonl`"), "{err}");
}

#[test]
fn union_keeps_existing_lines_and_skips_duplicates() {
    let a = failure("a", "1.0.0", "t", "1");
    let b = failure("b", "1.0.0", "t", "2");
    // An existing line written by someone else, with other key order and spacing.
    let existing = format!(
        "{{ \"time\":\"1\",\"crate\":\"a\",\"version\":\"1.0.0\",\"target\":\"t\",\
         \"reason\":\"compile-error\",\"log_tail\":{} }}",
        serde_json::to_string(&a.log_tail).unwrap()
    );
    let (text, added) = union(&existing, Path::new("h"), &[a, b.clone(), b.clone()]).unwrap();
    assert_eq!(added, 1);
    assert_eq!(text, format!("{existing}\n{}\n", b.to_line()));
}

#[test]
fn merge_creates_the_file_then_adds_only_new_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/history.jsonl");
    let a = failure("a", "1.0.0", "t", "1");
    let b = failure("a", "1.0.0", "t", "2");
    assert_eq!(merge(&path, std::slice::from_ref(&a)).unwrap(), 1);
    assert_eq!(merge(&path, &[a.clone(), b.clone()]).unwrap(), 1);
    assert_eq!(merge(&path, std::slice::from_ref(&b)).unwrap(), 0);
    assert_eq!(read(&path).unwrap(), [a, b]);
}

#[test]
fn merge_refuses_to_rewrite_a_corrupt_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    fs::write(&path, "not json\n").unwrap();
    let err = merge(&path, &[failure("a", "1.0.0", "t", "1")]).unwrap_err();
    assert!(matches!(err, HistoryError::Malformed { line: 1, .. }));
    assert_eq!(fs::read_to_string(&path).unwrap(), "not json\n");
}

#[test]
fn concurrent_merges_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    let writers = 4;
    let per_writer = 25;
    std::thread::scope(|scope| {
        for w in 0..writers {
            let path = &path;
            scope.spawn(move || {
                for i in 0..per_writer {
                    let f = failure(&format!("c{w}"), "1.0.0", "t", &i.to_string());
                    // Every writer also re-sends a line all of them share.
                    let shared = failure("shared", "1.0.0", "t", "0");
                    merge(path, &[f, shared]).unwrap();
                }
            });
        }
    });
    let lines = read(&path).unwrap();
    assert_eq!(lines.len(), writers * per_writer + 1);
    let unique: HashSet<_> = lines.iter().collect();
    assert_eq!(unique.len(), lines.len());
}

#[test]
fn excludes_a_version_after_max_failures_on_that_target_only() {
    let t = "x86_64-unknown-linux-musl";
    let history = vec![
        failure("a", "1.0.0", t, "1"),
        failure("a", "1.0.0", t, "2"),
        failure("a", "1.0.0", t, "3"),
        failure("a", "1.0.0", "aarch64-apple-darwin", "1"),
        failure("b", "1.0.0", t, "1"),
    ];
    let ex = Exclusions::new(&history, 3);
    assert!(ex.is_excluded("a", "1.0.0", t));
    assert!(!ex.is_excluded("a", "1.0.1", t), "a new version clears it");
    assert!(!ex.is_excluded("a", "1.0.0", "aarch64-apple-darwin"));
    assert!(!ex.is_excluded("b", "1.0.0", t));
    assert!(Exclusions::new(&history, 1).is_excluded("b", "1.0.0", t));
}

#[test]
fn compaction_shrinks_superseded_versions_and_caps_tails() {
    let t = "x86_64-unknown-linux-musl";
    let mut long = failure("b", "1.0.0", t, "9");
    long.log_tail = format!("{}é{}", "x".repeat(3000), "end");
    let lines = [
        failure("a", "1.0.0", t, "1"),
        failure("a", "1.0.0", t, "2"),
        failure("a", "1.0.0", "aarch64-apple-darwin", "3"),
        failure("a", "1.1.0", t, "4"),
        failure("a", "unknown", t, "5"),
        long,
    ];
    let text: String = lines.iter().map(|f| f.to_line() + "\n").collect();
    let out = compact(&text, Path::new("h")).unwrap();
    let kept = parse(&out, Path::new("h")).unwrap();
    let summary: Vec<_> = kept
        .iter()
        .map(|f| {
            format!(
                "{} {} {} {} {}",
                f.krate,
                f.version,
                f.target,
                f.time,
                f.log_tail.len()
            )
        })
        .collect();
    let tail = lines[3].log_tail.len();
    assert_eq!(
        summary,
        [
            format!("a 1.0.0 {t} 2 0"),
            "a 1.0.0 aarch64-apple-darwin 3 0".to_owned(),
            format!("a 1.1.0 {t} 4 {tail}"),
            format!("a unknown {t} 5 {tail}"),
            format!("b 1.0.0 {t} 9 {}", MAX_TAIL_BYTES),
        ]
    );
    assert!(kept[4].log_tail.ends_with("end"));
    // Untouched lines stay byte for byte, and compaction is idempotent.
    assert!(out.contains(&lines[3].to_line()));
    assert_eq!(compact(&out, Path::new("h")).unwrap(), out);
}

#[test]
fn merge_compacts_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    let t = "x86_64-unknown-linux-musl";
    let old: Vec<_> = (0..5)
        .map(|i| failure("a", "1.0.0", t, &i.to_string()))
        .collect();
    merge(&path, &old).unwrap();
    assert_eq!(read(&path).unwrap().len(), 5);
    merge(&path, &[failure("a", "2.0.0", t, "9")]).unwrap();
    let lines = read(&path).unwrap();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0].time, "4");
    assert!(lines[0].log_tail.is_empty());
    assert_eq!(lines[1].version, "2.0.0");
}
