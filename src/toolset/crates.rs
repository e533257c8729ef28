//! The `[crates]` half: resolve crate tools through `cargo quickinstall`'s own phase one in
//! resolve-only mode, and install them from the lock with pinned resolutions (no registry,
//! index or pool lookup: one request per tool, the archive).

use std::collections::BTreeMap;

use super::ToolsetError;
use super::lock::{Artifact, LockedTool, ReadLock};
use super::manifest::{Manifest, Tool};
use crate::cli::{CrateSpec, InstallRequest};
use crate::download::Location;
use crate::env::Env;
use crate::error::ExitStatus;
use crate::ops::driver::resolve::Resolved;
use crate::ops::ecosystem::crates::{self as install_crates, Pinned};
use crate::report::Reporter;
use crate::source::{Binaries, Candidate, Check, Origin};

/// One resolve-only run's settings: a target (`None`: the host's, in order), `bin` and
/// `sources`. Tools sharing them are resolved together, `--jobs` at a time.
type Group = (Option<String>, Vec<String>, Option<Vec<String>>);

/// Resolves `tools` for every target they are wanted on.
pub fn resolve(
    tools: &[&Tool],
    manifest: &Manifest,
    request: &InstallRequest,
    env: &crate::env::Env,
    reporter: &Reporter,
) -> Result<Vec<LockedTool>, ToolsetError> {
    let mut groups: BTreeMap<Group, Vec<&Tool>> = BTreeMap::new();
    for tool in tools {
        let targets = tool
            .targets
            .clone()
            .unwrap_or_else(|| manifest.targets.clone());
        let targets: Vec<Option<String>> = if targets.is_empty() {
            vec![None]
        } else {
            targets.into_iter().map(Some).collect()
        };
        for target in targets {
            groups
                .entry((target, tool.bins.clone(), tool.sources.clone()))
                .or_default()
                .push(tool);
        }
    }
    let mut locked: BTreeMap<String, LockedTool> = BTreeMap::new();
    for ((target, bins, sources), members) in groups {
        let mut sub = request.clone();
        sub.bins = bins.clone();
        if let Some(sources) = &sources {
            // Validated with the manifest.
            let list = Origin::parse_list(sources).unwrap_or_default();
            sub.run.fallback = request.run.fallback && list.contains(&Origin::Build);
            sub.sources = list.into_iter().filter(|o| *o != Origin::Build).collect();
        }
        if let Some(t) = &target {
            sub.run.only_target(t);
        }
        sub.crates = members
            .iter()
            .map(|tool| CrateSpec {
                name: tool.name.clone(),
                req: semver::VersionReq::parse(&tool.requirement).ok(),
                req_text: Some(tool.requirement.clone()),
                pinned: None,
            })
            .collect();
        let where_ = target.clone().unwrap_or_else(|| "this host".to_owned());
        for (tool, resolution) in members
            .iter()
            .zip(install_crates::resolve_only(&sub, env, reporter))
        {
            let resolved = resolution.map_err(|e| {
                ToolsetError::unresolved(
                    manifest,
                    tool,
                    &where_,
                    &e,
                    "check the requirement and the sources",
                )
            })?;
            let (version, artifact, checksum) = artifact_of(resolved, target.as_deref(), &sub);
            let resolution = LockedTool {
                kind: "crate".into(),
                name: tool.name.clone(),
                entry: tool.fingerprint(),
                version,
                module: None,
                source_checksum: checksum,
                bin: tool.bins.clone(),
                artifacts: vec![artifact],
            };
            ToolsetError::add_resolution(
                &mut locked,
                manifest,
                tool,
                &where_,
                resolution,
                "pin one version with `=X.Y.Z`",
            )?;
        }
    }
    Ok(locked.into_values().collect())
}

/// The lock's record of one resolution: version, artifact, source checksum.
fn artifact_of(
    resolved: Resolved,
    target: Option<&str>,
    request: &InstallRequest,
) -> (String, Artifact, Option<String>) {
    match resolved {
        Resolved::Prebuilt {
            version,
            candidate,
            size,
            sha256,
            binaries,
            format,
            key_id,
            ..
        } => {
            let checksum = candidate
                .release
                .as_ref()
                .and_then(|r| r.provenance.source_checksum.clone());
            (
                version,
                Artifact {
                    target: candidate.target.clone(),
                    origin: candidate.origin.as_str().to_owned(),
                    url: Some(candidate.location.to_string()),
                    size: Some(size),
                    sha256: Some(sha256),
                    format: Some(format.to_owned()),
                    key_id,
                    binaries,
                },
                checksum,
            )
        }
        Resolved::Build { version } => (
            version,
            Artifact {
                target: target
                    .map(str::to_owned)
                    .or_else(|| request.run.targets.first().cloned())
                    .unwrap_or_default(),
                origin: "build".into(),
                url: None,
                size: None,
                sha256: None,
                format: None,
                key_id: None,
                binaries: Vec::new(),
            },
            None,
        ),
    }
}

