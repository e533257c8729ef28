//! A project's tools, pinned: `quickinstall.toml` (what the project wants) and
//! `quickinstall.lock` (what that resolved to, down to each archive's sha256), like
//! `Cargo.toml`/`Cargo.lock` for tools.
//!
//! - [`manifest`]: read and validate `quickinstall.toml`, with line numbers; find it upward.
//! - [`lock`]: the lock's canonical format, read and written atomically; is it fresh?
//! - [`sync`]: `--sync` and `--update`: resolve what changed, diff against the old lock.
//! - [`crates`] and [`go`]: resolve one ecosystem's tools (through the same phase one as an
//!   install, in resolve-only mode) and install them from the lock (pinned: no lookups).
//!
//! The install itself is the ordinary driver's (`ops::driver`, through `ops::ecosystem::{crates, go}`),
//! handed specs whose resolution is pinned; this module never downloads or installs by itself.

use std::path::{Path, PathBuf};

use clap::Parser;

use crate::cargo_config::CargoConfig;
use crate::cli::go::GoInstallRequest;
use crate::cli::{Args, CommonOptions, InstallRequest, UsageError};
use crate::env::Env;
use crate::error::ExitStatus;
use crate::report::Reporter;

pub mod crates;
pub mod go;
pub mod lock;
pub mod manifest;
pub mod sync;

use lock::{LOCK_NAME, ReadLock};
use manifest::{Kind, Manifest};

/// A mistake in the manifest or the lock, or a tool that could not be resolved: one sentence
/// naming the file and line, and what to do.
#[derive(Debug, Clone)]
pub struct ToolsetError {
    pub message: String,
    pub help: String,
    /// `Verification` when a check failed (exit 3); else `Failure` (exit 1).
    pub status: ExitStatus,
}

impl ToolsetError {
    pub fn new(message: impl Into<String>, help: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            help: help.into(),
            status: ExitStatus::Failure,
        }
    }

    /// Adds one target's resolution of `tool` (a [`lock::LockedTool`] with that target's
    /// artifact) to what `locked` holds of it: a tool resolves to one version on every target,
    /// and two versions are refused with `pin` as the advice.
    pub(crate) fn add_resolution(
        locked: &mut std::collections::BTreeMap<String, lock::LockedTool>,
        manifest: &Manifest,
        tool: &manifest::Tool,
        place: &str,
        resolution: lock::LockedTool,
        pin: &str,
    ) -> Result<(), Self> {
        let Some(entry) = locked.get_mut(&tool.name) else {
            locked.insert(tool.name.clone(), resolution);
            return Ok(());
        };
        if entry.version != resolution.version {
            return Err(Self::new(
                format!(
                    "{}:{}: `{}` resolved to {} for one target and {} for {place}",
                    manifest.path.display(),
                    tool.line,
                    tool.name,
                    entry.version,
                    resolution.version
                ),
                pin,
            ));
        }
        entry.module = entry.module.take().or(resolution.module);
        entry.source_checksum = entry.source_checksum.take().or(resolution.source_checksum);
        entry.artifacts.extend(resolution.artifacts);
        Ok(())
    }

    /// `tool` (at its manifest line) could not be resolved for `place` (a target, or this
    /// host): the install's own error, its advice or `help`, and exit 3 for a verification
    /// failure.
    pub(crate) fn unresolved(
        manifest: &Manifest,
        tool: &manifest::Tool,
        place: &str,
        error: &crate::ops::driver::resolve::ResolveError,
        help: &str,
    ) -> Self {
        Self {
            message: format!(
                "{}:{}: `{}` could not be resolved for {place}: {error}",
                manifest.path.display(),
                tool.line,
                tool.name
            ),
            help: error.hint().unwrap_or_else(|| help.to_owned()),
            status: if error.is_verification() {
                ExitStatus::Verification
            } else {
                ExitStatus::Failure
            },
        }
    }
}

/// What to do with the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `--sync`: resolve what the lock lacks or what changed, write the lock, install.
    Sync,
    /// `--locked-tools`: install exactly what the lock says; no lookups.
    Locked,
    /// `--update [TOOL...]`: re-resolve these (none named: all), rewrite the lock, print the
    /// changes; install nothing.
    Update(Vec<String>),
}

impl Mode {
    /// The mode the flags ask for, if any (clap keeps them exclusive).
    pub fn from_flags(sync: bool, locked: bool, update: Option<Vec<String>>) -> Option<Self> {
        match (sync, locked, update) {
            (_, _, Some(names)) => Some(Self::Update(names)),
            (true, _, None) => Some(Self::Sync),
            (false, true, None) => Some(Self::Locked),
            (false, false, None) => None,
        }
    }
}

/// The two ecosystems' install settings (each built from the same command-line options); an
/// `Err` is reported only if the manifest has a tool of that kind.
pub struct Requests {
    pub crates: Result<InstallRequest, UsageError>,
    pub go: Result<GoInstallRequest, UsageError>,
}

