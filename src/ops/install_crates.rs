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
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tempfile::TempDir;

use crate::cli::{CrateSpec, InstallRequest, UsageError};
use crate::download::{Fetcher, Location, NetConfig};
use crate::env::Env;
use crate::error::{CrateError, ExitStatus, Subject};
use crate::fallback::{self, FallbackOptions};
use crate::index::fetch::IndexSource;
use crate::index::format::{PackageKind, Release};
use crate::index::seen::SeenStore;
use crate::install::cargo_tracker::{self, CargoTracker, PackageId};
use crate::install::{Transaction, install_binaries};
use crate::registry::crates::{Registry, pinned_version, select_version};
use crate::report::{CrateResult, Reporter};
use crate::resolve;
use crate::target;
use crate::unpack::{StagedBinary, unpack_archive};

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
        release: Box<Release>,
        url: String,
    },
    Fallback {
        name: String,
        version: String,
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
    release: Release,
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
    registry: Registry,
    index: IndexSource,
    seen: Option<SeenStore>,
    installed: Vec<(PackageId, BTreeSet<String>)>,
    glibc: OnceLock<Option<(u32, u32)>>,
}

/// Runs `cargo quickinstall`. Returns the exit status; everything the user sees goes through
/// `reporter`.
pub fn run(request: &InstallRequest, env: &Env, reporter: &Reporter) -> ExitStatus {
    let context = match Context::new(request, reporter) {
        Ok(c) => c,
        Err(e) => {
            reporter.error(&e.0, None);
            return ExitStatus::Usage;
        }
    };
    let plans = context.plan_all();
    let mut results: Vec<Option<CrateResult>> = vec![None; plans.len()];
    let mut staged = Vec::new();
    let mut fallbacks = Vec::new();
    for (i, plan) in plans.into_iter().enumerate() {
        match plan {
            Plan::Fallback { name, version, why } => fallbacks.push((i, name, version, why)),
            Plan::Prebuilt(s) => staged.push((i, s)),
            other => results[i] = Some(context.finish(other)),
        }
    }
    for (i, result) in context.install_all(staged) {
        results[i] = Some(result);
    }
    for (i, name, version, why) in fallbacks {
        results[i] = Some(context.fallback(env, &name, &version, &why));
    }
    let results: Vec<CrateResult> = results.into_iter().flatten().collect();
    summarise(request, reporter, &results)
}

