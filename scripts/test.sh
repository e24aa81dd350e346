#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, integration on the
# real binary, browser). The last lines are ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
mkdir -p build/test-output
cd build
ctest --output-on-failure --timeout 600 "$@"
