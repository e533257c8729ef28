//! Command-line arguments of `cargo quickinstall` (here) and `gquick` ([`go`]), turned into
//! typed requests.
//!
//! clap parses; [`InstallRequest::new`] fills what flags left open from the environment (through
//! [`Env`], never the process) and validates. The options both clients share, and how they are
//! completed, are in `common` ([`CommonOptions`]). No I/O here but reading a `.pub` key file
//! named on the command line.

use std::path::PathBuf;

use clap::Parser;
use semver::VersionReq;

use crate::cargo_config::CargoConfig;
use crate::cargo_config::source::Requested;
use crate::env::Env;
use crate::registry::crates::parse_version_arg;
use crate::target;

mod common;
mod crate_source;
pub mod go;
mod source_build;

pub use common::{CommonOptions, DEFAULT_INDEX, RunSettings};
pub use crate_source::CrateSource;
use source_build::source_build_args;
pub use source_build::{AcceptedFlags, SourceBuild, SourceBuildOptions};

/// `cargo quickinstall`: install prebuilt, signed binaries of crates, or build them with
/// `cargo install` when none exists.
#[derive(Parser, Debug)]
#[command(
    name = "cargo-quickinstall",
    bin_name = "cargo quickinstall",
    disable_version_flag = true,
    max_term_width = 100,
    about = "Install prebuilt, signed, statically linked binaries of crates; fall back to `cargo install`"
)]
pub struct Args {
    /// Crates to install, as `NAME` or `NAME@VERSION` (`1.2.3` means exactly that version;
    /// `^1.2`, `~1`, `>=1, <2` are requirements, as with `cargo install`)
    #[arg(
        value_name = "CRATE[@VERSION]",
        required_unless_present_any = ["upgrade_all", "print_version", "completions", "git", "path", "sync", "locked_tools", "update", "list"]
    )]
    pub crates: Vec<String>,
    /// Version requirement for the (single) crate given
    #[arg(long, value_name = "REQ")]
    pub version: Option<String>,
    /// Directory to install into (binaries go to `<DIR>/bin`) [default: $CARGO_INSTALL_ROOT, else cargo's install.root, else $CARGO_HOME]
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Registry index to install from, as for `cargo install --index` (`sparse+https://…`)
    #[arg(long, value_name = "URL", conflicts_with = "registry")]
    pub index: Option<String>,
    /// Registry to install from, by its name in cargo's configuration (`[registries.NAME]`)
    #[arg(long, value_name = "NAME")]
    pub registry: Option<String>,
    /// Install only this binary of the crate (repeatable); passed to `cargo install` too
    #[arg(long = "bin", value_name = "NAME")]
    pub bins: Vec<String>,
    /// Reinstall every crate recorded in `.crates2.json` for which a newer version exists
    #[arg(long, conflicts_with_all = ["crates", "version"])]
    pub upgrade_all: bool,
    /// Install the tools of `quickinstall.toml` (found upward from here): resolve what
    /// `quickinstall.lock` lacks or what changed, write the lock, then install from it
    #[arg(long, conflicts_with_all = ["crates", "version", "upgrade_all", "locked_tools", "update"], help_heading = "Project tools")]
    pub sync: bool,
    /// Install exactly what `quickinstall.lock` says (the CI mode): no registry or index
    /// lookups, one request per tool, sha256 checked; a stale or incomplete lock is an error
    #[arg(long, conflicts_with_all = ["crates", "version", "upgrade_all", "update"], help_heading = "Project tools")]
    pub locked_tools: bool,
    /// Re-resolve these tools of `quickinstall.toml` (none named: all), rewrite
    /// `quickinstall.lock` and print what changed; installs nothing
    #[arg(long, num_args = 0.., value_name = "TOOL", conflicts_with_all = ["crates", "version", "upgrade_all"], help_heading = "Project tools")]
    pub update: Option<Vec<String>>,
    /// The `quickinstall.toml` to use, instead of the first one found upward from here
    #[arg(long, value_name = "PATH", help_heading = "Project tools")]
    pub manifest: Option<PathBuf>,
    /// List the installed crates and their binaries, ours included: runs `cargo install --list`
    #[arg(long, conflicts_with_all = ["crates", "version", "upgrade_all", "sync", "locked_tools", "update", "json"])]
    pub list: bool,
    /// Print this client's own version (`--version` is the crate's, as with `cargo install`)
    #[arg(short = 'V', long)]
    pub print_version: bool,
    /// Print a shell completion script for SHELL and exit
    #[arg(long, value_name = "SHELL")]
    pub completions: Option<clap_complete::Shell>,
    /// Use verbose output: the URLs asked, the targets considered, cache hits, why each source
    /// said no (-vv: also how many HTTP requests were sent; passed on to `cargo install`)
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Coloring: auto, always, never [env: CARGO_TERM_COLOR, else cargo's term.color; CLICOLOR_FORCE=1 means always]
    #[arg(long, value_name = "WHEN", value_parser = ["auto", "always", "never"])]
    pub color: Option<String>,
    /// Where prebuilt binaries may come from, tried in this order: `index` (the signed release
    /// index), `quickinstall` (cargo-quickinstall's signed pool), `upstream` (releases the crate
    /// declares in `[package.metadata.binstall]`), `build` (`cargo install`); any subset
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "index,quickinstall,upstream,build"
    )]
    pub sources: Vec<String>,
    /// cargo-binstall's spelling of --sources: `crate-meta-data` (upstream), `quick-install`
    /// (quickinstall), `compile` (build); the release index goes first when any prebuilt
    /// strategy is named
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        conflicts_with = "sources"
    )]
    pub strategies: Vec<String>,
    /// Also install archives that carry no signature (a quickinstall pool asset built before
    /// signing began), with the trust of TLS alone; said aloud in the output
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Refuse anything not verified by a signature (an `upstream (unsigned)` release)
    #[arg(long, conflicts_with = "allow_unsigned")]
    pub require_signed: bool,
    // Before the groups with headings of their own: a flattened group's heading carries over
    // to the fields after it, and these are the ordinary options.
    #[command(flatten)]
    pub common: CommonOptions,
    #[command(flatten)]
    pub source_build: SourceBuildOptions,
    #[command(flatten)]
    pub accepted: AcceptedFlags,
}

