#!/usr/bin/env bash
# Builds sluice's Debian package from a fresh clone: installs the build dependencies, builds
# the sluice binary (RelWithDebInfo; the package strips it) and runs CPack.
#
#   scripts/package.sh            writes build-pkg/sluice_<version>_<arch>.deb
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${SLUICE_PKG_BUILD_DIR:-$ROOT/build-pkg}
JOBS=${SLUICE_JOBS:-$(nproc)}

bash "$ROOT/scripts/install-deps.sh"
# Only the binary is packaged: skip building the tests and benchmarks before installing.
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target sluice
(cd "$BUILD" && cpack -G DEB -B "$BUILD")
ls "$BUILD"/*.deb
