//! Command-line arguments of `gquick`, turned into typed requests.
//!
//! `gquick install PKG[@QUERY]...` takes what `go install` takes; `gquick list` and
//! `gquick upgrade` read the Go bin directory. No I/O here but reading a `.pub` key file.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::cli::{CommonOptions, RunSettings, UsageError};
use crate::env::Env;
use crate::goenv::GoSettings;
use crate::index::path::is_valid_module_path;
use crate::install::go_bin;

/// `gquick`: install prebuilt, signed Go tools, or build them with `go install` when none exists.
#[derive(Parser, Debug)]
#[command(
    name = "gquick",
    version,
    arg_required_else_help = true,
    about = "Install prebuilt, signed, static Go tools; fall back to `go install`"
)]
pub struct GoArgs {
    /// Print a shell completion script for SHELL and exit
    #[arg(long, value_name = "SHELL", exclusive = true)]
    pub completions: Option<clap_complete::Shell>,
    #[command(subcommand)]
    pub command: Option<GoCommand>,
}

#[derive(Subcommand, Debug)]
pub enum GoCommand {
    /// Install packages, as `go install PKG@QUERY` would (`@latest`, `@v1.2.3`, `@v1`, `@>=v1.2`)
    Install {
        /// Package paths, each optionally `@QUERY` (default `@latest`)
        #[arg(value_name = "PKG[@QUERY]", required = true)]
        packages: Vec<String>,
        #[command(flatten)]
        options: InstallOptions,
    },
    /// List the Go binaries in the bin directory with their module, version and origin
    List {
        /// One JSON object per binary on stdout
        #[arg(long)]
        json: bool,
    },
    /// Install the project's tools from `quickinstall.toml` (found upward from here), crates and
    /// Go packages alike, pinned in `quickinstall.lock` (`cargo quickinstall --sync`)
    Sync {
        /// Install exactly what `quickinstall.lock` says: no lookups, sha256 checked (the CI
        /// mode, `cargo quickinstall --locked-tools`)
        #[arg(long, conflicts_with = "update")]
        locked: bool,
        /// Re-resolve these tools (none named: all), rewrite the lock and print what changed;
        /// installs nothing
        #[arg(long, num_args = 0.., value_name = "TOOL")]
        update: Option<Vec<String>>,
        /// The `quickinstall.toml` to use, instead of the first one found upward from here
        #[arg(long, value_name = "PATH")]
        manifest: Option<std::path::PathBuf>,
        #[command(flatten)]
        options: InstallOptions,
    },
    /// Reinstall binaries for which a newer version exists
    Upgrade {
        /// Binary names in the bin directory
        #[arg(value_name = "NAME", required_unless_present = "all")]
        names: Vec<String>,
        /// Every Go binary in the bin directory
        #[arg(long, conflicts_with = "names")]
        all: bool,
        #[command(flatten)]
        options: InstallOptions,
    },
}

/// Options of `install` and `upgrade`: those of `cargo quickinstall`.
pub type InstallOptions = CommonOptions;

/// One package to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoSpec {
    pub package: String,
    /// `latest`, `v1.2.3`, `v1`, `>=v1.2`, …
    pub query: String,
    /// A resolution fixed in advance (a lock file): installed without any lookup.
    pub pinned: Option<Box<crate::ops::ecosystem::go::GoPinned>>,
}

/// Everything `gquick install` (and `upgrade`) needs, resolved and validated.
#[derive(Debug, Clone)]
pub struct GoInstallRequest {
    pub specs: Vec<GoSpec>,
    /// The options both clients share.
    pub run: RunSettings,
    pub bin_dir: PathBuf,
    /// The Go settings, read once as `go env` reads them (the proxy list, private paths, the
    /// bin directory all come from here).
    pub go: GoSettings,
}

/// `PKG[@QUERY]` as `go install` reads it.
pub fn parse_go_spec(text: &str) -> Result<GoSpec, UsageError> {
    let (package, query) = match text.split_once('@') {
        Some((p, q)) if !q.is_empty() => (p, q),
        Some((p, _)) => {
            return Err(UsageError(format!(
                "`{p}@` names no version; try `{p}@latest`"
            )));
        }
        None => (text, "latest"),
    };
    if !is_valid_module_path(package) {
        return Err(UsageError(format!(
            "`{package}` is not a Go package path (it should start with a domain, like `github.com/owner/tool`)"
        )));
    }
    Ok(GoSpec {
        package: package.to_owned(),
        query: query.to_owned(),
        pinned: None,
    })
}

/// Where gquick keeps its own state (rollback protection): `$XDG_STATE_HOME/quickinstall`,
/// else `~/.local/state/quickinstall`.
pub fn state_dir(env: &Env) -> PathBuf {
    match env.get("XDG_STATE_HOME") {
        Some(dir) => PathBuf::from(dir).join("quickinstall"),
        None => home::env::home_dir_with_env(env)
            .unwrap_or_else(|| env.cwd().to_owned())
            .join(".local/state/quickinstall"),
    }
}

impl GoInstallRequest {
    pub fn new(specs: Vec<GoSpec>, options: InstallOptions, env: &Env) -> Result<Self, UsageError> {
        let go = GoSettings::read(env);
        let bin_dir = go_bin::bin_dir(&go).map_err(|e| UsageError(e.to_string()))?;
        Ok(Self {
            specs,
            run: RunSettings::new(options, 15, state_dir(env), env)?,
            bin_dir,
            go,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_read_like_go_install_arguments() {
        assert_eq!(
            parse_go_spec("github.com/jesseduffield/lazygit").unwrap(),
            GoSpec {
                package: "github.com/jesseduffield/lazygit".into(),
                query: "latest".into(),
                pinned: None,
            }
        );
        assert_eq!(
            parse_go_spec("example.com/t/cmd/x@v1.2.3").unwrap().query,
            "v1.2.3"
        );
        assert_eq!(
            parse_go_spec("example.com/t@>=v1.2").unwrap().query,
            ">=v1.2"
        );
        assert!(parse_go_spec("example.com/t@").is_err());
        assert!(parse_go_spec("gofmt").is_err());
        assert!(parse_go_spec("example.com/../x").is_err());
    }

    #[test]
    fn state_lives_in_the_xdg_state_dir() {
        let env = Env::from_pairs(std::path::Path::new("/w"), [("HOME", "/home/u")]);
        assert_eq!(
            state_dir(&env),
            PathBuf::from("/home/u/.local/state/quickinstall")
        );
        let env = Env::from_pairs(std::path::Path::new("/w"), [("XDG_STATE_HOME", "/s")]);
        assert_eq!(state_dir(&env), PathBuf::from("/s/quickinstall"));
    }
}
