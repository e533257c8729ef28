//! `build-index build --go` against module proxies made in each test's temp dir (a directory
//! and the same directory served over HTTP on 127.0.0.1), with the real `go`; then `publish`
//! of the result into a Go index entry. Without `go` (or zig, for cgo) a test skips saying so, and
//! fails under `CI=true` (`tools::require_tool`, shared with the root crate's tests).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use quickinstall::index::format::{PackageFile, PackageKind};
use quickinstall::index::path::package_file;
use sha2::{Digest, Sha256};
use testsupport::child::ChildServer;
use zip::write::SimpleFileOptions;

const TARGET: &str = "x86_64-unknown-linux-musl";

#[path = "../../tests/support/tools.rs"]
mod tools;
use tools::require_tool;

const HELLO: &str =
    "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello from the proxy\") }\n";
const BYE: &str = "package main\n\nimport (\n\t\"fmt\"\n\t\"example.com/Multi/tool/lib\"\n)\n\nfunc main() { fmt.Println(lib.Word()) }\n";

/// Writes `<proxy>/<escaped module>/@v/{list,<v>.info,<v>.mod,<v>.zip}` for a module whose
/// zip holds `files` (module-relative path → contents; `go.mod` is added).
fn publish_module(proxy: &Path, module: &str, version: &str, files: &[(&str, &str)]) -> PathBuf {
    let escaped = quickinstall::index::path::escape_module_path(module);
    let dir = proxy.join(escaped).join("@v");
    fs::create_dir_all(&dir).unwrap();
    let go_mod = format!("module {module}\n\ngo 1.19\n");
    fs::write(dir.join("list"), format!("{version}\n")).unwrap();
    fs::write(
        dir.join(format!("{version}.info")),
        format!("{{\"Version\":\"{version}\",\"Time\":\"2024-01-01T00:00:00Z\"}}\n"),
    )
    .unwrap();
    fs::write(dir.join(format!("{version}.mod")), &go_mod).unwrap();
    let zip_path = dir.join(format!("{version}.zip"));
    let mut w = zip::ZipWriter::new(File::create(&zip_path).unwrap());
    let mut all: Vec<(&str, &str)> = vec![("go.mod", go_mod.as_str())];
    all.extend_from_slice(files);
    for (name, body) in all {
        w.start_file(
            format!("{module}@{version}/{name}"),
            SimpleFileOptions::default(),
        )
        .unwrap();
        w.write_all(body.as_bytes()).unwrap();
    }
    w.finish().unwrap();
    zip_path
}

/// A temp dir for one test with a module proxy directory (`<dir>/proxy`) holding `module` at
/// `version` (see [`publish_module`]).
fn module_proxy(
    module: &str,
    version: &str,
    files: &[(&str, &str)],
) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let proxy = dir.path().join("proxy");
    publish_module(&proxy, module, version, files);
    (dir, proxy)
}

fn tool_files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("LICENSE", "MIT\n"),
        ("cmd/hello/main.go", HELLO),
        ("cmd/bye/main.go", BYE),
        (
            "lib/lib.go",
            "package lib\n\nfunc Word() string { return \"bye\" }\n",
        ),
        ("internal/gen/main.go", HELLO),
        ("cmd/hello/main_test.go", "package main\n"),
    ]
}

fn build_index(args: &[&str], home: &Path) -> Output {
    build_index_with(args, home, &[])
}

