// The mirror's write order (mirror/write_order.h): tickets in the order the source answered,
// a write may run once every smaller ticket is done, the worker of the next pending ticket is
// named to be woken, the ring refuses at half its capacity, and two threads taking and
// finishing tickets at once never run one before its predecessors.
#include "mirror/write_order.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"

namespace sluice::mirror {
namespace {

TEST(WriteOrder, AWriteRunsOnceEveryEarlierTicketIsDone) {
  WriteOrder o(1);
  EXPECT_EQ(o.Take(0), 1u);
  EXPECT_EQ(o.Take(1), 2u);
  EXPECT_EQ(o.Take(0), 3u);
  EXPECT_TRUE(o.MayRun(1));
  EXPECT_FALSE(o.MayRun(2));
  EXPECT_FALSE(o.MayRun(3));
  EXPECT_EQ(o.Done(1), 1);  // ticket 2 is worker 1's: wake it
  EXPECT_TRUE(o.MayRun(2));
  EXPECT_FALSE(o.MayRun(3));
  // Done out of order (its session was cut): nothing moves until 2 is done.
  EXPECT_EQ(o.Done(3), 1);
  EXPECT_EQ(o.done_through(), 1u);
  EXPECT_EQ(o.Done(2), -1);  // 2 and 3 done, no ticket 4 yet
  EXPECT_EQ(o.done_through(), 3u);
  EXPECT_EQ(o.Take(5), 4u);
  EXPECT_TRUE(o.MayRun(4));
}

TEST(WriteOrder, RefusesAtHalfItsCapacityAndTakesAgainOnceOneIsDone) {
  WriteOrder o(1, 8);
  for (uint64_t t = 1; t <= 4; ++t) EXPECT_EQ(o.Take(0), t);
  EXPECT_EQ(o.Take(0), 0u);  // four pending: full
  o.Done(1);
  EXPECT_EQ(o.Take(0), 5u);
  // The ring wraps: tickets 9.. reuse the slots of 1.., and stay in order.
  for (uint64_t t = 2; t <= 5; ++t) o.Done(t);
  for (uint64_t t = 6; t <= 9; ++t) EXPECT_EQ(o.Take(0), t);
  EXPECT_TRUE(o.MayRun(6));
  EXPECT_FALSE(o.MayRun(9));
  for (uint64_t t = 6; t <= 8; ++t) o.Done(t);
  EXPECT_TRUE(o.MayRun(9));
}

// Two threads, each a worker: take a ticket, wait for its turn, check that every earlier
// ticket is done, finish it. 20,000 tickets, bounded by a 60 s deadline.
TEST(WriteOrder, TwoWorkersNeverRunATicketBeforeItsPredecessors) {
  WriteOrder o(1, 1 << 10);
  std::atomic<uint64_t> finished{0};  // tickets finished, all threads
  std::atomic<int> early{0}, refused{0};
  const int64_t deadline = MonotonicMs() + 60000;
  auto work = [&](int worker) {
    for (int i = 0; i < 10000 && MonotonicMs() < deadline; ++i) {
      uint64_t t = o.Take(worker);
      if (!t) {
        refused.fetch_add(1);
        continue;
      }
      while (!o.MayRun(t) && MonotonicMs() < deadline) std::this_thread::yield();
      if (finished.load() != t - 1) early.fetch_add(1);
      finished.fetch_add(1);
      o.Done(t);
    }
  };
  std::thread a(work, 0), b(work, 1);
  a.join();
  b.join();
  EXPECT_EQ(early.load(), 0);
  EXPECT_EQ(refused.load(), 0);  // at most two pending at once
  EXPECT_EQ(o.done_through(), 20000u);
  EXPECT_EQ(finished.load(), 20000u);
}

TEST(WriteOrders, OneOrderPerMirrorNameUpToTheBound) {
  WriteOrders orders;
  WriteOrder* a = orders.For("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(orders.For("a"), a);
  WriteOrder* b = orders.For("b");
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  for (size_t i = 2; i < WriteOrders::kMaxMirrors; ++i)
    EXPECT_NE(orders.For("m" + std::to_string(i)), nullptr);
  EXPECT_EQ(orders.For("one-too-many"), nullptr);
  EXPECT_EQ(orders.For("b"), b);
}

}  // namespace
}  // namespace sluice::mirror
