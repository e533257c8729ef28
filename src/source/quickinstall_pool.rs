//! cargo-quickinstall's pool of prebuilt binaries as a source: GitHub releases laid out as
//! `{pool}/{crate}-{version}/{crate}-{version}-{target}.tar.gz`, each with a minisign signature
//! beside it (`….tar.gz.sig`). Signed assets only (those built since late 2023), unless the
//! user allows unsigned ones (`--allow-unsigned`). The pool carries no metadata: the binaries
//! are the plain files at the archive's top level, read by the driver after the signature
//! verified.

use super::index::Query;
use super::{Answer, Binaries, Candidate, Check, Origin, allowed_url};
use crate::download::{DownloadError, Fetcher, Location};
use crate::env::Env;
use crate::report::Reporter;

/// cargo-quickinstall's release downloads.
pub const DEFAULT_POOL: &str = "https://github.com/cargo-bins/cargo-quickinstall/releases/download";
/// The minisign public key cargo-quickinstall signs its archives with.
pub const DEFAULT_KEY: &str = "RWTdnnab2pAka9OdwgCMYyOE66M/BlQoFWaJ/JjwcPV+f3n24IRTj97t";
/// The largest pool archive accepted (the largest tools are tens of MiB).
pub const MAX_ARCHIVE_BYTES: u64 = 256 << 20;
/// A minisign signature file is a few hundred bytes.
const MAX_SIGNATURE_BYTES: u64 = 4096;

/// Where the pool is and the key that signs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    pub base: String,
    pub key: String,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            base: DEFAULT_POOL.to_owned(),
            key: DEFAULT_KEY.to_owned(),
        }
    }
}

impl PoolSettings {
    /// The defaults, or `QUICKINSTALL_QUICKINSTALL_POOL` / `QUICKINSTALL_QUICKINSTALL_KEY`.
    pub fn from_env(env: &Env) -> Self {
        Self {
            base: env.quickinstall_pool().unwrap_or(DEFAULT_POOL).to_owned(),
            key: env
                .quickinstall_key()
                .unwrap_or(DEFAULT_KEY)
                .trim()
                .to_owned(),
        }
    }

    /// The archive URL of `name version` for `target`.
    pub fn archive_url(&self, name: &str, version: &str, target: &str) -> String {
        format!(
            "{}/{name}-{version}/{name}-{version}-{target}.tar.gz",
            self.base.trim_end_matches('/')
        )
    }
}

/// Asks the pool for the signature of each target's archive, most preferred target first; the
/// first signature found makes the candidate. One small request per target tried.
pub fn probe(
    fetcher: &Fetcher,
    settings: &PoolSettings,
    query: &Query,
    allow_unsigned: bool,
    reporter: &Reporter,
) -> Answer {
    for target in query.targets {
        let url = settings.archive_url(query.name, query.version, target);
        if let Err(why) = allowed_url(&url) {
            return Answer::DontHave(format!("the quickinstall pool URL is refused: {why}"));
        }
        let sig_url = format!("{url}.sig");
        reporter.verbose(1, &format!("asking the quickinstall pool for {sig_url}"));
        let Ok(sig_location) = Location::parse(&sig_url) else {
            return Answer::DontHave(format!("`{sig_url}` is not a URL"));
        };
        let location = Location::Http(url.clone());
        match fetcher.get_small(&sig_location, MAX_SIGNATURE_BYTES) {
            Ok(Some(bytes)) => {
                let signature = String::from_utf8_lossy(&bytes).into_owned();
                return Answer::Have(Box::new(Candidate {
                    origin: Origin::Quickinstall,
                    target: target.clone(),
                    location,
                    check: Check::Minisign {
                        signature,
                        public_key: settings.key.clone(),
                        cap: MAX_ARCHIVE_BYTES,
                    },
                    binaries: Binaries::FromArchive,
                    toolchain: None,
                    release: None,
                }));
            }
            Ok(None) => {}
            Err(e) => return Answer::DontHave(unavailable(&e, reporter)),
        }
    }
    let Some(first) = query.targets.first() else {
        return Answer::DontHave("no target to look for".into());
    };
    if allow_unsigned {
        reporter.warn(&format!(
            "`{} {}`: the quickinstall pool has no signature for it; trying its unsigned archive because of --allow-unsigned (only TLS protects it)",
            query.name, query.version
        ));
        return Answer::Have(Box::new(Candidate {
            origin: Origin::Quickinstall,
            target: first.clone(),
            location: Location::Http(settings.archive_url(query.name, query.version, first)),
            check: Check::Unsigned {
                cap: MAX_ARCHIVE_BYTES,
            },
            binaries: Binaries::FromArchive,
            toolchain: None,
            release: None,
        }));
    }
    // Said on a line labelled `quickinstall`, under a headline that names the targets
    // (`source::Why`).
    Answer::DontHave(
        "it has no signed build (unsigned archives are skipped; --allow-unsigned installs them)"
            .into(),
    )
}

/// Why the pool could not be asked, for the "no prebuilt" line; a rate limit is named with
/// what its headers say, and the next source is tried at once.
fn unavailable(error: &DownloadError, reporter: &Reporter) -> String {
    let why = match error {
        DownloadError::RateLimited { .. } => {
            format!("the quickinstall pool is rate limiting this client ({error})")
        }
        other => format!("the quickinstall pool could not be asked ({other})"),
    };
    reporter.warn_once("quickinstall pool", &why);
    why
}
