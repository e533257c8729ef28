//! `build-index build`: one crate built the way `cargo install --locked` would, statically,
//! then packaged with its result (or failure) record.
//!
//! The build runs untrusted code (build scripts, proc macros), so the child cargo gets an
//! environment scrubbed of secrets ([`scrub_env`], in `env`) and writes only to a temp dir and
//! the log; where the source came from (its checksum, its license files) is `source`.
//! The pure recipe (arguments, flags, metadata parsing) is [`crate::recipe`], running the
//! child is [`crate::child`]; the target choice is [`crate::triple`] (musl first, the host's gnu target
//! when musl fails; cross targets through `cargo-zigbuild`), packing is [`crate::package`],
//! glibc and static linkage are [`crate::elf`].

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use quickinstall::index::format::{PackageKind, Provenance, RECIPE_VERSION};
use quickinstall::index::path::is_valid_crate_name;

pub(crate) use crate::child::{Exit, read_tail, run_logged};
use crate::child::{ToolError, tool_output};
use crate::elf::{self, ElfError};
use crate::package::{self, PackageError};
pub use crate::recipe::parse_crate_spec;
use crate::recipe::{install_args, installed_version, package_from_metadata, rustflags};
use crate::record::{self, BuildFailure, BuildResult, LOG_TAIL_LINES, RECORD_VERSION, Record};
use crate::triple::{self, TargetChoice};
use crate::{history, time, validate};

mod env;
mod source;

pub use env::{BuildEnv, scrub_env};
use source::{path_checksum, registry_source};

/// What to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A crate from the registry, at an exact version or the newest.
    Crate {
        name: String,
        version: Option<String>,
    },
    /// A local package directory (holding `Cargo.toml`).
    Path(PathBuf),
}

/// A build request, from the command line.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub source: Source,
    pub target: Option<String>,
    /// A sparse registry URL (`sparse+` is added when missing); crates.io when absent.
    pub registry: Option<String>,
    pub out: PathBuf,
    /// Kill the build (cargo and everything it started) after this long.
    pub timeout: Option<Duration>,
}

/// Why a build did not produce a result record.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("`{spec}` is not `NAME` or `NAME@VERSION` with a valid crate name and exact version")]
    BadSpec { spec: String },
    #[error("could not run `{program}`: {source}")]
    Spawn { program: String, source: io::Error },
    #[error("`{command}` failed: {detail}")]
    Tool { command: String, detail: String },
    #[error("`cargo metadata` for `{}` lists no package with that manifest", manifest.display())]
    NoPackage { manifest: PathBuf },
    #[error("building `{name} {version}` for `{target}` failed; the log is at `{}`", log.display())]
    Failed {
        name: String,
        version: String,
        target: String,
        log: PathBuf,
    },
    #[error(
        "building `{name} {version}` for `{target}` took longer than {} s and was stopped; the log is at `{}`",
        limit.as_secs_f64(), log.display()
    )]
    TimedOut {
        name: String,
        version: String,
        target: String,
        limit: Duration,
        log: PathBuf,
    },
    #[error(
        "building `{name} {version}` for `{target}` was stopped because build-index received {signal}; nothing was recorded, the log is at `{}`",
        log.display()
    )]
    Cancelled {
        name: String,
        version: String,
        target: String,
        signal: &'static str,
        log: PathBuf,
    },
    #[error("cargo installed `{name}` but did not record which version")]
    UnknownVersion { name: String },
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error(transparent)]
    Elf(#[from] ElfError),
    #[error("could not read `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("could not write `{}`: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("could not create a temporary directory: {0}")]
    TempDir(io::Error),
}

/// The facts every build step needs.
#[derive(Clone)]
struct Plan {
    cargo: OsString,
    rustc: OsString,
    /// `cargo-zigbuild` (`CARGO_ZIGBUILD`), which links cross targets with zig.
    zigbuild: OsString,
    env: Vec<(OsString, OsString)>,
    cargo_home: Option<PathBuf>,
    host: String,
    target: String,
    /// The target tried when `target` fails: only for the default target choice.
    fallback: Option<String>,
    toolchain: String,
}

