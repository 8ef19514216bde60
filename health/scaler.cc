#include "health/scaler.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/log.h"
#include "health/command_runner.h"

namespace sluice::health {
namespace {

constexpr int kTickMs = 100;
constexpr int kSampleMs = 1000;
constexpr int kRampStartPermille = 50;  // a joining replica starts at 5% of its weight
constexpr int kDrainWaitMs = 10'000;    // bound on waiting for a drained replica's statements

bool IsReader(const Cluster& c, const Server& s) {
  return s.role == ServerRole::kReplica && s.hostgroup == c.reader_hostgroup;
}

std::string Bounded(std::string s) {
  for (char& ch : s)
    if (ch == '\n' || ch == '\r') ch = ' ';
  if (s.size() > 200) s = "..." + s.substr(s.size() - 200);  // the end says how it ended
  return s;
}

}  // namespace

double P95Ms(const LatencyHistogram& h) {
  if (h.count == 0) return 0;
  uint64_t want = (h.count * 95 + 99) / 100, seen = 0;
  for (size_t i = 0; i < kLatencyBucketsUs.size(); ++i) {
    seen += h.buckets[i];
    if (seen >= want) return static_cast<double>(kLatencyBucketsUs[i]) / 1000.0;
  }
  return 2000;
}

ScalePolicy::Action ScalePolicy::Observe(const Cluster& c, const ScaleSample& s, int removable,
                                         std::string* why) {
  if (c.scale_out_command.empty() && c.scale_in_command.empty()) return Action::kNone;
  std::vector<std::string> high;
  if (c.scale_out_reads_per_replica > 0 && s.reads_per_replica > c.scale_out_reads_per_replica)
    high.push_back(fmt::format("reads per replica {:.0f}/s > {}", s.reads_per_replica,
                               c.scale_out_reads_per_replica));
  if (c.scale_out_pool_waits_per_s > 0 && s.pool_waits_per_s > c.scale_out_pool_waits_per_s)
    high.push_back(
        fmt::format("pool waits {:.0f}/s > {}", s.pool_waits_per_s, c.scale_out_pool_waits_per_s));
  if (c.scale_out_p95_ms > 0 && s.p95_ms > c.scale_out_p95_ms)
    high.push_back(fmt::format("replica p95 {:.1f} ms > {}", s.p95_ms, c.scale_out_p95_ms));
  bool low = c.scale_in_reads_per_replica > 0 &&
             s.reads_per_replica < c.scale_in_reads_per_replica && s.pool_waits_per_s == 0 &&
             (c.scale_out_p95_ms == 0 || s.p95_ms <= c.scale_out_p95_ms);
  high_since_ = high.empty() ? -1 : (high_since_ < 0 ? s.now_ms : high_since_);
  low_since_ = !low ? -1 : (low_since_ < 0 ? s.now_ms : low_since_);
  if (s.busy) return Action::kNone;
  if (last_action_ms_ >= 0 && s.now_ms - last_action_ms_ < c.scale_cooldown_ms)
    return Action::kNone;
  if (!high.empty() && !c.scale_out_command.empty() &&
      s.now_ms - high_since_ >= c.scale_out_window_ms && s.replicas < c.max_replicas) {
    std::string list;
    for (const std::string& h : high) list += (list.empty() ? "" : ", ") + h;
    *why = fmt::format("{} for {} s ({} replicas, max_replicas {})", list,
                       (s.now_ms - high_since_) / 1000, s.replicas, c.max_replicas);
    return Action::kScaleOut;
  }
  if (low && !c.scale_in_command.empty() && s.now_ms - low_since_ >= c.scale_in_window_ms &&
      s.replicas > c.min_replicas && removable > 0) {
    *why = fmt::format("reads per replica {:.0f}/s < {} for {} s ({} replicas, min_replicas {})",
                       s.reads_per_replica, c.scale_in_reads_per_replica,
                       (s.now_ms - low_since_) / 1000, s.replicas, c.min_replicas);
    return Action::kScaleIn;
  }
  return Action::kNone;
}

void ScalePolicy::ActionDone(int64_t now_ms) {
  last_action_ms_ = now_ms;
  high_since_ = low_since_ = -1;
}

Scaler::Scaler(Topology* topology, std::string cluster, ScalerHooks hooks)
    : topology_(topology), cluster_(std::move(cluster)), hooks_(std::move(hooks)) {}

void Scaler::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Scaler::Stop() {
  stopping_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (action_.joinable()) action_.join();  // stopping_ ends its command within ~1 s
}

void Scaler::Loop() {
  log::SetThreadName("scaler-" + cluster_);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    Tick(MonotonicMs());
    lock.lock();
    wake_.wait_for(lock, std::chrono::milliseconds(kTickMs), [this] { return stop_; });
  }
}

