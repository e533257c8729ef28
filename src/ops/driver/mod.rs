//! The one install driver, for crates and Go modules alike: resolve → choose a source → fetch →
//! verify → stage → install → record → report.
//!
//! Two phases. Phase one runs up to `--jobs` requests at once and touches nothing in the bin
//! directory: the [`Ecosystem`] resolves each request and asks the sources (the
//! [`crate::source`] seam) in the user's order; the first [`Candidate`] it gets is handed to
//! [`Context::take`], which — here, for every source alike — downloads it, verifies it (size
//! and sha256 while streaming, or the signature before any parser sees the bytes) and unpacks
//! it into a staging directory inside the install root. Phase two, in the order given, moves
//! what was staged into place under the ecosystem's record (cargo's tracker lock, or nothing
//! for Go), then runs the fallbacks one at a time (each is a full compile; running them side by
//! side would only thrash two cores). `--dry-run`, `--json`, telemetry, the summary and the
//! exit status (3 for a verification failure only) are decided here once.
//!
//! - `take.rs`: a candidate → a dry-run plan or a staged archive;
//! - `signed.rs` (+ `extract.rs`): staging of signature-checked candidates;
//! - `phase_two.rs`: install under the record, already-installed/dry-run lines, fallbacks.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tempfile::TempDir;

mod extract;
mod phase_two;
pub mod resolve;
mod signed;
mod take;

use crate::cli::RunSettings;
use crate::download::{Fetcher, Location};
use crate::env::Env;
use crate::error::{ExitStatus, PackageError, Subject};
use crate::fallback::SourceBuild;
use crate::index::fetch::IndexSource;
use crate::index::seen::SeenStore;
use crate::install::cargo_tracker::TrackerError;
use crate::ops::{parallel, summary};
use crate::report::{PackageResult, Reporter, Source};
use crate::source::{Candidate, Origin};
use crate::stats::{self, Client, Outcome, Telemetry};
use crate::unpack::StagedBinary;

/// One ecosystem (crates, Go modules): what differs between `cargo quickinstall` and
/// `gquick install`. Everything else is the driver's.
pub trait Ecosystem: Sync {
    /// One request as the user wrote it (`name@req`, `pkg@query`).
    type Spec: Sync;
    /// What recording an install needs beyond [`Staged`]'s common fields.
    type Extra: Send + Sync;
    /// The install record held through phase two (cargo's tracker, under its lock).
    type Record;

    /// `crates` or `packages`, for the summary.
    fn noun(&self) -> &'static str;
    fn specs(&self) -> &[Self::Spec];

    /// Phase one for one request: resolve it to (name, exact version), detect an existing
    /// install, ask the sources in order and hand the first candidate to [`Context::take`];
    /// or say why it must be built (a [`Fallback`]) or failed.
    fn plan(&self, spec: &Self::Spec) -> Plan<Self::Extra>;

    /// Whether outcomes of `name` may be counted (Go's private modules never are).
    fn may_ping(&self, _name: &str) -> bool {
        true
    }

    /// Whether any request may end in a ping: only then is the stats service contacted
    /// before there is something to send.
    fn may_ping_any(&self) -> bool {
        true
    }

    /// Opens the install record for phase two.
    fn open_record(&self) -> Result<Self::Record, Arc<TrackerError>>;
    /// Checks one staged package against what is installed: already there (a concurrent
    /// install did it), or new, with the older versions it replaces; `Err` on a conflict.
    fn check(
        &self,
        record: &mut Self::Record,
        staged: &Staged<Self::Extra>,
    ) -> Result<Placement, PackageError>;
    /// Records a package whose binaries were just placed.
    fn mark(&self, record: &mut Self::Record, staged: &Staged<Self::Extra>);
    /// Writes the record; `Err` rolls every placed binary back.
    fn save(&self, record: Self::Record, changed: bool) -> Result<(), Arc<TrackerError>>;

    /// Whether to say, as `cargo install` does, when binaries were installed into a directory
    /// that is not on `PATH`.
    fn warns_off_path(&self) -> bool {
        false
    }

    /// `--force`-less "already installed" line: what follows the name and version.
    fn already_note(&self, _bins: &[String]) -> String {
        String::new()
    }

    /// The build-from-source command for `fallback`, and how it is named in the output.
    fn fallback_command(&self, fallback: &Fallback) -> (SourceBuild, String);
    /// What a fallback built (`built`) or would build: its version, target and binaries, and
    /// how the `Installed` line names it.
    fn fallback_outcome(&self, fallback: &Fallback, built: bool) -> FallbackOutcome;
}

