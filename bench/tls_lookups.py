#!/usr/bin/env python3
"""Opt-in benchmark against the real crates.io: one crate resolved, then ten in one call, over
real HTTPS (TLS handshakes, certificate checks against the system store). The loopback benches
serve plain HTTP and so cannot show what each new TLS connection costs; this one can.

Run from the repository root:  python3 bench/tls_lookups.py [--runs N] [--binary PATH ...]

Each run is `cargo-quickinstall <crates> --sources build --dry-run`: only the sparse-index
lookups at index.crates.io, one new TLS connection per crate, nothing downloaded or installed,
and no stats ping. Runs alternate between the binaries given (default: target/release, built
first), so a drift in the network touches each alike. Reports the median wall time and client
CPU (rusage) of each, and the runs that took over a second (a name lookup the resolver dropped
waits glibc's 5 s). Reaches the internet (index.crates.io); the figures move with the network.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEN = ["ripgrep", "fd-find", "bat", "hyperfine", "tokei", "just", "cargo-nextest", "cargo-edit",
       "sd", "zoxide"]


def timed(cmd, env):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    if status != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{err}")
    return wall * 1000, (usage.ru_utime + usage.ru_stime) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--binary", action="append", help="a cargo-quickinstall to measure (repeatable)")
    args = ap.parse_args()
    binaries = args.binary
    if not binaries:
        print("building the release binary…", flush=True)
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet", "--bin",
                        "cargo-quickinstall"], cwd=ROOT, check=True)
        binaries = [str(ROOT / "target" / "release" / "cargo-quickinstall")]
    with tempfile.TemporaryDirectory(prefix="qi-tls-bench-") as work:
        env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", work),
               "CARGO_HOME": os.path.join(work, "cargo-home"), "QUICKINSTALL_NO_TELEMETRY": "1"}
        for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "https_proxy", "NO_PROXY"):
            if name in os.environ:
                env[name] = os.environ[name]
        results = {}
        for r in range(args.runs):
            for binary in binaries if r % 2 == 0 else binaries[::-1]:
                for label, crates in (("one crate", TEN[:1]), ("ten crates", TEN)):
                    cmd = [binary, *crates, "--sources", "build", "--dry-run", "--root",
                           os.path.join(work, "root")]
                    results.setdefault((binary, label), []).append(timed(cmd, env))
    print(f"\nlookups at index.crates.io over HTTPS ({args.runs} runs each, medians; "
          f"{os.cpu_count()} cores)\n")
    for (binary, label), runs in results.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        slowest = max(w for w, _ in runs)
        stalled = sum(1 for w, _ in runs if w > 1000)
        print(f"{binary}\n    {label}: {wall:.1f} ms wall, {cpu:.1f} ms client CPU; slowest run "
              f"{slowest:.0f} ms, {stalled} of {len(runs)} over 1 s (a stalled name lookup)")


if __name__ == "__main__":
    main()
