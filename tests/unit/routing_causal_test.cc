// Causal reads: positions parsed and merged, last_gtid found in OK session-state data, the
// check statements, the shared board, the balancer's decisions on scripted positions, and a
// session's CausalReads.
#include <string>

#include <gtest/gtest.h>

#include "protocol/mysql/wire.h"
#include "proxy/causal_reads.h"
#include "proxy/router.h"
#include "routing/balancer.h"
#include "routing/causal.h"

namespace sluice::routing {
namespace {

TEST(CausalPosition, MergesGtidListsPerDomain) {
  CausalPosition p;
  EXPECT_TRUE(p.empty());
  ASSERT_TRUE(p.MergeGtids("0-1-42"));
  ASSERT_TRUE(p.MergeGtids("0-1-40,1-2-7"));  // 40 < 42: domain 0 keeps 42
  EXPECT_EQ(p.GtidText(), "0-1-42,1-2-7");
  ASSERT_TRUE(p.MergeGtids("0-3-43"));  // a new primary's server id
  EXPECT_EQ(p.GtidText(), "0-3-43,1-2-7");
  EXPECT_FALSE(p.MergeGtids("0-1"));
  EXPECT_FALSE(p.MergeGtids("x-1-2"));
  EXPECT_FALSE(p.MergeGtids("0-1-99,bad"));  // all or nothing
  EXPECT_EQ(p.GtidText(), "0-3-43,1-2-7");
  CausalPosition many;
  std::string nine;
  for (int d = 0; d < 9; ++d) nine += (d ? "," : "") + std::to_string(d) + "-1-1";
  EXPECT_FALSE(many.MergeGtids(nine));  // more domains than kMaxDomains
  EXPECT_TRUE(many.empty());
}

TEST(CausalPosition, LsnTextRoundTrips) {
  auto lsn = ParseLsnText("16/B374D848");
  ASSERT_TRUE(lsn.has_value());
  EXPECT_EQ(*lsn, (uint64_t{0x16} << 32) | 0xB374D848u);
  CausalPosition p;
  p.MergeLsn(*lsn);
  p.MergeLsn(5);
  EXPECT_EQ(p.LsnText(), "16/B374D848");
  EXPECT_FALSE(ParseLsnText("16B374D848").has_value());
  EXPECT_EQ(PostgresCausalCheck(p, 0), "SELECT pg_last_wal_replay_lsn() >= '16/B374D848'::pg_lsn");
}

TEST(CausalPosition, PostgresCheckPollsOnTheServerUpToTheBound) {
  CausalPosition p;
  p.MergeLsn(*ParseLsnText("0/3000060"));
  std::string sql = PostgresCausalCheck(p, 12);  // 12 ms: 3 steps of 5 ms
  EXPECT_NE(sql.find("generate_series(0, 3)"), std::string::npos);
  EXPECT_NE(sql.find("WHERE i = 3 OR"), std::string::npos);
  EXPECT_NE(sql.find("pg_sleep(0.005)"), std::string::npos);
  EXPECT_NE(sql.find("LIMIT 1"), std::string::npos);
}

TEST(PositionBoard, PublishesAndCoversPerServer) {
  PositionBoard b;
  CausalPosition out;
  EXPECT_FALSE(b.Read("127.0.0.1", 5432, &out));
  CausalPosition seen;
  seen.MergeLsn(100);
  b.Publish("127.0.0.1", 5432, seen);
  ASSERT_TRUE(b.Read("127.0.0.1", 5432, &out));
  EXPECT_EQ(out.lsn(), 100u);
  CausalPosition other;
  EXPECT_FALSE(b.Read("127.0.0.1", 5433, &other));  // another server
  CausalPosition want;
  want.MergeLsn(101);
  EXPECT_FALSE(Covers(out, want));
  want.Clear();
  want.MergeLsn(100);
  EXPECT_TRUE(Covers(out, want));
  // GTIDs per domain; an empty position forgets the server.
  CausalPosition g;
  ASSERT_TRUE(g.MergeGtids("0-1-10,1-2-5"));
  b.Publish("10.0.0.2", 3306, g);
  ASSERT_TRUE(b.Read("10.0.0.2", 3306, &out));
  EXPECT_EQ(out.GtidText(), "0-1-10,1-2-5");
  CausalPosition w;
  ASSERT_TRUE(w.MergeGtids("1-2-6"));
  EXPECT_FALSE(Covers(out, w));
  b.Publish("10.0.0.2", 3306, CausalPosition{});
  EXPECT_FALSE(b.Read("10.0.0.2", 3306, &out));
}

std::string TrackEntry(std::string_view name, std::string_view value) {
  std::string inner, out;
  mysql::Writer(&inner).LenEncString(name).LenEncString(value);
  mysql::Writer(&out).U8(0).LenEncString(inner);
  return out;
}

TEST(CausalPosition, LastGtidFromSessionState) {
  std::string state = TrackEntry("autocommit", "ON") + TrackEntry("last_gtid", "0-1-17");
  // A SESSION_TRACK_SCHEMA entry in between.
  mysql::Writer(&state).U8(1).LenEncString(std::string("\x04test", 5));
  auto v = TrackedSystemVariable(state, "last_gtid");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, "0-1-17");
  EXPECT_FALSE(TrackedSystemVariable(TrackEntry("autocommit", "ON"), "last_gtid"));
  EXPECT_FALSE(TrackedSystemVariable(std::string("\x00\x09", 2), "last_gtid"));  // truncated
}

TEST(CausalPosition, MariadbCheckWaitsTheBound) {
  CausalPosition p;
  ASSERT_TRUE(p.MergeGtids("0-1-42,1-2-7"));
  EXPECT_EQ(MariadbCausalCheck(p, 0), "SELECT MASTER_GTID_WAIT('0-1-42,1-2-7', 0.000)");
  EXPECT_EQ(MariadbCausalCheck(p, 1250), "SELECT MASTER_GTID_WAIT('0-1-42,1-2-7', 1.250)");
}

TEST(CausalBoard, KeepsTheFurthestAcknowledgedPosition) {
  CausalBoard b;
  CausalPosition out;
  EXPECT_TRUE(b.Snapshot(&out));
  EXPECT_TRUE(out.empty());
  CausalPosition p;
  ASSERT_TRUE(p.MergeGtids("0-1-10"));
  b.Note(p);
  p.Clear();
  ASSERT_TRUE(p.MergeGtids("0-1-8,2-1-3"));
  b.Note(p);
  ASSERT_TRUE(b.Snapshot(&out));
  EXPECT_EQ(out.GtidText(), "0-1-10,2-1-3");
  b.NoteUnknown();
  EXPECT_FALSE(b.Snapshot(&out));  // a write it cannot place: incomplete from now on
}

Server Node(ServerRole role, int hostgroup) {
  Server s;
  s.host = "127.0.0.1";
  s.role = role;
  s.hostgroup = hostgroup;
  return s;
}

Cluster ThreeNodes() {
  Cluster c;
  c.writer_hostgroup = 0;
  c.reader_hostgroup = 1;
  c.servers = {Node(ServerRole::kPrimary, 0), Node(ServerRole::kReplica, 1),
               Node(ServerRole::kReplica, 1)};
  return c;
}

TEST(CausalRoute, ReadWithAKnownPositionIsCheckedOnAReplica) {
  Cluster c = ThreeNodes();
  uint64_t cursor = 0;
  RouteInput in;
  in.kind = StatementKind::kRead;
  RouteDecision d = Route(c, in, &cursor);  // nothing to wait for
  EXPECT_EQ(d.hostgroup, 1);
  EXPECT_FALSE(d.causal_check);
  EXPECT_FALSE(d.kept_for_consistency);
  in.causal_needed = in.causal_known = true;
  d = Route(c, in, &cursor);
  EXPECT_EQ(d.hostgroup, 1);
  EXPECT_TRUE(d.causal_check);
  in.causal_failed = true;  // the replica lacked it: the primary
  d = Route(c, in, &cursor);
  EXPECT_EQ(d.server, 0);
  EXPECT_FALSE(d.causal_check);
  EXPECT_TRUE(d.kept_for_consistency);
  in.causal_failed = in.causal_known = false;  // a write whose position is unknown
  d = Route(c, in, &cursor);
  EXPECT_EQ(d.server, 0);
  EXPECT_TRUE(d.kept_for_consistency);
}

TEST(CausalRoute, WritesAndTransactionsAreNotCausalReads) {
  Cluster c = ThreeNodes();
  uint64_t cursor = 0;
  RouteInput in;
  in.kind = StatementKind::kWrite;
  in.causal_needed = true;
  RouteDecision d = Route(c, in, &cursor);
  EXPECT_EQ(d.server, 0);
  EXPECT_FALSE(d.kept_for_consistency);
  EXPECT_FALSE(d.causal_check);
}

TEST(CausalRoute, ARuleToReplicasIsCheckedToo) {
  Cluster c = ThreeNodes();
  uint64_t cursor = 0;
  RouteInput in;
  in.kind = StatementKind::kRead;
  in.rule_hostgroup = 1;
  in.causal_needed = true;
  RouteDecision d = Route(c, in, &cursor);  // unknown position: the primary after all
  EXPECT_EQ(d.server, 0);
  EXPECT_TRUE(d.kept_for_consistency);
  in.causal_known = true;
  d = Route(c, in, &cursor);
  EXPECT_NE(d.server, 0);
  EXPECT_TRUE(d.causal_check);
}

TEST(CausalRoute, NoUsableReplicaFallsBackWithoutACheck) {
  Cluster c = ThreeNodes();
  c.servers[1].state = c.servers[2].state = ServerState::kShunned;
  uint64_t cursor = 0;
  RouteInput in;
  in.kind = StatementKind::kRead;
  in.causal_needed = in.causal_known = true;
  RouteDecision d = Route(c, in, &cursor);
  EXPECT_EQ(d.server, 0);
  EXPECT_TRUE(d.fell_back);
  EXPECT_FALSE(d.causal_check);
}

}  // namespace
}  // namespace sluice::routing

