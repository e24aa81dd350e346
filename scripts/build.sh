#!/usr/bin/env bash
# Configures and builds (RelWithDebInfo). Used by run.sh and test.sh.
#   scripts/build.sh                          into build/
#   scripts/build.sh DIR [CMAKE_ARGS...]      into DIR, e.g. build-asan -DRELAY_SANITIZE=address
# BUILD_TARGETS="a b" builds only those targets.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
(($#)) && shift
generator=()
if command -v ninja >/dev/null 2>&1 && [ ! -f "$dir/Makefile" ]; then generator=(-G Ninja); fi
cmake -S . -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
targets=()
if [ -n "${BUILD_TARGETS:-}" ]; then read -ra targets <<<"$BUILD_TARGETS"; targets=(--target "${targets[@]}"); fi
cmake --build "$dir" --parallel "$(nproc)" "${targets[@]}"
