//! The environment a build reads (tool names, `CARGO_HOME`, `SOURCE_DATE_EPOCH`) and the
//! scrubbed copy the untrusted child build gets: no tokens, keys or credentials.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use crate::time;

/// The environment the build reads and passes on, as a value so tests can shape it.
#[derive(Debug, Clone, Default)]
pub struct BuildEnv {
    pub vars: Vec<(OsString, OsString)>,
}

impl BuildEnv {
    /// The real process environment (read once, in `main`).
    #[allow(clippy::disallowed_methods)] // this is the one place build-index reads it
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os().collect(),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&OsStr> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_os_str())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn program(&self, var: &str, default: &str) -> OsString {
        self.get(var).unwrap_or(OsStr::new(default)).to_owned()
    }

    /// `CARGO_HOME`, else `~/.cargo`.
    pub(super) fn cargo_home(&self) -> Option<PathBuf> {
        self.get("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| self.get("HOME").map(|h| Path::new(h).join(".cargo")))
    }

    pub(super) fn source_date_epoch(&self) -> Option<u64> {
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
