//! Releases a crate's author declares in the crate itself, as cargo-binstall reads them:
//! `[package.metadata.binstall]` (`pkg-url`, `bin-dir`, `pkg-fmt`, per-target `overrides`,
//! `signing`) from the `Cargo.toml` inside the `.crate` file, which is downloaded from the
//! registry and checked against the registry's `cksum` before it is read.
//!
//! No URL guessing: a crate that declares no `pkg-url` is not probed. A declared minisign
//! signature is required to verify; a crate that declares none is offered as unsigned (the
//! trust `cargo install` gives the same author's source: TLS), which the output says and
//! `--require-signed` refuses.

use std::io::Read;

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};
use toml::{Table, Value};

use super::index::Query;
use super::{Answer, Binaries, Candidate, Check, Origin, allowed_url};
use crate::download::{Fetcher, Location};
use crate::registry::crates::Registry;

/// The largest `.crate` read (crates.io refuses more than 10 MiB).
const MAX_CRATE_BYTES: u64 = 16 << 20;
/// The largest `Cargo.toml` read out of a `.crate`.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// The largest upstream archive accepted.
pub const MAX_ARCHIVE_BYTES: u64 = 256 << 20;

/// An archive format cargo-binstall's `pkg-fmt` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkgFmt {
    Tgz,
    Txz,
    Tzst,
    Zip,
    /// The download is the binary itself.
    Bin,
}

impl PkgFmt {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "tgz" | "tar.gz" => Self::Tgz,
            "txz" | "tar.xz" => Self::Txz,
            "tzstd" | "tzst" | "tar.zst" => Self::Tzst,
            "zip" => Self::Zip,
            "bin" => Self::Bin,
            _ => return None,
        })
    }

    /// `{ archive-format }`.
    fn format(self) -> &'static str {
        match self {
            Self::Tgz => "tgz",
            Self::Txz => "txz",
            Self::Tzst => "tzstd",
            Self::Zip => "zip",
            Self::Bin => "bin",
        }
    }

    /// `{ archive-suffix }`.
    fn suffix(self, target: &str) -> &'static str {
        match self {
            Self::Tgz => ".tgz",
            Self::Txz => ".txz",
            Self::Tzst => ".tzstd",
            Self::Zip => ".zip",
            Self::Bin if target.contains("windows") => ".exe",
            Self::Bin => "",
        }
    }
}

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
    binstall: Option<Table>,
}

/// Asks the crate: download the `.crate` (checked against `cksum`), read its manifest, and
/// render the declared URL for the first target that has one.
pub fn probe(fetcher: &Fetcher, registry: &Registry, query: &Query, cksum: Option<&str>) -> Answer {
    let manifest = match fetch_manifest(fetcher, registry, query.name, query.version, cksum) {
        Ok(m) => m,
        Err(Problem::Verify(why)) => {
            return Answer::Fail(crate::error::CrateError::Unverified {
                subject: Box::new(crate::error::Subject {
                    name: query.name.to_owned(),
                    version: query.version.to_owned(),
                    target: query.targets.first().cloned().unwrap_or_default(),
                }),
                origin: "upstream",
                detail: why,
            });
        }
        Err(Problem::Miss(why)) => return Answer::DontHave(why),
    };
    for target in query.targets {
        match candidate(&manifest, query, target) {
            Ok(Some(c)) => return Answer::Have(Box::new(c)),
            Ok(None) => {}
            Err(why) => return Answer::DontHave(why),
        }
    }
    Answer::DontHave(if manifest.binstall.is_none() {
        "the crate declares no prebuilt releases ([package.metadata.binstall]; nothing is guessed)"
            .into()
    } else {
        "the crate's [package.metadata.binstall] declares no pkg-url (nothing is guessed)".into()
    })
}

enum Problem {
    Verify(String),
    Miss(String),
}

/// The `.crate`'s manifest. The registry's checksum is required: without it the bytes could
/// not be tied to what the registry publishes.
fn fetch_manifest(
    fetcher: &Fetcher,
    registry: &Registry,
    name: &str,
    version: &str,
    cksum: Option<&str>,
) -> Result<Manifest, Problem> {
    let cksum = match cksum {
        Some(c) => c.to_owned(),
        None => registry
            .versions(fetcher, name)
            .map_err(|e| Problem::Miss(format!("the registry could not be asked ({e})")))?
            .into_iter()
            .find(|v| v.version.to_string() == version)
            .map(|v| v.cksum)
            .ok_or_else(|| Problem::Miss("the registry does not list this version".into()))?,
    };
    let url = registry
        .crate_url(fetcher, name, version)
        .map_err(|e| Problem::Miss(format!("the registry's download URL is unknown ({e})")))?;
    let bytes = fetcher
        .get_small(&url, MAX_CRATE_BYTES)
        .map_err(|e| Problem::Miss(format!("the .crate could not be downloaded ({e})")))?
        .ok_or_else(|| Problem::Miss(format!("`{url}` was not found")))?;
    let actual: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if !actual.eq_ignore_ascii_case(&cksum) {
        return Err(Problem::Verify(format!(
            "the .crate from `{url}` has sha256 {actual}, but the registry lists {cksum}"
        )));
    }
    let text = manifest_text(&bytes, name, version)
        .map_err(|why| Problem::Verify(format!("the .crate from `{url}` {why}")))?;
    parse_manifest(&text, name).map_err(Problem::Miss)
}

