//! The crate build recipe as data: the `cargo install` arguments and `RUSTFLAGS` of a build,
//! the `NAME@VERSION` spec, and what `cargo metadata` and cargo's install tracker say. Pure:
//! [`crate::build`] runs the processes.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use quickinstall::index::path::is_valid_crate_name;
use serde::Deserialize;

use crate::build::{BuildError, Source};

/// `NAME` or `NAME@VERSION` (an exact semver version; a leading `=` is accepted).
pub fn parse_crate_spec(spec: &str) -> Result<(String, Option<String>), BuildError> {
    let bad = || BuildError::BadSpec {
        spec: spec.to_owned(),
    };
    let (name, version) = match spec.split_once('@') {
        Some((n, v)) => {
            let v = v.strip_prefix('=').unwrap_or(v);
            semver::Version::parse(v).map_err(|_| bad())?;
            (n, Some(v.to_owned()))
        }
        None => (spec, None),
    };
    if !is_valid_crate_name(name) {
        return Err(bad());
    }
    Ok((name.to_owned(), version))
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<MetadataPackage>,
}

#[derive(Deserialize)]
struct MetadataPackage {
    name: String,
    version: String,
    manifest_path: PathBuf,
}

/// Name and version of the package whose manifest is `manifest`, from `cargo metadata` JSON.
pub fn package_from_metadata(json: &[u8], manifest: &Path) -> Option<(String, String)> {
    let metadata: Metadata = serde_json::from_slice(json).ok()?;
    let wanted = manifest
        .canonicalize()
        .unwrap_or_else(|_| manifest.to_owned());
    metadata
        .packages
        .into_iter()
        .find(|p| p.manifest_path == wanted || p.manifest_path == manifest)
        .map(|p| (p.name, p.version))
}

/// The version cargo recorded for `name` in `<root>/.crates2.json` (keys look like
/// `"ripgrep 14.1.0 (registry+https://…)"`).
pub fn installed_version(crates2: &[u8], name: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Tracker {
        installs: serde_json::Map<String, serde_json::Value>,
    }
    let tracker: Tracker = serde_json::from_slice(crates2).ok()?;
    tracker.installs.keys().find_map(|key| {
        let mut parts = key.split(' ');
        (parts.next() == Some(name))
            .then(|| parts.next())
            .flatten()
            .filter(|v| semver::Version::parse(v).is_ok())
            .map(str::to_owned)
    })
}

/// The `cargo install` arguments of the recipe (the program itself excluded).
pub fn install_args(
    source: &Source,
    root: &Path,
    target: &str,
    registry: Option<&str>,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["install".into(), "--locked".into()];
    // Without a version we need cargo's tracker to learn which version it picked.
    let track = matches!(source, Source::Crate { version: None, .. });
    if !track {
        args.push("--no-track".into());
    }
    args.extend(["--root".into(), root.as_os_str().to_owned()]);
    args.extend(["--target".into(), target.into()]);
    match source {
        Source::Path(dir) => args.extend(["--path".into(), dir.as_os_str().to_owned()]),
        Source::Crate { name, version } => {
            args.push(name.into());
            if let Some(v) = version {
                args.extend(["--version".into(), format!("={v}").into()]);
            }
        }
    }
    if let Some(url) = registry {
        let url = if url.starts_with("sparse+") {
            url.to_owned()
        } else {
            format!("sparse+{url}")
        };
        args.extend(["--index".into(), url.into()]);
    }
    args
}

/// The `RUSTFLAGS` of the recipe: static CRT, and source paths remapped so the binary does not
/// embed the build machine's directories. RUSTFLAGS is split on whitespace, so a path holding
/// whitespace is not remapped rather than breaking the flags.
pub fn rustflags(remaps: &[(&Path, &str)]) -> String {
    let mut flags = vec!["-C target-feature=+crt-static".to_owned()];
    for (from, to) in remaps {
        let from = from.to_string_lossy();
        if !from.chars().any(char::is_whitespace) {
            flags.push(format!("--remap-path-prefix={from}={to}"));
        }
    }
    flags.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GNU: &str = "x86_64-unknown-linux-gnu";

    #[test]
    fn crate_specs_need_a_valid_name_and_an_exact_version() {
        assert_eq!(
            parse_crate_spec("ripgrep").unwrap(),
            ("ripgrep".into(), None)
        );
        assert_eq!(
            parse_crate_spec("ripgrep@=14.1.0").unwrap(),
            ("ripgrep".into(), Some("14.1.0".into()))
        );
        for bad in ["ripgrep@^14", "../x@1.0.0", "", "rg@latest"] {
            assert!(parse_crate_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn install_args_follow_the_recipe() {
        let root = Path::new("/t/root");
        let args = |s: &Source, r| {
            install_args(s, root, GNU, r)
                .into_iter()
                .map(|a| a.into_string().unwrap())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let exact = Source::Crate {
            name: "rg".into(),
            version: Some("1.0.0".into()),
        };
        assert_eq!(
            args(&exact, Some("http://127.0.0.1:1/index/")),
            "install --locked --no-track --root /t/root --target x86_64-unknown-linux-gnu \
             rg --version =1.0.0 --index sparse+http://127.0.0.1:1/index/"
        );
        let newest = Source::Crate {
            name: "rg".into(),
            version: None,
        };
        assert_eq!(
            args(&newest, None),
            "install --locked --root /t/root --target x86_64-unknown-linux-gnu rg"
        );
        assert_eq!(
            args(&Source::Path("/src/x".into()), None),
            "install --locked --no-track --root /t/root --target x86_64-unknown-linux-gnu --path /src/x"
        );
    }

    #[test]
    fn rustflags_are_static_and_remap_paths_without_whitespace() {
        let flags = rustflags(&[
            (Path::new("/a/src"), "/src"),
            (Path::new("/with space"), "/x"),
        ]);
        assert_eq!(
            flags,
            "-C target-feature=+crt-static --remap-path-prefix=/a/src=/src"
        );
    }

    #[test]
    fn reads_metadata_and_the_install_tracker() {
        let json = br#"{"packages":[
            {"name":"other","version":"0.1.0","manifest_path":"/w/other/Cargo.toml"},
            {"name":"hello","version":"1.2.3","manifest_path":"/w/hello/Cargo.toml"}]}"#;
        assert_eq!(
            package_from_metadata(json, Path::new("/w/hello/Cargo.toml")),
            Some(("hello".into(), "1.2.3".into()))
        );
        assert_eq!(
            package_from_metadata(json, Path::new("/w/none/Cargo.toml")),
            None
        );
        let tracker = br#"{"installs":{"hello 1.2.3 (registry+https://github.com/rust-lang/crates.io-index)":{}}}"#;
        assert_eq!(
            installed_version(tracker, "hello").as_deref(),
            Some("1.2.3")
        );
        assert_eq!(installed_version(tracker, "hell"), None);
    }
}
