#!/usr/bin/env bash
# Checks that every folder of src/ includes only from the layers below it
# (docs/ARCHITECTURE.md draws them). Prints each include that breaks the
# rule, with its file and line, and exits 1 if there is one.
#
#   bash scripts/check-layers.sh [SRC_DIR]     (default: src of this checkout)
set -euo pipefail
src="${1:-$(dirname "$0")/../src}"

# folder -> the folders its files may include from (itself always allowed).
declare -A allowed=(
  [base]=""
  [crypto]="base"
  [formats]="base crypto"
  [xrml]="base crypto"
  [store]="base"
  [accounts]="base crypto store"
  [protocol]="base crypto xrml"
  [enrollment]="base crypto xrml store protocol"
  [cluster]="base crypto xrml store protocol enrollment"
  [licensing]="base crypto xrml store accounts protocol enrollment cluster"
  [http]="base crypto"
  [client]="base crypto formats xrml store accounts protocol enrollment cluster licensing http"
  [sites]="base crypto formats xrml store accounts protocol enrollment cluster licensing http"
  [node]="base crypto formats xrml store accounts protocol enrollment cluster licensing http sites"
  # The CLI reaches servers only through client/ (and a node it starts).
  [cli]="base crypto formats xrml store accounts protocol enrollment cluster licensing client sites node"
)

status=0
for dir in "$src"/*/; do
  folder="$(basename "$dir")"
  if [[ ! -v allowed[$folder] ]]; then
    echo "src/$folder: a folder with no place in the layers; add it to scripts/check-layers.sh" \
      "and docs/ARCHITECTURE.md" >&2
    status=1
    continue
  fi
  ok=" $folder ${allowed[$folder]} "
  while IFS=: read -r file line include; do
    target="$(sed -E 's/.*#include "([^/"]+)\/.*/\1/' <<<"$include")"
    # tests/support (test servers, processes) serves the tests of any layer.
    if [[ "$target" == support && "$file" == *_test.cc ]]; then continue; fi
    if [[ "$ok" != *" $target "* ]]; then
      echo "${file#"$src"/}:$line: src/$folder may not include from src/$target/ ($include)" >&2
      status=1
    fi
  done < <(grep -rnE --include='*.h' --include='*.cc' '^\s*#\s*include "[^/"]+/' "$dir" || true)
done
if [ "$status" -eq 0 ]; then echo "layers: every include points down"; fi
exit "$status"
