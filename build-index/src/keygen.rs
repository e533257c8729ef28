//! `build-index keygen`: a new minisign key pair for signing the index.
//!
//! The secret key is written unencrypted (CI signs unattended) with mode 0600 from the moment
//! the file exists; the public key in minisign's `.pub` format. Neither file is overwritten
//! without `--force`. `--root` makes the offline root key instead, labelled as such in the
//! secret key file's comment. Loading and using the key is [`crate::sign`]'s.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use minisign::KeyPair;

/// Why a key pair was not written.
#[derive(Debug, thiserror::Error)]
pub enum KeygenError {
    #[error("`{}` already exists; pass --force to replace it", path.display())]
    Exists { path: PathBuf },
    #[error("could not generate a key pair: {0}")]
    Generate(String),
    #[error("could not write `{}`: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Generates a signing key pair, writes both files and returns the public key's base64 line.
pub fn keygen(secret_path: &Path, public_path: &Path, force: bool) -> Result<String, KeygenError> {
    keygen_labelled(secret_path, public_path, force, None)
}

/// Generates a root key pair: the same files, the secret one labelled as the offline root.
pub fn keygen_root(
    secret_path: &Path,
    public_path: &Path,
    force: bool,
) -> Result<String, KeygenError> {
    keygen_labelled(
        secret_path,
        public_path,
        force,
        Some(
            "quickinstall ROOT secret key: keep offline; it only signs delegations (docs/releasing.md)",
        ),
    )
}

fn keygen_labelled(
    secret_path: &Path,
    public_path: &Path,
    force: bool,
    label: Option<&str>,
) -> Result<String, KeygenError> {
    if !force {
        for path in [secret_path, public_path] {
            if path.exists() {
                return Err(KeygenError::Exists {
                    path: path.to_owned(),
                });
            }
        }
    }
    let generate = |e: minisign::PError| KeygenError::Generate(e.to_string());
    let pair = KeyPair::generate_unencrypted_keypair().map_err(generate)?;
    let secret_text = pair.sk.to_box(label).map_err(generate)?.into_string();
    let public_text = pair.pk.to_box().map_err(generate)?.into_string();
    write_new(secret_path, secret_text.as_bytes(), 0o600, force)?;
    if let Err(e) = write_new(public_path, public_text.as_bytes(), 0o644, force) {
        // A secret key without its public key is useless and dangerous to leave lying around.
        let _ = std::fs::remove_file(secret_path);
        return Err(e);
    }
    Ok(pair.pk.to_base64())
}

/// Writes via a temp file created with `mode` (never wider, not even briefly), then renames;
/// without `force` the rename refuses to replace an existing file.
fn write_new(path: &Path, bytes: &[u8], mode: u32, force: bool) -> Result<(), KeygenError> {
    let err = |source| KeygenError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tmp-key-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = mode; // Windows has no mode bits; the file inherits the directory's ACL.
    let mut tmp = builder.tempfile_in(dir).map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    let persisted = if force {
        tmp.persist(path)
    } else {
        tmp.persist_noclobber(path)
    };
    persisted.map_err(|e| {
        if e.error.kind() == io::ErrorKind::AlreadyExists {
            KeygenError::Exists {
                path: path.to_owned(),
            }
        } else {
            err(e.error)
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::sign::Signer;

    #[test]
    fn writes_a_private_secret_key_that_signs_and_a_pub_file() {
        let dir = tempfile::tempdir().unwrap();
        let (sk, pk) = (dir.path().join("k.key"), dir.path().join("k.pub"));
        let b64 = keygen(&sk, &pk, false).unwrap();
        let mode = fs::metadata(&sk).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let pub_text = fs::read_to_string(&pk).unwrap();
        assert!(pub_text.starts_with("untrusted comment:"));
        assert_eq!(pub_text.lines().nth(1), Some(b64.as_str()));
        let signer = Signer::from_file(&sk).unwrap();
        assert_eq!(signer.public_key_base64(), b64);
    }

    #[test]
    fn root_keys_are_labelled_and_sign_like_any_key() {
        let dir = tempfile::tempdir().unwrap();
        let (sk, pk) = (dir.path().join("root.key"), dir.path().join("root.pub"));
        let b64 = keygen_root(&sk, &pk, false).unwrap();
        assert!(fs::read_to_string(&sk).unwrap().contains("ROOT secret key"));
        assert_eq!(Signer::from_file(&sk).unwrap().public_key_base64(), b64);
    }

    #[test]
    fn refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let (sk, pk) = (dir.path().join("k.key"), dir.path().join("k.pub"));
        let first = keygen(&sk, &pk, false).unwrap();
        let before = fs::read(&sk).unwrap();
        assert!(matches!(
            keygen(&sk, &pk, false),
            Err(KeygenError::Exists { .. })
        ));
        assert_eq!(fs::read(&sk).unwrap(), before);
        let second = keygen(&sk, &pk, true).unwrap();
        assert_ne!(first, second);
        let mode = fs::metadata(&sk).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
