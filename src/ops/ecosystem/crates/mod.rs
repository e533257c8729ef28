//! Crates, for `cargo quickinstall`: versions from the registry (sparse index, semver), the
//! sources in `--sources` order (index, quickinstall pool, upstream), binaries in
//! `<root>/bin`, each install recorded in cargo's `.crates.toml`/`.crates2.json` (under
//! cargo's lock, one write per run), already-installed read from that tracker, and
//! `cargo install --locked` as the fallback. The driver ([`crate::ops::driver`]) does the rest.
//!
//! - `lookup.rs`: phase one for one crate (version and index at once, then each source);
//! - `modes.rs`: `--git`/`--path`/… (straight to `cargo install`) and `--upgrade-all`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

mod lookup;
mod modes;
mod pinned;

pub use pinned::Pinned;

use crate::cli::{CrateSpec, InstallRequest, UsageError};
use crate::download::{Fetcher, Location, NetConfig};
use crate::env::Env;
use crate::error::{ExitStatus, PackageError};
use crate::fallback::{self, FallbackOptions, SourceBuild};
use crate::install::cargo_tracker::{self, CargoTracker, PackageId, TrackerError};
use crate::install::transaction::same_contents;
use crate::ops::driver::resolve::{ResolveError, Resolved};
use crate::ops::driver::{
    self, Context, Ecosystem, Fallback, FallbackOutcome, Options, Placement, Plan, Staged,
};
use crate::registry::crates::{CRATES_IO_SOURCE_ID, Registry};
use crate::report::Reporter;
use crate::stats::Client;

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
            request.run.index,
            if request.source.public || request.index_explicit {
                ""
            } else {
                " (not used for this source)"
            },
            request.run.targets.join(", ")
        ),
    );
    let (context, registry) = match context(request, reporter) {
        Ok(c) => c,
        Err(e) => {
            reporter.error(&e.0, None);
            return ExitStatus::Usage;
        }
    };
    let crates = Crates {
        d: &context,
        request,
        env,
        registry,
        // A snapshot of what is installed, to skip downloads; re-checked under the lock later.
        installed: cargo_tracker::installed_snapshot(&request.root),
    };
    driver::run(&context, &crates, env)
}

/// Resolves every crate of `request` (its targets, sources, `--bin`) as an install would,
/// installing nothing: what a lock pins ([`crate::toolset`]).
pub fn resolve_only(
    request: &InstallRequest,
    env: &Env,
    reporter: &Reporter,
) -> Vec<Result<Resolved, ResolveError>> {
    let mut request = request.clone();
    request.run.dry_run = true;
    // Already installed or not, the lock records what would be installed.
    request.run.force = true;
    let (context, registry) = match context(&request, reporter) {
        Ok(c) => c,
        Err(e) => {
            return request
                .crates
                .iter()
                .map(|_| Err(ResolveError::Unlockable(e.0.clone())))
                .collect();
        }
    };
    let crates = Crates {
        d: &context,
        request: &request,
        env,
        registry,
        installed: Vec::new(),
    };
    driver::resolve::resolve_all(&context, &crates)
}

/// The driver's context for `request`, and the registry (`None` when the source cannot be
/// read by us, see [`crate::cli::CrateSource`]).
fn context<'a>(
    request: &InstallRequest,
    reporter: &'a Reporter,
) -> Result<(Context<'a>, Option<Registry>), UsageError> {
    let registry = match &request.source.sparse_url {
        Some(url) => Some(Registry::from_url(url).map_err(|e| UsageError(e.to_string()))?),
        None => None,
    };
    let base = Location::parse(&request.run.index).map_err(|e| UsageError(e.to_string()))?;
    let fetcher = Fetcher::with_cargo_http(
        &NetConfig {
            timeout: Duration::from_secs(request.run.timeout_secs),
            retries: request.net.retries,
            user_agent: format!("cargo-quickinstall/{}", env!("CARGO_PKG_VERSION")),
            parallel: request.run.jobs,
        },
        request.net.proxy.as_deref(),
        request.net.cainfo.as_deref(),
    )
    .map_err(UsageError)?;
    let options = Options {
        root: request.root.clone(),
        bin_dir: request.root.join("bin"),
        run: request.run.clone(),
        bins: request.bins.clone(),
        require_signed: request.require_signed,
        client: Client::CargoQuickinstall,
        // Only crates.io's crates (or a declared mirror's) are counted; offline, nothing.
        public: request.source.public && request.offline.is_none(),
    };
    let context = Context::new(options, reporter, fetcher, base);
    Ok((context, registry))
}

/// The crate ecosystem for one run.
struct Crates<'a> {
    d: &'a Context<'a>,
    request: &'a InstallRequest,
    env: &'a Env,
    registry: Option<Registry>,
    installed: Vec<(PackageId, BTreeSet<String>)>,
}

/// What cargo's tracker records of a staged crate beyond the driver's fields.
struct Recorded {
    version: semver::Version,
    /// The requirement as the user wrote it (cargo keeps it).
    req_text: Option<String>,
}

