// PgSession driven from bytes through the session core: the test is the client and the
// backend servers (tests/unit/session_harness.h); the pool, the router and the lease are
// real. Login per auth method, pipelining, errors, retries, pins, holds, backpressure, and
// the pool statistics PostgreSQL sessions did not count.
#include "proxy/pgsql/session.h"

#include <arpa/inet.h>

#include <gtest/gtest.h>

#include "protocol/pgsql/backend.h"
#include "protocol/pgsql/frontend.h"
#include "protocol/pgsql/md5.h"
#include "protocol/pgsql/scram.h"
#include "protocol/pgsql/startup.h"
#include "tests/unit/pg_session_fixture.h"

namespace sluice::pgproxy {
namespace {

TEST_F(PgSessionTest, ScramLoginSucceeds) {
  Connect();
  auto fin = ScramLogin("app_pw");
  ASSERT_GE(fin.size(), 2u);  // SASLFinal, AuthenticationOk
  ServerLogin(0);
  auto rest = ClientUntil('Z');
  bool key = false;
  for (const Msg& m : rest) key |= m.type == 'K';
  EXPECT_TRUE(key);
  EXPECT_EQ(h_.worker().pools().idle_count(), 1u);  // transaction pooling: released
}

// PostgreSQL's refused logins were not counted (MySQL's were).
TEST_F(PgSessionTest, WrongScramPasswordIsRefusedAndCounted) {
  Connect();
  auto got = ScramLogin("wrong");
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back().type, 'E');
  EXPECT_NE(got.back().body.find("28P01"), std::string::npos);
  EXPECT_EQ(h_.stats().client_connections_refused, 1u);
  EXPECT_EQ(h_.dialed(), 0u);
}

TEST_F(PgSessionTest, Md5LoginSucceedsAndFails) {
  for (const char* password : {"app_pw", "nope"}) {
    buf_.clear();
    Connect("md5user");
    auto r = ClientUntil('R');
    ASSERT_EQ(r.size(), 1u);
    ASSERT_EQ(r[0].body.size(), 8u);  // code 5 + salt
    std::array<uint8_t, 4> salt;
    memcpy(salt.data(), r[0].body.data() + 4, 4);
    std::string out;
    pgsql::AppendPasswordMessage(&out, pgsql::Md5Password("md5user", password, salt));
    h_.client().Write(out);
    auto got = ClientUntil(std::string(password) == "app_pw" ? 'R' : 'E');
    ASSERT_FALSE(got.empty());
    if (std::string(password) == "app_pw") {
      EXPECT_EQ(got.back().body, std::string(4, '\0'));  // AuthenticationOk
      ServerLogin(0);
      ClientUntil('Z');
    } else {
      EXPECT_NE(got.back().body.find("28P01"), std::string::npos);
    }
  }
  EXPECT_EQ(h_.stats().client_connections_refused, 1u);
}

TEST_F(PgSessionTest, PipelinedQueriesShareOneBackendAndAnswerInOrder) {
  LoggedIn();
  h_.client().Write(Query("INSERT INTO t VALUES (1)") + Query("INSERT INTO t VALUES (2)"));
  // Both go to the pooled writer connection at once, without waiting for the first answer.
  std::vector<Msg> got;
  ASSERT_TRUE(h_.RunUntil([&] {
    auto more = ServerUntil(0, 'Q');
    got.insert(got.end(), more.begin(), more.end());
    return got.size() >= 2;
  }));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_NE(got[1].body.find("(2)"), std::string::npos);
  h_.server(0).Write(Complete("INSERT 0 1") + Ready() + Complete("INSERT 0 2") + Ready());
  std::vector<Msg> answers;
  ASSERT_TRUE(h_.RunUntil([&] {
    auto more = ClientUntil('Z');
    answers.insert(answers.end(), more.begin(), more.end());
    return answers.size() >= 4;
  }));
  ASSERT_EQ(answers.size(), 4u);
  EXPECT_EQ(answers[0].body, std::string("INSERT 0 1") + '\0');
  EXPECT_EQ(answers[2].body, std::string("INSERT 0 2") + '\0');
  EXPECT_EQ(h_.dialed(), 1u);
}

TEST_F(PgSessionTest, ServerErrorReachesTheClientAndTheSessionGoesOn) {
  LoggedIn();
  h_.client().Write(Query("INSERT INTO missing VALUES (1)"));
  ServerUntil(0, 'Q');
  std::string err;
  pgsql::AppendErrorResponse(&err, pgsql::ErrorSpec{"ERROR", "42P01", "no such table", "", ""});
  h_.server(0).Write(err + Ready());
  auto got = ClientUntil('Z');
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].type, 'E');
  h_.client().Write(Query("INSERT INTO t VALUES (1)"));
  ServerUntil(0, 'Q');
  h_.server(0).Write(Complete("INSERT 0 1") + Ready());
  EXPECT_EQ(ClientUntil('Z').front().type, 'C');
}