/// Runs the build and writes the archive, the log and the result record into `request.out`;
/// returns the record's path. On a failed cargo run, writes a failure record and returns
/// [`BuildError::Failed`]. Without `--target`, a Linux crate that fails for musl (or builds a
/// binary that is not static) keeps its musl failure record, and is built again for the host's
/// gnu target, whose record (with its `min_glibc`) is the one returned.
pub fn build(request: &BuildRequest, env: &BuildEnv) -> Result<PathBuf, BuildError> {
    let plan = plan(request, env)?;
    match build_for(request, env, &plan) {
        Err(err @ BuildError::Failed { .. }) => match &plan.fallback {
            Some(fallback) => {
                note_fallback(&err, fallback);
                let gnu = Plan {
                    target: fallback.clone(),
                    fallback: None,
                    ..plan
                };
                build_for(request, env, &gnu)
            }
            None => Err(err),
        },
        other => other,
    }
}

#[allow(clippy::print_stderr)] // a progress note of the command, like cargo's
fn note_fallback(err: &BuildError, fallback: &str) {
    eprintln!("note: {err}");
    eprintln!("note: building for `{fallback}` instead (the failure record stays)");
}

fn build_for(request: &BuildRequest, env: &BuildEnv, plan: &Plan) -> Result<PathBuf, BuildError> {
    fs::create_dir_all(&request.out).map_err(|source| BuildError::Write {
        path: request.out.clone(),
        source,
    })?;
    let (name, known_version) = match &request.source {
        Source::Crate { name, version } => (name.clone(), version.clone()),
        Source::Path(dir) => {
            let (n, v) = path_package(plan, dir)?;
            (n, Some(v))
        }
    };
    let shown_version = known_version.as_deref().unwrap_or("unknown").to_owned();
    let log_path = request
        .out
        .join(record::stem(&name, &shown_version, &plan.target) + ".log");
    let tmp = tempfile::tempdir().map_err(BuildError::TempDir)?;
    let root = tmp.path().join("root");

    match run_install(request, plan, tmp.path(), &log_path)? {
        Exit::Success => {}
        Exit::Failed => {
            write_failure(request, plan, &name, &shown_version, &log_path, None)?;
            return Err(BuildError::Failed {
                name,
                version: shown_version,
                target: plan.target.clone(),
                log: log_path,
            });
        }
        Exit::Cancelled(signal) => {
            return Err(BuildError::Cancelled {
                name,
                version: shown_version,
                target: plan.target.clone(),
                signal,
                log: log_path,
            });
        }
        Exit::TimedOut(limit) => {
            let reason = Some(history::Reason::Timeout);
            write_failure(request, plan, &name, &shown_version, &log_path, reason)?;
            return Err(BuildError::TimedOut {
                name,
                version: shown_version,
                target: plan.target.clone(),
                limit,
                log: log_path,
            });
        }
    }
    let version = match known_version {
        Some(v) => v,
        None => {
            let tracker = root.join(".crates2.json");
            let bytes = fs::read(&tracker).map_err(|source| BuildError::Read {
                path: tracker,
                source,
            })?;
            installed_version(&bytes, &name)
                .ok_or_else(|| BuildError::UnknownVersion { name: name.clone() })?
        }
    };
    let stem = record::stem(&name, &version, &plan.target);
    let final_log = request.out.join(format!("{stem}.log"));
    if final_log != log_path {
        fs::rename(&log_path, &final_log).map_err(|source| BuildError::Write {
            path: final_log.clone(),
            source,
        })?;
    }

    let (source_dir, source_checksum) = match &request.source {
        Source::Path(dir) => (
            Some(dir.clone()),
            path_checksum(plan, dir, tmp.path(), &final_log),
        ),
        Source::Crate { .. } => registry_source(plan, &name, &version),
    };

    let binaries = package::binaries_in(&root.join("bin"))?;
    if triple::must_be_static(&plan.target) {
        for binary in &binaries {
            let linkage = elf::linkage_of_file(&binary.source)?;
            if !linkage.is_static() {
                note_not_static(&final_log, &binary.name, &linkage);
                let reason = Some(history::Reason::Other);
                write_failure(request, plan, &name, &version, &final_log, reason)?;
                return Err(BuildError::Failed {
                    name,
                    version,
                    target: plan.target.clone(),
                    log: final_log,
                });
            }
        }
    }
    let min_glibc = if needs_glibc_check(&plan.target) {
        let found = binaries
            .iter()
            .map(|b| elf::min_glibc_of_file(&b.source))
            .collect::<Result<Vec<_>, _>>()?;
        elf::highest(found)
    } else {
        None
    };
    let binary_names = binaries.iter().map(|b| b.name.clone()).collect();
    let mut entries = binaries;
    if let Some(dir) = &source_dir {
        entries.extend(package::license_files_in(dir).unwrap_or_default());
    }
    if let Some(signal) = crate::child::cancelled() {
        return Err(BuildError::Cancelled {
            name,
            version,
            target: plan.target.clone(),
            signal,
            log: final_log,
        });
    }
    let archive_name = format!("{stem}.tar.gz");
    let archive = request.out.join(&archive_name);
    let mtime = env.source_date_epoch().unwrap_or(0);
    package::write_archive(&archive, entries, mtime)?;
    let (sha256, size) = validate::hash_file(&archive).map_err(|source| BuildError::Read {
        path: archive.clone(),
        source,
    })?;

    let result = BuildResult {
        v: RECORD_VERSION,
        kind: PackageKind::Crate,
        name,
        version,
        target: plan.target.clone(),
        archive: archive_name,
        sha256,
        size,
        binaries: binary_names,
        packages: Default::default(),
        min_glibc,
        recipe: RECIPE_VERSION,
        provenance: Provenance {
            source_checksum,
            built_at: time::rfc3339_utc(env.source_date_epoch().unwrap_or_else(time::now)),
            toolchain: plan.toolchain.clone(),
            extra: Default::default(),
        },
    };
    Record::Ok(result)
        .write(&request.out, &stem)
        .map_err(|(path, source)| BuildError::Write { path, source })
}

