#!/usr/bin/env bash
# The quick start, end to end and offline: build a fixture crate into a local signed release
# index, serve it (and a one-crate sparse registry) on loopback, then install from it with
# `cargo quickinstall` into a scratch CARGO_HOME and run the installed binary.
#
#   ./scripts/quickstart.sh            # everything lands in target/quickstart/
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/quickstart
rm -rf "$out"
mkdir -p "$out"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }

step "building quickinstall and build-index (release)"
cargo build --release --workspace --locked --quiet
bin=target/release

step "generating a signing key for this local index"
"$bin/build-index" keygen --secret-key "$out/index.key" --public-key "$out/index.pub"

step "building qi-hello 0.2.0 statically and packaging it"
# On Linux build-index builds for musl (static, runs on any Linux) when rustup has its std.
host=$(rustc -vV | sed -n 's/^host: //p')
musl=${host%-linux-gnu}-linux-musl
if [ "$musl" != "$host-linux-musl" ] && ! [ -d "$(rustc --print target-libdir --target "$musl" 2>/dev/null)" ]; then
  echo "note: no $musl standard library, so this builds for $host (crt-static);"
  echo "      \`rustup target add $musl\` gives the static musl build the clients prefer"
fi
# build-index prints the result record's path.
record=$("$bin/build-index" build --path fixtures/crates/qi-hello --out "$out/build")
echo "built: $(sed -n 's/.*"target": *"\([^"]*\)".*/\1/p' "$record" | head -n1) ($record)"

step "publishing it into a signed index at $out/index"
"$bin/build-index" publish --index "$out/index" --secret-key "$out/index.key" "$record"
find "$out/index" -type f ! -name .lock | sort

step "writing a one-crate sparse registry (what crates.io would say about qi-hello)"
cargo package --manifest-path fixtures/crates/qi-hello/Cargo.toml --no-verify --allow-dirty \
  --target-dir "$out/package" --quiet
crate_file="$out/package/package/qi-hello-0.2.0.crate"
mkdir -p "$out/registry/qi/-h" "$out/registry/dl/qi-hello/0.2.0"
cp "$crate_file" "$out/registry/dl/qi-hello/0.2.0/download"
cksum=$(sha256sum "$crate_file" | cut -d' ' -f1)
printf '{"name":"qi-hello","vers":"0.2.0","deps":[],"cksum":"%s","features":{},"yanked":false}\n' \
  "$cksum" > "$out/registry/qi/-h/qi-hello"

serve() { # serve DIR NAME: starts a server in the background; its URL lands in $out/NAME.url
  "$bin/build-index" serve --index "$1" --addr 127.0.0.1:0 > "$out/$2.url" 2> "$out/$2.log" &
  pids+=($!)
  for _ in $(seq 200); do [ -s "$out/$2.url" ] && return; sleep 0.05; done
  echo "build-index serve did not start; see $out/$2.log" >&2
  exit 1
}
step "serving the index and the registry on loopback"
serve "$out/index" index
serve "$out/registry" registry
index_url=$(head -n1 "$out/index.url")
registry_url=$(head -n1 "$out/registry.url")
printf '{"dl":"%sdl"}\n' "$registry_url" > "$out/registry/config.json"
echo "index:    $index_url"
echo "registry: $registry_url"

step "cargo quickinstall qi-hello (CARGO_HOME=$out/cargo-home)"
CARGO_HOME="$PWD/$out/cargo-home" QUICKINSTALL_REGISTRY="$registry_url" \
  "$bin/cargo-quickinstall" quickinstall qi-hello \
  --release-index "$index_url" --trusted-key "$out/index.pub"

step "running the installed binaries"
"$out/cargo-home/bin/qi-hello"
"$out/cargo-home/bin/qi-hello-admin"

step "cargo sees the install"
CARGO_HOME="$PWD/$out/cargo-home" cargo install --list

printf '\nDone: a crate built, signed, served, verified and installed without the internet.\n'
