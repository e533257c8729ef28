//! Building from source with `cargo install` when the index has no build for this host.
//!
//! The command is built by a pure function (so `--dry-run` can print it and tests can check
//! it) and run with the user's environment, its output sent to stderr so that stdout stays
//! clean for `--json`. Always announced before it starts: it can take minutes.

use std::ffi::OsString;
use std::fmt;
use std::path::Path;
use std::process::{Command, Stdio};

/// A `cargo install` or `go install` invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceBuild {
    pub program: OsString,
    pub args: Vec<String>,
}

/// Options that carry over from `cargo quickinstall` to `cargo install`.
#[derive(Debug, Clone, Default)]
pub struct FallbackOptions<'a> {
    pub root: Option<&'a Path>,
    pub target: Option<&'a str>,
    /// `--registry NAME` or `--index URL` when the user named one; empty when cargo's own
    /// configuration (which `cargo install` reads too) decides.
    pub registry_args: &'a [String],
    /// `--bin NAME`s to pass on.
    pub bins: &'a [String],
    pub force: bool,
    pub quiet: bool,
    /// `-v` count, passed on as `-v`/`-vv`.
    pub verbose: u8,
}

#[derive(Debug, thiserror::Error)]
pub enum FallbackError {
    #[error("`{program}` was not found, so `{name}` cannot be built from source")]
    CargoMissing { program: String, name: String },
    #[error("`go` was not found on PATH, so `{name}` cannot be built with `go install`")]
    GoMissing { name: String },
    #[error("`{command}` failed ({status})")]
    Failed { command: String, status: String },
}

impl FallbackError {
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::CargoMissing { .. } => Some(
                "install Rust with rustup (https://rustup.rs), or set CARGO to a cargo binary"
                    .into(),
            ),
            Self::GoMissing { .. } => Some(
                "install Go (https://go.dev/dl, or your distribution's golang package), or pass --no-fallback"
                    .into(),
            ),
            Self::Failed { .. } => Some("the compiler output above says why".into()),
        }
    }
}

impl fmt::Display for SourceBuild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Path::new(&self.program).display())?;
        for arg in &self.args {
            if arg.contains(' ') {
                write!(f, " '{arg}'")?;
            } else {
                write!(f, " {arg}")?;
            }
        }
        Ok(())
    }
}

/// `cargo install <name> --version <version> --locked …`. `version` is `=<exact>` when the
/// registry resolved one, so the fallback cannot pick something else; else the requirement the
/// user gave, if any (a registry we cannot read: cargo resolves it).
pub fn cargo_install(
    cargo: OsString,
    name: &str,
    version: Option<&str>,
    options: &FallbackOptions<'_>,
) -> SourceBuild {
    let mut args = vec!["install".to_owned(), name.to_owned()];
    if let Some(version) = version {
        args.extend(["--version".to_owned(), version.to_owned()]);
    }
    args.push("--locked".to_owned());
    if let Some(root) = options.root {
        args.extend(["--root".to_owned(), root.display().to_string()]);
    }
    if let Some(target) = options.target {
        args.extend(["--target".to_owned(), target.to_owned()]);
    }
    args.extend(options.registry_args.iter().cloned());
    for bin in options.bins {
        args.extend(["--bin".to_owned(), bin.clone()]);
    }
    if options.force {
        args.push("--force".to_owned());
    }
    if options.quiet {
        args.push("--quiet".to_owned());
    }
    if options.verbose > 0 {
        args.push(format!("-{}", "v".repeat(usize::from(options.verbose))));
    }
    SourceBuild {
        program: cargo,
        args,
    }
}

/// `go install <package>@<version>`, run with the user's environment as it is (GOFLAGS,
/// GOPROXY, GOPRIVATE, GOBIN… pass through untouched).
pub fn go_install(package: &str, version: &str) -> SourceBuild {
    SourceBuild {
        program: "go".into(),
        args: vec!["install".to_owned(), format!("{package}@{version}")],
    }
}

impl SourceBuild {
    /// Runs it; the tool's own output (progress and errors) goes to our stderr.
    pub fn run(&self, name: &str) -> Result<(), FallbackError> {
        let is_go = Path::new(&self.program) == Path::new("go");
        let status = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::io::stderr()))
            .status()
            .map_err(|_| {
                if is_go {
                    FallbackError::GoMissing {
                        name: name.to_owned(),
                    }
                } else {
                    FallbackError::CargoMissing {
                        program: Path::new(&self.program).display().to_string(),
                        name: name.to_owned(),
                    }
                }
            })?;
        if status.success() {
            Ok(())
        } else {
            Err(FallbackError::Failed {
                command: self.to_string(),
                status: status.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_the_resolved_version_and_carries_options_over() {
        let cmd = cargo_install(
            "cargo".into(),
            "ripgrep",
            Some("=14.1.0"),
            &FallbackOptions {
                root: Some(Path::new("/r")),
                target: Some("x86_64-unknown-linux-musl"),
                registry_args: &["--index".into(), "sparse+http://127.0.0.1:1/".into()],
                bins: &["rg".into()],
                force: true,
                quiet: false,
                verbose: 0,
            },
        );
        assert_eq!(
            cmd.to_string(),
            "cargo install ripgrep --version =14.1.0 --locked --root /r --target x86_64-unknown-linux-musl --index sparse+http://127.0.0.1:1/ --bin rg --force"
        );
    }

    #[test]
    fn a_missing_cargo_is_reported_as_such() {
        let cmd = cargo_install(
            "/nonexistent/cargo".into(),
            "x",
            Some("=1.0.0"),
            &FallbackOptions::default(),
        );
        let err = cmd.run("x").unwrap_err();
        assert!(matches!(err, FallbackError::CargoMissing { .. }), "{err}");
        assert!(err.hint().is_some());
    }
}
