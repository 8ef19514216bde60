// Session-state sync between a MySQL client and a pooled backend connection.
#include "proxy/mysql/session_state.h"

#include <gtest/gtest.h>

namespace sluice::mysqlproxy {
namespace {

TEST(NormaliseVarName, StripsScopeAndCase) {
  EXPECT_EQ(NormaliseVarName("@@session.SQL_MODE"), "sql_mode");
  EXPECT_EQ(NormaliseVarName("SESSION time_zone"), "time_zone");
  EXPECT_EQ(NormaliseVarName("@@Autocommit"), "autocommit");
  EXPECT_EQ(NormaliseVarName("  local wait_timeout "), "wait_timeout");
  EXPECT_EQ(NormaliseVarName("`sql_mode`"), "sql_mode");
}

TEST(NormaliseVarName, RejectsGlobalAndUserVariables) {
  EXPECT_EQ(NormaliseVarName("@@global.sql_mode"), "");
  EXPECT_EQ(NormaliseVarName("GLOBAL max_connections"), "");
  EXPECT_EQ(NormaliseVarName("@x"), "");
}

TEST(SessionState, SetDefaultRemoves) {
  SessionState s;
  s.Set("sql_mode", "'ANSI'");
  s.Set("time_zone", "'+00:00'");
  s.Set("sql_mode", "DEFAULT");
  ASSERT_EQ(s.vars.size(), 1u);
  EXPECT_EQ(*s.Get("time_zone"), "'+00:00'");
  EXPECT_EQ(s.Get("sql_mode"), nullptr);
}

TEST(PlanSync, NothingWhenEqual) {
  SessionState a;
  a.schema = "db";
  a.Set("sql_mode", "'ANSI'");
  EXPECT_TRUE(PlanSync(a, a).empty());
}

TEST(PlanSync, SchemaNamesThenVariables) {
  SessionState want, have;
  want.schema = "app";
  want.Set("names", "utf8mb4 COLLATE utf8mb4_bin");
  want.Set("sql_mode", "'ANSI_QUOTES'");
  want.Set("time_zone", "'+05:00'");
  have.schema = "other";
  have.Set("time_zone", "'+05:00'");
  auto steps = PlanSync(want, have);
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0].kind, SyncStep::kInitDb);
  EXPECT_EQ(steps[0].text, "app");
  EXPECT_EQ(steps[1].text, "SET NAMES utf8mb4 COLLATE utf8mb4_bin");
  EXPECT_EQ(steps[2].text, "SET sql_mode='ANSI_QUOTES'");
}

TEST(PlanSync, ResetsWhatAnotherClientLeft) {
  SessionState want, have;
  have.Set("sql_mode", "'ANSI'");
  have.Set("autocommit", "0");
  auto steps = PlanSync(want, have);
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0].text, "SET sql_mode=DEFAULT, autocommit=DEFAULT");
}

TEST(PlanSync, EmptySchemaIsNotSynced) {
  // A client without a schema can use any connection; COM_INIT_DB("") would fail.
  SessionState want, have;
  have.schema = "x";
  EXPECT_TRUE(PlanSync(want, have).empty());
}

}  // namespace
}  // namespace sluice::mysqlproxy
