//! `cargo quickinstall`: resolve, verify, download and install each crate, or fall back to
//! `cargo install`.
//!
//! Two phases. Phase one runs up to `--jobs` crates at once and touches nothing in the bin
//! directory: registry → index (signature first) → release choice → download (size and sha256
//! while streaming) → unpack into a staging directory inside the install root. Phase two, in
//! the order given, installs what was staged under cargo's tracker lock, then runs the
//! fallbacks one at a time (each is a full compile; running them side by side would only
//! thrash two cores).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod extract;
mod modes;
mod phase_one;
mod phase_two;
mod pinned;
mod resolve_only;
mod signed;

pub use pinned::Pinned;
pub use resolve_only::{Resolution, ResolveError, Resolved, resolve_only};

use tempfile::TempDir;

use crate::cli::{CrateSpec, InstallRequest, UsageError};
use crate::download::{Fetcher, Location, NetConfig};
use crate::env::Env;
use crate::error::{CrateError, ExitStatus, Subject};
use crate::index::fetch::IndexSource;
use crate::index::seen::SeenStore;
use crate::install::Transaction;
use crate::install::cargo_tracker::{self, PackageId};
use crate::ops::summary;
use crate::registry::crates::Registry;
use crate::report::{CrateResult, Reporter};
use crate::stats::{self, Client, Outcome, Settings, Telemetry};
use crate::unpack::StagedBinary;

/// What phase one decided for a crate.
enum Plan {
    Already {
        name: String,
        version: String,
        bins: Vec<String>,
    },
    Prebuilt(Box<Staged>),
    DryRunPrebuilt {
        subject: Subject,
        candidate: Box<crate::source::Candidate>,
        /// The binaries that would be installed (empty: whatever the archive holds).
        wanted: Vec<String>,
    },
    Fallback {
        name: String,
        /// The exact version the registry resolved; `None` when it could not be asked
        /// (offline, or a registry we cannot read): then `cargo install` resolves `req`.
        version: Option<String>,
        req: Option<String>,
        why: String,
    },
    Failed {
        name: String,
        version: Option<String>,
        error: CrateError,
    },
}

/// What phase two did with one staged crate before the tracker is written.
enum Placed {
    Already(CrateResult),
    New(Transaction, Vec<PackageId>),
}

/// A verified archive unpacked into a staging directory, ready to be moved into place.
struct Staged {
    subject: Subject,
    version: semver::Version,
    /// The source it came from, and whether a signature verified it.
    origin: crate::source::Origin,
    signed: bool,
    /// The toolchain that built it, when the source says.
    toolchain: Option<String>,
    spec: CrateSpec,
    binaries: Vec<StagedBinary>,
    /// Holds the staging directory; dropping it removes whatever is left there.
    _dir: TempDir,
}

/// Shared, read-only context for the phase-one workers.
struct Context<'a> {
    request: &'a InstallRequest,
    reporter: &'a Reporter,
    fetcher: Fetcher,
    /// `None` when the source cannot be read by us (see [`crate::cli::CrateSource`]).
    registry: Option<Registry>,
    index: IndexSource,
    seen: Option<SeenStore>,
    installed: Vec<(PackageId, BTreeSet<String>)>,
    glibc: OnceLock<Option<(u32, u32)>>,
}

