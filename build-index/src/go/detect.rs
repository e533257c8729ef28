//! Which packages of a Go module are commands, judged from its sources alone (no `go` needed).
//!
//! A command is a directory whose kept `.go` files declare `package main` and define
//! `func main(`. Kept means: not a test, not under `testdata/`, `example(s)/`, `_examples/`,
//! an `internal/` element or a `.`/`_` directory, not in a nested module, and not excluded by a
//! `//go:build ignore` constraint. Pure functions over file names and contents; reading the zip
//! is [`super::modzip`].

use std::collections::{BTreeMap, BTreeSet};

/// Directory elements whose packages are never commands worth publishing.
const EXCLUDED_ELEMENTS: &[&str] = &["testdata", "example", "examples", "_examples", "internal"];

/// The import paths of the command packages among `sources` (module-relative path →
/// contents), given every file path of the module (to find nested `go.mod` files). Sorted.
pub fn commands(module: &str, sources: &BTreeMap<String, Vec<u8>>, files: &[&str]) -> Vec<String> {
    let nested: BTreeSet<&str> = files
        .iter()
        .filter_map(|f| f.strip_suffix("/go.mod"))
        .collect();
    // dir → (declares package main, defines func main)
    let mut dirs: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
    for (path, bytes) in sources {
        let (dir, file) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        if !is_kept_file(file) || !is_kept_dir(dir) || in_nested_module(dir, &nested) {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        if is_ignored_by_constraint(&text) || package_name(&text) != Some("main") {
            continue;
        }
        let entry = dirs.entry(dir).or_default();
        entry.0 = true;
        entry.1 |= defines_main(&text);
    }
    dirs.into_iter()
        .filter(|(_, (main_pkg, main_fn))| *main_pkg && *main_fn)
        .map(|(dir, _)| import_path(module, dir))
        .collect()
}

/// `module` joined with a module-relative directory (`""` is the module root).
pub fn import_path(module: &str, dir: &str) -> String {
    if dir.is_empty() {
        module.to_owned()
    } else {
        format!("{module}/{dir}")
    }
}

/// A `.go` file `go build` compiles into the package (tests and `.`/`_` files never are).
fn is_kept_file(name: &str) -> bool {
    name.ends_with(".go")
        && !name.ends_with("_test.go")
        && !name.starts_with('.')
        && !name.starts_with('_')
}

fn is_kept_dir(dir: &str) -> bool {
    dir.is_empty()
        || dir
            .split('/')
            .all(|e| !EXCLUDED_ELEMENTS.contains(&e) && !e.starts_with('.') && !e.starts_with('_'))
}

/// Whether `dir` is (inside) a directory holding its own `go.mod`: another module's code.
fn in_nested_module(dir: &str, nested: &BTreeSet<&str>) -> bool {
    nested.iter().any(|n| {
        dir == *n
            || dir
                .strip_prefix(n)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// The header lines before the package clause: blank lines and `//` comments (build
/// constraints must appear there). Block comments end the header scan conservatively.
fn header_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .take_while(|l| l.is_empty() || l.starts_with("//"))
}

/// Whether a `//go:build` or `// +build` line makes the file depend on the `ignore` tag, which
/// is never set: an expression that needs `ignore` (no `||`, no `!ignore`).
pub fn is_ignored_by_constraint(text: &str) -> bool {
    header_lines(text).any(|line| {
        let expr = line
            .strip_prefix("//go:build")
            .or_else(|| line.strip_prefix("// +build"));
        expr.is_some_and(|e| {
            // `//go:build` lines are `&&`/`||`/`!` expressions; `// +build` lines are
            // space-separated ORs of comma-separated ANDs.
            let old_style = line.starts_with("// +build");
            let has_or = e.contains("||") || (old_style && e.split_whitespace().count() > 1);
            let tokens = e.split(|c: char| c.is_whitespace() || "()&|,".contains(c));
            !has_or && tokens.into_iter().any(|t| t == "ignore")
        })
    })
}

/// The name in the file's package clause, skipping comments before it.
pub fn package_name(text: &str) -> Option<&str> {
    let mut in_block = false;
    for line in text.lines() {
        let mut line = line.trim();
        if in_block {
            match line.find("*/") {
                Some(end) => {
                    in_block = false;
                    line = line.get(end + 2..).unwrap_or_default().trim();
                }
                None => continue,
            }
        }
        while let Some(rest) = line.strip_prefix("/*") {
            match rest.find("*/") {
                Some(end) => line = rest.get(end + 2..).unwrap_or_default().trim(),
                None => {
                    in_block = true;
                    line = "";
                }
            }
        }
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let name = line.strip_prefix("package")?;
        if !name.starts_with(char::is_whitespace) {
            return None;
        }
        return name
            .split(|c: char| c.is_whitespace() || c == ';' || c == '/')
            .find(|s| !s.is_empty());
    }
    None
}

/// Whether some line begins a `func main(` declaration.
fn defines_main(text: &str) -> bool {
    text.lines().any(|l| {
        l.strip_prefix("func")
            .map(str::trim_start)
            .and_then(|rest| rest.strip_prefix("main"))
            .is_some_and(|rest| rest.trim_start().starts_with('('))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIN: &str = "// Command x.\npackage main\n\nfunc main() {}\n";

    fn sources(files: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        files
            .iter()
            .map(|(p, c)| ((*p).to_owned(), c.as_bytes().to_vec()))
            .collect()
    }

    fn detect(files: &[(&str, &str)], others: &[&str]) -> Vec<String> {
        let s = sources(files);
        let mut all: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
        all.extend(others);
        commands("example.com/tool", &s, &all)
    }

    #[test]
    fn finds_main_packages_at_the_root_and_below() {
        let found = detect(
            &[
                ("main.go", MAIN),
                ("cmd/a/main.go", MAIN),
                ("cmd/b/b.go", "package main\n"),
                ("cmd/b/run.go", "package main\nfunc main () {}\n"),
                ("lib/lib.go", "package lib\nfunc main() {}\n"),
                ("cmd/nomain/x.go", "package main\nfunc helper() {}\n"),
            ],
            &["go.mod"],
        );
        assert_eq!(
            found,
            [
                "example.com/tool",
                "example.com/tool/cmd/a",
                "example.com/tool/cmd/b"
            ]
        );
    }

    #[test]
    fn skips_tests_examples_internal_hidden_and_nested_modules() {
        let found = detect(
            &[
                ("cmd/t/main_test.go", MAIN),
                ("testdata/x/main.go", MAIN),
                ("example/main.go", MAIN),
                ("examples/e/main.go", MAIN),
                ("_examples/e/main.go", MAIN),
                ("internal/tool/main.go", MAIN),
                ("cmd/internal/gen/main.go", MAIN),
                (".hidden/main.go", MAIN),
                ("_tools/main.go", MAIN),
                ("cmd/_x.go", MAIN),
                ("sub/cmd/main.go", MAIN),
                ("sub/main.go", MAIN),
            ],
            &["go.mod", "sub/go.mod"],
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn ignore_build_constraints_exclude_a_file() {
        let generator = "//go:build ignore\n\npackage main\n\nfunc main() {}\n";
        let old = "// +build ignore\n\npackage main\n\nfunc main() {}\n";
        assert!(is_ignored_by_constraint(generator));
        assert!(is_ignored_by_constraint(old));
        assert!(!is_ignored_by_constraint(
            "//go:build linux || ignore\npackage main\n"
        ));
        assert!(!is_ignored_by_constraint(
            "//go:build !ignore\npackage main\n"
        ));
        assert!(!is_ignored_by_constraint(
            "package main\n//go:build ignore\n"
        ));
        assert!(detect(&[("gen.go", generator), ("lib.go", "package lib\n")], &[]).is_empty());
    }

    #[test]
    fn reads_the_package_clause_after_comments() {
        assert_eq!(package_name("/* a\n b */ package main\n"), Some("main"));
        assert_eq!(package_name("// x\n\npackage foo // c\n"), Some("foo"));
        assert_eq!(package_name("packagemain\n"), None);
        assert_eq!(package_name(""), None);
    }
}
