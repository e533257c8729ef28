//! `build-index build --go MODULE@VERSION`: one Go module fetched from a module proxy, its
//! commands built statically and reproducibly, packaged and recorded exactly like a crate.
//!
//! The pieces: [`proxy`] (which proxy, fetching the zip), [`modzip`] (safe reading and
//! extraction), [`detect`] (which packages are commands) and [`recipe`] (GOOS/GOARCH, flags,
//! environment). This file is the I/O shell that runs `go`; packing, records, failure
//! classification and the secret scrub are shared with crates ([`crate::build`]).

pub mod cgo;
pub mod detect;
pub mod modzip;
mod names;
pub mod proxy;
pub mod recipe;

pub use names::{binary_names, check_packages, classify, stem};

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use quickinstall::index::format::{PackageKind, Provenance, RECIPE_VERSION};

use self::modzip::{ModZipError, ModuleZip};
use self::proxy::ProxyError;
use crate::build::{BuildEnv, Exit, scrub_env};
use crate::child::{ToolError, tool_output};
use crate::package::{self, PackageError};
use crate::record::{self, BuildFailure, BuildResult, LOG_TAIL_LINES, RECORD_VERSION, Record};
use crate::{history, time, validate};

/// A Go build request, from the command line.
#[derive(Debug, Clone)]
pub struct GoBuildRequest {
    pub module: String,
    pub version: String,
    /// Command packages to build; detected from the zip when empty.
    pub packages: Vec<String>,
    pub target: Option<String>,
    /// `--proxy`: a URL, `file://` URL or directory in the module proxy layout.
    pub proxy: Option<String>,
    pub out: PathBuf,
    /// Kill each `go install` after this long.
    pub timeout: Option<Duration>,
}

/// Why a Go build did not produce a result record.
#[derive(Debug, thiserror::Error)]
pub enum GoBuildError {
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    #[error(transparent)]
    Zip(#[from] ModZipError),
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error("`{target}` is not a target Go builds for here (no GOOS/GOARCH for it)")]
    UnknownTarget { target: String },
    #[error(
        "`go env GOOS GOARCH` printed `{printed}`, which maps to no target triple; pass --target"
    )]
    UnknownHost { printed: String },
    #[error("`{package}` is not a package of module `{module}`")]
    ForeignPackage { package: String, module: String },
    #[error("packages `{first}` and `{second}` would both install as `{name}`")]
    SameName {
        first: String,
        second: String,
        name: String,
    },
    #[error(
        "`{module}@{version}` has no command packages (no `package main` with `func main` outside tests, examples and internal directories); a failure record says so"
    )]
    NoCommands { module: String, version: String },
    #[error("could not run `{program}`: {source}")]
    Spawn { program: String, source: io::Error },
    #[error("`{command}` failed: {detail}")]
    Tool { command: String, detail: String },
    #[error("building `{module} {version}` for `{target}` failed; the log is at `{}`", log.display())]
    Failed {
        module: String,
        version: String,
        target: String,
        log: PathBuf,
    },
    #[error(
        "building `{module} {version}` for `{target}` took longer than {} s and was stopped; the log is at `{}`",
        limit.as_secs_f64(), log.display()
    )]
    TimedOut {
        module: String,
        version: String,
        target: String,
        limit: Duration,
        log: PathBuf,
    },
    #[error(
        "building `{module} {version}` for `{target}` was stopped because build-index received {signal}; nothing was recorded, the log is at `{}`",
        log.display()
    )]
    Cancelled {
        module: String,
        version: String,
        target: String,
        signal: &'static str,
        log: PathBuf,
    },
    #[error(
        "`{module} {version}` needs cgo (a file imports \"C\"), which is built only for Linux targets, not `{target}`; the log is at `{}`",
        log.display()
    )]
    CgoTarget {
        module: String,
        version: String,
        target: String,
        log: PathBuf,
    },
    #[error(
        "`{module} {version}` needs cgo (a file imports \"C\") and no usable zig was found: {hint}; the log is at `{}`",
        log.display(), hint = cgo::ZIG_HINT
    )]
    NoZig {
        module: String,
        version: String,
        log: PathBuf,
    },
    #[error("could not read `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("could not write `{}`: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("could not create a temporary directory: {0}")]
    TempDir(io::Error),
}

/// The facts every step needs.
struct Plan {
    go: OsString,
    env: Vec<(OsString, OsString)>,
    /// What was asked for (GOOS/GOARCH come from it) and what the index entry says.
    goos: &'static str,
    goarch: &'static str,
    target: String,
    toolchain: String,
    /// `go env GOMODCACHE` of the user, shared with the build.
    modcache: Option<OsString>,
}

