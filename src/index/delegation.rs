//! Delegations: an offline root key's signed statement "signing key K may sign index I from T1
//! until T2".
//!
//! A delegation is a minisign signature made with a root key over its own statement: the
//! statement is the signature's trusted comment (covered by minisign's global signature) and
//! also the signed data, so one four-line block is the whole delegation. It travels inside each
//! signed bundle ([`crate::index::signature`]), so checking it costs no request. What the
//! statement *says* (validity window, index identity) is checked here; which file it covers is
//! [`crate::index::signature::TrustedKeys::verify_bundle`]'s.

use minisign_verify::{PublicKey, Signature};

/// The identity of the project's release index, named in its delegations. A client expects it
/// unless `QUICKINSTALL_INDEX_ID` names another.
pub const DEFAULT_INDEX_ID: &str = "quickinstall";

const STATEMENT_TAG: &str = "quickinstall-delegation v1";

/// What a root key grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    /// The index this grant is for (`quickinstall` for the project's).
    pub index: String,
    /// The signing key's base64 public key line.
    pub key: String,
    /// Unix seconds from which the grant holds.
    pub not_before: u64,
    /// Unix seconds after which the grant no longer holds.
    pub not_after: u64,
}

/// Why a delegation was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DelegationError {
    #[error("the delegation is not a minisign signature")]
    Malformed,
    #[error("the delegation's statement is not a quickinstall delegation")]
    UnknownStatement,
    #[error("the delegation is signed by a key that is not a trusted root")]
    UntrustedRoot,
    #[error("the delegation's root signature does not match its statement (it was tampered with)")]
    Invalid,
    #[error(
        "the delegation of key `{key}` expired at {} and this machine's clock says {}{}",
        utc(*not_after), utc(*now), clock_note(*now, *not_after)
    )]
    Expired {
        key: String,
        not_after: u64,
        now: u64,
    },
    #[error(
        "the delegation of key `{key}` is valid only from {}, but this machine's clock says {}{}",
        utc(*not_before), utc(*now), clock_note(*now, *not_before)
    )]
    NotYetValid {
        key: String,
        not_before: u64,
        now: u64,
    },
    #[error("the delegation is for the index `{found}`, not `{expected}`")]
    WrongIndex { expected: String, found: String },
}

impl Delegation {
    /// The statement the root signs (and the trusted comment of its signature).
    pub fn render(&self) -> String {
        format!(
            "{STATEMENT_TAG} index={} key={} not_before={} not_after={}",
            self.index, self.key, self.not_before, self.not_after
        )
    }

    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(STATEMENT_TAG)?.strip_prefix(' ')?;
        let (mut index, mut key, mut not_before, mut not_after) = (None, None, None, None);
        for field in rest.split(' ') {
            match field.split_once('=')? {
                ("index", i) if valid_index_id(i) => index = Some(i.to_owned()),
                ("key", k) if !k.is_empty() => key = Some(k.to_owned()),
                ("not_before", t) => not_before = Some(t.parse().ok()?),
                ("not_after", t) => not_after = Some(t.parse().ok()?),
                _ => {}
            }
        }
        Some(Self {
            index: index?,
            key: key?,
            not_before: not_before?,
            not_after: not_after?,
        })
    }

    /// Reads the statement of a delegation block without checking who signed it (the
    /// publisher uses this to see which key and window a delegation file names).
    pub fn read_unverified(block: &str) -> Result<Self, DelegationError> {
        let signature = Signature::decode(block).map_err(|_| DelegationError::Malformed)?;
        Self::parse(signature.trusted_comment()).ok_or(DelegationError::UnknownStatement)
    }

    /// Checks that `block` is signed by one of `roots`, and that its grant holds at `now` for
    /// `index`. Expiry alone is forgiven with `allow_expired` (an air-gapped mirror).
    pub fn verify(
        block: &str,
        roots: &[PublicKey],
        index: &str,
        now: u64,
        allow_expired: bool,
    ) -> Result<Self, DelegationError> {
        Self::verify_signature(block, roots)?.check(index, now, allow_expired)
    }

    /// The first half of [`Self::verify`]: the statement of `block`, once its signature is
    /// found to be made by one of `roots`. What the statement grants is not looked at.
    pub fn verify_signature(block: &str, roots: &[PublicKey]) -> Result<Self, DelegationError> {
        let signature = Signature::decode(block).map_err(|_| DelegationError::Malformed)?;
        let statement = signature.trusted_comment();
        let mut outcome = Err(DelegationError::UntrustedRoot);
        for root in roots {
            match root.verify(statement.as_bytes(), &signature, false) {
                Ok(()) => {
                    outcome = Ok(());
                    break;
                }
                Err(minisign_verify::Error::UnexpectedKeyId) => {}
                Err(_) => outcome = Err(DelegationError::Invalid),
            }
        }
        outcome?;
        Self::parse(statement).ok_or(DelegationError::UnknownStatement)
    }

    /// The second half of [`Self::verify`]: that this (signature-checked) grant holds at `now`
    /// for `index`.
    pub fn check(
        self,
        index: &str,
        now: u64,
        allow_expired: bool,
    ) -> Result<Self, DelegationError> {
        if now < self.not_before {
            return Err(DelegationError::NotYetValid {
                key: self.key,
                not_before: self.not_before,
                now,
            });
        }
        if now > self.not_after && !allow_expired {
            return Err(DelegationError::Expired {
                key: self.key,
                not_after: self.not_after,
                now,
            });
        }
        if self.index != index {
            return Err(DelegationError::WrongIndex {
                expected: index.to_owned(),
                found: self.index,
            });
        }
        Ok(self)
    }
}

