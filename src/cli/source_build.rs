//! Options that only `cargo install` can honour (`--git`, `--path`, `--features`, `--profile`…),
//! the flags accepted for compatibility with `cargo install`, `cargo binstall` and the other
//! `cargo-quickinstall`, and the `cargo install` command line a source build runs.

use std::path::PathBuf;

use super::{Args, CrateSource};

/// `cargo install` options that nothing prebuilt can honour: any of them sends the request
/// straight to `cargo install` with the same arguments.
#[derive(clap::Args, Debug, Default, Clone)]
#[command(next_help_heading = "Build from source (these run `cargo install` directly)")]
pub struct SourceBuildOptions {
    /// Git URL to install the crate from
    #[arg(long, value_name = "URL")]
    pub git: Option<String>,
    /// Branch to use with --git
    #[arg(long, value_name = "BRANCH", requires = "git")]
    pub branch: Option<String>,
    /// Tag to use with --git
    #[arg(long, value_name = "TAG", requires = "git")]
    pub tag: Option<String>,
    /// Commit to use with --git
    #[arg(long, value_name = "SHA", requires = "git")]
    pub rev: Option<String>,
    /// Filesystem path to a local crate to install
    #[arg(long, value_name = "PATH")]
    pub path: Option<PathBuf>,
    /// Features to activate (space or comma separated; repeatable)
    #[arg(short = 'F', long, value_name = "FEATURES")]
    pub features: Vec<String>,
    /// Activate all features
    #[arg(long)]
    pub all_features: bool,
    /// Do not activate the `default` feature
    #[arg(long)]
    pub no_default_features: bool,
    /// Build with this profile
    #[arg(long, value_name = "PROFILE-NAME", conflicts_with = "debug")]
    pub profile: Option<String>,
    /// Build in debug mode (dev profile)
    #[arg(long)]
    pub debug: bool,
}

impl SourceBuildOptions {
    /// The flags given, as `cargo install` takes them; empty when none was.
    pub fn cargo_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        let mut pair = |flag: &str, value: &Option<String>| {
            if let Some(v) = value {
                args.extend([flag.to_owned(), v.clone()]);
            }
        };
        pair("--git", &self.git);
        pair("--branch", &self.branch);
        pair("--tag", &self.tag);
        pair("--rev", &self.rev);
        pair("--profile", &self.profile);
        if let Some(p) = &self.path {
            args.extend(["--path".to_owned(), p.display().to_string()]);
        }
        for f in &self.features {
            args.extend(["--features".to_owned(), f.clone()]);
        }
        for (on, flag) in [
            (self.all_features, "--all-features"),
            (self.no_default_features, "--no-default-features"),
            (self.debug, "--debug"),
        ] {
            if on {
                args.push(flag.to_owned());
            }
        }
        args
    }

    /// The first flag given, for the line that says why the build is from source.
    pub fn first_flag(&self) -> Option<&'static str> {
        [
            (self.git.is_some(), "--git"),
            (self.path.is_some(), "--path"),
            (!self.features.is_empty(), "--features"),
            (self.all_features, "--all-features"),
            (self.no_default_features, "--no-default-features"),
            (self.profile.is_some(), "--profile"),
            (self.debug, "--debug"),
        ]
        .into_iter()
        .find_map(|(on, flag)| on.then_some(flag))
    }
}

/// Flags of `cargo install`, `cargo binstall` and the other `cargo-quickinstall` that are
/// accepted so scripts written for them keep working, and change nothing here.
#[derive(clap::Args, Debug, Default, Clone)]
#[command(next_help_heading = "Accepted for compatibility (no effect here)")]
pub struct AcceptedFlags {
    /// `cargo install --locked`: we always build with `--locked`
    #[arg(long)]
    pub locked: bool,
    /// `cargo binstall -y`: we never prompt
    #[arg(short = 'y', long)]
    pub no_confirm: bool,
    /// The other cargo-quickinstall's: we never use cargo-binstall
    #[arg(long)]
    pub no_binstall: bool,
    /// The other cargo-quickinstall's: we never use cargo-binstall; our fallback is `cargo install`
    #[arg(long)]
    pub try_upstream: bool,
}

/// A request that goes straight to `cargo install`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceBuild {
    /// The flag that decided it, for the one line saying why.
    pub because: &'static str,
    /// The arguments after `cargo install`.
    pub args: Vec<String>,
}

/// `cargo install` arguments for a request that goes straight to it: the crates, then every
/// option of ours that `cargo install` shares.
pub(super) fn source_build_args(args: &Args, source: &CrateSource) -> Vec<String> {
    let mut out: Vec<String> = vec!["install".to_owned()];
    out.extend(args.crates.iter().cloned());
    let mut pair = |flag: &str, value: Option<String>| {
        if let Some(v) = value {
            out.extend([flag.to_owned(), v]);
        }
    };
    pair("--version", args.version.clone());
    pair(
        "--root",
        args.root.as_ref().map(|r| r.display().to_string()),
    );
    pair("--target", args.common.target.clone());
    for bin in &args.bins {
        pair("--bin", Some(bin.clone()));
    }
    out.extend(source.fallback_args.iter().cloned());
    out.extend(args.source_build.cargo_args());
    for (on, flag) in [
        (true, "--locked"),
        (args.common.force, "--force"),
        (args.common.quiet, "--quiet"),
    ] {
        if on {
            out.push(flag.to_owned());
        }
    }
    if args.verbose > 0 {
        out.push(format!("-{}", "v".repeat(usize::from(args.verbose))));
    }
    out
}
