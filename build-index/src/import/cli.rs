//! The `build-index import` subcommands' arguments and their dispatch: prints the report on
//! stdout and writes it as JSON with `--report FILE`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{ImportError, Report, pkgforge, quickinstall};

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Mirror cargo-quickinstall's signed release assets (`{crate}-{version}` tags listed in
    /// a file, one per line) into the index; releases point at the pool's URLs.
    Quickinstall {
        #[arg(long, value_name = "FILE")]
        tags: PathBuf,
        #[arg(long, value_name = "DIR")]
        index: PathBuf,
        #[command(flatten)]
        signing: Signing,
        /// Sparse registry index URL for the source checksums (default: crates.io).
        #[arg(long, value_name = "URL")]
        registry: Option<String>,
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
        #[arg(long, value_name = "DIR")]
        index: PathBuf,
        #[command(flatten)]
        signing: Signing,
        /// Sparse registry index URL for the source checksums (default: crates.io).
        #[arg(long, value_name = "URL")]
        registry: Option<String>,
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

/// How imported entries are signed: as `publish` signs them.
#[derive(Args, Debug)]
pub struct Signing {
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
pub fn run(command: ImportCommand) -> Result<Report, ImportError> {
    let (report, json) = match command {
        ImportCommand::Quickinstall {
            tags,
            index,
            signing,
            registry,
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
                index,
                signer: signing.load()?,
                registry,
                pool_url,
                pool_key,
                targets,
                max,
            })?;
            (r, report)
        }
        ImportCommand::Pkgforge {
            metadata,
            index,
            signing,
            registry,
            proxy,
            max_metadata_bytes,
            report,
        } => {
            let r = pkgforge::run(&pkgforge::Request {
                metadata,
                index,
                signer: signing.load()?,
                registry,
                proxy,
                max_metadata_bytes,
            })?;
            (r, report)
        }
    };
    if let Some(path) = json {
        super::write_report(&report, &path)?;
    }
    Ok(report)
}