/// One crate to install.
#[derive(Debug, Clone)]
pub struct CrateSpec {
    pub name: String,
    pub req: Option<VersionReq>,
    /// The requirement as the user wrote it, recorded in `.crates2.json` as cargo does.
    pub req_text: Option<String>,
    /// A resolution fixed in advance (`--locked-tools`): phase one uses it without any lookup.
    pub pinned: Option<Box<crate::ops::ecosystem::crates::Pinned>>,
}

/// Everything an install needs to know, resolved and validated.
#[derive(Debug, Clone)]
pub struct InstallRequest {
    pub crates: Vec<CrateSpec>,
    /// The options both clients share. `run.fallback` is also off when `--sources` leaves out
    /// `build`.
    pub run: RunSettings,
    pub root: PathBuf,
    pub root_flag: Option<PathBuf>,
    /// The release index was named (flag or `QUICKINSTALL_INDEX`): it may serve any registry.
    pub index_explicit: bool,
    /// Where the crates come from (cargo's configuration), and what that allows.
    pub source: CrateSource,
    /// `net.offline` is set: where, for the message. Nothing is fetched.
    pub offline: Option<String>,
    /// Proxy, CA bundle and retries from cargo's `[http]`/`[net]`.
    pub net: NetSettings,
    /// `--bin`: install only these binaries.
    pub bins: Vec<String>,
    /// `-v` count.
    pub verbose: u8,
    /// `--upgrade-all`: `crates` is filled from `.crates2.json` by the operation.
    pub upgrade_all: bool,
    /// A `cargo install` option nothing prebuilt can honour was given: run it as asked.
    pub source_build: Option<SourceBuild>,
    /// `--sources`: the prebuilt sources to try, in order (`build` is [`RunSettings::fallback`]).
    pub sources: Vec<crate::source::Origin>,
    /// `--allow-unsigned`.
    pub allow_unsigned: bool,
    /// `--require-signed`.
    pub require_signed: bool,
    /// `QUICKINSTALL_QUICKINSTALL_POOL` / `QUICKINSTALL_QUICKINSTALL_KEY`.
    pub pool: crate::source::quickinstall_pool::PoolSettings,
}

/// Network settings taken from cargo's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetSettings {
    /// `http.proxy` / `CARGO_HTTP_PROXY` (over `HTTPS_PROXY` and friends, as in cargo).
    pub proxy: Option<String>,
    /// `http.cainfo` / `CARGO_HTTP_CAINFO`: trust only the CAs in this PEM file.
    pub cainfo: Option<PathBuf>,
    /// `net.retry` / `CARGO_NET_RETRY` [default: 2].
    pub retries: u32,
    /// `term.color` / `CARGO_TERM_COLOR`.
    pub color: Option<String>,
}

