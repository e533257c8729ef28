//! Tests of the whole reader: blobs built here, and real binaries built with the installed `go`
//! for every container layout, plus hostile containers.

use super::container::{self, Region};
use super::decode::{FLAG_VERSION_INLINE, HEADER_SIZE, MAGIC};
use super::*;
use std::process::Command;

/// A header + strings blob as the Go >= 1.18 linker writes it.
fn blob(go_version: &str, modinfo: &str) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend([8, FLAG_VERSION_INLINE]);
    out.resize(HEADER_SIZE, 0);
    let mut wrapped = vec![0x30u8; 16];
    wrapped.extend(modinfo.as_bytes());
    wrapped.extend([0xf9u8; 16]);
    for s in [go_version.as_bytes(), &wrapped] {
        let mut n = s.len();
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out.extend(s);
    }
    out
}

const MODINFO: &str = "path\texample.com/t/cmd/t\nmod\texample.com/t\tv1.2.3\th1:abc=\n\
    dep\texample.com/d\tv0.1.0\th1:x=\nbuild\t-compiler=gc\n\
    build\t-ldflags=\"-s -w -buildid=\"\nbuild\t-tags=netgo,osusergo\n\
    build\t-trimpath=true\nbuild\tCGO_ENABLED=0\n";

#[test]
fn parses_an_unknown_container_by_scanning_aligned_headers() {
    let mut bytes = b"#!/bin/sh\n".to_vec();
    // A misaligned copy of the magic must be skipped.
    bytes.resize(20, b' ');
    bytes.extend(MAGIC);
    bytes.resize(SCAN_CHUNK - 16, 0);
    bytes.extend(blob("go1.22.1", MODINFO));
    let info = parse_build_info(&bytes).unwrap().unwrap();
    assert_eq!(
        info,
        BuildInfo {
            go_version: "go1.22.1".into(),
            path: "example.com/t/cmd/t".into(),
            module: "example.com/t".into(),
            version: "v1.2.3".into(),
            settings: [
                ("-compiler", "gc"),
                ("-ldflags", "-s -w -buildid="),
                ("-tags", "netgo,osusergo"),
                ("-trimpath", "true"),
                ("CGO_ENABLED", "0"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .to_vec(),
        }
    );
    assert!(info.from_index_recipe());
}

#[test]
fn files_without_the_header_are_not_go_binaries() {
    assert!(parse_build_info(b"#!/bin/sh\necho hi\n").unwrap().is_none());
    assert!(parse_build_info(b"").unwrap().is_none());
    // A truncated ELF header is not a Go binary either (and must not panic).
    assert!(parse_build_info(b"\x7fELF\x02\x01").unwrap().is_none());
    assert!(parse_build_info(b"MZ").unwrap().is_none());
}

#[test]
fn pointer_format_is_reported_as_too_old() {
    let mut bytes = MAGIC.to_vec();
    bytes.extend([8, 0]);
    bytes.resize(64, 0);
    let err = parse_build_info(&bytes).unwrap_err();
    assert!(matches!(err, BuildInfoError::TooOld { .. }));
    assert_eq!(
        err.to_string(),
        "the binary was built by Go older than 1.18, whose build info cannot be read; \
         rebuild it with a newer Go"
    );
}

#[test]
fn a_string_longer_than_the_file_is_malformed() {
    let mut bytes = blob("go1.22.1", MODINFO);
    bytes.truncate(HEADER_SIZE + 20);
    let err = parse_build_info(&bytes).unwrap_err();
    assert!(
        err.to_string().contains("runs past the end of the file"),
        "{err}"
    );
}

#[test]
fn unwrapped_modinfo_counts_as_absent() {
    let mut bytes = MAGIC.to_vec();
    bytes.extend([8, FLAG_VERSION_INLINE]);
    bytes.resize(HEADER_SIZE, 0);
    bytes.extend([8]);
    bytes.extend(b"go1.20.1");
    bytes.extend([4]);
    bytes.extend(b"path");
    let info = parse_build_info(&bytes).unwrap().unwrap();
    assert_eq!(info.go_version, "go1.20.1");
    assert_eq!(info.path, "");
    assert!(info.settings.is_empty());
}

#[test]
fn recipe_needs_every_flag_but_tolerates_missing_ldflags() {
    let info = |settings: &[(&str, &str)]| BuildInfo {
        settings: settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..BuildInfo::default()
    };
    let full = [
        ("-tags", "netgo,osusergo"),
        ("-trimpath", "true"),
        ("CGO_ENABLED", "0"),
    ];
    assert!(info(&full).from_index_recipe());
    for skip in 0..full.len() {
        let mut partial = full.to_vec();
        partial.remove(skip);
        assert!(
            !info(&partial).from_index_recipe(),
            "without {:?}",
            full[skip]
        );
    }
    let mut other_ldflags = full.to_vec();
    other_ldflags.push(("-ldflags", "-X main.v=1"));
    assert!(!info(&other_ldflags).from_index_recipe());
    // The index builds modules that need cgo with zig: CGO_ENABLED=1, same recipe otherwise.
    let mut cgo = full.to_vec();
    cgo[2] = ("CGO_ENABLED", "1");
    assert!(info(&cgo).from_index_recipe());
    cgo[2] = ("CGO_ENABLED", "yes");
    assert!(!info(&cgo).from_index_recipe());
}

// ---- real binaries, built with the installed `go` ----------------------------------------

/// A module `example.com/hello` with a command `cmd/hello`, in a temp dir.
struct GoModule {
    dir: tempfile::TempDir,
}

impl GoModule {
    /// `None` (and a printed reason) when `go` is not installed.
    #[allow(clippy::print_stderr)] // the skip reason is the point
    fn new() -> Option<Self> {
        if Command::new("go").arg("version").output().is_err() {
            eprintln!("skipped: `go` is not on PATH");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("go.mod"),
            "module example.com/hello\n\ngo 1.18\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("cmd/hello")).unwrap();
        std::fs::write(
            dir.path().join("cmd/hello/main.go"),
            "package main\n\nfunc main() { println(\"hello\") }\n",
        )
        .unwrap();
        Some(Self { dir })
    }

    fn go_version() -> String {
        let out = Command::new("go").arg("version").output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.split_whitespace().nth(2).unwrap().to_owned()
    }

    /// `go build` with `goos`/`goarch` and extra flags; returns the binary's path.
    fn build(&self, name: &str, goos: &str, goarch: &str, flags: &[&str]) -> PathBuf {
        let out = self.dir.path().join(name);
        let status = Command::new("go")
            .arg("build")
            .args(flags)
            .arg("-o")
            .arg(&out)
            .arg("./cmd/hello")
            .current_dir(self.dir.path())
            .env("GOOS", goos)
            .env("GOARCH", goarch)
            .env("CGO_ENABLED", "0")
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local")
            .status()
            .unwrap();
        assert!(status.success(), "go build failed");
        out
    }
}

const RECIPE: &[&str] = &[
    "-trimpath",
    "-buildvcs=false",
    "-ldflags",
    "-s -w -buildid=",
    "-tags",
    "netgo,osusergo",
];

fn setting_pairs(info: &BuildInfo) -> Vec<(&str, &str)> {
    info.settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn reads_a_real_binary_built_with_the_index_recipe() {
    let Some(module) = GoModule::new() else {
        return;
    };
    let binary = module.build("hello", "linux", "amd64", RECIPE);
    let info = read_build_info(&binary).unwrap().unwrap();
    assert_eq!(info.go_version, GoModule::go_version());
    assert_eq!(info.path, "example.com/hello/cmd/hello");
    assert_eq!(info.module, "example.com/hello");
    assert_eq!(info.version, "(devel)");
    let settings = setting_pairs(&info);
    for expected in [
        ("-compiler", "gc"),
        ("-tags", "netgo,osusergo"),
        ("-trimpath", "true"),
        ("CGO_ENABLED", "0"),
        ("GOARCH", "amd64"),
        ("GOOS", "linux"),
    ] {
        assert!(settings.contains(&expected), "{expected:?} in {settings:?}");
    }
    assert!(info.from_index_recipe());
    // The ELF path found the section rather than falling back to a scan.
    let bytes = std::fs::read(&binary).unwrap();
    assert!(matches!(container::locate(&bytes[..]), Region::At(_)));
    assert_eq!(parse_build_info(&bytes).unwrap().unwrap(), info);
}

#[test]
fn reads_a_real_binary_built_without_the_recipe() {
    let Some(module) = GoModule::new() else {
        return;
    };
    let binary = module.build(
        "plain",
        "linux",
        "amd64",
        &["-ldflags", "-X 'main.greeting=hi there'"],
    );
    let info = read_build_info(&binary).unwrap().unwrap();
    assert_eq!(info.go_version, GoModule::go_version());
    assert_eq!(info.path, "example.com/hello/cmd/hello");
    assert_eq!(info.module, "example.com/hello");
    assert_eq!(info.version, "(devel)");
    let settings = setting_pairs(&info);
    assert!(settings.contains(&("-ldflags", "-X 'main.greeting=hi there'")));
    assert!(settings.contains(&("CGO_ENABLED", "0")));
    assert_eq!(info.setting("-trimpath"), None);
    assert_eq!(info.setting("-tags"), None);
    assert!(!info.from_index_recipe());
}

#[test]
fn reads_real_binaries_of_every_container_layout() {
    let Some(module) = GoModule::new() else {
        return;
    };
    for (name, goos, goarch) in [
        ("hello-386", "linux", "386"),     // ELF, 32-bit, little-endian
        ("hello-mips", "linux", "mips"),   // ELF, 32-bit, big-endian
        ("hello-s390x", "linux", "s390x"), // ELF, 64-bit, big-endian
        ("hello.exe", "windows", "amd64"), // PE
        ("hello-windows-386.exe", "windows", "386"),
        ("hello-darwin-arm64", "darwin", "arm64"),
        ("hello-darwin-amd64", "darwin", "amd64"),
    ] {
        let binary = module.build(name, goos, goarch, RECIPE);
        let bytes = std::fs::read(&binary).unwrap();
        assert!(
            matches!(container::locate(&bytes[..]), Region::At(_)),
            "{name}: container not recognised"
        );
        let info = read_build_info(&binary).unwrap().unwrap();
        assert_eq!(info.path, "example.com/hello/cmd/hello", "{name}");
        assert_eq!(info.module, "example.com/hello", "{name}");
        assert_eq!(info.setting("GOOS"), Some(goos), "{name}");
        assert_eq!(info.setting("GOARCH"), Some(goarch), "{name}");
        assert!(info.from_index_recipe(), "{name}");
    }
}

#[test]
fn truncated_or_corrupted_real_binaries_never_panic() {
    let Some(module) = GoModule::new() else {
        return;
    };
    for (name, goos) in [
        ("t-elf", "linux"),
        ("t.exe", "windows"),
        ("t-mac", "darwin"),
    ] {
        let bytes = std::fs::read(module.build(name, goos, "amd64", RECIPE)).unwrap();
        let magic = bytes.windows(MAGIC.len()).position(|w| w == MAGIC).unwrap();
        // Cut inside the container headers, and around the build info header and strings.
        let cuts = (0..4096).step_by(7).chain(magic - 64..magic + 400);
        for cut in cuts {
            let _ = parse_build_info(&bytes[..cut]);
        }
        // Scramble the container headers one byte at a time.
        for at in 0..1024 {
            let mut broken = bytes.clone();
            broken[at] ^= 0xa5;
            let _ = parse_build_info(&broken);
        }
    }
}

/// A command built as a dependency of another module records that module's version; one
/// built inside its own source tree records `(devel)` (the test above).
#[test]
fn reads_the_module_version_of_a_command_built_as_a_dependency() {
    let Some(module) = GoModule::new() else {
        return;
    };
    let wrapper = tempfile::tempdir().unwrap();
    std::fs::write(
        wrapper.path().join("go.mod"),
        format!(
            "module wrapper\n\ngo 1.18\n\nrequire example.com/hello v1.4.2\n\n\
             replace example.com/hello => {}\n",
            module.dir.path().display()
        ),
    )
    .unwrap();
    let out = wrapper.path().join("hello");
    let status = Command::new("go")
        .args(["build", "-trimpath", "-o"])
        .arg(&out)
        .arg("example.com/hello/cmd/hello")
        .current_dir(wrapper.path())
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .status()
        .unwrap();
    assert!(status.success(), "go build failed");
    let info = read_build_info(&out).unwrap().unwrap();
    assert_eq!(info.path, "example.com/hello/cmd/hello");
    assert_eq!(info.module, "example.com/hello");
    assert_eq!(info.version, "v1.4.2");
}

#[test]
fn names_the_path_when_a_file_cannot_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = read_build_info(&missing).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("could not read `{}`", missing.display()))
    );
    let old = dir.path().join("old");
    let mut bytes = MAGIC.to_vec();
    bytes.extend([8, 0]);
    bytes.resize(64, 0);
    std::fs::write(&old, bytes).unwrap();
    let err = read_build_info(&old).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("`{}` was built by Go older", old.display()))
    );
}

#[test]
fn a_huge_declared_string_is_malformed_not_allocated() {
    let mut bytes = MAGIC.to_vec();
    bytes.extend([8, FLAG_VERSION_INLINE]);
    bytes.resize(HEADER_SIZE, 0);
    // A uvarint of 2^62: the Go version "string" claims 4 EiB.
    bytes.extend([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]);
    bytes.extend(b"go1.22.1");
    let err = parse_build_info(&bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the Go build info in the binary is malformed: a string runs past the end of the file"
    );
}
