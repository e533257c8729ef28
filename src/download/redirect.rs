//! Which URLs may be fetched and where a redirect may lead: `https://` anywhere, plain `http://`
//! only to a loopback address (tests, local mirrors), never from `https://` down to `http://`,
//! at most [`MAX_REDIRECTS`] hops, each one checked (ureq's own redirect following is off, so no
//! hop escapes these rules).
//!
//! Pure string work: the loop that sends the requests is [`super::Fetcher`]'s.

/// Hops followed for one request. GitHub's release downloads take one (to its object store);
/// five leaves room for a mirror in front without letting a loop run on.
pub const MAX_REDIRECTS: u32 = 5;

/// Whether `url` may be fetched: `https://`, or `http://` to a loopback address (127.0.0.0/8,
/// ::1). `Err` says why not, naming the URL.
pub fn secure_url(url: &str) -> Result<(), String> {
    if has_scheme(url, "https") {
        return Ok(());
    }
    if !has_scheme(url, "http") {
        return Err(format!(
            "`{url}` is not an https:// URL (plain http:// only to a loopback address)"
        ));
    }
    let rest = url.get("http://".len()..).unwrap_or_default();
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) if ip.is_loopback() => Ok(()),
        _ => Err(format!(
            "`{url}` is plain http:// to a host that is not a loopback address (only https:// is accepted there)"
        )),
    }
}

/// Whether a redirect from `from` to `to` may be followed: `to` must pass [`secure_url`], and
/// an `https://` page may not send us to plain `http://` (not even loopback: that would let a
/// remote server aim us at local services).
pub fn allowed_hop(from: &str, to: &str) -> Result<(), String> {
    secure_url(to)?;
    if has_scheme(from, "https") && !has_scheme(to, "https") {
        return Err(format!("`{to}` would downgrade from https:// to http://"));
    }
    Ok(())
}

/// The absolute URL a `Location` header names, relative to the URL that answered with it
/// (RFC 9110 §10.2.2 allows relative references). `None` for an empty or unusable value.
pub fn resolve(base: &str, location: &str) -> Option<String> {
    let location = location.trim();
    if location.is_empty() || location.contains(['\r', '\n', ' ']) {
        return None;
    }
    if scheme_of(location).is_some() {
        return Some(location.to_owned());
    }
    let scheme = scheme_of(base)?;
    if let Some(rest) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{rest}"));
    }
    let origin = origin(base)?;
    if location.starts_with('/') {
        return Some(format!("{origin}{location}"));
    }
    // Relative to the base's directory (its query and fragment dropped).
    let path = base.get(origin.len()..).unwrap_or_default();
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let dir = path
        .rfind('/')
        .map_or("/", |i| path.get(..=i).unwrap_or("/"));
    let dir = if dir.is_empty() { "/" } else { dir };
    Some(format!("{origin}{dir}{location}"))
}

/// `scheme://authority` of an absolute URL, as written (what one server answers for).
pub(crate) fn origin(url: &str) -> Option<&str> {
    let scheme = scheme_of(url)?;
    let after_scheme = url.get(scheme.len() + 3..)?;
    let authority_end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    url.get(..scheme.len() + 3 + authority_end)
}

/// `scheme` of `scheme://…`, as written, when the URL starts with one.
fn scheme_of(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

/// Whether `url` starts with `scheme://`, in any case.
pub(crate) fn has_scheme(url: &str, scheme: &str) -> bool {
    url.get(..scheme.len() + 3)
        .is_some_and(|p| p.eq_ignore_ascii_case(&format!("{scheme}://")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(secure_url("https://github.com/x").is_ok());
        assert!(secure_url("HTTPS://github.com/x").is_ok());
        assert!(secure_url("http://127.0.0.1:8080/x").is_ok());
        assert!(secure_url("http://[::1]:80/x").is_ok());
        assert!(secure_url("http://example.org/x").is_err());
        assert!(secure_url("http://127.0.0.1.evil.org/x").is_err());
        assert!(secure_url("ftp://127.0.0.1/x").is_err());
        assert!(secure_url("file:///etc/passwd").is_err());
    }

    #[test]
    fn a_hop_never_downgrades_from_https() {
        assert!(allowed_hop("https://github.com/a", "https://objects.example/b").is_ok());
        assert!(allowed_hop("http://127.0.0.1/a", "http://127.0.0.1/b").is_ok());
        assert!(
            allowed_hop("https://github.com/a", "http://127.0.0.1/b")
                .unwrap_err()
                .contains("downgrade")
        );
        assert!(allowed_hop("http://127.0.0.1/a", "http://example.org/b").is_err());
        assert!(allowed_hop("http://127.0.0.1/a", "ftp://127.0.0.1/b").is_err());
    }

    #[test]
    fn the_origin_is_scheme_and_authority() {
        assert_eq!(
            origin("https://h.example:8443/a/b?c#d"),
            Some("https://h.example:8443")
        );
        assert_eq!(origin("http://127.0.0.1:1"), Some("http://127.0.0.1:1"));
        assert_eq!(origin("https://h.example?q"), Some("https://h.example"));
        assert_eq!(origin("not a url"), None);
    }

    #[test]
    fn resolves_absolute_and_relative_locations() {
        let base = "https://h.example:8443/releases/download/v1/x.tar.gz?sig=1";
        assert_eq!(
            resolve(base, "https://objects.example/o?t=2").unwrap(),
            "https://objects.example/o?t=2"
        );
        assert_eq!(resolve(base, "ftp://h/x").unwrap(), "ftp://h/x");
        assert_eq!(
            resolve(base, "//cdn.example/y").unwrap(),
            "https://cdn.example/y"
        );
        assert_eq!(
            resolve(base, "/other/y").unwrap(),
            "https://h.example:8443/other/y"
        );
        assert_eq!(
            resolve(base, "y.tar.gz").unwrap(),
            "https://h.example:8443/releases/download/v1/y.tar.gz"
        );
        assert_eq!(
            resolve("http://127.0.0.1:1", "y").unwrap(),
            "http://127.0.0.1:1/y"
        );
        assert!(resolve(base, "").is_none());
        assert!(resolve(base, "a\r\nSet-Cookie: x").is_none());
    }
}
