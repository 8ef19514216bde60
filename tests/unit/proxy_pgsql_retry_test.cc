// PgSession's read retry, driven from bytes (tests/unit/pgsql_session_fixture.h): a lone read
// outside a transaction whose server connection dies, or ends with a shutdown FATAL, before
// any byte of its answer runs again elsewhere; an extended-protocol read batch too; a write,
// a read in a transaction, or a batch sluice cannot prove harmless is never sent again.
#include <gtest/gtest.h>

#include "protocol/pgsql/backend.h"
#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/frontend.h"
#include "tests/unit/pgsql_session_fixture.h"

namespace sluice::pgproxy {
namespace {

std::string Fatal(std::string_view code, std::string_view message) {
  std::string out;
  pgsql::AppendErrorResponse(&out, pgsql::ErrorSpec{"FATAL", code, message, "", ""});
  return out;
}

constexpr std::string_view kPostmasterExit =
    "terminating connection due to unexpected postmaster exit";

// Parse (of statement `stmt`, "" = unnamed, when sql is given), Bind of it to the unnamed
// portal, Describe, Execute, Sync: one extended-protocol batch, as libpq's PQexecParams.
std::string Extended(std::string_view stmt, std::string_view sql) {
  std::string out;
  if (!sql.empty()) pgsql::AppendParse(&out, pgsql::Parse{stmt, sql, {}});
  pgsql::Bind b;
  b.statement = stmt;
  pgsql::AppendBind(&out, b);
  pgsql::AppendDescribe(&out, pgsql::kTargetPortal, "");
  pgsql::AppendExecute(&out, "", 0);
  pgsql::AppendSync(&out);
  return out;
}

// Extended() of the unnamed statement ended by Flush instead of Sync: the client waits for
// the answers without ending the batch.
std::string Flushed(std::string_view sql) {
  std::string b = Extended("", sql);
  b.resize(b.size() - 5);  // the Sync
  pgsql::AppendFlush(&b);
  return b;
}

// The answer to Extended(): ParseComplete (when parsed), BindComplete, a one-column row
// description, one row, CommandComplete, ReadyForQuery.
std::string ExtendedAnswer(bool parsed) {
  std::string out;
  if (parsed) out += Typed('1', "");
  out += Typed('2', "");
  pgsql::FieldDescription f;
  f.name = "a";
  f.type_oid = 23;
  pgsql::AppendRowDescription(&out, std::span<const pgsql::FieldDescription>(&f, 1));
  std::optional<std::string_view> v = "1";
  pgsql::AppendDataRow(&out, std::span<const std::optional<std::string_view>>(&v, 1));
  return out + Complete("SELECT 1") + Ready();
}

std::string Types(const std::vector<Msg>& got) {
  std::string t;
  for (const Msg& m : got) t += m.type;
  return t;
}

bool Contains(const std::vector<Msg>& got, std::string_view text) {
  for (const Msg& m : got)
    if (m.body.find(text) != std::string::npos) return true;
  return false;
}

class PgRetryTest : public PgSessionTest {
 protected:
  // Logged in, one read answered on the replica (backend 1), whose connection is pooled.
  void ReplicaPooled() {
    LoggedIn();
    h_.client().Write(Query("SELECT 0"));
    ServerLogin(1);
    ServerUntil(1, 'Q');
    h_.server(1).Write(Complete("SELECT 1") + Ready());
    ASSERT_EQ(ClientUntil('Z').front().type, 'C');
  }
  // The client sends a read; the pooled replica connection answers `last` (a FATAL, part of
  // an answer, nothing) and closes (after a loop turn when `apart`).
  void ReplicaReadLost(const std::string& last, bool apart = false) {
    h_.client().Write(Query("SELECT b FROM t"));
    ServerUntil(1, 'Q');
    if (!last.empty()) h_.server(1).Write(last);
    if (apart) h_.Settle();
    h_.server(1).Close();
  }
  // The read arrives on the writer (reader_fallback_to_writer), is answered there, and the
  // client gets that answer alone: one retry.
  void ExpectRunOnTheWriter() {
    auto q = ServerUntil(0, 'Q');
    ASSERT_FALSE(q.empty());
    EXPECT_NE(q.back().body.find("SELECT b FROM t"), std::string::npos);
    h_.server(0).Write(Complete("SELECT 1") + Ready());
    EXPECT_EQ(Types(ClientUntil('Z')), "CZ");
    EXPECT_EQ(h_.Counted(&StatsDelta::retries), 1u);
  }
  // The client got `types` ending in an error that names `code`, with no retry.
  void ExpectFailedOnce(std::string_view types, std::string_view code) {
    auto got = ClientUntil('Z');
    EXPECT_EQ(Types(got), types);
    EXPECT_TRUE(Contains(got, code));
    EXPECT_EQ(h_.Counted(&StatsDelta::retries), 0u);
  }
};

// Before: the server's FATAL was forwarded (as ERROR 57P01) to a read that had received
// nothing yet; the integration test saw 2 such errors in 2,170 reads while a replica was
// killed. A shutdown FATAL before any byte of the answer is the connection's death: the
// read runs again elsewhere, the FATAL is never forwarded.
class PgShutdownFatalTest : public PgRetryTest,
                            public ::testing::WithParamInterface<std::string_view> {};

TEST_P(PgShutdownFatalTest, AReadWhoseReplicaSendsAShutdownFatalRunsElsewhere) {
  ReplicaPooled();
  ReplicaReadLost(Fatal(GetParam(), kPostmasterExit), true);  // the FATAL read first
  ExpectRunOnTheWriter();
}

INSTANTIATE_TEST_SUITE_P(AdminCrashAndCannotConnect, PgShutdownFatalTest,
                         ::testing::Values("57P01", "57P02", "57P03"));

// The FATAL and the close in one read, as a killed replica's backend usually sends them.
TEST_F(PgRetryTest, AShutdownFatalAndTheCloseTogetherAreRetriedToo) {
  ReplicaPooled();
  ReplicaReadLost(Fatal("57P01", kPostmasterExit));
  ExpectRunOnTheWriter();
}

// Any other FATAL is the server's verdict on the statement or the session: the client gets it.
TEST_F(PgRetryTest, AnotherFatalReachesTheClient) {
  ReplicaPooled();
  ReplicaReadLost(Fatal("08P01", "invalid frontend message"));
  ExpectFailedOnce("EZ", "08P01");
}

// Part of the answer reached the client: the read is not run again; the client gets the FATAL.
TEST_F(PgRetryTest, AShutdownFatalAfterPartOfTheAnswerReachesTheClient) {
  ReplicaPooled();
  std::string part;
  pgsql::FieldDescription f;
  f.name = "b";
  pgsql::AppendRowDescription(&part, std::span<const pgsql::FieldDescription>(&f, 1));
  ReplicaReadLost(part + Fatal("57P01", kPostmasterExit));
  ExpectFailedOnce("TEZ", "57P01");
}

// A write that may have run is never sent again, FATAL or not.
TEST_F(PgRetryTest, AWriteThatGetsAShutdownFatalIsNotSentAgain) {
  LoggedIn();
  h_.client().Write(Query("INSERT INTO t VALUES (1)"));
  ServerUntil(0, 'Q');
  h_.server(0).Write(Fatal("57P01", kPostmasterExit));
  h_.server(0).Close();
  ExpectFailedOnce("EZ", "57P01");
  EXPECT_EQ(h_.dialed(), 1u);  // nothing dialed to send it again
}

// Before: 08006 for an extended-protocol read whose replica connection died before any
// byte of its answer (only the simple Query was retried).
TEST_F(PgRetryTest, AnExtendedReadWhoseConnectionDiesRunsElsewhere) {
  ReplicaPooled();
  h_.client().Write(Extended("", "SELECT a FROM t WHERE id = 1"));
  ServerUntil(1, 'S');
  h_.server(1).Close();
  auto got0 = ServerUntil(0, 'S');
  EXPECT_EQ(Types(got0), "PBDES");
  EXPECT_TRUE(Contains(got0, "SELECT a FROM t WHERE id = 1"));
  h_.server(0).Write(ExtendedAnswer(true));
  EXPECT_EQ(Types(ClientUntil('Z')), "12TDCZ");
  EXPECT_EQ(h_.Counted(&StatsDelta::retries), 1u);
}

// A statement the client prepared under a name is prepared again on the new server (sluice
// knows its text); the client gets exactly the replies to its own messages.
TEST_F(PgRetryTest, ANamedPreparedReadIsPreparedAgainElsewhere) {
  ReplicaPooled();
  std::string prep;
  pgsql::AppendParse(&prep, pgsql::Parse{"s1", "SELECT a FROM t WHERE id = $1", {23}});
  pgsql::AppendSync(&prep);
  h_.client().Write(prep);
  ServerUntil(1, 'S');
  h_.server(1).Write(Typed('1', "") + Ready());
  EXPECT_EQ(Types(ClientUntil('Z')), "1Z");
  h_.client().Write(Extended("s1", ""));
  ServerUntil(1, 'S');
  h_.server(1).Write(Fatal("57P01", kPostmasterExit));
  h_.server(1).Close();
  auto got0 = ServerUntil(0, 'S');
  EXPECT_EQ(Types(got0), "PBDES");  // sluice's own Parse first
  EXPECT_TRUE(Contains(got0, "SELECT a FROM t WHERE id = $1"));
  h_.server(0).Write(ExtendedAnswer(true));  // the injected Parse's reply is swallowed
  EXPECT_EQ(Types(ClientUntil('Z')), "2TDCZ");
  EXPECT_EQ(h_.Counted(&StatsDelta::retries), 1u);
}

// An extended-protocol write is never sent again: the client gets 08006.
TEST_F(PgRetryTest, AnExtendedWriteIsNotSentAgain) {
  LoggedIn();
  h_.client().Write(Extended("", "INSERT INTO t VALUES (1)"));
  ServerUntil(0, 'S');
  h_.server(0).Close();
  ExpectFailedOnce("EZ", "08006");
  EXPECT_EQ(h_.dialed(), 1u);
}

// A named statement that writes, though sluice knows its text, is not run again.
TEST_F(PgRetryTest, ABindOfANamedWriteIsNotSentAgain) {
  LoggedIn();
  std::string prep;
  pgsql::AppendParse(&prep, pgsql::Parse{"w1", "UPDATE t SET a = 1", {}});
  pgsql::AppendSync(&prep);
  h_.client().Write(prep);
  ServerUntil(0, 'S');
  h_.server(0).Write(Typed('1', "") + Ready());
  EXPECT_EQ(Types(ClientUntil('Z')), "1Z");
  h_.client().Write(Extended("w1", ""));
  ServerUntil(0, 'S');
  h_.server(0).Close();
  ExpectFailedOnce("EZ", "08006");
  EXPECT_EQ(h_.dialed(), 1u);
}

// A Bind of the unnamed statement parsed by an earlier batch: sluice cannot prepare it again
// (the text went with that batch), so the batch is not retried.
TEST_F(PgRetryTest, ABindOfAnEarlierUnnamedStatementIsNotRetried) {
  ReplicaPooled();
  h_.client().Write(Extended("", "SELECT a FROM t"));
  ServerUntil(1, 'S');
  h_.server(1).Write(ExtendedAnswer(true));
  ClientUntil('Z');
  h_.client().Write(Extended("", ""));  // Bind "" without its Parse: routed to the writer
  ServerUntil(0, 'S');
  h_.server(0).Close();
  ExpectFailedOnce("EZ", "08006");
}

// Before: a batch with a Close was never retried (08006). In transaction mode a Close
// changes only sluice's map of the client's names, so the read runs again elsewhere with
// the statement it closed given back first: its Bind finds s1, its Close closes it again.
TEST_F(PgRetryTest, ABatchWithACloseRunsElsewhereWithItsNamesGivenBack) {
  ReplicaPooled();
  std::string prep;
  pgsql::AppendParse(&prep, pgsql::Parse{"s1", "SELECT a FROM t WHERE id = $1", {23}});
  pgsql::AppendSync(&prep);
  h_.client().Write(prep);
  ServerUntil(1, 'S');
  h_.server(1).Write(Typed('1', "") + Ready());
  EXPECT_EQ(Types(ClientUntil('Z')), "1Z");
  std::string b = Extended("s1", "");
  b.insert(b.size() - 5, [] {
    std::string c;
    pgsql::AppendClose(&c, pgsql::kTargetStatement, "s1");
    return c;
  }());
  h_.client().Write(b);
  ServerUntil(1, 'S');
  h_.server(1).Close();
  auto got0 = ServerUntil(0, 'S');
  EXPECT_EQ(Types(got0), "PBDECS");  // sluice's own Parse of s1 first
  EXPECT_TRUE(Contains(got0, "SELECT a FROM t WHERE id = $1"));
  h_.server(0).Write(Typed('1', "") + Typed('2', "") + Complete("SELECT 0") + Typed('3', "") +
                     Ready());
  EXPECT_EQ(Types(ClientUntil('Z')), "2C3Z");  // the injected Parse's reply swallowed
  EXPECT_EQ(h_.Counted(&StatsDelta::retries), 1u);
  // Closed for good: the client's next Bind of s1 goes to the server as it is.
  h_.client().Write(Extended("s1", ""));
  auto next = ServerUntil(0, 'S');
  EXPECT_EQ(Types(next), "BDES");
}

// Before: a batch the client ends with Flush (it waits for the answers without a Sync, as
// pipelining drivers do) was never retried. Now, nothing of its answer having reached the
// client, it runs again elsewhere, and the client's later Sync follows it there.
TEST_F(PgRetryTest, AFlushedReadWithoutSyncRunsElsewhere) {
  ReplicaPooled();
  h_.client().Write(Flushed("SELECT a FROM t WHERE id = 2"));
  ServerUntil(1, 'H');
  h_.server(1).Close();
  auto got0 = ServerUntil(0, 'H');
  EXPECT_EQ(Types(got0), "PBDEH");
  EXPECT_TRUE(Contains(got0, "SELECT a FROM t WHERE id = 2"));
  std::string answer = ExtendedAnswer(true);
  answer.resize(answer.size() - 6);  // no ReadyForQuery: no Sync yet
  h_.server(0).Write(answer);
  EXPECT_EQ(Types(ClientUntil('C')), "12TDC");
  std::string sync;
  pgsql::AppendSync(&sync);
  h_.client().Write(sync);
  EXPECT_EQ(Types(ServerUntil(0, 'S')), "S");
  h_.server(0).Write(Ready());
  EXPECT_EQ(Types(ClientUntil('Z')), "Z");
  EXPECT_EQ(h_.Counted(&StatsDelta::retries), 1u);
}

// Part of a flushed batch's answer reached the client: not run again, and the error says
// why; the batch is skipped up to the client's Sync.
TEST_F(PgRetryTest, AFlushedReadWhoseAnswerBeganIsNotRunAgain) {
  ReplicaPooled();
  h_.client().Write(Flushed("SELECT a FROM t WHERE id = 3"));
  ServerUntil(1, 'H');
  h_.server(1).Write(Typed('1', "") + Typed('2', ""));
  EXPECT_EQ(Types(ClientUntil('2')), "12");
  h_.server(1).Close();
  auto got = ClientUntil('E');
  EXPECT_EQ(Types(got), "E");
  EXPECT_TRUE(Contains(got, "08006"));
  EXPECT_TRUE(Contains(got, "not run again: part of its answer had reached the client"));
  std::string sync;
  pgsql::AppendSync(&sync);
  h_.client().Write(sync);
  EXPECT_EQ(Types(ClientUntil('Z')), "Z");
  EXPECT_EQ(h_.Counted(&StatsDelta::retries), 0u);
}

// A flushed batch that writes is never sent again.
TEST_F(PgRetryTest, AFlushedWriteIsNotSentAgain) {
  LoggedIn();
  h_.client().Write(Flushed("INSERT INTO t VALUES (5)"));
  ServerUntil(0, 'H');
  h_.server(0).Close();
  auto got = ClientUntil('E');
  EXPECT_TRUE(Contains(got, "08006"));
  EXPECT_TRUE(Contains(got, "not run again: it may have changed data"));
  EXPECT_EQ(h_.Counted(&StatsDelta::retries), 0u);
  EXPECT_EQ(h_.dialed(), 1u);
}

// Inside a transaction nothing is retried: the transaction died with the server.
TEST_F(PgRetryTest, AnExtendedReadInATransactionIsNotRetried) {
  LoggedIn();
  h_.client().Write(Query("BEGIN"));
  ServerUntil(0, 'Q');
  h_.server(0).Write(Complete("BEGIN") + Ready('T'));
  ClientUntil('Z');
  h_.client().Write(Extended("", "SELECT a FROM t"));
  ServerUntil(0, 'S');
  h_.server(0).Close();
  auto got = ClientUntil('E');
  EXPECT_TRUE(Contains(got, "FATAL"));
  EXPECT_EQ(h_.Counted(&StatsDelta::retries), 0u);
}

// Two batches pipelined: the second went to the dead connection too; neither is sent again.
TEST_F(PgRetryTest, APipelinedSecondBatchStopsTheRetry) {
  ReplicaPooled();
  h_.client().Write(Extended("", "SELECT a FROM t") + Extended("", "SELECT b FROM t"));
  ASSERT_TRUE(h_.RunUntil([&] {
    server_bufs_[1] += h_.server(1).TakeAll();
    return server_bufs_[1].find("SELECT b FROM t") != std::string::npos &&
           server_bufs_[1].back() == 4;  // the second Sync's length ends the buffer
  }));
  h_.server(1).Close();
  auto got = ClientUntil('Z');
  EXPECT_EQ(got.front().type, 'E');
  EXPECT_EQ(h_.Counted(&StatsDelta::retries), 0u);
}

// Before: a retried read counted its segment twice in the settings' bookkeeping, so a SET
// after it was matched to the wrong answer: a new connection did not get it.
TEST_F(PgRetryTest, ASetAfterARetriedReadReachesTheNextConnection) {
  ReplicaPooled();
  ReplicaReadLost("");
  ExpectRunOnTheWriter();
  h_.client().Write(Query("SET work_mem = '64MB'"));
  ServerUntil(0, 'Q');
  h_.server(0).Write(Complete("SET") + Ready());
  ClientUntil('Z');
  // A second replica: the next read opens a connection there, which must get the SET first.
  h_.Publish([](Runtime* rt) {
    Server r = rt->clusters[0].servers[1];
    r.host = "10.0.0.3";
    rt->clusters[0].servers.push_back(r);
  });
  h_.Settle();
  h_.client().Write(Query("SELECT c FROM t"));
  ASSERT_TRUE(h_.RunUntil([&] { return h_.LastDialedTo("10.0.0.3") >= 0; }, 3000));
  size_t third = static_cast<size_t>(h_.LastDialedTo("10.0.0.3"));
  ServerLogin(third);
  auto first = ServerUntil(third, 'Q');
  ASSERT_FALSE(first.empty());
  EXPECT_NE(first.front().body.find("work_mem"), std::string::npos) << first.front().body;
}

// Before: the idle connection kept after an INSERT (for a currval()) got the server's 57P01
// at a shutdown; the client got it as an unsolicited ERROR and its next statement was
// skipped (answered by a lone ReadyForQuery): psycopg2 raised an OperationalError without a
// message, the "unexplained drop" of the fault campaign. Now nothing reaches the client and
// its next statement runs on a new connection.
TEST_F(PgRetryTest, AnIdleKeptConnectionThatDiesIsForgottenSilently) {
  LoggedIn();
  h_.client().Write(Query("INSERT INTO t VALUES (1)"));
  ServerUntil(0, 'Q');
  h_.server(0).Write(Complete("INSERT 0 1") + Ready());
  EXPECT_EQ(Types(ClientUntil('Z')), "CZ");
  h_.server(0).Write(Fatal("57P01", "terminating connection due to administrator command"));
  h_.server(0).Close();
  h_.Settle();
  h_.RunUntil([&] { return false; }, 100);
  buf_ += h_.client().TakeAll();
  EXPECT_EQ(TakeMessages(&buf_).size(), 0u);  // nothing unsolicited
  h_.client().Write(Query("INSERT INTO t VALUES (2)"));
  ServerLogin(1);
  auto q = ServerUntil(1, 'Q');
  ASSERT_FALSE(q.empty());
  EXPECT_NE(q.back().body.find("INSERT INTO t VALUES (2)"), std::string::npos);
  h_.server(1).Write(Complete("INSERT 0 1") + Ready());
  EXPECT_EQ(Types(ClientUntil('Z')), "CZ");
}

}  // namespace
}  // namespace sluice::pgproxy