impl Requests {
    /// Both requests from one set of options: `crates` as the caller built it (it has cargo's
    /// configuration), Go's from `common`.
    pub fn new(
        crates: Result<InstallRequest, UsageError>,
        common: CommonOptions,
        env: &Env,
    ) -> Self {
        Self {
            crates,
            go: GoInstallRequest::new(Vec::new(), common, env),
        }
    }

    /// For `gquick sync`: the crates request is built here, as `cargo quickinstall --sync`
    /// with the same options would build it (cargo's configuration included).
    pub fn for_gquick(common: CommonOptions, env: &Env) -> Self {
        let crates = (|| {
            let config = CargoConfig::load(env)
                .map_err(|e| UsageError(format!("{}\nhelp: {}", e.message, e.help)))?;
            let mut args = Args::try_parse_from(["cargo-quickinstall", "--sync"])
                .map_err(|e| UsageError(e.to_string()))?;
            args.common = common.clone();
            InstallRequest::new(args, env, &config)
        })();
        Self::new(crates, common, env)
    }
}

/// Runs `--sync`, `--locked-tools` or `--update` for the manifest `flag` names (else the one
/// found upward from the working directory). Everything the user sees goes through `reporter`.
pub fn run(
    mode: &Mode,
    flag: Option<&Path>,
    requests: &Requests,
    env: &Env,
    reporter: &Reporter,
) -> ExitStatus {
    match run_inner(mode, flag, requests, env, reporter) {
        Ok(status) => status,
        Err(e) => {
            reporter.error(&e.message, Some(&e.help));
            e.status
        }
    }
}

fn run_inner(
    mode: &Mode,
    flag: Option<&Path>,
    requests: &Requests,
    env: &Env,
    reporter: &Reporter,
) -> Result<ExitStatus, ToolsetError> {
    let manifest_path = manifest::find(env.cwd(), flag)?;
    let manifest = Manifest::load(&manifest_path)?;
    let lock_path = lock_path_for(&manifest_path);
    let old = ReadLock::read(&lock_path)?;
    let usage = |e: &UsageError| {
        let (message, help) = e.0.split_once("\nhelp: ").unwrap_or((&e.0, ""));
        ToolsetError {
            message: message.to_owned(),
            help: help.to_owned(),
            status: ExitStatus::Usage,
        }
    };
    let has = |kind| manifest.tools.iter().any(|t| t.kind == kind);
    let crates = has(Kind::Crate)
        .then(|| requests.crates.as_ref().map_err(usage))
        .transpose()?;
    let go = has(Kind::Go)
        .then(|| requests.go.as_ref().map_err(usage))
        .transpose()?;
    let lock = match mode {
        Mode::Locked => {
            let Some(old) = old else {
                return Err(ToolsetError::new(
                    format!(
                        "`{}` has no lock beside it (`{}` does not exist)",
                        manifest_path.display(),
                        lock_path.display()
                    ),
                    "run `cargo quickinstall --sync` to write it, and commit it",
                ));
            };
            old.check_fresh(&manifest)?;
            sync::check_binaries_in_lock(&old)?;
            old
        }
        Mode::Sync | Mode::Update(_) => {
            let update = match mode {
                Mode::Update(names) => Some(names.as_slice()),
                _ => None,
            };
            let new = sync::sync(&manifest, old.as_ref(), update, crates, go, env, reporter)?;
            new.write(&lock_path)?;
            if matches!(mode, Mode::Update(_)) {
                return Ok(ExitStatus::Success);
            }
            ReadLock::read(&lock_path)?.ok_or_else(|| {
                ToolsetError::new(
                    format!("`{}` vanished after it was written", lock_path.display()),
                    "is another process removing it?",
                )
            })?
        }
    };
    let mut status = ExitStatus::Success;
    if let Some(request) = crates {
        status = worse(status, crates::install(&lock, request, env, reporter)?);
    }
    if let Some(request) = go {
        status = worse(status, go::install(&lock, request, env, reporter)?);
    }
    if status == ExitStatus::Verification {
        reporter.note(&format!(
            "`{}` pins each archive's sha256; if it was edited by hand, restore it from version control or run `cargo quickinstall --sync`",
            lock_path.display()
        ));
    }
    Ok(status)
}

/// `quickinstall.lock` beside the manifest.
pub fn lock_path_for(manifest: &Path) -> PathBuf {
    manifest.with_file_name(LOCK_NAME)
}

/// The more serious of two statuses (verification beats failure beats success).
pub fn worse(a: ExitStatus, b: ExitStatus) -> ExitStatus {
    let rank = |s| match s {
        ExitStatus::Success => 0,
        ExitStatus::Failure => 1,
        ExitStatus::Usage => 2,
        ExitStatus::Verification => 3,
    };
    if rank(b) > rank(a) { b } else { a }
}
