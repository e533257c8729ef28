//! Time as the index writes it: Unix seconds and RFC 3339 UTC text, without a date crate.
//!
//! Pure conversions plus [`now`]; the choice between `SOURCE_DATE_EPOCH` and the clock is made
//! by the caller, which passes the variable's value in.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch now (0 if the clock is before 1970).
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The value of `SOURCE_DATE_EPOCH` as seconds, when it is set to a plain integer.
/// See <https://reproducible-builds.org/specs/source-date-epoch/>: anything else is ignored.
pub fn parse_source_date_epoch(value: Option<&str>) -> Option<u64> {
    value.and_then(|v| v.trim().parse().ok())
}

/// `secs` since the epoch as RFC 3339 UTC with second precision, e.g. `2026-11-25T07:03:09Z`.
pub fn rfc3339_utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = quickinstall::utc::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_utc(4_107_542_399), "2100-02-28T23:59:59Z");
        assert_eq!(rfc3339_utc(4_107_542_400), "2100-03-01T00:00:00Z");
    }

    #[test]
    fn reads_source_date_epoch_only_when_it_is_a_number() {
        assert_eq!(
            parse_source_date_epoch(Some("1700000000")),
            Some(1_700_000_000)
        );
        assert_eq!(parse_source_date_epoch(Some("yesterday")), None);
        assert_eq!(parse_source_date_epoch(None), None);
    }
}
