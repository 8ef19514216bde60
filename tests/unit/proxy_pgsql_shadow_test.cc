// The mirror's shadow session for PostgreSQL, from bytes: the test plays the client, the
// source server and the shadow server (tests/unit/pgsql_session_fixture.h). The shadow gets
// each segment as the client sent it once the source answered it, with its own statement
// names; COPY data goes with its Query; a write the source refused is not replayed; the
// shadow's answers are never forwarded; a shadow that falls behind or goes away cuts the
// session's mirroring, counted, and the client sees none of it.
#include "proxy/pgsql/shadow.h"

#include <gtest/gtest.h>

#include "protocol/pgsql/constants.h"
#include "proxy/pgsql/mirror_wire.h"
#include "tests/unit/mirror_fixture.h"
#include "tests/unit/pgsql_session_fixture.h"

namespace sluice::pgproxy {
namespace {

std::string Row(const std::vector<std::string>& values) {
  std::string body;
  uint16_t n = htons(static_cast<uint16_t>(values.size()));
  body.append(reinterpret_cast<const char*>(&n), 2);
  for (const auto& v : values) {
    uint32_t len = htonl(static_cast<uint32_t>(v.size()));
    body.append(reinterpret_cast<const char*>(&len), 4);
    body += v;
  }
  return Typed('D', body);
}

std::string Error(std::string_view sqlstate, std::string_view message) {
  std::string out;
  pgsql::AppendErrorResponse(&out, pgsql::ErrorSpec{"ERROR", sqlstate, message, "", ""});
  return out;
}

// The statement name of a Parse (its first string) or a Bind (its second).
std::string NameIn(const Msg& m) {
  if (m.type == 'P') return m.body.substr(0, m.body.find('\0'));
  size_t portal_end = m.body.find('\0');
  return m.body.substr(portal_end + 1, m.body.find('\0', portal_end + 1) - portal_end - 1);
}

class PgShadowTest : public PgSessionTest {
 protected:
  // Adds cluster "shadow" (one primary, no listen) and mirror m1 from app to it, on.
  void Mirror(int queue_statements = 1000, int64_t queue_bytes = 4 << 20) {
    h_.Publish([&](Runtime* rt) {
      rt->clusters[0].servers.resize(1);  // reads too go to the source's primary (server 0)
      testing::AddShadowMirror(rt, Protocol::kPostgres, 5432, queue_statements);
      rt->mirrors.back().queue_bytes = queue_bytes;
    });
    h_.Settle();
  }
  mirror::MirrorAgg* Agg() {
    auto& ms = h_.worker().mirror_feed().partial()->mirrors();
    auto it = ms.find("m1");
    return it == ms.end() ? nullptr : &it->second;
  }
  // Logs in a mirrored client: server 0 is the source (the login's own backend, pooled),
  // server 1 the shadow, dialed when the login ends.
  void MirroredLogin(int queue_statements = 1000, int64_t queue_bytes = 4 << 20) {
    Mirror(queue_statements, queue_bytes);
    LoggedIn();
    ServerLogin(1);
    ASSERT_EQ(h_.server(1).address, "10.0.1.1");
  }
  // One simple Query through the source, answered with ANSWER; returns what the shadow got.
  std::vector<Msg> SourceAnswers(const std::string& sql, const std::string& answer,
                                 char until_on_shadow = 'Q') {
    h_.client().Write(Query(sql));
    auto got = ServerUntil(0, 'Q');
    EXPECT_FALSE(got.empty());
    h_.server(0).Write(answer);
    auto client = ClientUntil('Z');
    EXPECT_FALSE(client.empty());
    return ServerUntil(1, until_on_shadow);
  }
  uint64_t Cuts(mirror::CutReason why) {
    auto* a = Agg();
    return a ? a->cuts[static_cast<size_t>(why)] : 0;
  }
  // COPY t FROM STDIN through the source, which asks for the data (CopyInResponse).
  void StartCopy() {
    h_.client().Write(Query("COPY t FROM STDIN"));
    ServerUntil(0, 'Q');
    h_.server(0).Write(Typed('G', std::string("\0\0\1\0\0", 5)));
    ClientUntil('G');
  }
  // SELECT 1 through the source, answered as usual: the session still works.
  void StillServes() {
    h_.client().Write(Query("SELECT 1"));
    ASSERT_EQ(ServerUntil(0, 'Q').size(), 1u);
    h_.server(0).Write(Row({"1"}) + Complete("SELECT 1") + Ready());
    auto got = ClientUntil('Z');
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].type, 'D');
  }
  // The source ends the COPY with TAG: the client gets it, the session's mirroring was cut
  // (queue_full), the session goes on and nothing of the COPY reached the shadow.
  void EndCopyCut(const std::string& tag) {
    EXPECT_EQ(Cuts(mirror::CutReason::kQueueFull), 1u);
    h_.server(0).Write(Complete(tag) + Ready());
    auto got = ClientUntil('Z');
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].type, 'C');
    StillServes();
    h_.Settle();
    EXPECT_EQ(h_.server(1).TakeAll(), "");
  }
  bool Paired(uint64_t n) {
    auto* a = Agg();
    uint64_t pairs = 0;
    if (a)
      for (const auto& [_, d] : a->digests) pairs += d.pairs;
    return pairs == n;
  }
};