TEST_F(PgSessionTest, BackendLostBeforeTheBatchIsRetriedAndCounted) {
  LoggedIn();
  h_.client().Write(Query("SELECT 1"));  // a read: a new connection to the replica
  ASSERT_TRUE(h_.RunUntil([&] { return h_.dialed() >= 2; }));
  h_.server(1).Close();  // dies during its login
  ServerLogin(2);
  ServerUntil(2, 'Q');
  h_.server(2).Write(Complete("SELECT 1") + Ready());
  EXPECT_EQ(ClientUntil('Z').front().type, 'C');
  EXPECT_EQ(h_.stats().retries, 1u);
}

TEST_F(PgSessionTest, ALostTransactionEndsTheSessionWithoutARetry) {
  LoggedIn();
  h_.client().Write(Query("BEGIN"));
  ServerUntil(0, 'Q');
  h_.server(0).Write(Complete("BEGIN") + Ready('T'));
  ClientUntil('Z');
  h_.client().Write(Query("UPDATE t SET a = 1"));
  ServerUntil(0, 'Q');
  h_.server(0).Close();
  auto got = ClientUntil('E');
  ASSERT_FALSE(got.empty());
  EXPECT_NE(got.back().body.find("08006"), std::string::npos);
  EXPECT_NE(got.back().body.find("FATAL"), std::string::npos);
  EXPECT_EQ(h_.stats().retries, 0u);
}

TEST_F(PgSessionTest, TempTablePinsTheConnection) {
  LoggedIn();
  h_.client().Write(Query("CREATE TEMP TABLE x (a int)"));
  ServerUntil(0, 'Q');
  h_.server(0).Write(Complete("CREATE TABLE") + Ready());
  ClientUntil('Z');
  EXPECT_EQ(h_.worker().pools().idle_count(), 0u);  // pinned: kept by the session
  h_.client().Write(Query("SELECT * FROM x"));      // a read, yet on the pinned connection
  auto got = ServerUntil(0, 'Q');
  EXPECT_EQ(h_.dialed(), 1u);
}

