#!/usr/bin/env bash
# Rebuilds the plugins in this folder from the last commit of plugin API 0.1.0, so that
# tests can load plugins genuinely built against an older contract (not a faked version
# string over today's crates). Run from anywhere; it needs git, cargo and the
# wasm32-wasip2 target. The outputs are committed: the tests never run this.
#
#   opus-api-0.1.0.wasm                  the Opus decoder as a component of WIT 0.1.0
#   local-api-0.1.0-x86_64-linux.so      the local-folder provider as a native library
#                                        built against tonearm-plugin-api 0.1.0
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(git -C "$here" rev-parse --show-toplevel)"
# The last commit whose contract was API 0.1.0.
commit=8e61ade
work="$(mktemp -d)"
trap 'git -C "$repo" worktree remove --force "$work/tree" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

git -C "$repo" worktree add --detach "$work/tree" "$commit" >/dev/null
cd "$work/tree"
export CARGO_TARGET_DIR="$work/target"
cargo build --locked -p tonearm-plugin-opus-component --target wasm32-wasip2 --profile component
cargo build --locked -p tonearm-plugin-local-dylib --profile component
cp "$CARGO_TARGET_DIR/wasm32-wasip2/component/tonearm_plugin_opus_component.wasm" \
  "$here/opus-api-0.1.0.wasm"
cp "$CARGO_TARGET_DIR/component/libtonearm_plugin_local_dylib.so" \
  "$here/local-api-0.1.0-x86_64-linux.so"
(cd "$here" && sha256sum opus-api-0.1.0.wasm local-api-0.1.0-x86_64-linux.so > SHA256SUMS)
echo "rebuilt from $commit:"
cat "$here/SHA256SUMS"
