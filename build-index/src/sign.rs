//! Signing index files with the project's minisign secret key.
//!
//! [`Signer`] loads an unencrypted secret key (CI has no one to type a password) and signs a
//! file's bytes with the trusted comment `quickinstall-index v1 path=… timestamp=… expires=…`
//! that the clients check; with a delegation ([`Signer::with_delegation`]) it writes version 2
//! bundles that carry it. [`next_timestamp`] keeps timestamps strictly increasing per file, so a
//! client that has seen one version can refuse an older one. Writing the files is
//! [`crate::publish`]'s and [`crate::resign`]'s.

use std::io;
use std::path::{Path, PathBuf};

use minisign::{PublicKey, SecretKey, SecretKeyBox, SignatureBox};
use quickinstall::index::delegation::{self, Delegation};
use quickinstall::index::signature::{self, TrustedComment, TrustedKeys};

/// How long a file signature stays valid when no `--signature-validity` is given.
pub const DEFAULT_SIGNATURE_VALIDITY: &str = "30d";

/// Why a key could not be loaded or a file signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("could not read secret key `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "`{}` is not an unencrypted minisign secret key (generate one with `build-index keygen`): {reason}",
        path.display()
    )]
    BadKey { path: PathBuf, reason: String },
    #[error("could not sign `{path}`: {reason}")]
    Sign { path: String, reason: String },
    #[error(
        "the secret key `{}` signs as public key `{public}`, which the clients do not trust\nhelp: set the signing secret to the key whose public half is built into the clients (or passed with `--trusted-key`), or publish the new key in a client release first",
        path.display()
    )]
    Untrusted { path: PathBuf, public: String },
    #[error("could not read delegation `{}`: {source}", path.display())]
    ReadDelegation { path: PathBuf, source: io::Error },
    #[error("`{}` is not a delegation made by `build-index delegate`: {reason}", path.display())]
    BadDelegation { path: PathBuf, reason: String },
    #[error(
        "delegation `{}` is for key `{delegated}`, not for the secret key given (`{ours}`)",
        path.display()
    )]
    NotOurDelegation {
        path: PathBuf,
        delegated: String,
        ours: String,
    },
    #[error(
        "delegation `{}` expired at {}; ask the root key holders for a new one (`build-index delegate`)",
        path.display(), delegation::utc(*not_after)
    )]
    DelegationExpired { path: PathBuf, not_after: u64 },
}

/// Why a duration was not understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a duration: write a number and a unit, e.g. `30d`, `12h`, `90m`, `2w`")]
pub struct DurationError(pub String);

/// Parses `30d`, `12h`, `90m`, `45s` or `2w` into seconds (more than zero).
pub fn parse_duration(text: &str) -> Result<u64, DurationError> {
    let err = || DurationError(text.to_owned());
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| err())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(err()),
    };
    match number.checked_mul(unit_secs) {
        Some(secs) if secs > 0 => Ok(secs),
        _ => Err(err()),
    }
}

/// A loaded secret key and the public key that goes with it.
pub struct Signer {
    secret: SecretKey,
    public: TrustedKeys,
    public_base64: String,
    /// The delegation block carried in each bundle, when signing under one.
    delegation: Option<String>,
    /// Seconds from signing to expiry.
    validity: u64,
}

