//! Phase one, run for up to `--jobs` crates at once: version from the registry, the signed
//! index entry, the release for this host, then download and unpack into a staging directory
//! inside the install root. Nothing here touches the bin directory or cargo's tracker.

use super::{Context, Plan, Staged};
use crate::cli::CrateSpec;
use crate::error::{CrateError, Subject};
use crate::index::format::PackageKind;
use crate::ops::{parallel, stage};
use crate::registry::crates::{pinned_version, select_version};
use crate::source::index::Query;
use crate::source::{self, Answer, Binaries, Candidate, Check, Origin, quickinstall_pool};
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
        // A resolution fixed in advance (a lock file): no registry, no index, no pool.
        if let Some(pinned) = &spec.pinned {
            return self.plan_pinned(spec, pinned);
        }
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
        // 1. The version (an exact pin needs no registry request) and, at the same time, the
        //    index's package file: neither needs the other.
        let public = self.request.source.public;
        let index_allowed = public || self.request.index_explicit;
        let index_wanted = index_allowed && self.request.sources.contains(&Origin::Index);
        let (resolved, fetched) = std::thread::scope(|scope| {
            let index = index_wanted.then(|| {
                scope.spawn(|| {
                    self.reporter.verbose(
                        1,
                        &format!(
                            "asking the release index {} about `{}`",
                            self.request.index, spec.name
                        ),
                    );
                    self.index.package(
                        &self.fetcher,
                        PackageKind::Crate,
                        &spec.name,
                        self.seen.as_ref(),
                    )
                })
            });
            let resolved = self.resolve_version(registry, spec);
            (resolved, index.map(|h| h.join()))
        });
        let (semver, registry_cksum) = match resolved {
            Ok(v) => v,
            Err(e) => return failed(None, e),
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
        // release index the user named may serve it (dependency confusion); the pool serves
        // crates.io's crates only. What a crate declares itself (upstream) holds anywhere.
        let not_public = format!(
            "it comes from {}, not crates.io, and the public release index and pool serve only crates.io's crates (name your own index with --release-index or QUICKINSTALL_INDEX)",
            self.request.source.describe
        );
        let query = Query {
            name: &spec.name,
            version: &version,
            targets: &self.request.targets,
            explicit_target: self.request.explicit_target.is_some(),
            registry_cksum: registry_cksum.as_deref(),
        };
        // 2. Each source in the user's order; the first that has it is taken. The pool's
        //    signature probe and the `.crate` download for upstream metadata run at once, the
        //    first time either is needed (not at all when the index has it).
        let mut fetched = fetched;
        let mut remote: Option<(Option<Answer>, Option<Answer>)> = None;
        let mut misses: Vec<String> = Vec::new();
        for (position, origin) in self.request.sources.iter().enumerate() {
            if matches!(origin, Origin::Quickinstall | Origin::Upstream) && remote.is_none() {
                let later = &self.request.sources[position..];
                remote = Some(self.ask_remote(
                    registry,
                    &query,
                    later.contains(&Origin::Quickinstall) && public,
                    later.contains(&Origin::Upstream),
                ));
            }
            let answer = match origin {
                Origin::Index if !index_allowed => Answer::DontHave(not_public.clone()),
                Origin::Index => match fetched.take() {
                    Some(Ok(result)) => {
                        let glibc = || *self.glibc.get_or_init(target::detect_glibc);
                        source::index::answer(&self.index, result, &query, self.reporter, &mut {
                            glibc
                        })
                    }
                    Some(Err(_)) => Answer::DontHave("the release index lookup panicked".into()),
                    None => Answer::DontHave("the release index was not asked".into()),
                },
                Origin::Quickinstall if !public => Answer::DontHave(not_public.clone()),
                Origin::Quickinstall => remote
                    .as_mut()
                    .and_then(|r| r.0.take())
                    .unwrap_or_else(|| Answer::DontHave("the pool was not asked".into())),
                Origin::Upstream => remote
                    .as_mut()
                    .and_then(|r| r.1.take())
                    .unwrap_or_else(|| Answer::DontHave("the crate was not asked".into())),
                Origin::Build => continue,
            };
            let miss = match answer {
                Answer::Have(candidate) => match self.take(spec, &semver, *candidate) {
                    Ok(plan) => return plan,
                    Err(why) => why,
                },
                Answer::DontHave(why) => why,
                Answer::Fail(e) => return failed(Some(version), e),
            };
            self.reporter.verbose(
                1,
                &format!("`{} {version}`: {}: {miss}", spec.name, origin.as_str()),
            );
            misses.push(miss);
        }
        misses.dedup();
        if !index_allowed && !self.request.sources.contains(&Origin::Upstream) {
            return self.no_prebuilt_because(spec, Some(version), &not_public, true);
        }
        let why = if misses.is_empty() {
            "--sources names no prebuilt source".to_owned()
        } else {
            misses.join("; ")
        };
        self.no_prebuilt(spec, version, &why)
    }

    /// The pool's and the crate's answers, asked at once (each only when `pool`/`upstream`).
    fn ask_remote(
        &self,
        registry: &crate::registry::crates::Registry,
        query: &Query,
        pool: bool,
        upstream: bool,
    ) -> (Option<Answer>, Option<Answer>) {
        std::thread::scope(|scope| {
            let pool = pool.then(|| {
                scope.spawn(|| {
                    quickinstall_pool::probe(
                        &self.fetcher,
                        &self.request.pool,
                        query,
                        self.request.allow_unsigned,
                        self.reporter,
                    )
                })
            });
            let upstream = upstream.then(|| {
                self.reporter.verbose(
                    1,
                    &format!(
                        "reading `{} {}`'s [package.metadata.binstall] from its .crate",
                        query.name, query.version
                    ),
                );
                source::upstream::probe(&self.fetcher, registry, query, query.registry_cksum)
            });
            let pool = pool.map(|h| {
                h.join()
                    .unwrap_or_else(|_| Answer::DontHave("the pool lookup panicked".into()))
            });
            (pool, upstream)
        })
    }

    /// The exact version to install, and the registry's checksum of its `.crate` when the
    /// registry was asked (an exact pin needs no request).
    fn resolve_version(
        &self,
        registry: &crate::registry::crates::Registry,
        spec: &CrateSpec,
    ) -> Result<(semver::Version, Option<String>), CrateError> {
        if let Some(v) = spec.req.as_ref().and_then(pinned_version) {
            return Ok((v, None));
        }
        self.reporter.verbose(
            1,
            &format!(
                "asking {} for the versions of `{}`",
                registry.url(),
                spec.name
            ),
        );
        let versions = registry.versions(&self.fetcher, &spec.name)?;
        let v = select_version(&spec.name, &versions, spec.req.as_ref())?;
        Ok((v.version.clone(), Some(v.cksum.clone())))
    }

    /// A source has it: check `--bin` and `--require-signed`, then (unless `--dry-run`) fetch,
    /// verify and unpack it. `Err` is why this source cannot serve it after all, when trying
    /// the next one is safe (nothing failed to verify).
    pub(super) fn take(
        &self,
        spec: &CrateSpec,
        semver: &semver::Version,
        candidate: Candidate,
    ) -> Result<Plan, String> {
        let origin = candidate.origin;
        let version = semver.to_string();
        if self.request.require_signed && !candidate.check.is_signed() {
            return Err(format!(
                "the {} archive is unsigned and --require-signed refuses it",
                origin.as_str()
            ));
        }
        let subject = Subject {
            name: spec.name.clone(),
            version: version.clone(),
            target: candidate.target.clone(),
        };
        // `--bin`: only those binaries, each of which the prebuilt must have (`--bin rg` is
        // `rg.exe` in a Windows build, as with cargo).
        let exe = |b: &String| crate::install::exe_name(b, &candidate.target);
        let wanted: Option<Vec<String>> = match &candidate.binaries {
            Binaries::Listed(listed) if !self.request.bins.is_empty() => {
                if let Some(missing) = self.request.bins.iter().find(|b| !listed.contains(&exe(b)))
                {
                    return Err(format!(
                        "the prebuilt has no binary `{missing}` (it has {})",
                        listed.join(", ")
                    ));
                }
                Some(self.request.bins.iter().map(exe).collect())
            }
            Binaries::Listed(listed) => Some(listed.clone()),
            Binaries::Paths { paths, .. } => {
                let names: Vec<String> = paths.iter().map(|(n, _)| n.clone()).collect();
                if let Some(missing) = self.request.bins.iter().find(|b| !names.contains(b)) {
                    return Err(format!(
                        "the crate declares no binary `{missing}` (it has {})",
                        names.join(", ")
                    ));
                }
                Some(if self.request.bins.is_empty() {
                    names
                } else {
                    self.request.bins.clone()
                })
            }
            Binaries::FromArchive => {
                (!self.request.bins.is_empty()).then(|| self.request.bins.clone())
            }
        };
        self.reporter.verbose(
            1,
            &format!(
                "`{} {version}`: prebuilt for {} at {} ({})",
                spec.name,
                candidate.target,
                candidate.location,
                origin.as_str()
            ),
        );
        if self.request.dry_run {
            return Ok(Plan::DryRunPrebuilt {
                subject,
                candidate: Box::new(candidate),
                wanted: wanted.unwrap_or_default(),
            });
        }
        // 3. Download and verify (size and sha256 while streaming, or the signature over the
        //    finished file before any parser touches it), then unpack into staging.
        let staged = match &candidate.check {
            Check::Sha256 { .. } => match candidate.release.as_deref() {
                Some(release) => stage::stage_release(
                    &self.fetcher,
                    self.reporter,
                    &self.request.root,
                    self.request.cache_dir.as_deref(),
                    &subject,
                    release,
                    &candidate.location,
                    wanted.as_deref().unwrap_or(&release.binaries),
                )
                .map(Some),
                None => return Err("the source gave a checksum but no release".into()),
            },
            _ => self.stage_signed(&subject, &candidate, wanted.as_deref()),
        };
        match staged {
            Ok(Some((dir, binaries))) => Ok(Plan::Prebuilt(Box::new(Staged {
                subject,
                version: semver.clone(),
                origin,
                signed: candidate.check.is_signed(),
                toolchain: candidate.toolchain,
                spec: spec.clone(),
                binaries,
                _dir: dir,
            }))),
            Ok(None) => Err(format!(
                "the {} source lists it but its archive is not there",
                origin.as_str()
            )),
            // The archive could not be fetched (not a verification failure): the next source
            // may have it.
            Err(CrateError::FromSource { origin, error })
                if matches!(*error, CrateError::Download { .. }) && !error.is_verification() =>
            {
                let why = format!("{origin} source: {error}");
                self.reporter.warn(&why);
                Err(why)
            }
            Err(e) => Ok(Plan::Failed {
                name: spec.name.clone(),
                version: Some(version),
                error: e,
            }),
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
                targets: if explain || self.request.sources != [Origin::Index] {
                    format!("{targets} ({why})")
                } else {
                    format!("{targets} in the release index")
                },
                fallback: "cargo install",
            },
        }
    }

    pub(super) fn already_installed(&self, name: &str, version: &str) -> Option<Vec<String>> {
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
