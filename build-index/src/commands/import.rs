//! `build-index import`: mirror an existing prebuilt pool into the signed index; prints the
//! report on stdout and writes it as JSON with `--report FILE`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{Error, say};
use crate::import::{ImportError, Report, pkgforge, quickinstall};

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Mirror cargo-quickinstall's signed release assets (`{crate}-{version}` tags listed in
    /// a file, one per line) into the index; releases point at the pool's URLs.
    Quickinstall {
        #[arg(long, value_name = "FILE")]
        tags: PathBuf,
        #[command(flatten)]
        dest: Destination,
        /// Where the release assets live: `<URL>/<tag>/<asset>`.
        #[arg(long, value_name = "URL", default_value = quickinstall::DEFAULT_POOL_URL)]
        pool_url: String,
        /// The pool's minisign public key (base64 line).
        #[arg(long, value_name = "KEY", default_value = quickinstall::DEFAULT_POOL_KEY)]
        pool_key: String,
        /// Targets to look for (default: the pool's).
        #[arg(long, value_name = "T,...", value_delimiter = ',')]
        targets: Vec<String>,
        /// Import at most this many tags (the first of the file).
        #[arg(long, value_name = "N")]
        max: Option<usize>,
        /// Also write the report as JSON to this file.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
    /// Mirror pkgforge's cargo and Go builders' static executables (their per-architecture
    /// metadata, e.g. `x86_64-Linux.json`) into the index as releases of format `bin`.
    Pkgforge {
        #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
        metadata: Vec<PathBuf>,
        #[command(flatten)]
        dest: Destination,
        /// The Go module proxy that maps commits to tags.
        #[arg(long, value_name = "URL", default_value = "https://proxy.golang.org")]
        proxy: String,
        /// Refuse a metadata file larger than this many bytes.
        #[arg(long, value_name = "BYTES", default_value_t = pkgforge::DEFAULT_MAX_METADATA)]
        max_metadata_bytes: u64,
        /// Also write the report as JSON to this file.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
}

/// The index written to, how its entries are signed and the registry the source checksums
/// come from: the same for every pool.
#[derive(Args, Debug)]
pub(crate) struct Destination {
    #[arg(long, value_name = "DIR")]
    index: PathBuf,
    #[command(flatten)]
    signing: Signing,
    /// Sparse registry index URL for the source checksums (default: crates.io).
    #[arg(long, value_name = "URL")]
    registry: Option<String>,
}

/// How imported entries are signed: as `publish` signs them.
#[derive(Args, Debug)]
pub(crate) struct Signing {
    #[arg(long, value_name = "FILE")]
    secret_key: PathBuf,
    /// Sign under this delegation (from `build-index delegate`); bundles carry it.
    #[arg(long, value_name = "FILE")]
    delegation: Option<PathBuf>,
    /// How long each new signature stays valid.
    #[arg(long, value_name = "DURATION", value_parser = crate::sign::parse_duration, default_value = crate::sign::DEFAULT_SIGNATURE_VALIDITY)]
    signature_validity: u64,
}

impl Signing {
    fn load(&self) -> Result<crate::sign::Signer, ImportError> {
        Ok(crate::sign::load(
            &self.secret_key,
            self.delegation.as_deref(),
            self.signature_validity,
        )?)
    }
}

/// Runs one import, prints its report and writes the JSON one when asked.
pub(crate) fn run(command: Command) -> Result<(), Error> {
    let report = import(command)?;
    say(report.text().trim_end())
}

fn import(command: Command) -> Result<Report, ImportError> {
    let (report, json) = match command {
        Command::Quickinstall {
            tags,
            dest,
            pool_url,
            pool_key,
            targets,
            max,
            report,
        } => {
            let targets = if targets.is_empty() {
                quickinstall::DEFAULT_TARGETS
                    .iter()
                    .map(|t| (*t).to_owned())
                    .collect()
            } else {
                targets
            };
            let r = quickinstall::run(&quickinstall::Request {
                tags,
                index: dest.index,
                signer: dest.signing.load()?,
                registry: dest.registry,
                pool_url,
                pool_key,
                targets,
                max,
            })?;
            (r, report)
        }
        Command::Pkgforge {
            metadata,
            dest,
            proxy,
            max_metadata_bytes,
            report,
        } => {
            let r = pkgforge::run(&pkgforge::Request {
                metadata,
                index: dest.index,
                signer: dest.signing.load()?,
                registry: dest.registry,
                proxy,
                max_metadata_bytes,
            })?;
            (r, report)
        }
    };
    if let Some(path) = json {
        crate::import::write_report(&report, &path)?;
    }
    Ok(report)
}
