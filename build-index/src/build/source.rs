//! Where a built crate came from, for its provenance: the sha256 of the `.crate` the build
//! used (the registry's `cksum`, or what `cargo package` makes of a local directory) and the
//! unpacked source, which holds the license files the archive carries.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::Plan;
use crate::validate;

/// sha256 of the `.crate` that `cargo package` makes of `dir` (the registry's `cksum` for that
/// source); `None` when packaging fails, e.g. offline with unresolved dependencies.
pub(super) fn path_checksum(
    plan: &Plan,
    dir: &Path,
    tmp: &Path,
    log_path: &Path,
) -> Option<String> {
    let target_dir = tmp.join("package-target");
    let log = fs::OpenOptions::new().append(true).open(log_path).ok()?;
    let status = Command::new(&plan.cargo)
        .args(["package", "--no-verify", "--allow-dirty", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env_clear()
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone().ok()?)
        .stderr(log)
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    let crate_file = fs::read_dir(target_dir.join("package"))
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "crate"))?;
    validate::hash_file(&crate_file).ok().map(|(sha, _)| sha)
}

/// The unpacked source dir (for license files) and the sha256 of the downloaded `.crate`.
/// When several registries cached this name and version, the most recently written `.crate`
/// is the one this build just used (or re-used).
pub(super) fn registry_source(
    plan: &Plan,
    name: &str,
    version: &str,
) -> (Option<PathBuf>, Option<String>) {
    let Some(home) = &plan.cargo_home else {
        return (None, None);
    };
    let file_name = format!("{name}-{version}.crate");
    let mut cached: Vec<(std::time::SystemTime, PathBuf)> =
        fs::read_dir(home.join("registry/cache"))
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path().join(&file_name))
            .filter_map(|p| Some((fs::metadata(&p).ok()?.modified().ok()?, p)))
            .collect();
    cached.sort();
    let Some((_, crate_file)) = cached.pop() else {
        return (None, None);
    };
    let checksum = validate::hash_file(&crate_file).ok().map(|(sha, _)| sha);
    let source_dir = crate_file
        .parent()
        .and_then(Path::file_name)
        .map(|registry| {
            home.join("registry/src")
                .join(registry)
                .join(format!("{name}-{version}"))
        })
        .filter(|d| d.is_dir());
    (source_dir, checksum)
}
