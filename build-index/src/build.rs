//! `build-index build`: one crate built the way `cargo install --locked` would, statically,
//! then packaged with its result (or failure) record.
//!
//! The build runs untrusted code (build scripts, proc macros), so the child cargo gets an
//! environment scrubbed of secrets ([`scrub_env`]) and writes only to a temp dir and the log.
//! The pure recipe (arguments, flags, metadata parsing) is [`crate::recipe`], running the
//! child is [`crate::child`]; the target choice is [`crate::triple`] (musl first, the host's gnu target
//! when musl fails; cross targets through `cargo-zigbuild`), packing is [`crate::package`],
//! glibc and static linkage are [`crate::elf`].

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use quickinstall::index::format::{PackageKind, Provenance, RECIPE_VERSION};
use quickinstall::index::path::is_valid_crate_name;

pub(crate) use crate::child::{Exit, read_tail, run_logged};
use crate::elf::{self, ElfError};
use crate::package::{self, PackageError};
pub use crate::recipe::parse_crate_spec;
use crate::recipe::{install_args, installed_version, package_from_metadata, rustflags};
use crate::record::{self, BuildFailure, BuildResult, LOG_TAIL_LINES, RECORD_VERSION, Record};
use crate::triple::{self, TargetChoice};
use crate::{atomic, history, time, validate};

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

/// The environment the build reads and passes on, as a value so tests can shape it.
#[derive(Debug, Clone, Default)]
pub struct BuildEnv {
    pub vars: Vec<(OsString, OsString)>,
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

impl BuildEnv {
    /// The real process environment (read once, in `main`).
    #[allow(clippy::disallowed_methods)] // this is the one place build-index reads it
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os().collect(),
        }
    }

    fn get(&self, name: &str) -> Option<&OsStr> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_os_str())
            .filter(|v| !v.is_empty())
    }

    fn program(&self, var: &str, default: &str) -> OsString {
        self.get(var).unwrap_or(OsStr::new(default)).to_owned()
    }

    /// `CARGO_HOME`, else `~/.cargo`.
    fn cargo_home(&self) -> Option<PathBuf> {
        self.get("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| self.get("HOME").map(|h| Path::new(h).join(".cargo")))
    }

    fn source_date_epoch(&self) -> Option<u64> {
        time::parse_source_date_epoch(self.get("SOURCE_DATE_EPOCH").and_then(OsStr::to_str))
    }
}

/// Whether a variable must not reach the untrusted build: names containing TOKEN, SECRET,
/// PASSWORD or KEY (any case), `QUICKINSTALL_SIGN*`, and the GitHub Actions credentials.
pub fn is_secret_var(name: &OsStr) -> bool {
    let upper = name.to_string_lossy().to_ascii_uppercase();
    ["TOKEN", "SECRET", "PASSWORD", "KEY"]
        .iter()
        .any(|word| upper.contains(word))
        || upper.starts_with("QUICKINSTALL_SIGN")
        || matches!(
            upper.as_str(),
            "ACTIONS_RUNTIME_TOKEN" | "ACTIONS_ID_TOKEN_REQUEST_URL" | "GITHUB_TOKEN"
        )
        // Not a secret by name, but a handle on the user's SSH keys.
        || upper == "SSH_AUTH_SOCK"
}

