#!/usr/bin/env bash
# Step 2 of the quickinstall action: install every requested tool, then report.
#
# Entries of QI_TOOLS (separated by spaces or newlines) that contain a `/` are Go packages
# (`path[@version]`, for `gquick install`); the others are crates (`name[@req]`, for
# `cargo-quickinstall`). Both clients run once each, at the same time, with `--json --quiet`.
# Their JSON lines become the `results` output (one JSON array) and a step-summary table;
# both bin directories go to GITHUB_PATH. Exits with the worst client status (0 all installed,
# 1 some failed, 2 usage error, 3 verification failure; docs/json-output.md).
#
# Inputs (environment): QI_TOOLS, QI_INDEX, QI_TRUSTED_KEYS (spaces, commas or newlines),
# QI_FALLBACK (true/false), QI_TELEMETRY (true/false), QI_CACHE_DIR, GITHUB_PATH, GITHUB_OUTPUT,
# GITHUB_STEP_SUMMARY (each optional: unset means "do not write it").
set -euo pipefail
set -f # tool entries are words, never globs

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=action/common.sh
. "$here/common.sh"
# A Python that runs: on Windows `python3` may be the Store's placeholder, `python` the real one.
py=''
for candidate in python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c '' >/dev/null 2>&1; then
        py="$candidate"
        break
    fi
done

crates=()
go_pkgs=()
for entry in ${QI_TOOLS:-}; do
    case "$entry" in
    */*) go_pkgs+=("$entry") ;;
    *) crates+=("$entry") ;;
    esac
done
if [ "${#crates[@]}" -eq 0 ] && [ "${#go_pkgs[@]}" -eq 0 ]; then
    echo "quickinstall: the \`tools\` input names no tool" >&2
    exit 2
fi

# `${a[@]+...}` keeps bash 3.2 from calling an empty array unbound under `set -u`.
flags=(${client_flags[@]+"${client_flags[@]}"})
case "${QI_FALLBACK:-true}" in
true) ;;
false) flags+=(--no-fallback) ;;
*)
    echo "quickinstall: \`fallback\` must be true or false, not \`$QI_FALLBACK\`" >&2
    exit 2
    ;;
esac

work="$(mktemp -d "$(unix_path "${RUNNER_TEMP:-${TMPDIR:-/tmp}}")/qi-action.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Fractional seconds where bash has them (5.0+), whole seconds otherwise (macOS's bash 3.2).
now() {
    if [ -n "${EPOCHREALTIME:-}" ]; then
        printf '%s\n' "$EPOCHREALTIME" | tr ',' '.'
    else
        date +%s
    fi
}

# run_client NAME CMD...: runs CMD, keeps its JSON lines, exit status and wall time under $work.
run_client() {
    local name="$1"
    shift
    local start end rc=0
    start="$(now)"
    "$@" >"$work/$name.jsonl" || rc=$?
    end="$(now)"
    echo "$rc" >"$work/$name.rc"
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f\n", e - s }' >"$work/$name.secs"
}

# `${flags[@]+...}` keeps bash 3.2 from calling an empty array unbound under `set -u`.
if [ "${#crates[@]}" -gt 0 ]; then
    run_client cargo cargo-quickinstall --json --quiet --jobs 8 ${flags[@]+"${flags[@]}"} "${crates[@]}" &
fi
if [ "${#go_pkgs[@]}" -gt 0 ]; then
    run_client go gquick install --json --quiet ${flags[@]+"${flags[@]}"} "${go_pkgs[@]}" &
fi
wait

status=0
summary_args=()
jsonl=()
annotation_args=()
for name in cargo go; do
    [ -f "$work/$name.rc" ] || continue
    rc="$(cat "$work/$name.rc")"
    if [ "$rc" -gt "$status" ]; then
        status="$rc"
    fi
    # For python, which on Windows knows no `/tmp/...`: native paths.
    summary_args+=("$(native_path "$work/$name.jsonl")" "$(cat "$work/$name.secs")")
    jsonl+=("$work/$name.jsonl")
    annotation_args+=("$(native_path "$work/$name.jsonl")")
done

if [ -n "${GITHUB_PATH:-}" ]; then
    printf '%s\n%s\n' "$(native_path "$cargo_bin")" "$(native_path "$go_bin")" >>"$GITHUB_PATH"
fi

# Both clients print one JSON object per line and nothing else on stdout.
lines() { cat "${jsonl[@]}" | grep '^{' || true; }
results="[$(lines | paste -s -d, -)]"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf 'results=%s\n' "$results" >>"$GITHUB_OUTPUT"
fi

summary_py="$(native_path "$here/summary.py")"

# Annotations on the run's page: `::warning::` per tool built from source, `::error::` per
# failure (workflow commands on stdout).
if [ -n "$py" ]; then
    "$py" "$summary_py" --annotations "${annotation_args[@]}"
else
    # No JSON parser: each failed result line as the error's text.
    lines | grep '"ok":false' | sed 's/%/%25/g; s/^/::error title=quickinstall::/' || true
fi

if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    if [ -n "$py" ]; then
        "$py" "$summary_py" "${summary_args[@]}" >>"$GITHUB_STEP_SUMMARY"
    else
        # No JSON parser at hand: the raw result lines, one per list item.
        {
            echo "### quickinstall"
            echo
            # shellcheck disable=SC2016 # the backticks are Markdown, not a substitution
            lines | sed 's/^/- `/; s/$/`/'
        } >>"$GITHUB_STEP_SUMMARY"
    fi
fi

if [ "$status" -ne 0 ]; then
    echo "quickinstall: some tools were not installed (exit status $status); see the step summary" >&2
fi
exit "$status"