/// The Go settings of the environment build-index runs in, read as `go env` reads them (the
/// environment, then the go env file), through the client's one reader.
fn go_settings(env: &BuildEnv) -> quickinstall::goenv::GoSettings {
    let cwd = std::env::current_dir().unwrap_or_default();
    let env = quickinstall::env::Env::from_vars(&cwd, env.vars.iter().cloned());
    quickinstall::goenv::GoSettings::read(&env)
}

fn plan(request: &GoBuildRequest, env: &BuildEnv) -> Result<Plan, GoBuildError> {
    let go = env.get("GO").unwrap_or(OsStr::new("go")).to_owned();
    let mut scrubbed = scrub_env(&env.vars);
    // Go refuses GOBIN when cross-compiling, and the build's binaries go to its own GOPATH.
    scrubbed.retain(|(k, _)| k != "GOBIN");
    let toolchain = output_text(&go, &scrubbed, &["version"])?.trim().to_owned();
    let asked = match &request.target {
        Some(t) => t.clone(),
        None => {
            let printed = output_text(&go, &scrubbed, &["env", "GOOS", "GOARCH"])?;
            let mut lines = printed.lines().map(str::trim);
            let pair = (
                lines.next().unwrap_or_default(),
                lines.next().unwrap_or_default(),
            );
            recipe::host_target(pair.0, pair.1)
                .ok_or_else(|| GoBuildError::UnknownHost {
                    printed: printed.split_whitespace().collect::<Vec<_>>().join(" "),
                })?
                .to_owned()
        }
    };
    let (goos, goarch) =
        recipe::goos_goarch(&asked).ok_or_else(|| GoBuildError::UnknownTarget {
            target: asked.clone(),
        })?;
    let modcache = output_text(&go, &scrubbed, &["env", "GOMODCACHE"])
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .map(OsString::from);
    Ok(Plan {
        modcache,
        go,
        env: scrubbed,
        goos,
        goarch,
        target: recipe::index_target(&asked),
        toolchain,
    })
}

/// Runs a short `go` subcommand with the scrubbed environment; its stdout.
fn output_text(
    go: &OsStr,
    env: &[(OsString, OsString)],
    args: &[&str],
) -> Result<String, GoBuildError> {
    let mut command = Command::new(go);
    command
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("GOTOOLCHAIN", "local");
    tool_output(&mut command).map_err(|e| match e {
        ToolError::Spawn(source) => GoBuildError::Spawn {
            program: go.to_string_lossy().into_owned(),
            source,
        },
        ToolError::Failed(detail) => GoBuildError::Tool {
            command: format!("{} {}", go.to_string_lossy(), args.join(" ")),
            detail,
        },
    })
}

