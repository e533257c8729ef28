#!/usr/bin/env bash
# Load and fault benchmark of `build-index stats serve` on 127.0.0.1 (issue 5 figures):
#   1. throughput: wrk, 2 threads, 50 keep-alive connections, POSTing valid pings for 10 s
#      → req/s, p50, p99 (targets: >= 20,000 pings/s, p99 <= 20 ms);
#   2. durability: the same load, counting 204 acks in wrk's Lua; the service is SIGKILLed
#      mid-load, restarted on the same database, and `/counts` is compared with the acks
#      → lost = acks - stored (target 0);
#   3. malformed input: 10,000 bad requests (bad JSON, bad fields, oversize, bad framing,
#      wrong methods, random bytes) → zero crashes (/healthz 200) and zero rows added;
#   4. slowloris (issue 17): 2,100 connections each dripping its request head at one byte a
#      second for 15 s, (a) with the per-address cap lifted (as 2,100 distinct hosts would be)
#      and (b) from one address under the default cap; a fresh /healthz from another loopback
#      address (127.0.0.2) every 0.5 s meanwhile
#      → every probe 200 (target: max latency < 1 s), every dripper closed by the server at
#      the header deadline (default 10 s) or refused at once.
#
#   bash bench/stats.sh [SECONDS]
#
# Needs `wrk` (`apt-get install -y wrk`) and python3; installs nothing itself. Rate limiting
# is turned off (all load comes from 127.0.0.1). Uses CARGO_TARGET_DIR if set. The temp dir
# (databases, scripts) is removed on exit.
set -euo pipefail

secs=${1:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
command -v wrk > /dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 1; }
command -v python3 > /dev/null || { echo "python3 is not installed" >&2; exit 1; }

cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p build-index --bin build-index
bin="$target/release/build-index"

work=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill -9 "$pid" 2> /dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# Starts the service on $1 (a database) with any further flags; sets $pid and $url.
start() {
    : > "$work/url"
    local db=$1
    shift
    "$bin" stats serve --db "$db" --rate-limit 0 "$@" > "$work/url" &
    pid=$!
    for _ in $(seq 200); do
        url=$(head -n1 "$work/url")
        [ -n "$url" ] && return 0
        sleep 0.05
    done
    echo "the service did not print its URL" >&2
    exit 1
}

# Sum of all totals in /counts since 1970.
stored() {
    python3 - "$url" << 'PY'
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "counts?since=1970-01-01") as r:
    print(sum(v["total"] for v in json.load(r).values()))
PY
}

cat > "$work/ping.lua" << 'LUA'
-- POSTs one valid ping per request (a few crate names, so the writer upserts several rows)
-- and counts the 204 acknowledgements per thread.
local names = {"ripgrep", "bat", "fd-find", "tokei", "hyperfine", "just", "zoxide", "eza"}
local threads = {}
acks = 0 -- global: done() reads it per thread with thread:get
others = 0
function setup(thread) table.insert(threads, thread) end
local i = 0
function request()
  i = i % #names + 1
  return wrk.format("POST", "/record-install", {["Content-Type"] = "application/json"},
    '{"kind":"crate","name":"' .. names[i] .. '","version":"1.2.3","target":"x86_64-unknown-linux-musl",' ..
    '"outcome":"prebuilt","client":"cargo-quickinstall","client_version":"0.1.0"}')
end
function response(status, headers, body)
  if status == 204 then acks = acks + 1 else others = others + 1 end
end
function done(summary, latency, requests)
  local a, o = 0, 0
  for _, t in ipairs(threads) do a = a + t:get("acks"); o = o + t:get("others") end
  io.write(string.format("ACKS %d OTHERS %d\n", a, o))
end
LUA

cat > "$work/ping-fast.lua" << 'LUA'
-- One fixed valid ping, no per-response callback: wrk's fast path, for the throughput figure.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"kind":"crate","name":"ripgrep","version":"14.1.0","target":"x86_64-unknown-linux-musl",' ..
  '"outcome":"prebuilt","client":"cargo-quickinstall","client_version":"0.1.0"}'
LUA

