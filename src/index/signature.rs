//! Checking an index file's signed bundle: the root's delegation, then the file's minisign
//! signature.
//!
//! `minisign-verify` checks key ids and both signatures (over the file and over the trusted
//! comment); what the trusted comment *says* is ours to check: it must name the path the client
//! asked for, so a file cannot be swapped for another package's; carry the signing time, so
//! [`crate::index::seen`] can refuse a rollback; and carry an expiry, so a stale copy cannot
//! freeze a client forever. A file's key is trusted directly (`--trusted-key`) or through a
//! [`Delegation`] from a root (`--trusted-root`, the built-in [`BUILTIN_ROOTS`]) that travels in
//! the bundle. `build-index` renders the same comment with [`TrustedComment::render`].

use std::fmt;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use minisign_verify::{PublicKey, Signature};

pub use crate::index::bundle::{
    BUNDLE_V2_HEADER, Bundle, bundle, bundle_v2, parse_bundle, split_bundle,
};
pub use crate::index::comment::TrustedComment;
use crate::index::delegation::{DEFAULT_INDEX_ID, Delegation, DelegationError, clock_note, utc};

/// The project's root keys: the only keys built into the clients. Their secrets are kept
/// offline by the maintainers and only sign delegations to the online signing key (see
/// `docs/releasing.md`). Two may be listed during a planned rollover.
pub const BUILTIN_ROOTS: &[&str] = &["RWTcXYGm9uqarS2KCJIr1LW9FKGSbb/gRDdiUd659sLc3lTw7MODNOFn"];

/// What a client trusts: keys trusted directly, root keys whose delegations it accepts, the
/// index identity those delegations must name, and the clock expiry is judged by.
#[derive(Clone)]
pub struct TrustedKeys {
    keys: Vec<PublicKey>,
    roots: Vec<PublicKey>,
    index_id: String,
    /// A fixed "now" (tests); the system clock when `None`.
    now: Option<u64>,
    allow_expired: bool,
    /// Delegation blocks whose root signature has already checked out against `roots`.
    verified: VerifiedDelegations,
}

/// Delegation blocks already found signed by a root, and their statements. Every file of an
/// index carries the same block, so a run of ten packages checks its root signature once, not
/// ten times (two ed25519 verifications each, about 0.2 ms). Only the signature check is
/// remembered: what the statement grants is checked again for each file. A clone starts empty,
/// since the clone may be given other roots.
#[derive(Default)]
struct VerifiedDelegations(Mutex<Vec<(String, Delegation)>>);

/// More distinct blocks than an index has at once (one, two during a key rollover).
const MAX_VERIFIED_DELEGATIONS: usize = 4;

impl Clone for VerifiedDelegations {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl VerifiedDelegations {
    /// The statement of `block`, checked against `roots` unless this very block already was.
    fn statement(&self, block: &str, roots: &[PublicKey]) -> Result<Delegation, DelegationError> {
        let seen = |list: &Vec<(String, Delegation)>| {
            list.iter()
                .find(|(b, _)| b == block)
                .map(|(_, d)| d.clone())
        };
        if let Some(known) = self.0.lock().ok().as_deref().and_then(seen) {
            return Ok(known);
        }
        let delegation = Delegation::verify_signature(block, roots)?;
        if let Ok(mut list) = self.0.lock()
            && list.len() < MAX_VERIFIED_DELEGATIONS
            && seen(&list).is_none()
        {
            list.push((block.to_owned(), delegation.clone()));
        }
        Ok(delegation)
    }
}

impl fmt::Debug for TrustedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TrustedKeys({} keys, {} roots, index `{}`)",
            self.keys.len(),
            self.roots.len(),
            self.index_id
        )
    }
}

