//! Go module versions, pure: the proxy's `/@v/list`, `retract` directives of a `go.mod`, version
//! queries (`latest`, `v1.2.3`, `v1`, `>=v1.2`) and the choice among listed versions, following
//! cmd/go's `modload.Query`.
//!
//! Nothing here sends a request; the caller fetches the list and the `.mod` file.

use std::cmp::Ordering;

use semver::{BuildMetadata, Version};

/// A listed version: the proxy's spelling and its parsed form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoVersion {
    pub text: String,
    pub semver: Version,
}

impl GoVersion {
    /// A canonical Go version: `v` followed by a full semantic version.
    pub fn parse(text: &str) -> Option<Self> {
        let bare = text.strip_prefix('v')?;
        Version::parse(bare).ok().map(|semver| Self {
            text: text.to_owned(),
            semver,
        })
    }

    /// A release: no prerelease part (so not a pseudo-version either).
    pub fn is_release(&self) -> bool {
        self.semver.pre.is_empty()
    }
}

/// Go's `semver.Compare`: build metadata (`+incompatible`) does not order versions.
pub fn compare(a: &Version, b: &Version) -> Ordering {
    let strip = |v: &Version| Version {
        build: BuildMetadata::EMPTY,
        ..v.clone()
    };
    strip(a).cmp(&strip(b))
}