TEST(PgMirrorWireTest, TagRowsIsTheTagsLastNumber) {
  EXPECT_EQ(TagRows("INSERT 0 3"), 3u);
  EXPECT_EQ(TagRows("UPDATE 12"), 12u);
  EXPECT_EQ(TagRows("COPY 5"), 5u);
  EXPECT_EQ(TagRows(std::string("SELECT 2") + '\0'), 2u);
  EXPECT_EQ(TagRows("BEGIN"), 0u);
}

TEST(PgMirrorWireTest, TheSameRowsInAnotherOrderGiveTheSameChecksumUnlessOrdered) {
  auto feed = [](PgOutcomeTracker* t, const std::vector<std::string>& rows) {
    t->Begin();
    for (const auto& r : rows) {
      std::string d = Row({r});
      t->Note('D', {reinterpret_cast<const uint8_t*>(d.data()) + 5, d.size() - 5});
    }
  };
  PgOutcomeTracker a, b;
  feed(&a, {"x", "y"});
  feed(&b, {"y", "x"});
  mirror::Outcome oa, ob;
  a.Fill(false, &oa);
  b.Fill(false, &ob);
  EXPECT_EQ(oa.checksum, ob.checksum);
  EXPECT_EQ(oa.rows_returned, 2u);
  a.Fill(true, &oa);
  b.Fill(true, &ob);
  EXPECT_NE(oa.checksum, ob.checksum);
}

TEST(PgMirrorWireTest, ARowOverTheBoundCountsByItsLengthOnBothSides) {
  std::string big(kMaxHashedRow + 1, 'z');
  PgOutcomeTracker whole, streamed;
  whole.Row({reinterpret_cast<const uint8_t*>(big.data()), big.size()}, big.size());
  streamed.Row({}, big.size());
  mirror::Outcome a, b;
  whole.Fill(false, &a);
  streamed.Fill(false, &b);
  EXPECT_EQ(a.checksum, b.checksum);
}

