// UserConnections/UserSlot: the per-user connection count behind User::max_connections.
#include "proxy/limits.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace sluice {
namespace {

TEST(UserConnections, RefusesOverTheLimitAndGivesBackOnReset) {
  UserConnections uc;
  UserSlot a, b, c;
  int64_t held = -1;
  EXPECT_TRUE(uc.Acquire("app", 2, &a, &held));
  EXPECT_TRUE(uc.Acquire("app", 2, &b, &held));
  EXPECT_FALSE(uc.Acquire("app", 2, &c, &held));
  EXPECT_EQ(held, 2);
  EXPECT_FALSE(c.held());
  EXPECT_EQ(uc.Count("app"), 2);
  EXPECT_TRUE(uc.Acquire("other", 2, &c, &held));  // per user
  a.Reset();
  EXPECT_EQ(uc.Count("app"), 1);
  UserSlot d;
  EXPECT_TRUE(uc.Acquire("app", 2, &d, &held));
  {
    UserSlot moved = std::move(d);
    EXPECT_EQ(uc.Count("app"), 2);
  }
  EXPECT_EQ(uc.Count("app"), 1);  // the moved-to slot gave it back once
}

TEST(UserConnections, LocalGaugeFollowsTheSlot) {
  UserConnections uc;
  int64_t gauge = 0, held = 0;
  {
    UserSlot s;
    ASSERT_TRUE(uc.Acquire("u", 5, &s, &held));
    s.set_local(&gauge);
    EXPECT_EQ(gauge, 1);
    // COM_CHANGE_USER: a new user's slot replaces the old one.
    int64_t other = 0;
    ASSERT_TRUE(uc.Acquire("v", 5, &s, &held));
    EXPECT_EQ(gauge, 0);
    s.set_local(&other);
    EXPECT_EQ(other, 1);
    EXPECT_EQ(uc.Count("u"), 0);
  }
  EXPECT_EQ(uc.Count("v"), 0);
}

TEST(UserConnections, ConcurrentLoginsNeverExceedTheLimit) {
  UserConnections uc;
  constexpr int kThreads = 4, kRounds = 2000, kLimit = 3;
  std::atomic<int> over{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        UserSlot s;
        int64_t held = 0;
        if (uc.Acquire("shared", kLimit, &s, &held) && uc.Count("shared") > kLimit) ++over;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(over.load(), 0);
  EXPECT_EQ(uc.Count("shared"), 0);
}

}  // namespace
}  // namespace sluice
