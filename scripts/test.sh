#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (Debian packages), builds,
# runs unit tests (also under ASan+UBSan), integration tests against real MariaDB and
# PostgreSQL clusters, CLI tests, a short fuzz run of each codec and a smoke run of each
# micro benchmark. Exit status is non-zero when any test fails.
#
#   scripts/test.sh            everything
#   scripts/test.sh -L unit    only tests with that CTest label (passed through to ctest)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${SLUICE_BUILD_DIR:-$ROOT/build}
ASAN_BUILD=${SLUICE_ASAN_BUILD_DIR:-$ROOT/build-asan}
JOBS=${SLUICE_JOBS:-$(nproc)}

bash "$ROOT/scripts/install-deps.sh"

echo "== build ($BUILD)"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "$JOBS"

status=0
echo "== ctest: unit, cli, integration, fuzz, bench smoke"
(cd "$BUILD" && ctest --output-on-failure --timeout 900 "$@") || status=1

if [[ $# -eq 0 ]]; then
  echo "== unit tests under ASan+UBSan ($ASAN_BUILD)"
  cmake -S "$ROOT" -B "$ASAN_BUILD" -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON >/dev/null
  # Only the unit test binaries: the rest is covered by the normal build above.
  mapfile -t unit_targets < <(cd "$ROOT/tests/unit" && ls *_test.cc | sed 's/\.cc$//')
  cmake --build "$ASAN_BUILD" -j "$JOBS" --target "${unit_targets[@]}"
  (cd "$ASAN_BUILD" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -L unit -E '^cli_' --timeout 600) || status=1
fi
exit $status
