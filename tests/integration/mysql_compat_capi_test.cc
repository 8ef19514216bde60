// libmariadb through sluice where a driver could tell sluice from the server (issue #14):
// prepared statements closed on the server, the status flags of sluice's own OK packets,
// the server's version in the greeting, MariaDB's extended type info, and under session
// pooling a server-side KILL that the client sees.
#include <gtest/gtest.h>
#include <mysql.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/integration/cluster_env.h"
#include "tests/integration/sluice_process.h"

namespace sluice::testing {
namespace {

// A login of its own, so that its backend connections are the ones in the processlist.
constexpr char kSessionUser[] = "sluice_compat";
constexpr char kSessionPassword[] = "compat_pw";
// A login the servers check with MariaDB's auth_ed25519 plugin.
constexpr char kEdUser[] = "sluice_ed";
constexpr char kEdPassword[] = "ed_pw, any length";

MysqlConn Open(int port, const std::string& user, const std::string& password,
               const std::string& db) {
  MysqlConn m(mysql_init(nullptr));
  unsigned int timeout = 10;
  mysql_options(m.get(), MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_options(m.get(), MYSQL_OPT_READ_TIMEOUT, &timeout);
  mysql_real_connect(m.get(), "127.0.0.1", user.c_str(), password.c_str(), db.c_str(), port,
                     nullptr, 0);
  return m;
}

class MysqlCompatCapiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto env = ClusterEnvFromEnvironment("SLUICE_MARIADB_CLUSTER_DIR");
    ASSERT_TRUE(env.ok()) << env.status().message();
    env_ = new ClusterEnv(*env);
    auto root = ConnectMariaDB(env_->primary_port, env_->admin_user, env_->admin_password, "");
    ASSERT_TRUE(root.ok()) << root.status().message();
    for (const std::string& sql :
         {fmt::format("CREATE USER IF NOT EXISTS '{}'@'%' IDENTIFIED BY '{}'", kSessionUser,
                      kSessionPassword),
          fmt::format("GRANT ALL PRIVILEGES ON {}.* TO '{}'@'%'", env_->database, kSessionUser)}) {
      auto r = MysqlQuery(root->get(), sql);
      ASSERT_TRUE(r.ok()) << r.status().message();
    }
    // auth_ed25519 on every node (the user replicates; the plugin is per server).
    std::vector<int> ports{env_->primary_port};
    ports.insert(ports.end(), env_->replica_ports.begin(), env_->replica_ports.end());
    for (int port : ports) {
      auto node = ConnectMariaDB(port, env_->admin_user, env_->admin_password, "");
      ASSERT_TRUE(node.ok()) << node.status().message();
      auto have = MysqlQuery(node->get(),
                             "SELECT COUNT(*) FROM information_schema.PLUGINS WHERE "
                             "PLUGIN_NAME = 'ed25519' AND PLUGIN_STATUS = 'ACTIVE'");
      ASSERT_TRUE(have.ok()) << have.status().message();
      if ((*have)[0][0] == "0") {
        auto r = MysqlQuery(node->get(), "INSTALL SONAME 'auth_ed25519'");
        ASSERT_TRUE(r.ok()) << r.status().message();
      }
    }
    for (const std::string& sql :
         {fmt::format("CREATE USER IF NOT EXISTS '{}'@'%' IDENTIFIED VIA ed25519 USING "
                      "PASSWORD('{}')",
                      kEdUser, kEdPassword),
          fmt::format("GRANT ALL PRIVILEGES ON {}.* TO '{}'@'%'", env_->database, kEdUser)}) {
      auto r = MysqlQuery(root->get(), sql);
      ASSERT_TRUE(r.ok()) << r.status().message();
    }
    // One worker, one backend connection per server: every client shares it.
    std::string session_user = fmt::format(
        "\n[[user]]\nname = \"{}\"\npassword = \"{}\"\ncluster = \"test\"\ndefault_schema = "
        "\"{}\"\npool_mode = \"session\"\n",
        kSessionUser, kSessionPassword, env_->database);
    session_user += fmt::format(
        "\n[[user]]\nname = \"{}\"\npassword = \"{}\"\ncluster = \"test\"\ndefault_schema = "
        "\"{}\"\n",
        kEdUser, kEdPassword, env_->database);
    sluice_ = new SluiceProcess(*env_, 100, 1, 1, "", session_user);
  }
  static void TearDownTestSuite() {
    delete sluice_;
    delete env_;
  }
  void SetUp() override { ASSERT_TRUE(sluice_->started()) << "sluice did not start"; }

