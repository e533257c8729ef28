//! The one reader of the process environment.
//!
//! Everything else receives an [`Env`] value, so tests can build an environment as data instead
//! of mutating the process's (clippy's `disallowed-methods` bans `std::env::var*` elsewhere).
//! This module only reads and interprets variables; it decides nothing about installs.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

/// A snapshot of the environment variables quickinstall cares about, plus the working directory.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, OsString>,
    cwd: PathBuf,
}

impl Env {
    /// Reads the real process environment (once, in `main`).
    #[allow(clippy::disallowed_methods)]
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
                .collect(),
            cwd: std::env::current_dir().unwrap_or_default(),
        }
    }

    /// An environment built from pairs, for tests.
    pub fn from_pairs<'a>(cwd: &Path, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), OsString::from(v)))
                .collect(),
            cwd: cwd.to_owned(),
        }
    }

    /// An environment from variables already read (build-index's `BuildEnv`); names that are
    /// not UTF-8 are left out, as in [`Self::from_process`].
    pub fn from_vars(cwd: &Path, vars: impl IntoIterator<Item = (OsString, OsString)>) -> Self {
        Self {
            vars: vars
                .into_iter()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
                .collect(),
            cwd: cwd.to_owned(),
        }
    }

    /// A variable's value when it is set, valid UTF-8 and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .and_then(|v| v.to_str())
            .filter(|v| !v.is_empty())
    }

    fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "0" | "false" | "no"))
    }

    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// `CI=true` (any value but `0`/`false`): no progress bars, no colour.
    pub fn is_ci(&self) -> bool {
        self.flag("CI")
    }

    /// <https://no-color.org>: any non-empty value disables colour.
    pub fn no_color(&self) -> bool {
        self.get("NO_COLOR").is_some()
    }

    /// <https://consoledonottrack.com>: turns the stats ping off.
    pub fn do_not_track(&self) -> bool {
        self.flag("DO_NOT_TRACK")
    }

    /// `QUICKINSTALL_NO_TELEMETRY=1`: our own switch for the stats ping.
    pub fn no_telemetry(&self) -> bool {
        self.flag("QUICKINSTALL_NO_TELEMETRY")
    }

    /// `QUICKINSTALL_ALLOW_EXPIRED_INDEX=1`: the env form of `--allow-expired-index`.
    pub fn allow_expired_index(&self) -> bool {
        self.flag("QUICKINSTALL_ALLOW_EXPIRED_INDEX")
    }

    /// `QUICKINSTALL_QUICKINSTALL_POOL`: the base URL replacing cargo-quickinstall's release
    /// download URL (a local mirror, or a test's loopback server).
    pub fn quickinstall_pool(&self) -> Option<&str> {
        self.get("QUICKINSTALL_QUICKINSTALL_POOL")
    }

    /// `QUICKINSTALL_QUICKINSTALL_KEY`: the minisign public key of that pool.
    pub fn quickinstall_key(&self) -> Option<&str> {
        self.get("QUICKINSTALL_QUICKINSTALL_KEY")
    }

    /// `QUICKINSTALL_INDEX_ID`: the index identity delegations must name (a self-hosted index
    /// with its own root); `None` means the project's.
    pub fn index_id(&self) -> Option<&str> {
        self.get("QUICKINSTALL_INDEX_ID")
    }

    /// `QUICKINSTALL_TEST_NOW` (hidden, for tests): Unix seconds to judge signature and
    /// delegation validity at, since a test cannot move the system clock.
    pub fn test_now(&self) -> Option<u64> {
        self.get("QUICKINSTALL_TEST_NOW")?.trim().parse().ok()
    }

    /// Where user configuration lives: `%APPDATA%` on Windows; elsewhere `$XDG_CONFIG_HOME`
    /// (the XDG spec ignores a relative one), else `~/.config`; `None` without a home directory.
    pub fn config_dir(&self) -> Option<PathBuf> {
        self.config_dir_for(std::env::consts::OS)
    }

    /// [`Self::config_dir`] for the operating system `os` (`std::env::consts::OS` values), so
    /// the Windows choice can be tested anywhere.
    pub fn config_dir_for(&self, os: &str) -> Option<PathBuf> {
        if os == "windows" {
            return self.absolute_var("APPDATA");
        }
        match self.get("XDG_CONFIG_HOME").map(Path::new) {
            Some(dir) if dir.is_absolute() => Some(dir.to_owned()),
            _ => home::env::home_dir_with_env(self).map(|h| h.join(".config")),
        }
    }

    /// Where user caches live: `%LOCALAPPDATA%` on Windows (caches do not roam with the
    /// profile); elsewhere `$XDG_CACHE_HOME`, else `~/.cache`; `None` without a home directory.
    pub fn cache_home(&self) -> Option<PathBuf> {
        self.cache_home_for(std::env::consts::OS)
    }

    /// [`Self::cache_home`] for the operating system `os`.
    pub fn cache_home_for(&self, os: &str) -> Option<PathBuf> {
        if os == "windows" {
            return self.absolute_var("LOCALAPPDATA");
        }
        match self.get("XDG_CACHE_HOME") {
            Some(dir) => Some(PathBuf::from(dir)),
            None => home::env::home_dir_with_env(self).map(|h| h.join(".cache")),
        }
    }

    /// A variable holding an absolute path (a relative one would depend on the working
    /// directory, so it is ignored, as the XDG spec does for its variables).
    fn absolute_var(&self, name: &str) -> Option<PathBuf> {
        self.get(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute() || p.has_root())
    }

    /// `CARGO_HOME` resolved the way cargo does (relative to the working directory; else
    /// `~/.cargo`).
    pub fn cargo_home(&self) -> io::Result<PathBuf> {
        home::env::cargo_home_with_cwd_env(self, &self.cwd)
    }

    /// Where `cargo install` would install: `--root`, else `CARGO_INSTALL_ROOT`, else the cargo
    /// home. (`install.root` from cargo's config files sits between the last two; the caller
    /// applies it from [`crate::cargo_config::CargoConfig`].)
    pub fn install_root(&self, flag: Option<&Path>) -> io::Result<PathBuf> {
        let chosen = flag
            .map(Path::to_owned)
            .or_else(|| self.get("CARGO_INSTALL_ROOT").map(PathBuf::from));
        match chosen {
            Some(p) if p.is_absolute() => Ok(p),
            Some(p) => Ok(self.cwd.join(p)),
            None => self.cargo_home(),
        }
    }

    /// The `cargo` to run for fallbacks: `$CARGO` (set when cargo runs us as a subcommand),
    /// else `cargo` from `PATH`.
    pub fn cargo(&self) -> OsString {
        self.vars
            .get("CARGO")
            .filter(|v| !v.is_empty())
            .cloned()
            .unwrap_or_else(|| OsString::from("cargo"))
    }

    /// Whether `dir` is one of `PATH`'s entries, compared as cargo compares them (the path as
    /// written, not resolved).
    pub fn on_path(&self, dir: &Path) -> bool {
        self.vars
            .get("PATH")
            .is_some_and(|path| std::env::split_paths(path).any(|entry| entry == dir))
    }

    /// A comma-separated list variable, split and trimmed.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl home::env::Env for Env {
    fn home_dir(&self) -> Option<PathBuf> {
        match self.vars.get("HOME").filter(|h| !h.is_empty()) {
            Some(h) => Some(PathBuf::from(h)),
            None => home::env::OS_ENV.home_dir(),
        }
    }

    fn current_dir(&self) -> io::Result<PathBuf> {
        Ok(self.cwd.clone())
    }

    fn var_os(&self, key: &str) -> Option<OsString> {
        self.vars.get(key).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_root_prefers_flag_then_env_then_cargo_home() {
        let cwd = Path::new("/w");
        let env = Env::from_pairs(
            cwd,
            [("CARGO_HOME", "/ch"), ("CARGO_INSTALL_ROOT", "rel-root")],
        );
        assert_eq!(
            env.install_root(Some(Path::new("/flag"))).unwrap(),
            Path::new("/flag")
        );
        assert_eq!(env.install_root(None).unwrap(), Path::new("/w/rel-root"));
        let env = Env::from_pairs(cwd, [("CARGO_HOME", "ch")]);
        assert_eq!(env.install_root(None).unwrap(), Path::new("/w/ch"));
        let env = Env::from_pairs(cwd, [("HOME", "/home/u")]);
        assert_eq!(env.install_root(None).unwrap(), Path::new("/home/u/.cargo"));
    }

    #[test]
    fn flags_and_lists() {
        let env = Env::from_pairs(
            Path::new("/"),
            [("CI", "false"), ("DO_NOT_TRACK", "1"), ("K", " a, b ,,c ")],
        );
        assert!(!env.is_ci());
        assert!(env.do_not_track());
        assert!(!env.no_telemetry());
        assert!(!env.no_color());
        assert_eq!(env.list("K"), ["a", "b", "c"]);
    }

    #[test]
    fn windows_keeps_config_in_appdata_and_caches_in_localappdata() {
        // `C:\Users\u\AppData\Roaming` is not absolute on Linux; a rooted path stands in.
        let env = Env::from_pairs(
            Path::new("/w"),
            [
                ("HOME", "/home/u"),
                ("XDG_CONFIG_HOME", "/xdg/config"),
                ("XDG_CACHE_HOME", "/xdg/cache"),
                ("APPDATA", "/Users/u/AppData/Roaming"),
                ("LOCALAPPDATA", "/Users/u/AppData/Local"),
            ],
        );
        assert_eq!(
            env.config_dir_for("windows").unwrap(),
            Path::new("/Users/u/AppData/Roaming")
        );
        assert_eq!(
            env.cache_home_for("windows").unwrap(),
            Path::new("/Users/u/AppData/Local")
        );
        assert_eq!(
            env.config_dir_for("linux").unwrap(),
            Path::new("/xdg/config")
        );
        assert_eq!(
            env.cache_home_for("linux").unwrap(),
            Path::new("/xdg/cache")
        );
        // Without the variables (or with a relative one) there is no Windows dir to guess.
        let bare = Env::from_pairs(Path::new("/w"), [("HOME", "/home/u"), ("APPDATA", "rel")]);
        assert_eq!(bare.config_dir_for("windows"), None);
        assert_eq!(bare.cache_home_for("windows"), None);
        assert_eq!(
            bare.cache_home_for("macos").unwrap(),
            Path::new("/home/u/.cache")
        );
    }
}
