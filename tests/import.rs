//! `build-index import pkgforge` against a loopback pool shaped like pkgforge's metadata, then
//! `cargo quickinstall` installing the imported raw executable (format `bin`) in one lookup.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::env::{TestCommand, sha256_hex};
use crate::support::index::{Scenario, world};
use crate::support::server::TestServer;

/// A tiny static executable (musl-gcc) printing `line`, or `None` with a note when musl-gcc is
/// missing (a failure under `CI=true`).
fn static_binary(dir: &Path, name: &str, line: &str) -> Option<PathBuf> {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(
        &src,
        format!("#include <stdio.h>\nint main(void){{puts(\"{line}\");return 0;}}\n"),
    )
    .unwrap();
    let out = dir.join(name);
    match Command::new("musl-gcc")
        .arg("-static")
        .arg("-O2")
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
    {
        Ok(s) if s.success() => Some(out),
        other => {
            assert!(
                crate::support::env::parent_var("CI").as_deref()
                    != Some(std::ffi::OsStr::new("true")),
                "musl-gcc is needed: {other:?}"
            );
            eprintln!("note: skipping, musl-gcc is not installed (apt-get install musl-tools)");
            None
        }
    }
}

/// `build-index import <pool>` into the scenario's index, signed with the world's key, checked
/// against the scenario's registry; the caller adds the pool's own arguments.
fn import_into(s: &Scenario, pool: &str) -> TestCommand {
    s.build_index()
        .args(["import", pool])
        .arg("--index")
        .arg(s.index_dir())
        .arg("--secret-key")
        .arg(&world().key.secret_path)
        .arg("--registry")
        .arg(s.registry.sparse_url())
}

/// One metadata entry with the keys pkgforge's cargo builder writes (values for a loopback pool).
fn cargo_entry(krate: &str, version: &str, host: &str, url: &str, bytes: &[u8]) -> Value {
    json!({
        "_disabled": "false",
        "build_date": "2025-06-15T02:46:44Z",
        "download_url": url,
        "ghcr_pkg": format!("ghcr.io/pkgforge-cargo/{krate}/stable/{krate}:{version}-{host}"),
        "host": host,
        "pkg": krate,
        "pkg_family": krate,
        "pkg_id": format!("pkgforge-cargo.{krate}.stable"),
        "pkg_name": krate,
        "pkg_type": "static",
        "provides": [krate],
        "shasum": sha256_hex(bytes),
        "size": "1 KB",
        "size_raw": bytes.len().to_string(),
        "src_url": [format!("https://crates.io/api/v1/crates/{krate}/{version}/download")],
        "version": version,
    })
}

