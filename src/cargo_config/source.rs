//! Which source a crate comes from, by cargo's rules: the registry asked for (`--registry NAME`,
//! `--index URL`, else `registry.default`, else crates.io), then the `[source.<name>]
//! replace-with` chain from it to the source that is actually read.
//!
//! Pure: works on a loaded [`CargoConfig`]. A cycle, or a `replace-with` naming nothing, is an
//! error naming the chain and the file, as cargo reports it.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::{CargoConfig, ConfigError};

/// The registry the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested<'a> {
    /// Nothing on the command line: `registry.default`, else crates.io.
    Default,
    /// `--registry NAME`.
    Named(&'a str),
    /// `--index URL`.
    Index(&'a str),
}

/// The source cargo would read a crate from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// crates.io itself (not replaced, or replaced by crates.io's own index URL).
    CratesIo,
    /// A remote registry index: `sparse+https://…`, or a git index URL.
    Registry { url: String },
    /// `local-registry = "…"`: a directory of `.crate` files and an index.
    LocalRegistry(PathBuf),
    /// `directory = "…"`: vendored sources.
    Directory(PathBuf),
    /// `git = "…"`: crates from a git repository.
    Git(String),
}

/// The outcome: the source, and how it was chosen (for messages and `-v`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub origin: Origin,
    /// e.g. "the registry `corp` (registry.default in /w/.cargo/config.toml)".
    pub describe: String,
    /// Some replacement applied.
    pub replaced: bool,
}

const CRATES_IO: &str = "crates-io";

/// Index URLs that are crates.io's own, whatever the protocol.
pub fn is_crates_io_url(url: &str) -> bool {
    let bare = url
        .strip_prefix("sparse+")
        .or_else(|| url.strip_prefix("registry+"))
        .unwrap_or(url)
        .trim_end_matches('/');
    matches!(
        bare,
        "https://index.crates.io" | "https://github.com/rust-lang/crates.io-index"
    )
}

fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

impl CargoConfig {
    /// Follows cargo's registry choice and source replacement for `requested`.
    pub fn resolve_source(&self, requested: Requested<'_>) -> Result<Resolved, ConfigError> {
        let (start, mut describe) = match requested {
            Requested::Named(name) => {
                (Node::Name(name.to_owned()), self.named(name, "--registry")?)
            }
            Requested::Index(url) if is_crates_io_url(url) => {
                (Node::Name(CRATES_IO.into()), "crates.io".into())
            }
            Requested::Index(url) => {
                // cargo finds the `[source.*]` that defines this URL, so its replacement applies.
                let defined = self
                    .sources
                    .iter()
                    .find(|(_, s)| s.registry.as_ref().is_some_and(|r| same_url(&r.value, url)));
                let node = match defined {
                    Some((name, _)) => Node::Name(name.clone()),
                    None => Node::Url(url.to_owned()),
                };
                (node, format!("the registry `{url}` (--index)"))
            }
            Requested::Default => match &self.registry_default {
                Some(d) if d.value != CRATES_IO => {
                    let why = format!("registry.default in {}", d.origin);
                    (Node::Name(d.value.clone()), self.named(&d.value, &why)?)
                }
                _ => (Node::Name(CRATES_IO.into()), "crates.io".into()),
            },
        };
        let mut visited = BTreeSet::new();
        let mut chain = Vec::new();
        let mut node = start;
        let mut replaced = false;
        loop {
            let name = match node {
                Node::Url(url) => {
                    return Ok(Resolved {
                        origin: origin_of_url(url),
                        describe,
                        replaced,
                    });
                }
                Node::Name(name) => name,
            };
            chain.push(name.clone());
            if !visited.insert(name.clone()) {
                return Err(ConfigError {
                    message: format!(
                        "cargo's source replacement goes round in a circle: {}",
                        chain.join(" → ")
                    ),
                    help: "fix the `replace-with` keys in the [source.*] tables of your .cargo/config.toml".into(),
                });
            }
            let table = self.sources.get(&name);
            if let Some(next) = table.and_then(|t| t.replace_with.as_ref()) {
                replaced = true;
                describe = format!(
                    "the source `{}` that replaces {describe} (replace-with in {})",
                    next.value, next.origin
                );
                node = Node::Name(next.value.clone());
                continue;
            }
            if let Some(t) = table {
                if let Some(url) = &t.registry {
                    return Ok(Resolved {
                        origin: origin_of_url(url.value.clone()),
                        describe,
                        replaced,
                    });
                }
                if let Some(dir) = &t.local_registry {
                    return Ok(Resolved {
                        origin: Origin::LocalRegistry(dir.value.clone()),
                        describe,
                        replaced,
                    });
                }
                if let Some(dir) = &t.directory {
                    return Ok(Resolved {
                        origin: Origin::Directory(dir.value.clone()),
                        describe,
                        replaced,
                    });
                }
                if let Some(url) = &t.git {
                    return Ok(Resolved {
                        origin: Origin::Git(url.value.clone()),
                        describe,
                        replaced,
                    });
                }
            }
            if name == CRATES_IO {
                return Ok(Resolved {
                    origin: Origin::CratesIo,
                    describe,
                    replaced,
                });
            }
            // `replace-with` may also name a registry from `[registries]`.
            if let Some(index) = self.registry_index(&name) {
                return Ok(Resolved {
                    origin: origin_of_url(index.value),
                    describe,
                    replaced,
                });
            }
            let lookup = chain.first().cloned().unwrap_or_default();
            return Err(ConfigError {
                message: format!(
                    "cargo's configuration names the source `{name}` (replacing `{lookup}`), but defines no [source.{name}] or [registries.{name}]"
                ),
                help: format!(
                    "define it, e.g. `[source.{name}] registry = \"sparse+https://…\"`, or remove the `replace-with`"
                ),
            });
        }
    }

    /// "the registry `NAME` (…)", after checking it is defined.
    fn named(&self, name: &str, why: &str) -> Result<String, ConfigError> {
        if name == CRATES_IO {
            return Ok("crates.io".into());
        }
        match self.registry_index(name) {
            Some(index) => Ok(format!(
                "the registry `{name}` ({}, from {why}; index in {})",
                index.value, index.origin
            )),
            None => Err(ConfigError {
                message: format!(
                    "the registry `{name}` ({why}) is not defined in cargo's configuration"
                ),
                help: format!(
                    "add `[registries.{name}] index = \"sparse+https://…\"` to .cargo/config.toml, or set CARGO_REGISTRIES_{}_INDEX",
                    name.to_ascii_uppercase().replace('-', "_")
                ),
            }),
        }
    }
}

enum Node {
    Name(String),
    Url(String),
}

fn origin_of_url(url: String) -> Origin {
    if is_crates_io_url(&url) {
        Origin::CratesIo
    } else {
        Origin::Registry { url }
    }
}
