//! The Go module proxy protocol (<https://go.dev/ref/mod#goproxy-protocol>): which module
//! provides a package, and which version `go install pkg@query` would pick, read from the proxies
//! `GOPROXY` lists.
//!
//! [`resolve`] is the I/O shell; where lookups may go ([`routing`], from the settings
//! [`crate::goenv`] reads) and version logic ([`version`]) are pure. It never fetches source (no
//! `direct` VCS access): when no proxy can answer, the caller falls back to `go install`. Private
//! paths (`GOPRIVATE`/`GONOPROXY`/`GONOSUMDB`) are never looked up.

pub mod routing;
pub mod version;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

pub use self::routing::{GoEnv, GoProxyError, OnError, ProxyEntry, parse_goproxy};
use self::version::{Choice, GoVersion, Query, QueryError, Retractions};
use crate::download::{DownloadError, Fetcher, Location};
use crate::index::path::{escape_module_path, is_valid_module_path};

/// `/@v/list` of a module with thousands of tags is a few tens of KiB.
const LIST_LIMIT: u64 = 4 * 1024 * 1024;
/// `.info` and `/@latest`: a small JSON object.
const INFO_LIMIT: u64 = 64 * 1024;
/// A `go.mod`, read for its `retract` directives.
const MOD_LIMIT: u64 = 4 * 1024 * 1024;
/// Module path candidates probed at once: enough for any real path in one round.
const PARALLEL_PROBES: usize = 8;

/// A package resolved to its module and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The module path (the longest prefix of the package the proxy knows).
    pub module: String,
    /// The version, as the proxy spells it (`v1.2.3`, or a pseudo-version).
    pub version: String,
    /// The package path asked for.
    pub package: String,
    /// The `GOPROXY` entry that answered.
    pub proxy: String,
}

/// Why no proxy could be asked.
#[derive(Debug)]
pub enum NoProxyReason {
    /// `GOPROXY=off`.
    Off,
    /// The list reached `direct`: only version control could answer.
    Direct,
    /// The proxy that had to answer could not be reached.
    Unreachable(DownloadError),
}

impl fmt::Display for NoProxyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Off => f.write_str("GOPROXY is `off`"),
            Self::Direct => f.write_str("GOPROXY leaves it to `direct` version control access"),
            Self::Unreachable(e) => write!(f, "no module proxy could be reached ({e})"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GoResolveError {
    #[error("`{package}` is not a valid Go package path")]
    InvalidPath { package: String },
    #[error(
        "`{query}` is not a Go version query (use `latest`, `v1.2.3`, `v1`, `v1.2`, `>=v1.2.0`, `<v2`, or a branch, tag or commit)"
    )]
    InvalidQuery { query: String },
    #[error(
        "`{query}` is ambiguous: `go` does not guess whether a version prefix means its first or last release; use a full version such as `v1.2.0`"
    )]
    AmbiguousQuery { query: String },
    #[error("no module provides package `{package}`: not found on `{proxy}`")]
    UnknownModule { package: String, proxy: String },
    #[error("module `{module}` has no version matching `{query}`{}", newest.as_ref().map(|v| format!("; the newest is {v}")).unwrap_or_default())]
    UnknownVersion {
        module: String,
        query: String,
        newest: Option<String>,
    },
    #[error("every version of module `{module}` matching `{query}` is retracted")]
    Retracted { module: String, query: String },
    #[error("`{package}` cannot be resolved through a module proxy: {reason}")]
    NoProxy {
        package: String,
        reason: NoProxyReason,
    },
    #[error(
        "`{package}` matches GOPRIVATE, GONOPROXY or GONOSUMDB, so it is never looked up in public services"
    )]
    Private { package: String },
    #[error("could not ask the module proxy about `{package}`: {source}")]
    Download {
        package: String,
        #[source]
        source: DownloadError,
    },
    #[error("`{url}` is not a valid module proxy answer: {reason}")]
    BadResponse { url: String, reason: String },
}

