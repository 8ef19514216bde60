// Election: the fleet membership and leader election state machine over a KvStore. Each
// Tick() keeps this instance's lease (grant, renew every ttl/3), writes its heartbeat key and
// tries to create the leader key on that lease; intents are compare-and-set on the leader
// key. Driven by one thread (Fleet's); the Leadership calls may come from any control-plane
// thread. Time comes from NOW_MS so that tests script it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "coordination/kv_store.h"
#include "coordination/leadership.h"

namespace sluice::coordination {

struct ElectionOptions {
  std::string prefix;    // "/sluice"
  std::string instance;  // this instance's name
  int ttl_s = 5;
};

// Wall-clock milliseconds since the epoch: heartbeats and step ids other instances read.
inline int64_t WallUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Keys under the prefix.
std::string LeaderKey(const std::string& prefix);
std::string InstanceKey(const std::string& prefix, const std::string& instance);
std::string IntentKey(const std::string& prefix, const std::string& cluster);

std::string EncodeStep(const Step& s);
std::optional<Step> DecodeStep(const std::string& json);

class Election : public Leadership {
 public:
  Election(KvStore* store, ElectionOptions options, std::function<int64_t()> now_ms);

  // One turn: lease, heartbeat (HEARTBEAT is its value), leader key.
  void Tick(const std::string& heartbeat);
  // Steps down: deletes the leader key if ours, revokes the lease (clean shutdown).
  void Resign();

  // Writes KEY while this instance still holds the leader key on its lease (the topology).
  // False: not the leader (nothing written).
  Result<bool> PutAsLeader(const std::string& key, const std::string& value, int64_t* revision);

  bool leader() const { return leader_.load(std::memory_order_acquire); }
  // Whether the last store call succeeded.
  bool connected() const { return connected_.load(std::memory_order_relaxed); }
  uint64_t renewals() const { return renewals_.load(std::memory_order_relaxed); }
  uint64_t losses() const { return losses_.load(std::memory_order_relaxed); }
  const std::string& instance() const { return options_.instance; }

  bool MayOrchestrate(const std::string& cluster) override;
  std::string Leader() override;
  bool RecordIntent(const std::string& cluster, const Step& step) override;
  void RecordOutcome(const std::string& cluster, const Step& step) override;
  std::optional<Step> Unfinished(const std::string& cluster) override;

 private:
  bool FreshLocked(int64_t now) const;
  void LoseLeadershipLocked(const char* why);

  KvStore* store_;
  const ElectionOptions options_;
  std::function<int64_t()> now_ms_;
  std::mutex mu_;  // the lease and the leader state; held across store calls (control plane)
  int64_t lease_ = 0;
  int64_t renewed_ms_ = 0;  // when the lease was last granted or renewed
  std::string leader_name_;
  // The heartbeat is written when its content or the leadership changed, and every ttl/3.
  std::string heartbeat_written_;
  int64_t heartbeat_ms_ = 0;
  int64_t heartbeat_lease_ = 0;
  bool heartbeat_leader_ = false;
  // This term's view of the intents: read once per cluster after winning, then kept by the
  // leader's own writes (only the leader writes intents).
  std::map<std::string, std::optional<Step>> intents_;
  std::atomic<bool> leader_{false};
  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> renewals_{0};
  std::atomic<uint64_t> losses_{0};
};

}  // namespace sluice::coordination
