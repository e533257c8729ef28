//! The install ping and the `/counts` query, parsed and checked: pure functions, no I/O.
//!
//! A ping is accepted only when it is a JSON object with exactly the contract's fields (the
//! library's [`Ping`], the very type the clients send), each valid: a crates.io crate name or
//! a Go module path, a semantic version, a target triple, a known outcome and a known client.
//! A body holds one ping or a list of them (a run's, sent together), taken whole or refused
//! whole. Anything else is refused with a one-line reason. This module does not store anything
//! (see `db`) nor speak HTTP (see `http`).

use quickinstall::index::format::{is_valid_target, parse_version};
use quickinstall::index::path::{is_valid_crate_name, is_valid_module_path};
pub use quickinstall::stats::ping::{Kind, MAX_PINGS_PER_REQUEST, Ping};

/// The largest body accepted, in bytes: room for [`MAX_PINGS_PER_REQUEST`] pings of the
/// longest names the checks allow.
pub const MAX_BODY: usize = 64 * 1024;

/// The longest version or client version accepted (semver allows unbounded pre-release text).
const MAX_VERSION: usize = 100;

/// Parses and checks a request's body: one ping (an object) or several (an array of 1 to
/// [`MAX_PINGS_PER_REQUEST`]). One bad ping refuses the whole body, naming its place.
pub fn parse_pings(body: &[u8]) -> Result<Vec<Ping>, String> {
    let is_array = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'[');
    if !is_array {
        return parse_ping(body).map(|ping| vec![ping]);
    }
    if body.len() > MAX_BODY {
        return Err(format!("the body is larger than {MAX_BODY} bytes"));
    }
    let pings: Vec<Ping> = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the body is not a valid list of pings: {}",
            one_line(&e.to_string())
        )
    })?;
    if pings.is_empty() || pings.len() > MAX_PINGS_PER_REQUEST {
        return Err(format!(
            "a list of pings holds 1 to {MAX_PINGS_PER_REQUEST}, not {}",
            pings.len()
        ));
    }
    for (i, ping) in pings.iter().enumerate() {
        check_ping(ping).map_err(|reason| format!("ping {}: {reason}", i + 1))?;
    }
    Ok(pings)
}

/// Parses and checks a ping body; the error is a one-line reason for the client.
pub fn parse_ping(body: &[u8]) -> Result<Ping, String> {
    if body.len() > MAX_BODY {
        return Err(format!("the body is larger than {MAX_BODY} bytes"));
    }
    let ping: Ping = serde_json::from_slice(body).map_err(|e| {
        // serde_json's message names the field or position; keep it on one line.
        format!("the body is not a valid ping: {}", one_line(&e.to_string()))
    })?;
    check_ping(&ping)?;
    Ok(ping)
}

/// The field checks that the JSON types alone do not make.
fn check_ping(ping: &Ping) -> Result<(), String> {
    let name_ok = match ping.kind {
        Kind::Crate => is_valid_crate_name(&ping.name),
        Kind::Go => is_valid_module_path(&ping.name),
    };
    if !name_ok {
        return Err(format!(
            "`{}` is not a valid {} name",
            printable(&ping.name),
            match ping.kind {
                Kind::Crate => "crate",
                Kind::Go => "Go module",
            }
        ));
    }
    if ping.version.len() > MAX_VERSION || parse_version(&ping.version).is_none() {
        return Err(format!(
            "the version `{}` is not a semantic version",
            printable(&ping.version)
        ));
    }
    if !is_valid_target(&ping.target) {
        return Err(format!(
            "the target `{}` is not a target triple",
            printable(&ping.target)
        ));
    }
    if ping.client_version.len() > MAX_VERSION || parse_version(&ping.client_version).is_none() {
        return Err(format!(
            "the client version `{}` is not a semantic version",
            printable(&ping.client_version)
        ));
    }
    Ok(())
}

/// What `GET /counts` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountsQuery {
    /// `YYYY-MM-DD`, inclusive.
    pub since: String,
    pub kind: Option<Kind>,
}

/// Parses `since=YYYY-MM-DD[&kind=crate|go]` (in any order; other keys refused).
pub fn parse_counts_query(query: &str) -> Result<CountsQuery, String> {
    let mut since = None;
    let mut kind = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "since" if is_day(value) => since = Some(value.to_owned()),
            "since" => {
                return Err(format!(
                    "`since={}` is not a date of the form YYYY-MM-DD",
                    printable(value)
                ));
            }
            "kind" => {
                kind = Some(Kind::parse(value).ok_or_else(|| {
                    format!("`kind={}` is neither `crate` nor `go`", printable(value))
                })?);
            }
            _ => return Err(format!("unknown query parameter `{}`", printable(key))),
        }
    }
    let since = since.ok_or("the query needs `since=YYYY-MM-DD`")?;
    Ok(CountsQuery { since, kind })
}