impl GoResolveError {
    /// What to do about it, when there is something to say beyond the message.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::UnknownModule { package, .. } => Some(format!(
                "check the path's spelling; for a module the public proxy cannot see, add it to GOPRIVATE (`go env -w GOPRIVATE=…`) so `go install {package}@…` fetches it directly"
            )),
            Self::UnknownVersion { .. } | Self::Retracted { .. } => Some(
                "ask for another version (`@latest`, `@v1.2.3`); `go list -m -versions MODULE` lists them".into(),
            ),
            _ => None,
        }
    }

    /// The proxy said "not found" (404/410), so a `,` in `GOPROXY` falls through.
    fn is_not_found(&self) -> bool {
        self.helpfulness() < 2
    }

    /// Ranks one proxy's failure against another's, to report the best of them.
    fn helpfulness(&self) -> u8 {
        match self {
            Self::UnknownModule { .. } => 0,
            Self::UnknownVersion { .. } => 1,
            _ => 2,
        }
    }
}

/// Resolves `package@query` the way `go install` does, through the proxies of `env`.
pub fn resolve(
    fetcher: &Fetcher,
    env: &GoEnv,
    package: &str,
    query: &str,
) -> Result<Resolved, GoResolveError> {
    if env.is_private(package) {
        return Err(GoResolveError::Private {
            package: package.to_owned(),
        });
    }
    if !is_valid_module_path(package) {
        return Err(GoResolveError::InvalidPath {
            package: package.to_owned(),
        });
    }
    let parsed = Query::parse(query).map_err(|e| match e {
        QueryError::Invalid => GoResolveError::InvalidQuery {
            query: query.to_owned(),
        },
        QueryError::Ambiguous => GoResolveError::AmbiguousQuery {
            query: query.to_owned(),
        },
    })?;
    let no_proxy = |reason| GoResolveError::NoProxy {
        package: package.to_owned(),
        reason,
    };
    // cmd/go reports the most helpful failure: another error before an unknown version,
    // an unknown version before an unknown module.
    let mut best: Option<GoResolveError> = None;
    for (entry, on_error) in &env.proxies {
        let url = match entry {
            ProxyEntry::Off => return Err(no_proxy(NoProxyReason::Off)),
            ProxyEntry::Direct => return Err(no_proxy(NoProxyReason::Direct)),
            ProxyEntry::Url(url) => url,
        };
        let proxy = Proxy::new(fetcher, url, package)?;
        let error = match proxy.resolve(query, &parsed) {
            Ok(resolved) => return Ok(resolved),
            Err(e) => e,
        };
        let falls_through = error.is_not_found() || *on_error == OnError::AnyError;
        if best
            .as_ref()
            .is_none_or(|b| b.helpfulness() < error.helpfulness())
        {
            best = Some(error);
        }
        if !falls_through {
            break;
        }
    }
    match best {
        // With no proxy reachable, `go install` may still succeed (or say why it cannot).
        Some(GoResolveError::Download { source, .. }) if source.is_unreachable() => {
            Err(no_proxy(NoProxyReason::Unreachable(source)))
        }
        Some(e) => Err(e),
        // `GoEnv::from_env` refuses an empty list; a hand-built one gets the same answer as
        // `off`.
        None => Err(no_proxy(NoProxyReason::Off)),
    }
}

/// The path of a module file below a proxy's root (`<escaped module>/@v/<escaped
/// version>.<ext>`, `ext` being `info`, `mod` or `zip`), case-escaped as the protocol says.
pub fn module_file(module: &str, version: &str, ext: &str) -> String {
    format!(
        "{}/@v/{}.{ext}",
        escape_module_path(module),
        escape_module_path(version)
    )
}

/// The module path candidates for a package, longest first: every prefix that is a valid module
/// path (cmd/go's `modulePrefixesExcludingTarget`).
pub fn module_candidates(package: &str) -> Vec<&str> {
    let mut candidates = Vec::new();
    let mut current = package;
    loop {
        if is_valid_module_path(current) && version::has_valid_major_suffix(current) {
            candidates.push(current);
        }
        match current.rsplit_once('/') {
            Some((parent, _)) => current = parent,
            None => break,
        }
    }
    candidates
}

