//! Where a package's file lives inside the release index.
//!
//! Crates use the crates.io sparse-index layout (`1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd…`) under
//! `crates/`, so a lookup is one small, cacheable request. The same function is used by the writer
//! (`build-index publish`) and the reader, so the two cannot disagree.

use crate::index::format::PackageKind;

/// The relative path (always `/`-separated) of a package's index file, e.g.
/// `crates/ri/pg/ripgrep.json`. Returns `None` for a name that cannot be a package name.
pub fn package_file(kind: PackageKind, name: &str) -> Option<String> {
    match kind {
        PackageKind::Crate => crate_file(name),
    }
}

/// The path of the detached signature that belongs to an index file.
pub fn signature_file(package_file: &str) -> String {
    format!("{package_file}.minisig")
}

/// The path of the *signed bundle*: the detached signature followed by the package file's
/// bytes, in one file. Clients read this one, so a lookup is a single request and can never
/// pair a file with a signature from another publish.
pub fn signed_file(package_file: &str) -> String {
    format!("{package_file}.signed")
}

/// The path, relative to the index root, where `publish` stores an archive.
pub fn archive_file(kind: PackageKind, name: &str, version: &str, target: &str) -> String {
    format!(
        "archives/{}/{name}/{version}/{name}-{version}-{target}.tar.gz",
        kind.dir()
    )
}

fn crate_file(name: &str) -> Option<String> {
    if !is_valid_crate_name(name) {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    let prefix = match lower.len() {
        1 => "1".to_owned(),
        2 => "2".to_owned(),
        3 => format!("3/{}", &lower[..1]),
        _ => format!("{}/{}", &lower[..2], &lower[2..4]),
    };
    Some(format!("crates/{prefix}/{lower}.json"))
}

/// crates.io's rule: ASCII letters, digits, `-` and `_`, starting with a letter, at most 64
/// characters. Checked here so that no name can smuggle `/` or `..` into a path.
pub fn is_valid_crate_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_paths_follow_the_sparse_index_layout() {
        let p = |n| package_file(PackageKind::Crate, n);
        assert_eq!(p("a").as_deref(), Some("crates/1/a.json"));
        assert_eq!(p("ab").as_deref(), Some("crates/2/ab.json"));
        assert_eq!(p("abc").as_deref(), Some("crates/3/a/abc.json"));
        assert_eq!(p("Ripgrep").as_deref(), Some("crates/ri/pg/ripgrep.json"));
        assert_eq!(p("cargo-x").as_deref(), Some("crates/ca/rg/cargo-x.json"));
    }

    #[test]
    fn rejects_names_that_could_escape_the_index() {
        for bad in ["", "../x", "a/b", "1abc", "a.b", &"a".repeat(65)] {
            assert_eq!(package_file(PackageKind::Crate, bad), None, "{bad}");
        }
    }

    #[test]
    fn signature_and_archive_paths() {
        assert_eq!(
            signature_file("crates/2/ab.json"),
            "crates/2/ab.json.minisig"
        );
        assert_eq!(
            archive_file(
                PackageKind::Crate,
                "ab",
                "1.0.0",
                "x86_64-unknown-linux-musl"
            ),
            "archives/crates/ab/1.0.0/ab-1.0.0-x86_64-unknown-linux-musl.tar.gz"
        );
    }
}