#[test]
fn pkgforge_import_checks_each_entry_reports_exactly_and_clients_install_in_one_lookup() {
    let s = Scenario::new();
    let pool = s.path().join("pool");
    std::fs::create_dir_all(&pool).unwrap();
    let Some(good) = static_binary(&pool, "qi-fallback", "qi-fallback imported") else {
        return;
    };
    let good_bytes = std::fs::read(&good).unwrap();
    // A dynamically linked executable: the host's `true`.
    let dynamic = std::fs::read("/bin/true").unwrap();
    std::fs::write(pool.join("dynamic"), &dynamic).unwrap();
    let server = TestServer::serve(&pool);
    let url = |f: &str| format!("{}{f}", server.url());

    let mut bad_sha = cargo_entry(
        "qi-hello",
        "0.1.0",
        "x86_64-Linux",
        &url("qi-fallback"),
        &good_bytes,
    );
    bad_sha["shasum"] = json!("00".repeat(32));
    let mut bad_size = cargo_entry(
        "qi-hello",
        "0.2.1",
        "x86_64-Linux",
        &url("qi-fallback"),
        &good_bytes,
    );
    bad_size["size_raw"] = json!("12");
    let mut slash = cargo_entry(
        "qi-hello",
        "0.3.0-beta.1",
        "x86_64-Linux",
        &url("qi-fallback"),
        &good_bytes,
    );
    slash["provides"] = json!(["../evil"]);
    let mut bad_name = cargo_entry(
        "qi-hello",
        "0.1.0",
        "x86_64-Linux",
        &url("qi-fallback"),
        &good_bytes,
    );
    bad_name["src_url"] = json!(["https://crates.io/api/v1/crates/no$crate/0.1.0/download"]);
    bad_name["version"] = json!("0.1.0");
    let metadata = json!([
        cargo_entry(
            "qi-fallback",
            "0.1.0",
            "x86_64-Linux",
            &url("qi-fallback"),
            &good_bytes
        ),
        cargo_entry(
            "qi-fallback",
            "0.1.0",
            "riscv64-Linux",
            &url("qi-fallback"),
            &good_bytes
        ),
        // Our own farm built qi-tool 1.0.0: ours wins.
        cargo_entry(
            "qi-tool",
            "1.0.0",
            "x86_64-Linux",
            &url("qi-fallback"),
            &good_bytes
        ),
        bad_sha,
        bad_size,
        slash,
        bad_name,
        cargo_entry(
            "qi-hello",
            "0.2.0",
            "x86_64-Linux",
            &url("dynamic"),
            &dynamic
        ),
        cargo_entry(
            "qi-yanked",
            "0.1.0",
            "x86_64-Linux",
            &url("qi-fallback"),
            &good_bytes
        ),
        cargo_entry(
            "qi-yanked",
            "0.1.0",
            "x86_64-Linux",
            &url("qi-fallback"),
            &good_bytes
        ),
    ]);
    let meta = s.path().join("x86_64-Linux.json");
    std::fs::write(&meta, serde_json::to_vec_pretty(&metadata).unwrap()).unwrap();
    let not_json = s.path().join("aarch64-Linux.json");
    std::fs::write(&not_json, "<html>rate limited</html>").unwrap();
    // 300 MB without writing 300 MB: a sparse file, refused by the default 64 MiB cap.
    let huge = s.path().join("huge.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(300 << 20)
        .unwrap();

    let report_path = s.path().join("report.json");
    let import = || {
        import_into(&s, "pkgforge")
            .arg("--metadata")
            .arg(&meta)
            .arg(&not_json)
            .arg(&huge)
            .arg("--proxy")
            .arg(server.url())
            .arg("--report")
            .arg(&report_path)
            .run()
    };
    let run = import();
    run.assert_success();
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let target = "x86_64-unknown-linux-musl";
    let not_json_line = format!(
        "{}: not a JSON list: expected value at line 1 column 1",
        not_json.display()
    );
    let huge_line = format!(
        "{}: it is larger than 67108864 bytes (raise the cap with `--max-metadata-bytes`)",
        huge.display()
    );
    let fallback_url = url("qi-fallback");
    let mut huge_and_json = vec![not_json_line, huge_line];
    huge_and_json.sort();
    let expected = json!({
        "imported": [format!("qi-fallback 0.1.0 {target}")],
        "unchanged": [],
        "skipped": {
            "unsupported-target": ["qi-fallback 0.1.0 riscv64-Linux: `riscv64-Linux` has no musl target here"],
            "ours-wins": [format!("qi-tool 1.0.0 {target}: our own build is in the index")],
        },
        "failed": {
            "checksum-mismatch": [format!(
                "qi-hello 0.1.0 {target}: checksum mismatch for `{fallback_url}`: expected {}, got {}",
                "00".repeat(32), sha256_hex(&good_bytes)
            )],
            "size-mismatch": [run_size_line(&report)],
            "invalid-name": [
                "qi-hello 0.1.0 x86_64-Linux: `no$crate 0.1.0` is not a crate name and version",
                "qi-hello 0.3.0-beta.1 x86_64-Linux: `provides` names `../evil`, not a plain file name",
            ],
            "not-static": [format!("qi-hello 0.2.0 {target}: it is dynamically linked (it has a `PT_INTERP` loader or needs libraries)")],
            "duplicate": [
                format!("qi-yanked 0.1.0 {target}: the metadata lists this release more than once"),
                format!("qi-yanked 0.1.0 {target}: the metadata lists this release more than once"),
            ],
            "bad-metadata": huge_and_json,
        },
    });
    assert_eq!(report, expected, "{run}");
    assert!(
        run.stdout
            .starts_with("imported 1, unchanged 0, skipped 2, failed 9"),
        "{run}"
    );

    // The package file holds the raw executable under `bin_releases`, pointing at the pool.
    let file: Value = serde_json::from_slice(
        &std::fs::read(s.index_dir().join("crates/qi/-f/qi-fallback.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(file["releases"], json!([]), "{file}");
    let bin = &file["bin_releases"][0];
    assert_eq!(bin["format"], "bin");
    assert_eq!(bin["archive"], json!(fallback_url));
    assert_eq!(bin["provenance"]["imported_from"], "pkgforge-cargo");
    assert_eq!(
        bin["provenance"]["source_checksum"],
        json!(world().registry.cksum("qi-fallback", "0.1.0").unwrap())
    );

    // Idempotent: a re-run writes nothing.
    let before = snapshot(&s.index_dir());
    let again = import();
    again.assert_success();
    assert!(
        again.stdout.starts_with("imported 0, unchanged 1,"),
        "{again}"
    );
    assert_eq!(snapshot(&s.index_dir()), before);

    // The client installs it from the index: one index request, one download, no unpacking.
    let index_before = s.index.requests();
    let pool_before = server.requests();
    s.quickinstall().arg("qi-fallback").run().assert_success();
    assert_eq!(s.index.requests() - index_before, 1, "one signed lookup");
    assert_eq!(
        server.requests() - pool_before,
        1,
        "one download of the executable"
    );
    assert_eq!(s.run_installed("qi-fallback"), "qi-fallback imported");
}

/// The size-mismatch line names the URL and both sizes; its exact wording is the downloader's.
fn run_size_line(report: &Value) -> Value {
    let line = report["failed"]["size-mismatch"][0].clone();
    let text = line.as_str().unwrap_or_default();
    assert!(
        text.starts_with("qi-hello 0.2.1 x86_64-unknown-linux-musl: "),
        "{text}"
    );
    line
}

/// Every file under `dir` with its bytes and modification time.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let m = std::fs::metadata(&p).unwrap().modified().unwrap();
                out.push((p.clone(), std::fs::read(&p).unwrap(), m));
            }
        }
    }
    out.sort();
    out
}

