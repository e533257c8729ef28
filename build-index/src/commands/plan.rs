//! `build-index plan`: the GitHub Actions matrix for one run.

use std::path::PathBuf;

use super::{Error, say};
use crate::history;
use crate::plan::{DEFAULT_MAX, DEFAULT_TARGETS, PlanRequest, plan};

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The queue written by `select crates` (JSON lines).
    #[arg(long, value_name = "QUEUE")]
    queue: PathBuf,
    /// The Go lane: the queue written by `select go`, planned in turns with the crates.
    #[arg(long, value_name = "QUEUE")]
    go_queue: Option<PathBuf>,
    #[arg(long, value_name = "DIR")]
    index: PathBuf,
    /// The failure history (JSON lines); a missing file is an empty history.
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// Targets to build, comma-separated.
    #[arg(long, value_name = "T1,T2,...", value_delimiter = ',',
          default_values_t = DEFAULT_TARGETS.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>())]
    targets: Vec<String>,
    /// At most this many matrix items.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX)]
    max: usize,
    /// Failures of one version on one target after which it is no longer planned.
    #[arg(long, value_name = "N", default_value_t = history::DEFAULT_MAX_FAILURES)]
    max_failures: usize,
}

/// Plans and prints the matrix as one JSON line.
pub(crate) fn run(args: Args) -> Result<(), Error> {
    let matrix = plan(&PlanRequest {
        queue: args.queue,
        go_queue: args.go_queue,
        index: args.index,
        history: args.history,
        targets: args.targets,
        max: args.max,
        max_failures: args.max_failures,
    })?;
    say(&matrix.to_line())
}
