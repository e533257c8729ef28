//! `--sync` and `--update`: decide which tools to resolve, merge them with what the old lock
//! already pinned, check the result (no binary provided twice), and say what changed, as
//! `cargo update` does.
//!
//! `--sync` keeps every locked tool whose manifest entry is unchanged (a lock is only rewritten
//! where the manifest moved); `--update` re-resolves the tools named, or all of them.

use std::collections::BTreeMap;

use super::lock::{Artifact, LOCK_VERSION, Lock, LockedTool, ReadLock};
use super::manifest::{Kind, Manifest, Tool};
use super::{ToolsetError, crates, go};
use crate::cli::InstallRequest;
use crate::cli::go::GoInstallRequest;
use crate::report::Reporter;

/// The new lock for `manifest`: the tools `update` names (`Some(&[])`: all) or whose entry
/// changed are resolved; the others are taken from `old`.
pub fn sync(
    manifest: &Manifest,
    old: Option<&ReadLock>,
    update: Option<&[String]>,
    crates_request: Option<&InstallRequest>,
    go_request: Option<&GoInstallRequest>,
    env: &crate::env::Env,
    reporter: &Reporter,
) -> Result<Lock, ToolsetError> {
    if let Some(names) = update {
        for name in names {
            if manifest.tool(name).is_none() {
                return Err(ToolsetError::new(
                    format!("`{name}` is not a tool of `{}`", manifest.path.display()),
                    format!(
                        "the tools are: {}",
                        manifest
                            .tools
                            .iter()
                            .map(|t| format!("`{}`", t.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
    }
    // A lock for other targets pins nothing reusable.
    let reusable = old
        .map(|o| &o.lock)
        .filter(|l| l.targets == manifest.targets);
    let forced = |tool: &Tool| match update {
        Some([]) => true,
        Some(names) => names.contains(&tool.name),
        None => false,
    };
    let mut kept = Vec::new();
    let mut to_resolve: Vec<&Tool> = Vec::new();
    for tool in &manifest.tools {
        let locked = reusable
            .and_then(|l| l.tool(&tool.name))
            .filter(|l| l.entry == tool.fingerprint() && !forced(tool));
        match locked {
            Some(l) => kept.push(l.clone()),
            None => to_resolve.push(tool),
        }
    }
    let crate_tools: Vec<&Tool> = to_resolve
        .iter()
        .copied()
        .filter(|t| t.kind == Kind::Crate)
        .collect();
    let go_tools: Vec<&Tool> = to_resolve
        .iter()
        .copied()
        .filter(|t| t.kind == Kind::Go)
        .collect();
    if !to_resolve.is_empty() {
        reporter.status(
            "Resolving",
            &format!(
                "{} tool{} of `{}`",
                to_resolve.len(),
                if to_resolve.len() == 1 { "" } else { "s" },
                manifest.path.display()
            ),
        );
    }
    if let (false, Some(request)) = (crate_tools.is_empty(), crates_request) {
        kept.extend(crates::resolve(
            &crate_tools,
            manifest,
            request,
            env,
            reporter,
        )?);
    }
    if let (false, Some(request)) = (go_tools.is_empty(), go_request) {
        kept.extend(go::resolve(&go_tools, manifest, request, reporter)?);
    }
    let mut lock = Lock {
        version: LOCK_VERSION,
        manifest_hash: manifest.content_hash(),
        targets: manifest.targets.clone(),
        tools: kept,
    };
    lock.canonicalize();
    if let Some((a, b, bin, target)) = duplicate_binary(&lock) {
        let line = |name: &str| manifest.tool(name).map_or(1, |t| t.line);
        return Err(ToolsetError::new(
            format!(
                "{}:{}: `{b}` and `{a}` (line {}) both provide the binary `{bin}` for {target}",
                manifest.path.display(),
                line(&b),
                line(&a)
            ),
            "keep one of them, or narrow one with `bin = [...]` in its table",
        ));
    }
    report_changes(old.map(|o| &o.lock), &lock, reporter);
    Ok(lock)
}

/// A lock read from disk must not install one binary name twice either.
pub fn check_binaries_in_lock(read: &ReadLock) -> Result<(), ToolsetError> {
    if let Some((a, b, bin, target)) = duplicate_binary(&read.lock) {
        return Err(ToolsetError::new(
            format!(
                "{}:{}: `{b}` and `{a}` (line {}) both provide the binary `{bin}` for {target}",
                read.path.display(),
                read.line_of_tool(&b),
                read.line_of_tool(&a)
            ),
            "keep one of them in quickinstall.toml (or narrow one with `bin = [...]`) and run `cargo quickinstall --sync`",
        ));
    }
    Ok(())
}

/// Two tools installing the same binary name for the same target: (first, second, bin, target).
fn duplicate_binary(lock: &Lock) -> Option<(String, String, String, String)> {
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    for tool in &lock.tools {
        for artifact in &tool.artifacts {
            for bin in installed_binaries(tool, artifact) {
                let key = (artifact.target.clone(), bin.clone());
                if let Some(first) = seen.insert(key, tool.name.clone())
                    && first != tool.name
                {
                    return Some((first, tool.name.clone(), bin, artifact.target.clone()));
                }
            }
        }
    }
    None
}

/// The names a tool's artifact puts into the bin directory (`bin = [...]`, else all it has; a
/// build's are unknown until it is built).
fn installed_binaries(tool: &LockedTool, artifact: &Artifact) -> Vec<String> {
    if tool.bin.is_empty() {
        artifact.binaries.clone()
    } else {
        tool.bin
            .iter()
            .map(|b| crate::install::exe_name(b, &artifact.target))
            .collect()
    }
}

/// `Adding`, `Updating a v1.0.0 -> v1.1.0`, `Removing`, as `cargo update` prints them (Go
/// versions carry their own `v`).
fn report_changes(old: Option<&Lock>, new: &Lock, reporter: &Reporter) {
    let version = |l: Option<&Lock>, name: &str| {
        l.and_then(|l| l.tool(name)).map(|t| {
            if t.version.starts_with('v') {
                t.version.clone()
            } else {
                format!("v{}", t.version)
            }
        })
    };
    let mut changed = 0;
    for tool in &new.tools {
        match version(old, &tool.name) {
            None => {
                let new_version = version(Some(new), &tool.name).unwrap_or_default();
                reporter.status("Adding", &format!("{} {new_version}", tool.name));
                changed += 1;
            }
            Some(v) if version(Some(new), &tool.name).is_some_and(|n| n != v) => {
                let new_version = version(Some(new), &tool.name).unwrap_or_default();
                reporter.status("Updating", &format!("{} {v} -> {new_version}", tool.name));
                changed += 1;
            }
            Some(_) => {}
        }
    }
    for tool in old.map(|l| l.tools.as_slice()).unwrap_or_default() {
        if new.tool(&tool.name).is_none() {
            let old_version = version(old, &tool.name).unwrap_or_default();
            reporter.status("Removing", &format!("{} {old_version}", tool.name));
            changed += 1;
        }
    }
    if changed == 0 {
        reporter.status("Locked", "no tool changed version");
    }
}
