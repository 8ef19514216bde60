// The mirror's shadow session for MySQL, from bytes: the test plays the client, the source
// server and the shadow server (tests/unit/session_harness.h). The shadow gets the client's
// commands in order once the source answered them, with its own statement ids; its results
// are never forwarded; both sides' outcomes reach the worker's mirror feed; a shadow that
// falls behind or goes away cuts the session's mirroring, counted, and the client sees none of it.
#include "proxy/mysql/shadow.h"

#include <gtest/gtest.h>

#include "protocol/mysql/resultset.h"
#include "protocol/mysql/statement.h"
#include "tests/unit/mirror_fixture.h"
#include "tests/unit/mysql_session_fixture.h"

namespace sluice::mysqlproxy {
namespace {

class MysqlShadowTest : public MysqlSessionTest {
 protected:
  // Adds cluster "shadow" (one primary, no listen) and mirror m1 from app to it, on.
  void Mirror(int queue_statements = 1000, double exposure = 1.0) {
    h_.Publish([&](Runtime* rt) {
      testing::AddShadowMirror(rt, Protocol::kMysql, 3306, queue_statements, exposure);
    });
  }
  mirror::MirrorAgg* Agg() {
    auto& ms = h_.worker().mirror_feed().partial()->mirrors();
    auto it = ms.find("m1");
    return it == ms.end() ? nullptr : &it->second;
  }
  static std::string Result(const std::vector<std::string>& values) {
    std::string out;
    uint8_t seq = 1;
    mysql::ColumnDefinition col;
    col.name = "v";
    std::vector<mysql::TextRow> rows;
    for (const auto& v : values) rows.push_back({v});
    mysql::AppendTextResultSet(&out, &seq, {col}, rows, kClientCaps,
                               mysql::SERVER_STATUS_AUTOCOMMIT);
    return out;
  }
  // Each of QUERIES through the source (answered with one row), the shadow answering
  // nothing; returns what the shadow got meanwhile (at least WANT commands).
  std::vector<std::string> ThroughTheSource(const std::vector<std::string>& queries, size_t want) {
    for (size_t i = 0; i < queries.size(); ++i) {
      Query(queries[i]);
      if (i == 0 && h_.dialed() < 2) ServerLogin(1);
      EXPECT_EQ(ServerGets(1, 1).size(), 1u);
      SourceAnswers(Result({"a"}));
    }
    return ServerGets(0, want);
  }
  // The source answers BYTES; returns what the client got.
  std::string SourceAnswers(const std::string& bytes) {
    h_.server(1).Write(bytes);
    std::string client;
    EXPECT_TRUE(h_.RunUntil([&] {
      client += h_.client().TakeAll();
      return client.size() >= bytes.size();
    }));
    return client;
  }
  const mirror::DigestAgg* Digest(std::string_view text) { return testing::DigestOf(*Agg(), text); }
  // A COM_STMT_PREPARE's OK: statement ID, no columns, no parameters.
  static std::string PrepareOk(uint32_t id) {
    std::string p(1, '\0');
    for (int i = 0; i < 4; ++i) p += static_cast<char>((id >> (8 * i)) & 0xff);
    p += std::string("\x00\x00\x00\x00\x00\x00\x00", 7);  // 0 columns, 0 params, filler, warnings
    return p;
  }
  uint64_t Pairs() {
    uint64_t n = 0;
    if (auto* a = Agg())
      for (const auto& [_, d] : a->digests) n += d.pairs;
    return n;
  }
  // Logs in a mirrored client: server 0 is the shadow (dialed at login), server 1 the source.
  void MirroredLogin() {
    Mirror();
    LoggedIn();
    ASSERT_TRUE(h_.RunUntil([&] { return h_.dialed() >= 1; }));
    EXPECT_EQ(h_.server(0).address, "10.0.1.1");
    ServerLogin(0);
  }
};

TEST_F(MysqlShadowTest, TheShadowReplaysTheClientsQueryAndItsRowsAreNotForwarded) {
  MirroredLogin();
  Query("SELECT v FROM t");
  ServerLogin(1);
  auto got = ServerGets(1, 1);
  ASSERT_EQ(got.size(), 1u);
  std::string source_rows = Result({"a", "b"});
  h_.server(1).Write(source_rows);
  std::string client;
  ASSERT_TRUE(h_.RunUntil([&] {
    client += h_.client().TakeAll();
    return client.size() >= source_rows.size();
  }));
  EXPECT_EQ(client, source_rows);
  // The shadow gets the same bytes after the source answered.
  auto shadow_got = ServerGets(0, 1);
  ASSERT_EQ(shadow_got.size(), 1u);
  EXPECT_EQ(shadow_got[0], got[0]);
  h_.server(0).Write(Result({"b", "a", "c"}));  // another row: a different result
  ASSERT_TRUE(h_.RunUntil([&] {
    auto* a = Agg();
    return a && a->statements == 1 && !a->digests.empty() && a->digests.begin()->second.pairs == 1;
  }));
  h_.Settle();
  EXPECT_EQ(h_.client().TakeAll(), "");  // nothing of the shadow's reaches the client
  const mirror::MirrorAgg* a = Agg();
  EXPECT_EQ(a->sessions, 1u);
  const mirror::DigestAgg& d = a->digests.begin()->second;
  EXPECT_EQ(d.source.rows_returned, 2u);
  EXPECT_EQ(d.shadow.rows_returned, 3u);
  EXPECT_EQ(d.result_mismatches, 1u);
  EXPECT_EQ(d.digest_text, "SELECT v FROM t");
}

TEST_F(MysqlShadowTest, SameRowsInAnotherOrderMatchWithoutOrderBy) {
  MirroredLogin();
  Query("SELECT v FROM t");
  ServerLogin(1);
  ServerGets(1, 1);
  h_.server(1).Write(Result({"a", "b"}));
  ServerGets(0, 1);
  h_.server(0).Write(Result({"b", "a"}));
  ASSERT_TRUE(h_.RunUntil([&] {
    auto* a = Agg();
    return a && !a->digests.empty() && a->digests.begin()->second.pairs == 1;
  }));
  EXPECT_EQ(Agg()->digests.begin()->second.result_mismatches, 0u);
}

TEST_F(MysqlShadowTest, PreparedStatementsRunOnTheShadowUnderItsOwnIds) {
  MirroredLogin();
  h_.client().Write(Packet(0, std::string(1, static_cast<char>(mysql::COM_STMT_PREPARE)) +
                                  "DELETE FROM t WHERE id = 1"));
  ServerLogin(1);
  ServerGets(1, 1);
  h_.server(1).Write(Packet(1, PrepareOk(7)));
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  uint32_t client_id = mysql::DecodePrepareOk(mysql::AsBytes(pk[0].second))->statement_id;
  auto shadow_prepare = ServerGets(0, 1);
  ASSERT_EQ(shadow_prepare.size(), 1u);
  EXPECT_EQ(shadow_prepare[0].substr(1), "DELETE FROM t WHERE id = 1");
  h_.server(0).Write(Packet(1, PrepareOk(99)));
  h_.Settle();
  // EXECUTE with sluice's id (a write: the writer's pooled connection, which has it as 7);
  // the shadow gets its own id 99.
  std::string exec(1, static_cast<char>(mysql::COM_STMT_EXECUTE));
  for (int i = 0; i < 4; ++i) exec += static_cast<char>((client_id >> (8 * i)) & 0xff);
  exec += std::string("\x00\x01\x00\x00\x00", 5);
  h_.client().Write(Packet(0, exec));
  auto src = ServerGets(1, 1);
  ASSERT_EQ(src.size(), 1u);
  EXPECT_EQ(mysql::StatementIdOf(mysql::AsBytes(src[0])), 7u);
  h_.server(1).Write(Packet(1, Ok()));
  ClientGets(1);
  auto sh = ServerGets(0, 1);
  ASSERT_EQ(sh.size(), 1u);
  EXPECT_EQ(mysql::StatementIdOf(mysql::AsBytes(sh[0])), 99u);
  h_.server(0).Write(Packet(1, Ok()));
  ASSERT_TRUE(h_.RunUntil([&] {
    auto* a = Agg();
    return a && !a->digests.empty() && a->digests.begin()->second.pairs == 1;
  }));
}

TEST_F(MysqlShadowTest, AFullQueueCutsTheSessionAndTheClientGoesOn) {
  Mirror(/*queue_statements=*/2);
  LoggedIn();
  ASSERT_TRUE(h_.RunUntil([&] { return h_.dialed() >= 1; }));
  ServerLogin(0);  // the shadow logs in, then never answers
  for (int i = 0; i < 4; ++i) {
    Query("INSERT INTO t VALUES (1)");
    if (i == 0) ServerLogin(1);
    ASSERT_EQ(ServerGets(1, 1).size(), 1u);
    h_.server(1).Write(
        Packet(1, mysql::MakeOk(1, 0, mysql::SERVER_STATUS_AUTOCOMMIT, 0, kClientCaps)));
    auto pk = ClientGets(1);
    ASSERT_EQ(pk.size(), 1u);
    EXPECT_TRUE(mysql::IsOk(mysql::AsBytes(pk[0].second)));
  }
  const mirror::MirrorAgg* a = Agg();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->cuts[static_cast<size_t>(mirror::CutReason::kQueueFull)], 1u);
  // Two queued, the third over the bound: all three count on the source side, unpaired;
  // the fourth came after the cut and is not mirrored.
  EXPECT_EQ(a->statements, 3u);
  EXPECT_EQ(a->digests.begin()->second.unpaired, 3u);
}

TEST_F(MysqlShadowTest, AShadowThatGoesAwayCutsTheSessionAndTheClientGoesOn) {
  MirroredLogin();
  Query("INSERT INTO t VALUES (1)");
  ServerLogin(1);
  ServerGets(1, 1);
  h_.server(1).Write(Packet(1, Ok()));
  ClientGets(1);
  ServerGets(0, 1);
  h_.server(0).Close();  // the shadow dies before it answers
  ASSERT_TRUE(h_.RunUntil([&] {
    auto* a = Agg();
    return a && a->cuts[static_cast<size_t>(mirror::CutReason::kShadowDown)] == 1;
  }));
  EXPECT_EQ(Agg()->digests.begin()->second.unpaired, 1u);
  Query("INSERT INTO t VALUES (2)");
  ASSERT_EQ(ServerGets(1, 1).size(), 1u);
  h_.server(1).Write(Packet(1, Ok()));
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  EXPECT_TRUE(mysql::IsOk(mysql::AsBytes(pk[0].second)));
  EXPECT_EQ(Agg()->statements, 1u);  // the session is no longer mirrored
}

// A deadlock rolled the source's transaction back: the shadow must not apply the refused
// write, and its copy of the transaction ends in ROLLBACK (else the next BEGIN commits it).
TEST_F(MysqlShadowTest, ASourceDeadlockRollsTheShadowsTransactionBack) {
  MirroredLogin();
  Query("BEGIN");
  ServerLogin(1);
  ServerGets(1, 1);
  h_.server(1).Write(
      Packet(1, Ok(mysql::SERVER_STATUS_AUTOCOMMIT | mysql::SERVER_STATUS_IN_TRANS)));
  ClientGets(1);
  EXPECT_EQ(ServerGets(0, 1)[0].substr(1), "BEGIN");
  h_.server(0).Write(
      Packet(1, Ok(mysql::SERVER_STATUS_AUTOCOMMIT | mysql::SERVER_STATUS_IN_TRANS)));
  Query("UPDATE t SET k = k + 1 WHERE id = 7");
  ServerGets(1, 1);
  h_.server(1).Write(
      Packet(1, mysql::MakeErr(1213, "40001",
                               "Deadlock found when trying to get lock; try restarting "
                               "transaction")));
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  EXPECT_TRUE(mysql::IsErr(mysql::AsBytes(pk[0].second)));
  auto sh = ServerGets(0, 1);
  ASSERT_EQ(sh.size(), 1u);
  EXPECT_EQ(sh[0].substr(1), "ROLLBACK");  // not the UPDATE
  h_.server(0).Write(Packet(1, Ok()));
  ASSERT_TRUE(h_.RunUntil([&] {
    auto* a = Agg();
    return a && a->statements == 2;
  }));
  for (const auto& [hash, d] : Agg()->digests)
    if (d.digest_text.rfind("UPDATE", 0) == 0) {
      EXPECT_EQ(d.unpaired, 1u);
    }
}

// The pipeline: commands the source answered go to the shadow back to back, each before the
// one ahead of it is answered; the answers, read together, are attributed in order.
TEST_F(MysqlShadowTest, CommandsGoBackToBackAndTheirAnswersAreAttributedInOrder) {
  MirroredLogin();
  std::vector<std::string> qs = {"SELECT v FROM t", "SELECT w FROM u", "SELECT x FROM z"};
  auto sh = ThroughTheSource(qs, 3);
  ASSERT_EQ(sh.size(), 3u);  // all three before the shadow answered the first
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(sh[i].substr(1), qs[i]);
  // One write of three answers: one row, an error, two rows.
  h_.server(0).Write(Result({"a"}) +
                     Packet(1, mysql::MakeErr(1146, "42S02", "Table 'u' doesn't exist")) +
                     Result({"x", "y"}));
  ASSERT_TRUE(h_.RunUntil([&] { return Pairs() == 3; }));
  const mirror::DigestAgg* t = Digest("SELECT v FROM t");
  const mirror::DigestAgg* u = Digest("SELECT w FROM u");
  const mirror::DigestAgg* z = Digest("SELECT x FROM z");
  ASSERT_TRUE(t && u && z);
  EXPECT_EQ(t->shadow.errors, 0u);
  EXPECT_EQ(t->result_mismatches, 0u);
  EXPECT_EQ(u->shadow.errors, 1u);
  EXPECT_EQ(u->new_errors, 1u);
  EXPECT_EQ(u->shadow.last_error.code, 1146u);
  EXPECT_EQ(z->shadow.errors, 0u);
  EXPECT_EQ(z->shadow.rows_returned, 2u);
  EXPECT_EQ(z->result_mismatches, 1u);
  h_.Settle();
  EXPECT_EQ(h_.client().TakeAll(), "");
}

TEST_F(MysqlShadowTest, AShadowThatBreaksMidRunPairsWhatItAnsweredAndNotTheRest) {
  MirroredLogin();
  std::vector<std::string> qs = {"SELECT v FROM t", "SELECT w FROM u", "SELECT x FROM z"};
  ASSERT_EQ(ThroughTheSource(qs, 3).size(), 3u);
  std::string second = Result({"a"});
  h_.server(0).Write(Result({"a"}) + second.substr(0, second.size() / 2));
  ASSERT_TRUE(h_.RunUntil([&] { return Pairs() == 1; }));
  h_.server(0).Close();
  ASSERT_TRUE(h_.RunUntil(
      [&] { return Agg()->cuts[static_cast<size_t>(mirror::CutReason::kShadowDown)] == 1; }));
  EXPECT_EQ(Pairs(), 1u);
  EXPECT_EQ(Digest("SELECT v FROM t")->pairs, 1u);
  EXPECT_EQ(Digest("SELECT w FROM u")->unpaired, 1u);
  EXPECT_EQ(Digest("SELECT x FROM z")->unpaired, 1u);
  EXPECT_EQ(Agg()->statements, 3u);
}

// A run is bounded: no more than max_in_flight (64) commands wait for the shadow's answers;
// the rest go as answers come.
TEST_F(MysqlShadowTest, ARunIsBoundedInStatements) {
  MirroredLogin();
  std::vector<std::string> qs;
  for (int i = 0; i < 70; ++i) qs.push_back("SELECT " + std::to_string(i) + " FROM t");
  auto sh = ThroughTheSource(qs, 64);
  h_.Settle();
  for (auto& [seq, p] : Packets(h_.server(0).TakeAll())) sh.push_back(p);
  EXPECT_EQ(sh.size(), 64u);
  std::string answers;
  for (int i = 0; i < 64; ++i) answers += Result({"a"});
  h_.server(0).Write(answers);
  auto rest = ServerGets(0, 6);
  ASSERT_EQ(rest.size(), 6u);
  EXPECT_EQ(rest[0].substr(1), "SELECT 64 FROM t");
}

// What the shadow's next command means depends on a prepare's answer (its statement id): a
// COM_STMT_PREPARE ends the run, and the EXECUTE waits for it.
TEST_F(MysqlShadowTest, APrepareEndsARun) {
  MirroredLogin();
  h_.client().Write(Packet(0, std::string(1, static_cast<char>(mysql::COM_STMT_PREPARE)) +
                                  "DELETE FROM t WHERE id = ?"));
  ServerLogin(1);
  ServerGets(1, 1);
  auto pk = Packets(SourceAnswers(Packet(1, PrepareOk(7))));
  ASSERT_EQ(pk.size(), 1u);
  uint32_t client_id = mysql::DecodePrepareOk(mysql::AsBytes(pk[0].second))->statement_id;
  EXPECT_EQ(ServerGets(0, 1).size(), 1u);  // the prepare, unanswered
  std::string exec(1, static_cast<char>(mysql::COM_STMT_EXECUTE));
  for (int i = 0; i < 4; ++i) exec += static_cast<char>((client_id >> (8 * i)) & 0xff);
  exec += std::string("\x00\x01\x00\x00\x00", 5);
  h_.client().Write(Packet(0, exec));
  ServerGets(1, 1);
  SourceAnswers(Packet(1, Ok()));
  Query("DELETE FROM t WHERE id = 2");  // writes: all on the source's primary
  ServerGets(1, 1);
  SourceAnswers(Packet(1, Ok()));
  h_.Settle();
  EXPECT_EQ(h_.server(0).TakeAll(), "");  // neither the EXECUTE nor the query yet
  h_.server(0).Write(Packet(1, PrepareOk(99)));
  auto sh = ServerGets(0, 2);
  ASSERT_EQ(sh.size(), 2u);  // then both, back to back
  EXPECT_EQ(mysql::StatementIdOf(mysql::AsBytes(sh[0])), 99u);
  EXPECT_EQ(sh[1].substr(1), "DELETE FROM t WHERE id = 2");
}

TEST_F(MysqlShadowTest, ExposureZeroMirrorsNoSession) {
  Mirror(1000, 0.0);
  LoggedIn();
  Query("SELECT 1");
  ServerLogin(0);
  EXPECT_NE(h_.server(0).address, "10.0.1.1");  // a source server: no shadow was dialed
  EXPECT_EQ(Agg(), nullptr);
}

}  // namespace
}  // namespace sluice::mysqlproxy
