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
  auto prepare_ok = [](uint32_t id) {
    std::string p(1, '\0');
    for (int i = 0; i < 4; ++i) p += static_cast<char>((id >> (8 * i)) & 0xff);
    p += std::string("\x00\x00\x00\x00\x00\x00\x00", 7);  // 0 columns, 0 params, filler, warnings
    return p;
  };
  h_.server(1).Write(Packet(1, prepare_ok(7)));
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  uint32_t client_id = mysql::DecodePrepareOk(mysql::AsBytes(pk[0].second))->statement_id;
  auto shadow_prepare = ServerGets(0, 1);
  ASSERT_EQ(shadow_prepare.size(), 1u);
  EXPECT_EQ(shadow_prepare[0].substr(1), "DELETE FROM t WHERE id = 1");
  h_.server(0).Write(Packet(1, prepare_ok(99)));
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
