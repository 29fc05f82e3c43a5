#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs every test:
# unit tests, integration tests that start real servers on loopback, and the
# browser tests (Chromium). Screenshots land in test-artifacts/browser/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
OPENRMS_CMAKE_ARGS="${OPENRMS_CMAKE_ARGS:-} -DOPENRMS_REQUIRE_BROWSER_TESTS=ON" \
  bash scripts/build.sh
cd build
ctest --output-on-failure -j "$(nproc)" "$@"
