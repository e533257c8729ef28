//! The bootstrap `install.sh`, end to end: `build-index package` wraps this test's own
//! `cargo-quickinstall` binary, `publish` signs it into a loopback index, `bootstrap-script`
//! renders the installer, and the installer runs under sh, bash, dash and busybox ash in a
//! clean HOME. Also: a tampered archive is refused on its sha256 and installs nothing, and a
//! machine without curl or wget gets an error naming them. With minisign on PATH the script
//! verifies through the root it carries: a signing-key rotation keeps it installing, a
//! delegation from another root or an expired one is refused (exit 3, nothing installed). A shell or tool that is not installed
//! skips its test with a printed reason, and fails it under `CI=true` (`support::tools`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::support::env::{TestEnv, copy_dir, quickinstall_exe, snapshot};
use crate::support::index::{
    TestKey, bundle, bundle_path, keygen, package_path, sign, stranger_key,
};
use crate::support::server::TestServer;
use crate::support::tools::{require_tool, which};

const VERSION: &str = "0.1.0";
/// The Windows target the fixture index also publishes (the one `install.sh` tries second in
/// Git Bash, after msvc).
const WINDOWS_TARGET: &str = "x86_64-pc-windows-gnu";

/// The index with `quickinstall` (our clients' package) published in it, made once per test run.
struct Fixture {
    env: TestEnv,
    key: TestKey,
    index: PathBuf,
    target: String,
}

/// The target this machine's `uname` maps to last (gnu on Linux), so the script also shows it
/// falls back from musl when the index has no musl build.
fn host_target() -> String {
    let arch = std::env::consts::ARCH;
    match std::env::consts::OS {
        "macos" => format!("{arch}-apple-darwin"),
        _ => format!("{arch}-unknown-linux-gnu"),
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let env = TestEnv::new();
        let key = keygen(&env, &env.path().join("keys"));
        let target = host_target();
        let out = env.path().join("built");
        let run = env
            .build_index()
            .args(["package", "--name", "quickinstall", "--version", VERSION])
            .arg("--target")
            .arg(&target)
            .arg("--out")
            .arg(&out)
            .arg(quickinstall_exe())
            .run();
        run.assert_success();
        let record = PathBuf::from(run.stdout.trim());
        // A Windows build too, as CI publishes it: `cargo-quickinstall.exe`. (This machine's
        // binary under that name, so the installed file can still be run here.)
        let exe_dir = env.path().join("windows-bin");
        std::fs::create_dir_all(&exe_dir).unwrap();
        let exe = exe_dir.join("cargo-quickinstall.exe");
        std::fs::copy(quickinstall_exe(), &exe).unwrap();
        let run = env
            .build_index()
            .args(["package", "--name", "quickinstall", "--version", VERSION])
            .args(["--target", WINDOWS_TARGET])
            .arg("--out")
            .arg(&out)
            .arg(&exe)
            .run();
        run.assert_success();
        let windows_record = PathBuf::from(run.stdout.trim());
        let index = env.path().join("index");
        for record in [&record, &windows_record] {
            env.build_index()
                .arg("publish")
                .arg("--index")
                .arg(&index)
                .arg("--secret-key")
                .arg(&key.secret_path)
                .arg(record)
                .run()
                .assert_success();
        }
        Fixture {
            env,
            key,
            index,
            target,
        }
    })
}

/// `build-index bootstrap-script` for `index` served at `url`, written to `dir/install.sh`.
fn render_script(index: &Path, url: &str, dir: &Path) -> PathBuf {
    let fx = fixture();
    let run = fx
        .env
        .build_index()
        .arg("bootstrap-script")
        .arg("--index")
        .arg(index)
        .arg("--base-url")
        .arg(url)
        // No --crate: the default is `quickinstall`, the package our clients are published as.
        .arg("--public-key")
        .arg(&fx.key.public_path)
        .run();
    run.assert_success();
    let script = dir.join("install.sh");
    std::fs::write(&script, &run.stdout).unwrap();
    script
}

/// Runs the installer under `shell` (program then its leading args) with a fresh HOME and
/// TMPDIR and no CARGO_HOME; returns the run, the HOME and the TMPDIR.
fn run_installer(
    env: &TestEnv,
    shell: &[&Path],
    script: &Path,
    path: Option<&Path>,
) -> (crate::support::env::Run, PathBuf, PathBuf) {
    let home = env.path().join("clean-home");
    let tmp = env.path().join("tmp");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    let (program, args) = shell.split_first().unwrap();
    let mut cmd = env
        .command(program)
        .args(args.iter().copied())
        .arg(script)
        .env("HOME", &home)
        .env("TMPDIR", &tmp)
        .env_remove("CARGO_HOME");
    if let Some(path) = path {
        cmd = cmd.env("PATH", path);
    }
    (cmd.run(), home, tmp)
}

