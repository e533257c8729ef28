//! `quickinstall.toml`: the tools a project wants, read and validated with line numbers.
//!
//! ```toml
//! targets = ["x86_64-unknown-linux-musl"]    # optional; default: this host's
//! [crates]
//! cargo-nextest = "0.9"                      # cargo's requirement syntax
//! just = { version = "=1.36.0", bin = ["just"], sources = ["index", "build"] }
//! [go]
//! "golang.org/x/tools/cmd/stringer" = "latest"   # go's query syntax
//! ```
//!
//! Every mistake is an error naming the file and line; unknown keys too (a typo must not
//! silently drop a tool). Resolution and the lock live in [`super::lock`] and [`super::sync`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::ToolsetError;
use crate::registry::goproxy::version::Query;
use crate::source::Origin;

/// The manifest's file name, looked for upward from the working directory.
pub const MANIFEST_NAME: &str = "quickinstall.toml";

/// Which ecosystem a tool comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Crate,
    Go,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crate => "crate",
            Self::Go => "go",
        }
    }
}

/// One tool as the manifest asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    pub kind: Kind,
    /// The crate's name, or the Go package path.
    pub name: String,
    /// The requirement (crates) or query (Go), as written.
    pub requirement: String,
    /// `bin = [...]`: only these binaries (empty: all).
    pub bins: Vec<String>,
    /// `targets = [...]`: this tool only for these (a subset of the manifest's); `None`: all.
    pub targets: Option<Vec<String>>,
    /// `sources = [...]`: where its prebuilt may come from, in order; `None`: the default order.
    pub sources: Option<Vec<String>>,
    /// 1-based line of its entry.
    pub line: usize,
}

impl Tool {
    /// The entry's content in one canonical line: what the lock records to tell whether the
    /// entry changed since it was resolved.
    pub fn fingerprint(&self) -> String {
        format!(
            "{} {} {} bin={} targets={} sources={}",
            self.kind.as_str(),
            self.name,
            self.requirement,
            self.bins.join(","),
            self.targets.as_ref().map_or("*".into(), |t| t.join(",")),
            self.sources.as_ref().map_or("*".into(), |s| s.join(",")),
        )
    }
}

/// A parsed, validated `quickinstall.toml`.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub path: PathBuf,
    /// The targets as written (empty: this host's).
    pub targets: Vec<String>,
    /// 1-based line of `targets`, when written.
    pub targets_line: Option<usize>,
    /// Sorted by kind, then name.
    pub tools: Vec<Tool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    targets: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    crates: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    go: BTreeMap<String, Spanned<toml::Value>>,
}

/// The 1-based line of byte offset `at` in `text`.
pub fn line_of(text: &str, at: usize) -> usize {
    text.get(..at).unwrap_or(text).matches('\n').count() + 1
}

impl Manifest {
    /// Reads and validates the manifest at `path`.
    pub fn load(path: &Path) -> Result<Self, ToolsetError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ToolsetError::new(
                format!("could not read `{}`: {e}", path.display()),
                "check the path given to --manifest",
            )
        })?;
        Self::parse(path, &text)
    }

    /// Parses and validates manifest `text` (read from `path`, which messages name).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ToolsetError> {
        let at = |line: usize, message: String, help: &str| {
            ToolsetError::new(format!("{}:{line}: {message}", path.display()), help)
        };
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            let message = e.message().trim().replace('\n', " ");
            at(
                line,
                message,
                "the manifest has `targets = [...]`, a `[crates]` table (name = \"requirement\") and a `[go]` table (\"package/path\" = \"query\")",
            )
        })?;
        let mut targets = Vec::new();
        let mut targets_line = None;
        if let Some(t) = &raw.targets {
            let line = line_of(text, t.span().start);
            targets_line = Some(line);
            for target in t.get_ref() {
                if !crate::index::format::is_valid_target(target) {
                    return Err(at(
                        line,
                        format!("`{target}` is not a target triple"),
                        "write triples such as `x86_64-unknown-linux-musl`",
                    ));
                }
                if targets.contains(target) {
                    return Err(at(
                        line,
                        format!("target `{target}` is listed twice"),
                        "list each target once",
                    ));
                }
                targets.push(target.clone());
            }
        }
        let mut tools = Vec::new();
        for (kind, table) in [(Kind::Crate, &raw.crates), (Kind::Go, &raw.go)] {
            for (name, value) in table {
                let line = line_of(text, value.span().start);
                let tool = tool(kind, name, value.get_ref(), line, &targets)
                    .map_err(|(message, help)| at(line, message, &help))?;
                tools.push(tool);
            }
        }
        tools.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        let manifest = Self {
            path: path.to_owned(),
            targets,
            targets_line,
            tools,
        };
        manifest.check_binary_names()?;
        Ok(manifest)
    }

    /// Two tools that say they provide the same binary (`bin = [...]`) would overwrite each
    /// other. (Binaries not named here are checked once resolved, in the lock.)
    fn check_binary_names(&self) -> Result<(), ToolsetError> {
        let mut seen: BTreeMap<&str, &Tool> = BTreeMap::new();
        for tool in &self.tools {
            for bin in &tool.bins {
                if let Some(other) = seen.insert(bin, tool) {
                    return Err(ToolsetError::new(
                        format!(
                            "{}:{}: `{}` and `{}` (line {}) both provide the binary `{bin}`",
                            self.path.display(),
                            tool.line,
                            tool.name,
                            other.name,
                            other.line
                        ),
                        "keep one of them, or narrow one with `bin = [...]`",
                    ));
                }
            }
        }
        Ok(())
    }

    /// A hash of the manifest's normalized content (comments, spacing and order do not count),
    /// recorded in the lock so a lock older than the manifest is noticed.
    pub fn content_hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(format!("targets={}\n", self.targets.join(",")));
        for tool in &self.tools {
            hasher.update(tool.fingerprint());
            hasher.update("\n");
        }
        crate::download::to_hex(&hasher.finalize())
    }

    /// The tool named `name` (a crate name or Go package path).
    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
    }
}

