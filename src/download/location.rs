//! Where bytes come from: an `http(s)://` URL or a local path, parsed once from a base (the index
//! or registry address) and joined with `/`-separated relative paths.
//!
//! Pure string and path work: nothing here touches the network or the filesystem, except that a
//! relative directory path is made absolute against the current directory.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::download::DownloadError;

/// Where bytes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// An `http://` or `https://` URL.
    Http(String),
    /// An absolute path on this machine (from `file://` or a plain path).
    File(PathBuf),
}

impl Location {
    /// Parses a base: `https://…`, `http://…`, `file:///abs/path`, or a plain directory path
    /// (a relative one is resolved against the current directory).
    pub fn parse(base: &str) -> Result<Self, DownloadError> {
        let bad = || DownloadError::BadLocation {
            location: base.to_owned(),
        };
        if base.trim().is_empty() {
            return Err(bad());
        }
        let Some((scheme, rest)) = split_scheme(base) else {
            // No `scheme://`: a plain path. `absolute` does not require it to exist yet.
            return std::path::absolute(base).map(Self::File).map_err(|_| bad());
        };
        match scheme.to_ascii_lowercase().as_str() {
            "http" | "https" => {
                // Validate with the same parser ureq uses, so a bad URL fails here, naming the
                // base, rather than later on every joined request.
                let uri: ureq::http::Uri = base.parse().map_err(|_| bad())?;
                match uri.host() {
                    Some(host) if !host.is_empty() => Ok(Self::Http(base.to_owned())),
                    _ => Err(bad()),
                }
            }
            "file" => file_url_path(rest).map(Self::File).ok_or_else(bad),
            _ => Err(bad()),
        }
    }

    /// Joins a `/`-separated relative path onto this base: `http://h/x` or `http://h/x/` with
    /// `a/b` gives `http://h/x/a/b`. An absolute `http(s)://` URL is returned as is (an index may
    /// point its archives at another host); other schemes are not honoured here, so an HTTP index
    /// cannot send the client to read local files.
    pub fn join(&self, relative: &str) -> Self {
        if let Some((scheme, _)) = split_scheme(relative)
            && matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
        {
            return Self::Http(relative.to_owned());
        }
        let relative = relative.trim_start_matches('/');
        match self {
            Self::Http(base) => {
                let base = base.trim_end_matches('/');
                Self::Http(format!("{base}/{relative}"))
            }
            Self::File(base) => {
                let mut path = base.clone();
                for segment in relative.split('/').filter(|s| !s.is_empty()) {
                    path.push(segment);
                }
                Self::File(path)
            }
        }
    }

    /// The local path, for a `File` location.
    pub fn as_path(&self) -> Option<&Path> {
        match self {
            Self::Http(_) => None,
            Self::File(path) => Some(path),
        }
    }
}