/// Installs with the given shell and checks the installed binary works; skips (printing why)
/// when the shell is not installed here (fails under CI).
fn installs_under(shell: &str, args: &[&str]) {
    if !require_tool(shell) {
        return;
    }
    let program = which(shell).unwrap();
    let fx = fixture();
    let env = TestEnv::new();
    let server = TestServer::serve(&fx.index);
    let script = render_script(&fx.index, &server.url(), env.path());
    let mut argv: Vec<&Path> = vec![&program];
    argv.extend(args.iter().map(Path::new));
    let (run, home, tmp) = run_installer(&env, &argv, &script, None);
    run.assert_success();
    let installed = home.join(".cargo/bin/cargo-quickinstall");
    assert_eq!(
        run.stdout.trim(),
        installed.display().to_string(),
        "the installer should print the installed path:\n{run}"
    );
    assert!(
        run.stderr.contains(&fx.target),
        "the installer should name the target it chose:\n{run}"
    );
    let help = std::process::Command::new(&installed)
        .arg("--help")
        .env_clear()
        .output()
        .unwrap();
    assert!(
        help.status.success() && String::from_utf8_lossy(&help.stdout).contains("Usage"),
        "the installed cargo-quickinstall --help failed: {}",
        String::from_utf8_lossy(&help.stderr)
    );
    let bin_files: Vec<_> = snapshot(&home.join(".cargo/bin"))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(
        bin_files,
        ["cargo-quickinstall"],
        "only the binary, no temp files"
    );
    assert!(
        snapshot(&tmp).is_empty(),
        "the installer left files in TMPDIR"
    );
}

#[test]
fn install_sh_works_under_sh() {
    installs_under("sh", &[]);
}

#[test]
fn install_sh_works_under_bash() {
    installs_under("bash", &["--posix"]);
}

#[test]
fn install_sh_works_under_dash() {
    installs_under("dash", &[]);
}

#[test]
fn install_sh_works_under_busybox_ash() {
    installs_under("busybox", &["ash"]);
}

#[test]
fn install_sh_is_shellcheck_clean_as_posix_sh() {
    if !require_tool("shellcheck") {
        return;
    }
    let shellcheck = which("shellcheck").unwrap();
    let fx = fixture();
    let env = TestEnv::new();
    let script = render_script(&fx.index, "http://127.0.0.1:9/", env.path());
    env.command(shellcheck)
        .args(["-s", "sh"])
        .arg(&script)
        .run()
        .assert_success();
}

#[test]
fn a_tampered_archive_fails_on_its_sha256_and_installs_nothing() {
    let fx = fixture();
    let env = TestEnv::new();
    let index = env.path().join("index");
    copy_dir(&fx.index, &index);
    // Content-addressed: `quickinstall-<version>-<target>-<sha256 prefix>.tar.gz`.
    let dir = index.join(format!("archives/crates/quickinstall/{VERSION}"));
    let archive = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(&fx.target))
        .unwrap();
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes.extend_from_slice(b"tampered");
    std::fs::write(&archive, bytes).unwrap();
    let server = TestServer::serve(&index);
    let script = render_script(&fx.index, &server.url(), env.path());
    let sh = which("sh").unwrap();
    let (run, home, tmp) = run_installer(&env, &[&sh], &script, None);
    run.assert_failure();
    run.stderr_has(&["sha256", "nothing was installed"]);
    assert!(
        !home.join(".cargo").exists(),
        "a refused archive created the bin dir:\n{run}"
    );
    assert!(
        snapshot(&tmp).is_empty(),
        "the installer left files in TMPDIR"
    );
}

