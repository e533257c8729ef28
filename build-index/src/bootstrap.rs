//! `build-index bootstrap-script`: renders the POSIX `install.sh` (or, with `--powershell`,
//! the Windows `install.ps1`) that installs the project's own prebuilt binaries without
//! compiling them.
//!
//! It reads each crate's signed bundle from a local index, verifies it the way the clients do
//! (a key trusted directly, or a root's delegation; by default the roots built into the
//! clients), and writes a table of (crate, version, target, sha256, archive
//! URL, binaries, index file) for the newest version into `scripts/install.sh.in`, with the
//! keys the script verifies the index through when `minisign` is there. Every value
//! that reaches the script is checked against a small character set first, so nothing in an
//! index file can become shell syntax. It does not download or run anything.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use quickinstall::index::delegation::valid_index_id;
use quickinstall::index::format::{self, PackageFile, PackageKind, Release};
use quickinstall::index::path::{package_file, signed_file};
use quickinstall::index::signature::{BUILTIN_ROOTS, SignatureError, TrustedKeys};

/// The installer template; `@NAME@` placeholders are filled by [`render`].
const TEMPLATE: &str = include_str!("../../scripts/install.sh.in");

/// The PowerShell installer template, same placeholders; the table sits in a single-quoted
/// here-string, which interpolates nothing and which no checked value can end (no quotes).
const TEMPLATE_PS1: &str = include_str!("../../scripts/install.ps1.in");

/// Which installer to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavor {
    /// `install.sh`, POSIX sh (Linux, macOS, Git Bash/MSYS2 on Windows).
    #[default]
    Sh,
    /// `install.ps1`, Windows PowerShell 5.1 and PowerShell 7.
    PowerShell,
}

/// What to render the installer from.
#[derive(Debug, Clone)]
pub struct BootstrapRequest {
    pub index: PathBuf,
    /// The URL the index is served at; relative archive paths are joined to it.
    pub base_url: String,
    pub crates: Vec<String>,
    /// A signing key trusted directly: a minisign `.pub` file or its base64 line.
    pub public_key: Option<PathBuf>,
    /// Root keys (same forms) whose delegations are accepted. With neither these nor
    /// `public_key`: [`BUILTIN_ROOTS`], the roots the clients carry.
    pub roots: Vec<PathBuf>,
    /// The index identity delegations must name.
    pub index_id: String,
}

/// The keys an installer carries, as base64 lines (checked by [`render`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Carried {
    /// Trusted directly; empty for none.
    pub public_key: String,
    pub roots: Vec<String>,
    pub index_id: String,
}

/// Why the installer could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("`{0}` is not a valid crate name")]
    BadCrate(String),
    #[error("could not read `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("the public key in `{}` is not usable: {source}", path.display())]
    Key {
        path: PathBuf,
        source: SignatureError,
    },
    #[error("the package file of `{krate}` in `{}` does not verify: {source}", index.display())]
    Signature {
        krate: String,
        index: PathBuf,
        source: SignatureError,
    },
    #[error("the package file of `{krate}` is invalid: {source}")]
    Format {
        krate: String,
        source: format::FormatError,
    },
    #[error("the index has no release of `{0}` to bootstrap")]
    NoRelease(String),
    #[error("`{value}` ({what} of `{krate}`) cannot go into a shell script safely")]
    Unsafe {
        krate: String,
        what: &'static str,
        value: String,
    },
    #[error("the base URL `{0}` must be an http:// or https:// URL without quotes or spaces")]
    BadBaseUrl(String),
    #[error("`{0}` is not a valid index id (letters, digits, `-`, `_`, `.`, `/`)")]
    BadIndexId(String),
}

/// One row of the installer's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub krate: String,
    pub version: String,
    pub target: String,
    pub sha256: String,
    pub url: String,
    pub binaries: Vec<String>,
    pub index_file: String,
}

/// Reads, verifies and renders: the whole `install.sh` (or `install.ps1`) text.
pub fn bootstrap_script(
    request: &BootstrapRequest,
    flavor: Flavor,
) -> Result<String, BootstrapError> {
    let base_url = normalize_base_url(&request.base_url)?;
    if !valid_index_id(&request.index_id) {
        return Err(BootstrapError::BadIndexId(request.index_id.clone()));
    }
    let (keys, carried) = load_keys(request)?;
    let mut rows = Vec::new();
    for krate in &request.crates {
        let file = read_verified(&request.index, krate, &keys)?;
        rows.extend(newest_rows(&file, krate, &base_url)?);
    }
    let text = render(&base_url, &carried, &request.crates, &rows)?;
    Ok(match flavor {
        Flavor::Sh => text,
        Flavor::PowerShell => fill(TEMPLATE_PS1, &base_url, &carried, &request.crates, &rows),
    })
}

