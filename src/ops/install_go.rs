//! `gquick install` (and `upgrade`): resolve each package through the module proxy, install the
//! signed prebuilt from the release index into the Go bin directory, or fall back to
//! `go install`.
//!
//! Same shape as `cargo quickinstall`: phase one (up to `--jobs` at once) resolves, verifies,
//! downloads and stages without touching the bin directory; phase two moves binaries into place
//! in the order given, then runs the fallbacks one at a time. Modules matching
//! GOPRIVATE/GONOPROXY/GONOSUMDB (as `go env` reports them: the environment, then the go env
//! file) never reach the proxy, the index or the stats service: they go straight to
//! `go install`.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::cli::go::{GoInstallRequest, GoSpec};
use crate::download::{Fetcher, Location, NetConfig};
use crate::error::{CrateError, ExitStatus, Subject};
use crate::fallback;
use crate::gobuildinfo::read_build_info;
use crate::index::fetch::IndexSource;
use crate::index::format::{PackageKind, Release};
use crate::index::seen::SeenStore;
use crate::install::install_binaries;
use crate::ops::{parallel, stage, summary};
use crate::registry::goproxy::routing::GOPROXY_HINT;
use crate::registry::goproxy::{GoEnv, GoResolveError, resolve};
use crate::report::{CrateResult, Reporter};
use crate::resolve::choose_release;
use crate::stats::{self, Client, Outcome, Settings, Telemetry};
use crate::target;
use crate::unpack::StagedBinary;

// Lock files' two hooks (a pinned resolution, a resolve-only run), kept in their own file.
#[path = "install_go_pinned.rs"]
mod pinned;
pub use pinned::{GoPinned, GoResolved, resolve_only};

/// What phase one decided for a package.
enum Plan {
    Already {
        module: String,
        version: String,
        bin: String,
    },
    Prebuilt(Box<Staged>),
    DryRun {
        subject: Subject,
        bin: String,
        url: String,
        /// The index entry it would install (what a lock pins).
        release: Box<Release>,
    },
    Fallback {
        spec: GoSpec,
        version: String,
        why: String,
    },
    Failed {
        spec: GoSpec,
        error: CrateError,
    },
}

struct Staged {
    subject: Subject,
    bin: String,
    binaries: Vec<StagedBinary>,
    _dir: TempDir,
}

struct Context<'a> {
    request: &'a GoInstallRequest,
    reporter: &'a Reporter,
    fetcher: Fetcher,
    go: GoEnv,
    index: IndexSource,
    seen: Option<SeenStore>,
    glibc: OnceLock<Option<(u32, u32)>>,
}