/// Why a signature was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("`{0}` is neither a minisign public key nor a readable `.pub` file")]
    BadKey(String),
    #[error("the signature file is not a minisign signature")]
    Malformed,
    #[error(
        "the index file is signed by a key that is not trusted, and its bundle carries no delegation to that key from a trusted root"
    )]
    UntrustedKey,
    #[error("the signature does not match the index file")]
    Invalid,
    #[error("the signature's trusted comment is not a quickinstall index comment")]
    UnknownComment,
    #[error("the signature is for `{found}`, not `{expected}`")]
    WrongPath { expected: String, found: String },
    #[error("the bundle does not start with a signature")]
    NotABundle,
    #[error("the bundle is in format `{0}`, newer than this client reads; upgrade quickinstall")]
    NewerBundle(String),
    #[error("the bundle carries {0} delegations; exactly one is allowed")]
    DelegationCount(usize),
    #[error("the delegation in the bundle was refused: {0}")]
    Delegation(#[from] DelegationError),
    #[error(
        "the index file is signed by another key than the one its delegation names (`{delegated}`)"
    )]
    NotTheDelegatedKey { delegated: String },
    #[error(
        "the signature of `{path}` was made at {}, outside the window its delegation grants ({} to {}); the signing key was used when the root had not delegated to it",
        utc(*timestamp), utc(*not_before), utc(*not_after)
    )]
    SignedOutsideDelegation {
        path: String,
        timestamp: u64,
        not_before: u64,
        not_after: u64,
    },
    #[error("the signature of `{path}` carries no expiry, which a delegated signature must")]
    NoExpiry { path: String },
    #[error(
        "the signature of `{path}` expired at {} and this machine's clock says {}{}; a mirror or attacker may be serving a stale index",
        utc(*expires), utc(*now), clock_note(*now, *expires)
    )]
    Expired {
        path: String,
        expires: u64,
        now: u64,
    },
}

impl SignatureError {
    /// Whether `--allow-expired-index` would have let this through.
    pub fn is_expiry(&self) -> bool {
        matches!(
            self,
            Self::Expired { .. } | Self::Delegation(DelegationError::Expired { .. })
        )
    }
}

impl TrustedKeys {
    /// The built-in roots only.
    pub fn builtin() -> Self {
        let mut keys = Self::empty();
        keys.roots = BUILTIN_ROOTS
            .iter()
            .filter_map(|k| PublicKey::from_base64(k).ok())
            .collect();
        keys
    }

    /// No keys at all; tests and `--trusted-key`-only setups start here.
    pub fn empty() -> Self {
        Self {
            keys: Vec::new(),
            roots: Vec::new(),
            index_id: DEFAULT_INDEX_ID.to_owned(),
            now: None,
            allow_expired: false,
            verified: VerifiedDelegations::default(),
        }
    }

    /// Adds a key trusted directly, given as its base64 line or as the text of a minisign
    /// `.pub` file.
    pub fn add_text(&mut self, spec: &str) -> Result<(), SignatureError> {
        let key = decode_key(spec)?;
        self.keys.push(key);
        Ok(())
    }

    /// Adds a root key (whose delegations are accepted), in the same forms as [`Self::add_text`].
    pub fn add_root_text(&mut self, spec: &str) -> Result<(), SignatureError> {
        let key = decode_key(spec)?;
        self.roots.push(key);
        Ok(())
    }

    /// The index identity delegations must name (default [`DEFAULT_INDEX_ID`]).
    pub fn set_index_id(&mut self, id: &str) {
        id.clone_into(&mut self.index_id);
    }

    /// Judges validity windows at `now` (Unix seconds) instead of the system clock.
    pub fn set_now(&mut self, now: u64) {
        self.now = Some(now);
    }

    /// Accepts expired file signatures and delegations (an air-gapped mirror that cannot be
    /// re-signed). Everything else is still checked.
    pub fn set_allow_expired(&mut self, allow: bool) {
        self.allow_expired = allow;
    }

    /// Keys and roots together.
    pub fn len(&self) -> usize {
        self.keys.len() + self.roots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.roots.is_empty()
    }

