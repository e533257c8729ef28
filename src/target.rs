//! Which target triples this host can run, in order of preference.
//!
//! Pure functions over host facts (architecture, OS, glibc version); the one I/O helper,
//! [`detect_glibc`], asks `getconf` and is only called when a gnu build with a glibc floor is
//! a candidate. On Linux the static musl build is preferred: it runs everywhere. A gnu build is
//! accepted after it, but only where the host's glibc is at least the build's minimum.

use std::process::Command;

/// The triples to try for a host, most preferred first.
pub fn candidate_targets(arch: &str, os: &str) -> Vec<String> {
    let linux = |musl: &str, gnu: &str| vec![musl.to_owned(), gnu.to_owned()];
    match (os, arch) {
        ("linux", "x86_64") => linux("x86_64-unknown-linux-musl", "x86_64-unknown-linux-gnu"),
        ("linux", "aarch64") => linux("aarch64-unknown-linux-musl", "aarch64-unknown-linux-gnu"),
        ("linux", "riscv64") => linux(
            "riscv64gc-unknown-linux-musl",
            "riscv64gc-unknown-linux-gnu",
        ),
        ("linux", "loongarch64") => linux(
            "loongarch64-unknown-linux-musl",
            "loongarch64-unknown-linux-gnu",
        ),
        ("linux", "x86") => linux("i686-unknown-linux-musl", "i686-unknown-linux-gnu"),
        ("linux", "arm") => linux(
            "armv7-unknown-linux-musleabihf",
            "armv7-unknown-linux-gnueabihf",
        ),
        // Apple silicon runs x86_64 builds under Rosetta 2: a slower build beats compiling.
        ("macos", "aarch64") => vec!["aarch64-apple-darwin".into(), "x86_64-apple-darwin".into()],
        ("macos", "x86_64") => vec!["x86_64-apple-darwin".into()],
        ("windows", "x86_64") => {
            vec![
                "x86_64-pc-windows-msvc".into(),
                "x86_64-pc-windows-gnu".into(),
            ]
        }
        ("windows", "aarch64") => {
            vec![
                "aarch64-pc-windows-msvc".into(),
                "x86_64-pc-windows-msvc".into(),
            ]
        }
        ("freebsd", "x86_64") => vec!["x86_64-unknown-freebsd".into()],
        _ => Vec::new(),
    }
}

/// The candidates for the machine this binary runs on.
pub fn host_targets() -> Vec<String> {
    candidate_targets(std::env::consts::ARCH, std::env::consts::OS)
}

/// Whether a target links against glibc (and so may need a minimum version).
pub fn is_gnu_linux(target: &str) -> bool {
    target.contains("-linux-gnu")
}

/// `"2.36"`, `"glibc 2.36"`, `"2.17.1"` → `(2, 36)`.
pub fn parse_glibc_version(text: &str) -> Option<(u32, u32)> {
    let version = text.split_whitespace().last()?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Whether a build whose floor is `min_glibc` runs on a host with `host_glibc`.
/// No floor (a static build) runs anywhere; a floor with an unknown host glibc (a musl
/// distribution, or detection failed) does not.
pub fn glibc_satisfies(min_glibc: Option<&str>, host_glibc: Option<(u32, u32)>) -> bool {
    match min_glibc {
        None => true,
        Some(min) => match (parse_glibc_version(min), host_glibc) {
            (Some(min), Some(host)) => host >= min,
            _ => false,
        },
    }
}

/// The host's glibc version from `getconf GNU_LIBC_VERSION`, `None` on a non-glibc system.
/// Only Linux has a glibc to ask about: elsewhere (Windows has no `getconf`) it is `None`
/// without running anything.
pub fn detect_glibc() -> Option<(u32, u32)> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let out = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_glibc_version(&String::from_utf8_lossy(&out.stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_prefers_musl_then_gnu() {
        assert_eq!(
            candidate_targets("x86_64", "linux"),
            ["x86_64-unknown-linux-musl", "x86_64-unknown-linux-gnu"]
        );
        assert_eq!(
            candidate_targets("riscv64", "linux")[0],
            "riscv64gc-unknown-linux-musl"
        );
        assert!(candidate_targets("sparc", "plan9").is_empty());
    }

    #[test]
    fn an_aarch64_linux_host_gets_the_aarch64_entries_only() {
        // `std::env::consts::{ARCH, OS}` on an arm64 Linux machine (Graviton, a Pi 4, ubuntu-24.04-arm).
        assert_eq!(
            candidate_targets("aarch64", "linux"),
            ["aarch64-unknown-linux-musl", "aarch64-unknown-linux-gnu"]
        );
        assert_eq!(
            candidate_targets("aarch64", "macos"),
            ["aarch64-apple-darwin", "x86_64-apple-darwin"]
        );
        assert_eq!(
            candidate_targets("x86_64", "windows"),
            ["x86_64-pc-windows-msvc", "x86_64-pc-windows-gnu"]
        );
    }

    #[test]
    fn glibc_floor_is_respected() {
        assert_eq!(parse_glibc_version("glibc 2.36\n"), Some((2, 36)));
        assert_eq!(parse_glibc_version("2.17.1"), Some((2, 17)));
        assert_eq!(parse_glibc_version("musl"), None);
        assert!(glibc_satisfies(None, None));
        assert!(glibc_satisfies(Some("2.17"), Some((2, 36))));
        assert!(glibc_satisfies(Some("2.36"), Some((2, 36))));
        assert!(!glibc_satisfies(Some("2.38"), Some((2, 36))));
        assert!(!glibc_satisfies(Some("2.17"), None));
        // 2.9 is older than 2.17: compare numerically, not as text.
        assert!(glibc_satisfies(Some("2.9"), Some((2, 17))));
    }

    #[test]
    fn detects_this_hosts_glibc_when_it_has_one() {
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert!(detect_glibc().is_some_and(|(major, _)| major == 2));
        }
    }
}
