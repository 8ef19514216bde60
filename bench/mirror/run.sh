#!/usr/bin/env bash
# The mirror's cost on the production path (issue #15): throughput and sluice's own CPU per
# statement with mirroring off and at exposure 1.0, same run, interleaved rounds, both
# protocols. docs/performance.md ("Mirror") explains how to read it.
#
#   bench/mirror/run.sh [--quick] [--keep]
#
#   --quick   1 round of 3 s runs: checks the script (~3 min with the clusters)
#   --keep    leave the clusters and sluice running at the end (prints how to stop them)
#
# Environment: SLUICE_BINARY (a built sluice; default: a Release build in SLUICE_BENCH_BUILD,
# default /tmp/build-bench), SLUICE_BENCH_DIR (run directory, default
# /tmp/sluice-mirror-bench-<date>), BENCH_ROUNDS, BENCH_DURATION (seconds per run).
#
# Two setups, each with mirroring off and on in every round (the order alternates by round):
#   same   the shadow server runs at the production server's priority. On one machine it
#          replays every statement again on the same cores: the throughput ratio it gives is
#          the machine's, not sluice's.
#   niced  the shadow server's every thread and process at nice 19: it takes only the CPU
#          that production leaves, so the ratio comes closer to a shadow on its own host.
# In both, sluice's CPU per statement is (utime + stime of the sluice process, /proc) divided
# by the statements the tool completed: sluice's own cost, whatever the shadow costs.
#
# Workloads, 8 clients each: MariaDB sysbench oltp_read_write (transactions, server-side
# prepared statements) and oltp_point_select; PostgreSQL pgbench TPC-B and -S, -M prepared.
# Time budget of the full mode (3 rounds, 5 s): 4 workloads x 2 setups x 2 states x 3 rounds
# = 48 runs x (5 s + ~3 s of start, drain and stats) ~ 6.5 min, + clusters, data, shadows
# ~ 2 min: under 10 minutes (measured: 410 s on 2 cores at load 26-36). Quick: 16 runs x
# ~6 s ~ 1.6 min + ~2 min.
#
# Everything it starts (two clusters of a primary and a shadow each, sluice) is stopped by PID
# on exit, INT or TERM; the clusters also watch this shell's PID (cluster.sh --watch-pid),
# but with --keep.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/bench/mirror
# shellcheck source=bench/lib/procs.sh
source "$ROOT/bench/lib/procs.sh" # PY, CLUSTER, log, die, stop_pid, free_port, cpu_ticks, ...
bench_args 5 13 "$@"
RESULTS="$PY $ROOT/bench/e2e/results.py"
if ((QUICK)); then
  ROUNDS=${BENCH_ROUNDS:-1} DURATION=${BENCH_DURATION:-3}
else
  ROUNDS=${BENCH_ROUNDS:-3} DURATION=${BENCH_DURATION:-5}
fi
CLIENTS=8 TABLES=4 TABLE_SIZE=10000 PGBENCH_SCALE=1
WORKLOADS="mysql:oltp_read_write mysql:oltp_point_select pgsql:tpcb pgsql:select"
RUN_TIMEOUT=$((DURATION + 40)) # a stalled run is killed and counted FAILED
DRAIN_S=60                     # bound on the wait for the shadows' queues after a run

RUN=${SLUICE_BENCH_DIR:-/tmp/sluice-mirror-bench-$(date +%Y%m%d-%H%M%S)}
BUILD=${SLUICE_BENCH_BUILD:-/tmp/build-bench}
APP_PASSWORD=app_pw DB=sluice
export PGSSLMODE=disable

declare -A PID_OF=() # name -> pid of each process this script started
BENCH_CLUSTERS="mariadb postgres"
bench_traps

# ---------------------------------------------------------------- setup

mkdir -p "$RUN"/{out,logs}
chmod 755 "$RUN" # PostgreSQL runs as the postgres user and must traverse it
STARTED=$(date +%s)
echo "$(date -u '+%F %T UTC') $(uptime)" >"$RUN/load-start.txt"
log "run directory $RUN ($ROUNDS round(s) of ${DURATION}s); load: $(uptime)"

