#!/usr/bin/env bash
# Runs one untrusted build (a crate's build scripts and proc macros, or a Go module's code) as
# an unprivileged user without sudo, then copies out only the files named for the matrix item.
#
# Why: the hosted runner's user has passwordless sudo, so code running as that user could read
# the runner's memory and files (its tokens). The build user is not in sudoers, owns nothing of
# the runner's, and cannot read other users' processes. Its outputs are copied out by name:
# `<stem>.json`, `<stem>.tar.gz`, `<stem>.log` and nothing else; `publish --expect` then checks
# that the record names this item.
#
# Linux and macOS only (Windows runners have no such separation; there the build runs as the
# runner user and only the publish-side checks apply, see docs/operating-the-farm.md).
#
# Environment: KIND (crate|go), CRATE (name or module path), VERSION, TARGET, ARTIFACT
# (`build-<stem>`), TOOLS (dir with build-index), OUT (where the named files go).
set -euo pipefail

user=qibuild
stem="${ARTIFACT#build-}"
os="$(uname -s)"

if ! id "$user" >/dev/null 2>&1; then
    if [ "$os" = Darwin ]; then
        sudo sysadminctl -addUser "$user" -home "/Users/$user" >/dev/null 2>&1
        sudo createhomedir -c -u "$user" >/dev/null
    else
        sudo useradd --create-home --shell /bin/bash "$user"
    fi
fi
home="$(eval echo "~$user")"
work="$home/work"
sudo rm -rf "$work"
sudo install -d -o "$user" -m 0700 "$work" "$work/out" "$work/bin"
sudo install -o "$user" -m 0755 "$TOOLS/build-index" "$work/bin/build-index"

# The builder's own toolchain, in its own home: nothing of the runner's is shared with it.
# On macOS Homebrew is hidden from the build (PATH, pkg-config), so nothing links
# /opt/homebrew or /usr/local libraries that a user's machine does not have; `validate`
# refuses such a binary anyway.
cat > "$RUNNER_TEMP/qibuild-inner.sh" <<'INNER'
#!/usr/bin/env bash
set -euo pipefail
cd "$HOME/work"
export PATH="$HOME/.cargo/bin:$HOME/work/bin:/usr/bin:/bin:/usr/sbin:/sbin"
if [ "$(uname -s)" = Darwin ]; then
    export PKG_CONFIG_LIBDIR=/usr/lib/pkgconfig PKG_CONFIG_PATH= LIBRARY_PATH= CPATH=
    unset HOMEBREW_PREFIX HOMEBREW_CELLAR HOMEBREW_REPOSITORY
fi
if [ "$KIND" = crate ]; then
    if [ ! -x "$HOME/.cargo/bin/cargo" ]; then
        curl --proto '=https' --proto-redir '=https' --fail --silent --show-error --location \
            --retry 3 https://sh.rustup.rs -o rustup-init.sh
        sh rustup-init.sh -y --quiet --profile minimal --default-toolchain stable --no-modify-path
    fi
    rustup target add "$TARGET" >/dev/null
    if [ "$(uname -s)" = Linux ] && [[ "$TARGET" == *-linux-musl ]]; then
        # cargo-zigbuild links every musl target with zig's bundled musl, C dependencies
        # included; `build-index build` runs `$CARGO install`, which the wrapper turns into
        # `cargo-zigbuild install`.
        python3 -m venv "$HOME/zigbuild"
        "$HOME/zigbuild/bin/pip" install --quiet --disable-pip-version-check \
            cargo-zigbuild==0.24.1 ziglang==0.15.2
        printf '#!/bin/sh\nPATH="%s/zigbuild/bin:$PATH" CARGO=cargo exec cargo-zigbuild "$@"\n' \
            "$HOME" > "$HOME/work/bin/zigcargo"
        chmod +x "$HOME/work/bin/zigcargo"
        export CARGO="$HOME/work/bin/zigcargo"
    fi
    spec=(--crate "$CRATE@$VERSION")
else
    export PATH="$PATH:$GO_BIN"
    spec=(--go "$CRATE@$VERSION")
fi
# A failed build is a result (a failure record), not a failed job: exit 0 when it wrote one.
build-index build "${spec[@]}" --target "$TARGET" --out "$HOME/work/out" --timeout-secs 2400 \
    || [ -f "$HOME/work/out/$STEM.json" ]
INNER
sudo install -o "$user" -m 0755 "$RUNNER_TEMP/qibuild-inner.sh" "$work/bin/inner.sh"

go_bin=""
if command -v go >/dev/null 2>&1; then go_bin="$(dirname "$(command -v go)")"; fi
status=0
sudo -u "$user" -H env -i HOME="$home" USER="$user" LANG=C.UTF-8 \
    KIND="$KIND" CRATE="$CRATE" VERSION="$VERSION" TARGET="$TARGET" STEM="$stem" \
    GO_BIN="$go_bin" CARGO_TERM_COLOR=never \
    bash "$work/bin/inner.sh" || status=$?
# Nothing the build started outlives it.
sudo pkill -KILL -u "$user" || true
sudo pkill -KILL -u "$user" || true

# Read as the build user, so a planted symlink reaches nothing that user could not read anyway.
mkdir -p "$OUT"
for ext in json tar.gz log; do
    src="$work/out/$stem.$ext"
    if sudo -u "$user" test -f "$src"; then
        # shellcheck disable=SC2024 # on purpose: read as the build user, written as the runner
        sudo -u "$user" cat "$src" > "$OUT/$stem.$ext"
    fi
done
exit "$status"