    fn now(&self) -> u64 {
        self.now.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        })
    }

    /// Verifies `data` against `signature_text` with a directly trusted key and checks that the
    /// trusted comment names `expected_path`. Returns the comment (for the rollback check).
    /// Neither delegations nor expiry are looked at: [`Self::verify_bundle`] does that.
    pub fn verify(
        &self,
        data: &[u8],
        signature_text: &str,
        expected_path: &str,
    ) -> Result<TrustedComment, SignatureError> {
        let signature = Signature::decode(signature_text).map_err(|_| SignatureError::Malformed)?;
        verify_with(&self.keys, data, &signature)?;
        comment_for(&signature, expected_path)
    }

    /// Verifies a signed bundle for `expected_path`, in order: the delegation (root signature,
    /// validity window, index identity) unless the file's key is trusted directly, the file's
    /// signature by that key, the path binding, that a delegated file was signed inside its
    /// delegation's window, then the expiry. Returns the trusted comment and
    /// the verified bytes.
    pub fn verify_bundle<'a>(
        &self,
        bundle: &'a [u8],
        expected_path: &str,
    ) -> Result<(TrustedComment, &'a [u8]), SignatureError> {
        let parts = parse_bundle(bundle)?;
        if parts.delegations.len() > 1 || (parts.version >= 2 && parts.delegations.is_empty()) {
            return Err(SignatureError::DelegationCount(parts.delegations.len()));
        }
        let signature =
            Signature::decode(parts.signature).map_err(|_| SignatureError::Malformed)?;
        let now = self.now();
        let delegated = match verify_with(&self.keys, parts.data, &signature) {
            Ok(()) => None,
            Err(SignatureError::UntrustedKey) => {
                let Some(block) = parts.delegations.first() else {
                    return Err(SignatureError::UntrustedKey);
                };
                let delegation = self.verified.statement(block, &self.roots)?.check(
                    &self.index_id,
                    now,
                    self.allow_expired,
                )?;
                let key = PublicKey::from_base64(&delegation.key)
                    .map_err(|_| SignatureError::BadKey(shorten(&delegation.key)))?;
                match verify_with(&[key], parts.data, &signature) {
                    Err(SignatureError::UntrustedKey) => {
                        return Err(SignatureError::NotTheDelegatedKey {
                            delegated: delegation.key,
                        });
                    }
                    other => other?,
                }
                Some(delegation)
            }
            Err(e) => return Err(e),
        };
        let comment = comment_for(&signature, expected_path)?;
        if let Some(d) = &delegated {
            // The grant covers signing during its window only: a file stamped outside it was
            // signed by a key the root had not (or no longer) delegated to, e.g. a leaked key
            // used after its delegation ran out. Not forgiven by `allow_expired`.
            if comment.timestamp < d.not_before || comment.timestamp > d.not_after {
                return Err(SignatureError::SignedOutsideDelegation {
                    path: comment.path,
                    timestamp: comment.timestamp,
                    not_before: d.not_before,
                    not_after: d.not_after,
                });
            }
        }
        match comment.expires {
            None if delegated.is_some() => {
                return Err(SignatureError::NoExpiry { path: comment.path });
            }
            Some(expires) if now > expires && !self.allow_expired => {
                return Err(SignatureError::Expired {
                    path: comment.path,
                    expires,
                    now,
                });
            }
            _ => {}
        }
        Ok((comment, parts.data))
    }
}

fn decode_key(spec: &str) -> Result<PublicKey, SignatureError> {
    let spec = spec.trim();
    let key = if spec.contains('\n') {
        PublicKey::decode(spec)
    } else {
        PublicKey::from_base64(spec)
    };
    key.map_err(|_| SignatureError::BadKey(shorten(spec)))
}

/// `Ok` when one of `keys` made `signature` over `data`; `UntrustedKey` when none of them did.
fn verify_with(
    keys: &[PublicKey],
    data: &[u8],
    signature: &Signature,
) -> Result<(), SignatureError> {
    let mut outcome = Err(SignatureError::UntrustedKey);
    for key in keys {
        match key.verify(data, signature, false) {
            Ok(()) => return Ok(()),
            Err(minisign_verify::Error::UnexpectedKeyId) => {}
            Err(_) => outcome = Err(SignatureError::Invalid),
        }
    }
    outcome
}

fn comment_for(
    signature: &Signature,
    expected_path: &str,
) -> Result<TrustedComment, SignatureError> {
    let comment =
        TrustedComment::parse(signature.trusted_comment()).ok_or(SignatureError::UnknownComment)?;
    if comment.path != expected_path {
        return Err(SignatureError::WrongPath {
            expected: expected_path.to_owned(),
            found: comment.path,
        });
    }
    Ok(comment)
}

