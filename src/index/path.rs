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
        PackageKind::Go => go_file(name),
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

/// The path, relative to the index root, where `publish` stores an archive. For a Go module
/// the directory is the escaped module path and the file is named after its last element.
pub fn archive_file(kind: PackageKind, name: &str, version: &str, target: &str) -> String {
    match kind {
        PackageKind::Crate => format!(
            "archives/{}/{name}/{version}/{name}-{version}-{target}.tar.gz",
            kind.dir()
        ),
        PackageKind::Go => format!(
            "archives/go/{}/{version}/{}-{version}-{target}.tar.gz",
            escape_module_path(name),
            escape_module_path(go_command_name(name))
        ),
    }
}

/// The name `go install` gives a command built from `package`: its last path element, or the
/// one before when the last is a major-version suffix (`example.com/tool/v2` → `tool`).
pub fn go_command_name(package: &str) -> &str {
    let mut elements = package.rsplit('/');
    let last = elements.next().unwrap_or(package);
    let is_major =
        last.len() > 1 && last.starts_with('v') && last[1..].bytes().all(|b| b.is_ascii_digit());
    match elements.next() {
        Some(previous) if is_major => previous,
        _ => last,
    }
}

fn go_file(module: &str) -> Option<String> {
    is_valid_module_path(module).then(|| format!("go/{}.json", escape_module_path(module)))
}

/// The module proxy's case escaping: every upper-case letter becomes `!` and its lower case
/// (`github.com/BurntSushi/toml` → `github.com/!burnt!sushi/toml`), so paths stay distinct on
/// case-insensitive file systems.
pub fn escape_module_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A Go module path as `go` accepts it, checked here so that none can escape the index:
/// `/`-separated non-empty elements of ASCII letters, digits and `-._~`, none `.` or `..` or
/// starting with a dot, the first containing a dot (a domain), at most 500 bytes.
pub fn is_valid_module_path(path: &str) -> bool {
    let mut elements = path.split('/');
    let first_ok = elements.next().is_some_and(|first| first.contains('.'));
    first_ok
        && path.len() <= 500
        && path.split('/').all(|e| {
            !e.is_empty()
                && !e.starts_with('.')
                && !e.ends_with('.')
                && e.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        })
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
    fn go_module_paths_are_case_escaped() {
        assert_eq!(
            package_file(PackageKind::Go, "github.com/BurntSushi/toml").as_deref(),
            Some("go/github.com/!burnt!sushi/toml.json")
        );
        assert_eq!(
            archive_file(PackageKind::Go, "example.com/Tool/v2", "v2.0.1", "t-x"),
            "archives/go/example.com/!tool/v2/v2.0.1/!tool-v2.0.1-t-x.tar.gz"
        );
        assert_eq!(go_command_name("example.com/tool/v2"), "tool");
        assert_eq!(go_command_name("example.com/cmd/lazygit"), "lazygit");
        assert_eq!(go_command_name("example.com/v2"), "example.com");
        assert_eq!(go_command_name("example.com/tool/v"), "v");
        for bad in [
            "",
            "nodot/x",
            "example.com/../x",
            "example.com//x",
            "/example.com",
            "example.com/.x",
            "example.com/a b",
        ] {
            assert_eq!(package_file(PackageKind::Go, bad), None, "{bad}");
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
