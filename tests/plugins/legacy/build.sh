#!/usr/bin/env bash
# Rebuilds the plugins in this folder from the last commit of each older plugin API, so
# that tests can load plugins genuinely built against an older contract (not a faked
# version string over today's crates). Run from anywhere; it needs git, cargo and the
# wasm32-wasip2 target. The outputs are committed: the tests never run this.
#
#   build.sh [0.1.0|0.2.0]...            (default: every version)
#
#   opus-api-0.1.0.wasm                  the Opus decoder as a component of WIT 0.1.0
#   local-api-0.1.0-x86_64-linux.so      the local-folder provider as a native library
#                                        built against tonearm-plugin-api 0.1.0
#   opus-api-0.2.0.wasm                  the Opus decoder as a component of WIT 0.2.0
#   local-api-0.2.0.wasm                 the local-folder provider as a component of WIT 0.2.0
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(git -C "$here" rev-parse --show-toplevel)"
work="$(mktemp -d)"
trap 'git -C "$repo" worktree prune >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# The last commit whose contract was each API version.
declare -A last_commit=([0.1.0]=8e61ade [0.2.0]=6f6dca6)

# Checks out `commit` into a worktree of its own and builds there.
build_from() {
  local version="$1" commit="${last_commit[$1]}"
  local tree="$work/tree-$version"
  git -C "$repo" worktree add --detach "$tree" "$commit" >/dev/null
  export CARGO_TARGET_DIR="$work/target-$version"
  local out="$CARGO_TARGET_DIR/wasm32-wasip2/component"
  case "$version" in
    0.1.0)
      (cd "$tree" &&
        cargo build --locked -p tonearm-plugin-opus-component --target wasm32-wasip2 --profile component &&
        cargo build --locked -p tonearm-plugin-local-dylib --profile component)
      cp "$out/tonearm_plugin_opus_component.wasm" "$here/opus-api-0.1.0.wasm"
      cp "$CARGO_TARGET_DIR/component/libtonearm_plugin_local_dylib.so" \
        "$here/local-api-0.1.0-x86_64-linux.so"
      ;;
    0.2.0)
      (cd "$tree" &&
        cargo build --locked -p tonearm-plugin-opus-component -p tonearm-plugin-local-component \
          --target wasm32-wasip2 --profile component)
      cp "$out/tonearm_plugin_opus_component.wasm" "$here/opus-api-0.2.0.wasm"
      cp "$out/tonearm_plugin_local_component.wasm" "$here/local-api-0.2.0.wasm"
      ;;
    *) echo "no recipe for API $version" >&2; exit 2 ;;
  esac
  git -C "$repo" worktree remove --force "$tree"
  echo "rebuilt API $version plugins from $commit"
}

versions=("$@")
[ ${#versions[@]} -eq 0 ] && versions=(0.1.0 0.2.0)
for version in "${versions[@]}"; do
  build_from "$version"
done
(cd "$here" && sha256sum opus-api-0.1.0.wasm local-api-0.1.0-x86_64-linux.so \
  opus-api-0.2.0.wasm local-api-0.2.0.wasm > SHA256SUMS)
cat "$here/SHA256SUMS"
