//! Tests of `select go`: record parsing, paging the module index, ranking and the queue.

use super::*;

/// [`NewestReleases`] over a slice: the modules, and the prerelease count.
fn newest_releases(
    records: &[IndexRecord],
    since: Option<&str>,
) -> (BTreeMap<String, String>, usize) {
    let mut state = NewestReleases::new(since);
    records.iter().for_each(|r| state.add(r));
    let prerelease = state.prerelease;
    (state.modules(), prerelease)
}

#[test]
fn orders_timestamps_as_times_around_fractions() {
    let t = "2024-01-01T00:00:00Z";
    assert_eq!(
        timestamp_cmp("2024-01-01T00:00:00.5Z", t),
        Ordering::Greater
    );
    assert_eq!(
        timestamp_cmp("2024-01-01T00:00:00.5Z", "2024-01-01T00:00:00.500Z"),
        Ordering::Equal
    );
    assert_eq!(
        timestamp_cmp("2024-01-01T00:00:00.99726Z", "2024-01-01T00:00:00.997264Z"),
        Ordering::Less
    );
    assert_eq!(timestamp_cmp(t, "2024-01-01T00:00:01Z"), Ordering::Less);
}

#[test]
fn keeps_a_record_in_the_cutoff_second_with_a_fraction() {
    let records = [rec("example.com/a", "v1.0.0", "2024-01-01T00:00:00.25Z")];
    let (m, _) = newest_releases(&records, Some("2024-01-01T00:00:00Z"));
    assert_eq!(m.len(), 1);
}

#[test]
fn page_urls_carry_since_and_limit() {
    assert_eq!(
        page_url("https://index.golang.org/index", None, 2000),
        "https://index.golang.org/index?limit=2000"
    );
    assert_eq!(
        page_url("http://h/index", Some("2024-01-01T00:00:00.5Z"), 2000),
        "http://h/index?since=2024-01-01T00:00:00.5Z&limit=2000"
    );
    assert_eq!(
        page_url("http://h/index?x=1", Some("2024-01-01T00:00:00Z"), 5),
        "http://h/index?x=1&since=2024-01-01T00:00:00Z&limit=5"
    );
}

#[test]
fn pages_on_while_full_and_progressing() {
    let t0 = "2024-01-01T00:00:00Z";
    let t1 = "2024-01-01T00:00:00.5Z";
    assert_eq!(
        after_page(Some(t0), 3, Some(t1), 3),
        Ok(AfterPage::Next(t1.into()))
    );
    assert_eq!(
        after_page(None, 3, Some(t1), 3),
        Ok(AfterPage::Next(t1.into()))
    );
    assert_eq!(after_page(Some(t0), 2, Some(t1), 3), Ok(AfterPage::Done));
    assert_eq!(after_page(Some(t0), 0, None, 3), Ok(AfterPage::Done));
    assert_eq!(
        after_page(Some(t1), 3, Some(t1), 3),
        Ok(AfterPage::NoProgress(t1.into()))
    );
    assert_eq!(
        after_page(Some(t1), 3, Some(t0), 3),
        Ok(AfterPage::NoProgress(t0.into()))
    );
    assert_eq!(
        after_page(Some(t0), 3, Some("2024-01-02&x=1"), 3),
        Err("2024-01-02&x=1".into())
    );
}

fn rec(path: &str, version: &str, ts: &str) -> IndexRecord {
    IndexRecord {
        path: path.into(),
        version: version.into(),
        timestamp: ts.into(),
    }
}

#[test]
fn keeps_the_newest_release_since_the_cutoff() {
    let records = [
        rec("example.com/a", "v1.0.0", "2024-01-01T00:00:00Z"),
        rec("example.com/a", "v1.2.0", "2024-02-01T00:00:00.5Z"),
        rec("example.com/a", "v1.1.0", "2024-03-01T00:00:00Z"),
        rec("example.com/a", "v1.3.0-rc.1", "2024-03-02T00:00:00Z"),
        // A major version the path does not allow (no `/v2`, no `+incompatible`): Go
        // could not install it, so it is not a candidate.
        rec("example.com/a", "v2.0.0", "2024-03-03T00:00:00Z"),
        rec(
            "example.com/b",
            "v0.0.0-20240101000000-abcdefabcdef",
            "2024-03-01T00:00:00Z",
        ),
        rec("example.com/old", "v1.0.0", "2023-01-01T00:00:00Z"),
        rec("not a path", "v1.0.0", "2024-03-01T00:00:00Z"),
    ];
    let (m, pre) = newest_releases(&records, Some("2024-01-15T00:00:00Z"));
    assert_eq!(
        m,
        BTreeMap::from([("example.com/a".into(), "v1.2.0".into())])
    );
    assert_eq!(pre, 2);
}