impl Crates<'_> {
    fn id_of(&self, staged: &Staged<Recorded>) -> PackageId {
        PackageId::new(
            &staged.subject.name,
            staged.extra.version.clone(),
            &self
                .registry
                .as_ref()
                .map_or_else(|| CRATES_IO_SOURCE_ID.to_owned(), Registry::source_id),
        )
    }
}

impl Ecosystem for Crates<'_> {
    type Spec = CrateSpec;
    type Extra = Recorded;
    type Record = CargoTracker;

    fn noun(&self) -> &'static str {
        "crates"
    }

    fn warns_off_path(&self) -> bool {
        true
    }

    fn specs(&self) -> &[CrateSpec] {
        &self.request.crates
    }

    fn plan(&self, spec: &CrateSpec) -> Plan<Recorded> {
        self.lookup(spec)
    }

    fn open_record(&self) -> Result<CargoTracker, Arc<TrackerError>> {
        let waiting = |path: &std::path::Path| {
            self.d.reporter.status(
                "Blocking",
                &format!("waiting for file lock on `{}`", path.display()),
            );
        };
        CargoTracker::load_with(&self.request.root, &waiting).map_err(Arc::new)
    }

    fn check(
        &self,
        tracker: &mut CargoTracker,
        staged: &Staged<Recorded>,
    ) -> Result<Placement, PackageError> {
        let subject = &staged.subject;
        let bin_dir = &self.d.request.bin_dir;
        let id = self.id_of(staged);
        // What was staged: the release's binaries, or those `--bin` asked for.
        let bins: BTreeSet<String> = staged.binaries.iter().map(|b| b.name.clone()).collect();
        if !self.request.run.force {
            if tracker.bins_of(&id) == bins && bins.iter().all(|b| bin_dir.join(b).is_file()) {
                return Ok(Placement::Already);
            }
            for bin in &bins {
                if !bin_dir.join(bin).exists() {
                    continue;
                }
                match tracker.owner_of(bin) {
                    Some(owner) if owner.name() == subject.name => {}
                    // Our own verified bytes, left unrecorded by a killed run: adopt them.
                    None if staged
                        .binaries
                        .iter()
                        .any(|b| b.name == *bin && same_contents(&bin_dir.join(bin), &b.path)) => {}
                    owner => {
                        return Err(PackageError::Conflict {
                            bin: bin.clone(),
                            dir: bin_dir.to_owned(),
                            owner: owner.map(|o| o.to_string()),
                        });
                    }
                }
            }
        }
        let replaces = tracker
            .installed_versions(&subject.name)
            .into_iter()
            .filter(|p| *p.version() != staged.extra.version)
            .map(|p| format!("{} {}", p.name(), p.version()))
            .collect();
        Ok(Placement::New { replaces })
    }

    fn mark(&self, tracker: &mut CargoTracker, staged: &Staged<Recorded>) {
        let bins: BTreeSet<String> = staged.binaries.iter().map(|b| b.name.clone()).collect();
        tracker.mark_installed(
            &self.id_of(staged),
            &bins,
            staged.extra.req_text.clone(),
            &staged.subject.target,
            staged.toolchain.clone(),
        );
    }

    fn save(&self, mut tracker: CargoTracker, changed: bool) -> Result<(), Arc<TrackerError>> {
        if changed {
            tracker.save().map_err(Arc::new)
        } else {
            Ok(())
        }
    }

    /// `cargo install` for one crate: exactly the version when the registry resolved one,
    /// else the requirement as given (cargo resolves it).
    fn fallback_command(&self, f: &Fallback) -> (SourceBuild, String) {
        let command = fallback::cargo_install(
            self.env.cargo(),
            &f.name,
            f.req.as_deref(),
            &FallbackOptions {
                root: Some(&self.request.root),
                target: self.request.run.explicit_target.as_deref(),
                registry_args: &self.request.source.fallback_args,
                bins: &self.request.bins,
                force: self.request.run.force,
                quiet: self.request.run.quiet,
                verbose: self.request.verbose,
            },
        );
        let label = match (&f.version, &f.req) {
            (Some(v), _) => format!("{} {v}", f.name),
            (None, Some(r)) => format!("{} {r}", f.name),
            (None, None) => f.name.clone(),
        };
        (command, label)
    }

    fn fallback_outcome(&self, f: &Fallback, built: bool) -> FallbackOutcome {
        let target = self.request.run.explicit_target.clone();
        if !built {
            return FallbackOutcome {
                version: f.version.clone(),
                target,
                bins: Vec::new(),
                shown: String::new(),
            };
        }
        // cargo chose the version itself when we could not: read it from its tracker.
        let (installed, bins): (Option<String>, Vec<String>) =
            cargo_tracker::installed_snapshot(&self.request.root)
                .into_iter()
                .find(|(id, _)| {
                    id.name() == f.name
                        && f.version
                            .as_deref()
                            .is_none_or(|v| id.version().to_string() == v)
                })
                .map(|(id, bins)| (Some(id.version().to_string()), bins.into_iter().collect()))
                .unwrap_or_default();
        let version = installed.or(f.version.clone());
        FallbackOutcome {
            shown: format!("{} {}", f.name, version.as_deref().unwrap_or("")),
            version,
            target,
            bins,
        }
    }
}
