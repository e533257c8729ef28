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

if command -v cygpath >/dev/null 2>&1; then
    unix_path() { cygpath -u "$1"; }
    native_path() { cygpath -w "$1"; }
    list_sep=';'
else
    unix_path() { printf '%s\n' "$1"; }
    native_path() { printf '%s\n' "$1"; }
    list_sep=':'
fi
cargo_bin="$(unix_path "${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}")/bin"
if [ -n "${GOBIN:-}" ]; then
    go_bin="$(unix_path "$GOBIN")"
elif [ -n "${GOPATH:-}" ]; then
    go_bin="$(unix_path "${GOPATH%%"$list_sep"*}")/bin"
else
    go_bin="$HOME/go/bin"
fi
PATH="$PATH:$cargo_bin"

if [ -z "${QI_MANIFEST:-}" ]; then
    echo "quickinstall: the \`manifest\` input is empty" >&2
    exit 2
fi
flags=(--locked-tools --manifest "$QI_MANIFEST")
if [ -n "${QI_INDEX:-}" ]; then
    flags+=(--release-index "$QI_INDEX")
fi
for key in $(printf '%s' "${QI_TRUSTED_KEYS:-}" | tr ',' ' '); do
    flags+=(--trusted-key "$key")
done
if [ -n "${QI_CACHE_DIR:-}" ]; then flags+=(--cache-dir "$QI_CACHE_DIR"); fi
case "${QI_TELEMETRY:-true}" in
true) ;;
false) flags+=(--no-telemetry) ;;
*)
    echo "quickinstall: \`telemetry\` must be true or false, not \`$QI_TELEMETRY\`" >&2
    exit 2
    ;;
esac

status=0
cargo-quickinstall "${flags[@]}" || status=$?
if [ -n "${GITHUB_PATH:-}" ]; then
    printf '%s\n%s\n' "$(native_path "$cargo_bin")" "$(native_path "$go_bin")" >>"$GITHUB_PATH"
fi
if [ "$status" -ne 0 ]; then
    echo "quickinstall: the locked tools of \`$QI_MANIFEST\` were not all installed (exit status $status)" >&2
fi
exit "$status"