/// The keys the index is verified with now, and the same keys as the script will carry them.
fn load_keys(request: &BootstrapRequest) -> Result<(TrustedKeys, Carried), BootstrapError> {
    let mut carried = Carried {
        index_id: request.index_id.clone(),
        ..Carried::default()
    };
    if request.public_key.is_none() && request.roots.is_empty() {
        let mut keys = TrustedKeys::builtin();
        keys.set_index_id(&request.index_id);
        carried.roots = BUILTIN_ROOTS.iter().map(|k| (*k).to_owned()).collect();
        return Ok((keys, carried));
    }
    let mut keys = TrustedKeys::empty();
    keys.set_index_id(&request.index_id);
    let key_error = |path: &Path| {
        let path = path.to_owned();
        move |source| BootstrapError::Key { path, source }
    };
    if let Some(path) = &request.public_key {
        let text = read(path)?;
        keys.add_text(&text).map_err(key_error(path))?;
        carried.public_key = public_key_line(&text);
    }
    for path in &request.roots {
        let text = read(path)?;
        keys.add_root_text(&text).map_err(key_error(path))?;
        carried.roots.push(public_key_line(&text));
    }
    Ok((keys, carried))
}

/// The package file of `krate`, after its signature verified and its contents validated.
fn read_verified(
    index: &Path,
    krate: &str,
    keys: &TrustedKeys,
) -> Result<PackageFile, BootstrapError> {
    let rel = package_file(PackageKind::Crate, krate)
        .ok_or_else(|| BootstrapError::BadCrate(krate.to_owned()))?;
    // The bundle, as clients and the rendered script read it, checked the same way.
    let path = index.join(signed_file(&rel));
    let bundle = std::fs::read(&path).map_err(|source| BootstrapError::Read { path, source })?;
    let (_, data) =
        keys.verify_bundle(&bundle, &rel)
            .map_err(|source| BootstrapError::Signature {
                krate: krate.to_owned(),
                index: index.to_owned(),
                source,
            })?;
    PackageFile::parse(data, PackageKind::Crate, krate).map_err(|source| BootstrapError::Format {
        krate: krate.to_owned(),
        source,
    })
}

/// The rows of the newest non-prerelease version (the newest prerelease if there is nothing
/// else), one per target, sorted by target.
pub fn newest_rows(
    file: &PackageFile,
    krate: &str,
    base_url: &str,
) -> Result<Vec<Row>, BootstrapError> {
    let versioned = file
        .releases
        .iter()
        .filter_map(|r| format::parse_version(&r.version).map(|v| (v, r)));
    let stable = versioned
        .clone()
        .filter(|(v, _)| v.pre.is_empty())
        .map(|(v, _)| v)
        .max();
    let newest = stable
        .or_else(|| versioned.clone().map(|(v, _)| v).max())
        .ok_or_else(|| BootstrapError::NoRelease(krate.to_owned()))?;
    let index_file = package_file(PackageKind::Crate, krate)
        .ok_or_else(|| BootstrapError::BadCrate(krate.to_owned()))?;
    let mut rows = versioned
        .filter(|(v, _)| *v == newest)
        .map(|(_, r)| row(krate, r, base_url, &index_file))
        .collect::<Result<Vec<_>, _>>()?;
    rows.sort_by(|a, b| a.target.cmp(&b.target));
    Ok(rows)
}

fn row(
    krate: &str,
    release: &Release,
    base_url: &str,
    index_file: &str,
) -> Result<Row, BootstrapError> {
    let url = if release.archive.starts_with("https://") || release.archive.starts_with("http://") {
        release.archive.clone()
    } else {
        format!("{base_url}{}", release.archive)
    };
    let row = Row {
        krate: krate.to_owned(),
        version: release.version.clone(),
        target: release.target.clone(),
        sha256: release.sha256.clone(),
        url,
        binaries: release.binaries.clone(),
        index_file: index_file.to_owned(),
    };
    check_row(&row)?;
    Ok(row)
}

/// A predicate on one value that goes into the script.
type WordCheck = fn(&str) -> bool;

