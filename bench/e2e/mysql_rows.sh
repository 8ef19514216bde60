#!/usr/bin/env bash
# MySQL statement cost of several sluice binaries side by side with HAProxy and direct, in
# one run: sysbench oltp_point_select and oltp_read_only (MariaDB primary only), rounds
# interleaved per cell, the proxy's CPU per statement from /proc/PID/stat (docs/performance.md).
#
#   SLUICE_BINS="before=/path/sluice main=/path/sluice mine=/path/sluice" bench/e2e/mysql_rows.sh
#
# Environment: SLUICE_BINS (LABEL=BINARY ..., required), BENCH_ROUNDS (default 3),
# BENCH_DURATION (seconds per run, default 3), BENCH_CLIENTS (default "8 32"),
# BENCH_WORKLOADS (default "oltp_point_select oltp_read_only"), SLUICE_BENCH_DIR (run
# directory, default /tmp/sluice-rows-<date>; the server's data is removed at the end
# unless --keep).
#
# Time: workloads x clients x (paths) x rounds x (D + ~0.7 s); the defaults with three
# binaries: 2 x 2 x 5 x 3 x 3.7 s ~ 3.7 min, plus ~40 s for the cluster and the data.
# Everything it starts is stopped by PID on exit, INT or TERM (bench/lib/procs.sh).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=bench/lib/procs.sh
source "$ROOT/bench/lib/procs.sh"
bench_args 2 11 "$@"
RESULTS="$PY $ROOT/bench/e2e/results.py"

ROUNDS=${BENCH_ROUNDS:-3} DURATION=${BENCH_DURATION:-3}
CLIENTS=${BENCH_CLIENTS:-"8 32"}
WORKLOADS=${BENCH_WORKLOADS:-"oltp_point_select oltp_read_only"}
TABLES=4 TABLE_SIZE=10000 POOL=40 APP_PASSWORD=app_pw DB=sluice
RUN_TIMEOUT=$((DURATION + 40))
[[ -n ${SLUICE_BINS:-} ]] || die "SLUICE_BINS=\"label=binary ...\" is required"
RUN=${SLUICE_BENCH_DIR:-/tmp/sluice-rows-$(date +%Y%m%d-%H%M%S)}

