//! Fixture release indexes built by the real `build-index`, and the tools to tamper with them.
//!
//! [`world`] builds, once per test run, a test key pair, the fixture crates (static binaries, via
//! `build-index build --path`), a signed index (`build-index publish`) and the matching sparse
//! registry; tests get their own copy of the index through [`Scenario`] and may then corrupt it:
//! swap an archive, edit a package file without re-signing, re-sign with another key, or plant an
//! archive with `../`, absolute or symlink entries that is otherwise correctly checksummed and
//! signed, so that only the archive content is bad.
//!
//! Clients read the signed bundle (`<file>.signed`: the signature, then the file), so every
//! tampering helper rewrites the bundle the way an attacker would, and keeps the detached
//! `.json`/`.minisig` pair consistent with it.

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use quickinstall::index::format::PackageKind;
use quickinstall::index::path;
use quickinstall::index::signature::TrustedComment;
use serde_json::Value;

use super::env::{TestEnv, copy_dir, sha256_hex};
use super::registry::{Package, Registry, ServedRegistry};
use super::server::TestServer;

/// The test signing key made by `build-index keygen`.
pub struct TestKey {
    pub secret_path: PathBuf,
    pub public_path: PathBuf,
    /// The public key's base64 line, as `--trusted-key`/`QUICKINSTALL_TRUSTED_KEYS` take it.
    pub public_b64: String,
}

impl TestKey {
    pub fn secret(&self) -> minisign::SecretKey {
        let text = std::fs::read_to_string(&self.secret_path).unwrap();
        minisign::SecretKeyBox::from_string(&text)
            .unwrap()
            .into_unencrypted_secret_key()
            .unwrap()
    }
}

/// Everything built once per test run.
pub struct World {
    pub key: TestKey,
    /// The signed index as `build-index publish` left it. Read-only: tests copy it.
    pub index: PathBuf,
    pub registry: Registry,
    /// The target the fixtures were built for (the host's, as `build-index` chose it).
    pub target: String,
    /// `build-index build` result records, by `name@version`.
    pub records: BTreeMap<String, PathBuf>,
    /// Crate source dirs, by `name@version`.
    pub sources: BTreeMap<String, PathBuf>,
}

/// The fixture crates: (name, version, bins, yanked, in the index).
///
/// `qi-hello` has a yanked 0.2.1 and a prerelease 0.3.0-beta.1, both also built into the index,
/// so a client that picked either would visibly install it; 0.2.0 is the right choice.
pub const FIXTURES: &[(&str, &str, &[&str], bool, bool)] = &[
    ("qi-hello", "0.1.0", HELLO_BINS, false, true),
    ("qi-hello", "0.2.0", HELLO_BINS, false, true),
    ("qi-hello", "0.2.1", HELLO_BINS, true, true),
    ("qi-hello", "0.3.0-beta.1", HELLO_BINS, false, true),
    ("qi-tool", "1.0.0", &["qi-tool"], false, true),
    ("qi-yanked", "0.1.0", &["qi-yanked"], true, true),
    ("qi-fallback", "0.1.0", &["qi-fallback"], false, false),
];

pub const HELLO_BINS: &[&str] = &["qi-hello", "qi-hello-admin"];

/// The shared fixture world; built on first use. A failure is reported by every test that needs
/// it, without rebuilding.
pub fn world() -> &'static World {
    static WORLD: OnceLock<Result<World, String>> = OnceLock::new();
    build_once(&WORLD, "the fixture index", build_world)
}

/// Builds a shared fixture the first time it is asked for; a panic while building is kept and
/// reported by every test that asks afterwards, without building again.
pub fn build_once<T>(
    cell: &'static OnceLock<Result<T, String>>,
    what: &str,
    build: fn() -> T,
) -> &'static T {
    let built = cell.get_or_init(|| {
        std::panic::catch_unwind(build).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "unknown panic".to_owned())
        })
    });
    match built {
        Ok(value) => value,
        Err(why) => panic!("building {what} failed: {why}"),
    }
}