/// [`build_index`] with extra variables (`ZIG`).
fn build_index_with(args: &[&str], home: &Path, vars: &[(&str, &Path)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_build-index"))
        .args(args)
        .envs(vars.iter().copied())
        // Hermetic: nothing may come from a public proxy; the test names its own.
        .env("GOPROXY", "off")
        .env("GOSUMDB", "off")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("QUICKINSTALL_SIGN_KEY", "must-not-leak")
        .env("HOME", home)
        .output()
        .unwrap()
}

/// `build-index build --go <module@version> --target TARGET --proxy <proxy> --out <out>`.
fn build_go(module: &str, proxy: &Path, out: &Path) -> Output {
    build_index(
        &[
            "build",
            "--go",
            module,
            "--target",
            TARGET,
            "--proxy",
            proxy.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &home(),
    )
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn record(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

fn sha256(path: &Path) -> String {
    Sha256::digest(fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The user's real HOME: the Go build cache there is shared, so repeated runs stay fast.
fn home() -> PathBuf {
    #[allow(clippy::disallowed_methods)]
    std::env::var_os("HOME").map(PathBuf::from).unwrap()
}

#[test]
fn builds_the_commands_of_a_module_from_a_proxy_directory_and_publishes_them() {
    if !require_tool("go") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let proxy = dir.path().join("proxy");
    let zip = publish_module(&proxy, "example.com/Multi/tool", "v1.2.0", &tool_files());
    let out = dir.path().join("out");
    let args = |out: &Path| {
        vec![
            "build".to_owned(),
            "--go".into(),
            "example.com/Multi/tool@v1.2.0".into(),
            "--target".into(),
            TARGET.into(),
            "--proxy".into(),
            proxy.to_str().unwrap().into(),
            "--out".into(),
            out.to_str().unwrap().into(),
        ]
    };
    let a: Vec<String> = args(&out);
    let o = build_index(&a.iter().map(String::as_str).collect::<Vec<_>>(), &home());
    assert!(o.status.success(), "{}", stderr(&o));
    let stem = format!("example.com+!multi+tool-v1.2.0-{TARGET}");
    let r = record(&out.join(format!("{stem}.json")));
    assert_eq!(r["status"], "ok");
    assert_eq!(r["kind"], "go");
    assert_eq!(r["name"], "example.com/Multi/tool");
    assert_eq!(r["version"], "v1.2.0");
    assert_eq!(r["binaries"], serde_json::json!(["bye", "hello"]));
    assert_eq!(
        r["packages"],
        serde_json::json!({"bye": "example.com/Multi/tool/cmd/bye", "hello": "example.com/Multi/tool/cmd/hello"})
    );
    assert_eq!(r["provenance"]["source_checksum"], sha256(&zip));
    assert!(
        r["provenance"]["toolchain"]
            .as_str()
            .unwrap()
            .starts_with("go version go")
    );
    assert_eq!(r["provenance"]["built_at"], "2023-11-14T22:13:20Z");

    // The archive holds the two binaries and the license; they run and carry the recipe.
    let archive = out.join(format!("{stem}.tar.gz"));
    let unpacked = dir.path().join("unpacked");
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(File::open(&archive).unwrap()));
    tar.unpack(&unpacked).unwrap();
    let mut names: Vec<String> = fs::read_dir(&unpacked)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["LICENSE", "bye", "hello"]);
    let run = Command::new(unpacked.join("hello")).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "hello from the proxy\n"
    );
    let run = Command::new(unpacked.join("bye")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "bye\n");
    let info = Command::new("go")
        .args(["version", "-m"])
        .arg(unpacked.join("hello"))
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    for setting in [
        "-trimpath=true",
        "CGO_ENABLED=0",
        "-tags=netgo,osusergo",
        "path\texample.com/Multi/tool/cmd/hello",
        // Built as `go install pkg@version`, so the version is recorded (not `(devel)`).
        "mod\texample.com/Multi/tool\tv1.2.0\th1:",
    ] {
        assert!(info.contains(setting), "{setting} missing from:\n{info}");
    }

    // Reproducible: a second build gives the same archive bytes.
    let out2 = dir.path().join("out2");
    let a: Vec<String> = args(&out2);
    let o = build_index(&a.iter().map(String::as_str).collect::<Vec<_>>(), &home());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        sha256(&archive),
        sha256(&out2.join(format!("{stem}.tar.gz")))
    );

    // publish takes the kind from the record: the entry lands under go/.
    let index = dir.path().join("index");
    let (sk, pk) = (dir.path().join("k.key"), dir.path().join("k.pub"));
    let o = build_index(
        &[
            "keygen",
            "--secret-key",
            sk.to_str().unwrap(),
            "--public-key",
            pk.to_str().unwrap(),
        ],
        &home(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rec = out.join(format!("{stem}.json"));
    let o = build_index(
        &[
            "publish",
            "--index",
            index.to_str().unwrap(),
            "--secret-key",
            sk.to_str().unwrap(),
            rec.to_str().unwrap(),
        ],
        &home(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rel = package_file(PackageKind::Go, "example.com/Multi/tool").unwrap();
    assert_eq!(rel, "go/example.com/!multi/tool.json");
    let file = PackageFile::parse(
        &fs::read(index.join(&rel)).unwrap(),
        PackageKind::Go,
        "example.com/Multi/tool",
    )
    .unwrap();
    let release = &file.releases[0];
    assert_eq!(release.version, "v1.2.0");
    assert_eq!(release.target, TARGET);
    assert_eq!(
        release.packages,
        BTreeMap::from([
            (
                "bye".to_owned(),
                "example.com/Multi/tool/cmd/bye".to_owned()
            ),
            (
                "hello".to_owned(),
                "example.com/Multi/tool/cmd/hello".to_owned()
            ),
        ])
    );
    assert!(index.join(&release.archive).is_file());
    assert!(index.join(format!("{rel}.minisig")).is_file());
}

/// `build-index serve` over the proxy directory, killed when dropped.
fn serve(dir: &Path) -> ChildServer {
    let mut command = Command::new(env!("CARGO_BIN_EXE_build-index"));
    command.args(["serve", "--index"]).arg(dir);
    ChildServer::start(command)
}

#[test]
fn builds_a_named_package_from_an_http_proxy() {
    if !require_tool("go") {
        return;
    }
    let (dir, proxy) = module_proxy("example.com/Multi/tool", "v1.2.0", &tool_files());
    let server = serve(&proxy);
    let out = dir.path().join("out");
    let o = build_index(
        &[
            "build",
            "--go",
            "example.com/Multi/tool@v1.2.0",
            "--package",
            "example.com/Multi/tool/cmd/hello",
            "--target",
            TARGET,
            "--proxy",
            server.url(),
            "--out",
            out.to_str().unwrap(),
        ],
        &home(),
    );
    drop(server);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = record(&out.join(format!("example.com+!multi+tool-v1.2.0-{TARGET}.json")));
    assert_eq!(r["binaries"], serde_json::json!(["hello"]));
}

#[test]
fn refuses_a_module_zip_with_path_traversal() {
    // build-index asks `go` for its version before it reads the module.
    if !require_tool("go") {
        return;
    }
    let (dir, proxy) = module_proxy(
        "example.com/evil",
        "v1.0.0",
        &[("../../../escaped", "x"), ("main.go", HELLO)],
    );
    let out = dir.path().join("out");
    let o = build_go("example.com/evil@v1.0.0", &proxy, &out);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("`example.com/evil@v1.0.0/../../../escaped`"),
        "{err}"
    );
    assert!(err.contains("nothing was extracted"), "{err}");
    assert!(!dir.path().join("escaped").exists());
    assert!(fs::read_dir(&out).map(|d| d.count() == 0).unwrap_or(true));
}

#[test]
fn a_module_without_commands_leaves_a_failure_record_saying_so() {
    if !require_tool("go") {
        return;
    }
    let (dir, proxy) = module_proxy(
        "example.com/lib",
        "v0.1.0",
        &[
            ("lib.go", "package lib\n"),
            ("examples/demo/main.go", HELLO),
        ],
    );
    let out = dir.path().join("out");
    let o = build_go("example.com/lib@v0.1.0", &proxy, &out);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("has no command packages"),
        "{}",
        stderr(&o)
    );
    let r = record(&out.join(format!("example.com+lib-v0.1.0-{TARGET}.json")));
    assert_eq!(r["status"], "failed");
    assert_eq!(r["kind"], "go");
    assert!(
        r["log_tail"]
            .as_str()
            .unwrap()
            .contains("no command packages")
    );
}

#[test]
fn a_compile_error_leaves_a_classified_failure_record() {
    if !require_tool("go") {
        return;
    }
    let (dir, proxy) = module_proxy(
        "example.com/broken",
        "v1.0.0",
        &[(
            "main.go",
            "package main\n\nfunc main() { undefinedThing() }\n",
        )],
    );
    let out = dir.path().join("out");
    let o = build_go("example.com/broken@v1.0.0", &proxy, &out);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("building `example.com/broken v1.0.0`"),
        "{}",
        stderr(&o)
    );
    let r = record(&out.join(format!("example.com+broken-v1.0.0-{TARGET}.json")));
    assert_eq!(r["status"], "failed");
    assert_eq!(r["reason"], "compile-error");
    assert!(r["log_tail"].as_str().unwrap().contains("undefinedThing"));
}

#[test]
fn an_unknown_version_is_a_clear_error() {
    if !require_tool("go") {
        return;
    }
    let (dir, proxy) = module_proxy("example.com/Multi/tool", "v1.2.0", &tool_files());
    let out = dir.path().join("out");
    let o = build_go("example.com/Multi/tool@v9.9.9", &proxy, &out);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("the proxy has no `example.com/Multi/tool@v9.9.9`"),
        "{}",
        stderr(&o)
    );
}

/// A command whose Go code calls a C function from its cgo preamble, and one without cgo.
fn cgo_files() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "cmd/cgotool/main.go",
            "package main\n\n/*\nstatic int add(int a, int b) { return a + b; }\n*/\nimport \"C\"\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"C says\", int(C.add(2, 3))) }\n",
        ),
        ("cmd/plain/main.go", HELLO),
    ]
}

