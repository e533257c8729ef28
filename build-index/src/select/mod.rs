//! `build-index select crates`: chooses the crates worth building from the crates.io database
//! dump, ranks them, writes the queue file and returns the funnel summary.
//!
//! This is the I/O shell: open the dump, fetch the stats, look candidates up in the index,
//! write the queue. Reading the dump is [`dump`], the rules are [`rank`], the output formats are
//! [`queue`]. It does not build or plan anything (see `plan`).

pub mod dump;
pub mod go;
pub mod queue;
pub mod rank;

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use quickinstall::download::{DownloadError, Fetcher, Location, NetConfig};
use quickinstall::index::format::{PackageFile, PackageKind};
use quickinstall::index::path::package_file;

use self::dump::DumpError;
use self::rank::{Candidate, IndexStatus};

/// The largest stats document accepted: a JSON count for every crate fits many times over.
const STATS_LIMIT: u64 = 64 * 1024 * 1024;

/// What `select crates` was asked to do.
#[derive(Debug, Clone)]
pub struct SelectRequest {
    /// The `db-dump.tar.gz`.
    pub dump: PathBuf,
    /// `YYYY-MM-DD`: keep crates updated on or after this day.
    pub since: Option<String>,
    /// A JSON object `{crate: requests}` or the stats service's `/counts` answer, as a path or
    /// an `http(s)://` URL.
    pub stats: Option<String>,
    /// A release index directory, to skip what is built and boost new versions.
    pub index: Option<PathBuf>,
    pub limit: Option<usize>,
    /// Where the queue (JSON lines) goes; written atomically.
    pub out: PathBuf,
}

