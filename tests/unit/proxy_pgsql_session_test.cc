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
#include "tests/unit/pgsql_session_fixture.h"

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
  // Routed again, away from the replica that failed: the writer's pooled connection
  // (reader_fallback_to_writer).
  ServerUntil(0, 'Q');
  h_.server(0).Write(Complete("SELECT 1") + Ready());
  EXPECT_EQ(ClientUntil('Z').front().type, 'C');
  EXPECT_EQ(h_.stats().retries, 1u);
  EXPECT_EQ(h_.dialed(), 2u);
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
  uint32_t len = 32u << 10;  // above client_preauth_bytes, below the old 64 KiB bound
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>((len >> shift) & 0xff));
  out += std::string(1000, 'x');  // only the start of it
  h_.client().Write(out);
  auto got = ClientUntil('E');
  ASSERT_FALSE(got.empty());
  EXPECT_NE(got.back().body.find("08P01"), std::string::npos);
  EXPECT_EQ(h_.stats().client_login_timeouts, 0u);
}

// client_preauth_bytes lowered to 2 KiB: a 4 KiB SASL message (fine under the default) is
// refused at once with 08P01.
TEST_F(PgSessionTest, ClientPreauthBytesBoundsTheSaslMessage) {
  h_.Publish([](Runtime* rt) { rt->client_preauth_bytes = 2048; });
  h_.Settle();
  Connect();
  auto sasl = ClientUntil('R');
  ASSERT_EQ(sasl.size(), 1u);
  std::string out = "p";
  uint32_t len = 4096;
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>((len >> shift) & 0xff));
  out += std::string(1500, 'x');
  h_.client().Write(out);
  auto got = ClientUntil('E');
  ASSERT_FALSE(got.empty());
  EXPECT_NE(got.back().body.find("08P01"), std::string::npos);
  EXPECT_EQ(h_.worker().preauth().size(), 0u);
}

// The same bound for the StartupMessage: one announced longer than client_preauth_bytes could
// never arrive whole through the read-ahead; it is refused at once, not left to time out.
TEST_F(PgSessionTest, ClientPreauthBytesBoundsTheStartupMessage) {
  h_.Publish([](Runtime* rt) { rt->client_preauth_bytes = 2048; });
  h_.Settle();
  auto* s = new PgSession(&h_.worker(), 0, h_.NewClient(), "10.9.9.9");
  s->Start();
  pgsql::StartupMessage m;
  m.params = {{"user", "app"}, {"database", "db"}, {"application_name", std::string(4000, 'a')}};
  std::string startup;
  pgsql::AppendStartupMessage(&startup, m);
  h_.client().Write(startup);
  auto got = ClientUntil('E');
  ASSERT_FALSE(got.empty());
  EXPECT_NE(got.back().body.find("08P01"), std::string::npos);
  EXPECT_NE(got.back().body.find("invalid length of startup packet"), std::string::npos);
  EXPECT_EQ(h_.worker().preauth().size(), 0u);
}

