//! `quickinstall.lock`: what `--sync` resolved, per tool and target, down to the bytes.
//!
//! Canonical and diff-friendly: TOML, tools sorted by kind and name, artifacts by target, one
//! key per line, written atomically (temp file in the same directory, fsync, rename). Reading
//! keeps each entry's line so errors can point at it. Nothing here fetches anything.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::index::format::{FORMAT_BIN, Provenance, Release};

use super::ToolsetError;
use super::manifest::{Manifest, line_of};

/// The lock's file name, beside the manifest.
pub const LOCK_NAME: &str = "quickinstall.lock";

/// This format's version.
pub const LOCK_VERSION: u32 = 1;

const HEADER: &str = "# quickinstall.lock: written by `cargo quickinstall --sync` from quickinstall.toml.\n# Do not edit by hand: `--locked-tools` installs exactly these bytes.\n";

/// The whole lock file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Lock {
    pub version: u32,
    /// [`Manifest::content_hash`] of the manifest it was resolved from.
    pub manifest_hash: String,
    /// The manifest's `targets` when it was resolved (empty: the host's).
    pub targets: Vec<String>,
    #[serde(default, rename = "tool")]
    pub tools: Vec<LockedTool>,
}

/// One tool, resolved.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedTool {
    /// `crate` or `go`.
    pub kind: String,
    pub name: String,
    /// [`super::manifest::Tool::fingerprint`] of the entry it was resolved from.
    pub entry: String,
    /// The exact version.
    pub version: String,
    /// Go: the module the package belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// The registry's checksum of the `.crate` (or the Go module's `h1:` hash), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_checksum: Option<String>,
    /// The binaries to install (`bin = [...]`); empty: all the artifact has.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bin: Vec<String>,
    #[serde(rename = "artifact")]
    pub artifacts: Vec<Artifact>,
}

/// One tool's build for one target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Artifact {
    pub target: String,
    /// `index`, `quickinstall`, `upstream` or `build`.
    pub origin: String,
    /// Absent for `build`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// `tar.gz`, or `bin` (the download is the executable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The id of the minisign key whose signature over the archive was verified when it was
    /// locked (the pool's, or the one an upstream crate declares); absent for the index, whose
    /// signature covers the entry that gives the sha256, and for unsigned archives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Every binary the archive holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binaries: Vec<String>,
}

impl Artifact {
    /// The index release a prebuilt artifact stands for (what the driver installs from a
    /// pin), or `None` when the lock lacks its url, size or sha256.
    pub fn release(&self, tool: &LockedTool) -> Option<Release> {
        let (Some(url), Some(size), Some(sha256)) = (&self.url, self.size, &self.sha256) else {
            return None;
        };
        let mut extra = BTreeMap::new();
        if self.format.as_deref() == Some(FORMAT_BIN) {
            extra.insert("format".to_owned(), serde_json::Value::from(FORMAT_BIN));
        }
        Some(Release {
            version: tool.version.clone(),
            target: self.target.clone(),
            archive: url.clone(),
            sha256: sha256.clone(),
            size,
            binaries: self.binaries.clone(),
            packages: BTreeMap::new(),
            min_glibc: None,
            recipe: 0,
            provenance: Provenance {
                source_checksum: tool.source_checksum.clone(),
                built_at: String::new(),
                toolchain: String::new(),
                extra: BTreeMap::new(),
            },
            extra,
        })
    }
}

/// The lock as read, with the lines of its parts for error messages.
#[derive(Debug, Clone)]
pub struct ReadLock {
    pub path: PathBuf,
    pub lock: Lock,
    /// Line of each tool's `[[tool]]` entry, by index in `lock.tools`.
    pub tool_lines: Vec<usize>,
    pub targets_line: usize,
}

#[derive(Deserialize)]
struct Lines {
    targets: Spanned<toml::Value>,
    #[serde(default)]
    tool: Vec<Spanned<toml::Value>>,
}

