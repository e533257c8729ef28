//! `build-index select`: what to build next, from the crates.io db dump or the Go module index.

use std::path::PathBuf;

use super::{Error, say};
use crate::select::{self, go};

#[derive(clap::Subcommand, Debug)]
pub(crate) enum Command {
    /// Rank Go modules from the module index's records into a build queue (JSON lines).
    #[command(group(clap::ArgGroup::new("records").required(true).args(["index_records", "module_index"])))]
    Go(GoArgs),
    /// Rank crates with binaries from the crates.io db dump into a build queue (JSON lines).
    Crates(CratesArgs),
}

#[derive(clap::Args, Debug)]
pub(crate) struct GoArgs {
    /// Module index records, JSON lines `{"Path","Version","Timestamp"}`.
    #[arg(long, value_name = "FILE")]
    index_records: Option<PathBuf>,
    /// Page the records from this module index (the public one is
    /// `https://index.golang.org/index`), 2000 a page, from --since.
    #[arg(long, value_name = "URL")]
    module_index: Option<String>,
    /// With --module-index: stop after this many pages, so a run always ends.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1000,
        requires = "module_index"
    )]
    max_pages: usize,
    /// Keep only records indexed at or after this RFC 3339 UTC time.
    #[arg(long, value_name = "RFC3339")]
    since: Option<String>,
    /// Install requests per module, a JSON object: a file path or an http(s) URL.
    #[arg(long, value_name = "FILE|URL")]
    stats: Option<String>,
    /// A popularity score per module, a JSON object.
    #[arg(long, value_name = "FILE")]
    popularity: Option<PathBuf>,
    /// Detect command packages from the module zips on this proxy (URL or directory);
    /// modules without any are left out.
    #[arg(long, value_name = "URL|DIR")]
    proxy: Option<String>,
    /// Keep at most N modules.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// The queue file to write.
    #[arg(long, value_name = "QUEUE")]
    out: PathBuf,
}

#[derive(clap::Args, Debug)]
pub(crate) struct CratesArgs {
    /// The crates.io `db-dump.tar.gz`, read streaming.
    #[arg(long, value_name = "FILE")]
    dump: PathBuf,
    /// Keep only crates updated on or after this day.
    #[arg(long, value_name = "YYYY-MM-DD")]
    since: Option<String>,
    /// Install requests per crate, a JSON object: a file path or an http(s) URL.
    #[arg(long, value_name = "FILE|URL")]
    stats: Option<String>,
    /// The release index: skip versions it has, boost new versions of crates it has.
    #[arg(long, value_name = "DIR")]
    index: Option<PathBuf>,
    /// Keep at most N crates.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// The queue file to write.
    #[arg(long, value_name = "QUEUE")]
    out: PathBuf,
}

/// Writes the queue and prints its summary.
pub(crate) fn run(command: Command) -> Result<(), Error> {
    match command {
        Command::Crates(args) => {
            let outcome = select::select_crates(&select::SelectRequest {
                dump: args.dump,
                since: args.since,
                stats: args.stats,
                index: args.index,
                limit: args.limit,
                out: args.out,
            })?;
            say(outcome.summary.trim_end())
        }
        Command::Go(args) => {
            // clap's `records` group guarantees exactly one of the two.
            let records = match (args.index_records, args.module_index) {
                (Some(path), _) => go::RecordSource::File(path),
                (None, Some(url)) => go::RecordSource::ModuleIndex {
                    url,
                    max_pages: args.max_pages,
                },
                (None, None) => return Err(Error::NoRecordSource),
            };
            let summary = go::select_go(&go::GoSelectRequest {
                records,
                since: args.since,
                stats: args.stats,
                popularity: args.popularity,
                proxy: args.proxy,
                limit: args.limit,
                out: args.out,
            })?;
            say(summary.trim_end())
        }
    }
}
