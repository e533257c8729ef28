//! Where a module lookup may go: the `GOPROXY` list, and the `GOPRIVATE`/`GONOPROXY`/
//! `GONOSUMDB` patterns that keep private module paths away from public services.
//!
//! Pure interpretation of the values [`crate::goenv`] reads; nothing here reads a file or sends
//! a request.

use crate::download::Location;
use crate::env::Env;
use crate::goenv::GoSettings;

pub use crate::goenv::DEFAULT_GOPROXY;

/// One entry of the `GOPROXY` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyEntry {
    /// A module proxy base URL (`https://…`, `http://…` or `file://…`).
    Url(String),
    /// Fetch from version control; we cannot, so the caller falls back to `go install`.
    Direct,
    /// Module downloads are disabled.
    Off,
}

/// When a failing proxy entry falls through to the next one: decided by the separator after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// `,`: only on "not found" (HTTP 404/410).
    NotFoundOnly,
    /// `|`: on any error.
    AnyError,
}

/// Parses a `GOPROXY` value the way cmd/go's `proxyList` does: entries separated by `,` or `|`,
/// blanks skipped, `direct` and `off` ending the list (cmd/go ignores what follows them), and a
/// scheme-less entry that looks like a host (`corp.example/proxy`) given `https://`.
pub fn parse_goproxy(value: &str) -> Vec<(ProxyEntry, OnError)> {
    let mut entries = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let (entry, on_error) = match rest.find([',', '|']) {
            Some(at) => {
                let on_error = if rest.as_bytes().get(at) == Some(&b'|') {
                    OnError::AnyError
                } else {
                    OnError::NotFoundOnly
                };
                let entry = rest.get(..at).unwrap_or_default();
                rest = rest.get(at + 1..).unwrap_or_default();
                (entry, on_error)
            }
            None => {
                let entry = rest;
                rest = "";
                (entry, OnError::NotFoundOnly)
            }
        };
        let entry = entry.trim();
        match entry {
            "" => {}
            "off" => {
                entries.push((ProxyEntry::Off, on_error));
                break;
            }
            "direct" => {
                entries.push((ProxyEntry::Direct, on_error));
                break;
            }
            url => entries.push((ProxyEntry::Url(with_scheme(url)), on_error)),
        }
    }
    entries
}

/// cmd/go: "anything containing `:/` or matching an absolute path must be a complete URL; for
/// all other paths, implicitly add `https://`" (single words stay as they are, and are refused).
fn with_scheme(url: &str) -> String {
    if url.contains(['.', ':', '/']) && !url.contains(":/") && !url.starts_with('/') {
        format!("https://{url}")
    } else {
        url.to_owned()
    }
}

/// What to do about a [`GoProxyError`]: the value may come from the go env file, not the
/// environment.
pub const GOPROXY_HINT: &str = "`go env GOPROXY` shows the value in effect (from the environment or the go env file); `go env -w GOPROXY=https://proxy.golang.org,direct` or `go env -u GOPROXY` fixes the file";

/// Errors in the Go environment itself.
#[derive(Debug, thiserror::Error)]
pub enum GoProxyError {
    #[error(
        "the GOPROXY entry `{entry}` is not an https://, http:// or file:// URL, nor `direct` or `off`"
    )]
    BadEntry { entry: String },
    #[error("GOPROXY is set to `{value}`, which names no proxy, `direct` or `off`")]
    Empty { value: String },
}

/// The Go settings that decide where modules come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoEnv {
    /// `GOPROXY`, parsed; every [`ProxyEntry::Url`] is a valid [`Location`].
    pub proxies: Vec<(ProxyEntry, OnError)>,
    /// `GOPRIVATE`, verbatim (a comma list of path-prefix globs).
    pub goprivate: Option<String>,
    /// `GONOPROXY`, defaulting to `GOPRIVATE` as in cmd/go.
    pub gonoproxy: Option<String>,
    /// `GONOSUMDB`, defaulting to `GOPRIVATE` as in cmd/go.
    pub gonosumdb: Option<String>,
}

impl GoEnv {
    /// Reads the settings as `go env` does ([`GoSettings::read`]) and interprets them.
    pub fn from_env(env: &Env) -> Result<Self, GoProxyError> {
        Self::from_settings(&GoSettings::read(env))
    }

