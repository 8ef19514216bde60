// Topology: the published Runtime = configured topology + health overlay.
#include <gtest/gtest.h>

#include "health/topology.h"

namespace sluice::health {
namespace {

Runtime Config() {
  Runtime rt;
  Cluster c;
  c.name = "app";
  c.writer_hostgroup = 10;
  c.reader_hostgroup = 11;
  Server p{"127.0.0.1", 3306, "", ServerRole::kPrimary, 10};
  Server r1{"127.0.0.1", 3307, "", ServerRole::kReplica, 11};
  Server r2{"127.0.0.1", 3308, "", ServerRole::kReplica, 11};
  c.servers = {p, r1, r2};
  rt.clusters.push_back(c);
  return rt;
}

TEST(Compose, OverlayStateLagRoleAndPause) {
  Overlay o;
  ClusterOverlay& co = o.clusters["app"];
  co.writes_paused = true;
  co.servers["127.0.0.1:3306"].fenced = true;
  co.servers["127.0.0.1:3306"].role = ServerRole::kReplica;
  co.servers["127.0.0.1:3307"].role = ServerRole::kPrimary;
  co.servers["127.0.0.1:3308"].state = ServerState::kShunned;
  co.servers["127.0.0.1:3308"].lag_ms = 4200;
  Runtime rt = Compose(Config(), o);
  const Cluster& c = rt.clusters[0];
  EXPECT_TRUE(c.writes_paused);
  EXPECT_EQ(c.servers[0].state, ServerState::kOfflineHard);
  EXPECT_EQ(c.servers[0].hostgroup, 11);
  EXPECT_EQ(c.servers[1].role, ServerRole::kPrimary);
  EXPECT_EQ(c.servers[1].hostgroup, 10);
  EXPECT_EQ(c.servers[2].state, ServerState::kShunned);
  EXPECT_EQ(c.servers[2].lag_ms, 4200);
}

TEST(Compose, OperatorOfflineWinsOverMonitor) {
  Runtime cfg = Config();
  cfg.clusters[0].servers[2].state = ServerState::kOfflineSoft;
  Overlay o;
  o.clusters["app"].servers["127.0.0.1:3308"].state = ServerState::kOnline;
  Runtime rt = Compose(cfg, o);
  EXPECT_EQ(rt.clusters[0].servers[2].state, ServerState::kOfflineSoft);
}

TEST(Compose, DiscoveredServerAppendedOnce) {
  Overlay o;
  Server d{"127.0.0.1", 3309, "", ServerRole::kReplica, 11};
  o.clusters["app"].servers["127.0.0.1:3309"].discovered = d;
  o.clusters["app"].servers["127.0.0.1:3309"].state = ServerState::kOnline;
  // A discovered address that is also configured is not duplicated.
  o.clusters["app"].servers["127.0.0.1:3307"].discovered =
      Server{"127.0.0.1", 3307, "", ServerRole::kReplica, 11};
  Runtime rt = Compose(Config(), o);
  ASSERT_EQ(rt.clusters[0].servers.size(), 4u);
  EXPECT_EQ(rt.clusters[0].servers[3].name(), "127.0.0.1:3309");
}

TEST(Topology, PublishesWithBumpedVersionOnChangeOnly) {
  RuntimeHolder holder;
  Topology t(&holder);
  t.SetConfig(Config());
  uint64_t v1 = holder.Load()->version;
  t.Update([](Overlay*) { return false; });
  EXPECT_EQ(holder.Load()->version, v1);
  t.Update([](Overlay* o) {
    o->clusters["app"].writes_paused = true;
    return true;
  });
  EXPECT_EQ(holder.Load()->version, v1 + 1);
  EXPECT_TRUE(holder.Load()->clusters[0].writes_paused);
  // A new configuration keeps the overlay.
  t.SetConfig(Config());
  EXPECT_TRUE(holder.Load()->clusters[0].writes_paused);
  EXPECT_EQ(holder.Load()->version, v1 + 2);
}

}  // namespace
}  // namespace sluice::health
