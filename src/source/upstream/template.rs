//! cargo-binstall's templates as this installer renders them: the archive formats `pkg-fmt`
//! names, the `{ var }` placeholders of `pkg-url`, `bin-dir` and a signature's `file`
//! (`{ name }`, `{ version }`, `{ target }`, `{ repo }`, `{ archive-suffix }`, `{ binary-ext }`,
//! `{ bin }`, `{ url }`, `{ target-arch }`, …), and the check that a rendered `bin-dir` stays
//! inside the archive. Pure string work.

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
    pub(super) fn parse(s: &str) -> Option<Self> {
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

/// A path inside an archive: relative, no `..`, no empty or `.` parts, no backslashes.
pub(super) fn check_archive_path(path: &str) -> Result<(), String> {
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
pub(super) struct Vars<'a> {
    pub(super) name: &'a str,
    pub(super) version: &'a str,
    pub(super) target: &'a str,
    pub(super) repo: Option<&'a str>,
    pub(super) fmt: PkgFmt,
}

impl Vars<'_> {
    /// Renders `{ var }` placeholders (spaces optional; `\{`, `\}`, `\\` are literals). An
    /// unknown variable, or `repo` when the crate names none, is an error.
    pub(super) fn render(
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
