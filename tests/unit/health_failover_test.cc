// The failover decision code driven round by round against scripted fake Nodes: no servers,
// no threads, no clock (failover_window_ms = 0: two failed checks make a primary dead).
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "admin/metrics_exporter.h"
#include "health/decision.h"
#include "health/monitor.h"
#include "health/node.h"
#include "health/topology.h"
#include "tests/unit/health_fake_cluster.h"

namespace sluice::health {
namespace {

using testing::At;
using testing::FailoverTest;
using testing::FakeNode;
using testing::FakeServer;

TEST_F(FailoverTest, QuietClusterStaysHealthy) {
  Round(5);
  EXPECT_EQ(PublishedPrimaries(), std::vector<uint16_t>{3306});
  EXPECT_FALSE(Published().writes_paused);
  EXPECT_EQ(Count("FAILOVER"), 0);
  EXPECT_EQ(Count("SPLIT_BRAIN"), 0);
}

// Defect 1: a quiet PostgreSQL cluster's last replayed transaction is old (14 s), so the
// clock "lag" grows once the primary is gone; by position the replicas miss nothing.
TEST_F(FailoverTest, QuietClusterFailsOverByPosition) {
  for (uint16_t p : {3307, 3308}) servers_[p].replay_age_ms = 14'000;
  Round(2);
  servers_[3306].up = false;
  Round();
  // Held from the first failed check, not only after detection.
  EXPECT_TRUE(Published().writes_paused);
  EXPECT_EQ(Count("FAILOVER_DONE"), 0);
  Round();
  ASSERT_EQ(Count("FAILOVER_DONE"), 1) << Message("FAILOVER_REFUSED");
  EXPECT_FALSE(Published().writes_paused);
  ASSERT_EQ(PublishedPrimaries().size(), 1u);
  uint16_t np = PublishedPrimaries()[0];
  EXPECT_NE(np, 3306);
  EXPECT_EQ(Pub(3306).state, ServerState::kOfflineHard);
  // The other replica follows the new primary.
  uint16_t other = np == 3307 ? 3308 : 3307;
  EXPECT_EQ(servers_[other].source_port, np);
  EXPECT_EQ(monitor_->Counters("app").failovers, 1);
}

// Defect 2: a refused failover, then the operator repairs the cluster (promotes 3307 by
// hand, LOAD SERVERS TO RUNTIME names it primary). Later 3308 becomes eligible: nothing may
// be promoted while 3307 is a healthy primary.
TEST_F(FailoverTest, NoStaleHeadlessStateAfterAdminRepair) {
  Round(2);
  servers_[3306].up = false;
  for (uint16_t p : {3307, 3308}) servers_[p].replication_error = "IO thread: broken";
  Round(3);
  EXPECT_GE(Count("FAILOVER_REFUSED"), 1);
  EXPECT_EQ(Count("FAILOVER_DONE"), 0);
  // The repair.
  FakeServer& b = servers_[3307];
  b.replication_error.clear();
  b.replicating = false;
  b.writable = true;
  Runtime rt;
  rt.clusters.push_back(ClusterConfig({3306, 3307, 3308}, 3307));
  topology_.SetConfig(rt);
  servers_[3308].replication_error.clear();
  Round(20);
  EXPECT_EQ(servers_[3308].promotes, 0);
  EXPECT_EQ(WritableCount(), 1);
  EXPECT_EQ(PublishedPrimaries(), std::vector<uint16_t>{3307});
  EXPECT_FALSE(Published().writes_paused);
  EXPECT_EQ(Count("FAILOVER_DONE"), 0);
}

// Defect 4: a switchover by another tool: 3306 read-only, 3307 writable. Adopted, not shunned.
TEST_F(FailoverTest, OutsideSwitchoverIsAdopted) {
  Round(2);
  servers_[3306].writable = false;
  servers_[3306].replicating = true;
  servers_[3307].writable = true;
  servers_[3307].replicating = false;
  Round();
  EXPECT_EQ(Count("TOPOLOGY_ADOPTED"), 1);
  EXPECT_EQ(PublishedPrimaries(), std::vector<uint16_t>{3307});
  EXPECT_EQ(Pub(3306).role, ServerRole::kReplica);
  EXPECT_EQ(Pub(3306).state, ServerState::kOnline);
  EXPECT_EQ(Pub(3307).hostgroup, 10);
  EXPECT_EQ(servers_[3307].promotes, 0);
  EXPECT_EQ(monitor_->Counters("app").adoptions, 1);
  Round(3);
  EXPECT_EQ(Count("TOPOLOGY_ADOPTED"), 1);
}

// Defect 4: a manual pg_promote while the primary is dead: adopted, no "promotion failed" loop.
TEST_F(FailoverTest, OutsidePromotionOfDeadPrimaryIsAdopted) {
  Round(2);
  servers_[3306].up = false;
  servers_[3308].writable = true;
  servers_[3308].replicating = false;
  Round(4);
  EXPECT_EQ(Count("TOPOLOGY_ADOPTED"), 1);
  EXPECT_EQ(Count("FAILOVER_REFUSED"), 0);
  EXPECT_EQ(servers_[3307].promotes + servers_[3308].promotes, 0);
  EXPECT_EQ(PublishedPrimaries(), std::vector<uint16_t>{3308});
  EXPECT_FALSE(Published().writes_paused);
}

TEST_F(FailoverTest, TwoWritableNodesHoldWritesUntilOneIsLeft) {
  Round(2);
  servers_[3307].writable = true;
  servers_[3307].replicating = false;
  Round(3);
  EXPECT_EQ(Count("SPLIT_BRAIN"), 1);
  EXPECT_TRUE(Published().writes_paused);
  EXPECT_EQ(Count("TOPOLOGY_ADOPTED"), 0);
  EXPECT_EQ(servers_[3308].promotes, 0);
  EXPECT_EQ(monitor_->Counters("app").split_brain_holds, 1);
  // The operator demotes the intruder: exactly one writable again.
  servers_[3307].writable = false;
  servers_[3307].replicating = true;
  Round();
  EXPECT_FALSE(Published().writes_paused);
  EXPECT_EQ(PublishedPrimaries(), std::vector<uint16_t>{3306});
}

TEST_F(FailoverTest, FlappingPrimaryNeverFailsOver) {
  Round(2);
  for (int i = 0; i < 12; ++i) {
    servers_[3306].up = i % 2 == 1;
    Round();
    EXPECT_EQ(Published().writes_paused, i % 2 == 0) << i;
  }
  EXPECT_EQ(Count("FAILOVER_DONE"), 0);
  EXPECT_EQ(servers_[3307].promotes + servers_[3308].promotes, 0);
  EXPECT_EQ(PublishedPrimaries(), std::vector<uint16_t>{3306});
}

TEST_F(FailoverTest, CandidateDyingMidPromotionIsReplaced) {
  servers_[3307].received = At(105);  // the most advanced: chosen first
  Round(2);
  servers_[3306].up = false;
  servers_[3307].die_on_promote = true;
  Round(2);
  EXPECT_EQ(servers_[3307].promotes, 1);
  EXPECT_NE(Message("FAILOVER_REFUSED").find("promotion failed"), std::string::npos);
  EXPECT_TRUE(Published().writes_paused);
  Round();
  EXPECT_EQ(servers_[3308].promotes, 1);
  EXPECT_EQ(PublishedPrimaries(), std::vector<uint16_t>{3308});
  EXPECT_EQ(Count("FAILOVER_DONE"), 1);
}

TEST_F(FailoverTest, LaggingCandidateIsNotPromoted) {
  servers_[3307].received = servers_[3307].applied = At(90);
  servers_[3307].streaming = false;
  Round(2);
  servers_[3306].up = false;
  Round(2);
  EXPECT_EQ(servers_[3307].promotes, 0);
  EXPECT_EQ(PublishedPrimaries(), std::vector<uint16_t>{3308});
}

TEST_F(FailoverTest, EveryCandidateBehindRefusesAndSaysBy) {
  for (uint16_t p : {3307, 3308}) servers_[p].received = servers_[p].applied = At(97);
  Round(2);
  servers_[3306].up = false;
  Round(3);
  EXPECT_EQ(Count("FAILOVER_DONE"), 0);
  EXPECT_NE(Message("FAILOVER_REFUSED").find("3 behind the primary's last position"),
            std::string::npos)
      << Message("FAILOVER_REFUSED");
  EXPECT_TRUE(Published().writes_paused);
}

// Both replicas are caught up by the clock; one received more than the primary last showed.
TEST_F(FailoverTest, MostAdvancedByPositionWinsOverPriority) {
  Runtime rt;
  rt.clusters.push_back(ClusterConfig({3306, 3307, 3308}, 3306));
  rt.clusters[0].servers[1].priority = 10;  // 3307 preferred on ties
  topology_.SetConfig(rt);
  servers_[3308].received = At(104);
  Round(2);
  servers_[3306].up = false;
  Round(2);
  EXPECT_EQ(PublishedPrimaries(), std::vector<uint16_t>{3308});
  EXPECT_EQ(servers_[3307].promotes, 0);
}

TEST_F(FailoverTest, ReturningOldPrimaryIsFencedBeforeAnythingElse) {
  Round(2);
  servers_[3306].up = false;
  Round(2);
  ASSERT_EQ(Count("FAILOVER_DONE"), 1);
  // It comes back writable (MariaDB restarts with read_only=OFF).
  servers_[3306].up = true;
  Round();
  EXPECT_GE(servers_[3306].fences, 1);
  EXPECT_FALSE(servers_[3306].writable);
  EXPECT_EQ(WritableCount(), 1);
  EXPECT_EQ(Count("NEEDS_REJOIN"), 1);
  EXPECT_EQ(Count("SPLIT_BRAIN"), 0);
  EXPECT_EQ(Pub(3306).state, ServerState::kOfflineHard);
  // The sessions it ends spare the configured logins, not hard-coded names.
  EXPECT_EQ(servers_[3306].keep_users, (std::vector<std::string>{"mon_custom", "repl_custom"}));
  EXPECT_GE(monitor_->Counters("app").fence_actions, 1);
}

TEST_F(FailoverTest, PromotionBlockedWhileAnotherNodeIsWritable) {
  Round(2);
  servers_[3306].up = false;
  Round();
  // Between the verdict and the promotion, 3308 turns writable (another tool promotes it).
  servers_[3306].on_fence = nullptr;
  command_status_ = 0;
  Runtime rt;
  rt.clusters.push_back(ClusterConfig({3306, 3307, 3308}, 3306));
  rt.clusters[0].fence_command = "/bin/fence-it";
  topology_.SetConfig(rt);
  servers_[3307].received = At(110);  // the candidate
  bool flipped = false;
  monitor_.reset();  // rebuilt with a command hook that flips 3308
  MonitorHooks hooks = Hooks();
  hooks.run_command = [&](const std::vector<std::string>& argv, int, std::string*) {
    commands_.push_back(argv);
    if (!flipped) {
      flipped = true;
      servers_[3308].writable = true;
      servers_[3308].replicating = false;
    }
    return 0;
  };
  monitor_ = std::make_unique<HealthMonitor>(&topology_, hooks);
  Round(2);
  EXPECT_EQ(Count("FAILOVER_BLOCKED"), 1);
  EXPECT_NE(Message("FAILOVER_BLOCKED").find("127.0.0.1:3308"), std::string::npos);
  EXPECT_EQ(servers_[3307].promotes, 0);
  EXPECT_EQ(WritableCount(), 1);
  ASSERT_FALSE(commands_.empty());
  EXPECT_EQ(commands_[0], (std::vector<std::string>{"/bin/fence-it", "app", "127.0.0.1", "3306"}));
}

TEST_F(FailoverTest, FailingFenceCommandRefusesPromotion) {
  Runtime rt;
  rt.clusters.push_back(ClusterConfig({3306, 3307, 3308}, 3306));
  rt.clusters[0].fence_command = "stonith --hard";
  topology_.SetConfig(rt);
  command_status_ = 3;
  Round(2);
  servers_[3306].up = false;
  Round(3);
  EXPECT_EQ(servers_[3307].promotes + servers_[3308].promotes, 0);
  EXPECT_NE(Message("FENCE_COMMAND").find("exited 3"), std::string::npos);
  EXPECT_NE(Message("FAILOVER_REFUSED").find("fence_command failed"), std::string::npos);
  ASSERT_FALSE(commands_.empty());
  EXPECT_EQ(commands_[0],
            (std::vector<std::string>{"stonith", "--hard", "app", "127.0.0.1", "3306"}));
  command_status_ = 0;
  Round();
  EXPECT_EQ(Count("FAILOVER_DONE"), 1);
}

// Defect 6: the switchover fences with the configured logins.
TEST_F(FailoverTest, SwitchoverUsesConfiguredUsers) {
  Round(2);
  auto r = monitor_->Switchover("app", "127.0.0.1:3307");
  // Without Start() the monitor has no cluster threads; RunRoundForTest made the clusters.
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(servers_[3306].keep_users, (std::vector<std::string>{"mon_custom", "repl_custom"}));
  EXPECT_EQ(PublishedPrimaries(), std::vector<uint16_t>{3307});
  EXPECT_EQ(servers_[3306].source_port, 3307);  // MariaDB: the old primary replicates
  EXPECT_EQ(monitor_->Counters("app").switchovers, 1);
  Round(3);
  EXPECT_EQ(Count("SPLIT_BRAIN"), 0);
  EXPECT_EQ(Count("TOPOLOGY_ADOPTED"), 0);
}

TEST(FenceSql, SparesTheConfiguredUsersOnly) {
  std::string my = MysqlFenceSessionsSql({"mon_custom", "repl_custom"});
  EXPECT_NE(my.find("'mon_custom'"), std::string::npos) << my;
  EXPECT_NE(my.find("'repl_custom'"), std::string::npos) << my;
  EXPECT_EQ(my.find("'monitor'"), std::string::npos) << my;
  EXPECT_EQ(my.find("'repl'"), std::string::npos) << my;
  std::string pg = PgFenceSessionsSql({"mon_custom", "repl_custom"});
  EXPECT_NE(pg.find("E'mon_custom'"), std::string::npos) << pg;
  EXPECT_NE(pg.find("E'repl_custom'"), std::string::npos) << pg;
  EXPECT_EQ(pg.find("'monitor'"), std::string::npos) << pg;
  EXPECT_EQ(pg.find("'repl'"), std::string::npos) << pg;
}

// Defect 8: the counters reach the Prometheus families.
TEST_F(FailoverTest, FailoverCountReachesMetrics) {
  Round(2);
  servers_[3306].up = false;
  Round(2);
  ASSERT_EQ(Count("FAILOVER_DONE"), 1);
  FailoverCountsFn fn = [this](const std::string& cluster) {
    HealthCounters h = monitor_->Counters(cluster);
    return FailoverCounts{h.failovers,         h.switchovers,   h.adoptions,
                          h.split_brain_holds, h.fence_actions, h.failovers_refused};
  };
  auto fams = BuildMetricFamilies(StatsDelta{}, *topology_.Current(), fn);
  double failovers = -1;
  for (const auto& f : fams)
    if (f.name == "sluice_failovers_total") failovers = f.metric.at(0).counter.value;
  EXPECT_EQ(failovers, 1);
}

// Item 7 (defect 7, control plane): names resolve on the monitor's thread.
TEST_F(FailoverTest, UnresolvableHostIsShunnedAndLocalhostResolves) {
  Runtime rt;
  rt.clusters.push_back(ClusterConfig({3306, 3307, 3308}, 3306));
  rt.clusters[0].servers[1].host = "no-such-host.invalid";
  rt.clusters[0].servers[2].host = "localhost";
  topology_.SetConfig(rt);
  Round(2);
  const Cluster& c = Published();
  EXPECT_EQ(c.servers[1].state, ServerState::kShunned);
  EXPECT_EQ(c.servers[1].address, "");
  EXPECT_NE(Message("SERVER_UNRESOLVED").find("no-such-host.invalid"), std::string::npos);
  EXPECT_EQ(c.servers[2].state, ServerState::kOnline);
  EXPECT_EQ(c.servers[2].address, "127.0.0.1");
  EXPECT_EQ(c.servers[0].address, "127.0.0.1");
}

// Issue #13 item 10: with the primary gone (and no failover allowed), caught-up replicas
// keep serving reads: their lag is judged by position, not by the age of the last replayed
// transaction, and not streaming is no reason to shun them.
TEST_F(FailoverTest, ReplicasOfADeadPrimaryKeepServingReads) {
  Runtime rt;
  rt.clusters.push_back(ClusterConfig({3306, 3307, 3308}, 3306));
  rt.clusters[0].auto_failover = false;
  topology_.SetConfig(rt);
  Round(2);
  servers_[3306].up = false;
  for (uint16_t p : {3307, 3308}) {
    servers_[p].streaming = false;
    servers_[p].replay_age_ms = 60'000;
  }
  Round(6);
  for (uint16_t p : {3307, 3308}) {
    EXPECT_EQ(Pub(p).state, ServerState::kOnline) << p;
    EXPECT_EQ(Pub(p).lag_ms, 0) << p;
  }
  EXPECT_EQ(Pub(3306).state, ServerState::kShunned);
  EXPECT_NE(Message("FAILOVER_REFUSED").find("auto_failover is off"), std::string::npos);
}

// Reads see what a replica applied: a paused replay that keeps receiving is behind.
TEST_F(FailoverTest, ReadLagIsByAppliedPosition) {
  servers_[3306].written = At(200);
  servers_[3307].received = At(200);
  servers_[3307].applied = At(150);
  servers_[3307].replay_age_ms = 5000;
  servers_[3308].received = servers_[3308].applied = At(200);
  servers_[3308].replay_age_ms = 5000;  // old, but nothing is missing: not behind
  Round(2);
  EXPECT_EQ(Pub(3307).lag_ms, 5000);
  EXPECT_EQ(Pub(3308).lag_ms, 0);
}

// A monitor login without a grant is reported, and the server keeps serving clients.
TEST_F(FailoverTest, MonitorPrivilegeErrorIsReportedNotShunned) {
  servers_[3307].privilege_error = "SHOW SLAVE STATUS: Access denied; you need ... (1227)";
  Round(4);
  EXPECT_EQ(Pub(3307).state, ServerState::kOnline);
  EXPECT_EQ(Count("MONITOR_PRIVILEGE"), 1);
  bool recorded = false;
  for (const CheckRecord& r : monitor_->RecentChecks())
    recorded = recorded || (r.server == "127.0.0.1:3307" && r.ok &&
                            r.error.find("privilege: SHOW SLAVE STATUS") == 0);
  EXPECT_TRUE(recorded);
}

// The pure verdict.
TEST(Decide, NeverFailoverWhileAnyNodeIsWritable) {
  RoundFacts f;
  NodeView p;
  p.name = "a:1";
  p.role = ServerRole::kPrimary;
  p.dead = true;
  NodeView r;
  r.name = "b:1";
  r.reachable = true;
  r.check.writable = true;
  NodeView r2;
  r2.name = "c:1";
  r2.reachable = true;
  f.nodes = {p, r, r2};
  Verdict v = Decide(f);
  EXPECT_EQ(v.kind, VerdictKind::kAdopt);
  EXPECT_EQ(v.target, "b:1");
  EXPECT_EQ(WritableOthers(f.nodes, "c:1"), std::vector<std::string>{"b:1"});
}

}  // namespace
}  // namespace sluice::health