// currval() reads the sequence of the connection that ran the INSERT; the classifier says
// so (kPinPreviousConnection), and PostgreSQL sessions used to route it afresh.
TEST_F(PgSessionTest, CurrvalReadsTheConnectionOfTheInsert) {
  LoggedIn();  // client 0; its login's writer connection (server 0) is idle in the pool
  h_.client(0).Write(Query("INSERT INTO t (v) VALUES (1)"));
  ServerUntil(0, 'Q');
  h_.server(0).Write(Complete("INSERT 0 1") + Ready());
  ClientUntil('Z', 0);
  // Another client logs in and opens a transaction meanwhile: it must not get the
  // connection the INSERT ran on (server 0), which client 0 keeps for its currval().
  buf_.clear();
  Connect();
  ScramLogin("app_pw");
  ServerLogin(1);
  ClientUntil('Z', 1);
  buf_.clear();
  h_.client(1).Write(Query("BEGIN"));
  ServerUntil(1, 'Q');
  h_.server(1).Write(Complete("BEGIN") + Ready('T'));
  ClientUntil('Z', 1);
  buf_.clear();
  h_.client(0).Write(Query("SELECT currval('t_id_seq')"));
  auto got = ServerUntil(0, 'Q');
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].body.find("currval"), std::string::npos);
  h_.server(0).Write(Complete("SELECT 1") + Ready());
  ClientUntil('Z', 0);
  EXPECT_EQ(h_.dialed(), 2u);
  // Anything else after an INSERT routes afresh: a read goes to the replica.
  h_.client(0).Write(Query("INSERT INTO t (v) VALUES (2)"));
  ServerUntil(0, 'Q');
  h_.server(0).Write(Complete("INSERT 0 1") + Ready());
  ClientUntil('Z', 0);
  h_.client(0).Write(Query("SELECT 1"));
  ASSERT_TRUE(h_.RunUntil([&] { return h_.dialed() == 3; }));
  EXPECT_EQ(h_.server(2).address, "10.0.0.2");
  EXPECT_EQ(h_.worker().pools().idle_count(), 1u);  // the writer's connection went back
}

// PostgreSQL's pool waits were not counted (MySQL's were).
TEST_F(PgSessionTest, PoolWaitIsCounted) {
  h_.Publish([](Runtime* rt) {
    for (Server& s : rt->clusters[0].servers) s.max_connections = 1;
  });
  h_.Settle();
  LoggedIn();
  h_.client().Write(Query("BEGIN"));
  ServerUntil(0, 'Q');
  h_.server(0).Write(Complete("BEGIN") + Ready('T'));
  ClientUntil('Z');
  // A second client: its login needs the writer, whose one connection is in a transaction.
  buf_.clear();
  Connect();
  ScramLogin("app_pw");
  h_.Settle();
  EXPECT_EQ(h_.stats().pool_waits, 1u);
  EXPECT_EQ(h_.dialed(), 1u);
  // The first client commits: the connection goes to the waiter.
  h_.client(0).Write(Query("COMMIT"));
  ServerUntil(0, 'Q');
  h_.server(0).Write(Complete("COMMIT") + Ready());
  auto got = ClientUntil('Z', 1);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back().type, 'Z');
}

TEST_F(PgSessionTest, WritesHeldWhilePausedRunWhenResumed) {
  LoggedIn();
  h_.Publish([](Runtime* rt) { rt->clusters[0].writes_paused = true; });
  h_.Settle();
  h_.RunUntil([&] { return false; }, 150);  // the worker sees the snapshot
  h_.client().Write(Query("INSERT INTO t VALUES (1)"));
  h_.RunUntil([&] { return false; }, 150);
  EXPECT_EQ(evbuffer_get_length(h_.server(0).in()), 0u);  // held
  h_.Publish([](Runtime* rt) { rt->clusters[0].writes_paused = false; });
  auto got = ServerUntil(0, 'Q');
  ASSERT_FALSE(got.empty());
  h_.server(0).Write(Complete("INSERT 0 1") + Ready());
  EXPECT_EQ(ClientUntil('Z').front().type, 'C');
}

// The hold's bound: the statement fails as a write on a standby does (25006
// read_only_sql_transaction), the session stays usable.
TEST_F(PgSessionTest, HeldWriteFailsAsReadOnlyAfterTheHoldTimeout) {
  LoggedIn();
  h_.Publish([](Runtime* rt) {
    rt->clusters[0].writes_paused = true;
    rt->clusters[0].write_hold_timeout_ms = 150;
  });
  h_.Settle();
  h_.RunUntil([&] { return false; }, 150);  // the worker sees the snapshot
  h_.client().Write(Query("INSERT INTO t VALUES (1)"));
  auto got = ClientUntil('Z');
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(got.front().type, 'E');
  EXPECT_NE(got.front().body.find("25006"), std::string::npos);
  EXPECT_NE(got.front().body.find("write_hold_timeout_ms"), std::string::npos);
  EXPECT_EQ(evbuffer_get_length(h_.server(0).in()), 0u);
}