/// A mistake in the arguments (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The `after_help` text: which triples are tried on this host, in order.
pub fn targets_help() -> String {
    let targets = target::host_targets();
    if targets.is_empty() {
        "Targets tried on this host: none known; pass --target.".to_owned()
    } else {
        format!(
            "Targets tried on this host, in order: {} (a gnu build only when this host's glibc is at least its minimum).",
            targets.join(", ")
        )
    }
}

impl InstallRequest {
    /// `config` is cargo's configuration as [`CargoConfig::load`] read it.
    pub fn new(args: Args, env: &Env, config: &CargoConfig) -> Result<Self, UsageError> {
        if args.version.is_some() && args.crates.len() > 1 {
            return Err(UsageError(
                "--version applies to one crate; write `crate@VERSION` for each instead".into(),
            ));
        }
        let mut crates = Vec::new();
        for spec in &args.crates {
            crates.push(parse_crate_spec(spec, args.version.as_deref())?);
        }
        let config_error = |e: crate::cargo_config::ConfigError| {
            UsageError(format!("{}\nhelp: {}", e.message, e.help))
        };
        let configured_root = config.install_root.as_ref().map(|d| d.value.clone());
        let root = match (&args.root, configured_root) {
            (None, Some(root)) => Ok(root),
            (flag, _) => env.install_root(flag.as_deref()),
        };
        let root = root.map_err(|e| {
            UsageError(format!(
                "could not find where to install ({e}); set CARGO_HOME or pass --root"
            ))
        })?;
        let state_dir = env
            .cargo_home()
            .unwrap_or_else(|_| root.clone())
            .join(".quickinstall");
        let index_explicit = args.common.index.is_some() || env.get("QUICKINSTALL_INDEX").is_some();
        let default_timeout = config.http_timeout.as_ref().map_or(15, |d| d.value);
        // cargo's term.quiet and term.verbose, each overridden by either flag.
        let flags_say = args.common.quiet || args.verbose > 0;
        let configured = |d: &Option<crate::cargo_config::Defined<bool>>| {
            !flags_say && d.as_ref().is_some_and(|d| d.value)
        };
        let mut common = args.common.clone();
        common.quiet |= configured(&config.term_quiet);
        let verbose = if configured(&config.term_verbose) && !common.quiet {
            1
        } else {
            args.verbose
        };
        let mut run = RunSettings::new(common, default_timeout, state_dir, env)?;
        if let Some(name) = args.registry.as_deref().filter(|n| n.contains("://")) {
            return Err(UsageError(format!(
                "--registry takes a registry's name from cargo's configuration, not the URL `{name}`\nhelp: use --index {name}"
            )));
        }
        let requested = match (&args.registry, &args.index) {
            (Some(name), _) => Requested::Named(name),
            (None, Some(url)) => Requested::Index(url),
            (None, None) => Requested::Default,
        };
        let source = CrateSource::decide(config, requested, env.get("QUICKINSTALL_REGISTRY"), env)
            .map_err(config_error)?;
        let source_build = args.source_build.first_flag().map(|because| SourceBuild {
            because,
            args: source_build_args(&args, &source),
        });
        let sources = if args.strategies.is_empty() {
            crate::source::Origin::parse_list(&args.sources)
        } else {
            crate::source::Origin::from_strategies(&args.strategies)
        }
        .map_err(UsageError)?;
        let net = NetSettings {
            proxy: config.http_proxy.as_ref().map(|d| d.value.clone()),
            cainfo: config.http_cainfo.as_ref().map(|d| d.value.clone()),
            retries: config.net_retry.as_ref().map_or(2, |d| d.value),
            color: color_choice(args.color.as_deref(), config, env),
        };
        let offline = config
            .net_offline
            .as_ref()
            .filter(|d| d.value)
            .map(|d| d.origin.clone());
        run.fallback &= sources.contains(&crate::source::Origin::Build);
        Ok(Self {
            crates,
            run,
            root,
            root_flag: args.root,
            index_explicit,
            source,
            offline,
            net,
            sources: sources
                .into_iter()
                .filter(|o| *o != crate::source::Origin::Build)
                .collect(),
            allow_unsigned: args.allow_unsigned,
            require_signed: args.require_signed,
            pool: crate::source::quickinstall_pool::PoolSettings::from_env(env),
            bins: args.bins,
            verbose,
            upgrade_all: args.upgrade_all,
            source_build,
        })
    }
}

/// Colour: `--color`, else `CARGO_TERM_COLOR`/`term.color`, else `always` when
/// `CLICOLOR_FORCE` is set (not `0`); `None` leaves it to the terminal and `NO_COLOR`.
fn color_choice(flag: Option<&str>, config: &CargoConfig, env: &Env) -> Option<String> {
    flag.map(str::to_owned)
        .or_else(|| config.term_color.as_ref().map(|d| d.value.clone()))
        .or_else(|| {
            env.get("CLICOLOR_FORCE")
                .filter(|v| *v != "0")
                .map(|_| "always".to_owned())
        })
}

