//! Cargo's own configuration, read the way cargo reads it, for the keys that decide where a crate
//! comes from, where it is installed and how we talk to the network.
//!
//! Files: `.cargo/config.toml` (or the legacy `.cargo/config`, which cargo prefers when both
//! exist) in the working directory and every parent up to the root, then
//! `$CARGO_HOME/config.toml`. A value in a deeper directory wins; tables merge key by key; the
//! `CARGO_*` environment equivalents (read through [`Env`]) win over every file. Relative paths
//! in a file are relative to the directory holding its `.cargo` (cargo's `ConfigRelativePath`),
//! in the environment to the working directory.
//!
//! Why not the `cargo-config2` crate: it reads `build`, `target`, `registries`, `net`, `http`
//! and `term`, but neither `install` nor `source`, and `source.*.replace-with` is the key that
//! decides whether a crate is one of crates.io's. So this is a small reader of just the keys we
//! use (listed in the README); everything else in those files is ignored, as cargo ignores keys
//! it does not know. Which registry a crate comes from is [`source`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::env::Env;

pub mod source;

/// A problem with cargo's configuration: the sentence, then the `help:` advice.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    pub message: String,
    pub help: String,
}

/// A value and the file (or variable) it came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defined<T> {
    pub value: T,
    /// `/p/.cargo/config.toml` or `environment variable CARGO_…`.
    pub origin: String,
}

/// One `[source.<name>]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceTable {
    pub replace_with: Option<Defined<String>>,
    pub registry: Option<Defined<String>>,
    pub local_registry: Option<Defined<PathBuf>>,
    pub directory: Option<Defined<PathBuf>>,
    /// `git = "…"`: a git repository of crates (with `branch`/`tag`/`rev`, which we need not read).
    pub git: Option<Defined<String>>,
}

/// The merged configuration: only the keys quickinstall reads.
#[derive(Debug, Clone, Default)]
pub struct CargoConfig {
    pub install_root: Option<Defined<PathBuf>>,
    pub registry_default: Option<Defined<String>>,
    /// `[registries.<name>] index`, by name (environment `CARGO_REGISTRIES_<NAME>_INDEX` is
    /// looked up on demand by [`CargoConfig::registry_index`]).
    registries: BTreeMap<String, Defined<String>>,
    pub sources: BTreeMap<String, SourceTable>,
    pub http_proxy: Option<Defined<String>>,
    pub http_cainfo: Option<Defined<PathBuf>>,
    pub http_timeout: Option<Defined<u64>>,
    pub net_retry: Option<Defined<u32>>,
    pub net_offline: Option<Defined<bool>>,
    pub term_color: Option<Defined<String>>,
    /// `term.quiet` / `CARGO_TERM_QUIET`: quiet unless `--verbose` is given.
    pub term_quiet: Option<Defined<bool>>,
    /// `term.verbose` / `CARGO_TERM_VERBOSE`: `-v` unless `--quiet` is given.
    pub term_verbose: Option<Defined<bool>>,
    pub build_target: Option<Defined<String>>,
    /// The files read, deepest first.
    pub files: Vec<PathBuf>,
    /// Environment variables that overrode the files, to look up `CARGO_REGISTRIES_*`.
    env: Env,
}

