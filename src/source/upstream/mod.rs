//! Releases a crate's author declares in the crate itself, as cargo-binstall reads them:
//! `[package.metadata.binstall]` (`pkg-url`, `bin-dir`, `pkg-fmt`, per-target `overrides`,
//! `signing`) from the `Cargo.toml` inside the `.crate` file, which is downloaded from the
//! registry, streamed to a temporary file while its sha256 is checked against the registry's
//! `cksum` (under a 16 MiB cap), and read only once it matches.
//!
//! No URL guessing: a crate that declares no `pkg-url` is not probed. A declared minisign
//! signature is required to verify; a crate that declares none is offered as unsigned (the
//! trust `cargo install` gives the same author's source: TLS), which the output says and
//! `--require-signed` refuses.

mod manifest;
mod template;

use std::path::Path;

use sha2::{Digest, Sha256};
use toml::Value;

pub use self::manifest::{Declared, Manifest, Signing, parse_manifest};
use self::manifest::{declared, manifest_text};
pub use self::template::PkgFmt;
use self::template::{Vars, check_archive_path};
use super::index::Query;
use super::{Answer, Binaries, Candidate, Check, Origin, allowed_url};
use crate::download::{DownloadError, Fetcher, Location, StreamCheck};
use crate::registry::crates::Registry;

/// The largest `.crate` read (crates.io refuses more than 10 MiB).
const MAX_CRATE_BYTES: u64 = 16 << 20;
/// The largest upstream archive accepted.
pub const MAX_ARCHIVE_BYTES: u64 = 256 << 20;

/// Asks the crate: download the `.crate` (checked against the registry's `cksum`, asked for here
/// when `query` has none), read its manifest, and render the declared URL for the first target
/// that has one.
pub fn probe(fetcher: &Fetcher, registry: &Registry, query: &Query) -> Answer {
    let manifest = match fetch_manifest(
        fetcher,
        registry,
        query.name,
        query.version,
        query.registry_cksum,
    ) {
        Ok(m) => m,
        Err(Problem::Verify(why)) => {
            return Answer::Fail(crate::error::PackageError::Unverified {
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
    let url = || {
        registry
            .crate_url(fetcher, name, version)
            .map_err(|e| Problem::Miss(format!("the registry's download URL is unknown ({e})")))
    };
    // An exact pin resolved without the registry: its checksum and the download URL (which
    // may need the registry's `config.json`) are asked for at once.
    let (cksum, url) = match cksum {
        Some(c) => (c.to_owned(), url()?),
        None => std::thread::scope(|scope| {
            let url = scope.spawn(url);
            let cksum = registry
                .versions(fetcher, name)
                .map_err(|e| Problem::Miss(format!("the registry could not be asked ({e})")))
                .and_then(|versions| {
                    versions
                        .into_iter()
                        .find(|v| v.version.to_string() == version)
                        .map(|v| v.cksum)
                        .ok_or_else(|| {
                            Problem::Miss("the registry does not list this version".into())
                        })
                });
            let url = url.join().unwrap_or_else(|_| {
                Err(Problem::Miss(
                    "the registry's download URL lookup panicked".into(),
                ))
            });
            Ok::<_, Problem>((cksum?, url?))
        })?,
    };
    // Streamed to a file, never held whole: sixteen lookups at once (`--jobs`) would otherwise
    // hold up to sixteen `.crate`s in memory. The system's temp dir (TMPDIR), not the install
    // root: this runs in phase one, which `--dry-run` also runs and which must not create or
    // need a writable root; the file is read here and never moved anywhere. The directory is
    // removed when `dir` drops, on every path out of this function; one the process ended
    // before that (a download no longer needed is not waited for) is swept by a later run.
    let tmp = std::env::temp_dir();
    let dir = crate::temp_dir::owned_in(&tmp, "quickinstall-crate-").map_err(|e| {
        Problem::Miss(format!(
            "no temporary directory for the .crate could be made in `{}` ({e})",
            tmp.display()
        ))
    })?;
    let mut check = CksumCheck {
        hasher: Sha256::new(),
        expected: &cksum,
        url: &url,
    };
    let path = match fetcher.download_checked(
        &url,
        dir.path(),
        "crate",
        MAX_CRATE_BYTES,
        &mut check,
        &|_| {},
    ) {
        Ok(path) => path,
        Err(DownloadError::NotFound { .. }) => {
            return Err(Problem::Miss(format!("`{url}` was not found")));
        }
        Err(DownloadError::Refused { reason, .. }) => return Err(Problem::Verify(reason)),
        Err(e) => {
            return Err(Problem::Miss(format!(
                "the .crate could not be downloaded ({e})"
            )));
        }
    };
    // Only a verified file reaches the gzip and tar parsers.
    let file = std::fs::File::open(&path).map_err(|e| {
        Problem::Miss(format!(
            "the downloaded .crate `{}` could not be read back ({e})",
            path.display()
        ))
    })?;
    let text = manifest_text(file, name, version)
        .map_err(|why| Problem::Verify(format!("the .crate from `{url}` {why}")))?;
    parse_manifest(&text, name).map_err(Problem::Miss)
}

/// The registry's `cksum` checked over the `.crate` as it streams to disk, so no parser sees a
/// byte the registry did not publish.
struct CksumCheck<'a> {
    hasher: Sha256,
    expected: &'a str,
    url: &'a Location,
}

impl StreamCheck for CksumCheck<'_> {
    fn restart(&mut self) {
        self.hasher = Sha256::new();
    }

    fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
    }

    fn finish(&mut self, _written: &Path) -> Result<(), String> {
        let actual = crate::download::to_hex(&self.hasher.finalize_reset());
        if actual.eq_ignore_ascii_case(self.expected) {
            Ok(())
        } else {
            Err(format!(
                "the .crate from `{}` has sha256 {actual}, but the registry lists {}",
                self.url, self.expected
            ))
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cksum_check_starts_over_when_a_download_is_retried() {
        let url = Location::parse("https://example.org/tool.crate").unwrap();
        let expected: String = Sha256::digest(b"the whole crate")
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        let mut check = CksumCheck {
            hasher: Sha256::new(),
            expected: &expected,
            url: &url,
        };
        check.update(b"the wh");
        check.restart();
        check.update(b"the whole ");
        check.update(b"crate");
        assert_eq!(check.finish(Path::new("unused")), Ok(()));
        check.restart();
        check.update(b"the whole crate, and more");
        let why = check.finish(Path::new("unused")).unwrap_err();
        assert!(why.contains("but the registry lists"), "{why}");
        assert!(why.contains("https://example.org/tool.crate"), "{why}");
    }

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
