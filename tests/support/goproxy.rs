//! A real Go module proxy built from the fixture modules in `fixtures/go/`, and the signed Go
//! index the real `build-index` makes from it.
//!
//! [`GoProxy::build`] writes the GOPROXY protocol's static layout
//! (`<escaped module>/@v/{list,<v>.info,<v>.mod,<v>.zip}` and `<escaped module>/@latest`) into a
//! directory, which tests serve with [`TestServer`] (HTTP, request counting, misbehaviour) or hand
//! out as a `file://` URL: both are GOPROXY values the real `go` command accepts. Module zips are
//! written by a small STORED-method zip writer ([`zip_stored`]) that puts names in byte for byte,
//! so a test can also craft a zip with `../` entries. [`go_world`] builds and publishes the
//! fixture modules once per test run. No test logic lives here; `go` itself is only run by the
//! tests and by `build-index`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use quickinstall::index::format::PackageKind;
use quickinstall::index::path;

use super::env::{TestCommand, TestEnv, copy_dir};
use super::index::{TestKey, keygen};
use super::server::TestServer;

/// One fixture module: its path, its directory under `fixtures/go/`, and its versions (oldest
/// first), each a subdirectory holding that version's source tree.
pub struct GoModule {
    pub module: &'static str,
    pub dir: &'static str,
    pub versions: &'static [&'static str],
}

/// Every fixture module (see `fixtures/README.md`).
pub const GO_MODULES: &[GoModule] = &[
    GoModule {
        module: "example.com/qitool",
        dir: "qitool",
        versions: &["v1.0.0", "v1.1.0"],
    },
    GoModule {
        module: "example.com/UpperCase/qicase",
        dir: "UpperCase-qicase",
        versions: &["v0.1.0"],
    },
    GoModule {
        module: "example.com/qimajor/v2",
        dir: "qimajor-v2",
        versions: &["v2.0.0"],
    },
    GoModule {
        module: "example.com/qiretract",
        dir: "qiretract",
        versions: &["v1.0.0", "v1.1.0"],
    },
    GoModule {
        module: "example.com/qifallback",
        dir: "qifallback",
        versions: &["v0.1.0"],
    },
];

/// What goes into the fixture index: (module, version). `qifallback` is left out (the client
/// must fall back to `go install`), and so is `qitool v1.0.0` (a version absent from the index
/// of a module that is in it).
pub const GO_INDEXED: &[(&str, &str)] = &[
    ("example.com/qitool", "v1.1.0"),
    ("example.com/UpperCase/qicase", "v0.1.0"),
    ("example.com/qimajor/v2", "v2.0.0"),
    ("example.com/qiretract", "v1.0.0"),
    ("example.com/qiretract", "v1.1.0"),
];

/// `fixtures/go/`.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/go")
}

/// The source tree of one fixture module version.
pub fn source_dir(module: &str, version: &str) -> PathBuf {
    let m = GO_MODULES
        .iter()
        .find(|m| m.module == module)
        .unwrap_or_else(|| panic!("{module} is not a fixture module"));
    fixtures_dir().join(m.dir).join(version)
}

/// A module proxy directory.
pub struct GoProxy {
    pub root: PathBuf,
}

impl GoProxy {
    /// Writes every fixture module version into `root` in the GOPROXY layout.
    pub fn build(root: &Path) -> Self {
        for (i, m) in GO_MODULES.iter().enumerate() {
            let module_dir = root.join(path::escape_module_path(m.module));
            let v_dir = module_dir.join("@v");
            std::fs::create_dir_all(&v_dir).unwrap();
            for (j, version) in m.versions.iter().enumerate() {
                let source = fixtures_dir().join(m.dir).join(version);
                let info = info_json(version, i, j);
                std::fs::write(v_dir.join(format!("{version}.info")), &info).unwrap();
                std::fs::write(
                    v_dir.join(format!("{version}.mod")),
                    std::fs::read(source.join("go.mod")).unwrap(),
                )
                .unwrap();
                std::fs::write(
                    v_dir.join(format!("{version}.zip")),
                    module_zip(m.module, version, &source),
                )
                .unwrap();
            }
            let list: String = m.versions.iter().map(|v| format!("{v}\n")).collect();
            std::fs::write(v_dir.join("list"), list).unwrap();
            // `@latest` is what a proxy knows as newest; retractions are the client's business
            // (it reads them from the newest `.mod`), as with proxy.golang.org.
            let newest = m.versions.last().unwrap();
            std::fs::write(
                module_dir.join("@latest"),
                info_json(newest, i, m.versions.len() - 1),
            )
            .unwrap();
        }
        Self {
            root: root.to_path_buf(),
        }
    }

