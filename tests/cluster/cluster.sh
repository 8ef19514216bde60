#!/usr/bin/env bash
# Starts and stops real MariaDB / PostgreSQL test topologies on 127.0.0.1 under one directory.
# Serves the integration tests (CTest fixtures), the benchmarks and the README quick start.
#
#   cluster.sh start mariadb DIR [--replicas N] [--semisync] [--tls] [--watch-pid PID|parent]
#   cluster.sh start postgres DIR [--replicas N] [--sync] [--tls] [--watch-pid PID|parent]
#   cluster.sh stop DIR                    stop every process the cluster started (idempotent)
#   cluster.sh status DIR                  one line per node; exit 3 if a node is down
#   cluster.sh add-replica DIR             clone one more replica from the primary; prints its port
#   cluster.sh kill-node DIR NODE          kill -9 a node (NODE: primary, replica1, ...)
#   cluster.sh stop-node DIR NODE          clean shutdown of one node
#   cluster.sh start-node DIR NODE         start a stopped or killed node again, same port and data
#   cluster.sh rejoin DIR NODE [--primary P]  make NODE a replica of the writable node P (default:
#                                          the one other node that accepts writes), same port
#   cluster.sh fence DIR CLUSTER HOST PORT  hard fencing, as sluice's fence_command: the node on
#                                          PORT boots non-writable from now on (MariaDB
#                                          read_only=ON in its my.cnf, PostgreSQL standby.signal)
#                                          and, if running, is killed (-9, its whole process
#                                          tree: the host is powered off) until rejoin
#
# start ... --tls makes a CA and a server certificate (DIR/tls: ca.crt, server.crt for
# localhost and 127.0.0.1, client.crt) and makes every node TLS-only over TCP: MariaDB
# require_secure_transport=ON (replicas replicate with MASTER_SSL=1), PostgreSQL ssl=on and
# hostssl-only pg_hba.conf. The unix sockets the harness uses stay plain. cluster.env
# says TLS=1 and TLS_DIR.
#
# start mariadb ... --read-only-config writes read_only=ON into every node's my.cnf, the
# primary's too (made writable at runtime): a restarted node never boots writable.
#
# DIR/cluster.env holds shell-sourceable KEY=VALUE lines describing the cluster. Node names
# are the roles at start time: after a failover "primary" may no longer be the primary.
# rejoin records the roles it leaves behind in DIR/nodes/NODE/role; later starts follow them.
# Every process is recorded by PID in DIR/pids and only those PIDs are ever signalled.
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
# mariadbd and runuser live in sbin, which a non-login PATH may lack.
PATH="$PATH:/usr/sbin:/sbin"
PGBIN=/usr/lib/postgresql/15/bin
PYTHON=/usr/bin/python3
# Bound on every wait for a server to come up or replication to connect.
TIMEOUT=${SLUICE_CLUSTER_TIMEOUT:-90}
# Bound on a clean shutdown before SIGKILL.
STOP_TIMEOUT=${SLUICE_CLUSTER_STOP_TIMEOUT:-30}
# Pristine mariadb-install-db / initdb output is kept here per server version and copied
# into new clusters, which saves seconds per start on a loaded machine. Empty: no cache.
CACHE=${SLUICE_CLUSTER_CACHE-/tmp/sluice-cluster-cache}
# The watchdog gives up after this long even if the watched process lives on.
WATCHDOG_MAX_S=${SLUICE_WATCHDOG_MAX_S:-43200}

APP_USER=sluice_app APP_PASSWORD=app_pw
MONITOR_USER=monitor MONITOR_PASSWORD=monitor_pw
REPL_USER=repl REPL_PASSWORD=repl_pw
DATABASE=sluice

log() { echo "cluster.sh: $*" >&2; }
die() {
  echo "cluster.sh: error: $*" >&2
  exit 1
}
usage() {
  sed -n '4,13p' "$SELF" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

need_tools() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || die "$t not found: install the test packages (scripts/install-deps.sh)"
  done
}

# ---------------------------------------------------------------- data dir cache

# from_cache KEY DEST: copies the cached data dir KEY to DEST; fails when there is none.
from_cache() {
  [[ -n $CACHE && -f "$CACHE/$1/complete" ]] || return 1
  cp -a "$CACHE/$1/data" "$2"
}

# to_cache KEY SRC: stores SRC as KEY. Concurrent starts may race: the rename is atomic
# and the loser drops its copy.
to_cache() {
  [[ -n $CACHE ]] || return 0
  mkdir -p "$CACHE"
  local tmp
  tmp=$(mktemp -d "$CACHE/.tmp.XXXXXX")
  cp -a "$2" "$tmp/data" && touch "$tmp/complete"
  mv -T "$tmp" "$CACHE/$1" 2>/dev/null || rm -rf "$tmp"
}

cache_key() { "$@" --version | tr -c 'A-Za-z0-9.\n-' _ | head -1; }

# ---------------------------------------------------------------- ports and processes

