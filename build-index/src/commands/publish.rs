//! `build-index publish`: validated results into the index, changed package files signed.

use std::path::PathBuf;

use super::{Error, say};
use crate::publish::{Expect, PublishRequest, publish};
use crate::sign;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[arg(long, value_name = "DIR")]
    index: PathBuf,
    #[arg(long, value_name = "FILE")]
    secret_key: PathBuf,
    /// Point releases at `URL/<archive path>` instead of a path relative to the index; a
    /// URL containing `{file}` is a template (`{name}`, `{version}`, `{target}`, `{file}`).
    #[arg(long, value_name = "URL")]
    archive_base: Option<String>,
    /// Merge failure records into this failure history (without it they are refused).
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// The matrix `build-index plan` printed: accept only its items' results, each from its
    /// own directory under --artifacts; anything else is refused and reported (exit 0).
    #[arg(long, value_name = "PLAN", requires = "artifacts")]
    expect: Option<PathBuf>,
    /// With --expect: the directory holding one artifact directory per plan item.
    #[arg(long, value_name = "DIR", requires = "expect")]
    artifacts: Option<PathBuf>,
    /// The CI run id written into new failure-history lines.
    #[arg(long, value_name = "ID")]
    run_id: Option<String>,
    /// Sign under this delegation (from `build-index delegate`); bundles carry it.
    #[arg(long, value_name = "FILE")]
    delegation: Option<PathBuf>,
    /// How long each new signature stays valid.
    #[arg(long, value_name = "DURATION", value_parser = sign::parse_duration, default_value = sign::DEFAULT_SIGNATURE_VALIDITY)]
    signature_validity: u64,
    /// Result records written by `build-index build` or `package`.
    #[arg(required_unless_present = "expect", value_name = "RESULT")]
    results: Vec<PathBuf>,
}

/// Publishes and prints one line per refused record, recorded failure and published release.
pub(crate) fn run(args: Args) -> Result<(), Error> {
    let expect = args
        .expect
        .zip(args.artifacts)
        .map(|(plan, artifacts)| Expect { plan, artifacts });
    let farm = expect.is_some();
    let report = publish(&PublishRequest {
        index: args.index,
        secret_key: args.secret_key,
        archive_base: args.archive_base,
        history: args.history,
        results: args.results,
        expect,
        run_id: args.run_id,
        delegation: args.delegation,
        signature_validity: args.signature_validity,
    })?;
    for r in &report.refused {
        say(&format!("refused {}: {}", r.path.display(), r.reason))?;
    }
    for f in &report.failures {
        say(&format!(
            "failed {} {} {} {}",
            f.krate,
            f.version,
            f.target,
            f.reason.as_str()
        ))?;
    }
    for p in report.published {
        let what = if p.changed { "published" } else { "unchanged" };
        say(&format!(
            "{what} {} {} {} {}",
            p.name, p.version, p.target, p.package_file
        ))?;
    }
    // The farm's run goes on (refusals are in the report and the history); records given by
    // hand are ours, so a refusal there is an error.
    if !farm && !report.refused.is_empty() {
        return Err(Error::Refused(report.refused.len()));
    }
    Ok(())
}
