//! cgo builds with zig: whether a module needs cgo (judged from its sources), the zig triple of
//! a target, finding zig, and the `go install` arguments and variables of a static-pie cgo build.
//! Pure except [`find_zig`]; running `go` is [`super::build_go`].
//!
//! Every command is first built with `CGO_ENABLED=0`. Only when that fails and the module has
//! a file that does `import "C"` is it built again with cgo: `CC="zig cc -target <triple>"`
//! (zig ships musl for every Linux target the index serves, so no cross toolchain is needed),
//! `-buildmode=pie` and `-extldflags '-static-pie -s'`, so the binary is still static and runs
//! on any Linux. Without `-buildmode=pie` the Go half is not position-independent and the
//! linker quietly makes a plain static executable. Darwin and Windows cgo builds are refused.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::detect::is_ignored_by_constraint;

/// The `-ldflags` of a cgo build: the recipe's, external linking, and a static PIE whose C
/// half is stripped too (`-s` of Go strips only what Go's own linker writes).
pub const CGO_LDFLAGS: &str = "-s -w -buildid= -linkmode external -extldflags '-static-pie -s'";

/// What to install so cgo builds work, for messages.
pub const ZIG_HINT: &str =
    "install zig (`python3 -m pip install ziglang`, or put `zig` on PATH, or set ZIG to its path)";

/// Target triple → the `zig cc -target` triple, for the targets cgo builds support (Linux,
/// always against zig's bundled musl so the binary stays static).
pub fn zig_target(target: &str) -> Option<&'static str> {
    Some(match target {
        "x86_64-unknown-linux-musl" | "x86_64-unknown-linux-gnu" => "x86_64-linux-musl",
        "aarch64-unknown-linux-musl" | "aarch64-unknown-linux-gnu" => "aarch64-linux-musl",
        "riscv64gc-unknown-linux-musl" => "riscv64-linux-musl",
        "loongarch64-unknown-linux-musl" => "loongarch64-linux-musl",
        _ => return None,
    })
}

/// Whether any `.go` file `go build` could compile (not a test, not under `testdata/`, not
/// `//go:build ignore`d) does `import "C"`. `sources` maps module-relative paths to contents.
/// The whole module is looked at, not one package: a command's cgo may sit in a library
/// package of the same module.
pub fn module_uses_cgo(sources: &BTreeMap<String, Vec<u8>>) -> bool {
    sources.iter().any(|(path, bytes)| {
        let (dir, file) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        let compiled = file.ends_with(".go")
            && !file.ends_with("_test.go")
            && !file.starts_with(['.', '_'])
            && !dir.split('/').any(|e| e == "testdata");
        compiled && {
            let text = String::from_utf8_lossy(bytes);
            !is_ignored_by_constraint(&text) && imports_c(&text)
        }
    })
}