namespace sluice {
namespace {

routing::CausalPosition Gtids(const char* text) {
  routing::CausalPosition p;
  EXPECT_TRUE(p.MergeGtids(text));
  return p;
}

TEST(CausalReads, SessionModeWaitsForItsOwnWritesOnly) {
  routing::CausalBoard board;
  CausalReads mine, other;
  RouteRequest req;
  mine.Prepare(Consistency::kSession, board, false, &req);
  EXPECT_FALSE(req.causal_needed);  // never wrote
  other.NoteWrite(Gtids("0-1-5"), &board);
  mine.Prepare(Consistency::kSession, board, false, &req);
  EXPECT_FALSE(req.causal_needed);                    // another session's write
  mine.NoteWrite(routing::CausalPosition{}, &board);  // wrote nothing to the binlog
  mine.Prepare(Consistency::kSession, board, false, &req);
  EXPECT_FALSE(req.causal_needed);
  mine.NoteWrite(Gtids("0-1-7"), &board);
  mine.Prepare(Consistency::kSession, board, false, &req);
  EXPECT_TRUE(req.causal_needed);
  EXPECT_TRUE(req.causal_known);
  EXPECT_EQ(mine.target().GtidText(), "0-1-7");
  mine.NoteUnknownWrite(&board);
  mine.Prepare(Consistency::kSession, board, false, &req);
  EXPECT_TRUE(req.causal_needed);
  EXPECT_FALSE(req.causal_known);
  mine.NoteWrite(Gtids("0-1-9"), &board);  // a later write in the domain covers it
  mine.Prepare(Consistency::kSession, board, true, &req);
  EXPECT_TRUE(req.causal_known);
  EXPECT_TRUE(req.causal_failed);
  mine.Prepare(Consistency::kEventual, board, false, &req);
  EXPECT_FALSE(req.causal_needed);
}

TEST(CausalReads, GlobalModeWaitsForEveryAcknowledgedWrite) {
  routing::CausalBoard board;
  CausalReads mine, other;
  RouteRequest req;
  mine.Prepare(Consistency::kGlobal, board, false, &req);
  EXPECT_FALSE(req.causal_needed);  // nothing acknowledged yet
  other.NoteWrite(Gtids("0-1-5"), &board);
  mine.Prepare(Consistency::kGlobal, board, false, &req);
  EXPECT_TRUE(req.causal_needed);
  EXPECT_TRUE(req.causal_known);
  EXPECT_EQ(mine.target().GtidText(), "0-1-5");
  other.NoteUnknownWrite(&board);
  mine.Prepare(Consistency::kGlobal, board, false, &req);
  EXPECT_TRUE(req.causal_needed);
  EXPECT_FALSE(req.causal_known);
}

TEST(CausalReads, AConfirmedReplicaIsNotCheckedAgainUntilTheTargetMoves) {
  routing::CausalBoard board;
  CausalReads s;
  RouteRequest req;
  s.NoteWrite(Gtids("0-1-7"), &board);
  s.Prepare(Consistency::kSession, board, false, &req);
  EXPECT_FALSE(s.Confirmed(1, 3));
  s.Confirm(1, 3);
  EXPECT_TRUE(s.Confirmed(1, 3));
  EXPECT_FALSE(s.Confirmed(2, 3));
  EXPECT_FALSE(s.Confirmed(1, 4));  // another snapshot: indexes may name other servers
  s.NoteWrite(Gtids("0-1-8"), &board);
  s.Prepare(Consistency::kSession, board, false, &req);
  EXPECT_FALSE(s.Confirmed(1, 3));  // it showed 7, not 8
}

TEST(StatementWrites, SetsAndReadsAreNotWrites) {
  EXPECT_FALSE(ClassifyStatement("SET autocommit = 1", routing::Dialect::kMysql).writes);
  EXPECT_FALSE(ClassifyStatement("SET search_path = a", routing::Dialect::kPostgres).writes);
  EXPECT_FALSE(ClassifyStatement("RESET search_path", routing::Dialect::kPostgres).writes);
  EXPECT_FALSE(ClassifyStatement("SELECT 1", routing::Dialect::kMysql).writes);
  EXPECT_TRUE(ClassifyStatement("INSERT INTO t VALUES (1)", routing::Dialect::kMysql).writes);
  EXPECT_TRUE(ClassifyStatement("COMMIT", routing::Dialect::kMysql).writes);
}

}  // namespace
}  // namespace sluice