declare -A PID_OF=() PORT=() BIN=()
BENCH_CLUSTERS="mariadb"
bench_traps
mkdir -p "$RUN"/{out,logs}
chmod 755 "$RUN"
LABELS=""
for lb in $SLUICE_BINS; do
  l=${lb%%=*} b=${lb#*=}
  [[ -x $b ]] || die "$l: $b is not an executable"
  BIN[$l]=$b LABELS+="$l "
done

log "run directory $RUN: $ROUNDS round(s) of ${DURATION}s; sluice binaries: $LABELS"
echo "$(date -u '+%F %T UTC') $(uptime)" >"$RUN/load.txt"
bash "$CLUSTER" start mariadb "$RUN/mariadb" --replicas 0 --watch-pid $$ >"$RUN/logs/cluster.log" 2>&1 ||
  die "MariaDB did not start: $RUN/logs/cluster.log"
# shellcheck disable=SC1091
PRIMARY=$(cluster_env "$RUN/mariadb" PRIMARY_PORT)
APP_USER=$(cluster_env "$RUN/mariadb" APP_USER)
sysbench oltp_read_only --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$PRIMARY" \
  --mysql-user="$APP_USER" --mysql-password="$APP_PASSWORD" --mysql-db="$DB" \
  --tables=$TABLES --table-size=$TABLE_SIZE prepare >"$RUN/logs/prepare.log" 2>&1 ||
  die "sysbench prepare failed: $RUN/logs/prepare.log"

PORT[direct]=$PRIMARY
for l in $LABELS; do
  PORT[$l]=$(free_port)
  admin=$(free_port)
  cat >"$RUN/$l.toml" <<EOF
[sluice]
workers = $(nproc)
log_level = "warn"

[admin]
listen = "127.0.0.1:$admin"
user = "admin"
password = "admin_pw"

[[cluster]]
name = "my"
protocol = "mysql"
listen = "127.0.0.1:${PORT[$l]}"
pool_mode = "transaction"
writer_hostgroup = 0
reader_hostgroup = 1
monitor_user = "monitor"
monitor_password = "monitor_pw"
  [[cluster.server]]
  host = "127.0.0.1"
  port = $PRIMARY
  role = "primary"
  max_connections = $POOL

[[user]]
name = "$APP_USER"
password = "$APP_PASSWORD"
cluster = "my"
default_schema = "$DB"
EOF
  "${BIN[$l]}" --config "$RUN/$l.toml" >>"$RUN/logs/$l.log" 2>&1 &
  PID_OF[$l]=$!
  wait_port "${PORT[$l]}" "${PID_OF[$l]}" || die "sluice $l did not listen: $RUN/logs/$l.log"
done
PORT[haproxy]=$(free_port)
haproxy_cfg "mysql:${PORT[haproxy]}:$PRIMARY" >"$RUN/haproxy.cfg"
haproxy -db -f "$RUN/haproxy.cfg" >>"$RUN/logs/haproxy.log" 2>&1 &
PID_OF[haproxy]=$!
wait_port "${PORT[haproxy]}" "${PID_OF[haproxy]}" || die "haproxy did not start: $RUN/logs/haproxy.log"
PATHS="direct haproxy $LABELS"
for p in $PATHS; do
  out=$(timeout 15 mariadb --no-defaults -h127.0.0.1 -P"${PORT[$p]}" -u"$APP_USER" -p"$APP_PASSWORD" "$DB" \
    -NBe "SELECT COUNT(*) FROM sbtest1" 2>&1)
  [[ $out == "$TABLE_SIZE" ]] || die "path $p: $out"
done

TSV=$RUN/runs.tsv
printf 'workload\tclients\tpath\tround\tstatus\tqps\tqueries\tcpu_us\n' >"$TSV"
for wl in $WORKLOADS; do
  for c in $CLIENTS; do
    for ((r = 1; r <= ROUNDS; r++)); do
      for p in $PATHS; do
        pid=${PID_OF[$p]:-}
        t0=$(cpu_ticks "$pid")
        o=$RUN/out/$wl-c$c-$p-r$r.txt
        timeout -k 5 $RUN_TIMEOUT sysbench "$wl" --db-driver=mysql --mysql-host=127.0.0.1 \
          --mysql-port="${PORT[$p]}" --mysql-user="$APP_USER" --mysql-password="$APP_PASSWORD" \
          --mysql-db="$DB" --tables=$TABLES --table-size=$TABLE_SIZE --threads="$c" \
          --time="$DURATION" --histogram=on --percentile=99 --report-interval=0 run >"$o" 2>&1
        rc=$?
        t1=$(cpu_ticks "$pid")
        read -r status qps _ _ _ queries _ <<<"$($RESULTS sysbench "$o" "$rc")"
        cpu=-
        [[ $t0 != - ]] && cpu=$(((t1 - t0) * 1000000 / CLK_TCK))
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$wl" "$c" "$p" "$r" "$status" "$qps" "$queries" "$cpu" >>"$TSV"
        log "$wl c=$c $p r$r: $status qps=$qps cpu=${cpu}us"
      done
    done
  done
done
echo "$(date -u '+%F %T UTC') $(uptime)" >>"$RUN/load.txt"

# Per cell and path: median QPS (min-max) and median proxy CPU per statement.
$PY - "$TSV" "$PATHS" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
paths = sys.argv[2].split()
cells = sorted({(r[0], int(r[1])) for r in rows}, key=lambda x: (x[0], x[1]))
print("| workload | clients | " + " | ".join(paths) + " |")
print("|---|---|" + "---|" * len(paths))
for wl, c in cells:
    out = []
    for p in paths:
        rs = [r for r in rows if r[0] == wl and int(r[1]) == c and r[2] == p]
        ok = [r for r in rs if r[4] == "OK"]
        if len(ok) < len(rs) or not ok:
            out.append("FAILED")
            continue
        qps = [float(r[5]) for r in ok]
        cpu = [float(r[7]) / float(r[6]) for r in ok if r[7] != "-" and float(r[6]) > 0]
        s = f"{statistics.median(qps):.0f} qps ({min(qps):.0f}–{max(qps):.0f})"
        if cpu:
            s += f", {statistics.median(cpu):.1f} µs"
        out.append(s)
    print(f"| {wl} | {c} | " + " | ".join(out) + " |")
EOF
cat "$RUN/load.txt"
((KEEP)) && exit 0
# The server's data (~100 MB) goes; runs.tsv, the tools' output and the logs stay.
for p in "${!PID_OF[@]}"; do stop_pid "$p"; done
bash "$CLUSTER" stop "$RUN/mariadb" >/dev/null 2>&1
rm -rf "$RUN/mariadb"