/// Runs `cargo quickinstall`. Returns the exit status; everything the user sees goes through
/// `reporter`.
pub fn run(request: &InstallRequest, env: &Env, reporter: &Reporter) -> ExitStatus {
    if let Some(build) = &request.source_build {
        return modes::source_build(request, build, env, reporter);
    }
    if request.upgrade_all {
        let mut upgrade = request.clone();
        upgrade.crates = modes::upgrade_candidates(request, reporter);
        if upgrade.crates.is_empty() {
            return ExitStatus::Success;
        }
        upgrade.upgrade_all = false;
        return run(&upgrade, env, reporter);
    }
    reporter.verbose(
        1,
        &format!(
            "crates come from {}; release index {}{}; targets considered, in order: {}",
            request.source.describe,
            request.index,
            if request.source.public || request.index_explicit {
                ""
            } else {
                " (not used for this source)"
            },
            request.targets.join(", ")
        ),
    );
    let context = match Context::new(request, reporter) {
        Ok(c) => c,
        Err(e) => {
            reporter.error(&e.0, None);
            return ExitStatus::Usage;
        }
    };
    let telemetry = Telemetry::start(
        &Settings {
            client: Client::CargoQuickinstall,
            no_telemetry: request.no_telemetry,
            dry_run: request.dry_run,
            // Only crates.io's crates (or a declared mirror's) are counted; offline, nothing.
            public: request.source.public && request.offline.is_none(),
            quiet: request.quiet,
        },
        env,
        reporter,
    );
    let ping = |name: &str, version: Option<&str>, target: Option<&str>, outcome| {
        let target = target.or(request.targets.first().map(String::as_str));
        if let (Some(outcome), Some(version), Some(target)) = (outcome, version, target) {
            telemetry.record(name, version, target, outcome);
        }
    };
    let (plans, mut took): (Vec<Plan>, Vec<Duration>) = context.plan_all().into_iter().unzip();
    let mut results: Vec<Option<CrateResult>> = vec![None; plans.len()];
    let mut staged = Vec::new();
    let mut fallbacks = Vec::new();
    for (i, plan) in plans.into_iter().enumerate() {
        match plan {
            Plan::Fallback {
                name,
                version,
                req,
                why,
            } => fallbacks.push((i, name, version, req, why)),
            Plan::Prebuilt(s) => staged.push((i, s)),
            Plan::Already {
                name,
                version,
                bins,
            } => results[i] = Some(context.already(name, version, bins)),
            Plan::DryRunPrebuilt {
                subject,
                candidate,
                wanted,
            } => results[i] = Some(context.dry_run(subject, &candidate, wanted)),
            Plan::Failed {
                name,
                version,
                error,
            } => {
                let (error_version, error_target) = stats::subject_of(&error);
                ping(
                    &name,
                    version.as_deref().or(error_version),
                    error_target,
                    Outcome::of_error(&error),
                );
                results[i] = Some(context.failure(name, version, error));
            }
        }
    }
    let batch = Instant::now();
    let installed = context.install_all(staged);
    let batch = batch.elapsed();
    for (i, result) in installed {
        ping_success(&ping, &result);
        took[i] += batch;
        results[i] = Some(result);
    }
    for (i, name, version, req, why) in fallbacks {
        let started = Instant::now();
        let result = context.fallback(env, &name, version.as_deref(), req.as_deref(), &why);
        took[i] += started.elapsed();
        // Every failure of a fallback is the build's: `fallback-failed`.
        let outcome = if result.ok {
            Outcome::of_success(result.source)
        } else {
            Some(Outcome::FallbackFailed)
        };
        ping(
            &name,
            version.as_deref(),
            request.explicit_target.as_deref(),
            outcome,
        );
        results[i] = Some(result);
    }
    let results = summary::with_seconds(results, &took);
    let status = summary::summarise(request.json, reporter, &results, "crates");
    reporter.verbose(
        2,
        &format!(
            "{} HTTP requests sent (retries included)",
            context.fetcher.requests_sent()
        ),
    );
    telemetry.finish();
    status
}

/// Pings for a successful result (none for `already-installed`).
fn ping_success(
    ping: &impl Fn(&str, Option<&str>, Option<&str>, Option<Outcome>),
    result: &CrateResult,
) {
    if result.ok {
        ping(
            &result.name,
            result.version.as_deref(),
            result.target.as_deref(),
            Outcome::of_success(result.source),
        );
    }
}

fn paths_of(bin_dir: &Path, bins: &[String]) -> Vec<String> {
    bins.iter()
        .map(|b| bin_dir.join(b).display().to_string())
        .collect()
}

impl<'a> Context<'a> {
    fn new(request: &'a InstallRequest, reporter: &'a Reporter) -> Result<Self, UsageError> {
        let registry = match &request.source.sparse_url {
            Some(url) => Some(Registry::from_url(url).map_err(|e| UsageError(e.to_string()))?),
            None => None,
        };
        let base = Location::parse(&request.index).map_err(|e| UsageError(e.to_string()))?;
        let fetcher = Fetcher::with_cargo_http(
            &NetConfig {
                timeout: Duration::from_secs(request.timeout_secs),
                retries: request.net.retries,
                user_agent: format!("cargo-quickinstall/{}", env!("CARGO_PKG_VERSION")),
            },
            request.net.proxy.as_deref(),
            request.net.cainfo.as_deref(),
        )
        .map_err(UsageError)?;
        // A snapshot of what is installed, to skip downloads; re-checked under the lock later.
        let installed = cargo_tracker::installed_snapshot(&request.root);
        Ok(Self {
            request,
            reporter,
            fetcher,
            registry,
            index: IndexSource {
                base,
                keys: request.keys.clone(),
            },
            seen: (!request.dry_run).then(|| SeenStore::new(&request.state_dir)),
            installed,
            glibc: OnceLock::new(),
        })
    }
}