    pub fn from_settings(settings: &GoSettings) -> Result<Self, GoProxyError> {
        let value = settings.goproxy();
        let proxies = parse_goproxy(value);
        if proxies.is_empty() {
            return Err(GoProxyError::Empty {
                value: value.to_owned(),
            });
        }
        for (entry, _) in &proxies {
            if let ProxyEntry::Url(url) = entry
                && !is_proxy_url(url)
            {
                return Err(GoProxyError::BadEntry { entry: url.clone() });
            }
        }
        Ok(Self {
            proxies,
            goprivate: settings.goprivate().map(str::to_owned),
            gonoproxy: settings.gonoproxy().map(str::to_owned),
            gonosumdb: settings.gonosumdb().map(str::to_owned),
        })
    }

    /// Whether `path` (a module or package path) is private: it matches `GOPRIVATE`,
    /// `GONOPROXY` or `GONOSUMDB`. Any counts, even when `GONOPROXY` is narrowed to let a
    /// corporate proxy serve `GOPRIVATE` modules: the path itself is still private and must not
    /// reach the public index or the stats service. A path kept from the public checksum
    /// database (`GONOSUMDB`) is kept from our public services too. A package path matches
    /// whenever one of its module prefixes does, so callers may check the package before
    /// knowing the module.
    pub fn is_private(&self, path: &str) -> bool {
        [&self.goprivate, &self.gonoproxy, &self.gonosumdb]
            .into_iter()
            .flatten()
            .any(|globs| match_prefix_patterns(globs, path))
    }
}

fn is_proxy_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    ["https://", "http://", "file://"]
        .iter()
        .any(|scheme| lower.starts_with(scheme))
        && Location::parse(url).is_ok()
}

/// cmd/go's `module.MatchPrefixPatterns`: whether any glob of the comma list matches the
/// leading path elements of `target`, as many elements as the glob has.
pub fn match_prefix_patterns(globs: &str, target: &str) -> bool {
    globs.split(',').any(|glob| {
        let glob = glob.strip_suffix('/').unwrap_or(glob);
        if glob.is_empty() {
            return false;
        }
        let elements = glob.matches('/').count() + 1;
        let mut parts = target.splitn(elements + 1, '/');
        let taken: Vec<&str> = parts.by_ref().take(elements).collect();
        taken.len() == elements && path_match(glob, &taken.join("/"))
    })
}

/// Go's `path.Match`: `*` (any run of non-`/` characters), `?` (one non-`/` character),
/// `[class]` with ranges and `^` negation, `\` escapes. A malformed pattern matches nothing.
pub fn path_match(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    match_from(&pattern, &name).unwrap_or(false)
}

/// Backtracking over `*` is bounded: a star never crosses `/`, and each star tries each start
/// position once per position of the previous one, on inputs of at most a few hundred chars.
fn match_from(pattern: &[char], name: &[char]) -> Option<bool> {
    let Some((&first, rest)) = pattern.split_first() else {
        return Some(name.is_empty());
    };
    match first {
        '*' => {
            // Consecutive stars are one star.
            let rest = trim_stars(rest);
            if rest.is_empty() {
                return Some(!name.contains(&'/'));
            }
            let mut at = 0;
            loop {
                if match_from(rest, name.get(at..)?)? {
                    return Some(true);
                }
                match name.get(at) {
                    Some('/') | None => {
                        // Still check the rest is a valid pattern, as Go does.
                        return valid_pattern(rest).then_some(false);
                    }
                    Some(_) => at += 1,
                }
            }
        }
        _ => {
            let (matched, consumed) = match_one(pattern, name.first().copied())?;
            if !matched {
                return valid_pattern(pattern).then_some(false);
            }
            match_from(pattern.get(consumed..)?, name.get(1..)?)
        }
    }
}

fn trim_stars(mut pattern: &[char]) -> &[char] {
    while let Some(('*', rest)) = pattern.split_first() {
        pattern = rest;
    }
    pattern
}