fn parse_crate_spec(spec: &str, version_flag: Option<&str>) -> Result<CrateSpec, UsageError> {
    let (name, version) = match spec.split_once('@') {
        Some((name, v)) => {
            if version_flag.is_some() {
                return Err(UsageError(
                    "cannot use both `crate@VERSION` and `--version`".into(),
                ));
            }
            (name, Some(v))
        }
        None => (spec, version_flag),
    };
    if !crate::index::path::is_valid_crate_name(name) {
        return Err(UsageError(format!("`{name}` is not a valid crate name")));
    }
    let req = version
        .map(|v| parse_version_arg(v).map_err(|e| UsageError(format!("for `{name}`: {e}"))))
        .transpose()?;
    Ok(CrateSpec {
        name: name.to_owned(),
        req_text: req.as_ref().map(ToString::to_string),
        req,
        pinned: None,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The help's sections: each heading with the flags listed under it.
    fn help_sections() -> Vec<(String, String)> {
        use clap::CommandFactory;
        let help = Args::command().render_help().to_string();
        let mut sections: Vec<(String, String)> = Vec::new();
        for line in help.lines() {
            match sections.last_mut() {
                Some((_, body)) if line.starts_with(' ') => {
                    body.push_str(line);
                    body.push('\n');
                }
                _ if line.ends_with(':') && !line.starts_with(' ') => {
                    sections.push((line.trim_end_matches(':').to_owned(), String::new()));
                }
                _ => {}
            }
        }
        sections
    }

    #[test]
    fn the_help_lists_the_ordinary_options_under_options_not_under_compatibility() {
        let sections = help_sections();
        let section = |name: &str| {
            sections
                .iter()
                .find(|(heading, _)| heading.starts_with(name))
                .map(|(_, body)| body.clone())
                .unwrap_or_else(|| panic!("no `{name}` section in {sections:#?}"))
        };
        let options = section("Options");
        let compatibility = section("Accepted for compatibility");
        for flag in [
            "--target",
            "--force",
            "--jobs",
            "--dry-run",
            "--json",
            "--no-fallback",
        ] {
            assert!(
                options.contains(flag),
                "{flag} missing from Options:\n{options}"
            );
            assert!(
                !compatibility.contains(flag),
                "{flag} listed as having no effect:\n{compatibility}"
            );
        }
        for flag in [
            "--locked",
            "--no-confirm",
            "--no-binstall",
            "--try-upstream",
        ] {
            assert!(compatibility.contains(flag), "{flag}:\n{compatibility}");
        }
    }

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<InstallRequest, UsageError> {
        let args =
            Args::try_parse_from(std::iter::once("cargo-quickinstall").chain(args.iter().copied()))
                .map_err(|e| UsageError(e.to_string()))?;
        let env = Env::from_pairs(Path::new("/w"), env.iter().copied());
        InstallRequest::new(args, &env, &CargoConfig::default())
    }

    #[test]
    fn cargo_term_quiet_and_verbose_apply_unless_a_flag_says_otherwise() {
        let parse_with = |args: &[&str], var: (&str, &str)| {
            let pairs = [("CARGO_HOME", "/ch"), var];
            let env = Env::from_pairs(Path::new("/w"), pairs);
            let config = CargoConfig::from_texts(&env, &[], Vec::new()).unwrap();
            let args = Args::try_parse_from(
                std::iter::once("cargo-quickinstall").chain(args.iter().copied()),
            )
            .unwrap();
            InstallRequest::new(args, &env, &config).unwrap()
        };
        let quiet = ("CARGO_TERM_QUIET", "true");
        assert!(parse_with(&["a"], quiet).run.quiet);
        let r = parse_with(&["a", "-v"], quiet);
        assert!(!r.run.quiet);
        assert_eq!(r.verbose, 1);
        let verbose = ("CARGO_TERM_VERBOSE", "true");
        assert_eq!(parse_with(&["a"], verbose).verbose, 1);
        let r = parse_with(&["a", "--quiet"], verbose);
        assert_eq!(r.verbose, 0);
        assert!(r.run.quiet);
        assert_eq!(
            parse_with(&["a"], ("CARGO_TERM_VERBOSE", "false")).verbose,
            0
        );
    }

    #[test]
    fn flags_win_over_environment_and_defaults_apply() {
        let env = [
            ("CARGO_HOME", "/ch"),
            ("QUICKINSTALL_INDEX", "http://env-index/"),
            ("QUICKINSTALL_TIMEOUT", "3"),
        ];
        let r = parse(&["a", "b@1.2.3"], &env).unwrap();
        assert_eq!(r.run.index, "http://env-index/");
        assert_eq!(r.run.timeout_secs, 3);
        assert_eq!(r.root, Path::new("/ch"));
        assert_eq!(r.run.state_dir, Path::new("/ch/.quickinstall"));
        assert_eq!(r.crates[1].req_text.as_deref(), Some("=1.2.3"));
        let r = parse(&["a", "--release-index", "file:///i", "--root", "/r"], &env).unwrap();
        assert_eq!(r.run.index, "file:///i");
        assert_eq!(r.root, Path::new("/r"));
        let r = parse(&["a"], &[("CARGO_HOME", "/ch")]).unwrap();
        assert_eq!(r.run.index, DEFAULT_INDEX);
        assert!(r.run.fallback);
    }

    #[test]
    fn cargo_install_flags_mean_what_they_mean_to_cargo() {
        let env = [("CARGO_HOME", "/ch")];
        // --index is a registry now; the release index is --release-index.
        let r = parse(&["a", "--index", "sparse+http://reg/"], &env).unwrap();
        assert_eq!(r.run.index, DEFAULT_INDEX);
        assert_eq!(r.source.sparse_url.as_deref(), Some("http://reg/"));
        assert_eq!(r.source.fallback_args, ["--index", "sparse+http://reg/"]);
        assert!(!r.source.public);
        // --registry names a registry in cargo's configuration.
        let e = parse(&["a", "--registry", "corp"], &env).unwrap_err();
        assert!(e.0.contains("`corp`") && e.0.contains("help:"), "{}", e.0);
        let e = parse(&["a", "--registry", "http://x/"], &env).unwrap_err();
        assert!(e.0.contains("--index"), "{}", e.0);
        // Accepted and harmless.
        let r = parse(
            &[
                "a",
                "--locked",
                "-y",
                "--disable-telemetry",
                "--no-binstall",
                "--try-upstream",
            ],
            &env,
        )
        .unwrap();
        assert!(r.run.no_telemetry);
        assert!(r.source_build.is_none());
        // Source-only options go straight to cargo install with the same arguments.
        let r = parse(&["a", "--features", "x,y", "--bin", "b", "--force"], &env).unwrap();
        let build = r.source_build.unwrap();
        assert_eq!(build.because, "--features");
        assert_eq!(
            build.args.join(" "),
            "install a --bin b --features x,y --locked --force"
        );
        let r = parse(&["--git", "https://g/r", "--branch", "main"], &env).unwrap();
        assert_eq!(r.source_build.unwrap().because, "--git");
        assert_eq!(parse(&["a", "-vv"], &env).unwrap().verbose, 2);
        let r = parse(&["a", "--color", "always"], &env).unwrap();
        assert_eq!(r.net.color.as_deref(), Some("always"));
        let r = parse(&["a"], &[("CARGO_HOME", "/ch"), ("CLICOLOR_FORCE", "1")]).unwrap();
        assert_eq!(r.net.color.as_deref(), Some("always"));
        assert!(parse(&["a", "--color", "sometimes"], &env).is_err());
        assert!(parse(&["--upgrade-all"], &env).unwrap().upgrade_all);
    }

    #[test]
    fn refuses_ambiguous_or_malformed_requests() {
        let env = [("CARGO_HOME", "/ch")];
        assert!(parse(&["a", "b", "--version", "1.0.0"], &env).is_err());
        assert!(parse(&["a@1.0.0", "--version", "1.0.0"], &env).is_err());
        assert!(parse(&["../a"], &env).is_err());
        assert!(parse(&["a@1.2"], &env).unwrap_err().0.contains("^1.2"));
        assert!(parse(&["a", "--target", "x/y"], &env).is_err());
        assert!(parse(&["a", "--trusted-key", "nope"], &env).is_err());
        assert!(parse(&[], &env).is_err());
    }

    #[test]
    fn trusted_keys_add_to_the_builtin_ones() {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let b64 = kp.pk.to_base64();
        let env = [
            ("CARGO_HOME", "/ch"),
            ("QUICKINSTALL_TRUSTED_KEYS", b64.as_str()),
        ];
        let r = parse(&["a", "--trusted-key", &b64], &env).unwrap();
        assert_eq!(
            r.run.keys.len(),
            crate::index::signature::TrustedKeys::builtin().len() + 2
        );
    }
}
