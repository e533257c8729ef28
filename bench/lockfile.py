#!/usr/bin/env python3
"""Benchmark of the CI mode (issue 18): ten tools installed from `quickinstall.lock` with
`cargo quickinstall --locked-tools`, against the same ten resolved the normal way
(`cargo quickinstall a@^0.1 b@^0.1 …`), both against servers that wait 50 ms before each
answer (a distant host), reported side by side: wall time and requests sent.

Run from the repository root:  python3 bench/lockfile.py [--runs N] [--latency-ms 50] [--debug]

It builds ten small fixture crates with `build-index build`, publishes them into a signed
index, writes a sparse registry, serves both with `build-index serve --log --latency-ms`,
writes a `quickinstall.toml` naming the ten and runs `--sync` once to make the lock. Each
measured run installs into a fresh root with `--no-cache` (every archive downloaded); a last
figure is the locked run with a warm archive cache (a second CI job on the same machine).
Offline; nothing here reaches the internet. `--debug` uses target/debug (no release build).
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import install as common  # noqa: E402  (bench/install.py: fixture crates, servers, timing)

TOOLS = 10


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--debug", action="store_true", help="use target/debug, skip the release build")
    args = ap.parse_args()
    if args.debug:
        common.BIN = common.ROOT / "target" / "debug"
        print("building debug binaries…", flush=True)
        common.run(["cargo", "build", "--workspace", "--locked", "--quiet"], cwd=common.ROOT)
    else:
        print("building release binaries…", flush=True)
        common.run(["cargo", "build", "--release", "--workspace", "--locked", "--quiet"],
                   cwd=common.ROOT)
    work = Path(tempfile.mkdtemp(prefix="qi-bench-lock-"))
    try:
        bench(work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench(work: Path, args):
    names = [f"qi-lock-{i}" for i in range(TOOLS)]
    print(f"building {TOOLS} fixture crates with build-index…", flush=True)
    index, registry, pub = common.publish_fixtures(work, [(n, 64 * 1024) for n in names])
    ilog, rlog = work / "index.log", work / "registry.log"
    iproc, index_url = common.start_server(index, ilog, args.latency_ms)
    rproc, registry_url = common.start_server(registry, rlog, args.latency_ms)
    (registry / "config.json").write_text(f'{{"dl": "{registry_url}dl"}}')
    try:
        project = work / "project"
        project.mkdir()
        (project / "quickinstall.toml").write_text(
            "[crates]\n" + "".join(f'{n} = "0.1"\n' for n in names))
        qi = common.BIN / "cargo-quickinstall"
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR")}
        env.update(QUICKINSTALL_INDEX=index_url, QUICKINSTALL_REGISTRY=registry_url,
                   QUICKINSTALL_TRUSTED_KEYS=str(pub), NO_COLOR="1", CI="true",
                   DO_NOT_TRACK="1", CARGO_HOME=str(work / "cargo-home"))

        def measure(argv, root, cache=None):
            shutil.rmtree(root, ignore_errors=True)
            cache_args = ["--cache-dir", str(cache)] if cache else ["--no-cache"]
            ilog.write_text("")
            rlog.write_text("")
            cmd = ["sh", "-c", f"cd '{project}' && exec \"$@\"", "qi", str(qi), *argv,
                   *cache_args, "--root", str(root), "--no-fallback", "--quiet"]
            t = common.timed(cmd, env=env)
            return t, len(common.log_lines(ilog)) + len(common.log_lines(rlog))

        common.run(["sh", "-c", f"cd '{project}' && exec \"$@\"", "qi", qi, "--sync",
                    "--no-cache", "--root", work / "sync-root", "--quiet"], env=env)
        normal_argv = [f"{n}@^0.1" for n in names]
        normal, locked, normal_1, locked_1 = [], [], [], []
        measure(normal_argv, work / "warm")  # warm the page cache and the servers
        for i in range(args.runs):
            normal.append(measure(normal_argv, work / f"n{i}"))
            locked.append(measure(["--locked-tools"], work / f"l{i}"))
            # One at a time, so every request's latency adds up (no overlap).
            normal_1.append(measure([*normal_argv, "--jobs", "1"], work / f"n1-{i}"))
            locked_1.append(measure(["--locked-tools", "--jobs", "1"], work / f"l1-{i}"))
        cache = work / "cache"
        measure(["--locked-tools"], work / "fill", cache)
        cached = [measure(["--locked-tools"], work / f"c{i}", cache) for i in range(args.runs)]
    finally:
        iproc.kill()
        rproc.kill()

    def row(what, runs):
        t = statistics.median(r[0] for r in runs)
        reqs = sorted({r[1] for r in runs})
        return what, t, "/".join(map(str, reqs))

    rows = [
        row("ten tools resolved the normal way (`a@^0.1 …`), cold cache", normal),
        row("the same ten from quickinstall.lock (`--locked-tools`), cold cache", locked),
        row("`--locked-tools` again on the same machine (warm archive cache)", cached),
        row("ten tools resolved the normal way, `--jobs 1`", normal_1),
        row("the same ten from the lock, `--jobs 1`", locked_1),
    ]
    base = rows[0][1]
    base_1 = rows[3][1]
    profile = "debug" if args.debug else "release"
    print(f"\nCI mode benchmark: {TOOLS} tools, {args.latency_ms} ms per request, "
          f"{args.runs} runs each (medians), {profile} build, {os.cpu_count()} cores\n")
    print(f"{'':70} {'wall time':>10} {'requests':>9}")
    for i, (what, t, reqs) in enumerate(rows):
        ratio = t / (base_1 if i >= 3 else base)
        print(f"{what:70} {t*1000:8.1f} ms {reqs:>9}   ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
