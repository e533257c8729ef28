//! `TestEnv`: a temporary home for one test, and commands that run in it with a clean environment.
//!
//! Every command starts from an empty environment plus what the test means to give it (HOME,
//! CARGO_HOME, PATH, the rustup variables cargo needs, the `QUICKINSTALL_*` settings), so nothing
//! from the developer's machine or CI leaks in. `Run` keeps both output streams and shows them when
//! an assertion fails. `snapshot` makes "the disk is unchanged" a one-line assertion. Servers and
//! fixture indexes live in `server`, `registry` and `index`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

/// A variable of the test process's own environment. The only reader of it: the harness builds
/// each child's environment from scratch and takes from here only what it passes on on purpose
/// (PATH, the rustup settings, cargo's path, the opt-in network switch).
#[allow(clippy::disallowed_methods)]
pub fn parent_var(key: &str) -> Option<OsString> {
    std::env::var_os(key)
}

/// The cargo that runs these tests (`$CARGO`), else `cargo` from PATH.
pub fn cargo_exe() -> OsString {
    parent_var("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The client under test.
pub fn quickinstall_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cargo-quickinstall"))
}

/// The directory holding this test executable's profile outputs (`target/debug/`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test executable");
    // target/debug/deps/integration-<hash> → target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("the test executable lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// The producer, `build-index`, from the same target directory as this test. It is another
/// package, so `cargo test --test integration` does not build it: build it once per test run
/// (a no-op when it is up to date, and it keeps a stale binary from being tested).
pub fn build_index_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let profile = profile_dir();
        let target_dir = profile.parent().expect("profile dir has a parent");
        let exe = profile.join(format!("build-index{}", std::env::consts::EXE_SUFFIX));
        let mut cargo = Command::new(cargo_exe());
        cargo
            .args(["build", "--quiet", "-p", "build-index", "--manifest-path"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", target_dir);
        if profile.file_name().is_some_and(|n| n == "release") {
            cargo.arg("--release");
        }
        let out = cargo.output().expect("run cargo build -p build-index");
        assert!(
            out.status.success() || exe.is_file(),
            "cargo build -p build-index failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            exe.is_file(),
            "{} is missing after the build",
            exe.display()
        );
        exe
    })
}

/// The rustup home the `cargo`/`rustc` proxies need once HOME points elsewhere.
fn rustup_home() -> Option<OsString> {
    parent_var("RUSTUP_HOME").or_else(|| {
        let home = parent_var("HOME")?;
        let dir = Path::new(&home).join(".rustup");
        dir.is_dir().then(|| dir.into_os_string())
    })
}

/// A loopback server with nothing in it (every request 404s), shared by the whole test run: the
/// quickinstall pool of tests that do not lay out one of their own.
pub fn empty_pool_url() -> String {
    static POOL: std::sync::OnceLock<(tempfile::TempDir, super::server::TestServer)> =
        std::sync::OnceLock::new();
    let (_, server) = POOL.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let server = super::server::TestServer::serve(dir.path());
        (dir, server)
    });
    server.url()
}

