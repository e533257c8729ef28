//! The signed bundle (`<file>.json.signed`): an optional version header and delegation, the
//! file's minisign signature, then the file's bytes, in one response (see
//! `docs/index-format.md`, "The signed bundle").
//!
//! Taking a bundle apart and putting one together only; nothing here verifies a signature or
//! reads a trusted comment, which is [`crate::index::signature`]'s job.

use crate::index::signature::SignatureError;

/// The first line of a version 2 bundle (one that carries a delegation).
pub const BUNDLE_V2_HEADER: &str = "quickinstall-bundle v2";

const BUNDLE_HEADER_PREFIX: &str = "quickinstall-bundle v";

/// A signed bundle taken apart (see `docs/index-format.md`, "The signed bundle").
#[derive(Debug, PartialEq, Eq)]
pub struct Bundle<'a> {
    /// 1 (signature, then data) or 2 (header, delegation, signature, then data).
    pub version: u32,
    /// The delegation blocks (exactly one is accepted; more are kept to refuse them).
    pub delegations: Vec<&'a str>,
    /// The file's minisign signature text (four lines).
    pub signature: &'a str,
    /// The package file's bytes.
    pub data: &'a [u8],
}

/// Builds a version 1 signed bundle: the minisign signature text (four lines) then the signed
/// bytes. For a key trusted directly.
pub fn bundle(signature_text: &str, data: &[u8]) -> Vec<u8> {
    let mut out = signature_text.trim_end_matches('\n').as_bytes().to_vec();
    out.push(b'\n');
    out.extend_from_slice(data);
    out
}

/// Builds a version 2 signed bundle: the header line, the delegation (four lines), the
/// signature (four lines), then the signed bytes.
pub fn bundle_v2(delegation: &str, signature_text: &str, data: &[u8]) -> Vec<u8> {
    let mut out = format!("{BUNDLE_V2_HEADER}\n").into_bytes();
    out.extend_from_slice(delegation.trim_end_matches('\n').as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&bundle(signature_text, data));
    out
}

/// Splits a version 1 signed bundle into (signature text, signed bytes). `None` when it does
/// not start with a four-line minisign signature.
pub fn split_bundle(bundle: &[u8]) -> Option<(&str, &[u8])> {
    let (block, rest) = signature_block(bundle)?;
    Some((block, rest))
}

/// Takes a bundle of either version apart, without verifying anything.
pub fn parse_bundle(bytes: &[u8]) -> Result<Bundle<'_>, SignatureError> {
    let Some(after_prefix) = bytes.strip_prefix(BUNDLE_HEADER_PREFIX.as_bytes()) else {
        let (signature, data) = split_bundle(bytes).ok_or(SignatureError::NotABundle)?;
        return Ok(Bundle {
            version: 1,
            delegations: Vec::new(),
            signature,
            data,
        });
    };
    let line_end = after_prefix
        .iter()
        .position(|b| *b == b'\n')
        .ok_or(SignatureError::NotABundle)?;
    let (version, rest) = after_prefix.split_at(line_end);
    let version = String::from_utf8_lossy(version).into_owned();
    if version != "2" {
        return Err(SignatureError::NewerBundle(format!(
            "{BUNDLE_HEADER_PREFIX}{}",
            version.chars().take(20).collect::<String>()
        )));
    }
    let mut rest = rest.get(1..).unwrap_or_default();
    let mut blocks = Vec::new();
    while let Some((block, after)) = signature_block(rest) {
        blocks.push(block);
        rest = after;
    }
    let signature = blocks.pop().ok_or(SignatureError::NotABundle)?;
    Ok(Bundle {
        version: 2,
        delegations: blocks,
        signature,
        data: rest,
    })
}

/// The four-line minisign block at the start of `bytes` and what follows it.
fn signature_block(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let mut end = 0;
    for _ in 0..4 {
        let newline = bytes.get(end..)?.iter().position(|b| *b == b'\n')?;
        end += newline + 1;
    }
    let block = std::str::from_utf8(bytes.get(..end)?).ok()?;
    block
        .starts_with("untrusted comment:")
        .then_some((block, bytes.get(end..)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::signature::TrustedKeys;
    use crate::index::signature::tests::{comment, keypair, sign};

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
    fn bundles_of_both_versions_parse() {
        let (kp, _) = keypair();
        let sig = sign(&kp, b"{}", &comment("crates/1/a.json"));
        let v1 = bundle(&sig, b"{}");
        let parsed = parse_bundle(&v1).unwrap();
        assert_eq!((parsed.version, parsed.data), (1, &b"{}"[..]));
        let v2 = bundle_v2(&sig, &sig, b"{}");
        let parsed = parse_bundle(&v2).unwrap();
        assert_eq!((parsed.version, parsed.delegations.len()), (2, 1));
        assert_eq!(parse_bundle(b"{}"), Err(SignatureError::NotABundle));
        assert_eq!(
            parse_bundle(b"quickinstall-bundle v2\n{}"),
            Err(SignatureError::NotABundle)
        );
    }
}