void Scaler::Tick(int64_t now) {
  RuntimePtr rt = topology_->Current();
  const Cluster* c = rt ? rt->FindCluster(cluster_) : nullptr;
  if (!c) return;
  Ramp(*c, now);
  if (int64_t done = action_done_ms_.exchange(-1); done >= 0) policy_.ActionDone(done);
  if (!hooks_.stats || (c->scale_out_command.empty() && c->scale_in_command.empty())) return;
  if (last_sample_ms_ == 0 || now - last_sample_ms_ >= kSampleMs) Sample(*c, now);
}

void Scaler::Ramp(const Cluster& c, int64_t now) {
  std::set<std::string> online;
  for (const Server& s : c.servers)
    if (IsReader(c, s) && s.state == ServerState::kOnline) online.insert(s.name());
  if (started_ && c.replica_ramp_ms > 0) {
    for (const std::string& name : online)
      if (!online_.count(name) && !ramping_.count(name)) ramping_[name] = now;
  }
  started_ = true;
  online_ = online;
  std::map<std::string, int> set;  // server -> permille to publish
  std::vector<std::string> finished;
  for (auto it = ramping_.begin(); it != ramping_.end();) {
    const Server* s = nullptr;
    for (const Server& x : c.servers)
      if (x.name() == it->first) s = &x;
    if (!s || !online.count(it->first)) {  // left before the end: full weight if it returns
      set[it->first] = 1000;
      it = ramping_.erase(it);
      continue;
    }
    int64_t elapsed = now - it->second;
    int p =
        c.replica_ramp_ms <= 0
            ? 1000
            : static_cast<int>(std::clamp<int64_t>(
                  kRampStartPermille + (1000 - kRampStartPermille) * elapsed / c.replica_ramp_ms,
                  kRampStartPermille, 1000));
    if (p != s->ramp_permille) set[it->first] = p;
    if (p >= 1000) {
      finished.push_back(it->first);
      it = ramping_.erase(it);
    } else {
      ++it;
    }
  }
  if (set.empty()) return;
  topology_->Update([&](Overlay* o) {
    ClusterOverlay& co = o->clusters[cluster_];
    bool changed = false;
    for (const auto& [name, p] : set) {
      auto it = co.servers.find(name);
      if (it == co.servers.end()) {
        if (p == 1000) continue;
        it = co.servers.emplace(name, ServerOverlay{}).first;
      }
      if (it->second.ramp_permille != p) it->second.ramp_permille = p, changed = true;
    }
    return changed;
  });
  for (const std::string& name : finished)
    Event("SERVER_RAMPED", name, fmt::format("full share of reads after {} ms", c.replica_ramp_ms));
}

