//! The module proxy as build-index uses it: which proxy to ask, the URL of a module's files
//! (`<escaped module>/@v/<escaped version>.zip`), and fetching a zip into a local file.
//!
//! The proxy is `--proxy`, else the first URL of `GOPROXY` (read as `go env` reads it, by
//! [`quickinstall::goenv`]), else proxy.golang.org; a local
//! directory or `file://` URL in the proxy layout works too. Bytes move through
//! [`quickinstall::download::Fetcher`]; nothing here reads a zip.

use std::io::Write;
use std::path::{Path, PathBuf};

use quickinstall::download::{DownloadError, Fetcher, Location, NetConfig};
use quickinstall::goenv::GoSettings;
use quickinstall::index::path::is_valid_module_path;
use quickinstall::registry::goproxy::module_file;
use quickinstall::registry::goproxy::version::GoVersion;
use quickinstall::registry::goproxy::{ProxyEntry, parse_goproxy};

use super::modzip::MAX_UNPACKED;

/// The public proxy, when neither `--proxy` nor `GOPROXY` names one.
pub const DEFAULT_PROXY: &str = "https://proxy.golang.org";

/// Why a module could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("`{spec}` is not `MODULE@VERSION` with a valid module path and a `vX.Y.Z` version")]
    BadSpec { spec: String },
    #[error("`{proxy}` is not a proxy URL or directory: {source}")]
    BadProxy {
        proxy: String,
        source: DownloadError,
    },
    #[error("the proxy has no `{module}@{version}` (`{location}` was not found)")]
    NotFound {
        module: String,
        version: String,
        location: String,
    },
    #[error("could not fetch `{module}@{version}` from the proxy: {source}")]
    Fetch {
        module: String,
        version: String,
        source: DownloadError,
    },
    #[error("could not write the module zip `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `MODULE@VERSION`, with a valid module path and a canonical Go version (the client's
/// [`GoVersion`]). A major version the path does not allow is left to the proxy to refuse.
pub fn parse_spec(spec: &str) -> Result<(String, String), ProxyError> {
    let bad = || ProxyError::BadSpec {
        spec: spec.to_owned(),
    };
    let (module, version) = spec.rsplit_once('@').ok_or_else(bad)?;
    if !is_valid_module_path(module) || GoVersion::parse(version).is_none() {
        return Err(bad());
    }
    Ok((module.to_owned(), version.to_owned()))
}

/// The proxy to use: `flag`, else the first entry of `GOPROXY` that is a URL (`direct` and
/// `off` are not proxies; the list is parsed as cmd/go parses it), else [`DEFAULT_PROXY`].
pub fn choose_proxy(flag: Option<&str>, go: &GoSettings) -> String {
    if let Some(p) = flag.filter(|p| !p.is_empty()) {
        return p.to_owned();
    }
    parse_goproxy(go.goproxy())
        .into_iter()
        .find_map(|(entry, _)| match entry {
            ProxyEntry::Url(url) => Some(url),
            ProxyEntry::Direct | ProxyEntry::Off => None,
        })
        .unwrap_or_else(|| DEFAULT_PROXY.to_owned())
}

/// The proxy as a `GOPROXY` value for the child `go`: URLs as given, a directory as `file://`.
pub fn as_goproxy(proxy: &Location) -> String {
    match proxy {
        Location::Http(url) => url.clone(),
        Location::File(dir) => format!("file://{}", dir.display()),
    }
}

/// Parses the proxy base.
pub fn location(proxy: &str) -> Result<Location, ProxyError> {
    Location::parse(proxy).map_err(|source| ProxyError::BadProxy {
        proxy: proxy.to_owned(),
        source,
    })
}