/// The environment for the child cargo: every non-secret variable, minus the build settings
/// this recipe decides itself (they are set again by the caller).
pub fn scrub_env(vars: &[(OsString, OsString)]) -> Vec<(OsString, OsString)> {
    const OVERRIDDEN: &[&str] = &[
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_PROFILE_RELEASE_STRIP",
    ];
    vars.iter()
        .filter(|(k, _)| !is_secret_var(k) && !OVERRIDDEN.iter().any(|o| k == o))
        .cloned()
        .collect()
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
    let record_path = request.out.join(format!("{stem}.json"));
    atomic::write(&record_path, &Record::Ok(result).to_bytes()).map_err(|source| {
        BuildError::Write {
            path: record_path.clone(),
            source,
        }
    })?;
    Ok(record_path)
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
    let shown = shown_command(program, args);
    let output = Command::new(program)
        .args(args)
        .env_clear()
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .map_err(|source| BuildError::Spawn {
            program: program.to_string_lossy().into_owned(),
            source,
        })?;
    if !output.status.success() {
        return Err(BuildError::Tool {
            command: shown,
            detail: record::log_tail(&output.stderr, 5),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
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
    let path = request
        .out
        .join(record::stem(name, version, &plan.target) + ".json");
    atomic::write(&path, &failure.to_bytes()).map_err(|source| BuildError::Write { path, source })
}

/// sha256 of the `.crate` that `cargo package` makes of `dir` (the registry's `cksum` for that
/// source); `None` when packaging fails, e.g. offline with unresolved dependencies.
fn path_checksum(plan: &Plan, dir: &Path, tmp: &Path, log_path: &Path) -> Option<String> {
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
fn registry_source(plan: &Plan, name: &str, version: &str) -> (Option<PathBuf>, Option<String>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn os(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn the_child_environment_carries_no_secrets() {
        let vars = os(&[
            ("PATH", "/usr/bin"),
            ("HOME", "/home/u"),
            ("CARGO_REGISTRY_TOKEN", "t"),
            ("aws_secret_access_key", "s"),
            ("DB_PASSWORD", "p"),
            ("SSH_PRIVATE_KEY", "k"),
            ("QUICKINSTALL_SIGNING", "k"),
            ("ACTIONS_RUNTIME_TOKEN", "t"),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", "u"),
            ("GITHUB_TOKEN", "t"),
            ("CARGO_ENCODED_RUSTFLAGS", "-Cfoo"),
            ("RUSTFLAGS", "-Cbar"),
            ("CARGO_HOME", "/home/u/.cargo"),
        ]);
        let kept: Vec<_> = scrub_env(&vars)
            .into_iter()
            .map(|(k, _)| k.into_string().unwrap())
            .collect();
        assert_eq!(kept, ["PATH", "HOME", "CARGO_HOME"]);
    }

    fn test_crate(dir: &Path, main: &str) -> PathBuf {
        let src = dir.join("hello");
        fs::create_dir_all(src.join("src")).unwrap();
        fs::write(
            src.join("Cargo.toml"),
            "[package]\nname = \"hello\"\nversion = \"0.3.1\"\nedition = \"2021\"\n\
             license = \"MIT\"\ndescription = \"test\"\n\n[workspace]\n",
        )
        .unwrap();
        // The build script fails the build if a secret reached it.
        fs::write(
            src.join("build.rs"),
            "fn main() { if std::env::var_os(\"QUICKINSTALL_SIGN_KEY\").is_some() \
             || std::env::var_os(\"MY_API_TOKEN\").is_some() { panic!(\"secret leaked\"); } }\n",
        )
        .unwrap();
        fs::write(src.join("src/main.rs"), main).unwrap();
        fs::write(src.join("LICENSE"), "MIT\n").unwrap();
        src
    }

    fn test_env() -> BuildEnv {
        let mut env = BuildEnv::from_process();
        env.vars.extend(os(&[
            ("CARGO_NET_OFFLINE", "true"),
            ("QUICKINSTALL_SIGN_KEY", "secret"),
            ("MY_API_TOKEN", "secret"),
            ("SOURCE_DATE_EPOCH", "1700000000"),
        ]));
        env
    }

    #[test]
    fn builds_a_local_crate_into_a_static_archive_and_record() {
        let dir = tempfile::tempdir().unwrap();
        let src = test_crate(dir.path(), "fn main() { println!(\"hi\"); }\n");
        let out = dir.path().join("out");
        let request = BuildRequest {
            source: Source::Path(src),
            target: None,
            registry: None,
            out: out.clone(),
            timeout: None,
        };
        let record_path = build(&request, &test_env()).unwrap();
        let bytes = fs::read(&record_path).unwrap();
        let result = record::parse_result(&bytes, &record_path).unwrap();
        assert_eq!(
            (result.name.as_str(), result.version.as_str()),
            ("hello", "0.3.1")
        );
        assert_eq!(result.binaries, ["hello"]);
        assert_eq!(result.provenance.built_at, "2023-11-14T22:13:20Z");
        assert!(result.provenance.toolchain.starts_with("rustc "));
        assert_eq!(
            result.provenance.source_checksum.as_ref().map(String::len),
            Some(64)
        );
        if result.target.contains("linux-gnu") {
            assert_eq!(result.min_glibc, None, "crt-static binaries need no glibc");
        }
        let archive = out.join(&result.archive);
        let facts = validate::inspect(&archive).unwrap();
        validate::check_against(&facts, &result, &archive).unwrap();
        assert!(facts.files.contains_key("LICENSE"));
        assert!(
            out.join(format!("hello-0.3.1-{}.log", result.target))
                .exists()
        );
    }

    #[test]
    fn a_crate_that_fails_for_musl_is_built_for_gnu_and_the_musl_failure_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let src = test_crate(dir.path(), "fn main() { println!(\"hi\"); }\n");
        // A build script that refuses musl, as crates that need glibc-only C code do.
        fs::write(
            src.join("build.rs"),
            "fn main() { if std::env::var(\"TARGET\").unwrap().contains(\"musl\") \
             { panic!(\"this crate needs glibc\"); } }\n",
        )
        .unwrap();
        let out = dir.path().join("out");
        let request = BuildRequest {
            source: Source::Path(src),
            target: None,
            registry: None,
            out: out.clone(),
            timeout: None,
        };
        let env = test_env();
        let plan = plan(&request, &env).unwrap();
        let Some(gnu) = plan.fallback.clone() else {
            // Not a Linux host with musl's std: nothing to fall back from.
            assert!(!plan.target.contains("musl"), "{}", plan.target);
            return;
        };
        let record_path = build(&request, &env).unwrap();
        let bytes = fs::read(&record_path).unwrap();
        let result = record::parse_result(&bytes, &record_path).unwrap();
        assert_eq!(result.target, gnu);
        let musl_record: serde_json::Value = serde_json::from_slice(
            &fs::read(out.join(format!("hello-0.3.1-{}.json", plan.target))).unwrap(),
        )
        .unwrap();
        assert_eq!(musl_record["status"], "failed");
        assert_eq!(musl_record["reason"], "build-script");
        assert!(
            musl_record["log_tail"]
                .as_str()
                .unwrap()
                .contains("this crate needs glibc")
        );
    }

    #[test]
    fn an_explicit_musl_target_has_no_gnu_fallback() {
        let request = BuildRequest {
            source: Source::Path("/nonexistent".into()),
            target: Some("x86_64-unknown-linux-musl".into()),
            registry: None,
            out: "/nonexistent".into(),
            timeout: None,
        };
        let plan = plan(&request, &test_env()).unwrap();
        assert_eq!(plan.target, "x86_64-unknown-linux-musl");
        assert_eq!(plan.fallback, None);
    }

    #[test]
    fn a_failed_build_leaves_a_failure_record_and_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let src = test_crate(dir.path(), "fn main() { this is not rust }\n");
        let out = dir.path().join("out");
        let request = BuildRequest {
            source: Source::Path(src),
            target: None,
            registry: None,
            out: out.clone(),
            timeout: None,
        };
        let err = build(&request, &test_env()).unwrap_err();
        let BuildError::Failed { log, target, .. } = &err else {
            panic!("{err}");
        };
        assert!(err.to_string().contains("`hello 0.3.1`"), "{err}");
        assert!(log.exists());
        let record: serde_json::Value = serde_json::from_slice(
            &fs::read(out.join(format!("hello-0.3.1-{target}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(record["status"], "failed");
        assert_eq!(record["reason"], "compile-error");
        assert!(record["log_tail"].as_str().unwrap().contains("error"));
    }

    #[test]
    fn a_build_that_outlives_its_timeout_is_killed_and_recorded_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let src = test_crate(dir.path(), "fn main() {}\n");
        // A build script that never ends: only the timeout can stop this build.
        fs::write(
            src.join("build.rs"),
            "fn main() { loop { std::thread::sleep(std::time::Duration::from_secs(1)); } }\n",
        )
        .unwrap();
        let out = dir.path().join("out");
        let request = BuildRequest {
            source: Source::Path(src),
            target: None,
            registry: None,
            out: out.clone(),
            timeout: Some(Duration::from_secs(2)),
        };
        let err = build(&request, &test_env()).unwrap_err();
        let BuildError::TimedOut { target, log, .. } = &err else {
            panic!("{err}");
        };
        assert!(err.to_string().contains("longer than 2 s"), "{err}");
        assert!(
            fs::read_to_string(log)
                .unwrap()
                .contains("stopped after 2 s")
        );
        let record: serde_json::Value = serde_json::from_slice(
            &fs::read(out.join(format!("hello-0.3.1-{target}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(record["status"], "failed");
        assert_eq!(record["reason"], "timeout");
    }
}
