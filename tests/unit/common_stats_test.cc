// RecordStatement: the rows a worker's statement lands in, and that repeated statements
// share them.
#include <gtest/gtest.h>

#include <string>

#include "admin/stats_collector.h"
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

// A flood of distinct statement shapes costs fixed memory: beyond kQueryDigestsMax rows the
// rest are counted, not lost, in their cluster's "other" row, in a worker's delta, when a
// worker merges two of its deltas, and in the control plane's totals.
TEST(RecordStatement, DistinctShapesBeyondTheCapAreCountedInOther) {
  StatsDelta d;
  const size_t n = kQueryDigestsMax + 500;
  for (size_t i = 0; i < n; ++i) {
    StatementRecord r = Select("main");
    std::string text = "SELECT " + std::to_string(i);
    r.digest_text = text;
    r.digest_hash = 1000 + i;
    RecordStatement(&d, r);
  }
  EXPECT_EQ(d.digests.size(), kQueryDigestsMax + 1);
  const DigestStats& other = d.digests.at(OtherDigestKey("main"));
  EXPECT_EQ(other.digest_text, kOtherDigestText);
  EXPECT_EQ(other.count, n - kQueryDigestsMax);
  EXPECT_EQ(other.user, "");
  EXPECT_EQ(other.cluster, "main");
  // A shape already kept is still counted in its own row.
  StatementRecord again = Select("main");
  again.digest_text = "SELECT 3";
  again.digest_hash = 1003;
  RecordStatement(&d, again);
  EXPECT_EQ(d.digests.size(), kQueryDigestsMax + 1);
  uint64_t total = 0;
  for (const auto& [k, v] : d.digests) total += v.count;
  EXPECT_EQ(total, n + 1);

  // Another worker's delta with other new shapes: the totals stay bounded, nothing is lost.
  StatsDelta w2;
  for (size_t i = 0; i < 200; ++i) {
    StatementRecord r = Select("main");
    std::string text = "UPDATE t SET a = " + std::to_string(i);
    r.digest_text = text;
    r.digest_hash = 900000 + i;
    RecordStatement(&w2, r);
  }
  auto sum = [](const StatsDelta& x) {
    uint64_t t = 0;
    for (const auto& [k, v] : x.digests) t += v.count;
    return t;
  };
  StatsDelta totals;
  AddWorkerStats(&totals, d);
  AddWorkerStats(&totals, w2);
  EXPECT_LE(totals.digests.size(), kQueryDigestsMax + 1);
  EXPECT_GE(totals.digests.at(OtherDigestKey("main")).count, n - kQueryDigestsMax + 200);
  EXPECT_EQ(sum(totals), n + 1 + 200);
  d.Merge(std::move(w2));  // a worker merging its own deltas
  EXPECT_EQ(d.digests.size(), kQueryDigestsMax + 1);
  EXPECT_EQ(d.digests.at(OtherDigestKey("main")).count, n - kQueryDigestsMax + 200);
  EXPECT_EQ(sum(d), n + 1 + 200);
}

}  // namespace
}  // namespace sluice