#[test]
fn ranks_requests_then_popularity_then_path() {
    let modules: BTreeMap<String, String> = [
        "example.com/z",
        "example.com/p",
        "example.com/r",
        "example.com/n",
    ]
    .iter()
    .map(|m| ((*m).to_owned(), "v1.0.0".to_owned()))
    .collect();
    let stats = HashMap::from([("example.com/r".to_owned(), 3)]);
    let pop = HashMap::from([
        ("example.com/p".to_owned(), 9.5),
        ("example.com/r".to_owned(), 1.0),
    ]);
    let ranked = rank(modules, &stats, &pop);
    let order: Vec<(&str, &str)> = ranked
        .iter()
        .map(|e| (e.module.as_str(), e.reason))
        .collect();
    assert_eq!(
        order,
        [
            ("example.com/r", "requested"),
            ("example.com/p", "popular"),
            ("example.com/n", "new"),
            ("example.com/z", "new")
        ]
    );
    assert_eq!(ranked[0].score, 3.0);
}

#[test]
fn since_must_be_an_rfc3339_utc_time() {
    assert!(is_rfc3339_utc("2024-01-01T00:00:00Z"));
    assert!(is_rfc3339_utc("2024-01-01T00:00:00.123Z"));
    assert!(!is_rfc3339_utc("2024-01-01"));
    assert!(!is_rfc3339_utc("2024-01-01T00:00:00+01:00"));
    // `--since` goes into the page URL: nothing but digits may follow the seconds.
    assert!(time_key("2024-01-01T00:00:00.123Z").is_some());
    assert!(time_key("2024-01-01T00:00:00&limit=1Z").is_none());
    let request = GoSelectRequest {
        records: RecordSource::File("unused.jsonl".into()),
        since: Some("2024-01-01T00:00:00&x=Z".into()),
        stats: None,
        popularity: None,
        proxy: None,
        limit: None,
        out: "unused-queue.jsonl".into(),
    };
    assert!(matches!(
        select_go(&request),
        Err(GoSelectError::BadSince(_))
    ));
}

#[test]
fn selects_from_a_proxy_keeping_modules_with_commands() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = dir.path().join("proxy");
    for (m, files) in [
        (
            "example.com/tool",
            vec![("cmd/t/main.go", "package main\nfunc main() {}\n")],
        ),
        ("example.com/lib", vec![("lib.go", "package lib\n")]),
    ] {
        let v = proxy.join(m).join("@v");
        std::fs::create_dir_all(&v).unwrap();
        let names: Vec<(String, &str)> = files
            .iter()
            .map(|(n, b)| (format!("{m}@v1.0.0/{n}"), *b))
            .collect();
        let refs: Vec<(&str, &str)> = names.iter().map(|(n, b)| (n.as_str(), *b)).collect();
        modzip::tests::write_zip(&v.join("v1.0.0.zip"), &refs, &[]);
    }
    let records = dir.path().join("index.jsonl");
    std::fs::write(
        &records,
        "{\"Path\":\"example.com/lib\",\"Version\":\"v1.0.0\",\"Timestamp\":\"2024-01-01T00:00:00Z\"}\n\
         {\"Path\":\"example.com/tool\",\"Version\":\"v1.0.0\",\"Timestamp\":\"2024-01-01T00:00:00Z\"}\n",
    )
    .unwrap();
    let out = dir.path().join("queue.jsonl");
    let request = GoSelectRequest {
        records: RecordSource::File(records),
        since: None,
        stats: None,
        popularity: None,
        proxy: Some(proxy.to_string_lossy().into_owned()),
        limit: None,
        out: out.clone(),
    };
    let summary = select_go(&request).unwrap();
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "{\"module\":\"example.com/tool\",\"version\":\"v1.0.0\",\"packages\":[\"example.com/tool/cmd/t\"],\"reason\":\"new\",\"score\":0.0}\n"
    );
    assert!(
        summary.contains("skipped example.com/lib v1.0.0: no command packages"),
        "{summary}"
    );
    assert!(summary.contains("1 queued"), "{summary}");
}
