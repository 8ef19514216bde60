#include "coordination/election.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "common/log.h"

namespace sluice::coordination {

namespace {
using nlohmann::json;

}  // namespace

std::string LeaderKey(const std::string& prefix) {
  return prefix + "/leader";
}
std::string InstanceKey(const std::string& prefix, const std::string& instance) {
  return prefix + "/instances/" + instance;
}
std::string IntentKey(const std::string& prefix, const std::string& cluster) {
  return prefix + "/intent/" + cluster;
}

std::string EncodeStep(const Step& s) {
  return json{{"action", s.action}, {"phase", s.phase},   {"old_primary", s.old_primary},
              {"target", s.target}, {"leader", s.leader}, {"detail", s.detail},
              {"id", s.id}}
      .dump();
}

std::optional<Step> DecodeStep(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  Step s;
  s.action = j.value("action", "");
  s.phase = j.value("phase", "");
  s.old_primary = j.value("old_primary", "");
  s.target = j.value("target", "");
  s.leader = j.value("leader", "");
  s.detail = j.value("detail", "");
  s.id = j.value("id", int64_t{0});
  if (s.action.empty() || s.phase.empty()) return std::nullopt;
  return s;
}

Election::Election(KvStore* store, ElectionOptions options, std::function<int64_t()> now_ms)
    : store_(store), options_(std::move(options)), now_ms_(std::move(now_ms)) {}

bool Election::FreshLocked(int64_t now) const {
  // The lease may expire on the server ttl after its last renewal; the leader stops acting at
  // half of that, so that no two instances ever orchestrate at once.
  return lease_ != 0 && now - renewed_ms_ < options_.ttl_s * 1000 / 2;
}

void Election::LoseLeadershipLocked(const char* why) {
  if (leader_.exchange(false, std::memory_order_acq_rel))
    log::Warn("fleet: {} is no longer the leader: {}", options_.instance, why);
  intents_.clear();
}

void Election::Tick(const std::string& heartbeat) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = now_ms_();
  const int64_t ttl_ms = options_.ttl_s * 1000;
  if (lease_ != 0 && now - renewed_ms_ >= ttl_ms) {
    // Not renewed for a whole TTL: etcd has dropped it and our keys with it.
    losses_.fetch_add(1, std::memory_order_relaxed);
    LoseLeadershipLocked("lease not renewed within its TTL");
    lease_ = 0;
  }
  if (lease_ == 0) {
    auto g = store_->GrantLease(options_.ttl_s);
    if (!g.ok()) {
      connected_.store(false, std::memory_order_relaxed);
      return;
    }
    lease_ = *g;
    renewed_ms_ = now;
  } else if (now - renewed_ms_ >= ttl_ms / 3) {
    Status st = store_->KeepAlive(lease_);
    if (st.code() == StatusCode::kNotFound) {
      losses_.fetch_add(1, std::memory_order_relaxed);
      LoseLeadershipLocked("lease expired");
      lease_ = 0;
      connected_.store(true, std::memory_order_relaxed);
      return;
    }
    if (!st.ok()) {
      connected_.store(false, std::memory_order_relaxed);
      if (!FreshLocked(now)) LoseLeadershipLocked("etcd unreachable");
      return;
    }
    renewed_ms_ = now;
    renewals_.fetch_add(1, std::memory_order_relaxed);
  }
  if (heartbeat != heartbeat_written_ || lease_ != heartbeat_lease_ ||
      leader_.load() != heartbeat_leader_ || now - heartbeat_ms_ >= ttl_ms / 3) {
    json hb{{"instance", options_.instance},
            {"unix_ms", WallUnixMs()},
            {"leader", leader_.load() ? 1 : 0},
            {"info", json::parse(heartbeat.empty() ? "{}" : heartbeat, nullptr, false)}};
    if (!store_->Put(InstanceKey(options_.prefix, options_.instance), hb.dump(), lease_).ok()) {
      connected_.store(false, std::memory_order_relaxed);
      if (!FreshLocked(now)) LoseLeadershipLocked("etcd unreachable");
      return;
    }
    heartbeat_written_ = heartbeat, heartbeat_lease_ = lease_;
    heartbeat_leader_ = leader_.load(), heartbeat_ms_ = now;
  }
  KeyValue existing;
  auto created = store_->Create(LeaderKey(options_.prefix), options_.instance, lease_, &existing);
  if (!created.ok()) {
    connected_.store(false, std::memory_order_relaxed);
    if (!FreshLocked(now)) LoseLeadershipLocked("etcd unreachable");
    return;
  }
  connected_.store(true, std::memory_order_relaxed);
  // A key of our name on another lease is a previous run of this instance: not ours, it
  // expires with that lease.
  bool mine = *created || (existing.value == options_.instance && existing.lease == lease_);
  leader_name_ = *created ? options_.instance : existing.value;
  if (mine && !leader_.load()) {
    intents_.clear();
    leader_.store(true, std::memory_order_release);
    log::Info("fleet: {} is the leader (lease {:x})", options_.instance, lease_);
  } else if (!mine) {
    LoseLeadershipLocked("another instance holds the leader key");
  }
}

