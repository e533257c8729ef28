# shellcheck shell=bash
# Sourced (never run) by the quickinstall action's install steps, install-tools.sh and
# install-locked.sh: what both need before they run a client.
#
# - On Windows runners this is Git Bash: the runner hands Windows paths (`C:\...`), bash's PATH
#   wants `/c/...`, and GITHUB_PATH and Windows programs (python) want `C:\...`. cygpath
#   converts (unix_path, native_path); elsewhere there is none and paths pass unchanged.
# - cargo_bin and go_bin: where cargo-quickinstall and gquick install, decided as cargo and
#   `go install` do. cargo_bin is appended to PATH: a bootstrap in the previous step put the
#   clients there, and GITHUB_PATH only applies from the next step.
# - client_flags: the flags of the inputs both steps share, QI_INDEX, QI_TRUSTED_KEYS (spaces,
#   commas or newlines), QI_CACHE_DIR and QI_TELEMETRY (true/false; anything else exits 2).

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
# GOBIN, else GOPATH's first entry, else ~/go. (Read by the scripts that source this.)
# shellcheck disable=SC2034
if [ -n "${GOBIN:-}" ]; then
    go_bin="$(unix_path "$GOBIN")"
elif [ -n "${GOPATH:-}" ]; then
    go_bin="$(unix_path "${GOPATH%%"$list_sep"*}")/bin"
else
    go_bin="$HOME/go/bin"
fi
PATH="$PATH:$cargo_bin"

client_flags=()
if [ -n "${QI_INDEX:-}" ]; then
    client_flags+=(--release-index "$QI_INDEX")
fi
for key in $(printf '%s' "${QI_TRUSTED_KEYS:-}" | tr ',' ' '); do
    client_flags+=(--trusted-key "$key")
done
if [ -n "${QI_CACHE_DIR:-}" ]; then client_flags+=(--cache-dir "$QI_CACHE_DIR"); fi
case "${QI_TELEMETRY:-true}" in
true) ;;
false) client_flags+=(--no-telemetry) ;;
*)
    echo "quickinstall: \`telemetry\` must be true or false, not \`$QI_TELEMETRY\`" >&2
    exit 2
    ;;
esac
