//! What users read, pinned whole: for each command, its exit status, stdout and stderr as one
//! snapshot (snapbox, as cargo's own test suite does it), so that any change of wording is a
//! reviewed diff rather than something a substring check lets through.
//!
//! Each test runs the real `cargo-quickinstall`, `gquick` or `build-index` against the loopback
//! fixtures of `support::index` and `support::goproxy`. What varies from run to run or machine
//! to machine is redacted before comparing (see [`redactions`]). `--json` output is compared as
//! JSON, structurally, with `seconds` replaced by `"[ELAPSED]"`.
//!
//! After a deliberate wording change, re-bless and review the diff:
//! `SNAPSHOTS=overwrite cargo test --test integration snapshots::`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde_json::Value;
use snapbox::{Assert, Data, IntoData, RedactedValue, Redactions, str};

use crate::support::env::{Run, TestCommand, TestEnv, copy_dir};
use crate::support::goproxy::{go_env, go_world};
use crate::support::index::{self, Entry, Scenario, find_release_mut, read_tar_gz, world};
use crate::support::server::{Respond, TestServer};
use crate::support::tools::require_tool;

// --- How a run becomes a snapshot ---

/// One command's whole result as the user saw it: the exit status, then both streams in full.
fn transcript(run: &Run) -> String {
    transcript_of(run, &run.stdout)
}

/// [`transcript`] with stdout given separately (for `--json`, whose stdout is compared as JSON).
fn transcript_of(run: &Run, stdout: &str) -> String {
    let status = run
        .code()
        .map_or_else(|| run.status.to_string(), |c| c.to_string());
    format!(
        "exit: {status}\n--- stdout\n{stdout}--- stderr\n{}",
        without_cargo_output(&run.stderr)
    )
}

/// stderr without what the `cargo install` of a fallback printed itself (between our
/// `Running` line and our next line), which changes with the toolchain.
fn without_cargo_output(stderr: &str) -> String {
    let mut kept = String::new();
    let mut in_cargo = false;
    for line in stderr.lines() {
        let ours = line.starts_with("   Installed `") || line.starts_with("error: ");
        if in_cargo && !ours {
            continue;
        }
        in_cargo = line.starts_with("     Running `cargo install");
        kept.push_str(line);
        kept.push('\n');
    }
    kept
}

/// The placeholders for what varies between runs and machines:
/// - `[ROOT]`: the test's temp dir (`root`); `[TMP]`: the suffix of the client's staging dir;
/// - `[PORT]`: a loopback server's port;
/// - `[HOST_TARGETS]`: the client's candidate targets for this host, in order; `[TARGET]`: any
///   one of them (the fixtures are built for one, the musl one where it is installed);
/// - `[ELAPSED]`: a duration (`in 0.4s`); `[SIZE]`: an archive's size; `[HASH]`: a sha256 or
///   the 16-digit prefix archive names carry — all three depend on the toolchain that built
///   the fixtures.
///
/// Literal values are replaced longest first, so the target list goes before its members.
fn redactions(root: &Path) -> Redactions {
    let mut r = Redactions::new();
    let mut put = |placeholder: &'static str, value: RedactedValue| {
        r.insert(placeholder, value).unwrap();
    };
    put("[ROOT]", root.to_path_buf().into());
    let targets = quickinstall::target::host_targets();
    put("[HOST_TARGETS]", targets.join(", ").into());
    for target in targets {
        put("[TARGET]", target.into());
    }
    put(
        "[TMP]",
        regex(r"\.quickinstall-tmp-(?<redacted>[0-9]+-[A-Za-z0-9]+)"),
    );
    put("[PORT]", regex(r"127\.0\.0\.1:(?<redacted>[0-9]+)"));
    put(
        "[ELAPSED]",
        regex(r" in (?<redacted>[0-9]+(\.[0-9]+)?(ms|s|m))"),
    );
    put(
        "[SIZE]",
        regex(r"\((?<redacted>[0-9]+(\.[0-9]+)? (B|KiB|MiB|GiB))\)"),
    );
    put("[SIZE]", regex(r"(?<redacted>[0-9]+) bytes"));
    put("[HASH]", regex(r"[0-9a-f]{64}"));
    put("[HASH]", regex(r"-(?<redacted>[0-9a-f]{16})\.tar\.gz"));
    r
}

