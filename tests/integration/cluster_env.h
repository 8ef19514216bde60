// ClusterEnv: a running test cluster as tests/cluster/cluster.sh described it in DIR/cluster.env.
// Plus the few helpers every integration test needs: connect, query, poll, run cluster.sh.
#pragma once

#include <libpq-fe.h>
#include <mysql.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::testing {

struct ClusterEnv {
  std::string kind;  // "mariadb" or "postgres"
  std::string dir;
  std::string host;  // always 127.0.0.1
  int primary_port = 0;
  std::vector<int> replica_ports;          // same order as replica_names
  std::vector<std::string> replica_names;  // replica1, replica2, ... (cluster.sh node names)
  std::string socket_dir;
  std::string primary_socket;
  std::string app_user, app_password;
  std::string monitor_user, monitor_password;
  std::string admin_user, admin_password;  // root / postgres
  std::string repl_user, repl_password;
  std::string database;
  bool sync = false;                          // --semisync (MariaDB) or --sync (PostgreSQL)
  std::map<std::string, std::string> values;  // every KEY=VALUE line as written

  // Port of a node by its cluster.sh name ("primary", "replica2"); 0 when unknown.
  int NodePort(std::string_view node) const;
};

// Parses cluster.env text: KEY=VALUE lines, values optionally in double quotes.
Result<ClusterEnv> ParseClusterEnv(std::string_view text);
Result<ClusterEnv> ReadClusterEnv(const std::string& path);
// Reads $<dir_variable>/cluster.env, e.g. ClusterEnvFromEnvironment("SLUICE_MARIADB_CLUSTER_DIR").
Result<ClusterEnv> ClusterEnvFromEnvironment(const char* dir_variable);

// Runs `bash $SLUICE_CLUSTER_SCRIPT args...`; returns its stdout, or its stderr on failure.
Result<std::string> RunClusterScript(const std::vector<std::string>& args);

// The value of an environment variable, or an error naming it when unset or empty.
Result<std::string> RequiredEnv(const char* name);

// Polls pred every 50 ms until it is true or timeout passes; returns its last answer.
bool WaitFor(std::chrono::milliseconds timeout, const std::function<bool()>& pred);

struct MysqlCloser {
  void operator()(MYSQL* m) const { mysql_close(m); }
};
using MysqlConn = std::unique_ptr<MYSQL, MysqlCloser>;

struct PgCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using PgConn = std::unique_ptr<PGconn, PgCloser>;

// Rows of a result set, cells as text; SQL NULL reads as an empty string.
using Rows = std::vector<std::vector<std::string>>;

// TCP connection to 127.0.0.1:port (database may be empty).
Result<MysqlConn> ConnectMariaDB(int port, const std::string& user, const std::string& password,
                                 const std::string& database);
// Runs one statement; a statement without a result set gives no rows. On failure the
// Status message starts with "mysql error <errno>:"; mysql_errno(conn) still holds it.
Result<Rows> MysqlQuery(MYSQL* conn, const std::string& sql);

Result<PgConn> ConnectPostgres(int port, const std::string& user, const std::string& password,
                               const std::string& database);
// Runs one statement; on failure the Status message starts with "SQLSTATE <code>:".
Result<Rows> PgQuery(PGconn* conn, const std::string& sql);

}  // namespace sluice::testing
