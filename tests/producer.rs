//! The producer, `build-index`: keygen, build, publish, serve, driven as a user (or CI) would.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Child;

use quickinstall::index::format::RECIPE_VERSION;
use quickinstall::index::signature::TrustedKeys;

use crate::support::crates::CrateSpec;
use crate::support::env::{
    TestEnv, copy_dir, host_triple, run_binary, sha256_hex, snapshot_with_mtimes,
};
use crate::support::index::{self, HELLO_BINS, read_json, read_tar_gz, world};
use crate::support::tools::require_rust_target;

/// Kills a child process this test started when the test ends, however it ends.
pub struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn keygen_writes_a_secret_key_only_its_owner_can_read() {
    let env = TestEnv::new();
    let key = index::keygen(&env, &env.path().join("keys"));
    let mode = std::fs::metadata(&key.secret_path)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "secret key mode is {:o}", mode & 0o777);
    // The printed line is the public key, usable as a trusted key by the client library.
    let public = std::fs::read_to_string(&key.public_path).unwrap();
    assert!(
        public.lines().any(|l| l.trim() == key.public_b64),
        "stdout {:?} is not the key in {public:?}",
        key.public_b64
    );
    let mut keys = TrustedKeys::empty();
    keys.add_text(&key.public_b64).unwrap();
    // And the secret key is an unencrypted minisign key (what CI signs with).
    let _ = key.secret();
}

#[test]
fn keygen_does_not_overwrite_an_existing_key_without_force() {
    let env = TestEnv::new();
    let dir = env.path().join("keys");
    let key = index::keygen(&env, &dir);
    let before = std::fs::read(&key.secret_path).unwrap();
    let run = env
        .build_index()
        .arg("keygen")
        .arg("--secret-key")
        .arg(&key.secret_path)
        .arg("--public-key")
        .arg(&key.public_path)
        .run();
    run.assert_failure();
    assert_eq!(std::fs::read(&key.secret_path).unwrap(), before);
}

/// The preflight every publish job runs: a key the clients do not trust is refused (exit 1, a
/// sentence and a help line), the same key passed as trusted is accepted.
#[test]
fn check_key_refuses_a_key_the_clients_do_not_trust() {
    let env = TestEnv::new();
    let key = index::keygen(&env, &env.path().join("keys"));
    let run = env
        .build_index()
        .arg("check-key")
        .arg("--secret-key")
        .arg(&key.secret_path)
        .run();
    run.assert_exit(1);
    run.stderr_has(&["which the clients do not trust", "help:"]);
    let run = env
        .build_index()
        .arg("check-key")
        .arg("--secret-key")
        .arg(&key.secret_path)
        .arg("--trusted-key")
        .arg(&key.public_b64)
        .run();
    run.assert_success();
    assert_eq!(run.stdout.trim(), format!("trusted {}", key.public_b64));
}

#[test]
fn build_writes_an_archive_and_a_record_with_the_right_fields() {
    let world = world();
    let record_path = &world.records["qi-hello@0.2.0"];
    let record = read_json(record_path);
    assert_eq!(record["v"], 1, "{record}");
    assert_eq!(record["status"], "ok", "{record}");
    assert_eq!(record["kind"], "crate", "{record}");
    assert_eq!(record["name"], "qi-hello", "{record}");
    assert_eq!(record["version"], "0.2.0", "{record}");
    assert_eq!(record["target"], expected_target(), "{record}");
    assert_eq!(
        record["binaries"],
        serde_json::json!(HELLO_BINS),
        "{record}"
    );
    // musl, or gnu + crt-static: statically linked, so no glibc floor.
    assert!(record["min_glibc"].is_null(), "{record}");
    assert_eq!(record["recipe"], RECIPE_VERSION, "{record}");
    let provenance = &record["provenance"];
    // `cargo package` of the same sources is what the registry lists.
    assert_eq!(
        provenance["source_checksum"].as_str(),
        world.registry.cksum("qi-hello", "0.2.0").as_deref(),
        "{record}"
    );
    assert!(
        provenance["toolchain"]
            .as_str()
            .unwrap()
            .starts_with("rustc "),
        "{record}"
    );
    assert!(
        provenance["built_at"].as_str().unwrap().ends_with('Z'),
        "{record}"
    );

    let archive_path = record_path
        .parent()
        .unwrap()
        .join(record["archive"].as_str().unwrap());
    let archive = std::fs::read(&archive_path).unwrap();
    assert_eq!(record["sha256"], sha256_hex(&archive), "{record}");
    assert_eq!(record["size"], archive.len(), "{record}");

    // The archive holds the binaries at the top level (plus the license), and they run.
    let entries = read_tar_gz(&archive);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["LICENSE", "qi-hello", "qi-hello-admin"]);
    let unpacked = tempfile::tempdir().unwrap();
    for (name, bytes) in &entries {
        let path = unpacked.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert_eq!(
        run_binary(&unpacked.path().join("qi-hello")),
        "qi-hello 0.2.0"
    );
    if cfg!(target_os = "linux") {
        let bytes = std::fs::read(unpacked.path().join("qi-hello")).unwrap();
        let (_, interp) = crate::targets::elf_machine_and_interp(&bytes);
        assert!(
            !interp,
            "the built binary asks for a program interpreter: not static"
        );
    }
    assert_eq!(
        run_binary(&unpacked.path().join("qi-hello-admin")),
        "qi-hello-admin 0.2.0"
    );
}

