//! A crates.io-style *sparse* registry: which versions of a crate exist, and which one to install.
//!
//! One small request per crate (`<base>/<prefix>/<name>`), never the web API. Parsing and the
//! choice of version are pure functions; [`Registry::versions`] is the I/O shell. Selection
//! follows `cargo install`: the newest version matching the requirement that is neither yanked
//! nor (unless asked for explicitly) a prerelease.

use std::collections::HashMap;

use semver::{Version, VersionReq};
use serde::Deserialize;

use crate::download::{DownloadError, Fetcher, Location};

/// crates.io's sparse index.
pub const CRATES_IO_SPARSE: &str = "https://index.crates.io/";
/// How cargo names crates.io in package ids, whatever protocol it used to read it.
pub const CRATES_IO_SOURCE_ID: &str = "registry+https://github.com/rust-lang/crates.io-index";
/// A crate's index file is small (ripgrep's is ~60 KiB); anything far larger is not one.
const MAX_INDEX_FILE: u64 = 32 * 1024 * 1024;

/// A sparse registry, by base URL.
#[derive(Debug, Clone)]
pub struct Registry {
    base: Location,
    url: String,
    is_crates_io: bool,
    /// `config.json`'s `dl`, once asked (one request per run, not per crate).
    dl: std::sync::Arc<std::sync::OnceLock<String>>,
    /// The versions each crate's file listed, once read: a run that reads it twice (an exact
    /// pin's yank check after the upstream source's checksum) asks once.
    listed: std::sync::Arc<std::sync::Mutex<HashMap<String, Vec<RegistryVersion>>>>,
}

/// One published version as the registry lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryVersion {
    pub version: Version,
    pub yanked: bool,
    /// SHA-256 of the `.crate` file.
    pub cksum: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("`{url}` is not a registry URL (expected `https://…`, `http://…` or `sparse+…`)")]
    BadUrl { url: String },
    #[error("crate `{name}` was not found in the registry `{registry}`")]
    NotFound { name: String, registry: String },
    #[error("no version of `{name}` matches `{req}`{}", newest.as_ref().map(|v| format!("; the newest is {v}")).unwrap_or_default())]
    NoMatch {
        name: String,
        req: String,
        newest: Option<String>,
    },
    #[error("every version of `{name}` matching `{req}` is yanked")]
    AllYanked { name: String, req: String },
    /// An exact version asked for by name that the registry marks yanked: `cargo install`
    /// refuses it too.
    #[error("`{name} {version}` has been yanked from the registry `{registry}`")]
    Yanked {
        name: String,
        version: String,
        registry: String,
        newest: Option<String>,
    },
    /// The index file lists the crate under another case: cargo requires the exact name.
    #[error("crate `{name}` was not found in the registry `{registry}`; it lists `{canonical}`")]
    WrongCase {
        name: String,
        canonical: String,
        registry: String,
    },
    #[error("could not read the registry entry for `{name}`: {source}")]
    Download {
        name: String,
        #[source]
        source: DownloadError,
    },
}

impl Registry {
    pub fn crates_io() -> Self {
        Self {
            base: Location::Http(CRATES_IO_SPARSE.to_owned()),
            url: CRATES_IO_SPARSE.to_owned(),
            is_crates_io: true,
            dl: std::sync::Arc::default(),
            listed: std::sync::Arc::default(),
        }
    }

    /// A registry from its base URL, with or without cargo's `sparse+` prefix.
    pub fn from_url(url: &str) -> Result<Self, RegistryError> {
        let bare = url.strip_prefix("sparse+").unwrap_or(url);
        let mut bare = bare.to_owned();
        if !bare.ends_with('/') {
            bare.push('/');
        }
        if bare.trim_end_matches('/') == CRATES_IO_SPARSE.trim_end_matches('/') {
            return Ok(Self::crates_io());
        }
        let base = Location::parse(&bare).map_err(|_| RegistryError::BadUrl {
            url: url.to_owned(),
        })?;
        Ok(Self {
            base,
            url: bare,
            is_crates_io: false,
            dl: std::sync::Arc::default(),
            listed: std::sync::Arc::default(),
        })
    }

