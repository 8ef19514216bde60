// The monitor's fleet seam (MonitorHooks::may_orchestrate, record_step, intended_target)
// driven round by round against scripted nodes: a follower never acts, an unrecorded intent
// is not taken, a new leader promotes the target its predecessor intended.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "health/monitor.h"
#include "health/node.h"
#include "health/topology.h"

namespace sluice::health {
namespace {

// A scripted server: reachable or not, writable or replicating, at a GTID sequence.
struct Script {
  bool up = true;
  bool primary = false;
  uint64_t seq = 100;
  int promotes = 0;
  int unfences = 0;
  std::vector<std::string> sees;  // replicas it reports (discovery)
};

class ScriptedNode : public Node {
 public:
  explicit ScriptedNode(Script* s) : s_(s) {}
  Result<NodeCheck> Check() override {
    if (!s_->up) return Unavailable("scripted: down");
    NodeCheck k;
    k.writable = k.is_primary = s_->primary;
    k.replicating = k.streaming = !s_->primary;
    k.written = k.received = k.applied = Position{{0, s_->seq}};
    k.replicas = s_->sees;
    return k;
  }
  Status Promote(const NodeCheck&) override {
    ++s_->promotes;
    s_->primary = true;
    return Status::Ok();
  }
  Result<std::string> Fence(const std::vector<std::string>&) override {
    if (!s_->up) return Unavailable("scripted: down");
    s_->primary = false;
    return std::string("read-only");
  }
  Status Unfence() override {
    if (!s_->up) return Unavailable("scripted: down");
    ++s_->unfences;
    s_->primary = true;  // read_only=OFF: the fenced primary writes again
    return Status::Ok();
  }
  Status Repoint(const ReplicationSource&, bool) override { return Status::Ok(); }
  Status WaitApplied(const Position&, int) override { return Status::Ok(); }
  bool CanRejoinLive() const override { return true; }
  void Close() override {}

 private:
  Script* s_;
};

class FleetHooksTest : public ::testing::Test {
 protected:
  void Start() {
    scripts_[1].primary = true;
    Runtime rt;
    Cluster c;
    c.name = "app";
    c.protocol = Protocol::kMysql;
    c.failover_window_ms = 0;
    c.monitor_fail_threshold = c.monitor_recover_threshold = 1;
    c.discovery_allow = "10.0.0.9";
    for (uint16_t p : {1, 2, 3}) {
      Server s;
      s.host = "127.0.0.1";
      s.port = p;
      s.role = p == 1 ? ServerRole::kPrimary : ServerRole::kReplica;
      c.servers.push_back(s);
    }
    rt.clusters.push_back(c);
    topology_.SetConfig(rt);
    MonitorHooks h;
    h.event = [this](std::string_view kind, std::string_view, std::string_view, std::string_view) {
      kinds_.emplace_back(kind);
    };
    h.node_factory = [this](const NodeOptions& o) -> std::unique_ptr<Node> {
      return std::make_unique<ScriptedNode>(&scripts_[o.port]);
    };
    h.may_orchestrate = [this](const std::string&) { return leads_; };
    h.record_step = [this](const std::string& cluster, const OrchestrationStep& s) {
      EXPECT_EQ(cluster, "app");
      steps_.push_back(s.action + "/" + s.phase + "/" + s.target);
      closed_ = closed_ || (s.action == "switchover" && earlier_ &&
                            (s.phase == "done" || s.phase == "abandoned"));
      return s.phase != refuse_phase_;
    };
    h.intended_target = [this](const std::string&) { return intended_; };
    h.unfinished_switchover = [this](const std::string&) -> std::optional<OrchestrationStep> {
      if (!leads_ || !earlier_ || closed_) return std::nullopt;
      return earlier_;
    };
    monitor_ = std::make_unique<HealthMonitor>(&topology_, h);
  }
  void Rounds(int n) {
    for (int i = 0; i < n; ++i) monitor_->RunRoundForTest();
  }
  int Promotes() { return scripts_[1].promotes + scripts_[2].promotes + scripts_[3].promotes; }
  int Said(const std::string& kind) {
    int n = 0;
    for (const auto& k : kinds_) n += k == kind;
    return n;
  }
  std::string PublishedPrimary() {
    for (const Server& s : topology_.Current()->clusters[0].servers)
      if (s.role == ServerRole::kPrimary && s.state == ServerState::kOnline) return s.name();
    return "";
  }

