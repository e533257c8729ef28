#!/usr/bin/env python3
"""Benchmark of `cargo quickinstall` against a loopback index (issue 2's targets).

Run from the repository root:  python3 bench/install.py [--runs N]

It builds the release binaries, generates fixture crates (one with a ~5 MB incompressible
binary, ten small ones), builds and publishes them into a signed index with `build-index`,
serves the index and a sparse registry with `build-index serve --log`, and reports in one run:

  (a) wall time of `cargo quickinstall` for the 5 MB crate over the floor, `curl URL | tar -xz`
      of the same archive (median of N runs each, same servers, same disk);
  (b) requests the archive download waited for (answered before it was asked for: a request
      sent alongside it, such as a pinned version's yank check, is not one), with a requirement
      and with a pinned version (from the servers' request logs, by arrival time);
  (c) peak RSS of `cargo quickinstall` (from wait4's rusage);
  (d) ten crates in one call over the slowest of the ten installed one by one.

Needs `curl` and GNU `time` (Debian: `apt-get install curl time`). Nothing here reaches the
internet. Figures are ratios against a baseline measured in the
same run, so they mean something on any machine.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release"


def run(cmd, **kw):
    kw.setdefault("check", True)
    return subprocess.run([str(c) for c in cmd], **kw)


def timed(cmd, env=None, shell=False):
    """Runs cmd, returns its wall time in seconds."""
    return timed_cpu(cmd, env, shell)[0]


def timed_cpu(cmd, env=None, shell=False):
    """Runs cmd, returns (wall seconds, CPU seconds: user + system of it and the children it
    waited for, from wait4's rusage)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd if shell else [str(c) for c in cmd], env=env, shell=shell,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"benchmark command failed ({code}): {cmd}\n{stderr.decode(errors='replace')}")
    return elapsed, usage.ru_utime + usage.ru_stime


def cpu_ticks():
    """The machine's CPU time so far, as /proc/stat's first line counts it (Linux), or None."""
    try:
        return [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, IndexError, ValueError):
        return None


def stolen_share(before, after):
    """The share of CPU time between two cpu_ticks() that a virtual machine's host took
    ("steal"), or None where it is not counted."""
    if before is None or after is None or len(before) < 8:
        return None
    spent = [b - a for a, b in zip(before, after)]
    return spent[7] / sum(spent) if sum(spent) else None


def process_cpu_seconds(pid):
    """User + system CPU a process has used so far (Linux's /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def peak_rss_kib(cmd, env):
    """Peak RSS of cmd, measured by GNU time. (wait4 from Python would count the forked
    Python image the child starts as, ~14 MiB, not the program.)"""
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *[str(c) for c in cmd]], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    return int(out.stderr.strip().splitlines()[-1])


def write_crate(dir: Path, name: str, payload_bytes: int, seed: int):
    (dir / "src").mkdir(parents=True)
    (dir / "Cargo.toml").write_text(
        f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\nlicense = "MIT"\n\n'
        f"[workspace]\n\n[profile.release]\nopt-level = 1\n")
    (dir / "Cargo.lock").write_text(
        f'version = 4\n\n[[package]]\nname = "{name}"\nversion = "0.1.0"\n')
    rng = random.Random(seed)
    (dir / "payload.bin").write_bytes(rng.randbytes(payload_bytes))
    (dir / "src" / "main.rs").write_text(
        'static PAYLOAD: &[u8] = include_bytes!("../payload.bin");\n'
        'fn main() {\n'
        '    // black_box keeps the payload in the binary: only its length is printed.\n'
        '    let payload = std::hint::black_box(PAYLOAD);\n'
        '    println!("{} {}", env!("CARGO_PKG_NAME"), payload.len());\n'
        '}\n')


def sparse_path(name: str) -> str:
    n = name.lower()
    if len(n) <= 2:
        return f"{len(n)}/{n}"
    if len(n) == 3:
        return f"3/{n[0]}/{n}"
    return f"{n[:2]}/{n[2:4]}/{n}"


def start_server(directory: Path, log: Path, latency_ms: int = 0):
    # Appending: a log emptied between runs (write_text("")) is then written from its start.
    logf = open(log, "a")
    proc = subprocess.Popen([str(BIN / "build-index"), "serve", "--index", str(directory),
                             "--addr", "127.0.0.1:0", "--log", "--latency-ms", str(latency_ms)],
                            stdout=subprocess.PIPE, stderr=logf, text=True)
    url = proc.stdout.readline().strip()
    return proc, url


def log_lines(log: Path):
    return [l for l in log.read_text().splitlines() if l.strip()]


def parse_log(log: Path):
    """(arrival in Unix seconds, the rest of the line) per request `build-index serve --log`
    logged."""
    entries = []
    for line in log_lines(log):
        at, _, rest = line.partition(" ")
        entries.append((float(at), rest))
    return entries


def requests_waited_for(logs, latency_ms, is_archive):
    """How many requests the archive's request waited for, from the logs ({name: path}) of
    servers that each wait `latency_ms` before answering: those that arrived at least half a
    round trip before the archive's (its answer was in before the archive was asked for). A
    request sent alongside the archive's, such as an exact pin's yank check, is not counted.
    `is_archive(name, line)` picks the archive's request."""
    entries = sorted((at, name, line) for name, path in logs.items()
                     for at, line in parse_log(path))
    archive_at = next(at for at, name, line in entries if is_archive(name, line))
    return sum(1 for at, _, _ in entries if at <= archive_at - latency_ms / 2000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--big-mib", type=float, default=5.0)
    ap.add_argument("--skip-crates", action="store_true", help="only the Go comparison")
    ap.add_argument("--skip-go", action="store_true", help="only the crate figures")
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory (fixtures, index, registry) and print its path")
    args = ap.parse_args()

    print("building release binaries…", flush=True)
    run(["cargo", "build", "--release", "--workspace", "--locked", "--quiet"], cwd=ROOT)
    work = Path(tempfile.mkdtemp(prefix="qi-bench-"))
    try:
        if not args.skip_crates:
            bench(work, args)
        if not args.skip_go:
            bench_go(work / "go", args)
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def publish_fixtures(work: Path, crates):
    """Builds each `(name, payload bytes)` fixture crate (version 0.1.0) with `build-index
    build`, packs its `.crate` into a sparse registry at work/registry (downloads under
    `dl/{name}/0.1.0/download`; the caller writes `config.json` once it has the URL), and
    publishes the records into a signed index at work/index, with a key made here. Build
    records stay in work/out. Returns (index, registry, public key file)."""
    bi = BIN / "build-index"
    key, pub = work / "k.key", work / "k.pub"
    run([bi, "keygen", "--secret-key", key, "--public-key", pub], stdout=subprocess.DEVNULL)
    index, registry, out = work / "index", work / "registry", work / "out"
    env = dict(os.environ, CARGO_TARGET_DIR=str(work / "cargo-target"))
    for seed, (name, size) in enumerate(crates):
        src = work / "src" / name
        write_crate(src, name, size, seed)
        run([bi, "build", "--path", src, "--out", out], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        run(["cargo", "package", "--manifest-path", src / "Cargo.toml", "--no-verify",
             "--allow-dirty", "--quiet", "--target-dir", work / "pkg"], env=env)
        crate_file = work / "pkg" / "package" / f"{name}-0.1.0.crate"
        dl = registry / "dl" / name / "0.1.0"
        dl.mkdir(parents=True)
        shutil.copy(crate_file, dl / "download")
        cksum = hashlib.sha256(crate_file.read_bytes()).hexdigest()
        p = registry / sparse_path(name)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({"name": name, "vers": "0.1.0", "deps": [], "cksum": cksum,
                                 "features": {}, "yanked": False}) + "\n")
    records = sorted(out.glob("*.json"))
    run([bi, "publish", "--index", index, "--secret-key", key, *records], stdout=subprocess.DEVNULL)
    return index, registry, pub


def bench(work: Path, args):
    qi = BIN / "cargo-quickinstall"
    crates = [("qi-big", int(args.big_mib * 1024 * 1024))] + \
        [(f"qi-small-{i}", 64 * 1024) for i in range(10)]
    print(f"building {len(crates)} fixture crates with build-index…", flush=True)
    index, registry, pub = publish_fixtures(work, crates)
    # Building the fixtures left hundreds of MiB of dirty pages (cargo target dirs); written
    # back by the kernel during the runs, they would slow every fsync the installs make.
    os.sync()

    ilog, rlog = work / "index.log", work / "registry.log"
    iproc, index_url = start_server(index, ilog)
    rproc, registry_url = start_server(registry, rlog)
    # The same files behind servers that wait RTT_MS before each answer, standing in for a
    # distant host: on bare loopback there is no latency for concurrency to overlap.
    iproc2, index_url2 = start_server(index, work / "index2.log", RTT_MS)
    rproc2, registry_url2 = start_server(registry, work / "registry2.log", RTT_MS)
    (registry / "config.json").write_text(json.dumps({"dl": registry_url + "dl"}))
    try:
        report(work, qi, index_url, registry_url, pub, ilog, rlog, crates, args,
               (index_url2, registry_url2, (iproc2.pid, rproc2.pid)))
    finally:
        for p in (iproc, rproc, iproc2, rproc2):
            p.kill()


RTT_MS = 20


def report(work, qi, index_url, registry_url, pub, ilog, rlog, crates, args, distant):
    big = crates[0][0]
    big_record = json.loads(next((work / "out").glob(f"{big}-0.1.0-*.json")).read_text())
    archive_rel = next(p for p in (work / "index" / "archives").rglob(f"{big}-*.tar.gz"))
    archive_url = index_url + str(archive_rel.relative_to(work / "index"))
    size_mib = big_record["size"] / 1024 / 1024
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR")}
    env.update(QUICKINSTALL_INDEX=index_url, QUICKINSTALL_REGISTRY=registry_url,
               QUICKINSTALL_TRUSTED_KEYS=str(pub), NO_COLOR="1", CI="true")

    def qi_cmd(spec_list, root, servers=None):
        shutil.rmtree(root, ignore_errors=True)
        extra = {}
        if servers:
            extra = dict(QUICKINSTALL_INDEX=servers[0], QUICKINSTALL_REGISTRY=servers[1])
        # No archive cache unless a run asks for one: every other figure measures a download.
        cache = [] if "--cache-dir" in spec_list else ["--no-cache"]
        return ([qi, *spec_list, *cache, "--root", root, "--no-fallback", "--quiet"],
                dict(env, CARGO_HOME=str(root), **extra))

    def qi_install(spec_list, root, servers=None):
        return timed(*qi_cmd(spec_list, root, servers))

    def floor(dest):
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest)
        return timed(f"curl -sSf '{archive_url}' | tar -xz -C '{dest}'", shell=True)

    # Warm both paths once (page cache, server threads), then alternate runs.
    qi_install([f"{big}@0.1.0"], work / "r0")
    floor(work / "f0")
    qi_times, floor_times = [], []
    for i in range(args.runs):
        qi_times.append(qi_install([f"{big}@0.1.0"], work / f"r{i}"))
        floor_times.append(floor(work / f"f{i}"))
    rss = [peak_rss_kib(*qi_cmd([f"{big}@^0.1"], work / "rss")) for _ in range(3)]
    t_qi, t_floor = statistics.median(qi_times), statistics.median(floor_times)

    # (b) requests the archive download waited for, on the servers that wait RTT_MS per
    # request: what was waited for is then told apart from what went out alongside the
    # archive's request.
    def requests_before_archive(spec):
        logs = {"index": work / "index2.log", "registry": work / "registry2.log"}
        for log in logs.values():
            log.write_text("")
        qi_install([spec], work / "rq", distant)
        return requests_waited_for(logs, RTT_MS,
                                   lambda name, line: name == "index" and ".tar.gz" in line)
    req_range = requests_before_archive(f"{big}@^0.1")
    req_pinned = requests_before_archive(f"{big}@0.1.0")

    # (d) ten crates in one call (default --jobs) over the slowest single install. Each round
    # installs every crate alone, then all ten at once, so a drift in the machine's load touches
    # both alike; a crate's single time is the median of its rounds, the baseline the slowest
    # of those, and the ten-crate time the median of its rounds.
    smalls = [f"{name}@^0.1" for name, _ in crates[1:]]

    # Every run installs into a fresh root, removed only after all rounds: deleting a run's
    # binaries just before the next run (on a file system mounted with `discard`) would leave
    # that I/O in flight during the timed run, ten times more of it before a ten-crate run.
    # Also counted: the CPU each run used, the client's (rusage) and the servers' (/proc), per
    # run: on few cores, the ten-crate run's extra CPU is what no overlapping of waits can hide.
    # /proc counts in clock ticks (10 ms), so the servers' figure means something only as the
    # mean of many runs.
    def ten_vs_slowest(servers=None):
        singles = {spec: [] for spec in smalls}
        tens = []
        cpu = {"single": [], "ten": [], "servers single": [], "servers ten": []}
        pids = servers[2] if servers else ()
        roots = work / "d-roots"

        def one(specs, root, kind):
            before = [process_cpu_seconds(p) for p in pids]
            wall, used = timed_cpu(*qi_cmd(specs, root, servers))
            after = [process_cpu_seconds(p) for p in pids]
            cpu[kind].append(used)
            if None not in before + after:
                cpu[f"servers {kind}"].append(sum(after) - sum(before))
            return wall

        stolen_before = cpu_ticks()
        for r in range(args.runs):
            for i, spec in enumerate(smalls):
                singles[spec].append(one([spec], roots / f"s-{r}-{i}", "single"))
            tens.append(one(smalls, roots / f"ten-{r}", "ten"))
        stolen = stolen_share(stolen_before, cpu_ticks())
        shutil.rmtree(roots, ignore_errors=True)
        os.sync()
        cpu_ms = {k: statistics.mean(v) * 1000 for k, v in cpu.items() if v}
        # Each round's ten against the slowest single of the same round: how much the ratio
        # moves from round to round on this machine.
        rounds = sorted(tens[r] / max(times[r] for times in singles.values())
                        for r in range(args.runs))
        return (statistics.median(tens),
                max(statistics.median(times) for times in singles.values()), cpu_ms,
                (rounds, stolen))

    t_ten, t_slowest, _, _ = ten_vs_slowest()
    t_ten_d, t_slowest_d, cpu_d, (rounds_d, stolen_d) = ten_vs_slowest(distant)
    spread_row = (f"median {statistics.median(rounds_d):.2f}x, from {rounds_d[0]:.2f}x to "
                  f"{rounds_d[-1]:.2f}x" + (f"; {stolen_d:.0%} of the CPU time stolen by the "
                                            f"host meanwhile" if stolen_d is not None else ""))
    if "servers ten" in cpu_d:
        servers_cpu = (f"; servers {cpu_d['servers single']:.1f} ms / "
                       f"{cpu_d['servers ten']:.1f} ms")
    else:
        servers_cpu = ""
    cpu_row = (f"client {cpu_d['single']:.1f} ms / {cpu_d['ten']:.1f} ms{servers_cpu}")

    # Issue 6: five tools in one call on a cold runner (empty cache) and on a cached one (the
    # same --cache-dir, a fresh install root each time).
    five = smalls[:5]
    cold, warm = [], []
    for i in range(args.runs):
        cache = work / f"cache-{i}"
        cold.append(qi_install(five + ["--cache-dir", str(cache)], work / "five-cold"))
        warm.append(qi_install(five + ["--cache-dir", str(cache)], work / "five-warm"))
    t_cold, t_warm = statistics.median(cold), statistics.median(warm)

    rows = [
        ("(ci) five tools in one call: cold cache / warm cache",
         f"{t_cold*1000:.1f} ms / {t_warm*1000:.1f} ms", t_warm / t_cold, "(no target)"),
        ("(a) install wall time / floor (curl | tar -xz), "
         f"{size_mib:.1f} MiB archive", f"{t_qi*1000:.1f} ms / {t_floor*1000:.1f} ms",
         t_qi / t_floor, "<= 1.15"),
        ("(b) requests the archive waited for, `@^0.1` (registry + index)", str(req_range),
         None, "<= 2"),
        ("(b) requests the archive waited for, pinned `@0.1.0`", str(req_pinned), None, "= 1"),
        ("(c) peak RSS of cargo-quickinstall (max over runs)", f"{max(rss)/1024:.1f} MiB",
         None, "<= 20 MiB"),
        ("(d) ten crates in one call / slowest single install",
         f"{t_ten*1000:.1f} ms / {t_slowest*1000:.1f} ms", t_ten / t_slowest, "<= 1.5"),
        (f"(d) the same with {RTT_MS} ms server latency per request (a distant host)",
         f"{t_ten_d*1000:.1f} ms / {t_slowest_d*1000:.1f} ms", t_ten_d / t_slowest_d,
         "<= 1.3 (issue 13)"),
        ("(d) CPU per run at that latency (mean), one crate / ten crates", cpu_row, None,
         "(no target)"),
        ("(d) the same ratio round by round (each round's ten / its slowest single)",
         spread_row, None, "(no target)"),
    ]
    print(f"\nquickinstall benchmark ({args.runs} runs each, medians; loopback; "
          f"{os.cpu_count()} cores)\n")
    print(fixtures_line(work, [name for name, _ in crates[1:]]) + "\n")
    for what, value, ratio, target in rows:
        r = f" = {ratio:.2f}x" if ratio is not None else ""
        print(f"{what}\n    {value}{r}   (target {target})")


def fixtures_line(work: Path, smalls):
    """What the (d) figures install: the small fixtures' target and their archives' size packed
    and unpacked. `build-index build` falls back to the host's glibc target where the musl one
    is not installed; those binaries are twice the size, so the figures are not comparable with
    a run on musl fixtures (the CPU after the archives arrive is mostly inflating them)."""
    records = [json.loads(next((work / "out").glob(f"{name}-0.1.0-*.json")).read_text())
               for name in smalls]
    targets = sorted({r["target"] for r in records})
    packed = statistics.mean(r["size"] for r in records)
    unpacked = []
    for r in records:
        with tarfile.open(work / "out" / r["archive"]) as tar:
            unpacked.append(sum(m.size for m in tar.getmembers()))
    line = (f"fixtures for (d): {', '.join(targets)}; archives {packed / 1024:.0f} KiB packed, "
            f"{statistics.mean(unpacked) / 1024:.0f} KiB unpacked (mean of {len(records)})")
    if not all(t.endswith("-musl") for t in targets):
        line += ("\n    (not the static musl build the clients prefer: `rustup target add "
                 "x86_64-unknown-linux-musl` for figures comparable with the README's)")
    return line


GO_MODULE = "example.com/qibench"
GO_VERSION = "v1.0.0"


def write_go_proxy(proxy: Path):
    """A module proxy directory holding GO_MODULE@GO_VERSION: one command, no dependencies."""
    files = {
        "go.mod": f"module {GO_MODULE}\n\ngo 1.19\n",
        "cmd/qibench/main.go": (
            "package main\n\nimport (\n\t\"crypto/sha256\"\n\t\"encoding/json\"\n"
            "\t\"fmt\"\n\t\"net/http\"\n\t\"os\"\n)\n\n"
            "func main() {\n\tsum := sha256.Sum256([]byte(os.Args[0]))\n"
            "\tb, _ := json.Marshal(map[string]string{\"sum\": fmt.Sprintf(\"%x\", sum)})\n"
            "\t_ = http.StatusOK\n\tfmt.Println(\"qibench\", string(b))\n}\n"),
        "LICENSE": "MIT\n",
    }
    vdir = proxy / GO_MODULE / "@v"
    vdir.mkdir(parents=True)
    (vdir / "list").write_text(GO_VERSION + "\n")
    (vdir / f"{GO_VERSION}.info").write_text(
        json.dumps({"Version": GO_VERSION, "Time": "2026-01-01T00:00:00Z"}))
    (vdir / f"{GO_VERSION}.mod").write_text(files["go.mod"])
    import zipfile
    with zipfile.ZipFile(vdir / f"{GO_VERSION}.zip", "w") as z:
        for name, text in sorted(files.items()):
            z.writestr(f"{GO_MODULE}@{GO_VERSION}/{name}", text)


def bench_go(work: Path, args):
    """`gquick install` from a local index vs `go install` from the same local proxy with an
    empty build and module cache (issue 4's comparison)."""
    if shutil.which("go") is None:
        print("\n(go comparison skipped: `go` is not installed)")
        return
    bi, gq = BIN / "build-index", BIN / "gquick"
    work.mkdir(parents=True)
    proxy, index, out = work / "proxy", work / "index", work / "out"
    write_go_proxy(proxy)
    key, pub = work / "k.key", work / "k.pub"
    run([bi, "keygen", "--secret-key", key, "--public-key", pub], stdout=subprocess.DEVNULL)
    pproc, proxy_url = start_server(proxy, work / "proxy.log")
    try:
        goenv = dict(os.environ, GOPROXY=proxy_url, GOSUMDB="off", GOFLAGS="-mod=mod",
                     GOCACHE=str(work / "gocache-build"), GOMODCACHE=str(work / "gomod-build"),
                     GOPATH=str(work / "gopath-build"))
        run([bi, "build", "--go", f"{GO_MODULE}@{GO_VERSION}", "--proxy", proxy_url,
             "--out", out], env=goenv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        run([bi, "publish", "--index", index, "--secret-key", key, *sorted(out.glob("*.json"))],
            stdout=subprocess.DEVNULL)
        iproc, index_url = start_server(index, work / "index.log")
        try:
            pkg = f"{GO_MODULE}/cmd/qibench@{GO_VERSION}"
            gq_times, go_times = [], []
            for i in range(args.runs):
                bin_dir = work / f"gq-bin-{i}"
                gq_times.append(timed([gq, "install", "--quiet", "--no-fallback", "--no-cache", pkg],
                                      env=dict(goenv, GOBIN=str(bin_dir),
                                               QUICKINSTALL_INDEX=index_url,
                                               QUICKINSTALL_TRUSTED_KEYS=str(pub),
                                               XDG_STATE_HOME=str(work / "state"))))
                fresh = work / f"go-{i}"
                go_times.append(timed(["go", "install", pkg], env=dict(
                    goenv, GOBIN=str(fresh / "bin"), GOCACHE=str(fresh / "cache"),
                    GOMODCACHE=str(fresh / "mod"), GOPATH=str(fresh / "path"))))
            t_gq, t_go = statistics.median(gq_times), statistics.median(go_times)
            print(f"\n(go) gquick install from a local index vs go install from the same "
                  f"local proxy, empty caches ({args.runs} runs, medians)\n"
                  f"    {t_gq*1000:.1f} ms vs {t_go*1000:.1f} ms = {t_gq / t_go:.3f}x "
                  f"({t_go / t_gq:.0f} times faster)")
        finally:
            iproc.kill()
    finally:
        pproc.kill()


if __name__ == "__main__":
    main()
