//! What the upstream source reads from a crate: the `Cargo.toml` inside its `.crate` (at most
//! 1 MiB, read through the gzip and tar streams of an already verified file, never the whole
//! `.crate` in memory), its `[[bin]]` names and repository, and `[package.metadata.binstall]` with
//! every key's type checked (a wrong type is an error naming the key). No network, no templates.

use std::io::Read;

use flate2::read::GzDecoder;
use toml::{Table, Value};

/// The largest `Cargo.toml` read out of a `.crate`.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// What the crate declares for one target, after overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub pkg_url: Option<String>,
    pub bin_dir: Option<String>,
    pub pkg_fmt: Option<String>,
    pub signing: Option<Signing>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signing {
    pub algorithm: String,
    pub pubkey: String,
    pub file: Option<String>,
}

/// The crate's metadata and what it needs for templates.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub repo: Option<String>,
    pub bins: Vec<String>,
    pub(super) binstall: Option<Table>,
}

/// `{name}-{version}/Cargo.toml` out of a `.crate` (a `.tar.gz`), at most 1 MiB. The `.crate`
/// is read as a stream (gzip's and tar's buffers, and the manifest, are all that is held).
pub(super) fn manifest_text(
    crate_file: impl Read,
    name: &str,
    version: &str,
) -> Result<String, String> {
    let wanted = format!("{name}-{version}/Cargo.toml");
    let mut tar = tar::Archive::new(GzDecoder::new(crate_file));
    let entries = tar
        .entries()
        .map_err(|e| format!("is not a .tar.gz ({e})"))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("is corrupt ({e})"))?;
        if entry.path_bytes().as_ref() != wanted.as_bytes()
            || !entry.header().entry_type().is_file()
        {
            continue;
        }
        let mut text = String::new();
        entry
            .take(MAX_MANIFEST_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("holds an unreadable `{wanted}` ({e})"))?;
        if text.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(format!(
                "holds a `{wanted}` over {MAX_MANIFEST_BYTES} bytes"
            ));
        }
        return Ok(text);
    }
    Err(format!("holds no `{wanted}`"))
}

/// The parts of a crate's `Cargo.toml` the upstream source reads; wrong types are errors
/// that name the key.
pub fn parse_manifest(text: &str, name: &str) -> Result<Manifest, String> {
    let doc: Table =
        toml::from_str(text).map_err(|e| format!("its Cargo.toml does not parse ({e})"))?;
    let package = doc.get("package").and_then(Value::as_table);
    let repo = match package.and_then(|p| p.get("repository")) {
        None => None,
        Some(Value::String(s)) => Some(s.trim_end_matches('/').to_owned()),
        Some(_) => return Err("`package.repository` is not a string".into()),
    };
    let mut bins = Vec::new();
    if let Some(list) = doc.get("bin") {
        let list = list
            .as_array()
            .ok_or("`[[bin]]` is not an array of tables")?;
        for bin in list {
            match bin.get("name") {
                Some(Value::String(n)) => bins.push(n.clone()),
                _ => return Err("a `[[bin]]` has no string `name`".into()),
            }
        }
    }
    if bins.is_empty() {
        bins.push(name.to_owned());
    }
    let binstall = match package
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("binstall"))
    {
        None => None,
        Some(Value::Table(t)) => Some(t.clone()),
        Some(_) => return Err("`[package.metadata.binstall]` is not a table".into()),
    };
    let manifest = Manifest {
        repo,
        bins,
        binstall,
    };
    // Check every declared key's type now, so a bad table is named whatever the target.
    if let Some(table) = &manifest.binstall {
        declared(table, "package.metadata.binstall")?;
        if let Some(overrides) = table.get("overrides") {
            let overrides = overrides
                .as_table()
                .ok_or("`package.metadata.binstall.overrides` is not a table")?;
            for (target, o) in overrides {
                let key = format!("package.metadata.binstall.overrides.{target}");
                declared(o.as_table().ok_or(format!("`{key}` is not a table"))?, &key)?;
            }
        }
    }
    Ok(manifest)
}

pub(super) fn declared(table: &Table, at: &str) -> Result<Declared, String> {
    let string = |key: &str| -> Result<Option<String>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!(
                "`{at}.{key}` is a {}, not a string",
                other.type_str()
            )),
        }
    };
    let signing = match table.get("signing") {
        None => None,
        Some(Value::Table(s)) => {
            let field = |key: &str| -> Result<Option<String>, String> {
                match s.get(key) {
                    None => Ok(None),
                    Some(Value::String(v)) => Ok(Some(v.clone())),
                    Some(other) => Err(format!(
                        "`{at}.signing.{key}` is a {}, not a string",
                        other.type_str()
                    )),
                }
            };
            Some(Signing {
                algorithm: field("algorithm")?
                    .ok_or(format!("`{at}.signing` has no `algorithm`"))?,
                pubkey: field("pubkey")?.ok_or(format!("`{at}.signing` has no `pubkey`"))?,
                file: field("file")?,
            })
        }
        Some(other) => {
            return Err(format!(
                "`{at}.signing` is a {}, not a table",
                other.type_str()
            ));
        }
    };
    Ok(Declared {
        pkg_url: string("pkg-url")?,
        bin_dir: string("bin-dir")?,
        pkg_fmt: string("pkg-fmt")?,
        signing,
    })
}
