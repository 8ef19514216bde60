#include "routing/balancer.h"

#include <vector>

#include <gtest/gtest.h>

namespace sluice::routing {
namespace {

Server Node(ServerRole role, int hostgroup, int weight = 1) {
  Server s;
  s.host = "127.0.0.1";
  s.role = role;
  s.hostgroup = hostgroup;
  s.weight = weight;
  return s;
}

// Writer 0 in hostgroup 0; replicas 1, 2 in hostgroup 1.
Cluster ThreeNodes() {
  Cluster c;
  c.name = "main";
  c.writer_hostgroup = 0;
  c.reader_hostgroup = 1;
  c.servers = {Node(ServerRole::kPrimary, 0), Node(ServerRole::kReplica, 1),
               Node(ServerRole::kReplica, 1)};
  return c;
}

std::vector<int> Counts(const Cluster& c, int hostgroup, int picks,
                        const std::vector<int>& outstanding = {}) {
  std::vector<int> counts(c.servers.size(), 0);
  uint64_t cursor = 0;
  for (int i = 0; i < picks; ++i) {
    int s = PickServer(c, hostgroup, outstanding, &cursor);
    if (s >= 0) ++counts[s];
  }
  return counts;
}

TEST(RoutingBalancer, HostgroupOfFindsTheServerByAddress) {
  Cluster c = ThreeNodes();
  c.servers[0].host = "127.0.0.1";
  c.servers[0].port = 3306;
  c.servers[2].host = "127.0.0.1";
  c.servers[2].port = 3308;
  EXPECT_EQ(c.HostgroupOf("127.0.0.1", 3306), 0);
  EXPECT_EQ(c.HostgroupOf("127.0.0.1", 3308), 1);
  EXPECT_EQ(c.HostgroupOf("127.0.0.1", 3999), -1);
  EXPECT_EQ(c.HostgroupOf("127.0.0.2", 3306), -1);
}

TEST(RoutingBalancer, OnlyServersOfTheHostgroup) {
  Cluster c = ThreeNodes();
  EXPECT_EQ(Counts(c, 0, 10), (std::vector<int>{10, 0, 0}));
  std::vector<int> readers = Counts(c, 1, 1000);
  EXPECT_EQ(readers[0], 0);
  EXPECT_NEAR(readers[1], 500, 100);  // equal weights share the ties (sd ~ 16)
  EXPECT_NEAR(readers[2], 500, 100);
  uint64_t cursor = 0;
  EXPECT_EQ(PickServer(c, 7, {}, &cursor), -1);
}

TEST(RoutingBalancer, WeightsAreRespectedOverManyPicks) {
  Cluster c = ThreeNodes();
  c.servers[1].weight = 3;
  c.servers[2].weight = 1;
  std::vector<int> counts = Counts(c, 1, 4000);
  // Weighted random tie-break: 3:1 within a few standard deviations (sd ~ 27 here).
  EXPECT_NEAR(counts[1], 3000, 150);
  EXPECT_NEAR(counts[2], 1000, 150);
}

TEST(RoutingBalancer, LeastOutstandingPerWeightWins) {
  Cluster c = ThreeNodes();
  EXPECT_EQ(Counts(c, 1, 10, {0, 5, 1}), (std::vector<int>{0, 0, 10}));
  // 4/4 = 1 is less loaded than 2/1 = 2.
  c.servers[1].weight = 4;
  EXPECT_EQ(Counts(c, 1, 10, {0, 4, 2}), (std::vector<int>{0, 10, 0}));
}

TEST(RoutingBalancer, LaggingShunnedOfflineAndZeroWeightAreExcluded) {
  for (int variant = 0; variant < 5; ++variant) {
    SCOPED_TRACE(variant);
    Cluster c = ThreeNodes();
    Server& s = c.servers[1];
    switch (variant) {
      case 0:
        s.lag_ms = s.max_lag_ms + 1;
        break;
      case 1:
        s.state = ServerState::kShunned;
        break;
      case 2:
        s.state = ServerState::kOfflineSoft;
        break;
      case 3:
        s.state = ServerState::kOfflineHard;
        break;
      case 4:
        s.weight = 0;
        break;
    }
    EXPECT_EQ(Counts(c, 1, 10), (std::vector<int>{0, 0, 10}));
  }
  Cluster c = ThreeNodes();
  c.servers[1].lag_ms = c.servers[1].max_lag_ms;  // at the bound: still usable
  std::vector<int> counts = Counts(c, 1, 1000);
  EXPECT_EQ(counts[0], 0);
  EXPECT_GT(counts[1], 350);
  EXPECT_GT(counts[2], 350);
}

TEST(RoutingBalancer, NoLockstepWithTwoReadsPerConnection) {
  // A client that reads twice per connection must not land on one replica every time.
  Cluster c = ThreeNodes();
  uint64_t cursor = 0;
  std::vector<int> second(3, 0);
  for (int conn = 0; conn < 200; ++conn) {
    PickServer(c, 1, {}, &cursor);
    ++second[PickServer(c, 1, {}, &cursor)];
  }
  EXPECT_GT(second[1], 50);
  EXPECT_GT(second[2], 50);
}

TEST(RoutingBalancer, ShortOutstandingSpanCountsZero) {
  Cluster c = ThreeNodes();
  EXPECT_EQ(Counts(c, 1, 10, {0, 3}), (std::vector<int>{0, 0, 10}));
}

RouteInput Read() {
  RouteInput in;
  in.kind = StatementKind::kRead;
  return in;
}

TEST(RoutingBalancer, ReadsGoToReadersWritesToWriter) {
  Cluster c = ThreeNodes();
  uint64_t cursor = 0;
  RouteDecision d = Route(c, Read(), &cursor);
  EXPECT_EQ(d.hostgroup, 1);
  EXPECT_TRUE(d.server == 1 || d.server == 2);
  RouteInput w;
  w.kind = StatementKind::kWrite;
  d = Route(c, w, &cursor);
  EXPECT_EQ(d.hostgroup, 0);
  EXPECT_EQ(d.server, 0);
  w.kind = StatementKind::kOther;
  EXPECT_EQ(Route(c, w, &cursor).server, 0);
}

TEST(RoutingBalancer, ReaderFallbackOnAndOff) {
  Cluster c = ThreeNodes();
  c.servers[1].state = ServerState::kShunned;
  c.servers[2].lag_ms = 1'000'000;
  uint64_t cursor = 0;
  RouteDecision d = Route(c, Read(), &cursor);
  EXPECT_EQ(d.server, 0);
  EXPECT_EQ(d.hostgroup, 0);
  EXPECT_TRUE(d.fell_back);
  EXPECT_EQ(d.error, nullptr);
  c.reader_fallback_to_writer = false;
  d = Route(c, Read(), &cursor);
  EXPECT_EQ(d.server, -1);
  EXPECT_FALSE(d.fell_back);
  EXPECT_NE(d.error, nullptr);
}

TEST(RoutingBalancer, NoWriterIsAnError) {
  Cluster c = ThreeNodes();
  c.servers[0].state = ServerState::kOfflineHard;
  RouteInput w;
  w.kind = StatementKind::kWrite;
  uint64_t cursor = 0;
  RouteDecision d = Route(c, w, &cursor);
  EXPECT_EQ(d.server, -1);
  EXPECT_NE(d.error, nullptr);
}

TEST(RoutingBalancer, TransactionStaysOnItsServer) {
  Cluster c = ThreeNodes();
  uint64_t cursor = 0;
  RouteInput in = Read();
  in.in_transaction = true;
  in.transaction_server = 0;
  RouteDecision d = Route(c, in, &cursor);
  EXPECT_EQ(d.server, 0);
  EXPECT_EQ(d.hostgroup, 0);
  in.transaction_server = 2;
  in.kind = StatementKind::kWrite;
  in.rule_hostgroup = 0;  // stickiness beats a rule
  EXPECT_EQ(Route(c, in, &cursor).server, 2);
}

TEST(RoutingBalancer, FirstStatementOfATransaction) {
  Cluster c = ThreeNodes();
  uint64_t cursor = 0;
  RouteInput in = Read();
  in.in_transaction = true;  // BEGIN seen, no server yet
  EXPECT_EQ(Route(c, in, &cursor).hostgroup, 0);
  in.read_only_transaction = true;  // BEGIN READ ONLY may run on a replica
  EXPECT_EQ(Route(c, in, &cursor).hostgroup, 1);
}

TEST(RoutingBalancer, ReadYourWritesWindow) {
  Cluster c = ThreeNodes();
  c.read_your_writes_ms = 500;
  uint64_t cursor = 0;
  RouteInput in = Read();
  in.now_ms = 10'000;
  in.last_write_ms = 9'700;  // 300 ms ago
  EXPECT_EQ(Route(c, in, &cursor).hostgroup, 0);
  in.last_write_ms = 9'500;  // 500 ms ago: window over
  EXPECT_EQ(Route(c, in, &cursor).hostgroup, 1);
  in.last_write_ms = -1;  // never wrote
  EXPECT_EQ(Route(c, in, &cursor).hostgroup, 1);
  c.read_your_writes_ms = 0;  // disabled
  in.last_write_ms = 9'999;
  EXPECT_EQ(Route(c, in, &cursor).hostgroup, 1);
}

TEST(RoutingBalancer, RuleHostgroupWins) {
  Cluster c = ThreeNodes();
  uint64_t cursor = 0;
  RouteInput in = Read();
  in.rule_hostgroup = 0;
  RouteDecision d = Route(c, in, &cursor);
  EXPECT_EQ(d.hostgroup, 0);
  EXPECT_EQ(d.server, 0);
  RouteInput w;
  w.kind = StatementKind::kWrite;
  w.rule_hostgroup = 1;
  EXPECT_EQ(Route(c, w, &cursor).hostgroup, 1);
}

// A joining replica ramping at 10% takes about 10% of the picks even while it is the only
// idle one (least-outstanding alone would give it every statement), and all of them at 100%.
TEST(PickServer, RampingServerTakesItsShareEvenWhenIdle) {
  Cluster c = ThreeNodes();
  c.servers.push_back(Node(ServerRole::kReplica, 1));
  c.servers[3].ramp_permille = 100;
  std::vector<int> busy = {0, 1, 1, 0};  // the old replicas have a statement each
  std::vector<int> n = Counts(c, 1, 20000, busy);
  EXPECT_GT(n[3], 20000 * 5 / 100);
  EXPECT_LT(n[3], 20000 * 15 / 100);
  c.servers[3].ramp_permille = 1000;
  EXPECT_EQ(Counts(c, 1, 1000, busy)[3], 1000);
  // Idle everywhere: the ramp scales its weight among the tied servers too.
  c.servers[3].ramp_permille = 100;
  n = Counts(c, 1, 21000);
  EXPECT_LT(n[3], 21000 * 3 / 100);
  // Only ramping servers usable: they still take the statements.
  c.servers[1].state = ServerState::kOfflineSoft;
  c.servers[2].state = ServerState::kOfflineSoft;
  EXPECT_EQ(Counts(c, 1, 100)[3], 100);
}

// Issue #11: servers a worker just saw fail a connection are the last resort.
TEST(RoutingBalancer, AvoidedServersAreTheLastResort) {
  Cluster c = ThreeNodes();
  uint64_t cursor = 0;
  RouteInput read;
  read.kind = StatementKind::kRead;
  read.avoid = uint64_t{1} << 1;  // replica 1 failed
  for (int i = 0; i < 50; ++i) EXPECT_EQ(Route(c, read, &cursor).server, 2);
  // Both replicas failed: the writer takes the read (reader_fallback_to_writer)...
  read.avoid = (uint64_t{1} << 1) | (uint64_t{1} << 2);
  RouteDecision d = Route(c, read, &cursor);
  EXPECT_EQ(d.server, 0);
  EXPECT_TRUE(d.fell_back);
  // ...and without the fallback, an avoided replica rather than no server at all.
  c.reader_fallback_to_writer = false;
  d = Route(c, read, &cursor);
  EXPECT_TRUE(d.server == 1 || d.server == 2) << d.server;
  // The only writer failed: writes still go to it (the session holds them on a refusal).
  RouteInput write;
  write.avoid = 1;
  EXPECT_EQ(Route(c, write, &cursor).server, 0);
  // A transaction stays on its server.
  read.in_transaction = true;
  read.transaction_server = 1;
  EXPECT_EQ(Route(c, read, &cursor).server, 1);
}

}  // namespace
}  // namespace sluice::routing