// max_unauthenticated_connections: past it the oldest connection that never logged in goes,
// counted in preauth_evictions, and a real client still logs in.
TEST_F(PgSessionTest, MaxUnauthenticatedConnectionsClosesTheOldest) {
  h_.Publish([](Runtime* rt) { rt->max_unauthenticated_connections = 3; });
  h_.Settle();
  for (int i = 0; i < 3; ++i) {
    auto* s = new PgSession(&h_.worker(), 0, h_.NewClient(), "10.9.9.9");
    s->Start();
  }
  EXPECT_EQ(h_.worker().preauth().size(), 3u);
  EXPECT_EQ(h_.stats().preauth_evictions, 0u);
  LoggedIn();
  EXPECT_EQ(h_.stats().preauth_evictions, 1u);
  EXPECT_EQ(h_.worker().preauth().size(), 2u);
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

// backend_tls: the SSLRequest goes first and its one-byte answer decides (PostgreSQL's
// startup, docs/protocol-notes.md). The SSLRequest as bytes: length 8, code 80877103.
const std::string kSslRequest("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8);

class PgBackendTlsTest : public PgSessionTest {
 protected:
  // Logs the client in and waits for the backend's first 8 bytes.
  std::string FirstServerBytes() {
    Connect();
    EXPECT_FALSE(ScramLogin("app_pw").empty());
    EXPECT_TRUE(h_.RunUntil([&] { return h_.dialed() > 0; }));
    EXPECT_TRUE(h_.RunUntil([&] { return evbuffer_get_length(h_.server(0).in()) >= 8; }));
    return h_.server(0).TakeAll();
  }
};

TEST_F(PgBackendTlsTest, SslRequestThenClientHelloOnS) {
  h_.SetBackendTls(BackendTlsMode::kRequire);
  EXPECT_EQ(FirstServerBytes(), kSslRequest);  // nothing else before the answer
  h_.server(0).Write("S");
  std::string hello;
  ASSERT_TRUE(h_.RunUntil([&] {
    hello += h_.server(0).TakeAll();
    return hello.size() >= 6;
  }));
  EXPECT_EQ(static_cast<uint8_t>(hello[0]), 0x16);  // a TLS handshake record
  EXPECT_EQ(static_cast<uint8_t>(hello[5]), 0x01);  // ClientHello, not a StartupMessage
}

TEST_F(PgBackendTlsTest, PreferGoesOnInPlainOnN) {
  h_.SetBackendTls(BackendTlsMode::kPrefer);
  EXPECT_EQ(FirstServerBytes(), kSslRequest);
  h_.server(0).Write("N");
  ServerLogin(0);  // reads the StartupMessage in plain
  auto rest = ClientUntil('Z');
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.back().type, 'Z');
}

TEST_F(PgBackendTlsTest, RequireRefusesNWithAClearError) {
  h_.SetBackendTls(BackendTlsMode::kRequire);
  EXPECT_EQ(FirstServerBytes(), kSslRequest);
  h_.server(0).Write("N");
  auto got = ClientUntil('E');
  ASSERT_FALSE(got.empty());
  EXPECT_NE(got.back().body.find("08006"), std::string::npos);
  EXPECT_NE(got.back().body.find("SSL connection error: the server does not support TLS"),
            std::string::npos)
      << got.back().body;
  h_.Settle();
  EXPECT_EQ(h_.server(0).TakeAll(), "");  // no StartupMessage in plain
}

TEST_F(PgBackendTlsTest, BytesAfterTheSAreRefused) {
  h_.SetBackendTls(BackendTlsMode::kRequire);
  EXPECT_EQ(FirstServerBytes(), kSslRequest);
  std::string injected;
  pgsql::AppendAuthenticationOk(&injected);
  h_.server(0).Write("S" + injected);
  auto got = ClientUntil('E');
  ASSERT_FALSE(got.empty());
  EXPECT_NE(got.back().body.find("data after the SSLRequest answer"), std::string::npos)
      << got.back().body;
}

TEST_F(PgBackendTlsTest, DisableSendsTheStartupMessageFirst) {
  std::string first = FirstServerBytes();
  ASSERT_GE(first.size(), 8u);
  EXPECT_NE(first.substr(0, 8), kSslRequest);
  EXPECT_EQ(first.substr(4, 4), std::string("\x00\x03\x00\x00", 4));  // protocol 3.0
}

// ---- issue #11: the dying primary refuses, a replica refuses ---------------------------

using sluice::testing::PromoteReplica;

// Before: 08006 after three refused connects. Now the batch waits for the new primary and
// runs there once; the monitor is asked to check at once.
TEST_F(PgSessionTest, ABatchThePrimaryRefusesIsHeldAndRunsOnTheNewPrimary) {
  LoggedIn();
  h_.dialer().refuse_ips = {"10.0.0.1"};
  h_.server(0).Close();  // kill -9: the pooled login connection goes too
  h_.Settle();
  h_.client().Write(Query("INSERT INTO t VALUES (1)"));
  ASSERT_TRUE(h_.RunUntil([&] { return h_.Counted(&StatsDelta::connect_holds) == 1; }));
  EXPECT_TRUE(h_.shared().cluster_counters[0]->check_requested.load());
  h_.Settle();
  EXPECT_EQ(evbuffer_get_length(h_.client().in()), 0u);
  h_.Publish(PromoteReplica);
  ASSERT_TRUE(h_.RunUntil([&] { return h_.LastDialedTo("10.0.0.2") >= 0; }));
  size_t i = static_cast<size_t>(h_.LastDialedTo("10.0.0.2"));
  ServerLogin(i);
  auto q = ServerUntil(i, 'Q');
  ASSERT_FALSE(q.empty());
  EXPECT_NE(q.back().body.find("INSERT INTO t VALUES (1)"), std::string::npos);
  h_.server(i).Write(Complete("INSERT 0 1") + Ready());
  EXPECT_EQ(ClientUntil('Z').front().type, 'C');
  EXPECT_EQ(h_.Counted(&StatsDelta::connect_hold_timeouts), 0u);
}

// Before: FATAL "could not connect to the server" for a client that logs in while the
// primary is dead. Now its login waits for the new primary too.
TEST_F(PgSessionTest, ALoginThePrimaryRefusesIsHeld) {
  h_.dialer().refuse_ips = {"10.0.0.1"};
  Connect();
  ASSERT_FALSE(ScramLogin("app_pw").empty());
  ASSERT_TRUE(h_.RunUntil([&] { return h_.Counted(&StatsDelta::connect_holds) == 1; }));
  h_.Settle();
  buf_ += h_.client().TakeAll();
  EXPECT_EQ(TakeMessages(&buf_).size(), 0u);  // no FATAL
  h_.Publish(PromoteReplica);
  ASSERT_TRUE(h_.RunUntil([&] { return h_.LastDialedTo("10.0.0.2") >= 0; }));
  ServerLogin(static_cast<size_t>(h_.LastDialedTo("10.0.0.2")));
  auto rest = ClientUntil('Z');
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.back().type, 'Z');
}