/// Whether a Go source file imports the pseudo-package `"C"`, as `import "C"` or inside an
/// `import ( … )` group. Comments are skipped (the cgo preamble is one and holds C code);
/// the scan stops at the first declaration after the imports.
pub fn imports_c(text: &str) -> bool {
    let code = strip_comments(text);
    let mut in_group = false;
    for line in code.lines().map(str::trim) {
        if in_group {
            if line.starts_with(')') {
                in_group = false;
            } else if is_c_spec(line) {
                return true;
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("import") {
            let rest = rest.trim();
            if let Some(group) = rest.strip_prefix('(') {
                let group = group.trim();
                // `import ("C")` on one line, or a group that starts on this line.
                match group.split_once(')') {
                    Some((inner, _)) => {
                        if inner.split(';').any(|s| is_c_spec(s.trim())) {
                            return true;
                        }
                    }
                    None => {
                        in_group = true;
                        if is_c_spec(group) {
                            return true;
                        }
                    }
                }
            } else if rest.split(';').next().is_some_and(is_c_spec) {
                return true;
            }
        } else if ["func", "type", "var", "const"].iter().any(|kw| {
            line.strip_prefix(kw)
                .is_some_and(|r| r.starts_with([' ', '\t', '(']))
        }) {
            return false;
        }
    }
    false
}

/// An import spec naming `"C"` (a trailing `;` allowed).
fn is_c_spec(spec: &str) -> bool {
    spec.trim_end_matches(';').trim() == "\"C\""
}

/// `text` without `//` and `/* */` comments (newlines inside block comments kept, so lines
/// stay lines); string and rune literals are left alone so `"//"` is not a comment.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = '\0';
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                    }
                    if prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
            }
            '"' | '\'' | '`' => {
                out.push(c);
                let mut escaped = false;
                for n in chars.by_ref() {
                    out.push(n);
                    if c != '`' && escaped {
                        escaped = false;
                    } else if c != '`' && n == '\\' {
                        escaped = true;
                    } else if n == c || (c != '`' && n == '\n') {
                        break;
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// `go install` arguments of a cgo build of one package at the module's version.
pub fn build_args(package: &str, version: &str) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "install",
        "-buildmode=pie",
        "-trimpath",
        "-buildvcs=false",
        "-ldflags",
        CGO_LDFLAGS,
        "-tags",
        super::recipe::TAGS,
    ]
    .iter()
    .map(OsString::from)
    .collect();
    args.push(format!("{package}@{version}").into());
    args
}

/// The variables a cgo build sets on top of [`super::recipe::build_vars`]: cgo on, zig as the
/// C and C++ compiler for `zig_triple`, and Go's default C flags so a user's `CGO_CFLAGS` and
/// friends do not change the binary. `None` when the zig path cannot be written in a `CC`
/// value (it holds both kinds of quote).
pub fn build_vars(zig: &Path, zig_triple: &str) -> Option<Vec<(OsString, OsString)>> {
    let zig = quote(zig.to_str()?)?;
    let mut vars: Vec<(OsString, OsString)> = vec![
        ("CGO_ENABLED".into(), "1".into()),
        ("CC".into(), format!("{zig} cc -target {zig_triple}").into()),
        (
            "CXX".into(),
            format!("{zig} c++ -target {zig_triple}").into(),
        ),
    ];
    for flags in ["CGO_CFLAGS", "CGO_CXXFLAGS", "CGO_FFLAGS", "CGO_LDFLAGS"] {
        vars.push((flags.into(), "-g -O2".into()));
    }
    vars.push(("CGO_CPPFLAGS".into(), "".into()));
    Some(vars)
}

/// A word as Go splits `CC` (quotes group, no escapes): as is, or quoted when it holds space.
fn quote(word: &str) -> Option<String> {
    if !word.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
        Some(word.to_owned())
    } else if !word.contains('\'') {
        Some(format!("'{word}'"))
    } else if !word.contains('"') {
        Some(format!("\"{word}\""))
    } else {
        None
    }
}