fn regex(pattern: &str) -> RedactedValue {
    Regex::new(pattern).unwrap().into()
}

/// The comparison, with `SNAPSHOTS=overwrite` re-blessing the expected text in place.
fn snapshot(root: &Path) -> Assert {
    Assert::new()
        .action_env(snapbox::assert::DEFAULT_ACTION_ENV)
        .redact_with(redactions(root))
}

/// Asserts a run's whole output; `root` is its test dir.
#[track_caller]
fn assert_run(root: &Path, run: &Run, expected: impl IntoData) {
    snapshot(root).eq(transcript(run), expected);
}

/// Asserts a `--json` run: stdout as JSON lines, compared structurally (key order and
/// formatting do not matter) with `seconds` checked and redacted, and the rest as text.
#[track_caller]
fn assert_json_run(root: &Path, run: &Run, json: impl IntoData, rest: impl IntoData) {
    let lines: Vec<Value> = run
        .json_lines()
        .into_iter()
        .map(|mut line| {
            let seconds = line["seconds"].as_f64();
            assert!(
                seconds.is_some_and(|s| (0.0..600.0).contains(&s)),
                "`seconds` is not a duration in {line}:\n{run}"
            );
            line["seconds"] = Value::from("[ELAPSED]");
            line
        })
        .collect();
    snapshot(root).eq(Data::json(Value::Array(lines)), json.is_json());
    snapshot(root).eq(transcript_of(run, "[JSON above]\n"), rest);
}

// --- cargo-quickinstall: installs that work ---

#[test]
fn a_prebuilt_install() {
    let s = Scenario::new();
    let run = s.quickinstall().arg("qi-hello").run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 0
--- stdout
--- stderr
 Downloading `qi-hello 0.2.0` ([SIZE])
   Installed `qi-hello 0.2.0` (prebuilt from index, [TARGET]): qi-hello, qi-hello-admin

"#]],
    );
}

/// `--jobs 1` makes the order of the download lines deterministic; the rest of the output is
/// in request order anyway.
#[test]
fn two_prebuilt_installs() {
    let s = Scenario::new();
    let run = s
        .quickinstall()
        .args(["--jobs", "1", "qi-hello", "qi-tool"])
        .run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 0
--- stdout
--- stderr
 Downloading `qi-hello 0.2.0` ([SIZE])
 Downloading `qi-tool 1.0.0` ([SIZE])
   Installed `qi-hello 0.2.0` (prebuilt from index, [TARGET]): qi-hello, qi-hello-admin
   Installed `qi-tool 1.0.0` (prebuilt from index, [TARGET]): qi-tool

"#]],
    );
}

#[test]
fn an_already_installed_crate() {
    let s = Scenario::new();
    s.quickinstall().arg("qi-hello").run().assert_success();
    let run = s.quickinstall().arg("qi-hello").run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 0
--- stdout
--- stderr
     Ignored package `qi-hello 0.2.0` is already installed, use --force to override

"#]],
    );
}

/// What the `cargo install` of the fallback prints is its own and changes with the toolchain:
/// the transcript leaves it out ([`without_cargo_output`]).
#[test]
fn a_fallback_build() {
    let s = Scenario::new();
    let run = s.quickinstall().arg("qi-fallback").run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 0
--- stdout
--- stderr
    Building `qi-fallback 0.1.0` from source: no prebuilt for [HOST_TARGETS]
  crate: from the registry `sparse+http://127.0.0.1:[PORT]/index/` (QUICKINSTALL_REGISTRY), not crates.io
  index: it is not in the release index
  quickinstall: it serves only crates.io's crates
  upstream: the crate declares no prebuilt releases ([package.metadata.binstall]; nothing is guessed)
     Running `cargo install qi-fallback --version =0.1.0 --locked --root [ROOT]/cargo-home --index sparse+http://127.0.0.1:[PORT]/index/`
   Installed `qi-fallback 0.1.0` (built from source): qi-fallback

"#]],
    );
}

