//! Checking an index file's detached minisign signature against the pinned keys.
//!
//! `minisign-verify` checks the key id and both signatures (over the file and over the trusted
//! comment); what the trusted comment *says* is ours to check: it must name the path the client
//! asked for, so a file cannot be swapped for another package's, and carry the signing time, so
//! [`crate::index::seen`] can refuse a rollback. `build-index` renders the same comment with
//! [`TrustedComment::render`].

use std::fmt;

use minisign_verify::{PublicKey, Signature};

/// The project's release-index key. Rotation: a new key is added here (and published) before
/// the old one is removed, so clients of both generations keep verifying.
pub const BUILTIN_KEYS: &[&str] = &["RWSmII5EjAl7frfvkY/vNDsyi8yvuadHZAk/qjEFMUMr/f/JXzZ3LMfl"];

const COMMENT_TAG: &str = "quickinstall-index v1";

/// What the signed (trusted) comment of an index file binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedComment {
    /// The file's path relative to the index root, e.g. `crates/ri/pg/ripgrep.json`.
    pub path: String,
    /// Unix seconds at which the file was signed.
    pub timestamp: u64,
}

impl TrustedComment {
    pub fn render(&self) -> String {
        format!(
            "{COMMENT_TAG} path={} timestamp={}",
            self.path, self.timestamp
        )
    }

    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(COMMENT_TAG)?.strip_prefix(' ')?;
        let mut path = None;
        let mut timestamp = None;
        for field in rest.split(' ') {
            match field.split_once('=')? {
                ("path", p) if !p.is_empty() => path = Some(p.to_owned()),
                ("timestamp", t) => timestamp = Some(t.parse().ok()?),
                _ => {}
            }
        }
        Some(Self {
            path: path?,
            timestamp: timestamp?,
        })
    }
}

/// The public keys an index file may be signed with.
#[derive(Clone)]
pub struct TrustedKeys {
    keys: Vec<PublicKey>,
}

impl fmt::Debug for TrustedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustedKeys({} keys)", self.keys.len())
    }
}

/// Why a signature was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("`{0}` is neither a minisign public key nor a readable `.pub` file")]
    BadKey(String),
    #[error("the signature file is not a minisign signature")]
    Malformed,
    #[error("the index file is signed by a key that is not trusted")]
    UntrustedKey,
    #[error("the signature does not match the index file")]
    Invalid,
    #[error("the signature's trusted comment is not a quickinstall index comment")]
    UnknownComment,
    #[error("the signature is for `{found}`, not `{expected}`")]
    WrongPath { expected: String, found: String },
}

impl TrustedKeys {
    /// The built-in keys only.
    pub fn builtin() -> Self {
        let keys = BUILTIN_KEYS
            .iter()
            .filter_map(|k| PublicKey::from_base64(k).ok())
            .collect();
        Self { keys }
    }

    /// No keys at all; tests and `--trusted-key`-only setups start here.
    pub fn empty() -> Self {
        Self { keys: Vec::new() }
    }

    /// Adds a key given as its base64 line or as the text of a minisign `.pub` file.
    pub fn add_text(&mut self, spec: &str) -> Result<(), SignatureError> {
        let spec = spec.trim();
        let key = if spec.contains('\n') {
            PublicKey::decode(spec)
        } else {
            PublicKey::from_base64(spec)
        };
        self.keys
            .push(key.map_err(|_| SignatureError::BadKey(shorten(spec)))?);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies `data` against `signature_text` and checks that the trusted comment names
    /// `expected_path`. Returns the comment (for the rollback check).
    pub fn verify(
        &self,
        data: &[u8],
        signature_text: &str,
        expected_path: &str,
    ) -> Result<TrustedComment, SignatureError> {
        let signature = Signature::decode(signature_text).map_err(|_| SignatureError::Malformed)?;
        let mut outcome = Err(SignatureError::UntrustedKey);
        for key in &self.keys {
            match key.verify(data, &signature, false) {
                Ok(()) => {
                    outcome = Ok(());
                    break;
                }
                Err(minisign_verify::Error::UnexpectedKeyId) => {}
                Err(_) => outcome = Err(SignatureError::Invalid),
            }
        }
        outcome?;
        let comment = TrustedComment::parse(signature.trusted_comment())
            .ok_or(SignatureError::UnknownComment)?;
        if comment.path != expected_path {
            return Err(SignatureError::WrongPath {
                expected: expected_path.to_owned(),
                found: comment.path,
            });
        }
        Ok(comment)
    }
}

/// Builds a signed bundle: the minisign signature text (four lines) then the signed bytes.
pub fn bundle(signature_text: &str, data: &[u8]) -> Vec<u8> {
    let mut out = signature_text.trim_end_matches('\n').as_bytes().to_vec();
    out.push(b'\n');
    out.extend_from_slice(data);
    out
}

/// Splits a signed bundle into (signature text, signed bytes). `None` when it does not start
/// with a four-line minisign signature.
pub fn split_bundle(bundle: &[u8]) -> Option<(&str, &[u8])> {
    let mut end = 0;
    for _ in 0..4 {
        let newline = bundle.get(end..)?.iter().position(|b| *b == b'\n')?;
        end += newline + 1;
    }
    let signature = std::str::from_utf8(bundle.get(..end)?).ok()?;
    signature
        .starts_with("untrusted comment:")
        .then_some((signature, bundle.get(end..)?))
}

fn shorten(s: &str) -> String {
    let first = s.lines().next().unwrap_or_default();
    first.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keypair() -> (minisign::KeyPair, String) {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let b64 = kp.pk.to_base64();
        (kp, b64)
    }

    fn sign(kp: &minisign::KeyPair, data: &[u8], comment: &str) -> String {
        minisign::sign(None, &kp.sk, data, Some(comment), None)
            .unwrap()
            .to_string()
    }

    fn comment(path: &str) -> String {
        TrustedComment {
            path: path.into(),
            timestamp: 1_764_000_000,
        }
        .render()
    }

    #[test]
    fn trusted_comment_round_trips() {
        let c = TrustedComment {
            path: "crates/2/ab.json".into(),
            timestamp: 7,
        };
        assert_eq!(TrustedComment::parse(&c.render()), Some(c));
        assert_eq!(TrustedComment::parse("timestamp:1 file:x"), None);
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
    fn bundles_split_back_into_signature_and_data() {
        let (kp, b64) = keypair();
        let mut keys = TrustedKeys::empty();
        keys.add_text(&b64).unwrap();
        let data = b"{\n  \"v\": 1\n}\n";
        let sig = sign(&kp, data, &comment("crates/1/a.json"));
        let joined = bundle(&sig, data);
        let (s, d) = split_bundle(&joined).unwrap();
        assert_eq!(d, data);
        assert!(keys.verify(d, s, "crates/1/a.json").is_ok());
        assert_eq!(split_bundle(b"{}"), None);
        assert_eq!(split_bundle(b"a\nb\nc\nd\n{}"), None);
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
        assert_eq!(TrustedKeys::builtin().len(), BUILTIN_KEYS.len());
    }
}
