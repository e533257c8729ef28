//! Go modules, for `gquick install` (and `upgrade`): packages resolved through the module
//! proxy, the release index as the one source, binaries in the Go bin directory, nothing
//! recorded (the binary's own Go build info says what it is, and so whether it is already
//! installed), and `go install` as the fallback. The driver ([`crate::ops::driver`]) does the
//! rest.
//!
//! Modules matching GOPRIVATE/GONOPROXY/GONOSUMDB (as `go env` reports them: the environment,
//! then the go env file) never reach the proxy, the index or the stats service: they go
//! straight to `go install`.

use std::sync::Arc;
use std::time::Duration;

use crate::cli::go::{GoInstallRequest, GoSpec};
use crate::download::{Fetcher, Location, NetConfig};
use crate::error::{ExitStatus, PackageError};
use crate::fallback::{self, SourceBuild};
use crate::gobuildinfo::read_build_info;
use crate::index::format::{PackageKind, Release};
use crate::install::cargo_tracker::TrackerError;
use crate::ops::driver::{
    self, Context, Ecosystem, Fallback, FallbackOutcome, Options, Placement, Plan, Staged,
};
use crate::registry::goproxy::routing::GOPROXY_HINT;
use crate::registry::goproxy::{GoEnv, GoResolveError, resolve};
use crate::report::Reporter;
use crate::source::index::Query;
use crate::source::{self, Answer, Binaries, Why};
use crate::stats::Client;

mod lock;
pub use lock::{GoPinned, GoResolved, resolve_only};

/// Runs `gquick install`; everything the user sees goes through `reporter`.
pub fn run(request: &GoInstallRequest, env: &crate::env::Env, reporter: &Reporter) -> ExitStatus {
    let (context, go) = match context(request, reporter) {
        Ok(c) => c,
        Err(status) => return status,
    };
    let modules = Modules {
        d: &context,
        request,
        go,
    };
    driver::run(&context, &modules, env)
}

/// The driver's context for `request`, and the Go settings it resolves with; `Err` (a usage
/// error, already reported) when GOPROXY or the index URL is malformed.
fn context<'a>(
    request: &GoInstallRequest,
    reporter: &'a Reporter,
) -> Result<(Context<'a>, GoEnv), ExitStatus> {
    let go = match GoEnv::from_settings(&request.go) {
        Ok(go) => go,
        Err(e) => {
            reporter.error(&e.to_string(), Some(GOPROXY_HINT));
            return Err(ExitStatus::Usage);
        }
    };
    let base = match Location::parse(&request.run.index) {
        Ok(base) => base,
        Err(e) => {
            reporter.error(&e.to_string(), None);
            return Err(ExitStatus::Usage);
        }
    };
    let options = Options {
        root: request.bin_dir.clone(),
        bin_dir: request.bin_dir.clone(),
        run: request.run.clone(),
        bins: Vec::new(),
        require_signed: false,
        client: Client::Gquick,
        // Privacy is per module (GOPRIVATE/GONOPROXY/GONOSUMDB), checked at each ping.
        public: true,
    };
    let fetcher = Fetcher::new(&NetConfig {
        timeout: Duration::from_secs(request.run.timeout_secs),
        retries: 2,
        user_agent: format!("gquick/{}", env!("CARGO_PKG_VERSION")),
        parallel: request.run.jobs,
    });
    let context = Context::new(options, reporter, fetcher, base);
    Ok((context, go))
}

/// The Go ecosystem for one run.
struct Modules<'a> {
    d: &'a Context<'a>,
    request: &'a GoInstallRequest,
    go: GoEnv,
}

impl Modules<'_> {
    /// `go install` (exactly `version`, or the query when nothing resolved), or with
    /// `--no-fallback` a failure.
    fn no_prebuilt(&self, spec: &GoSpec, version: &str, why: &str) -> Plan<()> {
        if self.request.run.fallback {
            return Plan::Fallback(Fallback {
                name: spec.package.clone(),
                version: Some(version.to_owned()),
                req: None,
                why: Why::because(why),
            });
        }
        Plan::Failed {
            name: spec.package.clone(),
            version: None,
            error: PackageError::NoPrebuilt {
                name: spec.package.clone(),
                version: version.to_owned(),
                targets: format!(
                    "{} in the release index",
                    self.request.run.targets.join(", ")
                ),
                fallback: "go install",
                details: String::new(),
            },
        }
    }

    /// The module and version of the Go binary `name` in the bin directory, if it is one.
    fn installed_module(&self, name: &str) -> Option<(String, String)> {
        let path = self.request.bin_dir.join(name);
        let info = read_build_info(&path).ok().flatten()?;
        Some((info.module, info.version))
    }
}