/// A pseudo-version (`v0.0.0-20240101120000-abcdef123456` and its `vX.Y.Z-pre.0.`/`-0.`
/// forms): the prerelease ends in a 14-digit timestamp, `-`, and a revision.
pub fn is_pseudo_version(v: &GoVersion) -> bool {
    let pre = v.semver.pre.as_str();
    let Some((before, revision)) = pre.rsplit_once('-') else {
        return false;
    };
    let timestamp = before.rsplit('.').next().unwrap_or(before);
    timestamp.len() == 14
        && timestamp.bytes().all(|b| b.is_ascii_digit())
        && !revision.is_empty()
        && revision.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The major version a module path allows: `example.com/tool/v2` and `gopkg.in/yaml.v3` name
/// theirs; any other path takes v0 and v1 (and `+incompatible` v2+ from before modules).
pub fn allows_major(module: &str, v: &GoVersion) -> bool {
    let last = module.rsplit('/').next().unwrap_or(module);
    let suffix_major = |digits: &str| -> Option<u64> {
        (!digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0'))
        .then(|| digits.parse().ok())
        .flatten()
    };
    if module.starts_with("gopkg.in/")
        && let Some((_, digits)) = last.rsplit_once(".v")
        && let Some(major) = suffix_major(digits).or((digits == "0").then_some(0))
    {
        return v.semver.major == major;
    }
    if module.contains('/')
        && let Some(digits) = last.strip_prefix('v')
        && let Some(major) = suffix_major(digits)
        && major >= 2
    {
        return v.semver.major == major && v.semver.build.is_empty();
    }
    v.semver.major <= 1 || v.semver.build.as_str() == "incompatible"
}

/// Whether a path's major-version suffix is one a module path may have (golang.org/x/mod's
/// `SplitPathVersion`): `/v2` and up but not `/v0`, `/v1`, `/v01` or `/v1.2`; `gopkg.in/`
/// paths must end in `.vN`. cmd/go does not ask proxies about other paths.
pub fn has_valid_major_suffix(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or(path);
    let is_number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if path.starts_with("gopkg.in/") {
        return last.rsplit_once(".v").is_some_and(|(name, digits)| {
            !name.is_empty() && is_number(digits) && (digits == "0" || !digits.starts_with('0'))
        });
    }
    match last.strip_prefix('v') {
        Some(rest)
            if path.contains('/')
                && rest.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && !rest.is_empty() =>
        {
            is_number(rest) && !rest.starts_with('0') && rest != "1"
        }
        _ => true,
    }
}

/// The versions of a `/@v/list` body that a module path can serve: one per line, first field,
/// canonical, no pseudo-versions (cmd/go ignores those in lists), right major version.
pub fn parse_list(module: &str, body: &str) -> Vec<GoVersion> {
    let mut versions: Vec<GoVersion> = body
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter_map(GoVersion::parse)
        .filter(|v| !is_pseudo_version(v) && allows_major(module, v))
        .collect();
    versions.sort_by(|a, b| compare(&a.semver, &b.semver));
    versions.dedup_by(|a, b| a.text == b.text);
    versions
}

/// The newest listed version (the newest release, else the newest prerelease), named in errors.
pub fn latest_candidate(versions: &[GoVersion]) -> Option<&GoVersion> {
    let newest = |release: bool| {
        versions
            .iter()
            .filter(|v| v.is_release() == release)
            .max_by(|a, b| compare(&a.semver, &b.semver))
    };
    newest(true).or_else(|| newest(false))
}

/// Retracted versions: single versions and closed intervals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retractions {
    intervals: Vec<(Version, Version)>,
}

impl Retractions {
    pub fn contains(&self, v: &GoVersion) -> bool {
        self.intervals
            .iter()
            .any(|(lo, hi)| compare(lo, &v.semver).is_le() && compare(&v.semver, hi).is_le())
    }

    pub fn is_empty(&self) -> bool {
        self.intervals.is_empty()
    }
}

/// The `retract` directives of a `go.mod`: `retract v1.0.1`, `retract [v1.0.0, v1.0.5]` and
/// `retract ( … )` blocks, with `//` comments. Entries that do not parse are skipped, as a
/// retraction we cannot read should not stop an install.
pub fn parse_retractions(go_mod: &str) -> Retractions {
    let mut intervals = Vec::new();
    // The verb of the `verb (` block we are in, if any.
    let mut block: Option<String> = None;
    for line in go_mod.lines() {
        let line = line.split("//").next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        if let Some(verb) = &block {
            if line == ")" {
                block = None;
            } else if verb == "retract" {
                intervals.extend(parse_retraction(line));
            }
            continue;
        }
        let (verb, rest) = line.split_once([' ', '\t', '(']).unwrap_or((line, ""));
        let opens_block =
            line.ends_with('(') && line.get(verb.len()..).is_some_and(|r| r.trim() == "(");
        if opens_block {
            block = Some(verb.to_owned());
        } else if verb == "retract" {
            intervals.extend(parse_retraction(rest.trim()));
        }
    }
    Retractions { intervals }
}

fn parse_retraction(spec: &str) -> Option<(Version, Version)> {
    let version = |s: &str| GoVersion::parse(s.trim().trim_matches('"')).map(|v| v.semver);
    match spec.strip_prefix('[') {
        Some(inner) => {
            let (lo, hi) = inner.strip_suffix(']')?.split_once(',')?;
            Some((version(lo)?, version(hi)?))
        }
        None => {
            let v = version(spec)?;
            Some((v.clone(), v))
        }
    }
}

/// A version query as `go install pkg@query` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// `latest`.
    Latest,
    /// A full version: looked up directly, retracted or not.
    Exact(String),
    /// `v1` or `v1.2`: versions with that major (and minor).
    Prefix { major: u64, minor: Option<u64> },
    /// `<v1.2.3`, `<=v1.2.3`, `>v1.2.3`, `>=v1.2`.
    Compare { op: Op, bound: Version },
    /// Anything else (a branch, tag or commit): only the proxy can say.
    Revision(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Less,
    LessEq,
    Greater,
    GreaterEq,
}

/// Why a query string is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// Not a version, comparison or revision name.
    Invalid,
    /// `<=v1.2` or `>v1.2`: cmd/go refuses to guess whether `v1.2` means `v1.2.0` or `v1.2.9`.
    Ambiguous,
}