/// What phase one decided for a request.
pub enum Plan<X> {
    Already {
        name: String,
        version: String,
        bins: Vec<String>,
    },
    Staged(Box<Staged<X>>),
    /// `--dry-run`: the candidate that would be installed.
    DryRun {
        subject: Subject,
        candidate: Box<Candidate>,
        /// The binaries that would be installed (empty: whatever the archive holds).
        wanted: Vec<String>,
    },
    Fallback(Fallback),
    Failed {
        name: String,
        version: Option<String>,
        error: PackageError,
    },
}

/// A build from source, and why.
pub struct Fallback {
    pub name: String,
    /// The exact version resolved; `None` when nothing could be asked (then `req` is
    /// resolved by the build tool).
    pub version: Option<String>,
    pub req: Option<String>,
    pub why: crate::source::Why,
}

/// What a fallback built, as the result reports it.
pub struct FallbackOutcome {
    pub version: Option<String>,
    pub target: Option<String>,
    pub bins: Vec<String>,
    /// The name in the `Installed` line (`name 1.0.0`, `pkg@v1.0.0`).
    pub shown: String,
}

/// What [`Ecosystem::check`] found.
pub enum Placement {
    /// The same version's binaries are already there.
    Already,
    /// To install; these installed versions are replaced (`name version` each).
    New { replaces: Vec<String> },
}

/// A verified archive unpacked into a staging directory, ready to be moved into place.
pub struct Staged<X> {
    pub subject: Subject,
    /// The source it came from, and whether a signature verified it.
    pub origin: Origin,
    pub signed: bool,
    /// The toolchain that built it, when the source says.
    pub toolchain: Option<String>,
    pub binaries: Vec<StagedBinary>,
    pub extra: X,
    /// Holds the staging directory; dropping it removes whatever is left there. Phase two takes
    /// it once the binaries are moved out, to remove it beside the record write.
    pub dir: Option<TempDir>,
}

/// The settings the driver itself reads, whatever the ecosystem.
pub struct Options {
    /// Where staging directories go (same file system as `bin_dir`).
    pub root: PathBuf,
    pub bin_dir: PathBuf,
    /// The options both clients share: targets, index and keys, jobs, output, cache.
    pub run: RunSettings,
    /// `--bin`: install only these binaries.
    pub bins: Vec<String>,
    /// `--require-signed`.
    pub require_signed: bool,
    /// Telemetry: which client, and whether its packages are public at all.
    pub client: Client,
    pub public: bool,
}

/// Shared, read-only context of one run: what every phase-one worker and phase two use.
pub struct Context<'a> {
    pub request: Options,
    pub reporter: &'a Reporter,
    pub fetcher: Fetcher,
    pub index: IndexSource,
    pub seen: Option<SeenStore>,
    pub glibc: OnceLock<Option<(u32, u32)>>,
}

impl<'a> Context<'a> {
    /// The context of a run that reads the release index at `index` (parsed from
    /// `request.run.index`) with `request.run.keys`.
    pub fn new(
        request: Options,
        reporter: &'a Reporter,
        fetcher: Fetcher,
        index: Location,
    ) -> Self {
        Self {
            seen: (!request.run.dry_run).then(|| SeenStore::new(&request.run.state_dir)),
            index: IndexSource {
                base: index,
                keys: request.run.keys.clone(),
            },
            request,
            reporter,
            fetcher,
            glibc: OnceLock::new(),
        }
    }

    /// The host's glibc version, detected once.
    pub fn glibc(&self) -> Option<(u32, u32)> {
        *self.glibc.get_or_init(crate::target::detect_glibc)
    }
}

