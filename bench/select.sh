#!/usr/bin/env bash
# Full-scale benchmark of `build-index select crates`: generates a synthetic crates.io dump of the
# real one's shape (default 200k crates, 2M versions, ~1 GB of CSV) into a temp dir, runs the
# selection under /usr/bin/time, and prints wall time and peak RSS. Targets: <= 60 s, <= 500 MB.
#
#   bash bench/select.sh [CRATES] [VERSIONS]
#
# Uses CARGO_TARGET_DIR if set. Nothing is left behind: the temp dir is removed on exit.
set -euo pipefail

crates=${1:-200000}
versions=${2:-2000000}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}

cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p build-index \
    --bin build-index --bin gen-dump

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "generating a synthetic dump: $crates crates, $versions versions"
start=$(date +%s)
"$target/release/gen-dump" synth --crates "$crates" --versions "$versions" --out "$work/db-dump.tar.gz"
echo "generated in $(( $(date +%s) - start )) s: $(du -h "$work/db-dump.tar.gz" | cut -f1) compressed"
echo '{"c17": 40, "c123": 7}' > "$work/stats.json"

echo "running: build-index select crates --dump db-dump.tar.gz --since 2024-01-01 --stats stats.json --out queue.jsonl"
/usr/bin/time -f '%e s %M KiB' -o "$work/time" \
    "$target/release/build-index" select crates --dump "$work/db-dump.tar.gz" \
    --since 2024-01-01 --stats "$work/stats.json" --out "$work/queue.jsonl"
read -r secs _ kib _ < "$work/time"
echo "queue: $(wc -l < "$work/queue.jsonl") crates"
echo "select: ${secs} s, peak RSS $(( kib / 1024 )) MiB (${kib} KiB)"