fn build_world() -> World {
    // Under cargo's per-test-binary scratch dir, not /tmp; it is kept for the process's life and
    // left behind for inspection (`cargo clean` removes it).
    let dir = tempfile::Builder::new()
        .prefix("world-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep();
    let env = TestEnv::new();
    let key = keygen(&env, &dir.join("keys"));
    let registry = Registry::new(&dir.join("registry"));
    let mut sources = BTreeMap::new();
    for (name, version, bins, yanked, _) in FIXTURES {
        let source = Package::new(name, version)
            .bins(bins)
            .yanked(*yanked)
            .publish(&registry);
        sources.insert(format!("{name}@{version}"), source);
    }
    // Builds run two at a time: each is a `cargo install` of a hello world.
    let wanted: Vec<_> = FIXTURES.iter().filter(|f| f.4).collect();
    let mut records = BTreeMap::new();
    for pair in wanted.chunks(2) {
        let built: Vec<(String, PathBuf)> = std::thread::scope(|s| {
            let handles: Vec<_> = pair
                .iter()
                .map(|(name, version, ..)| {
                    let id = format!("{name}@{version}");
                    let source = sources[&id].clone();
                    let out = dir.join("out").join(format!("{name}-{version}"));
                    let env = &env;
                    s.spawn(move || (id, build(env, &source, &out)))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        records.extend(built);
    }
    let index = dir.join("index");
    let mut publish = env
        .build_index()
        .arg("publish")
        .arg("--index")
        .arg(&index)
        .arg("--secret-key")
        .arg(&key.secret_path);
    for record in records.values() {
        publish = publish.arg(record);
    }
    publish.run().assert_success();
    let first = records.values().next().unwrap();
    let target = read_json(first)["target"].as_str().unwrap().to_owned();
    World {
        key,
        index,
        registry,
        target,
        records,
        sources,
    }
}

/// `build-index keygen` into `dir/test.key` and `dir/test.pub`.
pub fn keygen(env: &TestEnv, dir: &Path) -> TestKey {
    std::fs::create_dir_all(dir).unwrap();
    let secret_path = dir.join("test.key");
    let public_path = dir.join("test.pub");
    let run = env
        .build_index()
        .arg("keygen")
        .arg("--secret-key")
        .arg(&secret_path)
        .arg("--public-key")
        .arg(&public_path)
        .run();
    run.assert_success();
    let public_b64 = run.stdout.trim().to_owned();
    TestKey {
        secret_path,
        public_path,
        public_b64,
    }
}

/// `build-index build --path source --out out`; returns the result record's path.
pub fn build(env: &TestEnv, source: &Path, out: &Path) -> PathBuf {
    let run = env
        .build_index()
        .arg("build")
        .arg("--path")
        .arg(source)
        .arg("--out")
        .arg(out)
        .run();
    run.assert_success();
    let printed = run.stdout.trim();
    assert!(!printed.is_empty(), "build printed no record path:\n{run}");
    PathBuf::from(printed)
}

pub fn read_json(path: &Path) -> Value {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("could not read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

/// The index path of a crate's package file, e.g. `crates/qi/-h/qi-hello.json`.
pub fn package_path(name: &str) -> String {
    path::package_file(PackageKind::Crate, name).unwrap()
}

/// The path of its detached signature.
pub fn signature_path(name: &str) -> String {
    path::signature_file(&package_path(name))
}

/// The path of its signed bundle (signature then file), the one file clients fetch.
pub fn bundle_path(name: &str) -> String {
    format!("{}.signed", package_path(name))
}

/// A signed bundle as `docs/index-format.md` defines it: the four signature lines, each ending
/// in `\n`, then the file's bytes. Written out here rather than borrowed from the library, so
/// the tests check the library against the documented format.
pub fn bundle(signature_text: &str, data: &[u8]) -> Vec<u8> {
    let mut out = signature_text.trim_end_matches('\n').as_bytes().to_vec();
    out.push(b'\n');
    out.extend_from_slice(data);
    out
}

/// A signature of `data` by `key` whose trusted comment binds `path` and the current time.
pub fn sign(key: &minisign::SecretKey, data: &[u8], path: &str) -> String {
    let comment = TrustedComment {
        path: path.to_owned(),
        timestamp: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        expires: None,
    }
    .render();
    minisign::sign(None, key, data, Some(&comment), None)
        .unwrap()
        .to_string()
}

/// A key nobody trusts.
pub fn stranger_key() -> minisign::SecretKey {
    minisign::KeyPair::generate_unencrypted_keypair()
        .unwrap()
        .sk
}

/// One test's environment with its own copy of the fixture index and both servers running, and
/// the client pointed at them (`QUICKINSTALL_INDEX`, `QUICKINSTALL_REGISTRY`,
/// `QUICKINSTALL_TRUSTED_KEYS`).
pub struct Scenario {
    pub env: TestEnv,
    pub index: TestServer,
    pub registry: ServedRegistry,
}

impl Deref for Scenario {
    type Target = TestEnv;
    fn deref(&self) -> &TestEnv {
        &self.env
    }
}

impl Default for Scenario {
    fn default() -> Self {
        Self::new()
    }
}

impl Scenario {
    pub fn new() -> Self {
        let world = world();
        let mut env = TestEnv::new();
        let index_dir = env.path().join("index");
        copy_dir(&world.index, &index_dir);
        let index = TestServer::serve(&index_dir);
        let registry = world.registry.serve();
        env.set("QUICKINSTALL_INDEX", index.url());
        env.set("QUICKINSTALL_REGISTRY", registry.sparse_url());
        env.set("QUICKINSTALL_TRUSTED_KEYS", &world.key.public_b64);
        Self {
            env,
            index,
            registry,
        }
    }

    /// This test's copy of the index.
    pub fn index_dir(&self) -> PathBuf {
        self.env.path().join("index")
    }

    /// The package file of `name`, parsed.
    pub fn package(&self, name: &str) -> Value {
        read_json(&self.index_dir().join(package_path(name)))
    }

    /// Writes a package file as given, WITHOUT re-signing it: the bundle keeps the old
    /// signature in front of the new bytes.
    pub fn write_package_unsigned(&self, name: &str, package: &Value) {
        let bytes = serde_json::to_vec_pretty(package).unwrap();
        let old_signature =
            std::fs::read_to_string(self.index_dir().join(signature_path(name))).unwrap();
        self.write_files(name, &bytes, Some(&old_signature));
    }

    /// Writes the package file, its detached signature (when given; else removes it) and the
    /// bundle clients read (the signature, if any, then the bytes).
    pub fn write_files(&self, name: &str, bytes: &[u8], signature_text: Option<&str>) {
        let dir = self.index_dir();
        std::fs::write(dir.join(package_path(name)), bytes).unwrap();
        let bundle = match signature_text {
            Some(text) => {
                std::fs::write(dir.join(signature_path(name)), text).unwrap();
                bundle(text, bytes)
            }
            None => {
                let _ = std::fs::remove_file(dir.join(signature_path(name)));
                bytes.to_vec()
            }
        };
        std::fs::write(dir.join(bundle_path(name)), bundle).unwrap();
    }

    /// The package file's bytes as published.
    pub fn package_bytes(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.index_dir().join(package_path(name))).unwrap()
    }

    /// Writes a package file and signs it with `key` (bound to its own path).
    pub fn write_package_signed(&self, name: &str, package: &Value, key: &minisign::SecretKey) {
        self.write_package_unsigned(name, package);
        self.resign(name, key);
    }

    /// Re-signs the package file as it is on disk with `key` (bound to its own path).
    pub fn resign(&self, name: &str, key: &minisign::SecretKey) {
        let data = self.package_bytes(name);
        let signature = sign(key, &data, &package_path(name));
        self.write_files(name, &data, Some(&signature));
    }

    /// The index path (relative) of the archive of `name@version` for the fixture target.
    pub fn archive_path(&self, name: &str, version: &str) -> String {
        let package = self.package(name);
        let release = find_release(&package, version, &world().target);
        release["archive"].as_str().unwrap().to_owned()
    }

    /// Replaces the archive's bytes on disk, leaving the signed package file as it is.
    pub fn replace_archive_bytes(&self, name: &str, version: &str, bytes: &[u8]) {
        let archive = self.index_dir().join(self.archive_path(name, version));
        std::fs::write(archive, bytes).unwrap();
    }

    /// Installs `bytes` as the archive of `name@version`, with the package file's sha256 and size
    /// fixed to match and re-signed with the test key: everything checks out but the content.
    pub fn plant_archive(&self, name: &str, version: &str, bytes: &[u8]) {
        self.replace_archive_bytes(name, version, bytes);
        let mut package = self.package(name);
        let release = find_release_mut(&mut package, version, &world().target);
        release["sha256"] = Value::from(sha256_hex(bytes));
        release["size"] = Value::from(bytes.len());
        self.write_package_signed(name, &package, &world().key.secret());
    }

    /// The archive of `name@version` as published.
    pub fn archive_bytes(&self, name: &str, version: &str) -> Vec<u8> {
        std::fs::read(self.index_dir().join(self.archive_path(name, version))).unwrap()
    }
}

pub fn find_release<'a>(package: &'a Value, version: &str, target: &str) -> &'a Value {
    package["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["version"] == version && r["target"] == target)
        .unwrap_or_else(|| panic!("no release {version} for {target} in {package}"))
}

pub fn find_release_mut<'a>(package: &'a mut Value, version: &str, target: &str) -> &'a mut Value {
    package["releases"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["version"] == version && r["target"] == target)
        .unwrap()
}

/// An entry of a hand-made archive.
pub enum Entry<'a> {
    /// A regular file; the name is written into the header raw, unchecked (`../x`, `/abs`).
    File {
        name: &'a str,
        mode: u32,
        data: &'a [u8],
    },
    Symlink {
        name: &'a str,
        target: &'a str,
    },
}

/// A `.tar.gz` with exactly these entries. Names go into the headers byte for byte, because
/// `tar::Builder` (rightly) refuses to write `..` or absolute paths.
pub fn tar_gz(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut tar = Vec::new();
    for entry in entries {
        let mut header = tar::Header::new_old();
        let (name, data): (&str, &[u8]) = match entry {
            Entry::File { name, mode, data } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(data.len() as u64);
                (name, data)
            }
            Entry::Symlink { name, target } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                let link = &mut header.as_old_mut().linkname;
                link[..target.len()].copy_from_slice(target.as_bytes());
                (name, &[])
            }
        };
        let raw = &mut header.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_cksum();
        tar.extend_from_slice(header.as_bytes());
        tar.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        tar.extend(std::iter::repeat_n(0u8, pad));
    }
    tar.extend(std::iter::repeat_n(0u8, 1024));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

/// The (name, bytes) of every entry of a `.tar.gz`.
pub fn read_tar_gz(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            (name, data)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_made_archives_keep_hostile_names_verbatim() {
        let bytes = tar_gz(&[
            Entry::File {
                name: "qi-hello",
                mode: 0o755,
                data: b"bin",
            },
            Entry::File {
                name: "../evil",
                mode: 0o755,
                data: b"x",
            },
            Entry::File {
                name: "/abs",
                mode: 0o644,
                data: b"y",
            },
            Entry::Symlink {
                name: "link",
                target: "/etc/passwd",
            },
        ]);
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        let seen: Vec<(String, tar::EntryType, String)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let link = e
                    .link_name_bytes()
                    .map(|l| String::from_utf8_lossy(&l).into_owned())
                    .unwrap_or_default();
                (
                    String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                    e.header().entry_type(),
                    link,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("qi-hello".into(), tar::EntryType::Regular, String::new()),
                ("../evil".into(), tar::EntryType::Regular, String::new()),
                ("/abs".into(), tar::EntryType::Regular, String::new()),
                ("link".into(), tar::EntryType::Symlink, "/etc/passwd".into()),
            ]
        );
        assert_eq!(read_tar_gz(&bytes)[0].1, b"bin");
    }

    #[test]
    fn test_signatures_verify_with_the_client_library() {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let mut keys = quickinstall::index::signature::TrustedKeys::empty();
        keys.add_text(&kp.pk.to_base64()).unwrap();
        let sig = sign(&kp.sk, b"data", "crates/qi/-h/qi-hello.json");
        let comment = keys
            .verify(b"data", &sig, "crates/qi/-h/qi-hello.json")
            .unwrap();
        assert!(comment.timestamp > 1_700_000_000);
        assert_eq!(package_path("qi-hello"), "crates/qi/-h/qi-hello.json");
    }
}