/// Matches the single-character pattern item at the start of `pattern` (a literal, `?`, an
/// escape or a class) against `c`. Returns (matched, pattern chars consumed); `None` when the
/// pattern is malformed.
fn match_one(pattern: &[char], c: Option<char>) -> Option<(bool, usize)> {
    match pattern.first()? {
        '?' => Some((c.is_some_and(|c| c != '/'), 1)),
        '\\' => {
            let literal = *pattern.get(1)?;
            Some((c == Some(literal), 2))
        }
        '[' => {
            let mut i = 1;
            let negated = pattern.get(i) == Some(&'^');
            if negated {
                i += 1;
            }
            let mut matched = false;
            let mut first = true;
            loop {
                let item = *pattern.get(i)?;
                if item == ']' && !first {
                    i += 1;
                    break;
                }
                first = false;
                let (lo, next) = class_char(pattern, i)?;
                i = next;
                let hi = if pattern.get(i) == Some(&'-') {
                    let (hi, next) = class_char(pattern, i + 1)?;
                    i = next;
                    hi
                } else {
                    lo
                };
                if c.is_some_and(|c| lo <= c && c <= hi) {
                    matched = true;
                }
            }
            Some((c.is_some_and(|c| c != '/') && matched != negated, i))
        }
        &literal => Some((c == Some(literal), 1)),
    }
}

/// One (possibly escaped) character inside a class; `-` and `]` unescaped are malformed there,
/// as in Go's `getEsc`.
fn class_char(pattern: &[char], i: usize) -> Option<(char, usize)> {
    match *pattern.get(i)? {
        '-' | ']' => None,
        '\\' => pattern.get(i + 1).map(|&c| (c, i + 2)),
        c => Some((c, i + 1)),
    }
}

