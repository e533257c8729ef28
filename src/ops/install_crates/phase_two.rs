//! Phase two, in the order the crates were given: move staged binaries into place under one
//! lock of cargo's tracker, build from source where no prebuilt exists, and turn each outcome
//! into a result line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Context, Placed, Staged, paths_of};
use crate::env::Env;
use crate::error::{CrateError, Subject};
use crate::fallback::{self, FallbackOptions};
use crate::install::cargo_tracker::{self, CargoTracker, PackageId};
use crate::install::install_binaries;
use crate::install::transaction::same_contents;
use crate::ops::summary;
use crate::registry::crates::Registry;
use crate::report::{CrateResult, Source};
use crate::source::Origin;

impl<'a> Context<'a> {
    /// Phase two for everything but fallbacks.
    pub(super) fn already(&self, name: String, version: String, bins: Vec<String>) -> CrateResult {
        self.reporter.status(
            "Ignored",
            &format!("`{name} {version}` is already installed (use --force to reinstall)"),
        );
        CrateResult {
            paths: paths_of(&self.request.root.join("bin"), &bins),
            name,
            version: Some(version),
            target: None,
            source: Some(Source::AlreadyInstalled),
            origin: None,
            signed: false,
            binaries: bins,
            ok: true,
            error: None,
            verification_failure: false,
            seconds: 0.0,
        }
    }

    /// A `--dry-run` plan line: stdout, unless `--json` keeps stdout for the JSON objects
    /// (then it is a note on stderr).
    fn plan_line(&self, line: &str) {
        if self.request.json {
            self.reporter.note(line);
        } else {
            self.reporter.data(line);
        }
    }

    pub(super) fn dry_run(
        &self,
        subject: Subject,
        candidate: &crate::source::Candidate,
        wanted: Vec<String>,
    ) -> CrateResult {
        use crate::source::Check;
        let bin_dir = self.request.root.join("bin");
        let check = match &candidate.check {
            Check::Sha256 { size, sha256 } => format!("{size} bytes, sha256 {sha256}"),
            Check::Minisign { public_key, .. } | Check::MinisignAt { public_key, .. } => {
                format!("minisign signature by {public_key}")
            }
            Check::Unsigned { .. } => "unsigned: TLS only".into(),
        };
        let bins = if wanted.is_empty() {
            "the binaries at the top of the archive".to_owned()
        } else {
            wanted.join(", ")
        };
        self.plan_line(&format!(
            "would install {subject} prebuilt from {} ({}; {check}) into {}: {bins}",
            candidate.location,
            candidate.origin.as_str(),
            bin_dir.display(),
        ));
        CrateResult {
            paths: paths_of(&bin_dir, &wanted),
            name: subject.name,
            version: Some(subject.version),
            target: Some(subject.target),
            source: Some(Source::Prebuilt),
            origin: Some(candidate.origin),
            signed: candidate.check.is_signed(),
            binaries: wanted,
            ok: true,
            error: None,
            verification_failure: false,
            seconds: 0.0,
        }
    }

    pub(super) fn failure(
        &self,
        name: String,
        version: Option<String>,
        error: CrateError,
    ) -> CrateResult {
        summary::failure(self.reporter, name, version, error)
    }

