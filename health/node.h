// Node: one blocking control-plane connection to a database server (libmariadb or libpq)
// with short timeouts. Every engine-specific statement lives behind it: the decision code
// sees engine-neutral facts (NodeCheck) and asks for engine-neutral actions.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "health/positions.h"
#include "routing/runtime.h"

namespace sluice::health {

struct NodeCheck {
  int64_t latency_us = 0;
  // Accepts writes from clients: MariaDB read_only=OFF and no replication source; PostgreSQL
  // not in recovery and default_transaction_read_only off. The one fact failover, adoption
  // and split-brain detection decide on.
  bool writable = false;
  // Not a replica: MariaDB without a replication source, PostgreSQL not in recovery. A
  // fenced old primary is a primary that is not writable.
  bool is_primary = false;
  bool replicating = false;       // has a replication source configured (a replica)
  bool streaming = false;         // MariaDB IO+SQL threads; PG WAL receiver streaming
  std::string replication_error;  // non-empty: the replication threads stopped on an error
  std::optional<int64_t> lag_ms;  // server-reported: MariaDB Seconds_Behind_Master
  // Age of the last replayed transaction (PostgreSQL); grows on a quiet cluster, so it is a
  // lag only while the primary is writing.
  std::optional<int64_t> replay_age_ms;
  // Positions (positions.h): what a primary wrote, what a replica received and applied.
  Position written;
  Position received;
  Position applied;
  // Discovery: "host:port" of replicas the primary sees (MariaDB SHOW SLAVE HOSTS; PostgreSQL
  // the streaming standbys whose application_name is their address, health/pg_standby.h).
  std::vector<std::string> replicas;
  // A check statement the monitor login may not run (MariaDB 1227/1142, PostgreSQL 42501):
  // the server answers, the monitor is misconfigured. Reported, never a reason to shun.
  std::string privilege_error;
};

// Where a re-pointed replica replicates from, with the configured replication login.
struct ReplicationSource {
  std::string host;
  uint16_t port = 0;
  std::string user;
  std::string password;
};

using Rows = std::vector<std::vector<std::optional<std::string>>>;

class Node {
 public:
  virtual ~Node() = default;
  // Connects if needed (once), then checks. An error closes the connection.
  virtual Result<NodeCheck> Check() = 0;

  // Failover actions (the admin login). Each is bounded by the node's timeouts.
  // A replica becomes the primary: applies what it received (CHECK is its last check),
  // stops replicating, accepts writes.
  virtual Status Promote(const NodeCheck& check) = 0;
  // Refuse writes, then end the client sessions of everyone but KEEP_USERS and the
  // replication streams; returns what was done, for the event log.
  virtual Result<std::string> Fence(const std::vector<std::string>& keep_users) = 0;
  // Undoes Fence()'s write refusal (an aborted switchover).
  virtual Status Unfence() = 0;
  // Replicate from SOURCE. FORMER_PRIMARY: the node was a primary (its own writes are in its
  // binlog); only for engines that CanRejoinLive().
  virtual Status Repoint(const ReplicationSource& source, bool former_primary) = 0;
  // Waits until this node applied POSITION; Unavailable after TIMEOUT_MS.
  virtual Status WaitApplied(const Position& position, int timeout_ms) = 0;
  // Whether a running primary can be turned into a replica (MariaDB: CHANGE MASTER); a
  // PostgreSQL primary needs pg_rewind and a restart ("needs rejoin").
  virtual bool CanRejoinLive() const = 0;
  virtual void Close() = 0;
  // Plain SQL for the control plane's other readers (the schema watch's one catalog query
  // per round); the failover and switchover logic never calls these. Fakes need not.
  virtual Result<Rows> Query(const std::string& sql) {
    return Internal("Query is not supported by this node: " + sql);
  }
  virtual Status Exec(const std::string& sql) {
    auto r = Query(sql);
    return r.ok() ? Status::Ok() : r.status();
  }
};

struct NodeOptions {
  Protocol protocol = Protocol::kMysql;
  std::string host;
  uint16_t port = 0;
  std::string user;
  std::string password;
  // Bounds on one connect (TCP + login) and on one statement's answer. A hung server (a
  // SIGSTOPped host keeps accepting TCP and never answers) costs at most these, so the
  // checks keep to the failover window. MariaDB rounds them up to whole seconds.
  int connect_timeout_ms = 1000;
  int read_timeout_ms = 2000;
  // The cluster's backend_tls: the monitor, failover and switchover connect as the data
  // plane does (libmariadb MYSQL_OPT_SSL_*, libpq sslmode), so a TLS-only server stays
  // monitored.
  BackendTls tls = {};
};

// The check's bounds for a cluster with FAILOVER_WINDOW_MS: half the window, at most 1 s,
// at least 100 ms, so that two checks fail within the window of a hung primary.
int CheckTimeoutMs(int failover_window_ms);

std::unique_ptr<Node> MakeMysqlNode(const NodeOptions& o);
std::unique_ptr<Node> MakePgNode(const NodeOptions& o);
// How the monitor gets its Nodes; unit tests pass a factory of scripted fakes.
using NodeFactory = std::function<std::unique_ptr<Node>(const NodeOptions&)>;
// PostgreSQL, connected to DATABASE instead of "postgres" (the schema watch reads each
// database's own pg_catalog).
std::unique_ptr<Node> MakePgNodeFor(const NodeOptions& o, const std::string& database);
inline std::unique_ptr<Node> MakeNode(const NodeOptions& o) {
  return o.protocol == Protocol::kMysql ? MakeMysqlNode(o) : MakePgNode(o);
}

// The statements behind Fence(), for tests: the sessions they end spare KEEP_USERS.
std::string MysqlFenceSessionsSql(const std::vector<std::string>& keep_users);
std::string PgFenceSessionsSql(const std::vector<std::string>& keep_users);

}  // namespace sluice::health
