//! The stats service's request validator (`build-index/src/stats/validate.rs`): any bytes as a
//! `POST /record-install` body (one ping or a list) and as a `GET /counts` query. The module is
//! pure and compiled here from its source file, since `build-index` is a binary crate. Every
//! refusal is one short printable line (it is echoed to the client); every accepted ping
//! satisfies the contract.

#![no_main]

#[allow(dead_code)] // the service uses more of the module than the fuzzer does
#[path = "../../build-index/src/stats/validate.rs"]
mod validate;

use libfuzzer_sys::fuzz_target;
use quickinstall::index::format::{is_valid_target, parse_version};

fuzz_target!(|data: &[u8]| {
    match validate::parse_pings(data) {
        Ok(pings) => {
            assert!(data.len() <= validate::MAX_BODY);
            assert!((1..=validate::MAX_PINGS_PER_REQUEST).contains(&pings.len()));
            for ping in pings {
                assert!(parse_version(&ping.version).is_some());
                assert!(parse_version(&ping.client_version).is_some());
                assert!(is_valid_target(&ping.target));
            }
        }
        Err(reason) => check_reason(&reason),
    }
    if let Ok(query) = std::str::from_utf8(data) {
        match validate::parse_counts_query(query) {
            Ok(counts) => assert_eq!(counts.since.len(), 10),
            Err(reason) => check_reason(&reason),
        }
    }
});

fn check_reason(reason: &str) {
    assert!(
        !reason.chars().any(char::is_control),
        "printable: {reason:?}"
    );
    assert!(reason.chars().count() <= 300, "short: {reason:?}");
}