    /// Phase two for every staged crate: one tracker lock and one tracker write for the whole
    /// batch (two disk flushes instead of two per crate). Binaries of each crate are renamed
    /// into place as it comes; if the tracker cannot be written at the end, every transaction
    /// is dropped and so rolled back: an install cargo does not know about would be a lie.
    pub(super) fn install_all(
        &self,
        staged: Vec<(usize, Box<Staged>)>,
    ) -> Vec<(usize, CrateResult)> {
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
        let waiting = |path: &Path| {
            self.reporter.status(
                "Blocking",
                &format!("waiting for file lock on `{}`", path.display()),
            );
        };
        let mut tracker = match CargoTracker::load_with(&self.request.root, &waiting) {
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
            &self.registry.as_ref().map_or_else(
                || crate::registry::crates::CRATES_IO_SOURCE_ID.to_owned(),
                Registry::source_id,
            ),
        );
        // What was staged: the release's binaries, or those `--bin` asked for.
        let staged_names: Vec<String> = staged.binaries.iter().map(|b| b.name.clone()).collect();
        let bins: BTreeSet<String> = staged_names.iter().cloned().collect();
        if !self.request.force {
            if tracker.bins_of(&id) == bins && bins.iter().all(|b| bin_dir.join(b).is_file()) {
                // Another process installed it while we downloaded.
                return Ok(Placed::Already(self.already(
                    subject.name.clone(),
                    subject.version.clone(),
                    staged_names,
                )));
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
            staged.toolchain.clone(),
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
        let staged_names: Vec<String> = staged.binaries.iter().map(|b| b.name.clone()).collect();
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
        let from = match (staged.origin, staged.signed) {
            (origin, true) => format!("prebuilt from {}", origin.as_str()),
            (origin, false) => format!("prebuilt from {} (unsigned)", origin.as_str()),
        };
        self.reporter.status(
            "Installed",
            &format!(
                "`{} {}` ({from}, {}): {}",
                subject.name,
                subject.version,
                subject.target,
                staged_names.join(", ")
            ),
        );
        CrateResult {
            name: subject.name.clone(),
            version: Some(subject.version.clone()),
            target: Some(subject.target.clone()),
            source: Some(Source::Prebuilt),
            origin: Some(staged.origin),
            signed: staged.signed,
            binaries: staged_names,
            paths: paths.iter().map(|p| p.display().to_string()).collect(),
            ok: true,
            error: None,
            verification_failure: false,
            seconds: 0.0,
        }
    }

    /// `cargo install` for one crate: exactly `version` when the registry resolved one, else
    /// the requirement `req` as given (cargo resolves it).
    pub(super) fn fallback(
        &self,
        env: &Env,
        name: &str,
        version: Option<&str>,
        req: Option<&str>,
        why: &str,
    ) -> CrateResult {
        let command = fallback::cargo_install(
            env.cargo(),
            name,
            req,
            &FallbackOptions {
                root: Some(&self.request.root),
                target: self.request.explicit_target.as_deref(),
                registry_args: &self.request.source.fallback_args,
                bins: &self.request.bins,
                force: self.request.force,
                quiet: self.request.quiet,
                verbose: self.request.verbose,
            },
        );
        let label = match (version, req) {
            (Some(v), _) => format!("{name} {v}"),
            (None, Some(r)) => format!("{name} {r}"),
            (None, None) => name.to_owned(),
        };
        if self.request.dry_run {
            self.plan_line(&format!(
                "would build `{label}` from source ({why}) with `{command}`"
            ));
            return CrateResult {
                name: name.to_owned(),
                version: version.map(str::to_owned),
                target: self.request.explicit_target.clone(),
                source: Some(Source::Fallback),
                origin: Some(Origin::Build),
                signed: false,
                binaries: Vec::new(),
                paths: Vec::new(),
                ok: true,
                error: None,
                verification_failure: false,
                seconds: 0.0,
            };
        }
        self.reporter.status(
            "Building",
            &format!("`{label}` from source: {why} (running `{command}`)"),
        );
        match command.run(name) {
            Ok(()) => {
                let bin_dir = self.request.root.join("bin");
                // cargo chose the version itself when we could not: read it from its tracker.
                let (installed, bins): (Option<String>, Vec<String>) =
                    cargo_tracker::installed_snapshot(&self.request.root)
                        .into_iter()
                        .find(|(id, _)| {
                            id.name() == name
                                && version.is_none_or(|v| id.version().to_string() == v)
                        })
                        .map(|(id, bins)| {
                            (Some(id.version().to_string()), bins.into_iter().collect())
                        })
                        .unwrap_or_default();
                let version = installed.or(version.map(str::to_owned));
                self.reporter.status(
                    "Installed",
                    &format!(
                        "`{name} {}` (built from source): {}",
                        version.as_deref().unwrap_or(""),
                        bins.join(", ")
                    ),
                );
                CrateResult {
                    paths: paths_of(&bin_dir, &bins),
                    name: name.to_owned(),
                    version,
                    target: self.request.explicit_target.clone(),
                    source: Some(Source::Fallback),
                    origin: Some(Origin::Build),
                    signed: false,
                    binaries: bins,
                    ok: true,
                    error: None,
                    verification_failure: false,
                    seconds: 0.0,
                }
            }
            Err(e) => self.failure(name.to_owned(), version.map(str::to_owned), e.into()),
        }
    }
}
