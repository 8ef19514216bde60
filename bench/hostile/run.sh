#!/usr/bin/env bash
# The full-size hostile-client bench (issue #13): a normal client's login and query latency
# during 5,000 idle unauthenticated sockets, 30 x 16 MiB pre-auth sends and fd exhaustion,
# as a ratio to the same window without the attack, and the CPU of one 64 MiB command; both
# protocols. Not in CI. docs/reliability.md has the figures and how to read them.
#
#   bench/hostile/run.sh [--window S] [--engines mariadb,postgres] [--attacks LIST]
#
#   --window S   seconds of each baseline and each attack window (default 60)
#   --attacks    comma list of idle,preauth,fds,bigcmd (default: all)
#
# Environment: SLUICE_BINARY (default build/proxy/sluice), SLUICE_BENCH_DIR (run directory,
# default /tmp/sluice-hostile-<date>; removed at the end unless HOSTILE_KEEP=1).
#
# Time: per engine 3 attacks x 2 windows + the idle sockets' wait for the login timeout
# (window + 5 s) + the 64 MiB commands (~30 s): about 8.5 min per engine at 60 s windows,
# plus ~1 min to start the clusters. Loopback only; every process it starts is stopped by
# PID on exit (the clusters also get cluster.sh --watch-pid on this shell).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLUSTER=$ROOT/tests/cluster/cluster.sh
PY=/usr/bin/python3
SLUICE=${SLUICE_BINARY:-$ROOT/build/proxy/sluice}
WINDOW=60 ENGINES=mariadb,postgres ATTACKS=idle,preauth,fds,bigcmd
while (($#)); do
  case $1 in
    --window) WINDOW=$2; shift 2 ;;
    --engines) ENGINES=$2; shift 2 ;;
    --attacks) ATTACKS=$2; shift 2 ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x $SLUICE ]] || { echo "run.sh: no sluice binary at $SLUICE" >&2; exit 2; }

RUN=${SLUICE_BENCH_DIR:-/tmp/sluice-hostile-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RUN"
log() { echo "[hostile $(date +%T)] $*" >&2; }

# 5,000 idle sockets on each side of the loopback, and sluice inherits this limit: the
# soft limit goes up to the hard one (20,000 on the project machine), never beyond it.
HARD=$(ulimit -Hn)
WANT=20000
[[ $HARD != unlimited ]] && ((HARD < WANT)) && WANT=$HARD
ulimit -Sn "$WANT" || { echo "run.sh: cannot raise the fd limit to $WANT" >&2; exit 2; }
((WANT >= 12000)) || { echo "run.sh: fd limit $WANT is too low for 5,000 idle sockets" >&2; exit 2; }

STARTED=()
cleanup() {
  for d in "${STARTED[@]}"; do "$CLUSTER" stop "$d" >/dev/null 2>&1; done
  if [[ ${HOSTILE_KEEP:-0} != 1 ]]; then
    # Keep the results, drop the clusters' data.
    for d in "${STARTED[@]}"; do rm -rf "$d"; done
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "run directory $RUN, fd limit $(ulimit -Sn), window ${WINDOW}s, load $(cut -d' ' -f1-3 /proc/loadavg)"
RESULTS=()
IFS=, read -ra ENGINE_LIST <<<"$ENGINES"
for engine in "${ENGINE_LIST[@]}"; do
  dir=$RUN/$engine
  log "starting a $engine cluster (primary only) in $dir"
  if ! "$CLUSTER" start "$engine" "$dir" --replicas 0 --watch-pid $$ >"$RUN/$engine-cluster.log" 2>&1; then
    log "cluster start failed:"; tail -20 "$RUN/$engine-cluster.log" >&2; exit 1
  fi
  STARTED+=("$dir")
  out=$RUN/$engine.json
  # Each window is bounded by --window; the whole engine run by its sum plus slack.
  budget=$((WINDOW * 8 + 300))
  if ! timeout --kill-after=10 "$budget" "$PY" "$ROOT/bench/hostile/hostile.py" --engine "$engine" \
      --sluice "$SLUICE" --cluster "$dir" --window "$WINDOW" --nofile "$WANT" \
      --attacks "$ATTACKS" --json "$out" >"$RUN/$engine.out" 2>"$RUN/$engine.err"; then
    log "$engine run failed:"; tail -30 "$RUN/$engine.err" >&2; exit 1
  fi
  RESULTS+=("$out")
  "$CLUSTER" stop "$dir" >/dev/null 2>&1
done
"$PY" "$ROOT/bench/hostile/report.py" --window "$WINDOW" "${RESULTS[@]}"
log "results: ${RESULTS[*]}"