type Refusal = (String, String);

/// One entry of `[crates]` or `[go]`: a requirement string, or a table.
fn tool(
    kind: Kind,
    name: &str,
    value: &toml::Value,
    line: usize,
    all_targets: &[String],
) -> Result<Tool, Refusal> {
    let mut tool = Tool {
        kind,
        name: name.to_owned(),
        requirement: String::new(),
        bins: Vec::new(),
        targets: None,
        sources: None,
        line,
    };
    match kind {
        Kind::Crate if !crate::index::path::is_valid_crate_name(name) => {
            return Err((
                format!("`{name}` is not a valid crate name"),
                "crate names are letters, digits, `-` and `_`".into(),
            ));
        }
        Kind::Go if !crate::index::path::is_valid_module_path(name) => {
            return Err((
                format!("`{name}` is not a Go package path"),
                "write the full import path, like `golang.org/x/tools/cmd/stringer`".into(),
            ));
        }
        _ => {}
    }
    match value {
        toml::Value::String(s) => tool.requirement = s.clone(),
        toml::Value::Table(table) => {
            for (key, value) in table {
                match key.as_str() {
                    "version" => {
                        tool.requirement = string(name, key, value)?;
                    }
                    "bin" => tool.bins = strings(name, key, value)?,
                    "targets" => tool.targets = Some(strings(name, key, value)?),
                    "sources" => tool.sources = Some(strings(name, key, value)?),
                    other => {
                        return Err((
                            format!("`{name}`: unknown key `{other}`"),
                            "a tool's table takes `version`, `bin`, `targets` and `sources`".into(),
                        ));
                    }
                }
            }
            if !table.contains_key("version") {
                return Err((
                    format!("`{name}` has no `version`"),
                    format!(
                        "write `version = \"{}\"` in its table",
                        if kind == Kind::Go { "latest" } else { "*" }
                    ),
                ));
            }
        }
        other => {
            return Err((
                format!(
                    "`{name}` should be a version string or a table, not a {}",
                    other.type_str()
                ),
                format!(
                    "for example `{name} = \"{}\"`",
                    if kind == Kind::Go { "latest" } else { "1.2" }
                ),
            ));
        }
    }
    match kind {
        Kind::Crate => {
            if let Err(e) = semver::VersionReq::parse(&tool.requirement) {
                return Err((
                    format!(
                        "`{name}`: `{}` is not a version requirement ({e})",
                        tool.requirement
                    ),
                    "use cargo's syntax: `1.2`, `=1.2.3`, `~1.2`, `>=1, <2` or `*`".into(),
                ));
            }
        }
        Kind::Go => {
            if let Err(e) = Query::parse(&tool.requirement) {
                return Err((
                    format!(
                        "`{name}`: `{}` is not a Go version query ({e:?})",
                        tool.requirement
                    ),
                    "use go's syntax: `latest`, `v1.2.3`, `v1.2`, `v1` or `>=v1.2.0`".into(),
                ));
            }
        }
    }
    for bin in &tool.bins {
        if !crate::index::format::is_valid_binary_name(bin) {
            return Err((
                format!("`{name}`: `{bin}` is not a binary name"),
                "name the binary's file, without a directory".into(),
            ));
        }
    }
    if let Some(targets) = &tool.targets {
        for t in targets {
            let listed = if all_targets.is_empty() {
                crate::target::host_targets().contains(t)
            } else {
                all_targets.contains(t)
            };
            if !listed {
                return Err((
                    format!("`{name}`: target `{t}` is not one of the manifest's targets"),
                    "a tool's `targets` narrows the top-level `targets = [...]`; add it there first"
                        .into(),
                ));
            }
        }
    }
    if let Some(sources) = &tool.sources {
        if kind == Kind::Go {
            return Err((
                format!("`{name}`: `sources` applies to crates only"),
                "remove it; Go packages come from the index or `go install`".into(),
            ));
        }
        Origin::parse_list(sources).map_err(|e| {
            let (message, help) = e.split_once("\nhelp: ").unwrap_or((&e, ""));
            (
                format!("`{name}`: {}", message.replace("--sources", "sources")),
                help.to_owned(),
            )
        })?;
    }
    Ok(tool)
}

