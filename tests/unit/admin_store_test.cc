// The admin store without sockets: command parsing, LOAD validation through the admin tables,
// SAVE/LOAD with the disk store, stats tables from a StatsCollector, the result-set encoder.
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "admin/admin_service.h"
#include "admin/config_file.h"
#include "admin/metrics_exporter.h"
#include "protocol/mysql/constants.h"
#include "protocol/mysql/resultset.h"
#include "tests/unit/admin_fixture.h"

namespace sluice {
namespace {

constexpr char kConfig[] = R"([admin]
password = "pw"
[[cluster]]
name = "app"
protocol = "mysql"
listen = "127.0.0.1:6033"
monitor_user = "m"
  [[cluster.server]]
  host = "127.0.0.1"
  port = 3306
  role = "primary"
  [[cluster.server]]
  host = "127.0.0.1"
  port = 3307
  role = "replica"
[[user]]
name = "u"
password = "p"
cluster = "app"
)";

class AdminStoreTest : public testfix::AdminServiceTest {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("sluice-admin-unit-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    Open(dir_.string());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Open(const std::string& data_dir) { OpenAdmin(kConfig, data_dir); }

  std::filesystem::path dir_;
};

TEST(AdminCommandTest, ParsesProxySqlSpellings) {
  std::string err;
  auto c = ParseAdminCommand("load mysql query rules to runtime", &err);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, AdminCommand::Kind::kLoadToRuntime);
  EXPECT_EQ(c->groups, kGroupRules);
  c = ParseAdminCommand("SAVE PGSQL SERVERS TO DISK;", &err);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, AdminCommand::Kind::kSaveToDisk);
  c = ParseAdminCommand("SAVE ALL FROM RUNTIME", &err);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, AdminCommand::Kind::kSaveFromRuntime);
  EXPECT_EQ(c->groups, kGroupAll);
  c = ParseAdminCommand("LOAD USERS FROM DISK", &err);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, AdminCommand::Kind::kLoadFromDisk);
  EXPECT_FALSE(ParseAdminCommand("SELECT 1", &err));
  EXPECT_TRUE(err.empty());
  EXPECT_FALSE(ParseAdminCommand("LOAD SERVERS TO NOWHERE", &err));
  EXPECT_NE(err.find("expected LOAD|SAVE"), std::string::npos);
}

TEST_F(AdminStoreTest, TablesStartFromTheConfig) {
  AdminResult r =
      Ok("SELECT cluster, hostgroup, host, port, role, status FROM servers ORDER BY port");
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0], (SqlRow{"app", "0", "127.0.0.1", "3306", "primary", "ONLINE"}));
  EXPECT_EQ(r.rows[1], (SqlRow{"app", "1", "127.0.0.1", "3307", "replica", "ONLINE"}));
}

TEST_F(AdminStoreTest, LoadPublishesANewVersion) {
  Ok("UPDATE servers SET status='OFFLINE_SOFT', weight=3 WHERE port=3307");
  Ok("LOAD MYSQL SERVERS TO RUNTIME");
  RuntimePtr rt = holder_.Load();
  EXPECT_EQ(rt->version, 2u);
  EXPECT_EQ(rt->clusters[0].servers[1].state, ServerState::kOfflineSoft);
  EXPECT_EQ(rt->clusters[0].servers[1].weight, 3);
  AdminResult r = Ok("SELECT status FROM runtime_servers WHERE port=3307");
  EXPECT_EQ(r.rows, (std::vector<SqlRow>{{"OFFLINE_SOFT"}}));
}

TEST_F(AdminStoreTest, BadRowsAreRefusedWithRowAndColumn) {
  Ok("UPDATE servers SET weight=0 WHERE port=3307");
  EXPECT_EQ(
      Err("LOAD SERVERS TO RUNTIME"),
      "servers row (cluster=app, host=127.0.0.1, port=3307): weight: expected 1..1000000, got 0");
  EXPECT_EQ(holder_.Load()->version, 1u);
  Ok("UPDATE servers SET weight=1, role='primary' WHERE port=3307");
  EXPECT_EQ(Err("LOAD SERVERS TO RUNTIME"),
            "servers row (cluster=app, host=127.0.0.1, port=3307): hostgroup: expected 0 (the "
            "writer hostgroup of cluster \"app\" for role primary), got 1");
  Ok("UPDATE servers SET hostgroup=NULL WHERE port=3307");
  EXPECT_EQ(Err("LOAD SERVERS TO RUNTIME"),
            "servers row (cluster=app, host=127.0.0.1, port=3307): role: second primary in cluster "
            "\"app\" (the first is servers row (cluster=app, host=127.0.0.1, port=3306))");
  Ok("UPDATE servers SET role='replica', port='abc' WHERE port=3307");
  EXPECT_EQ(
      Err("LOAD SERVERS TO RUNTIME"),
      "servers row (cluster=app, host=127.0.0.1, port=abc): port: expected integer, got \"abc\"");
  Ok("INSERT INTO query_rules (id, match_pattern) VALUES (4, '(')");
  EXPECT_NE(Err("LOAD QUERY RULES TO RUNTIME")
                .find("query_rules row (id=4): match_pattern: invalid regular expression"),
            std::string::npos);
  Ok("UPDATE query_rules SET match_pattern='^SELECT', user='ghost'");
  EXPECT_EQ(Err("LOAD QUERY RULES TO RUNTIME"),
            "query_rules row (id=4): user: no user named \"ghost\"");
  Ok("UPDATE global_settings SET value='8' WHERE name='workers'");
  EXPECT_NE(Err("LOAD SETTINGS TO RUNTIME")
                .find("global_settings row (name=workers): value: cannot change at runtime"),
            std::string::npos);
  Ok("INSERT INTO mirrors (name, source, shadow) VALUES ('m1', 'app', 'ghost')");
  EXPECT_EQ(Err("LOAD MIRROR TO RUNTIME"),
            "mirrors row (name=m1): shadow: no cluster named \"ghost\"");
  EXPECT_EQ(holder_.Load()->version, 1u);
}