/// What a run did: the printable funnel summary.
#[derive(Debug)]
pub struct SelectOutcome {
    pub summary: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("`--since {0}` is not a date of the form YYYY-MM-DD")]
    BadSince(String),
    #[error("could not open the dump `{path}`: {source}")]
    OpenDump {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not read the dump `{path}`: {source}")]
    Dump { path: PathBuf, source: DumpError },
    #[error("could not fetch the stats: {0}")]
    Stats(DownloadError),
    #[error("the stats `{0}` were not found")]
    StatsNotFound(String),
    #[error("the stats `{location}` are not a JSON object of crate names to counts: {source}")]
    StatsFormat {
        location: String,
        source: serde_json::Error,
    },
    #[error("could not read the index file `{path}`: {source}")]
    IndexRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the index file `{path}` is not a valid package file: {reason}")]
    IndexFormat { path: PathBuf, reason: String },
    #[error("could not render the queue: {0}")]
    Render(serde_json::Error),
    #[error("could not write the queue `{path}`: {source}")]
    WriteQueue {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Runs the whole selection and writes the queue file.
pub fn select_crates(request: &SelectRequest) -> Result<SelectOutcome, SelectError> {
    let since = match &request.since {
        Some(text) => Some(
            dump::parse_day(text)
                .filter(|_| text.len() == 10)
                .ok_or_else(|| SelectError::BadSince(text.clone()))?,
        ),
        None => None,
    };
    // Fetch the stats first: a bad URL should fail before a minute of reading the dump.
    // Best effort: the stats only reorder the queue, so an outage of the stats service must
    // not stop the farm. The summary says the stats were skipped and why.
    let mut stats_note = None;
    let stats = match &request.stats {
        Some(location) => load_stats(location).unwrap_or_else(|e| {
            stats_note = Some(format!("warning: {e}; ranked without install requests\n"));
            HashMap::new()
        }),
        None => HashMap::new(),
    };
    let file = File::open(&request.dump).map_err(|source| SelectError::OpenDump {
        path: request.dump.clone(),
        source,
    })?;
    let state = dump::read_dump(BufReader::with_capacity(1 << 20, file)).map_err(|source| {
        SelectError::Dump {
            path: request.dump.clone(),
            source,
        }
    })?;
    let (mut candidates, mut funnel) = rank::candidates(&state, since);
    // Our own clients' package names are never the farm's to build (see `plan::RESERVED_NAMES`).
    candidates.retain(|c| !crate::plan::is_reserved(&c.name));
    let bad_versions = state.bad_versions;
    drop(state);
    let statuses = match &request.index {
        Some(dir) => index_statuses(dir, &candidates)?,
        None => HashMap::new(),
    };
    let queue = rank::rank(
        candidates,
        &stats,
        |c| {
            statuses
                .get(&c.name)
                .copied()
                .unwrap_or(IndexStatus::Unknown)
        },
        request.limit,
        &mut funnel,
    );
    let bytes = queue::render_queue(&queue).map_err(SelectError::Render)?;
    crate::atomic::write(&request.out, &bytes).map_err(|source| SelectError::WriteQueue {
        path: request.out.clone(),
        source,
    })?;
    let summary = stats_note.unwrap_or_default()
        + &queue::render_summary(
            &funnel,
            &queue::SummaryContext {
                since: request.since.as_deref(),
                limit: request.limit,
                bad_versions,
            },
        );
    Ok(SelectOutcome { summary })
}

/// Reads the stats JSON from a path or URL.
fn load_stats(location: &str) -> Result<HashMap<String, u64>, SelectError> {
    let loc = Location::parse(location).map_err(SelectError::Stats)?;
    let fetcher = Fetcher::new(&NetConfig::default());
    let bytes = fetcher
        .get_small(&loc, STATS_LIMIT)
        .map_err(SelectError::Stats)?
        .ok_or_else(|| SelectError::StatsNotFound(location.to_owned()))?;
    parse_stats(&bytes).map_err(|source| SelectError::StatsFormat {
        location: location.to_owned(),
        source,
    })
}

/// One entry of a stats document: a plain count, or the stats service's `/counts` row
/// `{"total": N, "prebuilt": n, ...}` of which only `total` matters here.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum StatsEntry {
    Count(u64),
    Counts { total: u64 },
}

/// `{"ripgrep": 12, ...}` or `/counts`' `{"ripgrep": {"total": 12, ...}, ...}` → counts per
/// crate.
pub fn parse_stats(bytes: &[u8]) -> Result<HashMap<String, u64>, serde_json::Error> {
    let entries: HashMap<String, StatsEntry> = serde_json::from_slice(bytes)?;
    Ok(entries
        .into_iter()
        .map(|(name, entry)| match entry {
            StatsEntry::Count(n) | StatsEntry::Counts { total: n } => (name, n),
        })
        .collect())
}

/// For each candidate whose package file exists in the index: does it hold that version?
fn index_statuses(
    dir: &Path,
    candidates: &[Candidate],
) -> Result<HashMap<String, IndexStatus>, SelectError> {
    let mut out = HashMap::new();
    for c in candidates {
        let Some(relative) = package_file(PackageKind::Crate, &c.name) else {
            continue;
        };
        let path = dir.join(relative);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(SelectError::IndexRead { path, source }),
        };
        let file = PackageFile::parse(&bytes, PackageKind::Crate, &c.name).map_err(|e| {
            SelectError::IndexFormat {
                path: path.clone(),
                reason: e.to_string(),
            }
        })?;
        let status = if file.releases.iter().any(|r| r.version == c.version) {
            IndexStatus::HasVersion
        } else {
            IndexStatus::LacksVersion
        };
        out.insert(c.name.clone(), status);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_accept_plain_counts_and_the_counts_endpoint_shape() {
        let plain = parse_stats(br#"{"ripgrep": 12, "bat": 0}"#).unwrap();
        assert_eq!(plain["ripgrep"], 12);
        let served =
            parse_stats(br#"{"ripgrep": {"total": 12, "prebuilt": 10, "fallback-built": 2}}"#)
                .unwrap();
        assert_eq!(served["ripgrep"], 12);
        assert!(parse_stats(br#"{"ripgrep": {"prebuilt": 10}}"#).is_err());
        assert!(parse_stats(br#"{"ripgrep": "12"}"#).is_err());
        assert!(parse_stats(b"[1]").is_err());
    }
}
