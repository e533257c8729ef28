//! `gquick list` and `gquick upgrade`: what is in the Go bin directory, read from the build
//! info Go embeds in every binary (no `go` needed), and reinstalling what has a newer version.

use std::path::Path;

use serde::Serialize;

use crate::cli::go::{GoInstallRequest, GoSpec};
use crate::env::Env;
use crate::error::ExitStatus;
use crate::install::go_bin::{self, Listed};
use crate::ops::ecosystem;
use crate::report::Reporter;

/// One binary, as `gquick list --json` prints it.
#[derive(Debug, Serialize)]
pub struct ListEntry {
    pub name: String,
    pub path: String,
    /// The main package it was built from; `null` when it is not a Go binary.
    pub package: Option<String>,
    pub module: Option<String>,
    pub version: Option<String>,
    /// Built with the release index's recipe (and so, installed by gquick from the index).
    pub from_index: bool,
}

fn entry(listed: &Listed) -> ListEntry {
    ListEntry {
        name: listed.name.clone(),
        path: listed.path.display().to_string(),
        package: listed.info.as_ref().map(|i| i.path.clone()),
        module: listed.info.as_ref().map(|i| i.module.clone()),
        version: listed.info.as_ref().map(|i| i.version.clone()),
        from_index: listed.info.as_ref().is_some_and(|i| i.from_index_recipe()),
    }
}

/// `gquick list`: one line (or JSON object) per binary in the bin directory.
pub fn list(bin_dir: &Path, json: bool, reporter: &Reporter) -> ExitStatus {
    let listed = match go_bin::list(bin_dir) {
        Ok(l) => l,
        Err(e) => {
            reporter.error(&e.to_string(), None);
            return ExitStatus::Failure;
        }
    };
    for listed in &listed {
        let e = entry(listed);
        if json {
            reporter.json_value(&e);
        } else {
            match (&e.module, &e.version) {
                (Some(module), Some(version)) => reporter.data(&format!(
                    "{}\t{module}\t{version}\t{}",
                    e.name,
                    if e.from_index { "index" } else { "other" }
                )),
                _ => match &listed.problem {
                    Some(problem) => reporter.data(&format!("{}\t-\t-\t{problem}", e.name)),
                    None => reporter.data(&format!("{}\t-\t-\tnot a Go binary", e.name)),
                },
            }
        }
    }
    ExitStatus::Success
}

/// The `package@latest` specs `gquick upgrade` installs: the named binaries (or all, with
/// `all`) that are Go binaries built from a module.
pub fn upgrade_specs(
    listed: &[Listed],
    names: &[String],
    all: bool,
) -> Result<Vec<GoSpec>, String> {
    let mut specs = Vec::new();
    for name in names {
        if !listed.iter().any(|l| &l.name == name) {
            return Err(format!("`{name}` is not in the Go bin directory"));
        }
    }
    for l in listed {
        if !all && !names.contains(&l.name) {
            continue;
        }
        match &l.info {
            Some(info) if info.version != "(devel)" && !info.module.is_empty() => {
                specs.push(GoSpec {
                    package: info.path.clone(),
                    query: "latest".to_owned(),
                    pinned: None,
                })
            }
            _ if all => {}
            _ => {
                return Err(format!(
                    "`{}` was not built from a Go module version; it cannot be upgraded",
                    l.name
                ));
            }
        }
    }
    Ok(specs)
}

/// `gquick upgrade`: reinstalls each binary whose module has a newer version; the install
/// operation leaves binaries that are already at the newest version alone.
pub fn upgrade(
    request: GoInstallRequest,
    names: &[String],
    all: bool,
    env: &Env,
    reporter: &Reporter,
) -> ExitStatus {
    let listed = match go_bin::list(&request.bin_dir) {
        Ok(l) => l,
        Err(e) => {
            reporter.error(&e.to_string(), None);
            return ExitStatus::Failure;
        }
    };
    let specs = match upgrade_specs(&listed, names, all) {
        Ok(s) => s,
        Err(message) => {
            reporter.error(&message, None);
            return ExitStatus::Usage;
        }
    };
    if specs.is_empty() {
        reporter.status("Finished", "no Go binaries to upgrade");
        return ExitStatus::Success;
    }
    let request = GoInstallRequest { specs, ..request };
    ecosystem::go::run(&request, env, reporter)
}
