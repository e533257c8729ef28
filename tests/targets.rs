//! Real targets, really built and run: the producer's static musl default, and aarch64 Linux
//! cross-built (crates with `cargo-zigbuild`, Go with `GOARCH=arm64`), published into a loopback
//! index, installed with `--target`, and run under `qemu-aarch64` — so an aarch64 entry is known
//! to run, not just to link. Each needs its tools (`support::tools`: skipped when missing, failed
//! under `CI=true`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::env::TestEnv;
use crate::support::goproxy::{GoProxy, go_env};
use crate::support::index::{Scenario, read_json, world};
use crate::support::tools::{require_rust_target, require_tool};

const AARCH64: &str = "aarch64-unknown-linux-musl";
/// `e_machine` of aarch64 ELF files.
const EM_AARCH64: u16 = 183;

/// Two header facts of a 64-bit little-endian ELF file: its `e_machine`, and whether it asks for
/// a program interpreter (`PT_INTERP`; a static binary has none). The full check (no
/// `DT_NEEDED` either) is build-index's, which refuses a musl build that is not static.
pub fn elf_machine_and_interp(bytes: &[u8]) -> (u16, bool) {
    assert_eq!(&bytes[..6], b"\x7fELF\x02\x01", "not a 64-bit LE ELF file");
    let u16_at = |o: usize| u16::from_le_bytes(bytes[o..o + 2].try_into().unwrap());
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    let phoff = u64::from_le_bytes(bytes[32..40].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(54) as usize, u16_at(56) as usize);
    const PT_INTERP: u32 = 3;
    let interp = (0..count).any(|i| u32_at(phoff + i * size) == PT_INTERP);
    (u16_at(18), interp)
}

/// Runs an aarch64 binary under qemu; its trimmed stdout.
fn run_under_qemu(binary: &Path) -> String {
    let out = Command::new("qemu-aarch64")
        .arg(binary)
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "qemu-aarch64 {} failed: {}",
        binary.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn have_aarch64_tools(extra: &[&str]) -> bool {
    extra
        .iter()
        .chain(&["qemu-aarch64"])
        .all(|tool| require_tool(tool))
}

#[test]
fn a_crate_cross_built_for_aarch64_musl_installs_with_target_and_runs_under_qemu() {
    if !have_aarch64_tools(&["cargo-zigbuild", "zig"]) || !require_rust_target(AARCH64) {
        return;
    }
    let world = world();
    let s = Scenario::new();
    let out = s.path().join("out");
    let run = s
        .build_index()
        .args(["build", "--path"])
        .arg(&world.sources["qi-hello@0.2.0"])
        .args(["--target", AARCH64, "--out"])
        .arg(&out)
        .run();
    run.assert_success();
    let record = PathBuf::from(run.stdout.trim());
    let json = read_json(&record);
    assert_eq!(json["target"], AARCH64, "{json}");
    assert!(json["min_glibc"].is_null(), "{json}");
    s.build_index()
        .args(["publish", "--index"])
        .arg(s.index_dir())
        .arg("--secret-key")
        .arg(&world.key.secret_path)
        .arg(&record)
        .run()
        .assert_success();

    let run = s
        .quickinstall()
        .args(["qi-hello@0.2.0", "--target", AARCH64])
        .run();
    run.assert_exit(0);
    run.stderr_has(&[AARCH64]);
    // Prebuilt from the index, not compiled by the fallback.
    assert!(!s.target_dir().exists(), "something was compiled:\n{run}");
    for bin in ["qi-hello", "qi-hello-admin"] {
        let installed = s.bin_dir().join(bin);
        let (machine, interp) = elf_machine_and_interp(&std::fs::read(&installed).unwrap());
        assert_eq!(machine, EM_AARCH64, "{bin} is not an aarch64 binary");
        assert!(!interp, "{bin} asks for a program interpreter: not static");
        assert_eq!(run_under_qemu(&installed), format!("{bin} 0.2.0"));
    }
}

#[test]
fn a_go_module_built_for_aarch64_runs_under_qemu() {
    if !have_aarch64_tools(&["go"]) {
        return;
    }
    let mut env = go_env(TestEnv::new());
    // Go compiles its standard library for arm64 on first use: keep that cache across runs
    // (Go's cache is safe to share) instead of paying minutes per run.
    env.set(
        "GOCACHE",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("gocache-targets"),
    );
    let proxy = GoProxy::build(&env.path().join("proxy"));
    let out = env.path().join("out");
    let run = env
        .build_index()
        .args([
            "build",
            "--go",
            "example.com/qitool@v1.1.0",
            "--target",
            AARCH64,
        ])
        .arg("--proxy")
        .arg(&proxy.root)
        .arg("--out")
        .arg(&out)
        .run();
    run.assert_success();
    let json = read_json(Path::new(run.stdout.trim()));
    assert_eq!(json["target"], AARCH64, "{json}");
    let archive = out.join(json["archive"].as_str().unwrap());
    let unpacked = env.path().join("unpacked");
    tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(&archive).unwrap(),
    ))
    .unpack(&unpacked)
    .unwrap();
    let binary = unpacked.join("qi-alpha");
    let (machine, interp) = elf_machine_and_interp(&std::fs::read(&binary).unwrap());
    assert_eq!(machine, EM_AARCH64);
    assert!(!interp, "the Go binary asks for a program interpreter");
    assert_eq!(run_under_qemu(&binary), "qi-alpha v1.1.0");
}
