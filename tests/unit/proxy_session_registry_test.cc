// SessionRegistry: ids per worker, lookups and snapshots from other threads (the seqlock
// slots), reuse of freed slots; WorkerInbox: posts from many threads run once, in order.
#include "proxy/session_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "proxy/worker_inbox.h"

namespace sluice {
namespace {

ClientSession* Fake(uintptr_t n) {
  return reinterpret_cast<ClientSession*>(n * 16);
}

TEST(SessionRegistry, IdsAreUniqueAcrossWorkersAndFindable) {
  SessionRegistry reg;
  std::set<uint32_t> ids;
  std::vector<SessionSlot*> slots;
  for (int w = 0; w < 3; ++w) {
    for (int i = 0; i < 5; ++i) {
      SessionSlot* s = reg.Register(w, 3, Fake(w * 10 + i + 1), w == 2, 1, "127.0.0.1:5000", 7);
      ASSERT_NE(s, nullptr);
      uint32_t id = s->id_unsafe();
      EXPECT_NE(id, 0u);
      EXPECT_TRUE(ids.insert(id).second) << id;
      EXPECT_EQ(reg.WorkerOf(id), w);
      EXPECT_EQ(reg.LocalOwner(w, id), Fake(w * 10 + i + 1));
      EXPECT_EQ(reg.LocalOwner((w + 1) % 3, id), nullptr);  // not that worker's
      slots.push_back(s);
    }
  }
  SessionSlot* s = slots[7];
  uint32_t id = s->id_unsafe();
  s->SetUser("app");
  std::string digest = "SELECT SLEEP(?)", schema = "db1";
  s->SetPhase(SessionPhase::kActive, 100, &digest, &schema);
  s->SetBackend("127.0.0.1:3306", 4242);
  auto info = reg.Find(id);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->id, id);
  EXPECT_EQ(info->worker, 1);
  EXPECT_FALSE(info->pgsql);
  EXPECT_EQ(info->cluster_index, 1u);
  EXPECT_EQ(info->user, "app");
  EXPECT_EQ(info->client_addr, "127.0.0.1:5000");
  EXPECT_EQ(info->phase, SessionPhase::kActive);
  EXPECT_EQ(info->phase_since_ms, 100);
  EXPECT_EQ(info->digest, "SELECT SLEEP(?)");
  EXPECT_EQ(info->schema, "db1");
  EXPECT_EQ(info->backend, "127.0.0.1:3306");
  EXPECT_EQ(info->backend_thread, 4242u);
  EXPECT_EQ(reg.Snapshot().size(), 15u);
  EXPECT_FALSE(reg.Find(id + 3 * 1000));  // a slot never handed out
  EXPECT_FALSE(reg.Find(0));
}

TEST(SessionRegistry, AFreedSlotComesBackWithAnotherId) {
  SessionRegistry reg;
  SessionSlot* a = reg.Register(0, 2, Fake(1), false, 0, "", 0);
  uint32_t first = a->id_unsafe();
  reg.Unregister(0, a);
  EXPECT_FALSE(reg.Find(first));
  EXPECT_EQ(reg.LocalOwner(0, first), nullptr);
  EXPECT_TRUE(reg.Snapshot().empty());
  SessionSlot* b = reg.Register(0, 2, Fake(2), false, 0, "", 0);
  EXPECT_EQ(b, a);                   // the same slot ...
  EXPECT_NE(b->id_unsafe(), first);  // ... under a new id: a KILL of the old one finds nothing
  EXPECT_FALSE(reg.Find(first));
  EXPECT_TRUE(reg.Find(b->id_unsafe()));
}

TEST(SessionRegistry, LongTextIsTruncatedNotOverrun) {
  SessionRegistry reg;
  SessionSlot* s = reg.Register(0, 1, Fake(1), false, 0, std::string(500, 'a'), 0);
  std::string d(1000, 'x');
  s->SetPhase(SessionPhase::kActive, 1, &d);
  auto info = reg.Find(s->id_unsafe());
  ASSERT_TRUE(info);
  EXPECT_EQ(info->client_addr, std::string(SessionSlot::kMaxAddr, 'a'));
  EXPECT_EQ(info->digest, std::string(SessionSlot::kMaxDigest, 'x'));
}

// A reader on another thread never sees a half-written slot: each write sets the digest
// and the time together, so a reader must always find them matching.
TEST(SessionRegistry, ReadersSeeWholeWrites) {
  SessionRegistry reg;
  SessionSlot* s = reg.Register(0, 1, Fake(1), false, 0, "c", 0);
  uint32_t id = s->id_unsafe();
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0}, reads{0};
  std::thread reader([&] {
    while (!stop.load()) {
      auto info = reg.Find(id);
      if (!info || info->digest.empty()) continue;
      ++reads;
      if (info->digest != std::to_string(info->phase_since_ms) + std::string(60, 'q')) ++torn;
    }
  });
  for (int64_t i = 1; i < 2000000 && (i < 10000 || reads.load() < 10000); ++i) {
    std::string d = std::to_string(i) + std::string(60, 'q');
    s->SetPhase(SessionPhase::kActive, i, &d);
  }
  stop = true;
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(torn.load(), 0);
}

TEST(SessionRegistry, RefusesBeyondItsBound) {
  SessionRegistry reg;
  std::vector<SessionSlot*> all;
  for (uint32_t i = 0; i < SessionRegistry::kPerWorker; ++i) {
    SessionSlot* s = reg.Register(0, 1, Fake(i + 1), false, 0, "", 0);
    ASSERT_NE(s, nullptr) << i;
    all.push_back(s);
  }
  EXPECT_EQ(reg.Register(0, 1, Fake(1), false, 0, "", 0), nullptr);
  reg.Unregister(0, all.back());
  EXPECT_NE(reg.Register(0, 1, Fake(1), false, 0, "", 0), nullptr);
}

TEST(WorkerInbox, RunsEveryPostOnceInOrderPerThread) {
  WorkerInbox inbox;
  constexpr int kThreads = 4, kEach = 2000;
  std::vector<std::vector<int>> seen(kThreads);
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t)
    posters.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) inbox.Push([&seen, t, i](Worker*) { seen[t].push_back(i); });
    });
  for (int round = 0; round < 1000; ++round) inbox.RunAll(nullptr);
  for (auto& p : posters) p.join();
  inbox.RunAll(nullptr);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(seen[t].size(), static_cast<size_t>(kEach));
    for (int i = 0; i < kEach; ++i) EXPECT_EQ(seen[t][i], i);
  }
}

}  // namespace
}  // namespace sluice