  MysqlConn App() {
    MysqlConn m = Open(sluice_->port(), env_->app_user, env_->app_password, env_->database);
    EXPECT_EQ(mysql_errno(m.get()), 0u) << mysql_error(m.get());
    return m;
  }
  MysqlConn Root() { return PrimaryAsAdmin(*env_); }
  Rows Q(MYSQL* m, const std::string& sql) { return QueryOk(m, sql); }
  long PreparedOnPrimary() {
    MysqlConn root = Root();
    Rows r = Q(root.get(), "SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'");
    return r.empty() ? -1 : std::stol(r[0][1]);
  }
  // The primary's prepared statements fall back to `before` within 10 s.
  void ExpectPreparedBackTo(long before) {
    long last = 0;
    EXPECT_TRUE(
        WaitFor(std::chrono::seconds(10), [&] { return (last = PreparedOnPrimary()) <= before; }))
        << "the primary holds " << last << " prepared statements, " << before << " before";
  }

  static ClusterEnv* env_;
  static SluiceProcess* sluice_;
};
ClusterEnv* MysqlCompatCapiTest::env_ = nullptr;
SluiceProcess* MysqlCompatCapiTest::sluice_ = nullptr;

MYSQL_STMT* PrepareOrFail(MYSQL* m, const std::string& text) {
  MYSQL_STMT* st = mysql_stmt_init(m);
  if (mysql_stmt_prepare(st, text.data(), text.size()) != 0) {
    ADD_FAILURE() << text << ": " << mysql_stmt_error(st);
  }
  return st;
}

// Executes st and returns its one row's one integer (-1 when that fails).
long ExecuteForLong(MYSQL_STMT* st) {
  if (mysql_stmt_execute(st) != 0) {
    ADD_FAILURE() << mysql_stmt_error(st);
    return -1;
  }
  int32_t v = -1;  // MYSQL_TYPE_LONG is 4 bytes
  MYSQL_BIND out{};
  out.buffer_type = MYSQL_TYPE_LONG;
  out.buffer = &v;
  mysql_stmt_bind_result(st, &out);
  if (mysql_stmt_fetch(st) != 0) v = -1;
  mysql_stmt_free_result(st);
  return v;
}

TEST_F(MysqlCompatCapiTest, ThreeHundredPrepareAndCloseCyclesLeaveNothingOnTheServer) {
  long before = PreparedOnPrimary();
  MysqlConn m = App();
  for (int i = 0; i < 300; ++i) {
    MYSQL_STMT* st = PrepareOrFail(m.get(), fmt::format("SELECT {} + 1", i));
    ASSERT_EQ(mysql_stmt_execute(st), 0) << mysql_stmt_error(st);
    mysql_stmt_store_result(st);
    mysql_stmt_close(st);
  }
  ExpectPreparedBackTo(before);
}

TEST_F(MysqlCompatCapiTest, ADisconnectedClientsStatementsAreClosedOnTheServer) {
  long before = PreparedOnPrimary();
  {
    MysqlConn m = App();
    for (int i = 0; i < 50; ++i) PrepareOrFail(m.get(), fmt::format("SELECT {} + 2", i));
    long during = PreparedOnPrimary();
    EXPECT_GE(during, before + 50);  // they were there
  }                                  // mysql_close without closing the statements
  ExpectPreparedBackTo(before);
}

TEST_F(MysqlCompatCapiTest, AStatementAnotherClientStillUsesKeepsWorking) {
  MysqlConn a = App();
  MysqlConn b = App();
  MYSQL_STMT* sa = PrepareOrFail(a.get(), "SELECT 40 + 2");
  MYSQL_STMT* sb = PrepareOrFail(b.get(), "SELECT 40 + 2");
  mysql_stmt_close(sa);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ExecuteForLong(sb), 42);
  mysql_stmt_close(sb);
}