/// The `p_type`s of a 64-bit little-endian ELF file's program headers, and its `e_type`.
fn elf_program_types(bytes: &[u8]) -> (u16, Vec<u32>) {
    assert_eq!(&bytes[..6], b"\x7fELF\x02\x01", "not a 64-bit LE ELF file");
    let u16_at = |o: usize| u16::from_le_bytes(bytes[o..o + 2].try_into().unwrap());
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    let phoff = u64::from_le_bytes(bytes[32..40].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(54) as usize, u16_at(56) as usize);
    let types = (0..count).map(|i| u32_at(phoff + i * size)).collect();
    (u16_at(16), types)
}

#[test]
fn a_module_that_imports_c_is_built_with_zig_as_a_static_pie() {
    if !require_tool("go") {
        return;
    }
    if !require_tool("zig") {
        return;
    }
    let (dir, proxy) = module_proxy("example.com/cgotool", "v1.0.0", &cgo_files());
    let out = dir.path().join("out");
    let o = build_go("example.com/cgotool@v1.0.0", &proxy, &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let stem = format!("example.com+cgotool-v1.0.0-{TARGET}");
    let r = record(&out.join(format!("{stem}.json")));
    assert_eq!(r["status"], "ok");
    assert_eq!(r["binaries"], serde_json::json!(["cgotool", "plain"]));
    assert_eq!(r["provenance"]["cgo"], true);
    let log = fs::read_to_string(out.join(format!("{stem}.log"))).unwrap();
    assert!(log.contains("building again with cgo and zig"), "{log}");

    let unpacked = dir.path().join("unpacked");
    let archive = File::open(out.join(format!("{stem}.tar.gz"))).unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(archive))
        .unpack(&unpacked)
        .unwrap();
    let binary = unpacked.join("cgotool");
    let run = Command::new(&binary).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout), "C says 5\n");
    // Static PIE: position-independent (ET_DYN), yet no interpreter and no dynamic loader.
    const ET_DYN: u16 = 3;
    const PT_INTERP: u32 = 3;
    let (e_type, types) = elf_program_types(&fs::read(&binary).unwrap());
    assert_eq!(e_type, ET_DYN, "not a PIE");
    assert!(!types.contains(&PT_INTERP), "has PT_INTERP: {types:?}");
    let info = Command::new("go")
        .args(["version", "-m"])
        .arg(&binary)
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    for setting in ["CGO_ENABLED=1", "-trimpath=true", "-tags=netgo,osusergo"] {
        assert!(info.contains(setting), "{setting} missing from:\n{info}");
    }
    // The command without cgo was built statically first and stays CGO_ENABLED=0.
    let info = Command::new("go")
        .args(["version", "-m"])
        .arg(unpacked.join("plain"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&info.stdout).contains("CGO_ENABLED=0"));

    // Reproducible with cgo too: a second build gives the same archive bytes.
    let out2 = dir.path().join("out2");
    let o = build_go("example.com/cgotool@v1.0.0", &proxy, &out2);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        sha256(&out.join(format!("{stem}.tar.gz"))),
        sha256(&out2.join(format!("{stem}.tar.gz")))
    );
}

