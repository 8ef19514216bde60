#!/usr/bin/env bash
# Failover figure: time from `kill -9` of the primary to the first successful write through
# sluice, over N runs (default 5) for MariaDB (semisync) and PostgreSQL (sync standby).
# Each run is tests/integration/failover_test.py's kill test on fresh clusters of its own;
# the figure is measured from before the kill command, so it is an upper bound.
#
#   bench/e2e/failover.sh [RUNS]          (needs a built sluice: $SLUICE_BIN or build/proxy/sluice)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUNS=${1:-5}
BIN=${SLUICE_BIN:-$ROOT/build/proxy/sluice}
[[ -x $BIN ]] || { echo "no sluice binary at $BIN (set SLUICE_BIN)" >&2; exit 2; }
SCRATCH=$(mktemp -d /tmp/sluice-failover-bench.XXXXXX)
chmod 755 "$SCRATCH"  # PostgreSQL runs as the postgres user and must reach its data
trap 'rm -rf "$SCRATCH"' EXIT

for kind in ${FAILOVER_KINDS:-MariadbFailoverTest PgFailoverTest}; do
  times=()
  for ((i = 1; i <= RUNS; i++)); do
    out=$(SLUICE_CLUSTER_SCRIPT=$ROOT/tests/cluster/cluster.sh SLUICE_SCRATCH_DIR=$SCRATCH/$kind-$i \
      timeout 300 /usr/bin/python3 "$ROOT/tests/integration/failover_test.py" "$BIN" "$kind" 2>&1) ||
      { echo "$kind run $i FAILED:"; echo "$out" | tail -20; exit 1; }
    t=$(echo "$out" | sed -n 's/.*writes succeeded again \([0-9.]*\) s after kill -9.*/\1/p' | head -1)
    echo "$kind run $i: $t s"
    times+=("$t")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v k="$kind" '
    { v[NR] = $1 } END { printf "%s: median %.2f s, min %.2f s, max %.2f s over %d runs\n",
      k, v[int((NR + 1) / 2)], v[1], v[NR], NR }'
done