port_free() {
  "$PYTHON" -c 'import socket,sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}

# A random high port below the Linux ephemeral range (32768+) so outgoing connections do not
# take it; two clusters started side by side collide rarely and retry when they do.
# Sets PICKED (not echoed: a $(...) subshell would lose USED_PORTS).
pick_port() {
  local p i
  for ((i = 0; i < 100; i++)); do
    p=$((15000 + RANDOM % 17000))
    if [[ " ${USED_PORTS:-} " == *" $p "* ]]; then continue; fi
    if port_free "$p"; then
      USED_PORTS="${USED_PORTS:-} $p"
      PICKED=$p
      return 0
    fi
  done
  die "no free port found on 127.0.0.1"
}

# A recorded PID is ours only while its command line still names a path inside DIR.
owned_pid() {
  local pid=$1
  [[ -n "$pid" && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DIR/"
}

node_pid() { cat "$DIR/pids/$1.pid" 2>/dev/null || true; }

node_running() {
  local pid
  pid=$(node_pid "$1")
  owned_pid "$pid"
}

# Servers are started with setsid (MariaDB) or by pg_ctl (which calls setsid), so each
# server's PID is also its process group; a group kill takes PostgreSQL's children too.
group_alive() { kill -0 -- "-$1" 2>/dev/null; }

wait_group_gone() {
  local pid=$1 limit=$2 i
  for ((i = 0; i < limit * 10; i++)); do
    group_alive "$pid" || return 0
    sleep 0.1
  done
  return 1
}

# ---------------------------------------------------------------- state

load_env() {
  [[ -f "$DIR/cluster.env" ]] || die "$DIR/cluster.env not found: no cluster started in $DIR"
  # shellcheck disable=SC1091
  source "$DIR/cluster.env"
}

node_port() { cat "$DIR/nodes/$1/port"; }

# The role NODE boots with: the one rejoin recorded, else the one its name says.
node_role() {
  if [[ -f "$DIR/nodes/$1/role" ]]; then
    cat "$DIR/nodes/$1/role"
  elif [[ $1 == primary ]]; then
    echo primary
  else
    echo replica
  fi
}

# The node replicas attach to and wait for: "primary" except during rejoin.
SOURCE=primary

write_env() {
  local tmp="$DIR/cluster.env.tmp" n names="" ports="" primary_socket
  for n in $NODES; do
    if [[ $n != primary ]]; then
      names+="${names:+ }$n"
      ports+="${ports:+ }$(node_port "$n")"
    fi
  done
  if [[ $KIND == mariadb ]]; then
    primary_socket="$RUN/primary.sock"
  else
    primary_socket="$RUN/.s.PGSQL.$(node_port primary)"
  fi
  {
    echo "KIND=$KIND"
    echo "DIR=$DIR"
    echo "HOST=127.0.0.1"
    echo "PRIMARY_PORT=$(node_port primary)"
    echo "REPLICA_PORTS=\"$ports\""
    echo "REPLICA_NAMES=\"$names\""
    echo "NODES=\"$NODES\""
    for n in $NODES; do echo "NODE_${n}_PORT=$(node_port "$n")"; done
    echo "SOCKET_DIR=$RUN"
    echo "PRIMARY_SOCKET=$primary_socket"
    echo "APP_USER=$APP_USER"
    echo "APP_PASSWORD=$APP_PASSWORD"
    echo "MONITOR_USER=$MONITOR_USER"
    echo "MONITOR_PASSWORD=$MONITOR_PASSWORD"
    echo "REPL_USER=$REPL_USER"
    echo "REPL_PASSWORD=$REPL_PASSWORD"
    if [[ $KIND == mariadb ]]; then
      echo "ADMIN_USER=root"
      echo "ADMIN_PASSWORD=root_pw"
      echo "SEMISYNC=$SYNC"
      echo "READ_ONLY_CONFIG=${READ_ONLY_CONFIG:-0}"
    else
      echo "ADMIN_USER=postgres"
      echo "ADMIN_PASSWORD=postgres_pw"
    fi
    echo "SYNC=$SYNC"
    echo "TLS=${TLS:-0}"
    echo "TLS_DIR=$DIR/tls"
    echo "DATABASE=$DATABASE"
  } >"$tmp"
  mv "$tmp" "$DIR/cluster.env"
}

# ---------------------------------------------------------------- TLS (--tls)

# A CA, a server certificate for localhost / 127.0.0.1 and a client certificate, in DIR/tls.
make_certs() {
  local t="$DIR/tls"
  mkdir -p "$t"
  (
    cd "$t"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=sluice test CA" \
      -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key \
      -out server.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile server.ext -out server.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=sluice" -keyout client.key \
      -out client.csr 2>/dev/null
    openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -out client.crt 2>/dev/null
    rm -f ./*.csr server.ext
    chmod 600 ./*.key
  ) || die "openssl could not make the test certificates in $t"
  [[ -s "$t/server.crt" && -s "$t/client.crt" ]] || die "no certificates in $t"
}

# ---------------------------------------------------------------- MariaDB

my_sql() {
  local node=$1
  shift
  mariadb --no-defaults --protocol=socket --socket="$RUN/$node.sock" -uroot \
    --connect-timeout=5 -N -B -e "$*"
}

# "Field: value" lines of a \G statement (-N would drop the field names).
my_sql_vertical() {
  mariadb --no-defaults --protocol=socket --socket="$RUN/$1.sock" -uroot \
    --connect-timeout=5 -e "$2\G"
}

my_write_cnf() {
  local node=$1 port=$2 id=$3 nd="$DIR/nodes/$1" ro=OFF role
  role=$(node_role "$node")
  [[ $role == primary && ${READ_ONLY_CONFIG:-0} != 1 && ! -f $nd/fenced ]] || ro=ON
  # Speed over durability: these servers hold throw-away test data, so no fsync per commit
  # (innodb_flush_log_at_trx_commit=2, sync_binlog=0, no doublewrite) and a small buffer pool.
  cat >"$nd/my.cnf" <<EOF
[mariadbd]
user=root
datadir=$nd/data
port=$port
bind-address=127.0.0.1
socket=$RUN/$node.sock
pid-file=$nd/mariadbd.pid
log-error=$nd/error.log
skip-name-resolve
server_id=$id
report_host=127.0.0.1
report_port=$port
log_bin=binlog
log_slave_updates=ON
binlog_format=ROW
read_only=$ro
userstat=1
max_connections=500
innodb_buffer_pool_size=32M
innodb_log_file_size=16M
innodb_flush_log_at_trx_commit=2
innodb_doublewrite=0
sync_binlog=0
EOF
  if [[ ${TLS:-0} == 1 ]]; then
    printf 'ssl_ca=%s\nssl_cert=%s\nssl_key=%s\nrequire_secure_transport=ON\n' \
      "$DIR/tls/ca.crt" "$DIR/tls/server.crt" "$DIR/tls/server.key" >>"$nd/my.cnf"
  fi
  if [[ $SYNC == 1 ]]; then
    if [[ $role == primary ]]; then
      # Fall back to async after 2 s without an ack so a killed replica cannot stall a test.
      printf 'rpl_semi_sync_master_enabled=ON\nrpl_semi_sync_master_timeout=2000\n' >>"$nd/my.cnf"
    else
      echo "rpl_semi_sync_slave_enabled=ON" >>"$nd/my.cnf"
    fi
  fi
}

my_template() {
  [[ -d "$DIR/template/data" ]] && return 0
  mkdir -p "$DIR/template"
  local key
  key=install-db-v1-$(cache_key mariadbd)
  from_cache "$key" "$DIR/template/data" && return 0
  mariadb-install-db --no-defaults --datadir="$DIR/template/data" --user=root --skip-test-db \
    --skip-name-resolve --innodb-log-file-size=16M --innodb-buffer-pool-size=32M \
    >"$DIR/template/install.log" 2>&1 || {
    tail -20 "$DIR/template/install.log" >&2
    die "mariadb-install-db failed (log: $DIR/template/install.log)"
  }
  to_cache "$key" "$DIR/template/data"
}

# Launches mariadbd for NODE in the background; my_wait_ready checks it came up. Extra
# arguments override my.cnf for this boot only.
my_launch() {
  local node=$1 nd="$DIR/nodes/$1"
  shift
  rm -f "$nd/mariadbd.pid"
  setsid mariadbd --defaults-file="$nd/my.cnf" "$@" </dev/null >>"$nd/stdout.log" 2>&1 &
  echo $! >"$DIR/pids/$node.pid"
}

# Returns 0 when NODE answers SQL, 2 when it died on a port already taken, 1 otherwise.
my_wait_ready() {
  local node=$1 pid deadline=$((SECONDS + TIMEOUT))
  pid=$(node_pid "$node")
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      if grep -q "Address already in use" "$DIR/nodes/$node/error.log" 2>/dev/null; then
        return 2
      fi
      log "mariadbd $node exited during start; last lines of its log:"
      tail -15 "$DIR/nodes/$node/error.log" >&2 || true
      return 1
    fi
    if my_sql "$node" "SELECT 1" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  log "mariadbd $node not ready after ${TIMEOUT}s"
  return 1
}

# Starts NODE (data dir already in place); on a port collision picks a new port and retries.
my_start_node() {
  local node=$1 id=$2 port attempt rc
  port=$(node_port "$node")
  for ((attempt = 0; attempt < 5; attempt++)); do
    my_write_cnf "$node" "$port" "$id"
    my_launch "$node"
    rc=0
    my_wait_ready "$node" || rc=$?
    if ((rc == 0)); then return 0; fi
    if ((rc != 2)) || [[ ${FIXED_PORT:-0} == 1 ]]; then return 1; fi
    log "port $port taken, retrying $node on another port"
    pick_port
    port=$PICKED
    echo "$port" >"$DIR/nodes/$node/port"
  done
  return 1
}

my_server_id() {
  if [[ -f "$DIR/nodes/$1/server_id" ]]; then
    cat "$DIR/nodes/$1/server_id"
  elif [[ $1 == primary ]]; then
    echo 1
  else
    echo $((${1#replica} + 1))
  fi
}

my_setup_primary() {
  my_sql primary "
    CREATE DATABASE IF NOT EXISTS $DATABASE;
    CREATE USER '$APP_USER'@'%' IDENTIFIED BY '$APP_PASSWORD';
    GRANT ALL PRIVILEGES ON $DATABASE.* TO '$APP_USER'@'%';
    CREATE USER '$MONITOR_USER'@'%' IDENTIFIED BY '$MONITOR_PASSWORD';
    GRANT PROCESS, RELOAD, SUPER, REPLICATION CLIENT, BINLOG MONITOR, SLAVE MONITOR,
      REPLICATION SLAVE ADMIN, REPLICATION MASTER ADMIN, READ_ONLY ADMIN, BINLOG ADMIN,
      CONNECTION ADMIN ON *.* TO '$MONITOR_USER'@'%';
    CREATE USER '$REPL_USER'@'%' IDENTIFIED BY '$REPL_PASSWORD';
    GRANT REPLICATION SLAVE ON *.* TO '$REPL_USER'@'%';
    CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY 'root_pw';
    GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;"
}

# Replicas start from an empty data dir and replay the primary's binlog from its start
# (binlogs are never purged here), which also brings them the users created above.
my_attach_replica() {
  local node=$1 primary_port
  primary_port=$(node_port "$SOURCE")
  my_sql "$node" "
    CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$primary_port,
      MASTER_USER='$REPL_USER', MASTER_PASSWORD='$REPL_PASSWORD',
      MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_SSL=${TLS:-0};
    START SLAVE;"
}

# Waits until NODE's IO and SQL threads both run and it has applied the primary's GTID position.
my_wait_replica() {
  local node=$1 deadline=$((SECONDS + TIMEOUT)) st pos caught
  pos=$(my_sql "$SOURCE" "SELECT @@gtid_binlog_pos")
  while ((SECONDS < deadline)); do
    st=$(my_sql_vertical "$node" "SHOW SLAVE STATUS" 2>/dev/null || true)
    if grep -q "Slave_IO_Running: Yes" <<<"$st" && grep -q "Slave_SQL_Running: Yes" <<<"$st"; then
      caught=$(my_sql "$node" "SELECT MASTER_GTID_WAIT('$pos', 1)" 2>/dev/null || true)
      if [[ $caught == 0 ]]; then return 0; fi
    fi
    sleep 0.2
  done
  log "replica $node did not start replicating within ${TIMEOUT}s; its status:"
  grep -E "Running|Last_.*Error" <<<"$st" >&2 || true
  return 1
}

my_new_node_dir() {
  local node=$1
  mkdir -p "$DIR/nodes/$node"
  cp -a "$DIR/template/data" "$DIR/nodes/$node/data"
  pick_port
  echo "$PICKED" >"$DIR/nodes/$node/port"
}

my_start_cluster() {
  local n
  my_template
  for n in $NODES; do my_new_node_dir "$n"; done
  for n in $NODES; do
    # Boot all servers at once; each one's readiness is checked right after.
    my_write_cnf "$n" "$(node_port "$n")" "$(my_server_id "$n")"
    # With semisync on from the first statement, the user setup below would wait out
    # the ack timeout (no replica yet): the primary boots without it, my_enable_semisync
    # turns it on once the replicas have caught up.
    if [[ $n == primary ]]; then
      my_launch "$n" --rpl-semi-sync-master-enabled=OFF
    else
      my_launch "$n"
    fi
  done
  for n in $NODES; do
    local rc=0
    my_wait_ready "$n" || rc=$?
    if ((rc == 2)); then
      log "port $(node_port "$n") taken, retrying $n on another port"
      pick_port
      echo "$PICKED" >"$DIR/nodes/$n/port"
      my_start_node "$n" "$(my_server_id "$n")" || return 1
    elif ((rc != 0)); then
      return 1
    fi
  done
  # read_only=ON in every config: the primary accepts writes at runtime only.
  [[ ${READ_ONLY_CONFIG:-0} == 1 ]] && my_sql primary "SET GLOBAL read_only=OFF"
  my_setup_primary
  for n in $NODES; do [[ $n == primary ]] || my_attach_replica "$n"; done
  for n in $NODES; do [[ $n == primary ]] || my_wait_replica "$n"; done
  [[ $SYNC == 1 ]] && my_enable_semisync
  return 0
}

# The replicas' IO threads reconnect so that the primary counts them as semisync clients.
my_enable_semisync() {
  local n want=0 deadline=$((SECONDS + TIMEOUT)) got=""
  my_sql primary "SET GLOBAL rpl_semi_sync_master_enabled=ON"
  for n in $NODES; do
    [[ $n == primary ]] && continue
    my_sql "$n" "STOP SLAVE IO_THREAD; START SLAVE IO_THREAD"
    want=$((want + 1))
  done
  while ((SECONDS < deadline)); do
    got=$(my_sql primary "SHOW STATUS LIKE 'Rpl_semi_sync_master_clients'" | cut -f2)
    ((got >= want)) && return 0
    sleep 0.2
  done
  log "semisync: $got of $want replicas registered within ${TIMEOUT}s"
  return 1
}

my_add_replica() {
  local node=$1
  my_new_node_dir "$node" &&
    my_start_node "$node" "$(my_server_id "$node")" &&
    my_attach_replica "$node" &&
    my_wait_replica "$node"
}

# ---------------------------------------------------------------- PostgreSQL

as_pg() { runuser -u postgres -- "$@"; }

pg_sql() {
  local node=$1
  shift
  "$PGBIN/psql" -h "$RUN" -p "$(node_port "$node")" -U postgres -d postgres -XAtq \
    -v ON_ERROR_STOP=1 -c "$*"
}

pg_check_dir() {
  if ! as_pg test -w "$DIR" -a -x "$DIR"; then
    die "the postgres OS user cannot write $DIR: every parent directory must be traversable (chmod o+x)"
  fi
  local sock="$RUN/.s.PGSQL.65535.lock"
  ((${#sock} < 100)) || die "DIR path too long for a unix socket path: $DIR"
}

# node.conf holds what differs per node; postgresql.conf includes it last so it wins.
pg_write_node_conf() {
  local node=$1 port=$2
  as_pg sh -c "echo 'port = $port' > '$DIR/nodes/$node/data/node.conf'"
}

pg_initdb_primary() {
  local nd="$DIR/nodes/primary" key
  as_pg mkdir -p "$nd"
  key=initdb-v1-$(cache_key "$PGBIN/postgres")
  if ! from_cache "$key" "$nd/data"; then
    as_pg sh -c "echo postgres_pw > '$nd/pwfile'"
    as_pg "$PGBIN/initdb" -D "$nd/data" -U postgres --pwfile="$nd/pwfile" -E UTF8 --locale=C \
      --no-sync --auth-local=trust --auth-host=scram-sha-256 >"$nd/initdb.log" 2>&1 || {
      tail -20 "$nd/initdb.log" >&2
      die "initdb failed (log: $nd/initdb.log)"
    }
    rm -f "$nd/pwfile"
    to_cache "$key" "$nd/data"
  fi
  # Speed over durability for throw-away test data: fsync and full_page_writes off.
  as_pg sh -c "cat >> '$nd/data/postgresql.conf'" <<EOF

# sluice test cluster (tests/cluster/cluster.sh)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$RUN'
wal_level = replica
hot_standby = on
max_wal_senders = 16
max_replication_slots = 16
wal_keep_size = 256MB
wal_retrieve_retry_interval = 1s
password_encryption = 'scram-sha-256'
max_connections = 300
shared_buffers = 16MB
fsync = off
full_page_writes = off
include_if_exists = 'node.conf'
EOF
  local host=host
  if [[ ${TLS:-0} == 1 ]]; then
    # TLS-only over TCP: the files are copied into the data dir (the server wants its key
    # owned by it, mode 0600), standbys get them with the base backup.
    host=hostssl
    as_pg cp "$DIR/tls/server.crt" "$DIR/tls/server.key" "$DIR/tls/ca.crt" "$nd/data/"
    as_pg chmod 600 "$nd/data/server.key"
    as_pg sh -c "cat >> '$nd/data/postgresql.conf'" <<EOF
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_ca_file = 'ca.crt'
EOF
  fi
  as_pg sh -c "cat > '$nd/data/pg_hba.conf'" <<EOF
# The harness itself uses the unix socket in $RUN; every client uses scram over TCP.
local   all          all                       trust
$host   replication  $REPL_USER  127.0.0.1/32  scram-sha-256
$host   all          all         127.0.0.1/32  scram-sha-256
EOF
}

# Returns 0 when NODE runs, 2 when it failed on a port already taken, 1 otherwise.
pg_launch() {
  local node=$1 nd="$DIR/nodes/$1"
  rm -f "$DIR/pids/$node.pid"
  if ! as_pg "$PGBIN/pg_ctl" -D "$nd/data" -l "$nd/server.log" -w -t "$TIMEOUT" start \
    >"$nd/pg_ctl.log" 2>&1; then
    if grep -q "Address already in use" "$nd/server.log" 2>/dev/null &&
      ! grep -q "pre-existing shared memory" "$nd/server.log"; then
      return 2
    fi
    log "postgres $node failed to start; last lines of its log:"
    tail -15 "$nd/server.log" >&2 || true
    return 1
  fi
  head -1 "$nd/data/postmaster.pid" >"$DIR/pids/$node.pid"
}

pg_start_node() {
  local node=$1 port attempt rc
  port=$(node_port "$node")
  for ((attempt = 0; attempt < 5; attempt++)); do
    pg_write_node_conf "$node" "$port"
    rc=0
    pg_launch "$node" || rc=$?
    if ((rc == 0)); then return 0; fi
    if ((rc != 2)) || [[ ${FIXED_PORT:-0} == 1 ]]; then return 1; fi
    # The log is appended to: move it aside so the next attempt is judged on its own lines.
    mv "$DIR/nodes/$node/server.log" "$DIR/nodes/$node/server.log.port-$port"
    log "port $port taken, retrying $node on another port"
    pick_port
    [[ $node == primary ]] || pg_rename_standby "$node" "$port" "$PICKED"
    port=$PICKED
    echo "$port" >"$DIR/nodes/$node/port"
  done
  return 1
}

# The stopped standby NODE moves from port OLD to NEW: its name (pg_standby_name) follows.
# Only application_name holds "127.0.0.1:OLD"; the primary's address is host= and port=.
pg_rename_standby() {
  local node=$1 old=$2 new=$3
  as_pg sed -i "/^primary_conninfo/s/127\.0\.0\.1:$old\b/127.0.0.1:$new/" \
    "$DIR/nodes/$node/data/postgresql.auto.conf"
}

pg_setup_primary() {
  pg_sql primary "CREATE ROLE $APP_USER LOGIN PASSWORD '$APP_PASSWORD'" >/dev/null
  pg_sql primary "CREATE ROLE $MONITOR_USER LOGIN PASSWORD '$MONITOR_PASSWORD'" >/dev/null
  pg_sql primary "GRANT pg_monitor TO $MONITOR_USER" >/dev/null
  pg_sql primary "CREATE ROLE $REPL_USER LOGIN REPLICATION PASSWORD '$REPL_PASSWORD'" >/dev/null
  pg_sql primary "CREATE DATABASE $DATABASE OWNER $APP_USER" >/dev/null
}

# A standby's application_name is its own address, 127.0.0.1:PORT: the convention by which
# sluice discovers PostgreSQL standbys (docs/architecture.md), and the name it has in
# pg_stat_replication and for synchronous_standby_names.
pg_standby_name() { echo "127.0.0.1:$(node_port "$1")"; }

# Clones NODE from the primary with pg_basebackup -R, named by pg_standby_name.
pg_new_node_dir() {
  as_pg mkdir -p "$DIR/nodes/$1"
  pick_port
  echo "$PICKED" >"$DIR/nodes/$1/port"
}

pg_clone_replica() {
  local node=$1 nd="$DIR/nodes/$1" conninfo
  conninfo="host=127.0.0.1 port=$(node_port "$SOURCE") user=$REPL_USER password=$REPL_PASSWORD"
  conninfo+=" application_name=$(pg_standby_name "$node")"
  as_pg "$PGBIN/pg_basebackup" -D "$nd/data" -d "$conninfo" -R -X stream -c fast --no-sync \
    >"$nd/basebackup.log" 2>&1 || {
    tail -20 "$nd/basebackup.log" >&2
    die "pg_basebackup for $node failed"
  }
}

# Waits until the primary shows every named replica node as streaming.
pg_wait_streaming() {
  local want=$# deadline=$((SECONDS + TIMEOUT)) got=0 names="" n
  for n in "$@"; do names+="${names:+,}'$(pg_standby_name "$n")'"; done
  while ((SECONDS < deadline)); do
    got=$(pg_sql "$SOURCE" "SELECT count(*) FROM pg_stat_replication
      WHERE state = 'streaming' AND application_name IN ($names)" 2>/dev/null || echo 0)
    ((got >= want)) && return 0
    sleep 0.2
  done
  log "only $got of $want replicas streaming after ${TIMEOUT}s"
  pg_sql "$SOURCE" "SELECT application_name, state FROM pg_stat_replication" >&2 || true
  return 1
}

pg_start_cluster() {
  local n
  pg_check_dir
  pg_initdb_primary
  pick_port
  echo "$PICKED" >"$DIR/nodes/primary/port"
  pg_start_node primary
  pg_setup_primary
  # Replicas are cloned and started side by side: ports are picked here first so that
  # the background jobs do not pick the same one.
  local jobs=() job failed=0
  for n in ${NODES#primary}; do pg_new_node_dir "$n"; done
  for n in ${NODES#primary}; do
    (pg_clone_replica "$n" && pg_start_node "$n") &
    jobs+=($!)
  done
  for job in "${jobs[@]}"; do wait "$job" || failed=1; done
  ((failed == 0)) || return 1
  # shellcheck disable=SC2086
  pg_wait_streaming ${NODES#primary}
  if [[ $SYNC == 1 ]]; then
    # Only now: set earlier, the role setup above would wait forever for a standby.
    # ALTER SYSTEM keeps it across restarts; clones made later copy it, harmless on a standby.
    pg_sql primary "ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (*)'" >/dev/null
    pg_sql primary "SELECT pg_reload_conf()" >/dev/null
    # shellcheck disable=SC2086
    pg_wait_quorum ${NODES#primary}
  fi
}

# Waits until the primary counts every named replica node as a quorum candidate: a new
# standby shows sync_state 'async' until it has reported a flush position.
pg_wait_quorum() {
  local want=$# deadline=$((SECONDS + TIMEOUT)) got=0 names="" n
  for n in "$@"; do names+="${names:+,}'$(pg_standby_name "$n")'"; done
  while ((SECONDS < deadline)); do
    got=$(pg_sql "$SOURCE" "SELECT count(*) FROM pg_stat_replication
      WHERE sync_state = 'quorum' AND application_name IN ($names)" 2>/dev/null || echo 0)
    ((got >= want)) && return 0
    sleep 0.2
  done
  log "synchronous replication did not engage for $* within ${TIMEOUT}s"
  return 1
}

pg_add_replica() {
  local node=$1
  pg_new_node_dir "$node" && pg_clone_replica "$node" && pg_start_node "$node" &&
    pg_wait_streaming "$node" || return 1
  if [[ $SYNC == 1 ]]; then pg_wait_quorum "$node"; fi
}

# ---------------------------------------------------------------- stop / watchdog

# Signals every recorded server, waits for each to exit, SIGKILLs its group after the bound.
stop_nodes() {
  local n pid sig waiting=()
  for f in "$DIR"/pids/*.pid; do
    [[ -e $f ]] || continue
    n=$(basename "$f" .pid)
    [[ $n == watchdog ]] && continue
    pid=$(cat "$f")
    if owned_pid "$pid"; then
      sig=TERM
      [[ ${KIND:-} == postgres ]] && sig=INT # fast shutdown: do not wait for clients
      kill -s "$sig" "$pid" 2>/dev/null || true
      waiting+=("$n:$pid")
    else
      rm -f "$f"
    fi
  done
  for w in "${waiting[@]}"; do
    n=${w%%:*}
    pid=${w#*:}
    if ! wait_group_gone "$pid" "$STOP_TIMEOUT"; then
      log "$n (pid $pid) did not stop within ${STOP_TIMEOUT}s, sending SIGKILL"
      kill -9 -- "-$pid" 2>/dev/null || true
      wait_group_gone "$pid" 10 || log "$n (pid $pid) still alive after SIGKILL"
    fi
    rm -f "$DIR/pids/$n.pid"
  done
}

stop_watchdog() {
  local f="$DIR/pids/watchdog.pid" pid
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  rm -f "$f"
  # The watchdog runs this script's stop itself; it must not signal itself.
  if [[ ${SLUICE_WATCHDOG_PID:-} != "$pid" ]] && owned_pid "$pid"; then
    kill "$pid" 2>/dev/null || true
  fi
}

do_stop() {
  [[ -d "$DIR" ]] || return 0
  [[ -f "$DIR/cluster.env" ]] && source "$DIR/cluster.env"
  KIND=${KIND:-$(cat "$DIR/.sluice-cluster" 2>/dev/null || true)}
  stop_watchdog
  stop_nodes
  rm -f "$DIR/cluster.env"
}

proc_start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat
  echo "${20}"
}

# Runs detached: stops the cluster once the watched process is gone (also when it was
# killed -9), and exits by itself when the cluster is stopped or after WATCHDOG_MAX_S.
watchdog_loop() {
  local watched=$1 started=$2 i now mine
  export SLUICE_WATCHDOG_PID=$$
  echo $$ >"$DIR/pids/watchdog.pid"
  for ((i = 0; i < WATCHDOG_MAX_S; i++)); do
    # stop removes the pid file: then this watchdog has nothing left to do.
    mine=$(cat "$DIR/pids/watchdog.pid" 2>/dev/null || true)
    [[ $mine == "$$" ]] || exit 0
    now=$(proc_start_time "$watched" || true)
    if [[ $now != "$started" ]]; then
      echo "$(date '+%F %T') watched pid $watched is gone: stopping the cluster"
      bash "$SELF" stop "$DIR"
      exit 0
    fi
    sleep 1
  done
  echo "$(date '+%F %T') watchdog reached its ${WATCHDOG_MAX_S}s bound, leaving the cluster up"
}

start_watchdog() {
  local watched=$1 started
  [[ $watched == parent ]] && watched=$PPID
  started=$(proc_start_time "$watched") || die "--watch-pid $watched: no such process"
  # The trailing "$DIR/" argument lets owned_pid recognise the watchdog as ours. The
  # subshell exits at once so the watchdog is nobody's child: ctest kills a timed-out test's
  # whole process tree, and the watchdog must outlive that to clean up.
  rm -f "$DIR/pids/watchdog.pid"
  (setsid bash "$SELF" __watchdog "$DIR/" "$watched" "$started" </dev/null \
    >>"$DIR/watchdog.log" 2>&1 &)
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s "$DIR/pids/watchdog.pid" ]] && return 0
    sleep 0.1
  done
  die "the watchdog did not start (log: $DIR/watchdog.log)"
}

# ---------------------------------------------------------------- commands

# Unix socket paths are limited to 107 bytes: under a long DIR (a CI clone's build tree)
# the sockets live in a short directory of their own, named from DIR so that every command
# on the cluster finds the same one.
set_run_dir() {
  RUN="$DIR/run"
  if ((${#RUN} > 60)); then
    RUN="/tmp/sluice-run-$(printf '%s' "$DIR" | md5sum | cut -c1-12)"
  fi
}

set_dir() {
  [[ -n "${1:-}" ]] || usage
  mkdir -p "$1"
  DIR=$(cd "$1" && pwd -P)
  set_run_dir
}

# For commands on an existing cluster: loads cluster.env and knows its ports as taken.
use_cluster() {
  [[ -n "${1:-}" ]] || usage
  [[ -d "$1" ]] || die "$1: no such directory"
  DIR=$(cd "$1" && pwd -P)
  set_run_dir
  load_env
  local n
  for n in $NODES; do USED_PORTS="${USED_PORTS:-} $(node_port "$n")"; done
}

cmd_start() {
  local kind=${1:-} replicas=2 watch="" i
  [[ $kind == mariadb || $kind == postgres ]] || usage
  set_dir "${2:-}"
  shift 2
  SYNC=0 READ_ONLY_CONFIG=0 TLS=0
  while (($#)); do
    case $1 in
      --tls) TLS=1; shift ;;
      --replicas) replicas=${2:?--replicas needs N}; shift 2 ;;
      --semisync) [[ $kind == mariadb ]] || die "--semisync is for mariadb (postgres: --sync)"; SYNC=1; shift ;;
      --sync) [[ $kind == postgres ]] || die "--sync is for postgres (mariadb: --semisync)"; SYNC=1; shift ;;
      --read-only-config) [[ $kind == mariadb ]] || die "--read-only-config is for mariadb"; READ_ONLY_CONFIG=1; shift ;;
      --watch-pid) watch=${2:?--watch-pid needs a PID}; shift 2 ;;
      *) usage ;;
    esac
  done
  [[ $replicas =~ ^[0-9]+$ ]] || die "--replicas takes a number"

  if [[ -f "$DIR/.sluice-cluster" ]]; then
    do_stop
    rm -rf "$DIR/nodes" "$RUN" "$DIR/pids" "$DIR/template" "$DIR"/*.log
  elif [[ -n "$(ls -A "$DIR")" ]]; then
    die "$DIR is not empty and holds no cluster: refusing to use it"
  fi
  if [[ $kind == mariadb ]]; then
    need_tools mariadbd mariadb-install-db mariadb setsid "$PYTHON"
  else
    need_tools runuser "$PGBIN/initdb" "$PGBIN/pg_ctl" "$PGBIN/pg_basebackup" "$PGBIN/psql" "$PYTHON"
  fi
  KIND=$kind
  echo "$KIND" >"$DIR/.sluice-cluster"
  mkdir -p "$DIR/nodes" "$RUN" "$DIR/pids"
  NODES=primary
  for ((i = 1; i <= replicas; i++)); do NODES+=" replica$i"; done

  STARTING=1
  trap 'start_failed $?' EXIT
  [[ -n $watch ]] && start_watchdog "$watch"
  local t0=$SECONDS
  [[ $TLS == 1 ]] && make_certs
  if [[ $KIND == mariadb ]]; then
    my_start_cluster
  else
    chown -R postgres:postgres "$DIR" "$RUN"
    pg_start_cluster
  fi
  write_env
  STARTING=0
  trap - EXIT
  log "$KIND cluster up in $((SECONDS - t0))s ($replicas replicas) in $DIR"
  for i in $NODES; do echo "$i $(node_port "$i")"; done
}

start_failed() {
  local rc=$1
  if [[ ${STARTING:-0} == 1 && $rc != 0 ]]; then
    log "start failed: stopping what was started in $DIR"
    do_stop || true
  fi
  exit "$rc"
}

cmd_stop() {
  [[ -n "${1:-}" ]] || usage
  [[ -d "$1" ]] || return 0
  DIR=$(cd "$1" && pwd -P)
  set_run_dir
  [[ -f "$DIR/.sluice-cluster" ]] || die "$DIR holds no cluster"
  do_stop
  # A socket directory outside DIR goes with the cluster.
  [[ $RUN == "$DIR/run" ]] || rm -rf "$RUN"
}

cmd_status() {
  use_cluster "${1:-}"
  local n pid state rc=0
  for n in $NODES; do
    pid=$(node_pid "$n")
    if owned_pid "$pid"; then state=running; else state=down; rc=3; fi
    echo "$n port=$(node_port "$n") pid=${pid:--} $state"
  done
  return $rc
}

check_node() {
  [[ " $NODES " == *" $1 "* ]] || die "no node '$1' (nodes: $NODES)"
}

cmd_kill_node() {
  use_cluster "${1:-}"
  local node=${2:-} pid
  check_node "$node"
  pid=$(node_pid "$node")
  owned_pid "$pid" || die "$node is not running"
  kill -9 -- "-$pid"
  wait_group_gone "$pid" 10 || die "$node (pid $pid) survived SIGKILL"
  rm -f "$DIR/pids/$node.pid"
}

cmd_stop_node() {
  use_cluster "${1:-}"
  local node=${2:-} pid sig=TERM
  check_node "$node"
  pid=$(node_pid "$node")
  owned_pid "$pid" || return 0
  [[ $KIND == postgres ]] && sig=INT
  kill -s "$sig" "$pid"
  if ! wait_group_gone "$pid" "$STOP_TIMEOUT"; then
    kill -9 -- "-$pid" 2>/dev/null || true
    wait_group_gone "$pid" 10 || die "$node (pid $pid) survived SIGKILL"
  fi
  rm -f "$DIR/pids/$node.pid"
}

cmd_start_node() {
  use_cluster "${1:-}"
  local node=${2:-}
  check_node "$node"
  node_running "$node" && return 0
  # A restarted node keeps its port: clients and replicas know it by that port.
  FIXED_PORT=1
  if [[ $KIND == mariadb ]]; then
    my_start_node "$node" "$(my_server_id "$node")" || die "could not start $node"
  else
    pg_start_node "$node" || die "could not start $node"
  fi
  node_port "$node"
}

cmd_add_replica() {
  use_cluster "${1:-}"
  local k=1 node
  while [[ -e "$DIR/nodes/replica$k" ]]; do k=$((k + 1)); done
  node=replica$k
  NODES+=" $node"
  if [[ $KIND == mariadb ]]; then
    my_add_replica "$node" || die "could not add $node"
  else
    pg_add_replica "$node" || die "could not add $node"
  fi
  write_env
  node_port "$node"
}

# ---------------------------------------------------------------- rejoin

# Whether NODE (running) accepts writes: MariaDB read_only off; PostgreSQL not in recovery
# and not fenced by default_transaction_read_only.
node_writable() {
  local v
  if [[ $KIND == mariadb ]]; then
    v=$(my_sql "$1" "SELECT @@read_only" 2>/dev/null) || return 1
    [[ $v == 0 ]]
  else
    v=$(pg_sql "$1" "SELECT NOT pg_is_in_recovery()
      AND current_setting('default_transaction_read_only') = 'off'" 2>/dev/null) || return 1
    [[ $v == t ]]
  fi
}

# Sets SOURCE to the one running node other than $1 that accepts writes.
find_writable_source() {
  local n found=""
  for n in $NODES; do
    [[ $n == "$1" ]] && continue
    node_running "$n" || continue
    if node_writable "$n"; then found+="${found:+ }$n"; fi
  done
  [[ -n $found && $found != *" "* ]] || die "rejoin $1: want exactly one other writable node, found '${found}'"
  SOURCE=$found
}

# Stops NODE (clean, then SIGKILL after the bound) if it runs.
stop_if_running() {
  local node=$1 pid sig=TERM
  pid=$(node_pid "$node")
  if owned_pid "$pid"; then
    [[ $KIND == postgres ]] && sig=INT
    kill -s "$sig" "$pid" 2>/dev/null || true
    if ! wait_group_gone "$pid" "$STOP_TIMEOUT"; then
      kill -9 -- "-$pid" 2>/dev/null || true
      wait_group_gone "$pid" 10 || die "$node (pid $pid) survived SIGKILL"
    fi
  fi
  rm -f "$DIR/pids/$node.pid"
}

# Waits until NODE replicates from SOURCE and has applied its position. Returns 1 at once
# when the IO thread reports an error (e.g. 1236: NODE has transactions SOURCE never had).
my_wait_rejoined() {
  local node=$1 deadline=$((SECONDS + TIMEOUT)) st pos caught errno
  pos=$(my_sql "$SOURCE" "SELECT @@gtid_binlog_pos")
  while ((SECONDS < deadline)); do
    st=$(my_sql_vertical "$node" "SHOW SLAVE STATUS" 2>/dev/null || true)
    errno=$(sed -n 's/^ *Last_IO_Errno: //p' <<<"$st")
    if [[ -n $errno && $errno != 0 ]]; then
      log "rejoin $node: replication from $SOURCE fails: $(sed -n 's/^ *Last_IO_Error: //p' <<<"$st")"
      return 1
    fi
    if grep -q "Slave_IO_Running: Yes" <<<"$st" && grep -q "Slave_SQL_Running: Yes" <<<"$st"; then
      caught=$(my_sql "$node" "SELECT MASTER_GTID_WAIT('$pos', 1)" 2>/dev/null || true)
      if [[ $caught == 0 ]]; then return 0; fi
    fi
    sleep 0.2
  done
  log "rejoin $node: not caught up with $SOURCE within ${TIMEOUT}s"
  return 1
}

# MariaDB: NODE boots read-only and follows SOURCE by GTID from its own position
# (current_pos: an old primary's last transactions are in its binlog, not in its slave
# position). When SOURCE lacks some of NODE's transactions (an old primary's writes that
# never replicated) NODE is cloned afresh: an empty data dir replays SOURCE's binlog.
my_rejoin() {
  local node=$1 id
  id=$(my_server_id "$node")
  echo replica >"$DIR/nodes/$node/role"
  echo primary >"$DIR/nodes/$SOURCE/role"
  my_start_node "$node" "$id" || die "could not start $node"
  my_sql "$node" "STOP SLAVE; RESET SLAVE ALL;
    CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$(node_port "$SOURCE"),
      MASTER_USER='$REPL_USER', MASTER_PASSWORD='$REPL_PASSWORD',
      MASTER_USE_GTID=current_pos, MASTER_CONNECT_RETRY=1, MASTER_SSL=${TLS:-0};
    START SLAVE;"
  if ! my_wait_rejoined "$node"; then
    log "rejoin $node: cloning it afresh from $SOURCE"
    stop_if_running "$node"
    rm -rf "$DIR/nodes/$node/data"
    cp -a "$DIR/template/data" "$DIR/nodes/$node/data"
    # A new server_id: a replica skips the events that carry its own id, and SOURCE's
    # binlog holds this node's old transactions under the old one.
    local n max=0
    for n in $NODES; do
      (($(my_server_id "$n") > max)) && max=$(my_server_id "$n")
    done
    id=$((max + 1))
    echo "$id" >"$DIR/nodes/$node/server_id"
    my_start_node "$node" "$id" || die "could not start $node"
    my_attach_replica "$node" && my_wait_rejoined "$node" || die "could not rejoin $node"
  fi
  if [[ $SYNC == 1 ]]; then
    # The promoted node booted as a semisync replica: it acknowledges, it does not wait.
    my_sql "$SOURCE" "SET GLOBAL rpl_semi_sync_master_timeout=2000;
      SET GLOBAL rpl_semi_sync_master_enabled=ON"
    my_sql "$SOURCE" "SET GLOBAL rpl_semi_sync_slave_enabled=OFF"
    my_sql "$node" "SET GLOBAL rpl_semi_sync_master_enabled=OFF;
      SET GLOBAL rpl_semi_sync_slave_enabled=ON; STOP SLAVE IO_THREAD; START SLAVE IO_THREAD"
  fi
}

# PostgreSQL: pg_rewind needs wal_log_hints and full_page_writes, which these clusters turn
# off for speed, so NODE is always cloned afresh from SOURCE (small test data: seconds).
pg_rejoin() {
  local node=$1
  as_pg rm -rf "$DIR/nodes/$node/data"
  pg_clone_replica "$node"
  pg_start_node "$node" || die "could not start $node"
  pg_wait_streaming "$node" || die "$node does not stream from $SOURCE"
  if [[ $SYNC == 1 ]]; then
    # A standby cloned before the cluster became synchronous lacks the setting: a promoted
    # one must wait for a standby too.
    if [[ -z $(pg_sql "$SOURCE" "SHOW synchronous_standby_names") ]]; then
      pg_sql "$SOURCE" "ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (*)'" >/dev/null
      pg_sql "$SOURCE" "SELECT pg_reload_conf()" >/dev/null
    fi
    pg_wait_quorum "$node" || die "$node is not a synchronous candidate of $SOURCE"
  fi
}

cmd_rejoin() {
  use_cluster "${1:-}"
  local node=${2:-} t0=$SECONDS
  check_node "$node"
  shift 2
  SOURCE=""
  while (($#)); do
    case $1 in
      --primary) SOURCE=${2:?--primary needs a node}; shift 2 ;;
      *) usage ;;
    esac
  done
  if [[ -n $SOURCE ]]; then
    check_node "$SOURCE"
    [[ $SOURCE != "$node" ]] || die "rejoin: $node cannot follow itself"
    node_writable "$SOURCE" || die "rejoin: $SOURCE does not accept writes"
  else
    find_writable_source "$node"
  fi
  stop_if_running "$node"
  FIXED_PORT=1
  rm -f "$DIR/nodes/$node/fenced"
  if [[ $KIND == mariadb ]]; then my_rejoin "$node"; else pg_rejoin "$node"; fi
  log "$node rejoined as a replica of $SOURCE in $((SECONDS - t0))s"
  node_port "$node"
}

# PID and every process below it (a PostgreSQL postmaster's backends), deepest last.
# PID and every process below it, from one `ps` snapshot: a fence runs while the machine may
# be loaded, and one `ps` per process of a PostgreSQL server took seconds there.
process_tree() {
  ps -eo pid=,ppid= 2>/dev/null | awk -v root="$1" '
    { kids[$2] = kids[$2] " " $1 }
    END {
      n = 1; todo[1] = root
      while (n > 0) {
        p = todo[n--]; printf "%s ", p
        m = split(kids[p], k, " ")
        for (i = 1; i <= m; i++) todo[++n] = k[i]
      }
      print ""
    }'
}

# Waits up to LIMIT seconds until every PID is gone or a zombie (dead, its parent has not
# reaped it yet: it holds no port and runs no code).
procs_dead() {
  local limit=$1 i p st alive
  shift
  for ((i = 0; i < limit * 50; i++)); do
    alive=0
    for p in "$@"; do
      # read is a builtin: no process per PID per poll. The state follows "(comm) ".
      st=""
      read -r st 2>/dev/null </proc/"$p"/stat || continue
      st=${st##*) }
      st=${st%% *}
      [[ -z $st || $st == Z || $st == X ]] || alive=1
    done
    ((alive)) || return 0
    sleep 0.02
  done
  return 1
}

cmd_fence() {
  use_cluster "${1:-}"
  local port=${4:-} n node="" pid procs
  [[ $port =~ ^[0-9]+$ ]] || die "fence: usage: fence DIR CLUSTER HOST PORT"
  for n in $NODES; do [[ $(node_port "$n") == "$port" ]] && node=$n; done
  [[ -n $node ]] || die "fence: no node on port $port (nodes: $NODES)"
  # First the boot: it must come up refusing writes, whenever it comes up.
  touch "$DIR/nodes/$node/fenced"
  if [[ $KIND == postgres ]]; then
    as_pg touch "$DIR/nodes/$node/data/standby.signal"
  else
    sed -i 's/^read_only=.*/read_only=ON/' "$DIR/nodes/$node/my.cnf"
  fi
  # Then the power: a running (or hung) server is killed, stopped processes included. A
  # PostgreSQL node that is booting has no pids/NODE.pid yet (pg_launch writes it once
  # pg_ctl is done) but its postmaster.pid: it may have read its signal files already.
  pid=$(node_pid "$node")
  if ! owned_pid "$pid" && [[ $KIND == postgres ]]; then
    pid=$(head -1 "$DIR/nodes/$node/data/postmaster.pid" 2>/dev/null || true)
  fi
  if owned_pid "$pid"; then
    procs=$(process_tree "$pid")
    # shellcheck disable=SC2086
    kill -9 $procs 2>/dev/null || true
    # shellcheck disable=SC2086
    procs_dead 10 $procs || die "fence: $node (pid $pid) survived SIGKILL"
    rm -f "$DIR/pids/$node.pid"
    log "fenced $node (port $port): killed, boots non-writable until rejoin"
  else
    log "fenced $node (port $port): not running, boots non-writable until rejoin"
  fi
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    add-replica) cmd_add_replica "$@" ;;
    kill-node) cmd_kill_node "$@" ;;
    stop-node) cmd_stop_node "$@" ;;
    start-node) cmd_start_node "$@" ;;
    rejoin) cmd_rejoin "$@" ;;
    fence) cmd_fence "$@" ;;
    __watchdog)
      DIR=${1%/}
      watchdog_loop "$2" "$3"
      ;;
    *) usage ;;
  esac
}

main "$@"
