//! Tests of the plan: queue parsing, interleaving the Go lane, exclusions and the matrix.

use super::*;
use crate::history::tests::failure;

const MUSL: &str = "x86_64-unknown-linux-musl";
const MAC: &str = "aarch64-apple-darwin";
const WIN: &str = "x86_64-pc-windows-msvc";

fn targets() -> Vec<String> {
    DEFAULT_TARGETS.iter().map(|t| (*t).to_owned()).collect()
}

fn queue(items: &[(&str, &str)]) -> Vec<QueueItem> {
    items
        .iter()
        .map(|(k, v)| QueueItem {
            kind: PackageKind::Crate,
            krate: (*k).into(),
            version: (*v).into(),
        })
        .collect()
}

fn keys(items: &[MatrixItem]) -> Vec<String> {
    items
        .iter()
        .map(|i| format!("{}@{} {} {}", i.krate, i.version, i.target, i.runner))
        .collect()
}

#[test]
fn each_target_gets_its_runner() {
    let items = plan_items(
        &queue(&[("rg", "1.0.0")]),
        &targets(),
        &HashSet::new(),
        &Exclusions::default(),
        DEFAULT_MAX,
    );
    let runners: Vec<_> = items
        .iter()
        .map(|i| (i.target.as_str(), i.runner.as_str()))
        .collect();
    assert_eq!(
        runners,
        [
            ("x86_64-unknown-linux-musl", "ubuntu-latest"),
            ("aarch64-unknown-linux-musl", "ubuntu-latest"),
            ("riscv64gc-unknown-linux-musl", "ubuntu-latest"),
            ("loongarch64-unknown-linux-musl", "ubuntu-latest"),
            ("aarch64-apple-darwin", "macos-latest"),
            ("x86_64-apple-darwin", "macos-latest"),
            ("x86_64-pc-windows-msvc", "windows-latest"),
        ]
    );
}

#[test]
fn skips_what_the_index_has_and_keeps_queue_order() {
    let built: HashSet<_> = [("b".to_owned(), "2.0.0".to_owned(), MUSL.to_owned())].into();
    let items = plan_items(
        &queue(&[("b", "2.0.0"), ("a", "1.0.0"), ("b", "2.0.0")]),
        &[MUSL.to_owned(), MAC.to_owned()],
        &built,
        &Exclusions::default(),
        DEFAULT_MAX,
    );
    assert_eq!(
        keys(&items),
        [
            "b@2.0.0 aarch64-apple-darwin macos-latest",
            "a@1.0.0 x86_64-unknown-linux-musl ubuntu-latest",
            "a@1.0.0 aarch64-apple-darwin macos-latest",
        ]
    );
}

#[test]
fn honours_exclusions_and_a_new_version_clears_them() {
    let history: Vec<_> = (0..3)
        .map(|i| failure("a", "1.0.0", MUSL, &i.to_string()))
        .collect();
    let exclusions = Exclusions::new(&history, 3);
    let targets = [MUSL.to_owned(), WIN.to_owned()];
    let old = plan_items(
        &queue(&[("a", "1.0.0")]),
        &targets,
        &HashSet::new(),
        &exclusions,
        10,
    );
    assert_eq!(
        keys(&old),
        ["a@1.0.0 x86_64-pc-windows-msvc windows-latest"]
    );
    let new = plan_items(
        &queue(&[("a", "1.1.0")]),
        &targets,
        &HashSet::new(),
        &exclusions,
        10,
    );
    assert_eq!(
        keys(&new),
        [
            "a@1.1.0 x86_64-unknown-linux-musl ubuntu-latest",
            "a@1.1.0 x86_64-pc-windows-msvc windows-latest",
        ]
    );
    let lenient = Exclusions::new(&history, 4);
    let retried = plan_items(
        &queue(&[("a", "1.0.0")]),
        &targets,
        &HashSet::new(),
        &lenient,
        10,
    );
    assert_eq!(retried.len(), 2);
}

#[test]
fn stops_at_max() {
    let q = queue(&[("a", "1.0.0"), ("b", "1.0.0")]);
    let items = plan_items(&q, &targets(), &HashSet::new(), &Exclusions::default(), 9);
    assert_eq!(items.len(), 9);
    assert_eq!(items[8].krate, "b");
    assert_eq!(items[8].target, "aarch64-unknown-linux-musl");
    assert!(plan_items(&q, &targets(), &HashSet::new(), &Exclusions::default(), 0).is_empty());
}

#[test]
fn queue_lines_are_checked_and_extra_fields_ignored() {
    let text = "{\"crate\":\"ripgrep\",\"version\":\"14.1.1\",\"bins\":[\"rg\"],\
                \"reason\":\"downloads\",\"score\":123.0}\n\n";
    assert_eq!(
        parse_queue(text, Path::new("q")).unwrap(),
        queue(&[("ripgrep", "14.1.1")])
    );
    for (bad, line) in [
        ("{\"crate\":\"../x\",\"version\":\"1.0.0\"}", 1),
        ("\n{\"crate\":\"x\",\"version\":\"^1\"}", 2),
        ("nope", 1),
    ] {
        let err = parse_queue(bad, Path::new("q.jsonl")).unwrap_err();
        assert!(
            matches!(err, PlanError::BadQueueLine { line: l, .. } if l == line),
            "{bad}: {err}"
        );
    }
}

