//! The install ping's wire format, the one contract between the clients and the stats service:
//! the client serialises a [`Ping`], `build-index stats serve` deserialises the same type.
//!
//! Defined once so the two cannot drift: the service refuses unknown fields
//! (`deny_unknown_fields`), so a field added here is added to both sides in one change. Field
//! values are checked (names, versions, targets) by the service, not here; this module only
//! fixes the shape and the spelling of each enum on the wire.
//!
//! A request's body is one ping (a JSON object) or a run's pings together (a JSON array of 1
//! to [`MAX_PINGS_PER_REQUEST`] of them): [`body`].

use serde::{Deserialize, Serialize};

/// The kind of package: a crate or a Go module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Crate,
    Go,
}

impl Kind {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crate => "crate",
            Self::Go => "go",
        }
    }

    /// The inverse of [`Kind::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "crate" => Some(Self::Crate),
            "go" => Some(Self::Go),
            _ => None,
        }
    }
}

/// How an install attempt ended, as the stats service counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Prebuilt,
    FallbackBuilt,
    FallbackFailed,
    NotInIndex,
    VerifyFailed,
}

impl Outcome {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prebuilt => "prebuilt",
            Self::FallbackBuilt => "fallback-built",
            Self::FallbackFailed => "fallback-failed",
            Self::NotInIndex => "not-in-index",
            Self::VerifyFailed => "verify-failed",
        }
    }
}

/// Which client sends the ping; it also fixes the package kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Client {
    #[serde(rename = "cargo-quickinstall")]
    CargoQuickinstall,
    #[serde(rename = "gquick")]
    Gquick,
}

impl Client {
    /// The wire spelling, which is also the program's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::CargoQuickinstall => "cargo-quickinstall",
            Self::Gquick => "gquick",
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Self::CargoQuickinstall => Kind::Crate,
            Self::Gquick => Kind::Go,
        }
    }
}

/// The most pings one request carries; a run with more sends several requests.
pub const MAX_PINGS_PER_REQUEST: usize = 64;

/// The body of one request carrying `pings` (1 to [`MAX_PINGS_PER_REQUEST`]): the ping itself
/// when there is one, else an array of them.
pub fn body(pings: &[Ping]) -> String {
    let result = match pings {
        [one] => serde_json::to_string(one),
        many => serde_json::to_string(many),
    };
    // Structs of strings and unit enums always serialise.
    result.unwrap_or_default()
}

/// The body of one ping: exactly these fields, nothing about the user or the machine.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ping {
    pub kind: Kind,
    pub name: String,
    pub version: String,
    pub target: String,
    pub outcome: Outcome,
    pub client: Client,
    pub client_version: String,
}

impl Ping {
    /// A ping from this build of `client` (its version is this library's).
    pub fn new(client: Client, name: &str, version: &str, target: &str, outcome: Outcome) -> Self {
        Self {
            kind: client.kind(),
            name: name.to_owned(),
            version: version.to_owned(),
            target: target.to_owned(),
            outcome,
            client,
            client_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    pub fn to_json(&self) -> String {
        // A struct of strings and unit enums always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_holds_exactly_the_contract_fields() {
        let ping = Ping::new(
            Client::Gquick,
            "example.com/t",
            "v1.2.3",
            "x86_64-unknown-linux-musl",
            Outcome::FallbackBuilt,
        );
        let v: serde_json::Value = serde_json::from_str(&ping.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "kind": "go",
                "name": "example.com/t",
                "version": "v1.2.3",
                "target": "x86_64-unknown-linux-musl",
                "outcome": "fallback-built",
                "client": "gquick",
                "client_version": env!("CARGO_PKG_VERSION"),
            })
        );
    }

    #[test]
    fn what_is_sent_reads_back_and_unknown_fields_are_refused() {
        let ping = Ping::new(
            Client::CargoQuickinstall,
            "ripgrep",
            "14.1.0",
            "x86_64-unknown-linux-musl",
            Outcome::NotInIndex,
        );
        let back: Ping = serde_json::from_str(&ping.to_json()).unwrap();
        assert_eq!(back, ping);
        let extra = ping.to_json().replace('}', r#","ip":"10.0.0.1"}"#);
        assert!(serde_json::from_str::<Ping>(&extra).is_err());
    }

    #[test]
    fn one_ping_is_sent_as_an_object_and_several_as_an_array() {
        let ping = |name: &str| {
            Ping::new(
                Client::CargoQuickinstall,
                name,
                "1.0.0",
                "x86_64-unknown-linux-musl",
                Outcome::Prebuilt,
            )
        };
        let one: serde_json::Value = serde_json::from_str(&body(&[ping("a")])).unwrap();
        assert_eq!(
            one,
            serde_json::from_str::<serde_json::Value>(&ping("a").to_json()).unwrap()
        );
        let two: Vec<Ping> = serde_json::from_str(&body(&[ping("a"), ping("b")])).unwrap();
        assert_eq!(two, vec![ping("a"), ping("b")]);
    }

    #[test]
    fn wire_spellings_match_as_str() {
        for o in [
            Outcome::Prebuilt,
            Outcome::FallbackBuilt,
            Outcome::FallbackFailed,
            Outcome::NotInIndex,
            Outcome::VerifyFailed,
        ] {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        for k in [Kind::Crate, Kind::Go] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        for c in [Client::CargoQuickinstall, Client::Gquick] {
            assert_eq!(serde_json::to_value(c).unwrap(), c.name());
        }
    }
}
