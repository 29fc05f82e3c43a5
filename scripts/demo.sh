#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs `openrms demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
exec ./build/openrms demo "$@"
