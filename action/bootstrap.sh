#!/usr/bin/env bash
# Step 1 of the quickinstall action: make `cargo-quickinstall` and `gquick` available.
#
# Skip rule (explicit on purpose): when BOTH `cargo-quickinstall` and `gquick` are already on
# PATH, nothing is downloaded. That is how a runner image that ships them, a cached
# `$CARGO_HOME/bin`, or the local test (which puts its debug builds on PATH) avoid a bootstrap.
# Otherwise install.sh is fetched from QI_BOOTSTRAP_URL and run; it verifies what it downloads
# and installs both into `$CARGO_HOME/bin`, which is then put on PATH for this job.
#
# Pinning: a pinned action must install pinned bytes. The expected sha256 of install.sh comes
# from QI_BOOTSTRAP_SHA256, else from `action/install.sh.sha256` beside this script (committed
# at each release tag with the matching versioned URL); a download that differs is refused
# before it runs. Without either, install.sh runs unpinned, with a notice.
#
# Inputs (environment): QI_BOOTSTRAP_URL, QI_BOOTSTRAP_SHA256, CARGO_HOME (default ~/.cargo),
# GITHUB_PATH.
set -euo pipefail

if command -v cargo-quickinstall >/dev/null 2>&1 && command -v gquick >/dev/null 2>&1; then
    echo "quickinstall: cargo-quickinstall and gquick already on PATH; not bootstrapping" >&2
    exit 0
fi

url="${QI_BOOTSTRAP_URL:-https://quickinstall-dev.github.io/quickinstall/install.sh}"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
tmp_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}"
# Windows runners (Git Bash): the runner's paths are `C:\...`; bash wants `/c/...`, GITHUB_PATH
# the Windows form.
if command -v cygpath >/dev/null 2>&1; then
    tmp_dir="$(cygpath -u "$tmp_dir")"
    cargo_home="$(cygpath -u "$cargo_home")"
fi
script="$(mktemp "$tmp_dir/qi-install.XXXXXX")"
trap 'rm -f "$script"' EXIT

# HTTPS only, redirects included, unless the URL itself says http:// (a loopback test index):
# a redirect must not downgrade the download of a script that then runs.
case "$url" in
    http://*) protocols='=http,https' ;;
    *) protocols='=https' ;;
esac

# Download to a file first: a truncated download must not run as half a script.
if command -v curl >/dev/null 2>&1; then
    curl --proto "$protocols" --proto-redir "$protocols" --fail --silent --show-error --location \
        --retry 3 -o "$script" "$url"
elif command -v wget >/dev/null 2>&1; then
    if [ "$protocols" = '=https' ]; then
        wget --https-only -q -O "$script" "$url"
    else
        wget -q -O "$script" "$url"
    fi
else
    echo "quickinstall: neither curl nor wget is installed; cannot download $url" >&2
    exit 1
fi

pin_file="$(dirname "$0")/install.sh.sha256"
expected="${QI_BOOTSTRAP_SHA256:-}"
if [ -z "$expected" ] && [ -f "$pin_file" ]; then
    expected="$(tr -d ' \n' <"$pin_file")"
fi
if [ -n "$expected" ]; then
    if command -v sha256sum >/dev/null 2>&1; then
        actual="$(sha256sum "$script" | cut -d' ' -f1)"
    else
        actual="$(shasum -a 256 "$script" | cut -d' ' -f1)"
    fi
    if [ "$actual" != "$expected" ]; then
        echo "quickinstall: $url has sha256 $actual, not the pinned $expected; not running it" >&2
        echo "help: the action pins install.sh; use the bootstrap-url of the same release, or update the action" >&2
        exit 3
    fi
else
    echo "quickinstall: install.sh is not pinned (no bootstrap-sha256); running the latest" >&2
fi
sh "$script"

# Later steps of this job (and the install step) find the installer here.
if [ -n "${GITHUB_PATH:-}" ]; then
    if command -v cygpath >/dev/null 2>&1; then
        cygpath -w "$cargo_home/bin" >>"$GITHUB_PATH"
    else
        echo "$cargo_home/bin" >>"$GITHUB_PATH"
    fi
fi
