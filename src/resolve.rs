//! Choosing the archive to install from a verified package file (pure).
//!
//! Inputs: the package file, the version the registry resolved, the host's targets in order of
//! preference and a way to learn the host's glibc (asked only when a gnu build with a floor is a
//! candidate). Output: the release to fetch, or why there is none.

use crate::index::format::{PackageFile, Release};
use crate::target;

/// Picks the most preferred target that has a build of `version` this host can run.
pub fn choose_release<'a>(
    file: &'a PackageFile,
    version: &str,
    targets: &[String],
    host_glibc: &mut dyn FnMut() -> Option<(u32, u32)>,
) -> Option<&'a Release> {
    file.releases_for(version, targets)
        .into_iter()
        .find(|release| {
            !target::is_gnu_linux(&release.target)
                || release.min_glibc.is_none()
                || target::glibc_satisfies(release.min_glibc.as_deref(), host_glibc())
        })
}

/// Why a prebuilt may not stand in for the registry's crate.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "the prebuilt was built from a source whose checksum ({built}) differs from the registry's `.crate` ({registry})"
)]
pub struct SourceMismatch {
    pub built: String,
    pub registry: String,
}

/// When both sides know the source checksum, they must agree: the signed entry then proves the
/// binary was built from exactly the `.crate` the registry serves for that version.
pub fn check_source(release: &Release, registry_cksum: Option<&str>) -> Result<(), SourceMismatch> {
    match (
        release.provenance.source_checksum.as_deref(),
        registry_cksum,
    ) {
        (Some(built), Some(registry)) if !built.eq_ignore_ascii_case(registry) => {
            Err(SourceMismatch {
                built: built.to_owned(),
                registry: registry.to_owned(),
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::index::format::{PackageKind, Provenance, RECIPE_VERSION};

    fn release(target: &str, min_glibc: Option<&str>) -> Release {
        Release {
            version: "1.0.0".into(),
            target: target.into(),
            archive: "archives/a.tar.gz".into(),
            sha256: "ab".repeat(32),
            size: 1,
            binaries: vec!["a".into()],
            packages: BTreeMap::new(),
            min_glibc: min_glibc.map(Into::into),
            recipe: RECIPE_VERSION,
            provenance: Provenance {
                source_checksum: Some("cd".repeat(32)),
                built_at: "2026-01-01T00:00:00Z".into(),
                toolchain: "rustc".into(),
                extra: BTreeMap::new(),
            },
            extra: BTreeMap::new(),
        }
    }

    fn targets() -> Vec<String> {
        vec![
            "x86_64-unknown-linux-musl".into(),
            "x86_64-unknown-linux-gnu".into(),
        ]
    }

    #[test]
    fn prefers_musl_and_accepts_gnu_only_on_a_new_enough_glibc() {
        let mut file = PackageFile::new(PackageKind::Crate, "a");
        file.upsert(release("x86_64-unknown-linux-gnu", Some("2.34")));
        let old = choose_release(&file, "1.0.0", &targets(), &mut || Some((2, 31)));
        assert!(old.is_none());
        let new = choose_release(&file, "1.0.0", &targets(), &mut || Some((2, 36)));
        assert_eq!(
            new.map(|r| r.target.as_str()),
            Some("x86_64-unknown-linux-gnu")
        );
        file.upsert(release("x86_64-unknown-linux-musl", None));
        let mut asked = false;
        let musl = choose_release(&file, "1.0.0", &targets(), &mut || {
            asked = true;
            None
        });
        assert_eq!(
            musl.map(|r| r.target.as_str()),
            Some("x86_64-unknown-linux-musl")
        );
        assert!(
            !asked,
            "glibc is only probed when a gnu build with a floor is considered"
        );
    }

    #[test]
    fn static_gnu_builds_need_no_glibc() {
        let mut file = PackageFile::new(PackageKind::Crate, "a");
        file.upsert(release("x86_64-unknown-linux-gnu", None));
        let chosen = choose_release(&file, "1.0.0", &targets(), &mut || None);
        assert!(chosen.is_some());
        assert!(choose_release(&file, "2.0.0", &targets(), &mut || None).is_none());
    }

    #[test]
    fn source_checksums_must_agree_when_both_are_known() {
        let r = release("t-x", None);
        assert!(check_source(&r, None).is_ok());
        assert!(check_source(&r, Some(&"cd".repeat(32))).is_ok());
        assert!(check_source(&r, Some(&"ef".repeat(32))).is_err());
    }
}
