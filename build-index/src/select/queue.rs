//! The two outputs of `select crates`: the queue file (JSON lines, one [`QueueEntry`] per line)
//! and the funnel summary (a few lines of text for stdout).
//!
//! Pure rendering; writing the queue file atomically is the caller's ([`super::select_crates`]).

use std::fmt::Write as _;

use super::rank::{Funnel, QueueEntry};

/// The queue as JSON lines, each ending in `\n`.
pub fn render_queue(queue: &[QueueEntry]) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(queue.len() * 96);
    for entry in queue {
        serde_json::to_writer(&mut out, entry)?;
        out.push(b'\n');
    }
    Ok(out)
}

/// What the summary needs besides the counts.
pub struct SummaryContext<'a> {
    pub since: Option<&'a str>,
    pub limit: Option<usize>,
    pub bad_versions: u64,
}

/// One screen: each step of the funnel with what it kept and why the rest went.
pub fn render_summary(funnel: &Funnel, ctx: &SummaryContext<'_>) -> String {
    let mut s = String::new();
    let mut line = |label: &str, n: u64, note: String| {
        let _ = writeln!(s, "{label:<32} {n:>9}{note}");
    };
    line("crates in the dump", funnel.total, String::new());
    line(
        "  with a stable version",
        funnel.stable,
        format!(
            "   (dropped {} yanked-only, {} prerelease-only, {} without versions)",
            funnel.yanked_only, funnel.prerelease_only, funnel.no_versions
        ),
    );
    line("  with binaries", funnel.with_bins, String::new());
    line(
        "  in command-line-utilities",
        funnel.cli_category,
        format!("   ({} of them without binaries)", funnel.cli_only),
    );
    line(
        "  binaries or CLI category",
        funnel.candidates,
        String::new(),
    );
    let recent = match ctx.since {
        Some(day) => format!("  updated since {day}"),
        None => "  updated (no --since)".to_owned(),
    };
    line(&recent, funnel.recent, String::new());
    let selected = match ctx.limit {
        Some(limit) => format!("  selected (--limit {limit})"),
        None => "  selected".to_owned(),
    };
    line(
        &selected,
        funnel.selected,
        format!(
            "   ({} requested, {} new versions; already in the index: {})",
            funnel.requested, funnel.new_version, funnel.already_built
        ),
    );
    if ctx.bad_versions > 0 {
        let _ = writeln!(
            s,
            "note: skipped {} versions whose number is not semver",
            ctx.bad_versions
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::rank::Reason;
    use super::*;

    #[test]
    fn queue_lines_follow_the_shared_contract() {
        let entry = QueueEntry {
            krate: "ripgrep".to_owned(),
            version: "14.1.1".to_owned(),
            bins: vec!["rg".to_owned()],
            reason: Reason::NewVersion,
            score: 123.0,
        };
        let text = String::from_utf8(render_queue(&[entry]).unwrap()).unwrap();
        assert_eq!(
            text,
            "{\"crate\":\"ripgrep\",\"version\":\"14.1.1\",\"bins\":[\"rg\"],\"reason\":\"new-version\",\"score\":123.0}\n"
        );
    }
}
