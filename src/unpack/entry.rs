//! The allow-list for one archive entry, from its raw name and type alone: a listed binary to
//! write, a license to skip, or the reason the whole archive is refused. Pure; no I/O.

use std::path::{Component, Path};

use tar::EntryType;

use super::EntryProblem;
use crate::index::format::is_valid_binary_name;

/// What to do with an entry that passed the checks.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Disposition {
    /// A binary the index lists: write it.
    Binary(String),
    /// A license or notice file, or a listed binary not asked for: skip it.
    Skip,
}

/// Decides, from the entry's raw path and type alone, whether it is a binary to write, a
/// license to skip, or a reason to refuse the archive.
pub(super) fn classify(
    raw_name: &[u8],
    kind: EntryType,
    listed: &[String],
    expected_binaries: &[String],
) -> Result<Disposition, EntryProblem> {
    let name = top_level_name(raw_name)?;
    match kind {
        EntryType::Regular => {}
        EntryType::Symlink => return Err(EntryProblem::Symlink),
        EntryType::Link => return Err(EntryProblem::HardLink),
        EntryType::Char | EntryType::Block => return Err(EntryProblem::Device),
        EntryType::Fifo => return Err(EntryProblem::Fifo),
        EntryType::Directory => return Err(EntryProblem::Directory),
        _ => return Err(EntryProblem::UnsupportedKind),
    }
    if expected_binaries.iter().any(|b| b == name) {
        Ok(Disposition::Binary(name.to_owned()))
    } else if is_license_file(name) || listed.iter().any(|b| b == name) {
        Ok(Disposition::Skip)
    } else {
        Err(EntryProblem::Unexpected)
    }
}

/// The entry's name if its path is exactly one plain component, written as such (no `./`, no
/// trailing `/`).
fn top_level_name(raw_name: &[u8]) -> Result<&str, EntryProblem> {
    let name = std::str::from_utf8(raw_name).map_err(|_| EntryProblem::InvalidName)?;
    let mut components = Path::new(name).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(first)), None) if first == name => {}
        _ if name.starts_with('/') || name.starts_with('\\') || Path::new(name).has_root() => {
            return Err(EntryProblem::Absolute);
        }
        _ if Path::new(name)
            .components()
            .any(|c| c == Component::ParentDir) =>
        {
            return Err(EntryProblem::ParentDir);
        }
        _ => return Err(EntryProblem::NotTopLevel),
    }
    if is_valid_binary_name(name) {
        Ok(name)
    } else {
        Err(EntryProblem::InvalidName)
    }
}

/// License and notice files that archives may carry next to the binaries.
fn is_license_file(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["LICENSE", "LICENCE", "COPYING", "NOTICE"]
        .iter()
        .any(|prefix| upper.starts_with(prefix))
}

/// An entry name fit for a message: lossy UTF-8 with control characters escaped, so a crafted
/// name cannot write terminal escape sequences.
pub(super) fn display_entry_name(raw_name: &[u8]) -> String {
    String::from_utf8_lossy(raw_name)
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}