impl Query {
    pub fn parse(query: &str) -> Result<Self, QueryError> {
        if query == "latest" {
            return Ok(Self::Latest);
        }
        for (text, op) in [
            ("<=", Op::LessEq),
            (">=", Op::GreaterEq),
            ("<", Op::Less),
            (">", Op::Greater),
        ] {
            if let Some(operand) = query.strip_prefix(text) {
                let (bound, is_prefix) = canonical(operand).ok_or(QueryError::Invalid)?;
                if is_prefix && matches!(op, Op::LessEq | Op::Greater) {
                    return Err(QueryError::Ambiguous);
                }
                return Ok(Self::Compare { op, bound });
            }
        }
        if GoVersion::parse(query).is_some() {
            return Ok(Self::Exact(query.to_owned()));
        }
        if let Some((major, minor)) = semver_prefix(query) {
            return Ok(Self::Prefix { major, minor });
        }
        let revision_ok = !query.is_empty()
            && query.len() <= 128
            && query.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'+' | b'~')
            })
            && !query.starts_with(['.', '-']);
        if revision_ok {
            Ok(Self::Revision(query.to_owned()))
        } else {
            Err(QueryError::Invalid)
        }
    }

    /// Whether a listed version satisfies a list-based query.
    fn allows(&self, v: &GoVersion) -> bool {
        match self {
            Self::Latest => true,
            Self::Prefix { major, minor } => {
                v.semver.major == *major && minor.is_none_or(|m| v.semver.minor == m)
            }
            Self::Compare { op, bound } => {
                let ord = compare(&v.semver, bound);
                match op {
                    Op::Less => ord.is_lt(),
                    Op::LessEq => ord.is_le(),
                    Op::Greater => ord.is_gt(),
                    Op::GreaterEq => ord.is_ge(),
                }
            }
            Self::Exact(_) | Self::Revision(_) => false,
        }
    }

    /// cmd/go: comparisons pick the version nearest their bound, so `>`/`>=` take the lowest.
    fn prefers_lower(&self) -> bool {
        matches!(
            self,
            Self::Compare {
                op: Op::Greater | Op::GreaterEq,
                ..
            }
        )
    }
}

/// `v1`, `v1.2`: (major, minor).
fn semver_prefix(text: &str) -> Option<(u64, Option<u64>)> {
    let digits = text.strip_prefix('v')?;
    let number = |s: &str| {
        (!s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit())
            && (s == "0" || !s.starts_with('0')))
        .then(|| s.parse().ok())
        .flatten()
    };
    match digits.split_once('.') {
        Some((major, minor)) => Some((number(major)?, Some(number(minor)?))),
        None => Some((number(digits)?, None)),
    }
}

/// Go's `semver.Canonical` for a comparison operand: a full version, or `v1`/`v1.2` completed
/// with zeros (and flagged as a prefix).
fn canonical(operand: &str) -> Option<(Version, bool)> {
    if let Some(v) = GoVersion::parse(operand) {
        return Some((v.semver, false));
    }
    let (major, minor) = semver_prefix(operand)?;
    Some((Version::new(major, minor.unwrap_or(0), 0), true))
}

/// The outcome of choosing among listed versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Found(GoVersion),
    /// Some versions match, but every one of them is retracted.
    AllRetracted,
    NoMatch,
}

/// cmd/go's choice for a list-based query: releases before prereleases, retracted versions
/// skipped, the highest (the lowest for `>`/`>=`).
pub fn choose(versions: &[GoVersion], query: &Query, retracted: &Retractions) -> Choice {
    let matching: Vec<&GoVersion> = versions.iter().filter(|v| query.allows(v)).collect();
    if matching.is_empty() {
        return Choice::NoMatch;
    }
    let pick = |release: bool| {
        let candidates = matching
            .iter()
            .copied()
            .filter(|v| v.is_release() == release && !retracted.contains(v));
        if query.prefers_lower() {
            candidates.min_by(|a, b| compare(&a.semver, &b.semver))
        } else {
            candidates.max_by(|a, b| compare(&a.semver, &b.semver))
        }
    };
    pick(true)
        .or_else(|| pick(false))
        .map_or(Choice::AllRetracted, |v| Choice::Found(v.clone()))
}

/// Whether a version is a pre-modules major version (`v2.0.0+incompatible`).
pub fn is_incompatible(v: &GoVersion) -> bool {
    v.semver.build.as_str() == "incompatible"
}

/// cmd/go's rule for `+incompatible` versions (golang.org/issue/34165): when the query allows
/// some, the highest allowed compatible version decides. If it has a `go.mod` of its own, the
/// author supports modules and the `+incompatible` tags are ignored. Returns that version, when
/// there is a decision to make.
pub fn incompatible_gate<'a>(
    versions: &'a [GoVersion],
    query: &Query,
    retracted: &Retractions,
) -> Option<&'a GoVersion> {
    let allowed = |v: &&GoVersion| query.allows(v) && !retracted.contains(v);
    if !versions.iter().filter(allowed).any(is_incompatible) {
        return None;
    }
    versions
        .iter()
        .filter(allowed)
        .filter(|v| !is_incompatible(v))
        .max_by(|a, b| compare(&a.semver, &b.semver))
}

