//! The release index as a source: the signed package file (fetched by the driver at the same
//! time as the registry lookup, since neither needs the other) and, once the version is known,
//! the release for this host, whose size and sha256 the driver checks while streaming.

use super::{Answer, Binaries, Candidate, Check, Origin};
use crate::error::{PackageError, Subject};
use crate::index::fetch::IndexError;
use crate::index::fetch::{IndexSource, VerifiedPackage};
use crate::report::Reporter;
use crate::resolve;

/// What every source is asked.
pub struct Query<'a> {
    pub name: &'a str,
    pub version: &'a str,
    /// Targets to try, most preferred first.
    pub targets: &'a [String],
    /// `--target` was given: no glibc second-guessing.
    pub explicit_target: bool,
    /// The registry's `cksum` of the `.crate`, when the registry was asked.
    pub registry_cksum: Option<&'a str>,
}

/// The index's answer for `query`, given what fetching the crate's package file gave.
pub fn answer(
    index: &IndexSource,
    fetched: Result<Option<VerifiedPackage>, IndexError>,
    query: &Query,
    reporter: &Reporter,
    host_glibc: &mut dyn FnMut() -> Option<(u32, u32)>,
) -> Answer {
    let package = match fetched {
        Ok(Some(p)) => p,
        Ok(None) => return Answer::DontHave("it is not in the release index".into()),
        Err(e) if e.is_unreachable() => {
            reporter.warn_once(&format!("index {}", index.base), &e.to_string());
            return Answer::DontHave("the release index could not be reached".into());
        }
        Err(e) => return Answer::Fail(e.into()),
    };
    let chosen = if query.explicit_target {
        package
            .file
            .releases_for(query.version, query.targets)
            .into_iter()
            .next()
    } else {
        resolve::choose_release(&package.file, query.version, query.targets, host_glibc)
    };
    let Some(release) = chosen.cloned() else {
        return Answer::DontHave(format!(
            "the release index has no build of it for {}",
            query.targets.join(", ")
        ));
    };
    if let Err(source) = resolve::check_source(&release, query.registry_cksum) {
        return Answer::Fail(PackageError::Source {
            subject: Box::new(Subject {
                name: query.name.to_owned(),
                version: query.version.to_owned(),
                target: release.target.clone(),
            }),
            source,
        });
    }
    Answer::Have(Box::new(Candidate {
        origin: Origin::Index,
        target: release.target.clone(),
        location: index.archive_location(&release.archive),
        check: Check::Sha256 {
            size: release.size,
            sha256: release.sha256.clone(),
            signed_by: package.key_id.clone(),
        },
        binaries: Binaries::Listed(release.binaries.clone()),
        toolchain: Some(release.provenance.toolchain.clone()),
        release: Some(Box::new(release)),
    }))
}
