//! Phase one for one crate: the version from the registry and, at the same time, the index's
//! package file (neither needs the other); then each source in `--sources` order, the pool's
//! signature probe and the `.crate` download for upstream metadata at once, the first time
//! either is needed, each answer waited for only when its source's turn comes. The first
//! candidate goes to the driver, which verifies and stages it; a `.crate` download still running
//! then is not waited for. An exact pin (`crate@1.2.3`) skips the registry before the download;
//! whether that version is yanked is asked beside the download, and a yanked one is refused.

use std::thread::{JoinHandle, ScopedJoinHandle};

use super::{Crates, Recorded};
use crate::cli::CrateSpec;
use crate::download::DownloadError;
use crate::error::PackageError;
use crate::index::format::PackageKind;
use crate::ops::driver::{Fallback, Plan};
use crate::registry::crates::{
    RegistryError, RegistryVersion, check_exact, pinned_version, select_version,
};
use crate::source::index::Query;
use crate::source::{self, Answer, Origin, Why, quickinstall_pool};

impl Crates<'_> {
    pub(super) fn lookup(&self, spec: &CrateSpec) -> Plan<Recorded> {
        let failed = |version: Option<String>, error: PackageError| Plan::Failed {
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
            return self.no_prebuilt_unresolved(spec, Why::because(why));
        }
        let Some(registry) = &self.registry else {
            let why = format!(
                "it comes from {}, which quickinstall cannot read (only sparse registries)",
                self.request.source.describe
            );
            return self.no_prebuilt_unresolved(spec, Why::because(why));
        };
        // 1. The version (an exact pin needs no registry request) and, at the same time, the
        //    index's package file: neither needs the other.
        let public = self.request.source.public;
        let index_allowed = public || self.request.index_explicit;
        let index_wanted = index_allowed && self.request.sources.contains(&Origin::Index);
        let (resolved, fetched) = std::thread::scope(|scope| {
            let index = index_wanted.then(|| {
                scope.spawn(|| {
                    self.d.reporter.verbose(
                        1,
                        &format!(
                            "asking the release index {} about `{}`",
                            self.request.run.index, spec.name
                        ),
                    );
                    self.d.index.package(
                        &self.d.fetcher,
                        PackageKind::Crate,
                        &spec.name,
                        self.d.seen.as_ref(),
                    )
                })
            });
            let resolved = self.resolve_version(registry, spec);
            (resolved, index.map(|h| h.join()))
        });
        let (semver, registry_cksum) = match resolved {
            Ok(v) => v,
            // A registry that wants credentials (a private one with `auth-required`): cargo
            // has them, we send none, so `cargo install` resolves and builds it.
            Err(PackageError::Registry(RegistryError::Download {
                source: DownloadError::Status { status, .. },
                ..
            })) if matches!(status, 401 | 403) => {
                let why = format!(
                    "{} asks for credentials (HTTP {status}), which cargo has and quickinstall does not send",
                    registry.display_url()
                );
                return self.no_prebuilt_unresolved(spec, Why::because(why));
            }
            Err(e) => return failed(None, e),
        };
        let version = semver.to_string();
        if let Some(bins) = self
            .already_installed(&spec.name, &version)
            .filter(|_| !self.request.run.force)
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
        // Where it comes from is said once, before what each source answered.
        let only_crates_io = "it serves only crates.io's crates";
        let mut misses: Vec<(String, String)> = Vec::new();
        if !public {
            misses.push((
                "crate".to_owned(),
                format!("from {}, not crates.io", self.request.source.describe),
            ));
        }
        let query = Query {
            name: &spec.name,
            version: &version,
            targets: &self.request.run.targets,
            explicit_target: self.request.run.explicit_target.is_some(),
            registry_cksum: registry_cksum.as_deref(),
        };
        // An exact pin skipped the registry, saving a round trip before the archive. Whether
        // the registry has yanked that version (`cargo install` refuses it then) is asked beside
        // the archive's download instead, once a source has it.
        let exact_pin = registry_cksum.is_none();
        // 2. Each source in the user's order; the first that has it is taken. The pool's
        //    signature probe and the `.crate` download for upstream metadata start together,
        //    the first time either is needed (not at all when the index has it), and each
        //    answer is waited for only when its source's turn comes: the pool's hit is taken
        //    (and its archive fetched) while the `.crate` may still be on its way, and the
        //    lookup returns without it.
        std::thread::scope(|scope| {
            let mut fetched = fetched;
            let mut remote: Option<Remote<'_>> = None;
            let mut listed = None;
            for (position, origin) in self.request.sources.iter().enumerate() {
                if matches!(origin, Origin::Quickinstall | Origin::Upstream) && remote.is_none() {
                    let later = &self.request.sources[position..];
                    remote = Some(self.ask_remote(
                        scope,
                        registry,
                        &query,
                        later.contains(&Origin::Quickinstall) && public,
                        later.contains(&Origin::Upstream),
                    ));
                }
                let answer = match origin {
                    Origin::Index if !index_allowed => Answer::DontHave(format!(
                        "{only_crates_io} (name one that has it with --release-index or QUICKINSTALL_INDEX)"
                    )),
                    Origin::Index => match fetched.take() {
                        Some(Ok(result)) => {
                            let glibc = || self.d.glibc();
                            source::index::answer(
                                &self.d.index,
                                result,
                                &query,
                                self.d.reporter,
                                &mut { glibc },
                            )
                        }
                        Some(Err(_)) => {
                            Answer::DontHave("the release index lookup panicked".into())
                        }
                        None => Answer::DontHave("the release index was not asked".into()),
                    },
                    Origin::Quickinstall if !public => Answer::DontHave(only_crates_io.to_owned()),
                    Origin::Quickinstall => Remote::answer(
                        remote
                            .as_mut()
                            .and_then(|r| r.pool.take())
                            .map(|h| h.join()),
                        "the pool",
                    ),
                    Origin::Upstream => Remote::answer(
                        remote
                            .as_mut()
                            .and_then(|r| r.upstream.take())
                            .map(|h| h.join()),
                        "the crate",
                    ),
                    Origin::Build => continue,
                };
                if exact_pin && listed.is_none() && matches!(answer, Answer::Have(_)) {
                    listed = Some(scope.spawn(|| registry.versions(&self.d.fetcher, &spec.name)));
                }
                let miss = match answer {
                    Answer::Have(candidate) => match self.d.take(
                        &spec.name,
                        &version,
                        *candidate,
                        Recorded {
                            version: semver.clone(),
                            req_text: spec.req_text.clone(),
                        },
                    ) {
                        Ok(plan) => {
                            let listed = listed.take().map(ScopedJoinHandle::join);
                            return match self.check_exact_pin(registry, listed, &spec.name, &semver)
                            {
                                // Dropping a staged plan removes its staging directory.
                                Err(e) => failed(Some(version.clone()), e),
                                Ok(()) => plan,
                            };
                        }
                        Err(why) => why,
                    },
                    Answer::DontHave(why) => why,
                    Answer::Fail(e) => return failed(Some(version.clone()), e),
                };
                self.d.reporter.verbose(
                    1,
                    &format!("`{} {version}`: {}: {miss}", spec.name, origin.as_str()),
                );
                misses.push((origin.as_str().to_owned(), miss));
            }
            let why = if misses.is_empty() {
                Why::because("--sources names no prebuilt source")
            } else {
                Why::per_source(&self.request.run.targets, misses)
            };
            // Nothing could have served it: say why even where a miss of the index alone is
            // said briefly.
            let explain = !index_allowed && !self.request.sources.contains(&Origin::Upstream);
            self.no_prebuilt_because(spec, Some(version.clone()), why, explain)
        })
    }

    /// Starts asking the pool and the crate (each only when `pool`/`upstream`), each on its
    /// own thread: the pool's in `scope`, the crate's on its own, so that a source earlier in
    /// the order that has the crate does not wait for a `.crate` download a stalled registry
    /// holds up (the download ends on its own, or with the process; its temp dir is then swept
    /// by a later run).
    fn ask_remote<'scope, 'env>(
        &'env self,
        scope: &'scope std::thread::Scope<'scope, 'env>,
        registry: &'env crate::registry::crates::Registry,
        query: &'env Query<'env>,
        pool: bool,
        upstream: bool,
    ) -> Remote<'scope> {
        let pool = pool.then(|| {
            scope.spawn(move || {
                quickinstall_pool::probe(
                    &self.d.fetcher,
                    &self.request.pool,
                    query,
                    self.request.allow_unsigned,
                    self.d.reporter,
                )
            })
        });
        let upstream = upstream.then(|| {
            self.d.reporter.verbose(
                1,
                &format!(
                    "reading `{} {}`'s [package.metadata.binstall] from its .crate",
                    query.name, query.version
                ),
            );
            let (fetcher, registry) = (self.d.fetcher.clone(), registry.clone());
            let (name, version) = (query.name.to_owned(), query.version.to_owned());
            let (targets, explicit_target) = (query.targets.to_vec(), query.explicit_target);
            let cksum = query.registry_cksum.map(str::to_owned);
            std::thread::spawn(move || {
                let query = Query {
                    name: &name,
                    version: &version,
                    targets: &targets,
                    explicit_target,
                    registry_cksum: cksum.as_deref(),
                };
                source::upstream::probe(&fetcher, &registry, &query)
            })
        });
        Remote { pool, upstream }
    }

    /// The exact version to install, and the registry's checksum of its `.crate` when the
    /// registry was asked (an exact pin needs no request before the download; see
    /// [`Self::check_exact_pin`]).
    fn resolve_version(
        &self,
        registry: &crate::registry::crates::Registry,
        spec: &CrateSpec,
    ) -> Result<(semver::Version, Option<String>), PackageError> {
        if let Some(v) = spec.req.as_ref().and_then(pinned_version) {
            return Ok((v, None));
        }
        self.d.reporter.verbose(
            1,
            &format!(
                "asking {} for the versions of `{}`",
                registry.display_url(),
                spec.name
            ),
        );
        let versions = registry.versions(&self.d.fetcher, &spec.name)?;
        let v = select_version(&spec.name, &versions, spec.req.as_ref())?;
        Ok((v.version.clone(), Some(v.cksum.clone())))
    }

    /// The registry's judgement of an exact pin, asked beside its download (`listed`: `None`
    /// when nothing was asked). A yanked or unlisted version is refused, as `cargo install`
    /// refuses it; a registry that cannot be reached is said aloud and the signed source's
    /// answer stands.
    fn check_exact_pin(
        &self,
        registry: &crate::registry::crates::Registry,
        listed: Option<std::thread::Result<Result<Vec<RegistryVersion>, RegistryError>>>,
        name: &str,
        version: &semver::Version,
    ) -> Result<(), PackageError> {
        match listed {
            Some(Ok(Ok(versions))) => {
                check_exact(name, &registry.display_url(), &versions, version)?;
                Ok(())
            }
            Some(Ok(Err(RegistryError::Download { source, .. }))) => {
                let registry = registry.display_url();
                self.d.reporter.warn_once(
                    &format!("yank check {registry}"),
                    &format!(
                        "could not ask {registry} whether the versions asked for exactly are yanked (`{name} {version}`: {source}); installing them anyway"
                    ),
                );
                Ok(())
            }
            Some(Ok(Err(e))) => Err(e.into()),
            Some(Err(_)) | None => Ok(()),
        }
    }

    /// No prebuilt and no version resolved: `cargo install` with the requirement as given.
    fn no_prebuilt_unresolved(&self, spec: &CrateSpec, why: Why) -> Plan<Recorded> {
        self.no_prebuilt_because(spec, None, why, true)
    }

    /// `cargo install` (exactly `version` when resolved), or with `--no-fallback` a failure;
    /// `explain` puts `why` into that failure's message.
    fn no_prebuilt_because(
        &self,
        spec: &CrateSpec,
        version: Option<String>,
        why: Why,
        explain: bool,
    ) -> Plan<Recorded> {
        // What each source answered was said as it answered.
        self.d.reporter.verbose(
            1,
            &format!("no prebuilt of `{}`: {}", spec.name, why.headline),
        );
        if self.request.run.fallback {
            return Plan::Fallback(Fallback {
                name: spec.name.clone(),
                req: version
                    .as_ref()
                    .map(|v| format!("={v}"))
                    .or_else(|| spec.req_text.clone()),
                version,
                why,
            });
        }
        let targets = self.request.run.targets.join(", ");
        let (targets, details) = if !explain && self.request.sources == [Origin::Index] {
            (format!("{targets} in the release index"), String::new())
        } else if why.lines.is_empty() {
            (format!("{targets} ({})", why.headline), String::new())
        } else {
            (targets, why.details())
        };
        Plan::Failed {
            name: spec.name.clone(),
            version: version.clone(),
            error: PackageError::NoPrebuilt {
                name: spec.name.clone(),
                version: version
                    .or_else(|| spec.req_text.clone())
                    .unwrap_or_else(|| "*".to_owned()),
                targets,
                fallback: "cargo install",
                details,
            },
        }
    }

    pub(super) fn already_installed(&self, name: &str, version: &str) -> Option<Vec<String>> {
        let bin_dir = &self.d.request.bin_dir;
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

/// The pool's and the crate's answers while they are being asked. Dropping `upstream` unjoined
/// leaves its thread to end on its own.
struct Remote<'scope> {
    pool: Option<ScopedJoinHandle<'scope, Answer>>,
    upstream: Option<JoinHandle<Answer>>,
}

impl Remote<'_> {
    /// The answer of a lookup that was joined (`what`: "the pool", "the crate"), or why there
    /// is none.
    fn answer(joined: Option<std::thread::Result<Answer>>, what: &str) -> Answer {
        match joined {
            Some(Ok(answer)) => answer,
            Some(Err(_)) => Answer::DontHave(format!("{what} lookup panicked")),
            None => Answer::DontHave(format!("{what} was not asked")),
        }
    }
}