/// Writes `{tag}/{file}` and, when `key` is given, its `.sig` into a quickinstall-style tree.
fn pool_asset(pool: &Path, tag: &str, file: &str, bytes: &[u8], key: Option<&minisign::SecretKey>) {
    let dir = pool.join(tag);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(file), bytes).unwrap();
    if let Some(key) = key {
        let comment = format!("timestamp:1700000000\tfile:{file}");
        let sig =
            minisign::sign(None, key, std::io::Cursor::new(bytes), Some(&comment), None).unwrap();
        std::fs::write(dir.join(format!("{file}.sig")), sig.to_string()).unwrap();
    }
}

#[test]
fn quickinstall_import_verifies_the_pool_key_reports_exactly_and_clients_install_in_one_lookup() {
    use crate::support::index::{Entry, tar_gz};
    let s = Scenario::new();
    let pool = s.path().join("pool");
    let Some(exe) = static_binary(s.path(), "qi-fallback", "qi-fallback from the pool") else {
        return;
    };
    let exe = std::fs::read(exe).unwrap();
    let good = tar_gz(&[Entry::File {
        name: "qi-fallback",
        mode: 0o755,
        data: &exe,
    }]);
    let pool_key = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    let stranger = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    let t = "x86_64-unknown-linux-musl";
    pool_asset(
        &pool,
        "qi-fallback-0.1.0",
        &format!("qi-fallback-0.1.0-{t}.tar.gz"),
        &good,
        Some(&pool_key.sk),
    );
    pool_asset(
        &pool,
        "qi-hello-0.1.0",
        &format!("qi-hello-0.1.0-{t}.tar.gz"),
        &good,
        Some(&stranger.sk),
    );
    pool_asset(
        &pool,
        "qi-hello-0.2.0",
        &format!("qi-hello-0.2.0-{t}.tar.gz"),
        &good,
        None,
    );
    let nested = tar_gz(&[Entry::Symlink {
        name: "qi-hello",
        target: "/bin/sh",
    }]);
    pool_asset(
        &pool,
        "qi-hello-0.2.1",
        &format!("qi-hello-0.2.1-{t}.tar.gz"),
        &nested,
        Some(&pool_key.sk),
    );
    pool_asset(
        &pool,
        "qi-tool-1.0.0",
        &format!("qi-tool-1.0.0-{t}.tar.gz"),
        &good,
        Some(&pool_key.sk),
    );
    let server = TestServer::serve(&pool);
    let tags = s.path().join("tags.txt");
    std::fs::write(
        &tags,
        "qi-fallback-0.1.0\nqi-hello-0.1.0\nqi-hello-0.2.0\nqi-hello-0.2.1\nqi-tool-1.0.0\nqi-missing-1.0.0\nnot_a_tag\n",
    )
    .unwrap();
    let report_path = s.path().join("report.json");
    let run = import_into(&s, "quickinstall")
        .arg("--tags")
        .arg(&tags)
        .arg("--pool-url")
        .arg(server.url())
        .arg("--pool-key")
        .arg(pool_key.pk.to_base64())
        .arg("--targets")
        .arg(format!("{t},aarch64-unknown-linux-musl"))
        .arg("--report")
        .arg(&report_path)
        .run();
    run.assert_success();
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let id = |pk: &minisign::PublicKey| -> String {
        pk.keynum()
            .iter()
            .rev()
            .map(|b| format!("{b:02X}"))
            .collect()
    };
    let bad_sig = format!(
        "qi-hello 0.1.0 {t}: the signature does not verify with the pool key: Signature key id: {} is different from public key: {}",
        id(&stranger.pk),
        id(&pool_key.pk)
    );
    let bad_tar = format!(
        "qi-hello 0.2.1 {t}: archive `{}qi-hello-0.2.1/qi-hello-0.2.1-{t}.tar.gz` holds `qi-hello`, which is not a regular file",
        server.url()
    );
    let expected = json!({
        "imported": [format!("qi-fallback 0.1.0 {t}")],
        "unchanged": [],
        "skipped": {
            "unsigned": [format!("qi-hello 0.2.0 {t}: the pool has no `.sig` for it")],
            "ours-wins": [format!("qi-tool 1.0.0 {t}: our own build is in the index")],
            "not-in-registry": [format!(
                "qi-missing-1.0.0: crate `qi-missing` was not found in the registry `{}`",
                s.registry.sparse_url()
            )],
        },
        "failed": {
            "bad-signature": [bad_sig],
            "bad-archive": [bad_tar],
            "invalid-name": ["not_a_tag: not a `{crate}-{version}` tag"],
        },
    });
    assert_eq!(report, expected, "{run}");

    let file: Value = serde_json::from_slice(
        &std::fs::read(s.index_dir().join("crates/qi/-f/qi-fallback.json")).unwrap(),
    )
    .unwrap();
    let release = &file["releases"][0];
    let asset = format!("qi-fallback-0.1.0/qi-fallback-0.1.0-{t}.tar.gz");
    assert_eq!(
        release["archive"],
        json!(format!("{}{asset}", server.url()))
    );
    assert_eq!(release["provenance"]["imported_from"], "cargo-quickinstall");
    assert_eq!(release["provenance"]["built_at"], "2023-11-14T22:13:20Z");
    let key_id: String = pool_key
        .pk
        .keynum()
        .iter()
        .rev()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(release["provenance"]["key_id"], json!(key_id));
    assert_eq!(
        release["provenance"]["source_checksum"],
        json!(world().registry.cksum("qi-fallback", "0.1.0").unwrap())
    );

    let index_before = s.index.requests();
    let pool_before = server.requests_for(&asset);
    s.quickinstall().arg("qi-fallback").run().assert_success();
    assert_eq!(s.index.requests() - index_before, 1, "one signed lookup");
    assert_eq!(server.requests_for(&asset) - pool_before, 1);
    assert_eq!(s.run_installed("qi-fallback"), "qi-fallback from the pool");
}

