//! Phase one, run for up to `--jobs` crates at once: version from the registry, the signed
//! index entry, the release for this host, then download and unpack into a staging directory
//! inside the install root. Nothing here touches the bin directory or cargo's tracker.

use super::{Context, Plan, Staged};
use crate::cli::CrateSpec;
use crate::error::{CrateError, Subject};
use crate::index::format::PackageKind;
use crate::ops::{parallel, stage};
use crate::registry::crates::{pinned_version, select_version};
use crate::resolve;
use crate::target;

impl<'a> Context<'a> {
    /// Phase one over every crate, `--jobs` at a time; results in the order given.
    /// Each plan with the time it took (resolve, verify, download, unpack).
    pub(super) fn plan_all(&self) -> Vec<(Plan, std::time::Duration)> {
        parallel::map_in_order(&self.request.crates, self.request.jobs, |spec| {
            let started = std::time::Instant::now();
            (self.plan(spec), started.elapsed())
        })
    }

    fn plan(&self, spec: &CrateSpec) -> Plan {
        let failed = |version: Option<String>, error: CrateError| Plan::Failed {
            name: spec.name.clone(),
            version,
            error,
        };
        if let Some(origin) = &self.request.offline {
            let why = format!(
                "cargo is set to work offline (net.offline in {origin}), so nothing is fetched"
            );
            return self.no_prebuilt_unresolved(spec, &why);
        }
        let Some(registry) = &self.registry else {
            let why = format!(
                "it comes from {}, which quickinstall cannot read (only sparse registries)",
                self.request.source.describe
            );
            return self.no_prebuilt_unresolved(spec, &why);
        };
        // 1. The version: an exact pin needs no registry request.
        let (semver, registry_cksum) = match spec.req.as_ref().and_then(pinned_version) {
            Some(v) => (v, None),
            None => {
                self.reporter.verbose(
                    1,
                    &format!(
                        "asking {} for the versions of `{}`",
                        registry.url(),
                        spec.name
                    ),
                );
                let versions = match registry.versions(&self.fetcher, &spec.name) {
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
        // A crate of another registry is not crates.io's crate of the same name: only a
        // release index the user named may serve it (dependency confusion).
        if !self.request.source.public && !self.request.index_explicit {
            let why = format!(
                "it comes from {}, not crates.io, and the public release index serves only crates.io's crates (name your own with --release-index or QUICKINSTALL_INDEX)",
                self.request.source.describe
            );
            return self.no_prebuilt_because(spec, Some(version), &why, true);
        }
        // 2. The index: signature first, then the entry.
        self.reporter.verbose(
            1,
            &format!(
                "asking the release index {} about `{}`",
                self.request.index, spec.name
            ),
        );
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
        // `--bin`: only those binaries, each of which the prebuilt must have (`--bin rg` is
        // `rg.exe` in a Windows build, as with cargo).
        let wanted: Vec<String> = if self.request.bins.is_empty() {
            release.binaries.clone()
        } else {
            let exe = |b: &String| crate::install::exe_name(b, &release.target);
            if let Some(missing) = self
                .request
                .bins
                .iter()
                .find(|b| !release.binaries.contains(&exe(b)))
            {
                let why = format!(
                    "the prebuilt has no binary `{missing}` (it has {})",
                    release.binaries.join(", ")
                );
                return self.no_prebuilt(spec, version, &why);
            }
            self.request.bins.iter().map(exe).collect()
        };
        let location = self.index.archive_location(&release.archive);
        self.reporter.verbose(
            1,
            &format!(
                "`{} {version}`: prebuilt for {} at {location}",
                spec.name, release.target
            ),
        );
        if self.request.dry_run {
            let mut shown = release;
            shown.binaries = wanted;
            return Plan::DryRunPrebuilt {
                subject,
                release: Box::new(shown),
                url: location.to_string(),
            };
        }
        // 3. Download (size and sha256 checked while streaming), then unpack into staging.
        let staged = stage::stage_release(
            &self.fetcher,
            self.reporter,
            &self.request.root,
            self.request.cache_dir.as_deref(),
            &subject,
            &release,
            &location,
            &wanted,
        );
        match staged {
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

    /// No prebuilt and no version resolved: `cargo install` with the requirement as given.
    fn no_prebuilt_unresolved(&self, spec: &CrateSpec, why: &str) -> Plan {
        self.no_prebuilt_because(spec, None, why, true)
    }

    fn no_prebuilt(&self, spec: &CrateSpec, version: String, why: &str) -> Plan {
        self.no_prebuilt_because(spec, Some(version), why, false)
    }

    /// `cargo install` (exactly `version` when resolved), or with `--no-fallback` a failure;
    /// `explain` puts `why` into that failure's message.
    fn no_prebuilt_because(
        &self,
        spec: &CrateSpec,
        version: Option<String>,
        why: &str,
        explain: bool,
    ) -> Plan {
        self.reporter
            .verbose(1, &format!("no prebuilt of `{}`: {why}", spec.name));
        if self.request.fallback {
            return Plan::Fallback {
                name: spec.name.clone(),
                req: version
                    .as_ref()
                    .map(|v| format!("={v}"))
                    .or_else(|| spec.req_text.clone()),
                version,
                why: why.to_owned(),
            };
        }
        let targets = self.request.targets.join(", ");
        Plan::Failed {
            name: spec.name.clone(),
            version: version.clone(),
            error: CrateError::NoPrebuilt {
                name: spec.name.clone(),
                version: version
                    .or_else(|| spec.req_text.clone())
                    .unwrap_or_else(|| "*".to_owned()),
                targets: if explain {
                    format!("{targets} ({why})")
                } else {
                    targets
                },
                fallback: "cargo install",
            },
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
}