/// The artifact of `tool` for this run: `--target`'s, else the first of the host's targets
/// the lock has. `Err` names the lock line and the targets it has.
pub fn choose_artifact<'l>(
    read: &ReadLock,
    tool: &'l LockedTool,
    targets: &[String],
) -> Result<&'l Artifact, ToolsetError> {
    targets
        .iter()
        .find_map(|t| tool.artifacts.iter().find(|a| &a.target == t))
        .ok_or_else(|| {
            ToolsetError::new(
                format!(
                    "{}:{}: `{}` is locked for {} only, not for {}",
                    read.path.display(),
                    read.line_of_tool(&tool.name),
                    tool.name,
                    tool.artifacts
                        .iter()
                        .map(|a| a.target.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    targets.join(" or ")
                ),
                "add this host's target to `targets = [...]` in quickinstall.toml and run `cargo quickinstall --sync`",
            )
        })
}

/// The pinned resolution of a locked artifact: a candidate whose check is the locked size and
/// sha256, or `None` for a build.
pub fn pin(
    read: &ReadLock,
    tool: &LockedTool,
    artifact: &Artifact,
) -> Result<Pinned, ToolsetError> {
    let from = format!("{}:{}", read.path.display(), read.line_of_tool(&tool.name));
    let bad = |what: &str| {
        ToolsetError::new(
            format!("{from}: `{}` {what}", tool.name),
            "run `cargo quickinstall --sync` to rewrite the lock",
        )
    };
    let version = semver::Version::parse(&tool.version).map_err(|e| {
        bad(&format!(
            "has version `{}`, not a version ({e})",
            tool.version
        ))
    })?;
    if artifact.origin == "build" {
        return Ok(Pinned {
            version,
            candidate: None,
            from,
        });
    }
    let origin = match artifact.origin.as_str() {
        "index" => Origin::Index,
        "quickinstall" => Origin::Quickinstall,
        "upstream" => Origin::Upstream,
        other => return Err(bad(&format!("has an unknown origin `{other}`"))),
    };
    let release = artifact
        .release(tool)
        .ok_or_else(|| bad("lacks a url, size or sha256 for a prebuilt"))?;
    let location =
        Location::parse(&release.archive).map_err(|e| bad(&format!("has a bad url: {e}")))?;
    Ok(Pinned {
        version,
        candidate: Some(Candidate {
            origin,
            target: artifact.target.clone(),
            location,
            check: Check::Sha256 {
                size: release.size,
                sha256: release.sha256.clone(),
                signed_by: None,
            },
            binaries: Binaries::Listed(artifact.binaries.clone()),
            toolchain: None,
            release: Some(Box::new(release)),
        }),
        from,
    })
}

/// Installs the lock's crate tools for this host (or `--target`), through the ordinary install
/// driver with pinned specs. Every tool is checked first (a target the lock lacks, a broken
/// entry), so an error leaves nothing installed.
pub fn install(
    read: &ReadLock,
    request: &InstallRequest,
    env: &Env,
    reporter: &Reporter,
) -> Result<ExitStatus, ToolsetError> {
    let mut groups: BTreeMap<Vec<String>, Vec<CrateSpec>> = BTreeMap::new();
    for tool in read.lock.tools.iter().filter(|t| t.kind == "crate") {
        let artifact = choose_artifact(read, tool, &request.run.targets)?;
        let pinned = pin(read, tool, artifact)?;
        groups.entry(tool.bin.clone()).or_default().push(CrateSpec {
            name: tool.name.clone(),
            req: semver::VersionReq::parse(&format!("={}", tool.version)).ok(),
            req_text: Some(format!("={}", tool.version)),
            pinned: Some(Box::new(pinned)),
        });
    }
    let mut status = ExitStatus::Success;
    for (bins, specs) in groups {
        let mut sub = request.clone();
        sub.bins = bins;
        sub.crates = specs;
        status = super::worse(status, install_crates::run(&sub, env, reporter));
    }
    Ok(status)
}