/// Every value is a single shell word that needs no quoting inside the quoted heredoc.
fn check_row(row: &Row) -> Result<(), BootstrapError> {
    let unsafe_value = |what, value: &str| BootstrapError::Unsafe {
        krate: row.krate.clone(),
        what,
        value: value.to_owned(),
    };
    let checks: [(&'static str, &str, WordCheck); 5] = [
        ("version", &row.version, is_plain_word),
        ("target", &row.target, is_plain_word),
        ("sha256", &row.sha256, format::is_sha256_hex),
        ("archive URL", &row.url, is_safe_url),
        ("index file", &row.index_file, is_safe_url),
    ];
    for (what, value, ok) in checks {
        if !ok(value) {
            return Err(unsafe_value(what, value));
        }
    }
    if let Some(bad) = row.binaries.iter().find(|b| !is_plain_word(b)) {
        return Err(unsafe_value("binary name", bad));
    }
    if row.binaries.is_empty() {
        return Err(unsafe_value("binary list", ""));
    }
    Ok(())
}

/// Letters, digits and `._+-`, not starting with `-` (so tar never reads it as an option).
pub fn is_plain_word(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-'))
}

/// URL characters that are inert in sh, even unquoted: no quotes, spaces, `$`, `;`, `&`, `*`.
pub fn is_safe_url(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'.' | b'_' | b'+' | b'-' | b'/' | b':' | b'%' | b'~' | b'@' | b'='
                )
        })
}

fn normalize_base_url(url: &str) -> Result<String, BootstrapError> {
    let ok = (url.starts_with("https://") || url.starts_with("http://")) && is_safe_url(url);
    if !ok {
        return Err(BootstrapError::BadBaseUrl(url.to_owned()));
    }
    Ok(if url.ends_with('/') {
        url.to_owned()
    } else {
        format!("{url}/")
    })
}

/// The base64 key line of a `.pub` file's text (the last non-empty line), or the text itself.
fn public_key_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
        .unwrap_or_default()
        .to_owned()
}

/// Fills the template. The keys, the index id and the crate names are checked like table
/// values.
pub fn render(
    base_url: &str,
    carried: &Carried,
    crates: &[String],
    rows: &[Row],
) -> Result<String, BootstrapError> {
    let is_base64 = |k: &str| {
        !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    };
    let keys = std::iter::once(&carried.public_key)
        .filter(|k| !k.is_empty())
        .chain(&carried.roots);
    for key in keys.clone() {
        if !is_base64(key) {
            return Err(BootstrapError::Unsafe {
                krate: crates.join(" "),
                what: "public key",
                value: key.clone(),
            });
        }
    }
    if keys.count() == 0 {
        return Err(BootstrapError::Unsafe {
            krate: crates.join(" "),
            what: "public key",
            value: String::new(),
        });
    }
    if !valid_index_id(&carried.index_id) {
        return Err(BootstrapError::BadIndexId(carried.index_id.clone()));
    }
    if let Some(bad) = crates.iter().find(|c| !is_plain_word(c)) {
        return Err(BootstrapError::BadCrate(bad.clone()));
    }
    Ok(fill(TEMPLATE, base_url, carried, crates, rows))
}

/// Fills `template` with values [`render`] has checked.
fn fill(
    template: &str,
    base_url: &str,
    carried: &Carried,
    crates: &[String],
    rows: &[Row],
) -> String {
    let mut table = String::new();
    for r in rows {
        let _ = writeln!(
            table,
            "{} {} {} {} {} {} {}",
            r.krate,
            r.version,
            r.target,
            r.sha256,
            r.url,
            r.binaries.join(","),
            r.index_file
        );
    }
    template
        .replace("@BASE_URL@", base_url)
        .replace("@PUBLIC_KEY@", &carried.public_key)
        .replace("@ROOT_KEYS@", &carried.roots.join(" "))
        .replace("@INDEX_ID@", &carried.index_id)
        .replace("@CRATES@", &crates.join(" "))
        .replace("@TABLE@", table.trim_end())
}