#[test]
fn a_cgo_module_without_zig_or_for_darwin_fails_with_a_record_saying_why() {
    if !require_tool("go") {
        return;
    }
    let (dir, proxy) = module_proxy("example.com/cgotool", "v1.0.0", &cgo_files());
    let build = |target: &str, out: &Path| {
        build_index_with(
            &[
                "build",
                "--go",
                "example.com/cgotool@v1.0.0",
                "--package",
                "example.com/cgotool/cmd/cgotool",
                "--target",
                target,
                "--proxy",
                proxy.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            &home(),
            // A ZIG that names no file: reported, not replaced by another zig.
            &[("ZIG", &dir.path().join("no-such-zig"))],
        )
    };
    let out = dir.path().join("out");
    let o = build(TARGET, &out);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("`example.com/cgotool v1.0.0` needs cgo")
            && err.contains("pip install ziglang"),
        "{err}"
    );
    let r = record(&out.join(format!("example.com+cgotool-v1.0.0-{TARGET}.json")));
    assert_eq!(r["status"], "failed");
    assert!(r["log_tail"].as_str().unwrap().contains("no usable zig"));

    let darwin = "aarch64-apple-darwin";
    let o = build(darwin, &out);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("built only for Linux targets, not `aarch64-apple-darwin`"),
        "{}",
        stderr(&o)
    );
    let r = record(&out.join(format!("example.com+cgotool-v1.0.0-{darwin}.json")));
    assert_eq!(r["status"], "failed");
}