void Scaler::Sample(const Cluster& c, int64_t now) {
  StatsDelta cur = hooks_.stats();
  if (last_sample_ms_ == 0) {
    prev_ = std::move(cur);
    last_sample_ms_ = now;
    return;
  }
  double dt = static_cast<double>(now - last_sample_ms_) / 1000.0;
  ScaleSample s;
  s.now_ms = now;
  s.busy = c.writes_paused;
  uint64_t reads = 0;
  LatencyHistogram lat;
  recent_queries_.clear();
  for (const Server& srv : c.servers) {
    if (!IsReader(c, srv)) continue;
    std::string key = c.name + "/" + srv.name();
    ServerStats now_s, then_s;
    if (auto it = cur.servers.find(key); it != cur.servers.end()) now_s = it->second;
    if (auto it = prev_.servers.find(key); it != prev_.servers.end()) then_s = it->second;
    uint64_t q = now_s.queries >= then_s.queries ? now_s.queries - then_s.queries : 0;
    recent_queries_[srv.name()] = q;
    if (srv.state != ServerState::kOnline) continue;
    ++s.replicas;
    reads += q;
    for (size_t i = 0; i < lat.buckets.size(); ++i)
      lat.buckets[i] +=
          now_s.latency.buckets[i] - std::min(now_s.latency.buckets[i], then_s.latency.buckets[i]);
    lat.count += now_s.latency.count - std::min(now_s.latency.count, then_s.latency.count);
  }
  s.reads_per_replica = s.replicas ? static_cast<double>(reads) / dt / s.replicas : 0;
  s.pool_waits_per_s =
      static_cast<double>(cur.pool_waits - std::min(cur.pool_waits, prev_.pool_waits)) / dt;
  s.p95_ms = P95Ms(lat);
  prev_ = std::move(cur);
  last_sample_ms_ = now;
  if (action_running_.load()) return;
  // Replicas a scale-in may take: discovered ones (the configured ones are the operator's).
  std::string victim = Victim(c);
  std::string why;
  ScalePolicy::Action a = policy_.Observe(c, s, victim.empty() ? 0 : 1, &why);
  if (a == ScalePolicy::Action::kNone) {
    left_to_leader_ = false;
    return;
  }
  const char* step = a == ScalePolicy::Action::kScaleOut ? "scale_out" : "scale_in";
  if (hooks_.gate) {
    // A follower observes: the leader of the fleet runs the commands (once per episode said).
    if (Status g = hooks_.gate(cluster_, step, !left_to_leader_); !g.ok()) {
      if (!left_to_leader_)
        log::Info("cluster {}: {} due ({}) left to the fleet's leader: {}", cluster_, step, why,
                  g.message());
      left_to_leader_ = true;
      return;
    }
  }
  left_to_leader_ = false;
  if (action_.joinable()) action_.join();
  action_running_ = true;
  if (a == ScalePolicy::Action::kScaleOut)
    action_ = std::thread([this, c, why] { ScaleOut(c, why); });
  else
    action_ = std::thread([this, c, victim, why] { ScaleIn(c, victim, why); });
}

std::string Scaler::Victim(const Cluster& c) const {
  Overlay ov = topology_->overlay();
  auto co = ov.clusters.find(cluster_);
  if (co == ov.clusters.end()) return "";
  std::string best;
  uint64_t best_q = 0;
  for (const Server& s : c.servers) {
    auto so = co->second.servers.find(s.name());
    if (so == co->second.servers.end() || !so->second.discovered) continue;
    if (!IsReader(c, s) || s.state != ServerState::kOnline) continue;
    auto q = recent_queries_.find(s.name());
    uint64_t n = q == recent_queries_.end() ? 0 : q->second;
    // The least useful: the fewest reads in the last second; a tie goes to the later one.
    if (best.empty() || n <= best_q) best = s.name(), best_q = n;
  }
  return best;
}

bool Scaler::Record(const char* action, const char* phase, const std::string& server,
                    const std::string& detail) {
  if (!hooks_.record_step) return true;
  return hooks_.record_step(cluster_, OrchestrationStep{action, phase, "", server, detail});
}