SLUICE=${SLUICE_BINARY:-}
if [[ -z $SLUICE ]]; then
  log "building sluice (Release: -O2 -g) in $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$RUN/logs/cmake.log" 2>&1 ||
    die "cmake configure failed: $RUN/logs/cmake.log"
  cmake --build "$BUILD" -j "$(nproc)" --target sluice >"$RUN/logs/build.log" 2>&1 ||
    die "build failed: $RUN/logs/build.log"
  SLUICE=$BUILD/proxy/sluice
fi
[[ -x $SLUICE ]] || die "no sluice binary at $SLUICE"

log "starting a MariaDB and a PostgreSQL primary"
WATCH=(--watch-pid $$)
((KEEP)) && WATCH=() # the clusters outlive this shell
for kind in mariadb postgres; do
  bash "$CLUSTER" start $kind "$RUN/$kind" --replicas 0 "${WATCH[@]}" >"$RUN/logs/$kind-cluster.log" 2>&1 ||
    die "$kind cluster did not start: $RUN/logs/$kind-cluster.log"
done
env_of() { cluster_env "$RUN/$1" "$2"; }
MY_PRIMARY=$(env_of mariadb PRIMARY_PORT) PG_PRIMARY=$(env_of postgres PRIMARY_PORT)
APP_USER=$(env_of mariadb APP_USER)

log "loading data: sysbench $TABLES x $TABLE_SIZE rows, pgbench scale $PGBENCH_SCALE"
sysbench oltp_read_write --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$MY_PRIMARY" \
  --mysql-user="$(env_of mariadb ADMIN_USER)" --mysql-password="$(env_of mariadb ADMIN_PASSWORD)" \
  --mysql-db="$DB" --tables=$TABLES --table-size=$TABLE_SIZE prepare >"$RUN/logs/prepare-mysql.log" 2>&1 ||
  die "sysbench prepare failed: $RUN/logs/prepare-mysql.log"
PGPASSWORD=$(env_of postgres ADMIN_PASSWORD) pgbench -i -q -s $PGBENCH_SCALE -h 127.0.0.1 -p "$PG_PRIMARY" \
  -U "$(env_of postgres ADMIN_USER)" "$DB" >"$RUN/logs/prepare-pgbench.log" 2>&1 ||
  die "pgbench -i failed: $RUN/logs/prepare-pgbench.log"
psql -XAtq -h "$(env_of postgres SOCKET_DIR)" -p "$PG_PRIMARY" -U postgres -d "$DB" \
  -c "GRANT ALL ON ALL TABLES IN SCHEMA public TO $APP_USER" >/dev/null ||
  die "GRANT on the pgbench tables failed"

log "making the shadows (cluster.sh add-replica: a replica MIRROR START forks)"
MY_SHADOW=$(bash "$CLUSTER" add-replica "$RUN/mariadb" 2>>"$RUN/logs/mariadb-cluster.log" | awk 'END {print $NF}')
PG_SHADOW=$(bash "$CLUSTER" add-replica "$RUN/postgres" 2>>"$RUN/logs/postgres-cluster.log" | awk 'END {print $NF}')
[[ $MY_SHADOW =~ ^[0-9]+$ && $PG_SHADOW =~ ^[0-9]+$ ]] || die "add-replica failed: $RUN/logs/*-cluster.log"

