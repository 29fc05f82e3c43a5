#!/usr/bin/env bash
# Installs every Debian 12 package OpenRMS needs to build, run and test.
# With --bench, also the benchmark suite's tools (bench/run.sh).
# Idempotent; run as root (or with sudo available) on a fresh machine.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config make git ca-certificates
  # libraries
  libssl-dev libxml2-dev libsqlite3-dev libboost1.81-dev nlohmann-json3-dev
  libcli11-dev libldap2-dev libboost-url1.81-dev libhowardhinnant-date-dev
  libkainjow-mustache-dev libtomlplusplus-dev
  # JOSE (JWKS, JWT signatures) for logons through an OpenID Connect provider
  librhonabwy-dev
  # OLE compound files (MS-CFB) for protected Office documents
  libgsf-1-dev
  # tests
  libgtest-dev libgmock-dev libbenchmark-dev openssl curl sqlite3 python3
  # protected Office documents are read back by a compound-file reader
  # nobody here wrote (tests/support/office_irm_check.py)
  python3-olefile
  # fuzzing (scripts/fuzz.sh): clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
  # keys in an HSM are tested against SoftHSM2 over PKCS#11 (p11-kit headers)
  softhsm2 libp11-kit-dev
  # several nodes are tested behind a real HAProxy (deploy/haproxy.cfg)
  haproxy
  # directory logons are tested against a real OpenLDAP slapd
  slapd ldap-utils
  # the shared store: libpq to build, and a PostgreSQL server that the tests
  # start on a unix socket of their own (tests/support/postgres_server.h)
  libpq-dev postgresql
  # logons through an OpenID Connect provider are tested against a real
  # glewlwyd (tests/support/glewlwyd.h), which makes its own SQLite database.
  # dbconfig-sqlite3 answers the package's "database backend" dependency
  # with what its debconf default (sqlite3) needs, rather than apt's first
  # pick, dbconfig-mysql and a MariaDB client. Not dbconfig-no-thanks: with
  # it glewlwyd's postinst fails (it falls through to its PostgreSQL setup).
  glewlwyd dbconfig-sqlite3
  # browser tests: Debian's Chromium, and certutil to make it trust a test CA
  chromium libnss3-tools fonts-dejavu-core
)
# `install-deps.sh --bench` adds what bench/run.sh drives: the load
# generator, the peer it is compared with, and the CPU profiler that
# `bench/peers.py --profile` preloads (gperftools).
if [ "${1:-}" = "--bench" ]; then packages+=(wrk nginx-light google-perftools); fi
# Node.js and npm drive the browser tests; this kind of machine may have them
# from another source already.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
    missing+=("$p")
done

if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  # Install without starting services (slapd would listen on every
  # interface): the tests start their own servers on loopback.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    trap '$SUDO rm -f "$policy"' EXIT
  fi
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