echo "== 1. throughput: wrk -t2 -c50 -d${secs}s, valid pings, fresh database"
start "$work/load.db"
wrk -t2 -c50 -d"${secs}s" --latency -s "$work/ping-fast.lua" "${url}record-install" | tee "$work/wrk1"
rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk1")
p50=$(awk '$1 == "50%" {print $2}' "$work/wrk1")
p99=$(awk '$1 == "99%" {print $2}' "$work/wrk1")
done1=$(awk '/requests in/ {print $1}' "$work/wrk1")
non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk1")
s1=$(stored)
echo "throughput: ${rps} pings/s, p50 ${p50}, p99 ${p99}; wrk completed ${done1}, stored ${s1}, non-2xx ${non2xx:-0}"
kill -TERM "$pid"; wait "$pid" && echo "SIGTERM: exit 0" || echo "SIGTERM: exit $?"
pid=

echo
echo "== 2. durability: wrk -t2 -c50 for 6 s counting acks, SIGKILL at ~3 s, restart"
start "$work/kill.db"
wrk -t2 -c50 -d6s -s "$work/ping.lua" "${url}record-install" > "$work/wrk2" 2>&1 &
wrk_pid=$!
sleep 3
kill -9 "$pid"; wait "$pid" 2> /dev/null || true
pid=
wait "$wrk_pid" || true
acks=$(awk '/^ACKS/ {print $2}' "$work/wrk2")
start "$work/kill.db"
s2=$(stored)
lost=$(( acks > s2 ? acks - s2 : 0 ))
echo "acks ${acks}, stored after restart ${s2}, lost ${lost} (acked but not stored; target 0)"
echo "  committed but never acknowledged (acks died with the process): $(( s2 > acks ? s2 - acks : 0 ))"
kill -TERM "$pid"; wait "$pid" || true
pid=

echo
echo "== 3. 10,000 malformed requests"
start "$work/bad.db"
python3 - "$url" "$pid" << 'PY'
import os, random, socket, sys, urllib.parse, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
host, port = urllib.parse.urlparse(url).hostname, urllib.parse.urlparse(url).port
good = ('{"kind":"crate","name":"ripgrep","version":"14.1.0","target":"x86_64-unknown-linux-musl",'
        '"outcome":"prebuilt","client":"cargo-quickinstall","client_version":"0.1.0"}')
bodies = [
    good.replace("ripgrep", "rip grep"), good.replace("ripgrep", "../../etc/passwd"),
    good.replace("14.1.0", "latest"), good.replace("x86_64-unknown-linux-musl", "x"),
    good.replace("prebuilt", "stolen"), good.replace("cargo-quickinstall", "curl"),
    good.replace('"crate"', '"npm"'), good.replace('}', ',"ip":"1.2.3.4"}'),
    good[:-1], "[]", "null", "", "{}", good.replace('"ripgrep"', "1e999"),
    good + " " * 2000, "\xff\xfe" + good, good.replace("ripgrep", "a" * 900),
]
def post(body, ctype="application/json"):
    b = body.encode("utf-8", "surrogateescape")
    return (f"POST /record-install HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(b)}\r\nConnection: close\r\n\r\n").encode() + b
raws = [post(b) for b in bodies] + [
    post(good, "text/plain"),
    b"POST /record-install HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"POST /record-install HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
    b"POST /record-install HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    b"POST /record-install HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    b"GET /record-install HTTP/1.1\r\nConnection: close\r\n\r\n",
    b"DELETE /counts HTTP/1.1\r\nConnection: close\r\n\r\n",
    b"GET /counts?since=../../ HTTP/1.1\r\nConnection: close\r\n\r\n",
    b"GET /%00%ff HTTP/1.1\r\nConnection: close\r\n\r\n",
    b"garbage\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\r\n\r\n",
    b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n",
    b"POST /record-install HTTP/1.1\r\nContent-Length: 50\r\n\r\nshort",  # truncated body
]
rng = random.Random(5)
statuses = {}
for n in range(10_000):
    raw = raws[n % len(raws)] if n % 10 else bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 300)))
    s = socket.create_connection((host, port), timeout=5)
    try:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        data = s.recv(64)
    except OSError:
        data = b""
    finally:
        s.close()
    key = data[9:12].decode("ascii", "replace") if data.startswith(b"HTTP/1.1 ") else "closed"
    statuses[key] = statuses.get(key, 0) + 1
