#!/usr/bin/env bash
# Configures and builds OpenRMS into ./build (Release with debug info).
# Extra CMake options come from OPENRMS_CMAKE_ARGS (.ci/run turns warnings
# into errors there: -DOPENRMS_WERROR=ON).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC2086
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo ${OPENRMS_CMAKE_ARGS:-} >/dev/null
cmake --build build -j "$(nproc)"