/// One pkgforge-go metadata entry (the keys its builder writes), built from `commit`.
fn go_entry(name: &str, repo: &str, commit: &str, url: &str, bytes: &[u8]) -> Value {
    let version = format!("HEAD-{}-250615T204225", &commit[..7]);
    json!({
        "build_date": "2025-06-19T00:00:00Z",
        "download_url": url,
        "ghcr_pkg": format!("ghcr.io/pkgforge-go/github/{repo}/{name}:{version}-x86_64-Linux"),
        "host": "x86_64-Linux",
        "pkg": name,
        "pkg_family": name,
        "pkg_id": format!("{name}#github.com_{}", repo.replace('/', "_")),
        "pkg_name": name,
        "pkg_type": "static",
        "provides": [name],
        "shasum": sha256_hex(bytes),
        "size_raw": bytes.len().to_string(),
        "src_url": [format!("https://github.com/{repo}/archive/{commit}.tar.gz")],
        "version": version,
    })
}

#[test]
fn pkgforge_go_entries_import_only_at_a_tagged_commit_and_gquick_installs_in_one_lookup() {
    use crate::support::goproxy::{go_env, module_zip};
    use crate::support::index::keygen;
    let mut env = go_env(crate::support::env::TestEnv::new());
    env.set("GOBIN", env.path().join("gobin"));
    let module = "github.com/qi-test/qigo";
    let (tagged, untagged) = ("a".repeat(40), "b".repeat(40));
    // A module proxy whose v1.1.0 is commit `tagged` (v1.0.0 another one).
    let proxy = env.path().join("proxy");
    let v = proxy.join("github.com/qi-test/qigo/@v");
    std::fs::create_dir_all(&v).unwrap();
    let src = env.path().join("src");
    std::fs::create_dir_all(src.join("cmd/qigo")).unwrap();
    std::fs::write(src.join("go.mod"), format!("module {module}\n\ngo 1.19\n")).unwrap();
    std::fs::write(
        src.join("cmd/qigo/main.go"),
        "package main\n\nfunc main() {}\n",
    )
    .unwrap();
    for (version, hash) in [("v1.0.0", "c".repeat(40)), ("v1.1.0", tagged.clone())] {
        let info = json!({"Version": version, "Time": "2025-06-15T20:42:25Z",
            "Origin": {"VCS": "git", "URL": "https://github.com/qi-test/qigo", "Hash": hash, "Ref": format!("refs/tags/{version}")}});
        std::fs::write(v.join(format!("{version}.info")), info.to_string()).unwrap();
        std::fs::write(
            v.join(format!("{version}.mod")),
            format!("module {module}\n\ngo 1.19\n"),
        )
        .unwrap();
        std::fs::write(
            v.join(format!("{version}.zip")),
            module_zip(module, version, &src),
        )
        .unwrap();
        if version == "v1.1.0" {
            std::fs::write(
                proxy.join("github.com/qi-test/qigo/@latest"),
                info.to_string(),
            )
            .unwrap();
        }
    }
    std::fs::write(v.join("list"), "v1.0.0\nv1.1.0\n").unwrap();
    let proxy_server = TestServer::serve(&proxy);

    let pool = env.path().join("pool");
    std::fs::create_dir_all(&pool).unwrap();
    let Some(exe) = static_binary(&pool, "qigo", "qigo v1.1.0") else {
        return;
    };
    let exe = std::fs::read(exe).unwrap();
    let pool_server = TestServer::serve(&pool);
    let url = format!("{}qigo", pool_server.url());
    let metadata = json!([
        go_entry("qigo", "qi-test/qigo", &tagged, &url, &exe),
        go_entry("qigo", "qi-test/qigo", &untagged, &url, &exe),
        go_entry("qigo", "qi test/qigo", &tagged, &url, &exe),
    ]);
    let meta = env.path().join("x86_64-Linux.json");
    std::fs::write(&meta, metadata.to_string()).unwrap();
    let key = keygen(&env, &env.path().join("keys"));
    let index = env.path().join("index");
    let report_path = env.path().join("report.json");
    let run = env
        .build_index()
        .args(["import", "pkgforge", "--metadata"])
        .arg(&meta)
        .arg("--index")
        .arg(&index)
        .arg("--secret-key")
        .arg(&key.secret_path)
        .arg("--proxy")
        .arg(proxy_server.url())
        .arg("--report")
        .arg(&report_path)
        .run();
    run.assert_success();
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let t = "x86_64-unknown-linux-musl";
    let untagged_version = format!("HEAD-{}-250615T204225", &untagged[..7]);
    let tagged_version = format!("HEAD-{}-250615T204225", &tagged[..7]);
    assert_eq!(
        report,
        json!({
            "imported": [format!("{module} v1.1.0 {t}")],
            "unchanged": [],
            "skipped": {
                "commit-not-a-tag": [format!("qigo {untagged_version} x86_64-Linux: no tag of `{module}` is commit {untagged}")],
            },
            "failed": {
                "invalid-name": [format!("qigo {tagged_version} x86_64-Linux: `github.com/qi test/qigo` is not a module path")],
            },
        }),
        "{run}"
    );
    let file: Value = serde_json::from_slice(
        &std::fs::read(index.join("go/github.com/qi-test/qigo.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        file["bin_releases"][0]["packages"],
        json!({"qigo": format!("{module}/cmd/qigo")})
    );

    let index_server = TestServer::serve(&index);
    let install = env
        .command(env!("CARGO_BIN_EXE_gquick"))
        .args([
            "install",
            "--no-fallback",
            &format!("{module}/cmd/qigo@latest"),
        ])
        .env("QUICKINSTALL_INDEX", index_server.url())
        .env("QUICKINSTALL_TRUSTED_KEYS", &key.public_b64)
        .env("GOPROXY", proxy_server.url())
        .run();
    install.assert_success();
    assert_eq!(index_server.requests(), 1, "one signed lookup\n{install}");
    assert_eq!(
        crate::support::env::run_binary(&env.path().join("gobin/qigo")),
        "qigo v1.1.0"
    );
}
