// libmariadb's C API through sluice: text protocol, multi-statements, transactions, the binary
// protocol (mysql_stmt_*) with typed parameters and NULLs, and the login errors and plugins.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/cluster_env.h"
#include "tests/integration/sluice_process.h"

namespace sluice::testing {
namespace {

// Connects with options; returns the handle even on failure so that errno/message can be read.
MysqlConn Connect(int port, const std::string& user, const std::string& password,
                  const std::string& db, const char* plugin = nullptr,
                  unsigned long flags = CLIENT_MULTI_STATEMENTS) {
  MysqlConn m(mysql_init(nullptr));
  unsigned int timeout = 10;
  mysql_options(m.get(), MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_options(m.get(), MYSQL_OPT_READ_TIMEOUT, &timeout);
  if (plugin) mysql_options(m.get(), MYSQL_DEFAULT_AUTH, plugin);
  mysql_real_connect(m.get(), "127.0.0.1", user.c_str(), password.c_str(),
                     db.empty() ? nullptr : db.c_str(), port, nullptr, flags);
  return m;
}

class MysqlCapiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto env = ClusterEnvFromEnvironment("SLUICE_MARIADB_CLUSTER_DIR");
    ASSERT_TRUE(env.ok()) << env.status().message();
    env_ = new ClusterEnv(*env);
    // Two backend connections per server on one worker: other clients' statements run on
    // the very connections a prepared statement was prepared on.
    sluice_ = new SluiceProcess(*env_, 100, 2, 1);
  }
  static void TearDownTestSuite() {
    delete sluice_;
    delete env_;
  }
  void SetUp() override { ASSERT_TRUE(sluice_->started()) << "sluice did not start"; }

  MysqlConn App(const char* plugin = nullptr) {
    MysqlConn m =
        Connect(sluice_->port(), env_->app_user, env_->app_password, env_->database, plugin);
    EXPECT_EQ(mysql_errno(m.get()), 0u) << mysql_error(m.get());
    return m;
  }
  MysqlConn Root() { return PrimaryAsAdmin(*env_); }
  Rows Q(MYSQL* m, const std::string& sql) { return QueryOk(m, sql); }

  static ClusterEnv* env_;
  static SluiceProcess* sluice_;
};
ClusterEnv* MysqlCapiTest::env_ = nullptr;
SluiceProcess* MysqlCapiTest::sluice_ = nullptr;

TEST_F(MysqlCapiTest, TextProtocolDdlDmlAndTransactions) {
  MysqlConn c = App();
  MysqlConn root = Root();
  Q(c.get(), "DROP TABLE IF EXISTS capi_txn");
  Q(c.get(), "CREATE TABLE capi_txn (id INT PRIMARY KEY, v VARCHAR(10))");
  Q(c.get(), "INSERT INTO capi_txn VALUES (1, 'one')");
  EXPECT_EQ(mysql_affected_rows(c.get()), 1u);
  ASSERT_EQ(mysql_autocommit(c.get(), 0), 0);
  Q(c.get(), "INSERT INTO capi_txn VALUES (2, 'two')");
  EXPECT_EQ(Q(root.get(), "SELECT COUNT(*) FROM sluice.capi_txn"), (Rows{{"1"}}));
  ASSERT_EQ(mysql_commit(c.get()), 0);
  EXPECT_EQ(Q(root.get(), "SELECT COUNT(*) FROM sluice.capi_txn"), (Rows{{"2"}}));
  Q(c.get(), "UPDATE capi_txn SET v = 'changed'");
  EXPECT_EQ(Q(c.get(), "SELECT v FROM capi_txn WHERE id = 2"), (Rows{{"changed"}}));
  ASSERT_EQ(mysql_rollback(c.get()), 0);
  ASSERT_EQ(mysql_autocommit(c.get(), 1), 0);
  EXPECT_EQ(Q(root.get(), "SELECT v FROM sluice.capi_txn ORDER BY id"), (Rows{{"one"}, {"two"}}));
}

TEST_F(MysqlCapiTest, MultiStatementsGiveEveryResult) {
  MysqlConn c = App();
  Q(c.get(), "DROP TABLE IF EXISTS capi_multi");
  Q(c.get(), "CREATE TABLE capi_multi (id INT)");
  ASSERT_EQ(mysql_query(c.get(),
                        "INSERT INTO capi_multi VALUES (1),(2); SELECT 'a', 1; "
                        "UPDATE capi_multi SET id = id * 10; SELECT SUM(id) FROM capi_multi"),
            0)
      << mysql_error(c.get());
  std::vector<std::string> seen;
  for (int i = 0; i < 10; ++i) {
    MYSQL_RES* res = mysql_store_result(c.get());
    if (res) {
      MYSQL_ROW row = mysql_fetch_row(res);
      seen.push_back(row && row[0] ? row[0] : "?");
      mysql_free_result(res);
    } else {
      seen.push_back(fmt::format("affected={}", mysql_affected_rows(c.get())));
    }
    int next = mysql_next_result(c.get());
    ASSERT_LE(next, 0) << mysql_error(c.get());
    if (next == -1) break;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"affected=2", "a", "affected=2", "30"}));
  EXPECT_EQ(Q(c.get(), "SELECT 5"), (Rows{{"5"}}));
}

