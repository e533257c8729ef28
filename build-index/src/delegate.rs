//! `build-index delegate`: the root key grants a signing key the right to sign one index for a
//! limited time.
//!
//! Run by the maintainers on the offline machine that holds the root secret key (see
//! `docs/releasing.md`); the resulting file is public and goes to CI beside the signing key,
//! where `publish --delegation` and `resign --delegation` embed it in every bundle. What a
//! delegation says and how clients check it is [`quickinstall::index::delegation`]'s.

use std::io;
use std::path::{Path, PathBuf};

use quickinstall::index::delegation::{Delegation, valid_index_id};

use crate::sign::{SignError, Signer};
use crate::{atomic, time};

/// Grants start this long before they are made, so a client whose clock runs a little behind
/// does not refuse a freshly re-signed index.
const CLOCK_SLACK_SECS: u64 = 3600;

/// What to delegate.
#[derive(Debug, Clone)]
pub struct DelegateRequest {
    pub root_key: PathBuf,
    /// The signing key's `.pub` file, or its base64 line.
    pub signing_key_pub: String,
    /// Seconds the grant lasts from now.
    pub valid_for: u64,
    pub index_id: String,
    pub out: PathBuf,
}

/// Why no delegation was written.
#[derive(Debug, thiserror::Error)]
pub enum DelegateError {
    #[error(transparent)]
    Key(#[from] SignError),
    #[error("`{0}` is neither a minisign public key nor a readable `.pub` file")]
    BadSigningKey(String),
    #[error(
        "the signing key is the root key itself; the root stays offline and signs only delegations (make a signing key with `build-index keygen`)"
    )]
    RootAsSigningKey,
    #[error("`{0}` is not an index identity (letters, digits, `-`, `_`, `.`, `/`)")]
    BadIndexId(String),
    #[error("could not write `{}`: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Signs the delegation with the root key and writes it to `out`; returns what it grants.
pub fn delegate(request: &DelegateRequest) -> Result<Delegation, DelegateError> {
    if !valid_index_id(&request.index_id) {
        return Err(DelegateError::BadIndexId(request.index_id.clone()));
    }
    let root = Signer::from_file(&request.root_key)?;
    let key = signing_key(&request.signing_key_pub)?;
    if key == root.public_key_base64() {
        return Err(DelegateError::RootAsSigningKey);
    }
    let now = time::now();
    let grant = Delegation {
        index: request.index_id.clone(),
        key,
        not_before: now.saturating_sub(CLOCK_SLACK_SECS),
        not_after: now.saturating_add(request.valid_for),
    };
    let block = root.sign_delegation(&grant)?;
    atomic::write(&request.out, block.as_bytes()).map_err(|source| DelegateError::Write {
        path: request.out.clone(),
        source,
    })?;
    Ok(grant)
}

/// The base64 line of a key given as a `.pub` file or as the line itself.
fn signing_key(spec: &str) -> Result<String, DelegateError> {
    let bad = || DelegateError::BadSigningKey(spec.chars().take(60).collect());
    let path = Path::new(spec);
    if path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|_| bad())?;
        let key = minisign::PublicKeyBox::from_string(&text)
            .and_then(|b| b.into_public_key())
            .map_err(|_| bad())?;
        return Ok(key.to_base64());
    }
    minisign::PublicKey::from_base64(spec.trim())
        .map(|k| k.to_base64())
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use quickinstall::index::delegation::DelegationError;
    use quickinstall::index::signature::{SignatureError, TrustedKeys};

    use super::*;
    use crate::keygen::keygen;

    #[test]
    fn writes_a_grant_that_clients_accept_for_the_named_index_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        let root_b64 = keygen(&p("root.key"), &p("root.pub"), false).unwrap();
        let signing_b64 = keygen(&p("s.key"), &p("s.pub"), false).unwrap();
        let request = DelegateRequest {
            root_key: p("root.key"),
            signing_key_pub: p("s.pub").display().to_string(),
            valid_for: 60 * 86_400,
            index_id: "quickinstall".into(),
            out: p("d"),
        };
        let grant = delegate(&request).unwrap();
        assert_eq!(grant.key, signing_b64);
        assert_eq!(
            grant.not_after - grant.not_before,
            60 * 86_400 + CLOCK_SLACK_SECS
        );
        // A file signed under it verifies for a client that trusts only the root.
        let signer = Signer::from_file(&p("s.key"))
            .unwrap()
            .with_delegation(&p("d"), time::now())
            .unwrap();
        let sig = signer
            .sign(b"{}", &signer.comment("crates/1/a.json", time::now()))
            .unwrap();
        let bundle = signer.bundle(&sig, b"{}");
        let mut keys = TrustedKeys::empty();
        keys.add_root_text(&root_b64).unwrap();
        assert!(keys.verify_bundle(&bundle, "crates/1/a.json").is_ok());
        keys.set_index_id("other");
        assert!(matches!(
            keys.verify_bundle(&bundle, "crates/1/a.json"),
            Err(SignatureError::Delegation(
                DelegationError::WrongIndex { .. }
            ))
        ));
        // The root cannot delegate to itself, and garbage keys are named.
        let to_self = DelegateRequest {
            signing_key_pub: root_b64,
            ..request.clone()
        };
        assert!(matches!(
            delegate(&to_self),
            Err(DelegateError::RootAsSigningKey)
        ));
        let garbage = DelegateRequest {
            signing_key_pub: "nope".into(),
            ..request
        };
        assert!(matches!(
            delegate(&garbage),
            Err(DelegateError::BadSigningKey(_))
        ));
    }
}
