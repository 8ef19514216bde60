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

}  // namespace
}  // namespace sluice