struct Row {
  int id = 0;
  long long big = 0;
  double d = 0;
  std::string s;
  MYSQL_TIME t{};
  bool s_null = false;
  bool n_null = false;
  int n = 0;
};

Row MakeRow(int i) {
  Row r;
  r.id = i;
  r.big = 5000000000LL * (i % 7) - i;
  r.d = i * 0.5;
  r.s = std::string(static_cast<size_t>(i % 40), static_cast<char>('a' + i % 26));
  r.s_null = i % 5 == 0;
  r.n_null = i % 3 == 0;
  r.n = -i;
  r.t.year = 2020 + i % 5;
  r.t.month = 1 + i % 12;
  r.t.day = 1 + i % 28;
  r.t.hour = i % 24;
  r.t.minute = i % 60;
  r.t.second = (i * 7) % 60;
  r.t.time_type = MYSQL_TIMESTAMP_DATETIME;
  return r;
}

// Executes a prepared INSERT for row i with typed parameters.
void InsertRow(MYSQL_STMT* st, const Row& r) {
  MYSQL_BIND b[6];
  std::memset(b, 0, sizeof b);
  my_bool snull = r.s_null, nnull = r.n_null;
  unsigned long slen = r.s.size();
  b[0].buffer_type = MYSQL_TYPE_LONG;
  b[0].buffer = const_cast<int*>(&r.id);
  b[1].buffer_type = MYSQL_TYPE_LONGLONG;
  b[1].buffer = const_cast<long long*>(&r.big);
  b[2].buffer_type = MYSQL_TYPE_DOUBLE;
  b[2].buffer = const_cast<double*>(&r.d);
  b[3].buffer_type = MYSQL_TYPE_STRING;
  b[3].buffer = const_cast<char*>(r.s.data());
  b[3].buffer_length = slen;
  b[3].length = &slen;
  b[3].is_null = &snull;
  b[4].buffer_type = MYSQL_TYPE_DATETIME;
  b[4].buffer = const_cast<MYSQL_TIME*>(&r.t);
  b[5].buffer_type = MYSQL_TYPE_LONG;
  b[5].buffer = const_cast<int*>(&r.n);
  b[5].is_null = &nnull;
  ASSERT_EQ(mysql_stmt_bind_param(st, b), 0) << mysql_stmt_error(st);
  ASSERT_EQ(mysql_stmt_execute(st), 0) << mysql_stmt_error(st);
  EXPECT_EQ(mysql_stmt_affected_rows(st), 1u);
}