#[test]
fn a_dry_run() {
    let s = Scenario::new();
    let run = s
        .quickinstall()
        .args(["--dry-run", "--jobs", "1", "qi-hello", "qi-fallback"])
        .run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 0
--- stdout
would install `qi-hello 0.2.0` ([TARGET]) prebuilt from http://127.0.0.1:[PORT]/archives/crates/qi-hello/0.2.0/qi-hello-0.2.0-[TARGET]-[HASH].tar.gz (index; [SIZE] bytes, sha256 [HASH]) into [ROOT]/cargo-home/bin: qi-hello, qi-hello-admin
would build `qi-fallback 0.1.0` from source (no prebuilt for [HOST_TARGETS]) with `cargo install qi-fallback --version =0.1.0 --locked --root [ROOT]/cargo-home --index sparse+http://127.0.0.1:[PORT]/index/`
  crate: from the registry `sparse+http://127.0.0.1:[PORT]/index/` (QUICKINSTALL_REGISTRY), not crates.io
  index: it is not in the release index
  quickinstall: it serves only crates.io's crates
  upstream: the crate declares no prebuilt releases ([package.metadata.binstall]; nothing is guessed)
--- stderr

"#]],
    );
}

#[test]
fn json_output() {
    let s = Scenario::new();
    s.quickinstall().arg("qi-tool").run().assert_success();
    let run = s
        .quickinstall()
        .args(["--json", "--jobs", "1", "qi-hello", "qi-tool", "qi-nope"])
        .run();
    assert_json_run(
        s.path(),
        &run,
        str![[r#"
[
  {
    "binaries": [
      "qi-hello",
      "qi-hello-admin"
    ],
    "error": null,
    "name": "qi-hello",
    "ok": true,
    "origin": "index",
    "paths": [
      "[ROOT]/cargo-home/bin/qi-hello",
      "[ROOT]/cargo-home/bin/qi-hello-admin"
    ],
    "seconds": "[ELAPSED]",
    "signed": true,
    "source": "prebuilt",
    "target": "[TARGET]",
    "version": "0.2.0"
  },
  {
    "binaries": [
      "qi-tool"
    ],
    "error": null,
    "name": "qi-tool",
    "ok": true,
    "origin": null,
    "paths": [
      "[ROOT]/cargo-home/bin/qi-tool"
    ],
    "seconds": "[ELAPSED]",
    "signed": false,
    "source": "already-installed",
    "target": null,
    "version": "1.0.0"
  },
  {
    "binaries": [],
    "error": "crate `qi-nope` was not found in the registry `sparse+http://127.0.0.1:[PORT]/index/`",
    "name": "qi-nope",
    "ok": false,
    "origin": null,
    "paths": [],
    "seconds": "[ELAPSED]",
    "signed": false,
    "source": null,
    "target": null,
    "version": null
  }
]
"#]],
        str![[r#"
exit: 1
--- stdout
[JSON above]
--- stderr
 Downloading `qi-hello 0.2.0` ([SIZE])
     Ignored package `qi-tool 1.0.0` is already installed, use --force to override
error: crate `qi-nope` was not found in the registry `sparse+http://127.0.0.1:[PORT]/index/`
help: check the name's spelling (`cargo search qi-nope` lists similar ones), or name the registry it comes from with --registry
   Installed `qi-hello 0.2.0` (prebuilt from index, [TARGET]): qi-hello, qi-hello-admin
error: failed to install `qi-nope` (1 of 3 crates; see the error above)

"#]],
    );
}

#[test]
fn json_output_of_a_fallback_build() {
    let s = Scenario::new();
    let run = s.quickinstall().args(["--json", "qi-fallback"]).run();
    assert_json_run(
        s.path(),
        &run,
        str![[r#"
[
  {
    "binaries": [
      "qi-fallback"
    ],
    "error": null,
    "name": "qi-fallback",
    "ok": true,
    "origin": "build",
    "paths": [
      "[ROOT]/cargo-home/bin/qi-fallback"
    ],
    "seconds": "[ELAPSED]",
    "signed": false,
    "source": "fallback",
    "target": null,
    "version": "0.1.0"
  }
]
"#]],
        str![[r#"
exit: 0
--- stdout
[JSON above]
--- stderr
    Building `qi-fallback 0.1.0` from source: no prebuilt for [HOST_TARGETS]
  crate: from the registry `sparse+http://127.0.0.1:[PORT]/index/` (QUICKINSTALL_REGISTRY), not crates.io
  index: it is not in the release index
  quickinstall: it serves only crates.io's crates
  upstream: the crate declares no prebuilt releases ([package.metadata.binstall]; nothing is guessed)
     Running `cargo install qi-fallback --version =0.1.0 --locked --root [ROOT]/cargo-home --index sparse+http://127.0.0.1:[PORT]/index/`
   Installed `qi-fallback 0.1.0` (built from source): qi-fallback

"#]],
    );
}

// --- cargo-quickinstall: bad input, each error with its `help:` and the summary ---

#[test]
fn a_checksum_mismatch() {
    let s = Scenario::new();
    let mut bytes = s.archive_bytes("qi-hello", "0.2.0");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    s.replace_archive_bytes("qi-hello", "0.2.0", &bytes);
    let run = s.quickinstall().arg("qi-hello").run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 3
--- stdout
--- stderr
 Downloading `qi-hello 0.2.0` ([SIZE])
error: `qi-hello 0.2.0` ([TARGET]): checksum mismatch for `http://127.0.0.1:[PORT]/archives/crates/qi-hello/0.2.0/qi-hello-0.2.0-[TARGET]-[HASH].tar.gz`: expected [HASH], got [HASH]; nothing was installed
help: the index or its mirror served bytes that do not match what was signed; retry later, and report it if it persists

"#]],
    );
}

/// The package file edited (its size) without being signed again.
#[test]
fn a_signature_mismatch() {
    let s = Scenario::new();
    let mut package = s.package("qi-hello");
    let release = find_release_mut(&mut package, "0.2.0", &world().target);
    release["size"] = Value::from(1);
    s.write_package_unsigned("qi-hello", &package);
    let run = s.quickinstall().arg("qi-hello").run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 3
--- stdout
--- stderr
error: the index file for `qi-hello` failed signature verification: the signature does not match the index file; nothing was installed
help: the index or its mirror served bytes that do not match what was signed; retry later, and report it if it persists

"#]],
    );
}

#[test]
fn an_unknown_crate() {
    let s = Scenario::new();
    let run = s.quickinstall().arg("qi-nope").run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 1
--- stdout
--- stderr
error: crate `qi-nope` was not found in the registry `sparse+http://127.0.0.1:[PORT]/index/`
help: check the name's spelling (`cargo search qi-nope` lists similar ones), or name the registry it comes from with --registry

"#]],
    );
}

#[test]
fn one_failure_among_several_crates() {
    let s = Scenario::new();
    let run = s
        .quickinstall()
        .args(["--jobs", "1", "qi-nope", "qi-tool"])
        .run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 1
--- stdout
--- stderr
 Downloading `qi-tool 1.0.0` ([SIZE])
error: crate `qi-nope` was not found in the registry `sparse+http://127.0.0.1:[PORT]/index/`
help: check the name's spelling (`cargo search qi-nope` lists similar ones), or name the registry it comes from with --registry
   Installed `qi-tool 1.0.0` (prebuilt from index, [TARGET]): qi-tool
error: failed to install `qi-nope` (1 of 2 crates; see the error above)

"#]],
    );
}

/// The closing line names the failed ones (their errors are above), not the successes.
#[test]
fn two_failures_among_several_crates() {
    let s = Scenario::new();
    let run = s
        .quickinstall()
        .args(["--jobs", "1", "qi-nope", "qi-tool", "qi-nada"])
        .run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 1
--- stdout
--- stderr
 Downloading `qi-tool 1.0.0` ([SIZE])
error: crate `qi-nope` was not found in the registry `sparse+http://127.0.0.1:[PORT]/index/`
help: check the name's spelling (`cargo search qi-nope` lists similar ones), or name the registry it comes from with --registry
error: crate `qi-nada` was not found in the registry `sparse+http://127.0.0.1:[PORT]/index/`
help: check the name's spelling (`cargo search qi-nada` lists similar ones), or name the registry it comes from with --registry
   Installed `qi-tool 1.0.0` (prebuilt from index, [TARGET]): qi-tool
error: failed to install `qi-nope`, `qi-nada` (2 of 3 crates; see the errors above)

"#]],
    );
}

/// The fixture registry declared crates.io's mirror, so every source is asked: one line each.
#[test]
fn no_prebuilt_in_any_source() {
    let s = Scenario::new();
    let run = s
        .quickinstall()
        .args(["--no-fallback", "qi-fallback"])
        .env("QUICKINSTALL_PUBLIC_REGISTRY", s.registry.sparse_url())
        .run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 1
--- stdout
--- stderr
error: no prebuilt of `qi-fallback 0.1.0` for [HOST_TARGETS]:
  index: it is not in the release index
  quickinstall: it has no signed build (unsigned archives are skipped; --allow-unsigned installs them)
  upstream: the crate declares no prebuilt releases ([package.metadata.binstall]; nothing is guessed)
help: run without --no-fallback to build it with `cargo install`

"#]],
    );
}

#[test]
fn a_server_error() {
    let s = Scenario::new();
    s.index
        .set(&s.archive_path("qi-hello", "0.2.0"), Respond::Status(500));
    let run = s.quickinstall().arg("qi-hello").run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 1
--- stdout
--- stderr
 Downloading `qi-hello 0.2.0` ([SIZE])
error: `qi-hello 0.2.0` ([TARGET]): `http://127.0.0.1:[PORT]/archives/crates/qi-hello/0.2.0/qi-hello-0.2.0-[TARGET]-[HASH].tar.gz` answered HTTP 500; nothing was installed
help: the server is down, overloaded or unreachable: retry later

"#]],
    );
}

/// A port that was just free and is now closed: connecting is refused.
fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/", listener.local_addr().unwrap())
}

