#!/usr/bin/env bash
# Installs every Debian package that sluice's build, tests, demo and benchmarks need.
# Idempotent: when every package is already installed it does nothing (no apt-get update).
set -euo pipefail

BUILD_PKGS=(build-essential cmake pkg-config clang-format
  libevent-dev libmariadb-dev libpq-dev libssl-dev libre2-dev prometheus-cpp-dev
  libtomlplusplus-dev libsqlite3-dev libfmt-dev libidn-dev libspdlog-dev libsystemd-dev libcivetweb-dev
  libcurl4-openssl-dev nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev
  libsodium-dev)
TEST_PKGS=(mariadb-server mariadb-client postgresql postgresql-client
  clang libclang-rt-14-dev sysbench python3 python3-pymysql python3-psycopg2 procps iproute2 openssl
  dpkg-dev systemd
  prometheus chromium etcd-server etcd-client curl nodejs)
BENCH_PKGS=(haproxy pgbouncer linux-perf)

want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}")
# The Node.js driver tests run `npm ci`: a nodejs package without npm (Debian's) needs npm's.
if ! command -v npm >/dev/null 2>&1; then want+=(npm); fi
if [[ "${1:-}" == "--bench" ]]; then want+=("${BENCH_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Servers are started by the project's harness, never by the package's init scripts.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the packaged clusters on install where systemd/init is present; the
# harness runs its own instances on free ports, so the packaged ones are not needed.
