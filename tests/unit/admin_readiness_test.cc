// Unit tests of admin/readiness.h: /health/ready's verdict from a runtime snapshot, and the
// sluice_ready gauges built from it.
#include "admin/readiness.h"

#include <gtest/gtest.h>

#include "admin/metrics_exporter.h"

namespace sluice {
namespace {

Runtime OneCluster(ServerState primary_state) {
  Runtime rt;
  Cluster c;
  c.name = "app";
  c.writer_hostgroup = 0;
  c.reader_hostgroup = 1;
  c.write_hold_timeout_ms = 1000;
  Server p;
  p.host = "127.0.0.1";
  p.port = 3306;
  p.role = ServerRole::kPrimary;
  p.hostgroup = 0;
  p.state = primary_state;
  Server r = p;
  r.port = 3307;
  r.role = ServerRole::kReplica;
  r.hostgroup = 1;
  r.state = ServerState::kOnline;
  c.servers = {p, r};
  rt.clusters.push_back(c);
  return rt;
}

TEST(Readiness, OnlinePrimaryIsReady) {
  HoldSince holds;
  Readiness r = CheckReadiness(OneCluster(ServerState::kOnline), true, 0, &holds);
  EXPECT_TRUE(r.ready);
  ASSERT_EQ(r.clusters.size(), 1u);
  EXPECT_EQ(r.clusters[0].primary, "127.0.0.1:3306");
  EXPECT_EQ(r.clusters[0].state, "primary");
  EXPECT_NE(r.Json().find("\"status\":\"ready\""), std::string::npos);
}

TEST(Readiness, ShunnedOrOfflinePrimaryIsNotReadyWithTheReason) {
  for (ServerState s :
       {ServerState::kShunned, ServerState::kOfflineSoft, ServerState::kOfflineHard}) {
    HoldSince holds;
    Readiness r = CheckReadiness(OneCluster(s), true, 0, &holds);
    EXPECT_FALSE(r.ready);
    EXPECT_EQ(r.reason,
              std::string("cluster app: no writable primary: 127.0.0.1:3306 is ") + StateName(s));
    EXPECT_EQ(r.clusters[0].state, "no_primary");
    EXPECT_NE(r.Json().find("\"status\":\"not_ready\""), std::string::npos);
  }
}

TEST(Readiness, NotAcceptingIsNotReady) {
  HoldSince holds;
  Readiness r = CheckReadiness(OneCluster(ServerState::kOnline), false, 0, &holds);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason, "not accepting connections (starting or draining)");
  EXPECT_TRUE(r.clusters[0].ready);
}

TEST(Readiness, HoldIsReadyUntilItsBound) {
  Runtime rt = OneCluster(ServerState::kShunned);
  rt.clusters[0].writes_paused = true;
  HoldSince holds;
  EXPECT_TRUE(CheckReadiness(rt, true, 10'000, &holds).ready);
  Readiness within = CheckReadiness(rt, true, 11'000, &holds);
  EXPECT_TRUE(within.ready);
  EXPECT_EQ(within.clusters[0].state, "hold");
  Readiness over = CheckReadiness(rt, true, 11'001, &holds);
  EXPECT_FALSE(over.ready);
  EXPECT_NE(over.reason.find("longer than write_hold_timeout_ms 1000"), std::string::npos);
  // The hold ends (a new primary): ready, and the next hold starts its own clock.
  Runtime done = OneCluster(ServerState::kOnline);
  EXPECT_TRUE(CheckReadiness(done, true, 12'000, &holds).ready);
  EXPECT_TRUE(holds.empty());
  EXPECT_TRUE(CheckReadiness(rt, true, 20'000, &holds).ready);
}

TEST(Readiness, JsonEscapesNames) {
  EXPECT_EQ(JsonString("a\"b\\c\nd"), "\"a\\\"b\\\\c\\u000ad\"");
}

TEST(Readiness, GaugesFollowTheVerdict) {
  HoldSince holds;
  auto fams = ReadinessFamilies(CheckReadiness(OneCluster(ServerState::kShunned), true, 0, &holds));
  ASSERT_EQ(fams.size(), 2u);
  EXPECT_EQ(fams[0].name, "sluice_ready");
  EXPECT_EQ(fams[0].metric[0].gauge.value, 0);
  EXPECT_EQ(fams[1].name, "sluice_cluster_ready");
  EXPECT_EQ(fams[1].metric[0].label[0].value, "app");
  EXPECT_EQ(fams[1].metric[0].gauge.value, 0);
}

}  // namespace
}  // namespace sluice
