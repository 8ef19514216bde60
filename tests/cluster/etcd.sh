#!/usr/bin/env bash
# etcd.sh: a 3-member etcd cluster on free loopback ports for the fleet tests
# (coordination/). Every member's PID is recorded under DIR/pids and only those are stopped.
#   etcd.sh start DIR [--members N] [--watch-pid PID|parent]
#   etcd.sh stop DIR                 stop every member (SIGTERM, SIGKILL after 10 s)
#   etcd.sh stop-member DIR I        stop member I (1-based) only
#   etcd.sh start-member DIR I       start member I again on its ports and data
# DIR/etcd.env: ENDPOINTS="127.0.0.1:p1,127.0.0.1:p2,...", CLIENT_PORTS, PEER_PORTS, MEMBERS.
# The watchdog stops the cluster when the watched process (the test runner) is gone.
set -euo pipefail

SELF=$(readlink -f "$0")
WATCHDOG_MAX_S=${WATCHDOG_MAX_S:-3600}

die() {
  echo "etcd.sh: $*" >&2
  exit 1
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

owned_pid() {
  local pid=$1
  [[ -n "$pid" && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DIR/"
}

proc_start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat
  echo "${20}"
}

load_env() {
  [[ -f "$DIR/etcd.env" ]] || die "$DIR/etcd.env: no cluster here"
  # shellcheck disable=SC1091
  source "$DIR/etcd.env"
  read -r -a CPORTS <<<"$CLIENT_PORTS"
  read -r -a PPORTS <<<"$PEER_PORTS"
}

initial_cluster() {
  local i out=""
  for ((i = 1; i <= MEMBERS; i++)); do
    out+="${out:+,}m$i=http://127.0.0.1:${PPORTS[i - 1]}"
  done
  echo "$out"
}

start_member() {
  local i=$1 state=$2 cp pp
  cp=${CPORTS[i - 1]}
  pp=${PPORTS[i - 1]}
  mkdir -p "$DIR/m$i" "$DIR/pids"
  # --name/--data-dir under DIR/ make the member recognisable as ours (owned_pid).
  (setsid etcd --name "m$i" --data-dir "$DIR/m$i/data" \
    --listen-client-urls "http://127.0.0.1:$cp" --advertise-client-urls "http://127.0.0.1:$cp" \
    --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
    --initial-cluster "$(initial_cluster)" --initial-cluster-state "$state" \
    --initial-cluster-token "sluice-test-$$" --heartbeat-interval 50 --election-timeout 500 \
    --logger zap </dev/null >>"$DIR/m$i/stdout.log" 2>&1 &
    echo $! >"$DIR/pids/m$i.pid")
}

wait_healthy() {
  local i=$1 deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)); do
    if curl -s -m 1 --noproxy '*' "http://127.0.0.1:${CPORTS[i - 1]}/health" | grep -q '"health":"true"'; then
      return 0
    fi
    owned_pid "$(cat "$DIR/pids/m$i.pid" 2>/dev/null)" || die "member m$i exited: $(tail -5 "$DIR/m$i/stdout.log")"
    sleep 0.2
  done
  die "member m$i not healthy after 30 s (log $DIR/m$i/stdout.log)"
}

stop_member() {
  local f="$DIR/pids/m$1.pid" pid n
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  rm -f "$f"
  owned_pid "$pid" || return 0
  kill "$pid" 2>/dev/null || true
  for ((n = 0; n < 100; n++)); do
    owned_pid "$pid" || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

watchdog_loop() {
  local watched=$1 started=$2 i now mine
  echo $$ >"$DIR/pids/watchdog.pid"
  for ((i = 0; i < WATCHDOG_MAX_S; i++)); do
    mine=$(cat "$DIR/pids/watchdog.pid" 2>/dev/null || true)
    [[ $mine == "$$" ]] || exit 0
    now=$(proc_start_time "$watched" || true)
    if [[ $now != "$started" ]]; then
      echo "$(date '+%F %T') watched pid $watched is gone: stopping etcd"
      rm -f "$DIR/pids/watchdog.pid"
      bash "$SELF" stop "$DIR"
      exit 0
    fi
    sleep 1
  done
}

cmd=${1:-}
DIR=${2:-}
[[ -n $cmd && -n $DIR ]] || die "usage: etcd.sh start|stop|stop-member|start-member DIR ..."
DIR=$(readlink -m "$DIR")
shift 2

case $cmd in
start)
  MEMBERS=3
  watch=""
  while (($#)); do
    case $1 in
    --members) MEMBERS=$2; shift 2 ;;
    --watch-pid) watch=$2; shift 2 ;;
    *) die "unknown option $1" ;;
    esac
  done
  command -v etcd >/dev/null || die "etcd not installed (Debian etcd-server; scripts/install-deps.sh)"
  [[ -f "$DIR/etcd.env" ]] && bash "$SELF" stop "$DIR"
  rm -rf "$DIR"
  mkdir -p "$DIR/pids"
  CPORTS=() PPORTS=()
  for ((i = 1; i <= MEMBERS; i++)); do CPORTS+=("$(free_port)"); PPORTS+=("$(free_port)"); done
  endpoints=""
  for p in "${CPORTS[@]}"; do endpoints+="${endpoints:+,}127.0.0.1:$p"; done
  cat >"$DIR/etcd.env" <<ENV
MEMBERS=$MEMBERS
CLIENT_PORTS="${CPORTS[*]}"
PEER_PORTS="${PPORTS[*]}"
ENDPOINTS="$endpoints"
ENV
  for ((i = 1; i <= MEMBERS; i++)); do start_member "$i" new; done
  for ((i = 1; i <= MEMBERS; i++)); do wait_healthy "$i"; done
  if [[ -n $watch ]]; then
    [[ $watch == parent ]] && watch=$PPID
    started=$(proc_start_time "$watch") || die "--watch-pid $watch: no such process"
    (setsid bash "$SELF" __watchdog "$DIR/" "$watch" "$started" </dev/null >>"$DIR/watchdog.log" 2>&1 &)
  fi
  echo "etcd: $MEMBERS members at $endpoints"
  ;;
stop)
  [[ -d $DIR ]] || exit 0
  if [[ -f "$DIR/pids/watchdog.pid" ]]; then
    wpid=$(cat "$DIR/pids/watchdog.pid")
    rm -f "$DIR/pids/watchdog.pid"
    [[ $wpid != "$$" ]] && owned_pid "$wpid" && kill "$wpid" 2>/dev/null || true
  fi
  load_env
  for ((i = 1; i <= MEMBERS; i++)); do stop_member "$i"; done
  ;;
stop-member)
  load_env
  stop_member "$1"
  ;;
start-member)
  load_env
  start_member "$1" existing
  wait_healthy "$1"
  ;;
__watchdog)
  watchdog_loop "$1" "$2"
  ;;
*) die "unknown command $cmd" ;;
esac