    /// `file:///…/proxy` (no trailing slash, as GOPROXY values are usually written).
    pub fn file_url(&self) -> String {
        format!("file://{}", self.root.display())
    }

    /// The proxy path (relative to the root) of a module's file, e.g. `@v/v1.0.0.zip`.
    pub fn file_path(module: &str, file: &str) -> String {
        format!("{}/{file}", path::escape_module_path(module))
    }

    /// Replaces a module version's zip with a crafted one.
    pub fn replace_zip(&self, module: &str, version: &str, zip: &[u8]) {
        let file = self
            .root
            .join(Self::file_path(module, &format!("@v/{version}.zip")));
        std::fs::write(file, zip).unwrap();
    }

    /// Serves the proxy over HTTP on 127.0.0.1.
    pub fn serve(&self) -> TestServer {
        TestServer::serve(&self.root)
    }
}

/// `{"Version":…,"Time":…}` with a distinct, stable time per module version.
fn info_json(version: &str, module: usize, nth: usize) -> String {
    format!(
        "{{\"Version\":\"{version}\",\"Time\":\"2024-{:02}-{:02}T00:00:00Z\"}}\n",
        module + 1,
        nth + 1
    )
}

/// The module zip of a source tree: every file, named `<module>@<version>/<relative path>`,
/// sorted so the bytes are stable.
pub fn module_zip(module: &str, version: &str, source: &Path) -> Vec<u8> {
    let mut files = BTreeMap::new();
    collect_files(source, source, &mut files);
    let entries: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .map(|(rel, data)| (format!("{module}@{version}/{rel}"), data))
        .collect();
    zip_stored(&entries)
}

fn collect_files(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            collect_files(root, &path, out);
        } else {
            let rel = path.strip_prefix(root).unwrap().to_string_lossy();
            out.insert(rel.replace('\\', "/"), std::fs::read(&path).unwrap());
        }
    }
}

/// A zip archive of regular files, STORED (no compression), names written verbatim (so `../x`
/// is possible on purpose). Enough of the format for Go's module zip reader: local headers,
/// the central directory, the end record; no zip64, no extra fields, DOS time 1980-01-01.
pub fn zip_stored(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    const DOS_TIME: u16 = 0;
    const DOS_DATE: u16 = (1 << 5) | 1; // 1980-01-01
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let crc = crc32(data);
        let size = u32::try_from(data.len()).unwrap();
        let name_len = u16::try_from(name.len()).unwrap();
        let offset = u32::try_from(out.len()).unwrap();
        // Local file header.
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes()); // version needed
        out.extend_from_slice(&0x0800u16.to_le_bytes()); // flags: UTF-8 names
        out.extend_from_slice(&0u16.to_le_bytes()); // method: stored
        out.extend_from_slice(&DOS_TIME.to_le_bytes());
        out.extend_from_slice(&DOS_DATE.to_le_bytes());
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes()); // compressed
        out.extend_from_slice(&size.to_le_bytes()); // uncompressed
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // extra length
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        // Central directory header.
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&((3u16 << 8) | 20).to_le_bytes()); // made by: Unix, 2.0
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&0x0800u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&DOS_TIME.to_le_bytes());
        central.extend_from_slice(&DOS_DATE.to_le_bytes());
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&name_len.to_le_bytes());
        central.extend_from_slice(&[0; 8]); // extra, comment, disk number, internal attributes
        central.extend_from_slice(&(0o100_644u32 << 16).to_le_bytes()); // external: -rw-r--r--
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let count = u16::try_from(entries.len()).unwrap();
    let central_offset = u32::try_from(out.len()).unwrap();
    let central_size = u32::try_from(central.len()).unwrap();
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // this disk, disk with the central directory
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&central_size.to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // comment length
    out
}

/// CRC-32 (IEEE, reflected, as zip uses it).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    crc.sum()
}

/// The Go module index built once per test run: the fixture proxy, a key, the result records of
/// `build-index build --go` for every [`GO_INDEXED`] module version, and the index `publish` made.
pub struct GoWorld {
    pub proxy: GoProxy,
    pub key: TestKey,
    /// The signed index as published. Read-only: tests copy it.
    pub index: PathBuf,
    /// Result records by `module@version`.
    pub records: BTreeMap<String, PathBuf>,
}