#[test]
fn build_is_reproducible() {
    let world = world();
    let env = TestEnv::new();
    let first = read_json(&world.records["qi-tool@1.0.0"]);
    let again_path = index::build(
        &env,
        &world.sources["qi-tool@1.0.0"],
        &env.path().join("out"),
    );
    let again = read_json(&again_path);
    assert_eq!(again["sha256"], first["sha256"]);
    assert_eq!(again["size"], first["size"]);
    let archive = std::fs::read(
        again_path
            .parent()
            .unwrap()
            .join(again["archive"].as_str().unwrap()),
    )
    .unwrap();
    assert_eq!(sha256_hex(&archive), first["sha256"]);
}

#[test]
fn build_of_a_crate_that_does_not_compile_writes_a_failure_record() {
    let env = TestEnv::new();
    let source = env.path().join("qi-broken");
    let mut spec = CrateSpec::new("qi-broken", "0.1.0", &["qi-broken"]);
    spec.broken = true;
    spec.write(&source);
    let out = env.path().join("out");
    let run = env
        .build_index()
        .arg("build")
        .arg("--path")
        .arg(&source)
        // An explicit target: without one, a failed musl build is retried for gnu (a second
        // record, tested in the build module), which is not what this test is about.
        .arg("--target")
        .arg(expected_target())
        .arg("--out")
        .arg(&out)
        .run();
    run.assert_failure();
    run.stderr_has(&["qi-broken"]);
    let records: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(records.len(), 1, "{records:?}\n{run}");
    let record = read_json(&records[0]);
    assert_eq!(record["v"], 1, "{record}");
    assert_eq!(record["status"], "failed", "{record}");
    assert_eq!(record["name"], "qi-broken", "{record}");
    assert_eq!(record["version"], "0.1.0", "{record}");
    assert_eq!(record["target"], expected_target(), "{record}");
    assert!(record["failed_at"].as_str().is_some(), "{record}");
    let tail = record["log_tail"].as_str().unwrap();
    // The compiler's complaint about the planted type error is in the tail.
    assert!(tail.contains("mismatched types"), "{tail}");
    // No archive is left behind for a failed build.
    assert!(
        !std::fs::read_dir(&out).unwrap().any(|e| e
            .unwrap()
            .path()
            .to_string_lossy()
            .ends_with(".tar.gz")),
        "a failed build left an archive in {}",
        out.display()
    );
}

