// Prepared-statement naming and the per-backend LRU used by PostgreSQL transaction pooling,
// and the evbuffer message peeks the session reads with.
#include <event2/buffer.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/pgsql/frontend.h"
#include "proxy/pgsql/stmt_names.h"
#include "proxy/pgsql/wire.h"

namespace sluice::pgproxy {
namespace {

TEST(SluiceStatementName, SameTextAndTypesGiveTheSameName) {
  std::vector<uint32_t> types{23, 25};
  EXPECT_EQ(SluiceStatementName("SELECT $1, $2", types),
            SluiceStatementName("SELECT $1, $2", types));
}

TEST(SluiceStatementName, TextOrTypesChangeTheName) {
  std::vector<uint32_t> a{23}, b{20};
  std::string base = SluiceStatementName("SELECT $1", a);
  EXPECT_NE(base, SluiceStatementName("SELECT $1 ", a));
  EXPECT_NE(base, SluiceStatementName("SELECT $1", b));
  EXPECT_NE(base, SluiceStatementName("SELECT $1", {}));
}

TEST(SluiceStatementName, IsAValidShortIdentifier) {
  std::string n = SluiceStatementName("SELECT 1", {});
  EXPECT_EQ(n.rfind("sluice_", 0), 0u);
  EXPECT_EQ(n.size(), 7u + 16u);
  EXPECT_LT(n.size(), 64u);  // NAMEDATALEN - 1
}

TEST(PreparedLru, EvictsTheLeastRecentlyUsed) {
  PreparedLru lru(2);
  EXPECT_EQ(lru.Insert("a"), "");
  EXPECT_EQ(lru.Insert("b"), "");
  EXPECT_TRUE(lru.Touch("a"));  // b is now the oldest
  EXPECT_EQ(lru.Insert("c"), "b");
  EXPECT_TRUE(lru.Contains("a"));
  EXPECT_TRUE(lru.Contains("c"));
  EXPECT_FALSE(lru.Contains("b"));
  EXPECT_EQ(lru.size(), 2u);
}

TEST(PreparedLru, InsertOfAPresentNameEvictsNothing) {
  PreparedLru lru(1);
  EXPECT_EQ(lru.Insert("a"), "");
  EXPECT_EQ(lru.Insert("a"), "");
  EXPECT_EQ(lru.size(), 1u);
}

TEST(PreparedLru, EraseAndClear) {
  PreparedLru lru(4);
  lru.Insert("a");
  lru.Insert("b");
  lru.Erase("a");
  EXPECT_FALSE(lru.Contains("a"));
  EXPECT_FALSE(lru.Touch("a"));
  lru.Erase("missing");
  lru.Clear();
  EXPECT_EQ(lru.size(), 0u);
  EXPECT_EQ(lru.Insert("z"), "");
}

class WireTest : public ::testing::Test {
 protected:
  void SetUp() override { buf_ = evbuffer_new(); }
  void TearDown() override { evbuffer_free(buf_); }
  evbuffer* buf_;
};

TEST_F(WireTest, PeekMessageWaitsForTheWholeMessage) {
  std::string q;
  pgsql::AppendQuery(&q, "SELECT 1");
  evbuffer_add(buf_, q.data(), 3);
  MsgHeader h;
  std::span<const uint8_t> p;
  EXPECT_EQ(PeekMessage(buf_, &h, &p, 1 << 20), PeekResult::kNeedMore);
  evbuffer_add(buf_, q.data() + 3, q.size() - 4);
  EXPECT_EQ(PeekHeader(buf_, &h, 1 << 20), PeekResult::kOk);
  EXPECT_EQ(h.type, 'Q');
  EXPECT_EQ(h.total(), q.size());
  EXPECT_EQ(PeekMessage(buf_, &h, &p, 1 << 20), PeekResult::kNeedMore);
  evbuffer_add(buf_, q.data() + q.size() - 1, 1);
  ASSERT_EQ(PeekMessage(buf_, &h, &p, 1 << 20), PeekResult::kOk);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(p.data()), p.size()),
            std::string("SELECT 1\0", 9));
  EXPECT_EQ(evbuffer_get_length(buf_), q.size());  // a peek consumes nothing
}

TEST_F(WireTest, BadLengthsAreRefusedFromTheHeader) {
  const char tiny[] = {'Q', 0, 0, 0, 3};
  evbuffer_add(buf_, tiny, 5);
  MsgHeader h;
  EXPECT_EQ(PeekHeader(buf_, &h, 1 << 20), PeekResult::kBad);
  evbuffer_drain(buf_, 5);
  const char huge[] = {'Q', 0x10, 0, 0, 0};
  evbuffer_add(buf_, huge, 5);
  EXPECT_EQ(PeekHeader(buf_, &h, 1 << 20), PeekResult::kBad);
}

TEST_F(WireTest, PeekHeaderAtReadsTheMessageAfterOthers) {
  std::string two;
  pgsql::AppendQuery(&two, "SELECT 1");
  size_t first = two.size();
  pgsql::AppendQuery(&two, "SELECT 22");
  // The second header straddles two evbuffer chains.
  evbuffer_add(buf_, two.data(), first + 2);
  MsgHeader h;
  EXPECT_EQ(PeekHeaderAt(buf_, first, &h, 1 << 20), PeekResult::kNeedMore);
  evbuffer_add(buf_, two.data() + first + 2, two.size() - first - 2);
  ASSERT_EQ(PeekHeaderAt(buf_, first, &h, 1 << 20), PeekResult::kOk);
  EXPECT_EQ(h.type, 'Q');
  EXPECT_EQ(h.total(), two.size() - first);
  EXPECT_EQ(PeekHeaderAt(buf_, two.size(), &h, 1 << 20), PeekResult::kNeedMore);
  EXPECT_EQ(evbuffer_get_length(buf_), two.size());
}

}  // namespace
}  // namespace sluice::pgproxy