/// The whole command on files: the index is read, the history honoured, the JSON exact.
#[test]
fn plans_from_files_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("index");
    let mut file = PackageFile::new(PackageKind::Crate, "hello");
    let mut release = crate::record::tests::result().to_release("archives/x.tar.gz".into());
    release.target = MUSL.into();
    release.version = "1.0.0".into();
    file.upsert(release);
    let rel = path::package_file(PackageKind::Crate, "hello").unwrap();
    fs::create_dir_all(index.join(&rel).parent().unwrap()).unwrap();
    fs::write(index.join(&rel), file.to_bytes()).unwrap();
    let queue_path = dir.path().join("queue.jsonl");
    fs::write(
        &queue_path,
        "{\"crate\":\"hello\",\"version\":\"1.0.0\"}\n{\"crate\":\"bye\",\"version\":\"0.1.0\"}\n",
    )
    .unwrap();
    let history_path = dir.path().join("history.jsonl");
    let lines: Vec<_> = (0..3)
        .map(|i| failure("bye", "0.1.0", MAC, &i.to_string()).to_line())
        .collect();
    fs::write(&history_path, lines.join("\n")).unwrap();
    let request = PlanRequest {
        queue: queue_path,
        go_queue: None,
        index,
        history: Some(history_path),
        targets: vec![MUSL.into(), MAC.into()],
        max: 10,
        max_failures: history::DEFAULT_MAX_FAILURES,
    };
    let matrix = plan(&request).unwrap();
    let expected = "{\"include\":[\
        {\"kind\":\"crate\",\"crate\":\"hello\",\"version\":\"1.0.0\",\"target\":\"aarch64-apple-darwin\",\"runner\":\"macos-latest\",\"artifact\":\"build-hello-1.0.0-aarch64-apple-darwin\"},\
        {\"kind\":\"crate\",\"crate\":\"bye\",\"version\":\"0.1.0\",\"target\":\"x86_64-unknown-linux-musl\",\"runner\":\"ubuntu-latest\",\"artifact\":\"build-bye-0.1.0-x86_64-unknown-linux-musl\"}]}";
    assert_eq!(matrix.to_line(), expected);
    assert_eq!(plan(&request).unwrap(), matrix);

    let missing = PlanRequest {
        history: Some(dir.path().join("none.jsonl")),
        ..request.clone()
    };
    assert_eq!(plan(&missing).unwrap().include.len(), 3);
    let bad_target = PlanRequest {
        targets: vec!["a/b".into()],
        ..request
    };
    assert!(matches!(
        plan(&bad_target),
        Err(PlanError::BadTarget { .. })
    ));
}

#[test]
fn reserved_names_are_never_planned() {
    let q = queue(&[
        ("quickinstall", "1.0.0"),
        ("cargo-quickinstall", "0.3.0"),
        ("cargo_quickinstall", "0.3.0"),
        ("gquick", "1.0.0"),
        ("rg", "1.0.0"),
    ]);
    let items = plan_items(
        &q,
        &[MUSL.to_owned()],
        &HashSet::new(),
        &Exclusions::default(),
        10,
    );
    assert_eq!(
        keys(&items),
        ["rg@1.0.0 x86_64-unknown-linux-musl ubuntu-latest"]
    );
    assert!(is_reserved("Quickinstall"));
    assert!(!is_reserved("quickinstall-extra"));
}

#[test]
fn the_matrix_never_exceeds_githubs_cap_and_reads_back() {
    let q: Vec<_> = (0..100)
        .map(|i| QueueItem {
            kind: PackageKind::Crate,
            krate: format!("c{i}"),
            version: "1.0.0".into(),
        })
        .collect();
    let items = plan_items(
        &q,
        &targets(),
        &HashSet::new(),
        &Exclusions::default(),
        10_000,
    );
    assert_eq!(items.len(), DEFAULT_MAX);
    let matrix = Matrix { include: items };
    let back: Matrix = serde_json::from_str(&matrix.to_line()).unwrap();
    assert_eq!(back, matrix);
    assert_eq!(
        back.include[0].artifact,
        "build-c0-1.0.0-x86_64-unknown-linux-musl"
    );
}

#[test]
fn the_go_lane_takes_turns_with_crates_and_names_its_items() {
    let go = parse_go_queue(
        "{\"module\":\"example.com/Tool/v2\",\"version\":\"v2.0.0\",\"packages\":[],\"reason\":\"new\",\"score\":0}\n",
        Path::new("go.jsonl"),
    )
    .unwrap();
    assert!(parse_go_queue("{\"module\":\"x\",\"version\":\"1.0.0\"}", Path::new("g")).is_err());
    let q = interleave(queue(&[("a", "1.0.0"), ("b", "1.0.0")]), go);
    let items = plan_items(
        &q,
        &[MUSL.to_owned()],
        &HashSet::new(),
        &Exclusions::default(),
        10,
    );
    let kinds: Vec<_> = items.iter().map(|i| (i.kind, i.krate.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (PackageKind::Crate, "a"),
            (PackageKind::Go, "example.com/Tool/v2"),
            (PackageKind::Crate, "b"),
        ]
    );
    assert_eq!(
        items[1].artifact,
        "build-example.com+!tool+v2-v2.0.0-x86_64-unknown-linux-musl"
    );
    let json = Matrix { include: items }.to_line();
    assert!(json.contains("\"kind\":\"go\""), "{json}");
}
