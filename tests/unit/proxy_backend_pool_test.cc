// BackendPools: idle reuse by key, the per-server bound, waiters served in order.
#include "proxy/backend_pool.h"

#include <gtest/gtest.h>

#include "proxy/shared.h"
#include "proxy/worker.h"

namespace sluice {
namespace {

int g_destroyed = 0;

class FakeConn : public PooledConn {
 public:
  explicit FakeConn(PoolKey k) : PooledConn(std::move(k)) {}
  void Destroy() override {
    ++g_destroyed;
    delete this;
  }
};

class BackendPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_destroyed = 0;
    shared_.runtime.Publish(std::make_shared<const Runtime>());
    worker_ = std::make_unique<Worker>(0, &shared_);
  }
  BackendPools& pools() { return worker_->pools(); }
  ProxyShared shared_;
  std::unique_ptr<Worker> worker_;
  PoolKey a_{"127.0.0.1:3306", "app", 1};
  PoolKey b_{"127.0.0.1:3306", "app", 2};
};

TEST_F(BackendPoolTest, IdleConnectionIsReusedOnlyForItsKey) {
  ASSERT_TRUE(pools().TryReserve(a_.server, 2));
  auto* c = new FakeConn(a_);
  pools().PutIdle(c);
  EXPECT_EQ(pools().TakeIdle(b_), nullptr);
  EXPECT_EQ(pools().TakeIdle(a_), c);
  EXPECT_EQ(pools().TakeIdle(a_), nullptr);
  c->Destroy();
}

TEST_F(BackendPoolTest, ReserveStopsAtLimit) {
  EXPECT_TRUE(pools().TryReserve(a_.server, 2));
  EXPECT_TRUE(pools().TryReserve(a_.server, 2));
  EXPECT_FALSE(pools().TryReserve(a_.server, 2));
  pools().Release(a_.server);
  EXPECT_TRUE(pools().TryReserve(a_.server, 2));
  EXPECT_EQ(pools().open_count(a_.server), 2);
}

TEST_F(BackendPoolTest, AtLimitAnIdleConnectionOfAnotherKeyMakesRoom) {
  ASSERT_TRUE(pools().TryReserve(a_.server, 1));
  pools().PutIdle(new FakeConn(a_));
  EXPECT_TRUE(pools().TryReserve(b_.server, 1));  // closes a_'s idle connection
  EXPECT_EQ(g_destroyed, 1);
  EXPECT_EQ(pools().open_count(a_.server), 1);
}

TEST_F(BackendPoolTest, WaiterGetsReturnedConnectionOfItsKey) {
  ASSERT_TRUE(pools().TryReserve(a_.server, 1));
  auto* c = new FakeConn(a_);
  PooledConn* got = nullptr;
  bool called = false;
  uint64_t ticket = 0;
  ASSERT_TRUE(pools().Wait(
      a_, 1, 1000,
      [&](bool ok, PooledConn* conn) {
        called = ok;
        got = conn;
      },
      &ticket));
  pools().PutIdle(c);
  EXPECT_TRUE(called);
  EXPECT_EQ(got, c);
  EXPECT_EQ(pools().idle_count(), 0u);
  c->Destroy();
}

TEST_F(BackendPoolTest, WaiterOfAnotherKeyGetsTheSlot) {
  ASSERT_TRUE(pools().TryReserve(a_.server, 1));
  bool ok = false;
  PooledConn* got = reinterpret_cast<PooledConn*>(1);
  uint64_t ticket = 0;
  ASSERT_TRUE(pools().Wait(
      b_, 1, 1000,
      [&](bool o, PooledConn* conn) {
        ok = o;
        got = conn;
      },
      &ticket));
  pools().PutIdle(new FakeConn(a_));
  EXPECT_TRUE(ok);
  EXPECT_EQ(got, nullptr);  // open your own: the slot stays reserved
  EXPECT_EQ(g_destroyed, 1);
  EXPECT_EQ(pools().open_count(a_.server), 1);
}

