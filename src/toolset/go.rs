//! The `[go]` half: resolve Go packages through `gquick`'s own phase one in resolve-only mode
//! (module proxy, then the signed index), and install them from the lock with pinned
//! resolutions (no proxy or index lookup: one request per tool, the archive).

use std::collections::BTreeMap;

use super::ToolsetError;
use super::crates::choose_artifact;
use super::lock::{Artifact, LockedTool, ReadLock};
use super::manifest::{Manifest, Tool};
use crate::cli::go::{GoInstallRequest, GoSpec};
use crate::env::Env;
use crate::error::ExitStatus;
use crate::ops::ecosystem::go::{self as install_go, GoPinned, GoResolved};
use crate::report::Reporter;

/// Resolves the Go `tools` for every target they are wanted on.
pub fn resolve(
    tools: &[&Tool],
    manifest: &Manifest,
    request: &GoInstallRequest,
    reporter: &Reporter,
) -> Result<Vec<LockedTool>, ToolsetError> {
    let mut groups: BTreeMap<Option<String>, Vec<&Tool>> = BTreeMap::new();
    for tool in tools {
        let targets = tool
            .targets
            .clone()
            .unwrap_or_else(|| manifest.targets.clone());
        if targets.is_empty() {
            groups.entry(None).or_default().push(tool);
        }
        for t in targets {
            groups.entry(Some(t)).or_default().push(tool);
        }
    }
    let mut locked: BTreeMap<String, LockedTool> = BTreeMap::new();
    for (target, members) in groups {
        let mut sub = request.clone();
        if let Some(t) = &target {
            sub.run.only_target(t);
        }
        sub.specs = members
            .iter()
            .map(|t| GoSpec {
                package: t.name.clone(),
                query: t.requirement.clone(),
                pinned: None,
            })
            .collect();
        let where_ = target.clone().unwrap_or_else(|| "this host".to_owned());
        for (tool, outcome) in members.iter().zip(install_go::resolve_only(&sub, reporter)) {
            let resolved = outcome.map_err(|e| {
                ToolsetError::unresolved(manifest, tool, &where_, &e, "check the query and GOPROXY")
            })?;
            let (version, module, checksum, artifact, bin) = match resolved {
                GoResolved::Prebuilt {
                    module,
                    version,
                    release,
                    url,
                    bin,
                    key_id,
                } => (
                    version,
                    Some(module),
                    release.provenance.source_checksum.clone(),
                    Artifact {
                        target: release.target.clone(),
                        origin: "index".into(),
                        url: Some(url),
                        size: Some(release.size),
                        sha256: Some(release.sha256.clone()),
                        format: Some(if release.is_bin() { "bin" } else { "tar.gz" }.into()),
                        key_id,
                        // All the archive holds: the unpack allow-list needs them.
                        binaries: release.binaries.clone(),
                    },
                    bin.strip_suffix(".exe").unwrap_or(&bin).to_owned(),
                ),
                GoResolved::Build { version } => (
                    version,
                    None,
                    None,
                    Artifact {
                        target: target
                            .clone()
                            .or_else(|| sub.run.targets.first().cloned())
                            .unwrap_or_default(),
                        origin: "build".into(),
                        url: None,
                        size: None,
                        sha256: None,
                        format: None,
                        key_id: None,
                        binaries: Vec::new(),
                    },
                    crate::index::path::go_command_name(&tool.name).to_owned(),
                ),
            };
            let resolution = LockedTool {
                kind: "go".into(),
                name: tool.name.clone(),
                entry: tool.fingerprint(),
                version,
                module,
                source_checksum: checksum,
                // The one binary `go install` would put in place.
                bin: vec![bin],
                artifacts: vec![artifact],
            };
            ToolsetError::add_resolution(
                &mut locked,
                manifest,
                tool,
                &where_,
                resolution,
                "pin one version with `vX.Y.Z`",
            )?;
        }
    }
    Ok(locked.into_values().collect())
}

/// Installs the lock's Go tools for this host (or `--target`) through `gquick`'s driver with
/// pinned specs; every entry is checked before anything is installed.
pub fn install(
    read: &ReadLock,
    request: &GoInstallRequest,
    env: &Env,
    reporter: &Reporter,
) -> Result<ExitStatus, ToolsetError> {
    let mut specs = Vec::new();
    for tool in read.lock.tools.iter().filter(|t| t.kind == "go") {
        let artifact = choose_artifact(read, tool, &request.run.targets)?;
        let from = format!("{}:{}", read.path.display(), read.line_of_tool(&tool.name));
        let bad = |what: &str| {
            ToolsetError::new(
                format!("{from}: `{}` {what}", tool.name),
                "run `gquick sync` to rewrite the lock",
            )
        };
        let bin = tool
            .bin
            .first()
            .map(|b| crate::install::exe_name(b, &artifact.target))
            .ok_or_else(|| bad("names no binary"))?;
        let release = if artifact.origin == "build" {
            None
        } else {
            Some(
                artifact
                    .release(tool)
                    .ok_or_else(|| bad("lacks a url, size or sha256 for a prebuilt"))?,
            )
        };
        let module = match (&tool.module, &release) {
            (Some(m), _) => m.clone(),
            (None, None) => tool.name.clone(),
            (None, Some(_)) => return Err(bad("lacks its module")),
        };
        specs.push(GoSpec {
            package: tool.name.clone(),
            query: tool.version.clone(),
            pinned: Some(Box::new(GoPinned {
                module,
                version: tool.version.clone(),
                release,
                bin,
                from,
            })),
        });
    }
    if specs.is_empty() {
        return Ok(ExitStatus::Success);
    }
    let mut sub = request.clone();
    sub.specs = specs;
    Ok(install_go::run(&sub, env, reporter))
}
