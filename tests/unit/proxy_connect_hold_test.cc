// Issue #11's data-plane leftovers, MySQL side, from bytes (tests/unit/session_harness.h): a
// write the dying primary refuses is held until the new primary, or failed at its bound;
// a sent write is never sent again; a read a replica refuses moves to another server.
#include <gtest/gtest.h>

#include "tests/unit/mysql_session_fixture.h"

namespace sluice::mysqlproxy {
namespace {

constexpr const char* kPrimary = "10.0.0.1";
constexpr const char* kReplica = "10.0.0.2";

using sluice::testing::PromoteReplica;

class ConnectHoldTest : public MysqlSessionTest {
 protected:
  mysql::ErrorInfo ClientError() {
    auto pk = ClientGets(1);
    EXPECT_EQ(pk.size(), 1u);
    if (pk.empty()) return {};
    auto err = mysql::DecodeErr(mysql::AsBytes(pk[0].second), kClientCaps);
    EXPECT_TRUE(err.ok()) << "not an ERR packet";
    if (!err.ok()) return {};
    message_ = err->message;
    sql_state_ = err->sql_state;
    return mysql::ErrorInfo{err->code, sql_state_.c_str(), message_.c_str()};
  }
  // Bytes any connection to ip received (the refused ones must get none).
  size_t BytesSentTo(const std::string& ip) {
    size_t n = 0;
    for (size_t i = 0; i < h_.dialed(); ++i)
      if (h_.server(i).address == ip && h_.server(i).bev)
        n += evbuffer_get_length(h_.server(i).in());
    return n;
  }
  std::string message_;
  std::string sql_state_;
};

// Before: the client got 1158 (08S01) after three refused connects. Now the write waits,
// the monitor is asked to check, and the write runs once on the new primary.
TEST_F(ConnectHoldTest, AWriteThePrimaryRefusesIsHeldAndRunsOnTheNewPrimary) {
  LoggedIn();
  h_.dialer().refuse_ips = {kPrimary};
  Query("INSERT INTO t VALUES (1)");
  ASSERT_TRUE(h_.RunUntil([&] { return h_.Counted(&StatsDelta::connect_holds) == 1; }));
  EXPECT_TRUE(h_.shared().cluster_counters[0]->check_requested.load());
  // Held: connects are tried again (a doubling wait), the client hears nothing.
  ASSERT_TRUE(h_.RunUntil([&] { return h_.dialed() >= 3; }, 1500));
  EXPECT_EQ(evbuffer_get_length(h_.client().in()), 0u);
  h_.Publish(PromoteReplica);
  ASSERT_TRUE(h_.RunUntil([&] { return h_.LastDialedTo(kReplica) >= 0; }));
  size_t i = static_cast<size_t>(h_.LastDialedTo(kReplica));
  ServerLogin(i);
  auto got = ServerGets(i, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].substr(1), "INSERT INTO t VALUES (1)");
  h_.server(i).Write(Packet(1, Ok()));
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  EXPECT_TRUE(mysql::IsOk(mysql::AsBytes(pk[0].second)));
  EXPECT_EQ(BytesSentTo(kPrimary), 0u);
  EXPECT_EQ(h_.Counted(&StatsDelta::connect_holds), 1u);
  EXPECT_EQ(h_.Counted(&StatsDelta::connect_hold_timeouts), 0u);
  // The next write goes straight to the new primary's pooled connection.
  Query("INSERT INTO t VALUES (2)");
  EXPECT_EQ(ServerGets(i, 1).size(), 1u);
}

// The monitor pauses writes while the statement is held: it waits on, under the pause's
// bound (write_hold_timeout_ms from its first hold), and runs once writes resume.
TEST_F(ConnectHoldTest, TheMonitorsPauseTakesOverTheHold) {
  h_.Publish([](Runtime* rt) {
    rt->clusters[0].failover_window_ms = 100;
    rt->clusters[0].monitor_interval_ms = 100;  // a connect hold of 1.2 s
    rt->clusters[0].write_hold_timeout_ms = 5000;
  });
  LoggedIn();
  h_.dialer().refuse_ips = {kPrimary};
  Query("INSERT INTO t VALUES (1)");
  ASSERT_TRUE(h_.RunUntil([&] { return h_.Counted(&StatsDelta::connect_holds) == 1; }));
  h_.Publish([](Runtime* rt) { rt->clusters[0].writes_paused = true; });
  // Past the connect hold's own bound: still held, no answer.
  int64_t until = MonotonicMs() + 1600;
  h_.RunUntil([&] { return MonotonicMs() > until; }, 2000);
  EXPECT_EQ(evbuffer_get_length(h_.client().in()), 0u);
  h_.Publish([](Runtime* rt) {
    PromoteReplica(rt);
    rt->clusters[0].writes_paused = false;
  });
  ASSERT_TRUE(h_.RunUntil([&] { return h_.LastDialedTo(kReplica) >= 0; }));
  size_t i = static_cast<size_t>(h_.LastDialedTo(kReplica));
  ServerLogin(i);
  EXPECT_EQ(ServerGets(i, 1).size(), 1u);
  h_.server(i).Write(Packet(1, Ok()));
  EXPECT_TRUE(mysql::IsOk(mysql::AsBytes(ClientGets(1).at(0).second)));
  EXPECT_EQ(h_.Counted(&StatsDelta::connect_hold_timeouts), 0u);
}

// No new primary within failover_window_ms + monitor_interval_ms + 1 s: a server error the
// client parses, saying why; counted.
TEST_F(ConnectHoldTest, TheHoldEndsWithAClearErrorAtItsBound) {
  h_.Publish([](Runtime* rt) {
    rt->clusters[0].failover_window_ms = 100;
    rt->clusters[0].monitor_interval_ms = 100;
  });
  LoggedIn();
  h_.dialer().refuse_ips = {kPrimary};
  int64_t start = MonotonicMs();
  Query("INSERT INTO t VALUES (1)");
  std::string got;
  ASSERT_TRUE(h_.RunUntil(
      [&] {
        got += h_.client().TakeAll();
        return !Packets(got).empty();
      },
      4000));
  int64_t waited = MonotonicMs() - start;
  auto err = mysql::DecodeErr(mysql::AsBytes(Packets(got)[0].second), kClientCaps);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->code, mysql::ER_OPTION_PREVENTS_STATEMENT.code);
  EXPECT_EQ(err->sql_state, "HY000");
  EXPECT_NE(err->message.find("refused the connection"), std::string::npos) << err->message;
  EXPECT_GE(waited, 1100);
  EXPECT_LT(waited, 2500);
  EXPECT_GE(h_.dialed(), 3u);  // tried again while held, not once per tick
  EXPECT_LE(h_.dialed(), 8u);
  EXPECT_EQ(h_.Counted(&StatsDelta::connect_holds), 1u);
  EXPECT_EQ(h_.Counted(&StatsDelta::connect_hold_timeouts), 1u);
  // The session is usable.
  h_.dialer().refuse_ips.clear();
  Query("SELECT 1");
  ASSERT_TRUE(h_.RunUntil([&] { return h_.LastDialedTo(kReplica) >= 0; }));
}