// The status flags of a ping's OK, after each step, through sluice as directly.
TEST_F(MysqlCompatCapiTest, PingAfterAutocommitOffSaysSo) {
  MysqlConn root = Root();
  Q(root.get(), fmt::format("CREATE TABLE IF NOT EXISTS {}.compat_txn (id INT PRIMARY KEY) "
                            "ENGINE=InnoDB",
                            env_->database));
  auto flags_after_pings = [&](MYSQL* m) {
    std::vector<unsigned> flags;
    auto ping = [&] {
      EXPECT_EQ(mysql_ping(m), 0) << mysql_error(m);
      flags.push_back(m->server_status & (SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_IN_TRANS));
    };
    EXPECT_EQ(mysql_autocommit(m, 0), 0);
    ping();
    Q(m, "SELECT COUNT(*) FROM compat_txn");  // opens a transaction (autocommit off)
    ping();
    EXPECT_EQ(mysql_commit(m), 0);
    ping();
    EXPECT_EQ(mysql_autocommit(m, 1), 0);
    Q(m, "BEGIN");
    ping();
    Q(m, "COMMIT");
    ping();
    return flags;
  };
  std::vector<unsigned> want{0, SERVER_STATUS_IN_TRANS, 0,
                             SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_IN_TRANS,
                             SERVER_STATUS_AUTOCOMMIT};
  MysqlConn direct = Open(env_->primary_port, env_->app_user, env_->app_password, env_->database);
  ASSERT_EQ(flags_after_pings(direct.get()), want);  // what the server says
  MysqlConn m = App();
  EXPECT_EQ(flags_after_pings(m.get()), want);
}

TEST_F(MysqlCompatCapiTest, TheGreetingCarriesTheServersVersion) {
  MysqlConn direct = Open(env_->primary_port, env_->app_user, env_->app_password, env_->database);
  ASSERT_EQ(mysql_errno(direct.get()), 0u) << mysql_error(direct.get());
  MysqlConn m = App();
  EXPECT_STREQ(mysql_get_server_info(m.get()), mysql_get_server_info(direct.get()));
  EXPECT_EQ(mysql_get_server_version(m.get()), mysql_get_server_version(direct.get()));
}

TEST_F(MysqlCompatCapiTest, JsonColumnsCarryTheirExtendedTypeName) {
  MysqlConn root = Root();
  Q(root.get(), fmt::format("CREATE TABLE IF NOT EXISTS {}.compat_json (id INT PRIMARY KEY, "
                            "j JSON)",
                            env_->database));
  Q(root.get(),
    fmt::format("REPLACE INTO {}.compat_json VALUES (1, '{{\"a\": 1}}')", env_->database));
  auto format_of = [&](MYSQL* m) {
    EXPECT_EQ(mysql_query(m, "SELECT j FROM compat_json WHERE id = 1"), 0) << mysql_error(m);
    MYSQL_RES* res = mysql_store_result(m);
    if (!res) return std::string("no result");
    MARIADB_CONST_STRING attr{nullptr, 0};
    std::string out =
        mariadb_field_attr(&attr, mysql_fetch_field(res), MARIADB_FIELD_ATTR_FORMAT_NAME) == 0
            ? std::string(attr.str ? attr.str : "", attr.length)
            : "none";
    mysql_free_result(res);
    return out;
  };
  MysqlConn direct = Open(env_->primary_port, env_->app_user, env_->app_password, env_->database);
  ASSERT_EQ(format_of(direct.get()), "json");  // what the server says directly
  MysqlConn m = App();
  Q(m.get(), "BEGIN");  // on the primary: the replicas may not have the table yet
  EXPECT_EQ(format_of(m.get()), "json");
  Q(m.get(), "COMMIT");
}