os.kill(pid, 0)  # raises if the service died
with urllib.request.urlopen(url + "healthz") as r:
    health = r.status
with urllib.request.urlopen(url + "counts?since=1970-01-01") as r:
    rows = sum(v["total"] for v in __import__("json").load(r).values())
ok = sum(v for k, v in statuses.items() if k.startswith("2"))
print("answers:", dict(sorted(statuses.items())))
print(f"malformed: 10000 sent, 2xx {ok}, service alive, /healthz {health}, rows added {rows}")
PY
kill -TERM "$pid"; wait "$pid" && echo "SIGTERM after the malformed run: exit 0" || echo "SIGTERM: exit $?"
pid=

echo
echo "== 4. slowloris: 2,100 connections dripping one byte a second, /healthz probed every 0.5 s"
cat > "$work/slowloris.py" << 'PY'
import http.client, socket, sys, threading, time, urllib.parse
url, label = sys.argv[1], sys.argv[2]
host, port = urllib.parse.urlparse(url).hostname, urllib.parse.urlparse(url).port
N, SECS = 2100, 15
head = b"POST /record-install HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 200
socks, opened, closed, refused, failed = [], [], {}, 0, 0
for i in range(N):
    try:
        s = socket.create_connection((host, port), timeout=5)
        s.setblocking(False)
        socks.append(s); opened.append(time.monotonic())
    except OSError:
        failed += 1
probes = []
stop = False
def probe():
    # From 127.0.0.2: another host, as far as the per-address cap can tell.
    while not stop:
        t = time.monotonic()
        try:
            c = http.client.HTTPConnection(host, port, timeout=5, source_address=("127.0.0.2", 0))
            c.request("GET", "/healthz")
            probes.append((c.getresponse().status, time.monotonic() - t))
            c.close()
        except Exception as e:
            probes.append((type(e).__name__, time.monotonic() - t))
        time.sleep(0.5)
prober = threading.Thread(target=probe); prober.start()
start = time.monotonic()
tick = 0
while time.monotonic() - start < SECS:
    for i, s in enumerate(socks):
        if i in closed:
            continue
        try:
            data = s.recv(512)
            if data.startswith(b"HTTP/1.1 429") or data.startswith(b"HTTP/1.1 503"):
                refused += 1; closed[i] = time.monotonic() - opened[i]; continue
            if data == b"":
                closed[i] = time.monotonic() - opened[i]; continue
        except BlockingIOError:
            pass
        except OSError:
            closed[i] = time.monotonic() - opened[i]; continue
        try:
            s.send(head[tick:tick + 1])
        except BlockingIOError:
            pass
        except OSError:
            closed[i] = time.monotonic() - opened[i]
    tick += 1
    time.sleep(max(0.0, start + tick - time.monotonic()))
stop = True; prober.join()
ok = [t for st, t in probes if st == 200]
bad = [st for st, t in probes if st != 200]
cut = sorted(t for i, t in closed.items())
lat = sorted(ok)
print(f"{label}: {len(socks)} drippers connected ({failed} connects failed); "
      f"closed by the server: {len(closed)} ({refused} refused at once with 429/503), "
      f"{len(socks) - len(closed)} still open after {SECS} s; "
      + (f"closed after {cut[0]:.1f}-{cut[-1]:.1f} s; " if cut else "")
      + f"/healthz probes: {len(ok)} x 200, others {bad}; "
      + (f"latency p50 {lat[len(lat)//2]*1000:.1f} ms, max {lat[-1]*1000:.1f} ms" if lat else ""))
PY
start "$work/slow.db" --max-connections-per-addr 5000
python3 "$work/slowloris.py" "$url" "(a) per-address cap lifted"
kill -TERM "$pid"; wait "$pid" && echo "SIGTERM: exit 0" || echo "SIGTERM: exit $?"
pid=
start "$work/slow.db"
python3 "$work/slowloris.py" "$url" "(b) one address, default cap"
kill -TERM "$pid"; wait "$pid" && echo "SIGTERM: exit 0" || echo "SIGTERM: exit $?"
pid=