fn read(path: &Path) -> Result<String, BootstrapError> {
    std::fs::read_to_string(path).map_err(|source| BootstrapError::Read {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(version: &str, target: &str, archive: &str) -> Release {
        serde_json::from_value(serde_json::json!({
            "version": version, "target": target, "archive": archive,
            "sha256": "a".repeat(64), "size": 1, "binaries": ["cargo-quickinstall"],
            "recipe": 1,
            "provenance": {"source_checksum": null, "built_at": "2026-01-01T00:00:00Z", "toolchain": "rustc 1.95.0"}
        }))
        .unwrap()
    }

    fn carried(public_key: &str) -> Carried {
        Carried {
            public_key: public_key.into(),
            roots: vec!["RWSroot1".into(), "RWSroot2".into()],
            index_id: "quickinstall".into(),
        }
    }

    fn file(releases: Vec<Release>) -> PackageFile {
        let mut f = PackageFile::new(PackageKind::Crate, "cargo-quickinstall");
        f.releases = releases;
        f
    }

    #[test]
    fn takes_the_newest_stable_version_for_every_target() {
        let f = file(vec![
            release("0.2.0", "x86_64-unknown-linux-musl", "archives/a.tar.gz"),
            release("0.10.0", "x86_64-unknown-linux-musl", "archives/b.tar.gz"),
            release(
                "0.10.0",
                "aarch64-apple-darwin",
                "https://cdn.example/c.tar.gz",
            ),
            release(
                "0.11.0-rc.1",
                "x86_64-unknown-linux-musl",
                "archives/d.tar.gz",
            ),
        ]);
        let rows = newest_rows(&f, "cargo-quickinstall", "http://127.0.0.1:1/").unwrap();
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.version.as_str(), r.target.as_str(), r.url.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "0.10.0",
                    "aarch64-apple-darwin",
                    "https://cdn.example/c.tar.gz"
                ),
                (
                    "0.10.0",
                    "x86_64-unknown-linux-musl",
                    "http://127.0.0.1:1/archives/b.tar.gz"
                ),
            ]
        );
    }

    #[test]
    fn refuses_values_that_could_become_shell_syntax() {
        let f = file(vec![release(
            "1.0.0",
            "x86_64-unknown-linux-musl",
            "https://x.example/$(reboot).tar.gz",
        )]);
        let err = newest_rows(&f, "cargo-quickinstall", "http://127.0.0.1:1/").unwrap_err();
        assert!(err.to_string().contains("archive URL"), "{err}");
        assert!(!is_plain_word("-rf"));
        assert!(!is_safe_url("http://a/b c"));
        assert!(normalize_base_url("http://x/'").is_err());
    }

    #[test]
    fn renders_every_placeholder() {
        let rows = newest_rows(
            &file(vec![release(
                "1.0.0",
                "x86_64-unknown-linux-musl",
                "archives/a.tar.gz",
            )]),
            "cargo-quickinstall",
            "http://127.0.0.1:1/",
        )
        .unwrap();
        let crates = vec!["cargo-quickinstall".to_owned()];
        let script = render("http://127.0.0.1:1/", &carried("RWSkey+/="), &crates, &rows).unwrap();
        for placeholder in ["@TABLE@", "@BASE_URL@", "@ROOT_KEYS@", "@INDEX_ID@"] {
            assert!(!script.contains(placeholder), "{placeholder} left");
        }
        assert!(script.contains("QI_ROOT_KEYS='RWSroot1 RWSroot2'\nQI_INDEX_ID='quickinstall'"));
        assert!(script.contains(&format!(
            "cargo-quickinstall 1.0.0 x86_64-unknown-linux-musl {} http://127.0.0.1:1/archives/a.tar.gz cargo-quickinstall crates/ca/rg/cargo-quickinstall.json",
            "a".repeat(64)
        )));
        assert!(render("http://127.0.0.1:1/", &carried("key'"), &crates, &rows).is_err());
        let mut bad_root = carried("");
        bad_root.roots.push("$(reboot)".into());
        assert!(render("http://127.0.0.1:1/", &bad_root, &crates, &rows).is_err());
        let no_keys = Carried {
            index_id: "quickinstall".into(),
            ..Carried::default()
        };
        assert!(render("http://127.0.0.1:1/", &no_keys, &crates, &rows).is_err());
        let mut bad_id = carried("RWSkey");
        bad_id.index_id = "a'b".into();
        assert!(render("http://127.0.0.1:1/", &bad_id, &crates, &rows).is_err());
    }

    #[test]
    fn the_powershell_template_takes_the_same_values_inside_a_literal_here_string() {
        let rows = newest_rows(
            &file(vec![release(
                "1.0.0",
                "x86_64-pc-windows-msvc",
                "archives/a.tar.gz",
            )]),
            "quickinstall",
            "http://127.0.0.1:1/",
        )
        .unwrap();
        let crates = vec!["quickinstall".to_owned()];
        let script = fill(
            TEMPLATE_PS1,
            "http://127.0.0.1:1/",
            &carried("RWSkey+/="),
            &crates,
            &rows,
        );
        for placeholder in [
            "@TABLE@",
            "@BASE_URL@",
            "@PUBLIC_KEY@",
            "@CRATES@",
            "@ROOT_KEYS@",
            "@INDEX_ID@",
        ] {
            assert!(!script.contains(placeholder), "{placeholder} left");
        }
        assert!(script.contains("$PublicKey = 'RWSkey+/='"));
        // The table is the body of `@' ... '@`: it starts on the line after the opener and
        // the closer is alone at the start of the line after it.
        let row = format!(
            "quickinstall 1.0.0 x86_64-pc-windows-msvc {} http://127.0.0.1:1/archives/a.tar.gz cargo-quickinstall crates/qu/ic/quickinstall.json",
            "a".repeat(64)
        );
        assert!(
            script.contains(&format!("$Table = @'\n{row}\n'@\n")),
            "{script}"
        );
    }
}
