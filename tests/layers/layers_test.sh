#!/usr/bin/env bash
# The layer rule (scripts/check-layers.sh) holds for src/, and it fails on a
# copy of src/ where a domain folder includes from http/, sites/ or node/,
# naming the file, the line and the include.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
check="$root/scripts/check-layers.sh"

bash "$check" "$root/src"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
expect_refused() {  # file include expected-message
  rm -rf "$work/src" && cp -r "$root/src" "$work/src"
  echo "#include \"$2\"" >>"$work/src/$1"
  local out rc=0
  out="$(bash "$check" "$work/src" 2>&1)" || rc=$?
  if [ "$rc" -ne 1 ] || [[ "$out" != *"$3"* ]]; then
    echo "FAIL: including $2 from $1 gave exit $rc and: $out" >&2
    exit 1
  fi
  echo "refused as expected: $3"
}
line=$(($(wc -l <"$root/src/licensing/licensing.cc") + 1))
expect_refused licensing/licensing.cc http/server.h \
  "licensing/licensing.cc:$line: src/licensing may not include from src/http/"
expect_refused cluster/cluster.h sites/page.h "src/cluster may not include from src/sites/"
expect_refused base/status.h node/tls.h "src/base may not include from src/node/"
expect_refused crypto/keys.cc xrml/document.h "src/crypto may not include from src/xrml/"
expect_refused http/client.cc cli/password.h "src/http may not include from src/cli/"
expect_refused cli/main.cc http/client.h "src/cli may not include from src/http/"
expect_refused formats/pfile.cc licensing/licensing.h "src/formats may not include from src/licensing/"
mkdir -p "$work/src/newfolder" && touch "$work/src/newfolder/a.cc"
rc=0
out="$(bash "$check" "$work/src" 2>&1)" || rc=$?
[[ "$rc" -eq 1 && "$out" == *"src/newfolder: a folder with no place in the layers"* ]] ||
  { echo "FAIL: an unknown folder passed: $out" >&2; exit 1; }
echo "all layer checks behaved"