/// `{name}-{version}/Cargo.toml` out of a `.crate` (a `.tar.gz`), at most 1 MiB.
fn manifest_text(crate_bytes: &[u8], name: &str, version: &str) -> Result<String, String> {
    let wanted = format!("{name}-{version}/Cargo.toml");
    let mut tar = tar::Archive::new(GzDecoder::new(crate_bytes));
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

fn declared(table: &Table, at: &str) -> Result<Declared, String> {
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

/// The candidate for `target`, if the crate declares a `pkg-url` for it.
fn candidate(
    manifest: &Manifest,
    query: &Query,
    target: &str,
) -> Result<Option<Candidate>, String> {
    let Some(table) = &manifest.binstall else {
        return Ok(None);
    };
    let mut d = declared(table, "package.metadata.binstall")?;
    if let Some(o) = table
        .get("overrides")
        .and_then(|o| o.get(target))
        .and_then(Value::as_table)
    {
        let o = declared(o, &format!("package.metadata.binstall.overrides.{target}"))?;
        d.pkg_url = o.pkg_url.or(d.pkg_url);
        d.bin_dir = o.bin_dir.or(d.bin_dir);
        d.pkg_fmt = o.pkg_fmt.or(d.pkg_fmt);
        d.signing = o.signing.or(d.signing);
    }
    let Some(pkg_url) = d.pkg_url else {
        return Ok(None);
    };
    let fmt_text = d.pkg_fmt.as_deref().unwrap_or("tgz");
    let fmt = PkgFmt::parse(fmt_text).ok_or(format!(
        "`pkg-fmt = \"{fmt_text}\"` is not a format this installer reads (tgz, txz, tzstd, zip, bin)"
    ))?;
    let vars = Vars {
        name: query.name,
        version: query.version,
        target,
        repo: manifest.repo.as_deref(),
        fmt,
    };
    let url = vars.render(&pkg_url, None, None)?;
    allowed_url(&url).map_err(|why| format!("pkg-url renders to a refused URL: {why}"))?;
    if url
        .split(['/', '?', '#'])
        .any(|seg| seg == ".." || seg == ".")
    {
        return Err(format!(
            "pkg-url renders to `{url}`, which climbs with `..`"
        ));
    }
    let bin_dir = d
        .bin_dir
        .unwrap_or_else(|| "{ name }-{ target }-v{ version }/{ bin }{ binary-ext }".into());
    let mut paths = Vec::new();
    for bin in &manifest.bins {
        let path = if fmt == PkgFmt::Bin {
            String::new()
        } else {
            let path = vars.render(&bin_dir, Some(bin), Some(&url))?;
            check_archive_path(&path)?;
            path
        };
        let ext = if target.contains("windows") {
            ".exe"
        } else {
            ""
        };
        paths.push((format!("{bin}{ext}"), path));
    }
    if fmt == PkgFmt::Bin && paths.len() != 1 {
        return Err("pkg-fmt `bin` serves one binary, but the crate has several".into());
    }
    let check = match d.signing {
        Some(s) if s.algorithm == "minisign" => {
            let sig_url =
                vars.render(s.file.as_deref().unwrap_or("{ url }.sig"), None, Some(&url))?;
            allowed_url(&sig_url).map_err(|why| format!("the signature URL is refused: {why}"))?;
            Check::MinisignAt {
                signature_url: sig_url,
                public_key: s.pubkey,
                cap: MAX_ARCHIVE_BYTES,
            }
        }
        Some(s) => {
            return Err(format!(
                "its signing algorithm `{}` is not one this installer verifies (minisign)",
                s.algorithm
            ));
        }
        None => Check::Unsigned {
            cap: MAX_ARCHIVE_BYTES,
        },
    };
    let location = Location::parse(&url).map_err(|e| e.to_string())?;
    Ok(Some(Candidate {
        origin: Origin::Upstream,
        target: target.to_owned(),
        location,
        check,
        binaries: Binaries::Paths { format: fmt, paths },
        toolchain: None,
        release: None,
    }))
}

/// A path inside an archive: relative, no `..`, no empty or `.` parts, no backslashes.
fn check_archive_path(path: &str) -> Result<(), String> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.contains('\0')
        || path
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..");
    if bad {
        Err(format!(
            "bin-dir renders to `{path}`, which is not a plain relative path inside the archive"
        ))
    } else {
        Ok(())
    }
}

/// The template variables.
struct Vars<'a> {
    name: &'a str,
    version: &'a str,
    target: &'a str,
    repo: Option<&'a str>,
    fmt: PkgFmt,
}

