#!/usr/bin/env bash
# End-to-end benchmark: sluice against direct connections, HAProxy (TCP mode) and PgBouncer
# (transaction mode), all on this machine. docs/performance.md explains how to read it.
#
#   bench/e2e/run.sh [--quick] [--keep]
#
#   --quick   1 round, 1 s runs, fewer concurrencies, 1,000 idle clients: checks the script
#   --keep    leave clusters and proxies running at the end (prints how to stop them)
#
# Environment: SLUICE_BENCH_DIR (run directory, default /tmp/sluice-bench-<date>),
# SLUICE_BENCH_BUILD (Release build directory, default /tmp/build-bench), BENCH_ROUNDS,
# BENCH_DURATION (seconds per run) override the mode's values. SLUICE_BENCH_BEFORE (a sluice
# binary, e.g. main's): a second sluice runs it beside this tree's, path "before-1node"
# (primary only, as sluice-1node), interleaved in the same cells: before/after in one run.
# BENCH_PATHS: only these paths (e.g. "sluice-1node before-1node"). BENCH_PARTS: only these
# parts, of "profile bench stream memory micro" (the default: all). SLUICE_BENCH_BINARY: run
# this sluice binary instead of building one. BENCH_IDLE_COUNTS, BENCH_STREAM_ROWS override
# the idle-client counts and the streamed result's rows (of 1,000 bytes).
#
# Everything it starts (two clusters of primary + 2 replicas, sluice, HAProxy, PgBouncer,
# idle-client scripts, perf) is stopped by PID on exit, INT or TERM; the clusters also get a
# watchdog on this shell's PID (cluster.sh --watch-pid).
#
# Time budget of the full mode (D = 2 s per run, ~0.6 s of client start/stop per run):
#   MariaDB    sysbench  4 paths x 2 workloads x 4 concurrencies = 32 runs
#   PostgreSQL sysbench  5 paths x 2 workloads x 4 concurrencies = 40 runs
#   PostgreSQL pgbench   5 paths x 3 modes     x 3 concurrencies = 45 runs
#   117 runs x 3 rounds x 2.6 s                                  ~ 15.2 min
#   + clusters ~1 min, data ~0.5 min, profile ~0.3 min, memory ~1.5 min, micro ~0.5 min
#   + streaming: 7 paths x 3 rounds x ~3 s (a 100 MB result)     ~ 1 min
#                                                                 ~ 20 min (build not included)
#   Measured on 2 loaded cores: 351 runs in 835 s (2.4 s each), 15.3 min in all + the build.
# Quick mode: (4+5)x2x2 + 5x3x2 = 66 runs x 1 round x 1.7 s ~ 2 min, ~4 min in all.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/bench/e2e
# shellcheck source=bench/lib/procs.sh
source "$ROOT/bench/lib/procs.sh" # PY, CLUSTER, log, die, stop_pid, free_port, cpu_ticks, ...
bench_args 4 12 "$@"
RESULTS="$PY $HERE/results.py"

if ((QUICK)); then
  ROUNDS=${BENCH_ROUNDS:-1} DURATION=${BENCH_DURATION:-1}
  SB_CLIENTS="1 32" PGB_CLIENTS="1 8" IDLE_COUNTS="1000" PROFILE_S=3 STREAM_ROWS=20000
else
  ROUNDS=${BENCH_ROUNDS:-3} DURATION=${BENCH_DURATION:-2}
  SB_CLIENTS="1 8 32 128" PGB_CLIENTS="1 8 32" IDLE_COUNTS="1000 10000" PROFILE_S=8 STREAM_ROWS=100000
fi
SB_WORKLOADS="oltp_point_select oltp_read_only"
PGB_MODES="simple extended prepared"
TABLES=4 TABLE_SIZE=10000 PGBENCH_SCALE=1
# Backend connections per server for the pooling proxies (sluice per server, PgBouncer per
# database/user). PostgreSQL's max_connections is 300: 128 direct + 3 pools of 40 fit.
POOL=40
IDLE_COUNTS=${BENCH_IDLE_COUNTS:-$IDLE_COUNTS} STREAM_ROWS=${BENCH_STREAM_ROWS:-$STREAM_ROWS}
RUN_TIMEOUT=$((DURATION + 40)) # a stalled run is killed and counted FAILED
PARTS=" ${BENCH_PARTS:-profile bench stream memory micro} "
part() { [[ $PARTS == *" $1 "* ]]; }

BEFORE=${SLUICE_BENCH_BEFORE:-}
[[ -z $BEFORE || -x $BEFORE ]] || {
  echo "run.sh: SLUICE_BENCH_BEFORE=$BEFORE is not an executable" >&2
  exit 2
}
RUN=${SLUICE_BENCH_DIR:-/tmp/sluice-bench-$(date +%Y%m%d-%H%M%S)}
BUILD=${SLUICE_BENCH_BUILD:-/tmp/build-bench}
APP_PASSWORD=app_pw DB=sluice
export PGSSLMODE=disable # the same for every path; no TLS anywhere in this benchmark

