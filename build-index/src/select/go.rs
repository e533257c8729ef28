//! `build-index select go`: chooses the Go modules worth building from the module index's
//! records (`{"Path","Version","Timestamp"}` JSON lines, as index.golang.org serves them),
//! ranks them and, given a proxy, keeps only those with command packages.
//!
//! The rules ([`newest_releases`], [`rank`]) are pure; [`select_go`] is the I/O shell (read
//! the records, stats and popularity, fetch zips, write the queue). Deterministic: the same
//! inputs give the same queue bytes and summary.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use quickinstall::download::{DownloadError, Fetcher, Location, NetConfig};
use quickinstall::index::format::parse_version;
use quickinstall::index::path::is_valid_module_path;
use serde::{Deserialize, Serialize};

use crate::go::{detect, modzip, proxy};

/// The largest stats or popularity document accepted.
const DOC_LIMIT: u64 = 64 * 1024 * 1024;

/// What `select go` was asked to do.
#[derive(Debug, Clone)]
pub struct GoSelectRequest {
    pub index_records: PathBuf,
    /// RFC 3339 UTC (`2024-01-01T00:00:00Z`): keep records indexed at or after it.
    pub since: Option<String>,
    /// `{module: requests}`, a path or URL.
    pub stats: Option<String>,
    /// `{module: score}`, a path.
    pub popularity: Option<PathBuf>,
    /// A module proxy (URL or directory) to detect commands from; without it, packages are
    /// left for `build` to detect.
    pub proxy: Option<String>,
    pub limit: Option<usize>,
    pub out: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum GoSelectError {
    #[error("`--since {0}` is not an RFC 3339 UTC time like 2024-01-01T00:00:00Z")]
    BadSince(String),
    #[error("could not read the module index records `{}`: {source}", path.display())]
    Records {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("line {line} of `{}` is not a module index record: {reason}", path.display())]
    BadRecord {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("could not fetch `{location}`: {source}")]
    Fetch {
        location: String,
        source: DownloadError,
    },
    #[error("`{0}` was not found")]
    NotFound(String),
    #[error("`{location}` is not a JSON object of module paths to numbers: {source}")]
    Format {
        location: String,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Proxy(#[from] proxy::ProxyError),
    #[error("could not create a temporary directory: {0}")]
    TempDir(std::io::Error),
    #[error("could not write the queue `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One line of the module index.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct IndexRecord {
    #[serde(rename = "Path")]
    pub path: String,
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
}

/// One queue line.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct GoQueueEntry {
    pub module: String,
    pub version: String,
    /// Command packages; empty when no proxy was given (then `build` detects them).
    pub packages: Vec<String>,
    /// `requested` (stats), `popular` (popularity) or `new`.
    pub reason: &'static str,
    /// Requests for `requested`, the popularity score for `popular`, 0 for `new`.
    pub score: f64,
}

/// Whether `since` looks like `YYYY-MM-DDTHH:MM:SS[.frac]Z`; such strings order as times.
pub fn is_rfc3339_utc(since: &str) -> bool {
    let b = since.as_bytes();
    b.len() >= 20
        && since.ends_with('Z')
        && b.iter().enumerate().take(19).all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

/// The newest release (no prerelease, so no pseudo-version) of each valid module indexed at or
/// after `since`, sorted by module path. Returns also how many records were dropped for being
/// prereleases or pseudo-versions.
pub fn newest_releases(
    records: &[IndexRecord],
    since: Option<&str>,
) -> (BTreeMap<String, String>, usize) {
    let mut newest: BTreeMap<String, (semver::Version, String)> = BTreeMap::new();
    let mut prerelease = 0;
    for r in records {
        // Both are `…Z` UTC times of the same shape, so strings compare as times (the
        // fraction, when one side lacks it, compares after the seconds, still in order).
        if since.is_some_and(|s| r.timestamp.as_str() < s) || !is_valid_module_path(&r.path) {
            continue;
        }
        let Some(v) = parse_version(&r.version).filter(|_| r.version.starts_with('v')) else {
            continue;
        };
        if !v.pre.is_empty() {
            prerelease += 1;
            continue;
        }
        match newest.get(&r.path) {
            Some((old, _)) if *old >= v => {}
            _ => {
                newest.insert(r.path.clone(), (v, r.version.clone()));
            }
        }
    }
    let out = newest.into_iter().map(|(m, (_, v))| (m, v)).collect();
    (out, prerelease)
}

/// Orders modules: requested first (most requests first), then by popularity, then by path;
/// each with its reason and score.
pub fn rank(
    modules: BTreeMap<String, String>,
    stats: &HashMap<String, u64>,
    popularity: &HashMap<String, f64>,
) -> Vec<GoQueueEntry> {
    let mut out: Vec<(u64, f64, GoQueueEntry)> = modules
        .into_iter()
        .map(|(module, version)| {
            let requests = stats.get(&module).copied().unwrap_or(0);
            let pop = popularity
                .get(&module)
                .copied()
                .filter(|p| p.is_finite())
                .unwrap_or(0.0);
            let (reason, score) = if requests > 0 {
                ("requested", requests as f64)
            } else if pop > 0.0 {
                ("popular", pop)
            } else {
                ("new", 0.0)
            };
            let entry = GoQueueEntry {
                module,
                version,
                packages: Vec::new(),
                reason,
                score,
            };
            (requests, pop, entry)
        })
        .collect();
    out.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.total_cmp(&a.1))
            .then_with(|| a.2.module.cmp(&b.2.module))
    });
    out.into_iter().map(|(_, _, e)| e).collect()
}

