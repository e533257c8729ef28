//! Where a prebuilt may come from: the seam between "who has it" and "how it is installed".
//!
//! A source, given a crate's name, exact version and the targets to try, answers
//! [`Answer::Have`] with a [`Candidate`] (where the archive is and what must be true of it: a
//! size and sha256, or a minisign signature and key, or — said aloud — nothing but TLS) or
//! [`Answer::DontHave`] with the reason. A source never downloads the archive, verifies or
//! unpacks: the driver (`ops::driver`) does that for every candidate alike, so no
//! source can skip a check.
//!
//! - [`index`]: the signed release index (size and sha256 from a signed entry);
//! - [`quickinstall_pool`]: cargo-quickinstall's GitHub releases (a minisign signature beside
//!   each archive, required);
//! - [`upstream`]: the releases a crate declares in `[package.metadata.binstall]` (its declared
//!   minisign signature required; none declared → unsigned, said aloud).
//!
//! When none has it, [`Why`] says what each answered.

pub mod index;
pub mod quickinstall_pool;
pub mod upstream;
mod why;

pub use why::Why;

use crate::download::Location;
use crate::error::PackageError;

/// A source's name, as `--sources`, the output and `--json`'s `origin` spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Index,
    Quickinstall,
    Upstream,
    Build,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Index => "index",
            Self::Quickinstall => "quickinstall",
            Self::Upstream => "upstream",
            Self::Build => "build",
        }
    }

    /// `--sources index,quickinstall,…`: each name once, at least one.
    pub fn parse_list(names: &[String]) -> Result<Vec<Self>, String> {
        let mut list = Vec::new();
        for name in names.iter().map(|n| n.trim()) {
            let origin = match name {
                "index" => Self::Index,
                "quickinstall" => Self::Quickinstall,
                "upstream" => Self::Upstream,
                "build" => Self::Build,
                other => {
                    return Err(format!(
                        "--sources: unknown source `{other}`\nhelp: the sources are index, quickinstall, upstream and build, comma-separated, in the order to try them"
                    ));
                }
            };
            if list.contains(&origin) {
                return Err(format!(
                    "--sources: `{name}` is named twice\nhelp: name each source once, in the order to try them"
                ));
            }
            list.push(origin);
        }
        if list.is_empty() {
            return Err(
                "--sources: no source named\nhelp: for example --sources index,build".into(),
            );
        }
        Ok(list)
    }

    /// cargo-binstall's `--strategies crate-meta-data,quick-install,compile`, as sources in
    /// that order. The release index, which cargo-binstall does not have, goes first whenever
    /// a prebuilt strategy is named (`--strategies compile` alone stays a build).
    pub fn from_strategies(names: &[String]) -> Result<Vec<Self>, String> {
        let mut sources = Vec::new();
        for name in names.iter().map(|n| n.trim()) {
            let source = match name {
                "crate-meta-data" => "upstream",
                "quick-install" => "quickinstall",
                "compile" => "build",
                other => {
                    return Err(format!(
                        "--strategies: unknown strategy `{other}`\nhelp: cargo-binstall's strategies are crate-meta-data, quick-install and compile; --sources also names the release index"
                    ));
                }
            };
            sources.push(source.to_owned());
        }
        if sources.iter().any(|s| s != "build") {
            sources.insert(0, "index".to_owned());
        }
        Self::parse_list(&sources).map_err(|e| e.replacen("--sources", "--strategies", 1))
    }
}

/// What must be true of a candidate's bytes before anything parses them.
#[derive(Debug, Clone)]
pub enum Check {
    /// Exactly this many bytes with this sha256 (from a signed index entry, or a lock file).
    Sha256 {
        size: u64,
        sha256: String,
        /// The id of the key that signed the index entry they come from (`None` for a pin).
        signed_by: Option<String>,
    },
    /// A minisign signature (prehashed or legacy) by this public key over the whole file, at
    /// most `cap` bytes.
    Minisign {
        signature: String,
        public_key: String,
        cap: u64,
    },
    /// A minisign signature to fetch from `signature_url` (declared by the crate, so its absence
    /// is a verification failure), by this public key, over at most `cap` bytes.
    MinisignAt {
        signature_url: String,
        public_key: String,
        cap: u64,
    },
    /// No signature exists; allowed only when the user said so (`--allow-unsigned`). At most
    /// `cap` bytes, TLS the only protection.
    Unsigned { cap: u64 },
}