MY_PORT=$(free_port) PG_PORT=$(free_port) ADMIN_PORT=$(free_port) METRICS_PORT=$(free_port)
cluster_block() { # cluster_block NAME PROTOCOL LISTEN_PORT|"" WRITER_HG SERVER_PORT KIND
  printf '[[cluster]]\nname = "%s"\nprotocol = "%s"\n' "$1" "$2"
  [[ -n $3 ]] && printf 'listen = "127.0.0.1:%s"\npool_mode = "transaction"\n' "$3"
  printf 'writer_hostgroup = %s\nreader_hostgroup = %s\nauto_failover = false\n' "$4" "$(($4 + 1))"
  printf 'monitor_user = "%s"\nmonitor_password = "%s"\n' "$(env_of "$6" MONITOR_USER)" "$(env_of "$6" MONITOR_PASSWORD)"
  printf 'admin_user = "%s"\nadmin_password = "%s"\n' "$(env_of "$6" ADMIN_USER)" "$(env_of "$6" ADMIN_PASSWORD)"
  # The shadow is no replica of the source for discovery's sake.
  printf 'discovery_allow = "192.0.2.1"\n'
  printf '  [[cluster.server]]\n  host = "127.0.0.1"\n  port = %s\n  role = "primary"\n  max_connections = 40\n\n' "$5"
}
mirror_block() { # mirror_block NAME SOURCE SHADOW
  printf '[[mirror]]\nname = "%s"\nsource = "%s"\nshadow = "%s"\nexposure = 1.0\n' "$1" "$2" "$3"
  printf 'queue_bytes = 134217728\nqueue_statements = 200000\n\n'
}
{
  echo "# Written by bench/mirror/run.sh."
  printf '[sluice]\nworkers = %s\nlog_level = "warn"\n\n' "$(nproc)"
  printf '[admin]\nlisten = "127.0.0.1:%s"\nuser = "admin"\npassword = "admin_pw"\n\n' "$ADMIN_PORT"
  printf '[metrics]\nlisten = "127.0.0.1:%s"\n\n' "$METRICS_PORT"
  cluster_block my mysql "$MY_PORT" 0 "$MY_PRIMARY" mariadb
  cluster_block my_shadow mysql "" 2 "$MY_SHADOW" mariadb
  cluster_block pg postgresql "$PG_PORT" 10 "$PG_PRIMARY" postgres
  cluster_block pg_shadow postgresql "" 12 "$PG_SHADOW" postgres
  for u in my pg; do
    printf '[[user]]\nname = "bench_%s"\npassword = "%s"\ncluster = "%s"\ndefault_schema = "%s"\n' "$u" "$APP_PASSWORD" "$u" "$DB"
    printf 'backend_user = "%s"\nbackend_password = "%s"\n\n' "$APP_USER" "$APP_PASSWORD"
  done
  mirror_block m_my my my_shadow
  mirror_block m_pg pg pg_shadow
} >"$RUN/sluice.toml"

"$SLUICE" --config "$RUN/sluice.toml" >>"$RUN/logs/sluice.log" 2>&1 &
PID_OF[sluice]=$!
for p in "$MY_PORT" "$PG_PORT" "$ADMIN_PORT"; do
  wait_port "$p" "${PID_OF[sluice]}" || die "sluice did not listen on $p: $RUN/logs/sluice.log"
done
admin() { mariadb --no-defaults -h127.0.0.1 -P"$ADMIN_PORT" -uadmin -padmin_pw -NBe "$1"; }

# The shadows' every task (MariaDB's threads, PostgreSQL's backends) at niceness $1.
shadow_nice() {
  local pid p t kind
  for kind in mariadb postgres; do
    pid=$(cat "$RUN/$kind/pids/replica1.pid")
    for p in $pid $(ps -o pid= --ppid "$pid"); do
      for t in /proc/"$p"/task/*; do renice -n "$1" -p "${t##*/}" >/dev/null 2>&1; done
    done
  done
}

log "MIRROR START (forks each replica at the primary's position)"
for m in m_my m_pg; do
  out=$(admin "MIRROR START $m") || die "MIRROR START $m failed: $out"
  log "  $out"
  echo "$m $(admin "SELECT fork_position FROM stats_mirror WHERE mirror = '$m'")" >>"$RUN/fork.txt"
done

# ---------------------------------------------------------------- one run

RUNS=$RUN/runs.tsv
printf 'setup\tsuite\tworkload\tmirror\tround\tstatus\tqps\tp50_us\tp95_us\tp99_us\tstatements\tcpu_us\tmirrored\tsessions\tcuts\tnote\n' >"$RUNS"

queue_bytes() { # the mirrors' queue-bytes gauges summed (Prometheus)
  curl -s --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" |
    awk '/^sluice_mirror_queue_bytes\{/ {s += $2} END {print s + 0}'
}