    pub fn is_crates_io(&self) -> bool {
        self.is_crates_io
    }

    /// The base URL, with a trailing `/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The registry as cargo's configuration spells it and cargo's messages show it
    /// (`sparse+https://…/`), crates.io included: the one form every message uses.
    pub fn display_url(&self) -> String {
        format!("sparse+{}", self.url)
    }

    /// The source part of cargo's package id, as `.crates.toml` records it.
    pub fn source_id(&self) -> String {
        if self.is_crates_io {
            CRATES_IO_SOURCE_ID.to_owned()
        } else {
            format!("sparse+{}", self.url)
        }
    }

    /// Where the `.crate` of `name version` is downloaded from: the registry's `config.json`
    /// `dl` (with cargo's `{crate}`, `{version}`, `{prefix}`, `{lowerprefix}` markers, else
    /// `/{crate}/{version}/download` appended). crates.io's is known without a request.
    pub fn crate_url(
        &self,
        fetcher: &Fetcher,
        name: &str,
        version: &str,
    ) -> Result<Location, RegistryError> {
        let dl = if self.is_crates_io {
            "https://static.crates.io/crates".to_owned()
        } else if let Some(dl) = self.dl.get() {
            dl.clone()
        } else {
            let config = fetcher
                .get_small(&self.base.join("config.json"), 64 * 1024)
                .map_err(|source| RegistryError::Download {
                    name: name.to_owned(),
                    source,
                })?
                .unwrap_or_default();
            let dl = serde_json::from_slice::<serde_json::Value>(&config)
                .ok()
                .and_then(|v| v.get("dl")?.as_str().map(str::to_owned))
                .ok_or_else(|| RegistryError::BadUrl {
                    url: format!("{}config.json (no `dl`)", self.url),
                })?;
            self.dl.get_or_init(|| dl).clone()
        };
        let markers = [
            "{crate}",
            "{version}",
            "{prefix}",
            "{lowerprefix}",
            "{sha256-checksum}",
        ];
        let url = if markers.iter().any(|m| dl.contains(m)) {
            let prefix = sparse_path(name)
                .map(|p| p.rsplit_once('/').map_or(p.clone(), |(d, _)| d.to_owned()))
                .unwrap_or_default();
            dl.replace("{crate}", name)
                .replace("{version}", version)
                .replace("{lowerprefix}", &prefix.to_ascii_lowercase())
                .replace("{prefix}", &prefix)
        } else {
            format!("{}/{name}/{version}/download", dl.trim_end_matches('/'))
        };
        Location::parse(&url).map_err(|_| RegistryError::BadUrl { url })
    }

    /// Every version of `name` (one request, the first time it is asked in a run).
    pub fn versions(
        &self,
        fetcher: &Fetcher,
        name: &str,
    ) -> Result<Vec<RegistryVersion>, RegistryError> {
        if let Some(versions) = self.listed.lock().ok().and_then(|l| l.get(name).cloned()) {
            return Ok(versions);
        }
        let versions = self.read_versions(fetcher, name)?;
        if let Ok(mut listed) = self.listed.lock() {
            listed.insert(name.to_owned(), versions.clone());
        }
        Ok(versions)
    }

    fn read_versions(
        &self,
        fetcher: &Fetcher,
        name: &str,
    ) -> Result<Vec<RegistryVersion>, RegistryError> {
        let not_found = || RegistryError::NotFound {
            name: name.to_owned(),
            registry: self.display_url(),
        };
        let path = sparse_path(name).ok_or_else(not_found)?;
        let bytes = fetcher
            .get_small(&self.base.join(&path), MAX_INDEX_FILE)
            .map_err(|source| RegistryError::Download {
                name: name.to_owned(),
                source,
            })?
            .ok_or_else(not_found)?;
        let versions = parse_index_file(&bytes, name);
        if versions.is_empty() {
            // The index path is lower case, so `QI-HELLO` reads `qi-hello`'s file; like cargo,
            // refuse the name rather than record a crate under a name the registry lacks.
            return Err(match canonical_name(&bytes, name) {
                Some(canonical) => RegistryError::WrongCase {
                    name: name.to_owned(),
                    canonical,
                    registry: self.display_url(),
                },
                None => not_found(),
            });
        }
        Ok(versions)
    }
}

