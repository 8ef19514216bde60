// The mirror's write order (mirror/write_order.h): tickets in the order the source answered,
// done through in order even when finished out of order, an advance wakes the workers that
// asked, the ring refuses at half its capacity, and two threads taking and finishing tickets
// at once never see one done through before its predecessors.
#include "mirror/write_order.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"

namespace sluice::mirror {
namespace {

void NoWake(int) {}

TEST(WriteOrder, TicketsAreDoneThroughInOrder) {
  WriteOrder o(1);
  EXPECT_EQ(o.Take(0), 1u);
  EXPECT_EQ(o.Take(1), 2u);
  EXPECT_EQ(o.Take(0), 3u);
  EXPECT_TRUE(o.Reached(0));  // a write sent before any was answered waits for nothing
  EXPECT_FALSE(o.Reached(1));
  o.Done(1, NoWake);
  EXPECT_TRUE(o.Reached(1));
  EXPECT_FALSE(o.Reached(2));
  // Done out of order (its session was cut): nothing moves until 2 is done.
  o.Done(3, NoWake);
  EXPECT_EQ(o.done_through(), 1u);
  o.Done(2, NoWake);
  EXPECT_EQ(o.done_through(), 3u);
  EXPECT_TRUE(o.Reached(3));
  EXPECT_EQ(o.Take(5), 4u);
}

TEST(WriteOrder, AnAdvanceWakesTheWorkersThatAskedOnce) {
  WriteOrder o(1);
  uint64_t a = o.Take(0), b = o.Take(0), c = o.Take(0);
  std::vector<int> woken;
  auto wake = [&](int w) { woken.push_back(w); };
  o.WantWake(1);
  o.WantWake(3);
  o.Done(b, wake);  // out of order: the mark does not move, nobody is woken
  EXPECT_TRUE(woken.empty());
  o.Done(a, wake);  // moves through b
  EXPECT_EQ(woken, (std::vector<int>{1, 3}));
  woken.clear();
  o.Done(c, wake);  // nobody asked again
  EXPECT_TRUE(woken.empty());
}

TEST(WriteOrder, RefusesAtHalfItsCapacityAndTakesAgainOnceOneIsDone) {
  WriteOrder o(1, 8);
  for (uint64_t t = 1; t <= 4; ++t) EXPECT_EQ(o.Take(0), t);
  EXPECT_EQ(o.Take(0), 0u);  // four pending: full
  o.Done(1, NoWake);
  EXPECT_EQ(o.Take(0), 5u);
  // The ring wraps: tickets 9.. reuse the slots of 1.., and stay in order.
  for (uint64_t t = 2; t <= 5; ++t) o.Done(t, NoWake);
  for (uint64_t t = 6; t <= 9; ++t) EXPECT_EQ(o.Take(0), t);
  EXPECT_TRUE(o.Reached(5));
  EXPECT_FALSE(o.Reached(8));
  for (uint64_t t = 6; t <= 8; ++t) o.Done(t, NoWake);
  EXPECT_TRUE(o.Reached(8));
}

// Two threads, each a worker: take a ticket, wait until every earlier ticket is done (the
// strictest `after`), check that it is, finish it. 20,000 tickets, bounded by a 60 s deadline.
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
      while (!o.Reached(t - 1) && MonotonicMs() < deadline) std::this_thread::yield();
      if (finished.load() != t - 1) early.fetch_add(1);
      finished.fetch_add(1);
      o.Done(t, NoWake);
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