impl ReadLock {
    /// Reads the lock at `path`; `Ok(None)` when there is none.
    pub fn read(path: &Path) -> Result<Option<Self>, ToolsetError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(ToolsetError::new(
                    format!("could not read `{}`: {e}", path.display()),
                    "check the file's permissions",
                ));
            }
        };
        let bad = |e: toml::de::Error| {
            let line = e.span().map_or(1, |s| line_of(&text, s.start));
            ToolsetError::new(
                format!(
                    "{}:{line}: {}",
                    path.display(),
                    e.message().trim().replace('\n', " ")
                ),
                "the lock is written by `cargo quickinstall --sync`; run it again to rewrite it",
            )
        };
        let lock: Lock = toml::from_str(&text).map_err(bad)?;
        let lines: Lines = toml::from_str(&text).map_err(bad)?;
        if lock.version != LOCK_VERSION {
            return Err(ToolsetError::new(
                format!(
                    "{}:1: lock format version {} is not one this client reads ({LOCK_VERSION})",
                    path.display(),
                    lock.version
                ),
                "run `cargo quickinstall --sync` to rewrite it, or update cargo-quickinstall",
            ));
        }
        Ok(Some(Self {
            path: path.to_owned(),
            tool_lines: lines
                .tool
                .iter()
                .map(|t| line_of(&text, t.span().start))
                .collect(),
            targets_line: line_of(&text, lines.targets.span().start),
            lock,
        }))
    }

    /// The line of tool `name`'s entry.
    pub fn line_of_tool(&self, name: &str) -> usize {
        self.lock
            .tools
            .iter()
            .position(|t| t.name == name)
            .and_then(|i| self.tool_lines.get(i).copied())
            .unwrap_or(1)
    }

    /// Whether this lock still describes `manifest`; else an error naming what differs
    /// (targets, a tool added or changed, anything else) and saying to run `--sync`.
    pub fn check_fresh(&self, manifest: &Manifest) -> Result<(), ToolsetError> {
        let sync = "run `cargo quickinstall --sync` to update the lock, and commit it";
        let lock = &self.lock;
        if lock.targets != manifest.targets {
            let show = |t: &[String]| {
                if t.is_empty() {
                    "the host's".to_owned()
                } else {
                    t.join(", ")
                }
            };
            return Err(ToolsetError::new(
                format!(
                    "{}:{}: the lock was made for targets [{}], but `{}`{} asks for [{}]",
                    self.path.display(),
                    self.targets_line,
                    show(&lock.targets),
                    manifest.path.display(),
                    manifest
                        .targets_line
                        .map(|l| format!(" (line {l})"))
                        .unwrap_or_default(),
                    show(&manifest.targets),
                ),
                sync,
            ));
        }
        for tool in &manifest.tools {
            match lock.tools.iter().find(|t| t.name == tool.name) {
                None => {
                    return Err(ToolsetError::new(
                        format!(
                            "{}:{}: `{}` is in the manifest but not in `{}`: the lock is older than the manifest",
                            manifest.path.display(),
                            tool.line,
                            tool.name,
                            self.path.display()
                        ),
                        sync,
                    ));
                }
                Some(locked) if locked.entry != tool.fingerprint() => {
                    return Err(ToolsetError::new(
                        format!(
                            "{}:{}: `{}` changed since `{}` (line {}) was written",
                            manifest.path.display(),
                            tool.line,
                            tool.name,
                            self.path.display(),
                            self.line_of_tool(&tool.name)
                        ),
                        sync,
                    ));
                }
                Some(_) => {}
            }
        }
        if lock.manifest_hash != manifest.content_hash() {
            return Err(ToolsetError::new(
                format!(
                    "{}:1: the lock does not match `{}` (a tool was removed, or the lock was edited)",
                    self.path.display(),
                    manifest.path.display()
                ),
                sync,
            ));
        }
        Ok(())
    }
}

impl Lock {
    /// Sorts everything into the canonical order.
    pub fn canonicalize(&mut self) {
        self.tools
            .sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
        for tool in &mut self.tools {
            tool.artifacts.sort_by(|a, b| a.target.cmp(&b.target));
        }
    }

    /// The canonical text.
    pub fn to_text(&self) -> Result<String, ToolsetError> {
        let mut lock = self.clone();
        lock.canonicalize();
        let body = toml::to_string(&lock).map_err(|e| {
            ToolsetError::new(
                format!("could not write the lock: {e}"),
                "this is a bug in cargo-quickinstall",
            )
        })?;
        Ok(format!("{HEADER}{body}"))
    }

    /// Writes the lock to `path` atomically (temp file beside it, fsync, rename); an
    /// unchanged lock is not rewritten.
    pub fn write(&self, path: &Path) -> Result<(), ToolsetError> {
        let text = self.to_text()?;
        if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
            return Ok(());
        }
        let fail = |e: std::io::Error| {
            ToolsetError::new(
                format!("could not write `{}`: {e}", path.display()),
                "check that the directory is writable",
            )
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
        tmp.write_all(text.as_bytes()).map_err(fail)?;
        tmp.as_file().sync_all().map_err(fail)?;
        tmp.persist(path).map_err(|e| fail(e.error))?;
        Ok(())
    }

    pub fn tool(&self, name: &str) -> Option<&LockedTool> {
        self.tools.iter().find(|t| t.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_read_as_minisign_prints_them() {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let expected = format!(
            "{:016X}",
            u64::from_le_bytes(kp.pk.keynum().try_into().unwrap())
        );
        assert_eq!(
            crate::index::key_id::of_public_key(&kp.pk.to_base64()).as_deref(),
            Some(expected.as_str())
        );
    }

    fn sample() -> Lock {
        Lock {
            version: LOCK_VERSION,
            manifest_hash: "abc".into(),
            targets: vec![],
            tools: vec![
                LockedTool {
                    kind: "crate".into(),
                    name: "b".into(),
                    entry: "crate b 1".into(),
                    version: "1.0.0".into(),
                    module: None,
                    source_checksum: None,
                    bin: vec![],
                    artifacts: vec![Artifact {
                        target: "x86_64-unknown-linux-musl".into(),
                        origin: "build".into(),
                        url: None,
                        size: None,
                        sha256: None,
                        format: None,
                        key_id: None,
                        binaries: vec![],
                    }],
                },
                LockedTool {
                    kind: "crate".into(),
                    name: "a".into(),
                    entry: "crate a 1".into(),
                    version: "1.0.0".into(),
                    module: None,
                    source_checksum: Some("00".into()),
                    bin: vec![],
                    artifacts: vec![Artifact {
                        target: "x86_64-unknown-linux-musl".into(),
                        origin: "index".into(),
                        url: Some("https://x/a.tar.gz".into()),
                        size: Some(3),
                        sha256: Some("ff".into()),
                        format: Some("tar.gz".into()),
                        key_id: Some("0123".into()),
                        binaries: vec!["a".into()],
                    }],
                },
            ],
        }
    }

    #[test]
    fn round_trips_sorted_and_reads_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_NAME);
        sample().write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.find("name = \"a\"").unwrap() < text.find("name = \"b\"").unwrap());
        let read = ReadLock::read(&path).unwrap().unwrap();
        let mut expected = sample();
        expected.canonicalize();
        assert_eq!(read.lock, expected);
        assert_eq!(
            read.line_of_tool("a"),
            line_of(&text, text.find("[[tool]]").unwrap())
        );
        assert!(ReadLock::read(&dir.path().join("none")).unwrap().is_none());
    }
}