TEST_F(PgSessionTest, SlowClientStopsTheBackendRead) {
  LoggedIn();
  h_.client().Write(Query("INSERT INTO t SELECT 1 RETURNING big"));
  ServerUntil(0, 'Q');
  bufferevent_disable(h_.client().bev, EV_READ);
  std::string rows;
  std::string row =
      std::string("\0\x01", 2) + std::string("\0\x01\0\0", 4) + std::string(0x10000, 'r');
  for (int i = 0; i < 64; ++i) rows += Typed('D', row);  // 4 MiB
  rows += Complete("INSERT 0 64") + Ready();
  h_.server(0).Write(rows);
  h_.Settle();
  ASSERT_GT(evbuffer_get_length(bufferevent_get_output(h_.server(0).bev)), 1u << 20);
  bufferevent_enable(h_.client().bev, EV_READ);
  std::string got;
  ASSERT_TRUE(h_.RunUntil(
      [&] {
        got += h_.client().TakeAll();
        return got.size() >= rows.size();
      },
      5000));
  EXPECT_EQ(got, rows);
}

// Issue #13 item 8: an unknown or out-of-place frontend message ends the session with
// FATAL 08P01, as PostgreSQL does; it never reaches a server.
TEST_F(PgSessionTest, UnknownFrontendMessageIsFatal08P01) {
  LoggedIn();
  h_.client().Write(Typed('y', "junk"));
  auto got = ClientUntil('E');
  ASSERT_FALSE(got.empty());
  EXPECT_NE(got.back().body.find("FATAL"), std::string::npos);
  EXPECT_NE(got.back().body.find("08P01"), std::string::npos);
  EXPECT_NE(got.back().body.find("invalid frontend message type 121"), std::string::npos);
  h_.Settle();
  EXPECT_EQ(h_.dialed(), 1u);
  EXPECT_EQ(evbuffer_get_length(h_.server(0).in()), 0u);
  EXPECT_EQ(h_.stats().protocol_errors, 1u);
  EXPECT_EQ(h_.stats().protocol_errors_postgresql, 1u);
  EXPECT_EQ(h_.stats().protocol_errors_mysql, 0u);
}

TEST_F(PgSessionTest, PasswordMessageAfterLoginIsFatal08P01) {
  LoggedIn();
  h_.client().Write(Typed('p', std::string("secret") + '\0'));
  auto got = ClientUntil('E');
  ASSERT_FALSE(got.empty());
  EXPECT_NE(got.back().body.find("08P01"), std::string::npos);
  h_.Settle();
  EXPECT_EQ(evbuffer_get_length(h_.server(0).in()), 0u);
}

// ---- the session janitor (proxy/janitor.h), issue #13 items 1, 10 -------------------

// A client that never finishes its login is closed at client_login_timeout_ms, and counted.
TEST_F(PgSessionTest, LoginTimeoutClosesAStalledStartup) {
  h_.Publish([](Runtime* rt) { rt->clusters[0].client_login_timeout_ms = 100; });
  h_.Settle();
  Connect();  // StartupMessage sent; the SASL exchange never answered
  ASSERT_TRUE(h_.RunUntil(
      [&] { return h_.stats().client_login_timeouts == 1 && h_.worker().preauth().size() == 0; },
      3000));
  EXPECT_EQ(h_.dialed(), 0u);
}