// pgbench -M prepared against a shadow whose column was renamed: the Parse fails once (in a
// segment of its own), every execution after fails with 26000. The executions report the
// Parse's error, the cause; a Parse of the name that succeeds, or a Close, forgets it.
TEST(PgMirrorWireTest, AnExecutionOfAStatementWhoseParseFailedReportsTheParsesError) {
  auto parse = [](std::string_view name, bool sync = true) {
    std::string out;
    pgsql::Parse p;
    p.statement = name;
    p.query = "SELECT pad FROM sc1 WHERE id = $1";
    pgsql::AppendParse(&out, p);
    if (sync) pgsql::AppendSync(&out);
    return out;
  };
  auto execute = [](std::string_view name) {
    std::string out;
    pgsql::Bind b;
    b.statement = name;
    pgsql::AppendBind(&out, b);
    pgsql::AppendExecute(&out, "", 0);
    pgsql::AppendSync(&out);
    return out;
  };
  auto failed = [](std::string_view sqlstate, std::string_view text) {
    mirror::Outcome o;
    o.ok = false;
    o.error = {0, std::string(sqlstate), std::string(text)};
    return o;
  };
  const std::string missing = "prepared statement \"sluice_m1\" does not exist";
  ShadowParseErrors pe;
  ASSERT_TRUE(pe.Begin(parse("sluice_m1")).ok());
  mirror::Outcome o = failed("42703", "column \"pad\" does not exist");
  pe.End(&o);
  EXPECT_EQ(pe.size(), 1u);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(pe.Begin(execute("sluice_m1")).ok());
    o = failed("26000", missing);
    pe.End(&o);
    EXPECT_EQ(o.error.sqlstate, "42703");
    EXPECT_EQ(o.error.text,
              "column \"pad\" does not exist (at its Parse on the shadow; its "
              "executions fail with 26000)");
  }
  // Another statement's 26000 is its own.
  ASSERT_TRUE(pe.Begin(execute("sluice_m9")).ok());
  o = failed("26000", "prepared statement \"sluice_m9\" does not exist");
  pe.End(&o);
  EXPECT_EQ(o.error.sqlstate, "26000");
  // Parse, Bind, Execute, Sync in one segment (JDBC): no ParseComplete before the error: the
  // Parse failed.
  ASSERT_TRUE(pe.Begin(parse("sluice_m2", false) + execute("sluice_m2")).ok());
  o = failed("42703", "column \"pad\" does not exist");
  pe.End(&o);
  EXPECT_EQ(pe.size(), 2u);
  // sluice_m1 parsed again, successfully (session mode reuses the client's names).
  ASSERT_TRUE(pe.Begin(parse("sluice_m1")).ok());
  pe.Note(pgsql::backend::kParseComplete);
  o = mirror::Outcome{};
  pe.End(&o);
  EXPECT_EQ(pe.size(), 1u);
  ASSERT_TRUE(pe.Begin(execute("sluice_m1")).ok());
  o = failed("26000", missing);  // whatever the reason now, not the old Parse's
  pe.End(&o);
  EXPECT_EQ(o.error.sqlstate, "26000");
  // A Close forgets the name; the memory is bounded.
  std::string close;
  pgsql::AppendClose(&close, pgsql::kTargetStatement, "sluice_m2");
  pgsql::AppendSync(&close);
  ASSERT_TRUE(pe.Begin(close).ok());
  o = mirror::Outcome{};
  pe.End(&o);
  EXPECT_EQ(pe.size(), 0u);
  for (size_t i = 0; i < ShadowParseErrors::kMaxRemembered + 10; ++i) {
    ASSERT_TRUE(pe.Begin(parse("sluice_x" + std::to_string(i))).ok());
    o = failed("42703", "column \"pad\" does not exist");
    pe.End(&o);
  }
  EXPECT_EQ(pe.size(), ShadowParseErrors::kMaxRemembered);
  EXPECT_FALSE(pe.Begin(std::string("P\0\0\0\x09", 5) + "ab").ok());  // a truncated message
}

TEST_F(PgShadowTest, TheShadowReplaysTheQueryOnceTheSourceAnsweredAndNothingOfItIsForwarded) {
  MirroredLogin();
  h_.client().Write(Query("SELECT v FROM t"));
  auto src = ServerUntil(0, 'Q');
  ASSERT_EQ(src.size(), 1u);
  h_.Settle();
  EXPECT_EQ(h_.server(1).TakeAll(), "");  // not before the source answered
  h_.server(0).Write(Row({"a"}) + Row({"b"}) + Complete("SELECT 2") + Ready());
  auto client = ClientUntil('Z');
  ASSERT_EQ(client.size(), 4u);
  auto sh = ServerUntil(1, 'Q');
  ASSERT_EQ(sh.size(), 1u);
  EXPECT_EQ(sh[0].body, src[0].body);  // the client's bytes
  h_.server(1).Write(Row({"b"}) + Row({"a"}) + Row({"c"}) + Complete("SELECT 3") + Ready());
  ASSERT_TRUE(h_.RunUntil([&] { return Paired(1); }));
  h_.Settle();
  EXPECT_EQ(h_.client().TakeAll(), "");
  const mirror::DigestAgg& d = Agg()->digests.begin()->second;
  EXPECT_EQ(Agg()->sessions, 1u);
  EXPECT_EQ(d.source.rows_returned, 2u);
  EXPECT_EQ(d.shadow.rows_returned, 3u);
  EXPECT_EQ(d.result_mismatches, 1u);
  EXPECT_EQ(d.digest_text, "SELECT v FROM t");
}

