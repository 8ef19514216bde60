// PgSession's statistics from bytes: rows sent per statement, and segments that a
// FunctionCall ('F') opens, pipelined with the statements after it.
#include <gtest/gtest.h>

#include "protocol/pgsql/message.h"
#include "tests/unit/pgsql_session_fixture.h"

namespace sluice::pgproxy {
namespace {

class PgStatsTest : public PgSessionTest {
 protected:
  // Over the whole test: the worker's hand-overs plus what it counts now.
  template <class F>
  uint64_t Sum(F f) {
    if (auto d = h_.worker().stats_mailbox().Take()) handed_.Merge(std::move(*d));
    return f(handed_) + f(h_.stats());
  }
  // FIELD summed over the digest rows whose text starts with PREFIX.
  uint64_t DigestSum(uint64_t DigestStats::*field, std::string_view prefix) {
    return Sum([&](const StatsDelta& d) {
      uint64_t n = 0;
      for (const auto& [k, v] : d.digests)
        if (v.digest_text.starts_with(prefix)) n += v.*field;
      return n;
    });
  }
  uint64_t RowsSent(std::string_view prefix) { return DigestSum(&DigestStats::rows_sent, prefix); }
  uint64_t DigestCount(std::string_view prefix) { return DigestSum(&DigestStats::count, prefix); }
  uint64_t Commands(std::string_view command) {
    return Sum([&](const StatsDelta& d) {
      auto it = d.commands.find(command);
      return it == d.commands.end() ? uint64_t{0} : it->second.count;
    });
  }
  // Reads what backend 0 receives until `n` messages of type `type` arrived.
  std::vector<Msg> ServerGot(char type, size_t n) {
    std::vector<Msg> got;
    EXPECT_TRUE(h_.RunUntil([&] {
      auto more = ServerUntil(0, type);
      got.insert(got.end(), more.begin(), more.end());
      size_t seen = 0;
      for (const Msg& m : got) seen += m.type == type;
      return seen >= n;
    }));
    return got;
  }
  // The client's messages until `n` ReadyForQuery arrived.
  std::vector<Msg> ClientGot(size_t n) {
    std::vector<Msg> got;
    EXPECT_TRUE(h_.RunUntil([&] {
      auto more = ClientUntil('Z');
      got.insert(got.end(), more.begin(), more.end());
      size_t seen = 0;
      for (const Msg& m : got) seen += m.type == 'Z';
      return seen >= n;
    }));
    return got;
  }
  static std::string Rows(int n) {
    std::string out;
    pgsql::FieldDescription f;
    f.name = "a";
    f.type_oid = 23;
    pgsql::AppendRowDescription(&out, std::span<const pgsql::FieldDescription>(&f, 1));
    for (int i = 0; i < n; ++i) {
      std::optional<std::string_view> v = "1";
      pgsql::AppendDataRow(&out, std::span<const std::optional<std::string_view>>(&v, 1));
    }
    return out;
  }
  // FunctionCall of oid 1598 (no arguments, text result) and its answer.
  static std::string FunctionCall() {
    std::string body;
    pgsql::AppendInt32(&body, 1598);
    pgsql::AppendInt16(&body, 0);  // argument format codes
    pgsql::AppendInt16(&body, 0);  // arguments
    pgsql::AppendInt16(&body, 0);  // result format: text
    return Typed('F', body);
  }
  static std::string FunctionResult() {
    std::string body;
    pgsql::AppendInt32(&body, 1);
    body += "7";
    return Typed('V', body);
  }

  StatsDelta handed_;
};

TEST_F(PgStatsTest, RowsSentAreCountedPerStatement) {
  LoggedIn();
  // Two statements pipelined on the writer: each digest gets its own rows.
  h_.client().Write(Query("UPDATE t SET a = 1 RETURNING a") +
                    Query("DELETE FROM t WHERE a = 2 RETURNING a"));
  ServerGot('Q', 2);
  h_.server(0).Write(Rows(3) + Complete("UPDATE 3") + Ready() + Rows(2) + Complete("DELETE 2") +
                     Ready());
  auto got = ClientGot(2);
  ASSERT_EQ(got.size(), 11u);  // T D D D C Z, T D D C Z
  EXPECT_EQ(RowsSent("UPDATE"), 3u);
  EXPECT_EQ(RowsSent("DELETE"), 2u);
}

TEST_F(PgStatsTest, AFunctionCallIsASegmentOfItsOwn) {
  LoggedIn();
  // A FunctionCall and a statement after it, pipelined: the FunctionCall's ReadyForQuery
  // ends its own segment, the statement's counts go to the statement.
  h_.client().Write(FunctionCall() + Query("UPDATE t SET a = 1 RETURNING a"));
  ServerGot('Q', 1);
  h_.server(0).Write(FunctionResult() + Ready() + Rows(2) + Complete("UPDATE 2") + Ready());
  auto got = ClientGot(2);
  ASSERT_EQ(got.size(), 7u);
  EXPECT_EQ(got[0].type, 'V');
  ASSERT_TRUE(h_.RunUntil([&] { return Commands("UPDATE") == 1; }));
  EXPECT_EQ(DigestCount("UPDATE"), 1u);
  EXPECT_EQ(RowsSent("UPDATE"), 2u);
  EXPECT_EQ(Commands("OTHER"), 1u);  // the FunctionCall
}

TEST_F(PgStatsTest, AFunctionCallKeepsTheNextSegmentsPreparedStatement) {
  LoggedIn();
  // A named statement parsed in the segment after a FunctionCall stays known on the
  // connection: its next Bind needs no Parse again.
  pgsql::Parse parse;
  parse.statement = "s1";
  parse.query = "UPDATE t SET a = $1";
  pgsql::Bind bind;
  bind.statement = "s1";
  std::string batch = FunctionCall();
  pgsql::AppendParse(&batch, parse);
  pgsql::AppendBind(&batch, bind);
  pgsql::AppendExecute(&batch, "", 0);
  pgsql::AppendSync(&batch);
  h_.client().Write(batch);
  ServerGot('S', 1);
  h_.server(0).Write(FunctionResult() + Ready() + Typed('1', "") + Typed('2', "") +
                     Complete("UPDATE 1") + Ready());
  auto got = ClientGot(2);
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(got[2].type, '1');
  std::string again;
  pgsql::AppendBind(&again, bind);
  pgsql::AppendExecute(&again, "", 0);
  pgsql::AppendSync(&again);
  h_.client().Write(again);
  auto sent = ServerGot('S', 1);
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent.front().type, 'B') << "the statement was parsed again";
  h_.server(0).Write(Typed('2', "") + Complete("UPDATE 1") + Ready());
  ClientGot(1);
  EXPECT_EQ(DigestCount("UPDATE"), 2u);
}

}  // namespace
}  // namespace sluice::pgproxy
