// The shadow queue (mirror/shadow_queue.h): the client's order kept across the ring's
// wrap-around and growth, both bounds, and nothing kept once drained.
#include "mirror/shadow_queue.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::mirror {
namespace {

ShadowStatement Stmt(int i, size_t bytes = 4) {
  ShadowStatement s;
  s.bytes = std::string(bytes, static_cast<char>('a' + i % 26));
  s.stmt_id = static_cast<uint32_t>(i);
  return s;
}

TEST(ShadowQueueTest, KeepsTheOrderAcrossWrapAroundAndGrowth) {
  ShadowQueue q(1 << 20, 1000);
  int next_in = 0, next_out = 0;
  // Interleaved pushes and pops: the ring wraps (head moves), then grows while it holds
  // statements on both sides of its end.
  for (int round = 0; round < 50; ++round) {
    for (int k = 0; k < 3 + round % 7; ++k) ASSERT_TRUE(q.Push(Stmt(next_in++)));
    for (int k = 0; k < 2 && !q.empty(); ++k) {
      EXPECT_EQ(q.front().stmt_id, static_cast<uint32_t>(next_out++));
      q.pop();
    }
    EXPECT_EQ(q.back().stmt_id, static_cast<uint32_t>(next_in - 1));
    EXPECT_EQ(q.size(), static_cast<size_t>(next_in - next_out));
    EXPECT_EQ(q.bytes(), 4 * q.size());
  }
  while (!q.empty()) {
    EXPECT_EQ(q.front().stmt_id, static_cast<uint32_t>(next_out++));
    q.pop();
  }
  EXPECT_EQ(next_out, next_in);
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(ShadowQueueTest, RefusesAPushOverEitherBoundAndKeepsWhatItHas) {
  ShadowQueue by_count(1 << 20, 3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(by_count.Push(Stmt(i)));
  EXPECT_FALSE(by_count.Push(Stmt(3)));
  EXPECT_EQ(by_count.size(), 3u);
  EXPECT_EQ(by_count.front().stmt_id, 0u);

  ShadowQueue by_bytes(10, 1000);
  ASSERT_TRUE(by_bytes.Push(Stmt(0, 6)));
  EXPECT_FALSE(by_bytes.Push(Stmt(1, 5)));  // 11 > 10
  ASSERT_TRUE(by_bytes.Push(Stmt(2, 4)));   // exactly 10
  EXPECT_EQ(by_bytes.bytes(), 10u);
  by_bytes.pop();
  EXPECT_EQ(by_bytes.front().stmt_id, 2u);
  EXPECT_EQ(by_bytes.bytes(), 4u);
}

TEST(ShadowQueueTest, ClearEmptiesItAndItWorksAgain) {
  ShadowQueue q(1 << 20, 1000);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(q.Push(Stmt(i)));
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
  ASSERT_TRUE(q.Push(Stmt(7)));
  EXPECT_EQ(q.front().stmt_id, 7u);
  EXPECT_EQ(q.size(), 1u);
}

}  // namespace
}  // namespace sluice::mirror