#[test]
fn an_unreachable_index() {
    let s = Scenario::new();
    let run = s
        .quickinstall()
        .args(["--no-fallback", "qi-hello"])
        .env("QUICKINSTALL_INDEX", closed_port_url())
        .run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 1
--- stdout
--- stderr
warning: the release index at `http://127.0.0.1:[PORT]/` could not be reached: could not reach `http://127.0.0.1:[PORT]/crates/qi/-h/qi-hello.json.signed`: connection refused
error: no prebuilt of `qi-hello 0.2.0` for [HOST_TARGETS]:
  crate: from the registry `sparse+http://127.0.0.1:[PORT]/index/` (QUICKINSTALL_REGISTRY), not crates.io
  index: the release index could not be reached
  quickinstall: it serves only crates.io's crates
  upstream: the crate declares no prebuilt releases ([package.metadata.binstall]; nothing is guessed)
help: run without --no-fallback to build it with `cargo install`

"#]],
    );
}

#[test]
fn an_unreachable_registry() {
    let s = Scenario::new();
    let run = s
        .quickinstall()
        .arg("qi-hello")
        .env(
            "QUICKINSTALL_REGISTRY",
            format!("sparse+{}", closed_port_url()),
        )
        .run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 1
--- stdout
--- stderr
error: could not read the registry entry for `qi-hello`: could not reach `http://127.0.0.1:[PORT]/qi/-h/qi-hello`: connection refused
help: check the network and the registry's URL (registry.default and source replacement in .cargo/config.toml), then retry

"#]],
    );
}

