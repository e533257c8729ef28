//! External programs some tests need (`go`, `zig`, `dash`, `busybox`, `minisign`,
//! `qemu-aarch64`, `musl-gcc`, …): found the way the code under test finds them, or reported.
//!
//! A missing tool skips the test with a line naming it, except under `CI=true`, where it fails
//! the test: CI installs every tool (`scripts/test.sh`), so a skip there is a test that passes
//! without testing (cargo-test-support's `has_command` rule). std only: build-index's tests
//! include this same file (`#[path]`), so both crates follow one rule.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether `tool` is usable here. When it is not: under CI, panics naming it and how to get it;
/// elsewhere prints that the calling test is skipped and returns `false`. Use as
/// `if !require_tool("go") { return; }`.
#[allow(clippy::print_stderr)] // printing why a test is skipped is the point
pub fn require_tool(tool: &str) -> bool {
    if tool_present(tool) {
        return true;
    }
    let how = "`./scripts/test.sh` installs it";
    assert!(
        !in_ci(),
        "`{tool}` is not installed, and under CI a test that needs it may not skip; {how}"
    );
    eprintln!("skipped: `{tool}` is not installed on this machine ({how})");
    false
}

/// Whether rustup has installed the standard library for `target` (the producer builds for it);
/// reported like a missing tool when it has not.
#[allow(clippy::print_stderr)]
pub fn require_rust_target(target: &str) -> bool {
    if rust_target_installed(target) {
        return true;
    }
    let how = format!("`rustup target add {target}` (`./scripts/test.sh` does)");
    assert!(
        !in_ci(),
        "the `{target}` standard library is not installed, and under CI a test that needs it \
         may not skip; {how}"
    );
    eprintln!("skipped: the `{target}` standard library is not installed ({how})");
    false
}

/// Whether `rustc --print target-libdir --target T` names a directory that exists.
pub fn rust_target_installed(target: &str) -> bool {
    let Ok(out) = Command::new(var("RUSTC").unwrap_or_else(|| "rustc".to_owned()))
        .args(["--print", "target-libdir", "--target", target])
        .stderr(Stdio::null())
        .output()
    else {
        return false;
    };
    out.status.success() && Path::new(String::from_utf8_lossy(&out.stdout).trim()).is_dir()
}

/// Whether `tool` can be run: `zig` as build-index and cargo-zigbuild find it (`ZIG`, `zig` on
/// PATH, or `python3 -m ziglang`), anything else as an executable file on PATH.
pub fn tool_present(tool: &str) -> bool {
    if tool == "zig" {
        return var("ZIG").is_some()
            || which("zig").is_some()
            || runs("python3", &["-c", "import ziglang"]);
    }
    which(tool).is_some()
}

/// An executable file named `name` in a PATH directory.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = var("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

/// `CI` set to anything but empty, `0` or `false` (GitHub Actions and most CI services set
/// `CI=true`).
pub fn in_ci() -> bool {
    var("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// The test process's own environment (this file is shared, so it cannot use `env::parent_var`).
#[allow(clippy::disallowed_methods)]
fn var(key: &str) -> Option<String> {
    std::env::var_os(key).map(|v| v.to_string_lossy().into_owned())
}