TEST_F(PgShadowTest, SameRowsInAnotherOrderMatch) {
  MirroredLogin();
  SourceAnswers("SELECT v FROM t", Row({"a"}) + Row({"b"}) + Complete("SELECT 2") + Ready());
  h_.server(1).Write(Row({"b"}) + Row({"a"}) + Complete("SELECT 2") + Ready());
  ASSERT_TRUE(h_.RunUntil([&] { return Paired(1); }));
  EXPECT_EQ(Agg()->digests.begin()->second.result_mismatches, 0u);
}

// With a top-level ORDER BY the order is the result: both sides chain their checksums.
TEST_F(PgShadowTest, RowsInAnotherOrderDifferWhenTheStatementIsOrdered) {
  MirroredLogin();
  SourceAnswers("SELECT v FROM t ORDER BY v",
                Row({"a"}) + Row({"b"}) + Complete("SELECT 2") + Ready());
  h_.server(1).Write(Row({"b"}) + Row({"a"}) + Complete("SELECT 2") + Ready());
  ASSERT_TRUE(h_.RunUntil([&] { return Paired(1); }));
  EXPECT_EQ(Agg()->digests.begin()->second.result_mismatches, 1u);
}

TEST_F(PgShadowTest, NamedStatementsRunOnTheShadowUnderItsOwnNames) {
  MirroredLogin();
  auto segment = [](std::string_view parse_as) {
    std::string out;
    pgsql::Parse p;
    p.statement = parse_as;
    p.query = "UPDATE t SET v = $1";
    pgsql::AppendParse(&out, p);
    pgsql::Bind b;
    b.statement = "s1";
    pgsql::AppendBind(&out, b);
    pgsql::AppendExecute(&out, "", 0);
    pgsql::AppendSync(&out);
    return out;
  };
  std::string answer = Typed('1', "") + Typed('2', "") + Complete("UPDATE 1") + Ready();
  for (int round = 0; round < 2; ++round) {
    h_.client().Write(segment("s1"));  // the second Parse of s1 replaces the first
    auto src = ServerUntil(0, 'S');
    ASSERT_FALSE(src.empty());
    std::string expected_src;
    for (const Msg& m : src)
      if (m.type == 'P') expected_src = NameIn(m);
    EXPECT_EQ(expected_src.rfind("sluice_", 0), 0u);  // the source's name is sluice's
    // A second Parse of the name closes sluice's statement first (its CloseComplete is
    // sluice's own).
    h_.server(0).Write(src.front().type == 'C' ? Typed('3', "") + answer : answer);
    ClientUntil('Z');
    auto sh = ServerUntil(1, 'S');
    std::vector<char> types;
    for (const Msg& m : sh) types.push_back(m.type);
    if (round == 0) {
      ASSERT_EQ(types, (std::vector<char>{'P', 'B', 'E', 'S'}));
      EXPECT_EQ(NameIn(sh[0]), "sluice_m1");
      EXPECT_EQ(NameIn(sh[1]), "sluice_m1");
    } else {
      // The shadow's old statement is closed first, then s1 is its new one.
      ASSERT_EQ(types, (std::vector<char>{'C', 'P', 'B', 'E', 'S'}));
      EXPECT_EQ(sh[0].body.substr(1), std::string("sluice_m1") + '\0');
      EXPECT_EQ(NameIn(sh[1]), "sluice_m2");
      EXPECT_EQ(NameIn(sh[2]), "sluice_m2");
    }
    h_.server(1).Write(round == 0 ? answer : Typed('3', "") + answer);
    ASSERT_TRUE(h_.RunUntil([&] { return Paired(round + 1); }));
  }
  // The unnamed statement stays unnamed.
  std::string out;
  pgsql::Parse p;
  p.query = "SELECT 1";
  pgsql::AppendParse(&out, p);
  pgsql::AppendBind(&out, pgsql::Bind{});
  pgsql::AppendExecute(&out, "", 0);
  pgsql::AppendSync(&out);
  h_.client().Write(out);
  ServerUntil(0, 'S');
  h_.server(0).Write(Typed('1', "") + Typed('2', "") + Row({"1"}) + Complete("SELECT 1") + Ready());
  ClientUntil('Z');
  auto sh = ServerUntil(1, 'S');
  ASSERT_EQ(sh.size(), 4u);
  EXPECT_EQ(NameIn(sh[0]), "");
  EXPECT_EQ(NameIn(sh[1]), "");
}