/// Only ELF `*-gnu*` targets have a glibc requirement (windows-gnu binaries are PE files).
fn needs_glibc_check(target: &str) -> bool {
    target.contains("-gnu") && !target.contains("windows")
}

fn plan(request: &BuildRequest, env: &BuildEnv) -> Result<Plan, BuildError> {
    let mut plan = Plan {
        cargo: env.program("CARGO", "cargo"),
        rustc: env.program("RUSTC", "rustc"),
        zigbuild: env.program("CARGO_ZIGBUILD", "cargo-zigbuild"),
        env: scrub_env(&env.vars),
        cargo_home: env.cargo_home(),
        host: String::new(),
        target: String::new(),
        fallback: None,
        toolchain: String::new(),
    };
    plan.toolchain = output_text(&plan, &plan.rustc, &["-V".into()])?
        .trim()
        .to_owned();
    let vv = output_text(&plan, &plan.rustc, &["-vV".into()])?;
    plan.host = triple::parse_host(&vv).ok_or_else(|| BuildError::Tool {
        command: "rustc -vV".into(),
        detail: "it printed no `host:` line".into(),
    })?;
    let choice = match &request.target {
        Some(t) => TargetChoice {
            target: t.clone(),
            fallback: None,
        },
        None => triple::choose_target(&plan.host, |musl| std_installed(&plan, musl)),
    };
    plan.target = choice.target;
    plan.fallback = choice.fallback;
    Ok(plan)
}

/// Whether rustup installed the standard library for `target`.
fn std_installed(plan: &Plan, target: &str) -> bool {
    let args = [
        "--print".into(),
        "target-libdir".into(),
        "--target".into(),
        target.into(),
    ];
    output_text(plan, &plan.rustc, &args)
        .map(|dir| Path::new(dir.trim()).is_dir())
        .unwrap_or(false)
}

/// Runs a short tool (rustc, cargo metadata) with the scrubbed environment; its stdout.
fn output_text(plan: &Plan, program: &OsStr, args: &[OsString]) -> Result<String, BuildError> {
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(plan.env.iter().map(|(k, v)| (k, v)));
    tool_output(&mut command).map_err(|e| match e {
        ToolError::Spawn(source) => BuildError::Spawn {
            program: program.to_string_lossy().into_owned(),
            source,
        },
        ToolError::Failed(detail) => BuildError::Tool {
            command: shown_command(program, args),
            detail,
        },
    })
}