/// What one proxy says about one candidate module path.
struct Probe {
    /// Tagged versions from `/@v/list`.
    versions: Vec<GoVersion>,
    /// `/@latest`, read only when the list is empty.
    latest: Option<String>,
}

/// `go.mod` files already fetched, by version.
type ModCache = BTreeMap<String, Option<Vec<u8>>>;

/// The `.info` document of the protocol (`/@v/<version>.info`, `/@latest`).
#[derive(Deserialize)]
struct Info {
    #[serde(rename = "Version")]
    version: String,
}

/// One proxy, asked about one package.
struct Proxy<'a> {
    fetcher: &'a Fetcher,
    url: &'a str,
    base: Location,
    package: &'a str,
}

/// What a module candidate's versions say about the query.
enum Answer {
    Version(String),
    NoMatch { newest: Option<String> },
    AllRetracted,
}

impl<'a> Proxy<'a> {
    fn new(fetcher: &'a Fetcher, url: &'a str, package: &'a str) -> Result<Self, GoResolveError> {
        let base = Location::parse(url).map_err(|source| GoResolveError::Download {
            package: package.to_owned(),
            source,
        })?;
        Ok(Self {
            fetcher,
            url,
            base,
            package,
        })
    }

    fn resolve(&self, query: &str, parsed: &Query) -> Result<Resolved, GoResolveError> {
        let package = self.package;
        let candidates = module_candidates(package);
        let mut probes = Vec::with_capacity(candidates.len());
        for chunk in candidates.chunks(PARALLEL_PROBES) {
            let results: Vec<_> = std::thread::scope(|scope| {
                let handles: Vec<_> = chunk
                    .iter()
                    .map(|module| scope.spawn(move || self.probe(module)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                    })
                    .collect()
            });
            probes.extend(chunk.iter().copied().zip(results));
        }
        // cmd/go: the longest module with a matching version wins; an error on a longer path
        // than any found module is the answer; errors on shorter paths are ignored.
        let mut first_miss: Option<GoResolveError> = None;
        for (module, probe) in probes {
            let probe = match probe {
                Ok(Some(probe)) => probe,
                Ok(None) => continue,
                Err(_) if first_miss.is_some() => continue,
                Err(e) => return Err(e),
            };
            let miss = match self.answer(module, &probe, parsed)? {
                Answer::Version(version) => {
                    return Ok(Resolved {
                        module: module.to_owned(),
                        version,
                        package: package.to_owned(),
                        proxy: self.url.to_owned(),
                    });
                }
                Answer::NoMatch { newest } => GoResolveError::UnknownVersion {
                    module: module.to_owned(),
                    query: query.to_owned(),
                    newest,
                },
                Answer::AllRetracted => GoResolveError::Retracted {
                    module: module.to_owned(),
                    query: query.to_owned(),
                },
            };
            first_miss = first_miss.or(Some(miss));
        }
        Err(first_miss.unwrap_or_else(|| GoResolveError::UnknownModule {
            package: package.to_owned(),
            proxy: self.url.to_owned(),
        }))
    }

    /// Whether the proxy knows `module`: a non-empty `/@v/list`, or an empty one and a
    /// `/@latest` (a module with no tags, only pseudo-versions).
    fn probe(&self, module: &str) -> Result<Option<Probe>, GoResolveError> {
        let escaped = escape_module_path(module);
        let Some(list) = self.get(&format!("{escaped}/@v/list"), LIST_LIMIT)? else {
            return Ok(None);
        };
        let versions = version::parse_list(module, &String::from_utf8_lossy(&list));
        if !versions.is_empty() {
            return Ok(Some(Probe {
                versions,
                latest: None,
            }));
        }
        let latest = self.info(module, &format!("{escaped}/@latest"))?;
        Ok(latest.map(|latest| Probe {
            versions,
            latest: Some(latest),
        }))
    }