/// The shared Go world; built on first use. A failure is reported by every test that needs it.
pub fn go_world() -> &'static GoWorld {
    static WORLD: OnceLock<Result<GoWorld, String>> = OnceLock::new();
    crate::support::index::build_once(&WORLD, "the Go fixture index", build_go_world)
}

fn build_go_world() -> GoWorld {
    let dir = tempfile::Builder::new()
        .prefix("go-world-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep();
    let env = go_env(TestEnv::new());
    let key = keygen(&env, &dir.join("keys"));
    let proxy = GoProxy::build(&dir.join("proxy"));
    let mut records = BTreeMap::new();
    for (module, version) in GO_INDEXED {
        let out = dir
            .join("out")
            .join(format!("{}-{version}", module.replace('/', "_")));
        let record = build_go(&env, &proxy.file_url(), module, version, &out);
        records.insert(format!("{module}@{version}"), record);
    }
    let index = dir.join("index");
    publish(&env, &key, &index, records.values());
    GoWorld {
        proxy,
        key,
        index,
        records,
    }
}

/// Gives a test env what `go` needs to run hermetically: its caches and GOPATH inside the env,
/// no checksum database, no toolchain switching, no telemetry, and no proxy until the test sets
/// one (`GOPROXY=off` makes any accidental lookup fail at once instead of reaching the internet).
pub fn go_env(mut env: TestEnv) -> TestEnv {
    // Nearly every Go test drives `go` (directly or through `build-index build --go`): without it
    // they fail here, saying why, rather than one by one on a spawn error.
    assert!(
        crate::support::tools::tool_present("go"),
        "`go` is not installed and the Go tests need it; `./scripts/test.sh` installs it"
    );
    let root = env.path().to_path_buf();
    env.set("GOPATH", root.join("gopath"));
    env.set("GOCACHE", root.join("gocache"));
    env.set("GOMODCACHE", root.join("gopath/pkg/mod"));
    env.set("GOSUMDB", "off");
    env.set("GOFLAGS", "-mod=mod");
    env.set("GOTOOLCHAIN", "local");
    env.set("GOTELEMETRY", "off");
    env.set("GOPROXY", "off");
    env
}

/// `build-index build --go module@version --proxy proxy --out out`; returns the record's path.
pub fn build_go(env: &TestEnv, proxy: &str, module: &str, version: &str, out: &Path) -> PathBuf {
    let run = build_go_run(env, proxy, module, version, out);
    run.assert_success();
    let printed = run.stdout.trim();
    assert!(!printed.is_empty(), "build printed no record path:\n{run}");
    PathBuf::from(printed)
}

/// The same, returning the run whatever its outcome.
pub fn build_go_run(
    env: &TestEnv,
    proxy: &str,
    module: &str,
    version: &str,
    out: &Path,
) -> super::env::Run {
    env.build_index()
        .arg("build")
        .arg("--go")
        .arg(format!("{module}@{version}"))
        .arg("--proxy")
        .arg(proxy)
        .arg("--out")
        .arg(out)
        .run()
}

/// `build-index publish --index index --secret-key key records…`.
pub fn publish<'a>(
    env: &TestEnv,
    key: &TestKey,
    index: &Path,
    records: impl IntoIterator<Item = &'a PathBuf>,
) {
    let mut publish = env
        .build_index()
        .arg("publish")
        .arg("--index")
        .arg(index)
        .arg("--secret-key")
        .arg(&key.secret_path);
    for record in records {
        publish = publish.arg(record);
    }
    publish.run().assert_success();
}

/// The index path of a Go module's package file, e.g. `go/example.com/!upper!case/qicase.json`.
pub fn go_package_path(module: &str) -> String {
    path::package_file(PackageKind::Go, module).unwrap()
}

/// The client under test, `gquick`.
pub fn gquick_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gquick"))
}

/// A test env for Go: [`go_env`] plus a GOBIN inside it.
pub fn go_test_env() -> TestEnv {
    let mut env = go_env(TestEnv::new());
    let gobin = env.path().join("gobin");
    env.set("GOBIN", gobin);
    env
}

/// One test's environment: a copy of the Go index served over HTTP, the fixture proxy served
/// over HTTP, and gquick pointed at both. Suites add their own methods.
pub struct GoScenario {
    pub env: TestEnv,
    pub index: TestServer,
    pub proxy: TestServer,
}