/// The `go.mod` a proxy synthesizes for a version without one (cmd/go's `LegacyGoMod`).
pub fn is_synthesized_go_mod(module: &str, go_mod: &[u8]) -> bool {
    go_mod == format!("module {module}\n").as_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by unwrapping
mod tests {
    use super::*;

    fn list(module: &str, body: &str) -> Vec<GoVersion> {
        parse_list(module, body)
    }

    fn chosen(versions: &[GoVersion], query: &str, retracted: &Retractions) -> Option<String> {
        match choose(versions, &Query::parse(query).unwrap(), retracted) {
            Choice::Found(v) => Some(v.text),
            _ => None,
        }
    }

    #[test]
    fn list_keeps_canonical_tagged_versions_of_the_right_major() {
        let body = "v1.2.0\nv1.10.0 2024-01-01T00:00:00Z\nbogus\n1.3.0\n\
                    v0.0.0-20240101120000-abcdef123456\nv2.0.0+incompatible\nv2.1.0\n";
        let texts = |vs: Vec<GoVersion>| vs.into_iter().map(|v| v.text).collect::<Vec<_>>();
        assert_eq!(
            texts(list("example.com/tool", body)),
            ["v1.2.0", "v1.10.0", "v2.0.0+incompatible"]
        );
        assert_eq!(texts(list("example.com/tool/v2", body)), ["v2.1.0"]);
        assert_eq!(
            texts(list("gopkg.in/yaml.v3", "v3.0.1\nv2.4.0\n")),
            ["v3.0.1"]
        );
    }

    #[test]
    fn major_suffixes_follow_split_path_version() {
        for (path, ok) in [
            ("example.com/tool", true),
            ("example.com/tool/v2", true),
            ("example.com/tool/v1", false),
            ("example.com/tool/v0", false),
            ("example.com/tool/v02", false),
            ("example.com/tool/v1.2", false),
            ("example.com/tool/version", true),
            ("example.com/v2", true),
            ("gopkg.in/yaml.v3", true),
            ("gopkg.in/yaml", false),
            ("gopkg.in/yaml.v03", false),
        ] {
            assert_eq!(has_valid_major_suffix(path), ok, "{path}");
        }
    }

    #[test]
    fn recognises_pseudo_versions() {
        for (text, pseudo) in [
            ("v0.0.0-20191109021931-daa7c04131f5", true),
            ("v1.2.4-0.20191109021931-daa7c04131f5", true),
            ("v1.2.3-pre.0.20191109021931-daa7c04131f5", true),
            ("v1.2.3-rc.1", false),
            ("v1.2.3", false),
        ] {
            assert_eq!(
                is_pseudo_version(&GoVersion::parse(text).unwrap()),
                pseudo,
                "{text}"
            );
        }
    }

    #[test]
    fn latest_prefers_releases_then_prereleases() {
        let none = Retractions::default();
        let vs = list("e.com/m", "v1.0.0\nv1.1.0\nv1.2.0-rc.1\n");
        assert_eq!(chosen(&vs, "latest", &none).as_deref(), Some("v1.1.0"));
        let vs = list("e.com/m", "v0.1.0-alpha\nv0.2.0-beta\n");
        assert_eq!(chosen(&vs, "latest", &none).as_deref(), Some("v0.2.0-beta"));
        assert_eq!(choose(&[], &Query::Latest, &none), Choice::NoMatch);
    }

    #[test]
    fn retracted_versions_are_skipped_and_all_retracted_is_reported() {
        let vs = list("e.com/m", "v1.0.0\nv1.0.1\nv1.0.2\n");
        let retracted = parse_retractions("module e.com/m\n\nretract v1.0.2 // broken\n");
        assert_eq!(chosen(&vs, "latest", &retracted).as_deref(), Some("v1.0.1"));
        let all = parse_retractions("retract [v1.0.0, v1.0.2]");
        assert_eq!(choose(&vs, &Query::Latest, &all), Choice::AllRetracted);
    }

    #[test]
    fn incompatible_versions_are_gated_by_the_newest_allowed_compatible_one() {
        let none = Retractions::default();
        let vs = list("e.com/m", "v1.0.0\nv1.1.0-rc.1\nv2.0.0+incompatible\n");
        let gate = incompatible_gate(&vs, &Query::Latest, &none).unwrap();
        assert_eq!(gate.text, "v1.1.0-rc.1");
        let below = Query::parse("<v1.1.0").unwrap();
        assert_eq!(incompatible_gate(&vs, &below, &none), None);
        let vs = list("e.com/m", "v1.0.0\nv1.1.0\n");
        assert_eq!(incompatible_gate(&vs, &Query::Latest, &none), None);
    }

    #[test]
    fn recognises_the_go_mod_a_proxy_synthesizes() {
        assert!(is_synthesized_go_mod("e.com/m", b"module e.com/m\n"));
        assert!(!is_synthesized_go_mod(
            "e.com/m",
            b"module e.com/m\n\ngo 1.21\n"
        ));
    }

    #[test]
    fn parses_retract_blocks_intervals_and_comments() {
        let go_mod = "module e.com/m // the module\n\
            go 1.21\n\
            require (\n\tretract.example/x v1.0.0\n)\n\
            retract (\n\
            \tv1.0.1 // oops\n\
            \t[v1.1.0, v1.1.5] // range\n\
            \t// a comment line\n\
            \t\"v1.3.0\"\n\
            )\n\
            retract [v2.0.0, v2.0.1]\n";
        let r = parse_retractions(go_mod);
        let has = |v: &str| r.contains(&GoVersion::parse(v).unwrap());
        assert!(has("v1.0.1"));
        assert!(has("v1.1.0") && has("v1.1.3") && has("v1.1.5"));
        assert!(!has("v1.1.6") && !has("v1.0.0") && !has("v1.2.0"));
        assert!(has("v1.3.0"));
        assert!(has("v2.0.1"));
    }

    #[test]
    fn prefix_and_comparison_queries() {
        let none = Retractions::default();
        let vs = list(
            "e.com/m",
            "v1.1.0\nv1.2.0\nv1.2.5\nv1.3.0\nv1.4.0-rc.1\nv0.9.0\n",
        );
        assert_eq!(chosen(&vs, "v1", &none).as_deref(), Some("v1.3.0"));
        assert_eq!(chosen(&vs, "v1.2", &none).as_deref(), Some("v1.2.5"));
        assert_eq!(chosen(&vs, "<v1.2", &none).as_deref(), Some("v1.1.0"));
        assert_eq!(chosen(&vs, "<=v1.2.5", &none).as_deref(), Some("v1.2.5"));
        // cmd/go: the version nearest the bound.
        assert_eq!(chosen(&vs, ">=v1.2", &none).as_deref(), Some("v1.2.0"));
        assert_eq!(chosen(&vs, ">v1.2.0", &none).as_deref(), Some("v1.2.5"));
        assert_eq!(
            chosen(&vs, ">v1.3.0", &none).as_deref(),
            Some("v1.4.0-rc.1")
        );
        assert_eq!(chosen(&vs, "v2", &none), None);
    }

    #[test]
    fn parses_queries_like_cmd_go() {
        assert_eq!(Query::parse("latest"), Ok(Query::Latest));
        assert_eq!(Query::parse("v1.2.3"), Ok(Query::Exact("v1.2.3".into())));
        assert_eq!(
            Query::parse("v1.2"),
            Ok(Query::Prefix {
                major: 1,
                minor: Some(2)
            })
        );
        assert_eq!(Query::parse("<=v1.2"), Err(QueryError::Ambiguous));
        assert_eq!(Query::parse(">v1"), Err(QueryError::Ambiguous));
        assert_eq!(
            Query::parse(">=v1.2"),
            Ok(Query::Compare {
                op: Op::GreaterEq,
                bound: Version::new(1, 2, 0)
            })
        );
        assert_eq!(Query::parse("master"), Ok(Query::Revision("master".into())));
        assert_eq!(Query::parse("../x"), Err(QueryError::Invalid));
        assert_eq!(Query::parse(">=banana"), Err(QueryError::Invalid));
        assert_eq!(Query::parse(""), Err(QueryError::Invalid));
    }
}
