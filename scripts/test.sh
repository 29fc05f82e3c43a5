#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs every test:
# unit tests and integration tests that start real servers on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd build
ctest --output-on-failure -j "$(nproc)" "$@"