impl Signer {
    /// Loads an unencrypted minisign secret key file. An encrypted key is refused rather than
    /// prompted for, since `publish` runs unattended.
    pub fn from_file(path: &Path) -> Result<Self, SignError> {
        let text = std::fs::read_to_string(path).map_err(|source| SignError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_text(&text).map_err(|reason| SignError::BadKey {
            path: path.to_owned(),
            reason,
        })
    }

    /// Loads a key from the text of a minisign secret key file.
    pub fn from_text(text: &str) -> Result<Self, String> {
        let boxed = SecretKeyBox::from_string(text).map_err(|e| e.to_string())?;
        let secret = SecretKey::from_unencrypted_box(boxed).map_err(|e| e.to_string())?;
        let public_base64 = PublicKey::from_secret_key(&secret)
            .map_err(|e| e.to_string())?
            .to_base64();
        let mut public = TrustedKeys::empty();
        public.add_text(&public_base64).map_err(|e| e.to_string())?;
        let validity = parse_duration(DEFAULT_SIGNATURE_VALIDITY).map_err(|e| e.to_string())?;
        Ok(Self {
            secret,
            public,
            public_base64,
            delegation: None,
            validity,
        })
    }

    /// Signs under the delegation in `path`: it must name this key and not have expired at
    /// `now`. Each bundle then carries it (version 2).
    pub fn with_delegation(mut self, path: &Path, now: u64) -> Result<Self, SignError> {
        let text = std::fs::read_to_string(path).map_err(|source| SignError::ReadDelegation {
            path: path.to_owned(),
            source,
        })?;
        let grant = Delegation::read_unverified(&text).map_err(|e| SignError::BadDelegation {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        if grant.key != self.public_base64 {
            return Err(SignError::NotOurDelegation {
                path: path.to_owned(),
                delegated: grant.key,
                ours: self.public_base64,
            });
        }
        if now > grant.not_after {
            return Err(SignError::DelegationExpired {
                path: path.to_owned(),
                not_after: grant.not_after,
            });
        }
        self.delegation = Some(text.trim_end().to_owned());
        Ok(self)
    }

    /// Signatures expire `secs` after they are made.
    pub fn with_validity(mut self, secs: u64) -> Self {
        self.validity = secs;
        self
    }

    /// The trusted comment for `path` signed at `timestamp`, with its expiry.
    pub fn comment(&self, path: &str, timestamp: u64) -> TrustedComment {
        TrustedComment {
            path: path.to_owned(),
            timestamp,
            expires: Some(timestamp.saturating_add(self.validity)),
        }
    }

    /// The bundle clients read: version 2 with the delegation when signing under one, else
    /// version 1.
    pub fn bundle(&self, signature_text: &str, data: &[u8]) -> Vec<u8> {
        match &self.delegation {
            Some(d) => signature::bundle_v2(d, signature_text, data),
            None => signature::bundle(signature_text, data),
        }
    }

    /// The base64 line of the matching public key.
    pub fn public_key_base64(&self) -> &str {
        &self.public_base64
    }

    /// The text of a `.minisig` file for `data`, binding `comment`.
    pub fn sign(&self, data: &[u8], comment: &TrustedComment) -> Result<String, SignError> {
        minisign::sign(None, &self.secret, data, Some(&comment.render()), None)
            .map(|sig| sig.into_string())
            .map_err(|e| SignError::Sign {
                path: comment.path.clone(),
                reason: e.to_string(),
            })
    }

    /// A delegation block: this (root) key's signature over `grant`'s statement, which is also
    /// its trusted comment.
    pub fn sign_delegation(&self, grant: &Delegation) -> Result<String, SignError> {
        let statement = grant.render();
        let untrusted = format!(
            "quickinstall delegation: key {} may sign index {} until {}",
            grant.key,
            grant.index,
            delegation::utc(grant.not_after)
        );
        minisign::sign(
            None,
            &self.secret,
            statement.as_bytes(),
            Some(&statement),
            Some(&untrusted),
        )
        .map(|sig| sig.into_string())
        .map_err(|e| SignError::Sign {
            path: "the delegation".into(),
            reason: e.to_string(),
        })
    }

    /// Whether `signature_text` is this key's valid signature of `data` for `path`; `publish`
    /// uses it to repair a file whose signature is missing or stale.
    pub fn verifies(&self, data: &[u8], signature_text: &str, path: &str) -> bool {
        self.public.verify(data, signature_text, path).is_ok()
    }
}

/// Loads the secret key, with the delegation to sign under (checked at the current time) and
/// the validity of new signatures: what `publish` and `resign` share.
pub fn load(
    secret_key: &Path,
    delegation: Option<&Path>,
    validity: u64,
) -> Result<Signer, SignError> {
    let signer = Signer::from_file(secret_key)?.with_validity(validity);
    match delegation {
        Some(path) => signer.with_delegation(path, crate::time::now()),
        None => Ok(signer),
    }
}

/// The preflight before a publish signs anything: signs a probe bundle with the key at
/// `secret_key` (under `delegation`, when the key is delegated by a root) and verifies it the
/// way a client does, with `trusted` (the clients' built-in roots, or the keys a test or a
/// self-hosted index passes). Returns the public key's base64 line.
pub fn check_trusted(
    secret_key: &Path,
    delegation: Option<&Path>,
    trusted: &TrustedKeys,
) -> Result<String, SignError> {
    let signer = load(secret_key, delegation, 3600)?;
    let comment = signer.comment("preflight", crate::time::now());
    let probe = b"quickinstall signing key preflight";
    let signature = signer.sign(probe, &comment)?;
    let bundle = signer.bundle(&signature, probe);
    match trusted.verify_bundle(&bundle, "preflight") {
        Ok(_) => Ok(signer.public_key_base64().to_owned()),
        Err(_) => Err(SignError::Untrusted {
            path: secret_key.to_owned(),
            public: signer.public_key_base64().to_owned(),
        }),
    }
}

/// The timestamp in an existing signature's trusted comment, whether or not it verifies.
pub fn previous_timestamp(signature_text: &str) -> Option<u64> {
    let sig = SignatureBox::from_string(signature_text).ok()?;
    TrustedComment::parse(&sig.trusted_comment().ok()?).map(|c| c.timestamp)
}

/// The timestamp for a new signature: now, but always after the previous one, so it strictly
/// increases even when the signing machine's clock is behind the last signer's.
pub fn next_timestamp(now: u64, previous: Option<u64>) -> u64 {
    match previous {
        Some(prev) => now.max(prev.saturating_add(1)),
        None => now,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn signer() -> Signer {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        Signer::from_text(&kp.sk.to_box(None).unwrap().into_string()).unwrap()
    }

    #[test]
    fn signatures_verify_with_the_client_verifier_and_carry_the_comment() {
        let signer = signer();
        let comment = signer.comment("crates/1/a.json", 99);
        assert_eq!(comment.expires, Some(99 + 30 * 86_400));
        let sig = signer.sign(b"data", &comment).unwrap();
        let mut keys = TrustedKeys::empty();
        keys.add_text(signer.public_key_base64()).unwrap();
        assert_eq!(
            keys.verify(b"data", &sig, "crates/1/a.json").unwrap(),
            comment
        );
        assert_eq!(previous_timestamp(&sig), Some(99));
        assert!(signer.verifies(b"data", &sig, "crates/1/a.json"));
        assert!(!signer.verifies(b"other", &sig, "crates/1/a.json"));
    }

    #[test]
    fn refuses_encrypted_and_garbage_keys() {
        let kp = minisign::KeyPair::generate_encrypted_keypair(Some("pw".into())).unwrap();
        let text = kp.sk.to_box(None).unwrap().into_string();
        assert!(Signer::from_text(&text).is_err());
        assert!(Signer::from_text("not a key").is_err());
    }

    #[test]
    fn signs_only_under_a_current_delegation_of_its_own_key() {
        let dir = tempfile::tempdir().unwrap();
        let root = signer();
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let ours = || Signer::from_text(&kp.sk.to_box(None).unwrap().into_string()).unwrap();
        let grant = Delegation {
            index: "quickinstall".into(),
            key: kp.pk.to_base64(),
            not_before: 0,
            not_after: 1_000,
        };
        let path = dir.path().join("d");
        std::fs::write(&path, root.sign_delegation(&grant).unwrap()).unwrap();
        let under = ours().with_delegation(&path, 10).unwrap();
        assert!(
            under
                .bundle("sig\n", b"{}")
                .starts_with(signature::BUNDLE_V2_HEADER.as_bytes())
        );
        assert!(
            !ours()
                .bundle("sig\n", b"{}")
                .starts_with(b"quickinstall-bundle")
        );
        assert!(matches!(
            ours().with_delegation(&path, 1_001),
            Err(SignError::DelegationExpired { .. })
        ));
        assert!(matches!(
            signer().with_delegation(&path, 10),
            Err(SignError::NotOurDelegation { .. })
        ));
    }

    #[test]
    fn durations_need_a_number_and_a_unit() {
        assert_eq!(parse_duration("30d"), Ok(30 * 86_400));
        assert_eq!(parse_duration("12h"), Ok(12 * 3600));
        assert_eq!(parse_duration("2w"), Ok(14 * 86_400));
        assert_eq!(parse_duration("90s"), Ok(90));
        for bad in ["30", "d", "0d", "-1d", "3 d", "1y", "99999999999999999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_strictly_increase_even_with_a_slow_clock() {
        assert_eq!(next_timestamp(100, None), 100);
        assert_eq!(next_timestamp(100, Some(50)), 100);
        assert_eq!(next_timestamp(100, Some(100)), 101);
        assert_eq!(next_timestamp(100, Some(500)), 501);
    }

    #[test]
    fn the_preflight_accepts_only_a_key_the_clients_trust() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.key");
        let public = crate::keygen::keygen(&key, &dir.path().join("k.pub"), false).unwrap();
        let mut trusted = TrustedKeys::builtin();
        let err = check_trusted(&key, None, &trusted).unwrap_err();
        assert!(matches!(err, SignError::Untrusted { .. }), "{err}");
        assert!(err.to_string().contains("do not trust"), "{err}");
        trusted.add_text(&public).unwrap();
        let line = check_trusted(&key, None, &trusted).unwrap();
        assert!(public.contains(&line), "{public} vs {line}");
    }

    #[test]
    fn the_preflight_accepts_a_signing_key_delegated_by_a_trusted_root() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let root_pub =
            crate::keygen::keygen_root(&d.join("root.key"), &d.join("root.pub"), false).unwrap();
        crate::keygen::keygen(&d.join("k.key"), &d.join("k.pub"), false).unwrap();
        crate::delegate::delegate(&crate::delegate::DelegateRequest {
            root_key: d.join("root.key"),
            signing_key_pub: d.join("k.pub").display().to_string(),
            valid_for: 86_400,
            index_id: "quickinstall".into(),
            out: d.join("delegation"),
        })
        .unwrap();
        let mut trusted = TrustedKeys::empty();
        trusted.add_root_text(&root_pub).unwrap();
        // Without the delegation the key alone is not trusted; with it, it is.
        let err = check_trusted(&d.join("k.key"), None, &trusted).unwrap_err();
        assert!(matches!(err, SignError::Untrusted { .. }), "{err}");
        check_trusted(&d.join("k.key"), Some(&d.join("delegation")), &trusted).unwrap();
    }
}
