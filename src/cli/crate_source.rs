//! Where the crates of one `cargo quickinstall` come from, and what that allows.
//!
//! cargo's choice ([`CargoConfig::resolve_source`]) plus our own overrides: `QUICKINSTALL_REGISTRY`
//! stands in for crates.io (a test registry or an internal copy) and `QUICKINSTALL_PUBLIC_REGISTRY`
//! declares a URL a faithful mirror of crates.io. Only crates.io, or a declared mirror, may be
//! looked up in the project's default release index and reported to the stats service: any other
//! registry's `corp-tool` is a different crate from crates.io's `corp-tool` (dependency
//! confusion), so it goes to `cargo install`, which reads the same configuration.

use crate::cargo_config::source::{Origin, Requested};
use crate::cargo_config::{CargoConfig, ConfigError};
use crate::env::Env;
use crate::registry::crates::{CRATES_IO_SPARSE, Registry};
use crate::stats;

/// The source of the crates to install, decided once per run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateSource {
    /// The sparse registry to read versions from (base URL without `sparse+`); `None` when it
    /// cannot be read by us (a git index, a local registry, a directory): then the crate goes to
    /// `cargo install` with the requirement as given.
    pub sparse_url: Option<String>,
    /// crates.io, or a URL declared its mirror: the default release index and stats may see it.
    pub public: bool,
    /// For messages: "crates.io", "the registry `corp` (…)".
    pub describe: String,
    /// What tells `cargo install` the same registry: empty when its own config already does.
    pub fallback_args: Vec<String>,
}

impl CrateSource {
    /// Decides the source for `requested`; `crates_io_override` is `QUICKINSTALL_REGISTRY`.
    pub fn decide(
        config: &CargoConfig,
        requested: Requested<'_>,
        crates_io_override: Option<&str>,
        env: &Env,
    ) -> Result<Self, ConfigError> {
        let resolved = config.resolve_source(requested)?;
        let mut fallback_args = match requested {
            Requested::Default => Vec::new(),
            Requested::Named(name) => vec!["--registry".to_owned(), name.to_owned()],
            Requested::Index(url) => vec!["--index".to_owned(), url.to_owned()],
        };
        Ok(match resolved.origin {
            Origin::CratesIo => match crates_io_override {
                Some(url) if !Registry::from_url(url).is_ok_and(|r| r.is_crates_io()) => {
                    let bare = url.strip_prefix("sparse+").unwrap_or(url);
                    let sparse = format!("sparse+{}", with_slash(bare));
                    if fallback_args.is_empty() {
                        fallback_args = vec!["--index".to_owned(), sparse];
                    }
                    Self {
                        sparse_url: Some(with_slash(bare)),
                        public: stats::is_public_registry(Some(url), env),
                        describe: format!("the registry `{url}` (QUICKINSTALL_REGISTRY)"),
                        fallback_args,
                    }
                }
                _ => Self {
                    sparse_url: Some(CRATES_IO_SPARSE.to_owned()),
                    public: true,
                    describe: "crates.io".to_owned(),
                    fallback_args,
                },
            },
            Origin::Registry { url } => Self {
                sparse_url: url.strip_prefix("sparse+").map(with_slash),
                public: stats::is_public_registry(Some(&url), env),
                describe: resolved.describe,
                fallback_args,
            },
            Origin::LocalRegistry(_) | Origin::Directory(_) | Origin::Git(_) => Self {
                sparse_url: None,
                public: false,
                describe: resolved.describe,
                fallback_args,
            },
        })
    }
}

fn with_slash(url: &str) -> String {
    if url.ends_with('/') {
        url.to_owned()
    } else {
        format!("{url}/")
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn decide(
        file: &str,
        requested: Requested<'_>,
        env: &[(&str, &str)],
    ) -> Result<CrateSource, ConfigError> {
        let env = Env::from_pairs(Path::new("/w"), env.iter().copied());
        let texts = vec![(PathBuf::from("/w/.cargo/config.toml"), file.to_owned())];
        let config = CargoConfig::from_texts(&env, &texts, Vec::new())?;
        CrateSource::decide(&config, requested, env.get("QUICKINSTALL_REGISTRY"), &env)
    }

    #[test]
    fn only_crates_io_or_a_declared_mirror_is_public() {
        let s = decide("", Requested::Default, &[]).unwrap();
        assert!(s.public);
        assert_eq!(s.sparse_url.as_deref(), Some(CRATES_IO_SPARSE));
        assert!(s.fallback_args.is_empty());

        let corp = "registry.default = \"corp\"\n[registries.corp]\nindex = \"sparse+http://corp\"";
        let s = decide(
            corp,
            Requested::Default,
            &[("QUICKINSTALL_REGISTRY", "http://pub/")],
        )
        .unwrap();
        assert!(!s.public, "{s:?}");
        assert_eq!(s.sparse_url.as_deref(), Some("http://corp/"));
        // cargo reads registry.default itself: nothing to add.
        assert!(s.fallback_args.is_empty());
        assert!(s.describe.contains("`corp`"), "{}", s.describe);

        let mirror =
            "[source.crates-io]\nreplace-with = \"m\"\n[source.m]\nregistry = \"sparse+http://m/\"";
        assert!(!decide(mirror, Requested::Default, &[]).unwrap().public);
        let declared = [("QUICKINSTALL_PUBLIC_REGISTRY", "http://m")];
        assert!(
            decide(mirror, Requested::Default, &declared)
                .unwrap()
                .public
        );

        let git =
            "[source.crates-io]\nreplace-with = \"g\"\n[source.g]\nregistry = \"https://git/i\"";
        let s = decide(git, Requested::Default, &[]).unwrap();
        assert_eq!(s.sparse_url, None);
        assert!(!s.public);

        // The crates.io stand-in for tests: public only when declared.
        let s = decide(
            "",
            Requested::Default,
            &[("QUICKINSTALL_REGISTRY", "http://fx")],
        )
        .unwrap();
        assert!(!s.public);
        assert_eq!(s.fallback_args, ["--index", "sparse+http://fx/"]);
    }
}