/// The shape of one config file; unknown keys are ignored (cargo warns about some, we do not).
#[derive(Deserialize, Default)]
#[serde(default)]
struct FileConfig {
    install: InstallSection,
    registry: RegistrySection,
    registries: BTreeMap<String, RegistriesEntry>,
    source: BTreeMap<String, SourceEntry>,
    http: HttpSection,
    net: NetSection,
    term: TermSection,
    build: BuildSection,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InstallSection {
    root: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RegistrySection {
    default: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RegistriesEntry {
    index: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct SourceEntry {
    replace_with: Option<String>,
    registry: Option<String>,
    local_registry: Option<String>,
    directory: Option<String>,
    git: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct HttpSection {
    proxy: Option<String>,
    cainfo: Option<String>,
    timeout: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NetSection {
    retry: Option<u32>,
    offline: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TermSection {
    color: Option<String>,
    quiet: Option<bool>,
    verbose: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BuildSection {
    // cargo also accepts an array here; only a single target is used as a fallback default.
    target: Option<toml::Value>,
}

impl CargoConfig {
    /// Reads every config file cargo would read from `env`'s working directory and cargo home,
    /// then applies the `CARGO_*` environment variables. A file that exists but cannot be read
    /// or parsed is an error naming it, as it is for cargo.
    pub fn load(env: &Env) -> Result<Self, ConfigError> {
        let mut files = Vec::new();
        let mut seen_home = false;
        let home = env.cargo_home().ok();
        for dir in env.cwd().ancestors() {
            let dot_cargo = dir.join(".cargo");
            if home.as_deref() == Some(dot_cargo.as_path()) {
                seen_home = true;
            }
            if let Some(file) = config_file_in(&dot_cargo) {
                files.push(file);
            }
        }
        if let (Some(home), false) = (home, seen_home)
            && let Some(file) = config_file_in(&home)
        {
            files.push(file);
        }
        let mut parsed = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file).map_err(|e| ConfigError {
                message: format!(
                    "could not read cargo's configuration file `{}`: {e}",
                    file.display()
                ),
                help: "fix or remove the file; `cargo install` would refuse it too".into(),
            })?;
            parsed.push((file.clone(), text));
        }
        Self::from_texts(env, &parsed, files)
    }

    /// The merge itself, from file contents (deepest first); for tests without a disk.
    pub fn from_texts(
        env: &Env,
        texts: &[(PathBuf, String)],
        files: Vec<PathBuf>,
    ) -> Result<Self, ConfigError> {
        let mut config = Self {
            files,
            env: env.clone(),
            ..Self::default()
        };
        // Shallowest first, so that each deeper file overwrites what it defines.
        for (file, text) in texts.iter().rev() {
            let parsed: FileConfig = toml::from_str(text).map_err(|e| ConfigError {
                message: format!(
                    "cargo's configuration file `{}` is not valid: {}",
                    file.display(),
                    e.message()
                ),
                help: "fix the file; `cargo install` would refuse it too".into(),
            })?;
            config.apply_file(file, parsed)?;
        }
        config.apply_env(env)?;
        Ok(config)
    }

    fn apply_file(&mut self, file: &Path, f: FileConfig) -> Result<(), ConfigError> {
        let origin = file.display().to_string();
        // `<dir>/.cargo/config.toml` → `<dir>`; `$CARGO_HOME/config.toml` → its parent.
        let base = file
            .parent()
            .and_then(Path::parent)
            .unwrap_or(Path::new("/"))
            .to_owned();
        let text = |v: String| Defined {
            value: v,
            origin: origin.clone(),
        };
        let path = |v: String| Defined {
            value: base.join(v),
            origin: origin.clone(),
        };
        set(&mut self.install_root, f.install.root.map(path));
        set(&mut self.registry_default, f.registry.default.map(text));
        for (name, entry) in f.registries {
            if let Some(index) = entry.index {
                self.registries.insert(name, text(index));
            }
        }
        for (name, entry) in f.source {
            let table = self.sources.entry(name).or_default();
            set(&mut table.replace_with, entry.replace_with.map(text));
            set(&mut table.registry, entry.registry.map(text));
            set(&mut table.local_registry, entry.local_registry.map(path));
            set(&mut table.directory, entry.directory.map(path));
            set(&mut table.git, entry.git.map(text));
        }
        set(&mut self.http_proxy, f.http.proxy.map(text));
        set(&mut self.http_cainfo, f.http.cainfo.map(path));
        set(
            &mut self.http_timeout,
            f.http.timeout.map(|v| Defined {
                value: v,
                origin: origin.clone(),
            }),
        );
        set(
            &mut self.net_retry,
            f.net.retry.map(|v| Defined {
                value: v,
                origin: origin.clone(),
            }),
        );
        set(
            &mut self.net_offline,
            f.net.offline.map(|v| Defined {
                value: v,
                origin: origin.clone(),
            }),
        );
        set(&mut self.term_color, f.term.color.map(text));
        let flag = |v: bool| Defined {
            value: v,
            origin: origin.clone(),
        };
        set(&mut self.term_quiet, f.term.quiet.map(flag));
        set(&mut self.term_verbose, f.term.verbose.map(flag));
        let target = match f.build.target {
            None => None,
            Some(toml::Value::String(t)) => Some(t),
            Some(toml::Value::Array(a)) if a.len() == 1 => a[0].as_str().map(str::to_owned),
            // Several targets: cargo builds each; a fallback default cannot be one of them.
            Some(_) => None,
        };
        set(&mut self.build_target, target.map(text));
        Ok(())
    }

    fn apply_env(&mut self, env: &Env) -> Result<(), ConfigError> {
        let var = |name: &str| {
            env.get(name).map(|v| Defined {
                value: v.to_owned(),
                origin: format!("environment variable {name}"),
            })
        };
        let cwd_path = |d: Defined<String>| Defined {
            value: env.cwd().join(d.value),
            origin: d.origin,
        };
        set(
            &mut self.install_root,
            var("CARGO_INSTALL_ROOT").map(cwd_path),
        );
        set(&mut self.registry_default, var("CARGO_REGISTRY_DEFAULT"));
        set(&mut self.http_proxy, var("CARGO_HTTP_PROXY"));
        set(
            &mut self.http_cainfo,
            var("CARGO_HTTP_CAINFO").map(cwd_path),
        );
        set(
            &mut self.http_timeout,
            var("CARGO_HTTP_TIMEOUT").map(number).transpose()?,
        );
        set(
            &mut self.net_retry,
            var("CARGO_NET_RETRY").map(number).transpose()?,
        );
        set(
            &mut self.net_offline,
            var("CARGO_NET_OFFLINE").map(boolean).transpose()?,
        );
        set(&mut self.term_color, var("CARGO_TERM_COLOR"));
        set(
            &mut self.term_quiet,
            var("CARGO_TERM_QUIET").map(boolean).transpose()?,
        );
        set(
            &mut self.term_verbose,
            var("CARGO_TERM_VERBOSE").map(boolean).transpose()?,
        );
        set(&mut self.build_target, var("CARGO_BUILD_TARGET"));
        Ok(())
    }

    /// The index URL of the registry `name`: `CARGO_REGISTRIES_<NAME>_INDEX` (name upper-cased,
    /// `-` as `_`), else `[registries.<name>] index`.
    pub fn registry_index(&self, name: &str) -> Option<Defined<String>> {
        let var = format!(
            "CARGO_REGISTRIES_{}_INDEX",
            name.to_ascii_uppercase().replace('-', "_")
        );
        match self.env.get(&var) {
            Some(v) => Some(Defined {
                value: v.to_owned(),
                origin: format!("environment variable {var}"),
            }),
            None => self.registries.get(name).cloned(),
        }
    }

    /// `net.offline` (or `CARGO_NET_OFFLINE`) is true.
    pub fn offline(&self) -> bool {
        self.net_offline.as_ref().is_some_and(|d| d.value)
    }
}

/// Cargo's file in one directory: the legacy `config` when both exist (cargo warns and uses it).
fn config_file_in(dir: &Path) -> Option<PathBuf> {
    ["config", "config.toml"]
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
}

/// A deeper (later-applied) definition replaces a shallower one.
fn set<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}

fn number<T: std::str::FromStr>(d: Defined<String>) -> Result<Defined<T>, ConfigError> {
    match d.value.trim().parse() {
        Ok(value) => Ok(Defined {
            value,
            origin: d.origin,
        }),
        Err(_) => Err(ConfigError {
            message: format!("{} is `{}`, not a whole number", d.origin, d.value),
            help: "set it to a number, or unset it".into(),
        }),
    }
}

fn boolean(d: Defined<String>) -> Result<Defined<bool>, ConfigError> {
    let value = match d.value.trim() {
        "true" => true,
        "false" => false,
        _ => {
            return Err(ConfigError {
                message: format!("{} is `{}`, not `true` or `false`", d.origin, d.value),
                help: "cargo accepts only `true` or `false` there".into(),
            });
        }
    };
    Ok(Defined {
        value,
        origin: d.origin,
    })
}

#[cfg(test)]
mod tests;
