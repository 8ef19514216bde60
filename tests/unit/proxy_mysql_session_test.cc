// MysqlSession driven from bytes through the session core: the test is the client and the
// backend servers (tests/unit/session_harness.h); the pool, the router and the lease are
// real. Login per auth method, pipelining, errors, retries, pins, holds, backpressure.
#include <gtest/gtest.h>

#include "tests/unit/mysql_session_fixture.h"

namespace sluice::mysqlproxy {
namespace {

TEST_F(MysqlSessionTest, NativePasswordLoginSucceeds) {
  LoggedIn();
  EXPECT_EQ(h_.stats().client_connections_refused, 0u);
}

TEST_F(MysqlSessionTest, WrongPasswordIsRefusedAndCounted) {
  SendLogin(Connect(), mysql::kNativePasswordPlugin, "wrong");
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  ASSERT_TRUE(mysql::IsErr(mysql::AsBytes(pk[0].second)));
  auto err = mysql::DecodeErr(mysql::AsBytes(pk[0].second), kClientCaps);
  EXPECT_EQ(err->code, mysql::ER_ACCESS_DENIED_ERROR.code);
  EXPECT_EQ(h_.stats().client_connections_refused, 1u);
}

TEST_F(MysqlSessionTest, CachingSha2FastPathWithoutTls) {
  SendLogin(Connect(), mysql::kCachingSha2Plugin, "app_pw");
  auto pk = ClientGets(2);
  ASSERT_EQ(pk.size(), 2u);
  EXPECT_EQ(pk[0].second, std::string("\x01\x03", 2));  // AuthMoreData: fast auth OK
  EXPECT_TRUE(mysql::IsOk(mysql::AsBytes(pk[1].second)));
  EXPECT_EQ(pk[1].first, 3);
}

TEST_F(MysqlSessionTest, UnknownPluginIsSwitchedToNativePassword) {
  std::string scramble = Connect();
  mysql::HandshakeResponse r;
  r.capabilities = kClientCaps;
  r.user = "app";
  r.auth_plugin_name = "dialog";
  r.auth_response = "whatever";
  h_.client().Write(Packet(1, mysql::EncodeHandshakeResponse(r)));
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  auto sw = mysql::DecodeAuthSwitchRequest(mysql::AsBytes(pk[0].second));
  ASSERT_TRUE(sw.ok());
  EXPECT_EQ(sw->plugin_name, mysql::kNativePasswordPlugin);
  h_.client().Write(
      Packet(3, mysql::TokenFor(mysql::kNativePasswordPlugin, "app_pw", sw->plugin_data)));
  pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  EXPECT_TRUE(mysql::IsOk(mysql::AsBytes(pk[0].second)));
  EXPECT_EQ(pk[0].first, 4);
}

TEST_F(MysqlSessionTest, PipelinedCommandsAnswerInOrderOnOneConnection) {
  LoggedIn();
  Query("INSERT INTO t VALUES (1)");
  Query("INSERT INTO t VALUES (2)");
  ServerLogin(0);
  auto got = ServerGets(0, 1);
  ASSERT_EQ(got.size(), 1u);  // one command at a time
  EXPECT_EQ(got[0].substr(1), "INSERT INTO t VALUES (1)");
  h_.server(0).Write(
      Packet(1, mysql::MakeOk(1, 0, mysql::SERVER_STATUS_AUTOCOMMIT, 0, kClientCaps)));
  got = ServerGets(0, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].substr(1), "INSERT INTO t VALUES (2)");
  h_.server(0).Write(
      Packet(1, mysql::MakeOk(2, 0, mysql::SERVER_STATUS_AUTOCOMMIT, 0, kClientCaps)));
  auto pk = ClientGets(2);
  ASSERT_EQ(pk.size(), 2u);
  EXPECT_EQ(mysql::DecodeOk(mysql::AsBytes(pk[0].second), kClientCaps)->affected_rows, 1u);
  EXPECT_EQ(mysql::DecodeOk(mysql::AsBytes(pk[1].second), kClientCaps)->affected_rows, 2u);
  EXPECT_EQ(h_.dialed(), 1u);
}

TEST_F(MysqlSessionTest, ServerErrorReachesTheClientAndTheSessionGoesOn) {
  LoggedIn();
  Query("SELECT * FROM missing");
  ServerLogin(0);
  EXPECT_EQ(h_.server(0).address, "10.0.0.2");  // a read: the replica
  ServerGets(0, 1);
  h_.server(0).Write(Packet(1, mysql::MakeErr(1146, "42S02", "Table 'missing' doesn't exist")));
  auto pk = ClientGets(1);
  ASSERT_TRUE(mysql::IsErr(mysql::AsBytes(pk.at(0).second)));
  Query("SELECT 1");
  auto got = ServerGets(0, 1);  // the same pooled connection serves the next one
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(h_.dialed(), 1u);
}

TEST_F(MysqlSessionTest, BackendLostBeforeAnyByteIsRetriedElsewhere) {
  LoggedIn();
  Query("SELECT 1");
  ASSERT_TRUE(h_.RunUntil([&] { return h_.dialed() >= 1; }));
  EXPECT_EQ(h_.server(0).address, "10.0.0.2");  // the replica
  h_.server(0).Close();                         // it dies before its greeting
  // Routed again on a new connection (the reader group has this one server only).
  ASSERT_TRUE(h_.RunUntil([&] { return h_.dialed() >= 2; }));
  ServerLogin(1);
  ServerGets(1, 1);
  h_.server(1).Write(Packet(1, Ok()));
  auto pk = ClientGets(1);
  EXPECT_TRUE(mysql::IsOk(mysql::AsBytes(pk.at(0).second)));
  EXPECT_EQ(h_.stats().retries, 1u);
}

TEST_F(MysqlSessionTest, ALostTransactionIsNotRetried) {
  LoggedIn();
  Query("BEGIN");
  ServerLogin(0);
  ServerGets(0, 1);
  h_.server(0).Write(
      Packet(1, Ok(mysql::SERVER_STATUS_AUTOCOMMIT | mysql::SERVER_STATUS_IN_TRANS)));
  ClientGets(1);
  Query("UPDATE t SET a = 1");
  ServerGets(0, 1);
  h_.server(0).Close();  // the server dies with the transaction
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  auto err = mysql::DecodeErr(mysql::AsBytes(pk[0].second), kClientCaps);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->code, mysql::ER_NET_READ_ERROR.code);
  EXPECT_EQ(h_.dialed(), 1u);
  EXPECT_EQ(h_.stats().retries, 0u);
}

