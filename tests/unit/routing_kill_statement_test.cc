// ParseKill and ReplaceConnectionId (routing/kill_statement.h).
#include "routing/kill_statement.h"

#include <gtest/gtest.h>

namespace sluice::routing {
namespace {

TEST(ParseKill, Forms) {
  auto k = ParseKill("KILL 42");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->id, 42u);
  EXPECT_FALSE(k->query_only);
  EXPECT_TRUE(k->unsupported.empty());
  k = ParseKill("kill  query 7;");
  ASSERT_TRUE(k);
  EXPECT_TRUE(k->query_only);
  EXPECT_EQ(k->id, 7u);
  k = ParseKill("/* x */ KILL HARD CONNECTION 9");
  ASSERT_TRUE(k);
  EXPECT_FALSE(k->query_only);
  EXPECT_EQ(k->id, 9u);
  k = ParseKill("KILL SOFT QUERY 4294967295");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->id, 4294967295u);
  EXPECT_TRUE(k->unsupported.empty());
}

TEST(ParseKill, WhatIsNotMapped) {
  EXPECT_FALSE(ParseKill("SELECT 1"));
  EXPECT_FALSE(ParseKill("KILLJOY 1"));
  for (const char* sql : {"KILL QUERY ID 5", "KILL USER app", "KILL 4294967296", "KILL 1 2",
                          "KILL 'x'", "KILL", "KILL 1.5", "KILL -1"}) {
    auto k = ParseKill(sql);
    ASSERT_TRUE(k) << sql;
    EXPECT_FALSE(k->unsupported.empty()) << sql;
  }
}

TEST(ReplaceConnectionId, CallsOnly) {
  EXPECT_EQ(ReplaceConnectionId("SELECT CONNECTION_ID()", 17), "SELECT 17");
  EXPECT_EQ(ReplaceConnectionId("select connection_id ( ), Connection_Id()", 3), "select 3, 3");
  EXPECT_EQ(ReplaceConnectionId("KILL QUERY CONNECTION_ID()", 5), "KILL QUERY 5");
  EXPECT_FALSE(ReplaceConnectionId("SELECT 1", 1));
  EXPECT_FALSE(ReplaceConnectionId("SELECT 'CONNECTION_ID()'", 1));
  EXPECT_FALSE(ReplaceConnectionId("SELECT `CONNECTION_ID`()", 1));
  EXPECT_FALSE(ReplaceConnectionId("SELECT connection_id FROM t", 1));
  EXPECT_FALSE(ReplaceConnectionId("SELECT db.connection_id()", 1));
  EXPECT_FALSE(ReplaceConnectionId("SELECT 1 /* CONNECTION_ID() */", 1));
  EXPECT_EQ(ReplaceConnectionId("INSERT INTO t VALUES (CONNECTION_ID(), 'CONNECTION_ID()')", 8),
            "INSERT INTO t VALUES (8, 'CONNECTION_ID()')");
}

}  // namespace
}  // namespace sluice::routing
