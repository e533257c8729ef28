//! A crates.io-style sparse registry on disk, for the client's version lookups and for the real
//! `cargo install` the fallback runs.
//!
//! Publishing generates a crate's sources (`crates`), packs them with `cargo package` (offline,
//! deterministic), stores the `.crate` at `dl/<name>/<version>/download` and appends its line to
//! the sparse index file. The directory holds no URL: `serve` answers `config.json` for the port
//! it listens on, so one registry dir can be served by many tests at once.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::crates::CrateSpec;
use super::env::sha256_hex;
use super::server::{Respond, TestServer};

/// A registry directory.
pub struct Registry {
    root: PathBuf,
}

/// A version to publish, cargo-test-support style:
/// `Package::new("qi-hello", "0.2.0").bins(&["qi-hello"]).yanked(true).publish(&reg)`.
pub struct Package {
    spec: CrateSpec,
    yanked: bool,
}

impl Package {
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            spec: CrateSpec::new(name, version, &[name]),
            yanked: false,
        }
    }

    pub fn bins(mut self, bins: &[&str]) -> Self {
        self.spec.bins = bins.iter().map(|b| (*b).to_owned()).collect();
        self
    }

    pub fn yanked(mut self, yanked: bool) -> Self {
        self.yanked = yanked;
        self
    }

    /// Publishes and returns the crate's source directory (under the registry's `src/`).
    pub fn publish(self, registry: &Registry) -> PathBuf {
        registry.publish(&self.spec, self.yanked)
    }
}

/// The sparse-index path of a crate's file (`1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd`).
pub fn sparse_path(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.len() {
        1 => format!("1/{lower}"),
        2 => format!("2/{lower}"),
        3 => format!("3/{}/{lower}", &lower[..1]),
        _ => format!("{}/{}/{lower}", &lower[..2], &lower[2..4]),
    }
}

impl Registry {
    /// An empty registry in `root` (created if missing).
    pub fn new(root: &Path) -> Self {
        std::fs::create_dir_all(root).unwrap();
        Self {
            root: root.to_path_buf(),
        }
    }

    /// Generates `spec`'s sources under `src/<name>-<version>/`, packages them and adds the
    /// version to the index. Returns the source directory.
    pub fn publish(&self, spec: &CrateSpec, yanked: bool) -> PathBuf {
        let source = self
            .root
            .join("src")
            .join(format!("{}-{}", spec.name, spec.version));
        spec.write(&source);
        let crate_file = package_crate(&source, &self.root.join("package-target"));
        let bytes = std::fs::read(&crate_file).unwrap();
        let dl = self
            .root
            .join("dl")
            .join(&spec.name)
            .join(&spec.version)
            .join("download");
        std::fs::create_dir_all(dl.parent().unwrap()).unwrap();
        std::fs::write(&dl, &bytes).unwrap();
        let line = serde_json::json!({
            "name": spec.name,
            "vers": spec.version,
            "deps": [],
            "cksum": sha256_hex(&bytes),
            "features": {},
            "yanked": yanked,
            "v": 2,
        });
        let index_file = self.root.join("index").join(sparse_path(&spec.name));
        std::fs::create_dir_all(index_file.parent().unwrap()).unwrap();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&index_file)
            .unwrap();
        writeln!(file, "{line}").unwrap();
        source
    }

    /// The checksum the registry lists for a published version.
    pub fn cksum(&self, name: &str, version: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.root.join("index").join(sparse_path(name))).ok()?;
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["vers"] == version)
            .and_then(|v| v["cksum"].as_str().map(str::to_owned))
    }

    /// Serves the registry on a fresh port. The sparse index root is `<url>index/`, which is
    /// what `--registry`/`QUICKINSTALL_REGISTRY` and `cargo --index sparse+…` get.
    pub fn serve(&self) -> ServedRegistry {
        let server = TestServer::serve(&self.root);
        let config = serde_json::json!({ "dl": format!("{}dl", server.url()) });
        server.set(
            "index/config.json",
            Respond::Body(config.to_string().into_bytes()),
        );
        ServedRegistry { server }
    }
}

/// A registry being served.
pub struct ServedRegistry {
    pub server: TestServer,
}

impl ServedRegistry {
    /// `http://127.0.0.1:PORT/index/`
    pub fn index_url(&self) -> String {
        format!("{}index/", self.server.url())
    }

    /// `sparse+http://127.0.0.1:PORT/index/`, as cargo wants it.
    pub fn sparse_url(&self) -> String {
        format!("sparse+{}", self.index_url())
    }
}

/// Runs `cargo package` on a crate dir and returns the `.crate` it wrote.
fn package_crate(source: &Path, target_dir: &Path) -> PathBuf {
    let out = Command::new(super::env::cargo_exe())
        .args([
            "package",
            "--no-verify",
            "--allow-dirty",
            "--offline",
            "--quiet",
        ])
        .arg("--manifest-path")
        .arg(source.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo package {} failed:\n{}",
        source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = std::fs::read_to_string(source.join("Cargo.toml")).unwrap();
    let field = |key: &str| {
        manifest
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key} = \"")))
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap()
            .to_owned()
    };
    target_dir
        .join("package")
        .join(format!("{}-{}.crate", field("name"), field("version")))
}

#[cfg(test)]
mod tests {
    use super::super::env::TestEnv;
    use super::*;

    #[test]
    fn sparse_paths_follow_the_crates_io_layout() {
        assert_eq!(sparse_path("a"), "1/a");
        assert_eq!(sparse_path("ab"), "2/ab");
        assert_eq!(sparse_path("abc"), "3/a/abc");
        assert_eq!(sparse_path("Qi-Hello"), "qi/-h/qi-hello");
    }

    #[test]
    fn cargo_installs_from_the_fixture_registry_without_network() {
        let env = TestEnv::new();
        let registry = Registry::new(&env.path().join("registry"));
        Package::new("qi-reg", "0.1.0").publish(&registry);
        Package::new("qi-reg", "0.2.0")
            .yanked(true)
            .publish(&registry);
        let served = registry.serve();
        let root = env.path().join("root");
        let run = env
            .cargo()
            .args(["install", "--quiet", "qi-reg", "--index"])
            .arg(served.sparse_url())
            .arg("--root")
            .arg(&root)
            .run();
        run.assert_success();
        // 0.2.0 is yanked, so cargo must have picked 0.1.0.
        assert_eq!(
            super::super::env::run_binary(&root.join("bin/qi-reg")),
            "qi-reg 0.1.0"
        );
        assert!(served.server.requests_for("dl/qi-reg/0.1.0/download") >= 1);
        assert_eq!(served.server.requests_for("dl/qi-reg/0.2.0/download"), 0);
    }
}
