// The per-backend-connection prepared statement cache: bounded, least recently used out.
#include "proxy/mysql/stmt_cache.h"

#include <gtest/gtest.h>

namespace sluice::mysqlproxy {
namespace {

TEST(StmtCache, FindsWhatWasInserted) {
  StmtCache c(4);
  EXPECT_EQ(c.Insert("SELECT 1", {7, false}), 0u);
  ASSERT_NE(c.Find("SELECT 1"), nullptr);
  EXPECT_EQ(c.Find("SELECT 1")->id, 7u);
  EXPECT_EQ(c.Find("SELECT 2"), nullptr);
}

TEST(StmtCache, EvictsLeastRecentlyUsed) {
  StmtCache c(2);
  c.Insert("a", {1, false});
  c.Insert("b", {2, false});
  c.Find("a");  // b is now the least recently used
  EXPECT_EQ(c.Insert("c", {3, false}), 2u);
  EXPECT_NE(c.Find("a"), nullptr);
  EXPECT_EQ(c.Find("b"), nullptr);
  EXPECT_EQ(c.size(), 2u);
}

TEST(StmtCache, ReinsertUpdatesWithoutEviction) {
  StmtCache c(1);
  c.Insert("a", {1, false});
  EXPECT_EQ(c.Insert("a", {9, true}), 0u);
  EXPECT_EQ(c.Find("a")->id, 9u);
  EXPECT_TRUE(c.Find("a")->types_sent);
}

TEST(StmtCache, StaysBoundedUnderChurn) {
  StmtCache c(16);
  for (uint32_t i = 1; i <= 1000; ++i) c.Insert("q" + std::to_string(i), {i, false});
  EXPECT_EQ(c.size(), 16u);
  EXPECT_NE(c.Find("q1000"), nullptr);
  EXPECT_EQ(c.Find("q1"), nullptr);
}

}  // namespace
}  // namespace sluice::mysqlproxy
