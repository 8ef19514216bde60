// Tests for admin/config_file: the example parses to the Runtime it describes, and every
// class of mistake reads as one exact "FILE:LINE: key: what is wrong" line.
#include "admin/config_file.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/admin_fixture.h"

namespace sluice {
namespace {

// kBase: a valid config of 11 lines; tests append to it, so appended text starts on line 12.
constexpr const char* kBase = testfix::kOneClusterConfig;
constexpr auto Error = &testfix::ConfigError;
constexpr auto WithBase = [](const std::string& extra) { return std::string(kBase) + extra; };

std::string RepoRoot() {
  std::string here = __FILE__;  // <root>/tests/unit/config_file_test.cc
  return here.substr(0, here.rfind("/tests/unit/"));
}

TEST(ConfigFileTest, ExampleFileParsesToItsRuntime) {
  Result<Runtime> r = LoadConfigFile(RepoRoot() + "/examples/sluice.toml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Runtime& rt = *r;
  EXPECT_EQ(rt.workers, 0);
  EXPECT_EQ(rt.log_level, "info");
  EXPECT_EQ(rt.drain_timeout_ms, 10000);
  EXPECT_EQ(rt.admin.listen_host, "127.0.0.1");
  EXPECT_EQ(rt.admin.listen_port, 6032);
  EXPECT_EQ(rt.admin.listen_path, "");
  EXPECT_EQ(rt.admin.user, "admin");
  EXPECT_EQ(rt.admin.password, "change-me");
  EXPECT_EQ(rt.metrics.listen_host, "127.0.0.1");
  EXPECT_EQ(rt.metrics.listen_port, 9187);

  ASSERT_EQ(rt.clusters.size(), 2u);
  const Cluster& my = rt.clusters[0];
  EXPECT_EQ(my.name, "app_mysql");
  EXPECT_EQ(my.protocol, Protocol::kMysql);
  EXPECT_EQ(my.listen_host, "127.0.0.1");
  EXPECT_EQ(my.listen_port, 6033);
  EXPECT_EQ(my.pool_mode, PoolMode::kTransaction);
  EXPECT_EQ(my.writer_hostgroup, 0);
  EXPECT_EQ(my.reader_hostgroup, 1);
  EXPECT_TRUE(my.reader_fallback_to_writer);
  EXPECT_EQ(my.monitor_user, "monitor");
  ASSERT_EQ(my.servers.size(), 3u);
  EXPECT_EQ(my.servers[0].name(), "127.0.0.1:3306");
  EXPECT_EQ(my.servers[0].role, ServerRole::kPrimary);
  EXPECT_EQ(my.servers[0].hostgroup, 0);
  EXPECT_EQ(my.servers[1].role, ServerRole::kReplica);
  EXPECT_EQ(my.servers[1].hostgroup, 1);
  EXPECT_EQ(my.servers[1].weight, 2);
  EXPECT_EQ(my.servers[1].max_connections, 100);
  EXPECT_EQ(my.servers[1].max_lag_ms, 5000);
  EXPECT_EQ(my.servers[2].weight, 1);  // defaults
  EXPECT_EQ(my.servers[2].max_connections, 50);
  EXPECT_EQ(my.servers[2].max_lag_ms, 10000);

  const Cluster& pg = rt.clusters[1];
  EXPECT_EQ(pg.name, "app_pg");
  EXPECT_EQ(pg.protocol, Protocol::kPostgres);
  EXPECT_EQ(pg.listen_port, 6432);
  EXPECT_EQ(pg.pool_mode, PoolMode::kSession);
  EXPECT_FALSE(pg.reader_fallback_to_writer);
  EXPECT_EQ(pg.max_client_connections, 2000);
  EXPECT_EQ(pg.connect_timeout_ms, 2000);
  EXPECT_EQ(pg.read_your_writes_ms, 500);
  ASSERT_EQ(pg.servers.size(), 2u);
  EXPECT_EQ(pg.servers[0].hostgroup, 10);
  EXPECT_EQ(pg.servers[1].hostgroup, 11);
  EXPECT_EQ(pg.servers[1].max_lag_ms, 2000);

  ASSERT_EQ(rt.users.size(), 2u);
  EXPECT_EQ(rt.users[0].name, "app");
  EXPECT_EQ(rt.users[0].cluster, "app_mysql");
  EXPECT_EQ(rt.users[0].default_schema, "shop");
  EXPECT_FALSE(rt.users[0].pool_mode.has_value());
  EXPECT_EQ(rt.users[0].backend_user, "app");
  EXPECT_EQ(rt.users[0].backend_password, "app-secret");
  EXPECT_EQ(rt.users[1].pool_mode, PoolMode::kTransaction);
  EXPECT_EQ(rt.users[1].max_connections, 200);
  EXPECT_EQ(rt.users[1].backend_user, "reporting_ro");
  EXPECT_EQ(rt.users[1].backend_password, "ro-secret");

  ASSERT_EQ(rt.rules.size(), 2u);
  EXPECT_EQ(rt.rules[0].id, 1);
  EXPECT_EQ(rt.rules[0].cluster, "app_mysql");
  EXPECT_EQ(rt.rules[0].match_pattern, "(?i)^SELECT .* FOR UPDATE");
  EXPECT_EQ(rt.rules[0].action, RuleAction::kRoute);
  EXPECT_EQ(rt.rules[0].destination_hostgroup, 0);
  EXPECT_EQ(rt.rules[1].action, RuleAction::kReject);
  EXPECT_EQ(rt.rules[1].user, "reporting");
  EXPECT_EQ(rt.rules[1].error_message, "reporting may not delete");
  EXPECT_EQ(rt.rules[1].destination_hostgroup, -1);
}

TEST(ConfigFileTest, MinimalConfigTakesDefaults) {
  Result<Runtime> r = ParseConfig(kBase, "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->workers, 0);
  EXPECT_EQ(r->log_level, "info");
  EXPECT_EQ(r->admin.listen_port, 6032);
  EXPECT_EQ(r->metrics.listen_port, 0);  // disabled
  const Cluster& c = r->clusters.at(0);
  EXPECT_EQ(c.pool_mode, PoolMode::kTransaction);
  EXPECT_EQ(c.monitor_password, "");
  EXPECT_EQ(c.servers.at(0).hostgroup, 0);
}

TEST(ConfigFileTest, SluiceSectionIsRead) {
  Result<Runtime> r = ParseConfig(WithBase("[sluice]\nworkers = 4\nlog_level = \"debug\"\n"
                                           "drain_timeout_ms = 0\n"),
                                  "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->workers, 4);
  EXPECT_EQ(r->log_level, "debug");
  EXPECT_EQ(r->drain_timeout_ms, 0);
}

TEST(ConfigFileTest, PreAuthBoundsAreRead) {
  Result<Runtime> d = ParseConfig(kBase, "t.toml");
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->max_unauthenticated_connections, 4096);
  EXPECT_EQ(d->client_preauth_bytes, 16384);
  Result<Runtime> r = ParseConfig(WithBase("[sluice]\nmax_unauthenticated_connections = 20000\n"
                                           "client_preauth_bytes = 4096\n"),
                                  "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->max_unauthenticated_connections, 20000);
  EXPECT_EQ(r->client_preauth_bytes, 4096);
}

// A bad pre-auth bound names the file, the line and the key, and the allowed range.
TEST(ConfigFileTest, BadPreAuthBoundNamesFileLineAndKey) {
  std::string e1 = Error(WithBase("[sluice]\nworkers = 2\nclient_preauth_bytes = 100\n"));
  EXPECT_NE(e1.find("t.toml:"), std::string::npos) << e1;
  EXPECT_NE(e1.find("client_preauth_bytes"), std::string::npos) << e1;
  EXPECT_NE(e1.find("1024"), std::string::npos) << e1;
  std::string e2 = Error(WithBase("[sluice]\nmax_unauthenticated_connections = 0\n"));
  EXPECT_NE(e2.find("t.toml:"), std::string::npos) << e2;
  EXPECT_NE(e2.find("max_unauthenticated_connections"), std::string::npos) << e2;
  std::string e3 = Error(WithBase("[sluice]\nclient_preauth_bytes = \"16k\"\n"));
  EXPECT_NE(e3.find("client_preauth_bytes"), std::string::npos) << e3;
  EXPECT_NE(e3.find("integer"), std::string::npos) << e3;
}

TEST(ConfigFileTest, MissingKeyNamesTheTableLine) {
  EXPECT_EQ(Error(R"([admin]
password = "pw"
[[cluster]]
name = "c"
listen = "127.0.0.1:6033"
monitor_user = "m"
)"),
            "t.toml:3: cluster[0].protocol: missing required key");
  EXPECT_EQ(Error(WithBase("[[cluster.server]]\nhost = \"127.0.0.2\"\nrole = \"replica\"\n")),
            "t.toml:12: cluster[0].server[1].port: missing required key");
  EXPECT_EQ(Error(WithBase("[[user]]\nname = \"u\"\ncluster = \"c\"\n")),
            "t.toml:12: user[0].password: missing required key");
  EXPECT_EQ(Error(WithBase("[[query_rule]]\naction = \"reject\"\n")),
            "t.toml:12: query_rule[0].id: missing required key");
}

TEST(ConfigFileTest, WrongType) {
  EXPECT_EQ(Error(R"([admin]
password = "pw"
[[cluster]]
name = "c"
protocol = "mysql"
listen = "127.0.0.1:6033"
monitor_user = "m"
  [[cluster.server]]
  host = "127.0.0.1"
  port = "3306"
  role = "primary"
)"),
            "t.toml:10: cluster[0].server[0].port: expected integer, got string");
  EXPECT_EQ(Error(WithBase("[sluice]\nworkers = 2.5\n")),
            "t.toml:13: sluice.workers: expected integer, got float");
  EXPECT_EQ(Error(WithBase("[metrics]\nlisten = 9187\n")),
            "t.toml:13: metrics.listen: expected string, got integer");
  EXPECT_EQ(Error(WithBase("[[query_rule]]\nid = 1\napply = \"yes\"\n")),
            "t.toml:14: query_rule[0].apply: expected boolean, got string");
  EXPECT_EQ(Error("metrics = 1\n" + std::string(kBase)),
            "t.toml:1: metrics: expected table, got integer");
  EXPECT_EQ(Error(WithBase("[user]\nname = \"u\"\n")),
            "t.toml:12: user: expected array of tables ([[user]]), got table");
  EXPECT_EQ(Error("query_rule = [1]\n" + std::string(kBase)),
            "t.toml:1: query_rule[0]: expected table, got integer");
}

TEST(ConfigFileTest, UnknownKeyAtTopLevel) {
  EXPECT_EQ(Error(WithBase("[[clusters]]\nname = \"x\"\n")), "t.toml:12: clusters: unknown key");
  EXPECT_EQ(Error("verbose = true\n" + std::string(kBase)), "t.toml:1: verbose: unknown key");
}

TEST(ConfigFileTest, UnknownKeyNested) {
  EXPECT_EQ(Error(WithBase("  weigth = 3\n")),
            "t.toml:12: cluster[0].server[0].weigth: unknown key");
  EXPECT_EQ(Error(WithBase("[sluice]\nworker = 4\n")), "t.toml:13: sluice.worker: unknown key");
  EXPECT_EQ(
      Error(WithBase("[[user]]\nname = \"u\"\npassword = \"\"\ncluster = \"c\"\nschema = \"x\"\n")),
      "t.toml:16: user[0].schema: unknown key");
}

TEST(ConfigFileTest, UnknownKeyWinsOverTheMissingKeyItMisspells) {
  EXPECT_EQ(Error(R"([admin]
password = "pw"
[[cluster]]
name = "c"
protocl = "mysql"
listen = "127.0.0.1:6033"
monitor_user = "m"
)"),
            "t.toml:5: cluster[0].protocl: unknown key");
}

TEST(ConfigFileTest, BadEnum) {
  EXPECT_EQ(Error(R"([admin]
password = "pw"
[[cluster]]
name = "c"
protocol = "mariadb"
listen = "127.0.0.1:6033"
monitor_user = "m"
)"),
            "t.toml:5: cluster[0].protocol: expected one of mysql|postgresql, got \"mariadb\"");
  EXPECT_EQ(Error(WithBase("[[cluster.server]]\nhost = \"h\"\nport = 1\nrole = \"slave\"\n")),
            "t.toml:15: cluster[0].server[1].role: expected one of primary|replica, got \"slave\"");
  EXPECT_EQ(Error(WithBase("[sluice]\nlog_level = \"trace\"\n")),
            "t.toml:13: sluice.log_level: expected one of debug|info|warn|error, got \"trace\"");
  EXPECT_EQ(Error(WithBase("[[user]]\nname = \"u\"\npassword = \"\"\ncluster = \"c\"\n"
                           "pool_mode = \"statement\"\n")),
            "t.toml:16: user[0].pool_mode: expected one of session|transaction, got \"statement\"");
  EXPECT_EQ(Error(WithBase("[[query_rule]]\nid = 1\naction = \"drop\"\n")),
            "t.toml:14: query_rule[0].action: expected one of route|reject, got \"drop\"");
}

TEST(ConfigFileTest, OutOfRange) {
  EXPECT_EQ(Error(WithBase("[[cluster.server]]\nhost = \"h\"\nport = 70000\nrole = \"replica\"\n")),
            "t.toml:14: cluster[0].server[1].port: expected 1..65535, got 70000");
  EXPECT_EQ(Error(WithBase("[[cluster.server]]\nhost = \"h\"\nport = 0\nrole = \"replica\"\n")),
            "t.toml:14: cluster[0].server[1].port: expected 1..65535, got 0");
  EXPECT_EQ(Error(WithBase("  weight = 0\n")),
            "t.toml:12: cluster[0].server[0].weight: expected 1..1000000, got 0");
  EXPECT_EQ(Error(WithBase("[sluice]\nworkers = 257\n")),
            "t.toml:13: sluice.workers: expected 0..256, got 257");
  EXPECT_EQ(Error(WithBase("[sluice]\nworkers = -1\n")),
            "t.toml:13: sluice.workers: expected 0..256, got -1");
}

TEST(ConfigFileTest, BadListenAddress) {
  EXPECT_EQ(Error(WithBase("[metrics]\nlisten = \"9187\"\n")),
            "t.toml:13: metrics.listen: expected \"host:port\" with port 1..65535, got \"9187\"");
  EXPECT_EQ(Error(R"([admin]
password = "pw"
listen = "127.0.0.1:99999"
)"),
            "t.toml:3: admin.listen: expected \"host:port\" with port 1..65535, got "
            "\"127.0.0.1:99999\"");
}

TEST(ConfigFileTest, AdminPgListen) {
  Result<Runtime> r =
      ParseConfig("[admin]\npassword = \"pw\"\npg_listen = \"127.0.0.1:6433\"\n", "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->admin.pg_listen_host, "127.0.0.1");
  EXPECT_EQ(r->admin.pg_listen_port, 6433);
  Result<Runtime> off = ParseConfig("[admin]\npassword = \"pw\"\n", "t.toml");
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->admin.pg_listen_port, 0);  // off by default
  EXPECT_EQ(Error("[admin]\npassword = \"pw\"\npg_listen = \"6433\"\n"),
            "t.toml:3: admin.pg_listen: expected \"host:port\" with port 1..65535, got \"6433\"");
  EXPECT_EQ(Error("[admin]\nlisten = \"/run/sluice/admin.sock\"\npg_listen = \"127.0.0.1:6433\"\n"),
            "t.toml:3: admin.pg_listen: the PostgreSQL admin console listens on TCP: "
            "admin.password is required with it");
}

TEST(ConfigFileTest, Duplicates) {
  EXPECT_EQ(Error(WithBase(R"([[cluster]]
name = "c"
protocol = "postgresql"
listen = "127.0.0.1:6432"
writer_hostgroup = 10
reader_hostgroup = 11
monitor_user = "m"
  [[cluster.server]]
  host = "127.0.0.1"
  port = 5432
  role = "primary"
)")),
            "t.toml:13: cluster[1].name: duplicate cluster \"c\" (the first is cluster[0])");
  EXPECT_EQ(Error(WithBase(R"([[cluster]]
name = "d"
protocol = "postgresql"
listen = "127.0.0.1:6033"
writer_hostgroup = 10
reader_hostgroup = 11
monitor_user = "m"
  [[cluster.server]]
  host = "127.0.0.1"
  port = 5432
  role = "primary"
)")),
            "t.toml:15: cluster[1].listen: port 6033 is already used by cluster[0].listen");
  EXPECT_EQ(Error(WithBase("[metrics]\nlisten = \"127.0.0.1:6032\"\n")),
            "t.toml:13: metrics.listen: port 6032 is already used by admin.listen");
  EXPECT_EQ(Error(WithBase(R"([[cluster]]
name = "d"
protocol = "postgresql"
listen = "127.0.0.1:6432"
writer_hostgroup = 1
reader_hostgroup = 11
monitor_user = "m"
  [[cluster.server]]
  host = "127.0.0.1"
  port = 5432
  role = "primary"
)")),
            "t.toml:16: cluster[1].writer_hostgroup: hostgroup 1 is already used by cluster[0]");
  EXPECT_EQ(Error(WithBase("[[cluster.server]]\nhost = \"127.0.0.1\"\nport = 3306\n"
                           "role = \"replica\"\n")),
            "t.toml:14: cluster[0].server[1].port: duplicate server 127.0.0.1:3306 (the first is "
            "cluster[0].server[0])");
  EXPECT_EQ(Error(WithBase(R"([[user]]
name = "u"
password = "a"
cluster = "c"
[[user]]
name = "u"
password = "b"
cluster = "c"
)")),
            "t.toml:17: user[1].name: duplicate user \"u\" in cluster \"c\" (the first is "
            "user[0])");
  EXPECT_EQ(Error(WithBase("[[query_rule]]\nid = 7\n[[query_rule]]\nid = 7\n")),
            "t.toml:15: query_rule[1].id: duplicate id 7 (the first is query_rule[0])");
}

TEST(ConfigFileTest, DanglingReferences) {
  EXPECT_EQ(Error(WithBase("[[user]]\nname = \"u\"\npassword = \"p\"\ncluster = \"nope\"\n")),
            "t.toml:15: user[0].cluster: no cluster named \"nope\"");
  EXPECT_EQ(Error(WithBase("[[query_rule]]\nid = 1\ncluster = \"nope\"\n")),
            "t.toml:14: query_rule[0].cluster: no cluster named \"nope\"");
  EXPECT_EQ(Error(WithBase("[[query_rule]]\nid = 1\nuser = \"ghost\"\n")),
            "t.toml:14: query_rule[0].user: no user named \"ghost\"");
  EXPECT_EQ(Error(WithBase("[[query_rule]]\nid = 1\ndestination_hostgroup = 5\n")),
            "t.toml:14: query_rule[0].destination_hostgroup: no cluster has hostgroup 5");
}

TEST(ConfigFileTest, ExactlyOnePrimary) {
  EXPECT_EQ(Error(WithBase("[[cluster.server]]\nhost = \"127.0.0.1\"\nport = 3307\n"
                           "role = \"primary\"\n")),
            "t.toml:15: cluster[0].server[1].role: second primary in cluster \"c\" (the first is "
            "cluster[0].server[0])");
  EXPECT_EQ(Error(R"([admin]
password = "pw"
[[cluster]]
name = "c"
protocol = "mysql"
listen = "127.0.0.1:6033"
monitor_user = "m"
  [[cluster.server]]
  host = "127.0.0.1"
  port = 3306
  role = "replica"
)"),
            "t.toml:3: cluster[0].server: expected exactly one server with role = \"primary\", got "
            "none");
  EXPECT_EQ(Error(R"([admin]
password = "pw"
[[cluster]]
name = "c"
protocol = "mysql"
listen = "127.0.0.1:6033"
monitor_user = "m"
)"),
            "t.toml:3: cluster[0].server: missing required key");
}

TEST(ConfigFileTest, AdminPasswordRequiredUnlessUnixSocket) {
  EXPECT_EQ(Error("[admin]\nuser = \"root\"\n"),
            "t.toml:1: admin.password: missing required key (required unless admin.listen is a "
            "Unix socket path)");
  EXPECT_EQ(Error("# no admin section\n[sluice]\nworkers = 1\n"),
            "t.toml:1: admin.password: missing required key (required unless admin.listen is a "
            "Unix socket path)");
  EXPECT_EQ(Error("[admin]\npassword = \"\"\n"),
            "t.toml:2: admin.password: expected a non-empty password (required unless "
            "admin.listen is a Unix socket path)");
  Result<Runtime> r = ParseConfig("[admin]\nlisten = \"/run/sluice/admin.sock\"\n", "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->admin.listen_path, "/run/sluice/admin.sock");
  EXPECT_EQ(r->admin.listen_port, 0);
  EXPECT_EQ(r->admin.password, "");
}

TEST(ConfigFileTest, RuleChecks) {
  EXPECT_EQ(Error(WithBase("[[query_rule]]\nid = 1\nmatch_pattern = \"(unclosed\"\n")),
            "t.toml:14: query_rule[0].match_pattern: invalid regular expression: missing ): "
            "(unclosed");
  EXPECT_EQ(Error(WithBase("[[query_rule]]\nid = 1\ncluster = \"c\"\ndestination_hostgroup = 3\n")),
            "t.toml:15: query_rule[0].destination_hostgroup: hostgroup 3 is not one of cluster "
            "\"c\" (0 or 1)");
}

TEST(ConfigFileTest, ReaderHostgroupMustDifferFromWriter) {
  EXPECT_EQ(Error(R"([admin]
password = "pw"
[[cluster]]
name = "c"
protocol = "mysql"
listen = "127.0.0.1:6033"
monitor_user = "m"
reader_hostgroup = 0
)"),
            "t.toml:8: cluster[0].reader_hostgroup: expected a hostgroup other than "
            "writer_hostgroup (0)");
}

TEST(ConfigFileTest, TomlSyntaxError) {
  EXPECT_EQ(Error("[admin]\npassword = = \"pw\"\n"),
            "t.toml:2: -: Error while parsing value: could not determine value type");
  EXPECT_EQ(Error("[admin]\npassword = \"a\"\npassword = \"b\"\n"),
            "t.toml:3: -: Error while parsing key-value pair: cannot redefine existing string "
            "'password'");
}

TEST(ConfigFileTest, UnreadableFile) {
  Result<Runtime> missing = LoadConfigFile("/nonexistent/sluice.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "/nonexistent/sluice.toml:0: -: cannot read: No such file or directory");
  // A directory opens but does not read, even for root (chmod 000 would not stop root).
  Result<Runtime> dir = LoadConfigFile("/tmp");
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().message(), "/tmp:0: -: cannot read: Is a directory");
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// Issue #11's keys: write_hold_timeout_ms (bounded) and fence_command.
TEST(ConfigFileTest, WriteHoldAndFenceCommand) {
  std::string base = kBase;
  std::string with = base;
  with.insert(with.find("  [[cluster.server]]"),
              "write_hold_timeout_ms = 1500\nfence_command = \"stonith --hard\"\n");
  Result<Runtime> r = ParseConfig(with, "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->clusters[0].write_hold_timeout_ms, 1500);
  EXPECT_EQ(r->clusters[0].fence_command, "stonith --hard");
  Result<Runtime> d = ParseConfig(base, "t.toml");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->clusters[0].write_hold_timeout_ms, 30000);
  EXPECT_EQ(d->clusters[0].fence_command, "");
  std::string bad = base;
  bad.insert(bad.find("  [[cluster.server]]"), "write_hold_timeout_ms = -5\n");
  EXPECT_EQ(Error(bad), "t.toml:8: cluster[0].write_hold_timeout_ms: expected 0..3600000, got -5");
}

TEST(ConfigFileTest, Consistency) {
  std::string base = kBase;
  std::string with = base;
  with.insert(with.find("  [[cluster.server]]"),
              "consistency = \"session\"\nconsistency_wait_ms = 250\n");
  Result<Runtime> r = ParseConfig(with, "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->clusters[0].consistency, Consistency::kSession);
  EXPECT_EQ(r->clusters[0].consistency_wait_ms, 250);
  Result<Runtime> d = ParseConfig(base, "t.toml");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->clusters[0].consistency, Consistency::kEventual);
  EXPECT_EQ(d->clusters[0].consistency_wait_ms, 0);
  std::string bad = base;
  bad.insert(bad.find("  [[cluster.server]]"), "consistency = \"strong\"\n");
  EXPECT_EQ(Error(bad),
            "t.toml:8: cluster[0].consistency: expected one of eventual|session|global, got "
            "\"strong\"");
  bad = base;
  bad.insert(bad.find("  [[cluster.server]]"), "consistency_wait_ms = 70000\n");
  EXPECT_EQ(Error(bad), "t.toml:8: cluster[0].consistency_wait_ms: expected 0..60000, got 70000");
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// kBase with KEYS (one per line) in the cluster after monitor_user (line 7): the first is
// on line 8.
std::string WithClusterKeys(const std::string& keys) {
  std::string text = kBase;
  size_t at = text.find("  [[cluster.server]]");
  return text.insert(at, keys);
}

TEST(ConfigFileTest, BackendTlsKeys) {
  Result<Runtime> r = ParseConfig(WithClusterKeys("backend_tls = \"verify-full\"\n"
                                                  "backend_tls_ca_file = \"/etc/hostname\"\n"
                                                  "backend_tls_server_name = \"db.internal\"\n"),
                                  "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const BackendTls& tls = r->clusters[0].backend_tls;
  EXPECT_EQ(tls.mode, BackendTlsMode::kVerifyFull);
  EXPECT_EQ(tls.ca_file, "/etc/hostname");
  EXPECT_EQ(tls.server_name, "db.internal");
  EXPECT_TRUE(tls.verify());
  // The default: off.
  Result<Runtime> plain = ParseConfig(kBase, "t.toml");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->clusters[0].backend_tls.mode, BackendTlsMode::kDisable);
}

TEST(ConfigFileTest, BackendTlsErrorsNameFileLineAndKey) {
  EXPECT_EQ(Error(WithClusterKeys("backend_tls = \"yes\"\n")),
            "t.toml:8: cluster[0].backend_tls: expected one of "
            "disable|prefer|require|verify-ca|verify-full, got \"yes\"");
  EXPECT_EQ(Error(WithClusterKeys("backend_tls = \"require\"\n"
                                  "backend_tls_ca_file = \"/nonexistent/ca.pem\"\n")),
            "t.toml:9: cluster[0].backend_tls_ca_file: cannot read \"/nonexistent/ca.pem\": No "
            "such file or directory");
  EXPECT_EQ(Error(WithClusterKeys("backend_tls_cert_file = \"/etc/hostname\"\n")),
            "t.toml:3: cluster[0].backend_tls_key_file: missing required key");
  EXPECT_EQ(Error(WithClusterKeys("backend_tls_cert_file = \"/etc/hostname\"\n"
                                  "backend_tls_key_file = \"/nonexistent/k.pem\"\n")),
            "t.toml:9: cluster[0].backend_tls_key_file: cannot read \"/nonexistent/k.pem\": No "
            "such file or directory");
}

// Passthrough authentication's keys: each bad value names the file, line and key; the
// lookup user needs a password; auth_query must take the user name.
TEST(ConfigFileTest, PassthroughKeys) {
  // Cluster keys on line 8, before the server.
  auto cluster = [](const std::string& protocol, const std::string& keys,
                    const std::string& extra = "") {
    return "[admin]\npassword = \"pw\"\n[[cluster]]\nname = \"c\"\nprotocol = \"" + protocol +
           "\"\nlisten = \"127.0.0.1:6033\"\nmonitor_user = \"m\"\n" + keys +
           "\n  [[cluster.server]]\n  host = \"127.0.0.1\"\n  port = 3306\n  role = "
           "\"primary\"\n" +
           extra;
  };
  Result<Runtime> rt = ParseConfig(cluster("mysql",
                                           "auth_user = \"lookup\"\nauth_password = "
                                           "\"pw\"\nauth_cache_ttl_ms = 5000"),
                                   "t.toml");
  ASSERT_TRUE(rt.ok()) << rt.status().message();
  const Cluster& c = rt->clusters[0];
  EXPECT_TRUE(c.passthrough());
  EXPECT_EQ(c.auth_user, "lookup");
  EXPECT_EQ(c.auth_cache_ttl_ms, 5000);
  EXPECT_EQ(c.auth_cache_size, 10000);
  EXPECT_EQ(c.auth_query, "");  // the default: DefaultAuthQuery
  // Off unless auth_user is set.
  rt = ParseConfig(testfix::kOneClusterConfig, "t.toml");
  ASSERT_TRUE(rt.ok());
  EXPECT_FALSE(rt->clusters[0].passthrough());

  EXPECT_EQ(Error(cluster("mysql",
                          "auth_user = \"l\"\nauth_password = \"p\"\n"
                          "auth_cache_ttl_ms = 0")),
            "t.toml:10: cluster[0].auth_cache_ttl_ms: expected 1..3600000, got 0");
  EXPECT_EQ(Error(cluster("mysql", "auth_max_pending = -5")),
            "t.toml:8: cluster[0].auth_max_pending: expected 1..1000000, got -5");
  EXPECT_EQ(Error(cluster("mysql", "auth_cache_size = \"many\"")),
            "t.toml:8: cluster[0].auth_cache_size: expected integer, got string");
  EXPECT_EQ(Error(cluster("mysql", "auth_user = \"lookup\"")),
            "t.toml:8: cluster[0].auth_user: the lookup user \"lookup\" needs a password: set "
            "auth_password or configure the user for cluster \"c\"");
  // The users table's entry for the lookup user is its password.
  EXPECT_EQ(Error(cluster("mysql", "auth_user = \"lookup\"",
                          "[[user]]\nname = \"lookup\"\npassword = \"pw\"\ncluster = \"c\"\n")),
            "ok");
  EXPECT_EQ(
      Error(cluster("postgresql",
                    "auth_user = \"l\"\nauth_password = \"p\"\n"
                    "auth_query = \"SELECT usename, passwd FROM pg_shadow WHERE usename = ?\"")),
      "t.toml:10: cluster[0].auth_query: expected a query that takes the user name as $1 "
      "(such as \"SELECT usename, passwd FROM pg_shadow WHERE usename = $1\")");
  EXPECT_EQ(Error(cluster("mysql",
                          "auth_user = \"l\"\nauth_password = \"p\"\n"
                          "auth_dbname = \"\"")),
            "t.toml:10: cluster[0].auth_dbname: expected a non-empty string");
}

}  // namespace
}  // namespace sluice
