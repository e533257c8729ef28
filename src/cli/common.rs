//! The options `cargo quickinstall` and `gquick install`/`upgrade` share ([`CommonOptions`]:
//! target, release index, trusted keys, cache, timeout, output) and how each is completed from
//! the environment. The crate-specific flags are in the parent module, Go's in [`super::go`].

use std::path::PathBuf;

use super::UsageError;
use crate::env::Env;
use crate::index::signature::TrustedKeys;
use crate::target;

/// The project's published release index (GitHub Pages). Self-host one with `build-index`.
pub const DEFAULT_INDEX: &str = "https://quickinstall-dev.github.io/quickinstall/";

/// Options `cargo quickinstall` and `gquick install`/`upgrade` share.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct CommonOptions {
    /// Install the build for this target triple instead of the host's
    #[arg(long, value_name = "TRIPLE")]
    pub target: Option<String>,
    /// Release index (of prebuilt binaries): https://, http://, file:// or a directory [env: QUICKINSTALL_INDEX]
    #[arg(id = "release_index", long = "release-index", value_name = "URL")]
    pub index: Option<String>,
    /// Also trust this minisign public key (base64 line or `.pub` file); repeatable [env: QUICKINSTALL_TRUSTED_KEYS, comma-separated]
    #[arg(long = "trusted-key", value_name = "KEY")]
    pub trusted_keys: Vec<String>,
    /// Also trust index signing keys delegated by this root key (base64 line or `.pub` file); repeatable [env: QUICKINSTALL_TRUSTED_ROOTS, comma-separated]
    #[arg(long = "trusted-root", value_name = "KEY")]
    pub trusted_roots: Vec<String>,
    /// Accept index files whose signature or delegation has expired (an air-gapped mirror that cannot be re-signed) [env: QUICKINSTALL_ALLOW_EXPIRED_INDEX]
    #[arg(long)]
    pub allow_expired_index: bool,
    /// Fail instead of building from source (`cargo install`, `go install`) when no prebuilt exists
    #[arg(long)]
    pub no_fallback: bool,
    /// Reinstall even if already installed, and overwrite binaries of other packages
    #[arg(long, short)]
    pub force: bool,
    /// How many packages to resolve and download at once (mostly waiting on the network, so
    /// more than the cores)
    #[arg(long, short, value_name = "N", default_value_t = crate::download::DEFAULT_PARALLEL)]
    pub jobs: usize,
    /// Print what would be fetched and where it would go; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Print one JSON object per package on stdout
    #[arg(long)]
    pub json: bool,
    /// Print only errors
    #[arg(long, short)]
    pub quiet: bool,
    /// Seconds without progress before a request is abandoned [env: QUICKINSTALL_TIMEOUT] [default: 15]
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Send no anonymous install count. Otherwise each install attempt sends package name,
    /// version, target, outcome and client version (nothing about you or this machine) to
    /// $QUICKINSTALL_STATS_URL [default: `https://stats.quickinstall.dev`]; never in --dry-run or
    /// for private packages. Also off with QUICKINSTALL_NO_TELEMETRY=1 or DO_NOT_TRACK=1
    /// (`--disable-telemetry`: cargo-binstall's spelling)
    #[arg(long, alias = "disable-telemetry")]
    pub no_telemetry: bool,
    /// Keep verified archives here, keyed by sha256, and reuse them (re-verified) instead of
    /// downloading again [env: QUICKINSTALL_CACHE_DIR] [default: the user cache dir's quickinstall/archives]
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Neither read nor fill the archive cache
    #[arg(long, conflicts_with = "cache_dir")]
    pub no_cache: bool,
}

/// How a run goes, whichever ecosystem it installs for: [`CommonOptions`] completed from the
/// environment and validated.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Targets to try, most preferred first.
    pub targets: Vec<String>,
    /// `--target` was given: build for it in a fallback too.
    pub explicit_target: Option<String>,
    /// The release index's URL.
    pub index: String,
    pub keys: TrustedKeys,
    /// Build from source when nothing prebuilt installs.
    pub fallback: bool,
    pub force: bool,
    pub jobs: usize,
    pub dry_run: bool,
    pub json: bool,
    pub quiet: bool,
    pub timeout_secs: u64,
    /// Where the client keeps its own state (rollback protection).
    pub state_dir: PathBuf,
    /// `--no-telemetry` was given.
    pub no_telemetry: bool,
    /// Where verified archives are cached; `None` with `--no-cache`.
    pub cache_dir: Option<PathBuf>,
}

