//! Which target a crate is built for, and with what: the recipe's target choice as pure
//! functions over the host triple and the installed standard libraries.
//!
//! On Linux the default is the static musl build of the host's architecture (what the clients
//! try first), with the host's gnu build as the fallback when the crate cannot build for musl.
//! A target of another architecture or OS is a cross build, linked by zig through
//! `cargo-zigbuild` (rustc's own linker choice, `cc`, only links for the host).

/// What `build-index build` builds for when no `--target` is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetChoice {
    pub target: String,
    /// Tried when the build for `target` fails (or is not static): the host's gnu target.
    pub fallback: Option<String>,
}

/// The musl twin of a Linux gnu triple (`x86_64-unknown-linux-gnu` →
/// `x86_64-unknown-linux-musl`), `None` for anything else.
pub fn musl_of(gnu: &str) -> Option<String> {
    match gnu {
        "x86_64-unknown-linux-gnu" => Some("x86_64-unknown-linux-musl".into()),
        "aarch64-unknown-linux-gnu" => Some("aarch64-unknown-linux-musl".into()),
        _ => None,
    }
}

/// The default target for `host`: its musl twin when that standard library is installed
/// (`musl_installed` is asked about it), then the host itself as the fallback; else the host.
pub fn choose_target(host: &str, musl_installed: impl FnOnce(&str) -> bool) -> TargetChoice {
    match musl_of(host) {
        Some(musl) if musl_installed(&musl) => TargetChoice {
            target: musl,
            fallback: Some(host.to_owned()),
        },
        _ => TargetChoice {
            target: host.to_owned(),
            fallback: None,
        },
    }
}

/// The `host:` line of `rustc -vV`.
pub fn parse_host(rustc_vv: &str) -> Option<String> {
    rustc_vv
        .lines()
        .find_map(|l| l.strip_prefix("host:"))
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// Whether building `target` on `host` needs zig as the linker (`cargo-zigbuild`): another
/// architecture, or another OS. musl on a gnu host of the same architecture links with the
/// host's `cc` (and builds C parts with `musl-gcc`), as rustup's musl target expects.
pub fn is_cross(host: &str, target: &str) -> bool {
    let arch = |t: &str| t.split('-').next().unwrap_or_default().to_owned();
    let os = |t: &str| {
        if t.contains("-linux-") {
            "linux"
        } else if t.contains("-apple-") {
            "apple"
        } else if t.contains("-windows-") {
            "windows"
        } else {
            "other"
        }
    };
    arch(host) != arch(target) || os(host) != os(target)
}

/// Whether the target's binaries must be static to be published as that target: musl
/// binaries are promised to run on any Linux.
pub fn must_be_static(target: &str) -> bool {
    target.contains("-linux-musl")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GNU: &str = "x86_64-unknown-linux-gnu";
    const MUSL: &str = "x86_64-unknown-linux-musl";

    #[test]
    fn linux_hosts_build_musl_first_with_their_gnu_target_as_fallback() {
        let musl = choose_target(GNU, |t| t == MUSL);
        assert_eq!(musl.target, MUSL);
        assert_eq!(musl.fallback.as_deref(), Some(GNU));
        let arm = choose_target("aarch64-unknown-linux-gnu", |_| true);
        assert_eq!(arm.target, "aarch64-unknown-linux-musl");
        assert_eq!(arm.fallback.as_deref(), Some("aarch64-unknown-linux-gnu"));
        // Without musl's std the host's own target, with nothing to fall back to.
        let without = choose_target(GNU, |_| false);
        assert_eq!((without.target.as_str(), without.fallback), (GNU, None));
        let mac = choose_target("aarch64-apple-darwin", |_| true);
        assert_eq!(
            (mac.target.as_str(), mac.fallback),
            ("aarch64-apple-darwin", None)
        );
    }

    #[test]
    fn reads_the_host_from_rustc() {
        let vv = "rustc 1.95.0\nbinary: rustc\nhost: x86_64-unknown-linux-gnu\nrelease: 1.95.0\n";
        assert_eq!(parse_host(vv).as_deref(), Some(GNU));
        assert_eq!(parse_host("rustc 1.95.0"), None);
    }

    #[test]
    fn another_architecture_or_os_is_a_cross_build() {
        assert!(!is_cross(GNU, MUSL));
        assert!(!is_cross(GNU, GNU));
        assert!(is_cross(GNU, "aarch64-unknown-linux-musl"));
        assert!(is_cross(GNU, "x86_64-pc-windows-gnu"));
        assert!(is_cross(GNU, "x86_64-apple-darwin"));
        assert!(is_cross("aarch64-unknown-linux-gnu", MUSL));
        assert!(must_be_static(MUSL) && !must_be_static(GNU));
    }
}