TEST_F(MysqlCompatCapiTest, CompressedProtocolClientSide) {
  MysqlConn m(mysql_init(nullptr));
  mysql_options(m.get(), MYSQL_OPT_COMPRESS, nullptr);
  ASSERT_NE(
      mysql_real_connect(m.get(), "127.0.0.1", env_->app_user.c_str(), env_->app_password.c_str(),
                         env_->database.c_str(), sluice_->port(), nullptr, CLIENT_MULTI_STATEMENTS),
      nullptr)
      << mysql_error(m.get());
  EXPECT_EQ(m->net.compress, 1);  // both sides agreed on CLIENT_COMPRESS
  // A large result (several frames), small ones, and the binary protocol.
  EXPECT_EQ(Q(m.get(), "SELECT LENGTH(REPEAT('xy', 2500000)), REPEAT('z', 3)"),
            (Rows{{"5000000", "zzz"}}));
  Rows big = Q(m.get(), "SELECT REPEAT('ab', 2000000)");
  ASSERT_EQ(big.size(), 1u);
  std::string want;
  for (int i = 0; i < 2000000; ++i) want += "ab";
  EXPECT_TRUE(big[0][0] == want) << "a result of " << big[0][0].size() << " bytes";
  MYSQL_STMT* st = PrepareOrFail(m.get(), "SELECT 40 + 2");
  EXPECT_EQ(ExecuteForLong(st), 42);
  mysql_stmt_close(st);
  EXPECT_EQ(mysql_ping(m.get()), 0);
}

// sluice logs in to the servers with auth_ed25519 (the client to sluice with its own plugin).
TEST_F(MysqlCompatCapiTest, Ed25519Backends) {
  MysqlConn m = Open(sluice_->port(), kEdUser, kEdPassword, env_->database);
  ASSERT_EQ(mysql_errno(m.get()), 0u) << mysql_error(m.get());
  Q(m.get(), "BEGIN");  // on the primary, where the user surely exists already
  EXPECT_EQ(Q(m.get(), "SELECT CURRENT_USER()"), (Rows{{std::string(kEdUser) + "@%"}}));
  Q(m.get(), "COMMIT");
}

// Session pooling: a KILL of the client's server connection is the client's loss.
TEST_F(MysqlCompatCapiTest, SessionPoolingAKilledServerConnectionIsLostForTheClient) {
  MysqlConn m = Open(sluice_->port(), kSessionUser, kSessionPassword, env_->database);
  ASSERT_EQ(mysql_errno(m.get()), 0u) << mysql_error(m.get());
  Q(m.get(), "SET @kept = 7");
  EXPECT_EQ(Q(m.get(), "SELECT @kept"), (Rows{{"7"}}));
  MysqlConn root = Root();
  Rows ids = Q(root.get(), fmt::format("SELECT ID FROM information_schema.PROCESSLIST WHERE "
                                       "USER = '{}'",
                                       kSessionUser));
  ASSERT_EQ(ids.size(), 1u);
  Q(root.get(), "KILL " + ids[0][0]);
  // The client's next statement fails as it would directly; nothing runs on a new server
  // session that lost @kept.
  EXPECT_NE(mysql_query(m.get(), "SELECT @kept"), 0);
  unsigned err = mysql_errno(m.get());
  EXPECT_TRUE(err == 2013 || err == 2006 || err == 1927) << err << " " << mysql_error(m.get());
  EXPECT_NE(mysql_ping(m.get()), 0);
}

}  // namespace
}  // namespace sluice::testing