fn shown_command(program: &OsStr, args: &[OsString]) -> String {
    let mut parts = vec![program.to_string_lossy().into_owned()];
    parts.extend(args.iter().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

fn path_package(plan: &Plan, dir: &Path) -> Result<(String, String), BuildError> {
    let manifest = dir.join("Cargo.toml");
    let args: Vec<OsString> = vec![
        "metadata".into(),
        "--no-deps".into(),
        "--format-version".into(),
        "1".into(),
        "--manifest-path".into(),
        manifest.as_os_str().to_owned(),
    ];
    let json = output_text(plan, &plan.cargo, &args)?;
    package_from_metadata(json.as_bytes(), &manifest)
        .filter(|(n, v)| is_valid_crate_name(n) && semver::Version::parse(v).is_ok())
        .ok_or(BuildError::NoPackage { manifest })
}

/// Runs `cargo install` with its output going to the log, killing it after the timeout.
fn run_install(
    request: &BuildRequest,
    plan: &Plan,
    tmp: &Path,
    log_path: &Path,
) -> Result<Exit, BuildError> {
    // A fresh log for this build (run_logged appends to it).
    File::create(log_path).map_err(|source| BuildError::Write {
        path: log_path.to_owned(),
        source,
    })?;
    // The temp target dir differs per build; generated code (OUT_DIR) lives under it.
    let target_dir = tmp.join("target");
    let mut remaps: Vec<(&Path, &str)> = vec![(&target_dir, "/target")];
    let registry_src = plan.cargo_home.as_ref().map(|h| h.join("registry/src"));
    if let Some(src) = &registry_src {
        remaps.push((src, "/registry"));
    }
    if let Source::Path(dir) = &request.source {
        remaps.push((dir, "/src"));
    }
    let args = install_args(
        &request.source,
        &tmp.join("root"),
        &plan.target,
        request.registry.as_deref(),
    );
    // `cargo-zigbuild install` takes `cargo install`'s arguments and links with zig.
    let program = if triple::is_cross(&plan.host, &plan.target) {
        &plan.zigbuild
    } else {
        &plan.cargo
    };
    let mut command = Command::new(program);
    command
        .args(&args)
        .env_clear()
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("RUSTFLAGS", rustflags(&remaps))
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols");
    run_logged(&mut command, log_path, request.timeout).map_err(|e| match e {
        Ok(source) => BuildError::Write {
            path: log_path.to_owned(),
            source,
        },
        Err(source) => BuildError::Spawn {
            program: program.to_string_lossy().into_owned(),
            source,
        },
    })
}

/// Ends the log with why a musl binary is refused, so the failure record's tail says it.
fn note_not_static(log_path: &Path, binary: &str, linkage: &elf::Linkage) {
    use std::io::Write;
    if let Ok(mut log) = fs::OpenOptions::new().append(true).open(log_path) {
        let _ = writeln!(
            log,
            "build-index: `{binary}` is not static ({}), so it is not published as a musl build",
            linkage.describe()
        );
    }
}

fn write_failure(
    request: &BuildRequest,
    plan: &Plan,
    name: &str,
    version: &str,
    log_path: &Path,
    known_reason: Option<history::Reason>,
) -> Result<(), BuildError> {
    let tail = read_tail(log_path).map_err(|source| BuildError::Read {
        path: log_path.to_owned(),
        source,
    })?;
    let log_tail = record::log_tail(&tail, LOG_TAIL_LINES);
    let reason = known_reason.unwrap_or_else(|| history::classify(&log_tail));
    let failure = Record::Failed(BuildFailure {
        v: RECORD_VERSION,
        kind: PackageKind::Crate,
        name: name.to_owned(),
        version: version.to_owned(),
        target: plan.target.clone(),
        log_tail,
        failed_at: time::rfc3339_utc(time::now()),
        reason,
    });
    failure
        .write(&request.out, &record::stem(name, version, &plan.target))
        .map(drop)
        .map_err(|(path, source)| BuildError::Write { path, source })
}

#[cfg(test)]
mod tests;