// The pre-auth bounds change at runtime through global_settings, under the same limits as
// the config file (admin/runtime_validation.h).
TEST_F(AdminStoreTest, PreAuthBoundsChangeAtRuntime) {
  Ok("UPDATE global_settings SET value='100' WHERE name='client_preauth_bytes'");
  EXPECT_NE(Err("LOAD SETTINGS TO RUNTIME").find("client_preauth_bytes"), std::string::npos);
  Ok("UPDATE global_settings SET value='4096' WHERE name='client_preauth_bytes'");
  Ok("UPDATE global_settings SET value='64' WHERE name='max_unauthenticated_connections'");
  Ok("LOAD SETTINGS TO RUNTIME");
  EXPECT_EQ(holder_.Load()->client_preauth_bytes, 4096);
  EXPECT_EQ(holder_.Load()->max_unauthenticated_connections, 64);
}

TEST_F(AdminStoreTest, SaveToDiskSurvivesReopen) {
  Ok("UPDATE servers SET weight=9 WHERE port=3307");
  Ok("SAVE SERVERS TO DISK");
  Open(dir_.string());
  EXPECT_EQ(holder_.Load()->clusters[0].servers[1].weight, 9);
  Ok("UPDATE servers SET weight=2 WHERE port=3307");
  Ok("LOAD SERVERS FROM DISK");
  EXPECT_EQ(Ok("SELECT weight FROM servers WHERE port=3307").rows, (std::vector<SqlRow>{{"9"}}));
  Ok("SAVE SERVERS FROM RUNTIME");
  EXPECT_EQ(Ok("SELECT weight FROM servers WHERE port=3307").rows, (std::vector<SqlRow>{{"9"}}));
}

TEST_F(AdminStoreTest, NoDataDirMeansNoDisk) {
  Open("");
  EXPECT_NE(Err("SAVE SERVERS TO DISK").find("no disk store: admin.data_dir is empty"),
            std::string::npos);
}

TEST_F(AdminStoreTest, DigestStatsAndReset) {
  auto d = std::make_unique<StatsDelta>();
  StatementRecord r;
  r.cluster = "app";
  r.server = "127.0.0.1:3307";
  r.user = "u";
  r.schema = "db";
  r.command = "SELECT";
  r.digest_text = "SELECT ? FROM t";
  r.digest_hash = 42;
  r.hostgroup = 1;
  r.latency_us = 300;
  for (int i = 0; i < 5; ++i) RecordStatement(d.get(), r);
  ASSERT_TRUE(mailbox_.Offer(d));
  AdminResult g =
      Ok("SELECT username, schemaname, count_star, sum_time, min_time FROM stats_query_digest");
  EXPECT_EQ(g.rows, (std::vector<SqlRow>{{"u", "db", "5", "1500", "300"}}));
  EXPECT_EQ(Ok("SELECT queries FROM stats_servers WHERE server='127.0.0.1:3307'").rows,
            (std::vector<SqlRow>{{"5"}}));
  EXPECT_EQ(Ok("SELECT count, cnt_500us FROM stats_commands WHERE command='SELECT'").rows,
            (std::vector<SqlRow>{{"5", "5"}}));
  EXPECT_EQ(Ok("SELECT count_star FROM stats_query_digest_reset").rows,
            (std::vector<SqlRow>{{"5"}}));
  EXPECT_TRUE(Ok("SELECT * FROM stats_query_digest").rows.empty());
  // Prometheus counts are lifetime: the admin reset does not move them backwards.
  auto fams = BuildMetricFamilies(stats_.Lifetime(), *holder_.Load());
  bool found = false;
  for (const auto& f : fams) {
    if (f.name != "sluice_server_queries_total") continue;
    for (const auto& m : f.metric)
      if (m.label[1].value == "127.0.0.1:3307") found = m.counter.value == 5;
  }
  EXPECT_TRUE(found);
}

