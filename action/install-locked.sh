#!/usr/bin/env bash
# Step 2b of the quickinstall action, for the `manifest:` input: install exactly what the
# `quickinstall.lock` beside that `quickinstall.toml` pins, crates and Go packages alike
# (`cargo-quickinstall --locked-tools`: no registry or index lookups, one request per tool, each
# archive's sha256 checked; a stale or incomplete lock fails, naming the file and line, and is
# never silently re-resolved). Both bin directories go to GITHUB_PATH.
#
# Inputs (environment): QI_MANIFEST (path, relative to the workspace), QI_INDEX,
# QI_TRUSTED_KEYS (spaces, commas or newlines), QI_TELEMETRY (true/false), QI_CACHE_DIR,
# GITHUB_PATH (optional: unset means "do not write it").
set -euo pipefail
set -f

# shellcheck source=action/common.sh
. "$(dirname "$0")/common.sh"

if [ -z "${QI_MANIFEST:-}" ]; then
    echo "quickinstall: the \`manifest\` input is empty" >&2
    exit 2
fi
flags=(--locked-tools --manifest "$QI_MANIFEST" ${client_flags[@]+"${client_flags[@]}"})

status=0
cargo-quickinstall "${flags[@]}" || status=$?
if [ -n "${GITHUB_PATH:-}" ]; then
    printf '%s\n%s\n' "$(native_path "$cargo_bin")" "$(native_path "$go_bin")" >>"$GITHUB_PATH"
fi
if [ "$status" -ne 0 ]; then
    echo "quickinstall: the locked tools of \`$QI_MANIFEST\` were not all installed (exit status $status)" >&2
fi
exit "$status"