TEST_F(MysqlSessionTest, LockTablesPinsUntilUnlock) {
  LoggedIn();
  Query("LOCK TABLES t WRITE");
  ServerLogin(0);
  ServerGets(0, 1);
  h_.server(0).Write(Packet(1, Ok()));
  ClientGets(1);
  EXPECT_EQ(h_.worker().pools().idle_count(), 0u);  // pinned: kept by the session
  Query("SELECT * FROM t");  // a read, yet it stays on the pinned writer connection
  ServerGets(0, 1);
  h_.server(0).Write(Packet(1, Ok()));
  ClientGets(1);
  Query("UNLOCK TABLES");
  ServerGets(0, 1);
  h_.server(0).Write(Packet(1, Ok()));
  ClientGets(1);
  EXPECT_EQ(h_.dialed(), 1u);
  EXPECT_EQ(h_.worker().pools().idle_count(), 1u);  // unpinned: back to the pool
}

TEST_F(MysqlSessionTest, LastInsertIdReadsTheConnectionOfTheInsert) {
  LoggedIn();
  Query("INSERT INTO t VALUES (NULL)");
  ServerLogin(0);
  ServerGets(0, 1);
  h_.server(0).Write(Packet(1, Ok(mysql::SERVER_STATUS_AUTOCOMMIT, 7)));
  ClientGets(1);
  Query("SELECT LAST_INSERT_ID()");
  auto got = ServerGets(0, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].substr(1), "SELECT LAST_INSERT_ID()");
  EXPECT_EQ(h_.dialed(), 1u);
}

TEST_F(MysqlSessionTest, WritesHeldWhilePausedRunWhenResumed) {
  LoggedIn();
  h_.Publish([](Runtime* rt) { rt->clusters[0].writes_paused = true; });
  h_.Settle();
  Query("INSERT INTO t VALUES (1)");
  h_.Settle();
  EXPECT_EQ(h_.dialed(), 0u);  // held
  h_.Publish([](Runtime* rt) { rt->clusters[0].writes_paused = false; });
  ASSERT_TRUE(h_.RunUntil([&] { return h_.dialed() == 1; }));  // the next tick routes it
  ServerLogin(0);
  ServerGets(0, 1);
  h_.server(0).Write(Packet(1, Ok()));
  auto pk = ClientGets(1);
  EXPECT_TRUE(mysql::IsOk(mysql::AsBytes(pk.at(0).second)));
}

