// BlockPool (proxy/block_pool.h): the per-worker free lists the sessions borrow their
// statement state from.
#include "proxy/block_pool.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice {
namespace {

struct Counted {
  explicit Counted(int* live) : live(live) { ++*live; }
  ~Counted() { --*live; }
  int* live;
  std::string text = std::string(100, 'x');  // a member that allocates: destroyed on Delete
};

TEST(BlockPoolTest, AGivenBackBlockIsTheNextTaken) {
  BlockPool pool;
  void* a = pool.Take(200);
  EXPECT_EQ(pool.free_blocks(200), 0u);
  pool.Give(a, 200);
  EXPECT_EQ(pool.free_blocks(200), 1u);
  EXPECT_EQ(pool.free_blocks(193), 1u);  // the same 64-byte size class
  EXPECT_EQ(pool.free_blocks(100), 0u);  // another one
  EXPECT_EQ(pool.free_total(), 1u);
  void* b = pool.Take(200);
  EXPECT_EQ(b, a);
  EXPECT_EQ(pool.free_blocks(200), 0u);
  pool.Give(b, 200);
}

TEST(BlockPoolTest, NewAndDeleteRunTheObjectsLifetime) {
  BlockPool pool;
  int live = 0;
  Counted* c = pool.New<Counted>(&live);
  EXPECT_EQ(live, 1);
  EXPECT_EQ(c->text.size(), 100u);
  pool.Delete(c);
  EXPECT_EQ(live, 0);
  EXPECT_EQ(pool.free_blocks(sizeof(Counted)), 1u);
  Counted* d = pool.New<Counted>(&live);  // the same block, a fresh object
  EXPECT_EQ(static_cast<void*>(d), static_cast<void*>(c));
  EXPECT_EQ(live, 1);
  pool.Delete(d);
  pool.Delete<Counted>(nullptr);  // nothing
  EXPECT_EQ(pool.free_blocks(sizeof(Counted)), 1u);
}

TEST(BlockPoolTest, KeepsAtMostKKeepFreeBlocksPerSize) {
  BlockPool pool;
  std::vector<void*> taken;
  for (size_t i = 0; i < BlockPool::kKeep + 10; ++i) taken.push_back(pool.Take(512));
  for (void* p : taken) pool.Give(p, 512);
  EXPECT_EQ(pool.free_blocks(512), BlockPool::kKeep);  // the rest went back to the heap
}

TEST(BlockPoolTest, LargeObjectsAreNotPooled) {
  BlockPool pool;
  void* p = pool.Take(BlockPool::kMaxBytes + 1);
  pool.Give(p, BlockPool::kMaxBytes + 1);
  EXPECT_EQ(pool.free_blocks(BlockPool::kMaxBytes + 1), 0u);
}

}  // namespace
}  // namespace sluice
