//! `build-index select go`: chooses the Go modules worth building from the module index's
//! records (`{"Path","Version","Timestamp"}` JSON lines, as index.golang.org serves them, read
//! from a file or paged from the index by `since`), ranks them and, given a proxy, keeps only
//! those with command packages.
//!
//! The rules ([`NewestReleases`], [`rank`], [`page_url`], [`after_page`]) are pure;
//! [`select_go`] is the I/O shell (read the records, stats and popularity, fetch zips, write
//! the queue). Deterministic: the same inputs give the same queue bytes and summary.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;
use std::path::PathBuf;

use quickinstall::download::{DownloadError, Fetcher, Location, NetConfig};
use quickinstall::index::path::is_valid_module_path;
use quickinstall::registry::goproxy::version::{GoVersion, allows_major, compare};
use serde::{Deserialize, Serialize};

use crate::go::{detect, modzip, proxy};

/// The largest stats or popularity document accepted.
const DOC_LIMIT: u64 = 64 * 1024 * 1024;

/// Records asked of the module index per page (the most index.golang.org serves).
pub const PAGE_LIMIT: usize = 2000;

/// The largest module index page accepted: 2000 records of a few hundred bytes each fit many
/// times over, and a server streaming without end is cut off.
const PAGE_BYTES: u64 = 16 * 1024 * 1024;

/// Where the module index records come from.
#[derive(Debug, Clone)]
pub enum RecordSource {
    /// A JSON-lines file.
    File(PathBuf),
    /// A module index (`https://index.golang.org/index`), paged by `since`, at most
    /// `max_pages` requests.
    ModuleIndex { url: String, max_pages: usize },
}

/// What `select go` was asked to do.
#[derive(Debug, Clone)]
pub struct GoSelectRequest {
    pub records: RecordSource,
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
    #[error("line {line} of `{origin}` is not a module index record: {reason}")]
    BadRecord {
        origin: String,
        line: usize,
        reason: String,
    },
    #[error("`--module-index {0}` is not an http(s) URL")]
    BadModuleIndex(String),
    #[error("the module index page `{url}` is not UTF-8 text")]
    PageNotText { url: String },
    #[error(
        "the module index page `{url}` ends with the timestamp `{timestamp}`, which is not an RFC 3339 UTC time to ask the next page from"
    )]
    BadPageTimestamp { url: String, timestamp: String },
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

/// The seconds part and the fraction (right-padded to nanoseconds) of a
/// `YYYY-MM-DDTHH:MM:SS[.frac]Z` time; `None` for any other shape.
fn time_key(ts: &str) -> Option<(&str, String)> {
    if !is_rfc3339_utc(ts) {
        return None;
    }
    let (seconds, rest) = ts.split_at_checked(19)?;
    let fraction = rest.strip_suffix('Z')?;
    let digits = match fraction.strip_prefix('.') {
        Some(d) if !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()) => d,
        None if fraction.is_empty() => "",
        _ => return None,
    };
    Some((seconds, format!("{digits:0<9}")))
}

