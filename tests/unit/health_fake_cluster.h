// Scripted fake Nodes and a monitor fixture for the failover unit tests: three servers
// (primary 3306, replicas 3307, 3308), rounds driven one by one, events recorded.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "health/decision.h"
#include "health/monitor.h"
#include "health/node.h"
#include "health/topology.h"

namespace sluice::health::testing {

// What one scripted server is; every Node opened on it (monitor, action) shares it.
struct FakeServer {
  bool up = true;
  bool writable = false;
  bool replicating = true;
  bool streaming = true;
  std::string replication_error;
  std::string privilege_error;
  std::optional<int64_t> replay_age_ms;
  Position written, received, applied;
  bool die_on_promote = false;
  int refuse_repoints = 0;  // Repoint() fails this many times more (a restarting replica)
  int repoints = 0;
  int unfences = 0;
  bool can_rejoin_live = true;
  int promotes = 0;
  int fences = 0;
  int checks = 0;
  std::vector<std::string> keep_users;  // the last Fence()'s
  uint16_t source_port = 0;             // where Repoint() pointed it
  std::function<void()> on_fence;       // a scripted side effect
};

class FakeNode : public Node {
 public:
  explicit FakeNode(FakeServer* s) : s_(s) {}
  Result<NodeCheck> Check() override {
    ++s_->checks;
    if (!s_->up) return Unavailable("connect: Connection refused");
    NodeCheck k;
    k.writable = s_->writable;
    k.is_primary = !s_->replicating;
    k.replicating = s_->replicating;
    k.streaming = s_->replicating && s_->streaming;
    k.replication_error = s_->replication_error;
    k.replay_age_ms = s_->replay_age_ms;
    k.privilege_error = s_->privilege_error;
    k.written = s_->written;
    k.received = s_->received;
    k.applied = s_->applied;
    return k;
  }
  Status Promote(const NodeCheck&) override {
    if (!s_->up) return Unavailable("connect: Connection refused");
    ++s_->promotes;
    if (s_->die_on_promote) {
      s_->up = false;
      return Unavailable("Lost connection to server during query");
    }
    s_->writable = true;
    s_->replicating = false;
    s_->written = Furthest(s_->received, s_->applied);
    return Status::Ok();
  }
  Result<std::string> Fence(const std::vector<std::string>& keep) override {
    if (!s_->up) return Unavailable("connect: Connection refused");
    ++s_->fences;
    s_->writable = false;
    s_->keep_users = keep;
    if (s_->on_fence) s_->on_fence();
    return std::string("fenced");
  }
  Status Unfence() override {
    ++s_->unfences;
    s_->writable = true;
    return Status::Ok();
  }
  Status Repoint(const ReplicationSource& src, bool) override {
    if (!s_->up) return Unavailable("down");
    ++s_->repoints;
    if (s_->refuse_repoints > 0) {
      --s_->refuse_repoints;
      return Unavailable("connect: Connection refused");
    }
    s_->replicating = true;
    s_->source_port = src.port;
    return Status::Ok();
  }
  Status WaitApplied(const Position& p, int) override {
    return Behind(s_->applied, p) == 0 ? Status::Ok() : Unavailable("behind");
  }
  bool CanRejoinLive() const override { return s_->can_rejoin_live; }
  void Close() override {}

 private:
  FakeServer* s_;
};

inline Position At(uint64_t seq) {
  return Position{{0, seq}};
}

class FailoverTest : public ::testing::Test {
 protected:
  // A primary on 3306 and replicas on 3307, 3308, all at position 100.
  void SetUp() override {
    for (uint16_t port : {3306, 3307, 3308}) {
      FakeServer& s = servers_[port];
      s.received = s.applied = s.written = At(100);
    }
    servers_[3306].writable = true;
    servers_[3306].replicating = false;
    Runtime rt;
    rt.clusters.push_back(ClusterConfig({3306, 3307, 3308}, 3306));
    topology_.SetConfig(rt);
    monitor_ = std::make_unique<HealthMonitor>(&topology_, Hooks());
  }

  // Events recorded, Nodes scripted by servers_, commands answered with command_status_.
  MonitorHooks Hooks() {
    MonitorHooks hooks;
    hooks.event = [this](std::string_view kind, std::string_view, std::string_view server,
                         std::string_view msg) {
      events_.push_back({std::string(kind), std::string(server), std::string(msg)});
    };
    hooks.node_factory = [this](const NodeOptions& o) -> std::unique_ptr<Node> {
      return std::make_unique<FakeNode>(&servers_[o.port]);
    };
    hooks.run_command = [this](const std::vector<std::string>& argv, int, std::string* out) {
      commands_.push_back(argv);
      *out = "scripted";
      return command_status_;
    };
    return hooks;
  }

  static Cluster ClusterConfig(const std::vector<uint16_t>& ports, uint16_t primary) {
    Cluster c;
    c.name = "app";
    c.protocol = Protocol::kMysql;
    c.monitor_user = "mon_custom";
    c.replication_user = "repl_custom";
    c.failover_window_ms = 0;
    c.monitor_fail_threshold = 1;
    c.monitor_recover_threshold = 1;
    c.writer_hostgroup = 10;
    c.reader_hostgroup = 11;
    for (uint16_t p : ports) {
      Server s;
      s.host = "127.0.0.1";
      s.port = p;
      s.role = p == primary ? ServerRole::kPrimary : ServerRole::kReplica;
      s.hostgroup = p == primary ? 10 : 11;
      c.servers.push_back(s);
    }
    return c;
  }

  void Round(int n = 1) {
    for (int i = 0; i < n; ++i) monitor_->RunRoundForTest();
  }
  const Cluster& Published() { return topology_.Current()->clusters[0]; }
  const Server& Pub(uint16_t port) {
    for (const Server& s : Published().servers)
      if (s.port == port) return s;
    ADD_FAILURE() << "no server " << port;
    return Published().servers[0];
  }
  std::vector<uint16_t> PublishedPrimaries() {
    std::vector<uint16_t> out;
    for (const Server& s : Published().servers)
      if (s.role == ServerRole::kPrimary && s.state == ServerState::kOnline) out.push_back(s.port);
    return out;
  }
  int Count(const std::string& kind) {
    int n = 0;
    for (const auto& e : events_) n += e[0] == kind;
    return n;
  }
  std::string Message(const std::string& kind) {
    for (const auto& e : events_)
      if (e[0] == kind) return e[2];
    return "";
  }
  int WritableCount() {
    int n = 0;
    for (auto& [port, s] : servers_) n += s.up && s.writable;
    return n;
  }

  std::map<uint16_t, FakeServer> servers_;
  RuntimeHolder holder_;
  Topology topology_{&holder_};
  std::unique_ptr<HealthMonitor> monitor_;
  std::vector<std::vector<std::string>> events_;
  std::vector<std::vector<std::string>> commands_;
  int command_status_ = 0;
};

}  // namespace sluice::health::testing
