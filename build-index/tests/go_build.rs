//! `build-index build --go` against module proxies made in each test's temp dir (a directory
//! and the same directory served over HTTP on 127.0.0.1), with the real `go`; then `publish`
//! of the result into a Go index entry. Skipped (passing) when no `go` is on PATH.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use quickinstall::index::format::{PackageFile, PackageKind};
use quickinstall::index::path::package_file;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

const TARGET: &str = "x86_64-unknown-linux-musl";

fn have_go() -> bool {
    Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

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
    Command::new(env!("CARGO_BIN_EXE_build-index"))
        .args(args)
        // Hermetic: nothing may come from a public proxy; the test names its own.
        .env("GOPROXY", "off")
        .env("GOSUMDB", "off")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("QUICKINSTALL_SIGN_KEY", "must-not-leak")
        .env("HOME", home)
        .output()
        .unwrap()
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
    if !have_go() {
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

/// `build-index serve` over the proxy directory; returns the child and its base URL.
fn serve(dir: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_build-index"))
        .args(["serve", "--index"])
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().trim_end_matches('/').to_owned())
}

#[test]
fn builds_a_named_package_from_an_http_proxy() {
    if !have_go() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let proxy = dir.path().join("proxy");
    publish_module(&proxy, "example.com/Multi/tool", "v1.2.0", &tool_files());
    let (mut server, url) = serve(&proxy);
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
            &url,
            "--out",
            out.to_str().unwrap(),
        ],
        &home(),
    );
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let r = record(&out.join(format!("example.com+!multi+tool-v1.2.0-{TARGET}.json")));
    assert_eq!(r["binaries"], serde_json::json!(["hello"]));
}

#[test]
fn refuses_a_module_zip_with_path_traversal() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = dir.path().join("proxy");
    publish_module(
        &proxy,
        "example.com/evil",
        "v1.0.0",
        &[("../../../escaped", "x"), ("main.go", HELLO)],
    );
    let out = dir.path().join("out");
    let o = build_index(
        &[
            "build",
            "--go",
            "example.com/evil@v1.0.0",
            "--target",
            TARGET,
            "--proxy",
            proxy.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &home(),
    );
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
    if !have_go() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let proxy = dir.path().join("proxy");
    publish_module(
        &proxy,
        "example.com/lib",
        "v0.1.0",
        &[
            ("lib.go", "package lib\n"),
            ("examples/demo/main.go", HELLO),
        ],
    );
    let out = dir.path().join("out");
    let o = build_index(
        &[
            "build",
            "--go",
            "example.com/lib@v0.1.0",
            "--target",
            TARGET,
            "--proxy",
            proxy.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &home(),
    );
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
    if !have_go() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let proxy = dir.path().join("proxy");
    publish_module(
        &proxy,
        "example.com/broken",
        "v1.0.0",
        &[(
            "main.go",
            "package main\n\nfunc main() { undefinedThing() }\n",
        )],
    );
    let out = dir.path().join("out");
    let o = build_index(
        &[
            "build",
            "--go",
            "example.com/broken@v1.0.0",
            "--target",
            TARGET,
            "--proxy",
            proxy.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &home(),
    );
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
    if !have_go() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let proxy = dir.path().join("proxy");
    publish_module(&proxy, "example.com/Multi/tool", "v1.2.0", &tool_files());
    let out = dir.path().join("out");
    let o = build_index(
        &[
            "build",
            "--go",
            "example.com/Multi/tool@v9.9.9",
            "--target",
            TARGET,
            "--proxy",
            proxy.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &home(),
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("the proxy has no `example.com/Multi/tool@v9.9.9`"),
        "{}",
        stderr(&o)
    );
}
