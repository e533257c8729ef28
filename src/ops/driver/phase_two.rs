//! Phase two, in the order given: move staged binaries into place under the ecosystem's
//! record, build from source where no prebuilt exists, and turn each outcome into a result
//! line (the `Ignored`, `Replaced`, `Installed` and `would install` lines are written here).

use std::sync::Arc;

use super::{Context, Ecosystem, Fallback, Placement, Staged, result};
use crate::error::{PackageError, Subject};
use crate::install::{install_binaries, sync_dir};
use crate::ops::summary;
use crate::report::{PackageResult, Source};
use crate::source::{Candidate, Check, Origin};

impl<'a> Context<'a> {
    /// `name version` is already there: nothing to do.
    pub(super) fn already<E: Ecosystem>(
        &self,
        ecosystem: &E,
        name: String,
        version: String,
        bins: Vec<String>,
    ) -> PackageResult {
        self.reporter.status(
            "Ignored",
            &format!(
                "package `{name} {version}` is already installed{}, use --force to override",
                ecosystem.already_note(&bins)
            ),
        );
        result(
            name,
            Some(version),
            None,
            Source::AlreadyInstalled,
            None,
            &self.request.bin_dir,
            bins,
        )
    }

    /// A `--dry-run` plan line: stdout, unless `--json` keeps stdout for the JSON objects
    /// (then it is a note on stderr).
    fn plan_line(&self, line: &str) {
        if self.request.run.json {
            self.reporter.note(line);
        } else {
            self.reporter.data(line);
        }
    }

