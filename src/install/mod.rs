//! Installing staged binaries and recording them the way cargo does.
//!
//! [`transaction`] moves binaries from the staging directory into the bin directory, all or
//! nothing, with rollback; [`cargo_tracker`] reads and writes cargo's `.crates.toml` and
//! `.crates2.json`. Nothing here downloads, verifies or unpacks: it receives
//! [`crate::unpack::StagedBinary`] values that already passed all of that.

pub mod cargo_tracker;
pub mod go_bin;
pub mod tracker_journal;
pub mod transaction;

use std::io;
use std::path::PathBuf;

pub use transaction::{Transaction, install_binaries, sync_dir};

/// Why binaries could not be installed. Whatever the variant, the bin directory was left as it
/// was found.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("could not create the directory `{path}`: {}", describe(source))]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("could not read the staged binary `{path}`: {}", describe(source))]
    ReadStaged { path: PathBuf, source: io::Error },
    #[error("could not write to `{dir}`: {}", describe(source))]
    Write { dir: PathBuf, source: io::Error },
    #[error("could not replace `{path}`: {}", describe(source))]
    Replace { path: PathBuf, source: io::Error },
    #[error("refusing to install `{name}`: it is not a plain file name")]
    InvalidName { name: String },
}

impl InstallError {
    /// The underlying I/O error, if there is one.
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Self::CreateDir { source, .. }
            | Self::ReadStaged { source, .. }
            | Self::Write { source, .. }
            | Self::Replace { source, .. } => Some(source),
            Self::InvalidName { .. } => None,
        }
    }

    /// Advice to print after the error, when there is something the user can do.
    pub fn hint(&self) -> Option<String> {
        if matches!(self, Self::ReadStaged { .. }) {
            return None;
        }
        match self.io_error()?.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                Some("choose another directory with --root, or fix its permissions".to_owned())
            }
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
                Some("free some disk space, or choose another directory with --root".to_owned())
            }
            io::ErrorKind::NotADirectory | io::ErrorKind::AlreadyExists => Some(
                "a file is in the way of the directory; choose another directory with --root"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

/// An I/O error in plain words for the common causes; the system's text otherwise.
pub(crate) fn describe(error: &io::Error) -> String {
    let plain = match error.kind() {
        io::ErrorKind::PermissionDenied => "permission denied",
        io::ErrorKind::ReadOnlyFilesystem => "the file system is read-only",
        io::ErrorKind::StorageFull => "no space left on the device",
        io::ErrorKind::QuotaExceeded => "the disk quota is exceeded",
        io::ErrorKind::NotADirectory => "a part of the path is a file, not a directory",
        io::ErrorKind::NotFound => "it does not exist",
        _ => return error.to_string(),
    };
    plain.to_owned()
}

/// The file name a binary `name` has for `target`: `name.exe` for a Windows target (as cargo
/// names it, and as its tracker records it), `name` otherwise. A name already ending in `.exe`
/// is kept.
pub fn exe_name(name: &str, target: &str) -> String {
    let windows = target.contains("-windows");
    if windows && !name.to_ascii_lowercase().ends_with(".exe") {
        format!("{name}.exe")
    } else {
        name.to_owned()
    }
}

/// Marks a file executable (mode 0755); unpacking and installing both need it.
#[cfg(unix)]
pub(crate) fn set_executable(file: &std::fs::File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
pub(crate) fn set_executable(_file: &std::fs::File) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md)
mod tests {
    use super::*;

    #[test]
    fn windows_targets_name_binaries_with_exe() {
        assert_eq!(exe_name("rg", "x86_64-pc-windows-msvc"), "rg.exe");
        assert_eq!(exe_name("rg", "aarch64-pc-windows-gnullvm"), "rg.exe");
        assert_eq!(exe_name("rg.exe", "x86_64-pc-windows-gnu"), "rg.exe");
        assert_eq!(exe_name("RG.EXE", "x86_64-pc-windows-gnu"), "RG.EXE");
        assert_eq!(exe_name("rg", "x86_64-unknown-linux-musl"), "rg");
        assert_eq!(exe_name("rg", "aarch64-apple-darwin"), "rg");
    }

    #[test]
    fn messages_name_the_path_in_plain_words() {
        let err = InstallError::Write {
            dir: "/x/bin".into(),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert_eq!(
            err.to_string(),
            "could not write to `/x/bin`: permission denied"
        );
        assert_eq!(
            err.hint().as_deref(),
            Some("choose another directory with --root, or fix its permissions")
        );
        let full = InstallError::Replace {
            path: "/x/bin/rg".into(),
            source: io::Error::from(io::ErrorKind::StorageFull),
        };
        assert_eq!(
            full.to_string(),
            "could not replace `/x/bin/rg`: no space left on the device"
        );
        assert!(full.hint().unwrap().contains("disk space"));
    }
}