// Executes the prepared SELECT for row i and compares every column.
void CheckRow(MYSQL_STMT* st, const Row& want) {
  int id = want.id;
  MYSQL_BIND p[1];
  std::memset(p, 0, sizeof p);
  p[0].buffer_type = MYSQL_TYPE_LONG;
  p[0].buffer = &id;
  ASSERT_EQ(mysql_stmt_bind_param(st, p), 0) << mysql_stmt_error(st);
  ASSERT_EQ(mysql_stmt_execute(st), 0) << mysql_stmt_error(st);
  Row got;
  char sbuf[64] = {0};
  unsigned long slen = 0;
  my_bool snull = 0, nnull = 0;
  MYSQL_BIND r[6];
  std::memset(r, 0, sizeof r);
  r[0].buffer_type = MYSQL_TYPE_LONG;
  r[0].buffer = &got.id;
  r[1].buffer_type = MYSQL_TYPE_LONGLONG;
  r[1].buffer = &got.big;
  r[2].buffer_type = MYSQL_TYPE_DOUBLE;
  r[2].buffer = &got.d;
  r[3].buffer_type = MYSQL_TYPE_STRING;
  r[3].buffer = sbuf;
  r[3].buffer_length = sizeof sbuf;
  r[3].length = &slen;
  r[3].is_null = &snull;
  r[4].buffer_type = MYSQL_TYPE_DATETIME;
  r[4].buffer = &got.t;
  r[5].buffer_type = MYSQL_TYPE_LONG;
  r[5].buffer = &got.n;
  r[5].is_null = &nnull;
  ASSERT_EQ(mysql_stmt_bind_result(st, r), 0) << mysql_stmt_error(st);
  ASSERT_EQ(mysql_stmt_store_result(st), 0) << mysql_stmt_error(st);
  ASSERT_EQ(mysql_stmt_fetch(st), 0) << "row " << want.id << ": " << mysql_stmt_error(st);
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.big, want.big);
  EXPECT_DOUBLE_EQ(got.d, want.d);
  EXPECT_EQ(static_cast<bool>(snull), want.s_null) << "row " << want.id;
  if (!want.s_null) {
    EXPECT_EQ(std::string(sbuf, slen), want.s) << "row " << want.id;
  }
  EXPECT_EQ(got.t.year, want.t.year);
  EXPECT_EQ(got.t.month, want.t.month);
  EXPECT_EQ(got.t.day, want.t.day);
  EXPECT_EQ(got.t.hour, want.t.hour);
  EXPECT_EQ(got.t.minute, want.t.minute);
  EXPECT_EQ(got.t.second, want.t.second);
  EXPECT_EQ(static_cast<bool>(nnull), want.n_null) << "row " << want.id;
  if (!want.n_null) {
    EXPECT_EQ(got.n, want.n);
  }
  EXPECT_EQ(mysql_stmt_fetch(st), MYSQL_NO_DATA);
  mysql_stmt_free_result(st);
}

