// The fault campaign's defects (issue #11), replayed against scripted fake Nodes: a fenced
// old primary fenced on first sight, a primary that restarts read-only, re-points retried
// with back-off, writes held from the first failed check.
#include <gtest/gtest.h>

#include "common/clock.h"
#include "health/monitor.h"
#include "tests/unit/health_fake_cluster.h"

namespace sluice::health {
namespace {

using testing::At;
using testing::FailoverTest;

class FaultTest : public FailoverTest {
 protected:
  // Kills the primary, fails over to 3307 (the most advanced), returns once done.
  void FailOverTo3307() {
    Round(2);
    servers_[3307].received = At(110);
    servers_[3306].up = false;
    Round(2);
    ASSERT_EQ(Count("FAILOVER_DONE"), 1);
    ASSERT_EQ(PublishedPrimaries(), std::vector<uint16_t>{3307});
  }
  void SetWindow(int window_ms, int fail_threshold, int recover_threshold = 1) {
    Runtime rt;
    rt.clusters.push_back(ClusterConfig({3306, 3307, 3308}, 3306));
    rt.clusters[0].failover_window_ms = window_ms;
    rt.clusters[0].monitor_fail_threshold = fail_threshold;
    rt.clusters[0].monitor_recover_threshold = recover_threshold;
    topology_.SetConfig(rt);
  }
};

// The old primary restarts writable: it is fenced in the same round, before the new
// primary or anything else is checked, and gets no traffic.
TEST_F(FaultTest, FencedOldPrimaryIsFencedOnFirstSight) {
  FailOverTo3307();
  servers_[3306].up = true;
  servers_[3306].writable = true;
  servers_[3306].replicating = false;
  int new_primary_checks = servers_[3307].checks;
  int replica_checks = servers_[3308].checks;
  int seen_new = -1, seen_replica = -1;
  servers_[3306].on_fence = [&] {
    seen_new = servers_[3307].checks;
    seen_replica = servers_[3308].checks;
  };
  Round();
  EXPECT_EQ(servers_[3306].fences, 1);
  EXPECT_EQ(seen_new, new_primary_checks) << "fenced only after the new primary's check";
  EXPECT_EQ(seen_replica, replica_checks) << "fenced only after a replica's check";
  EXPECT_FALSE(servers_[3306].writable);
  EXPECT_EQ(Pub(3306).state, ServerState::kOfflineHard);
  EXPECT_EQ(Count("SPLIT_BRAIN"), 0);
  EXPECT_EQ(PublishedPrimaries(), std::vector<uint16_t>{3307});
  EXPECT_FALSE(Published().writes_paused);
}

// read_only=ON in every node's config (the belt and braces): a primary restarted within
// the window comes back read-only; sluice makes it writable again and resumes writes.
TEST_F(FaultTest, PrimaryRestartedReadOnlyIsMadeWritable) {
  SetWindow(60'000, 1);
  Round(2);
  servers_[3306].up = false;
  Round();
  EXPECT_TRUE(Published().writes_paused);
  servers_[3306].up = true;
  servers_[3306].writable = false;  // read_only=ON from its config
  Round();
  EXPECT_EQ(servers_[3306].unfences, 1);
  EXPECT_EQ(Count("PRIMARY_WRITABLE"), 1);
  Round();
  EXPECT_TRUE(servers_[3306].writable);
  EXPECT_FALSE(Published().writes_paused);
  EXPECT_EQ(PublishedPrimaries(), std::vector<uint16_t>{3306});
  EXPECT_EQ(Count("FAILOVER"), 0);
}

// A primary restarted within the window: once it answers as writable, writes resume onto
// it at once. Before: writes resumed while the hysteresis still had it SHUNNED for
// recover_threshold checks, and every write failed with "no usable server" meanwhile.
TEST_F(FaultTest, PrimaryBackFromRestartIsOnlineWhenWritesResume) {
  SetWindow(60'000, 1, 3);
  Round(2);
  servers_[3306].up = false;
  Round(2);
  EXPECT_EQ(Pub(3306).state, ServerState::kShunned);
  EXPECT_TRUE(Published().writes_paused);
  servers_[3306].up = true;
  Round();
  EXPECT_FALSE(Published().writes_paused);
  EXPECT_EQ(Pub(3306).state, ServerState::kOnline);
  EXPECT_EQ(PublishedPrimaries(), std::vector<uint16_t>{3306});
}

// An operator's SET GLOBAL read_only=ON on a running primary is not undone: writes wait.
TEST_F(FaultTest, OperatorReadOnlyOnRunningPrimaryIsNotUndone) {
  SetWindow(60'000, 1);
  Round(2);
  servers_[3306].writable = false;
  Round(3);
  EXPECT_EQ(servers_[3306].unfences, 0);
  EXPECT_TRUE(Published().writes_paused);
  EXPECT_EQ(Count("PRIMARY_WRITABLE"), 0);
}

// An old primary an operator rejoined (it replicates, still fenced: its source is the
// primary that now dies) is re-pointed by the next failover like any replica. Before: it
// was skipped and kept replicating from the dead primary.
TEST_F(FaultTest, RejoinedOldPrimaryIsRepointedByTheNextFailover) {
  FailOverTo3307();
  servers_[3306].up = true;
  servers_[3306].writable = false;
  servers_[3306].replicating = true;  // rejoined as a replica of 3307...
  servers_[3306].streaming = false;   // ...which is about to die
  servers_[3306].received = servers_[3306].applied = At(100);
  servers_[3308].received = At(120);
  servers_[3307].written = At(110);
  servers_[3307].up = false;
  Round(3);
  ASSERT_EQ(PublishedPrimaries(), std::vector<uint16_t>{3308});
  EXPECT_EQ(servers_[3306].source_port, 3308);
}

// A replica that refuses the re-point (it restarts) is tried again, with doubling waits.
TEST_F(FaultTest, RefusedRepointIsRetriedWithBackoff) {
  servers_[3308].refuse_repoints = 2;
  FailOverTo3307();
  EXPECT_EQ(servers_[3308].repoints, 1);
  EXPECT_EQ(servers_[3308].source_port, 0);
  Round();  // try 2 after one round: refused
  EXPECT_EQ(servers_[3308].repoints, 2);
  Round();  // waits: two rounds now
  EXPECT_EQ(servers_[3308].repoints, 2);
  Round();  // try 3: accepted
  EXPECT_EQ(servers_[3308].repoints, 3);
  EXPECT_EQ(servers_[3308].source_port, 3307);
  Round(10);
  EXPECT_EQ(servers_[3308].repoints, 3);
}

TEST_F(FaultTest, RepointRetriesAreBounded) {
  servers_[3308].refuse_repoints = 1000;
  FailOverTo3307();
  Round(80);
  EXPECT_EQ(servers_[3308].repoints, 6);
  bool gave_up = false;
  for (const auto& e : events_)
    gave_up = gave_up || (e[0] == "REPOINT" && e[2].find("given up") != std::string::npos);
  EXPECT_TRUE(gave_up);
}

// Writes are held from the very first failed check of the primary, while its hysteresis
// still says ONLINE and long before the window judges it dead.
TEST_F(FaultTest, WritesHeldFromTheFirstFailedCheck) {
  SetWindow(60'000, 3);
  Round(2);
  EXPECT_FALSE(Published().writes_paused);
  servers_[3306].up = false;
  Round();
  EXPECT_TRUE(Published().writes_paused);
  EXPECT_EQ(Count("WRITES_HELD"), 1);
  EXPECT_EQ(Pub(3306).state, ServerState::kOnline);
  servers_[3306].up = true;
  Round();
  EXPECT_FALSE(Published().writes_paused);
  EXPECT_EQ(Count("FAILOVER"), 0);
}

// Before: the round that judges a dead primary ran on the interval's schedule, up to
// monitor_interval_ms after its window had ended (0.36 s in a campaign cycle). The loop now
// runs it when the window ends: last success + failover_window_ms.
TEST_F(FaultTest, TheVerdictRoundIsDueWhenTheWindowEnds) {
  SetWindow(2000, 1);
  Round(2);
  EXPECT_EQ(monitor_->PrimaryWindowEndForTest(0), 0);  // passing its checks
  int64_t ok_by = MonotonicMs();
  servers_[3306].up = false;
  Round(1);
  int64_t due = monitor_->PrimaryWindowEndForTest(0);
  EXPECT_LE(due, ok_by + 2000);
  EXPECT_GT(due, ok_by + 2000 - 1000);
  servers_[3306].up = true;
  Round(1);
  EXPECT_EQ(monitor_->PrimaryWindowEndForTest(0), 0);
}

}  // namespace
}  // namespace sluice::health
