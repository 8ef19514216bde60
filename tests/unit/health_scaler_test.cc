// Tests for health/scaler's policy (thresholds, windows, cooldown, bounds, busy clusters),
// its p95, the hook command runner (arguments, exit, output, timeout) and the scale keys'
// validation.
#include <gtest/gtest.h>

#include "admin/config_file.h"
#include "health/command_runner.h"
#include "health/scaler.h"

#include <string>
#include <vector>

namespace sluice::health {
namespace {

Cluster Policy() {
  Cluster c;
  c.name = "app";
  c.scale_out_command = "/bin/true";
  c.scale_in_command = "/bin/true";
  c.scale_out_reads_per_replica = 100;
  c.scale_in_reads_per_replica = 10;
  c.scale_out_window_ms = 2000;
  c.scale_in_window_ms = 4000;
  c.scale_cooldown_ms = 3000;
  c.min_replicas = 2;
  c.max_replicas = 3;
  return c;
}

ScaleSample At(int64_t ms, double reads, int replicas = 2) {
  ScaleSample s;
  s.now_ms = ms;
  s.reads_per_replica = reads;
  s.replicas = replicas;
  return s;
}

using A = ScalePolicy::Action;

TEST(ScalePolicyTest, ScalesOutAfterTheWindowOnly) {
  Cluster c = Policy();
  ScalePolicy p;
  std::string why;
  EXPECT_EQ(p.Observe(c, At(0, 150), 0, &why), A::kNone);
  EXPECT_EQ(p.Observe(c, At(1000, 150), 0, &why), A::kNone);
  EXPECT_EQ(p.Observe(c, At(1500, 50), 0, &why), A::kNone);  // a dip restarts the window
  EXPECT_EQ(p.Observe(c, At(2500, 150), 0, &why), A::kNone);
  EXPECT_EQ(p.Observe(c, At(4000, 150), 0, &why), A::kNone);
  EXPECT_EQ(p.Observe(c, At(4500, 150), 0, &why), A::kScaleOut);
  EXPECT_EQ(why, "reads per replica 150/s > 100 for 2 s (2 replicas, max_replicas 3)");
  p.ActionDone(5000);
  // Cooldown, then max_replicas.
  EXPECT_EQ(p.Observe(c, At(6000, 150), 0, &why), A::kNone);
  EXPECT_EQ(p.Observe(c, At(7500, 150), 0, &why), A::kNone);
  EXPECT_EQ(p.Observe(c, At(8500, 150, 3), 0, &why), A::kNone);  // 3 = max_replicas
  EXPECT_EQ(p.Observe(c, At(9000, 150, 2), 0, &why), A::kScaleOut);
}

TEST(ScalePolicyTest, OtherSignalsAndBusyClusters) {
  Cluster c = Policy();
  c.scale_out_reads_per_replica = 0;
  c.scale_in_command.clear();
  c.scale_out_pool_waits_per_s = 5;
  c.scale_out_p95_ms = 20;
  ScalePolicy p;
  std::string why;
  ScaleSample s = At(0, 0);
  s.pool_waits_per_s = 6;
  EXPECT_EQ(p.Observe(c, s, 0, &why), A::kNone);
  s.now_ms = 2000;
  s.busy = true;  // a failover or switchover holds writes: no action
  EXPECT_EQ(p.Observe(c, s, 0, &why), A::kNone);
  s.busy = false;
  s.now_ms = 2100;
  s.p95_ms = 25;
  EXPECT_EQ(p.Observe(c, s, 0, &why), A::kScaleOut);
  EXPECT_EQ(why,
            "pool waits 6/s > 5, replica p95 25.0 ms > 20 for 2 s (2 replicas, max_replicas 3)");
}

TEST(ScalePolicyTest, ScalesInAfterTheLongerWindowAboveMinReplicas) {
  Cluster c = Policy();
  ScalePolicy p;
  std::string why;
  EXPECT_EQ(p.Observe(c, At(0, 3, 3), 1, &why), A::kNone);
  EXPECT_EQ(p.Observe(c, At(3000, 3, 3), 1, &why), A::kNone);
  EXPECT_EQ(p.Observe(c, At(4000, 3, 3), 0, &why), A::kNone);  // nothing discovered to take
  EXPECT_EQ(p.Observe(c, At(4000, 3, 2), 1, &why), A::kNone);  // at min_replicas
  EXPECT_EQ(p.Observe(c, At(4000, 3, 3), 1, &why), A::kScaleIn);
  EXPECT_EQ(why, "reads per replica 3/s < 10 for 4 s (3 replicas, min_replicas 2)");
  ScaleSample waits = At(9000, 3, 3);
  waits.pool_waits_per_s = 1;  // waits are not "low"
  p.ActionDone(4000);
  EXPECT_EQ(p.Observe(c, waits, 1, &why), A::kNone);
}

TEST(ScalePolicyTest, P95OfAHistogram) {
  LatencyHistogram h;
  EXPECT_EQ(P95Ms(h), 0);
  for (int i = 0; i < 94; ++i) h.Add(80);
  for (int i = 0; i < 6; ++i) h.Add(4000);
  EXPECT_EQ(P95Ms(h), 5.0);  // the 95th of 100 falls in the 5 ms bucket
  h.Add(5'000'000);
  EXPECT_EQ(P95Ms(h), 5.0);
}

// A fleet ([coordination]): a follower's scaler observes the same load and runs nothing; the
// leader's records the command as an intent, then its outcome.
class ScalerFleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Runtime rt;
    Cluster c = Policy();
    c.protocol = Protocol::kMysql;
    c.max_replicas = 5;
    for (uint16_t p : {1, 2, 3}) {
      Server s;
      s.host = "127.0.0.1";
      s.port = p;
      s.role = p == 1 ? ServerRole::kPrimary : ServerRole::kReplica;
      s.hostgroup = p == 1 ? c.writer_hostgroup : c.reader_hostgroup;
      c.servers.push_back(s);
    }
    rt.clusters.push_back(c);
    topology_.SetConfig(rt);
    hooks_.event = [this](std::string_view kind, std::string_view, std::string_view,
                          const std::string&) { kinds_.emplace_back(kind); };
    hooks_.stats = [this] {
      queries_ += 1000;  // 500 reads per replica per second: above scale_out_reads_per_replica
      StatsDelta d;
      d.servers["app/127.0.0.1:2"].queries = queries_ / 2;
      d.servers["app/127.0.0.1:3"].queries = queries_ / 2;
      return d;
    };
    hooks_.gate = [this](const std::string& cluster, std::string_view step, bool count) {
      EXPECT_EQ(cluster, "app");
      if (count) gated_.emplace_back(step);
      return leads_ ? Status::Ok() : Unavailable("not the fleet leader; leader is b");
    };
    hooks_.record_step = [this](const std::string& cluster, const OrchestrationStep& s) {
      EXPECT_EQ(cluster, "app");
      steps_.push_back(s.action + "/" + s.phase);
      return true;
    };
  }
  void Seconds(Scaler* s, int n) {
    for (int i = 0; i < n; ++i) s->TickForTest(now_ += 1000);
  }
  int Said(const std::string& kind) {
    int n = 0;
    for (const auto& k : kinds_) n += k == kind;
    return n;
  }