/// Fetches, checks, builds and packages the module; writes the archive, the log and the result
/// record into `request.out` and returns the record's path. A failed `go build` (or a module
/// without commands) leaves a failure record and returns the matching error.
pub fn build_go(request: &GoBuildRequest, env: &BuildEnv) -> Result<PathBuf, GoBuildError> {
    check_packages(&request.module, &request.packages)?;
    let plan = plan(request, env)?;
    let (module, version) = (request.module.as_str(), request.version.as_str());
    fs::create_dir_all(&request.out).map_err(|source| GoBuildError::Write {
        path: request.out.clone(),
        source,
    })?;
    let stem = stem(module, version, &plan.target);
    let log_path = request.out.join(format!("{stem}.log"));
    let tmp = tempfile::tempdir().map_err(GoBuildError::TempDir)?;

    let proxy_text = proxy::choose_proxy(request.proxy.as_deref(), &go_settings(env));
    let proxy = proxy::location(&proxy_text)?;
    let zip_path = tmp.path().join("module.zip");
    proxy::fetch_zip(&proxy::fetcher(), &proxy, module, version, &zip_path)?;
    let (zip_sha256, _) = validate::hash_file(&zip_path).map_err(|source| GoBuildError::Read {
        path: zip_path.clone(),
        source,
    })?;
    let mut zip = ModuleZip::open(&zip_path, module, version)?;

    let sources = zip.go_sources()?;
    let uses_cgo = cgo::module_uses_cgo(&sources);
    let packages = if request.packages.is_empty() {
        let found = detect::commands(module, &sources, &zip.files());
        if found.is_empty() {
            let note = format!(
                "build-index: `{module}@{version}` has no command packages; nothing to build\n"
            );
            write_log(&log_path, note.as_bytes())?;
            write_failure(request, &plan, &log_path, Some(history::Reason::Other))?;
            return Err(GoBuildError::NoCommands {
                module: module.to_owned(),
                version: version.to_owned(),
            });
        }
        found
    } else {
        request.packages.clone()
    };
    let names = binary_names(&packages, plan.goos)?;

    let src = tmp.path().join("src");
    fs::create_dir(&src).map_err(|source| GoBuildError::Write {
        path: src.clone(),
        source,
    })?;
    zip.extract(&src)?;
    let bin = tmp.path().join("bin");
    let gopath = tmp.path().join("gopath");
    for d in [&bin, &gopath] {
        fs::create_dir(d).map_err(|source| GoBuildError::Write {
            path: d.clone(),
            source,
        })?;
    }
    write_log(&log_path, b"")?;
    // The module and its dependencies come from the same proxy as the zip when one was named.
    let child_proxy = request.proxy.as_ref().map(|_| proxy::as_goproxy(&proxy));
    let mut vars = recipe::build_vars(plan.goos, plan.goarch, &gopath, child_proxy.as_deref());
    // Keep the user's module cache (the build's own GOPATH would otherwise hold it).
    if let Some(cache) = &plan.modcache {
        vars.push(("GOMODCACHE".into(), cache.clone()));
    }
    let mut built_with_cgo = false;
    for (package, name) in &names {
        let args = recipe::build_args(package, version);
        // Run outside any module: `go install pkg@version` builds the module as published.
        let mut exit = run_go_build(&plan, &args, &vars, tmp.path(), &log_path, request.timeout)?;
        // Static first; cgo only for a module whose sources need it (files of a package that
        // `import "C"` are left out with cgo off, so such a build fails).
        if exit == Exit::Failed && uses_cgo {
            let mut cgo_vars = vars.clone();
            cgo_vars.extend(cgo_build_vars(request, env, &plan, &log_path)?);
            append_log(
                &log_path,
                &format!(
                    "build-index: `{package}` failed with CGO_ENABLED=0 and the module imports \"C\"; building again with cgo and zig\n"
                ),
            )?;
            let args = cgo::build_args(package, version);
            exit = run_go_build(
                &plan,
                &args,
                &cgo_vars,
                tmp.path(),
                &log_path,
                request.timeout,
            )?;
            built_with_cgo |= exit == Exit::Success;
        }
        match exit {
            Exit::Success => {
                move_binary(&gopath, &plan, name, &bin.join(name))?;
            }
            Exit::Failed => {
                write_failure(request, &plan, &log_path, None)?;
                return Err(GoBuildError::Failed {
                    module: module.to_owned(),
                    version: version.to_owned(),
                    target: plan.target,
                    log: log_path,
                });
            }
            Exit::Cancelled(signal) => {
                return Err(cancelled(request, plan.target, signal, log_path));
            }
            Exit::TimedOut(limit) => {
                write_failure(request, &plan, &log_path, Some(history::Reason::Timeout))?;
                return Err(GoBuildError::TimedOut {
                    module: module.to_owned(),
                    version: version.to_owned(),
                    target: plan.target,
                    limit,
                    log: log_path,
                });
            }
        }
    }

    if let Some(signal) = crate::child::cancelled() {
        return Err(cancelled(request, plan.target, signal, log_path));
    }
    let mut entries = package::binaries_in(&bin)?;
    entries.extend(package::license_files_in(&src).unwrap_or_default());
    let archive_name = format!("{stem}.tar.gz");
    let archive = request.out.join(&archive_name);
    let epoch = env_epoch(env);
    package::write_archive(&archive, entries, epoch.unwrap_or(0))?;
    let (sha256, size) = validate::hash_file(&archive).map_err(|source| GoBuildError::Read {
        path: archive.clone(),
        source,
    })?;
    let result = BuildResult {
        v: RECORD_VERSION,
        kind: PackageKind::Go,
        name: module.to_owned(),
        version: version.to_owned(),
        target: plan.target.clone(),
        archive: archive_name,
        sha256,
        size,
        binaries: names.iter().map(|(_, n)| n.clone()).collect(),
        packages: names.iter().map(|(p, n)| (n.clone(), p.clone())).collect(),
        min_glibc: None,
        recipe: RECIPE_VERSION,
        provenance: Provenance {
            source_checksum: Some(zip_sha256),
            built_at: time::rfc3339_utc(epoch.unwrap_or_else(time::now)),
            toolchain: plan.toolchain,
            // Says the binaries link C code (statically, with zig): CGO_ENABLED=1 in their
            // build info is expected.
            extra: if built_with_cgo {
                [("cgo".to_owned(), serde_json::Value::Bool(true))].into()
            } else {
                Default::default()
            },
        },
    };
    let mut sorted = result;
    sorted.binaries.sort();
    Record::Ok(sorted)
        .write(&request.out, &stem)
        .map_err(|(path, source)| GoBuildError::Write { path, source })
}