// A hold that outlives write_hold_timeout_ms (an abandoned switchover nobody released) ends
// with the read-only refusal a MariaDB replica gives a write (1290, as MaxScale's
// error_on_write), which failover-aware clients and ORMs know, not a generic 1105.
TEST_F(MysqlSessionTest, HeldWriteFailsAsReadOnlyAfterTheHoldTimeout) {
  LoggedIn();
  h_.Publish([](Runtime* rt) {
    rt->clusters[0].writes_paused = true;
    rt->clusters[0].write_hold_timeout_ms = 150;
  });
  h_.Settle();
  Query("INSERT INTO t VALUES (1)");
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  ASSERT_TRUE(mysql::IsErr(mysql::AsBytes(pk[0].second)));
  auto err = mysql::DecodeErr(mysql::AsBytes(pk[0].second), kClientCaps);
  EXPECT_EQ(err->code, mysql::ER_OPTION_PREVENTS_STATEMENT.code);
  EXPECT_EQ(err->sql_state, "HY000");
  EXPECT_NE(err->message.find("write_hold_timeout_ms"), std::string::npos) << err->message;
  EXPECT_EQ(h_.dialed(), 0u);
}

TEST_F(MysqlSessionTest, SlowClientStopsTheBackendRead) {
  LoggedIn();
  Query("SELECT big FROM t");
  ServerLogin(0);
  ServerGets(0, 1);
  bufferevent_disable(h_.client().bev, EV_READ);  // the client stops reading
  // A text result: one column, many 64 KiB rows, EOF-less end (DEPRECATE_EOF).
  std::string def = std::string("\x03") + "def" + std::string(4, '\0') + '\x01' + "b" +
                    std::string(1, '\0') + "\x0c" + std::string("\x21\x00", 2) +
                    std::string("\xff\xff\xff\x00", 4) + "\xfc" + std::string(2, '\0') + '\0' +
                    std::string(2, '\0');
  std::string rows;
  uint8_t seq = 1;
  rows += Packet(seq++, std::string("\x01", 1));
  rows += Packet(seq++, def);
  std::string row = "\xfc" + std::string("\x00\xff", 2) + std::string(0xff00, 'r');
  for (int i = 0; i < 64; ++i) rows += Packet(seq++, row);  // 4 MiB
  rows += Packet(seq++, std::string("\xfe\x00\x00\x02\x00\x00\x00", 7));
  h_.server(0).Write(rows);
  h_.Settle();
  // The session holds about its bound towards the client; the rest waits at the server.
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

}  // namespace
}  // namespace sluice::mysqlproxy

namespace sluice::mysqlproxy {
namespace {

// Issue #13: a write whose connection dies after it was sent may have run; it must not
// run again elsewhere. The client gets a server error and the session goes on.
TEST_F(MysqlSessionTest, ASentWriteIsNotRunAgainWhenItsConnectionDies) {
  LoggedIn();
  Query("INSERT INTO t SELECT SLEEP(1)");
  ServerLogin(0);
  auto got = ServerGets(0, 1);
  ASSERT_EQ(got.size(), 1u);
  h_.server(0).Close();  // killed mid-statement
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  auto err = mysql::DecodeErr(mysql::AsBytes(pk[0].second), kClientCaps);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->code, mysql::ER_QUERY_INTERRUPTED.code);
  EXPECT_EQ(err->sql_state, "70100");
  h_.Settle();
  EXPECT_EQ(h_.dialed(), 1u);  // never sent anywhere else
  EXPECT_EQ(h_.stats().retries, 0u);
  Query("SELECT 1");  // the session is usable
  ASSERT_TRUE(h_.RunUntil([&] { return h_.dialed() == 2; }));
}

// A read outside a transaction may run again: it changes nothing.
TEST_F(MysqlSessionTest, ASentReadIsRetriedWhenItsConnectionDies) {
  LoggedIn();
  Query("SELECT a FROM t");
  ServerLogin(0);
  ServerGets(0, 1);
  h_.server(0).Close();
  ServerLogin(1);
  auto got = ServerGets(1, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].substr(1), "SELECT a FROM t");
  h_.server(1).Write(Packet(1, Ok()));
  EXPECT_TRUE(mysql::IsOk(mysql::AsBytes(ClientGets(1).at(0).second)));
  EXPECT_EQ(h_.stats().retries, 1u);
}

// ---- the session janitor (proxy/janitor.h), issue #13 items 1, 2, 10, 13 ----------------

