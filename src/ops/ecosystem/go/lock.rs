//! `gquick`'s side of lock files: a package whose resolution was fixed in advance (installed
//! with no proxy or index lookup: one request, the archive, its size and sha256 checked by the
//! driver), and a resolve-only run (what `gquick install` would install, installing nothing).

use super::{Modules, context};
use crate::cli::go::{GoInstallRequest, GoSpec};
use crate::download::Location;
use crate::error::{PackageError, Subject};
use crate::index::format::Release;
use crate::ops::driver::resolve::{ResolveError, Resolved, resolve_all};
use crate::ops::driver::{Fallback, Plan};
use crate::report::Reporter;
use crate::source::{Binaries, Candidate, Check, Origin, Why};

/// A Go package's resolution fixed in advance.
#[derive(Debug, Clone, PartialEq)]
pub struct GoPinned {
    pub module: String,
    pub version: String,
    /// The release to install (the archive's absolute URL in `archive`); `None`: `go install`.
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
        /// The id of the index key that signed its entry.
        key_id: Option<String>,
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
    request.run.dry_run = true;
    request.run.force = true;
    let Ok((context, go)) = context(&request, reporter) else {
        return request
            .specs
            .iter()
            .map(|_| {
                Err(ResolveError::Unlockable(
                    "GOPROXY or the release index URL is malformed (see above)".into(),
                ))
            })
            .collect();
    };
    let modules = Modules {
        d: &context,
        request: &request,
        go,
    };
    resolve_all(&context, &modules)
        .into_iter()
        .zip(&request.specs)
        .map(|(resolved, spec)| match resolved? {
            Resolved::Prebuilt {
                name,
                version,
                candidate,
                wanted,
                key_id,
                ..
            } => {
                let Some(release) = candidate.release else {
                    return Err(ResolveError::Unlockable(format!(
                        "`{}` resolved to an archive without an index entry",
                        spec.package
                    )));
                };
                let bin = wanted.into_iter().next().unwrap_or_else(|| {
                    crate::index::path::go_command_name(&spec.package).to_owned()
                });
                Ok(GoResolved::Prebuilt {
                    module: name,
                    version,
                    url: candidate.location.to_string(),
                    release,
                    bin,
                    key_id,
                })
            }
            Resolved::Build { version } => {
                if crate::registry::goproxy::version::GoVersion::parse(&version).is_none() {
                    return Err(ResolveError::Unlockable(format!(
                        "no exact version of `{}` could be found (it resolved to `{version}`), and a lock needs one",
                        spec.package
                    )));
                }
                Ok(GoResolved::Build { version })
            }
        })
        .collect()
}

impl Modules<'_> {
    pub(super) fn plan_pinned(&self, spec: &GoSpec, pinned: &GoPinned) -> Plan<()> {
        let Some(release) = &pinned.release else {
            return Plan::Fallback(Fallback {
                name: spec.package.clone(),
                version: Some(pinned.version.clone()),
                req: None,
                why: Why::because(format!("{} locks it as a build from source", pinned.from)),
            });
        };
        if !self.request.run.force
            && self
                .installed_module(&pinned.bin)
                .is_some_and(|(m, v)| m == pinned.module && v == pinned.version)
        {
            return Plan::Already {
                name: pinned.module.clone(),
                version: pinned.version.clone(),
                bins: vec![pinned.bin.clone()],
            };
        }
        let location = match Location::parse(&release.archive) {
            Ok(l) => l,
            Err(e) => {
                return Plan::Failed {
                    name: spec.package.clone(),
                    version: Some(pinned.version.clone()),
                    error: PackageError::Download {
                        subject: Box::new(Subject {
                            name: pinned.module.clone(),
                            version: pinned.version.clone(),
                            target: release.target.clone(),
                        }),
                        source: e,
                    },
                };
            }
        };
        let candidate = Candidate {
            origin: Origin::Index,
            target: release.target.clone(),
            location,
            check: Check::Sha256 {
                size: release.size,
                sha256: release.sha256.clone(),
                signed_by: None,
            },
            binaries: Binaries::Listed(vec![pinned.bin.clone()]),
            toolchain: Some(release.provenance.toolchain.clone()),
            release: Some(Box::new(release.clone())),
        };
        match self.d.take(&pinned.module, &pinned.version, candidate, ()) {
            Ok(plan) => plan,
            Err(why) => Plan::Failed {
                name: spec.package.clone(),
                version: Some(pinned.version.clone()),
                error: PackageError::NoPrebuilt {
                    name: spec.package.clone(),
                    version: pinned.version.clone(),
                    targets: format!("{} ({why}; pinned by {})", release.target, pinned.from),
                    fallback: "go install",
                    details: String::new(),
                },
            },
        }
    }
}