impl RegistryError {
    /// Follow-up advice for a `help:` line.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::WrongCase { canonical, .. } => Some(format!(
                "crate names are exact: did you mean `{canonical}`?"
            )),
            Self::NotFound { name, .. } => Some(format!(
                "check the name's spelling (`cargo search {name}` lists similar ones), or name the registry it comes from with --registry"
            )),
            Self::Yanked { name, newest, .. } => Some(match newest {
                Some(newest) => format!(
                    "a yanked version is not installed, as with `cargo install`; the newest that is not yanked is `{name}@{newest}`"
                ),
                None => format!(
                    "a yanked version is not installed, as with `cargo install`, and `{name}` has no other; `cargo info {name}` lists its versions"
                ),
            }),
            Self::NoMatch { name, .. } | Self::AllYanked { name, .. } => Some(format!(
                "ask for another version: `{name}@X` takes cargo's requirements (`@1.2`, `@=1.2.3`); `cargo info {name}` lists its versions"
            )),
            Self::Download { .. } => Some(
                "check the network and the registry's URL (registry.default and source replacement in .cargo/config.toml), then retry".into(),
            ),
            Self::BadUrl { .. } => None,
        }
    }
}

/// The name an index file lists that equals `name` but for ASCII case, if any.
fn canonical_name(bytes: &[u8], name: &str) -> Option<String> {
    bytes
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<IndexLine>(line).ok())
        .map(|line| line.name)
        .find(|listed| listed.eq_ignore_ascii_case(name))
}

/// The sparse-index path of a crate: `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd`, lower case.
pub fn sparse_path(name: &str) -> Option<String> {
    if !crate::index::path::is_valid_crate_name(name) {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    Some(match lower.len() {
        1 => format!("1/{lower}"),
        2 => format!("2/{lower}"),
        3 => format!("3/{}/{lower}", &lower[..1]),
        _ => format!("{}/{}/{lower}", &lower[..2], &lower[2..4]),
    })
}

#[derive(Deserialize)]
struct IndexLine {
    name: String,
    vers: String,
    cksum: String,
    #[serde(default)]
    yanked: bool,
}

/// Parses a sparse-index file: one JSON object per line. Lines that do not parse, or that
/// describe another crate, are skipped, as cargo skips entries it cannot read. The name must
/// match exactly, case included, as cargo's lookup requires.
pub fn parse_index_file(bytes: &[u8], name: &str) -> Vec<RegistryVersion> {
    bytes
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice::<IndexLine>(line).ok())
        .filter(|line| line.name == name)
        .filter_map(|line| {
            Some(RegistryVersion {
                version: Version::parse(&line.vers).ok()?,
                yanked: line.yanked,
                cksum: line.cksum,
            })
        })
        .collect()
}

/// Parses a version argument the way `cargo install --version` does: a bare `1.2.3` means
/// exactly that version (`=1.2.3`); operators (`^ ~ = < >`) or `*` make a requirement; a bare
/// partial version like `1.2` is refused with the same tip cargo gives.
pub fn parse_version_arg(text: &str) -> Result<VersionReq, String> {
    let text = text.trim();
    let first = text
        .chars()
        .next()
        .ok_or_else(|| "no version was given after `@`".to_owned())?;
    if let Some(stripped) = text.strip_prefix('v') {
        return Err(format!(
            "the version `{text}` is not a valid semver requirement; try `{stripped}`"
        ));
    }
    if "<>=^~".contains(first) || text.contains('*') {
        return VersionReq::parse(text)
            .map_err(|_| format!("the version `{text}` is not a valid semver requirement"));
    }
    match Version::parse(text) {
        Ok(v) => Ok(exact_req(&v)),
        Err(e) => {
            let mut msg = format!("the version `{text}` is not a valid semver version: {e}");
            if VersionReq::parse(text).is_ok() {
                msg.push_str(&format!(
                    "; to ask for a range, add an explicit qualifier, like `^{text}`"
                ));
            }
            Err(msg)
        }
    }
}