fn shorten(s: &str) -> String {
    let first = s.lines().next().unwrap_or_default();
    first.chars().take(60).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn keypair() -> (minisign::KeyPair, String) {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let b64 = kp.pk.to_base64();
        (kp, b64)
    }

    pub(crate) fn sign(kp: &minisign::KeyPair, data: &[u8], comment: &str) -> String {
        minisign::sign(None, &kp.sk, data, Some(comment), None)
            .unwrap()
            .to_string()
    }

    pub(crate) fn comment(path: &str) -> String {
        TrustedComment {
            path: path.into(),
            timestamp: 1_764_000_000,
            expires: None,
        }
        .render()
    }

    #[test]
    fn accepts_a_good_signature_from_any_trusted_key() {
        let (old, old_b64) = keypair();
        let (new, new_b64) = keypair();
        let mut keys = TrustedKeys::empty();
        keys.add_text(&old_b64).unwrap();
        keys.add_text(&new_b64).unwrap();
        for kp in [&old, &new] {
            let sig = sign(kp, b"data", &comment("crates/1/a.json"));
            let got = keys.verify(b"data", &sig, "crates/1/a.json").unwrap();
            assert_eq!(got.timestamp, 1_764_000_000);
        }
    }

    #[test]
    fn refuses_tampered_data_untrusted_keys_and_swapped_paths() {
        let (kp, b64) = keypair();
        let (stranger, _) = keypair();
        let mut keys = TrustedKeys::empty();
        keys.add_text(&b64).unwrap();
        let sig = sign(&kp, b"data", &comment("crates/1/a.json"));
        assert_eq!(
            keys.verify(b"dato", &sig, "crates/1/a.json"),
            Err(SignatureError::Invalid)
        );
        let foreign = sign(&stranger, b"data", &comment("crates/1/a.json"));
        assert_eq!(
            keys.verify(b"data", &foreign, "crates/1/a.json"),
            Err(SignatureError::UntrustedKey)
        );
        assert!(matches!(
            keys.verify(b"data", &sig, "crates/1/b.json"),
            Err(SignatureError::WrongPath { .. })
        ));
        assert_eq!(
            keys.verify(b"data", "garbage", "crates/1/a.json"),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn reads_keys_as_base64_or_pub_file_text() {
        let (kp, _) = keypair();
        let mut keys = TrustedKeys::empty();
        keys.add_text(&kp.pk.to_box().unwrap().to_string()).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(matches!(
            keys.add_text("not a key"),
            Err(SignatureError::BadKey(_))
        ));
        assert_eq!(TrustedKeys::builtin().len(), BUILTIN_ROOTS.len());
    }

    fn delegation(root: &minisign::KeyPair, key: &str, index: &str, window: (u64, u64)) -> String {
        let statement = Delegation {
            index: index.into(),
            key: key.into(),
            not_before: window.0,
            not_after: window.1,
        }
        .render();
        minisign::sign(None, &root.sk, statement.as_bytes(), Some(&statement), None)
            .unwrap()
            .into_string()
    }

    fn expiring(path: &str, expires: u64) -> String {
        TrustedComment {
            path: path.into(),
            timestamp: 100,
            expires: Some(expires),
        }
        .render()
    }

    /// A client trusting only `root`, at time 500.
    fn rooted(root: &str) -> TrustedKeys {
        let mut keys = TrustedKeys::empty();
        keys.add_root_text(root).unwrap();
        keys.set_now(500);
        keys
    }

    #[test]
    fn verifies_a_delegated_bundle_in_order() {
        let (root, root_b64) = keypair();
        let (signing, signing_b64) = keypair();
        let (stranger, _) = keypair();
        let keys = rooted(&root_b64);
        let path = "crates/1/a.json";
        let d = delegation(&root, &signing_b64, "quickinstall", (0, 1_000));
        let sig = sign(&signing, b"data", &expiring(path, 600));
        let good = bundle_v2(&d, &sig, b"data");
        let (got, data) = keys.verify_bundle(&good, path).unwrap();
        assert_eq!((got.timestamp, data), (100, &b"data"[..]));
        // The same signature without its delegation: the key is not trusted.
        assert_eq!(
            keys.verify_bundle(&bundle(&sig, b"data"), path),
            Err(SignatureError::UntrustedKey)
        );
        // A file signed by another key than the delegated one.
        let foreign = sign(&stranger, b"data", &expiring(path, 600));
        assert!(matches!(
            keys.verify_bundle(&bundle_v2(&d, &foreign, b"data"), path),
            Err(SignatureError::NotTheDelegatedKey { .. })
        ));
        // Two delegations, or a v2 bundle with none.
        let mut two = format!("{BUNDLE_V2_HEADER}\n{d}").into_bytes();
        two.extend_from_slice(&bundle_v2(&d, &sig, b"data")[BUNDLE_V2_HEADER.len() + 1..]);
        assert_eq!(
            keys.verify_bundle(&two, path),
            Err(SignatureError::DelegationCount(2))
        );
        let none = [
            format!("{BUNDLE_V2_HEADER}\n").as_bytes(),
            &bundle(&sig, b"data"),
        ]
        .concat();
        assert_eq!(
            keys.verify_bundle(&none, path),
            Err(SignatureError::DelegationCount(0))
        );
        // Expired file signature, unless allowed.
        let stale = sign(&signing, b"data", &expiring(path, 400));
        let stale = bundle_v2(&d, &stale, b"data");
        let err = keys.verify_bundle(&stale, path).unwrap_err();
        assert!(err.is_expiry(), "{err}");
        let mut lenient = keys.clone();
        lenient.set_allow_expired(true);
        assert!(lenient.verify_bundle(&stale, path).is_ok());
        // A delegated signature must carry an expiry.
        let no_expiry = TrustedComment {
            path: path.into(),
            timestamp: 100,
            expires: None,
        };
        let forever = sign(&signing, b"data", &no_expiry.render());
        assert!(matches!(
            keys.verify_bundle(&bundle_v2(&d, &forever, b"data"), path),
            Err(SignatureError::NoExpiry { .. })
        ));
        // A newer bundle format is named, not misread.
        assert!(matches!(
            keys.verify_bundle(b"quickinstall-bundle v3\n{}", path),
            Err(SignatureError::NewerBundle(_))
        ));
    }

    #[test]
    fn a_delegation_checked_once_is_still_judged_for_each_file() {
        let (root, root_b64) = keypair();
        let (signing, signing_b64) = keypair();
        let mut keys = rooted(&root_b64);
        let d = delegation(&root, &signing_b64, "quickinstall", (0, 1_000));
        let file =
            |path: &str| bundle_v2(&d, &sign(&signing, b"data", &expiring(path, 600)), b"data");
        let (a, b) = (file("crates/1/a.json"), file("crates/1/b.json"));
        assert!(keys.verify_bundle(&a, "crates/1/a.json").is_ok());
        assert!(keys.verify_bundle(&b, "crates/1/b.json").is_ok());
        // Both files carry the same block: its root signature was checked, and kept, once.
        assert_eq!(keys.verified.0.lock().unwrap().len(), 1);
        // What the block grants is judged again on every file: the clock...
        keys.set_now(1_500);
        assert!(matches!(
            keys.verify_bundle(&a, "crates/1/a.json"),
            Err(SignatureError::Delegation(DelegationError::Expired { .. }))
        ));
        // ...and the index it names.
        keys.set_now(500);
        keys.set_index_id("another-index");
        assert!(matches!(
            keys.verify_bundle(&a, "crates/1/a.json"),
            Err(SignatureError::Delegation(
                DelegationError::WrongIndex { .. }
            ))
        ));
        keys.set_index_id("quickinstall");
        // A block that differs in one byte of its statement is checked afresh, and refused.
        let forged = d.replace("not_after=1000", "not_after=9000");
        assert_ne!(forged, d);
        let forged = bundle_v2(
            &forged,
            &sign(&signing, b"data", &expiring("crates/1/a.json", 600)),
            b"data",
        );
        assert_eq!(
            keys.verify_bundle(&forged, "crates/1/a.json"),
            Err(SignatureError::Delegation(DelegationError::Invalid))
        );
        // A clone (which may be given other roots) starts with nothing verified.
        assert!(keys.clone().verified.0.lock().unwrap().is_empty());
    }

    #[test]
    fn refuses_a_file_signed_outside_its_delegations_window() {
        let (root, root_b64) = keypair();
        let (signing, signing_b64) = keypair();
        let keys = rooted(&root_b64);
        let path = "crates/1/a.json";
        // Valid now (500), but the file is stamped before (50) or after (450) the grant.
        let d = delegation(&root, &signing_b64, "quickinstall", (60, 440));
        for stamped in [50, 450] {
            let comment = TrustedComment {
                path: path.into(),
                timestamp: stamped,
                expires: Some(600),
            };
            let mut lenient = rooted(&root_b64);
            lenient.set_now(430);
            lenient.set_allow_expired(true);
            let sig = sign(&signing, b"data", &comment.render());
            let err = lenient
                .verify_bundle(&bundle_v2(&d, &sig, b"data"), path)
                .unwrap_err();
            assert!(
                matches!(err, SignatureError::SignedOutsideDelegation { timestamp, .. } if timestamp == stamped),
                "{err}"
            );
            assert!(!err.is_expiry(), "not forgiven by --allow-expired-index");
        }
        // On the window's edges it holds.
        let d = delegation(&root, &signing_b64, "quickinstall", (100, 600));
        let sig = sign(&signing, b"data", &expiring(path, 600));
        assert!(
            keys.verify_bundle(&bundle_v2(&d, &sig, b"data"), path)
                .is_ok()
        );
    }

    #[test]
    fn a_directly_trusted_key_needs_no_delegation() {
        let (signing, signing_b64) = keypair();
        let (root, _) = keypair();
        let mut keys = TrustedKeys::empty();
        keys.add_text(&signing_b64).unwrap();
        let path = "crates/1/a.json";
        let sig = sign(&signing, b"data", &comment(path));
        assert!(keys.verify_bundle(&bundle(&sig, b"data"), path).is_ok());
        // Even inside a bundle whose delegation comes from a root this client does not know.
        let d = delegation(&root, &signing_b64, "other", (0, 1));
        assert!(
            keys.verify_bundle(&bundle_v2(&d, &sig, b"data"), path)
                .is_ok()
        );
    }
}