TEST_F(PgShadowTest, CopyDataGoesToTheShadowWithItsQuery) {
  MirroredLogin();
  h_.client().Write(Query("COPY t FROM STDIN"));
  ServerUntil(0, 'Q');
  h_.server(0).Write(Typed('G', std::string("\0\0\1\0\0", 5)));
  ClientUntil('G');
  std::string data;
  pgsql::AppendCopyData(&data, {reinterpret_cast<const uint8_t*>("1\n2\n"), 4});
  pgsql::AppendCopyDone(&data);
  h_.client().Write(data);
  ServerUntil(0, 'c');
  h_.server(0).Write(Complete("COPY 2") + Ready());
  ClientUntil('Z');
  auto sh = ServerUntil(1, 'c');
  std::vector<char> types;
  for (const Msg& m : sh) types.push_back(m.type);
  ASSERT_EQ(types, (std::vector<char>{'Q', 'd', 'c'}));
  EXPECT_EQ(sh[1].body, "1\n2\n");
  h_.server(1).Write(Typed('G', std::string("\0\0\1\0\0", 5)) + Complete("COPY 2") + Ready());
  ASSERT_TRUE(h_.RunUntil([&] { return Paired(1); }));
  const mirror::DigestAgg& d = Agg()->digests.begin()->second;
  EXPECT_EQ(d.source.rows_affected, 2u);
  EXPECT_EQ(d.shadow.rows_affected, 2u);
  EXPECT_EQ(d.row_count_diffs, 0u);
}

TEST_F(PgShadowTest, AWriteTheSourceRefusedInATransactionAbortsTheShadowsCopyInstead) {
  MirroredLogin();
  SourceAnswers("BEGIN", Complete("BEGIN") + Ready('T'));
  h_.server(1).Write(Complete("BEGIN") + Ready('T'));
  ASSERT_TRUE(h_.RunUntil([&] { return Paired(1); }));
  h_.client().Write(Query("INSERT INTO t VALUES (1)"));
  ServerUntil(0, 'Q');
  h_.server(0).Write(Error("23505", "duplicate key value") + Ready('E'));
  ClientUntil('Z');
  auto sh = ServerUntil(1, 'Q');
  ASSERT_EQ(sh.size(), 1u);
  EXPECT_EQ(sh[0].body.find("INSERT"), std::string::npos) << sh[0].body;
  EXPECT_NE(sh[0].body.find("RAISE EXCEPTION"), std::string::npos) << sh[0].body;
  ASSERT_TRUE(h_.RunUntil([&] {
    auto* a = Agg();
    if (!a) return false;
    uint64_t unpaired = 0;
    for (const auto& [_, d] : a->digests) unpaired += d.unpaired;
    return unpaired == 1;
  }));
}

TEST_F(PgShadowTest, AFullQueueCutsTheSessionAndTheClientGoesOn) {
  MirroredLogin(/*queue_statements=*/2);  // the shadow logs in, then never answers
  for (int i = 0; i < 4; ++i) {
    h_.client().Write(Query("INSERT INTO t VALUES (1)"));
    ASSERT_EQ(ServerUntil(0, 'Q').size(), 1u);
    h_.server(0).Write(Complete("INSERT 0 1") + Ready());
    auto got = ClientUntil('Z');
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].type, 'C');
    if (i == 0) {
      // The queue-bytes gauge follows the queue: one Query waits on the shadow.
      ASSERT_TRUE(h_.RunUntil([&] { return Agg() && Agg()->queue_bytes > 0; }));
      EXPECT_EQ(Agg()->queue_bytes, static_cast<int64_t>(Query("INSERT INTO t VALUES (1)").size()));
    }
  }
  const mirror::MirrorAgg* a = Agg();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->cuts[static_cast<size_t>(mirror::CutReason::kQueueFull)], 1u);
  EXPECT_EQ(a->statements, 3u);  // two queued and the one over the bound, all unpaired
  EXPECT_EQ(a->digests.begin()->second.unpaired, 3u);
  EXPECT_EQ(a->queue_bytes, 0);  // the cut queue holds nothing
}