#[test]
fn published_index_verifies_with_the_client_library() {
    let world = world();
    let path = index::package_path("qi-hello");
    let data = std::fs::read(world.index.join(&path)).unwrap();
    let signature =
        std::fs::read_to_string(world.index.join(index::signature_path("qi-hello"))).unwrap();
    let mut keys = TrustedKeys::empty();
    keys.add_text(&world.key.public_b64).unwrap();
    keys.verify(&data, &signature, &path).unwrap();
    // The bundle clients fetch is exactly that signature followed by that file.
    let bundle = std::fs::read(world.index.join(index::bundle_path("qi-hello"))).unwrap();
    assert_eq!(bundle, index::bundle(&signature, &data));
    let package: serde_json::Value = serde_json::from_slice(&data).unwrap();
    let versions: Vec<&str> = package["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["0.1.0", "0.2.0", "0.2.1", "0.3.0-beta.1"]);
}

#[test]
fn publish_is_idempotent() {
    let world = world();
    let env = TestEnv::new();
    let index = env.path().join("index");
    copy_dir(&world.index, &index);
    let before = snapshot_with_mtimes(&index);
    let mut publish = env
        .build_index()
        .arg("publish")
        .arg("--index")
        .arg(&index)
        .arg("--secret-key")
        .arg(&world.key.secret_path);
    for record in world.records.values() {
        publish = publish.arg(record);
    }
    publish.run().assert_success();
    let after: Vec<_> = snapshot_with_mtimes(&index)
        .into_iter()
        // The publish lock file may be created; it is not index content.
        .filter(|(p, ..)| p != ".lock")
        .collect();
    let before: Vec<_> = before.into_iter().filter(|(p, ..)| p != ".lock").collect();
    assert_eq!(after, before);
}

#[test]
fn publish_refuses_an_archive_that_differs_from_its_record() {
    let world = world();
    let env = TestEnv::new();
    // A copy of a good result whose archive is swapped for another valid archive.
    let staged = env.path().join("result");
    copy_dir(world.records["qi-tool@1.0.0"].parent().unwrap(), &staged);
    let record_path = staged.join(world.records["qi-tool@1.0.0"].file_name().unwrap());
    let record = read_json(&record_path);
    let archive = staged.join(record["archive"].as_str().unwrap());
    let mut entries = read_tar_gz(&std::fs::read(&archive).unwrap());
    for (_, bytes) in &mut entries {
        bytes.extend_from_slice(b"tampered");
    }
    let files: Vec<_> = entries
        .iter()
        .map(|(name, bytes)| index::Entry::File {
            name,
            mode: 0o755,
            data: bytes,
        })
        .collect();
    std::fs::write(&archive, index::tar_gz(&files)).unwrap();

    let index_dir = env.path().join("index");
    let run = env
        .build_index()
        .arg("publish")
        .arg("--index")
        .arg(&index_dir)
        .arg("--secret-key")
        .arg(&world.key.secret_path)
        .arg(&record_path)
        .run();
    run.assert_failure();
    assert!(
        !index_dir.join(index::package_path("qi-tool")).exists(),
        "a package file was written for a refused archive:\n{run}"
    );
    assert!(
        !index_dir.join("archives").exists()
            || crate::support::env::snapshot(&index_dir.join("archives")).is_empty(),
        "an archive was published:\n{run}"
    );
}

#[test]
fn serve_serves_the_index_files() {
    let world = world();
    let env = TestEnv::new();
    let (_server, url) = serve(&env, &world.index);
    let path = index::package_path("qi-hello");
    let mut response = ureq::get(format!("{url}{path}")).call().unwrap();
    let body = response.body_mut().read_to_vec().unwrap();
    assert_eq!(body, std::fs::read(world.index.join(&path)).unwrap());
    let missing = ureq::get(format!("{url}crates/no/ne/none.json")).call();
    assert!(
        matches!(missing, Err(ureq::Error::StatusCode(404))),
        "{missing:?}"
    );
}

/// Starts `build-index serve` on `index` and returns it with its URL (`http://127.0.0.1:P/`).
pub fn serve(env: &TestEnv, index: &Path) -> (KillOnDrop, String) {
    let mut child = env
        .build_index()
        .arg("serve")
        .arg("--index")
        .arg(index)
        .arg("--addr")
        .arg("127.0.0.1:0")
        .spawn();
    let stdout = child.stdout.take().unwrap();
    let guard = KillOnDrop(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line.trim().to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
        "serve printed {line:?} instead of its URL"
    );
    (guard, url)
}

/// The target `build-index` builds for by default: the host's, except that a Linux host with
/// its architecture's musl target installed gets musl (which CI must have: `scripts/test.sh`
/// adds it, so there a gnu build would be a musl default that silently stopped working).
fn expected_target() -> String {
    let host = host_triple();
    let Some(musl) = host
        .strip_suffix("-linux-gnu")
        .map(|a| format!("{a}-linux-musl"))
    else {
        return host;
    };
    if require_rust_target(&musl) {
        musl
    } else {
        host
    }
}
