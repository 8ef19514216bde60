// PostgreSQL session settings kept for transaction pooling (proxy/pgsql/settings.h), the
// startup `options` reader (protocol/pgsql/options.h), the shared SessionVars difference,
// and the cancel registry with equal pids from different servers.
#include <gtest/gtest.h>

#include <set>

#include "protocol/pgsql/options.h"
#include "proxy/pgsql/cancel.h"
#include "proxy/pgsql/settings.h"
#include "proxy/session_vars.h"

namespace sluice::pgproxy {
namespace {

StatementInfo Info(std::string_view sql) {
  return ClassifyStatement(sql, routing::Dialect::kPostgres);
}

// Runs sql as one segment answered with status; applied: the connection's settings.
uint32_t RunSegment(PgSettings* s, std::string_view sql, char status, SessionVars* applied,
                    bool error = false) {
  uint32_t pins = s->OnStatement(Info(sql));
  s->EndSegment();
  return pins | s->OnSegmentEnd(error, status, applied);
}

TEST(SessionVars, DiffSetsThenResets) {
  SessionVars want, have;
  want.Set("a", "1");
  want.Set("b", "2");
  have.Set("b", "3");
  have.Set("c", "4");
  VarsDiff d = Diff(want, have);
  ASSERT_EQ(d.set.size(), 2u);
  EXPECT_EQ(d.set[0], (std::pair<std::string, std::string>("a", "1")));
  EXPECT_EQ(d.set[1], (std::pair<std::string, std::string>("b", "2")));
  EXPECT_EQ(d.reset, std::vector<std::string>{"c"});
  EXPECT_TRUE(Diff(want, want).empty());
}

TEST(StartupOptions, ReadsSettingsAsTheServerDoes) {
  auto r = pgsql::ParseStartupOptions(
      R"(-c search_path=a,b  --statement-timeout=5s -cDateStyle=German -c x.y=has\ space)");
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::vector<std::pair<std::string, std::string>> want = {{"search_path", "a,b"},
                                                           {"statement_timeout", "5s"},
                                                           {"datestyle", "German"},
                                                           {"x.y", "has space"}};
  EXPECT_EQ(*r, want);
  EXPECT_TRUE(pgsql::ParseStartupOptions("").ok());
}

TEST(StartupOptions, OtherSwitchesAreRefused) {
  EXPECT_FALSE(pgsql::ParseStartupOptions("-B 100").ok());
  EXPECT_FALSE(pgsql::ParseStartupOptions("-c").ok());
  auto r = pgsql::ParseStartupOptions("--work_mem");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("requires a value"), std::string::npos);
}

TEST(PgSettings, StartupSettingsAreReplayedWithSetConfig) {
  PgSettings s;
  s.Start({{"search_path", "a, b"}, {"application_name", ""}});
  SessionVars fresh;
  std::string sql = s.SyncSql(fresh, {});
  EXPECT_NE(sql.find("set_config('search_path', 'a, b', false)"), std::string::npos) << sql;
  EXPECT_NE(sql.find("set_config('application_name', '', false)"), std::string::npos) << sql;
  // A connection whose login already reported the value needs nothing.
  EXPECT_EQ(s.SyncSql(fresh, {{"search_path", "a, b"}, {"application_name", ""}}), "");
}

TEST(PgSettings, CommittedSetIsReplayedAndOthersAreReset) {
  PgSettings s;
  s.Start({});
  SessionVars conn1;
  EXPECT_EQ(RunSegment(&s, "SET search_path = app, public", 'I', &conn1), 0u);
  EXPECT_EQ(RunSegment(&s, "SET TIME ZONE 'UTC'", 'I', &conn1), 0u);
  EXPECT_EQ(s.SyncSql(conn1, {}), "");  // the connection that ran them has them
  SessionVars conn2;
  conn2.Set("work_mem", "SET work_mem TO '1MB'");  // another client's
  EXPECT_EQ(s.SyncSql(conn2, {}),
            "SET search_path TO app, public;SET TIME ZONE 'UTC';RESET work_mem;");
}

TEST(PgSettings, FailedAndRolledBackSetsAreForgotten) {
  PgSettings s;
  s.Start({});
  SessionVars conn;
  RunSegment(&s, "SET work_mem = '8MB'", 'I', &conn, /*error=*/true);
  EXPECT_TRUE(s.want().empty());
  RunSegment(&s, "BEGIN", 'T', &conn);
  RunSegment(&s, "SET work_mem = '8MB'", 'T', &conn);
  RunSegment(&s, "ROLLBACK", 'I', &conn);
  EXPECT_TRUE(s.want().empty());
  RunSegment(&s, "BEGIN", 'T', &conn);
  RunSegment(&s, "SET work_mem = '8MB'", 'T', &conn);
  RunSegment(&s, "COMMIT", 'I', &conn);
  ASSERT_NE(s.want().Get("work_mem"), nullptr);
  // A failed block can only end rolled back.
  RunSegment(&s, "BEGIN", 'T', &conn);
  RunSegment(&s, "SET work_mem = '9MB'", 'T', &conn);
  RunSegment(&s, "SELECT 1/0", 'E', &conn, true);
  RunSegment(&s, "COMMIT", 'I', &conn);
  EXPECT_EQ(*s.want().Get("work_mem"), "SET work_mem TO '8MB'");
}

TEST(PgSettings, ResetGoesBackToTheStartupValue) {
  PgSettings s;
  s.Start({{"statement_timeout", "5s"}});
  SessionVars conn = s.want();
  RunSegment(&s, "SET statement_timeout = 1", 'I', &conn);
  RunSegment(&s, "RESET statement_timeout", 'I', &conn);
  EXPECT_EQ(*s.want().Get("statement_timeout"), LiteralStatement("statement_timeout", "5s"));
  EXPECT_EQ(conn.Get("statement_timeout"), nullptr);  // the connection is at its default
  RunSegment(&s, "SET work_mem = '2MB'", 'I', &conn);
  RunSegment(&s, "RESET ALL", 'I', &conn);
  EXPECT_EQ(s.want().vars.size(), 1u);
  EXPECT_TRUE(conn.empty());
}

TEST(PgSettings, WhatCannotBeReplayedPins) {
  PgSettings s;
  s.Start({});
  SessionVars conn;
  EXPECT_EQ(RunSegment(&s, "SET ROLE admin", 'I', &conn), uint32_t{kPgPinSetRole});
  EXPECT_EQ(RunSegment(&s, "SET SESSION AUTHORIZATION bob", 'I', &conn),
            uint32_t{kPgPinSessionAuthorization});
  EXPECT_EQ(RunSegment(&s, "SELECT pg_advisory_lock(1)", 'I', &conn), uint32_t{kPgPinAdvisoryLock});
  EXPECT_EQ(RunSegment(&s, "LISTEN ch", 'I', &conn), uint32_t{kPgPinListen});
  EXPECT_EQ(RunSegment(&s, "CREATE TEMP TABLE t (a int)", 'I', &conn), uint32_t{kPgPinTempTable});
  // A SET beside a statement whose transaction effect is hidden cannot be followed.
  EXPECT_EQ(RunSegment(&s, "SET work_mem = '1MB'; SELECT 1", 'I', &conn),
            uint32_t{kPgPinUntrackedSet});
  // SET LOCAL ends with its transaction: nothing to keep, no pin.
  EXPECT_EQ(RunSegment(&s, "SET LOCAL work_mem = '1MB'", 'T', &conn), 0u);
  EXPECT_EQ(s.want().Get("work_mem"), nullptr);
  // DISCARD changes the connection under sluice's record of it.
  EXPECT_EQ(RunSegment(&s, "DISCARD ALL", 'I', &conn), uint32_t{kPgPinDiscard});
  EXPECT_STREQ(PgPinName(5), "set_role");
  EXPECT_STREQ(PgPinName(9), "discard");
}

TEST(PgSettings, PipelinedRollbackDropsTheSetBeforeIt) {
  PgSettings s;
  s.Start({});
  SessionVars conn;
  for (const char* sql : {"BEGIN", "SET work_mem = '7MB'", "ROLLBACK"}) {
    s.OnStatement(Info(sql));  // all three sent before the first answer
    s.EndSegment();
  }
  s.OnSegmentEnd(false, 'T', &conn);
  s.OnSegmentEnd(false, 'T', &conn);
  s.OnSegmentEnd(false, 'I', &conn);
  EXPECT_TRUE(s.want().empty());
}

TEST(PgSettings, PipelinedSegmentsAreAnsweredInOrder) {
  PgSettings s;
  s.Start({});
  SessionVars conn;
  s.OnStatement(Info("SELECT 1"));
  s.EndSegment();
  s.OnStatement(Info("SET work_mem = '6MB'"));
  s.EndSegment();
  s.OnSegmentEnd(true, 'I', &conn);  // the SELECT failed, not the SET
  EXPECT_TRUE(s.want().empty());
  s.OnSegmentEnd(false, 'I', &conn);
  ASSERT_NE(s.want().Get("work_mem"), nullptr);
}

TEST(CancelKeys, EqualServerPidsAreToldApartBySecret) {
  CancelKeys keys;
  auto* a = reinterpret_cast<PgSession*>(0x1000);
  auto* b = reinterpret_cast<PgSession*>(0x2000);
  int32_t p1 = 0, p2 = 0;
  uint32_t s1 = 0, s2 = 0;
  keys.Register(a, 4242, &p1, &s1);  // session mode: two servers with the same pid
  keys.Register(b, 4242, &p2, &s2);
  EXPECT_EQ(p1, 4242);
  EXPECT_EQ(p2, 4242);
  EXPECT_NE(s1, s2);
  EXPECT_EQ(keys.Find(4242, s1), a);
  EXPECT_EQ(keys.Find(4242, s2), b);
  EXPECT_EQ(keys.Find(4242, s1 ^ s2 ^ 1u), nullptr);  // a wrong secret finds nobody
  keys.Unregister(p1, s1);
  EXPECT_EQ(keys.Find(4242, s1), nullptr);
  EXPECT_EQ(keys.Find(4242, s2), b);
  keys.Unregister(p2, s2);
  EXPECT_EQ(keys.size(), 0u);
}

TEST(CancelKeys, TransactionModePidsAreDistinct) {
  CancelKeys keys;
  std::set<int32_t> pids;
  for (int i = 0; i < 2000; ++i) {
    int32_t pid = 0;
    uint32_t secret = 0;
    keys.Register(reinterpret_cast<PgSession*>(0x1000 + i), 0, &pid, &secret);
    EXPECT_GT(pid, 0);
    pids.insert(pid);
  }
  EXPECT_EQ(pids.size(), 2000u);
}

}  // namespace
}  // namespace sluice::pgproxy