/// Fetches `<module>@<version>`'s zip into `dest` (written in full, then synced).
pub fn fetch_zip(
    fetcher: &Fetcher,
    proxy: &Location,
    module: &str,
    version: &str,
    dest: &Path,
) -> Result<(), ProxyError> {
    let loc = proxy.join(&module_file(module, version, "zip"));
    // Go caps module zips at 500 MiB; a bigger answer is refused by the size limit. The zip is
    // held in memory once: `Fetcher` streams only when size and sha256 are known beforehand.
    let bytes = fetcher
        .get_small(&loc, MAX_UNPACKED)
        .map_err(|source| ProxyError::Fetch {
            module: module.to_owned(),
            version: version.to_owned(),
            source,
        })?
        .ok_or_else(|| ProxyError::NotFound {
            module: module.to_owned(),
            version: version.to_owned(),
            location: loc.to_string(),
        })?;
    let write_err = |source| ProxyError::Write {
        path: dest.to_owned(),
        source,
    };
    let mut file = std::fs::File::create(dest).map_err(write_err)?;
    file.write_all(&bytes).map_err(write_err)?;
    file.sync_all().map_err(write_err)
}

/// A fetcher with the default network settings.
pub fn fetcher() -> Fetcher {
    Fetcher::new(&NetConfig::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_need_a_module_path_and_a_v_version() {
        assert_eq!(
            parse_spec("example.com/Tool/v2@v2.1.0").unwrap(),
            ("example.com/Tool/v2".into(), "v2.1.0".into())
        );
        for bad in [
            "example.com/tool",
            "example.com/tool@1.0.0",
            "tool@v1.0.0",
            "a/../b.com@v1.0.0",
            "example.com/x@latest",
        ] {
            assert!(parse_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_proxy_comes_from_the_flag_then_goproxy_then_the_default() {
        let go = |pairs: &[(&str, &str)]| {
            let env = quickinstall::env::Env::from_pairs(Path::new("/"), pairs.iter().copied());
            GoSettings::from_sources(&env, quickinstall::goenv::EnvFile::Off, "", "", None)
        };
        let listed = go(&[("GOPROXY", "direct,https://a|https://b")]);
        assert_eq!(choose_proxy(Some("/p"), &listed), "/p");
        assert_eq!(
            choose_proxy(None, &go(&[("GOPROXY", " https://a|https://b,direct")])),
            "https://a"
        );
        assert_eq!(choose_proxy(None, &listed), DEFAULT_PROXY);
        assert_eq!(
            choose_proxy(None, &go(&[("GOPROXY", "off")])),
            DEFAULT_PROXY
        );
        // Unset: Go's default list, whose first entry is the public proxy.
        assert_eq!(choose_proxy(None, &go(&[])), DEFAULT_PROXY);
        // A host without a scheme gets https://, as in cmd/go.
        assert_eq!(
            choose_proxy(None, &go(&[("GOPROXY", "corp.example/go")])),
            "https://corp.example/go"
        );
    }

    #[test]
    fn goproxy_from_the_go_env_file_counts() {
        let env = quickinstall::env::Env::from_pairs(Path::new("/"), [("GOPROXY", "")]);
        let go = GoSettings::from_sources(
            &env,
            quickinstall::goenv::EnvFile::Path("/env".into()),
            "GOPROXY=https://file.example\n",
            "",
            None,
        );
        assert_eq!(choose_proxy(None, &go), "https://file.example");
    }

    #[test]
    fn module_files_are_case_escaped() {
        assert_eq!(
            module_file("example.com/Upper/Tool", "v1.0.0-RC", "zip"),
            "example.com/!upper/!tool/@v/v1.0.0-!r!c.zip"
        );
    }

    #[test]
    fn fetches_from_a_proxy_directory_and_reports_missing_versions() {
        let dir = tempfile::tempdir().unwrap();
        let v = dir.path().join("example.com/!tool/@v");
        std::fs::create_dir_all(&v).unwrap();
        std::fs::write(v.join("v1.0.0.zip"), b"zipbytes").unwrap();
        let proxy = location(dir.path().to_str().unwrap()).unwrap();
        let dest = dir.path().join("out.zip");
        fetch_zip(&fetcher(), &proxy, "example.com/Tool", "v1.0.0", &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"zipbytes");
        let err = fetch_zip(&fetcher(), &proxy, "example.com/Tool", "v9.0.0", &dest).unwrap_err();
        assert!(matches!(err, ProxyError::NotFound { .. }), "{err}");
        assert!(
            err.to_string().contains("`example.com/Tool@v9.0.0`"),
            "{err}"
        );
    }
}
