#!/usr/bin/env bash
# Runs every fuzz target (or those named) for a bounded time and reports, per target, the
# inputs executed and the crashes found. Exit status 1 when any target crashed, 2 on bad usage.
#
#   fuzz/run.sh [TARGET...]
#
# Environment: FUZZ_SECONDS (per target, default 60), FUZZ_RSS_MB (memory limit, default 2048),
# FUZZ_TIMEOUT (seconds one input may take, default 10). Seeds come from fuzz/seeds/<target>
# (committed; regenerate with fuzz/make_seeds.py); what the fuzzer finds goes to
# fuzz/corpus/<target> and crashing inputs to fuzz/artifacts/<target> (both ignored by git).
# Needs the nightly toolchain (`rustup toolchain install nightly`); installs cargo-fuzz if it
# is missing.
set -euo pipefail

seconds="${FUZZ_SECONDS:-60}"
rss_mb="${FUZZ_RSS_MB:-2048}"
timeout="${FUZZ_TIMEOUT:-10}"
for value in "$seconds" "$rss_mb" "$timeout"; do
    if ! [[ "$value" =~ ^[1-9][0-9]*$ ]]; then
        echo "error: FUZZ_SECONDS, FUZZ_RSS_MB and FUZZ_TIMEOUT must be positive whole numbers, not \`$value\`" >&2
        exit 2
    fi
done

cd "$(dirname "$0")"

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "error: fuzzing needs the nightly toolchain" >&2
    echo "help: rustup toolchain install nightly" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing; installing it from crates.io" >&2
    cargo install cargo-fuzz --locked
fi

mapfile -t known < <(cargo +nightly fuzz list)
if [ "$#" -gt 0 ]; then
    targets=("$@")
    for target in "${targets[@]}"; do
        if ! printf '%s\n' "${known[@]}" | grep -qx -- "$target"; then
            echo "error: no fuzz target \`$target\`; the targets are: ${known[*]}" >&2
            exit 2
        fi
    done
else
    targets=("${known[@]}")
fi

# Build every target once up front, so the time budget is spent fuzzing, not compiling.
cargo +nightly fuzz build

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
crashed=0
summary=()
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    before="$logs/$target.before"
    find "artifacts/$target" -type f | sort >"$before"
    log="$logs/$target.log"
    echo "fuzzing \`$target\` for ${seconds} s" >&2
    status=0
    cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb="$rss_mb" -timeout="$timeout" \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    if [ -z "$execs" ]; then
        # libFuzzer's progress lines start with `#<execs>`; the last one is the count so far.
        execs="$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)"
    fi
    new="$(find "artifacts/$target" -type f | sort | comm -13 "$before" -)"
    if [ "$status" -ne 0 ] || [ -n "$new" ]; then
        crashed=1
        if [ -z "$new" ]; then
            new="(no artifact; exit status $status; the log follows)"
            tail -n 40 "$log" >&2
        else
            grep -E '^==[0-9]+== ?ERROR|panicked at' "$log" | head -n 3 >&2 || true
            echo "help: reproduce from the repository root with \`cargo +nightly fuzz run $target <artifact>\`" >&2
        fi
        new="${new//artifacts\//fuzz/artifacts/}"
        summary+=("$(printf '%-14s execs %-10s crashes: %s' "$target" "${execs:-?}" "$(echo "$new" | tr '\n' ' ')")")
    else
        summary+=("$(printf '%-14s execs %-10s crashes: 0' "$target" "${execs:-?}")")
    fi
done

printf '%s\n' "${summary[@]}"
exit "$crashed"