impl<'a> Context<'a> {
    fn new(request: &'a InstallRequest, reporter: &'a Reporter) -> Result<Self, UsageError> {
        let registry = match &request.registry {
            Some(url) => Registry::from_url(url).map_err(|e| UsageError(e.to_string()))?,
            None => Registry::crates_io(),
        };
        let base = Location::parse(&request.index).map_err(|e| UsageError(e.to_string()))?;
        let fetcher = Fetcher::new(&NetConfig {
            timeout: Duration::from_secs(request.timeout_secs),
            retries: 2,
            user_agent: format!("cargo-quickinstall/{}", env!("CARGO_PKG_VERSION")),
        });
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

    /// Phase one over every crate, `--jobs` at a time; results in the order given.
    fn plan_all(&self) -> Vec<Plan> {
        let crates = &self.request.crates;
        let next = AtomicUsize::new(0);
        let slots: Mutex<Vec<Option<Plan>>> = Mutex::new((0..crates.len()).map(|_| None).collect());
        std::thread::scope(|scope| {
            for _ in 0..self.request.jobs.min(crates.len()) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(spec) = crates.get(i) else { break };
                        let plan = self.plan(spec);
                        if let Ok(mut slots) = slots.lock() {
                            slots[i] = Some(plan);
                        }
                    }
                });
            }
        });
        slots
            .into_inner()
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .collect()
    }

    fn plan(&self, spec: &CrateSpec) -> Plan {
        let failed = |version: Option<String>, error: CrateError| Plan::Failed {
            name: spec.name.clone(),
            version,
            error,
        };
        // 1. The version: an exact pin needs no registry request.
        let (semver, registry_cksum) = match spec.req.as_ref().and_then(pinned_version) {
            Some(v) => (v, None),
            None => {
                let versions = match self.registry.versions(&self.fetcher, &spec.name) {
                    Ok(v) => v,
                    Err(e) => return failed(None, e.into()),
                };
                match select_version(&spec.name, &versions, spec.req.as_ref()) {
                    Ok(v) => (v.version.clone(), Some(v.cksum.clone())),
                    Err(e) => return failed(None, e.into()),
                }
            }
        };
        let version = semver.to_string();
        if let Some(bins) = self
            .already_installed(&spec.name, &version)
            .filter(|_| !self.request.force)
        {
            return Plan::Already {
                name: spec.name.clone(),
                version,
                bins,
            };
        }
        // 2. The index: signature first, then the entry.
        let package = match self.index.package(
            &self.fetcher,
            PackageKind::Crate,
            &spec.name,
            self.seen.as_ref(),
        ) {
            Ok(Some(p)) => p,
            Ok(None) => return self.no_prebuilt(spec, version, "it is not in the release index"),
            Err(e) if e.is_unreachable() => {
                self.reporter.warn(&e.to_string());
                return self.no_prebuilt(spec, version, "the release index could not be reached");
            }
            Err(e) => return failed(Some(version), e.into()),
        };
        let glibc = || *self.glibc.get_or_init(target::detect_glibc);
        let chosen = if self.request.explicit_target.is_some() {
            // The user named the target: no glibc second-guessing.
            package
                .file
                .releases_for(&version, &self.request.targets)
                .into_iter()
                .next()
        } else {
            resolve::choose_release(&package.file, &version, &self.request.targets, &mut {
                glibc
            })
        };
        let Some(release) = chosen.cloned() else {
            let why = format!(
                "the release index has no build of it for {}",
                self.request.targets.join(", ")
            );
            return self.no_prebuilt(spec, version, &why);
        };
        let subject = Subject {
            name: spec.name.clone(),
            version: version.clone(),
            target: release.target.clone(),
        };
        if let Err(source) = resolve::check_source(&release, registry_cksum.as_deref()) {
            return failed(
                Some(version),
                CrateError::Source {
                    subject: Box::new(subject),
                    source,
                },
            );
        }
        let location = self.index.archive_location(&release.archive);
        if self.request.dry_run {
            return Plan::DryRunPrebuilt {
                subject,
                release: Box::new(release),
                url: location.to_string(),
            };
        }
        // 3. Download (size and sha256 checked while streaming), then unpack into staging.
        match self.stage(&subject, &release, &location) {
            Ok((dir, binaries)) => Plan::Prebuilt(Box::new(Staged {
                subject,
                version: semver,
                release,
                spec: spec.clone(),
                binaries,
                _dir: dir,
            })),
            Err(e) => failed(Some(version), e),
        }
    }

    fn no_prebuilt(&self, spec: &CrateSpec, version: String, why: &str) -> Plan {
        if self.request.fallback {
            Plan::Fallback {
                name: spec.name.clone(),
                version,
                why: why.to_owned(),
            }
        } else {
            Plan::Failed {
                name: spec.name.clone(),
                version: Some(version.clone()),
                error: CrateError::NoPrebuilt {
                    name: spec.name.clone(),
                    version,
                    targets: self.request.targets.join(", "),
                },
            }
        }
    }

    fn already_installed(&self, name: &str, version: &str) -> Option<Vec<String>> {
        let bin_dir = self.request.root.join("bin");
        self.installed
            .iter()
            .find(|(id, bins)| {
                id.name() == name
                    && id.version().to_string() == version
                    && !bins.is_empty()
                    && bins.iter().all(|b| bin_dir.join(b).is_file())
            })
            .map(|(_, bins)| bins.iter().cloned().collect())
    }

    fn stage(
        &self,
        subject: &Subject,
        release: &Release,
        location: &Location,
    ) -> Result<(TempDir, Vec<StagedBinary>), CrateError> {
        let root = &self.request.root;
        let prepare = |source| CrateError::Prepare {
            path: root.clone(),
            source,
        };
        std::fs::create_dir_all(root).map_err(prepare)?;
        // Inside the root: same filesystem as bin/, so the final step is a rename, and a full
        // disk shows up here, before any installed binary is touched.
        let dir = tempfile::Builder::new()
            .prefix(".quickinstall-tmp-")
            .tempdir_in(root)
            .map_err(prepare)?;
        let progress = self.reporter.download(
            &format!("`{} {}`", subject.name, subject.version),
            release.size,
        );
        let archive = self
            .fetcher
            .download_verified(
                location,
                dir.path(),
                "archive.tar.gz",
                release.size,
                &release.sha256,
                &|n| progress.set(n),
            )
            .map_err(|source| CrateError::Download {
                subject: Box::new(subject.clone()),
                source,
            });
        progress.finish();
        let archive = archive?;
        let staging = dir.path().join("staging");
        std::fs::create_dir(&staging).map_err(prepare)?;
        let binaries = unpack_archive(&archive, &staging, &release.binaries).map_err(|source| {
            CrateError::Unpack {
                subject: Box::new(subject.clone()),
                source,
            }
        })?;
        Ok((dir, binaries))
    }

    /// Phase two for everything but fallbacks.
    fn finish(&self, plan: Plan) -> CrateResult {
        let bin_dir = self.request.root.join("bin");
        match plan {
            Plan::Already {
                name,
                version,
                bins,
            } => {
                self.reporter.status(
                    "Ignored",
                    &format!("`{name} {version}` is already installed (use --force to reinstall)"),
                );
                CrateResult {
                    paths: paths_of(&bin_dir, &bins),
                    name,
                    version: Some(version),
                    target: None,
                    source: Some("already-installed"),
                    binaries: bins,
                    ok: true,
                    error: None,
                    verification_failure: false,
                }
            }
            Plan::DryRunPrebuilt {
                subject,
                release,
                url,
            } => {
                self.reporter.data(&format!(
                    "would install {subject} prebuilt from {url} ({} bytes, sha256 {}) into {}: {}",
                    release.size,
                    release.sha256,
                    bin_dir.display(),
                    release.binaries.join(", ")
                ));
                CrateResult {
                    paths: paths_of(&bin_dir, &release.binaries),
                    name: subject.name,
                    version: Some(subject.version),
                    target: Some(subject.target),
                    source: Some("prebuilt"),
                    binaries: release.binaries,
                    ok: true,
                    error: None,
                    verification_failure: false,
                }
            }
            Plan::Prebuilt(staged) => {
                // Prebuilt plans are installed in a batch by `install_all`.
                let subject = staged.subject;
                let error = CrateError::NoPrebuilt {
                    name: subject.name.clone(),
                    version: subject.version.clone(),
                    targets: subject.target,
                };
                self.failure(subject.name, Some(subject.version), error)
            }
            Plan::Failed {
                name,
                version,
                error,
            } => self.failure(name, version, error),
            Plan::Fallback { name, version, .. } => self.failure(
                name.clone(),
                Some(version.clone()),
                CrateError::NoPrebuilt {
                    name,
                    version,
                    targets: self.request.targets.join(", "),
                },
            ),
        }
    }

    fn failure(&self, name: String, version: Option<String>, error: CrateError) -> CrateResult {
        self.reporter
            .error(&error.to_string(), error.hint().as_deref());
        CrateResult {
            name,
            version,
            target: None,
            source: None,
            binaries: Vec::new(),
            paths: Vec::new(),
            ok: false,
            error: Some(error.to_string()),
            verification_failure: error.is_verification(),
        }
    }

    /// Phase two for every staged crate: one tracker lock and one tracker write for the whole
    /// batch (two disk flushes instead of two per crate). Binaries of each crate are renamed
    /// into place as it comes; if the tracker cannot be written at the end, every transaction
    /// is dropped and so rolled back: an install cargo does not know about would be a lie.
    fn install_all(&self, staged: Vec<(usize, Box<Staged>)>) -> Vec<(usize, CrateResult)> {
        if staged.is_empty() {
            return Vec::new();
        }
        let fail_all = |error: &dyn Fn() -> CrateError| {
            staged
                .iter()
                .map(|(i, s)| {
                    let subject = &s.subject;
                    let result =
                        self.failure(subject.name.clone(), Some(subject.version.clone()), error());
                    (*i, result)
                })
                .collect()
        };
        let bin_dir = self.request.root.join("bin");
        // The bin directory first: if it cannot be made, fail before the tracker files are
        // created, so a failed install leaves the disk as it was.
        if let Err(e) = std::fs::create_dir_all(&bin_dir) {
            return fail_all(&|| CrateError::Prepare {
                path: bin_dir.clone(),
                source: std::io::Error::new(e.kind(), e.to_string()),
            });
        }
        let mut tracker = match CargoTracker::load(&self.request.root) {
            Ok(t) => t,
            Err(e) => {
                let e = Arc::new(e);
                return fail_all(&|| CrateError::Tracker(e.clone()));
            }
        };
        let mut results = Vec::new();
        let mut placed = Vec::new();
        for (i, s) in &staged {
            match self.place(&mut tracker, &bin_dir, s) {
                Ok(Placed::Already(result)) => results.push((*i, result)),
                Ok(Placed::New(transaction, previous)) => {
                    placed.push((*i, s, transaction, previous))
                }
                Err(error) => {
                    let subject = &s.subject;
                    results.push((
                        *i,
                        self.failure(subject.name.clone(), Some(subject.version.clone()), error),
                    ));
                }
            }
        }
        let saved = if placed.is_empty() {
            Ok(())
        } else {
            tracker.save()
        };
        if let Err(e) = saved {
            let e = Arc::new(e);
            for (i, s, transaction, _) in placed {
                drop(transaction);
                let subject = &s.subject;
                let error = CrateError::Tracker(e.clone());
                results.push((
                    i,
                    self.failure(subject.name.clone(), Some(subject.version.clone()), error),
                ));
            }
            return results;
        }
        for (i, s, transaction, previous) in placed {
            let paths = transaction.commit();
            results.push((i, self.installed(s, previous, paths)));
        }
        results
    }

    /// Checks one staged crate against what is installed and moves its binaries into place.
    fn place(
        &self,
        tracker: &mut CargoTracker,
        bin_dir: &Path,
        staged: &Staged,
    ) -> Result<Placed, CrateError> {
        let subject = &staged.subject;
        let id = PackageId::new(
            &subject.name,
            staged.version.clone(),
            &self.registry.source_id(),
        );
        let bins: BTreeSet<String> = staged.release.binaries.iter().cloned().collect();
        if !self.request.force {
            if tracker.bins_of(&id) == bins && bins.iter().all(|b| bin_dir.join(b).is_file()) {
                // Another process installed it while we downloaded.
                return Ok(Placed::Already(self.finish(Plan::Already {
                    name: subject.name.clone(),
                    version: subject.version.clone(),
                    bins: staged.release.binaries.clone(),
                })));
            }
            for bin in &bins {
                if !bin_dir.join(bin).exists() {
                    continue;
                }
                match tracker.owner_of(bin) {
                    Some(owner) if owner.name() == subject.name => {}
                    owner => {
                        return Err(CrateError::Conflict {
                            bin: bin.clone(),
                            dir: bin_dir.to_owned(),
                            owner: owner.map(|o| o.to_string()),
                        });
                    }
                }
            }
        }
        let previous: Vec<PackageId> = tracker
            .installed_versions(&subject.name)
            .into_iter()
            .filter(|p| *p.version() != staged.version)
            .collect();
        let transaction =
            install_binaries(&staged.binaries, bin_dir).map_err(|source| CrateError::Install {
                subject: Box::new(subject.clone()),
                source,
            })?;
        tracker.mark_installed(
            &id,
            &bins,
            staged.spec.req_text.clone(),
            &subject.target,
            Some(staged.release.provenance.toolchain.clone()),
        );
        Ok(Placed::New(transaction, previous))
    }

    fn installed(
        &self,
        staged: &Staged,
        previous: Vec<PackageId>,
        paths: Vec<PathBuf>,
    ) -> CrateResult {
        let subject = &staged.subject;
        for old in previous {
            self.reporter.status(
                "Replaced",
                &format!(
                    "`{} {}` with `{}`",
                    old.name(),
                    old.version(),
                    subject.version
                ),
            );
        }
        self.reporter.status(
            "Installed",
            &format!(
                "`{} {}` (prebuilt, {}): {}",
                subject.name,
                subject.version,
                subject.target,
                staged.release.binaries.join(", ")
            ),
        );
        CrateResult {
            name: subject.name.clone(),
            version: Some(subject.version.clone()),
            target: Some(subject.target.clone()),
            source: Some("prebuilt"),
            binaries: staged.release.binaries.clone(),
            paths: paths.iter().map(|p| p.display().to_string()).collect(),
            ok: true,
            error: None,
            verification_failure: false,
        }
    }

    fn fallback(&self, env: &Env, name: &str, version: &str, why: &str) -> CrateResult {
        let registry_index = (!self.registry.is_crates_io()).then(|| self.registry.source_id());
        let command = fallback::cargo_install(
            env.cargo(),
            name,
            version,
            &FallbackOptions {
                root: Some(&self.request.root),
                target: self.request.explicit_target.as_deref(),
                index: registry_index.as_deref(),
                force: self.request.force,
                quiet: self.request.quiet,
            },
        );
        if self.request.dry_run {
            self.reporter.data(&format!(
                "would build `{name} {version}` from source ({why}) with `{command}`"
            ));
            return CrateResult {
                name: name.to_owned(),
                version: Some(version.to_owned()),
                target: self.request.explicit_target.clone(),
                source: Some("fallback"),
                binaries: Vec::new(),
                paths: Vec::new(),
                ok: true,
                error: None,
                verification_failure: false,
            };
        }
        self.reporter.status(
            "Building",
            &format!("`{name} {version}` from source: {why} (running `{command}`)"),
        );
        match command.run(name) {
            Ok(()) => {
                let bin_dir = self.request.root.join("bin");
                let bins: Vec<String> = cargo_tracker::installed_snapshot(&self.request.root)
                    .into_iter()
                    .find(|(id, _)| id.name() == name && id.version().to_string() == version)
                    .map(|(_, bins)| bins.into_iter().collect())
                    .unwrap_or_default();
                self.reporter.status(
                    "Installed",
                    &format!(
                        "`{name} {version}` (built from source): {}",
                        bins.join(", ")
                    ),
                );
                CrateResult {
                    paths: paths_of(&bin_dir, &bins),
                    name: name.to_owned(),
                    version: Some(version.to_owned()),
                    target: self.request.explicit_target.clone(),
                    source: Some("fallback"),
                    binaries: bins,
                    ok: true,
                    error: None,
                    verification_failure: false,
                }
            }
            Err(e) => self.failure(name.to_owned(), Some(version.to_owned()), e.into()),
        }
    }
}

fn paths_of(bin_dir: &Path, bins: &[String]) -> Vec<String> {
    bins.iter()
        .map(|b| bin_dir.join(b).display().to_string())
        .collect()
}

/// Prints `--json` lines and the closing summary; picks the exit status.
fn summarise(request: &InstallRequest, reporter: &Reporter, results: &[CrateResult]) -> ExitStatus {
    if request.json {
        for r in results {
            reporter.json(r);
        }
    }
    let failed: Vec<&CrateResult> = results.iter().filter(|r| !r.ok).collect();
    if failed.is_empty() {
        return ExitStatus::Success;
    }
    let names: Vec<String> = failed
        .iter()
        .map(|r| match &r.version {
            Some(v) => format!("`{} {v}`", r.name),
            None => format!("`{}`", r.name),
        })
        .collect();
    reporter.error(
        &format!(
            "{} of {} crates failed to install: {}",
            failed.len(),
            results.len(),
            names.join(", ")
        ),
        None,
    );
    if failed.iter().any(|r| r.verification_failure) {
        ExitStatus::Verification
    } else {
        ExitStatus::Failure
    }
}