    fn answer(&self, module: &str, probe: &Probe, query: &Query) -> Result<Answer, GoResolveError> {
        let newest = || version::latest_candidate(&probe.versions).map(|v| v.text.clone());
        let no_match = || Answer::NoMatch {
            newest: newest().or_else(|| probe.latest.clone()),
        };
        match query {
            // Exact versions and revisions are the proxy's to find; retracted or not, as in go.
            Query::Exact(v) | Query::Revision(v) => {
                let path = module_file(module, v, "info");
                Ok(match self.info(module, &path)? {
                    Some(version) => Answer::Version(version),
                    None => no_match(),
                })
            }
            Query::Latest if probe.versions.is_empty() => Ok(match &probe.latest {
                Some(latest) => Answer::Version(latest.clone()),
                None => Answer::NoMatch { newest: None },
            }),
            _ => {
                let mut mods = ModCache::default();
                // cmd/go reads retractions from the go.mod of the version `latest` would pick
                // were nothing retracted: a later release can retract earlier ones, and itself.
                let none = Retractions::default();
                let retracted =
                    match self.choose(module, probe, &Query::Latest, &none, &mut mods)? {
                        Choice::Found(latest) => self
                            .go_mod(module, &latest, &mut mods)?
                            .map(|go_mod| {
                                version::parse_retractions(&String::from_utf8_lossy(&go_mod))
                            })
                            .unwrap_or_default(),
                        Choice::AllRetracted | Choice::NoMatch => none,
                    };
                Ok(
                    match self.choose(module, probe, query, &retracted, &mut mods)? {
                        Choice::Found(v) => Answer::Version(v.text),
                        Choice::AllRetracted => Answer::AllRetracted,
                        Choice::NoMatch => no_match(),
                    },
                )
            }
        }
    }

    /// [`version::choose`], with `+incompatible` versions dropped when the module's compatible
    /// versions have their own `go.mod` (which costs one `.mod` request, only when the list has
    /// `+incompatible` versions).
    fn choose(
        &self,
        module: &str,
        probe: &Probe,
        query: &Query,
        retracted: &Retractions,
        mods: &mut ModCache,
    ) -> Result<Choice, GoResolveError> {
        if let Some(gate) = version::incompatible_gate(&probe.versions, query, retracted)
            && self
                .go_mod(module, gate, mods)?
                .is_some_and(|go_mod| !version::is_synthesized_go_mod(module, &go_mod))
        {
            let compatible: Vec<GoVersion> = probe
                .versions
                .iter()
                .filter(|v| !version::is_incompatible(v))
                .cloned()
                .collect();
            return Ok(version::choose(&compatible, query, retracted));
        }
        Ok(version::choose(&probe.versions, query, retracted))
    }

    /// A version's `go.mod` (`None` when the proxy has none), fetched once per resolution.
    fn go_mod(
        &self,
        module: &str,
        v: &GoVersion,
        mods: &mut ModCache,
    ) -> Result<Option<Vec<u8>>, GoResolveError> {
        if let Some(cached) = mods.get(&v.text) {
            return Ok(cached.clone());
        }
        let path = module_file(module, &v.text, "mod");
        let go_mod = self.get(&path, MOD_LIMIT)?;
        mods.insert(v.text.clone(), go_mod.clone());
        Ok(go_mod)
    }

    /// An `.info` document's version, checked to be one `module` can have.
    fn info(&self, module: &str, path: &str) -> Result<Option<String>, GoResolveError> {
        let Some(bytes) = self.get(path, INFO_LIMIT)? else {
            return Ok(None);
        };
        let url = self.base.join(path).to_string();
        let info: Info =
            serde_json::from_slice(&bytes).map_err(|e| GoResolveError::BadResponse {
                url: url.clone(),
                reason: format!("its JSON does not hold a `Version` ({e})"),
            })?;
        match GoVersion::parse(&info.version) {
            Some(v) if version::allows_major(module, &v) => Ok(Some(info.version)),
            _ => Err(GoResolveError::BadResponse {
                url,
                reason: format!("`{}` is not a version of module `{module}`", info.version),
            }),
        }
    }

    fn get(&self, path: &str, limit: u64) -> Result<Option<Vec<u8>>, GoResolveError> {
        self.fetcher
            .get_small(&self.base.join(path), limit)
            .map_err(|source| GoResolveError::Download {
                package: self.package.to_owned(),
                source,
            })
    }
}