impl Ecosystem for Modules<'_> {
    type Spec = GoSpec;
    type Extra = ();
    type Record = ();

    fn noun(&self) -> &'static str {
        "packages"
    }

    fn specs(&self) -> &[GoSpec] {
        &self.request.specs
    }

    fn plan(&self, spec: &GoSpec) -> Plan<()> {
        // The user's Go settings ask for another platform's binary, which `go install` builds
        // and puts where it puts cross builds; `--target` chooses a prebuilt's platform instead.
        if let Some(platform) = self.request.go.cross_platform()
            && self.request.run.explicit_target.is_none()
        {
            return self.no_prebuilt(
                spec,
                &spec.query,
                &format!(
                    "GOOS/GOARCH ask for a {platform} build, which `go install` makes (or pass --target for a prebuilt)"
                ),
            );
        }
        // GOFLAGS that change what go builds (build tags, linker flags): the prebuilt was built
        // without them.
        if let Some(flag) = self.request.go.build_changing_goflag() {
            return self.no_prebuilt(
                spec,
                &spec.query,
                &format!("GOFLAGS has `{flag}`, which changes what `go install` builds"),
            );
        }
        // A resolution fixed in advance (a lock file): no proxy, no index.
        if let Some(pinned) = &spec.pinned {
            return self.plan_pinned(spec, pinned);
        }
        let failed = |error: PackageError| Plan::Failed {
            name: spec.package.clone(),
            version: None,
            error,
        };
        // Private modules are never looked up anywhere but by `go` itself.
        if self.go.is_private(&spec.package) {
            return self.no_prebuilt(
                spec,
                &spec.query,
                "it is private: it matches GOPRIVATE, GONOPROXY or GONOSUMDB",
            );
        }
        let resolved = match resolve(&self.d.fetcher, &self.go, &spec.package, &spec.query) {
            Ok(r) => r,
            // No usable proxy (GOPROXY=off or direct, or every proxy down): `go install` can
            // still fetch from version control; without a fallback, say why nothing resolved.
            Err(e @ GoResolveError::NoProxy { .. }) if self.request.run.fallback => {
                return self.no_prebuilt(spec, &spec.query, &e.to_string());
            }
            Err(e) => return failed(e.into()),
        };
        let bin_guess = crate::index::path::go_command_name(&resolved.package).to_owned();
        if let Some((module, version)) = self.installed_module(&bin_guess).filter(|(m, v)| {
            !self.request.run.force && *m == resolved.module && *v == resolved.version
        }) {
            return Plan::Already {
                name: module,
                version,
                bins: vec![bin_guess],
            };
        }
        let fetched = self.d.index.package(
            &self.d.fetcher,
            PackageKind::Go,
            &resolved.module,
            self.d.seen.as_ref(),
        );
        let query = Query {
            name: &resolved.module,
            version: &resolved.version,
            targets: &self.request.run.targets,
            explicit_target: self.request.run.explicit_target.is_some(),
            registry_cksum: None,
        };
        let glibc = || self.d.glibc();
        let answer = source::index::answer(&self.d.index, fetched, &query, self.d.reporter, &mut {
            glibc
        });
        let mut candidate = match answer {
            Answer::Have(candidate) => candidate,
            Answer::DontHave(why) => return self.no_prebuilt(spec, &resolved.version, &why),
            Answer::Fail(error) => return failed(error),
        };
        // A module's release may hold several commands: install the one asked for.
        let Some(bin) = candidate
            .release
            .as_deref()
            .and_then(|r| binary_for(r, &resolved.package))
        else {
            return self.no_prebuilt(
                spec,
                &resolved.version,
                "the module's prebuilt does not include this package",
            );
        };
        candidate.binaries = Binaries::Listed(vec![bin]);
        match self
            .d
            .take(&resolved.module, &resolved.version, *candidate, ())
        {
            // A failure is the package's, as the user named it.
            Ok(Plan::Failed { error, .. }) => failed(error),
            Ok(plan) => plan,
            Err(why) => self.no_prebuilt(spec, &resolved.version, &why),
        }
    }

    fn may_ping(&self, name: &str) -> bool {
        !self.go.is_private(name)
    }

    /// A package inside a private module is private too (GOPRIVATE matches path prefixes).
    fn may_ping_any(&self) -> bool {
        self.request
            .specs
            .iter()
            .any(|spec| self.may_ping(&spec.package))
    }

    fn open_record(&self) -> Result<(), Arc<TrackerError>> {
        Ok(())
    }

    /// A binary of the same name from another module (or not built by Go) is replaced only
    /// with `--force`; the same module's is an upgrade (or downgrade) and is replaced.
    fn check(&self, _: &mut (), staged: &Staged<()>) -> Result<Placement, PackageError> {
        let bin_dir = &self.request.bin_dir;
        for bin in &staged.binaries {
            let dest = bin_dir.join(&bin.name);
            if !dest.exists() || self.request.run.force {
                continue;
            }
            match read_build_info(&dest).ok().flatten() {
                Some(info) if info.module == staged.subject.name => {}
                other => {
                    return Err(PackageError::Conflict {
                        bin: bin.name.clone(),
                        dir: bin_dir.clone(),
                        owner: other.map(|info| format!("{} {}", info.module, info.version)),
                    });
                }
            }
        }
        Ok(Placement::New {
            replaces: Vec::new(),
        })
    }

    fn mark(&self, _: &mut (), _: &Staged<()>) {}

    fn save(&self, _: (), _: bool) -> Result<(), Arc<TrackerError>> {
        Ok(())
    }

    fn already_note(&self, bins: &[String]) -> String {
        format!(" as `{}`", bins.join("`, `"))
    }

    fn fallback_command(&self, f: &Fallback) -> (SourceBuild, String) {
        let version = f.version.as_deref().unwrap_or("latest");
        (
            fallback::go_install(&f.name, version),
            format!("{}@{version}", f.name),
        )
    }

    /// After a build, what `go install` chose (the query may have been `@latest`): the
    /// package and its module's version, read from the installed binary's build info.
    fn fallback_outcome(&self, f: &Fallback, built: bool) -> FallbackOutcome {
        let bin = crate::index::path::go_command_name(&f.name).to_owned();
        let query = f.version.as_deref().unwrap_or("latest");
        let info = built
            .then(|| {
                read_build_info(&self.request.bin_dir.join(&bin))
                    .ok()
                    .flatten()
            })
            .flatten()
            .filter(|info| info.path == f.name);
        let (version, shown) = match info {
            Some(info) => (
                Some(info.version.clone()),
                format!("{} {}", info.path, info.version),
            ),
            None => (f.version.clone(), format!("{}@{query}", f.name)),
        };
        FallbackOutcome {
            version,
            target: None,
            bins: vec![bin],
            shown,
        }
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