impl Vars<'_> {
    /// Renders `{ var }` placeholders (spaces optional; `\{`, `\}`, `\\` are literals). An
    /// unknown variable, or `repo` when the crate names none, is an error.
    fn render(
        &self,
        template: &str,
        bin: Option<&str>,
        url: Option<&str>,
    ) -> Result<String, String> {
        let mut out = String::new();
        let mut chars = template.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next().unwrap_or('\\')),
                '{' => {
                    let mut key = String::new();
                    let mut closed = false;
                    for k in chars.by_ref() {
                        if k == '}' {
                            closed = true;
                            break;
                        }
                        key.push(k);
                    }
                    if !closed {
                        return Err(format!("the template `{template}` has an unclosed `{{`"));
                    }
                    out.push_str(&self.value(key.trim(), bin, url, template)?);
                }
                c => out.push(c),
            }
        }
        Ok(out)
    }

    fn value(
        &self,
        key: &str,
        bin: Option<&str>,
        url: Option<&str>,
        template: &str,
    ) -> Result<String, String> {
        let windows = self.target.contains("windows");
        let mut parts = self.target.split('-');
        let arch = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.collect();
        Ok(match key {
            "name" => self.name.into(),
            "version" => self.version.into(),
            "target" => self.target.into(),
            "repo" => self
                .repo
                .ok_or(format!(
                    "`{template}` uses `{{ repo }}`, but the crate names no repository"
                ))?
                .into(),
            "archive-format" | "format" => self.fmt.format().into(),
            "archive-suffix" => self.fmt.suffix(self.target).into(),
            "binary-ext" => if windows { ".exe" } else { "" }.into(),
            "bin" => bin
                .ok_or(format!("`{template}` uses `{{ bin }}` outside bin-dir"))?
                .into(),
            "url" => url
                .ok_or(format!("`{template}` uses `{{ url }}` where there is none"))?
                .into(),
            "target-arch" => arch.into(),
            "target-vendor" => rest.first().copied().unwrap_or_default().into(),
            "target-family" => if windows { "windows" } else { "unix" }.into(),
            "target-libc" => {
                let env = rest.last().copied().unwrap_or_default();
                ["gnu", "musl", "msvc"]
                    .into_iter()
                    .find(|l| env.starts_with(l))
                    .unwrap_or("none")
                    .into()
            }
            other => {
                return Err(format!(
                    "`{template}` uses the unknown variable `{{ {other} }}`"
                ));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query<'a>(targets: &'a [String]) -> Query<'a> {
        Query {
            name: "tool",
            version: "1.2.3",
            targets,
            explicit_target: true,
            registry_cksum: None,
        }
    }

    #[test]
    fn renders_the_documented_variables() {
        let m = parse_manifest(
            r#"
[package]
name = "tool"
repository = "https://github.com/o/tool/"
[[bin]]
name = "tool"
[package.metadata.binstall]
pkg-url = "{ repo }/releases/download/v{ version }/{ name }-{ target }-v{version}{ archive-suffix }"
"#,
            "tool",
        )
        .unwrap();
        let targets = ["x86_64-unknown-linux-musl".to_owned()];
        let c = candidate(&m, &query(&targets), &targets[0])
            .unwrap()
            .unwrap();
        assert_eq!(
            c.location.to_string(),
            "https://github.com/o/tool/releases/download/v1.2.3/tool-x86_64-unknown-linux-musl-v1.2.3.tgz"
        );
        let Binaries::Paths { paths, .. } = c.binaries else {
            panic!()
        };
        assert_eq!(
            paths,
            [(
                "tool".to_owned(),
                "tool-x86_64-unknown-linux-musl-v1.2.3/tool".to_owned()
            )]
        );
        assert!(matches!(c.check, Check::Unsigned { .. }));
    }

    #[test]
    fn refuses_climbing_templates_wrong_types_and_unknown_variables() {
        let targets = ["x86_64-unknown-linux-musl".to_owned()];
        let with = |binstall: &str| {
            let text =
                format!("[package]\nname = \"tool\"\n[package.metadata.binstall]\n{binstall}\n");
            parse_manifest(&text, "tool")
                .and_then(|m| candidate(&m, &query(&targets), &targets[0]).map(|_| ()))
        };
        assert!(
            with("pkg-url = \"https://h/x.tgz\"\nbin-dir = \"../{ bin }\"")
                .unwrap_err()
                .contains("not a plain relative path")
        );
        assert!(
            with("pkg-url = \"https://h/{ name }/../../x.tgz\"")
                .unwrap_err()
                .contains("climbs")
        );
        assert!(
            with("pkg-url = 3")
                .unwrap_err()
                .contains("is a integer, not a string")
        );
        assert!(
            with("pkg-url = \"https://h/{ nope }\"")
                .unwrap_err()
                .contains("unknown variable")
        );
        assert!(
            with("pkg-url = \"http://example.org/x\"")
                .unwrap_err()
                .contains("loopback")
        );
        assert!(
            with("signing = \"minisign\"")
                .unwrap_err()
                .contains("not a table")
        );
    }
}
