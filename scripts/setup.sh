#!/usr/bin/env bash
# Installs what seminar-relay needs to build, run and test on Debian 12.
# Idempotent: when everything is present it only checks and returns in a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake pkg-config ninja-build
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev libgstrtspserver-1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x gstreamer1.0-alsa
  fonts-dejavu-core
  libboost-dev libboost-system-dev
  libsoup-3.0-dev libfmt-dev libspdlog-dev libtomlplusplus-dev nlohmann-json3-dev
  libsqlite3-dev libssl-dev zlib1g-dev libnghttp2-dev catch2
  openssl nghttp2-client
  ffmpeg chromium curl procps python3
  python3-websockets python3-prometheus-client python3-pytest python3-h2
  varnish nginx python3-aiohttp
  postgresql libpq-dev haproxy python3-psycopg2
)
# Node.js with npm may come from elsewhere (NodeSource ships npm inside nodejs);
# Debian's own packages are the fallback.
if ! command -v npm >/dev/null 2>&1; then APT_PACKAGES+=(nodejs npm); fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Browser-side libraries (hls.js, playwright-core) come from the npm registry,
# pinned by package-lock.json; node_modules/ is never committed.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