/// Runs one install over `ecosystem`'s requests. Returns the exit status; everything the user
/// sees goes through the context's reporter.
pub fn run<E: Ecosystem>(context: &Context, ecosystem: &E, env: &Env) -> ExitStatus {
    let request = &context.request;
    let telemetry = Telemetry::start(
        &stats::Settings {
            client: request.client,
            no_telemetry: request.run.no_telemetry,
            dry_run: request.run.dry_run,
            public: request.public,
            quiet: request.run.quiet,
        },
        env,
        context.reporter,
    );
    if ecosystem.may_ping_any() {
        telemetry.connect_early();
    }
    let ping = |name: &str, version: Option<&str>, target: Option<&str>, outcome| {
        let target = target.or(request.run.targets.first().map(String::as_str));
        if let (Some(outcome), Some(version), Some(target)) = (outcome, version, target)
            && ecosystem.may_ping(name)
        {
            telemetry.record(name, version, target, outcome);
        }
    };
    let (plans, mut took): (Vec<Plan<E::Extra>>, Vec<Duration>) =
        plan_all(context, ecosystem).into_iter().unzip();
    // The index files phase one verified, marked for rollback protection in one write.
    if let Some(seen) = &context.seen {
        seen.flush();
    }
    let mut results: Vec<Option<PackageResult>> = vec![None; plans.len()];
    let mut staged = Vec::new();
    let mut fallbacks = Vec::new();
    for (i, plan) in plans.into_iter().enumerate() {
        match plan {
            Plan::Fallback(fallback) => fallbacks.push((i, fallback)),
            Plan::Staged(s) => staged.push((i, s)),
            Plan::Already {
                name,
                version,
                bins,
            } => results[i] = Some(context.already(ecosystem, name, version, bins)),
            Plan::DryRun {
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
    // Phase two: what was staged, in order, under one record; then the builds, one at a time.
    let batch = Instant::now();
    let installed = context.install_all(ecosystem, staged);
    let batch = batch.elapsed();
    for (i, result) in installed {
        if result.ok {
            ping(
                &result.name,
                result.version.as_deref(),
                result.target.as_deref(),
                Outcome::of_success(result.source),
            );
        }
        took[i] += batch;
        results[i] = Some(result);
    }
    if !fallbacks.is_empty() {
        // Builds take minutes: the outcomes known so far go out meanwhile.
        telemetry.flush();
    }
    for (i, fallback) in fallbacks {
        let started = Instant::now();
        let result = context.fallback(ecosystem, &fallback);
        took[i] += started.elapsed();
        // Every failure of a fallback is the build's: `fallback-failed`.
        let outcome = if result.ok {
            Outcome::of_success(result.source)
        } else {
            Some(Outcome::FallbackFailed)
        };
        ping(
            &fallback.name,
            fallback.version.as_deref(),
            request.run.explicit_target.as_deref(),
            outcome,
        );
        results[i] = Some(result);
    }
    let results = summary::with_seconds(results, &took);
    // A build from source ran `cargo install`, which says this itself.
    let prebuilt_placed = results
        .iter()
        .any(|r| r.ok && r.source == Some(Source::Prebuilt));
    let built = results.iter().any(|r| r.source == Some(Source::Fallback));
    if ecosystem.warns_off_path()
        && prebuilt_placed
        && !built
        && !request.run.dry_run
        && !env.on_path(&request.bin_dir)
    {
        context.reporter.warn(&format!(
            "be sure to add `{}` to your PATH to be able to run the installed binaries",
            request.bin_dir.display()
        ));
    }
    let status = summary::summarise(
        request.run.json,
        context.reporter,
        &results,
        ecosystem.noun(),
    );
    context.reporter.verbose(
        2,
        &format!(
            "{} HTTP requests sent (retries and redirects included)",
            context.fetcher.requests_sent()
        ),
    );
    telemetry.finish();
    status
}

/// Phase one over every request, `--jobs` at a time, in the order given: each plan with the
/// time it took (resolve, verify, download, unpack). With `--dry-run` nothing is downloaded and
/// each prebuilt plan is [`Plan::DryRun`] holding the chosen [`Candidate`]: a resolve-only run.
pub fn plan_all<E: Ecosystem>(context: &Context, ecosystem: &E) -> Vec<(Plan<E::Extra>, Duration)> {
    parallel::map_in_order(ecosystem.specs(), context.request.run.jobs, |spec| {
        let started = Instant::now();
        (ecosystem.plan(spec), started.elapsed())
    })
}

/// A successful result with nothing yet filled in but what is given.
pub(crate) fn result(
    name: String,
    version: Option<String>,
    target: Option<String>,
    source: Source,
    origin: Option<Origin>,
    bin_dir: &std::path::Path,
    bins: Vec<String>,
) -> PackageResult {
    PackageResult {
        paths: bins
            .iter()
            .map(|b| bin_dir.join(b).display().to_string())
            .collect(),
        name,
        version,
        target,
        source: Some(source),
        origin,
        signed: false,
        binaries: bins,
        ok: true,
        error: None,
        verification_failure: false,
        seconds: 0.0,
    }
}