TEST_F(BackendPoolTest, CancelledWaiterIsNotCalled) {
  ASSERT_TRUE(pools().TryReserve(a_.server, 1));
  bool called = false;
  uint64_t ticket = 0;
  ASSERT_TRUE(pools().Wait(
      a_, 1, 1000, [&](bool, PooledConn*) { called = true; }, &ticket));
  pools().Cancel(ticket);
  pools().Release(a_.server);
  EXPECT_FALSE(called);
}

TEST_F(BackendPoolTest, ForgottenIdleFreesItsSlot) {
  ASSERT_TRUE(pools().TryReserve(a_.server, 1));
  auto* c = new FakeConn(a_);
  pools().PutIdle(c);
  pools().Forget(c);
  c->Destroy();
  EXPECT_EQ(pools().open_count(a_.server), 0);
  EXPECT_EQ(pools().idle_count(), 0u);
}

TEST_F(BackendPoolTest, CloseIdleToOneServer) {
  PoolKey other{"127.0.0.1:3307", "app", 1};
  ASSERT_TRUE(pools().TryReserve(a_.server, 5));
  ASSERT_TRUE(pools().TryReserve(other.server, 5));
  pools().PutIdle(new FakeConn(a_));
  pools().PutIdle(new FakeConn(other));
  pools().CloseIdleTo(a_.server);
  EXPECT_EQ(g_destroyed, 1);
  EXPECT_EQ(pools().idle_count(a_.server), 0u);
  EXPECT_EQ(pools().idle_count(other.server), 1u);
  EXPECT_EQ(pools().open_count(a_.server), 0);
}

// The idle connections of one key: the most recently returned is taken first (its socket is
// warm), and the oldest is the one closed to make room for another key.
TEST_F(BackendPoolTest, TakesTheWarmestAndClosesTheOldest) {
  ASSERT_TRUE(pools().TryReserve(a_.server, 3));
  ASSERT_TRUE(pools().TryReserve(a_.server, 3));
  ASSERT_TRUE(pools().TryReserve(a_.server, 3));
  auto* oldest = new FakeConn(a_);
  auto* middle = new FakeConn(a_);
  auto* newest = new FakeConn(a_);
  pools().PutIdle(oldest);
  pools().PutIdle(middle);
  pools().PutIdle(newest);
  EXPECT_EQ(pools().TakeIdle(a_), newest);
  pools().PutIdle(newest);
  // At the limit, a connection of key b_ makes room by closing a_'s oldest.
  ASSERT_TRUE(pools().TryReserve(b_.server, 3));
  EXPECT_EQ(g_destroyed, 1);
  EXPECT_EQ(pools().TakeIdle(a_), newest);
  EXPECT_EQ(pools().TakeIdle(a_), middle);
  EXPECT_EQ(pools().TakeIdle(a_), nullptr);
  newest->Destroy();
  middle->Destroy();
}

// Worker::ServerName (the pool key's "host:port", built once per snapshot) follows a new
// snapshot: a stale name would put connections to the new address under the old key.
TEST_F(BackendPoolTest, ServerNamesFollowTheSnapshot) {
  auto rt = std::make_shared<Runtime>();
  Cluster c;
  Server s;
  s.host = "10.0.0.1";
  s.port = 3306;
  c.servers = {s};
  rt->clusters.push_back(c);
  rt->version = 1;
  shared_.runtime.Publish(rt);
  EXPECT_EQ(worker_->ServerName(0, 0), "10.0.0.1:3306");
  auto next = std::make_shared<Runtime>(*rt);
  next->clusters[0].servers[0].port = 3307;
  next->clusters[0].servers.push_back(s);
  next->version = 2;
  shared_.runtime.Publish(next);
  EXPECT_EQ(worker_->ServerName(0, 0), "10.0.0.1:3307");
  EXPECT_EQ(worker_->ServerName(0, 1), "10.0.0.1:3306");
}

}  // namespace
}  // namespace sluice
