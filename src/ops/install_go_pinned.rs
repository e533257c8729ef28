//! `gquick`'s hooks for lock files: a package whose resolution was fixed in advance (installed
//! with no proxy or index lookup: one request, the archive, its size and sha256 checked), and
//! a resolve-only run (what `gquick install` would install, installing nothing).

use super::{Context, Plan, Staged};
use crate::cli::go::{GoInstallRequest, GoSpec};
use crate::download::{Fetcher, Location, NetConfig};
use crate::error::{CrateError, Subject};
use crate::index::fetch::IndexSource;
use crate::index::format::Release;
use crate::ops::install_crates::ResolveError;
use crate::ops::stage;
use crate::registry::goproxy::GoEnv;
use crate::report::Reporter;

/// A Go package's resolution fixed in advance.
#[derive(Debug, Clone, PartialEq)]
pub struct GoPinned {
    pub module: String,
    pub version: String,
    /// The release to install (the archive URL in `archive`); `None`: `go install`.
    pub release: Option<Release>,
    /// The binary to install from it.
    pub bin: String,
    /// Where the pin came from, for messages (`quickinstall.lock:12`).
    pub from: String,
}

// Release's `extra` values are JSON, whose equality is an equivalence (no NaN in JSON).
impl Eq for GoPinned {}

/// What resolving one package gave.
pub enum GoResolved {
    Prebuilt {
        module: String,
        version: String,
        release: Box<Release>,
        /// The archive's absolute location.
        url: String,
        bin: String,
    },
    Build {
        version: String,
    },
}

/// Resolves every package of `request` (proxy, then signed index), installing nothing.
pub fn resolve_only(
    request: &GoInstallRequest,
    reporter: &Reporter,
) -> Vec<Result<GoResolved, ResolveError>> {
    let mut request = request.clone();
    request.dry_run = true;
    request.force = true;
    let fail = |e: String| {
        request
            .specs
            .iter()
            .map(|_| Err(ResolveError::Unlockable(e.clone())))
            .collect()
    };
    let go = match GoEnv::from_settings(&request.go) {
        Ok(go) => go,
        Err(e) => return fail(e.to_string()),
    };
    let base = match Location::parse(&request.index) {
        Ok(base) => base,
        Err(e) => return fail(e.to_string()),
    };
    let context = Context {
        request: &request,
        reporter,
        fetcher: Fetcher::new(&NetConfig {
            timeout: std::time::Duration::from_secs(request.timeout_secs),
            retries: 2,
            user_agent: format!("gquick/{}", env!("CARGO_PKG_VERSION")),
        }),
        go,
        index: IndexSource {
            base,
            keys: request.keys.clone(),
        },
        seen: None,
        glibc: std::sync::OnceLock::new(),
    };
    context
        .plan_all()
        .into_iter()
        .map(|(plan, _)| match plan {
            Plan::DryRun {
                subject,
                bin,
                url,
                release,
            } => Ok(GoResolved::Prebuilt {
                module: subject.name,
                version: subject.version,
                release,
                url,
                bin,
            }),
            Plan::Fallback { version, spec, why }
                if crate::registry::goproxy::version::GoVersion::parse(&version).is_none() =>
            {
                Err(ResolveError::Unlockable(format!(
                    "no exact version of `{}` could be found ({why}), and a lock needs one",
                    spec.package
                )))
            }
            Plan::Fallback { version, .. } => Ok(GoResolved::Build { version }),
            Plan::Failed { error, .. } => Err(error.into()),
            // Neither is produced with `force` and `dry_run` set.
            Plan::Already { module, .. } => Err(ResolveError::Unlockable(format!(
                "`{module}` was reported installed instead of resolved"
            ))),
            Plan::Prebuilt(s) => Err(ResolveError::Unlockable(format!(
                "`{}` was staged instead of resolved",
                s.subject.name
            ))),
        })
        .collect()
}

impl Context<'_> {
    pub(super) fn plan_pinned(&self, spec: &GoSpec, pinned: &GoPinned) -> Plan {
        let Some(release) = &pinned.release else {
            return Plan::Fallback {
                spec: spec.clone(),
                version: pinned.version.clone(),
                why: format!("{} locks it as a build from source", pinned.from),
            };
        };
        if !self.request.force
            && self
                .installed_module(&pinned.bin)
                .is_some_and(|(m, v)| m == pinned.module && v == pinned.version)
        {
            return Plan::Already {
                module: pinned.module.clone(),
                version: pinned.version.clone(),
                bin: pinned.bin.clone(),
            };
        }
        let subject = Subject {
            name: pinned.module.clone(),
            version: pinned.version.clone(),
            target: release.target.clone(),
        };
        let location = match Location::parse(&release.archive) {
            Ok(l) => l,
            Err(e) => {
                return Plan::Failed {
                    spec: spec.clone(),
                    error: CrateError::Download {
                        subject: Box::new(subject),
                        source: e,
                    },
                };
            }
        };
        match stage::stage_release(
            &self.fetcher,
            self.reporter,
            &self.request.bin_dir,
            self.request.cache_dir.as_deref(),
            &subject,
            release,
            &location,
            std::slice::from_ref(&pinned.bin),
        ) {
            Ok((dir, binaries)) => Plan::Prebuilt(Box::new(Staged {
                subject,
                bin: pinned.bin.clone(),
                binaries,
                _dir: dir,
            })),
            Err(error) => Plan::Failed {
                spec: spec.clone(),
                error,
            },
        }
    }
}