/// `=x.y.z`.
pub fn exact_req(v: &Version) -> VersionReq {
    VersionReq {
        comparators: vec![semver::Comparator {
            op: semver::Op::Exact,
            major: v.major,
            minor: Some(v.minor),
            patch: Some(v.patch),
            pre: v.pre.clone(),
        }],
    }
}

/// The exact version a requirement pins, if it pins one (`=1.2.3`).
pub fn pinned_version(req: &VersionReq) -> Option<Version> {
    match req.comparators.as_slice() {
        [c] if c.op == semver::Op::Exact => Some(Version {
            major: c.major,
            minor: c.minor?,
            patch: c.patch?,
            pre: c.pre.clone(),
            build: semver::BuildMetadata::EMPTY,
        }),
        _ => None,
    }
}

/// Whether `version`, asked for exactly, may be installed as `cargo install` judges it: the
/// registry lists it and has not yanked it.
pub fn check_exact(
    name: &str,
    registry: &str,
    versions: &[RegistryVersion],
    version: &Version,
) -> Result<(), RegistryError> {
    match versions.iter().find(|v| v.version == *version) {
        Some(listed) if !listed.yanked => Ok(()),
        Some(_) => Err(RegistryError::Yanked {
            name: name.to_owned(),
            version: version.to_string(),
            registry: registry.to_owned(),
            newest: newest_stable(versions),
        }),
        None => Err(RegistryError::NoMatch {
            name: name.to_owned(),
            req: format!("={version}"),
            newest: newest_stable(versions),
        }),
    }
}

/// The newest version neither yanked nor a prerelease, for a `help:` that names one.
fn newest_stable(versions: &[RegistryVersion]) -> Option<String> {
    versions
        .iter()
        .filter(|v| !v.yanked && v.version.pre.is_empty())
        .map(|v| &v.version)
        .max()
        .map(ToString::to_string)
}