/// Runs `gquick install`; everything the user sees goes through `reporter`.
pub fn run(request: &GoInstallRequest, env: &crate::env::Env, reporter: &Reporter) -> ExitStatus {
    let go = match GoEnv::from_settings(&request.go) {
        Ok(go) => go,
        Err(e) => {
            reporter.error(&e.to_string(), Some(GOPROXY_HINT));
            return ExitStatus::Usage;
        }
    };
    let base = match Location::parse(&request.index) {
        Ok(base) => base,
        Err(e) => {
            reporter.error(&e.to_string(), None);
            return ExitStatus::Usage;
        }
    };
    let context = Context {
        request,
        reporter,
        fetcher: Fetcher::new(&NetConfig {
            timeout: Duration::from_secs(request.timeout_secs),
            retries: 2,
            user_agent: format!("gquick/{}", env!("CARGO_PKG_VERSION")),
        }),
        go,
        index: IndexSource {
            base,
            keys: request.keys.clone(),
        },
        seen: (!request.dry_run).then(|| SeenStore::new(&request.state_dir)),
        glibc: OnceLock::new(),
    };
    let telemetry = Telemetry::start(
        &Settings {
            client: Client::Gquick,
            no_telemetry: request.no_telemetry,
            dry_run: request.dry_run,
            // Privacy is per module (GOPRIVATE/GONOPROXY/GONOSUMDB), checked at each ping.
            public: true,
            quiet: request.quiet,
        },
        env,
        reporter,
    );
    let ping = |package: &str, version: Option<&str>, target: Option<&str>, outcome| {
        let target = target.or(request.targets.first().map(String::as_str));
        if let (Some(outcome), Some(version), Some(target)) = (outcome, version, target)
            && !context.go.is_private(package)
        {
            telemetry.record(package, version, target, outcome);
        }
    };
    let (plans, mut took): (Vec<Plan>, Vec<Duration>) = context.plan_all().into_iter().unzip();
    let mut results = Vec::with_capacity(plans.len());
    let mut fallbacks = Vec::new();
    for (i, plan) in plans.into_iter().enumerate() {
        match plan {
            Plan::Fallback { spec, version, why } => {
                results.push(None);
                fallbacks.push((i, spec, version, why));
            }
            Plan::Failed { spec, error } => {
                let (version, target) = stats::subject_of(&error);
                ping(&spec.package, version, target, Outcome::of_error(&error));
                results.push(Some(context.finish(Plan::Failed { spec, error })));
            }
            other => {
                let started = Instant::now();
                let result = context.finish(other);
                took[i] += started.elapsed();
                if result.ok {
                    ping(
                        &result.name,
                        result.version.as_deref(),
                        result.target.as_deref(),
                        Outcome::of_success(result.source),
                    );
                }
                results.push(Some(result));
            }
        }
    }
    for (i, spec, version, why) in fallbacks {
        let started = Instant::now();
        let result = context.fallback(&spec, &version, &why);
        took[i] += started.elapsed();
        // Every failure of a fallback is the build's: `fallback-failed`.
        let outcome = if result.ok {
            Outcome::of_success(result.source)
        } else {
            Some(Outcome::FallbackFailed)
        };
        ping(
            &spec.package,
            Some(&version),
            request.explicit_target.as_deref(),
            outcome,
        );
        results[i] = Some(result);
    }
    let results = summary::with_seconds(results, &took);
    let status = summary::summarise(request.json, reporter, &results, "packages");
    telemetry.finish();
    status
}

