// Checks that the clusters tests/cluster/cluster.sh starts really replicate: rows written on the
// primary reach every replica, replicas refuse writes, sync settings and add-replica work.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "tests/integration/cluster_env.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

// MariaDB include/mysqld_error.h: ER_OPTION_PREVENTS_STATEMENT (read_only).
constexpr unsigned kErOptionPreventsStatement = 1290;
// PostgreSQL errcodes.txt: 25006 read_only_sql_transaction.
constexpr const char* kPgReadOnlySqlTransaction = "SQLSTATE 25006";
constexpr auto kReplicationWait = seconds(10);

std::string UniqueToken(const char* what) {
  auto ns = std::chrono::steady_clock::now().time_since_epoch().count();
  return std::string(what) + "-" + std::to_string(getpid()) + "-" + std::to_string(ns);
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Stops a private cluster when a test ends, however it ends.
class PrivateCluster {
 public:
  explicit PrivateCluster(std::string dir) : dir_(std::move(dir)) {}
  ~PrivateCluster() {
    auto r = RunClusterScript({"stop", dir_});
    if (!r.ok()) ADD_FAILURE() << r.status().message();
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// ---------------------------------------------------------------- cluster.env parsing

TEST(ClusterEnvParse, ReadsQuotedListsAndNodePorts) {
  auto env = ParseClusterEnv(
      "KIND=postgres\nHOST=127.0.0.1\nPRIMARY_PORT=15001\nREPLICA_PORTS=\"15002 15003\"\n"
      "REPLICA_NAMES=\"replica1 replica2\"\nNODE_replica2_PORT=15003\nAPP_USER=sluice_app\n"
      "ADMIN_USER=postgres\nDATABASE=sluice\nSYNC=1\n");
  ASSERT_TRUE(env.ok()) << env.status().message();
  EXPECT_EQ(env->primary_port, 15001);
  EXPECT_EQ(env->replica_ports, (std::vector<int>{15002, 15003}));
  EXPECT_EQ(env->replica_names, (std::vector<std::string>{"replica1", "replica2"}));
  EXPECT_EQ(env->NodePort("replica2"), 15003);
  EXPECT_EQ(env->NodePort("replica9"), 0);
  EXPECT_TRUE(env->sync);
}

TEST(ClusterEnvParse, RejectsMissingKeysAndBadPorts) {
  EXPECT_FALSE(ParseClusterEnv("KIND=mariadb\n").ok());
  EXPECT_FALSE(ParseClusterEnv("KIND=mariadb\nPRIMARY_PORT=99999\nAPP_USER=a\nADMIN_USER=r\n"
                               "DATABASE=d\n")
                   .ok());
  EXPECT_FALSE(ReadClusterEnv("/nonexistent/cluster.env").ok());
}

// ---------------------------------------------------------------- MariaDB helpers

std::string MysqlScalar(MYSQL* conn, const std::string& sql) {
  auto rows = MysqlQuery(conn, sql);
  if (!rows.ok()) return "error: " + rows.status().message();
  if (rows->empty() || rows->front().empty()) return "<no rows>";
  return rows->front().back();  // SHOW STATUS/VARIABLES: the value column
}

// Writes a fresh token on the primary; returns it.
std::string MysqlWriteToken(const ClusterEnv& env) {
  auto primary = ConnectMariaDB(env.primary_port, env.app_user, env.app_password, env.database);
  if (!primary.ok()) {
    ADD_FAILURE() << primary.status().message();
    return "";
  }
  auto created = MysqlQuery(primary->get(),
                            "CREATE TABLE IF NOT EXISTS harness_repl "
                            "(token VARCHAR(100) PRIMARY KEY) ENGINE=InnoDB");
  EXPECT_TRUE(created.ok()) << created.status().message();
  std::string token = UniqueToken("my");
  auto ins = MysqlQuery(primary->get(), "INSERT INTO harness_repl VALUES ('" + token + "')");
  EXPECT_TRUE(ins.ok()) << ins.status().message();
  return token;
}

bool MysqlSeesToken(int port, const ClusterEnv& env, const std::string& token) {
  return WaitFor(kReplicationWait, [&] {
    auto conn = ConnectMariaDB(port, env.app_user, env.app_password, env.database);
    if (!conn.ok()) return false;
    return MysqlScalar(conn->get(),
                       "SELECT COUNT(*) FROM harness_repl WHERE token = '" + token + "'") == "1";
  });
}

ClusterEnv MariaDBFixture() {
  auto env = ClusterEnvFromEnvironment("SLUICE_MARIADB_CLUSTER_DIR");
  EXPECT_TRUE(env.ok()) << env.status().message();
  return env.ok() ? *env : ClusterEnv{};
}

// ---------------------------------------------------------------- MariaDB fixture cluster

TEST(MariaDBCluster, EnvDescribesAPrimaryAndReplicas) {
  ClusterEnv env = MariaDBFixture();
  EXPECT_EQ(env.kind, "mariadb");
  EXPECT_EQ(env.host, "127.0.0.1");
  EXPECT_GE(env.replica_ports.size(), 2u);
  EXPECT_EQ(env.NodePort("primary"), env.primary_port);
  EXPECT_EQ(env.database, "sluice");
}

TEST(MariaDBCluster, PrimaryWriteReachesEveryReplica) {
  ClusterEnv env = MariaDBFixture();
  ASSERT_FALSE(env.replica_ports.empty());
  std::string token = MysqlWriteToken(env);
  ASSERT_FALSE(token.empty());
  for (int port : env.replica_ports) {
    EXPECT_TRUE(MysqlSeesToken(port, env, token)) << "replica on port " << port;
  }
}

TEST(MariaDBCluster, ReplicasRefuseWritesWithReadOnlyError) {
  ClusterEnv env = MariaDBFixture();
  ASSERT_FALSE(env.replica_ports.empty());
  std::string token = MysqlWriteToken(env);  // the table exists on replicas once this arrives
  for (int port : env.replica_ports) {
    ASSERT_TRUE(MysqlSeesToken(port, env, token)) << "replica on port " << port;
    auto conn = ConnectMariaDB(port, env.app_user, env.app_password, env.database);
    ASSERT_TRUE(conn.ok()) << conn.status().message();
    auto ins = MysqlQuery(conn->get(),
                          "INSERT INTO harness_repl VALUES ('" + UniqueToken("refused") + "')");
    EXPECT_FALSE(ins.ok()) << "replica on port " << port << " accepted a write";
    EXPECT_EQ(mysql_errno(conn->get()), kErOptionPreventsStatement) << ins.status().message();
  }
}

TEST(MariaDBCluster, NodesConfiguredAsDocumented) {
  ClusterEnv env = MariaDBFixture();
  auto admin = ConnectMariaDB(env.primary_port, env.admin_user, env.admin_password, "");
  ASSERT_TRUE(admin.ok()) << admin.status().message();
  EXPECT_EQ(MysqlScalar(admin->get(), "SELECT @@read_only"), "0");
  EXPECT_EQ(MysqlScalar(admin->get(), "SELECT @@userstat"), "1");
  EXPECT_EQ(MysqlScalar(admin->get(), "SELECT @@log_bin"), "1");
  EXPECT_EQ(MysqlScalar(admin->get(), "SELECT @@rpl_semi_sync_master_enabled"),
            env.sync ? "1" : "0");
  std::vector<std::string> server_ids{MysqlScalar(admin->get(), "SELECT @@server_id")};
  for (int port : env.replica_ports) {
    auto mon = ConnectMariaDB(port, env.monitor_user, env.monitor_password, "");
    ASSERT_TRUE(mon.ok()) << mon.status().message();
    EXPECT_EQ(MysqlScalar(mon->get(), "SELECT @@read_only"), "1");
    EXPECT_EQ(MysqlScalar(mon->get(), "SELECT @@userstat"), "1");
    EXPECT_EQ(MysqlScalar(mon->get(), "SELECT @@log_slave_updates"), "1");
    EXPECT_EQ(MysqlScalar(mon->get(), "SELECT @@rpl_semi_sync_slave_enabled"),
              env.sync ? "1" : "0");
    // The monitor user must be able to read replication state (SLAVE MONITOR).
    auto status = MysqlQuery(mon->get(), "SHOW SLAVE STATUS");
    ASSERT_TRUE(status.ok()) << status.status().message();
    EXPECT_EQ(status->size(), 1u);
    server_ids.push_back(MysqlScalar(mon->get(), "SELECT @@server_id"));
  }
  std::sort(server_ids.begin(), server_ids.end());
  EXPECT_EQ(std::adjacent_find(server_ids.begin(), server_ids.end()), server_ids.end())
      << "server_id not unique";
}

// ---------------------------------------------------------------- MariaDB private cluster

TEST(MariaDBPrivateCluster, SemisyncAddReplicaKillAndRestart) {
  auto scratch = RequiredEnv("SLUICE_SCRATCH_DIR");
  ASSERT_TRUE(scratch.ok()) << scratch.status().message();
  PrivateCluster cluster(*scratch + "/mariadb");
  auto started = RunClusterScript({"start", "mariadb", cluster.dir(), "--replicas", "1",
                                   "--semisync", "--watch-pid", std::to_string(getpid())});
  ASSERT_TRUE(started.ok()) << started.status().message();
  auto env = ReadClusterEnv(cluster.dir() + "/cluster.env");
  ASSERT_TRUE(env.ok()) << env.status().message();
  EXPECT_TRUE(env->sync);
  EXPECT_EQ(env->values["SEMISYNC"], "1");
  ASSERT_EQ(env->replica_ports.size(), 1u);

  auto primary = ConnectMariaDB(env->primary_port, env->monitor_user, env->monitor_password, "");
  ASSERT_TRUE(primary.ok()) << primary.status().message();
  EXPECT_EQ(MysqlScalar(primary->get(), "SELECT @@rpl_semi_sync_master_enabled"), "1");
  EXPECT_TRUE(WaitFor(kReplicationWait, [&] {
    return MysqlScalar(primary->get(), "SHOW STATUS LIKE 'Rpl_semi_sync_master_status'") == "ON";
  }));
  auto replica =
      ConnectMariaDB(env->replica_ports[0], env->monitor_user, env->monitor_password, "");
  ASSERT_TRUE(replica.ok()) << replica.status().message();
  EXPECT_EQ(MysqlScalar(replica->get(), "SHOW STATUS LIKE 'Rpl_semi_sync_slave_status'"), "ON");

  auto added = RunClusterScript({"add-replica", cluster.dir()});
  ASSERT_TRUE(added.ok()) << added.status().message();
  int new_port = std::atoi(Trim(*added).c_str());
  env = ReadClusterEnv(cluster.dir() + "/cluster.env");
  ASSERT_TRUE(env.ok()) << env.status().message();
  ASSERT_EQ(env->replica_ports.size(), 2u);
  EXPECT_EQ(env->replica_ports[1], new_port);
  EXPECT_EQ(env->NodePort("replica2"), new_port);
  std::string token = MysqlWriteToken(*env);
  EXPECT_TRUE(MysqlSeesToken(new_port, *env, token)) << "added replica on port " << new_port;

  // A replica killed with -9 and started again catches up on what it missed.
  ASSERT_TRUE(RunClusterScript({"kill-node", cluster.dir(), "replica1"}).ok());
  auto status = RunClusterScript({"status", cluster.dir()});
  EXPECT_FALSE(status.ok()) << "status reports every node up after kill-node";
  std::string missed = MysqlWriteToken(*env);
  auto restarted = RunClusterScript({"start-node", cluster.dir(), "replica1"});
  ASSERT_TRUE(restarted.ok()) << restarted.status().message();
  EXPECT_TRUE(MysqlSeesToken(env->replica_ports[0], *env, missed));
  EXPECT_TRUE(RunClusterScript({"status", cluster.dir()}).ok());
}

// ---------------------------------------------------------------- PostgreSQL helpers

std::string PgScalar(PGconn* conn, const std::string& sql) {
  auto rows = PgQuery(conn, sql);
  if (!rows.ok()) return "error: " + rows.status().message();
  if (rows->empty() || rows->front().empty()) return "<no rows>";
  return rows->front().front();
}

std::string PgWriteToken(const ClusterEnv& env) {
  auto primary = ConnectPostgres(env.primary_port, env.app_user, env.app_password, env.database);
  if (!primary.ok()) {
    ADD_FAILURE() << primary.status().message();
    return "";
  }
  auto created =
      PgQuery(primary->get(), "CREATE TABLE IF NOT EXISTS harness_repl (token TEXT PRIMARY KEY)");
  EXPECT_TRUE(created.ok()) << created.status().message();
  std::string token = UniqueToken("pg");
  auto ins = PgQuery(primary->get(), "INSERT INTO harness_repl VALUES ('" + token + "')");
  EXPECT_TRUE(ins.ok()) << ins.status().message();
  return token;
}

bool PgSeesToken(int port, const ClusterEnv& env, const std::string& token) {
  return WaitFor(kReplicationWait, [&] {
    auto conn = ConnectPostgres(port, env.app_user, env.app_password, env.database);
    if (!conn.ok()) return false;
    return PgScalar(conn->get(),
                    "SELECT count(*) FROM harness_repl WHERE token = '" + token + "'") == "1";
  });
}

// application_name -> state/sync_state rows of pg_stat_replication, read as the monitor user.
Rows PgReplicationRows(const ClusterEnv& env) {
  auto mon = ConnectPostgres(env.primary_port, env.monitor_user, env.monitor_password, "postgres");
  if (!mon.ok()) {
    ADD_FAILURE() << mon.status().message();
    return {};
  }
  auto rows = PgQuery(mon->get(),
                      "SELECT application_name, state, sync_state FROM pg_stat_replication "
                      "ORDER BY application_name");
  EXPECT_TRUE(rows.ok()) << rows.status().message();
  return rows.ok() ? *rows : Rows{};
}

// The application_name cluster.sh gives a standby: its own address (sluice's discovery).
std::string StandbyName(const ClusterEnv& env, std::string_view node) {
  return "127.0.0.1:" + std::to_string(env.NodePort(node));
}

ClusterEnv PgFixture() {
  auto env = ClusterEnvFromEnvironment("SLUICE_PG_CLUSTER_DIR");
  EXPECT_TRUE(env.ok()) << env.status().message();
  return env.ok() ? *env : ClusterEnv{};
}

// ---------------------------------------------------------------- PostgreSQL fixture cluster

TEST(PostgresCluster, PrimaryWriteReachesEveryReplica) {
  ClusterEnv env = PgFixture();
  EXPECT_EQ(env.kind, "postgres");
  ASSERT_GE(env.replica_ports.size(), 2u);
  std::string token = PgWriteToken(env);
  ASSERT_FALSE(token.empty());
  for (int port : env.replica_ports) {
    EXPECT_TRUE(PgSeesToken(port, env, token)) << "replica on port " << port;
  }
}

TEST(PostgresCluster, ReplicasRefuseWritesWithReadOnlySqlState) {
  ClusterEnv env = PgFixture();
  ASSERT_FALSE(env.replica_ports.empty());
  std::string token = PgWriteToken(env);
  for (int port : env.replica_ports) {
    ASSERT_TRUE(PgSeesToken(port, env, token)) << "replica on port " << port;
    auto conn = ConnectPostgres(port, env.app_user, env.app_password, env.database);
    ASSERT_TRUE(conn.ok()) << conn.status().message();
    auto ins = PgQuery(conn->get(), "INSERT INTO harness_repl VALUES ('x')");
    ASSERT_FALSE(ins.ok()) << "replica on port " << port << " accepted a write";
    EXPECT_EQ(ins.status().message().rfind(kPgReadOnlySqlTransaction, 0), 0u)
        << ins.status().message();
  }
}

TEST(PostgresCluster, StreamingAsConfiguredAndUsersWork) {
  ClusterEnv env = PgFixture();
  Rows rows = PgReplicationRows(env);
  ASSERT_GE(rows.size(), env.replica_ports.size());
  std::vector<std::string> names;
  for (const auto& row : rows) {
    names.push_back(row[0]);
    EXPECT_EQ(row[1], "streaming") << row[0];
    EXPECT_EQ(row[2], env.sync ? "quorum" : "async") << row[0];
  }
  for (const std::string& node : env.replica_names)
    EXPECT_NE(std::find(names.begin(), names.end(), StandbyName(env, node)), names.end())
        << node << " is not named by its address";
  auto admin = ConnectPostgres(env.primary_port, env.admin_user, env.admin_password, "postgres");
  ASSERT_TRUE(admin.ok()) << admin.status().message();
  EXPECT_EQ(PgScalar(admin->get(), "SHOW password_encryption"), "scram-sha-256");
  EXPECT_EQ(PgScalar(admin->get(), "SELECT rolsuper::text FROM pg_roles WHERE rolname = '" +
                                       env.admin_user + "'"),
            "true");
  EXPECT_EQ(PgScalar(admin->get(),
                     "SELECT pg_get_userbyid(datdba) FROM pg_database "
                     "WHERE datname = '" +
                         env.database + "'"),
            env.app_user);
  for (int port : env.replica_ports) {
    auto conn = ConnectPostgres(port, env.monitor_user, env.monitor_password, "postgres");
    ASSERT_TRUE(conn.ok()) << conn.status().message();
    EXPECT_EQ(PgScalar(conn->get(), "SELECT pg_is_in_recovery()::text"), "true");
  }
}

// ---------------------------------------------------------------- PostgreSQL private cluster

TEST(PostgresPrivateCluster, SyncAddReplicaKillAndRestart) {
  auto scratch = RequiredEnv("SLUICE_SCRATCH_DIR");
  ASSERT_TRUE(scratch.ok()) << scratch.status().message();
  PrivateCluster cluster(*scratch + "/postgres");
  auto started = RunClusterScript({"start", "postgres", cluster.dir(), "--replicas", "1", "--sync",
                                   "--watch-pid", std::to_string(getpid())});
  ASSERT_TRUE(started.ok()) << started.status().message();
  auto env = ReadClusterEnv(cluster.dir() + "/cluster.env");
  ASSERT_TRUE(env.ok()) << env.status().message();
  EXPECT_TRUE(env->sync);
  Rows rows = PgReplicationRows(*env);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0],
            (std::vector<std::string>{StandbyName(*env, "replica1"), "streaming", "quorum"}));

  auto added = RunClusterScript({"add-replica", cluster.dir()});
  ASSERT_TRUE(added.ok()) << added.status().message();
  int new_port = std::atoi(Trim(*added).c_str());
  env = ReadClusterEnv(cluster.dir() + "/cluster.env");
  ASSERT_TRUE(env.ok()) << env.status().message();
  ASSERT_EQ(env->replica_ports.size(), 2u);
  EXPECT_EQ(env->NodePort("replica2"), new_port);
  rows = PgReplicationRows(*env);
  ASSERT_EQ(rows.size(), 2u);
  std::vector<std::string> added_row{StandbyName(*env, "replica2"), "streaming", "quorum"};
  EXPECT_TRUE(rows[0] == added_row || rows[1] == added_row) << "no row " << added_row[0];
  std::string token = PgWriteToken(*env);
  EXPECT_TRUE(PgSeesToken(new_port, *env, token)) << "added replica on port " << new_port;

  // ANY 1 (*): with replica1 killed, commits still complete through replica2.
  ASSERT_TRUE(RunClusterScript({"kill-node", cluster.dir(), "replica1"}).ok());
  std::string missed = PgWriteToken(*env);
  auto restarted = RunClusterScript({"start-node", cluster.dir(), "replica1"});
  ASSERT_TRUE(restarted.ok()) << restarted.status().message();
  EXPECT_TRUE(PgSeesToken(env->replica_ports[0], *env, missed));
}

}  // namespace
}  // namespace sluice::testing