    pub(super) fn dry_run(
        &self,
        subject: Subject,
        candidate: &Candidate,
        wanted: Vec<String>,
    ) -> PackageResult {
        let bin_dir = &self.request.bin_dir;
        let check = match &candidate.check {
            Check::Sha256 { size, sha256, .. } => format!("{size} bytes, sha256 {sha256}"),
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
        let mut r = result(
            subject.name,
            Some(subject.version),
            Some(subject.target),
            Source::Prebuilt,
            Some(candidate.origin),
            bin_dir,
            wanted,
        );
        r.signed = candidate.check.is_signed();
        r
    }

    pub(super) fn failure(
        &self,
        name: String,
        version: Option<String>,
        error: PackageError,
    ) -> PackageResult {
        summary::failure(self.reporter, name, version, error)
    }

    /// Phase two for every staged package: one record opened and written once for the whole
    /// batch (for cargo, two disk flushes instead of two per crate). Binaries of each package
    /// are renamed into place as it comes, the bin directory flushed once for all of them
    /// before the record is written and once after; if the record cannot be written, every
    /// transaction is dropped and so rolled back: an install the record does not know about
    /// would be a lie.
    pub(super) fn install_all<E: Ecosystem>(
        &self,
        ecosystem: &E,
        mut staged: Vec<(usize, Box<Staged<E::Extra>>)>,
    ) -> Vec<(usize, PackageResult)> {
        if staged.is_empty() {
            return Vec::new();
        }
        // Held here until every binary is placed (moved out of them), then removed on another
        // thread while the record is written: one directory removal per package.
        let staging_dirs: Vec<_> = staged
            .iter_mut()
            .filter_map(|(_, s)| s.dir.take())
            .collect();
        let fail = |s: &Staged<E::Extra>, error: PackageError| {
            let subject = &s.subject;
            self.failure(subject.name.clone(), Some(subject.version.clone()), error)
        };
        let fail_all = |error: &dyn Fn() -> PackageError| {
            staged.iter().map(|(i, s)| (*i, fail(s, error()))).collect()
        };
        let bin_dir = &self.request.bin_dir;
        // The bin directory first: if it cannot be made, fail before the record is created,
        // so a failed install leaves the disk as it was.
        if let Err(e) = std::fs::create_dir_all(bin_dir) {
            return fail_all(&|| PackageError::Prepare {
                path: bin_dir.clone(),
                source: std::io::Error::new(e.kind(), e.to_string()),
            });
        }
        let mut record = match ecosystem.open_record() {
            Ok(r) => r,
            Err(e) => return fail_all(&|| PackageError::Tracker(e.clone())),
        };
        let mut results = Vec::new();
        let mut placed = Vec::new();
        for (i, s) in &staged {
            let placement = ecosystem.check(&mut record, s).and_then(|p| match p {
                Placement::Already => Ok(None),
                Placement::New { replaces } => {
                    let transaction = install_binaries(&s.binaries, bin_dir).map_err(|source| {
                        PackageError::Install {
                            subject: Box::new(s.subject.clone()),
                            source,
                        }
                    })?;
                    ecosystem.mark(&mut record, s);
                    Ok(Some((transaction, replaces)))
                }
            });
            match placement {
                // Another process installed it while we downloaded.
                Ok(None) => {
                    let names = s.binaries.iter().map(|b| b.name.clone()).collect();
                    let subject = &s.subject;
                    results.push((
                        *i,
                        self.already(
                            ecosystem,
                            subject.name.clone(),
                            subject.version.clone(),
                            names,
                        ),
                    ));
                }
                Ok(Some((transaction, replaces))) => placed.push((*i, s, transaction, replaces)),
                Err(error) => results.push((*i, fail(s, error))),
            }
        }
        let cleanup = std::thread::spawn(move || drop(staging_dirs));
        // Every rename flushed at once, before the record says they happened.
        sync_dir(bin_dir);
        if let Err(e) = ecosystem.save(record, !placed.is_empty()) {
            for (i, s, transaction, _) in placed {
                drop(transaction);
                results.push((i, fail(s, PackageError::Tracker(Arc::clone(&e)))));
            }
            let _ = cleanup.join();
            return results;
        }
        let committed: Vec<_> = placed
            .into_iter()
            .map(|(i, s, transaction, replaces)| (i, s, transaction.commit(), replaces))
            .collect();
        sync_dir(bin_dir);
        for (i, s, paths, replaces) in committed {
            let mut r = self.installed(s, replaces);
            r.paths = paths.iter().map(|p| p.display().to_string()).collect();
            results.push((i, r));
        }
        let _ = cleanup.join();
        results
    }

    fn installed<X>(&self, staged: &Staged<X>, replaces: Vec<String>) -> PackageResult {
        let subject = &staged.subject;
        let names: Vec<String> = staged.binaries.iter().map(|b| b.name.clone()).collect();
        for old in replaces {
            self.reporter
                .status("Replaced", &format!("`{old}` with `{}`", subject.version));
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
                names.join(", ")
            ),
        );
        let mut r = result(
            subject.name.clone(),
            Some(subject.version.clone()),
            Some(subject.target.clone()),
            Source::Prebuilt,
            Some(staged.origin),
            &self.request.bin_dir,
            names,
        );
        r.signed = staged.signed;
        r
    }

    /// A build from source for one package, announced (`--dry-run`: only said).
    pub(super) fn fallback<E: Ecosystem>(
        &self,
        ecosystem: &E,
        fallback: &Fallback,
    ) -> PackageResult {
        let (command, label) = ecosystem.fallback_command(fallback);
        let why = &fallback.why;
        let done = |built: bool| {
            let outcome = ecosystem.fallback_outcome(fallback, built);
            (
                outcome.shown.clone(),
                result(
                    fallback.name.clone(),
                    outcome.version,
                    outcome.target,
                    Source::Fallback,
                    Some(Origin::Build),
                    &self.request.bin_dir,
                    outcome.bins,
                ),
            )
        };
        // A short headline, what each source answered one line each, then the command.
        let (headline, details) = (&why.headline, why.details());
        if self.request.run.dry_run {
            self.plan_line(&format!(
                "would build `{label}` from source ({headline}) with `{command}`{details}"
            ));
            return done(false).1;
        }
        self.reporter.status(
            "Building",
            &format!("`{label}` from source: {headline}{details}"),
        );
        self.reporter.status("Running", &format!("`{command}`"));
        match command.run(&fallback.name) {
            Ok(()) => {
                let (shown, r) = done(true);
                self.reporter.status(
                    "Installed",
                    &format!("`{shown}` (built from source): {}", r.binaries.join(", ")),
                );
                r
            }
            Err(e) => self.failure(fallback.name.clone(), fallback.version.clone(), e.into()),
        }
    }
}