#[test]
fn a_misspelled_source() {
    let s = Scenario::new();
    let run = s
        .quickinstall()
        .args(["qi-hello", "--sources", "index,quikinstall"])
        .run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 2
--- stdout
--- stderr
error: --sources: unknown source `quikinstall`
help: the sources are index, quickinstall, upstream and build, comma-separated, in the order to try them

"#]],
    );
}

#[test]
fn a_bad_version_after_the_at_sign() {
    let s = Scenario::new();
    let run = s.quickinstall().arg("qi-hello@not.a.version").run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 2
--- stdout
--- stderr
error: for `qi-hello`: the version `not.a.version` is not a valid semver version: unexpected character 'n' while parsing major version number

"#]],
    );
}

#[test]
fn a_bad_version_requirement() {
    let s = Scenario::new();
    let run = s
        .quickinstall()
        .args(["qi-hello", "--version", ">>1"])
        .run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 2
--- stdout
--- stderr
error: for `qi-hello`: the version `>>1` is not a valid semver requirement

"#]],
    );
}

#[test]
fn a_requirement_no_version_matches() {
    let s = Scenario::new();
    let run = s.quickinstall().arg("qi-hello@^9").run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 1
--- stdout
--- stderr
error: no version of `qi-hello` matches `^9`; the newest is 0.2.0
help: ask for another version: `qi-hello@X` takes cargo's requirements (`@1.2`, `@=1.2.3`); `cargo info qi-hello` lists its versions

"#]],
    );
}