fn string(name: &str, key: &str, value: &toml::Value) -> Result<String, Refusal> {
    value.as_str().map(str::to_owned).ok_or_else(|| {
        (
            format!("`{name}`: `{key}` should be a string"),
            format!("for example `{key} = \"1.2\"`"),
        )
    })
}

fn strings(name: &str, key: &str, value: &toml::Value) -> Result<Vec<String>, Refusal> {
    let refuse = || {
        (
            format!("`{name}`: `{key}` should be a list of strings"),
            format!("for example `{key} = [\"a\", \"b\"]`"),
        )
    };
    value
        .as_array()
        .ok_or_else(refuse)?
        .iter()
        .map(|v| v.as_str().map(str::to_owned).ok_or_else(refuse))
        .collect()
}

/// The manifest to use: `flag` (relative to `cwd`), else the first `quickinstall.toml` found
/// in `cwd` or a parent directory, as cargo finds `Cargo.toml`.
pub fn find(cwd: &Path, flag: Option<&Path>) -> Result<PathBuf, ToolsetError> {
    if let Some(path) = flag {
        let path = cwd.join(path);
        if !path.is_file() {
            return Err(ToolsetError::new(
                format!("the manifest `{}` does not exist", path.display()),
                "check the path given to --manifest",
            ));
        }
        return Ok(path);
    }
    for dir in cwd.ancestors() {
        let candidate = dir.join(MANIFEST_NAME);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(ToolsetError::new(
        format!(
            "no `{MANIFEST_NAME}` in `{}` or any parent directory",
            cwd.display()
        ),
        "create one at the repository root (see the README), or pass --manifest PATH",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, String> {
        Manifest::parse(Path::new("q.toml"), text).map_err(|e| e.message)
    }

    #[test]
    fn reads_requirements_tables_and_go_queries() {
        let m = parse(
            "targets = [\"x86_64-unknown-linux-musl\"]\n[crates]\nb = \"0.9\"\na = { version = \"=1.0.0\", bin = [\"a\"] }\n[go]\n\"example.com/x/cmd/y\" = \"v1.2\"\n",
        )
        .unwrap();
        let names: Vec<_> = m.tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "example.com/x/cmd/y"]);
        assert_eq!(m.tools[0].line, 4);
        assert_eq!(m.tools[0].bins, ["a"]);
        assert_eq!(m.targets_line, Some(1));
    }

    #[test]
    fn the_hash_ignores_comments_and_order() {
        let a = parse("[crates]\na = \"1\"\nb = \"2\"\n").unwrap();
        let b = parse("# tools\n[crates]\nb = \"2\"\n\na = \"1\"\n").unwrap();
        let c = parse("[crates]\na = \"1\"\nb = \"3\"\n").unwrap();
        assert_eq!(a.content_hash(), b.content_hash());
        assert_ne!(a.content_hash(), c.content_hash());
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("[crates]\na = \"1\"\nb = \"not a req\"\n").unwrap_err();
        assert!(e.starts_with("q.toml:3: `b`"), "{e}");
        let e = parse("[crates]\na = { version = \"1\", bins = [] }\n").unwrap_err();
        assert!(e.starts_with("q.toml:2:") && e.contains("`bins`"), "{e}");
        let e = parse("[crate]\na = \"1\"\n").unwrap_err();
        assert!(e.starts_with("q.toml:1:") && e.contains("crate"), "{e}");
        let e = parse("[go]\n\"example.com/a\" = \"<=v1.2\"\n").unwrap_err();
        assert!(e.starts_with("q.toml:2:"), "{e}");
        let e = parse("[crates]\na = { version = \"1\", bin = [\"x\"] }\nb = { version = \"1\", bin = [\"x\"] }\n").unwrap_err();
        assert!(e.starts_with("q.toml:3:") && e.contains("line 2"), "{e}");
    }
}
