#!/usr/bin/env bash
# Step 1 of the quickinstall action: make `cargo-quickinstall` and `gquick` available.
#
# Skip rule (explicit on purpose): when BOTH `cargo-quickinstall` and `gquick` are already on
# PATH, nothing is downloaded. That is how a runner image that ships them, a cached
# `$CARGO_HOME/bin`, or the local test (which puts its debug builds on PATH) avoid a bootstrap.
# Otherwise install.sh is downloaded and run; it verifies what it downloads and installs both
# into `$CARGO_HOME/bin`, which is then put on PATH for this job.
#
# Pinning: a pinned action must install pinned bytes. At each release tag the release workflow
# commits, beside this script, `client-version` (the clients' version) and `install.sh.sha256`
# (the sha256 of that release's install.sh), so the action downloads
# `$QI_BOOTSTRAP_BASE/releases/<version>/install.sh` and refuses (exit 3) any other bytes before
# they run. A development checkout (main, a branch) has neither file: it downloads the latest
# `$QI_BOOTSTRAP_BASE/install.sh`, unpinned, with a notice. QI_BOOTSTRAP_URL replaces the URL and
# QI_BOOTSTRAP_SHA256 the pin (a mirror, or your own pin); see docs/releasing.md.
#
# Inputs (environment): QI_BOOTSTRAP_URL, QI_BOOTSTRAP_SHA256, QI_BOOTSTRAP_BASE (default the
# project's GitHub Pages), CARGO_HOME (default ~/.cargo), GITHUB_PATH.
set -euo pipefail

if command -v cargo-quickinstall >/dev/null 2>&1 && command -v gquick >/dev/null 2>&1; then
    echo "quickinstall: cargo-quickinstall and gquick already on PATH; not bootstrapping" >&2
    exit 0
fi

action_dir="$(dirname "$0")"
base="${QI_BOOTSTRAP_BASE:-https://quickinstall-dev.github.io/quickinstall}"
base="${base%/}"
version=""
if [ -f "$action_dir/client-version" ]; then
    version="$(tr -d ' \n' <"$action_dir/client-version")"
    case "$version" in
        "" | *[!0-9A-Za-z.+-]*)
            echo "quickinstall: $action_dir/client-version holds \`$version\`, not a version" >&2
            exit 1
            ;;
    esac
fi
if [ -n "${QI_BOOTSTRAP_URL:-}" ]; then
    url="$QI_BOOTSTRAP_URL"
elif [ -n "$version" ]; then
    url="$base/releases/$version/install.sh"
else
    url="$base/install.sh"
fi
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

pin_file="$action_dir/install.sh.sha256"
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
        echo "help: the action pins install.sh of its release${version:+ ($version)}; leave bootstrap-url empty, or give the bootstrap-sha256 of the install.sh you point it at" >&2
        exit 3
    fi
else
    echo "quickinstall: install.sh is not pinned (a development checkout of the action, or bootstrap-url without bootstrap-sha256); running $url" >&2
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