// A socket that never logs in is closed at client_login_timeout_ms, and counted.
TEST_F(MysqlSessionTest, LoginTimeoutClosesAnIdleConnection) {
  h_.Publish([](Runtime* rt) { rt->clusters[0].client_login_timeout_ms = 100; });
  h_.Settle();
  Connect();  // greeting read, no HandshakeResponse
  std::string rest;
  ASSERT_TRUE(h_.RunUntil(
      [&] {
        rest += h_.client().TakeAll();
        return h_.worker().preauth().size() == 0 && h_.stats().client_login_timeouts == 1;
      },
      3000));
  EXPECT_EQ(rest, "");  // closed without a word, as MySQL's connect_timeout
}

// Unauthenticated sockets do not count in max_client_connections: idle sockets cannot lock
// the users out ("22 idle sockets lock every user out" of a cluster with 20).
TEST_F(MysqlSessionTest, UnauthenticatedSocketsDoNotTakeClientSlots) {
  h_.Publish([](Runtime* rt) { rt->clusters[0].max_client_connections = 2; });
  h_.Settle();
  for (int i = 0; i < 5; ++i) Connect();
  EXPECT_EQ(h_.worker().preauth().size(), 5u);
  LoggedIn();  // a sixth connection logs in
  EXPECT_EQ(h_.worker().preauth().size(), 5u);
  LoggedIn();
  // Two are logged in: the next one is refused before its handshake, as MySQL does.
  auto* s = new MysqlSession(&h_.worker(), 0, h_.NewClient(), "10.9.9.9");
  s->Start();
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  auto err = mysql::DecodeErr(mysql::AsBytes(pk[0].second), kClientCaps);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->code, mysql::ER_CON_COUNT_ERROR.code);
}

// Past the worker's unauthenticated bound (max_unauthenticated_connections: the harness has
// one worker, so all of it) the oldest socket that never logged in goes.
TEST_F(MysqlSessionTest, TheOldestUnauthenticatedSocketMakesRoom) {
  h_.Publish([](Runtime* rt) { rt->max_unauthenticated_connections = 8; });
  h_.Settle();
  for (size_t i = 0; i < 8; ++i) {
    auto* s = new MysqlSession(&h_.worker(), 0, h_.NewClient(), "10.9.9.9");
    s->Start();
  }
  EXPECT_EQ(h_.worker().preauth().size(), 8u);
  EXPECT_EQ(h_.stats().preauth_evictions, 0u);
  LoggedIn();  // one more: the oldest is closed and this one logs in
  EXPECT_EQ(h_.stats().preauth_evictions, 1u);
  EXPECT_EQ(h_.worker().preauth().size(), 7u);
}

// The default bound is 4096 for the process: one worker keeps all of it.
TEST_F(MysqlSessionTest, TheDefaultUnauthenticatedBoundHoldsAThousandSockets) {
  for (size_t i = 0; i < 1500; ++i) {
    auto* s = new MysqlSession(&h_.worker(), 0, h_.NewClient(), "10.9.9.9");
    s->Start();
  }
  EXPECT_EQ(h_.worker().preauth().size(), 1500u);
  EXPECT_EQ(h_.stats().preauth_evictions, 0u);
}

class MysqlPreAuthTest : public MysqlSessionTest {
 protected:
  // Sends the first SENT bytes of a HandshakeResponse that announces ANNOUNCED bytes and
  // expects 1043 at once, with nothing left waiting to log in.
  void ExpectOversizedLoginRefused(size_t announced, size_t sent) {
    Connect();
    std::string big(4 + sent, 'x');
    big[0] = static_cast<char>(announced & 0xff);
    big[1] = static_cast<char>((announced >> 8) & 0xff);
    big[2] = static_cast<char>((announced >> 16) & 0xff);
    big[3] = 1;
    h_.client().Write(big);
    auto pk = ClientGets(1);
    ASSERT_EQ(pk.size(), 1u);
    auto err = mysql::DecodeErr(mysql::AsBytes(pk[0].second), kClientCaps);
    ASSERT_TRUE(err.ok());
    EXPECT_EQ(err->code, mysql::ER_HANDSHAKE_ERROR.code);
    EXPECT_EQ(h_.stats().protocol_errors_mysql, 1u);
    EXPECT_EQ(h_.worker().preauth().size(), 0u);
  }
};