/// An index identity: 1 to 100 of ASCII letters, digits, `-`, `_`, `.`, `/` (no spaces, so it
/// fits the statement's `key=value` fields).
pub fn valid_index_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
}

/// A note when `now` is so far from `reference` that the clock, not the index, is the likely
/// culprit (signatures and delegations live days to months, never a year).
pub fn clock_note(now: u64, reference: u64) -> &'static str {
    if now.abs_diff(reference) > 365 * 86_400 {
        " (more than a year apart: this machine's clock is probably wrong; fix it and retry)"
    } else {
        ""
    }
}

/// `secs` since the epoch as `YYYY-MM-DD HH:MM UTC`.
pub fn utc(secs: u64) -> String {
    let rem = secs % 86_400;
    let (year, month, day) = crate::utc::civil_from_days(secs / 86_400);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keypair() -> (minisign::KeyPair, PublicKey) {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let pk = PublicKey::from_base64(&kp.pk.to_base64()).unwrap();
        (kp, pk)
    }

    fn delegate(root: &minisign::KeyPair, d: &Delegation) -> String {
        let statement = d.render();
        minisign::sign(None, &root.sk, statement.as_bytes(), Some(&statement), None)
            .unwrap()
            .into_string()
    }

    fn grant(index: &str) -> Delegation {
        Delegation {
            index: index.into(),
            key: "RWSkey".into(),
            not_before: 1_000,
            not_after: 2_000,
        }
    }

    #[test]
    fn statements_round_trip() {
        let d = grant("quickinstall");
        assert_eq!(Delegation::parse(&d.render()), Some(d));
        assert_eq!(Delegation::parse("quickinstall-index v1 path=a"), None);
        assert_eq!(
            Delegation::parse("quickinstall-delegation v1 index=a key=b not_before=1"),
            None
        );
    }

    #[test]
    fn accepts_a_root_signed_grant_inside_its_window() {
        let (root, root_pk) = keypair();
        let block = delegate(&root, &grant("quickinstall"));
        let got = Delegation::verify(&block, &[root_pk], "quickinstall", 1_500, false).unwrap();
        assert_eq!(got, grant("quickinstall"));
        assert_eq!(
            Delegation::read_unverified(&block).unwrap(),
            grant("quickinstall")
        );
    }

    #[test]
    fn refuses_strangers_tampering_other_indexes_and_times_outside_the_window() {
        let (root, root_pk) = keypair();
        let (stranger, _) = keypair();
        let roots = [root_pk];
        let verify =
            |block: &str, now| Delegation::verify(block, &roots, "quickinstall", now, false);
        let block = delegate(&stranger, &grant("quickinstall"));
        assert_eq!(verify(&block, 1_500), Err(DelegationError::UntrustedRoot));
        let block = delegate(&root, &grant("quickinstall"));
        let tampered = block.replace("not_after=2000", "not_after=9000");
        assert_eq!(verify(&tampered, 5_000), Err(DelegationError::Invalid));
        assert!(matches!(
            verify(&block, 2_001),
            Err(DelegationError::Expired { .. })
        ));
        assert!(Delegation::verify(&block, &roots, "quickinstall", 2_001, true).is_ok());
        assert!(matches!(
            verify(&block, 999),
            Err(DelegationError::NotYetValid { .. })
        ));
        let other = delegate(&root, &grant("staging"));
        assert!(matches!(
            verify(&other, 1_500),
            Err(DelegationError::WrongIndex { .. })
        ));
        assert_eq!(verify("garbage", 1_500), Err(DelegationError::Malformed));
    }

    #[test]
    fn dates_and_clock_notes_read_as_text() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_764_000_000), "2025-11-24 16:00 UTC");
        assert_eq!(clock_note(10, 10 + 86_400), "");
        assert!(clock_note(10 * 365 * 86_400, 0).contains("clock"));
        assert!(valid_index_id("quickinstall-dev/main"));
        assert!(!valid_index_id("a b"));
        assert!(!valid_index_id(""));
    }
}