TEST_F(MysqlCapiTest, PreparedStatementsWithTypedParametersAndNulls) {
  MysqlConn c = App();
  Q(c.get(), "DROP TABLE IF EXISTS capi_ps");
  Q(c.get(),
    "CREATE TABLE capi_ps (id INT PRIMARY KEY, big BIGINT, d DOUBLE, s VARCHAR(64) NULL, "
    "t DATETIME, n INT NULL)");
  MYSQL_STMT* ins = mysql_stmt_init(c.get());
  const char* ins_sql = "INSERT INTO capi_ps VALUES (?, ?, ?, ?, ?, ?)";
  ASSERT_EQ(mysql_stmt_prepare(ins, ins_sql, std::strlen(ins_sql)), 0) << mysql_stmt_error(ins);
  EXPECT_EQ(mysql_stmt_param_count(ins), 6u);
  constexpr int kRows = 150;
  for (int i = 1; i <= kRows; ++i) InsertRow(ins, MakeRow(i));
  mysql_stmt_close(ins);

  // Reads go to the replicas: wait until they have every row.
  MysqlConn root = Root();
  auto pos = Q(root.get(), "SELECT @@gtid_binlog_pos");
  ASSERT_EQ(pos.size(), 1u);
  for (int port : env_->replica_ports) {
    auto r = ConnectMariaDB(port, env_->admin_user, env_->admin_password, "");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(Q(r->get(), fmt::format("SELECT MASTER_GTID_WAIT('{}', 30)", pos[0][0])),
              (Rows{{"0"}}));
  }

  MYSQL_STMT* sel = mysql_stmt_init(c.get());
  const char* sel_sql = "SELECT id, big, d, s, t, n FROM capi_ps WHERE id = ?";
  ASSERT_EQ(mysql_stmt_prepare(sel, sel_sql, std::strlen(sel_sql)), 0) << mysql_stmt_error(sel);
  for (int i = 1; i <= kRows; ++i) CheckRow(sel, MakeRow(i));

  // Other clients use the (two-connection) pools with their own statements meanwhile.
  std::vector<std::thread> others;
  for (int k = 0; k < 4; ++k) {
    others.emplace_back([this, k] {
      MysqlConn o = Connect(sluice_->port(), env_->app_user, env_->app_password, env_->database);
      ASSERT_EQ(mysql_errno(o.get()), 0u) << mysql_error(o.get());
      MYSQL_STMT* st = mysql_stmt_init(o.get());
      const char* sql = "SELECT ? * 2, COUNT(*) FROM capi_ps WHERE id <= ?";
      ASSERT_EQ(mysql_stmt_prepare(st, sql, std::strlen(sql)), 0) << mysql_stmt_error(st);
      for (int i = 0; i < 50; ++i) {
        long long a = k * 1000 + i, lim = i;
        MYSQL_BIND p[2];
        std::memset(p, 0, sizeof p);
        p[0].buffer_type = MYSQL_TYPE_LONGLONG;
        p[0].buffer = &a;
        p[1].buffer_type = MYSQL_TYPE_LONGLONG;
        p[1].buffer = &lim;
        ASSERT_EQ(mysql_stmt_bind_param(st, p), 0);
        ASSERT_EQ(mysql_stmt_execute(st), 0) << mysql_stmt_error(st);
        long long twice = 0, count = 0;
        MYSQL_BIND r[2];
        std::memset(r, 0, sizeof r);
        r[0].buffer_type = MYSQL_TYPE_LONGLONG;
        r[0].buffer = &twice;
        r[1].buffer_type = MYSQL_TYPE_LONGLONG;
        r[1].buffer = &count;
        ASSERT_EQ(mysql_stmt_bind_result(st, r), 0);
        ASSERT_EQ(mysql_stmt_fetch(st), 0) << mysql_stmt_error(st);
        EXPECT_EQ(twice, a * 2);
        EXPECT_EQ(count, lim);
        mysql_stmt_free_result(st);
        ASSERT_EQ(mysql_query(o.get(), "SELECT 1"), 0) << mysql_error(o.get());
        mysql_free_result(mysql_store_result(o.get()));
      }
      mysql_stmt_close(st);
    });
  }
  for (auto& t : others) t.join();
  // The first client's statement still works, re-executed after the others' traffic.
  for (int i = kRows; i >= 1; i -= 7) CheckRow(sel, MakeRow(i));
  mysql_stmt_close(sel);

  // A statement executed after a reset and a re-prepare of the same text.
  MYSQL_STMT* again = mysql_stmt_init(c.get());
  ASSERT_EQ(mysql_stmt_prepare(again, sel_sql, std::strlen(sel_sql)), 0);
  ASSERT_EQ(mysql_stmt_reset(again), 0) << mysql_stmt_error(again);
  CheckRow(again, MakeRow(3));
  mysql_stmt_close(again);
}

TEST_F(MysqlCapiTest, CachingSha2FastPath) {
  MysqlConn c = App("caching_sha2_password");
  EXPECT_EQ(Q(c.get(), "SELECT 40 + 2"), (Rows{{"42"}}));
  MysqlConn bad =
      Connect(sluice_->port(), env_->app_user, "wrong", env_->database, "caching_sha2_password");
  EXPECT_EQ(mysql_errno(bad.get()), 1045u);
}

TEST_F(MysqlCapiTest, LoginErrors) {
  MysqlConn bad = Connect(sluice_->port(), env_->app_user, "wrong", env_->database);
  EXPECT_EQ(mysql_errno(bad.get()), 1045u);
  EXPECT_STREQ(mysql_error(bad.get()),
               "Access denied for user 'sluice_app'@'127.0.0.1' (using password: YES)");
  EXPECT_STREQ(mysql_sqlstate(bad.get()), "28000");
  // MariaDB answers a schema without a grant with 1044 whether it exists or not: grant one
  // that does not exist (the grant replicates; sluice may check on any server).
  MysqlConn root = Root();
  Q(root.get(), "DROP DATABASE IF EXISTS sluice_missing");
  Q(root.get(),
    fmt::format("GRANT ALL PRIVILEGES ON sluice_missing.* TO '{}'@'%'", env_->app_user));
  auto pos = Q(root.get(), "SELECT @@gtid_binlog_pos");
  ASSERT_EQ(pos.size(), 1u);
  for (int port : env_->replica_ports) {
    auto r = ConnectMariaDB(port, env_->admin_user, env_->admin_password, "");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(Q(r->get(), fmt::format("SELECT MASTER_GTID_WAIT('{}', 30)", pos[0][0])),
              (Rows{{"0"}}));
  }
  MysqlConn nodb = Connect(sluice_->port(), env_->app_user, env_->app_password, "sluice_missing");
  EXPECT_EQ(mysql_errno(nodb.get()), 1049u);
  EXPECT_STREQ(mysql_error(nodb.get()), "Unknown database 'sluice_missing'");
}

