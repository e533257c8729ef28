#!/usr/bin/env bash
# The 20-crate sample of popular command-line crates (issue 16): build each with
# `build-index build` for x86_64-unknown-linux-musl, then report which built static and, for
# the rest, the failure reason the build record carries.
#
#   bench/targets_sample.sh [BUILD_INDEX] [OUT_DIR]
#
# Needs the musl target (`rustup target add x86_64-unknown-linux-musl`) and musl-tools
# (`musl-gcc`) for crates with C parts; crates.io must be reachable. Each build is bounded by
# --timeout-secs (default 1800, override with SAMPLE_TIMEOUT_SECS). A result table is printed
# at the end and kept in OUT_DIR/summary.tsv.
set -u
bi=${1:-target/release/build-index}
out=${2:-target/targets-sample}
timeout=${SAMPLE_TIMEOUT_SECS:-1800}
crates=(ripgrep fd-find bat hexyl tokei du-dust sd hyperfine just zoxide
        eza procs bottom git-delta xh tealdeer grex typos-cli cargo-nextest mdbook)
mkdir -p "$out"
summary="$out/summary.tsv"
printf 'crate\tversion\tstatus\treason\tseconds\tarchive_bytes\tstatic\n' >"$summary"
for c in "${crates[@]}"; do
  dir="$out/$c"
  rm -rf "$dir"
  start=$(date +%s)
  "$bi" build --crate "$c" --target x86_64-unknown-linux-musl --out "$dir" \
    --timeout-secs "$timeout" >"$out/$c.log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  record=$(find "$dir" -name '*.json' ! -name '*.log' 2>/dev/null | head -1)
  version=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("version",""))' "$record" 2>/dev/null)
  status=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("status","?"))' "$record" 2>/dev/null || echo none)
  reason=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("reason","-"))' "$record" 2>/dev/null || echo "no-record(rc=$rc)")
  archive=$(find "$dir" -name '*.tar.gz' -printf '%s\n' 2>/dev/null | head -1)
  static=-
  if [ -n "$archive" ]; then
    tmp=$(mktemp -d)
    tar -xzf "$(find "$dir" -name '*.tar.gz' | head -1)" -C "$tmp"
    static=yes
    while IFS= read -r -d '' f; do
      if file "$f" | grep -q 'ELF'; then
        if readelf -lW "$f" | grep -q INTERP || readelf -dW "$f" | grep -q NEEDED; then static=no; fi
      fi
    done < <(find "$tmp" -type f -print0)
    rm -rf "$tmp"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "${version:--}" "$status" "$reason" "$secs" "${archive:--}" "$static" | tee -a "$summary"
done
built=$(awk -F'\t' 'NR>1 && $7=="yes"' "$summary" | wc -l)
echo "static for x86_64-unknown-linux-musl: $built of ${#crates[@]}"