# ---------------------------------------------------------------- processes we own

declare -A PID_OF=() # name -> pid of each process this script started
BENCH_CLUSTERS="mariadb postgres"
bench_traps

# ---------------------------------------------------------------- setup

ulimit -n "$(ulimit -Hn)" # 10,000 idle clients need > 10,000 descriptors per process
log "run directory $RUN (mode: $( ((QUICK)) && echo quick || echo full), $ROUNDS round(s) of ${DURATION}s)"
mkdir -p "$RUN"/{out,logs}
chmod 755 "$RUN" # PostgreSQL runs as the postgres user and must traverse it
STARTED=$(date +%s)
echo "$(date -u '+%F %T UTC') $(uptime)" >"$RUN/load-start.txt"

bash "$ROOT/scripts/install-deps.sh" --bench || die "scripts/install-deps.sh --bench failed"

MICRO=$(for f in "$ROOT"/bench/micro/*_bench.cc; do [[ -e $f ]] && basename "$f" .cc; done)
if [[ -n ${SLUICE_BENCH_BINARY:-} ]]; then
  [[ -x $SLUICE_BENCH_BINARY ]] || die "SLUICE_BENCH_BINARY=$SLUICE_BENCH_BINARY is not an executable"
  SLUICE=$SLUICE_BENCH_BINARY MICRO=""
  log "using sluice $SLUICE (no build; no micro benchmarks)"
else
  log "building sluice (Release: -O2 -g) in $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$RUN/logs/cmake.log" 2>&1 ||
    die "cmake configure failed: $RUN/logs/cmake.log"
  # shellcheck disable=SC2086
  cmake --build "$BUILD" -j "$(nproc)" --target sluice $MICRO >"$RUN/logs/build.log" 2>&1 ||
    die "build failed: $RUN/logs/build.log"
  SLUICE=$BUILD/proxy/sluice
fi

log "starting MariaDB and PostgreSQL clusters (primary + 2 replicas each)"
bash "$CLUSTER" start mariadb "$RUN/mariadb" --replicas 2 --watch-pid $$ >"$RUN/logs/mariadb-cluster.log" 2>&1 ||
  die "MariaDB cluster did not start: $RUN/logs/mariadb-cluster.log"
bash "$CLUSTER" start postgres "$RUN/postgres" --replicas 2 --watch-pid $$ >"$RUN/logs/postgres-cluster.log" 2>&1 ||
  die "PostgreSQL cluster did not start: $RUN/logs/postgres-cluster.log"
# shellcheck disable=SC1091
MY_PRIMARY=$(cluster_env "$RUN/mariadb" PRIMARY_PORT)
MY_REPLICAS=$(cluster_env "$RUN/mariadb" REPLICA_PORTS)
MY_SOCKET_DIR=$(cluster_env "$RUN/mariadb" SOCKET_DIR)
PG_PRIMARY=$(cluster_env "$RUN/postgres" PRIMARY_PORT)
PG_REPLICAS=$(cluster_env "$RUN/postgres" REPLICA_PORTS)
PG_SOCKET_DIR=$(cluster_env "$RUN/postgres" SOCKET_DIR)
APP_USER=$(cluster_env "$RUN/mariadb" APP_USER)

log "loading data: sysbench $TABLES x $TABLE_SIZE rows on both, pgbench scale $PGBENCH_SCALE"
SB_MY_DIRECT=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$MY_PRIMARY"
  --mysql-user="$APP_USER" --mysql-password="$APP_PASSWORD" --mysql-db="$DB")
SB_PG_DIRECT=(--db-driver=pgsql --pgsql-host=127.0.0.1 --pgsql-port="$PG_PRIMARY"
  --pgsql-user="$APP_USER" --pgsql-password="$APP_PASSWORD" --pgsql-db="$DB")
sysbench oltp_read_only "${SB_MY_DIRECT[@]}" --tables=$TABLES --table-size=$TABLE_SIZE prepare \
  >"$RUN/logs/prepare-mysql.log" 2>&1 || die "sysbench prepare (MariaDB) failed: $RUN/logs/prepare-mysql.log"
sysbench oltp_read_only "${SB_PG_DIRECT[@]}" --tables=$TABLES --table-size=$TABLE_SIZE prepare \
  >"$RUN/logs/prepare-pgsql.log" 2>&1 || die "sysbench prepare (PostgreSQL) failed: $RUN/logs/prepare-pgsql.log"
PGPASSWORD=$APP_PASSWORD pgbench -i -q -s $PGBENCH_SCALE -h 127.0.0.1 -p "$PG_PRIMARY" -U "$APP_USER" "$DB" \
  >"$RUN/logs/prepare-pgbench.log" 2>&1 || die "pgbench -i failed: $RUN/logs/prepare-pgbench.log"

# Replicas serve sluice's reads: wait until they have replayed the load (bounded).
gtid=$(mariadb --no-defaults -S "$MY_SOCKET_DIR/primary.sock" -uroot -NBe "SELECT @@gtid_binlog_pos")
for n in 1 2; do
  r=$(mariadb --no-defaults -S "$MY_SOCKET_DIR/replica$n.sock" -uroot -NBe "SELECT MASTER_GTID_WAIT('$gtid', 120)")
  [[ $r == 0 ]] || die "MariaDB replica$n did not catch up"
done
lsn=$(psql -XAtq -h "$PG_SOCKET_DIR" -p "$PG_PRIMARY" -U postgres -d postgres -c "SELECT pg_current_wal_lsn()")
for p in $PG_REPLICAS; do
  for ((i = 0; i < 600; i++)); do
    ok=$(psql -XAtq -h "$PG_SOCKET_DIR" -p "$p" -U postgres -d postgres \
      -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")
    [[ $ok == t ]] && break
    sleep 0.2
  done
  [[ $ok == t ]] || die "PostgreSQL replica on $p did not catch up"
done

# ---------------------------------------------------------------- proxies

# Ports of every path; users differ per sluice cluster (a sluice user belongs to one cluster),
# all log in to the servers as the cluster's application user.
declare -A PORT LOGIN PROXY
PORT[mysql:direct]=$MY_PRIMARY PORT[pgsql:direct]=$PG_PRIMARY
for k in mysql:haproxy pgsql:haproxy pgsql:pgbouncer mysql:sluice mysql:sluice-1node \
  pgsql:sluice pgsql:sluice-1node; do PORT[$k]=$(free_port); done
[[ -n $BEFORE ]] && for k in mysql:before-1node pgsql:before-1node; do PORT[$k]=$(free_port); done
for k in "${!PORT[@]}"; do LOGIN[$k]=$APP_USER; done
LOGIN[mysql:sluice-1node]=bench_my_1node LOGIN[pgsql:sluice]=bench_pg LOGIN[pgsql:sluice-1node]=bench_pg_1node
LOGIN[mysql:before-1node]=bench_my_1node LOGIN[pgsql:before-1node]=bench_pg_1node
ADMIN_PORT=$(free_port) BEFORE_ADMIN_PORT=$(free_port)

server_block() { # server_block PRIMARY_PORT "REPLICA_PORTS"
  printf '  [[cluster.server]]\n  host = "127.0.0.1"\n  port = %s\n  role = "primary"\n  max_connections = %s\n\n' "$1" "$POOL"
  for p in $2; do
    printf '  [[cluster.server]]\n  host = "127.0.0.1"\n  port = %s\n  role = "replica"\n  max_connections = %s\n\n' "$p" "$POOL"
  done
}
cluster_block() { # cluster_block NAME PROTOCOL PORT WRITER_HG PRIMARY "REPLICAS"
  cat <<EOF
[[cluster]]
name = "$1"
protocol = "$2"
listen = "127.0.0.1:$3"
pool_mode = "transaction"
writer_hostgroup = $4
reader_hostgroup = $(($4 + 1))
max_client_connections = 20000
monitor_user = "monitor"
monitor_password = "monitor_pw"
$(server_block "$5" "$6")
EOF
}
user_block() { # user_block NAME CLUSTER
  printf '[[user]]\nname = "%s"\npassword = "%s"\ncluster = "%s"\ndefault_schema = "%s"\n' "$1" "$APP_PASSWORD" "$2" "$DB"
  printf 'max_connections = 20000\nbackend_user = "%s"\nbackend_password = "%s"\n\n' "$APP_USER" "$APP_PASSWORD"
}
{
  echo "# Written by bench/e2e/run.sh: each path gets its own cluster (and so its own port)."
  printf '[sluice]\nworkers = %s\nlog_level = "warn"\n\n' "$(nproc)"
  printf '[admin]\nlisten = "127.0.0.1:%s"\nuser = "admin"\npassword = "admin_pw"\n\n' "$ADMIN_PORT"
  cluster_block my_split mysql "${PORT[mysql:sluice]}" 0 "$MY_PRIMARY" "$MY_REPLICAS"
  cluster_block my_1node mysql "${PORT[mysql:sluice-1node]}" 2 "$MY_PRIMARY" ""
  cluster_block pg_split postgresql "${PORT[pgsql:sluice]}" 10 "$PG_PRIMARY" "$PG_REPLICAS"
  cluster_block pg_1node postgresql "${PORT[pgsql:sluice-1node]}" 12 "$PG_PRIMARY" ""
  user_block "$APP_USER" my_split
  user_block bench_my_1node my_1node
  user_block bench_pg pg_split
  user_block bench_pg_1node pg_1node
} >"$RUN/sluice.toml"
if [[ -n $BEFORE ]]; then
  {
    echo "# Written by bench/e2e/run.sh: the SLUICE_BENCH_BEFORE binary's primary-only paths."
    printf '[sluice]\nworkers = %s\nlog_level = "warn"\n\n' "$(nproc)"
    printf '[admin]\nlisten = "127.0.0.1:%s"\nuser = "admin"\npassword = "admin_pw"\n\n' "$BEFORE_ADMIN_PORT"
    cluster_block my_1node mysql "${PORT[mysql:before-1node]}" 2 "$MY_PRIMARY" ""
    cluster_block pg_1node postgresql "${PORT[pgsql:before-1node]}" 12 "$PG_PRIMARY" ""
    user_block bench_my_1node my_1node
    user_block bench_pg_1node pg_1node
  } >"$RUN/sluice-before.toml"
fi

{
  echo "# Written by bench/e2e/run.sh: plain TCP forwarding to each primary (the benchmark"
  echo "# needs at most 128 connections)."
  haproxy_cfg "mysql:${PORT[mysql:haproxy]}:$MY_PRIMARY" "pgsql:${PORT[pgsql:haproxy]}:$PG_PRIMARY"
} >"$RUN/haproxy.cfg"

# PgBouncer in front of the primary (bench/lib/procs.sh: the server's SCRAM verifier in its
# userlist, so 10,000 logins do not each run a PBKDF2 on a loaded 2-core machine).
pgbouncer_dir "$RUN/pgbouncer" "$PG_SOCKET_DIR" "$PG_PRIMARY" "$DB" "$APP_USER" \
  "${PORT[pgsql:pgbouncer]}" "$POOL" 19000

start_sluice() {
  "$SLUICE" --config "$RUN/sluice.toml" >>"$RUN/logs/sluice.log" 2>&1 &
  PID_OF[sluice]=$!
  local k
  for k in mysql:sluice mysql:sluice-1node pgsql:sluice pgsql:sluice-1node; do
    wait_port "${PORT[$k]}" "${PID_OF[sluice]}" || die "sluice did not listen on ${PORT[$k]}: $RUN/logs/sluice.log"
  done
}
start_sluice_before() {
  "$BEFORE" --config "$RUN/sluice-before.toml" >>"$RUN/logs/sluice-before.log" 2>&1 &
  PID_OF[sluice-before]=$!
  local k
  for k in mysql:before-1node pgsql:before-1node; do
    wait_port "${PORT[$k]}" "${PID_OF[sluice-before]}" ||
      die "sluice (before) did not listen on ${PORT[$k]}: $RUN/logs/sluice-before.log"
  done
}
start_haproxy() {
  haproxy -c -f "$RUN/haproxy.cfg" >"$RUN/logs/haproxy-check.log" 2>&1 || die "bad haproxy.cfg: $RUN/logs/haproxy-check.log"
  haproxy -db -f "$RUN/haproxy.cfg" >>"$RUN/logs/haproxy.log" 2>&1 &
  PID_OF[haproxy]=$!
  wait_port "${PORT[mysql:haproxy]}" "${PID_OF[haproxy]}" || die "haproxy did not start: $RUN/logs/haproxy.log"
}
start_pgbouncer() {
  local u=()
  [[ $(id -u) == 0 ]] && u=(-u postgres)
  pgbouncer "${u[@]}" "$RUN/pgbouncer/pgbouncer.ini" >>"$RUN/logs/pgbouncer.out" 2>&1 &
  PID_OF[pgbouncer]=$!
  wait_port "${PORT[pgsql:pgbouncer]}" "${PID_OF[pgbouncer]}" ||
    die "pgbouncer did not start: $RUN/logs/pgbouncer.out $RUN/pgbouncer/pgbouncer.log"
}

log "starting sluice, HAProxy and PgBouncer"
start_sluice
[[ -n $BEFORE ]] && start_sluice_before
start_haproxy
start_pgbouncer
PROXY[mysql:haproxy]=haproxy PROXY[pgsql:haproxy]=haproxy PROXY[pgsql:pgbouncer]=pgbouncer
PROXY[mysql:sluice]=sluice PROXY[mysql:sluice-1node]=sluice PROXY[pgsql:sluice]=sluice
PROXY[pgsql:sluice-1node]=sluice
PROXY[mysql:before-1node]=sluice-before PROXY[pgsql:before-1node]=sluice-before

# A path that cannot run one query is not benchmarked: its cells read FAILED with the reason.
declare -A BROKEN=()
check_path() { # check_path SUITE PATH
  local k=$1:$2 out
  if [[ $1 == mysql ]]; then
    out=$(timeout 15 mariadb --no-defaults -h127.0.0.1 -P"${PORT[$k]}" -u"${LOGIN[$k]}" -p"$APP_PASSWORD" "$DB" \
      -NBe "SELECT COUNT(*) FROM sbtest1" 2>&1)
  else
    out=$(PGPASSWORD=$APP_PASSWORD timeout 15 psql -XAtq -h 127.0.0.1 -p "${PORT[$k]}" -U "${LOGIN[$k]}" -d "$DB" \
      -c "SELECT COUNT(*) FROM sbtest1" 2>&1)
  fi
  if [[ $out != "$TABLE_SIZE" ]]; then
    BROKEN[$k]="path check failed: $(tr '\n' ' ' <<<"$out" | cut -c1-120)"
    log "$k: ${BROKEN[$k]}"
  fi
}
for k in "${!PORT[@]}"; do check_path "${k%%:*}" "${k#*:}"; done

# ---------------------------------------------------------------- one run

RUNS=$RUN/runs.tsv
printf 'suite\tworkload\tclients\tpath\tround\tstatus\tqps\tp50_us\tp95_us\tp99_us\tqueries\tcpu_us\tnote\n' >"$RUNS"
N_DONE=0

# run_one SUITE WORKLOAD CLIENTS PATH ROUND: one tool run, one line in runs.tsv.
run_one() {
  local suite=$1 wl=$2 c=$3 path=$4 round=$5 k=$1:$4 out rc line pid t0 t1 cpu status rest
  out=$RUN/out/$suite-$wl-c$c-$path-r$round
  pid=""
  [[ -n ${PROXY[$k]:-} ]] && pid=${PID_OF[${PROXY[$k]}]:-}
  if [[ -n ${BROKEN[$k]:-} ]]; then
    line="FAILED 0 nan nan nan 0 ${BROKEN[$k]// /_}"
  elif [[ -n ${PROXY[$k]:-} && -z $pid ]]; then
    line="FAILED 0 nan nan nan 0 proxy_not_running"
  else
    t0=$(cpu_ticks "$pid")
    if [[ $wl == pgbench-* ]]; then
      rm -f "$out".log.*
      PGPASSWORD=$APP_PASSWORD timeout -k 5 $RUN_TIMEOUT pgbench -h 127.0.0.1 -p "${PORT[$k]}" -U "${LOGIN[$k]}" \
        -n -S -M "${wl#pgbench-}" -c "$c" -j "$((c < 2 ? 1 : 2))" -T "$DURATION" \
        --log --log-prefix="$out.log" "$DB" >"$out.txt" 2>&1
      rc=$?
      t1=$(cpu_ticks "$pid")
      line=$($RESULTS pgbench "$out.txt" "$rc" "$out.log")
      rm -f "$out".log.* # per-transaction logs are large; the percentiles are kept
    else
      local conn=()
      if [[ $suite == mysql ]]; then
        conn=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="${PORT[$k]}" --mysql-user="${LOGIN[$k]}"
          --mysql-password="$APP_PASSWORD" --mysql-db="$DB")
      else
        # PgBouncer 1.18 in transaction mode loses named prepared statements: every
        # PostgreSQL sysbench run, on every path, uses unprepared statements alike.
        conn=(--db-driver=pgsql --pgsql-host=127.0.0.1 --pgsql-port="${PORT[$k]}" --pgsql-user="${LOGIN[$k]}"
          --pgsql-password="$APP_PASSWORD" --pgsql-db="$DB" --db-ps-mode=disable)
      fi
      timeout -k 5 $RUN_TIMEOUT sysbench "$wl" "${conn[@]}" --tables=$TABLES --table-size=$TABLE_SIZE \
        --threads="$c" --time="$DURATION" --histogram=on --percentile=99 --report-interval=0 run >"$out.txt" 2>&1
      rc=$?
      t1=$(cpu_ticks "$pid")
      line=$($RESULTS sysbench "$out.txt" "$rc")
    fi
    [[ -n $line ]] || line="FAILED 0 nan nan nan 0 could_not_parse_output"
    cpu=-
    if [[ -n $pid && $t0 != - && -n $t0 && -n $t1 ]]; then
      cpu=$(((t1 - t0) * 1000000 / CLK_TCK))
    fi
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
      log "$k: the proxy (pid $pid) died during this run"
      unset "PID_OF[${PROXY[$k]}]"
      line="FAILED 0 nan nan nan 0 proxy_died_see_logs"
    fi
  fi
  read -r status rest <<<"$line"
  read -r qps p50 p95 p99 queries note <<<"$rest"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$suite" "$wl" "$c" "$path" "$round" \
    "$status" "$qps" "$p50" "$p95" "$p99" "$queries" "${cpu:--}" "${note//_/ }" >>"$RUNS"
  N_DONE=$((N_DONE + 1))
  log "[$N_DONE/$N_TOTAL] $suite $wl c=$c $path r$round: $status qps=$qps p50=${p50}us p99=${p99}us cpu=${cpu:--}us"
}

# ---------------------------------------------------------------- profile

# Before the benchmark: the servers are fresh (see the prepared-statement count below).

PROFILE=$RUN/profile.txt
: >"$PROFILE"
perf_top() { # perf_top LIMIT_PERCENT ARGS...: one line per entry, no call chains
  local limit=$1
  shift
  perf report -i "$RUN/perf.data" --stdio -g none --percent-limit "$limit" "$@" 2>/dev/null |
    grep -v '^#' | grep -v '^$' | sed -E 's/[[:space:]]+$//; s/[[:space:]]+-[[:space:]]+-$//' | cut -c1-150
}
if ! part profile; then
  echo "profile not run (BENCH_PARTS)" >"$PROFILE"
elif [[ -n ${PID_OF[sluice]:-} && -z ${BROKEN[mysql:sluice-1node]:-} ]]; then
  log "profiling sluice under sysbench oltp_point_select, 8 threads, MariaDB, ${PROFILE_S}s"
  # No hardware counters in many VMs: the cpu-clock software event samples all the same.
  perf record -e cpu-clock -F 999 -g -p "${PID_OF[sluice]}" -o "$RUN/perf.data" -- sleep "$PROFILE_S" \
    >"$RUN/logs/perf-record.log" 2>&1 &
  PID_OF[perf]=$!
  sleep 0.3
  timeout -k 5 $((PROFILE_S + 30)) sysbench oltp_point_select --db-driver=mysql --mysql-host=127.0.0.1 \
    --mysql-port="${PORT[mysql:sluice-1node]}" --mysql-user="${LOGIN[mysql:sluice-1node]}" \
    --mysql-password="$APP_PASSWORD" --mysql-db="$DB" --tables=$TABLES --table-size=$TABLE_SIZE \
    --threads=8 --time="$PROFILE_S" run >"$RUN/out/profile-sysbench.txt" 2>&1
  wait "${PID_OF[perf]}" 2>/dev/null
  unset "PID_OF[perf]"
  {
    echo "perf record -e cpu-clock -F 999 -g -p <sluice>, sysbench oltp_point_select, 8 threads, MariaDB, ${PROFILE_S}s"
    echo "sysbench: $(grep -E '^ +queries:|FATAL' "$RUN/out/profile-sysbench.txt" | head -3 | sed 's/  */ /g')"
    echo
    echo "== self time by shared object"
    perf_top 0.3 --no-children --sort dso | head -10
    echo
    echo "== self time by symbol, whole process (top 30)"
    perf_top 0.3 --no-children --sort dso,symbol | head -30
    echo
    echo "== self time inside the sluice binary only (percent of all samples, top 25)"
    perf_top 0.1 --no-children --sort symbol --dsos sluice | head -25
    echo
    echo "== time including callees (frame-pointer call chains; user-space frames are partial at -O2)"
    perf_top 3 --children --sort symbol | grep -v '\] 0x0000' | head -30
  } >"$PROFILE"