#[test]
fn with_minisign_a_package_file_signed_by_another_key_is_refused() {
    if !require_tool("minisign") {
        return;
    }
    let fx = fixture();
    let env = TestEnv::new();
    let index = env.path().join("index");
    copy_dir(&fx.index, &index);
    // The script is rendered from the good index; the served one is re-signed by a stranger,
    // as a compromised mirror would.
    let data = std::fs::read(index.join(package_path("quickinstall"))).unwrap();
    let forged = sign(&stranger_key(), &data, &package_path("quickinstall"));
    std::fs::write(
        index.join(bundle_path("quickinstall")),
        bundle(&forged, &data),
    )
    .unwrap();
    let server = TestServer::serve(&index);
    let script = render_script(&fx.index, &server.url(), env.path());
    let sh = which("sh").unwrap();
    let (run, home, tmp) = run_installer(&env, &[&sh], &script, None);
    run.assert_exit(3);
    run.stderr_has(&["not trust", "nothing was installed"]);
    assert!(
        !home.join(".cargo").exists(),
        "a forged index installed something:\n{run}"
    );
    assert!(
        snapshot(&tmp).is_empty(),
        "the installer left files in TMPDIR"
    );
}

#[test]
fn without_curl_the_installer_downloads_with_wget() {
    if !require_tool("wget") {
        return;
    }
    let fx = fixture();
    let env = TestEnv::new();
    let server = TestServer::serve(&fx.index);
    let script = render_script(&fx.index, &server.url(), env.path());
    let tools = env.path().join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    let needed = [
        "wget",
        "tar",
        "gzip",
        "sha256sum",
        "mktemp",
        "uname",
        "rm",
        "cat",
        "mkdir",
        "cp",
        "chmod",
        "mv",
    ];
    for tool in needed {
        if !require_tool(tool) {
            return;
        }
        std::os::unix::fs::symlink(which(tool).unwrap(), tools.join(tool)).unwrap();
    }
    let sh = which("sh").unwrap();
    let (run, home, _) = run_installer(&env, &[&sh], &script, Some(&tools));
    run.assert_success();
    assert!(
        home.join(".cargo/bin/cargo-quickinstall").is_file(),
        "{run}"
    );
}

#[test]
fn without_curl_or_wget_the_installer_names_them() {
    let fx = fixture();
    let env = TestEnv::new();
    let script = render_script(&fx.index, "http://127.0.0.1:9/", env.path());
    // A PATH with everything the installer needs except a downloader.
    let tools = env.path().join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    for tool in ["tar", "sha256sum", "mktemp", "uname", "rm"] {
        if let Some(real) = which(tool) {
            std::os::unix::fs::symlink(real, tools.join(tool)).unwrap();
        }
    }
    let sh = which("sh").unwrap();
    let (run, home, _) = run_installer(&env, &[&sh], &script, Some(&tools));
    run.assert_failure();
    let line = run.stderr_line_with(&["curl or wget"]);
    assert!(!line.contains("tar"), "tar is present, yet named: {line}");
    assert!(
        !home.join(".cargo").exists(),
        "something was installed:\n{run}"
    );
}

