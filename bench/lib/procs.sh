# Shell helpers of the benchmarks (bench/e2e/run.sh, bench/mirror/run.sh): logging, the
# processes a run started (by PID only), bounded waits, free loopback ports, CPU time.
# Sourced after the caller set ROOT (the checkout); the caller declares the associative
# array PID_OF (and RUN, KEEP, BENCH_CLUSTERS for bench_cleanup).

PY=/usr/bin/python3
CLUSTER=$ROOT/tests/cluster/cluster.sh

log() { echo "[bench $(date +%T)] $*" >&2; }
die() {
  log "error: $*"
  exit 1
}
# stop_pid NAME: SIGTERM, up to 15 s, then SIGKILL; only the PID recorded under NAME.
stop_pid() {
  local name=$1 pid=${PID_OF[$1]:-} i
  [[ -n $pid ]] || return 0
  unset "PID_OF[$name]"
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

wait_port() { # wait_port PORT PID: bounded wait until something accepts on PORT
  local port=$1 pid=$2 i
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# Free loopback ports below the ephemeral range, so outgoing connections never take them.
USED_PORTS=""
free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((15000 + RANDOM % 17000))
    [[ " $USED_PORTS " == *" $p "* ]] && continue
    if $PY -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$p" 2>/dev/null; then
      USED_PORTS+=" $p"
      echo "$p"
      return 0
    fi
  done
  die "no free port"
}

# haproxy_cfg NAME:LISTEN_PORT:SERVER_PORT ...: HAProxy in TCP mode on 127.0.0.1, one listen
# section a triple, nbthread = cores. maxconn x 2 descriptors must fit the open-files limit.
haproxy_cfg() {
  local t name lp sp
  printf 'global\n  maxconn 5000\n  nbthread %s\ndefaults\n  mode tcp\n' "$(nproc)"
  printf '  timeout connect 5s\n  timeout client 1h\n  timeout server 1h\n  maxconn 5000\n'
  for t in "$@"; do
    IFS=: read -r name lp sp <<<"$t"
    printf 'listen %s\n  bind 127.0.0.1:%s\n  server primary 127.0.0.1:%s\n' "$name" "$lp" "$sp"
  done
}

# pgbouncer_dir DIR SOCKET_DIR PG_PORT DB USER LISTEN_PORT POOL MAX_CLIENTS: PgBouncer in
# transaction mode in front of 127.0.0.1:PG_PORT, its files in DIR. The userlist holds the
# server's own SCRAM verifier (pg_authid, read as postgres over SOCKET_DIR), as in production:
# with a plaintext password PgBouncer runs a PBKDF2 (4096 rounds) per client login. PgBouncer
# refuses to run as root, so DIR belongs to postgres (start it with -u postgres).
pgbouncer_dir() {
  local dir=$1 sock=$2 pg=$3 db=$4 user=$5 lp=$6 pool=$7 maxc=$8 v
  mkdir -p "$dir"
  v=$(psql -XAtq -h "$sock" -p "$pg" -U postgres -d postgres \
    -c "SELECT rolpassword FROM pg_authid WHERE rolname = '$user'")
  [[ $v == SCRAM-SHA-256* ]] || die "no SCRAM verifier for $user in pg_authid"
  printf '"%s" "%s"\n' "$user" "$v" >"$dir/userlist.txt"
  cat >"$dir/pgbouncer.ini" <<EOF2
; Written by bench/lib/procs.sh: transaction pooling in front of the PostgreSQL primary.
[databases]
$db = host=127.0.0.1 port=$pg dbname=$db
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $lp
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = $pool
max_client_conn = $maxc
logfile = $dir/pgbouncer.log
log_connections = 0
log_disconnections = 0
ignore_startup_parameters = extra_float_digits,options
EOF2
  if id postgres >/dev/null 2>&1; then chown -R postgres "$dir"; fi
}

cpu_ticks() { # utime+stime of PID in clock ticks ("-" when PID is empty)
  [[ -n ${1:-} ]] || {
    echo -
    return
  }
  sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'
}
CLK_TCK=$(getconf CLK_TCK)
# cluster_env DIR VAR: one variable of a tests/cluster cluster's DIR/cluster.env (its ports,
# socket directory, users), read in a subshell so that nothing else leaks into the caller.
cluster_env() { (source "$1/cluster.env" && eval "echo \"\$$2\""); }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# bench_args FIRST LAST ARGS...: --quick sets QUICK=1, --keep KEEP=1; -h prints lines FIRST
# to LAST of the calling script (its usage comment).
bench_args() {
  local first=$1 last=$2 a
  shift 2
  QUICK=0 KEEP=0
  for a in "$@"; do
    case $a in
      --quick) QUICK=1 ;;
      --keep) KEEP=1 ;;
      -h | --help)
        sed -n "${first},${last}p" "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
      *)
        echo "run.sh: unknown argument $a" >&2
        exit 2
        ;;
    esac
  done
}

# The EXIT trap: stops every process in PID_OF and every cluster under $RUN named in
# BENCH_CLUSTERS (unless KEEP: then says how to stop them), keeps the exit status.
bench_cleanup() {
  local rc=$? name
  trap - EXIT INT TERM
  if ((KEEP)); then
    log "--keep: left running: ${!PID_OF[*]} (PIDs ${PID_OF[*]}) and the clusters in $RUN"
    log "stop with: kill ${PID_OF[*]}$(for c in $BENCH_CLUSTERS; do printf '; %s stop %s' "$CLUSTER" "$RUN/$c"; done)"
    exit "$rc"
  fi
  for name in "${!PID_OF[@]}"; do stop_pid "$name"; done
  for name in $BENCH_CLUSTERS; do
    [[ -f $RUN/$name/cluster.env ]] && bash "$CLUSTER" stop "$RUN/$name" >/dev/null 2>&1
  done
  log "stopped everything this run started (exit $rc)"
  exit "$rc"
}
bench_traps() {
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
