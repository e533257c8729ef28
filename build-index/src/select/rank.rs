//! The selection rules, pure: which crates of a folded dump are worth building, how they score,
//! and the funnel counts that explain the cut.
//!
//! No I/O here: the dump arrives folded ([`super::dump::DumpState`]), the stats as a map and the
//! index as a lookup function. Output order is total and deterministic: score descending, then
//! crate name.

use std::collections::HashMap;

use serde::Serialize;

use super::dump::{Day, DumpState};

/// A crate that passed the filters, before scoring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    pub version: String,
    pub bins: Vec<String>,
    pub downloads: u64,
}

/// What the release index holds for a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexStatus {
    /// No index given, or the crate is not in it: no boost (a first fill is ranked by demand).
    Unknown,
    /// The index has this exact version.
    HasVersion,
    /// The index has the crate, but not this version: a new release to catch up with.
    LacksVersion,
}

/// One line of the queue file (field order is the shared contract's).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueEntry {
    #[serde(rename = "crate")]
    pub krate: String,
    pub version: String,
    pub bins: Vec<String>,
    pub reason: Reason,
    pub score: f64,
}

/// Why a crate is in the queue: the strongest boost it got, or plain downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    Downloads,
    Requested,
    NewVersion,
}

/// How many crates survive each step; printed as the summary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Funnel {
    pub total: u64,
    pub no_versions: u64,
    pub yanked_only: u64,
    pub prerelease_only: u64,
    pub stable: u64,
    pub with_bins: u64,
    pub cli_category: u64,
    pub cli_only: u64,
    pub candidates: u64,
    pub recent: u64,
    pub already_built: u64,
    pub selected: u64,
    pub requested: u64,
    pub new_version: u64,
}

/// Weight of one stats request against downloads, on the log scale of [`score`].
pub const REQUEST_WEIGHT: f64 = 2.0;
/// Boost for a release the index lacks: as much as ten times the downloads.
pub const NEW_VERSION_BOOST: f64 = 1.0;

/// Keeps crates whose newest non-yanked, non-prerelease version has binaries or which are in
/// `command-line-utilities`, and that were updated on or after `since`.
pub fn candidates(state: &DumpState, since: Option<Day>) -> (Vec<Candidate>, Funnel) {
    let mut funnel = Funnel::default();
    let mut out = Vec::new();
    for krate in state.crates.values() {
        // Ids that only other tables mention are not crates of this dump.
        let Some(name) = &krate.name else { continue };
        funnel.total += 1;
        let Some(best) = &krate.best else {
            if krate.versions == 0 {
                funnel.no_versions += 1;
            } else if krate.yanked > 0 && krate.prerelease == 0 {
                funnel.yanked_only += 1;
            } else {
                // Prerelease-only, or prereleases plus yanked stable ones: nothing stable to
                // build either way.
                funnel.prerelease_only += 1;
            }
            continue;
        };
        funnel.stable += 1;
        let has_bins = !best.bins.is_empty();
        funnel.with_bins += u64::from(has_bins);
        funnel.cli_category += u64::from(krate.cli);
        if !(has_bins || krate.cli) {
            continue;
        }
        funnel.cli_only += u64::from(!has_bins);
        funnel.candidates += 1;
        if since.is_some_and(|since| krate.updated.is_none_or(|day| day < since)) {
            continue;
        }
        funnel.recent += 1;
        out.push(Candidate {
            name: name.to_string(),
            version: best.version.to_string(),
            bins: best.bins.clone(),
            downloads: krate.downloads,
        });
    }
    (out, funnel)
}

/// `log10(1 + downloads) + REQUEST_WEIGHT·log10(1 + requests) + NEW_VERSION_BOOST`, rounded to
/// 1/1000 so the queue file reads cleanly and compares exactly. Logarithms keep one popular
/// crate's millions of downloads from drowning every other signal.
pub fn score(downloads: u64, requests: u64, new_version: bool) -> f64 {
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let raw = (1.0 + downloads as f64).log10()
        + REQUEST_WEIGHT * (1.0 + requests as f64).log10()
        + if new_version { NEW_VERSION_BOOST } else { 0.0 };
    (raw * 1000.0).round() / 1000.0
}

/// Scores, drops what the index already has, sorts (score desc, name asc) and keeps `limit`.
pub fn rank(
    candidates: Vec<Candidate>,
    stats: &HashMap<String, u64>,
    index: impl Fn(&Candidate) -> IndexStatus,
    limit: Option<usize>,
    funnel: &mut Funnel,
) -> Vec<QueueEntry> {
    let mut queue: Vec<QueueEntry> = candidates
        .into_iter()
        .filter_map(|c| {
            let status = index(&c);
            if status == IndexStatus::HasVersion {
                funnel.already_built += 1;
                return None;
            }
            let requests = stats.get(&c.name).copied().unwrap_or(0);
            let new_version = status == IndexStatus::LacksVersion;
            let reason = if new_version {
                Reason::NewVersion
            } else if requests > 0 {
                Reason::Requested
            } else {
                Reason::Downloads
            };
            Some(QueueEntry {
                score: score(c.downloads, requests, new_version),
                krate: c.name,
                version: c.version,
                bins: c.bins,
                reason,
            })
        })
        .collect();
    queue.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.krate.cmp(&b.krate))
    });
    if let Some(limit) = limit {
        queue.truncate(limit);
    }
    funnel.selected = queue.len() as u64;
    funnel.requested = queue
        .iter()
        .filter(|e| e.reason == Reason::Requested)
        .count() as u64;
    funnel.new_version = queue
        .iter()
        .filter(|e| e.reason == Reason::NewVersion)
        .count() as u64;
    queue
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(name: &str, downloads: u64) -> Candidate {
        Candidate {
            name: name.to_owned(),
            version: "1.0.0".to_owned(),
            bins: vec![name.to_owned()],
            downloads,
        }
    }

    #[test]
    fn score_is_log_downloads_plus_boosts() {
        assert_eq!(score(0, 0, false), 0.0);
        assert_eq!(score(999, 0, false), 3.0);
        assert_eq!(score(999, 9, false), 5.0);
        assert_eq!(score(999, 9, true), 6.0);
    }

    #[test]
    fn ranks_by_score_then_name_and_applies_the_limit() {
        let stats = HashMap::from([("asked".to_owned(), 99)]);
        let mut funnel = Funnel::default();
        let queue = rank(
            vec![
                candidate("b", 999),
                candidate("a", 999),
                candidate("asked", 0),
                candidate("fresh", 9),
                candidate("built", 1_000_000),
                candidate("small", 1),
            ],
            &stats,
            |c| match c.name.as_str() {
                "fresh" => IndexStatus::LacksVersion,
                "built" => IndexStatus::HasVersion,
                _ => IndexStatus::Unknown,
            },
            Some(4),
            &mut funnel,
        );
        let got: Vec<_> = queue
            .iter()
            .map(|e| (e.krate.as_str(), e.reason, e.score))
            .collect();
        assert_eq!(
            got,
            [
                ("asked", Reason::Requested, 4.0),
                ("a", Reason::Downloads, 3.0),
                ("b", Reason::Downloads, 3.0),
                ("fresh", Reason::NewVersion, 2.0),
            ]
        );
        assert_eq!(
            (funnel.selected, funnel.requested, funnel.new_version),
            (4, 1, 1)
        );
    }
}