/// Parses the records file; blank lines are skipped.
pub fn parse_records(
    text: &str,
    path: &std::path::Path,
) -> Result<Vec<IndexRecord>, GoSelectError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| GoSelectError::BadRecord {
                path: path.to_owned(),
                line: i + 1,
                reason: e.to_string(),
            })
        })
        .collect()
}

fn load_map<T: serde::de::DeserializeOwned>(
    location: &str,
) -> Result<HashMap<String, T>, GoSelectError> {
    let fetch_err = |source| GoSelectError::Fetch {
        location: location.to_owned(),
        source,
    };
    let loc = Location::parse(location).map_err(fetch_err)?;
    let bytes = Fetcher::new(&NetConfig::default())
        .get_small(&loc, DOC_LIMIT)
        .map_err(fetch_err)?
        .ok_or_else(|| GoSelectError::NotFound(location.to_owned()))?;
    serde_json::from_slice(&bytes).map_err(|source| GoSelectError::Format {
        location: location.to_owned(),
        source,
    })
}

/// Why a module was left out after detection.
fn detect_commands(
    fetcher: &Fetcher,
    proxy: &Location,
    module: &str,
    version: &str,
    dir: &std::path::Path,
) -> Result<Vec<String>, String> {
    let zip = dir.join("module.zip");
    proxy::fetch_zip(fetcher, proxy, module, version, &zip).map_err(|e| e.to_string())?;
    let mut z = modzip::ModuleZip::open(&zip, module, version).map_err(|e| e.to_string())?;
    let sources = z.go_sources().map_err(|e| e.to_string())?;
    let found = detect::commands(module, &sources, &z.files());
    let _ = std::fs::remove_file(&zip);
    if found.is_empty() {
        Err("no command packages".to_owned())
    } else {
        Ok(found)
    }
}

/// Runs the selection, writes the queue and returns the printable summary.
pub fn select_go(request: &GoSelectRequest) -> Result<String, GoSelectError> {
    if let Some(s) = &request.since
        && !is_rfc3339_utc(s)
    {
        return Err(GoSelectError::BadSince(s.clone()));
    }
    let stats: HashMap<String, u64> = match &request.stats {
        Some(l) => load_map(l)?,
        None => HashMap::new(),
    };
    let popularity: HashMap<String, f64> = match &request.popularity {
        Some(p) => load_map(&p.to_string_lossy())?,
        None => HashMap::new(),
    };
    let text = std::fs::read_to_string(&request.index_records).map_err(|source| {
        GoSelectError::Records {
            path: request.index_records.clone(),
            source,
        }
    })?;
    let records = parse_records(&text, &request.index_records)?;
    let (modules, prerelease) = newest_releases(&records, request.since.as_deref());
    let module_count = modules.len();
    let ranked = rank(modules, &stats, &popularity);
    let limit = request.limit.unwrap_or(usize::MAX);
    let mut queue = Vec::new();
    let mut skipped: Vec<(String, String, String)> = Vec::new();
    match &request.proxy {
        None => queue.extend(ranked.into_iter().take(limit)),
        Some(p) => {
            let location = proxy::location(p)?;
            let fetcher = proxy::fetcher();
            let tmp = tempfile::tempdir().map_err(GoSelectError::TempDir)?;
            for mut entry in ranked {
                if queue.len() >= limit {
                    break;
                }
                match detect_commands(
                    &fetcher,
                    &location,
                    &entry.module,
                    &entry.version,
                    tmp.path(),
                ) {
                    Ok(packages) => {
                        entry.packages = packages;
                        queue.push(entry);
                    }
                    Err(reason) => skipped.push((entry.module, entry.version, reason)),
                }
            }
        }
    }
    let mut bytes = Vec::new();
    for e in &queue {
        // Serializing these plain fields cannot fail; an empty line would show if it did.
        bytes.extend(serde_json::to_vec(e).unwrap_or_default());
        bytes.push(b'\n');
    }
    crate::atomic::write(&request.out, &bytes).map_err(|source| GoSelectError::Write {
        path: request.out.clone(),
        source,
    })?;
    let mut summary = format!(
        "{} records, {} modules with a release{}, {} prerelease or pseudo-version records skipped, {} queued\n",
        records.len(),
        module_count,
        request
            .since
            .as_deref()
            .map(|s| format!(" since {s}"))
            .unwrap_or_default(),
        prerelease,
        queue.len()
    );
    for (m, v, reason) in &skipped {
        summary.push_str(&format!("skipped {m} {v}: {reason}\n"));
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            rec("example.com/a", "v2.0.0-rc.1", "2024-03-02T00:00:00Z"),
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
            index_records: records,
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
}
