#!/usr/bin/env bash
# PostgreSQL statement cost, short: sluice's CPU per statement and throughput beside
# PgBouncer (transaction mode) and, optionally, a second sluice binary (before/after), for
# pgbench -S simple/extended and sysbench oltp_point_select (text), paths interleaved per
# round. A profile per workload with PROFILE=1. docs/performance.md reads its output.
#
#   bench/e2e/pg_statements.sh SLUICE_BINARY [BEFORE_BINARY]
#
# Environment: RUN_DIR (default /tmp/pg-statements-<date>), CLIENTS (default "8 32"),
# ROUNDS (3), DURATION (seconds per run, 3), PROFILE=1 (perf record -g of the first sluice
# under each workload at 8 clients for PROFILE_S seconds, 5; top entries in profile-*.txt),
# WORKERS (the first sluice's worker threads, default nproc), BEFORE_WORKERS (the second's,
# default WORKERS: the same binary twice with another count compares worker counts).
# Time: 3 workloads x |CLIENTS| x 3 paths x ROUNDS x (DURATION + ~0.7 s): ~3.5 min with the
# defaults, plus ~40 s for the cluster and the data.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=bench/lib/procs.sh
source "$ROOT/bench/lib/procs.sh"
AFTER=${1:?usage: pg_statements.sh SLUICE_BINARY [BEFORE_BINARY]}
BEFORE=${2:-}
CLIENTS=${CLIENTS:-8 32} ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-3}
WORKERS=${WORKERS:-$(nproc)} BEFORE_WORKERS=${BEFORE_WORKERS:-${WORKERS:-$(nproc)}}
PROFILE=${PROFILE:-0} PROFILE_S=${PROFILE_S:-5}
RUN=${RUN_DIR:-/tmp/pg-statements-$(date +%Y%m%d-%H%M%S)}
APP_PASSWORD=app_pw DB=sluice TABLES=4 TABLE_SIZE=10000 POOL=40
export PGSSLMODE=disable
declare -A PID_OF=() PORT=() LOGIN=()
# shellcheck disable=SC2034 # both read by bench_cleanup (bench/lib/procs.sh)
KEEP=0 BENCH_CLUSTERS=postgres
bench_traps

mkdir -p "$RUN"/{out,logs}
chmod 755 "$RUN"
echo "$(date -u '+%F %T UTC') $(uptime)" >"$RUN/load-start.txt"
log "run directory $RUN; starting PostgreSQL (primary + 1 standby)"
bash "$CLUSTER" start postgres "$RUN/postgres" --replicas 1 --watch-pid $$ >"$RUN/logs/cluster.log" 2>&1 ||
  die "cluster did not start: $RUN/logs/cluster.log"
PG=$(cluster_env "$RUN/postgres" PRIMARY_PORT)
SOCK=$(cluster_env "$RUN/postgres" SOCKET_DIR)
APP_USER=$(cluster_env "$RUN/postgres" APP_USER)
sysbench oltp_point_select --db-driver=pgsql --pgsql-host=127.0.0.1 --pgsql-port="$PG" \
  --pgsql-user="$APP_USER" --pgsql-password="$APP_PASSWORD" --pgsql-db="$DB" --tables=$TABLES \
  --table-size=$TABLE_SIZE prepare >"$RUN/logs/prepare.log" 2>&1 || die "sysbench prepare failed"
PGPASSWORD=$APP_PASSWORD pgbench -i -q -s 1 -h 127.0.0.1 -p "$PG" -U "$APP_USER" "$DB" \
  >>"$RUN/logs/prepare.log" 2>&1 || die "pgbench -i failed"

sluice_config() { # sluice_config PORT ADMIN_PORT WORKERS
  cat <<EOF
[sluice]
workers = $3
log_level = "warn"
[admin]
listen = "127.0.0.1:$2"
user = "admin"
password = "admin_pw"
[[cluster]]
name = "pg"
protocol = "postgresql"
listen = "127.0.0.1:$1"
pool_mode = "transaction"
monitor_user = "monitor"
monitor_password = "monitor_pw"
  [[cluster.server]]
  host = "127.0.0.1"
  port = $PG
  role = "primary"
  max_connections = $POOL
[[user]]
name = "bench"
password = "$APP_PASSWORD"
cluster = "pg"
default_schema = "$DB"
backend_user = "$APP_USER"
backend_password = "$APP_PASSWORD"
EOF
}
start_sluice() { # start_sluice NAME BINARY WORKERS
  PORT[$1]=$(free_port) LOGIN[$1]=bench
  sluice_config "${PORT[$1]}" "$(free_port)" "$3" >"$RUN/$1.toml"
  "$2" --config "$RUN/$1.toml" >>"$RUN/logs/$1.log" 2>&1 &
  PID_OF[$1]=$!
  wait_port "${PORT[$1]}" "${PID_OF[$1]}" || die "$1 did not listen: $RUN/logs/$1.log"
}
start_pgbouncer() { # as bench/e2e/run.sh: the server's SCRAM verifier in the userlist
  PORT[pgbouncer]=$(free_port) LOGIN[pgbouncer]=$APP_USER
  local u=()
  pgbouncer_dir "$RUN/pgbouncer" "$SOCK" "$PG" "$DB" "$APP_USER" "${PORT[pgbouncer]}" "$POOL" 1000
  [[ $(id -u) == 0 ]] && u=(-u postgres)
  pgbouncer "${u[@]}" "$RUN/pgbouncer/pgbouncer.ini" >>"$RUN/logs/pgbouncer.out" 2>&1 &
  PID_OF[pgbouncer]=$!
  wait_port "${PORT[pgbouncer]}" "${PID_OF[pgbouncer]}" || die "pgbouncer did not start"
}
start_sluice after "$AFTER" "$WORKERS"
PATHS="after pgbouncer"
[[ -n $BEFORE ]] && start_sluice before "$BEFORE" "$BEFORE_WORKERS" && PATHS="after before pgbouncer"
start_pgbouncer