# run_one SETUP SUITE WORKLOAD on|off ROUND
run_one() {
  local setup=$1 suite=$2 wl=$3 state=$4 round=$5 m out rc line t0 t1 cpu i st
  m=m_my && [[ $suite == pgsql ]] && m=m_pg
  if [[ $state == on ]]; then admin "MIRROR START $m" >/dev/null; else admin "MIRROR STOP $m" >/dev/null; fi
  admin "SELECT * FROM stats_mirror_reset" >/dev/null
  out=$RUN/out/$setup-$suite-$wl-$state-r$round
  t0=$(cpu_ticks "${PID_OF[sluice]}")
  if [[ $suite == pgsql ]]; then
    local sel=() per=7 # TPC-B: BEGIN, 3 UPDATEs, SELECT, INSERT, END
    [[ $wl == select ]] && sel=(-S) per=1
    rm -f "$out".log.*
    PGPASSWORD=$APP_PASSWORD timeout -k 5 $RUN_TIMEOUT pgbench -h 127.0.0.1 -p "$PG_PORT" -U bench_pg \
      -n "${sel[@]}" -M prepared -c $CLIENTS -j 2 -T "$DURATION" --log --log-prefix="$out.log" "$DB" >"$out.txt" 2>&1
    rc=$?
    t1=$(cpu_ticks "${PID_OF[sluice]}")
    line=$($RESULTS pgbench "$out.txt" "$rc" "$out.log")
    rm -f "$out".log.*
    # results.py counts transactions: statements are per x that.
    read -r status qps p50 p95 p99 n note <<<"$line"
    line="$status $(awk -v q="$qps" -v p=$per 'BEGIN {printf "%.2f", q * p}') $p50 $p95 $p99 $((n * per)) $note"
  else
    timeout -k 5 $RUN_TIMEOUT sysbench "$wl" --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$MY_PORT" \
      --mysql-user=bench_my --mysql-password="$APP_PASSWORD" --mysql-db="$DB" --tables=$TABLES \
      --table-size=$TABLE_SIZE --rand-type=uniform --threads=$CLIENTS --time="$DURATION" --histogram=on \
      --report-interval=0 run >"$out.txt" 2>&1
    rc=$?
    t1=$(cpu_ticks "${PID_OF[sluice]}")
    line=$($RESULTS sysbench "$out.txt" "$rc")
  fi
  kill -0 "${PID_OF[sluice]}" 2>/dev/null || die "sluice died during $out: $RUN/logs/sluice.log"
  [[ -n $line ]] || line="FAILED 0 nan nan nan 0 could_not_parse_output"
  cpu=$(((t1 - t0) * 1000000 / CLK_TCK))
  # The shadows drain what they still hold before the next run (bounded).
  for ((i = 0; i < DRAIN_S * 5; i++)); do
    [[ $(queue_bytes) == 0 ]] && break
    sleep 0.2
  done
  sleep 1.2 # the workers hand their mirror counts over once a second
  st=$(admin "SELECT statements, sessions, cuts_queue_full + cuts_shadow_down + cuts_other FROM stats_mirror WHERE mirror = '$m'")
  read -r status qps p50 p95 p99 n note <<<"$line"
  read -r mirrored sessions cuts <<<"$st"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$setup" "$suite" "$wl" "$state" \
    "$round" "$status" "$qps" "$p50" "$p95" "$p99" "$n" "$cpu" "${mirrored:-0}" "${sessions:-0}" "${cuts:-0}" \
    "${note//_/ }" >>"$RUNS"
  log "$setup $suite $wl mirror $state r$round: $status ${qps} stmt/s, sluice $(awk -v c="$cpu" -v n="$n" \
    'BEGIN {printf "%.1f", n ? c / n : 0}') us/stmt, mirrored ${mirrored:-0} in ${sessions:-0} sessions, cuts ${cuts:-0}"
}

# ---------------------------------------------------------------- the rounds

for ((r = 1; r <= ROUNDS; r++)); do
  for setup in same niced; do
    if [[ $setup == niced ]]; then shadow_nice 19; else shadow_nice 0; fi
    for w in $WORKLOADS; do
      order="off on"
      ((r % 2 == 0)) && order="on off"
      for state in $order; do run_one "$setup" "${w%%:*}" "${w#*:}" "$state" "$r"; done
    done
  done
done
shadow_nice 0
echo "$(date -u '+%F %T UTC') $(uptime)" >"$RUN/load-end.txt"

$PY "$HERE/report.py" "$RUNS" "$RUN/fork.txt" "$RUN/load-start.txt" "$RUN/load-end.txt" \
  "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)" >"$RUN/report.md" || die "report.py failed"
cat "$RUN/report.md"
log "done in $(($(date +%s) - STARTED)) s; report: $RUN/report.md"