void Scaler::TickForTest(int64_t now) {
  Tick(now);
  if (action_.joinable()) action_.join();
  if (int64_t done = action_done_ms_.exchange(-1); done >= 0) policy_.ActionDone(done);
}

void Scaler::ScaleOut(Cluster c, std::string why) {
  if (!Record("scale_out", "command", "", why)) {
    Event("SCALE_OUT_FAILED", "", "the fleet did not record the intent: scale_out_command not run");
    action_done_ms_ = MonotonicMs();
    action_running_ = false;
    return;
  }
  Event("SCALE_OUT", "", fmt::format("{}: running scale_out_command", why));
  auto r = RunCommand(c.scale_out_command, {c.name, "replica", why}, c.scale_command_timeout_ms,
                      &stopping_);
  if (!r.ok()) {
    Event("SCALE_OUT_FAILED", "", r.status().message());
  } else if (r->exit_code != 0) {
    Event("SCALE_OUT_FAILED", "",
          fmt::format("scale_out_command {} after {} ms: {}",
                      r->timed_out ? "timed out" : fmt::format("exited {}", r->exit_code),
                      r->took_ms, Bounded(r->output)));
  } else {
    Event("SCALE_OUT_DONE", "",
          fmt::format("scale_out_command done in {} ms: {}", r->took_ms, Bounded(r->output)));
  }
  Record("scale_out", r.ok() && r->exit_code == 0 ? "done" : "abandoned", "", why);
  action_done_ms_ = MonotonicMs();
  action_running_ = false;
}

void Scaler::ScaleIn(Cluster c, std::string victim, std::string why) {
  if (!Record("scale_in", "command", victim, why)) {
    Event("SCALE_IN_FAILED", victim, "the fleet did not record the intent: nothing drained");
    action_done_ms_ = MonotonicMs();
    action_running_ = false;
    return;
  }
  Event("SCALE_IN", victim, fmt::format("{}: draining it (OFFLINE_SOFT)", why));
  topology_->Update([&](Overlay* o) {
    o->clusters[cluster_].servers[victim].state = ServerState::kOfflineSoft;
    return true;
  });
  // Its statements finish before the node goes: wait (bounded) for its borrowed connections.
  int64_t deadline = MonotonicMs() + kDrainWaitMs;
  while (MonotonicMs() < deadline && !stopping_) {
    StatsDelta d = hooks_.stats();
    auto it = d.servers.find(c.name + "/" + victim);
    if (it == d.servers.end() || it->second.conns_used == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto r = RunCommand(c.scale_in_command, {c.name, "replica", why, victim},
                      c.scale_command_timeout_ms, &stopping_);
  if (r.ok() && r->exit_code == 0) {
    Event("SCALE_IN_DONE", victim,
          fmt::format("scale_in_command done in {} ms: {}", r->took_ms, Bounded(r->output)));
  } else {
    std::string what =
        !r.ok() ? r.status().message()
                : fmt::format("scale_in_command {} after {} ms: {}",
                              r->timed_out ? "timed out" : fmt::format("exited {}", r->exit_code),
                              r->took_ms, Bounded(r->output));
    Event("SCALE_IN_FAILED", victim, what + "; the replica is ONLINE again");
    topology_->Update([&](Overlay* o) {
      o->clusters[cluster_].servers[victim].state = ServerState::kOnline;
      return true;
    });
  }
  Record("scale_in", r.ok() && r->exit_code == 0 ? "done" : "abandoned", victim, why);
  action_done_ms_ = MonotonicMs();
  action_running_ = false;
}

void ScalerSet::Start() {
  for (const Cluster& c : topology_->config().clusters) {
    scalers_.push_back(std::make_unique<Scaler>(topology_, c.name, hooks_));
    scalers_.back()->Start();
  }
}

void ScalerSet::Stop() {
  for (auto& s : scalers_) s->Stop();
  scalers_.clear();
}

}  // namespace sluice::health