/// Moves the binary `go install` left under `gopath` to `dest`.
/// The build was stopped from outside: no record (the plan's item counts as missing).
fn cancelled(
    request: &GoBuildRequest,
    target: String,
    signal: &'static str,
    log: PathBuf,
) -> GoBuildError {
    GoBuildError::Cancelled {
        module: request.module.clone(),
        version: request.version.clone(),
        target,
        signal,
        log,
    }
}

fn move_binary(gopath: &Path, plan: &Plan, name: &str, dest: &Path) -> Result<(), GoBuildError> {
    let candidates = recipe::installed_paths(gopath, plan.goos, plan.goarch, name);
    let found = candidates
        .iter()
        .find(|p| p.is_file())
        .ok_or_else(|| GoBuildError::Read {
            path: candidates[1].clone(),
            source: io::Error::new(io::ErrorKind::NotFound, "`go install` left no binary there"),
        })?;
    fs::rename(found, dest).map_err(|source| GoBuildError::Write {
        path: dest.to_owned(),
        source,
    })
}

/// The cgo variables for the plan's target, or (after writing a failure record) why there are
/// none: a target zig does not build for, or no zig.
fn cgo_build_vars(
    request: &GoBuildRequest,
    env: &BuildEnv,
    plan: &Plan,
    log_path: &Path,
) -> Result<Vec<(OsString, OsString)>, GoBuildError> {
    let (module, version) = (request.module.clone(), request.version.clone());
    let Some(triple) = cgo::zig_target(&plan.target) else {
        append_log(
            log_path,
            &format!(
                "build-index: cgo builds are made only for Linux targets, not `{}`\n",
                plan.target
            ),
        )?;
        write_failure(request, plan, log_path, Some(history::Reason::Other))?;
        return Err(GoBuildError::CgoTarget {
            module,
            version,
            target: plan.target.clone(),
            log: log_path.to_owned(),
        });
    };
    let vars = cgo::find_zig(env.get("ZIG"), env.get("PATH"), &plan.env)
        .and_then(|zig| cgo::build_vars(&zig, triple));
    match vars {
        Some(vars) => Ok(vars),
        None => {
            append_log(
                log_path,
                &format!("build-index: no usable zig: {}\n", cgo::ZIG_HINT),
            )?;
            write_failure(request, plan, log_path, Some(history::Reason::Other))?;
            Err(GoBuildError::NoZig {
                module,
                version,
                log: log_path.to_owned(),
            })
        }
    }
}

fn append_log(path: &Path, note: &str) -> Result<(), GoBuildError> {
    use std::io::Write as _;
    File::options()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(note.as_bytes()))
        .map_err(|source| GoBuildError::Write {
            path: path.to_owned(),
            source,
        })
}

fn env_epoch(env: &BuildEnv) -> Option<u64> {
    time::parse_source_date_epoch(env.get("SOURCE_DATE_EPOCH").and_then(OsStr::to_str))
}

fn write_log(path: &Path, bytes: &[u8]) -> Result<(), GoBuildError> {
    fs::write(path, bytes).map_err(|source| GoBuildError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Runs one `go install pkg@version` in `dir` (outside any module), appending its output to the log.
fn run_go_build(
    plan: &Plan,
    args: &[OsString],
    vars: &[(OsString, OsString)],
    src: &Path,
    log_path: &Path,
    timeout: Option<Duration>,
) -> Result<Exit, GoBuildError> {
    let mut command = Command::new(&plan.go);
    command
        .args(args)
        .current_dir(src)
        .env_clear()
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .envs(vars.iter().map(|(k, v)| (k, v)));
    crate::build::run_logged(&mut command, log_path, timeout).map_err(|e| match e {
        Ok(source) => GoBuildError::Write {
            path: log_path.to_owned(),
            source,
        },
        Err(source) => GoBuildError::Spawn {
            program: plan.go.to_string_lossy().into_owned(),
            source,
        },
    })
}

fn write_failure(
    request: &GoBuildRequest,
    plan: &Plan,
    log_path: &Path,
    known: Option<history::Reason>,
) -> Result<(), GoBuildError> {
    let tail = crate::build::read_tail(log_path).map_err(|source| GoBuildError::Read {
        path: log_path.to_owned(),
        source,
    })?;
    let log_tail = record::log_tail(&tail, LOG_TAIL_LINES);
    let reason = known.unwrap_or_else(|| classify(&log_tail));
    let failure = Record::Failed(BuildFailure {
        v: RECORD_VERSION,
        kind: PackageKind::Go,
        name: request.module.clone(),
        version: request.version.clone(),
        target: plan.target.clone(),
        log_tail,
        failed_at: time::rfc3339_utc(time::now()),
        reason,
    });
    failure
        .write(
            &request.out,
            &stem(&request.module, &request.version, &plan.target),
        )
        .map(drop)
        .map_err(|(path, source)| GoBuildError::Write { path, source })
}

#[cfg(test)]
mod tests;