# workload PATH WORKLOAD CLIENTS SECONDS OUT: one tool run; prints "statements exit-status".
workload() {
  local p=$1 wl=$2 c=$3 t=$4 out=$5 rc
  if [[ $wl == sysbench ]]; then
    timeout -k 5 $((t + 40)) sysbench oltp_point_select --db-driver=pgsql --pgsql-host=127.0.0.1 \
      --pgsql-port="${PORT[$p]}" --pgsql-user="${LOGIN[$p]}" --pgsql-password="$APP_PASSWORD" \
      --pgsql-db="$DB" --db-ps-mode=disable --tables=$TABLES --table-size=$TABLE_SIZE \
      --threads="$c" --time="$t" run >"$out" 2>&1
    rc=$?
    grep -qE '^(FATAL|ALERT)' "$out" && rc=99
    echo "$(awk '/^ +queries:/ {print $2}' "$out") $rc"
  else
    PGPASSWORD=$APP_PASSWORD timeout -k 5 $((t + 40)) pgbench -h 127.0.0.1 -p "${PORT[$p]}" \
      -U "${LOGIN[$p]}" -n -S -M "${wl#pgbench-}" -c "$c" -j 2 -T "$t" "$DB" >"$out" 2>&1
    rc=$?
    grep -qE 'aborted|error' "$out" && rc=99
    echo "$(awk '/number of transactions actually processed/ {print $NF}' "$out" | cut -d/ -f1) $rc"
  fi
}

WORKLOADS="pgbench-simple pgbench-extended sysbench"
if ((PROFILE)); then
  for wl in $WORKLOADS; do
    log "profile: $wl, 8 clients, ${PROFILE_S}s"
    perf record -e cpu-clock -F 999 -g -p "${PID_OF[after]}" -o "$RUN/perf-$wl.data" -- sleep "$PROFILE_S" \
      >"$RUN/logs/perf-$wl.log" 2>&1 &
    PID_OF[perf]=$!
    sleep 0.3
    workload after "$wl" 8 "$PROFILE_S" "$RUN/out/profile-$wl.txt" >/dev/null
    wait "${PID_OF[perf]}" 2>/dev/null
    unset "PID_OF[perf]"
    perf report -i "$RUN/perf-$wl.data" --stdio -g none --no-children --percent-limit 0.7 \
      --sort dso,symbol 2>/dev/null | grep -v '^#' | grep -v '^$' | cut -c1-140 | head -40 >"$RUN/profile-$wl.txt"
  done
fi

RUNS=$RUN/runs.tsv
printf 'workload\tclients\tpath\tround\tstatements\tqps\tcpu_us_per_stmt\tstatus\n' >"$RUNS"
for wl in $WORKLOADS; do
  for c in $CLIENTS; do
    for ((r = 1; r <= ROUNDS; r++)); do
      for p in $PATHS; do
        pid=${PID_OF[$p]}
        t0=$(cpu_ticks "$pid")
        read -r n rc <<<"$(workload "$p" "$wl" "$c" "$DURATION" "$RUN/out/$wl-c$c-$p-r$r.txt")"
        t1=$(cpu_ticks "$pid")
        n=${n:-0}
        st=OK
        [[ $rc == 0 && $n -gt 0 ]] || st=FAILED
        cpu=$(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", n ? (b - a) * 1e6 / hz / n : 0 }')
        qps=$(awk -v n="$n" -v t="$DURATION" 'BEGIN { printf "%.0f", n / t }')
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$wl" "$c" "$p" "$r" "$n" "$qps" "$cpu" "$st" >>"$RUNS"
        log "$wl c=$c $p r$r: $st qps=$qps cpu=${cpu}us/stmt"
      done
    done
  done
done
echo "$(date -u '+%F %T UTC') $(uptime)" >"$RUN/load-end.txt"

# Medians of the rounds: CPU per statement and QPS, per workload, clients and path.
$PY - "$RUNS" <<'EOF' | tee "$RUN/report.md"
import collections, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
cell = collections.defaultdict(list)
paths = []
for wl, c, p, r, n, qps, cpu, st in rows:
    if p not in paths:
        paths.append(p)
    if st == "OK":
        cell[(wl, int(c), p)].append((float(cpu), float(qps)))
print("| workload | clients | " + " | ".join(f"{p} µs/stmt (QPS)" for p in paths) + " |")
print("|---|---|" + "---|" * len(paths))
for wl, c in sorted({(k[0], k[1]) for k in cell}, key=lambda x: (x[0], x[1])):
    out = []
    for p in paths:
        v = cell.get((wl, c, p))
        out.append("FAILED" if not v else "%.1f (%.0f)" % (statistics.median(x[0] for x in v),
                                                          statistics.median(x[1] for x in v)))
    print(f"| {wl} | {c} | " + " | ".join(out) + " |")
EOF
log "load at start: $(cat "$RUN/load-start.txt"); at end: $(cat "$RUN/load-end.txt")"