/// A temp dir with `home/`, `cargo-home/` and `target/`, and the environment its commands get.
pub struct TestEnv {
    dir: tempfile::TempDir,
    vars: BTreeMap<String, Option<OsString>>,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("qi-test-")
            .tempdir()
            .unwrap();
        for sub in ["home", "cargo-home"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let mut env = Self {
            dir,
            vars: BTreeMap::new(),
        };
        let home = env.home();
        let cargo_home = env.cargo_home();
        let target = env.target_dir();
        env.set("HOME", home);
        env.set("CARGO_HOME", cargo_home);
        env.set("CARGO_TARGET_DIR", target);
        // As on a machine set up for cargo, the install dir is on PATH (last, so nothing
        // installed shadows the tools the tests run).
        let parent_path = parent_var("PATH").unwrap_or_default();
        let dirs = std::env::split_paths(&parent_path).chain([env.bin_dir()]);
        env.set("PATH", std::env::join_paths(dirs).unwrap());
        if let Some(rustup) = rustup_home() {
            env.set("RUSTUP_HOME", rustup);
        }
        for pass in ["RUSTUP_TOOLCHAIN", "RUSTUP_AUTO_INSTALL"] {
            if let Some(v) = parent_var(pass) {
                env.set(pass, v);
            }
        }
        env.set("QUICKINSTALL_TIMEOUT", "2");
        // Hermetic: the quickinstall pool is a loopback server that has nothing.
        env.set("QUICKINSTALL_QUICKINSTALL_POOL", empty_pool_url());
        env.set("NO_COLOR", "1");
        env.set("DO_NOT_TRACK", "1");
        env
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    pub fn cargo_home(&self) -> PathBuf {
        self.path().join("cargo-home")
    }

    /// Where binaries land by default (`$CARGO_HOME/bin`).
    pub fn bin_dir(&self) -> PathBuf {
        self.cargo_home().join("bin")
    }

    /// The shared target dir for fallback builds (`cargo install`) in this env.
    pub fn target_dir(&self) -> PathBuf {
        self.path().join("target")
    }

    /// Sets a variable for every command made from now on.
    pub fn set(&mut self, key: &str, value: impl Into<OsString>) {
        self.vars.insert(key.to_owned(), Some(value.into()));
    }

    /// `program` with exactly this env's environment.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> TestCommand {
        let mut cmd = Command::new(program);
        cmd.env_clear().current_dir(self.path());
        for (k, v) in &self.vars {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        TestCommand { cmd }
    }

    /// The client, `cargo-quickinstall`.
    pub fn quickinstall(&self) -> TestCommand {
        self.command(quickinstall_exe())
    }

    /// The producer, `build-index`.
    pub fn build_index(&self) -> TestCommand {
        self.command(build_index_exe())
    }

    /// Real cargo (for `cargo install --list`, `cargo uninstall`).
    pub fn cargo(&self) -> TestCommand {
        self.command(cargo_exe())
    }

    /// Every file this env's commands could have written (all of it but the fixture `index/`
    /// copy, which the test itself controls, the client's `.quickinstall` state, and its cache of
    /// verified archives under `home/.cache/quickinstall/`).
    pub fn disk_state(&self) -> Vec<(String, String)> {
        snapshot(self.path())
            .into_iter()
            .filter(|(path, _)| {
                !path.starts_with("index/") && !path.starts_with("home/.cache/quickinstall/")
            })
            .collect()
    }

    /// Runs an installed binary from `bin_dir` and returns its trimmed stdout.
    pub fn run_installed(&self, bin: &str) -> String {
        run_binary(&self.bin_dir().join(bin))
    }
}

/// The host's target triple, from `rustc -vV`.
pub fn host_triple() -> String {
    let out = Command::new("rustc").arg("-vV").output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap()
        .to_owned()
}

/// Runs an executable with no arguments and returns its trimmed stdout; panics with its output
/// if it fails.
pub fn run_binary(path: &Path) -> String {
    let out = Command::new(path)
        .env_clear()
        .output()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", path.display()));
    assert!(
        out.status.success(),
        "{} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A command to run in a `TestEnv`.
pub struct TestCommand {
    cmd: Command,
}

impl TestCommand {
    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Self {
        self.cmd.env_remove(key);
        self
    }

    /// Runs to completion with stdin closed.
    pub fn run(mut self) -> Run {
        let line = describe(&self.cmd);
        let out = self
            .cmd
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("could not start `{line}`: {e}"));
        Run {
            line,
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs to completion like [`TestCommand::run`], but kills it and panics if it has not
    /// finished within `limit`: for tests of things that used to hang.
    pub fn run_within(mut self, limit: std::time::Duration) -> Run {
        use std::io::Read as _;
        let line = describe(&self.cmd);
        let mut child = self
            .cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start `{line}`: {e}"));
        let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut text = Vec::new();
                let _ = pipe.read_to_end(&mut text);
                String::from_utf8_lossy(&text).into_owned()
            })
        };
        let out = drain(Box::new(child.stdout.take().unwrap()));
        let err = drain(Box::new(child.stderr.take().unwrap()));
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = err.join().unwrap_or_default();
                panic!(
                    "`{line}` did not finish within {limit:?} (killed)\n--- stderr ---\n{stderr}"
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        Run {
            line,
            status,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        }
    }

    /// Starts it with stdout piped, for long-running servers.
    pub fn spawn(mut self) -> std::process::Child {
        let line = describe(&self.cmd);
        self.cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start `{line}`: {e}"))
    }
}

fn describe(cmd: &Command) -> String {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// What a finished command did.
pub struct Run {
    pub line: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n---",
            self.line, self.status, self.stdout, self.stderr
        )
    }
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "expected success:\n{self}");
        self
    }

    pub fn assert_exit(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "expected exit code {code}:\n{self}"
        );
        self
    }

    pub fn assert_failure(&self) -> &Self {
        assert!(!self.status.success(), "expected a failure:\n{self}");
        self
    }

    /// Asserts that stderr contains every fragment.
    pub fn stderr_has(&self, fragments: &[&str]) -> &Self {
        for fragment in fragments {
            assert!(
                self.stderr.contains(fragment),
                "stderr lacks {fragment:?}:\n{self}"
            );
        }
        self
    }

    /// Asserts that stdout contains every fragment.
    pub fn stdout_has(&self, fragments: &[&str]) -> &Self {
        for fragment in fragments {
            assert!(
                self.stdout.contains(fragment),
                "stdout lacks {fragment:?}:\n{self}"
            );
        }
        self
    }

    /// Asserts that some single stderr line contains every fragment, and returns it.
    pub fn stderr_line_with(&self, fragments: &[&str]) -> &str {
        self.stderr
            .lines()
            .find(|line| fragments.iter().all(|f| line.contains(f)))
            .unwrap_or_else(|| panic!("no stderr line contains all of {fragments:?}:\n{self}"))
    }

    /// stdout parsed as one JSON value per non-empty line.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("stdout line {l:?} is not JSON ({e}):\n{self}"))
            })
            .collect()
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file under `dir` as (relative `/`-separated path, sha256), sorted; symlinks are recorded
/// as `-> target`. Paths with a `.quickinstall` component (the client's own state) are left out,
/// so the result answers "did an install change anything?".
pub fn snapshot(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(dir, dir, &mut |rel, path, meta| {
        let value = if meta.file_type().is_symlink() {
            format!(
                "-> {}",
                std::fs::read_link(path).unwrap_or_default().display()
            )
        } else {
            sha256_hex(&std::fs::read(path).unwrap())
        };
        out.push((rel, value));
    });
    out.sort();
    out
}