else
  echo "profile skipped: sluice's MariaDB path is not working (see the tables)" >"$PROFILE"
fi

# ---------------------------------------------------------------- the benchmark

MY_PATHS="direct haproxy sluice-1node sluice" PG_PATHS="direct haproxy pgbouncer sluice-1node sluice"
[[ -n $BEFORE ]] && MY_PATHS+=" before-1node" PG_PATHS+=" before-1node"
only() { local p out=""; for p in $1; do [[ " $BENCH_PATHS " == *" $p "* ]] && out+="$p "; done; echo "$out"; }
if [[ -n ${BENCH_PATHS:-} ]]; then
  MY_PATHS=$(only "$MY_PATHS") PG_PATHS=$(only "$PG_PATHS")
fi
CELLS=()
part bench || SB_WORKLOADS="" PGB_MODES=""
for wl in $SB_WORKLOADS; do for c in $SB_CLIENTS; do CELLS+=("mysql $wl $c"); done; done
for wl in $SB_WORKLOADS; do for c in $SB_CLIENTS; do CELLS+=("pgsql $wl $c"); done; done
for m in $PGB_MODES; do for c in $PGB_CLIENTS; do CELLS+=("pgsql pgbench-$m $c"); done; done
N_TOTAL=0
for cell in "${CELLS[@]}"; do
  [[ $cell == mysql* ]] && n=$(wc -w <<<"$MY_PATHS") || n=$(wc -w <<<"$PG_PATHS")
  N_TOTAL=$((N_TOTAL + n * ROUNDS))