void Election::Resign() {
  std::lock_guard<std::mutex> lock(mu_);
  if (lease_ == 0) return;
  if (leader_.load()) (void)store_->DeleteIfLease(LeaderKey(options_.prefix), lease_);
  LoseLeadershipLocked("shutting down");
  (void)store_->RevokeLease(lease_);
  lease_ = 0;
}

Result<bool> Election::PutAsLeader(const std::string& key, const std::string& value,
                                   int64_t* revision) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!leader_.load() || !FreshLocked(now_ms_())) return false;
  auto put = store_->PutIfLease(LeaderKey(options_.prefix), lease_, key, value, revision);
  if (put.ok() && !*put) LoseLeadershipLocked("the leader key is no longer on our lease");
  return put;
}

bool Election::MayOrchestrate(const std::string& cluster) {
  (void)cluster;  // one leader for the whole fleet
  std::lock_guard<std::mutex> lock(mu_);
  return leader_.load() && FreshLocked(now_ms_());
}

std::string Election::Leader() {
  std::lock_guard<std::mutex> lock(mu_);
  return leader_name_;
}

bool Election::RecordIntent(const std::string& cluster, const Step& step) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!leader_.load() || !FreshLocked(now_ms_())) return false;
  Step s = step;
  s.leader = options_.instance;
  int64_t rev = 0;
  auto put = store_->PutIfLease(LeaderKey(options_.prefix), lease_,
                                IntentKey(options_.prefix, cluster), EncodeStep(s), &rev);
  if (!put.ok()) {
    log::Warn("fleet: intent {} {} on {} not recorded: {}", s.action, s.phase, cluster,
              put.status().message());
    return false;
  }
  if (!*put) {
    LoseLeadershipLocked("the leader key is no longer on our lease");
    return false;
  }
  intents_[cluster] = s;
  return true;
}

void Election::RecordOutcome(const std::string& cluster, const Step& step) {
  std::lock_guard<std::mutex> lock(mu_);
  Step s = step;
  s.leader = options_.instance;
  intents_[cluster] = s;
  if (lease_ == 0) return;
  int64_t rev = 0;
  auto put = store_->PutIfLease(LeaderKey(options_.prefix), lease_,
                                IntentKey(options_.prefix, cluster), EncodeStep(s), &rev);
  if (!put.ok() || !*put)
    log::Warn("fleet: outcome {} {} on {} not recorded", s.action, s.phase, cluster);
}

std::optional<Step> Election::Unfinished(const std::string& cluster) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!leader_.load()) return std::nullopt;
  auto it = intents_.find(cluster);
  if (it == intents_.end()) {
    auto r = store_->Range(IntentKey(options_.prefix, cluster), nullptr);
    if (!r.ok()) return std::nullopt;  // asked again next round
    std::optional<Step> found;
    for (const KeyValue& kv : *r)
      if (kv.key == IntentKey(options_.prefix, cluster)) found = DecodeStep(kv.value);
    it = intents_.emplace(cluster, found).first;
  }
  if (!it->second || it->second->finished()) return std::nullopt;
  return it->second;
}

}  // namespace sluice::coordination