TEST_F(PgShadowTest, AShadowThatGoesAwayCutsTheSessionAndTheClientGoesOn) {
  MirroredLogin();
  SourceAnswers("INSERT INTO t VALUES (1)", Complete("INSERT 0 1") + Ready());
  h_.server(1).Close();  // the shadow dies before it answers
  ASSERT_TRUE(h_.RunUntil([&] {
    auto* a = Agg();
    return a && a->cuts[static_cast<size_t>(mirror::CutReason::kShadowDown)] == 1;
  }));
  h_.client().Write(Query("INSERT INTO t VALUES (2)"));
  ASSERT_EQ(ServerUntil(0, 'Q').size(), 1u);
  h_.server(0).Write(Complete("INSERT 0 1") + Ready());
  auto got = ClientUntil('Z');
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].type, 'C');
}

// A FunctionCall (libpq's PQfn, the large-object calls) cannot be replayed: the session's
// mirroring is cut (other), and the call goes to the source and its answer to the client as
// in any session.
TEST_F(PgShadowTest, AFunctionCallCutsTheMirroringAndIsAnsweredAsUsual) {
  MirroredLogin();
  SourceAnswers("SELECT 1", Row({"1"}) + Complete("SELECT 1") + Ready());  // mirrored so far
  h_.server(1).Write(Row({"1"}) + Complete("SELECT 1") + Ready());
  ASSERT_TRUE(h_.RunUntil([&] { return Paired(1); }));
  std::string call("\0\0\x06\x3e\0\0\0\0\0\0", 10);  // oid 1598 (random()), no arguments
  h_.client().Write(Typed('F', call));
  auto src = ServerUntil(0, 'F');
  ASSERT_EQ(src.size(), 1u);
  EXPECT_EQ(src[0].body, call);
  h_.server(0).Write(Typed('V', std::string("\0\0\0\x03"
                                            "0.5",
                                            7)) +
                     Ready());
  auto got = ClientUntil('Z');
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].type, 'V');
  EXPECT_EQ(Cuts(mirror::CutReason::kOther), 1u);
  StillServes();
  h_.Settle();
  EXPECT_EQ(h_.server(1).TakeAll(), "");  // the shadow got neither the call nor what followed
  EXPECT_EQ(Agg()->sessions, 1u);
}

// COPY data over queue_bytes is never held for the shadow: the session's mirroring is cut
// (queue_full) while the data still goes to the source whole, and the session goes on.
TEST_F(PgShadowTest, CopyDataOverTheQueueBoundCutsTheMirroringAndReachesTheSource) {
  MirroredLogin(/*queue_statements=*/1000, /*queue_bytes=*/4096);
  StartCopy();
  std::string line = std::string(99, 'x') + "\n";
  std::string data;
  for (int i = 0; i < 100; ++i)  // 100 CopyData messages, 10,000 bytes
    pgsql::AppendCopyData(&data, {reinterpret_cast<const uint8_t*>(line.data()), line.size()});
  pgsql::AppendCopyDone(&data);
  h_.client().Write(data);
  auto src = ServerUntil(0, 'c');
  ASSERT_EQ(src.size(), 101u);  // every CopyData, then CopyDone
  size_t bytes = 0;
  for (const Msg& m : src) bytes += m.body.size();
  EXPECT_EQ(bytes, 100 * line.size());
  EndCopyCut("COPY 100");
}

// One CopyData message alone larger than queue_bytes: the same.
TEST_F(PgShadowTest, ACopyDataMessageOverTheQueueBoundCutsTheMirroring) {
  MirroredLogin(/*queue_statements=*/1000, /*queue_bytes=*/4096);
  StartCopy();
  std::string big(64 << 10, 'y');
  std::string data;
  pgsql::AppendCopyData(&data, {reinterpret_cast<const uint8_t*>(big.data()), big.size()});
  pgsql::AppendCopyDone(&data);
  h_.client().Write(data);
  auto src = ServerUntil(0, 'c');
  ASSERT_EQ(src.size(), 2u);
  EXPECT_EQ(src[0].body, big);
  EndCopyCut("COPY 1");
}

}  // namespace
}  // namespace sluice::pgproxy