// Before its login a client may not make sluice buffer more than client_preauth_bytes (16 KiB
// by default): a HandshakeResponse claiming 16 MiB is refused at once (it was buffered whole
// before).
TEST_F(MysqlPreAuthTest, AnOversizedLoginPacketIsRefusedUnbuffered) {
  ExpectOversizedLoginRefused(0xFFFFFF, 64 * 1024);
}

// client_preauth_bytes lowered to 2 KiB: a 4 KiB login packet (fine under the default) is
// refused as soon as 2 KiB of it are in, not waited for.
TEST_F(MysqlPreAuthTest, ClientPreauthBytesBoundsTheLoginPacket) {
  h_.Publish([](Runtime* rt) { rt->client_preauth_bytes = 2048; });
  h_.Settle();
  ExpectOversizedLoginRefused(4000, 3000);
}

// A command over sluice's 64 MiB bound is refused with 1153, and the ERR carries the
// sequence id after the client's last packet (it had 1: drivers reject that, PyMySQL with
// "Packet sequence number wrong - got 1 expected 5"; found by bench/hostile).
TEST_F(MysqlSessionTest, ACommandOverTheBoundIsRefusedInSequence) {
  LoggedIn();
  std::string cmd(4 * 0xFFFFFFu + 100, 'a');
  cmd[0] = static_cast<char>(mysql::COM_QUERY);
  std::string wire;
  uint8_t seq = 0;
  mysql::AppendPacket(&wire, &seq, mysql::AsBytes(cmd));  // 5 packets, ids 0..4
  h_.client().Write(wire);
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  EXPECT_EQ(pk[0].first, 5);
  auto err = mysql::DecodeErr(mysql::AsBytes(pk[0].second), kClientCaps);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->code, mysql::ER_NET_PACKET_TOO_LARGE.code);
}

// A malformed command (an empty packet) closes the client with an error, counted per protocol.
TEST_F(MysqlSessionTest, AnEmptyCommandIsAProtocolError) {
  LoggedIn();
  h_.client().Write(Packet(0, ""));
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  EXPECT_TRUE(mysql::IsErr(mysql::AsBytes(pk[0].second)));
  EXPECT_EQ(h_.stats().protocol_errors, 1u);
  EXPECT_EQ(h_.stats().protocol_errors_mysql, 1u);
  EXPECT_EQ(h_.stats().protocol_errors_postgresql, 0u);
}

// A command of several 16 MiB packets is reassembled whole and reaches the server intact.
TEST_F(MysqlSessionTest, AMultiPacketCommandArrivesWhole) {
  LoggedIn();
  std::string sql = "SELECT '" + std::string(0xFFFFFF + 1000, 'a') + "'";
  std::string payload = std::string(1, static_cast<char>(mysql::COM_QUERY)) + sql;
  std::string wire = Packet(0, payload);
  for (size_t at = 0; at < wire.size(); at += 16384) {  // as a socket delivers it
    h_.client().Write(wire.substr(at, 16384));
    h_.Settle();
  }
  ServerLogin(0);
  std::string got;
  ASSERT_TRUE(h_.RunUntil(
      [&] {
        got += h_.server(0).TakeAll();
        return got.size() >= wire.size();
      },
      10000));
  EXPECT_EQ(got, wire);
}

// sluice's own answer to a command of several packets follows its last packet (sequence
// id 2 after packets 0 and 1); it was always 1, which drivers reject.
TEST_F(MysqlSessionTest, OwnErrorAfterAMultiPacketCommandHasTheNextSequenceId) {
  LoggedIn();
  h_.Publish([](Runtime* rt) {
    for (Server& s : rt->clusters[0].servers) s.state = ServerState::kOfflineHard;
  });
  h_.Settle();
  h_.RunUntil([] { return false; }, 150);  // the housekeeping tick takes the snapshot
  std::string sql = "SELECT '" + std::string(0xFFFFFF + 10, 'a') + "'";
  h_.client().Write(Packet(0, std::string(1, static_cast<char>(mysql::COM_QUERY)) + sql));
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  EXPECT_TRUE(mysql::IsErr(mysql::AsBytes(pk[0].second)));
  EXPECT_EQ(pk[0].first, 2);
  EXPECT_EQ(h_.dialed(), 0u);
}