#[test]
fn an_archive_that_climbs_out() {
    let s = Scenario::new();
    let mut entries = read_tar_gz(&s.archive_bytes("qi-hello", "0.2.0"));
    entries.push(("../evil".into(), b"#!/bin/sh\necho pwned\n".to_vec()));
    let planted: Vec<Entry<'_>> = entries
        .iter()
        .map(|(name, data)| Entry::File {
            name,
            mode: 0o755,
            data,
        })
        .collect();
    s.plant_archive("qi-hello", "0.2.0", &index::tar_gz(&planted));
    let run = s.quickinstall().arg("qi-hello").run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 3
--- stdout
--- stderr
 Downloading `qi-hello 0.2.0` ([SIZE])
error: the archive of `qi-hello 0.2.0` ([TARGET]) from the index source, `http://127.0.0.1:[PORT]/archives/crates/qi-hello/0.2.0/qi-hello-0.2.0-[TARGET]-[HASH].tar.gz`, was refused: it holds `../evil`, a path that climbs out with `..`; nothing was installed
help: the archive matched its signed checksum, so it was published this way; report it to the release index's maintainers

"#]],
    );
}

#[test]
fn no_crate_named() {
    let s = Scenario::new();
    let run = s.quickinstall().run();
    assert_run(
        s.path(),
        &run,
        str![[r#"
exit: 2
--- stdout
--- stderr
error: the following required arguments were not provided:
  <CRATE[@VERSION]>...

Usage: cargo quickinstall <CRATE[@VERSION]>...

For more information, try '--help'.

"#]],
    );
}

// --- gquick ---

/// A Go test env with the fixture Go index and module proxy served on loopback, or `None`
/// (the test is skipped, or fails under CI) without `go`.
struct GoScenario {
    env: TestEnv,
    _index: TestServer,
    _proxy: TestServer,
}

impl GoScenario {
    fn new() -> Option<Self> {
        if !require_tool("go") {
            return None;
        }
        let world = go_world();
        let mut env = go_env(TestEnv::new());
        env.set("GOBIN", env.path().join("gobin"));
        let index_dir = env.path().join("index");
        copy_dir(&world.index, &index_dir);
        let index = TestServer::serve(&index_dir);
        let proxy = world.proxy.serve();
        env.set("QUICKINSTALL_INDEX", index.url());
        env.set("QUICKINSTALL_TRUSTED_KEYS", &world.key.public_b64);
        env.set("GOPROXY", proxy.url());
        Some(Self {
            env,
            _index: index,
            _proxy: proxy,
        })
    }

    fn gquick(&self) -> TestCommand {
        self.env
            .command(PathBuf::from(env!("CARGO_BIN_EXE_gquick")))
    }
}

#[test]
fn gquick_a_prebuilt_install() {
    let Some(s) = GoScenario::new() else { return };
    let run = s
        .gquick()
        .args(["install", "example.com/qitool/cmd/qi-alpha@latest"])
        .run();
    assert_run(
        s.env.path(),
        &run,
        str![[r#"
exit: 0
--- stdout
--- stderr
 Downloading `example.com/qitool v1.1.0` ([SIZE])
   Installed `example.com/qitool v1.1.0` (prebuilt from index, [TARGET]): qi-alpha

"#]],
    );
}

/// GOPRIVATE makes the module private to gquick; GONOPROXY (which GOPRIVATE would otherwise
/// set) points elsewhere so that `go install` can still fetch it from the fixture proxy.
#[test]
fn gquick_a_private_module_goes_to_go_install() {
    let Some(s) = GoScenario::new() else { return };
    let private = |cmd: TestCommand| {
        cmd.env("GOPRIVATE", "example.com/qitool")
            .env("GONOPROXY", "none.invalid")
    };
    let dry = private(s.gquick())
        .args([
            "install",
            "--dry-run",
            "example.com/qitool/cmd/qi-alpha@latest",
        ])
        .run();
    assert_run(
        s.env.path(),
        &dry,
        str![[r#"
exit: 0
--- stdout
would build `example.com/qitool/cmd/qi-alpha@latest` from source (it is private: it matches GOPRIVATE, GONOPROXY or GONOSUMDB) with `go install example.com/qitool/cmd/qi-alpha@latest`
--- stderr

"#]],
    );
    let run = private(s.gquick())
        .args(["install", "example.com/qitool/cmd/qi-alpha@latest"])
        .run();
    assert_run(
        s.env.path(),
        &run,
        str![[r#"
exit: 0
--- stdout
--- stderr
    Building `example.com/qitool/cmd/qi-alpha@latest` from source: it is private: it matches GOPRIVATE, GONOPROXY or GONOSUMDB
     Running `go install example.com/qitool/cmd/qi-alpha@latest`
go: downloading example.com/qitool v1.1.0
   Installed `example.com/qitool/cmd/qi-alpha v1.1.0` (built from source): qi-alpha

"#]],
    );
}

#[test]
fn gquick_an_already_installed_package() {
    let Some(s) = GoScenario::new() else { return };
    let install = || {
        s.gquick()
            .args(["install", "example.com/qitool/cmd/qi-alpha@latest"])
            .run()
    };
    install().assert_success();
    assert_run(
        s.env.path(),
        &install(),
        str![[r#"
exit: 0
--- stdout
--- stderr
     Ignored package `example.com/qitool v1.1.0` is already installed as `qi-alpha`, use --force to override

"#]],
    );
}

#[test]
fn gquick_an_unknown_module() {
    let Some(s) = GoScenario::new() else { return };
    let run = s
        .gquick()
        .args(["install", "--no-fallback", "example.com/nope@latest"])
        .run();
    assert_run(
        s.env.path(),
        &run,
        str![[r#"
exit: 1
--- stdout
--- stderr
error: no module provides package `example.com/nope`: not found on `http://127.0.0.1:[PORT]/`
help: check the path's spelling; for a module the public proxy cannot see, add it to GOPRIVATE (`go env -w GOPRIVATE=…`) so `go install example.com/nope@…` fetches it directly

"#]],
    );
}

// --- build-index usage errors ---

/// Runs `build-index` with `args` in a fresh env and asserts its whole output.
#[track_caller]
fn assert_build_index(args: &[&str], expected: impl IntoData) {
    let env = TestEnv::new();
    let run = env.build_index().args(args).run();
    assert_run(env.path(), &run, expected);
}

#[test]
fn build_index_without_a_subcommand() {
    assert_build_index(
        &[],
        str![[r#"
exit: 2
--- stdout
--- stderr
Builds, packages, signs and publishes the quickinstall release index

Usage: build-index <COMMAND>

Commands:
  keygen            Generate a minisign key pair for signing the index (secret key unencrypted, mode 0600)
  delegate          With the root key, let a signing key sign one index for a limited time
  resign            Re-sign every package file (new timestamps and expiry, optionally a new delegation) without touching archives
  build             Build one crate (or the commands of one Go module) statically and package it with a result (or failure) record
  package           Package binaries built elsewhere (e.g. this project's own, by its CI) into the archive and result record `build` writes, for `publish`
  bootstrap-script  Print a POSIX `install.sh` that installs the newest prebuilt of each crate from the index, carrying their sha256 (verifies the package files' signatures first)
  plan              Print the GitHub Actions matrix for one run: queued crates × targets not yet built
  publish           Validate build results, add them to the index and sign the changed package files
  check-key         Check that a secret key's public half is one the clients trust, directly or through `--delegation` from a built-in root (a preflight before publishing); prints the public key
  select            Choose what to build next: `select crates` reads the crates.io db dump, `select go` the Go module index
  stats             The anonymous install-count service
  import            Mirror an existing prebuilt pool into the signed index, verified once here
  serve             Serve an index directory over HTTP/1.1 (for tests and local use)
  help              Print this message or the help of the given subcommand(s)

Options:
  -h, --help     Print help
  -V, --version  Print version

"#]],
    );
}

#[test]
fn build_index_with_a_misspelled_subcommand() {
    assert_build_index(
        &["biuld"],
        str![[r#"
exit: 2
--- stdout
--- stderr
error: unrecognized subcommand 'biuld'

  tip: a similar subcommand exists: 'build'

Usage: build-index <COMMAND>

For more information, try '--help'.

"#]],
    );
}

#[test]
fn build_index_build_without_a_source() {
    assert_build_index(
        &["build", "--out", "out"],
        str![[r#"
exit: 2
--- stdout
--- stderr
error: the following required arguments were not provided:
  <--crate <NAME[@VER]>|--path <DIR>|--go <MODULE@VERSION>>

Usage: build-index build --out <DIR> <--crate <NAME[@VER]>|--path <DIR>|--go <MODULE@VERSION>>

For more information, try '--help'.

"#]],
    );
}

#[test]
fn build_index_publish_without_a_key() {
    assert_build_index(
        &["publish", "--index", "index", "record.json"],
        str![[r#"
exit: 2
--- stdout
--- stderr
error: the following required arguments were not provided:
  --secret-key <FILE>

Usage: build-index publish --index <DIR> --secret-key <FILE> <RESULT>...

For more information, try '--help'.

"#]],
    );
}

#[test]
fn build_index_publish_with_a_missing_key_file() {
    assert_build_index(
        &[
            "publish",
            "--index",
            "index",
            "--secret-key",
            "nope.key",
            "record.json",
        ],
        str![[r#"
exit: 1
--- stdout
--- stderr
error: could not read secret key `nope.key`: No such file or directory (os error 2)

"#]],
    );
}

#[test]
fn build_index_keygen_over_an_existing_key() {
    let env = TestEnv::new();
    let keygen = || {
        env.build_index()
            .args(["keygen", "--secret-key", "k.key", "--public-key", "k.pub"])
            .run()
    };
    keygen().assert_success();
    assert_run(
        env.path(),
        &keygen(),
        str![[r#"
exit: 1
--- stdout
--- stderr
error: `k.key` already exists; pass --force to replace it

"#]],
    );
}
