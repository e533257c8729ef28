//! Signing index files with the project's minisign secret key.
//!
//! [`Signer`] loads an unencrypted secret key (CI has no one to type a password) and signs a
//! file's bytes with the trusted comment `quickinstall-index v1 path=… timestamp=…` that the
//! clients check. [`next_timestamp`] keeps timestamps strictly increasing per file, so a client
//! that has seen one version can refuse an older one. Writing the files is [`crate::publish`]'s.

use std::io;
use std::path::{Path, PathBuf};

use minisign::{PublicKey, SecretKey, SecretKeyBox, SignatureBox};
use quickinstall::index::signature::{TrustedComment, TrustedKeys};

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
}

/// A loaded secret key and the public key that goes with it.
pub struct Signer {
    secret: SecretKey,
    public: TrustedKeys,
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
        Ok(Self { secret, public })
    }

    /// The base64 line of the matching public key.
    pub fn public_key_base64(&self) -> String {
        PublicKey::from_secret_key(&self.secret)
            .map(|p| p.to_base64())
            .unwrap_or_default()
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

    /// Whether `signature_text` is this key's valid signature of `data` for `path`; `publish`
    /// uses it to repair a file whose signature is missing or stale.
    pub fn verifies(&self, data: &[u8], signature_text: &str, path: &str) -> bool {
        self.public.verify(data, signature_text, path).is_ok()
    }
}

/// The preflight before a publish signs anything: signs a probe with the key at `path` and
/// verifies it the way a client does, with `trusted` (the clients' built-in keys, or the keys
/// a test or a self-hosted index passes). Returns the public key's base64 line.
pub fn check_trusted(path: &Path, trusted: &TrustedKeys) -> Result<String, SignError> {
    let signer = Signer::from_file(path)?;
    let comment = TrustedComment {
        path: "preflight".into(),
        timestamp: 0,
    };
    let probe = b"quickinstall signing key preflight";
    let signature = signer.sign(probe, &comment)?;
    let public = signer.public_key_base64();
    match trusted.verify(probe, &signature, "preflight") {
        Ok(_) => Ok(public),
        Err(_) => Err(SignError::Untrusted {
            path: path.to_owned(),
            public,
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
        let comment = TrustedComment {
            path: "crates/1/a.json".into(),
            timestamp: 99,
        };
        let sig = signer.sign(b"data", &comment).unwrap();
        let mut keys = TrustedKeys::empty();
        keys.add_text(&signer.public_key_base64()).unwrap();
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
        let err = check_trusted(&key, &trusted).unwrap_err();
        assert!(matches!(err, SignError::Untrusted { .. }), "{err}");
        assert!(err.to_string().contains("do not trust"), "{err}");
        trusted.add_text(&public).unwrap();
        let line = check_trusted(&key, &trusted).unwrap();
        assert!(public.contains(&line), "{public} vs {line}");
    }
}
