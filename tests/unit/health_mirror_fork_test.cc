// MIRROR START's consistent start (health/mirror_fork.h) against scripted nodes: an
// independent shadow is only switched on; a replica is forked in order (hold, quiet position,
// applied, detach, on, release), and any failure releases the writes with nothing on.
#include "health/mirror_fork.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace sluice::health {
namespace {

struct Script {
  std::vector<std::string> log;  // what happened, in order
  bool shadow_replicating = true;
  std::vector<Position> source_positions = {{{0, 10}}, {{0, 12}}, {{0, 12}}};
  Status wait_applied = Status::Ok();
  Status promote = Status::Ok();
};

class FakeNode : public Node {
 public:
  FakeNode(Script* s, bool shadow) : s_(s), shadow_(shadow) {}
  Result<NodeCheck> Check() override {
    NodeCheck c;
    if (shadow_) {
      c.replicating = s_->shadow_replicating;
      return c;
    }
    c.is_primary = c.writable = true;
    size_t i = std::min(checks_++, s_->source_positions.size() - 1);
    c.written = s_->source_positions[i];
    return c;
  }
  Status Promote(const NodeCheck&) override {
    s_->log.push_back("promote");
    return s_->promote;
  }
  Result<std::string> Fence(const std::vector<std::string>&) override { return std::string(); }
  Status Unfence() override { return Status::Ok(); }
  Status Repoint(const ReplicationSource&, bool) override { return Status::Ok(); }
  Status WaitApplied(const Position& p, int) override {
    s_->log.push_back("wait " + PositionText(p));
    return s_->wait_applied;
  }
  bool CanRejoinLive() const override { return true; }
  void Close() override {}

 private:
  Script* s_;
  bool shadow_;
  size_t checks_ = 0;
};

Runtime TwoClusters() {
  Runtime rt;
  for (auto [name, port] : {std::pair{"app", 3306}, std::pair{"shadow", 3406}}) {
    Cluster c;
    c.name = name;
    Server s;
    s.host = "127.0.0.1";
    s.port = static_cast<uint16_t>(port);
    s.role = ServerRole::kPrimary;
    c.servers = {s};
    rt.clusters.push_back(c);
  }
  MirrorConfig m;
  m.name = "m1";
  m.source = "app";
  m.shadow = "shadow";
  rt.mirrors.push_back(m);
  return rt;
}

ForkHooks Hooks(Script* s) {
  ForkHooks h;
  h.make_node = [s](const NodeOptions& o) { return std::make_unique<FakeNode>(s, o.port == 3406); };
  h.pause_writes = [s](const std::string& cluster, bool on) {
    s->log.push_back((on ? "hold " : "release ") + cluster);
    return Status::Ok();
  };
  h.event = [s](std::string_view m) { s->log.push_back("event: " + std::string(m)); };
  h.timeout_ms = 5000;
  return h;
}

TEST(MirrorForkTest, AnIndependentShadowIsOnlySwitchedOn) {
  Script s;
  s.shadow_replicating = false;
  Runtime rt = TwoClusters();
  auto r = ForkShadow(
      rt, rt.mirrors[0],
      [&](const std::string& at) {
        s.log.push_back("on " + at);
        return Status::Ok();
      },
      Hooks(&s));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "the shadow is independent: mirroring is on");
  EXPECT_EQ(s.log, (std::vector<std::string>{"on "}));  // no fork position
}

TEST(MirrorForkTest, AReplicaIsForkedAtAQuietPositionWithWritesHeld) {
  Script s;
  Runtime rt = TwoClusters();
  auto r = ForkShadow(
      rt, rt.mirrors[0],
      [&](const std::string& at) {
        s.log.push_back("on " + at);
        return Status::Ok();
      },
      Hooks(&s));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "shadow 127.0.0.1:3406 forked at 0:12 (writes held meanwhile): mirroring is on");
  EXPECT_EQ(s.log,
            (std::vector<std::string>{"hold app", "event: mirror m1: writes of app held",
                                      "event: mirror m1: source position 0:12", "wait 0:12",
                                      "event: mirror m1: shadow 127.0.0.1:3406 applied 0:12",
                                      "promote", "event: mirror m1: shadow 127.0.0.1:3406 detached",
                                      "on 0:12", "release app"}));
}

// A PostgreSQL fork names the LSN where the copy starts as PostgreSQL writes it (it said
// "0:4294967308", the position's raw stream:bytes).
TEST(MirrorForkTest, APostgresqlForkNamesItsLsn) {
  Script s;
  s.source_positions = {{{0, 0x10000000Bu}}, {{0, 0x10000000Cu}}, {{0, 0x10000000Cu}}};
  Runtime rt = TwoClusters();
  for (Cluster& c : rt.clusters) c.protocol = Protocol::kPostgres;
  auto r = ForkShadow(
      rt, rt.mirrors[0],
      [&](const std::string& at) {
        s.log.push_back("on " + at);
        return Status::Ok();
      },
      Hooks(&s));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "shadow 127.0.0.1:3406 forked at 1/C (writes held meanwhile): mirroring is on");
  EXPECT_NE(std::find(s.log.begin(), s.log.end(), "event: mirror m1: source position 1/C"),
            s.log.end());
  EXPECT_NE(std::find(s.log.begin(), s.log.end(), "on 1/C"), s.log.end());  // the switch's
}

TEST(MirrorForkTest, AShadowThatCannotCatchUpReleasesTheWritesAndStaysOff) {
  Script s;
  s.wait_applied = Unavailable("timed out");
  Runtime rt = TwoClusters();
  bool on = false;
  auto r = ForkShadow(
      rt, rt.mirrors[0],
      [&](const std::string&) {
        on = true;
        return Status::Ok();
      },
      Hooks(&s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "shadow 127.0.0.1:3406 did not apply 0:12: timed out");
  EXPECT_FALSE(on);
  EXPECT_EQ(s.log.back().rfind("event: mirror m1: writes of app released, fork aborted", 0), 0u);
  EXPECT_EQ(s.log[s.log.size() - 2], "release app");
  for (const std::string& l : s.log) EXPECT_NE(l, "promote");
}

}  // namespace
}  // namespace sluice::health