impl Check {
    pub fn is_signed(&self) -> bool {
        !matches!(self, Self::Unsigned { .. })
    }
}

/// The binaries a candidate's archive holds.
#[derive(Debug, Clone)]
pub enum Binaries {
    /// Named by the source (the index lists them).
    Listed(Vec<String>),
    /// Every plain file at the archive's top level (the pool carries no metadata).
    FromArchive,
    /// Each binary's installed name and its path inside the archive (`bin-dir`), in a format
    /// the crate declares (for `bin`, the download is the binary and the path is empty).
    Paths {
        format: upstream::PkgFmt,
        paths: Vec<(String, String)>,
    },
}

/// An archive a source has for (name, version, target), with what the driver must check.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub origin: Origin,
    pub target: String,
    pub location: Location,
    pub check: Check,
    pub binaries: Binaries,
    /// The toolchain that built it, when the source says (cargo's tracker records it).
    pub toolchain: Option<String>,
    /// The index's release, when the candidate comes from the index (dry-run prints it).
    pub release: Option<Box<crate::index::format::Release>>,
}

/// A source's answer.
pub enum Answer {
    Have(Box<Candidate>),
    /// Not here, and why (one clause: "it is not in the release index").
    DontHave(String),
    /// Something went wrong that must stop the install (a verification failure: never try the
    /// next source after one).
    Fail(PackageError),
}

/// Whether a URL a source yields may be fetched: `https://`, or `http://` to a loopback
/// address (127.0.0.0/8, ::1: tests and local mirrors). `Err` says why not.
pub fn allowed_url(url: &str) -> Result<(), String> {
    // The same rule every redirect hop is held to, so it lives with the download layer.
    crate::download::redirect::secure_url(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(allowed_url("https://github.com/x").is_ok());
        assert!(allowed_url("http://127.0.0.1:8080/x").is_ok());
        assert!(allowed_url("http://127.9.9.9/x").is_ok());
        assert!(allowed_url("http://[::1]:80/x").is_ok());
        assert!(allowed_url("http://example.org/x").is_err());
        assert!(allowed_url("http://localhost.evil.org/x").is_err());
        assert!(allowed_url("http://127.0.0.1.evil.org/x").is_err());
        assert!(allowed_url("ftp://127.0.0.1/x").is_err());
        assert!(allowed_url("file:///etc/passwd").is_err());
    }

    #[test]
    fn sources_list_parses_in_order_and_refuses_unknown_or_repeated() {
        let list =
            |s: &str| Origin::parse_list(&s.split(',').map(str::to_owned).collect::<Vec<_>>());
        assert_eq!(
            list("quickinstall,index").unwrap(),
            [Origin::Quickinstall, Origin::Index]
        );
        assert!(list("index,index").is_err());
        assert!(list("pypi").is_err());
    }

    #[test]
    fn binstall_strategies_become_sources_with_the_index_first() {
        let strategies =
            |s: &str| Origin::from_strategies(&s.split(',').map(str::to_owned).collect::<Vec<_>>());
        assert_eq!(
            strategies("crate-meta-data,quick-install,compile").unwrap(),
            [
                Origin::Index,
                Origin::Upstream,
                Origin::Quickinstall,
                Origin::Build
            ]
        );
        assert_eq!(strategies("compile").unwrap(), [Origin::Build]);
        let unknown = strategies("quick-install,guess").unwrap_err();
        assert!(
            unknown.starts_with("--strategies: unknown strategy `guess`"),
            "{unknown}"
        );
        let twice = strategies("compile,compile").unwrap_err();
        assert!(
            twice.starts_with("--strategies: `build` is named twice"),
            "{twice}"
        );
    }
}
