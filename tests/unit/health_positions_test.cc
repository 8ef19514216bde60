// GTID/LSN parsing and comparison, check hysteresis and the failover candidate choice.
#include <gtest/gtest.h>

#include "health/positions.h"

namespace sluice::health {
namespace {

TEST(Gtid, ParsesDomainsAndCompares) {
  auto a = ParseGtidPos("0-1-100,1-2-5");
  ASSERT_TRUE(a);
  EXPECT_EQ((*a)[0], 100u);
  EXPECT_EQ((*a)[1], 5u);
  auto b = ParseGtidPos("0-1-99");
  ASSERT_TRUE(b);
  EXPECT_TRUE(GtidCovers(*a, *b));
  EXPECT_FALSE(GtidCovers(*b, *a));
  EXPECT_EQ(GtidWeight(*a), 105u);
  EXPECT_TRUE(ParseGtidPos("")->empty());
  EXPECT_FALSE(ParseGtidPos("0-1"));
  EXPECT_FALSE(ParseGtidPos("x-1-2"));
}

TEST(Gtid, ServerIdChangeKeepsSequenceOrder) {
  // After a failover the new primary writes with its own server id in the same domain.
  EXPECT_TRUE(GtidCovers(*ParseGtidPos("0-2-101"), *ParseGtidPos("0-1-100")));
}

TEST(Lsn, Parses) {
  EXPECT_EQ(ParseLsn("16/B374D848"), (uint64_t{0x16} << 32) | 0xB374D848);
  EXPECT_EQ(ParseLsn("0/0"), 0u);
  EXPECT_FALSE(ParseLsn("16B374D848"));
  EXPECT_FALSE(ParseLsn("zz/1"));
}

TEST(Hysteresis, ShunsAfterFailThresholdRecoversAfterRecoverThreshold) {
  Hysteresis h(3, 3);
  EXPECT_FALSE(h.Observe(false));
  EXPECT_FALSE(h.Observe(false));
  EXPECT_TRUE(h.healthy());
  EXPECT_TRUE(h.Observe(false));
  EXPECT_FALSE(h.healthy());
  // Flapping: one good check among bad ones does not bring it back.
  EXPECT_FALSE(h.Observe(true));
  EXPECT_FALSE(h.Observe(false));
  EXPECT_FALSE(h.Observe(true));
  EXPECT_FALSE(h.Observe(true));
  EXPECT_FALSE(h.healthy());
  EXPECT_TRUE(h.Observe(true));
  EXPECT_TRUE(h.healthy());
}

TEST(Hysteresis, OneBadCheckDoesNotShun) {
  Hysteresis h(3, 3);
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(h.Observe(i % 2 == 0));
    EXPECT_TRUE(h.healthy());
  }
}

Candidate C(std::string name, uint64_t pos, int priority = 0) {
  Candidate c;
  c.name = std::move(name);
  c.reachable = true;
  c.position = pos;
  c.priority = priority;
  return c;
}

TEST(PickCandidate, MostAdvancedThenPriority) {
  std::string why;
  auto p = PickCandidate({C("a:1", 10), C("b:1", 12), C("c:1", 11, 5)}, &why);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, "b:1");
  p = PickCandidate({C("a:1", 12), C("b:1", 12, 1)}, &why);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, "b:1");
}

TEST(PickCandidate, ExcludesUnsafeAndSaysWhy) {
  Candidate broken = C("a:1", 100);
  broken.replication_broken = true;
  Candidate lagging = C("b:1", 90);
  lagging.behind = 3;
  Candidate down = C("c:1", 80);
  down.reachable = false;
  Candidate offline = C("d:1", 70);
  offline.operator_offline = true;
  std::string why;
  EXPECT_FALSE(PickCandidate({broken, lagging, down, offline}, &why));
  EXPECT_NE(why.find("a:1: replication broken"), std::string::npos) << why;
  EXPECT_NE(why.find("b:1: 3 behind the primary's last position"), std::string::npos) << why;
  EXPECT_NE(why.find("c:1: unreachable"), std::string::npos) << why;
  EXPECT_NE(why.find("d:1: offline by the operator"), std::string::npos) << why;
  auto p = PickCandidate({broken, lagging, C("e:1", 1)}, &why);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, "e:1");
}

}  // namespace
}  // namespace sluice::health