// A SASL message declared larger than the pre-auth read-ahead can never arrive whole: it
// is refused at once with 08P01 (it used to wait for the login timeout).
TEST_F(PgSessionTest, OversizedSaslResponseIsRefusedAtOnce) {
  Connect();
  auto sasl = ClientUntil('R');
  ASSERT_EQ(sasl.size(), 1u);
  std::string out = "p";
  uint32_t len = 32u << 10;  // above kPreAuthReadBytes, below the old 64 KiB bound
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>((len >> shift) & 0xff));
  out += std::string(1000, 'x');  // only the start of it
  h_.client().Write(out);
  auto got = ClientUntil('E');
  ASSERT_FALSE(got.empty());
  EXPECT_NE(got.back().body.find("08P01"), std::string::npos);
  EXPECT_EQ(h_.stats().client_login_timeouts, 0u);
}

// Unauthenticated connections do not count in max_client_connections; logged-in ones do, and
// the one over the limit gets PostgreSQL's 53300.
TEST_F(PgSessionTest, UnauthenticatedConnectionsDoNotTakeClientSlots) {
  h_.Publish([](Runtime* rt) { rt->clusters[0].max_client_connections = 1; });
  h_.Settle();
  for (int i = 0; i < 3; ++i) {
    auto* s = new PgSession(&h_.worker(), 0, h_.NewClient(), "10.9.9.9");
    s->Start();  // and nothing sent
  }
  LoggedIn();
  EXPECT_EQ(h_.worker().preauth().size(), 3u);
  buf_.clear();
  Connect();
  auto got = ClientUntil('E');
  ASSERT_FALSE(got.empty());
  EXPECT_NE(got.back().body.find("53300"), std::string::npos);
}

// A server that stops answering gets the batch failed at query_timeout_ms with PostgreSQL's
// statement_timeout error (57014) and ReadyForQuery; its connection is discarded.
TEST_F(PgSessionTest, QueryTimeoutFailsAHungStatement) {
  h_.Publish([](Runtime* rt) { rt->clusters[0].query_timeout_ms = 150; });
  h_.Settle();
  LoggedIn();
  h_.client().Write(Query("UPDATE t SET a = 1"));
  ServerUntil(0, 'Q');  // and the server never answers
  auto got = ClientUntil('Z');
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(got[0].type, 'E');
  EXPECT_NE(got[0].body.find("57014"), std::string::npos);
  EXPECT_NE(got[0].body.find("statement timeout"), std::string::npos);
  EXPECT_EQ(got.back().body, "I");
  EXPECT_EQ(h_.stats().query_timeouts, 1u);
  h_.Settle();
  EXPECT_EQ(h_.worker().pools().idle_count(), 0u);  // the hung connection is not pooled
  // The session goes on, on a new connection, whose login the hung server never answers:
  // query_timeout_ms bounds that wait too.
  h_.client().Write(Query("SELECT 1"));
  ASSERT_TRUE(h_.RunUntil([&] { return h_.dialed() == 2; }));
  got = ClientUntil('Z');
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(got[0].type, 'E');
  EXPECT_NE(got[0].body.find("57014"), std::string::npos);
  EXPECT_NE(got[0].body.find("no server connection in time"), std::string::npos);
  EXPECT_EQ(h_.stats().query_timeouts, 2u);
}

// A client idle inside a transaction is closed with FATAL 25P03 at
// idle_in_transaction_timeout_ms, as PostgreSQL's idle_in_transaction_session_timeout.
TEST_F(PgSessionTest, IdleInTransactionTimeoutIsFatal25P03) {
  h_.Publish([](Runtime* rt) { rt->clusters[0].idle_in_transaction_timeout_ms = 150; });
  h_.Settle();
  LoggedIn();
  h_.client().Write(Query("BEGIN"));
  ServerUntil(0, 'Q');
  h_.server(0).Write(Complete("BEGIN") + Ready('T'));
  auto z = ClientUntil('Z');
  ASSERT_FALSE(z.empty());
  EXPECT_EQ(z.back().body, "T");
  auto got = ClientUntil('E');
  ASSERT_FALSE(got.empty());
  EXPECT_NE(got.back().body.find("25P03"), std::string::npos);
  EXPECT_EQ(h_.stats().idle_transaction_timeouts, 1u);
}

}  // namespace
}  // namespace sluice::pgproxy