/// Like [`snapshot`], with each file's modification time too (for "re-publishing touches
/// nothing").
pub fn snapshot_with_mtimes(dir: &Path) -> Vec<(String, String, SystemTime)> {
    let mut out = Vec::new();
    walk(dir, dir, &mut |rel, path, meta| {
        let hash = sha256_hex(&std::fs::read(path).unwrap_or_default());
        out.push((rel, hash, meta.modified().unwrap()));
    });
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, visit: &mut dyn FnMut(String, &Path, &std::fs::Metadata)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let entry = entry.unwrap();
        if entry.file_name() == ".quickinstall" {
            continue;
        }
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            walk(root, &path, visit);
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            visit(rel, &path, &meta);
        }
    }
}

/// Copies a directory tree (files and directories only).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_get_a_clean_environment_with_the_test_settings() {
        let mut env = TestEnv::new();
        env.set("QUICKINSTALL_INDEX", "http://127.0.0.1:9/");
        // SAFETY-free check: the parent's variables (e.g. CARGO_PKG_NAME set by cargo test) must
        // not reach the child.
        let run = env.command("env").run();
        run.assert_success();
        let vars: BTreeMap<&str, &str> = run
            .stdout
            .lines()
            .filter_map(|l| l.split_once('='))
            .collect();
        assert_eq!(vars["HOME"], env.home().to_str().unwrap());
        assert_eq!(vars["CARGO_HOME"], env.cargo_home().to_str().unwrap());
        assert_eq!(vars["QUICKINSTALL_INDEX"], "http://127.0.0.1:9/");
        assert_eq!(vars["QUICKINSTALL_TIMEOUT"], "2");
        assert_eq!(vars["NO_COLOR"], "1");
        assert_eq!(vars["DO_NOT_TRACK"], "1");
        assert!(!vars.contains_key("CI"));
        assert!(!vars.contains_key("CARGO_MANIFEST_DIR"), "{vars:?}");
    }

    #[test]
    fn cargo_works_inside_the_clean_environment() {
        let env = TestEnv::new();
        env.cargo().arg("--version").run().assert_success();
    }

    #[test]
    fn snapshot_sees_content_changes_but_not_client_state() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::create_dir_all(dir.path().join(".quickinstall")).unwrap();
        std::fs::write(dir.path().join("bin/a"), b"1").unwrap();
        let before = snapshot(dir.path());
        assert_eq!(before.len(), 1);
        assert_eq!(before[0].0, "bin/a");
        std::fs::write(dir.path().join(".quickinstall/seen.json"), b"{}").unwrap();
        assert_eq!(snapshot(dir.path()), before);
        std::fs::write(dir.path().join("bin/a"), b"2").unwrap();
        assert_ne!(snapshot(dir.path()), before);
    }

    #[test]
    fn run_failure_message_shows_both_streams() {
        let env = TestEnv::new();
        let run = env
            .command("sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .run();
        run.assert_exit(3);
        let text = run.to_string();
        assert!(text.contains("out") && text.contains("err"), "{text}");
        let caught = std::panic::catch_unwind(|| {
            run.assert_success();
        });
        assert!(caught.is_err());
    }
}