/// A PATH whose first directory has a fake `uname` answering `os` to `-s` and `arch` to `-m`,
/// the rest being this process's PATH: how the installer sees another host.
fn fake_uname_path(env: &TestEnv, os: &str, arch: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = env.path().join("fake-uname");
    std::fs::create_dir_all(&dir).unwrap();
    let uname = dir.join("uname");
    std::fs::write(
        &uname,
        format!(
            "#!/bin/sh\ncase $1 in -s) echo '{os}' ;; -m) echo '{arch}' ;; *) exit 1 ;; esac\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&uname, std::fs::Permissions::from_mode(0o755)).unwrap();
    let rest = crate::support::env::parent_var("PATH").unwrap_or_default();
    let mut dirs = vec![dir];
    dirs.extend(std::env::split_paths(&rest));
    PathBuf::from(std::env::join_paths(dirs).unwrap())
}

#[test]
fn under_git_bash_on_windows_the_installer_takes_the_windows_build_and_replaces_the_exe() {
    let fx = fixture();
    let env = TestEnv::new();
    let server = TestServer::serve(&fx.index);
    let script = render_script(&fx.index, &server.url(), env.path());
    let path = fake_uname_path(&env, "MINGW64_NT-10.0-19045", "x86_64");
    // An older install in the way, as on a runner that cached its bin dir.
    let bin = env.path().join("clean-home/.cargo/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("cargo-quickinstall.exe"), b"old").unwrap();
    let sh = which("sh").unwrap();
    let (run, _, _) = run_installer(&env, &[&sh], &script, Some(&path));
    run.assert_success();
    let installed = bin.join("cargo-quickinstall.exe");
    assert_eq!(run.stdout.trim(), installed.display().to_string(), "{run}");
    assert!(run.stderr.contains(WINDOWS_TARGET), "{run}");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(quickinstall_exe()).unwrap(),
        "the old binary was not replaced by the Windows build"
    );
    let names: Vec<_> = snapshot(&bin).into_iter().map(|(p, _)| p).collect();
    assert_eq!(names, ["cargo-quickinstall.exe"], "the aside copy is gone");
}

#[test]
fn the_installer_maps_each_host_to_its_targets() {
    let fx = fixture();
    let env = TestEnv::new();
    let script = render_script(&fx.index, "http://127.0.0.1:9/", env.path());
    let sh = which("sh").unwrap();
    // The fixture has no build for these hosts: the error lists the targets tried, in order.
    for (os, arch, tried) in [
        (
            "Linux",
            "aarch64",
            "aarch64-unknown-linux-musl aarch64-unknown-linux-gnu",
        ),
        (
            "Linux",
            "arm64",
            "aarch64-unknown-linux-musl aarch64-unknown-linux-gnu",
        ),
        (
            "MSYS_NT-10.0-22631",
            "arm64",
            "aarch64-pc-windows-msvc x86_64-pc-windows-msvc",
        ),
        ("Darwin", "arm64", "aarch64-apple-darwin"),
    ] {
        let path = fake_uname_path(&env, os, arch);
        let (run, home, _) = run_installer(&env, &[&sh], &script, Some(&path));
        run.assert_failure();
        let line = run.stderr_line_with(&["no prebuilt quickinstall"]);
        assert!(
            line.contains(&format!("(tried: {tried})")),
            "{os} {arch}: {line}"
        );
        assert!(!home.join(".cargo").exists(), "{os} {arch}:\n{run}");
    }
    let path = fake_uname_path(&env, "SunOS", "sparc");
    let (run, _, _) = run_installer(&env, &[&sh], &script, Some(&path));
    run.assert_failure();
    run.stderr_has(&["no prebuilt installer for SunOS sparc"]);
}

/// The fixture index re-signed in `env` under a delegation from a root made there: what the
/// release workflow publishes. `build-index keygen --root`, `keygen`, `delegate`, `resign`.
struct Delegated {
    env: TestEnv,
    root: TestKey,
    index: PathBuf,
}

impl Delegated {
    fn new() -> Self {
        let env = TestEnv::new();
        let root = Self::root_key(&env, "root");
        let index = env.path().join("index");
        copy_dir(&fixture().index, &index);
        let me = Self { env, root, index };
        me.resign_under(&me.root, "k1", "60d");
        me
    }

    fn root_key(env: &TestEnv, name: &str) -> TestKey {
        let dir = env.path().join("keys").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let (secret_path, public_path) = (dir.join("root.key"), dir.join("root.pub"));
        let run = env
            .build_index()
            .args(["keygen", "--root", "--secret-key"])
            .arg(&secret_path)
            .arg("--public-key")
            .arg(&public_path)
            .run();
        run.assert_success();
        TestKey {
            secret_path,
            public_path,
            public_b64: run.stdout.trim().to_owned(),
        }
    }

    /// A new signing key `name`, delegated by `root` for `valid_for`, re-signs the index.
    fn resign_under(&self, root: &TestKey, name: &str, valid_for: &str) {
        let key = keygen(&self.env, &self.env.path().join("keys").join(name));
        let delegation = self
            .env
            .path()
            .join("keys")
            .join(format!("{name}.delegation"));
        self.env
            .build_index()
            .arg("delegate")
            .arg("--root-key")
            .arg(&root.secret_path)
            .arg("--signing-key-pub")
            .arg(&key.public_path)
            .args(["--valid-for", valid_for, "--out"])
            .arg(&delegation)
            .run()
            .assert_success();
        self.env
            .build_index()
            .arg("resign")
            .arg("--index")
            .arg(&self.index)
            .arg("--secret-key")
            .arg(&key.secret_path)
            .arg("--delegation")
            .arg(&delegation)
            .run()
            .assert_success();
    }

    /// install.sh carrying only the root (no signing key), rendered from the index as it is now.
    fn render(&self, url: &str) -> PathBuf {
        let run = self
            .env
            .build_index()
            .arg("bootstrap-script")
            .arg("--index")
            .arg(&self.index)
            .arg("--base-url")
            .arg(url)
            .arg("--root")
            .arg(&self.root.public_path)
            .run();
        run.assert_success();
        let script = self.env.path().join("install.sh");
        std::fs::write(&script, &run.stdout).unwrap();
        script
    }

    /// Runs `script` under dash and under busybox ash, each in a fresh HOME; returns the runs
    /// with their HOME (a shell that is not installed is skipped, and fails under CI).
    fn run(&self, script: &Path, path: Option<&Path>) -> Vec<(crate::support::env::Run, PathBuf)> {
        let mut runs = Vec::new();
        for shell in [&["dash"][..], &["busybox", "ash"]] {
            if !require_tool(shell[0]) {
                continue;
            }
            let program = which(shell[0]).unwrap();
            let mut argv: Vec<&Path> = vec![&program];
            argv.extend(shell[1..].iter().map(Path::new));
            let home = self.env.path().join("clean-home");
            let _ = std::fs::remove_dir_all(&home);
            let (run, home, _) = run_installer(&self.env, &argv, script, path);
            runs.push((run, home));
        }
        runs
    }
}

/// Exit 3, the fragments on one line that ends with "nothing was installed", no bin dir.
fn assert_refused(run: &crate::support::env::Run, home: &Path, fragments: &[&str]) {
    run.assert_exit(3);
    let line = run.stderr_line_with(fragments);
    assert!(line.trim_end().ends_with("nothing was installed"), "{run}");
    assert!(
        !home.join(".cargo").exists(),
        "something was installed:\n{run}"
    );
}

#[test]
fn install_sh_verifies_through_its_root_and_survives_a_key_rotation() {
    if !require_tool("minisign") {
        return;
    }
    let d = Delegated::new();
    let server = TestServer::serve(&d.index);
    let script = d.render(&server.url());
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(
        text.contains(&format!("QI_ROOT_KEYS='{}'", d.root.public_b64))
            && text.contains("QI_PUBLIC_KEY=''"),
        "the script carries the root and no signing key"
    );
    for (run, home) in d.run(&script, None) {
        run.assert_success();
        run.stderr_has(&["delegated by a carried root"]);
        assert!(
            home.join(".cargo/bin/cargo-quickinstall").is_file(),
            "{run}"
        );
    }
    // Rotation: a new signing key under a new delegation from the same root re-signs the
    // served index; the script rendered before keeps installing, unchanged.
    d.resign_under(&d.root, "k2", "60d");
    for (run, home) in d.run(&script, None) {
        run.assert_success();
        run.stderr_has(&["delegated by a carried root"]);
        assert!(
            home.join(".cargo/bin/cargo-quickinstall").is_file(),
            "{run}"
        );
    }
}

#[test]
fn install_sh_refuses_a_delegation_not_signed_by_its_root() {
    if !require_tool("minisign") {
        return;
    }
    let d = Delegated::new();
    let server = TestServer::serve(&d.index);
    let script = d.render(&server.url());
    let impostor = Delegated::root_key(&d.env, "impostor");
    d.resign_under(&impostor, "k2", "60d");
    for (run, home) in d.run(&script, None) {
        assert_refused(&run, &home, &["delegation", "not signed by a root"]);
    }
}

#[test]
fn install_sh_refuses_an_expired_delegation() {
    if !require_tool("minisign") {
        return;
    }
    let d = Delegated::new();
    let server = TestServer::serve(&d.index);
    d.resign_under(&d.root, "short", "1d");
    let script = d.render(&server.url());
    // The same machine two days later: a `date` that answers `+%s` with that time.
    use std::os::unix::fs::PermissionsExt;
    let later = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2 * 86_400;
    let dir = d.env.path().join("fake-date");
    std::fs::create_dir_all(&dir).unwrap();
    let date = dir.join("date");
    let real = which("date").unwrap();
    std::fs::write(
        &date,
        format!(
            "#!/bin/sh\nif [ \"$*\" = '-u +%s' ]; then echo {later}; else exec '{}' \"$@\"; fi\n",
            real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&date, std::fs::Permissions::from_mode(0o755)).unwrap();
    let rest = crate::support::env::parent_var("PATH").unwrap_or_default();
    let mut dirs = vec![dir];
    dirs.extend(std::env::split_paths(&rest));
    let path = PathBuf::from(std::env::join_paths(dirs).unwrap());
    for (run, home) in d.run(&script, Some(&path)) {
        assert_refused(&run, &home, &["delegation", "expired at"]);
    }
}

#[test]
fn rendering_for_a_root_refuses_an_index_it_did_not_delegate() {
    let d = Delegated::new();
    let other = Delegated::root_key(&d.env, "other");
    let run = d
        .env
        .build_index()
        .arg("bootstrap-script")
        .arg("--index")
        .arg(&d.index)
        .args(["--base-url", "http://127.0.0.1:9/", "--root"])
        .arg(&other.public_path)
        .run();
    run.assert_failure();
    run.stderr_has(&["does not verify", "not a trusted root"]);
}