// No new primary within the bound: 25006 (as a standby refuses a write) with the reason,
// and the session goes on.
TEST_F(PgSessionTest, AHeldBatchFailsAsReadOnlyAtTheBound) {
  h_.Publish([](Runtime* rt) {
    rt->clusters[0].failover_window_ms = 100;
    rt->clusters[0].monitor_interval_ms = 100;
  });
  LoggedIn();
  h_.dialer().refuse_ips = {"10.0.0.1"};
  h_.server(0).Close();
  h_.Settle();
  h_.client().Write(Query("INSERT INTO t VALUES (1)"));
  std::vector<Msg> got;
  ASSERT_TRUE(h_.RunUntil(
      [&] {
        buf_ += h_.client().TakeAll();
        for (Msg& m : TakeMessages(&buf_)) got.push_back(std::move(m));
        return !got.empty() && got.back().type == 'Z';
      },
      4000));
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(got[0].type, 'E');
  EXPECT_NE(got[0].body.find("25006"), std::string::npos);
  EXPECT_NE(got[0].body.find("refused the connection"), std::string::npos);
  EXPECT_EQ(h_.Counted(&StatsDelta::connect_hold_timeouts), 1u);
}

// Before: the retry went back to the refusing replica and the client got 08006. Now the
// read takes the writer (reader_fallback_to_writer), counted as a retry.
TEST_F(PgSessionTest, AReadTheReplicaRefusesMovesToTheWriter) {
  LoggedIn();
  h_.dialer().refuse_ips = {"10.0.0.2"};
  h_.client().Write(Query("SELECT a FROM t"));
  auto q = ServerUntil(0, 'Q');  // the primary's pooled connection
  ASSERT_FALSE(q.empty());
  EXPECT_NE(q.back().body.find("SELECT a FROM t"), std::string::npos);
  h_.server(0).Write(Complete("SELECT 1") + Ready());
  EXPECT_EQ(ClientUntil('Z').front().type, 'C');
  EXPECT_EQ(h_.Counted(&StatsDelta::retries), 1u);
}

// Before: 08006 for a read whose pooled replica connection died with the read on it. A lone
// read outside a transaction changes nothing: it runs again on another server.
TEST_F(PgSessionTest, AReadWhoseReplicaConnectionDiesRunsElsewhere) {
  LoggedIn();
  h_.client().Write(Query("SELECT a FROM t"));
  ServerLogin(1);  // the replica
  ServerUntil(1, 'Q');
  h_.server(1).Write(Complete("SELECT 1") + Ready());
  EXPECT_EQ(ClientUntil('Z').front().type, 'C');
  h_.client().Write(Query("SELECT b FROM t"));  // on the pooled replica connection
  ServerUntil(1, 'Q');
  h_.server(1).Close();          // kill -9 before any byte of the answer
  auto q = ServerUntil(0, 'Q');  // the writer (reader_fallback_to_writer)
  ASSERT_FALSE(q.empty());
  EXPECT_NE(q.back().body.find("SELECT b FROM t"), std::string::npos);
  h_.server(0).Write(Complete("SELECT 1") + Ready());
  auto got = ClientUntil('Z');
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].type, 'C');
  EXPECT_EQ(h_.Counted(&StatsDelta::retries), 1u);
}

// Before: a batch whose every server refused was routed again without end (the budget was
// reset on each route). Now kMaxBackendAttempts, then 08006.
TEST_F(PgSessionTest, RetriesOfARefusedReadAreBounded) {
  h_.Publish([](Runtime* rt) { rt->clusters[0].reader_fallback_to_writer = false; });
  LoggedIn();
  h_.dialer().refuse_ips = {"10.0.0.2"};
  h_.client().Write(Query("SELECT a FROM t"));
  auto got = ClientUntil('Z');
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(got[0].type, 'E');
  EXPECT_NE(got[0].body.find("08006"), std::string::npos);
  EXPECT_EQ(h_.dialed(), 1u + kMaxBackendAttempts);  // the login's, then three refused
  EXPECT_EQ(h_.Counted(&StatsDelta::retries), static_cast<uint64_t>(kMaxBackendAttempts - 1));
}

}  // namespace
}  // namespace sluice::pgproxy
