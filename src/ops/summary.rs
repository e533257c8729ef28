//! The end of an install run, for both clients: `--json` lines, the closing summary that names
//! the failed packages when there were several, and the exit status.

use std::time::Duration;

use crate::error::{ExitStatus, PackageError};
use crate::report::{PackageResult, Reporter};

/// Prints `--json` lines (when asked) and the summary; picks the exit status: 3 when any failure
/// was a verification failure, else 1 when anything failed, else 0. `noun` is `crates` or
/// `packages`.
pub fn summarise(
    json: bool,
    reporter: &Reporter,
    results: &[PackageResult],
    noun: &str,
) -> ExitStatus {
    if json {
        for r in results {
            reporter.json(r);
        }
    }
    let failed: Vec<&PackageResult> = results.iter().filter(|r| !r.ok).collect();
    if failed.is_empty() {
        return ExitStatus::Success;
    }
    // Each failure's error is already above; one package has nothing to add to it. Of several,
    // the closing line names the failed ones (as cargo's `Summary` does), so they can be found
    // among the successes.
    if results.len() > 1 {
        let names: Vec<String> = failed
            .iter()
            .map(|r| match &r.version {
                Some(v) => format!("`{} {v}`", r.name),
                None => format!("`{}`", r.name),
            })
            .collect();
        let errors = if failed.len() == 1 { "error" } else { "errors" };
        reporter.error(
            &format!(
                "failed to install {} ({} of {} {noun}; see the {errors} above)",
                names.join(", "),
                failed.len(),
                results.len(),
            ),
            None,
        );
    }
    if failed.iter().any(|r| r.verification_failure) {
        ExitStatus::Verification
    } else {
        ExitStatus::Failure
    }
}

/// Reports `error` (with its hint) and turns it into the package's failed result.
pub fn failure(
    reporter: &Reporter,
    name: String,
    version: Option<String>,
    error: PackageError,
) -> PackageResult {
    reporter.error(&error.to_string(), error.hint().as_deref());
    PackageResult {
        name,
        version,
        target: None,
        source: None,
        origin: None,
        signed: false,
        binaries: Vec::new(),
        paths: Vec::new(),
        ok: false,
        error: Some(error.to_string()),
        verification_failure: error.is_verification(),
        seconds: 0.0,
    }
}

/// The results in order, each with the time its package took (millisecond precision).
pub fn with_seconds(results: Vec<Option<PackageResult>>, took: &[Duration]) -> Vec<PackageResult> {
    results
        .into_iter()
        .zip(took)
        .filter_map(|(r, t)| {
            r.map(|mut r| {
                r.seconds = (t.as_secs_f64() * 1000.0).round() / 1000.0;
                r
            })
        })
        .collect()
}
