// Unit tests of admin/admin_aliases.h: which statements are PgBouncer/ProxySQL commands, and
// which sluice tables a statement naming a ProxySQL view needs refreshed.
#include "admin/admin_aliases.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

using Kind = AliasCommand::Kind;

TEST(AliasCommand, ShowCommandsBecomeQueries) {
  for (const char* s : {"SHOW POOLS", "show servers;", "Show Stats", "SHOW CLUSTERS", "SHOW TABLES",
                        "show tables from disk"}) {
    auto c = ParseAliasCommand(s);
    ASSERT_TRUE(c.has_value()) << s;
    EXPECT_EQ(c->kind, Kind::kQuery) << s;
    EXPECT_FALSE(c->sql.empty()) << s;
  }
  EXPECT_NE(ParseAliasCommand("show tables from disk")->sql.find("disk.sqlite_master"),
            std::string::npos);
}

TEST(AliasCommand, ActionsKeepTheClusterName) {
  EXPECT_EQ(ParseAliasCommand("RELOAD")->kind, Kind::kReload);
  EXPECT_EQ(ParseAliasCommand("shutdown;")->kind, Kind::kShutdown);
  auto p = ParseAliasCommand("PAUSE App_1");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->kind, Kind::kPause);
  EXPECT_EQ(p->cluster, "App_1");
  auto r = ParseAliasCommand("resume");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->kind, Kind::kResume);
  EXPECT_EQ(r->cluster, "");
}

TEST(AliasCommand, AnythingElseIsLeftToSqlite) {
  for (const char* s : {"SELECT * FROM servers", "SHOW DATABASES", "SHOW POOLS extra", "PAUSE a b",
                        "RELOAD now", "SHOW", "", "LOAD SERVERS TO RUNTIME"})
    EXPECT_FALSE(ParseAliasCommand(s).has_value()) << s;
}

TEST(AliasedTables, ViewsNameWhatTheyRead) {
  EXPECT_EQ(AliasedTables("select * from runtime_mysql_servers"),
            " runtime_servers runtime_global_settings");
  EXPECT_EQ(AliasedTables("select * from stats_mysql_connection_pool"), " stats_servers");
  EXPECT_EQ(AliasedTables("select * from mysql_servers_x"), "");
  EXPECT_EQ(AliasedTables("select * from servers"), "");
}

}  // namespace
}  // namespace sluice