impl RunSettings {
    /// `default_timeout` applies when neither `--timeout` nor `QUICKINSTALL_TIMEOUT` is set.
    pub(crate) fn new(
        options: CommonOptions,
        default_timeout: u64,
        state_dir: PathBuf,
        env: &Env,
    ) -> Result<Self, UsageError> {
        let targets = match &options.target {
            Some(t) if crate::index::format::is_valid_target(t) => vec![t.clone()],
            Some(t) => return Err(UsageError(format!("`{t}` is not a target triple"))),
            None => target::host_targets(),
        };
        Ok(Self {
            targets,
            keys: trusted_keys(&options, env)?,
            cache_dir: cache_dir(&options, env),
            timeout_secs: timeout_secs(options.timeout, default_timeout, env)?,
            index: index_url(options.index, env),
            explicit_target: options.target,
            fallback: !options.no_fallback,
            force: options.force,
            jobs: options.jobs.max(1),
            dry_run: options.dry_run,
            json: options.json,
            quiet: options.quiet,
            state_dir,
            no_telemetry: options.no_telemetry,
        })
    }

    /// The run narrowed to `target`, as if `--target` named it.
    pub fn only_target(&mut self, target: &str) {
        self.targets = vec![target.to_owned()];
        self.explicit_target = Some(target.to_owned());
    }
}

/// The archive cache: `--cache-dir`, else `QUICKINSTALL_CACHE_DIR`, else
/// `quickinstall/archives` in [`Env::cache_home`] (`%LOCALAPPDATA%` on Windows, else
/// `$XDG_CACHE_HOME` or `~/.cache`); none with `--no-cache`.
fn cache_dir(options: &CommonOptions, env: &Env) -> Option<PathBuf> {
    if options.no_cache {
        return None;
    }
    let absolute = |p: PathBuf| {
        if p.is_absolute() {
            p
        } else {
            env.cwd().join(p)
        }
    };
    if let Some(dir) = options.cache_dir.clone() {
        return Some(absolute(dir));
    }
    if let Some(dir) = env.get("QUICKINSTALL_CACHE_DIR") {
        return Some(absolute(PathBuf::from(dir)));
    }
    Some(env.cache_home()?.join("quickinstall").join("archives"))
}

/// The release index: the flag, else `QUICKINSTALL_INDEX`, else the project's.
fn index_url(flag: Option<String>, env: &Env) -> String {
    flag.or_else(|| env.get("QUICKINSTALL_INDEX").map(str::to_owned))
        .unwrap_or_else(|| DEFAULT_INDEX.to_owned())
}

/// The built-in roots plus the roots from `--trusted-root`/`QUICKINSTALL_TRUSTED_ROOTS` and
/// the keys trusted directly from `--trusted-key`/`QUICKINSTALL_TRUSTED_KEYS` (each repeatable
/// and comma-separated; a base64 public key or the path of a `.pub` file), with the index
/// identity, expiry override and test clock from the environment.
fn trusted_keys(options: &CommonOptions, env: &Env) -> Result<TrustedKeys, UsageError> {
    let mut keys = TrustedKeys::builtin();
    for spec in key_specs(&options.trusted_keys, env.list("QUICKINSTALL_TRUSTED_KEYS")) {
        keys.add_text(&key_text(&spec, env)?)
            .map_err(|e| UsageError(e.to_string()))?;
    }
    for spec in key_specs(
        &options.trusted_roots,
        env.list("QUICKINSTALL_TRUSTED_ROOTS"),
    ) {
        keys.add_root_text(&key_text(&spec, env)?)
            .map_err(|e| UsageError(e.to_string()))?;
    }
    if let Some(id) = env.index_id() {
        if !crate::index::delegation::valid_index_id(id) {
            return Err(UsageError(format!(
                "QUICKINSTALL_INDEX_ID=`{id}` is not an index identity (letters, digits, `-`, `_`, `.`, `/`)"
            )));
        }
        keys.set_index_id(id);
    }
    if let Some(now) = env.test_now() {
        keys.set_now(now);
    }
    keys.set_allow_expired(options.allow_expired_index || env.allow_expired_index());
    Ok(keys)
}

fn key_specs(flags: &[String], from_env: Vec<String>) -> Vec<String> {
    flags
        .iter()
        .flat_map(|k| k.split(','))
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
        .chain(from_env)
        .collect()
}

/// A key as given, or the text of the `.pub` file it names.
fn key_text(spec: &str, env: &Env) -> Result<String, UsageError> {
    if spec.ends_with(".pub") || env.cwd().join(spec).is_file() {
        std::fs::read_to_string(env.cwd().join(spec))
            .map_err(|e| UsageError(format!("could not read the public key file `{spec}`: {e}")))
    } else {
        Ok(spec.to_owned())
    }
}

/// Seconds without progress before a request is abandoned: the flag, else
/// `QUICKINSTALL_TIMEOUT`, else `default`; at least 1.
fn timeout_secs(flag: Option<u64>, default: u64, env: &Env) -> Result<u64, UsageError> {
    let secs = match flag {
        Some(t) => t,
        None => match env.get("QUICKINSTALL_TIMEOUT") {
            Some(t) => t.parse().map_err(|_| {
                UsageError(format!(
                    "QUICKINSTALL_TIMEOUT=`{t}` is not a number of seconds"
                ))
            })?,
            None => default,
        },
    };
    Ok(secs.max(1))
}