/// `YYYY-MM-DD` with a month 01–12 and a day 01–31 (the text compares as a date in SQL).
fn is_day(text: &str) -> bool {
    let b = text.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return false;
    }
    if !(digits(0..4) && digits(5..7) && digits(8..10)) {
        return false;
    }
    let month: u32 = text.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(0);
    let day: u32 = text.get(8..10).and_then(|d| d.parse().ok()).unwrap_or(0);
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// Client text echoed in a reason: at most 80 characters, control characters replaced, so a
/// reason stays one short line.
fn printable(text: &str) -> String {
    text.chars()
        .take(80)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn one_line(text: &str) -> String {
    printable(&text.replace(['\r', '\n'], " "))
}

#[cfg(test)]
mod tests {
    use quickinstall::stats::ping::{Client, Outcome};

    use super::*;

    const GOOD: &str = r#"{"kind":"crate","name":"ripgrep","version":"14.1.0","target":"x86_64-unknown-linux-musl","outcome":"prebuilt","client":"cargo-quickinstall","client_version":"0.1.0"}"#;

    #[test]
    fn accepts_a_valid_crate_and_go_ping() {
        let ping = parse_ping(GOOD.as_bytes()).unwrap();
        assert_eq!(ping.kind, Kind::Crate);
        assert_eq!(ping.outcome, Outcome::Prebuilt);
        let go = GOOD
            .replace(r#""crate""#, r#""go""#)
            .replace("ripgrep", "github.com/junegunn/fzf")
            .replace("14.1.0", "v0.56.3")
            .replace("cargo-quickinstall", "gquick")
            .replace("prebuilt", "fallback-built");
        let ping = parse_ping(go.as_bytes()).unwrap();
        assert_eq!(ping.kind, Kind::Go);
        assert_eq!(ping.client, Client::Gquick);
    }

    #[test]
    fn refuses_each_kind_of_bad_field() {
        let cases = [
            ("ripgrep", "rip grep"),
            ("14.1.0", "latest"),
            ("x86_64-unknown-linux-musl", "../etc"),
            ("prebuilt", "stolen"),
            (r#""cargo-quickinstall""#, r#""curl""#),
            (r#""client_version":"0.1.0""#, r#""client_version":"x""#),
            (r#""kind":"crate""#, r#""kind":"npm""#),
        ];
        for (from, to) in cases {
            let body = GOOD.replace(from, to);
            assert!(parse_ping(body.as_bytes()).is_err(), "{body}");
        }
        // A Go module path is not a crate name.
        let body = GOOD.replace("ripgrep", "github.com/a/b");
        assert!(parse_ping(body.as_bytes()).is_err());
    }

    #[test]
    fn refuses_missing_extra_and_non_object_bodies() {
        let missing = GOOD.replace(r#","client_version":"0.1.0""#, "");
        assert!(parse_ping(missing.as_bytes()).is_err());
        let extra = GOOD.replace('}', r#","ip":"1.2.3.4"}"#);
        assert!(parse_ping(extra.as_bytes()).unwrap_err().contains("ip"));
        for body in ["", "[]", "null", "{", "\"x\"", "{}"] {
            assert!(parse_ping(body.as_bytes()).is_err(), "{body}");
        }
        let big = format!("{}{}", GOOD, " ".repeat(MAX_BODY));
        assert!(parse_ping(big.as_bytes()).unwrap_err().contains("larger"));
    }

    #[test]
    fn a_list_of_pings_is_taken_whole_or_refused_whole() {
        let two = format!("[{GOOD},{}]", GOOD.replace("ripgrep", "fd-find"));
        let pings = parse_pings(two.as_bytes()).unwrap();
        assert_eq!(
            pings.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["ripgrep", "fd-find"]
        );
        assert_eq!(parse_pings(GOOD.as_bytes()).unwrap().len(), 1);
        // One bad ping refuses the list, and says which.
        let bad = format!("[{GOOD},{}]", GOOD.replace("14.1.0", "latest"));
        assert!(
            parse_pings(bad.as_bytes())
                .unwrap_err()
                .starts_with("ping 2:")
        );
        let extra = format!("[{GOOD},{}]", GOOD.replace('}', r#","ip":"1.2.3.4"}"#));
        assert!(parse_pings(extra.as_bytes()).is_err());
        // Empty, too long, nested or mixed lists are refused.
        let many = format!("[{}]", vec![GOOD; MAX_PINGS_PER_REQUEST + 1].join(","));
        assert!(many.len() <= MAX_BODY);
        for body in [
            "[]".to_owned(),
            many,
            format!("[[{GOOD}]]"),
            format!("[{GOOD},1]"),
        ] {
            assert!(parse_pings(body.as_bytes()).is_err(), "{body}");
        }
        let big = format!("[{GOOD}{}]", " ".repeat(MAX_BODY));
        assert!(parse_pings(big.as_bytes()).unwrap_err().contains("larger"));
    }

    #[test]
    fn reasons_are_one_line() {
        let body = "{\n\"kind\":\n\"crate\",\n\"name\":1}";
        let reason = parse_ping(body.as_bytes()).unwrap_err();
        assert!(!reason.contains('\n'), "{reason}");
    }

    #[test]
    fn counts_query_needs_a_day_and_knows_kinds() {
        assert_eq!(
            parse_counts_query("since=2026-01-02&kind=go").unwrap(),
            CountsQuery {
                since: "2026-01-02".into(),
                kind: Some(Kind::Go)
            }
        );
        assert_eq!(parse_counts_query("since=2026-01-02").unwrap().kind, None);
        for bad in [
            "",
            "kind=crate",
            "since=2026-1-2",
            "since=2026-13-01",
            "since=2026-01-02&kind=npm",
            "since=2026-01-02&x=1",
        ] {
            assert!(parse_counts_query(bad).is_err(), "{bad}");
        }
    }
}
