//! Go modules end to end: the fixture module proxy against the real `go` command, `build-index
//! build --go` and `publish` on the fixture modules, and `gquick` installing, falling back,
//! listing and upgrading from the signed index it made, with the bad input that must install
//! nothing.
//!
//! Every test runs real binaries in a temp dir: `go` (Go 1.19 from Debian's `golang-go`),
//! `build-index` and `gquick`, against loopback servers or `file://` URLs; `go` gets its caches
//! and GOPATH inside the test dir and no checksum database (`support::goproxy::go_env`).

use std::path::{Path, PathBuf};

use quickinstall::index::path;
use serde_json::Value;

use crate::support::env::{Run, TestCommand, TestEnv, run_binary, sha256_hex, snapshot};
use crate::support::goproxy::{
    GoProxy, GoScenario, build_go_run, go_package_path, go_test_env, go_world, gquick_exe,
    module_zip, source_dir, zip_stored,
};
use crate::support::index::{bundle, read_json, sign, stranger_key};
use crate::support::server::{Respond, TestServer};
use crate::support::stats_server::StatsServer;

/// Exit code for a verification failure (signature, size, checksum, archive content).
const VERIFY: i32 = 3;

fn gobin(env: &TestEnv) -> PathBuf {
    env.path().join("gobin")
}

/// The files in GOBIN, sorted.
fn installed(env: &TestEnv) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(gobin(env)) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

fn run_gobin(env: &TestEnv, bin: &str) -> String {
    run_binary(&gobin(env).join(bin))
}

/// The real `go` in a test env.
fn go(env: &TestEnv) -> TestCommand {
    env.command("go")
}

// --- The fixture proxy against the real `go` command (no build-index, no gquick needed) ---

/// A test env with its own fixture proxy built into it.
fn with_proxy() -> (TestEnv, GoProxy) {
    let env = go_test_env();
    let proxy = GoProxy::build(&env.path().join("proxy"));
    (env, proxy)
}

#[test]
fn go_install_builds_a_fixture_command_from_the_proxy_over_http() {
    let (env, proxy) = with_proxy();
    let server = proxy.serve();
    go(&env)
        .args(["install", "example.com/qitool/cmd/qi-alpha@latest"])
        .env("GOPROXY", server.url())
        .run()
        .assert_success();
    assert_eq!(run_gobin(&env, "qi-alpha"), "qi-alpha v1.1.0");
    assert_eq!(installed(&env), ["qi-alpha"]);
    assert_eq!(
        server.requests_for(&GoProxy::file_path("example.com/qitool", "@v/v1.1.0.zip")),
        1
    );
}

#[test]
fn go_install_reads_the_proxy_as_a_file_url_with_escaped_upper_case() {
    let (env, proxy) = with_proxy();
    go(&env)
        .args(["install", "example.com/UpperCase/qicase@v0.1.0"])
        .env("GOPROXY", proxy.file_url())
        .run()
        .assert_success();
    assert_eq!(run_gobin(&env, "qicase"), "qicase v0.1.0");
}

#[test]
fn go_install_names_a_v2_module_command_without_the_suffix() {
    let (env, proxy) = with_proxy();
    go(&env)
        .args(["install", "example.com/qimajor/v2@latest"])
        .env("GOPROXY", proxy.file_url())
        .run()
        .assert_success();
    assert_eq!(installed(&env), ["qimajor"]);
    assert_eq!(run_gobin(&env, "qimajor"), "qimajor v2.0.0");
}

#[test]
fn go_skips_the_retracted_fixture_version_for_latest() {
    let (env, proxy) = with_proxy();
    go(&env)
        .args(["install", "example.com/qiretract@latest"])
        .env("GOPROXY", proxy.file_url())
        .run()
        .assert_success();
    assert_eq!(run_gobin(&env, "qiretract"), "qiretract v1.0.0");
}

#[test]
fn fixture_zip_is_the_one_go_itself_would_hash() {
    // `go mod download -json` verifies the zip it fetched and reports its h1: hash; a zip the
    // go command rejected (bad CRC, stray entry, wrong prefix) would make it fail.
    let (env, proxy) = with_proxy();
    let run = go(&env)
        .args(["mod", "download", "-json", "example.com/qitool@v1.0.0"])
        .env("GOPROXY", proxy.file_url())
        .run();
    run.assert_success();
    let info: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(info["Sum"].as_str().unwrap().starts_with("h1:"), "{run}");
    let zip = std::fs::read(info["Zip"].as_str().unwrap()).unwrap();
    assert_eq!(
        zip,
        module_zip(
            "example.com/qitool",
            "v1.0.0",
            &source_dir("example.com/qitool", "v1.0.0")
        )
    );
}

// --- build-index build --go and publish ---