// write_hold_timeout_ms = 0 turns holds off: the write fails at once, as before.
TEST_F(ConnectHoldTest, NoHoldWhenHoldsAreOff) {
  h_.Publish([](Runtime* rt) { rt->clusters[0].write_hold_timeout_ms = 0; });
  LoggedIn();
  h_.dialer().refuse_ips = {kPrimary};
  Query("INSERT INTO t VALUES (1)");
  EXPECT_EQ(ClientError().code, mysql::ER_NET_READ_ERROR.code);
  EXPECT_EQ(h_.Counted(&StatsDelta::connect_holds), 0u);
}

// The rule that stays: a write that was sent may have run; when its connection dies it gets
// 1317 and is neither held nor sent anywhere again, even though the primary now refuses.
TEST_F(ConnectHoldTest, ASentWriteIsNeitherHeldNorSentAgain) {
  LoggedIn();
  Query("INSERT INTO t VALUES (1)");
  ServerLogin(0);
  ASSERT_EQ(ServerGets(0, 1).size(), 1u);
  h_.dialer().refuse_ips = {kPrimary};
  h_.server(0).Close();  // kill -9 with the statement on it
  mysql::ErrorInfo e = ClientError();
  EXPECT_EQ(e.code, mysql::ER_QUERY_INTERRUPTED.code);
  h_.Settle();
  EXPECT_EQ(h_.dialed(), 1u);
  EXPECT_EQ(h_.Counted(&StatsDelta::connect_holds), 0u);
  EXPECT_EQ(h_.Counted(&StatsDelta::retries), 0u);
}

// Before: the retry went back to the refusing replica (the only reader) three times and the
// client got 1158. Now the replica this worker saw fail is the last resort: the read takes
// the primary (reader_fallback_to_writer), counted as a retry.
TEST_F(ConnectHoldTest, AReadTheReplicaRefusesMovesToTheWriter) {
  LoggedIn();
  h_.dialer().refuse_ips = {kReplica};
  Query("SELECT a FROM t");
  ASSERT_TRUE(h_.RunUntil([&] { return h_.LastDialedTo(kPrimary) >= 0; }));
  size_t i = static_cast<size_t>(h_.LastDialedTo(kPrimary));
  ServerLogin(i);
  auto got = ServerGets(i, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].substr(1), "SELECT a FROM t");
  h_.server(i).Write(Packet(1, Ok()));
  EXPECT_TRUE(mysql::IsOk(mysql::AsBytes(ClientGets(1).at(0).second)));
  EXPECT_EQ(h_.Counted(&StatsDelta::retries), 1u);
  EXPECT_EQ(h_.dialed(), 2u);  // one refused connect, one that served
  EXPECT_TRUE(h_.shared().cluster_counters[0]->check_requested.load());
}

// A second replica takes the read when the first refuses (no fallback to the writer).
TEST_F(ConnectHoldTest, AReadTheReplicaRefusesMovesToAnotherReplica) {
  h_.Publish([](Runtime* rt) {
    Cluster& c = rt->clusters[0];
    c.reader_fallback_to_writer = false;
    Server r = c.servers[1];
    r.host = "10.0.0.3";
    c.servers.push_back(r);
  });
  LoggedIn();
  h_.dialer().refuse_ips = {kReplica};
  for (int n = 0; n < 4; ++n) {  // whichever replica each read picks first
    Query("SELECT a FROM t");
    ASSERT_TRUE(h_.RunUntil([&] { return h_.LastDialedTo("10.0.0.3") >= 0; }));
    size_t i = static_cast<size_t>(h_.LastDialedTo("10.0.0.3"));
    if (n == 0) ServerLogin(i);
    ASSERT_EQ(ServerGets(i, 1).size(), 1u);
    h_.server(i).Write(Packet(1, Ok()));
    EXPECT_TRUE(mysql::IsOk(mysql::AsBytes(ClientGets(1).at(0).second)));
  }
  EXPECT_LE(h_.Counted(&StatsDelta::retries),
            1u);  // the failed replica is avoided after its failure
  EXPECT_EQ(h_.LastDialedTo(kPrimary), -1);
}

}  // namespace
}  // namespace sluice::mysqlproxy