/// Finds zig: `$ZIG` (which must be a file), else `zig` on `path` (a `PATH` value), else the binary of PyPI's
/// `ziglang` package that `python3` imports (what `python3 -m ziglang` runs). `env` is the
/// build's environment, given to `python3`.
pub fn find_zig(
    zig_var: Option<&OsStr>,
    path: Option<&OsStr>,
    env: &[(OsString, OsString)],
) -> Option<PathBuf> {
    // A `$ZIG` that is not a file is a mistake to report, not a cue to look elsewhere.
    if let Some(z) = zig_var.filter(|z| !z.is_empty()) {
        let z = PathBuf::from(z);
        return z.is_file().then_some(z);
    }
    if let Some(found) = path.and_then(|p| {
        std::env::split_paths(p)
            .map(|d| d.join("zig"))
            .find(|z| z.is_file())
    }) {
        return Some(found);
    }
    let output = Command::new("python3")
        .args([
            "-c",
            "import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), 'zig'))",
        ])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let printed = String::from_utf8(output.stdout).ok()?;
    let zig = PathBuf::from(printed.trim());
    (output.status.success() && zig.is_file()).then_some(zig)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREAMBLE: &str = "package main\n\n/*\n#include <stdio.h>\nimport \"C\"\n*/\n";

    #[test]
    fn import_c_is_found_alone_or_in_a_group_but_not_in_comments_or_strings() {
        assert!(imports_c(
            "package main\n\n/*\nint f(void) { return 1; }\n*/\nimport \"C\"\n\nfunc main() {}\n"
        ));
        assert!(imports_c(
            "package x\n\nimport (\n\t\"fmt\"\n\t// the C side\n\t\"C\"\n)\n"
        ));
        assert!(imports_c("package x\nimport (\"C\")\n"));
        assert!(imports_c("package x\nimport \"C\"; import \"os\"\n"));
        // Only inside the preamble comment: not an import.
        assert!(!imports_c(&format!("{PREAMBLE}import \"fmt\"\n")));
        assert!(!imports_c("package x\n// import \"C\"\nimport \"fmt\"\n"));
        // After the imports end, a string that looks like one is code.
        assert!(!imports_c(
            "package x\n\nimport \"fmt\"\n\nvar s = `\nimport \"C\"\n`\n"
        ));
        assert!(!imports_c(
            "package x\n\nimport (\n\t\"fmt\"\n\t\"Cx\"\n)\n"
        ));
    }

    #[test]
    fn only_compiled_files_make_a_module_use_cgo() {
        let cgo = b"package lib\n\nimport \"C\"\n".to_vec();
        let plain = b"package main\n\nfunc main() {}\n".to_vec();
        let module = |path: &str| {
            BTreeMap::from([
                ("main.go".to_owned(), plain.clone()),
                (path.to_owned(), cgo.clone()),
            ])
        };
        assert!(module_uses_cgo(&module("lib/lib.go")));
        assert!(!module_uses_cgo(&module("lib/lib_test.go")));
        assert!(!module_uses_cgo(&module("lib/testdata/x.go")));
        assert!(!module_uses_cgo(&module("lib/_old.go")));
        let ignored = BTreeMap::from([(
            "gen.go".to_owned(),
            b"//go:build ignore\n\npackage main\n\nimport \"C\"\n".to_vec(),
        )]);
        assert!(!module_uses_cgo(&ignored));
    }

    #[test]
    fn linux_targets_map_to_zig_musl_triples_and_others_do_not() {
        assert_eq!(
            zig_target("x86_64-unknown-linux-gnu"),
            Some("x86_64-linux-musl")
        );
        assert_eq!(
            zig_target("riscv64gc-unknown-linux-musl"),
            Some("riscv64-linux-musl")
        );
        assert_eq!(
            zig_target("loongarch64-unknown-linux-musl"),
            Some("loongarch64-linux-musl")
        );
        assert_eq!(zig_target("aarch64-apple-darwin"), None);
        assert_eq!(zig_target("x86_64-pc-windows-msvc"), None);
    }

    #[test]
    fn cgo_args_and_vars_make_a_static_pie_with_zig() {
        let args: Vec<String> = build_args("example.com/c/cmd/x", "v1.0.0")
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args.join(" "),
            "install -buildmode=pie -trimpath -buildvcs=false -ldflags -s -w -buildid= -linkmode external -extldflags '-static-pie -s' -tags netgo,osusergo example.com/c/cmd/x@v1.0.0"
        );
        let vars = build_vars(Path::new("/opt/my zig/zig"), "aarch64-linux-musl").unwrap();
        let get = |k: &str| {
            vars.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.to_str().unwrap())
        };
        assert_eq!(get("CGO_ENABLED"), Some("1"));
        assert_eq!(
            get("CC"),
            Some("'/opt/my zig/zig' cc -target aarch64-linux-musl")
        );
        assert_eq!(get("CGO_LDFLAGS"), Some("-g -O2"));
        assert!(build_vars(Path::new("/a'b\"c/zig"), "x86_64-linux-musl").is_none());
    }

    #[test]
    fn zig_is_taken_from_the_variable_then_path_and_a_wrong_variable_is_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("zig"), "").unwrap();
        let zig = dir.path().join("zig");
        assert_eq!(
            find_zig(Some(zig.as_os_str()), None, &[]),
            Some(zig.clone())
        );
        assert_eq!(
            find_zig(
                Some(dir.path().join("no-zig").as_os_str()),
                Some(dir.path().as_os_str()),
                &[]
            ),
            None
        );
        assert_eq!(
            find_zig(Some(OsStr::new("")), Some(dir.path().as_os_str()), &[]),
            Some(dir.path().join("zig"))
        );
    }
}