impl Context<'_> {
    /// Each plan with the time it took (resolve, verify, download, unpack).
    fn plan_all(&self) -> Vec<(Plan, Duration)> {
        parallel::map_in_order(&self.request.specs, self.request.jobs, |spec| {
            let started = Instant::now();
            (self.plan(spec), started.elapsed())
        })
    }

    fn plan(&self, spec: &GoSpec) -> Plan {
        // A resolution fixed in advance (a lock file): no proxy, no index.
        if let Some(pinned) = &spec.pinned {
            return self.plan_pinned(spec, pinned);
        }
        let fallback = |version: &str, why: &str| {
            if self.request.fallback {
                Plan::Fallback {
                    spec: spec.clone(),
                    version: version.to_owned(),
                    why: why.to_owned(),
                }
            } else {
                Plan::Failed {
                    spec: spec.clone(),
                    error: CrateError::NoPrebuilt {
                        name: spec.package.clone(),
                        version: version.to_owned(),
                        targets: format!(
                            "{} in the release index",
                            self.request.targets.join(", ")
                        ),
                        fallback: "go install",
                    },
                }
            }
        };
        // Private modules are never looked up anywhere but by `go` itself.
        if self.go.is_private(&spec.package) {
            return fallback(
                &spec.query,
                "it is private: it matches GOPRIVATE, GONOPROXY or GONOSUMDB",
            );
        }
        let resolved = match resolve(&self.fetcher, &self.go, &spec.package, &spec.query) {
            Ok(r) => r,
            // No usable proxy (GOPROXY=off or direct, or every proxy down): `go install` can
            // still fetch from version control; without a fallback, say why nothing resolved.
            Err(e @ GoResolveError::NoProxy { .. }) if !self.request.fallback => {
                return Plan::Failed {
                    spec: spec.clone(),
                    error: e.into(),
                };
            }
            Err(e @ GoResolveError::NoProxy { .. }) => {
                return fallback(&spec.query, &e.to_string());
            }
            Err(e) => {
                return Plan::Failed {
                    spec: spec.clone(),
                    error: e.into(),
                };
            }
        };
        let bin_name_guess = crate::index::path::go_command_name(&resolved.package).to_owned();
        if let Some((module, version)) = self
            .installed_module(&bin_name_guess)
            .filter(|(m, v)| !self.request.force && *m == resolved.module && *v == resolved.version)
        {
            return Plan::Already {
                module,
                version,
                bin: bin_name_guess,
            };
        }
        let package = match self.index.package(
            &self.fetcher,
            PackageKind::Go,
            &resolved.module,
            self.seen.as_ref(),
        ) {
            Ok(Some(p)) => p,
            Ok(None) => return fallback(&resolved.version, "it is not in the release index"),
            Err(e) if e.is_unreachable() => {
                self.reporter.warn(&e.to_string());
                return fallback(&resolved.version, "the release index could not be reached");
            }
            Err(e) => {
                return Plan::Failed {
                    spec: spec.clone(),
                    error: e.into(),
                };
            }
        };
        let glibc = || *self.glibc.get_or_init(target::detect_glibc);
        let chosen = if self.request.explicit_target.is_some() {
            package
                .file
                .releases_for(&resolved.version, &self.request.targets)
                .into_iter()
                .next()
        } else {
            choose_release(
                &package.file,
                &resolved.version,
                &self.request.targets,
                &mut { glibc },
            )
        };
        let Some(release) = chosen.cloned() else {
            return fallback(
                &resolved.version,
                &format!(
                    "the release index has no build of it for {}",
                    self.request.targets.join(", ")
                ),
            );
        };
        let Some(bin) = binary_for(&release, &resolved.package) else {
            return fallback(
                &resolved.version,
                "the module's prebuilt does not include this package",
            );
        };
        let subject = Subject {
            name: resolved.module.clone(),
            version: resolved.version.clone(),
            target: release.target.clone(),
        };
        let location = self.index.archive_location(&release.archive);
        if self.request.dry_run {
            return Plan::DryRun {
                subject,
                bin,
                url: location.to_string(),
                release: Box::new(release),
            };
        }
        match stage::stage_release(
            &self.fetcher,
            self.reporter,
            &self.request.bin_dir,
            self.request.cache_dir.as_deref(),
            &subject,
            &release,
            &location,
            std::slice::from_ref(&bin),
        ) {
            Ok((dir, binaries)) => Plan::Prebuilt(Box::new(Staged {
                subject,
                bin,
                binaries,
                _dir: dir,
            })),
            Err(error) => Plan::Failed {
                spec: spec.clone(),
                error,
            },
        }
    }

    /// The module and version of the Go binary `name` in the bin directory, if it is one.
    fn installed_module(&self, name: &str) -> Option<(String, String)> {
        let path = self.request.bin_dir.join(name);
        let info = read_build_info(&path).ok().flatten()?;
        Some((info.module, info.version))
    }

    fn finish(&self, plan: Plan) -> CrateResult {
        let bin_dir = &self.request.bin_dir;
        match plan {
            Plan::Already {
                module,
                version,
                bin,
                ..
            } => {
                self.reporter.status(
                    "Ignored",
                    &format!("`{module} {version}` is already installed as `{bin}` (use --force to reinstall)"),
                );
                result(
                    &module,
                    Some(&version),
                    None,
                    Some("already-installed"),
                    bin_dir,
                    &[bin],
                )
            }
            Plan::DryRun {
                subject, bin, url, ..
            } => {
                self.reporter.data(&format!(
                    "would install {subject} prebuilt from {url} into {}: {bin}",
                    bin_dir.display()
                ));
                result(
                    &subject.name,
                    Some(&subject.version),
                    Some(&subject.target),
                    Some("prebuilt"),
                    bin_dir,
                    &[bin],
                )
            }
            Plan::Prebuilt(staged) => match self.place(&staged) {
                Ok(r) => r,
                Err(error) => {
                    self.failure(&staged.subject.name, Some(&staged.subject.version), error)
                }
            },
            Plan::Failed { spec, error } => self.failure(&spec.package, None, error),
            Plan::Fallback { spec, .. } => self.failure(
                &spec.package,
                None,
                CrateError::NoPrebuilt {
                    name: spec.package.clone(),
                    version: spec.query.clone(),
                    targets: format!("{} in the release index", self.request.targets.join(", ")),
                    fallback: "go install",
                },
            ),
        }
    }

    /// Moves one staged binary into the bin directory. A binary of the same name from another
    /// module (or not built by Go) is replaced only with `--force`; the same module's is an
    /// upgrade (or downgrade) and is replaced.
    fn place(&self, staged: &Staged) -> Result<CrateResult, CrateError> {
        let bin_dir = &self.request.bin_dir;
        let dest = bin_dir.join(&staged.bin);
        if dest.exists() && !self.request.force {
            match read_build_info(&dest).ok().flatten() {
                Some(info) if info.module == staged.subject.name => {}
                other => {
                    return Err(CrateError::Conflict {
                        bin: staged.bin.clone(),
                        dir: bin_dir.clone(),
                        owner: other.map(|info| format!("{} {}", info.module, info.version)),
                    });
                }
            }
        }
        let transaction =
            install_binaries(&staged.binaries, bin_dir).map_err(|source| CrateError::Install {
                subject: Box::new(staged.subject.clone()),
                source,
            })?;
        let paths = transaction.commit();
        let subject = &staged.subject;
        self.reporter.status(
            "Installed",
            &format!(
                "`{} {}` (prebuilt, {}): {}",
                subject.name, subject.version, subject.target, staged.bin
            ),
        );
        let mut r = result(
            &subject.name,
            Some(&subject.version),
            Some(&subject.target),
            Some("prebuilt"),
            bin_dir,
            std::slice::from_ref(&staged.bin),
        );
        r.paths = paths.iter().map(|p| p.display().to_string()).collect();
        Ok(r)
    }

    fn fallback(&self, spec: &GoSpec, version: &str, why: &str) -> CrateResult {
        let command = fallback::go_install(&spec.package, version);
        let bin = crate::index::path::go_command_name(&spec.package).to_owned();
        if self.request.dry_run {
            self.reporter.data(&format!(
                "would build `{}@{version}` from source ({why}) with `{command}`",
                spec.package
            ));
            return result(
                &spec.package,
                Some(version),
                None,
                Some("fallback"),
                &self.request.bin_dir,
                &[bin],
            );
        }
        self.reporter.status(
            "Building",
            &format!(
                "`{}@{version}` from source: {why} (running `{command}`)",
                spec.package
            ),
        );
        match command.run(&spec.package) {
            Ok(()) => {
                self.reporter.status(
                    "Installed",
                    &format!("`{}@{version}` (built from source): {bin}", spec.package),
                );
                result(
                    &spec.package,
                    Some(version),
                    None,
                    Some("fallback"),
                    &self.request.bin_dir,
                    &[bin],
                )
            }
            Err(e) => self.failure(&spec.package, Some(version), e.into()),
        }
    }

    fn failure(&self, name: &str, version: Option<&str>, error: CrateError) -> CrateResult {
        summary::failure(
            self.reporter,
            name.to_owned(),
            version.map(str::to_owned),
            error,
        )
    }
}

/// The binary a release holds for `package`: from its package map, or its only binary.
fn binary_for(release: &Release, package: &str) -> Option<String> {
    release
        .packages
        .iter()
        .find(|(_, p)| p.as_str() == package)
        .map(|(bin, _)| bin.clone())
        .or_else(
            || match (release.packages.is_empty(), release.binaries.as_slice()) {
                (true, [only]) => Some(only.clone()),
                _ => None,
            },
        )
}

fn result(
    name: &str,
    version: Option<&str>,
    target: Option<&str>,
    source: Option<&'static str>,
    bin_dir: &Path,
    bins: &[String],
) -> CrateResult {
    CrateResult {
        name: name.to_owned(),
        version: version.map(str::to_owned),
        target: target.map(str::to_owned),
        source,
        // Go packages come from the release index (signed) or `go install`.
        origin: match source {
            Some("prebuilt") => Some("index"),
            Some("fallback") => Some("build"),
            _ => None,
        },
        signed: source == Some("prebuilt"),
        binaries: bins.to_vec(),
        paths: bins
            .iter()
            .map(|b| bin_dir.join(b).display().to_string())
            .collect(),
        ok: true,
        error: None,
        verification_failure: false,
        seconds: 0.0,
    }
}
