//! A candidate a source has, taken by the driver: `--require-signed` and `--bin` checked, then
//! (unless `--dry-run`, which stops at the candidate) downloaded, verified and unpacked into a
//! staging directory. The same for every source and both ecosystems, so none can skip a check.

use super::{Context, Plan, Staged};
use crate::error::{PackageError, Subject};
use crate::ops::stage;
use crate::source::{Binaries, Candidate, Check};

impl<'a> Context<'a> {
    /// A source has it: check `--bin` and `--require-signed`, then (unless `--dry-run`) fetch,
    /// verify and unpack it. `Err` is why this source cannot serve it after all, when trying
    /// the next one is safe (nothing failed to verify).
    /// `extra` is what the ecosystem records with it in phase two.
    pub fn take<X>(
        &self,
        name: &str,
        version: &str,
        candidate: Candidate,
        extra: X,
    ) -> Result<Plan<X>, String> {
        let origin = candidate.origin;
        let version = version.to_owned();
        if self.request.require_signed && !candidate.check.is_signed() {
            return Err(format!(
                "the {} archive is unsigned and --require-signed refuses it",
                origin.as_str()
            ));
        }
        let subject = Subject {
            name: name.to_owned(),
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
                "`{name} {version}`: prebuilt for {} at {} ({})",
                candidate.target,
                candidate.location,
                origin.as_str()
            ),
        );
        if self.request.run.dry_run {
            return Ok(Plan::DryRun {
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
                    self.request.run.cache_dir.as_deref(),
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
            Ok(Some((dir, binaries))) => Ok(Plan::Staged(Box::new(Staged {
                subject,
                origin,
                signed: candidate.check.is_signed(),
                toolchain: candidate.toolchain,
                binaries,
                extra,
                dir: Some(dir),
            }))),
            Ok(None) => Err(format!(
                "the {} source lists it but its archive is not there",
                origin.as_str()
            )),
            // The archive could not be fetched (not a verification failure): the next source
            // may have it.
            Err(PackageError::FromSource { origin, error })
                if matches!(*error, PackageError::Download { .. }) && !error.is_verification() =>
            {
                // Said once per server: ten crates whose releases are on one unreachable host
                // make one warning. The "no prebuilt" line names the source already.
                let url = candidate.location.to_string();
                let server = crate::download::redirect::origin(&url).unwrap_or(&url);
                self.reporter.warn_once(
                    &format!("{origin} {server}"),
                    &format!("{origin} source: {error}"),
                );
                Err(error.to_string())
            }
            Err(e) => Ok(Plan::Failed {
                name: name.to_owned(),
                version: Some(version),
                error: named_by_source(e, &candidate),
            }),
        }
    }
}

/// An archive refused after it verified, named by the source and URL it came from instead of
/// the staging file it was read from (gone by the time the message is read). Any other error,
/// and a local write failure while unpacking, is kept as it is.
fn named_by_source(error: PackageError, candidate: &Candidate) -> PackageError {
    let (subject, source) = match error {
        PackageError::Unpack { subject, source } if source.archive_problem().is_some() => {
            (subject, source)
        }
        PackageError::FromSource { origin, error } => match *error {
            PackageError::Unpack { subject, source } if source.archive_problem().is_some() => {
                (subject, source)
            }
            error => {
                return PackageError::FromSource {
                    origin,
                    error: Box::new(error),
                };
            }
        },
        other => return other,
    };
    PackageError::ArchiveRefused {
        subject,
        origin: candidate.origin,
        location: candidate.location.to_string(),
        signed: candidate.check.is_signed(),
        source,
    }
}
