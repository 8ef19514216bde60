// RecordStatement: the rows a worker's statement lands in, and that repeated statements
// share them.
#include <gtest/gtest.h>

#include <string>

#include "common/stats.h"

namespace sluice {
namespace {

StatementRecord Select(std::string_view cluster) {
  StatementRecord r;
  r.cluster = cluster;
  r.server = "127.0.0.1:3306";
  r.user = "app";
  r.schema = "db";
  r.command = "SELECT";
  r.digest_text = "SELECT ?";
  r.digest_hash = 7;
  r.latency_us = 100;
  return r;
}

TEST(RecordStatement, RepeatedStatementsShareTheirRows) {
  StatsDelta d;
  for (int i = 0; i < 3; ++i) RecordStatement(&d, Select("main"));
  ASSERT_EQ(d.servers.size(), 1u);
  EXPECT_EQ(d.servers.at("main/127.0.0.1:3306").queries, 3u);
  EXPECT_EQ(d.commands.at("SELECT").count, 3u);
  EXPECT_EQ(d.users.at("main/app").statements, 3u);
  ASSERT_EQ(d.digests.size(), 1u);
  EXPECT_EQ(d.digests.begin()->second.count, 3u);
  EXPECT_EQ(d.digests.begin()->second.digest_text, "SELECT ?");
}

TEST(RecordStatement, UsersAreCountedPerCluster) {
  // The same user name on two clusters (a MariaDB and a PostgreSQL one) is two rows.
  StatsDelta d;
  RecordStatement(&d, Select("maria"));
  StatementRecord failed = Select("pg");
  failed.error = true;
  RecordStatement(&d, failed);
  RecordStatement(&d, failed);
  ASSERT_EQ(d.users.size(), 2u);
  EXPECT_EQ(d.users.at(UserStatsKey("maria", "app")).statements, 1u);
  EXPECT_EQ(d.users.at(UserStatsKey("maria", "app")).errors, 0u);
  EXPECT_EQ(d.users.at("pg/app").statements, 2u);
  EXPECT_EQ(d.users.at("pg/app").errors, 2u);
  // A key longer than the stack buffer goes the long way and lands in the same row.
  std::string long_cluster(200, 'c');
  RecordStatement(&d, Select(long_cluster));
  RecordStatement(&d, Select(long_cluster));
  EXPECT_EQ(d.users.at(UserStatsKey(long_cluster, "app")).statements, 2u);
  EXPECT_EQ(d.servers.at(long_cluster + "/127.0.0.1:3306").queries, 2u);
}

TEST(RecordStatement, CommandWithoutANameCountsAsOther) {
  StatsDelta d;
  StatementRecord r = Select("main");
  r.command = "";
  r.digest_text = "";
  RecordStatement(&d, r);
  EXPECT_EQ(d.commands.at("OTHER").count, 1u);
  EXPECT_TRUE(d.digests.empty());
}

TEST(RecordStatement, ServerKeyLongerThanTheStackBufferIsKeptWhole) {
  StatsDelta d;
  std::string cluster(300, 'c');
  RecordStatement(&d, Select(cluster));
  RecordStatement(&d, Select(cluster));
  ASSERT_EQ(d.servers.size(), 1u);
  EXPECT_EQ(d.servers.begin()->first, cluster + "/127.0.0.1:3306");
  EXPECT_EQ(d.servers.begin()->second.queries, 2u);
}

}  // namespace
}  // namespace sluice