impl GoScenario {
    pub fn new() -> Self {
        let world = go_world();
        let mut env = go_test_env();
        let index_dir = env.path().join("index");
        copy_dir(&world.index, &index_dir);
        let index = TestServer::serve(&index_dir);
        let proxy = world.proxy.serve();
        env.set("QUICKINSTALL_INDEX", index.url());
        env.set("QUICKINSTALL_TRUSTED_KEYS", &world.key.public_b64);
        env.set("GOPROXY", proxy.url());
        Self { env, index, proxy }
    }

    pub fn gquick(&self) -> TestCommand {
        self.env.command(gquick_exe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    /// Walks the central directory the way a reader does and returns (name, data) pairs, checking
    /// each local header and CRC against it.
    fn read_zip(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
        let u16_at = |i: usize| u16::from_le_bytes(zip[i..i + 2].try_into().unwrap()) as usize;
        let u32_at = |i: usize| u32::from_le_bytes(zip[i..i + 4].try_into().unwrap()) as usize;
        let end = zip.len() - 22;
        assert_eq!(u32_at(end), 0x0605_4b50);
        let count = u16_at(end + 10);
        let mut at = u32_at(end + 16);
        assert_eq!(
            at + u32_at(end + 12),
            end,
            "central directory ends at the end record"
        );
        let mut out = Vec::new();
        for _ in 0..count {
            assert_eq!(u32_at(at), 0x0201_4b50);
            let crc = u32_at(at + 16) as u32;
            let size = u32_at(at + 24);
            let name_len = u16_at(at + 28);
            let local = u32_at(at + 42);
            let name = String::from_utf8(zip[at + 46..at + 46 + name_len].to_vec()).unwrap();
            assert_eq!(u32_at(local), 0x0403_4b50);
            assert_eq!(u16_at(local + 26), name_len);
            let data_at = local + 30 + name_len;
            let data = zip[data_at..data_at + size].to_vec();
            assert_eq!(crc32(&data), crc, "CRC of {name}");
            out.push((name, data));
            at += 46 + name_len;
        }
        out
    }

    #[test]
    fn zip_writer_round_trips_names_and_data_verbatim() {
        let entries = vec![
            ("m@v1.0.0/go.mod".to_owned(), b"module m\n".to_vec()),
            ("m@v1.0.0/../../evil".to_owned(), b"x".to_vec()),
            ("m@v1.0.0/empty".to_owned(), Vec::new()),
        ];
        assert_eq!(read_zip(&zip_stored(&entries)), entries);
    }

    #[test]
    fn module_zip_prefixes_every_file_and_skips_nothing() {
        let source = source_dir("example.com/qitool", "v1.1.0");
        let zip = module_zip("example.com/qitool", "v1.1.0", &source);
        let names: Vec<String> = read_zip(&zip).into_iter().map(|(n, _)| n).collect();
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("example.com/qitool@v1.1.0/")),
            "{names:?}"
        );
        for wanted in [
            "go.mod",
            "LICENSE",
            "cmd/qi-alpha/main.go",
            "cmd/qi-alpha/main_test.go",
            "cmd/qi-beta/main.go",
            "lib/version.go",
            "internal/tools/gen/main.go",
            "examples/demo/main.go",
        ] {
            let name = format!("example.com/qitool@v1.1.0/{wanted}");
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        // Stable bytes: the same tree gives the same zip.
        assert_eq!(zip, module_zip("example.com/qitool", "v1.1.0", &source));
    }

    #[test]
    fn proxy_layout_escapes_upper_case_and_lists_versions() {
        let dir = tempfile::tempdir().unwrap();
        let proxy = GoProxy::build(dir.path());
        let root = &proxy.root;
        assert!(
            root.join("example.com/!upper!case/qicase/@v/v0.1.0.zip")
                .is_file()
        );
        assert!(root.join("example.com/qimajor/v2/@v/v2.0.0.mod").is_file());
        assert_eq!(
            std::fs::read_to_string(root.join("example.com/qiretract/@v/list")).unwrap(),
            "v1.0.0\nv1.1.0\n"
        );
        let latest: serde_json::Value = serde_json::from_slice(
            &std::fs::read(root.join("example.com/qitool/@latest")).unwrap(),
        )
        .unwrap();
        assert_eq!(latest["Version"], "v1.1.0");
        let retracted_mod =
            std::fs::read_to_string(root.join("example.com/qiretract/@v/v1.1.0.mod")).unwrap();
        assert!(retracted_mod.contains("retract v1.1.0"), "{retracted_mod}");
    }
}
