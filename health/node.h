// Node: one blocking control-plane connection to a database server (libmariadb or libpq)
// with short timeouts, kept open between checks; Check() reads role, replication state and
// position in one round trip or two, Exec()/Query() run failover actions.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "routing/runtime.h"

namespace sluice::health {

struct NodeCheck {
  int64_t latency_us = 0;
  bool is_primary =
      false;               // MariaDB read_only=OFF without a replication source; PG not in recovery
  bool read_only = false;  // MariaDB @@read_only
  bool replicating = false;       // has a replication source configured
  bool threads_running = false;   // MariaDB IO+SQL threads; PG WAL receiver streaming
  std::string replication_error;  // non-empty: the replication threads stopped on an error
  std::optional<int64_t> lag_ms;  // server-reported (MariaDB Seconds_Behind_Master)
  // MariaDB: primary's @@gtid_binlog_pos, replica's @@gtid_slave_pos (applied) and Gtid_IO_Pos
  // (received).
  std::string gtid_binlog;
  std::string gtid_applied;
  std::string gtid_received;
  // PostgreSQL LSNs (0 = not applicable) and the age of the last replayed transaction.
  uint64_t lsn_current = 0;
  uint64_t lsn_received = 0;
  uint64_t lsn_replayed = 0;
  bool replay_paused = false;
  std::optional<int64_t> replay_age_ms;
  // Discovery: "host:port" of replicas the primary sees (MariaDB SHOW SLAVE HOSTS; PostgreSQL
  // the streaming standbys whose application_name is their address, health/pg_standby.h).
  std::vector<std::string> replicas;
};

using Rows = std::vector<std::vector<std::optional<std::string>>>;

class Node {
 public:
  virtual ~Node() = default;
  // Connects if needed (once), then checks. An error closes the connection.
  virtual Result<NodeCheck> Check() = 0;
  virtual Result<Rows> Query(const std::string& sql) = 0;
  // A statement whose rows do not matter: Query() without them.
  Status Exec(const std::string& sql) {
    auto r = Query(sql);
    return r.ok() ? Status::Ok() : r.status();
  }
  virtual void Close() = 0;
};

struct NodeOptions {
  Protocol protocol = Protocol::kMysql;
  std::string host;
  uint16_t port = 0;
  std::string user;
  std::string password;
  int connect_timeout_s = 1;
  int read_timeout_s = 2;
};

std::unique_ptr<Node> MakeMysqlNode(const NodeOptions& o);
std::unique_ptr<Node> MakePgNode(const NodeOptions& o);
// PostgreSQL, connected to DATABASE instead of "postgres" (the schema watch reads each
// database's own pg_catalog).
std::unique_ptr<Node> MakePgNodeFor(const NodeOptions& o, const std::string& database);
inline std::unique_ptr<Node> MakeNode(const NodeOptions& o) {
  return o.protocol == Protocol::kMysql ? MakeMysqlNode(o) : MakePgNode(o);
}

}  // namespace sluice::health