// pgbouncer_exporter/ProxySQL-exporter habit: a server's series keep their identity when a
// failover moves it to another role and hostgroup; role and hostgroup are gauges of their own.
TEST_F(AdminStoreTest, ServerSeriesKeepTheirLabelsAcrossARoleChange) {
  auto labels_of = [](const Runtime& rt) {
    std::map<std::string, std::vector<std::vector<std::string>>> out;
    for (const auto& f : BuildMetricFamilies(StatsDelta{}, rt)) {
      if (f.name == "sluice_server_role" || f.name == "sluice_server_hostgroup") continue;
      for (const auto& m : f.metric) {
        std::vector<std::string> l;
        for (const auto& kv : m.label) l.push_back(kv.name + "=" + kv.value);
        out[f.name].push_back(l);
      }
    }
    return out;
  };
  Runtime before = *holder_.Load();
  Runtime after = before;
  for (Server& s : after.clusters[0].servers) {
    bool was_primary = s.role == ServerRole::kPrimary;
    s.role = was_primary ? ServerRole::kReplica : s.role;
    s.hostgroup = was_primary ? after.clusters[0].reader_hostgroup : s.hostgroup;
  }
  after.clusters[0].servers[1].role = ServerRole::kPrimary;
  after.clusters[0].servers[1].hostgroup = after.clusters[0].writer_hostgroup;
  EXPECT_EQ(labels_of(before).at("sluice_server_queries_total"),
            labels_of(after).at("sluice_server_queries_total"));
  EXPECT_EQ(labels_of(before).at("sluice_server_state"),
            labels_of(after).at("sluice_server_state"));
  for (const auto& f : BuildMetricFamilies(StatsDelta{}, after)) {
    if (f.name != "sluice_server_hostgroup") continue;
    ASSERT_FALSE(f.metric.empty());
    EXPECT_EQ(f.metric[1].label[1].value, after.clusters[0].servers[1].name());
    EXPECT_EQ(f.metric[1].gauge.value, after.clusters[0].writer_hostgroup);
  }
}

TEST_F(AdminStoreTest, EventsTable) {
  events_.Append("FAILOVER", "app", "127.0.0.1:3306", "test event");
  AdminResult r =
      Ok("SELECT kind, cluster, server, message FROM stats_events WHERE kind='FAILOVER'");
  EXPECT_EQ(r.rows, (std::vector<SqlRow>{{"FAILOVER", "app", "127.0.0.1:3306", "test event"}}));
}

TEST(EventLogTest, RingIsBounded) {
  EventLog log(3);
  for (int i = 0; i < 5; ++i) log.Append("K", "", "", std::to_string(i));
  auto ev = log.Snapshot();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].message, "2");
  EXPECT_EQ(ev[2].message, "4");
  EXPECT_EQ(log.total(), 5u);
}

TEST(ResultSetTest, EncodesColumnsRowsAndEof) {
  std::string out;
  uint8_t seq = 1;
  mysql::ColumnDefinition c;
  c.name = "a";
  mysql::AppendTextResultSet(&out, &seq, {c}, {{std::string("x")}, {std::nullopt}}, 0, 2);
  // count, column, EOF, 2 rows, EOF: six packets, sequence 1..6.
  EXPECT_EQ(seq, 7);
  EXPECT_EQ(out.substr(0, 5), std::string("\x01\x00\x00\x01\x01", 5));
  std::string col = mysql::EncodeColumnDefinition41(c);
  EXPECT_EQ(col.substr(0, 4), std::string("\x03"
                                          "def",
                                          4));
  EXPECT_EQ(col.size(), 4u + 1 + 1 + 1 + 2 + 2 + 1 + 12);
  EXPECT_EQ(mysql::EncodeTextRow({std::string("ab"), std::nullopt}), std::string("\x02"
                                                                                 "ab\xfb",
                                                                                 4));
  std::string deprecate;
  seq = 1;
  mysql::AppendTextResultSet(&deprecate, &seq, {c}, {},
                             mysql::CLIENT_DEPRECATE_EOF | mysql::CLIENT_PROTOCOL_41, 2);
  EXPECT_EQ(seq, 4);  // count, column, OK(0xFE)
  // The closing OK: 0xFE, affected rows 0, last insert id 0, status, warnings.
  EXPECT_EQ(deprecate.substr(deprecate.size() - 11),
            std::string("\x07\x00\x00\x03\xfe\x00\x00\x02\x00\x00\x00", 11));
}

}  // namespace
}  // namespace sluice