impl fmt::Display for Location {
    /// The URL, or the plain path for a local location (what a user can paste back).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(url) => f.write_str(url),
            Self::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Splits `scheme://rest` when the text before `://` is a valid URL scheme (RFC 3986: a letter,
/// then letters, digits, `+`, `-`, `.`). A Windows path like `C:\x` has no `://` and is not split.
fn split_scheme(text: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (first_ok && rest_ok).then_some((scheme, rest))
}

/// The path of a `file://` URL (after the `file://`): an empty host or `localhost`, then an
/// absolute, percent-encoded path.
fn file_url_path(rest: &str) -> Option<PathBuf> {
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    if !path.starts_with('/') {
        return None;
    }
    let decoded = percent_decode(path)?;
    // `file:///C:/x` on Windows names `C:/x`, not `/C:/x`.
    #[cfg(windows)]
    let decoded = match decoded.strip_prefix('/') {
        Some(drive) if drive.as_bytes().get(1) == Some(&b':') => drive.to_owned(),
        _ => decoded,
    };
    Some(PathBuf::from(decoded))
}

/// Decodes `%XX` escapes; `None` for a malformed escape (a `%` not followed by two hex digits,
/// which `percent-encoding` would pass through as is) or a result that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let well_formed = text.split('%').skip(1).all(|after| {
        after
            .as_bytes()
            .get(..2)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by unwrapping
mod tests {
    use super::*;

    #[test]
    fn parses_http_and_https_urls() {
        assert_eq!(
            Location::parse("https://example.org/index").unwrap(),
            Location::Http("https://example.org/index".into())
        );
        assert_eq!(
            Location::parse("http://127.0.0.1:8080/").unwrap(),
            Location::Http("http://127.0.0.1:8080/".into())
        );
    }

    #[test]
    fn parses_file_urls_with_percent_escapes() {
        assert_eq!(
            Location::parse("file:///srv/my%20index").unwrap(),
            Location::File(PathBuf::from("/srv/my index"))
        );
        assert_eq!(
            Location::parse("file://localhost/srv/index").unwrap(),
            Location::File(PathBuf::from("/srv/index"))
        );
    }

    #[test]
    fn decodes_spaces_percent_signs_and_utf8_in_file_urls() {
        for (url, path) in [
            ("file:///srv/my%20index/", "/srv/my index/"),
            ("file:///srv/100%25%20done", "/srv/100% done"),
            ("file:///srv/caf%C3%A9", "/srv/café"),
            ("file:///srv/caf%c3%a9", "/srv/café"),
            ("file:///srv/a%2Fb", "/srv/a/b"),
            ("file:///srv/plain%20", "/srv/plain "),
        ] {
            assert_eq!(
                Location::parse(url).unwrap(),
                Location::File(PathBuf::from(path)),
                "{url}"
            );
        }
    }

    #[test]
    fn refuses_file_urls_with_broken_escapes_or_non_utf8() {
        for bad in [
            "file:///srv/%",
            "file:///srv/%2",
            "file:///srv/%2g",
            "file:///srv/%g2",
            "file:///srv/%FF",
            "file:///srv/%C3",
        ] {
            let err = Location::parse(bad).unwrap_err();
            assert!(
                matches!(err, DownloadError::BadLocation { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_windows_path_is_a_path_not_a_scheme() {
        for path in [r"C:\index", "C:/index", r"\\server\share\index"] {
            assert_eq!(split_scheme(path), None, "{path}");
            assert!(
                matches!(Location::parse(path), Ok(Location::File(_))),
                "{path}"
            );
        }
    }

    #[cfg(windows)]
    #[test]
    fn a_file_url_with_a_drive_letter_names_that_drive() {
        assert_eq!(
            Location::parse("file:///C:/my%20index").unwrap(),
            Location::File(PathBuf::from("C:/my index"))
        );
    }

    #[test]
    fn resolves_plain_relative_paths_against_current_dir() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            Location::parse("some/dir").unwrap(),
            Location::File(cwd.join("some/dir"))
        );
        assert_eq!(
            Location::parse("/abs/dir").unwrap(),
            Location::File(PathBuf::from("/abs/dir"))
        );
    }

    #[test]
    fn refuses_unknown_schemes_and_malformed_bases() {
        for bad in [
            "",
            "ftp://example.org/x",
            "https://",
            "file://otherhost/x",
            "file://relative",
            "file:///bad%zz",
        ] {
            let err = Location::parse(bad).unwrap_err();
            assert!(
                matches!(err, DownloadError::BadLocation { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn joins_relative_paths_with_or_without_trailing_slash() {
        for base in ["http://h/x", "http://h/x/"] {
            let base = Location::parse(base).unwrap();
            assert_eq!(base.join("a/b"), Location::Http("http://h/x/a/b".into()));
        }
        let file = Location::File(PathBuf::from("/srv/index"));
        assert_eq!(
            file.join("crates/ri/pg/ripgrep.json"),
            Location::File(PathBuf::from("/srv/index/crates/ri/pg/ripgrep.json"))
        );
        for base in [
            "file:///srv/my%20index",
            "file:///srv/my%20index/",
            "/srv/my index/",
        ] {
            let base = Location::parse(base).unwrap();
            for relative in ["a/b.json", "/a/b.json", "a//b.json"] {
                assert_eq!(
                    base.join(relative),
                    Location::File(PathBuf::from("/srv/my index/a/b.json")),
                    "{base} + {relative}"
                );
            }
        }
        for base in ["http://h:8080", "http://h:8080/", "http://h:8080//"] {
            assert_eq!(
                Location::parse(base).unwrap().join("/a/b"),
                Location::Http("http://h:8080/a/b".into()),
                "{base}"
            );
        }
    }

    #[test]
    fn join_keeps_absolute_http_urls_but_not_file_urls() {
        let base = Location::File(PathBuf::from("/srv/index"));
        assert_eq!(
            base.join("https://cdn.example.org/a.tar.gz"),
            Location::Http("https://cdn.example.org/a.tar.gz".into())
        );
        let http = Location::Http("https://h/i".into());
        assert_eq!(
            http.join("file:///etc/passwd"),
            Location::Http("https://h/i/file:///etc/passwd".into())
        );
    }

    #[test]
    fn displays_url_or_path() {
        assert_eq!(
            Location::Http("https://h/a".into()).to_string(),
            "https://h/a"
        );
        assert_eq!(
            Location::File(PathBuf::from("/srv/a")).to_string(),
            "/srv/a"
        );
    }
}
