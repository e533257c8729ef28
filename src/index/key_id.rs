//! Minisign key ids, as `minisign` prints them (16 upper-case hex digits of the key number, a
//! little-endian `u64`): of a public key, and of the key a signature names. A lock file
//! records which key vouched for each archive.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The key id of a base64 public key (`Ed` + key number + 32-byte key), or `None` if it is
/// not one.
pub fn of_public_key(public_key: &str) -> Option<String> {
    let bytes = STANDARD.decode(public_key.trim()).ok()?;
    (bytes.len() == 42 && bytes.starts_with(b"Ed"))
        .then(|| key_number(&bytes))
        .flatten()
}

/// The key id a minisign signature text names (its second line: algorithm, key number,
/// signature). Meaningful once the signature verified: a key only verifies signatures that
/// carry its own number.
pub fn of_signature(signature_text: &str) -> Option<String> {
    let line = signature_text
        .lines()
        .find(|l| !l.starts_with("untrusted comment:") && !l.trim().is_empty())?;
    let bytes = STANDARD.decode(line.trim()).ok()?;
    (bytes.len() == 74 && (bytes.starts_with(b"Ed") || bytes.starts_with(b"ED")))
        .then(|| key_number(&bytes))
        .flatten()
}

fn key_number(bytes: &[u8]) -> Option<String> {
    let number: [u8; 8] = bytes.get(2..10)?.try_into().ok()?;
    Some(format!("{:016X}", u64::from_le_bytes(number)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_names_the_key_that_made_it() {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let other = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let sig = minisign::sign(
            Some(&kp.pk),
            &kp.sk,
            std::io::Cursor::new(b"data"),
            Some("t"),
            None,
        )
        .unwrap()
        .to_string();
        let id = of_public_key(&kp.pk.to_base64()).unwrap();
        assert_eq!(id.len(), 16);
        assert_eq!(of_signature(&sig).as_deref(), Some(id.as_str()));
        assert_ne!(of_public_key(&other.pk.to_base64()), Some(id));
        assert_eq!(of_public_key("not a key"), None);
        assert_eq!(of_signature("untrusted comment: x\nnope\n"), None);
    }
}