/// Orders two module index timestamps as times. Go omits a zero fraction and trims trailing
/// zeros, so string order is wrong around one: `…:00.5Z` sorts before `…:00Z` ('.' < 'Z').
/// Other shapes fall back to string order.
pub fn timestamp_cmp(a: &str, b: &str) -> Ordering {
    match (time_key(a), time_key(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

/// The newest release (no prerelease, so no pseudo-version) of each valid module indexed at or
/// after `since`, fed one record at a time so that paged records need not all be held.
#[derive(Debug, Default)]
pub struct NewestReleases {
    since: Option<String>,
    newest: BTreeMap<String, GoVersion>,
    /// Records seen.
    pub records: usize,
    /// Records dropped for being prereleases or pseudo-versions.
    pub prerelease: usize,
}

impl NewestReleases {
    pub fn new(since: Option<&str>) -> Self {
        Self {
            since: since.map(str::to_owned),
            ..Self::default()
        }
    }

    pub fn add(&mut self, r: &IndexRecord) {
        self.records += 1;
        let too_old = self
            .since
            .as_deref()
            .is_some_and(|s| timestamp_cmp(&r.timestamp, s) == Ordering::Less);
        if too_old || !is_valid_module_path(&r.path) {
            return;
        }
        // Go's own version rules (the client's): canonical, a major version the path allows,
        // `+incompatible` not ordering.
        let Some(v) = GoVersion::parse(&r.version) else {
            return;
        };
        if !v.is_release() {
            self.prerelease += 1;
            return;
        }
        if !allows_major(&r.path, &v) {
            return;
        }
        match self.newest.get(&r.path) {
            Some(old) if compare(&old.semver, &v.semver).is_ge() => {}
            _ => {
                self.newest.insert(r.path.clone(), v);
            }
        }
    }

    /// The modules sorted by path, each with its newest release.
    pub fn modules(self) -> BTreeMap<String, String> {
        self.newest.into_iter().map(|(m, v)| (m, v.text)).collect()
    }
}

/// The URL of the module index page of records indexed at or after `since` (from the start
/// without it). `since` is an RFC 3339 UTC time, whose characters need no escaping in a query.
pub fn page_url(base: &str, since: Option<&str>, limit: usize) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    match since {
        Some(s) => format!("{base}{sep}since={s}&limit={limit}"),
        None => format!("{base}{sep}limit={limit}"),
    }
}

/// What to do after a page of `count` records whose last timestamp is `last`, asked `since`.
#[derive(Debug, PartialEq, Eq)]
pub enum AfterPage {
    /// Ask the next page from this time.
    Next(String),
    /// A short page: the index has nothing more.
    Done,
    /// The page ended at or before the time it was asked from: asking again would loop.
    NoProgress(String),
}

/// Decides the next request. A full page whose last time is not later than `since` makes no
/// progress (the index repeats the boundary record, so a page of one time repeats for ever).
/// `Err` carries a last timestamp that cannot be asked from.
pub fn after_page(
    since: Option<&str>,
    count: usize,
    last: Option<&str>,
    limit: usize,
) -> Result<AfterPage, String> {
    let Some(last) = last.filter(|_| count >= limit) else {
        return Ok(AfterPage::Done);
    };
    if time_key(last).is_none() {
        return Err(last.to_owned());
    }
    match since {
        Some(s) if timestamp_cmp(last, s) != Ordering::Greater => {
            Ok(AfterPage::NoProgress(last.to_owned()))
        }
        _ => Ok(AfterPage::Next(last.to_owned())),
    }
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

/// Parses records (JSON lines from `origin`, a path or URL); blank lines are skipped.
pub fn parse_records(text: &str, origin: &str) -> Result<Vec<IndexRecord>, GoSelectError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| parse_record(l, origin, i + 1))
        .collect()
}

fn parse_record(line: &str, origin: &str, number: usize) -> Result<IndexRecord, GoSelectError> {
    serde_json::from_str(line).map_err(|e| GoSelectError::BadRecord {
        origin: origin.to_owned(),
        line: number,
        reason: e.to_string(),
    })
}

/// Streams the records file into `state`, a line at a time.
fn read_records_file(
    path: &std::path::Path,
    state: &mut NewestReleases,
) -> Result<(), GoSelectError> {
    let io_err = |source| GoSelectError::Records {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let origin = path.display().to_string();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io_err)?;
        if !line.trim().is_empty() {
            state.add(&parse_record(&line, &origin, i + 1)?);
        }
    }
    Ok(())
}

/// How paging the module index went, for the summary.
struct Paging {
    pages: usize,
    /// Why it stopped before the index ran out, if it did.
    cut_short: Option<String>,
}

