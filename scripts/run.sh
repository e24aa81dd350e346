#!/usr/bin/env bash
# One command for a newcomer: install what is missing, build, and start the relay on
# config/relay.toml (a live test picture at http://localhost:8080/).
# Extra arguments go to the relay, e.g. scripts/run.sh --set ingest.source=file:///path/talk.mp4
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec build/seminar-relay --config config/relay.toml "$@"
