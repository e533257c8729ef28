#!/usr/bin/env python3
"""Benchmark of the prebuilt sources (issue 13), on loopback servers that wait before answering.

Run from the repository root:  python3 bench/sources.py [--runs N] [--debug]

Builds ten small fixture crates with `build-index`, publishes them into a signed index, lays
the same archives out as a cargo-quickinstall pool (`{crate}-{version}/{crate}-{version}-
{target}.tar.gz` plus a minisign `.sig`, signed with the `minisign` CLI and a key made here),
and serves index, registry and pool with `build-index serve --latency-ms`. Reports:

  (a) with 50 ms per request: requests the archive waited for (answered before it was asked
      for, from the servers' logs by arrival time; bench/install.py's requests_waited_for),
      and the wall time, of a
      latest-version install served by the index (index hit) and by the pool (an index that
      has nothing: index miss);
  (b) with 20 ms per request: ten crates in one call (default --jobs) over the slowest of the
      ten installed alone; and the same with --jobs 4 (the old default);
  (c) side by side, the real cargo-quickinstall client (the published crate) on the same pool
      archive at 50 ms per request: requests the archive waited for and wall time, latest version
      and pinned. Its URLs are fixed in its code (github.com for the pool, the crates.io API for
      the latest version; no base-URL override) and every request is a `curl` child process, so
      a `curl` shim first on its PATH rewrites those URLs to the loopback servers and runs the
      real curl. It runs in its own downloader mode (`--no-binstall`): its default mode hands
      the install to cargo-binstall, a different client. It checks no signature.

Needs `minisign` (Debian: `apt-get install minisign`) and `curl`. Nothing here reaches the
internet, except `cargo install cargo-quickinstall` from crates.io when --real-client is not
given. `--debug` uses the debug binaries in target/debug instead of building release ones.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import install as base  # noqa: E402  (fixture crates, servers, request logs)

ROOT = base.ROOT
# The newest cargo-quickinstall on crates.io when this was written (2026-12-01).
REAL_CLIENT_VERSION = "0.3.53"
# Where the real client's URLs point, and what the shim rewrites them to.
REAL_POOL = "https://github.com/cargo-bins/cargo-quickinstall/releases/download"
REAL_API = "https://crates.io/api/v1/crates"
REAL_STATS = "https://cargo-quickinstall-stats-server.fly.dev"
CURL_SHIM = """#!/bin/sh
# Rewrites cargo-quickinstall's fixed URLs to the benchmark's loopback servers, then runs curl.
n=$#
i=0
while [ "$i" -lt "$n" ]; do
  a=$1
  shift
  case $a in
    %(pool)s/*) a="$QI_BENCH_POOL/${a#%(pool)s/}" ;;
    %(api)s/*) a="$QI_BENCH_API/${a#%(api)s/}" ;;
    %(stats)s/*) a="$QI_BENCH_STATS/${a#%(stats)s/}" ;;
  esac
  set -- "$@" "$a"
  i=$((i + 1))
done
exec "$QI_BENCH_CURL" "$@"
""" % {"pool": REAL_POOL, "api": REAL_API, "stats": REAL_STATS}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--debug", action="store_true")
    ap.add_argument("--real-client", type=Path,
                    help="a cargo-quickinstall binary from crates.io (else installed into the "
                         "work dir with `cargo install cargo-quickinstall --version "
                         f"{REAL_CLIENT_VERSION}`)")
    ap.add_argument("--skip-real", action="store_true", help="leave out (c)")
    ap.add_argument("--show-requests", action="store_true",
                    help="print each server's request log of the last run of each (a)/(c) case")
    args = ap.parse_args()
    if shutil.which("minisign") is None:
        sys.exit("bench/sources.py needs the `minisign` CLI (apt-get install minisign)")
    if args.debug:
        base.BIN = ROOT / "target" / "debug"
    else:
        print("building release binaries…", flush=True)
        base.run(["cargo", "build", "--release", "--workspace", "--locked", "--quiet"], cwd=ROOT)
    work = Path(tempfile.mkdtemp(prefix="qi-bench-sources-"))
    try:
        bench(work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench(work: Path, args):
    qi = base.BIN / "cargo-quickinstall"
    out, pool = work / "out", work / "pool"
    names = [f"qi-src-{i}" for i in range(10)]
    print(f"building {len(names)} fixture crates with build-index…", flush=True)
    index, registry, pub = base.publish_fixtures(work, [(n, 64 * 1024) for n in names])
    for name in names:
        # What the real client asks for the latest version (crates.io's API, not the index).
        api = registry / "api" / "v1" / "crates" / name
        api.parent.mkdir(parents=True, exist_ok=True)
        api.write_text(json.dumps({"crate": {"name": name, "max_stable_version": "0.1.0"}}))
    records = sorted(out.glob("*.json"))

    # The pool: the index's archives under cargo-quickinstall's layout, minisign-signed.
    mkey, mpub = work / "m.key", work / "m.pub"
    base.run(["minisign", "-G", "-W", "-p", mpub, "-s", mkey], stdout=subprocess.DEVNULL,
             stderr=subprocess.DEVNULL)
    pool_key = mpub.read_text().splitlines()[1].strip()
    target = None
    for record in records:
        r = json.loads(record.read_text())
        name, target = r["name"], r["target"]
        archive = next((index / "archives").rglob(f"{name}-*.tar.gz"))
        dest = pool / f"{name}-0.1.0" / f"{name}-0.1.0-{target}.tar.gz"
        dest.parent.mkdir(parents=True)
        shutil.copy(archive, dest)
        base.run(["minisign", "-S", "-s", mkey, "-m", dest, "-x", f"{dest}.sig"],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    empty = work / "empty"
    empty.mkdir()

    procs = []

    def serve(directory, latency, log_name):
        log = work / log_name
        proc, url = base.start_server(directory, log, latency)
        procs.append(proc)
        return url, log

    try:
        servers = {}
        for ms in (50, 20):
            # A registry copy per server: each config.json must send `.crate` downloads to its
            # own server, or they would miss that server's latency and its request log.
            own = work / f"registry-{ms}"
            shutil.copytree(registry, own)
            servers[ms] = {k: serve(d, ms, f"{k}-{ms}.log") for k, d in
                           (("index", index), ("registry", own), ("pool", pool),
                            ("empty", empty))}
            (own / "config.json").write_text(
                json.dumps({"dl": servers[ms]["registry"][0] + "dl"}))
        report(work, qi, pub, pool_key, target, names, servers, args)
    finally:
        for p in procs:
            p.kill()


def report(work, qi, pub, pool_key, target, names, servers, args):
    base_env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR")}

    def cmd(specs, root, ms, index_kind="index", extra=()):
        s = servers[ms]
        shutil.rmtree(root, ignore_errors=True)
        env = dict(base_env, CARGO_HOME=str(root), NO_COLOR="1", CI="true", DO_NOT_TRACK="1",
                   QUICKINSTALL_INDEX=s[index_kind][0], QUICKINSTALL_TRUSTED_KEYS=str(pub),
                   QUICKINSTALL_REGISTRY=s["registry"][0],
                   # The fixture registry stands for crates.io (the pool serves only its crates).
                   QUICKINSTALL_PUBLIC_REGISTRY=s["registry"][0],
                   QUICKINSTALL_QUICKINSTALL_POOL=s["pool"][0].rstrip("/"),
                   QUICKINSTALL_QUICKINSTALL_KEY=pool_key,
                   XDG_STATE_HOME=str(work / "state"))
        return ([qi, *specs, "--no-cache", "--root", root, "--no-fallback", "--quiet",
                 "--target", target, *extra], env)

    def before_archive(spec, index_kind):
        s = servers[50]
        for _, log in s.values():
            log.write_text("")
        t = base.timed(*cmd([spec], work / "rq", 50, index_kind))
        logs = {k: log for k, (_, log) in s.items()}
        show(f"ours, {spec}, {index_kind}", {k: base.log_lines(v) for k, v in logs.items()},
             args)
        served = "index" if index_kind == "index" else "pool"
        waited = base.requests_waited_for(
            logs, 50,
            lambda name, line: name == served and ".tar.gz" in line and ".sig" not in line)
        return waited, t

    spec = f"{names[0]}@^0.1"
    hit = [before_archive(spec, "index") for _ in range(args.runs)]
    miss = [before_archive(spec, "empty") for _ in range(args.runs)]

    smalls = [f"{n}@^0.1" for n in names]
    singles = [statistics.median(base.timed(*cmd([s], work / "s", 20)) for _ in range(3))
               for s in smalls]
    tens = [base.timed(*cmd(smalls, work / "ten", 20)) for _ in range(args.runs)]
    tens4 = [base.timed(*cmd(smalls, work / "ten4", 20, extra=("--jobs", "4")))
             for _ in range(args.runs)]
    t_slow, t_ten, t_ten4 = max(singles), statistics.median(tens), statistics.median(tens4)
    pinned = [before_archive(f"{names[0]}@=0.1.0", "empty") for _ in range(args.runs)]
    real = None if args.skip_real else real_client(work, target, names[0], servers[50], args)

    med = lambda xs: statistics.median(xs)  # noqa: E731
    print(f"\nsources benchmark ({args.runs} runs, medians; loopback; {os.cpu_count()} cores; "
          f"{'debug' if args.debug else 'release'} binaries)\n")
    print(f"(a) 50 ms/request, latest version, index hit: {hit[0][0]} requests the "
          f"archive waited for, {med([t for _, t in hit])*1000:.0f} ms")
    print(f"(a) 50 ms/request, latest version, pool (index miss): {miss[0][0]} requests the "
          f"archive waited for, {med([t for _, t in miss])*1000:.0f} ms")
    print(f"(a) 50 ms/request, pinned `=0.1.0`, pool (index miss): {pinned[0][0]} requests "
          f"the archive waited for, {med([t for _, t in pinned])*1000:.0f} ms")
    if real:
        for label, runs in real:
            print(f"(c) real cargo-quickinstall {REAL_CLIENT_VERSION} --no-binstall, 50 ms/request,"
                  f" {label}: {runs[0][0]} requests the archive waited for, "
                  f"{med([t for _, t in runs])*1000:.0f} ms (no signature checked)")
    print(f"(b) 20 ms/request, ten crates in one call (default --jobs) / slowest single: "
          f"{t_ten*1000:.0f} ms / {t_slow*1000:.0f} ms = {t_ten/t_slow:.2f}x (target <= 1.3x)")
    print(f"(b) the same with --jobs 4: {t_ten4*1000:.0f} ms / {t_slow*1000:.0f} ms = "
          f"{t_ten4/t_slow:.2f}x")


def show(label, logs, args):
    if args.show_requests:
        print(f"-- {label}")
        for server, lines in logs.items():
            for line in lines:
                print(f"   {server}: {line}")


def real_client(work, target, name, servers, args):
    """(c): the published cargo-quickinstall on the same pool archive, through the curl shim.
    Returns [(label, [(requests the archive waited for, seconds)])]."""
    curl = shutil.which("curl")
    if curl is None:
        sys.exit("bench/sources.py (c) needs `curl` (the real client shells out to it)")
    exe = args.real_client
    if exe is None:
        print(f"installing cargo-quickinstall {REAL_CLIENT_VERSION} from crates.io…", flush=True)
        base.run(["cargo", "install", "cargo-quickinstall", "--version", REAL_CLIENT_VERSION,
                  "--locked", "--quiet", "--root", work / "real"])
        exe = work / "real" / "bin" / "cargo-quickinstall"
    shim = work / "shim"
    shim.mkdir(exist_ok=True)
    (shim / "curl").write_text(CURL_SHIM)
    (shim / "curl").chmod(0o755)
    logs = {k: log for k, (_, log) in servers.items()}
    env = {k: v for k, v in os.environ.items() if k in ("HOME", "TMPDIR")}
    env.update(PATH=f"{shim}:{os.environ['PATH']}", QI_BENCH_CURL=curl,
               QI_BENCH_POOL=servers["pool"][0].rstrip("/"),
               QI_BENCH_API=servers["registry"][0] + "api/v1/crates",
               # Its install-stats POST (spawned after the archive) goes to the empty server.
               QI_BENCH_STATS=servers["empty"][0].rstrip("/"))

    def once(spec):
        root = work / "real-home"
        shutil.rmtree(root, ignore_errors=True)
        (root / "bin").mkdir(parents=True)
        for log in logs.values():
            log.write_text("")
        t = base.timed([exe, "quickinstall", "--no-binstall", "--no-fallback", "--target",
                        target, spec], env=dict(env, CARGO_HOME=str(root)))
        if not (root / "bin" / name).exists():
            sys.exit(f"the real client did not install {name}")
        show(f"real client, {spec}", {k: base.log_lines(v) for k, v in logs.items()}, args)
        waited = base.requests_waited_for(
            logs, 50,
            lambda name, line: name == "pool" and ".tar.gz" in line and ".sig" not in line)
        return waited, t

    return [("latest version", [once(name) for _ in range(args.runs)]),
            ("pinned @0.1.0", [once(f"{name}@0.1.0") for _ in range(args.runs)])]


if __name__ == "__main__":
    main()