/// Pages through the module index from `since`, feeding each page's records into `state`.
/// Records the previous page ended with are skipped: the next page, asked from their time,
/// starts with them again.
fn read_module_index(
    fetcher: &Fetcher,
    base: &str,
    max_pages: usize,
    since: Option<&str>,
    state: &mut NewestReleases,
) -> Result<Paging, GoSelectError> {
    if !matches!(Location::parse(base), Ok(Location::Http(_))) {
        return Err(GoSelectError::BadModuleIndex(base.to_owned()));
    }
    let mut asked = since.map(str::to_owned);
    // The previous page's last timestamp and the (module, version)s it carried.
    let mut boundary: Option<(String, HashSet<(String, String)>)> = None;
    let mut pages = 0;
    while pages < max_pages {
        let url = page_url(base, asked.as_deref(), PAGE_LIMIT);
        let fetch_err = |source| GoSelectError::Fetch {
            location: url.clone(),
            source,
        };
        let loc = Location::parse(&url).map_err(fetch_err)?;
        let bytes = fetcher
            .get_small(&loc, PAGE_BYTES)
            .map_err(fetch_err)?
            .ok_or_else(|| GoSelectError::NotFound(url.clone()))?;
        pages += 1;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| GoSelectError::PageNotText { url: url.clone() })?;
        let records = parse_records(text, &url)?;
        for r in &records {
            let repeated = boundary.as_ref().is_some_and(|(ts, seen)| {
                *ts == r.timestamp && seen.contains(&(r.path.clone(), r.version.clone()))
            });
            if !repeated {
                state.add(r);
            }
        }
        let last = records.last().map(|r| r.timestamp.as_str());
        let next =
            after_page(asked.as_deref(), records.len(), last, PAGE_LIMIT).map_err(|timestamp| {
                GoSelectError::BadPageTimestamp {
                    url: url.clone(),
                    timestamp,
                }
            })?;
        match next {
            AfterPage::Done => {
                return Ok(Paging {
                    pages,
                    cut_short: None,
                });
            }
            AfterPage::NoProgress(ts) => {
                return Ok(Paging {
                    pages,
                    cut_short: Some(format!(
                        "stopped: the module index made no progress past {ts}"
                    )),
                });
            }
            AfterPage::Next(ts) => {
                let seen = records
                    .iter()
                    .filter(|r| r.timestamp == ts)
                    .map(|r| (r.path.clone(), r.version.clone()))
                    .collect();
                boundary = Some((ts.clone(), seen));
                asked = Some(ts);
            }
        }
    }
    Ok(Paging {
        pages,
        cut_short: Some(format!(
            "stopped after --max-pages {max_pages}; continue with --since {}",
            asked.as_deref().unwrap_or("(start)")
        )),
    })
}

fn load_map<T: serde::de::DeserializeOwned>(
    location: &str,
) -> Result<HashMap<String, T>, GoSelectError> {
    load_with(location, |bytes| serde_json::from_slice(bytes))
}

/// A small JSON document from a path or URL, parsed by `parse`.
fn load_with<T>(
    location: &str,
    parse: impl Fn(&[u8]) -> Result<T, serde_json::Error>,
) -> Result<T, GoSelectError> {
    let fetch_err = |source| GoSelectError::Fetch {
        location: location.to_owned(),
        source,
    };
    let loc = Location::parse(location).map_err(fetch_err)?;
    let bytes = Fetcher::new(&NetConfig::default())
        .get_small(&loc, DOC_LIMIT)
        .map_err(fetch_err)?
        .ok_or_else(|| GoSelectError::NotFound(location.to_owned()))?;
    parse(&bytes).map_err(|source| GoSelectError::Format {
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
        && time_key(s).is_none()
    {
        return Err(GoSelectError::BadSince(s.clone()));
    }
    // The same shapes `select crates` reads: {module: n} or the stats service's /counts.
    let stats: HashMap<String, u64> = match &request.stats {
        Some(l) => load_with(l, super::parse_stats)?,
        None => HashMap::new(),
    };
    let popularity: HashMap<String, f64> = match &request.popularity {
        Some(p) => load_map(&p.to_string_lossy())?,
        None => HashMap::new(),
    };
    let mut state = NewestReleases::new(request.since.as_deref());
    let paging = match &request.records {
        RecordSource::File(path) => {
            read_records_file(path, &mut state)?;
            None
        }
        RecordSource::ModuleIndex { url, max_pages } => Some(read_module_index(
            &Fetcher::new(&NetConfig::default()),
            url,
            *max_pages,
            request.since.as_deref(),
            &mut state,
        )?),
    };
    let (record_count, prerelease) = (state.records, state.prerelease);
    let modules = state.modules();
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
    let mut summary = String::new();
    if let (Some(p), RecordSource::ModuleIndex { url, .. }) = (&paging, &request.records) {
        summary.push_str(&format!("{} pages from `{url}`\n", p.pages));
        if let Some(why) = &p.cut_short {
            summary.push_str(why);
            summary.push('\n');
        }
    }
    summary.push_str(&format!(
        "{} records, {} modules with a release{}, {} prerelease or pseudo-version records skipped, {} queued\n",
        record_count,
        module_count,
        request
            .since
            .as_deref()
            .map(|s| format!(" since {s}"))
            .unwrap_or_default(),
        prerelease,
        queue.len()
    ));
    for (m, v, reason) in &skipped {
        summary.push_str(&format!("skipped {m} {v}: {reason}\n"));
    }
    Ok(summary)
}

#[cfg(test)]
mod tests;
