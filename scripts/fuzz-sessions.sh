#!/usr/bin/env bash
# Builds the session fuzz targets (tests/fuzz/sessions.cmake) with clang++ and libFuzzer in a
# build directory of their own: every library of the data plane is compiled again with
# coverage and ASan/UBSan, which takes far longer than CI can spend (docs/reliability.md).
#
#   scripts/fuzz-sessions.sh [BUILD_DIR]     default: build-fuzz
# then, for example:
#   BUILD_DIR/tests/fuzz/mysql_session_fuzz -max_total_time=3600 -rss_limit_mb=2048 \
#     -max_len=70000 <fresh corpus dir> tests/fuzz/corpus/mysql_session
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build-fuzz}
JOBS=${SLUICE_JOBS:-$(nproc)}
CXX=$(command -v clang++-14 || command -v clang++)
CC=$(command -v clang-14 || command -v clang)
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER="$CC" \
  -DCMAKE_CXX_COMPILER="$CXX" -DSLUICE_FUZZ=ON >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target mysql_session_fuzz pgsql_session_fuzz
echo "built: $BUILD/tests/fuzz/mysql_session_fuzz $BUILD/tests/fuzz/pgsql_session_fuzz"