fn valid_pattern(pattern: &[char]) -> bool {
    let mut i = 0;
    while i < pattern.len() {
        if pattern.get(i) == Some(&'*') {
            i += 1;
            continue;
        }
        match match_one(pattern.get(i..).unwrap_or_default(), None) {
            Some((_, consumed)) => i += consumed,
            None => return false,
        }
    }
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by unwrapping
mod tests {
    use std::path::Path;

    use super::*;

    fn url(u: &str) -> ProxyEntry {
        ProxyEntry::Url(u.to_owned())
    }

    #[test]
    fn separator_after_an_entry_decides_its_fall_through() {
        assert_eq!(
            parse_goproxy("https://a.example|https://b.example,direct"),
            [
                (url("https://a.example"), OnError::AnyError),
                (url("https://b.example"), OnError::NotFoundOnly),
                (ProxyEntry::Direct, OnError::NotFoundOnly),
            ]
        );
    }

    #[test]
    fn direct_and_off_end_the_list_and_blanks_are_skipped() {
        assert_eq!(
            parse_goproxy(" , off|https://never.example"),
            [(ProxyEntry::Off, OnError::AnyError)]
        );
        assert_eq!(
            parse_goproxy("direct,https://never.example"),
            [(ProxyEntry::Direct, OnError::NotFoundOnly)]
        );
    }

    #[test]
    fn host_like_entries_get_https() {
        assert_eq!(
            parse_goproxy("corp.example/go,file:///srv/proxy,word"),
            [
                (url("https://corp.example/go"), OnError::NotFoundOnly),
                (url("file:///srv/proxy"), OnError::NotFoundOnly),
                (url("word"), OnError::NotFoundOnly),
            ]
        );
    }

    #[test]
    fn from_env_defaults_and_inherits_goprivate() {
        let env = Env::from_pairs(Path::new("/"), [("GOPRIVATE", "corp.example")]);
        let go = GoEnv::from_env(&env).unwrap();
        assert_eq!(go.proxies, parse_goproxy(DEFAULT_GOPROXY));
        assert_eq!(go.gonoproxy.as_deref(), Some("corp.example"));
        assert_eq!(go.gonosumdb.as_deref(), Some("corp.example"));
        let env = Env::from_pairs(
            Path::new("/"),
            [("GOPRIVATE", "a.example"), ("GONOPROXY", "b.example")],
        );
        assert_eq!(
            GoEnv::from_env(&env).unwrap().gonoproxy.as_deref(),
            Some("b.example")
        );
    }

    #[test]
    fn from_env_refuses_unusable_entries() {
        let env = Env::from_pairs(Path::new("/"), [("GOPROXY", "https://ok.example,word")]);
        assert_eq!(
            GoEnv::from_env(&env).unwrap_err().to_string(),
            "the GOPROXY entry `word` is not an https://, http:// or file:// URL, nor `direct` or `off`"
        );
        let env = Env::from_pairs(Path::new("/"), [("GOPROXY", "/abs/path")]);
        assert!(GoEnv::from_env(&env).is_err());
        let env = Env::from_pairs(Path::new("/"), [("GOPROXY", ",|")]);
        assert!(matches!(
            GoEnv::from_env(&env),
            Err(GoProxyError::Empty { .. })
        ));
    }

    #[test]
    fn private_patterns_match_path_prefixes_of_their_length() {
        let env = Env::from_pairs(
            Path::new("/"),
            [(
                "GOPRIVATE",
                "*.corp.example,github.com/acme/,git?.example/x*/[a-c]*",
            )],
        );
        let go = GoEnv::from_env(&env).unwrap();
        assert!(go.is_private("git.corp.example/team/tool/cmd/x"));
        assert!(!go.is_private("corp.example/tool"));
        assert!(go.is_private("github.com/acme/tool"));
        assert!(go.is_private("github.com/acme"));
        assert!(!go.is_private("github.com/acmecorp/tool"));
        assert!(go.is_private("gitx.example/xyz/bar/baz"));
        assert!(!go.is_private("gitx.example/xyz/dar"));
        assert!(!go.is_private("gitx.example/xyz"));
        assert!(!go.is_private("github.com/other/tool"));
    }

    #[test]
    fn gonoproxy_alone_also_makes_a_path_private() {
        let env = Env::from_pairs(Path::new("/"), [("GONOPROXY", "example.com/secret")]);
        let go = GoEnv::from_env(&env).unwrap();
        assert!(go.is_private("example.com/secret/cmd"));
        assert!(!go.is_private("example.com/public"));
    }

    #[test]
    fn gonosumdb_alone_also_makes_a_path_private() {
        let env = Env::from_pairs(Path::new("/"), [("GONOSUMDB", "corp.example")]);
        let go = GoEnv::from_env(&env).unwrap();
        assert!(go.is_private("corp.example/tool"));
        assert!(!go.is_private("public.example/tool"));
    }

    #[test]
    fn settings_from_the_go_env_file_decide_privacy_and_proxies() {
        let env = Env::from_pairs(Path::new("/"), [("GOPRIVATE", "")]);
        let settings = GoSettings::from_sources(
            &env,
            crate::goenv::EnvFile::Path("/env".into()),
            "GOPRIVATE=corp.example\nGOPROXY=https://file.example|direct\n",
            "",
            None,
        );
        let go = GoEnv::from_settings(&settings).unwrap();
        assert!(go.is_private("corp.example/tool/cmd/x"));
        assert_eq!(
            go.proxies,
            [
                (url("https://file.example"), OnError::AnyError),
                (ProxyEntry::Direct, OnError::NotFoundOnly),
            ]
        );
    }

    #[test]
    fn path_match_follows_go() {
        let cases = [
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*/b", "abc/b", true),
            ("a*/b", "a/c/b", false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[^c]", "abc", false),
            ("ab[^b-d]", "abe", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("a?b", "a/b", false),
            ("a*b", "a/b", false),
            ("[", "a", false),
            ("[x-]", "x", false),
            ("a[", "x", false),
            ("*x", "xxx", true),
            // Checked against Go 1.19's path.Match.
            ("[]a]", "]", false),
            ("[-]", "-", false),
            ("[\\-]", "-", true),
            ("*[", "a", false),
            ("x*", "y[", false),
            ("a*", "ab[", true),
            ("\\", "a", false),
            ("a\\", "a", false),
            ("[^]", "a", false),
            ("[a-b-c]", "a", false),
            ("*?", "ab", true),
            ("**", "ab/c", false),
            ("[!a]", "b", false),
            ("a[b", "ac", false),
            ("[\\]]", "]", true),
            ("*b", "a/b", false),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(path_match(pattern, name), want, "{pattern} vs {name}");
        }
    }
}
