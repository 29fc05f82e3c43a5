#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang under ASan and UBSan
# and runs each for a while on a copy of its seed corpus
# (tests/fuzz/corpus/<target>/; xrml_fuzz also gets the documents in
# tests/data). Fails if any target crashes, leaks, hangs or breaks one of
# its invariants; the input that did it and the target's log are kept in
# test-artifacts/fuzz/. The committed corpus is never changed.
#
# Environment:
#   FUZZ_SECONDS    how long each target runs (default 30)
#   FUZZ_JOBS       how many targets run at once (default: the number of cores)
#   FUZZ_TARGETS    which targets (default: every tests/fuzz/*_fuzz.cc)
#   FUZZ_BUILD_DIR  the clang build directory (default build-fuzz/ in the
#                   checkout, so that two checkouts never share one cache)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-30}"
jobs="${FUZZ_JOBS:-$(nproc)}"
build="${FUZZ_BUILD_DIR:-$PWD/build-fuzz}"
artifacts="$PWD/test-artifacts/fuzz"

if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  targets=()
  for src in tests/fuzz/*_fuzz.cc; do
    name="$(basename "$src" .cc)"
    targets+=("$name")
  done
fi

# clang, libFuzzer and the sanitizer runtimes come with the other packages.
bash scripts/install-deps.sh

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOPENRMS_FUZZ=ON \
  -DCMAKE_CXX_COMPILER=clang++ -DOPENRMS_WERROR=OFF >/dev/null
# Only the fuzz targets and the libraries they link.
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rm -rf "$artifacts"
mkdir -p "$artifacts"

run_target() {
  local target="$1"
  local corpus="$work/$target"
  mkdir -p "$corpus"
  if [ -d "tests/fuzz/corpus/$target" ]; then
    cp -r "tests/fuzz/corpus/$target/." "$corpus/"
  fi
  if [ "$target" = xrml_fuzz ]; then
    cp tests/data/*.xml "$corpus/"
    for f in tests/data/ms-rms-sdk/*.xml; do cp "$f" "$corpus/ms-rms-sdk-$(basename "$f")"; done
  fi
  local rc=0
  "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$target-" "$corpus" \
    >"$artifacts/$target.log" 2>&1 || rc=$?
  echo "$rc" >"$work/$target.rc"
}

echo "fuzzing ${#targets[@]} targets for ${seconds}s each, $jobs at a time"
for target in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_target "$target" &
done
wait

failed=()
for target in "${targets[@]}"; do
  rc="$(cat "$work/$target.rc" 2>/dev/null || echo missing)"
  log="$artifacts/$target.log"
  if [ "$rc" = 0 ]; then
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
    coverage="$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)"
    echo "ok      $target: ${runs:-?} runs, $coverage"
  else
    failed+=("$target")
    echo "FAILED  $target (exit $rc); its log and input are in $artifacts/"
    # The report without libFuzzer's progress lines.
    grep -Ev '^#[0-9]+' "$log" | tail -n 60 | sed "s/^/  $target: /" || true
    echo "  reproduce: $build/tests/fuzz/$target $artifacts/$target-<crash file>"
  fi
done
if ((${#failed[@]})); then
  echo "fuzzing failed: ${failed[*]}" >&2
  exit 1
fi