  std::map<uint16_t, Script> scripts_;
  RuntimeHolder holder_;
  Topology topology_{&holder_};
  std::unique_ptr<HealthMonitor> monitor_;
  std::vector<std::string> kinds_, steps_;
  bool leads_ = true;
  std::string refuse_phase_;
  std::string intended_;
  std::optional<OrchestrationStep> earlier_;  // a switchover an earlier leader left
  bool closed_ = false;                       // its outcome was recorded
  // The fleet's published hold, as a follower applied it before it became the leader.
  void HeldByTheFleet() {
    topology_.Update([](Overlay* o) {
      o->clusters["app"].writes_paused = true;
      return true;
    });
  }
};

TEST_F(FleetHooksTest, FollowerHoldsWritesButNeverPromotesOrDiscovers) {
  leads_ = false;
  Start();
  scripts_[1].sees = {"10.0.0.9:4000"};
  Rounds(2);
  EXPECT_EQ(topology_.Current()->clusters[0].servers.size(), 3u) << "discovery is the leader's";
  scripts_[1].up = false;
  Rounds(4);
  EXPECT_EQ(Promotes(), 0);
  EXPECT_EQ(Said("FAILOVER"), 0);
  EXPECT_TRUE(steps_.empty());
  EXPECT_TRUE(topology_.Current()->clusters[0].writes_paused) << "held while the leader acts";
  // An outside promotion is the leader's to adopt as well.
  scripts_[2].primary = true;
  Rounds(2);
  EXPECT_EQ(Said("TOPOLOGY_ADOPTED"), 0);
  EXPECT_EQ(PublishedPrimary(), "");
}

TEST_F(FleetHooksTest, LeaderRecordsEveryStepBeforeTakingIt) {
  Start();
  Rounds(2);
  scripts_[1].up = false;
  Rounds(3);
  EXPECT_EQ(Promotes(), 1);
  ASSERT_EQ(steps_.size(), 3u);
  EXPECT_EQ(steps_[0], "failover/fence/");
  EXPECT_EQ(steps_[1].rfind("failover/promote/127.0.0.1:", 0), 0u) << steps_[1];
  EXPECT_EQ(steps_[2].substr(0, 14), "failover/done/");
  EXPECT_EQ(PublishedPrimary(), steps_[1].substr(17));
}

TEST_F(FleetHooksTest, UnrecordedPromoteIntentIsNotTaken) {
  Start();
  refuse_phase_ = "promote";  // the leader key is no longer on our lease
  Rounds(2);
  scripts_[1].up = false;
  Rounds(4);
  EXPECT_EQ(Promotes(), 0);
  EXPECT_EQ(Said("FAILOVER_DONE"), 0);
  EXPECT_TRUE(topology_.Current()->clusters[0].writes_paused);
}

TEST_F(FleetHooksTest, NewLeaderPromotesTheIntendedTargetNotItsOwnCandidate) {
  Start();
  scripts_[2].seq = 200;  // the monitor's own choice would be :2
  intended_ = "127.0.0.1:3";
  Rounds(2);
  scripts_[1].up = false;
  Rounds(3);
  EXPECT_EQ(scripts_[2].promotes, 0);
  EXPECT_EQ(scripts_[3].promotes, 1);
  EXPECT_EQ(PublishedPrimary(), "127.0.0.1:3");
}

TEST_F(FleetHooksTest, AdoptionIsRecordedToo) {
  Start();
  Rounds(2);
  scripts_[1].primary = false;  // an outside switchover to :2
  scripts_[2].primary = true;
  Rounds(2);
  EXPECT_EQ(PublishedPrimary(), "127.0.0.1:2");
  ASSERT_GE(steps_.size(), 2u);
  EXPECT_EQ(steps_[0], "adopt/adopt/127.0.0.1:2");
  EXPECT_EQ(steps_[1], "adopt/done/127.0.0.1:2");
}

// The leader was killed right after fencing the old primary (switchover phase "drain"): the
// new leader rolls it back: the old primary writable again, the fleet's hold released.
TEST_F(FleetHooksTest, NewLeaderRollsBackASwitchoverLeftAfterTheFence) {
  Start();
  Rounds(1);
  HeldByTheFleet();
  scripts_[1].primary = false;  // fenced: read_only=ON
  earlier_ = OrchestrationStep{"switchover", "drain", "127.0.0.1:1", "127.0.0.1:2", "a"};
  Rounds(1);
  EXPECT_EQ(scripts_[1].unfences, 1);
  EXPECT_TRUE(scripts_[1].primary);
  EXPECT_EQ(Promotes(), 0);
  EXPECT_FALSE(topology_.Current()->clusters[0].writes_paused) << "the hold is released";
  ASSERT_FALSE(steps_.empty());
  EXPECT_EQ(steps_.back(), "switchover/abandoned/127.0.0.1:2");
  EXPECT_EQ(Said("SWITCHOVER_ABORTED"), 1);
  EXPECT_EQ(Said("WRITES_RESUMED"), 1);
  Rounds(2);
  EXPECT_EQ(scripts_[1].unfences, 1) << "once";
  EXPECT_EQ(PublishedPrimary(), "127.0.0.1:1");
  EXPECT_FALSE(topology_.Current()->clusters[0].writes_paused);
}

// Killed after promoting the target: the new leader finishes the switchover on it.
TEST_F(FleetHooksTest, NewLeaderFinishesASwitchoverWhoseTargetWasPromoted) {
  Start();
  Rounds(1);
  HeldByTheFleet();
  scripts_[1].primary = false;
  scripts_[2].primary = true;
  scripts_[2].promotes = 1;  // by the earlier leader
  earlier_ = OrchestrationStep{"switchover", "promote", "127.0.0.1:1", "127.0.0.1:2", "a"};
  Rounds(1);
  EXPECT_EQ(PublishedPrimary(), "127.0.0.1:2");
  EXPECT_EQ(Promotes(), 1) << "never a second promotion";
  EXPECT_EQ(scripts_[1].unfences, 0) << "the old primary stays read-only";
  EXPECT_FALSE(topology_.Current()->clusters[0].writes_paused);
  ASSERT_FALSE(steps_.empty());
  EXPECT_EQ(steps_.back(), "switchover/done/127.0.0.1:2");
  EXPECT_EQ(Said("SWITCHOVER_DONE"), 1);
  EXPECT_EQ(Said("TOPOLOGY_ADOPTED"), 0) << "finished as the switchover, not adopted";
  EXPECT_EQ(monitor_->Counters("app").switchovers, 1);
}

// A follower leaves it to the leader, and a promote phase whose target does not answer
// leaves the old primary fenced (never two writable) but releases the hold.
TEST_F(FleetHooksTest, FollowerLeavesItAndAnUnansweringTargetKeepsTheOldPrimaryFenced) {
  leads_ = false;
  Start();
  Rounds(1);
  HeldByTheFleet();
  scripts_[1].primary = false;
  earlier_ = OrchestrationStep{"switchover", "promote", "127.0.0.1:1", "127.0.0.1:2", "a"};
  Rounds(1);
  EXPECT_EQ(scripts_[1].unfences, 0);
  EXPECT_TRUE(topology_.Current()->clusters[0].writes_paused) << "the leader's to release";
  leads_ = true;
  scripts_[2].up = false;
  Rounds(1);
  EXPECT_EQ(scripts_[1].unfences, 0);
  EXPECT_EQ(Promotes(), 0);
  EXPECT_FALSE(topology_.Current()->clusters[0].writes_paused);
  EXPECT_EQ(steps_.back(), "switchover/abandoned/127.0.0.1:2");
}

}  // namespace
}  // namespace sluice::health