#[test]
fn build_index_detects_both_commands_and_skips_internal_examples_and_tests() {
    let world = go_world();
    let record = read_json(&world.records["example.com/qitool@v1.1.0"]);
    assert_eq!(record["kind"], "go", "{record}");
    assert_eq!(record["name"], "example.com/qitool", "{record}");
    assert_eq!(record["version"], "v1.1.0", "{record}");
    let binaries: Vec<&str> = record["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    assert_eq!(binaries, ["qi-alpha", "qi-beta"], "{record}");
    assert_eq!(
        record["packages"],
        serde_json::json!({
            "qi-alpha": "example.com/qitool/cmd/qi-alpha",
            "qi-beta": "example.com/qitool/cmd/qi-beta",
        }),
        "{record}"
    );
}

#[test]
fn build_index_records_the_zip_checksum_and_the_go_toolchain() {
    let world = go_world();
    let record = read_json(&world.records["example.com/qitool@v1.1.0"]);
    let zip = std::fs::read(
        world
            .proxy
            .root
            .join(GoProxy::file_path("example.com/qitool", "@v/v1.1.0.zip")),
    )
    .unwrap();
    let provenance = &record["provenance"];
    assert_eq!(provenance["source_checksum"], sha256_hex(&zip), "{record}");
    assert!(
        provenance["toolchain"]
            .as_str()
            .unwrap()
            .starts_with("go version go1."),
        "{record}"
    );
}

#[test]
fn published_go_package_files_are_signed_at_their_escaped_paths() {
    let world = go_world();
    for (module, file) in [
        ("example.com/qitool", "go/example.com/qitool.json"),
        (
            "example.com/UpperCase/qicase",
            "go/example.com/!upper!case/qicase.json",
        ),
        ("example.com/qimajor/v2", "go/example.com/qimajor/v2.json"),
    ] {
        assert_eq!(go_package_path(module), file);
        let package = read_json(&world.index.join(file));
        assert_eq!(package["kind"], "go", "{package}");
        assert_eq!(package["name"], module, "{package}");
        assert!(world.index.join(path::signature_file(file)).is_file());
        assert!(world.index.join(path::signed_file(file)).is_file());
    }
    let major = read_json(&world.index.join("go/example.com/qimajor/v2.json"));
    assert_eq!(
        major["releases"][0]["binaries"],
        serde_json::json!(["qimajor"])
    );
}

#[test]
fn build_index_refuses_a_module_zip_with_path_traversal() {
    let (env, proxy) = with_proxy();
    let prefix = "example.com/qiretract@v1.0.0/";
    let source = source_dir("example.com/qiretract", "v1.0.0");
    let mut entries: Vec<(String, Vec<u8>)> = ["go.mod", "main.go", "LICENSE"]
        .iter()
        .map(|f| {
            (
                format!("{prefix}{f}"),
                std::fs::read(source.join(f)).unwrap(),
            )
        })
        .collect();
    entries.push((format!("{prefix}../../qi-escaped"), b"owned".to_vec()));
    proxy.replace_zip("example.com/qiretract", "v1.0.0", &zip_stored(&entries));
    let out = env.path().join("out");
    let run = build_go_run(
        &env,
        &proxy.file_url(),
        "example.com/qiretract",
        "v1.0.0",
        &out,
    );
    run.assert_failure();
    assert!(
        run.stderr.contains("../../qi-escaped"),
        "the refusal does not name the entry:\n{run}"
    );
    // Nothing was written outside the unpack dir, wherever that was.
    let escaped: Vec<_> = snapshot(env.path())
        .into_iter()
        .filter(|(p, _)| p.ends_with("qi-escaped"))
        .collect();
    assert!(escaped.is_empty(), "{escaped:?}");
    assert!(!std::env::temp_dir().join("qi-escaped").exists());
}

#[test]
fn build_index_reports_proxy_errors_by_status() {
    for status in [404, 410, 500] {
        let (env, proxy) = with_proxy();
        let server = proxy.serve();
        server.set(
            &GoProxy::file_path("example.com/qifallback", "@v/v0.1.0.zip"),
            Respond::Status(status),
        );
        let run = build_go_run(
            &env,
            &server.url(),
            "example.com/qifallback",
            "v0.1.0",
            &env.path().join("out"),
        );
        run.assert_failure();
        assert!(
            run.stderr.contains("example.com/qifallback"),
            "the error does not name the module:\n{run}"
        );
        if status == 500 {
            assert!(run.stderr.contains("500"), "{run}");
        }
    }
}

// --- gquick against the published index ---

impl GoScenario {
    fn install(&self, args: &[&str]) -> Run {
        self.gquick().arg("install").args(args).run()
    }

    fn index_dir(&self) -> PathBuf {
        self.env.path().join("index")
    }

    /// The index requests that concern `module` (its package file or its archives).
    fn index_requests_for(&self, module: &str) -> usize {
        let escaped = path::escape_module_path(module);
        self.index
            .paths()
            .iter()
            .filter(|p| p.contains(&escaped))
            .map(|p| self.index.requests_for(p))
            .sum()
    }

    /// The archive path of `module@version`, from the published package file.
    fn archive_path(&self, module: &str, version: &str) -> String {
        let package = read_json(&self.index_dir().join(go_package_path(module)));
        package["releases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["version"] == version)
            .unwrap_or_else(|| panic!("no release {version} in {package}"))["archive"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The disk outside the index copy.
    fn disk_state(&self) -> Vec<(String, String)> {
        self.env.disk_state()
    }
}

/// A verification failure: exit 3 and a stderr line naming the problem that ends the way every
/// verification failure does.
fn assert_verification_failure(run: &Run, fragments: &[&str]) {
    run.assert_exit(VERIFY);
    let line = run.stderr_line_with(fragments);
    assert!(
        line.trim_end().ends_with("nothing was installed"),
        "{line:?} does not end with `nothing was installed`:\n{run}"
    );
}

/// GOBIN is exactly as it was before the run.
fn assert_nothing_installed(s: &GoScenario, before: &[(String, String)], run: &Run) {
    let after: Vec<_> = s
        .disk_state()
        .into_iter()
        .filter(|(p, _)| p.starts_with("gobin/"))
        .collect();
    let before: Vec<_> = before
        .iter()
        .filter(|(p, _)| p.starts_with("gobin/"))
        .cloned()
        .collect();
    assert_eq!(after, before, "GOBIN changed:\n{run}");
}

#[test]
fn installs_a_command_from_the_index_and_it_runs() {
    let s = GoScenario::new();
    let run = s.install(&["example.com/qitool/cmd/qi-alpha@latest"]);
    run.assert_exit(0)
        .stderr_has(&["Installed `example.com/qitool v1.1.0`"]);
    assert_eq!(run_gobin(&s.env, "qi-alpha"), "qi-alpha v1.1.0");
    // Only the asked-for command, as `go install` would.
    assert_eq!(installed(&s.env), ["qi-alpha"]);
    assert!(
        s.index
            .requests_for(&path::signed_file(&go_package_path("example.com/qitool")))
            >= 1,
        "{run}"
    );
    let archive = s.archive_path("example.com/qitool", "v1.1.0");
    assert_eq!(s.index.requests_for(&archive), 1, "{run}");
}

#[test]
fn installs_into_the_first_gopath_bin_without_gobin() {
    let s = GoScenario::new();
    let first = s.env.path().join("gp1");
    let second = s.env.path().join("gp2");
    let gopath = std::env::join_paths([&first, &second]).unwrap();
    s.gquick()
        .args(["install", "--no-fallback", "example.com/qimajor/v2@latest"])
        .env_remove("GOBIN")
        .env("GOPATH", gopath)
        .run()
        .assert_success();
    assert_eq!(run_binary(&first.join("bin/qimajor")), "qimajor v2.0.0");
    assert!(!second.join("bin").exists());
}

#[test]
fn installs_an_upper_case_module_under_its_command_name() {
    let s = GoScenario::new();
    let run = s.install(&["example.com/UpperCase/qicase@v0.1.0"]);
    run.assert_success()
        .stderr_has(&["Installed `example.com/UpperCase/qicase v0.1.0`"]);
    assert_eq!(installed(&s.env), ["qicase"]);
    assert_eq!(run_gobin(&s.env, "qicase"), "qicase v0.1.0");
    assert!(
        s.index_requests_for("example.com/UpperCase/qicase") >= 2,
        "{run}"
    );
}

#[test]
fn installs_a_v2_module_without_the_major_suffix() {
    let s = GoScenario::new();
    let run = s.install(&["example.com/qimajor/v2@latest"]);
    run.assert_success()
        .stderr_has(&["Installed `example.com/qimajor/v2 v2.0.0`"]);
    assert_eq!(installed(&s.env), ["qimajor"]);
    assert_eq!(run_gobin(&s.env, "qimajor"), "qimajor v2.0.0");
}

#[test]
fn latest_skips_a_retracted_version_even_though_the_index_has_it() {
    let s = GoScenario::new();
    let run = s.install(&["example.com/qiretract@latest"]);
    run.assert_success()
        .stderr_has(&["Installed `example.com/qiretract v1.0.0`"]);
    assert_eq!(run_gobin(&s.env, "qiretract"), "qiretract v1.0.0");
}

#[test]
fn installs_several_packages_at_once() {
    let s = GoScenario::new();
    s.install(&[
        "--no-fallback",
        "example.com/qitool/cmd/qi-alpha@v1.1.0",
        "example.com/qitool/cmd/qi-beta@v1.1.0",
        "example.com/qimajor/v2@latest",
    ])
    .assert_success();
    assert_eq!(installed(&s.env), ["qi-alpha", "qi-beta", "qimajor"]);
    assert_eq!(run_gobin(&s.env, "qi-beta"), "qi-beta v1.1.0");
}

#[test]
fn dry_run_installs_nothing() {
    let s = GoScenario::new();
    let before = s.disk_state();
    let run = s.install(&["--dry-run", "example.com/qitool/cmd/qi-alpha@latest"]);
    run.assert_success();
    assert!(
        format!("{}{}", run.stdout, run.stderr).contains("v1.1.0"),
        "the dry run does not say what it would install:\n{run}"
    );
    assert_eq!(s.disk_state(), before, "{run}");
}

#[test]
fn json_reports_an_index_install() {
    let s = GoScenario::new();
    let run = s.install(&["--json", "example.com/qitool/cmd/qi-alpha@latest"]);
    run.assert_success();
    let objects = run.json_lines();
    assert_eq!(objects.len(), 1, "{run}");
    assert_eq!(objects[0]["source"], "prebuilt", "{run}");
    assert_eq!(objects[0]["name"], "example.com/qitool", "{run}");
    assert_eq!(objects[0]["version"], "v1.1.0", "{run}");
    assert_eq!(objects[0]["ok"], true, "{run}");
}

#[test]
fn refuses_to_overwrite_an_existing_binary_without_force() {
    let s = GoScenario::new();
    std::fs::create_dir_all(gobin(&s.env)).unwrap();
    std::fs::write(gobin(&s.env).join("qimajor"), b"mine").unwrap();
    let run = s.install(&["example.com/qimajor/v2@latest"]);
    run.assert_exit(1).stderr_has(&["qimajor", "--force"]);
    assert_eq!(
        std::fs::read(gobin(&s.env).join("qimajor")).unwrap(),
        b"mine"
    );
    s.install(&["--force", "example.com/qimajor/v2@latest"])
        .assert_success();
    assert_eq!(run_gobin(&s.env, "qimajor"), "qimajor v2.0.0");
}

// --- fallback to `go install` ---

#[test]
fn falls_back_to_go_install_for_a_module_absent_from_the_index() {
    let s = GoScenario::new();
    let run = s.install(&["example.com/qifallback@latest"]);
    run.assert_exit(0).stderr_has(&["go install"]);
    assert_eq!(run_gobin(&s.env, "qifallback"), "qifallback v0.1.0");
    // The index was asked, and the real go command fetched the module from the proxy.
    assert!(s.index_requests_for("example.com/qifallback") >= 1, "{run}");
    assert_eq!(
        s.proxy.requests_for(&GoProxy::file_path(
            "example.com/qifallback",
            "@v/v0.1.0.zip"
        )),
        1,
        "{run}"
    );
}

#[test]
fn falls_back_to_go_install_for_a_version_absent_from_the_index() {
    let s = GoScenario::new();
    let run = s.install(&["example.com/qitool/cmd/qi-alpha@v1.0.0"]);
    run.assert_exit(0).stderr_has(&["go install"]);
    assert_eq!(run_gobin(&s.env, "qi-alpha"), "qi-alpha v1.0.0");
}

#[test]
fn a_fallback_without_go_says_what_to_install() {
    let s = GoScenario::new();
    // A PATH with nothing on it: no `go` to fall back to.
    let empty = s.env.path().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let before = s.disk_state();
    let run = s
        .gquick()
        .env("PATH", empty.display().to_string())
        .args(["install", "example.com/qifallback@latest"])
        .run();
    run.assert_exit(1)
        .stderr_has(&["`go` was not found", "install Go"]);
    assert_nothing_installed(&s, &before, &run);
}

#[test]
fn no_fallback_fails_when_the_index_has_no_build() {
    let s = GoScenario::new();
    let before = s.disk_state();
    let run = s.install(&["--no-fallback", "example.com/qifallback@latest"]);
    run.assert_exit(1);
    assert_nothing_installed(&s, &before, &run);
}

#[test]
fn private_modules_never_reach_the_index_server() {
    let s = GoScenario::new();
    // GOPRIVATE makes the module private to gquick; GONOPROXY (which GOPRIVATE would otherwise
    // set) is pointed elsewhere so that the fallback `go install` can still use the fixture proxy.
    let run = s
        .gquick()
        .args(["install", "example.com/qitool/cmd/qi-alpha@latest"])
        .env("GOPRIVATE", "example.com/qitool")
        .env("GONOPROXY", "none.invalid")
        .run();
    run.assert_exit(0);
    assert_eq!(
        s.index.requests(),
        0,
        "the index server saw {:?}:\n{run}",
        s.index.log()
    );
    // Built by `go install` from the proxy, not downloaded from the index.
    run.stderr_has(&["go install"]);
    assert_eq!(run_gobin(&s.env, "qi-alpha"), "qi-alpha v1.1.0");
}

/// GOARCH naming another platform (here in the go env file, as `go env -w GOARCH=…` leaves
/// it): the host's prebuilt would be the wrong binary, so `go install` cross-builds it, into
/// the `GOOS_GOARCH` directory under GOPATH's bin where go puts cross builds.
#[test]
fn a_goarch_for_another_platform_goes_to_go_install() {
    let s = GoScenario::new();
    let host_arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let other = if host_arch == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let goenv = s.env.path().join("go-env-file");
    std::fs::write(&goenv, format!("GOARCH={other}\n")).unwrap();
    let gopath = s.env.path().join("cross-gopath");
    let run = s
        .gquick()
        .args(["install", "example.com/qitool/cmd/qi-alpha@latest"])
        .env("GOENV", &goenv)
        .env_remove("GOBIN")
        .env("GOPATH", &gopath)
        .run();
    run.assert_success();
    run.stderr_line_with(&[
        "Building",
        &format!("GOOS/GOARCH ask for a linux/{other} build"),
    ]);
    assert_eq!(s.index.requests(), 0, "the index was asked:\n{run}");
    let cross = gopath.join(format!("bin/linux_{other}/qi-alpha"));
    assert!(cross.is_file(), "no {}:\n{run}", cross.display());
    assert!(!gopath.join("bin/qi-alpha").exists(), "{run}");
    // --target chooses a prebuilt's platform instead: the index is asked.
    let host = quickinstall::target::host_targets()[0].clone();
    let run = s
        .gquick()
        .args(["install", "--no-fallback", "--target", &host])
        .arg("example.com/qitool/cmd/qi-alpha@latest")
        .env("GOENV", &goenv)
        .run();
    run.assert_success();
    assert!(s.index.requests() > 0, "{run}");
}

/// Build tags in GOFLAGS change the binary `go install` makes: the prebuilt is not it.
#[test]
fn goflags_with_build_tags_go_to_go_install() {
    let s = GoScenario::new();
    let run = s
        .gquick()
        .args(["install", "example.com/qitool/cmd/qi-alpha@latest"])
        .env("GOFLAGS", "-mod=mod -tags=qitag")
        .run();
    run.assert_success();
    run.stderr_line_with(&["Building", "GOFLAGS has `-tags=qitag`"]);
    assert_eq!(s.index.requests(), 0, "the index was asked:\n{run}");
    let info = go(&s.env)
        .args(["version", "-m"])
        .arg(gobin(&s.env).join("qi-alpha"))
        .run();
    info.assert_success().stdout_has(&["-tags=qitag"]);
}

#[test]
fn goflags_reach_the_fallback_untouched() {
    let s = GoScenario::new();
    // `-trimpath` in GOFLAGS shows up in the build info of what `go install` built.
    let run = s
        .gquick()
        .args(["install", "example.com/qifallback@v0.1.0"])
        .env("GOFLAGS", "-mod=mod -trimpath")
        .run();
    run.assert_success();
    let out = go(&s.env)
        .args(["version", "-m"])
        .arg(gobin(&s.env).join("qifallback"))
        .run();
    out.assert_success().stdout_has(&["-trimpath=true"]);
}

// --- GOPROXY lists ---

#[test]
fn a_proxy_that_answers_404_falls_through_to_the_next_on_comma() {
    let s = GoScenario::new();
    let empty = tempfile::tempdir().unwrap();
    let nothing = TestServer::serve(empty.path());
    let run = s
        .gquick()
        .args(["install", "--no-fallback", "example.com/qimajor/v2@latest"])
        .env("GOPROXY", format!("{},{}", nothing.url(), s.proxy.url()))
        .run();
    run.assert_success();
    assert!(nothing.requests() >= 1, "{run}");
    assert_eq!(run_gobin(&s.env, "qimajor"), "qimajor v2.0.0");
}

#[test]
fn a_proxy_that_answers_410_falls_through_to_the_next_on_comma() {
    let s = GoScenario::new();
    let gone = s.env.path().join("gone");
    std::fs::create_dir_all(&gone).unwrap();
    let gone = TestServer::serve(&gone);
    for p in [
        "example.com/qimajor/v2/@v/list",
        "example.com/qimajor/v2/@latest",
        "example.com/qimajor/@v/list",
        "example.com/qimajor/@latest",
    ] {
        gone.set(p, Respond::Status(410));
    }
    let run = s
        .gquick()
        .args(["install", "--no-fallback", "example.com/qimajor/v2@latest"])
        .env("GOPROXY", format!("{},{}", gone.url(), s.proxy.url()))
        .run();
    run.assert_success();
    assert_eq!(run_gobin(&s.env, "qimajor"), "qimajor v2.0.0");
}

#[test]
fn a_proxy_that_answers_500_stops_a_comma_list_but_not_a_pipe_list() {
    let s = GoScenario::new();
    let broken = TestServer::scripted(|_| Respond::Status(500));
    let before = s.disk_state();
    let run = s
        .gquick()
        .args(["install", "--no-fallback", "example.com/qimajor/v2@latest"])
        .env("GOPROXY", format!("{},{}", broken.url(), s.proxy.url()))
        .run();
    run.assert_exit(1).stderr_has(&["500"]);
    assert!(broken.requests() >= 1);
    assert_nothing_installed(&s, &before, &run);

    let run = s
        .gquick()
        .args(["install", "--no-fallback", "example.com/qimajor/v2@latest"])
        .env("GOPROXY", format!("{}|{}", broken.url(), s.proxy.url()))
        .run();
    run.assert_success();
    assert_eq!(run_gobin(&s.env, "qimajor"), "qimajor v2.0.0");
}

#[test]
fn resolves_through_a_file_url_proxy() {
    let s = GoScenario::new();
    let run = s
        .gquick()
        .args([
            "install",
            "--no-fallback",
            "example.com/qitool/cmd/qi-beta@latest",
        ])
        .env("GOPROXY", go_world().proxy.file_url())
        .run();
    run.assert_success();
    assert_eq!(run_gobin(&s.env, "qi-beta"), "qi-beta v1.1.0");
}

// --- bad input: nothing installed ---

#[test]
fn unknown_module_is_not_found() {
    let s = GoScenario::new();
    let before = s.disk_state();
    let run = s.install(&["--no-fallback", "example.com/nosuch/cmd/x@latest"]);
    run.assert_exit(1)
        .stderr_has(&["example.com/nosuch", "not found"]);
    assert_nothing_installed(&s, &before, &run);
}

#[test]
fn unknown_version_is_not_found() {
    let s = GoScenario::new();
    let before = s.disk_state();
    let run = s.install(&["example.com/qitool/cmd/qi-alpha@v9.9.9"]);
    run.assert_exit(1).stderr_has(&["v9.9.9"]);
    assert_nothing_installed(&s, &before, &run);
}

#[test]
fn proxy_500_is_a_clear_error_and_installs_nothing() {
    let s = GoScenario::new();
    for p in [
        "example.com/qitool/cmd/qi-alpha/@v/list",
        "example.com/qitool/cmd/qi-alpha/@latest",
        "example.com/qitool/cmd/@v/list",
        "example.com/qitool/cmd/@latest",
        "example.com/qitool/@v/list",
        "example.com/qitool/@latest",
    ] {
        s.proxy.set(p, Respond::Status(500));
    }
    let before = s.disk_state();
    let run = s.install(&["--no-fallback", "example.com/qitool/cmd/qi-alpha@latest"]);
    run.assert_exit(1).stderr_has(&["500"]);
    assert_nothing_installed(&s, &before, &run);
}

#[test]
fn a_library_package_is_not_installed() {
    let s = GoScenario::new();
    let before = s.disk_state();
    let run = s.install(&["example.com/qitool/lib@latest"]);
    run.assert_exit(1);
    assert!(run.stderr.contains("example.com/qitool/lib"), "{run}");
    assert_nothing_installed(&s, &before, &run);
}

#[test]
fn refuses_a_corrupted_archive() {
    let s = GoScenario::new();
    let archive = s
        .index_dir()
        .join(s.archive_path("example.com/qitool", "v1.1.0"));
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&archive, bytes).unwrap();
    let before = s.disk_state();
    let run = s.install(&["example.com/qitool/cmd/qi-alpha@latest"]);
    assert_verification_failure(&run, &["example.com/qitool", "checksum mismatch"]);
    assert_nothing_installed(&s, &before, &run);
}

#[test]
fn refuses_a_package_file_changed_after_signing() {
    let s = GoScenario::new();
    let file = go_package_path("example.com/qitool");
    let dir = s.index_dir();
    let mut package = read_json(&dir.join(&file));
    // A changed checksum: exactly what an attacker who swapped the archives would need.
    for release in package["releases"].as_array_mut().unwrap() {
        release["sha256"] = Value::from("0".repeat(64));
    }
    let bytes = serde_json::to_vec_pretty(&package).unwrap();
    let signature = std::fs::read_to_string(dir.join(path::signature_file(&file))).unwrap();
    std::fs::write(dir.join(&file), &bytes).unwrap();
    std::fs::write(
        dir.join(path::signed_file(&file)),
        bundle(&signature, &bytes),
    )
    .unwrap();
    let before = s.disk_state();
    let run = s.install(&["example.com/qitool/cmd/qi-alpha@latest"]);
    assert_verification_failure(&run, &["signature"]);
    assert_nothing_installed(&s, &before, &run);
}

#[test]
fn refuses_a_package_file_signed_by_an_untrusted_key() {
    let s = GoScenario::new();
    let file = go_package_path("example.com/qimajor/v2");
    let dir = s.index_dir();
    let bytes = std::fs::read(dir.join(&file)).unwrap();
    let signature = sign(&stranger_key(), &bytes, &file);
    std::fs::write(dir.join(path::signature_file(&file)), &signature).unwrap();
    std::fs::write(
        dir.join(path::signed_file(&file)),
        bundle(&signature, &bytes),
    )
    .unwrap();
    let before = s.disk_state();
    let run = s.install(&["example.com/qimajor/v2@latest"]);
    assert_verification_failure(&run, &["not trusted"]);
    assert_nothing_installed(&s, &before, &run);
}

#[test]
fn usage_errors_exit_with_2() {
    let s = GoScenario::new();
    s.gquick().arg("install").run().assert_exit(2);
    s.gquick()
        .args(["install", "--no-such-flag", "example.com/qimajor/v2"])
        .run()
        .assert_exit(2);
}

// --- list and upgrade ---

/// The `gquick list` line that names `bin`.
fn list_line(run: &Run, bin: &str) -> String {
    run.stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(bin))
        .unwrap_or_else(|| panic!("no list line for {bin}:\n{run}"))
        .to_owned()
}

#[test]
fn list_shows_module_version_and_origin() {
    let s = GoScenario::new();
    s.install(&["example.com/qitool/cmd/qi-alpha@latest"])
        .assert_success();
    s.install(&["example.com/qifallback@latest"])
        .assert_success();
    std::fs::write(gobin(&s.env).join("not-go"), b"#!/bin/sh\n").unwrap();
    let run = s.gquick().arg("list").run();
    run.assert_success();
    let alpha = list_line(&run, "qi-alpha");
    for part in ["example.com/qitool", "v1.1.0", "index"] {
        assert!(alpha.contains(part), "{alpha:?} lacks {part}:\n{run}");
    }
    let fallback = list_line(&run, "qifallback");
    for part in ["example.com/qifallback", "v0.1.0", "other"] {
        assert!(fallback.contains(part), "{fallback:?} lacks {part}:\n{run}");
    }
    assert!(!fallback.contains("index"), "{run}");

    let json = s.gquick().args(["list", "--json"]).run();
    json.assert_success();
    let entries = json.json_lines();
    let alpha = entries
        .iter()
        .find(|e| e["name"] == "qi-alpha")
        .unwrap_or_else(|| panic!("{json}"));
    assert_eq!(alpha["module"], "example.com/qitool", "{json}");
    assert_eq!(alpha["version"], "v1.1.0", "{json}");
}

#[test]
fn upgrade_reinstalls_an_older_binary_from_the_index() {
    let s = GoScenario::new();
    s.install(&["example.com/qitool/cmd/qi-alpha@v1.0.0"])
        .assert_success();
    assert_eq!(run_gobin(&s.env, "qi-alpha"), "qi-alpha v1.0.0");
    let run = s.gquick().args(["upgrade", "qi-alpha"]).run();
    run.assert_success()
        .stderr_has(&["Installed `example.com/qitool v1.1.0`"]);
    assert_eq!(run_gobin(&s.env, "qi-alpha"), "qi-alpha v1.1.0");
    let list = s.gquick().arg("list").run();
    assert!(list_line(&list, "qi-alpha").contains("index"), "{list}");
}

#[test]
fn upgrade_all_leaves_an_up_to_date_binary_alone() {
    let s = GoScenario::new();
    s.install(&["--no-fallback", "example.com/qimajor/v2@latest"])
        .assert_success();
    let before = s.disk_state();
    let run = s.gquick().args(["upgrade", "--all"]).run();
    run.assert_success();
    assert_eq!(s.disk_state(), before, "{run}");
}

// --- Go settings from the go env file (`go env -w`), as `go env` reads them (issue 12) ---

/// The private module of these tests and the dry run's whole report for it.
const PRIVATE_PKG: &str = "example.com/qitool/cmd/qi-alpha";
const PRIVATE_DRY_RUN: &str = "would build `example.com/qitool/cmd/qi-alpha@latest` from source \
     (it is private: it matches GOPRIVATE, GONOPROXY or GONOSUMDB) with \
     `go install example.com/qitool/cmd/qi-alpha@latest`\n";

/// Writes a go env file the way `go env -w` does (`KEY=VALUE` lines), creating its directory.
fn write_go_env_file(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Where `go env -w` writes without `GOENV`: `os.UserConfigDir()/go/env`.
fn default_go_env_file(config_dir: &Path) -> PathBuf {
    config_dir.join("go").join("env")
}

/// `gquick` with pings on, towards `stats`.
fn gquick_with_stats(s: &GoScenario, stats: &StatsServer) -> TestCommand {
    s.gquick()
        .env_remove("DO_NOT_TRACK")
        .env("QUICKINSTALL_STATS_URL", stats.url())
}

/// `PRIVATE_PKG` is private to gquick through settings the test put in a go env file (`extra`
/// names the file or its directory): a dry run says it goes to `go install`, a real run (with no
/// `go` on PATH, so that it stops at the fallback) tries `go install`, and neither sends anything
/// to the module proxy, the release index or the stats service.
fn assert_private_through_the_go_env_file(s: &GoScenario, extra: &[(&str, &Path)]) {
    let stats = StatsServer::record();
    let with_extra = |mut cmd: TestCommand| {
        for (key, value) in extra {
            cmd = cmd.env(key, value);
        }
        cmd
    };
    let dry = with_extra(gquick_with_stats(s, &stats))
        .args(["install", "--dry-run", &format!("{PRIVATE_PKG}@latest")])
        .run();
    dry.assert_exit(0);
    assert_eq!(dry.stdout, PRIVATE_DRY_RUN, "{dry}");

    // An exact version, so that only privacy (not an unresolved query) keeps the ping back.
    let empty = s.env.path().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let real = with_extra(gquick_with_stats(s, &stats))
        .env("PATH", &empty)
        .args(["install", &format!("{PRIVATE_PKG}@v1.1.0")])
        .run();
    real.assert_exit(1);
    real.stderr_has(&[
        "from source: it is private",
        "Running `go install example.com/qitool/cmd/qi-alpha@v1.1.0`",
        "`go` was not found",
    ]);

    let runs = format!("{dry}\n{real}");
    assert_eq!(
        s.proxy.requests(),
        0,
        "the module proxy saw {:?}:\n{runs}",
        s.proxy.log()
    );
    assert_eq!(
        s.index.requests(),
        0,
        "the index server saw {:?}:\n{runs}",
        s.index.log()
    );
    assert_eq!(stats.connections(), 0, "a ping was sent:\n{runs}");
}

#[test]
fn goprivate_in_the_goenv_file_keeps_a_module_from_the_proxy_the_index_and_stats() {
    let s = GoScenario::new();
    let file = s.env.path().join("settings/go-env");
    write_go_env_file(&file, "GOPRIVATE=example.com/qitool\n");
    assert_private_through_the_go_env_file(&s, &[("GOENV", &file)]);

    // The same install with the file gone is public: the proxy, the index and stats hear of it.
    std::fs::remove_file(&file).unwrap();
    let stats = StatsServer::record();
    let run = gquick_with_stats(&s, &stats)
        .env("GOENV", &file)
        .args(["install", &format!("{PRIVATE_PKG}@v1.1.0")])
        .run();
    run.assert_exit(0).stderr_has(&["(prebuilt"]);
    assert!(s.proxy.requests() > 0 && s.index.requests() > 0, "{run}");
    // The connection opened at the start (`GET /healthz`), then the one ping.
    let posts = stats.received().into_iter().filter(|r| r.method == "POST");
    assert_eq!(posts.count(), 1, "{run}");
}

#[cfg(all(unix, not(target_os = "macos")))]
#[test]
fn goprivate_in_the_default_go_env_file_under_home_keeps_a_module_private() {
    let s = GoScenario::new();
    // No GOENV, no XDG_CONFIG_HOME: `$HOME/.config/go/env`, where `go env -w` writes.
    let home_config = s.env.home().join(".config");
    write_go_env_file(
        &default_go_env_file(&home_config),
        "GOPRIVATE=example.com/qitool\n",
    );
    assert_private_through_the_go_env_file(&s, &[]);
}

#[cfg(all(unix, not(target_os = "macos")))]
#[test]
fn goprivate_in_the_default_go_env_file_under_xdg_config_home_keeps_a_module_private() {
    let s = GoScenario::new();
    let xdg = s.env.path().join("xdg");
    write_go_env_file(&default_go_env_file(&xdg), "GONOPROXY=example.com/qitool\n");
    assert_private_through_the_go_env_file(&s, &[("XDG_CONFIG_HOME", &xdg)]);
}

#[test]
fn the_environment_overrides_the_go_env_file_except_when_set_empty() {
    let s = GoScenario::new();
    let file = s.env.path().join("go-env");
    write_go_env_file(&file, "GOPRIVATE=example.com/qitool\n");
    let dry_run = |goprivate: &str| {
        let gquick = s
            .gquick()
            .env("GOENV", &file)
            .env("GOPRIVATE", goprivate)
            .args(["install", "--dry-run", &format!("{PRIVATE_PKG}@latest")])
            .run();
        let go = go(&s.env)
            .env("GOENV", &file)
            .env("GOPRIVATE", goprivate)
            .args(["env", "GOPRIVATE"])
            .run();
        go.assert_success();
        (gquick, go.stdout.trim().to_owned())
    };

    // A value in the environment wins over the file: the module is public again.
    let (run, go_says) = dry_run("other.example");
    assert_eq!(go_says, "other.example");
    run.assert_exit(0).stdout_has(&[
        "would install",
        "example.com/qitool v1.1.0",
        "prebuilt from",
    ]);
    assert!(s.proxy.requests() > 0, "{run}");

    // Set but empty counts as unset (cmd/go's Getenv), so the file's value holds.
    let proxy_before = s.proxy.requests();
    let (run, go_says) = dry_run("");
    assert_eq!(go_says, "example.com/qitool");
    run.assert_exit(0);
    assert_eq!(run.stdout, PRIVATE_DRY_RUN, "{run}");
    assert_eq!(s.proxy.requests(), proxy_before, "{run}");
}

#[test]
fn goproxy_from_the_go_env_file_is_the_proxy_asked() {
    let s = GoScenario::new();
    let file = s.env.path().join("go-env");
    // Only the file names the fixture proxy; the environment sets no GOPROXY at all.
    write_go_env_file(&file, &format!("GOPROXY={}\n", s.proxy.url()));
    let run = s
        .gquick()
        .env_remove("GOPROXY")
        .env("GOENV", &file)
        .args(["install", &format!("{PRIVATE_PKG}@latest")])
        .run();
    run.assert_exit(0)
        .stderr_has(&["Installed `example.com/qitool v1.1.0` (prebuilt"]);
    assert!(s.proxy.requests() > 0, "{run}");
    assert_eq!(run_gobin(&s.env, "qi-alpha"), "qi-alpha v1.1.0");
}

#[test]
fn goenv_off_ignores_the_go_env_file() {
    let s = GoScenario::new();
    write_go_env_file(
        &default_go_env_file(&s.env.home().join(".config")),
        "GOPRIVATE=example.com/qitool\nGOPROXY=off\n",
    );
    write_go_env_file(
        &default_go_env_file(&s.env.home().join("Library/Application Support")),
        "GOPRIVATE=example.com/qitool\nGOPROXY=off\n",
    );
    let run = s
        .gquick()
        .env("GOENV", "off")
        .args(["install", "--dry-run", &format!("{PRIVATE_PKG}@latest")])
        .run();
    run.assert_exit(0).stdout_has(&[
        "would install",
        "example.com/qitool v1.1.0",
        "prebuilt from",
    ]);
    assert!(s.proxy.requests() > 0, "{run}");
}

#[test]
fn a_bad_goproxy_in_the_go_env_file_is_a_usage_error_that_says_where_to_look() {
    let env = go_test_env();
    let file = env.path().join("go-env");
    write_go_env_file(&file, "GOPROXY=word\n");
    let run = env
        .command(gquick_exe())
        .env_remove("GOPROXY")
        .env("GOENV", &file)
        .args(["install", "example.com/tool@latest"])
        .run();
    run.assert_exit(2);
    assert_eq!(
        run.stderr,
        "error: the GOPROXY entry `word` is not an https://, http:// or file:// URL, nor `direct` \
         or `off`\nhelp: `go env GOPROXY` shows the value in effect (from the environment or the \
         go env file); `go env -w GOPROXY=https://proxy.golang.org,direct` or `go env -u GOPROXY` \
         fixes the file\n",
        "{run}"
    );
}