/// Picks the version to install: the newest non-yanked one matching `req` (any version when
/// `None`); prereleases only when the requirement names one, as semver matching does.
pub fn select_version<'a>(
    name: &str,
    versions: &'a [RegistryVersion],
    req: Option<&VersionReq>,
) -> Result<&'a RegistryVersion, RegistryError> {
    let matches = |v: &RegistryVersion| match req {
        Some(req) => req.matches(&v.version),
        None => v.version.pre.is_empty(),
    };
    let req_text = req.map_or_else(|| "*".to_owned(), ToString::to_string);
    let candidates: Vec<&RegistryVersion> = versions.iter().filter(|v| matches(v)).collect();
    if candidates.is_empty() {
        return Err(RegistryError::NoMatch {
            name: name.to_owned(),
            req: req_text,
            newest: newest_stable(versions),
        });
    }
    candidates
        .into_iter()
        .filter(|v| !v.yanked)
        .max_by(|a, b| a.version.cmp(&b.version))
        .ok_or(RegistryError::AllYanked {
            name: name.to_owned(),
            req: req_text,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(vers: &str, yanked: bool) -> RegistryVersion {
        RegistryVersion {
            version: Version::parse(vers).unwrap(),
            yanked,
            cksum: "00".repeat(32),
        }
    }

    #[test]
    fn an_exact_version_must_be_listed_and_not_yanked() {
        let versions = [v("1.0.0", false), v("1.1.0", true), v("1.2.0-rc.1", false)];
        let exact = |s: &str| check_exact("t", "reg", &versions, &Version::parse(s).unwrap());
        assert!(exact("1.0.0").is_ok());
        assert!(exact("1.2.0-rc.1").is_ok());
        let yanked = exact("1.1.0").unwrap_err();
        assert_eq!(
            yanked.to_string(),
            "`t 1.1.0` has been yanked from the registry `reg`"
        );
        assert!(
            yanked.hint().unwrap().contains("`t@1.0.0`"),
            "{:?}",
            yanked.hint()
        );
        let missing = exact("9.0.0").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "no version of `t` matches `=9.0.0`; the newest is 1.0.0"
        );
    }

    #[test]
    fn names_must_match_exactly_and_the_canonical_one_is_found() {
        let file = r#"{"name":"qi-hello","vers":"1.0.0","deps":[],"cksum":"aa","features":{}}"#;
        assert!(parse_index_file(file.as_bytes(), "QI-HELLO").is_empty());
        assert_eq!(parse_index_file(file.as_bytes(), "qi-hello").len(), 1);
        assert_eq!(
            canonical_name(file.as_bytes(), "QI-Hello").as_deref(),
            Some("qi-hello")
        );
        assert_eq!(canonical_name(file.as_bytes(), "qi_hello"), None);
    }

    #[test]
    fn parses_index_lines_and_skips_garbage() {
        let file = concat!(
            r#"{"name":"foo","vers":"1.0.0","deps":[],"cksum":"aa","features":{},"yanked":false}"#,
            "\nnot json\n",
            r#"{"name":"foo","vers":"1.1.0","deps":[],"cksum":"bb","features":{},"yanked":true,"v":2}"#,
            "\n",
            r#"{"name":"bar","vers":"9.0.0","deps":[],"cksum":"cc","features":{}}"#,
            "\n"
        );
        let parsed = parse_index_file(file.as_bytes(), "foo");
        assert_eq!(parsed.len(), 2);
        assert!(parsed[1].yanked);
        assert_eq!(parsed[0].cksum, "aa");
    }

    #[test]
    fn selects_newest_stable_non_yanked() {
        let all = [
            v("0.1.0", false),
            v("0.2.0", false),
            v("0.3.0-beta.1", false),
            v("0.4.0", true),
        ];
        assert_eq!(
            select_version("x", &all, None).unwrap().version.to_string(),
            "0.2.0"
        );
        let req = parse_version_arg("^0.1").unwrap();
        assert_eq!(
            select_version("x", &all, Some(&req))
                .unwrap()
                .version
                .to_string(),
            "0.1.0"
        );
        let req = parse_version_arg("0.3.0-beta.1").unwrap();
        assert_eq!(
            select_version("x", &all, Some(&req))
                .unwrap()
                .version
                .to_string(),
            "0.3.0-beta.1"
        );
    }

    #[test]
    fn explains_unmatched_and_yanked_requirements() {
        let all = [v("0.1.0", false), v("0.4.0", true)];
        let req = parse_version_arg("^9").unwrap();
        let err = select_version("x", &all, Some(&req))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "no version of `x` matches `^9`; the newest is 0.1.0");
        let req = parse_version_arg("^0.4").unwrap();
        let err = select_version("x", &all, Some(&req))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "every version of `x` matching `^0.4` is yanked");
    }

    #[test]
    fn version_arguments_follow_cargo_install() {
        assert_eq!(parse_version_arg("1.2.3").unwrap().to_string(), "=1.2.3");
        assert_eq!(parse_version_arg("^1.2").unwrap().to_string(), "^1.2");
        assert_eq!(parse_version_arg("~1").unwrap().to_string(), "~1");
        let tip = parse_version_arg("1.2").unwrap_err();
        assert!(tip.contains("`^1.2`"), "{tip}");
        assert!(
            parse_version_arg("v1.2.3")
                .unwrap_err()
                .contains("try `1.2.3`")
        );
        assert_eq!(
            pinned_version(&parse_version_arg("1.2.3").unwrap()).map(|v| v.to_string()),
            Some("1.2.3".to_owned())
        );
        assert_eq!(pinned_version(&parse_version_arg("^1.2.3").unwrap()), None);
    }

    #[test]
    fn sparse_paths_and_source_ids() {
        assert_eq!(sparse_path("Serde").as_deref(), Some("se/rd/serde"));
        assert_eq!(sparse_path("syn").as_deref(), Some("3/s/syn"));
        assert_eq!(sparse_path("../x"), None);
        assert_eq!(
            Registry::from_url("sparse+https://index.crates.io")
                .unwrap()
                .source_id(),
            CRATES_IO_SOURCE_ID
        );
        let alt = Registry::from_url("http://127.0.0.1:9/reg").unwrap();
        assert_eq!(alt.source_id(), "sparse+http://127.0.0.1:9/reg/");
    }
}
