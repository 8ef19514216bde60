// Fifo: order, compaction of the consumed prefix, and no allocation while never used.
#include "common/fifo.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

TEST(Fifo, KeepsOrderAcrossCompactions) {
  Fifo<std::string> q;
  EXPECT_TRUE(q.empty());
  int next_in = 0, next_out = 0;
  // Interleave pushes and pops so the consumed prefix is compacted many times.
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 3; ++i) q.push_back(std::to_string(next_in++));
    for (int i = 0; i < 2; ++i) {
      ASSERT_FALSE(q.empty());
      EXPECT_EQ(q.front(), std::to_string(next_out++));
      q.pop_front();
    }
  }
  EXPECT_EQ(q.size(), static_cast<size_t>(next_in - next_out));
  while (!q.empty()) {
    EXPECT_EQ(q.front(), std::to_string(next_out++));
    q.pop_front();
  }
  EXPECT_EQ(next_out, next_in);
}

TEST(Fifo, ClearEmpties) {
  Fifo<int> q;
  q.push_back(1);
  q.push_back(2);
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.size(), 0u);
  q.push_back(3);
  EXPECT_EQ(q.front(), 3);
}

TEST(Fifo, IsSmallWhileUnused) {
  // A vector and an index: what an idle connection pays for each queue.
  EXPECT_LE(sizeof(Fifo<std::string>), 4 * sizeof(void*));
}

}  // namespace
}  // namespace sluice
