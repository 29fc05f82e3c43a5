#!/usr/bin/env bash
# The benchmark suite in one command: installs its tools (wrk, nginx), builds
# OpenRMS (RelWithDebInfo, scripts/build.sh) and runs bench/peers.py, which
# prints every licensing endpoint's rate beside the RSA bound and nginx, and
# p50/p99 at 80% of peak. Arguments go to peers.py, for example:
#   bash bench/run.sh --seconds 20 --json /tmp/bench.json
# Run it on a quiet machine; bench/README.md records results.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --bench
bash scripts/build.sh >/dev/null
python3 bench/peers.py build/openrms "$@"