  RuntimeHolder holder_;
  Topology topology_{&holder_};
  ScalerHooks hooks_;
  uint64_t queries_ = 0;
  int64_t now_ = 100'000;
  bool leads_ = false;
  std::vector<std::string> kinds_, gated_, steps_;
};

TEST_F(ScalerFleetTest, FollowerObservesAndTheLeaderRunsTheCommandRecorded) {
  Scaler scaler(&topology_, "app", hooks_);
  Seconds(&scaler, 8);
  EXPECT_EQ(Said("SCALE_OUT"), 0) << "a follower runs no command";
  EXPECT_TRUE(steps_.empty());
  ASSERT_FALSE(gated_.empty());
  EXPECT_EQ(gated_[0], "scale_out");
  EXPECT_EQ(gated_.size(), 1u) << "counted once while it stays due";
  leads_ = true;  // the leader died; this instance leads now
  Seconds(&scaler, 1);
  EXPECT_EQ(Said("SCALE_OUT"), 1);
  EXPECT_EQ(Said("SCALE_OUT_DONE"), 1);
  EXPECT_EQ(steps_, (std::vector<std::string>{"scale_out/command", "scale_out/done"}));
}

TEST(CommandRunnerTest, ArgumentsExitAndOutput) {
  auto r = RunCommand("printf '%s|' ", {"app", "replica", "reads per replica 5/s"}, 5000);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->output, "app|replica|reads per replica 5/s|");
  r = RunCommand("echo out; echo err >&2; exit 3; :", {}, 5000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->output, "out\nerr");
  EXPECT_FALSE(r->timed_out);
}

TEST(CommandRunnerTest, TimeoutStopsTheGroup) {
  auto r = RunCommand("sleep 30", {}, 200);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->exit_code, -1);
  EXPECT_LT(r->took_ms, 5000);
}

TEST(CommandRunnerTest, CancelEndsItEarly) {
  std::atomic<bool> cancel{true};
  auto r = RunCommand("sleep 30", {}, 60'000, &cancel);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_LT(r->took_ms, 5000);
}

TEST(CommandRunnerTest, BackgroundChildDoesNotHoldIt) {
  // The shell exits at once; its child keeps the output pipe open for 30 s.
  auto r = RunCommand("sleep 30 & echo started", {}, 5000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_LT(r->took_ms, 3000);
}

std::string ConfigError(const std::string& keys) {
  std::string text = R"([admin]
password = "pw"
[[cluster]]
name = "c"
protocol = "mysql"
listen = "127.0.0.1:6033"
monitor_user = "m"
)" + keys + R"(
  [[cluster.server]]
  host = "127.0.0.1"
  port = 3306
  role = "primary"
)";
  auto r = ParseConfig(text, "t.toml");
  return r.ok() ? "ok" : r.status().message();
}

TEST(ScaleConfigTest, KeysAreValidated) {
  EXPECT_EQ(ConfigError("scale_out_command = \"x\"\nscale_out_reads_per_replica = 100\n"
                        "scale_in_command = \"y\"\nscale_in_reads_per_replica = 10\n"
                        "min_replicas = 2\nmax_replicas = 4\nreplica_ramp_ms = 5000\n"),
            "ok");
  EXPECT_EQ(ConfigError("scale_out_command = \"x\"\n"),
            "t.toml:8: cluster[0].scale_out_command: set with no threshold: set "
            "scale_out_reads_per_replica, scale_out_pool_waits_per_s or scale_out_p95_ms");
  EXPECT_EQ(ConfigError("min_replicas = 3\nmax_replicas = 2\n"),
            "t.toml:9: cluster[0].max_replicas: expected at least min_replicas (3), got 2");
  EXPECT_EQ(ConfigError("scale_out_reads_per_replica = 10\nscale_in_reads_per_replica = 10\n"),
            "t.toml:9: cluster[0].scale_in_reads_per_replica: expected less than "
            "scale_out_reads_per_replica (10), got 10");
  EXPECT_EQ(ConfigError("replica_ramp_ms = -1\n"),
            "t.toml:8: cluster[0].replica_ramp_ms: expected 0..86400000, got -1");
}

}  // namespace
}  // namespace sluice::health