done
log "benchmark: $N_TOTAL runs of ${DURATION}s, paths interleaved per cell (A B C A B C ...)"
BENCH_T0=$(date +%s)
for cell in "${CELLS[@]}"; do
  read -r suite wl c <<<"$cell"
  [[ $suite == mysql ]] && paths=$MY_PATHS || paths=$PG_PATHS
  for ((r = 1; r <= ROUNDS; r++)); do
    for path in $paths; do run_one "$suite" "$wl" "$c" "$path" "$r"; done
  done
  # Server-side prepared statements still open on the MariaDB primary after each cell: a
  # proxy that keeps them on pooled connections can exhaust max_prepared_stmt_count, after
  # which every client of that server (direct ones too) fails to prepare.
  if [[ $suite == mysql ]]; then
    n=$(mariadb --no-defaults -S "$MY_SOCKET_DIR/primary.sock" -uroot -NBe \
      "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'PREPARED_STMT_COUNT'")
    printf '%s %s c=%s: %s\n' "$suite" "$wl" "$c" "$n" >>"$RUN/prepared-stmts.txt"
  fi
done
log "benchmark runs took $(($(date +%s) - BENCH_T0)) s"

# ---------------------------------------------------------------- result streaming

# One large result through each path, read to its end by the protocol's own client: the
# mariadb CLI with --quick (row by row, nothing buffered) and psql (libpq keeps the whole
# result), their output counted by wc. STREAM_ROWS rows of 1,000 bytes: 100 MB in the full
# mode. MB/s = bytes the client got / wall time; proxy CPU per MB from /proc as above. The
# rounds interleave the paths, like the cells.
STREAM=$RUN/stream.tsv
printf 'suite\tpath\tround\tstatus\tbytes\tseconds\tcpu_us\tnote\n' >"$STREAM"
stream_one() { # stream_one SUITE PATH ROUND
  local suite=$1 path=$2 round=$3 k=$1:$2 pid="" t0 t1 w0 w1 bytes rc cpu=- status=OK note=-
  local out=$RUN/out/stream-$suite-$path-r$round
  [[ -n ${PROXY[$k]:-} ]] && pid=${PID_OF[${PROXY[$k]}]:-}
  if [[ -n ${BROKEN[$k]:-} ]]; then
    printf '%s\t%s\t%s\tFAILED\t0\tnan\t-\t%s\n' "$suite" "$path" "$round" "${BROKEN[$k]}" >>"$STREAM"
    return
  fi
  t0=$(cpu_ticks "$pid") w0=$(date +%s%N)
  if [[ $suite == mysql ]]; then
    timeout -k 5 120 mariadb --no-defaults --quick -N -B -h127.0.0.1 -P"${PORT[$k]}" -u"${LOGIN[$k]}" \
      -p"$APP_PASSWORD" "$DB" -e "SELECT REPEAT('x', 1000) FROM seq_1_to_$STREAM_ROWS" 2>"$out.err" |
      wc -c >"$out.bytes"
  else
    PGPASSWORD=$APP_PASSWORD timeout -k 5 120 psql -XAtq -h 127.0.0.1 -p "${PORT[$k]}" -U "${LOGIN[$k]}" \
      -d "$DB" -c "SELECT repeat('x', 1000) FROM generate_series(1, $STREAM_ROWS)" 2>"$out.err" |
      wc -c >"$out.bytes"
  fi
  rc=${PIPESTATUS[0]}
  w1=$(date +%s%N) t1=$(cpu_ticks "$pid")
  bytes=$(cat "$out.bytes")
  [[ -n $pid && $t0 != - ]] && cpu=$(((t1 - t0) * 1000000 / CLK_TCK))
  # Every row and its newline, or the run failed.
  if ((rc != 0 || bytes < STREAM_ROWS * 1001)); then
    status=FAILED note="exit $rc, $bytes bytes: $(head -c 120 "$out.err" | tr '\n\t' '  ')"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$suite" "$path" "$round" "$status" "$bytes" \
    "$(awk -v a="$w0" -v b="$w1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')" "$cpu" "$note" >>"$STREAM"
  log "stream $suite $path r$round: $status $bytes bytes in $(((w1 - w0) / 1000000)) ms, proxy cpu ${cpu}us"
}
if part stream; then
  ST_MY_PATHS="direct haproxy sluice-1node" ST_PG_PATHS="direct haproxy pgbouncer sluice-1node"
  [[ -n $BEFORE ]] && ST_MY_PATHS+=" before-1node" ST_PG_PATHS+=" before-1node"
  if [[ -n ${BENCH_PATHS:-} ]]; then
    ST_MY_PATHS=$(only "$ST_MY_PATHS") ST_PG_PATHS=$(only "$ST_PG_PATHS")
  fi
  log "result streaming: $STREAM_ROWS rows of 1,000 bytes per run, $ROUNDS round(s)"
  for suite in mysql pgsql; do
    [[ $suite == mysql ]] && paths=$ST_MY_PATHS || paths=$ST_PG_PATHS
    for ((r = 1; r <= ROUNDS; r++)); do
      for path in $paths; do stream_one "$suite" "$path" "$r"; done
    done
  done
fi

# ---------------------------------------------------------------- memory

log "memory: idle clients on freshly started proxies"
stop_pid sluice
stop_pid pgbouncer
stop_pid haproxy
MEM=$RUN/memory.tsv
printf 'proxy\tsuite\tclients\trss_before_kib\trss_kib\topened\tfailed\tnote\n' >"$MEM"

# mem_one PROXY SUITE N: fresh proxy, RSS before, N idle logged-in clients, RSS with them.
mem_one() {
  local proxy=$1 suite=$2 n=$3 k=$2:$1 before after ready=$RUN/out/idle-$1-$2-$3.ready res note=""
  "start_$proxy"
  sleep 1
  before=$(rss_kib "${PID_OF[$proxy]}")
  rm -f "$ready"
  if ((n > 0)); then
    $PY "$HERE/idle_clients.py" "$([[ $suite == mysql ]] && echo mysql || echo postgresql)" 127.0.0.1 \
      "${PORT[$k]}" "${LOGIN[$k]}" "$APP_PASSWORD" "$DB" "$n" "$ready" 900 >"$RUN/logs/idle-$proxy-$suite-$n.log" 2>&1 &
    PID_OF[idle]=$!
    for ((i = 0; i < 6000; i++)); do # up to 600 s for 10,000 logins
      [[ -f $ready ]] && break
      kill -0 "${PID_OF[idle]}" 2>/dev/null || break
      sleep 0.1
    done
    sleep 1
    after=$(rss_kib "${PID_OF[$proxy]}")
    res=$(cat "$ready" 2>/dev/null || echo "0 $n idle_clients.py did not finish")
    stop_pid idle
  else
    after=$before res="0 0"
  fi
  read -r opened failed note <<<"$res"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$proxy" "$suite" "$n" "$before" "$after" "$opened" "$failed" "${note:--}" >>"$MEM"
  log "memory $proxy $suite n=$n: RSS ${before} -> ${after} KiB, held $opened, failed $failed ${note}"
  stop_pid "$proxy"
}
IDLE_SPECS=("sluice mysql" "sluice pgsql" "pgbouncer pgsql")
part memory || IDLE_SPECS=()
for spec in "${IDLE_SPECS[@]}"; do
  read -r proxy suite <<<"$spec"
  mem_one "$proxy" "$suite" 0
  for n in $IDLE_COUNTS; do mem_one "$proxy" "$suite" "$n"; done
done

# ---------------------------------------------------------------- micro benchmarks

MICRO_OUT=$RUN/micro.txt
: >"$MICRO_OUT"
part micro || MICRO=""
for m in $MICRO; do
  log "micro benchmark $m"
  echo "## $m --benchmark_min_time=0.2" >>"$MICRO_OUT"
  timeout 300 "$BUILD/bench/$m" --benchmark_min_time=0.2 >>"$MICRO_OUT" 2>&1 || echo "($m exited $?)" >>"$MICRO_OUT"
done

# ---------------------------------------------------------------- report

echo "$(date -u '+%F %T UTC') $(uptime)" >"$RUN/load-end.txt"
REPORT=$RUN/report.md
{
  echo "# sluice end-to-end benchmark — $(date -u '+%F %T UTC')"
  echo
  echo "- command: \`bench/e2e/run.sh $*\` ($ROUNDS round(s), ${DURATION} s per run, pool $POOL backend connections per server)"
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, kernel $(uname -r)"
  if [[ -n ${SLUICE_BENCH_BINARY:-} ]]; then
    echo "- sluice: the binary $SLUICE (SLUICE_BENCH_BINARY), tree $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
  else
    echo "- sluice $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)'), g++ $(g++ -dumpfullversion), Release (-O2 -g)"
  fi
  echo "- $(mariadbd --version | sed 's/ for .*//'); $(/usr/lib/postgresql/15/bin/postgres --version)"
  echo "- $(haproxy -v | head -1 | cut -d' ' -f1-3); $(pgbouncer --version | head -1); sysbench $(sysbench --version | cut -d' ' -f2); $(pgbench --version)"
  echo "- load at start: $(cut -d' ' -f3- "$RUN/load-start.txt" | sed 's/.*load average/load average/')"
  echo "- load at end:   $(cut -d' ' -f3- "$RUN/load-end.txt" | sed 's/.*load average/load average/')"
  echo "- wall time: $(($(date +%s) - STARTED)) s; run directory: $RUN"
  echo
  $RESULTS report "$RUNS" "$MEM" "$RUN/tables.md" "$STREAM" && cat "$RUN/tables.md"
  echo "### Prepared statements left open on the MariaDB primary after each cell"
  echo
  echo "(max_prepared_stmt_count = $(mariadb --no-defaults -S "$MY_SOCKET_DIR/primary.sock" -uroot -NBe 'SELECT @@max_prepared_stmt_count' 2>/dev/null || echo '?'); every client is gone when it is read)"
  echo
  echo '```'
  cat "$RUN/prepared-stmts.txt" 2>/dev/null
  echo '```'
  echo
  echo "### Profile"
  echo
  echo '```'
  cat "$PROFILE"
  echo '```'
  echo
  echo "### Micro benchmarks"
  echo
  echo '```'
  grep -vE '^\*\*\*|^-+$|^Run on|^CPU Caches|^  L[123]|^Load Average|^[0-9-]+T[0-9:]+' "$MICRO_OUT"
  echo '```'
} >"$REPORT"
cat "$REPORT"
log "report: $REPORT (raw runs: $RUNS, memory: $MEM, tool output: $RUN/out/)"
