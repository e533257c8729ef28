//! Naming and classifying Go builds, pure: the stem of a build's output files, the binary
//! name of each command package, the `--package` check and the failure reason of a log.

use quickinstall::index::path::{escape_module_path, go_command_name};

use super::{GoBuildError, recipe};
use crate::{history, record};

/// The file stem of a Go build's outputs: the escaped module path with `/` as `+` (which no
/// module path holds, so stems of different modules never collide), version, target.
pub fn stem(module: &str, version: &str, target: &str) -> String {
    record::stem(
        &escape_module_path(module).replace('/', "+"),
        version,
        target,
    )
}

/// The failure reason of a Go log tail: the shared classes first, then a `file.go:line:`
/// diagnostic as a compile error.
pub fn classify(log_tail: &str) -> history::Reason {
    match history::classify(log_tail) {
        history::Reason::Other => {
            let compile = log_tail.lines().any(|l| {
                l.split_once(".go:").is_some_and(|(_, rest)| {
                    rest.split(':')
                        .next()
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                })
            });
            if compile {
                history::Reason::CompileError
            } else {
                history::Reason::Other
            }
        }
        known => known,
    }
}

/// Checks `--package` values: each is the module itself or below it.
pub fn check_packages(module: &str, packages: &[String]) -> Result<(), GoBuildError> {
    match packages.iter().find(|p| {
        *p != module
            && !p
                .strip_prefix(module)
                .is_some_and(|rest| rest.starts_with('/'))
    }) {
        Some(p) => Err(GoBuildError::ForeignPackage {
            package: p.clone(),
            module: module.to_owned(),
        }),
        None => Ok(()),
    }
}

/// Binary name per package (`go install`'s naming), refusing two packages with one name.
pub fn binary_names(
    packages: &[String],
    goos: &str,
) -> Result<Vec<(String, String)>, GoBuildError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for p in packages {
        let name = recipe::binary_name(go_command_name(p), goos);
        if let Some((first, _)) = out.iter().find(|(_, n)| *n == name) {
            return Err(GoBuildError::SameName {
                first: first.clone(),
                second: p.clone(),
                name,
            });
        }
        out.push((p.clone(), name));
    }
    Ok(out)
}