TEST_F(MysqlCapiTest, TooManyConnections) {
  SluiceProcess small(*env_, 3, 10, 1);
  ASSERT_TRUE(small.started());
  std::vector<MysqlConn> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(Connect(small.port(), env_->app_user, env_->app_password, env_->database));
    ASSERT_EQ(mysql_errno(held.back().get()), 0u) << mysql_error(held.back().get());
  }
  MysqlConn extra = Connect(small.port(), env_->app_user, env_->app_password, env_->database);
  EXPECT_EQ(mysql_errno(extra.get()), 1040u);
  EXPECT_STREQ(mysql_error(extra.get()), "Too many connections");
  for (auto& h : held) EXPECT_EQ(mysql_ping(h.get()), 0);
}

// libmariadb's mysql_kill() sends `KILL <id>` as a statement (PyMySQL's kill() sends the
// COM_PROCESS_KILL command: mysql_proxy_test.py). A server's thread id means nothing to
// sluice, whose clients see sluice ids (kill_test.py): a direct client of each node, logged
// in as the same user (so the server itself would allow the kill), must survive, and the
// caller gets the server's answer for an unknown id, ER_NO_SUCH_THREAD (1094).
TEST_F(MysqlCapiTest, KillOfAServerThreadIdIsUnknown) {
  std::vector<int> ports{env_->primary_port};
  ports.insert(ports.end(), env_->replica_ports.begin(), env_->replica_ports.end());
  std::vector<MysqlConn> victims;
  for (int port : ports) {
    victims.push_back(Connect(port, env_->app_user, env_->app_password, env_->database));
    ASSERT_EQ(mysql_errno(victims.back().get()), 0u) << mysql_error(victims.back().get());
  }
  MysqlConn c = App();
  for (auto& v : victims) {
    unsigned long id = mysql_thread_id(v.get());
    if (id == mysql_thread_id(c.get())) continue;  // that number is the caller's own sluice id
    EXPECT_NE(mysql_kill(c.get(), id), 0) << "KILL " << id << " was accepted";
    EXPECT_EQ(mysql_errno(c.get()), 1094u) << mysql_error(c.get());
    EXPECT_STREQ(mysql_sqlstate(c.get()), "HY000");
  }
  for (auto& v : victims) EXPECT_EQ(Q(v.get(), "SELECT 7"), (Rows{{"7"}}));
  EXPECT_EQ(Q(c.get(), "SELECT 8"), (Rows{{"8"}}));  // the caller's session goes on
}

// Commands that act on the whole server or on replication with the backend login's
// privileges are not forwarded: libmariadb's mysql_refresh (COM_REFRESH) and
// mysql_dump_debug_info (COM_DEBUG) get ER_UNKNOWN_COM_ERROR, and the session goes on.
TEST_F(MysqlCapiTest, ServerWideCommandsAreRefused) {
  MysqlConn c = App();
  EXPECT_NE(mysql_refresh(c.get(), REFRESH_TABLES), 0);
  EXPECT_EQ(mysql_errno(c.get()), 1047u) << mysql_error(c.get());
  EXPECT_NE(mysql_dump_debug_info(c.get()), 0);
  EXPECT_EQ(mysql_errno(c.get()), 1047u) << mysql_error(c.get());
  EXPECT_EQ(Q(c.get(), "SELECT 9"), (Rows{{"9"}}));
}

}  // namespace
}  // namespace sluice::testing