// A server that stops answering (SIGSTOP) gets the statement failed at query_timeout_ms with
// MariaDB's own max_statement_time error; its connection is discarded, the session goes on.
TEST_F(MysqlSessionTest, QueryTimeoutFailsAHungStatement) {
  h_.Publish([](Runtime* rt) { rt->clusters[0].query_timeout_ms = 150; });
  h_.Settle();
  LoggedIn();
  Query("UPDATE t SET a = 1");
  ServerLogin(0);
  ASSERT_EQ(ServerGets(0, 1).size(), 1u);  // and the server never answers
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  auto err = mysql::DecodeErr(mysql::AsBytes(pk[0].second), kClientCaps);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->code, mysql::ER_STATEMENT_TIMEOUT.code);
  EXPECT_EQ(pk[0].first, 1);
  EXPECT_EQ(h_.stats().query_timeouts, 1u);
  h_.Settle();
  EXPECT_EQ(h_.worker().pools().idle_count(), 0u);  // the hung connection is not pooled
  Query("SELECT 1");                                // the session is usable, on a new connection
  ASSERT_TRUE(h_.RunUntil([&] { return h_.dialed() == 2; }));
  ServerLogin(1);
  ServerGets(1, 1);
  h_.server(1).Write(Packet(1, Ok()));
  EXPECT_TRUE(mysql::IsOk(mysql::AsBytes(ClientGets(1).at(0).second)));
}

// A new connection to a hung server never finishes its login: query_timeout_ms bounds that
// wait too (connect_timeout_ms bounded only each attempt, and reads are retried).
TEST_F(MysqlSessionTest, QueryTimeoutCoversTheWaitForAConnection) {
  h_.Publish([](Runtime* rt) { rt->clusters[0].query_timeout_ms = 150; });
  h_.Settle();
  LoggedIn();
  Query("SELECT a FROM t");
  ASSERT_TRUE(h_.RunUntil([&] { return h_.dialed() == 1; }));  // no greeting ever comes
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  auto err = mysql::DecodeErr(mysql::AsBytes(pk[0].second), kClientCaps);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->code, mysql::ER_STATEMENT_TIMEOUT.code);
  EXPECT_NE(err->message.find("no server connection in time"), std::string::npos);
  EXPECT_EQ(h_.stats().query_timeouts, 1u);
}

// A client idle inside a transaction is closed at idle_in_transaction_timeout_ms.
TEST_F(MysqlSessionTest, IdleInTransactionTimeoutClosesTheClient) {
  h_.Publish([](Runtime* rt) { rt->clusters[0].idle_in_transaction_timeout_ms = 150; });
  h_.Settle();
  LoggedIn();
  Query("BEGIN");
  ServerLogin(0);
  ServerGets(0, 1);
  h_.server(0).Write(
      Packet(1, Ok(mysql::SERVER_STATUS_AUTOCOMMIT | mysql::SERVER_STATUS_IN_TRANS)));
  EXPECT_TRUE(mysql::IsOk(mysql::AsBytes(ClientGets(1).at(0).second)));
  ASSERT_TRUE(h_.RunUntil([&] { return h_.stats().idle_transaction_timeouts == 1; }, 3000));
  h_.Settle();
  EXPECT_EQ(h_.worker().pools().idle_count(), 0u);  // the transaction's connection is not reused
}

// COM_CHANGE_USER once the login has ended: the session freed its login state (an idle
// session holds none, docs/performance.md) and makes it again from what it kept. The
// client's token is over the greeting's scramble, as on a server; one over any other
// scramble is refused.
TEST_F(MysqlSessionTest, ChangeUserAfterTheLoginEndedChecksTheGreetingsScramble) {
  std::string scramble = Connect();
  SendLogin(scramble, mysql::kNativePasswordPlugin, "app_pw");
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  ASSERT_TRUE(mysql::IsOk(mysql::AsBytes(pk[0].second)));
  auto change_user = [&](const std::string& over) {
    std::string token = mysql::TokenFor(mysql::kNativePasswordPlugin, "app_pw", over);
    std::string p;
    mysql::Writer w(&p);
    w.U8(mysql::COM_CHANGE_USER).NulString("app").U8(static_cast<uint8_t>(token.size()));
    w.Raw(std::string_view(token)).NulString("");
    w.U16(45).NulString(mysql::kNativePasswordPlugin);
    h_.client().Write(Packet(0, p));
    return ClientGets(1);
  };
  pk = change_user(scramble);
  ASSERT_EQ(pk.size(), 1u);
  EXPECT_TRUE(mysql::IsOk(mysql::AsBytes(pk[0].second)));
  pk = change_user(std::string(20, 'z'));
  ASSERT_EQ(pk.size(), 1u);
  EXPECT_TRUE(mysql::IsErr(mysql::AsBytes(pk[0].second)));
}

}  // namespace
}  // namespace sluice::mysqlproxy
