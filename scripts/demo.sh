#!/usr/bin/env bash
# Local demo: installs what it needs, builds sluice, starts a MariaDB cluster and a
# PostgreSQL cluster (primary + 2 replicas each, from tests/cluster/cluster.sh) on free
# loopback ports, starts sluice in front of both, and prints the lines to connect.
#
#   scripts/demo.sh          set up and start (leaves everything running)
#   scripts/demo.sh stop     stop sluice and both clusters
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN=${SLUICE_DEMO_DIR:-$ROOT/demo-run}
BUILD=${SLUICE_BUILD_DIR:-$ROOT/build}
CLUSTER=$ROOT/tests/cluster/cluster.sh

stop() {
  if [[ -f $RUN/sluice.pid ]]; then
    pid=$(cat "$RUN/sluice.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
    rm -f "$RUN/sluice.pid"
  fi
  [[ -d $RUN/mariadb ]] && bash "$CLUSTER" stop "$RUN/mariadb" || true
  [[ -d $RUN/postgres ]] && bash "$CLUSTER" stop "$RUN/postgres" || true
}

if [[ ${1:-} == stop ]]; then
  stop
  echo "demo stopped"
  exit 0
fi

bash "$ROOT/scripts/install-deps.sh"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target sluice

stop  # a previous demo, if any
mkdir -p "$RUN"
bash "$CLUSTER" start mariadb "$RUN/mariadb" --replicas 2 >/dev/null
bash "$CLUSTER" start postgres "$RUN/postgres" --replicas 2 >/dev/null

# A free loopback port for each listener.
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
MY_PORT=$(free_port) PG_PORT=$(free_port) ADMIN_PORT=$(free_port)

servers() {  # servers ENVFILE -> [[cluster.server]] tables
  (
    source "$1"
    printf '  [[cluster.server]]\n  host = "127.0.0.1"\n  port = %s\n  role = "primary"\n\n' "$PRIMARY_PORT"
    for p in $REPLICA_PORTS; do
      printf '  [[cluster.server]]\n  host = "127.0.0.1"\n  port = %s\n  role = "replica"\n\n' "$p"
    done
  )
}

cat >"$RUN/sluice.toml" <<TOML
# Written by scripts/demo.sh
[sluice]
workers = 2
log_level = "info"

[admin]
listen = "127.0.0.1:$ADMIN_PORT"
user = "admin"
password = "admin_pw"
data_dir = ""

[[cluster]]
name = "demo_mariadb"
protocol = "mysql"
listen = "127.0.0.1:$MY_PORT"
monitor_user = "monitor"
monitor_password = "monitor_pw"
$(servers "$RUN/mariadb/cluster.env")
[[cluster]]
name = "demo_postgres"
protocol = "postgresql"
listen = "127.0.0.1:$PG_PORT"
writer_hostgroup = 10
reader_hostgroup = 11
monitor_user = "monitor"
monitor_password = "monitor_pw"
$(servers "$RUN/postgres/cluster.env")
[[user]]
name = "sluice_app"
password = "app_pw"
cluster = "demo_mariadb"
default_schema = "sluice"

# Users are per cluster: the same name logs in on the PostgreSQL cluster too (it could
# have a password of its own there).
[[user]]
name = "sluice_app"
password = "app_pw"
cluster = "demo_postgres"
TOML

"$BUILD/proxy/sluice" --config "$RUN/sluice.toml" >"$RUN/sluice.log" 2>&1 &
echo $! >"$RUN/sluice.pid"
for port in $MY_PORT $PG_PORT; do
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$(cat "$RUN/sluice.pid")" 2>/dev/null || { cat "$RUN/sluice.log"; exit 1; }
    sleep 0.1
  done
done

source "$RUN/mariadb/cluster.env"; MY_PRIMARY=$PRIMARY_PORT
source "$RUN/postgres/cluster.env"; PG_PRIMARY=$PRIMARY_PORT
cat <<MSG

sluice demo is running (log: $RUN/sluice.log, config: $RUN/sluice.toml).

MariaDB through sluice (writes go to the primary, reads to the replicas):
  mariadb -h127.0.0.1 -P$MY_PORT -usluice_app -papp_pw sluice -e 'SELECT @@hostname, @@port'

PostgreSQL through sluice:
  PGPASSWORD=app_pw psql -h 127.0.0.1 -p $PG_PORT -U sluice_app sluice -c 'SELECT inet_server_port()'

The clusters directly: MariaDB primary on port $MY_PRIMARY, PostgreSQL primary on port $PG_PRIMARY
(user sluice_app, password app_pw). Admin port (MySQL protocol):
  mariadb -h127.0.0.1 -P$ADMIN_PORT -uadmin -padmin_pw -e 'SELECT * FROM runtime_servers'
Stop everything with: scripts/demo.sh stop
MSG
